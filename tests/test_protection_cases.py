"""Case-statistics tables (行政保护案件统计表): reading both layouts and formats, every check with its location,
the city summary and the derived indicators (hand sums), and `surveykit cases`."""

import io

import pandas as pd
import pytest

from surveykit.cli import main
from surveykit.errors import InputError
from surveykit.protection.cases import (CATEGORIES, ENFORCEMENT, EXPECTED, MEASURES, case_records,
                                        check_case_tables, compile_cases, write_case_table)
from surveykit.protection.cases import read_case_table as _read_case_table
from surveykit.demo import DEMO_UNITS

from .conftest import FIXTURES


def read_case_table(*args, **kwargs):
    """With the demo study's units (the tables name Shanghai's districts in titles and file names)."""
    kwargs.setdefault("units", DEMO_UNITS)
    return _read_case_table(*args, **kwargs)


def good(scale=1.0):
    v = {}
    for k, (c, m) in enumerate(EXPECTED):
        if m in ("cases", "closed"):
            v[(c, m)] = int(round((k + 2) * scale))
        else:
            v[(c, m)] = round((k + 1) * 1.5 * scale, 2)
    v[("patent_ruling", "cases")] = int(20 * scale)
    v[("patent_ruling", "closed")] = int(18 * scale)
    return v


@pytest.mark.parametrize("ext", ["xlsx", "csv"])
def test_roundtrip_both_formats(tmp_path, ext):
    vals = good()
    p = write_case_table(tmp_path / f"t.{ext}", "黄浦区", 2025, "H1", vals)
    t = read_case_table(p)
    assert (t.unit, t.year, t.period) == ("huangpu", 2025, "H1")   # from the title row (the unit as its id)
    assert t.issues == []
    for (c, m), x in vals.items():
        assert t.value(c, m) == pytest.approx(x)
    # the number's cell: row 3 is the first data row (title, header), column 数量
    assert t.where("counterfeit_patent", "cases") == (3, "数量")
    assert check_case_tables([t]).ok


def test_meta_from_file_name_and_conflicts(tmp_path):
    p = tmp_path / "huangpu_2025_FY.csv"
    rows = ["案件类型,统计项目,数量"] + [f"{c},{m},1" for c, m, _ in _rows()]
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    t = read_case_table(p)
    assert (t.unit, t.year, t.period) == ("huangpu", 2025, "FY")
    q = tmp_path / "xuhui_2025_FY.csv"
    q.write_text("黄浦区知识产权行政保护案件统计表（2025年全年）\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="the unit is ambiguous: huangpu in the title, xuhui in the file name"):
        read_case_table(q)
    r = tmp_path / "table.csv"
    r.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="cannot tell the unit"):
        read_case_table(r)
    t = read_case_table(r, unit="changning", year=2026, period="h1")
    assert (t.unit, t.year, t.period) == ("changning", 2026, "H1")


def _rows():
    from surveykit.protection.cases import table_rows

    return table_rows({k: 1 for k in EXPECTED})


def test_wide_layout_gbk(tmp_path):
    p = tmp_path / "静安区_2026_FY.csv"
    text = ("案件类型,案件数（件）,案值（万元）,罚没款（万元）,结案数（件）\n"
            "假冒专利,2,3.5,1.2,\n商标侵权,10,80,12,\n商标一般违法,5,8,2,\n地理标志,0,,,\n"
            "官方标志、特殊标志、奥林匹克标志,1,0.5,0.2,\n专利侵权纠纷行政裁决,30,,,28\n")
    p.write_bytes(text.encode("gbk"))
    t = read_case_table(p)
    assert t.value("trademark_infringement", "value") == 80 and t.value("patent_ruling", "closed") == 28
    assert t.value("official_marks", "cases") == 1
    chk = check_case_tables([t])
    assert chk.ok, chk.summary()
    rec = case_records([t])
    gi = rec[(rec.category == "geographical_indication")].set_index("measure").value
    assert gi["value"] == 0 and gi["fines"] == 0          # blank amounts with 0 cases count as 0


def _write_csv(tmp_path, name, body):
    p = tmp_path / name
    p.write_text("案件类型,统计项目,数量\n" + body, encoding="utf-8")
    return p


def full_body(over=None):
    """The long layout with every number 1, except ``over`` ({(case type, item prefix): text})."""
    lines = [[c, m, "1"] for c, m, _ in _rows()]
    for (c, m), val in (over or {}).items():
        for ln in lines:
            if ln[0] == c and ln[1].startswith(m):
                ln[2] = val
    return "\n".join(",".join(ln) for ln in lines) + "\n"


