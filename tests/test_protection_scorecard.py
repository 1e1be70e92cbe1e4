"""The acceptance scorecard: pass / fail / not decisive (a CI straddling the threshold) / insufficient data."""

import textwrap

import numpy as np
import pandas as pd
import pytest

from surveykit.cli import main
from surveykit.errors import SpecError
from surveykit.protection.values import CITY
from surveykit.protection import evaluate_targets, load_targets, satisfaction_from_scores, scorecard_overall

from .conftest import FIXTURES

TARGETS = """\
id: t
version: "1"
targets:
  - {id: s80, label: {zh: 满意度≥80}, indicator: satisfaction_index, source: survey, op: ">=", threshold: 80}
  - {id: scity, label: {zh: 满意度≥全市}, indicator: satisfaction_index, source: survey, threshold: city_average}
  - {id: w, label: {zh: 撤回率≥全市}, indicator: withdrawal, threshold: city_average}
  - {id: c90, label: {zh: 结案率≥90}, indicator: closing, threshold: 90}
  - {id: rep, label: {zh: 重复侵权率≤全市}, indicator: repeat, op: "<=", threshold: city_average}
"""


@pytest.fixture
def targets(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text(TARGETS, encoding="utf-8")
    return load_targets(p)


def data():
    survey = pd.DataFrame({"unit": ["黄浦区", "徐汇区", "长宁区", "静安区"],
                           "estimate": [84.0, 79.0, 81.0, np.nan],
                           "ci_low": [82.0, 77.5, 79.2, np.nan], "ci_high": [86.0, 80.5, 82.8, np.nan]})
    rows = []
    for u, w, c, r in [("黄浦区", 90, 95, 5), ("徐汇区", 80, 89.9, 9), ("长宁区", 85, 90, 7), ("静安区", np.nan, 92, 6)]:
        rows += [dict(unit=u, year=2026, indicator="withdrawal", value=w),
                 dict(unit=u, year=2026, indicator="closing", value=c),
                 dict(unit=u, year=2026, indicator="repeat", value=r)]
    rows.append(dict(unit=CITY, year=2026, indicator="repeat", value=6.5))   # the region's own value
    return survey, pd.DataFrame(rows)


def test_statuses(targets):
    survey, values = data()
    card = evaluate_targets(targets, values, 2026, survey=survey, city={"satisfaction_index": 81.0})
    st = card.set_index(["unit", "target"]).status
    assert st["黄浦区", "s80"] == "pass"              # CI 82-86 entirely >= 80
    assert st["徐汇区", "s80"] == "not_decisive"      # CI 77.5-80.5 straddles 80: not a pass
    assert st["长宁区", "s80"] == "not_decisive"
    assert st["静安区", "s80"] == "insufficient_data"  # suppressed / missing estimate
    assert st["徐汇区", "scity"] == "fail"            # CI 77.5-80.5 entirely below the city's 81
    assert st["长宁区", "scity"] == "not_decisive"
    row = card.set_index(["unit", "target"]).loc[("黄浦区", "scity")]
    assert row.threshold == 81 and row.threshold_basis == "city_average (city estimate)"
    # indicators: city average = mean of the units with a value (90 + 80 + 85)/3 = 85
    w = card[card.target == "w"].set_index("unit")
    assert w.threshold.iloc[0] == pytest.approx(85) and w.threshold_basis.iloc[0] == "city_average (mean of 3 units)"
    assert w.status.tolist() == ["pass", "fail", "pass", "insufficient_data"]
    assert card[card.target == "c90"].status.tolist() == ["pass", "fail", "pass", "pass"]
    rep = card[card.target == "rep"]
    assert rep.threshold.iloc[0] == 6.5 and rep.threshold_basis.iloc[0] == "city_average (city value)"
    assert rep.status.tolist() == ["pass", "fail", "fail", "pass"]
    over = scorecard_overall(card).set_index("unit").overall
    assert over["徐汇区"] == "fail" and over["黄浦区"] == "pass"
    assert over["静安区"] == "insufficient_data"


def test_without_survey_is_insufficient(targets):
    _, values = data()
    card = evaluate_targets(targets, values, 2026)
    s = card[card.source == "survey"]
    assert len(s) == 2 * 4                                    # two survey targets x the four units with values
    assert (s.status == "insufficient_data").all() and (s.note == "no survey estimates were supplied").all()
    assert card[card.source == "indicators"].status.tolist() == ["pass", "fail", "pass", "insufficient_data",
                                                                 "pass", "fail", "pass", "pass",
                                                                 "pass", "fail", "fail", "pass"]


def test_satisfaction_from_results_store_table():
    scores = pd.DataFrame({"district": ["黄浦区", "黄浦区", "徐汇区"], "group": ["all", "all", "all"],
                           "node": ["index", "law", "index"], "estimate": [82.0, 80.0, 79.0],
                           "se": [1, 1, 1], "ci_low": [80.0, 78.0, 77.0], "ci_high": [84.0, 82.0, 81.0],
                           "n": [500, 500, 20], "suppressed": [False, False, True]})
    s = satisfaction_from_scores(scores)
    assert s.unit.tolist() == ["黄浦区", "徐汇区"] and s.estimate.iloc[0] == 82
    assert np.isnan(s.estimate.iloc[1])


def test_targets_errors(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text(TARGETS.replace("threshold: 90", "threshold: ninety"), encoding="utf-8")
    with pytest.raises(SpecError) as e:
        load_targets(p)
    assert e.value.key == "targets[c90].threshold" and "number or 'city_average'" in e.value.message
    p.write_text(TARGETS.replace('op: "<="', 'op: "=<"'), encoding="utf-8")
    with pytest.raises(SpecError, match="targets\\[rep\\].op"):
        load_targets(p)


def test_cli_scorecard(capsys, tmp_path, targets):
    survey, values = data()
    P = FIXTURES / "protection"
    sv = tmp_path / "survey.csv"
    pd.DataFrame({"unit": ["黄浦区", "徐汇区", "长宁区"], "estimate": [84, 79, 81], "ci_low": [82, 77, 79],
                  "ci_high": [86, 81, 83]}).to_csv(sv, index=False)
    t = tmp_path / "t.yaml"
    t.write_text(textwrap.dedent("""\
        id: t
        version: "1"
        targets:
          - {id: s80, label: {zh: 满意度≥80}, indicator: satisfaction_index, source: survey, threshold: 80}
          - {id: y1, label: {zh: y1≥60}, indicator: y1, threshold: 60}
        """), encoding="utf-8")
    card = tmp_path / "card.csv"
    code = main(["composite", "--framework", str(P / "framework_small.yaml"), "--indicators",
                 str(P / "values_small.csv"), "--year", "2025", "--out", str(tmp_path / "s.csv"),
                 "--targets", str(t), "--survey", str(sv), "--scorecard", str(card)])
    err = capsys.readouterr().err
    assert code == 0, err
    c = pd.read_csv(card).set_index(["unit", "target"]).status
    assert c["黄浦区", "s80"] == "pass" and c["徐汇区", "s80"] == "not_decisive"
    assert c["黄浦区", "y1"] == "fail" and c["徐汇区", "y1"] == "pass"
