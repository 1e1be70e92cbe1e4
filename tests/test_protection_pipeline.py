"""The recorded pipeline: every step logged with what it changed, immutability, imputation, denomination,
outlier treatment, and the `surveykit composite` command (contract 5 columns, one-line errors)."""

import io
import textwrap

import numpy as np
import pandas as pd
import pytest

from surveykit.demo import DEMO_UNITS

from surveykit.cli import main
from surveykit.errors import InputError
from surveykit.protection import Composite, build_composite, load_framework, read_indicator_values

from .conftest import FIXTURES

P = FIXTURES / "protection"

FW = """\
id: t
version: "1"
impute: {method: refuse}
treat: {method: winsorise}
auxiliary:
  - {id: entities, label: {zh: 市场主体数}}
  - {id: cases, label: {zh: 案件数}}
dimensions:
  - id: d1
    label: {zh: 一}
    indicators:
      - {id: rate, label: {zh: 每万户案件}, numerator: cases, denominator: entities, scale: 10000}
      - {id: days, label: {zh: 天数}, direction: -1, impute: previous}
  - id: d2
    label: {zh: 二}
    indicators:
      - {id: share, label: {zh: 比例}, impute: mean}
      - {id: skewed, label: {zh: 偏态}, impute: none}
"""

UNITS = ["黄浦区", "徐汇区", "长宁区", "静安区", "普陀区", "虹口区", "杨浦区", "闵行区"]


def values(miss=()):
    rows = []
    for y in (2024, 2025):
        for k, u in enumerate(UNITS):
            v = {"entities": 10000 * (k + 1), "cases": 3 * (k + 1) + k * k, "days": 30 + 3 * k + (y - 2024),
                 "share": 40 + 5 * k, "skewed": [1, 2, 2, 3, 3, 4, 4, 400][k]}
            for ind, x in v.items():
                if (u, y, ind) in miss:
                    x = np.nan
                rows.append(dict(unit=u, year=y, indicator=ind, value=float(x)))
    return read_indicator_values(pd.DataFrame(rows))


@pytest.fixture
def fw(tmp_path):
    p = tmp_path / "fw.yaml"
    p.write_text(FW, encoding="utf-8")
    return load_framework(p)


def test_steps_are_recorded_in_order(fw):
    r = build_composite(fw, values(), 2025)
    assert r.steps.step.tolist() == ["denominate", "impute", "treat", "normalise", "weight", "aggregate"]
    assert list(r.steps.columns) == ["step", "method", "parameters", "changed", "n_changed"]
    assert "rate = cases / entities x 10000" in r.steps.changed.iloc[0]
    assert r.steps.changed.iloc[1] == "no missing values"
    # the outlier 400 is winsorised (COINr rule), and the change is listed with before/after
    t = r.changes[r.changes.step == "treat"]
    assert t.node.tolist() == ["skewed"] and t.unit.tolist() == ["闵行区"]
    assert t.before.iloc[0] == 400 and t.after.iloc[0] == 4
    assert "skewed: winsorised 1 point(s)" in r.steps.changed.iloc[2]
    # value column: the measured (denominated) value, before treatment
    s = r.scores.set_index(["unit", "node"])
    assert s.loc[("闵行区", "skewed"), "value"] == 400
    assert s.loc[("徐汇区", "rate"), "value"] == pytest.approx((3 * 2 + 1) / 20000 * 10000)
    lines = r.summary().splitlines()
    assert lines[0] == "Composite index 't' 1, 2025: 8 units, 2 dimensions, 4 indicators"
    assert [ln.split()[0] for ln in lines if ln.startswith("  ") and ln.split()[0].isalpha()] == list(r.steps.step)
    best = r.index().iloc[0]
    assert f"  {1:>3}  {best.unit:<8} {best.score:6.2f}" in lines