def test_checks_name_row_and_column(tmp_path):
    body = full_body({("假冒专利", "案件数"): "-1", ("商标侵权", "案件数"): "2.5", ("商标侵权", "案值"): "3万",
                        ("商标一般违法", "案值"): "", ("地理标志", "案件数"): ""})
    p = _write_csv(tmp_path, "黄浦区_2025_FY.csv", body)
    chk = check_case_tables([read_case_table(p)])
    assert not chk.ok and chk.warnings.empty
    # every error, with its cell: the header is row 1, 假冒专利 案件数 row 2, 商标侵权 案件数 row 5 ... (three rows a
    # type); cell problems found while reading come first, then the checks in the order of the rows expected
    assert findings(chk.errors) == [
        (6, "数量", "'3万' is not a number (write digits only, e.g. 12.5; units go in the header)"),
        (2, "数量", "假冒专利 案件数 is negative (-1)"),
        (5, "数量", "商标侵权 案件数 must be a whole number of cases (found 2.5)"),
        (11, "数量", "地理标志 案件数 is blank (enter 0 when there were none)"),
        (9, "数量", "商标一般违法: 1 case(s) but 案值 is blank (enter the amount in 万元, 0 if none)")]


def findings(log):
    return [(None if pd.isna(r.row) else int(r.row), r.column if isinstance(r.column, str) else None, r.message)
            for r in log.itertuples()]


def test_missing_and_unknown_rows(tmp_path):
    body = full_body().replace("地理标志,", "地理标识,")
    body = "\n".join(ln for ln in body.splitlines() if not ln.startswith("专利侵权纠纷行政裁决,结案数")) + "\n"
    chk = check_case_tables([read_case_table(_write_csv(tmp_path, "黄浦区_2025_FY.csv", body))])
    unknown = ("unknown case type '地理标识' (expected one of: 假冒专利, 商标侵权, 商标一般违法, 地理标志, "
               "官方标志/特殊标志/奥林匹克标志, 专利侵权纠纷行政裁决)")
    assert findings(chk.errors) == [(r, "案件类型", unknown) for r in (11, 12, 13)] + [
        (None, None, "the row 地理标志 / 案件数（件） is missing"),
        (None, None, "the row 地理标志 / 案值（万元） is missing"),
        (None, None, "the row 地理标志 / 罚没款（万元） is missing"),
        (None, None, "the row 专利侵权纠纷行政裁决 / 结案数（件） is missing")]
    assert chk.warnings.empty


def test_warnings_backlog_and_amount_without_cases(tmp_path):
    body = full_body({("专利侵权纠纷行政裁决", "案件数"): "10", ("专利侵权纠纷行政裁决", "结案数"): "40",
                        ("地理标志", "案件数"): "0", ("地理标志", "罚没款"): "2"})
    chk = check_case_tables([read_case_table(_write_csv(tmp_path, "黄浦区_2025_FY.csv", body))])
    assert chk.ok
    # 地理标志: 0 cases but 案值 1 (every other number of the body is 1) and 罚没款 2; rulings 40 closed of 10 filed
    assert findings(chk.warnings) == [
        (12, "数量", "地理标志: 案值 1 万元 reported with 0 cases"),
        (13, "数量", "地理标志: 罚没款 2 万元 reported with 0 cases"),
        (18, "数量", "专利侵权纠纷行政裁决: 40 closed but only 10 filed -- closing a backlog is normal, this much is "
                   "unusual: please confirm")]
    # a modest backlog is not flagged: 12 closed of 10 filed
    body = full_body({("专利侵权纠纷行政裁决", "案件数"): "10", ("专利侵权纠纷行政裁决", "结案数"): "12"})
    assert check_case_tables([read_case_table(_write_csv(tmp_path, "x_2025.csv", body), unit="黄浦区",
                                              period="FY")]).warnings.empty


def test_half_year_above_full_year_and_duplicates(tmp_path):
    h1 = write_case_table(tmp_path / "黄浦区_2025_H1.xlsx", "黄浦区", 2025, "H1", good(1.0))
    fy = write_case_table(tmp_path / "黄浦区_2025_FY.csv", "黄浦区", 2025, "FY", good(0.5))
    chk = check_case_tables([read_case_table(h1), read_case_table(fy)])
    # every expected figure of the half year (scale 1) is above the full year's (scale 0.5): one error each, at
    # the full-year file's cell (title row 1, header row 2, data from row 3 in EXPECTED order)
    a, b = good(1.0), good(0.5)
    expected = []
    for k, (c, m) in enumerate(EXPECTED):
        name = f"{CATEGORIES[c]} {MEASURES[m][0]}"
        expected.append((k + 3, "数量", f"{name}: full year {b[(c, m)]:g} is below the half year {a[(c, m)]:g} ({h1})"))
    assert findings(chk.errors) == expected and set(chk.errors.file) == {str(fy)}
    dup = check_case_tables([read_case_table(h1), read_case_table(h1)])
    assert findings(dup.errors) == [(None, None, f"huangpu 2025 H1 is also in {h1}")]


