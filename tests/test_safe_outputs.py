"""Safe to hand over (issue 10, items 2, 3, 5, 7, 8): no spreadsheet formulas in any CSV or Excel file surveykit
writes; the workbook suppresses what the reports suppress; no input overwritten; an interrupted report run
leaves nothing behind; bad paths and YAML end with one line and exit status 2.

Spreadsheet files are checked without the code under test: CSV with Python's csv module, .xlsx by reading the
sheet XML inside the zip (a formula is an ``<f>`` element; text is a string cell, and Excel's quote prefix is the
``quotePrefix`` attribute of its cell style).
"""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import psutil
import pytest

import surveykit as sk
from surveykit.cli import main
from surveykit.errors import SpecError
from surveykit.io.writers import write_csv, write_table, write_xlsx
from surveykit.protection.cases import write_case_table
from surveykit.protection.scorecard import load_targets
from surveykit.report.city import CityReport
from surveykit.report.render import Outcome, RenderSummary, write_index
from surveykit.report.workbook import write_workbook
from surveykit.results import load_results
from surveykit.workflow import ensure_results
from surveykit.spec.study import load_study
from surveykit.synth import write_demo

from .conftest import FIXTURES, ROOT

QUESTIONNAIRE = ROOT / "questionnaires" / "ip_protection_satisfaction.yaml"
PROBES = ["=cmd|' /C calc'!A0", "=1+1", "-2+3", "@SUM(1)", "+1"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SMALL, SMALL_ID = "金山区", "jinshan"  # the unit left with one respondent per group in 2026
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


# --- independent readers -----------------------------------------------------------------------------------------
def csv_fields(path_or_text, encoding="utf-8-sig") -> list[list[str]]:
    text = path_or_text if isinstance(path_or_text, str) and "\n" in path_or_text else \
        Path(path_or_text).read_text(encoding=encoding)
    return list(csv.reader(io.StringIO(text, newline="")))


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def assert_csv_safe(rows: list[list[str]], probes=PROBES):
    cells = [f for r in rows for f in r]
    bad = [f for f in cells if f.startswith(FORMULA_START) and not _number(f)]  # -2.5 is a number, not a formula
    assert not bad, f"cells a spreadsheet would run as formulas: {bad[:5]}"
    for p in probes:
        assert "'" + p in cells, f"{p!r} is not written as text"


def xlsx_cells(path) -> list[dict]:
    """Every cell of every sheet: sheet, ref, formula (bool), text (str or None), number, quote_prefix."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        shared = []
        if "xl/sharedStrings.xml" in names:
            root = ElementTree.fromstring(z.read("xl/sharedStrings.xml"))
            shared = ["".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t")) for si in root.findall("m:si", NS)]
        styles = ElementTree.fromstring(z.read("xl/styles.xml"))
        xfs = styles.find("m:cellXfs", NS).findall("m:xf", NS)
        quote = [xf.get("quotePrefix") in ("1", "true") for xf in xfs]
        out = []
        for name in names:
            if not name.startswith("xl/worksheets/sheet"):
                continue
            for c in ElementTree.fromstring(z.read(name)).iter(f"{{{NS['m']}}}c"):
                kind, v = c.get("t"), c.find("m:v", NS)
                text = number = None
                if kind == "inlineStr":
                    text = "".join(t.text or "" for t in c.iter(f"{{{NS['m']}}}t"))
                elif kind == "s":
                    text = shared[int(v.text)]
                elif kind == "str":
                    text = v.text if v is not None else ""
                elif v is not None and kind in (None, "n"):
                    number = float(v.text)
                out.append(dict(sheet=name, ref=c.get("r"), formula=c.find("m:f", NS) is not None, text=text,
                                number=number, quote_prefix=quote[int(c.get("s", 0))]))
        return out


def assert_xlsx_safe(path, probes=PROBES):
    cells = xlsx_cells(path)
    formulas = [c for c in cells if c["formula"]]
    assert not formulas, f"formula cells: {formulas[:3]}"
    for p in probes:
        hits = [c for c in cells if c["text"] == p]
        assert hits, f"{p!r} is missing"
        assert all(c["quote_prefix"] for c in hits), f"{p!r} is text without Excel's quote prefix"
    return cells


# --- item 2: spreadsheet-safe writers ------------------------------------------------------------------------------
def probe_frame():
    return pd.DataFrame({"id": PROBES, "change": [-2.5, -1.0, 0.0, 1.5, -3.0], "n": [1, 2, 3, 4, 5],
                         "=label": ["a", "b", "c", "d", "e"]})


def test_csv_writer_text_is_never_a_formula_and_numbers_stay_numbers(tmp_path):
    p = write_csv(probe_frame(), tmp_path / "x.csv", bom=True)
    rows = csv_fields(p)
    assert_csv_safe(rows, PROBES + ["=label"])
    assert rows[0] == ["id", "change", "n", "'=label"]
    assert [r[1] for r in rows[1:]] == ["-2.5", "-1.0", "0.0", "1.5", "-3.0"]  # unquoted numbers, not text
    raw = p.read_text(encoding="utf-8-sig")
    assert "\n-2.5" not in raw and ",-2.5," in raw and '"\'=1+1"' in raw  # text quoted, numbers bare
    assert p.read_bytes().startswith(b"\xef\xbb\xbf")


def test_xlsx_writer_text_is_never_a_formula_and_numbers_stay_numbers(tmp_path):
    p = write_xlsx({"t": probe_frame()}, tmp_path / "x.xlsx")
    cells = assert_xlsx_safe(p, PROBES + ["=label"])
    numbers = sorted(c["number"] for c in cells if c["number"] is not None)
    assert numbers == sorted([-2.5, -1.0, 0.0, 1.5, -3.0, 1, 2, 3, 4, 5])
    back = pd.read_excel(p)  # the text is kept exactly
    assert back["id"].tolist() == PROBES and back["change"].tolist() == [-2.5, -1.0, 0.0, 1.5, -3.0]


def test_write_table_picks_the_format_by_suffix(tmp_path):
    assert_xlsx_safe(write_table(probe_frame(), tmp_path / "t.xlsx"))
    assert_csv_safe(csv_fields(write_table(probe_frame(), tmp_path / "t.csv")))


def test_score_out_with_formula_by_values(tmp_path, capsys):
    data = pd.read_csv(FIXTURES / "score" / "data.csv")
    data["site"] = [PROBES[k % len(PROBES)] for k in range(len(data))]
    src = tmp_path / "data.csv"
    data.to_csv(src, index=False)
    out = tmp_path / "scores.csv"
    code = main(["score", "--questionnaire", str(FIXTURES / "score" / "questionnaire.yaml"), "--responses", str(src),
                 "--weights", "w", "--by", "site", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    rows = csv_fields(out)
    assert_csv_safe(rows)
    est = [float(r[rows[0].index("estimate")]) for r in rows[1:]]
    assert all(0 <= x <= 100 for x in est)
    assert main(["score", "--questionnaire", str(FIXTURES / "score" / "questionnaire.yaml"), "--responses", str(src),
                 "--weights", "w", "--by", "site"]) == 0  # standard output too
    assert_csv_safe(csv_fields(capsys.readouterr().out))


def _bad_ids_file(tmp_path):
    from .broken.catalogue import HEADER, ROWS, csv_text

    rows = [list(r) for r in ROWS]
    for k, p in enumerate(PROBES):  # every probe row has a text answer: excluded, so it is in the log
        rows.append([p, "黄浦区", "holder", "很好"] + ["3"] * 8)
    rows.append(["R99", "黄浦区", "holder", "=1+1"] + ["3"] * 8)  # a formula as an answer value
    p = tmp_path / "d.csv"
    p.write_text(csv_text(rows, HEADER), encoding="utf-8")
    return p


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_validate_log_stores_ids_as_text(tmp_path, capsys, suffix):
    log = tmp_path / f"log{suffix}"
    code = main(["validate", "--questionnaire", str(FIXTURES / "score" / "questionnaire.yaml"),
                 "--responses", str(_bad_ids_file(tmp_path)), "--log", str(log)])
    assert code == 1, capsys.readouterr().err
    if suffix == ".csv":
        assert_csv_safe(csv_fields(log))
    else:
        assert_xlsx_safe(log)


def test_cases_log_and_summary_store_text(tmp_path, capsys, monkeypatch):
    from .test_protection_cases import good

    monkeypatch.chdir(tmp_path)
    files = []
    for p in PROBES[1:]:  # file names that start a formula, given as they are: the log's file column
        files.append(write_case_table(Path(f"{p}_2025_FY.csv"), "黄浦区", 2025, "FY", good(1.0)))
    # the same unit and year four times: a finding for each later file, named in the log's file column
    units = ["--study", str(FIXTURES / "demo_units_study.yaml")]   # the title names 黄浦区, one of the demo's units
    assert main(["cases", "validate", "--log", "log.csv", *units, "--", *map(str, files)]) == 1, \
        capsys.readouterr().err
    assert_csv_safe(csv_fields(Path("log.csv")), [f"{p}_2025_FY.csv" for p in PROBES[2:]])
    assert main(["cases", "validate", "--log", "log.xlsx", *units, "--", *map(str, files)]) == 1
    assert_xlsx_safe(Path("log.xlsx"), [f"{p}_2025_FY.csv" for p in PROBES[2:]])
    assert main(["cases", "compile", "--summary", "summary.csv", "--out", "ind.csv", *units, "--", str(files[0])]) == 0
    assert csv_fields(Path("summary.csv"))[0][0] and Path("summary.csv").read_bytes().startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("ext", ["csv", "xlsx"])
def test_case_table_writer_stores_text(tmp_path, ext):
    from .test_protection_cases import good

    p = write_case_table(tmp_path / f"t.{ext}", "=1+1", 2025, "FY", good(1.0))
    if ext == "csv":
        rows = csv_fields(p)
        assert rows[0][0] == "'=1+1知识产权行政保护案件统计表（2025年全年）"
        assert not any(f.startswith(FORMULA_START) and not _number(f) for r in rows for f in r)
    else:
        cells = xlsx_cells(p)
        assert not any(c["formula"] for c in cells)
        title = next(c for c in cells if c["ref"] == "A1")
        assert title["text"].startswith("=1+1") and title["quote_prefix"]


# --- a small study: one unit with one respondent per group ----------------------------------------------------------
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    base = tmp_path_factory.mktemp("safeout")
    q = sk.load_questionnaire(QUESTIONNAIRE)
    write_demo(q, base, years=(2025, 2026), target_n=1500)
    path = base / "responses_2026.csv"
    r = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    items = [i.id for i in q.items]
    keep = r[(r.district == SMALL)].groupby("group").head(1).copy()
    keep[items] = keep[items].replace(str(q.scale.missing[0]), "4")  # every applicable item answered
    pd.concat([r[r.district != SMALL], keep]).to_csv(path, index=False, encoding="utf-8-sig")
    (base / "units.csv").write_bytes((ROOT / "surveykit" / "demo" / "shanghai" / "units.csv").read_bytes())
    (base / "study.yaml").write_text(
        f"questionnaire: {QUESTIONNAIRE}\n"
        "region: {zh: 上海市, en: Shanghai, kind: {zh: 市, en: city}}\nunit_kind: {zh: 区, en: district}\n"
        "units: units.csv\n"
        "comparisons: [{id: ownership, group: holder, column: ownership, a: {levels: [foreign, jv], label: {zh: 外资}},"
        " b: {levels: [state, private], label: {zh: 内资}}}]\n"
        "design: {weights: weight, strata: district, psu: [street, respondent_id], fpc: [n_streets, n_frame], "
        "lonely_psu: adjust}\n"
        "years:\n  2025: {responses: responses_2025.csv}\n  2026: {responses: responses_2026.csv}\n"
        "results: results\nmin_n: 30\n", encoding="utf-8")
    study = load_study(base / "study.yaml")
    ensure_results(study)
    return {"base": base, "study": study, "q": q, "kept": keep}


# --- item 3: the workbook suppresses what the reports suppress ------------------------------------------------------
def test_workbook_blanks_suppressed_cells_of_every_table(small, tmp_path):
    study, q, kept = small["study"], small["q"], small["kept"]
    store, prev = load_results(study.results_dir, 2026), load_results(study.results_dir, 2025)
    holder = kept[kept.group == "holder"].iloc[0]
    item = next(i for i in q.items if "holder" in (i.groups or q.group_ids) and not i.reverse)
    own = 100 * (float(holder[item.id]) - q.scale.min) / (q.scale.max - q.scale.min)  # that person's answer
    su = store.scores_unit
    cell = su[(su.unit == SMALL_ID) & (su.group == "holder") & (su.node == item.id)].iloc[0]
    assert cell.n == 1 and cell.estimate == pytest.approx(own)  # the store keeps it (flagged)...
    path = write_workbook(store, tmp_path / "t.xlsx", previous=prev)
    book = pd.read_excel(path, sheet_name=None)
    checked = 0
    for name in ["scores_unit", "dont_know", "ranks", "compare_rest", "group_gaps", "comparisons", "year_change"]:
        t = book[name]
        assert "suppressed" in t.columns, name
        few = np.logical_or.reduce([t[c] < 30 for c in ("n", "n_a", "n_b", "n_asked") if c in t.columns])
        if isinstance(few, np.ndarray) and name != "comparisons":
            assert (t.unit == SMALL_ID).sum() and few[t.unit == SMALL_ID].all(), name
        mine = t[(t.unit == SMALL_ID) | few]  # every cell of the unit rests on 1-3 respondents
        assert len(mine) and mine.suppressed.all(), name
        stats = [c for c in mine.columns if c in ("estimate", "se", "ci_low", "ci_high", "estimate_a", "estimate_b",
                                                  "gap", "difference", "change", "estimate_previous", "rank",
                                                  "rank_low", "rank_high", "n_dont_know", "z", "p_value")]
        assert stats and mine[stats].isna().all().all(), (name, mine[stats].dropna(how="all").head())
        values = mine.select_dtypes("number").to_numpy(float).ravel()
        assert not np.any(np.isclose(values, own)), name  # ...the workbook never shows it
        shown = t[~t.suppressed.astype(bool)]
        checked += len(shown)
        if "estimate" in t.columns and name != "year_change":
            assert shown["estimate"].notna().any(), name  # other units keep their numbers
    assert checked > 1000
    # the flags agree with the store's rule: n < min_n or RSE > max_rse
    s = book["scores_unit"]
    assert (s.suppressed == ((s.n < 30) | (store.scores_unit.rse.to_numpy() > 0.30))).all()
    assert s.loc[s.suppressed, ["estimate", "se", "ci_low", "ci_high"]].isna().all().all()
    dk = book["dont_know"]
    assert (dk.suppressed == (dk.n_asked < 30)).all()
    readme = book["README"].set_index("item")["value"]
    assert "fewer than 30 respondents" in readme["suppression"]


def test_reports_show_no_number_of_a_suppressed_cell(small):
    from surveykit.report.district import DistrictReport

    results = small["study"].results_dir
    su = load_results(results, 2026).scores_unit
    idx = su[(su.unit == SMALL_ID) & (su.group == "all") & (su.node == "index")].iloc[0]
    assert idx.n == 3 and idx.suppressed and np.isfinite(idx.estimate)  # a number the reports must not show
    hidden = f"{idx.estimate:.2f}"
    r = DistrictReport(results, 2026, "jinshan", "zh")
    assert "3 人，少于 30 人" in r.headline()
    # every row of these tables rests on the unit's 1-3 respondents: none is shown
    for table in ("change_table", "versus_rest_table", "gaps_table", "dont_know_table", "drivers_table"):
        assert len(getattr(r, table)()) == 0, (table, getattr(r, table)())
    assert len(r.comparison_table("ownership")) == 0
    assert r.drivers_chart() is None
    text = "\n".join(getattr(r, m)().to_string() for m in ("indicator_table", "group_table", "findings_table"))
    assert hidden not in text and r.rank_label("index") == "–"
    c = CityReport(results, 2026, "zh")
    ranks, trend = c.rank_table(), c.trend_table().set_index("区")
    assert SMALL not in ranks.iloc[:, 0].tolist() and hidden not in ranks.to_string()
    assert trend.loc[SMALL, "2026年"] == "–" and trend.loc[SMALL, "较上年变化"] == "–"
    other = trend.drop(index=SMALL)
    assert (other["2026年"] != "–").all() and (other["较上年变化"] != "–").all()  # the other units keep theirs


def test_workbook_without_the_previous_year_leaves_year_change_out(small, tmp_path):
    store = load_results(small["study"].results_dir, 2026)
    book = pd.read_excel(write_workbook(store, tmp_path / "t.xlsx"), sheet_name=None)
    assert "year_change" not in book and "scores_unit" in book
    assert "left out" in book["README"].set_index("item").loc["year_change", "value"]


def test_workbook_text_is_never_a_formula(small, tmp_path):
    store = load_results(small["study"].results_dir, 2026)
    su = store.scores_unit.copy()
    names = dict(zip(["huangpu", "xuhui", "changning", "jingan", "putuo"], PROBES))
    su["unit"] = su["unit"].replace(names)
    su.loc[su.index[:5], "group"] = PROBES
    store = replace(store, scores_unit=su, sample=store.sample.assign(unit=store.sample.unit.replace(names)))
    assert_xlsx_safe(write_workbook(store, tmp_path / "t.xlsx"))


# --- item 5: no input overwritten -------------------------------------------------------------------------------
def _same_bytes(path, before):
    return Path(path).read_bytes() == before


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "dotted"])
def test_score_out_that_is_the_responses_file_is_refused(tmp_path, capsys, how):
    src = tmp_path / "data.csv"
    src.write_bytes((FIXTURES / "score" / "data.csv").read_bytes())
    before = src.read_bytes()
    out = {"same": src, "symlink": tmp_path / "link.csv", "hardlink": tmp_path / "hard.csv",
           "dotted": tmp_path / "sub" / ".." / "data.csv"}[how]
    if how == "symlink":
        out.symlink_to(src)
    elif how == "hardlink":
        os.link(src, out)
    elif how == "dotted":
        (tmp_path / "sub").mkdir()
    code = main(["score", "--questionnaire", str(FIXTURES / "score" / "questionnaire.yaml"), "--responses", str(src),
                 "--weights", "w", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "is an input file" in err, err
    assert _same_bytes(src, before)


def test_validate_map_and_estimate_refuse_to_overwrite_an_input(tmp_path, capsys):
    from .broken.catalogue import HEADER, ROWS, csv_text

    q = tmp_path / "q.yaml"
    q.write_bytes((FIXTURES / "score" / "questionnaire.yaml").read_bytes())
    src = tmp_path / "d.csv"
    src.write_text(csv_text(ROWS, HEADER), encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  speeder: {min_seconds: 120}\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in (q, src, rules)}
    base = ["--questionnaire", str(q), "--responses", str(src), "--rules", str(rules)]
    for argv in (["validate", *base, "--log", str(src)], ["validate", *base, "--log", str(q)],
                 ["validate", *base, "--log", str(rules)], ["map", *base, "--out", str(src), "--force"],
                 ["estimate", str(src), "--var", "q01", "--out", str(src)]):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and "is an input file" in err, (argv, err)
    assert all(_same_bytes(p, b) for p, b in before.items())


def test_cases_and_composite_refuse_to_overwrite_an_input(tmp_path, capsys):
    from .test_protection_cases import good

    d = tmp_path / "cases"
    d.mkdir()
    table = write_case_table(d / "黄浦区_2025_FY.csv", "黄浦区", 2025, "FY", good(1.0))
    fw, values = FIXTURES / "protection" / "framework_small.yaml", tmp_path / "values.csv"
    values.write_bytes((FIXTURES / "protection" / "values_small.csv").read_bytes())
    before = {table: table.read_bytes(), values: values.read_bytes()}
    cases = [(["cases", "validate", str(d), "--log", str(table)], "inside an input folder"),
             (["cases", "validate", str(table), "--log", str(table)], "is an input file"),
             (["cases", "validate", str(d), "--log", str(d / "log.csv")], "inside an input folder"),
             (["cases", "compile", str(table), "--summary", str(table)], "is an input file"),
             (["cases", "compile", str(table), "--out", str(table)], "is an input file"),
             (["composite", "--framework", str(fw), "--indicators", str(values), "--year", "2025",
               "--out", str(values)], "is an input file"),
             (["composite", "--framework", str(fw), "--indicators", str(values), "--year", "2025",
               "--out", str(tmp_path / "a.csv"), "--steps", str(tmp_path / "a.csv")], "two outputs are the same"),
             (["composite", "--framework", str(fw), "--indicators", str(values), "--year", "2025",
               "--steps", str(fw)], "is an input file")]
    for argv, message in cases:
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, (argv, err)
    assert all(_same_bytes(p, b) for p, b in before.items()) and not (d / "log.csv").exists()


def test_report_out_in_the_results_folder_is_refused(small, tmp_path, capsys):
    study = small["study"]
    man = study.results_dir / "2026" / "manifest.json"
    before = man.read_bytes()
    for out in (study.results_dir, study.results_dir / "2026", study.results_dir / "reports"):
        code = main(["report", "--study", str(small["base"] / "study.yaml"), "--year", "2026", "--district",
                     "pudong", "--out", str(out), "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and "results store" in err, err
    link = tmp_path / "link"
    link.symlink_to(study.results_dir)
    assert main(["report", "--study", str(small["base"] / "study.yaml"), "--year", "2026", "--out", str(link)]) == 2
    assert man.read_bytes() == before and not (study.results_dir / "reports").exists()
    load_results(study.results_dir, 2026)


def test_index_links_every_year_in_the_folder(small, tmp_path):
    study, out = small["study"], tmp_path / "reports"
    for y in (2026, 2025):  # 2026 rendered first, then 2025 into the same folder
        (out / str(y)).mkdir(parents=True)
        (out / str(y) / "pudong.html").write_text("<p>report</p>", encoding="utf-8")
        (out / str(y) / "manifest.json").write_text(json.dumps({"results": str(study.results_dir / str(y))}))
    (out / "2024").mkdir()  # a year folder without reports is no year of the index
    summary = RenderSummary(year=2025, lang="zh", outcomes=[Outcome("pudong", True, "x", 1.0, 1)])
    html = write_index(study, 2025, "zh", out, summary).read_text(encoding="utf-8")
    assert 'href="2026/pudong.html"' in html and 'href="2025/pudong.html"' in html
    assert "2024/" not in html and html.index("2026") < html.index('href="2025/pudong.html"')
    for y in (2025, 2026):  # each year with its own city index
        c = load_results(study.results_dir, y).scores_city
        city = c[(c.node == "index") & (c.group == "all")].estimate.iloc[0]
        assert f"{city:.2f}" in html


# --- item 8: bad paths and YAML: one line, exit 2 ---------------------------------------------------------------
def _unwritable(tmp_path) -> Path:
    if os.geteuid() == 0:  # root writes anywhere a permission allows: /sys refuses even root
        return Path("/sys")
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    return d


def test_bad_output_paths_one_line_exit_2(tmp_path, capsys):
    a_file = tmp_path / "f.csv"
    a_file.write_text("x\n", encoding="utf-8")
    score = ["score", "--questionnaire", str(FIXTURES / "score" / "questionnaire.yaml"), "--responses",
             str(FIXTURES / "score" / "data.csv"), "--weights", "w", "--out"]
    cases = [(tmp_path, "is a folder"), (a_file / "x.csv", "under a file"), (a_file / "a" / "x.csv", "under a file"),
             (tmp_path / "nope" / "x.csv", "folder does not exist"),
             (_unwritable(tmp_path) / "x.csv", "cannot write")]
    for out, message in cases:
        code = main(score + [str(out)])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err, err
    assert a_file.read_text(encoding="utf-8") == "x\n"


def test_bad_report_folders_one_line_exit_2(small, tmp_path, capsys):
    a_file = tmp_path / "f.txt"
    a_file.write_text("x", encoding="utf-8")
    for out, message in [(a_file, "is a file"), (a_file / "r", "under a file"),
                         (_unwritable(tmp_path) / "r", "cannot")]:
        code = main(["report", "--study", str(small["base"] / "study.yaml"), "--year", "2026", "--district",
                     "pudong", "--out", str(out), "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


def test_yaml_nested_a_thousand_levels_one_line_exit_2(tmp_path, capsys):
    deep = tmp_path / "deep.yaml"
    deep.write_text("id: x\nversion: '1'\nindicators: " + "[" * 1200 + "]" * 1200 + "\n", encoding="utf-8")
    block = tmp_path / "block.yaml"
    block.write_text("id: x\n" + "".join("  " * k + f"k{k}:\n" for k in range(1100)) + "  " * 1100 + "1\n",
                     encoding="utf-8")
    for q in (deep, block):
        code = main(["score", "--questionnaire", str(q), "--responses", str(FIXTURES / "score" / "data.csv")])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and "nested deeper than" in err, err
        assert str(q) in err


def test_yaml_merge_keys_are_accepted(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("""\
id: t
version: "1"
targets:
  - &base {id: s80, label: {zh: 满意度≥80}, indicator: satisfaction_index, source: survey, op: ">=", threshold: 80}
  - {<<: *base, id: scity, label: {zh: 满意度≥全市}, threshold: city_average}
  - <<: *base
    id: low
    label: {zh: 满意度≤90}
    op: "<="
    threshold: 90
""", encoding="utf-8")
    tg = load_targets(p)
    assert [(t.id, t.source, t.op, t.threshold) for t in tg.targets] == [
        ("s80", "survey", ">=", 80), ("scity", "survey", ">=", "city_average"), ("low", "survey", "<=", 90)]
    s = tmp_path / "study.yaml"
    s.write_text("questionnaire: q.yaml\nyears:\n  2025: &y {responses: r25.csv, sheet: 问卷, rake: m.csv}\n"
                 "  2026: {<<: *y, responses: r26.csv}\n", encoding="utf-8")
    st = load_study(s)
    assert (st.years[2026].responses, st.years[2026].sheet, st.years[2026].rake) == ("r26.csv", "问卷", "m.csv")
    p.write_text("id: t\nversion: '1'\ntargets:\n  - &b {id: a, label: {zh: A}, indicator: i, threshold: 1}\n"
                 "  - {<<: *b, id: b, id: c, label: {zh: B}}\n", encoding="utf-8")
    with pytest.raises(SpecError, match="duplicate key 'id'"):  # a key twice beside the merge is still refused
        load_targets(p)


def test_two_targets_with_one_label_refused_at_load(tmp_path, capsys):
    p = tmp_path / "t.yaml"
    p.write_text("id: t\nversion: '1'\ntargets:\n"
                 "  - {id: a, label: {zh: 达标, en: A}, indicator: x, threshold: 1}\n"
                 "  - {id: b, label: {zh: 达标, en: B}, indicator: y, threshold: 2}\n", encoding="utf-8")
    with pytest.raises(SpecError, match="'a' and 'b' have the same label \\(zh\\) '达标'"):
        load_targets(p)
    code = main(["composite", "--framework", str(FIXTURES / "protection" / "framework_small.yaml"), "--indicators",
                 str(FIXTURES / "protection" / "values_small.csv"), "--year", "2025", "--targets", str(p)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "same label" in err, err
    p.write_text(p.read_text(encoding="utf-8").replace("en: B", "en: A").replace("zh: 达标, en: A}, indicator: y",
                                                                                "zh: 其他, en: A}, indicator: y"))
    with pytest.raises(SpecError, match="same label \\(en\\) 'A'"):
        load_targets(p)


def test_city_scorecard_table_is_keyed_on_ids(tmp_path):
    from types import SimpleNamespace
    from surveykit.report.i18n import Phrases, words
    from surveykit.report.protection import scorecard_wide
    card = pd.DataFrame({"unit": ["huangpu", "huangpu", "xuhui", "xuhui"], "target": ["a", "b", "a", "b"],
                         "label_zh": ["同名", "同名", "同名", "同名"], "label_en": ["Same"] * 4,
                         "indicator": "x", "source": "indicators", "op": ">=", "threshold": 1.0,
                         "threshold_basis": "1", "evidence": [2.0, 0.5, 0.0, 3.0], "ci_low": np.nan,
                         "ci_high": np.nan, "status": ["pass", "fail", "fail", "pass"], "note": ""})
    setting = {"region": {"zh": "上海市", "en": "Shanghai", "kind": {"zh": "市", "en": "city"}},
               "kind": {"zh": "区", "en": "district"}}
    view = SimpleNamespace(protection={"scorecard": card}, lang="en", p=Phrases("en", words(setting, "en")),
                           unit_name={"huangpu": "Huangpu", "xuhui": "Xuhui"}.get)
    wide = scorecard_wide(view)   # two targets share a label: the columns say which is which
    assert wide.shape == (2, 3) and list(wide.columns) == ["District", "Same (a)", "Same (b)"]
    assert wide.iloc[:, 1].tolist() == ["pass", "fail"] and wide.iloc[:, 2].tolist() == ["fail", "pass"]
    assert wide["District"].tolist() == ["Huangpu", "Xuhui"]


# --- item 7: an interrupted report run ---------------------------------------------------------------------------
def _tree(pid: int) -> dict[int, str]:
    try:
        return {c.pid: " ".join(c.cmdline()) for c in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return {}


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_report_stops_everything_and_says_so(small, tmp_path, sig):
    out, tmp, runtime = tmp_path / "reports", tmp_path / "tmp", tmp_path / "runtime"
    tmp.mkdir()
    runtime.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "JUPYTER_RUNTIME_DIR": str(runtime),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "surveykit.cli", "report", "--study",
                             str(small["base"] / "study.yaml"), "--year", "2026", "--district", "all", "--jobs", "2",
                             "--out", str(out), "--quiet"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen: dict[int, str] = {}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:  # wait for a report and running kernels
        seen.update(_tree(proc.pid))
        kernels = [p for p, cmd in _tree(proc.pid).items() if "ipykernel" in cmd]
        if kernels and list((out / "2026").glob("[!.]*.html")):
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    seen.update(_tree(proc.pid))
    assert any("ipykernel" in cmd for cmd in seen.values())
    t0 = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    took = time.monotonic() - t0
    time.sleep(1.0)  # (a process has one second to go after its parent ended)
    survivors = {p: cmd for p, cmd in seen.items() if _alive(p)}
    print(f"exit after {took:.2f} s; {len(seen)} child processes seen")
    assert took < 8, f"took {took:.1f} s to stop"
    assert proc.returncode == 128 + sig and "surveykit: interrupted" in err and "Traceback" not in err, err
    assert not survivors, survivors
    assert not list(tmp.iterdir()) and not list(runtime.iterdir())  # no kernel connection files, no sockets
    year = out / "2026"
    assert not [p.name for p in year.iterdir() if p.name.startswith(".")]  # no half-written file
    man = json.loads((year / "manifest.json").read_text(encoding="utf-8"))
    assert man["interrupted"] is True and man["ok"] is False
    rendered = {Path(r["path"]).name for r in man["reports"] if r["ok"]}
    assert rendered and rendered == {p.name for p in year.glob("*.html")}
    assert len(rendered) + len(man["not_rendered"]) + len([r for r in man["reports"] if not r["ok"]]) == 18
