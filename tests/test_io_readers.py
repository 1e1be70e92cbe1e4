"""Readers (issue 4, acceptance 1): encodings and delimiters found and reported, XLSX headers as platforms write
them, .sav value labels -- and every data row's row number in the file. Broken files: tests/broken/."""

import datetime as dt

import numpy as np
import openpyxl
import pandas as pd
import pytest

from surveykit.errors import InputError
from surveykit.io import blank_rows, read_table
from surveykit.io.readers import _calamine, col_index, col_letters, read_xlsx

ENGINES = ["openpyxl"] + (["calamine"] if _calamine() is not None else [])
TEXT = "respondent_id,district,group,q01\nR1,浦东新区,权利人,非常满意\nR2,黄浦区,社会公众,4\n"


# --- CSV ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding, raw, reported", [
    ("utf-8", lambda t: t.encode("utf-8"), "utf-8"),
    ("utf-8-sig", lambda t: t.encode("utf-8-sig"), "utf-8-bom"),
    ("gbk", lambda t: t.replace("\n", "\r\n").encode("gbk"), "gbk"),
    ("gb18030", lambda t: t.replace("浦东新区", "浦东新区䶮").encode("gb18030"), "gb18030"),  # 䶮 is not in GBK
    ("utf-16", lambda t: t.replace(",", "\t").encode("utf-16"), "utf-16"),
])
def test_csv_encodings_detected_and_reported(tmp_path, encoding, raw, reported):
    p = tmp_path / "d.csv"
    p.write_bytes(raw(TEXT))
    df = read_table(p)
    assert df.attrs["encoding"] == reported
    assert list(df.columns) == ["respondent_id", "district", "group", "q01"]
    assert df["group"].tolist() == ["权利人", "社会公众"]
    assert df["district"].iloc[0].startswith("浦东新区")
    assert df.attrs["file_rows"].tolist() == [2, 3]


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiter_detected(tmp_path, delim):
    p = tmp_path / "d.csv"
    p.write_text(TEXT.replace(",", delim), encoding="utf-8")
    df = read_table(p)
    assert df.attrs["delimiter"] == delim and df.shape == (2, 4)


