"""A catalogue of broken survey exports and the exact outcome `surveykit validate` must give for each.

Every case builds its input file(s) in a folder (nothing binary is committed) and states either

* ``error``: the one line printed on stderr (a regular expression; it names file, row and column where they
  exist) with exit status 2 and no traceback, or
* ``log``: the exact rows of the row-level log (``row, respondent_id, rule, column, value, action``), the exit
  status (0: nothing excluded, 1: rows excluded) and the rows kept.

``tests/test_quality_broken.py`` runs them all. To look at the files themselves::

    .venv/bin/python -m tests.broken.catalogue OUT_DIR

The questionnaire is the scoring fixture ``tests/fixtures/score/questionnaire.yaml``: groups holder, professional,
public; items q01-q09 on 1..5 with missing codes 6 and 9; q05 is asked of holders only, q06 and q07 of holders and
professionals.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
QUESTIONNAIRE = ROOT / "tests" / "fixtures" / "score" / "questionnaire.yaml"

HEADER = ["respondent_id", "district", "group"] + [f"q0{k}" for k in range(1, 10)]
# six good rows (file rows 2-7); blanks are items not asked of the group
ROWS = [
    ["R01", "黄浦区", "holder", "4", "3", "5", "4", "2", "3", "4", "5", "4"],
    ["R02", "浦东新区", "professional", "5", "4", "4", "3", "", "4", "3", "4", "5"],
    ["R03", "徐汇区", "public", "3", "2", "4", "5", "", "", "", "3", "4"],
    ["R04", "浦东新区", "holder", "2", "3", "3", "4", "4", "5", "1", "2", "3"],
    ["R05", "临港新片区", "public", "4", "4", "5", "3", "", "", "", "4", "4"],
    ["R06", "黄浦区", "professional", "1", "2", "3", "2", "", "3", "4", "5", "6"],
]


def rows_with(changes: dict[tuple[int, str], str] | None = None, extra: list[list[str]] | None = None,
              header: list[str] = HEADER) -> list[list[str]]:
    """The good rows with cells changed: ``{(file_row, column): value}``."""
    rows = [list(r) for r in ROWS]
    for (file_row, col), v in (changes or {}).items():
        rows[file_row - 2][HEADER.index(col)] = v
    return rows + (extra or [])


def csv_text(rows: list[list[str]], header: list[str] = HEADER, delim: str = ",") -> str:
    import csv

    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delim, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write_bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        p = d / name
        p.write_bytes(data)
        return p
    return build


def write_csv(rows, header=HEADER, name="data.csv", encoding="utf-8", delim=","):
    return write_bytes(name, csv_text(rows, header, delim).encode(encoding))


def write_xlsx(rows, header=HEADER, name="data.xlsx", setup=None, sheet="Sheet1", convert=True):
    """An .xlsx with the rows (numeric text written as numbers when ``convert``); ``setup(wb, ws)`` edits it."""
    def build(d: Path) -> Path:
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = sheet
        ws.append(header)
        for r in rows:
            ws.append([(int(v) if convert and isinstance(v, str) and v.isdigit() else (v if v != "" else None))
                       for v in r])
        if setup:
            setup(wb, ws)
        p = d / name
        wb.save(p)
        return p
    return build


@dataclass(frozen=True)
class Case:
    what: str
    build: Callable[[Path], Path]
    error: str | None = None
    log: tuple[tuple[str, ...], ...] = ()
    exit: int = 2
    kept: int | None = None
    args: tuple[str, ...] = ()       # extra CLI arguments; "{dir}" is the case's folder
    files: dict[str, str] = field(default_factory=dict)  # extra text files to write (rules, mapping)


def _ln(*cells) -> tuple[str, ...]:
    return tuple(str(c) for c in cells)


def _truncated_xlsx(d: Path) -> Path:
    good = write_xlsx(ROWS, name="full.xlsx")(d)
    data = good.read_bytes()
    good.unlink()
    p = d / "data.xlsx"
    p.write_bytes(data[: len(data) // 2])
    return p


def _truncated_sav(d: Path) -> Path:
    import pandas as pd
    import pyreadstat

    full = d / "full.sav"
    pyreadstat.write_sav(pd.DataFrame({"q01": [1.0, 2.0, 3.0] * 50, "group": [1.0, 2.0, 3.0] * 50}), str(full))
    data = full.read_bytes()
    full.unlink()
    p = d / "data.sav"
    p.write_bytes(data[: len(data) // 3])
    return p


def _sav_labels(d: Path) -> Path:
    """A .sav with variable names V1..V9 (labels = question texts) and value labels in reverse order."""
    import pandas as pd
    import pyreadstat

    from surveykit.spec import load_questionnaire

    q = load_questionnaire(QUESTIONNAIRE)
    df = pd.DataFrame({"RID": [1.0, 2.0, 3.0], "GRP": [1.0, 2.0, 3.0], "QU": [1.0, 1.0, 2.0]})
    for k in range(1, 10):
        df[f"V{k}"] = [1.0, 2.0, 5.0]  # 1 = 非常满意 in this file
    df.loc[1:, "V5"] = float("nan")  # asked of holders only
    df.loc[2, ["V6", "V7"]] = float("nan")  # not asked of the public
    labels = {f"V{k}": {1.0: "非常满意", 2.0: "满意", 3.0: "一般", 4.0: "不满意", 5.0: "非常不满意"} for k in range(1, 10)}
    labels["GRP"] = {1.0: "权利人", 2.0: "专业人士", 3.0: "社会公众"}
    labels["QU"] = {1.0: "浦东", 2.0: "Xuhui"}
    p = d / "data.sav"
    pyreadstat.write_sav(df, str(p), column_labels=["编号", "身份", "所在区"] + [i.text.zh for i in q.items],
                         variable_value_labels=labels)
    return p


def _empty_first_sheet(wb, ws):
    wb.create_sheet("empty", 0)


def _formula(wb, ws):
    ws["E3"] = "=2+2"  # q02 of R02: a formula without a computed value (openpyxl writes none)


def _date(wb, ws):
    ws["F4"] = dt.datetime(2025, 3, 4)  # q03 of R03
    ws["F4"].number_format = "yyyy-mm-dd"


def _merged_header(wb, ws):
    """Two header rows: 'Q' merged over the items, item ids below; identity columns merged down."""
    ws.insert_rows(1)
    for c in range(1, 4):
        ws.cell(1, c).value = ws.cell(2, c).value
        ws.cell(2, c).value = None
        ws.merge_cells(start_row=1, end_row=2, start_column=c, end_column=c)
    ws.cell(1, 4).value = "满意度评价"
    ws.merge_cells(start_row=1, end_row=1, start_column=4, end_column=12)
    ws.cell(5, 4).value = "很好"  # q01 of R03, now in Excel row 5


def _numbers_as_text(wb, ws):
    for row in ws.iter_rows(min_row=2, min_col=4):
        for c in row:
            if isinstance(c.value, int):
                c.value = str(c.value)
                c.data_type = "s"


def _wjx_labels(rows):
    lab = {"1": "非常不满意", "2": "不满意", "3": "一般", "4": "满意", "5": "非常满意", "6": "6"}
    return [r[:3] + [lab.get(v, v) for v in r[3:]] for r in rows]


Q_TEXT = {"q01": "知识产权法律法规的完备程度", "q02": "维权时遇到法律空白或障碍的程度", "q03": "本市知识产权保护条例的实用性",
          "q04": "知识产权政策是否易于查找和理解", "q05": "政策措施对企业的实际支持效果", "q06": "侵权行为减少的程度",
          "q07": "重复侵权和恶意侵权得到遏制的程度", "q08": "知识产权保护对营商环境的改善作用",
          "q09": "对本区知识产权保护的总体满意程度"}
SHORT = {"黄浦区": "黄浦", "浦东新区": "浦东", "徐汇区": "徐汇", "临港新片区": "临港"}
WJX_HEADER = ["序号", "1、您所在的区", "2、您的身份"] + [f"{k + 3}、{Q_TEXT[f'q0{k + 1}']}" for k in range(9)]

LOG_COLUMNS = ["row", "respondent_id", "rule", "column", "value", "action"]
E = "exclude"
F = "flag"
X = "fix"

CASES: dict[str, Case] = {
    # --- files that cannot be read at all -----------------------------------------------------------------------
    "zero_byte_file": Case("a 0-byte file", write_bytes("data.csv", b""),
                           error=r"data\.csv: the file is empty \(0 bytes\)$"),
    "only_blank_lines": Case("a file of blank lines", write_bytes("data.csv", b"\n \n\r\n"),
                             error=r"data\.csv: the file holds no data \(only blanks\)$"),
    "header_only": Case("a file with only a header", write_bytes("data.csv", (",".join(HEADER) + "\n").encode()),
                        error=r"data\.csv: the file has a header \(row 1\) but no data rows$"),
    "header_then_blank_rows": Case("a header and blank lines", write_bytes(
        "data.csv", (",".join(HEADER) + "\n,,,,,,,,,,,\n\n").encode()),
        error=r"data\.csv: the file has a header \(row 1\) but no data rows \(only blank rows below it\)$"),
    "truncated_mid_row": Case("a CSV cut off in the middle of its last row", write_bytes(
        "data.csv", csv_text(ROWS).encode()[:-30]),
        error=r"data\.csv, row 7: 3 fields where the header has 12 \(the file may be truncated"),
    "truncated_in_quote": Case("a CSV cut off inside a quoted cell", write_bytes(
        "data.csv", (csv_text(ROWS) + 'R07,黄浦区,public,"4').encode()),
        error=r"data\.csv, row 8: the file ends inside a quoted cell: it may be truncated"),
    "wrong_delimiter_row": Case("one row written with semicolons", write_bytes(
        "data.csv", (csv_text(ROWS[:3]) + ";".join(ROWS[3]) + "\n").encode()),
        error=r"data\.csv, row 5: 1 field where the header has 12"),
    "single_column_fullwidth_commas": Case("a file delimited by full-width commas (，)", write_bytes(
        "data.csv", csv_text(ROWS).replace(",", "，").encode()),
        error=r"data\.csv, column 'group': no column 'group' in the data \(the group column \(groups\.column\)\); "
              r"the file has a single column: is it delimited by something other than , ; tab or \|\?"),
    "extra_field": Case("a decimal comma, unquoted: one value too many in a row", write_bytes(
        "data.csv", csv_text(ROWS).replace("R03,徐汇区,public,3,2,", "R03,徐汇区,public,3,2,5,").encode()),
        error=r"data\.csv, row 4: 13 fields where the header has 12 \(wrong delimiter or an unquoted comma\?\)"),
    "duplicate_column_names": Case("two columns named q03", write_csv(
        ROWS, header=HEADER[:6] + ["q03"] + HEADER[7:]),
        error=r"data\.csv, row 1, column 'q03': duplicate column name \(columns 6 and 7\)"),
    "mixed_encodings": Case("UTF-8 rows, then a row pasted in GBK", write_bytes(
        "data.csv", csv_text(ROWS[:2]).encode("utf-8") + csv_text(ROWS[2:3]).split("\n", 1)[1].encode("gbk")),
        error=r"data\.csv, row 4: mixed text encodings: row 2 is UTF-8 but this row is not"),
    "undecodable_bytes": Case("bytes that are neither UTF-8 nor GBK/GB18030", write_bytes(
        "data.csv", csv_text(ROWS[:2]).encode("utf-8").replace("黄浦区".encode(), b"\xff\xfe\xff")),
        error=r"data\.csv, row 2: cannot decode the text \(not UTF-8 and not GBK/GB18030"),
    "unknown_extension": Case("a .json file", write_bytes("data.json", b"{}"),
                              error=r"data\.json: unknown file type '\.json' \(expected \.csv, \.xlsx or \.sav\)$"),
    "csv_named_xlsx": Case("a CSV saved with an .xlsx name", write_bytes("data.xlsx", csv_text(ROWS).encode()),
                           error=r"data\.xlsx: not a readable Excel workbook"),
    "truncated_xlsx": Case("an .xlsx cut in half (interrupted download)", _truncated_xlsx,
                           error=r"data\.xlsx: not a readable Excel workbook \(the file is damaged or truncated\)$"),
    "truncated_sav": Case("a .sav cut off", _truncated_sav, error=r"data\.sav: not a readable SPSS \.sav file"),
    "xlsx_empty_first_sheet": Case("an empty first sheet (the data are on the second)", write_xlsx(
        ROWS, setup=_empty_first_sheet),
        error=r"data\.xlsx: sheet 'empty' is empty \(other sheets: Sheet1; choose one with --sheet\)$"),
    "xlsx_missing_sheet": Case("--sheet names a sheet that is not there", write_xlsx(ROWS), args=("--sheet", "数据"),
                               error=r"data\.xlsx: no sheet '数据' \(sheets: Sheet1\)$"),
    "xlsx_header_only": Case("a workbook with only a header row", write_xlsx([]),
                             error=r"data\.xlsx: the file has a header \(row 1\) but no data rows$"),
    "xlsx_duplicate_header": Case("two columns with the same question text", write_xlsx(
        ROWS, header=HEADER[:4] + ["q01"] + HEADER[5:]),
        error=r"data\.xlsx, row 1, column 'q01': duplicate column name \(columns D and E\)$"),
    "missing_item_column": Case("item q05 has no column", write_csv(
        [r[:7] + r[8:] for r in ROWS], header=HEADER[:7] + HEADER[8:]),
        error=r"data\.csv, column 'q05': no column 'q05' in the data \(item q05\)"),
    "missing_group_column": Case("no group column", write_csv([r[:2] + r[3:] for r in ROWS],
                                                             header=HEADER[:2] + HEADER[3:]),
                                 error=r"data\.csv, column 'group': no column 'group' in the data \(the group column"),
    "bad_rules_file": Case("a rules file with an action the rule does not allow", write_csv(ROWS),
                           args=("--rules", "{dir}/rules.yaml"),
                           files={"rules.yaml": "rules:\n  empty_row: {action: flag}\n"},
                           error=r"rules\.yaml, key 'rules\.empty_row': action 'flag' is not allowed for this rule "
                                 r"\(allowed: exclude\)$"),
    "mapping_names_absent_column": Case("a mapping file naming a column the file lacks", write_csv(ROWS),
                                        args=("--mapping", "{dir}/mapping.yaml"),
                                        files={"mapping.yaml": "columns:\n  Q99: q09\n"},
                                        error=r"mapping\.yaml, key 'columns\.Q99': no column 'Q99' in .*data\.csv"),
    # --- files that are read: every finding in the log --------------------------------------------------------------
    "clean_csv": Case("the good rows", write_csv(ROWS), exit=0, kept=6),
    "gbk_csv_with_labels": Case("Chinese Excel's CSV (GBK) with answer labels and short unit names", write_csv(
        [[r[0], SHORT[r[1]], {"holder": "权利人", "professional": "专业人士",
                                                            "public": "社会公众"}[r[2]]] + r[3:]
         for r in _wjx_labels(ROWS)], encoding="gbk"), exit=0, kept=6),
    "unit_spelled_three_ways": Case("浦东, Pudong and 浦东新区 in one file", write_csv(rows_with(
        {(3, "district"): "Pudong", (5, "district"): "浦东"})), exit=0, kept=6),
    "unknown_unit": Case("a unit that is not a district", write_csv(rows_with({(4, "district"): "浦西"})),
                         exit=1, kept=5, log=(_ln(4, "R03", "unknown_unit", "district", "浦西", E),)),
    "unknown_and_blank_group": Case("a group that is not declared, and a blank one", write_csv(rows_with(
        {(2, "group"): "firms", (6, "group"): ""})), exit=1, kept=4,
        log=(_ln(2, "R01", "unknown_group", "group", "firms", E), _ln(6, "R05", "unknown_group", "group", "", E))),
    "text_where_a_number_belongs": Case("'很好' and 'n/a' in answer columns", write_csv(rows_with(
        {(3, "q02"): "很好", (5, "q08"): "n/a"})), exit=1, kept=4,
        log=(_ln(3, "R02", "not_a_number", "q02", "很好", E), _ln(5, "R04", "not_a_number", "q08", "n/a", E))),
    "outside_the_scale": Case("codes 8, 0 and 3.5", write_csv(rows_with(
        {(2, "q01"): "8", (4, "q04"): "0", (7, "q02"): "3.5"})), exit=1, kept=3,
        log=(_ln(2, "R01", "out_of_scale", "q01", "8", E), _ln(4, "R03", "out_of_scale", "q04", "0", E),
             _ln(7, "R06", "out_of_scale", "q02", "3.5", E))),
    "whitespace_and_full_width": Case("' 4', '５' and ' R03' (fixed and listed)", write_csv(rows_with(
        {(2, "q01"): " 4", (3, "q02"): "５", (4, "respondent_id"): " R03"})), exit=0, kept=6,
        log=(_ln(2, "R01", "whitespace", "q01", "' 4' -> 4", X), _ln(3, "R02", "full_width", "q02", "'５' -> 5", X),
             _ln(4, "R03", "whitespace", "respondent_id", "' R03' -> 'R03'", X))),
    "empty_row_in_the_middle": Case("an empty row between respondents", write_csv(
        ROWS[:2] + [[""] * 12] + ROWS[2:]), exit=1, kept=6, log=(_ln(4, "", "empty_row", "", "", E),)),
    "duplicate_identical": Case("a respondent submitted twice with the same answers", write_csv(
        ROWS + [ROWS[1]]), exit=1, kept=6,
        log=(_ln(8, "R02", "duplicate_identical", "respondent_id", "same id and answers as row 3", E),)),
    "duplicate_conflicting": Case("two different rows with one respondent id", write_csv(
        ROWS + [ROWS[3][:3] + ["1"] + ROWS[3][4:]]), exit=1, kept=5,
        log=(_ln(5, "R04", "duplicate_conflicting", "respondent_id", "same id, different answers from row 8", E),
             _ln(8, "R04", "duplicate_conflicting", "respondent_id", "same id, different answers from row 5", E))),
    "blank_id": Case("a row without respondent id", write_csv(rows_with({(6, "respondent_id"): ""})),
                     exit=0, kept=6, log=(_ln(6, "", "missing_id", "respondent_id", "", F),)),
    "no_item_answered": Case("id and group but no answer", write_csv(ROWS + [["R07", "徐汇区", "public"] + [""] * 9]),
                             exit=1, kept=6, log=(_ln(8, "R07", "no_answers", "", "", E),)),
    "answer_to_item_not_asked": Case("the public answers q05 (asked of holders only)", write_csv(rows_with(
        {(4, "q05"): "3"})), exit=0, kept=6, log=(_ln(4, "R03", "not_asked", "q05", "3", F),)),
    "too_many_dont_know": Case("don't-know (6) on most items", write_csv(rows_with(
        {(4, "q01"): "6", (4, "q02"): "6", (4, "q03"): "9", (4, "q04"): "6"})), exit=0, kept=6,
        log=(_ln(4, "R03", "dont_know", "", "4 of 6 answers are don't-know (67%)", F),)),
    "straight_lining": Case("the same answer on every item (rule set to min_run 5)", write_csv(
        rows_with({(2, c): "4" for c in HEADER[3:]})), args=("--rules", "{dir}/rules.yaml"),
        files={"rules.yaml": "rules:\n  straight_lining: {min_run: 5}\n"}, exit=0, kept=6,
        log=(_ln(2, "R01", "straight_lining", "", "answer 4 on 9 consecutive items (q01 to q09)", F),)),
    "speeders_and_bad_durations": Case("durations '25秒', '2分10秒', 'abc'", write_csv(
        [r + [d] for r, d in zip(ROWS, ["25秒", "2分10秒", "abc", "300", "00:01:05", "1分"])],
        header=HEADER + ["所用时间"]), exit=0, kept=6,
        log=(_ln(2, "R01", "speeder", "所用时间", "25秒 = 25 s (< 60 s)", F),
             _ln(4, "R03", "bad_duration", "所用时间", "abc", F))),
    "xlsx_formula_in_answer": Case("an Excel formula in an answer cell", write_xlsx(ROWS, setup=_formula),
                                   exit=0, kept=6,
                                   # the CSV log stores text that starts a formula with a leading ' (issue 10)
                                   log=(_ln(3, "R02", "formula", "q02", "'=2+2 (no computed value in the file)", F),)),
    "xlsx_date_in_answer": Case("an Excel date in an answer column", write_xlsx(ROWS, setup=_date), exit=1, kept=5,
                                log=(_ln(4, "R03", "not_a_number", "q03", "2025-03-04 (an Excel date or time)", E),)),
    "xlsx_merged_two_row_header": Case("a merged title over the items: two header rows, data from row 3",
                                       write_xlsx(ROWS, setup=_merged_header), exit=1, kept=5,
                                       log=(_ln(5, "R03", "not_a_number", "满意度评价 / q01", "很好", E),)),
    "xlsx_numbers_stored_as_text": Case("answer codes stored as text", write_xlsx(ROWS, setup=_numbers_as_text),
                                        exit=0, kept=6),
    "wjx_export_labels_question_text": Case("问卷星-style: question-text header, label cells, 序号", write_xlsx(
        [[k + 1, r[1], {"holder": "权利人", "professional": "专业人士", "public": "社会公众"}[r[2]]] + r[3:]
         for k, r in enumerate(_wjx_labels(rows_with({(3, "q04"): "比较满意"})))], header=WJX_HEADER),
        exit=1, kept=5, log=(_ln(3, "2", "not_a_number", WJX_HEADER[6], "比较满意", E),)),
    "sav_with_value_labels": Case("SPSS file: question texts as variable labels, reversed value labels",
                                  _sav_labels, exit=0, kept=3),
}


def main(out: str) -> None:
    """Write every case's files into OUT/<case>/ for inspection."""
    base = Path(out)
    for name, case in CASES.items():
        d = base / name
        d.mkdir(parents=True, exist_ok=True)
        case.build(d)
        for fname, text in case.files.items():
            (d / fname).write_text(text, encoding="utf-8")
    print(f"wrote {len(CASES)} cases to {base}/")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1] if len(sys.argv) > 1 else "broken_inputs")