def test_immutable_and_ordered(fw):
    c = Composite(fw, values(), 2025)
    d = c.denominate()
    assert c.steps == () and len(d.steps) == 1 and c.data is not d.data
    assert not np.allclose(np.nan_to_num(c.data), np.nan_to_num(d.data))
    with pytest.raises(AttributeError, match="immutable"):
        d.year = 2020
    with pytest.raises(ValueError, match="cannot run after"):
        d.normalise().impute()
    with pytest.raises(ValueError, match="denominate"):
        c.normalise()


def test_imputation_policies_are_reported(fw):
    miss = {("徐汇区", 2025, "days"), ("长宁区", 2025, "share"), ("静安区", 2025, "skewed")}
    r = build_composite(fw, values(miss), 2025)
    ch = r.changes[r.changes.step == "impute"].set_index(["unit", "node"])
    assert ch.loc[("徐汇区", "days"), "after"] == 30 + 3 * 1 + 0        # its 2024 value
    assert ch.loc[("徐汇区", "days"), "note"] == "previous year (2024)"
    others = [40 + 5 * k for k in range(8) if k != 2]
    assert ch.loc[("长宁区", "share"), "after"] == pytest.approx(np.mean(others))
    assert np.isnan(ch.loc[("静安区", "skewed"), "after"])              # policy none: left missing
    s = r.scores.set_index(["unit", "node"])
    assert np.isnan(s.loc[("静安区", "skewed"), "score"])
    # d2 for 静安区 = its share score alone (weights renormalised over the indicators present)
    assert s.loc[("静安区", "d2"), "score"] == pytest.approx(s.loc[("静安区", "share"), "score"])
    assert "previous year (2024): 1" in r.steps.changed.iloc[1]


def test_refuse_lists_the_missing_values(fw):
    with pytest.raises(InputError, match=r"missing indicator value\(s\) for 2025: 长宁区/rate"):
        build_composite(fw, values({("长宁区", 2025, "cases")}), 2025)
    # an explicit override fills it instead
    r = build_composite(fw, values({("长宁区", 2025, "cases")}), 2025, impute="mean")
    assert ("长宁区", "rate") in set(zip(r.changes.unit, r.changes.node))


def test_zero_denominator_is_recorded(fw):
    v = values()
    v.loc[(v.unit == "虹口区") & (v.indicator == "entities") & (v.year == 2025), "value"] = 0.0
    c = Composite(fw, v, 2025).denominate()
    ch = pd.DataFrame(list(c.changes))
    assert ch.iloc[0].unit == "虹口区" and "missing or 0" in ch.iloc[0].note
    assert "1 value(s) lost" in c.steps[0].changed


def test_treatment_off_and_method_overrides(fw):
    r = build_composite(fw, values(), 2025, treat="none", normalise="rank", aggregate="geometric")
    assert r.changes.empty                                    # nothing missing, lost or treated
    assert r.steps.set_index("step").loc["treat", "changed"] == ("no indicator exceeded both thresholds (or "
                                                                 "treatment is off)")
    s = r.scores.set_index(["unit", "node"]).score
    # scaled ranks by hand, 100 (rank - 1)/(8 - 1): share = 40 + 5k rises with k; days = 31 + 3k rises too but
    # lower is better; skewed (1, 2, 2, 3, 3, 4, 4, 400) has ties sharing their average rank, 400 untouched
    for k, u in enumerate(UNITS):
        assert s[(u, "share")] == pytest.approx(100 * k / 7, abs=1e-12)
        assert s[(u, "days")] == pytest.approx(100 * (7 - k) / 7, abs=1e-12)
        assert s[(u, "skewed")] == pytest.approx(100 * ([1, 2.5, 2.5, 4.5, 4.5, 6.5, 6.5, 8][k] - 1) / 7, abs=1e-12)
    assert r.choices["normalise"] == "rank" and r.choices["aggregate"] == "geometric"


def test_year_and_variable_errors(fw):
    with pytest.raises(InputError, match="no indicator values for 2030"):
        Composite(fw, values(), 2030)
    v = values()
    with pytest.raises(InputError, match="missing from the values file: entities"):
        Composite(fw, v[v.indicator != "entities"], 2025)