def test_comma_inside_chinese_text_does_not_fool_the_delimiter(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text('id;comment;q01\n1;"好，很好, 非常好";5\n2;一般;3\n', encoding="utf-8")
    df = read_table(p)
    assert df.attrs["delimiter"] == ";" and df["comment"].iloc[0] == "好，很好, 非常好"


def test_file_rows_follow_multiline_cells_and_blank_rows(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text('id,comment,q01\n1,"line one\nline two",5\n\n3,ok,4\n\n\n', encoding="utf-8")
    df = read_table(p)
    # record 1 starts on line 2 and ends on line 3; line 4 is blank (kept: the empty_row rule accounts for it)
    assert df.attrs["file_rows"].tolist() == [2, 4, 5]
    assert blank_rows(df).tolist() == [False, True, False]
    assert df.attrs["empty_rows"] == 1
    assert df.attrs["trailing_blank_rows"] == 2  # after the last row: not data
    assert df.attrs["empty_rows_dropped"] == 0


def test_numbers_ids_and_na_tokens(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("id,w,q01,q02,code\n007,1.5,5,NA,01\n010,2,#N/A,3,10\n", encoding="utf-8")
    df = read_table(p)
    assert df["id"].tolist() == ["007", "010"]  # leading zeros: an id, kept as text
    assert df["code"].tolist() == ["01", "10"]
    assert df["w"].dtype.kind == "f" and df["q02"].dtype == "Int64"
    assert df["q01"].isna().tolist() == [False, True]


# --- XLSX --------------------------------------------------------------------------------------------------------
def _book(path, rows, setup=None, title="Sheet1", extra_sheets=()):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for r in rows:
        ws.append(r)
    for name in extra_sheets:
        extra = wb.create_sheet(name)
        extra.append(["x", "y"])
        extra.append([1, 2])
    if setup:
        setup(wb, ws)
    wb.save(path)
    return path


@pytest.mark.parametrize("engine", ENGINES)
def test_xlsx_question_text_header_and_cells_as_stored(tmp_path, engine):
    p = _book(tmp_path / "a.xlsx", [["序号", "1、您所在的区", "3、您对……的满意程度"], [1, "浦东", "非常满意"],
                                    [2, "Pudong", "５"], [3, None, "4"], [None, None, None], [5, "临港", 4]])
    df = read_xlsx(p, engine=engine)
    assert list(df.columns) == ["序号", "1、您所在的区", "3、您对……的满意程度"]
    assert df.attrs["file_rows"].tolist() == [2, 3, 4, 5, 6]
    assert df.attrs["engine"] == engine and df.attrs["sheet"] == "Sheet1" and df.attrs["header_rows"] == [1]
    assert df["3、您对……的满意程度"].tolist()[:3] == ["非常满意", "５", "4"]  # labels and full-width: for mapping
    assert df["序号"].dtype == "Int64"
    assert blank_rows(df).tolist() == [False, False, False, True, False]


@pytest.mark.parametrize("engine", ENGINES)
def test_xlsx_numbers_stored_as_text_become_numbers(tmp_path, engine):
    p = _book(tmp_path / "a.xlsx", [["id", "q01", "w"], ["1", "5", "1.5"], ["2", "3", "2"]])
    df = read_xlsx(p, engine=engine)
    assert df["q01"].tolist() == [5, 3] and df["q01"].dtype == "int64"
    assert df["w"].tolist() == [1.5, 2.0]


@pytest.mark.parametrize("engine", ENGINES)
def test_xlsx_named_and_numbered_sheets(tmp_path, engine):
    p = _book(tmp_path / "a.xlsx", [["a", "b"], [1, 2]], extra_sheets=["数据"])
    assert read_table(p, sheet="数据").attrs["sheet"] == "数据"
    assert read_xlsx(p, sheet=1, engine=engine).columns.tolist() == ["x", "y"]
    with pytest.raises(InputError, match=r"no sheet 'nope' \(sheets: Sheet1, 数据\)"):
        read_xlsx(p, sheet="nope", engine=engine)


def _merged(wb, ws):
    ws.merge_cells("A1:A2")
    ws.merge_cells("B1:B2")
    ws.merge_cells("C1:E1")


@pytest.mark.parametrize("engine", ENGINES)
def test_xlsx_merged_header_cells_make_a_two_row_header(tmp_path, engine):
    rows = [["序号", "身份", "5、请评价以下方面", None, None],
            [None, None, "法律法规完备程度", "执法力度", "审判效率"],
            [1, "权利人", "满意", "一般", "非常满意"],
            [2, "社会公众", "满意", "满意", "满意"]]
    p = _book(tmp_path / "a.xlsx", rows, setup=_merged)
    df = read_xlsx(p, engine=engine)
    assert list(df.columns) == ["序号", "身份", "5、请评价以下方面 / 法律法规完备程度", "5、请评价以下方面 / 执法力度",
                                "5、请评价以下方面 / 审判效率"]
    assert df.attrs["header_rows"] == [1, 2]
    assert df.attrs["header_parts"]["5、请评价以下方面 / 执法力度"] == ("5、请评价以下方面", "执法力度")
    assert df.attrs["file_rows"].tolist() == [3, 4]
    # one header row: the merged title would name three columns alike
    with pytest.raises(InputError, match=r"row 1, column '5、请评价以下方面': duplicate column name \(columns C and D\)"):
        read_xlsx(p, engine=engine, header_rows=1)


@pytest.mark.parametrize("engine", ENGINES)
def test_xlsx_header_rows_given(tmp_path, engine):
    """Two header rows without merged cells (variable names over question texts): say so with header_rows."""
    p = _book(tmp_path / "a.xlsx", [["id", "Q1", "Q2"], ["编号", "法律法规", "执法"], [1, 5, 4]])
    assert read_xlsx(p, engine=engine).attrs["file_rows"].tolist() == [2, 3]
    df = read_xlsx(p, engine=engine, header_rows=2)
    assert list(df.columns) == ["id / 编号", "Q1 / 法律法规", "Q2 / 执法"] and df.attrs["file_rows"].tolist() == [3]


@pytest.mark.parametrize("engine", ENGINES)
def test_xlsx_title_row_offset_table_dates_and_formulas(tmp_path, engine):
    def setup(wb, ws):
        ws["C3"] = "调查数据导出"            # a title above the table
        for j, h in enumerate(["id", "q01", "q02", "when"]):
            ws.cell(4, 3 + j).value = h
        ws.cell(5, 3).value = 1
        ws.cell(5, 4).value = dt.datetime(2025, 3, 4)
        ws.cell(5, 5).value = "=1+1"
        ws.cell(5, 6).value = dt.datetime(2025, 5, 1, 10, 30)
        ws.cell(6, 3).value = 2
        ws.cell(6, 4).value = 4
        ws.cell(6, 5).value = 3
    p = _book(tmp_path / "a.xlsx", [], setup=setup)
    df = read_xlsx(p, engine=engine)
    assert list(df.columns) == ["id", "q01", "q02", "when"]
    assert df.attrs["header_rows"] == [4] and df.attrs["file_rows"].tolist() == [5, 6]
    assert isinstance(df["q01"].iloc[0], (dt.date, pd.Timestamp))
    assert df.attrs["formulas"] == {(0, "q02"): "=1+1"}
    assert pd.isna(df["q02"].iloc[0])  # openpyxl writes no computed value


def test_xlsx_blank_header_cell_named_by_its_letter(tmp_path):
    p = _book(tmp_path / "a.xlsx", [["id", None, "q01", None], [1, "x", 5, None], [2, "y", 4, None]])
    df = read_table(p)
    assert list(df.columns) == ["id", "column B", "q01"]  # D has neither header nor data: not a column


def test_column_letters_round_trip():
    for k in (0, 25, 26, 701, 702, 16383):
        assert col_index(col_letters(k)) == k
    assert col_letters(0) == "A" and col_letters(27) == "AB"


def test_both_engines_read_the_same(tmp_path):
    # python-calamine is a dependency (the 200,000-row speed target needs it): its absence is a failure
    assert len(ENGINES) == 2, "python-calamine is not installed (pip install -e '.[test]')"
    rows = [["序号", "区", "q01", "q02"]] + [[k, "浦东" if k % 2 else "黄浦区", "满意" if k % 3 else 5, None if k % 4 else "4"]
                                            for k in range(1, 40)]
    p = _book(tmp_path / "a.xlsx", rows)
    a, b = read_xlsx(p, engine="openpyxl"), read_xlsx(p, engine="calamine")
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert a.attrs["file_rows"].tolist() == b.attrs["file_rows"].tolist()


# --- SPSS --------------------------------------------------------------------------------------------------------
def test_sav_value_labels_variable_labels_and_case_numbers(tmp_path):
    import pyreadstat

    p = tmp_path / "a.sav"
    df = pd.DataFrame({"id": [1.0, 2.0, 3.0], "Q1": [1.0, 5.0, np.nan], "w": [1.5, 2.0, 1.0]})
    pyreadstat.write_sav(df, str(p), column_labels=["编号", "您对法律法规的满意程度", "权重"],
                         variable_value_labels={"Q1": {1.0: "非常不满意", 5.0: "非常满意"}})
    got = read_table(p)
    assert got.attrs["value_labels"] == {"Q1": {1.0: "非常不满意", 5.0: "非常满意"}}
    assert got.attrs["column_labels"]["Q1"] == "您对法律法规的满意程度"
    assert got.attrs["file_rows"].tolist() == [1, 2, 3]  # case numbers, as SPSS shows them
    assert got["id"].dtype == "int64" and got["Q1"].dtype == "Int64" and got["w"].dtype.kind == "f"