def test_derived_indicators_and_city_summary_by_hand(tmp_path):
    a, b = good(1.0), good(2.0)
    ta = read_case_table(write_case_table(tmp_path / "a.csv", "黄浦区", 2025, "FY", a))
    tb = read_case_table(write_case_table(tmp_path / "b.csv", "徐汇区", 2025, "FY", b))
    ent = pd.DataFrame({"unit": ["huangpu", "xuhui"], "year": [2025, 2025], "indicator": "market_entities",
                        "value": [50000.0, 80000.0]})
    summary, ind = compile_cases([ta, tb], ent)
    enf = ["counterfeit_patent", "trademark_infringement", "trademark_other", "geographical_indication",
           "official_marks"]
    cases_a = sum(a[(c, "cases")] for c in enf)
    fines_a = sum(a[(c, "fines")] for c in enf)
    d = ind[ind.unit == "huangpu"].set_index("indicator").value
    assert d["admin_cases"] == cases_a and d["admin_fines"] == pytest.approx(fines_a)
    assert d["fines_per_case"] == pytest.approx(fines_a / cases_a)
    assert d["ruling_closing_rate"] == pytest.approx(100 * 18 / 20)
    assert d["admin_cases_per_10k"] == pytest.approx(cases_a / 50000 * 10000)
    assert d["trademark_cases"] == a[("trademark_infringement", "cases")] + a[("trademark_other", "cases")]
    tot = summary[summary["单位"] == "合计"].iloc[0]
    col = "商标侵权/案件数（件）"
    assert tot[col] == a[("trademark_infringement", "cases")] + b[("trademark_infringement", "cases")]
    assert tot["结案率（%）"] == pytest.approx(round(100 * (18 + 36) / (20 + 40), 1))
    assert list(summary["单位"]) == ["huangpu", "xuhui", "合计"]


def test_compile_refuses_errors(tmp_path):
    p = _write_csv(tmp_path, "黄浦区_2025_FY.csv", full_body({("假冒专利", "案件数"): "-3"}))
    with pytest.raises(InputError) as e:
        compile_cases([read_case_table(p)])
    assert e.value.file == str(p) and e.value.row == 2 and e.value.column == "数量"
    assert e.value.message == "假冒专利 案件数 is negative (-3)"


def run(capsys, *argv):
    if argv[0] == "cases":   # the demo study's units are recognised in titles and file names
        argv = (*argv, "--study", FIXTURES / "demo_units_study.yaml")
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_cases(capsys, tmp_path):
    d = tmp_path / "cases"
    d.mkdir()
    write_case_table(d / "黄浦区_2025_H1.xlsx", "黄浦区", 2025, "H1", good(0.5))
    write_case_table(d / "黄浦区_2025_FY.csv", "黄浦区", 2025, "FY", good(1.0))
    write_case_table(d / "徐汇区_2025_FY.csv", "徐汇区", 2025, "FY", good(2.0))
    log = tmp_path / "log.csv"
    code, _, err = run(capsys, "cases", "validate", d, "--log", log)
    assert code == 0 and "3 case table(s) checked: 0 error(s)" in err
    summ = tmp_path / "summary.csv"
    code, out, err = run(capsys, "cases", "compile", d, "--summary", summ)
    assert code == 0, err
    ind = pd.read_csv(io.StringIO(out))
    assert list(ind.columns) == ["unit", "year", "indicator", "value"] and set(ind.unit) == {"huangpu", "xuhui"}
    got = ind.set_index(["unit", "indicator"]).value            # the full-year tables, by hand
    assert got["huangpu", "admin_cases"] == sum(good(1.0)[(c, "cases")] for c in ENFORCEMENT)
    assert got["xuhui", "admin_fines"] == pytest.approx(sum(good(2.0)[(c, "fines")] for c in ENFORCEMENT))
    assert got["xuhui", "ruling_closing_rate"] == pytest.approx(100 * 36 / 40)
    assert summ.read_bytes().startswith(b"\xef\xbb\xbf")
    total = pd.read_csv(summ).set_index("单位").loc["合计"]
    assert total["商标侵权/案件数（件）"] == good(1.0)[("trademark_infringement", "cases")] + \
        good(2.0)[("trademark_infringement", "cases")]
    # a bad table: validate exits 1 with the findings; compile exits 2 with one line
    bad = _write_csv(d, "长宁区_2025_FY.csv", full_body({("商标侵权", "罚没款"): "-2"}))
    code, _, err = run(capsys, "cases", "validate", d, "--log", log)
    assert code == 1 and "1 error(s)" in err
    assert f"  error: {bad}, row 7, column '数量': 商标侵权 罚没款 is negative (-2)" in err.splitlines()
    assert pd.read_csv(log).severity.tolist().count("error") == 1
    code, _, err = run(capsys, "cases", "compile", d)
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"{bad}, row 7, column '数量'" in err
    code, _, err = run(capsys, "cases", "validate", tmp_path / "nothing.csv")
    assert code == 2 and "file not found" in err