def test_values_file_errors(tmp_path):
    p = tmp_path / "v.csv"
    p.write_text("unit,year,indicator,value\n黄浦区,2025,x,1\n某某区,2025,x,2\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_indicator_values(p, units=DEMO_UNITS)
    assert (e.value.row, e.value.column) == (3, "unit")
    assert e.value.message == "unknown unit '某某区' (not one of the study's units)"
    p.write_text("unit,year,indicator,value\n黄浦区,2025,x,1\n徐汇区,2025,x,12件\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_indicator_values(p)
    assert (e.value.row, e.value.column) == (3, "value")
    assert e.value.message == "the value '12件' is not a number (leave the cell blank when missing)"
    p.write_text("unit,year,indicator,value\nhuangpu,2025,x,1\n黄浦区,2025,x,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="appears twice \\(rows 2 and 3\\)"):
        read_indicator_values(p, units=DEMO_UNITS)
    p.write_text("unit,year,indicator\n黄浦区,2025,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="no column 'value'"):
        read_indicator_values(p)
    p.write_text("unit,year,indicator,value\nPudong New Area,2025,x,\n全市,2025,x,3\n", encoding="utf-8")
    v = read_indicator_values(p, units=DEMO_UNITS)
    assert v.unit.tolist() == ["pudong", "all"] and np.isnan(v.value.iloc[0])


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_composite_contract_columns_and_known_answers(capsys, tmp_path):
    steps = tmp_path / "steps.csv"
    code, out, err = run(capsys, "composite", "--framework", P / "framework_small.yaml", "--indicators",
                         P / "values_small.csv", "--year", 2025, "--steps", steps)
    assert code == 0, err
    df = pd.read_csv(io.StringIO(out))
    assert list(df.columns) == ["unit", "node", "value", "score", "rank"]
    idx = df[df.node == "index"].set_index("unit")
    assert idx.loc["徐汇区", "score"] == pytest.approx(800 / 9) and idx.loc["徐汇区", "rank"] == 1
    assert set(df.node) == {"index", "a", "b", "x1", "x2", "y1"} and len(df) == 3 * 6
    assert pd.read_csv(steps).step.tolist()[-1] == "aggregate"
    assert "normalise: minmax" in err


def test_cli_outputs_named_xlsx_are_workbooks(capsys, tmp_path):
    """An output named .xlsx is a workbook (it was CSV text under an .xlsx name), with the same table as the CSV."""
    code, _, err = run(capsys, "composite", "--framework", P / "framework_small.yaml", "--indicators",
                       P / "values_small.csv", "--year", 2025, "--out", tmp_path / "s.xlsx", "--steps",
                       tmp_path / "steps.csv")
    assert code == 0, err
    book = pd.read_excel(tmp_path / "s.xlsx", sheet_name=None, engine="openpyxl")
    code, out, _ = run(capsys, "composite", "--framework", P / "framework_small.yaml", "--indicators",
                       P / "values_small.csv", "--year", 2025)
    csv = pd.read_csv(io.StringIO(out))
    pd.testing.assert_frame_equal(book["table"], csv, check_dtype=False)


def test_cli_composite_errors_are_one_line(capsys, tmp_path):
    bad = tmp_path / "v.csv"
    bad.write_text(textwrap.dedent("""\
        unit,year,indicator,value
        黄浦区,2025,x1,10
        徐汇区,2025,x1,abc
        """), encoding="utf-8")
    code, _, err = run(capsys, "composite", "--framework", P / "framework_small.yaml", "--indicators", bad,
                       "--year", 2025)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{bad}, row 3, column 'value'" in err
    code, _, err = run(capsys, "composite", "--framework", P / "framework_small.yaml", "--indicators",
                       P / "values_small.csv", "--year", 2031)
    assert code == 2 and "no indicator values for 2031" in err
