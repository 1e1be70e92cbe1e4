"""Strengths, weaknesses and recommendations (surveykit.report.findings): each rule fires exactly when it should,
ties keep the table's order, suppressed cells never become findings, recommendations follow the documented order
and fallbacks. Expected rows are written by hand from the rules in the module docstring."""

from __future__ import annotations

import pandas as pd
import pytest

import surveykit as sk
from surveykit.report.findings import find, recommend

from .conftest import FIXTURES

Q = sk.load_questionnaire(FIXTURES / "score" / "questionnaire.yaml")
ITEMS = ["q01", "q02", "q03", "q04", "q05", "q06", "q07", "q08", "q09"]


def scores(values: dict[str, float], suppressed=(), group="all") -> pd.DataFrame:
    return pd.DataFrame({"group": group, "node": list(values), "estimate": list(values.values()),
                         "suppressed": [k in suppressed for k in values]})


def changes(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["group", "node", "change", "estimate_previous", "verdict"])


def rest(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["group", "node", "difference", "estimate_rest", "verdict"])


def rows(table: pd.DataFrame) -> list[tuple]:
    return [(r.kind, r.rule, r.node) for r in table.itertuples()]


ITEM_SCORES = dict(zip(ITEMS, [70, 60, 80, 65, 90, 55, 85, 75, 95]))


def test_lowest_and_highest_items():
    f = find(Q, scores({"index": 75, **ITEM_SCORES}))
    assert rows(f) == [("weakness", "W1", "q06"), ("weakness", "W1", "q02"), ("weakness", "W1", "q04"),
                       ("strength", "S1", "q09"), ("strength", "S1", "q05"), ("strength", "S1", "q07")]
    assert f.value.tolist() == [55, 60, 65, 95, 90, 85]


def test_suppressed_cells_never_become_findings():
    f = find(Q, scores(ITEM_SCORES, suppressed={"q06", "q09"}),
             changes=changes([("all", "law", -3.0, 80, "down")]),
             versus_rest=rest([("all", "effect", -2.0, 81, "lower")]))
    assert "q06" not in set(f.node) and "q09" not in set(f.node)
    assert rows(f)[:3] == [("weakness", "W1", "q02"), ("weakness", "W1", "q04"), ("weakness", "W1", "q01")]


def test_ties_keep_the_order_of_the_table():
    f = find(Q, scores(dict.fromkeys(ITEMS, 80.0)))
    assert [r.node for r in f.itertuples() if r.rule == "W1"] == ["q01", "q02", "q03"]
    assert [r.node for r in f.itertuples() if r.rule == "S1"] == ["q09", "q08", "q07"]


@pytest.mark.parametrize("verdict, expected", [
    ("down", [("weakness", "W2", "law")]), ("up", [("strength", "S2", "law")]),
    ("no_clear_change", []), ("no_data", [])])
def test_changes_fire_only_on_a_significant_verdict(verdict, expected):
    f = find(Q, scores({}), changes=changes([("all", "law", -3.0 if verdict == "down" else 3.0, 80, verdict)]))
    assert rows(f) == expected


@pytest.mark.parametrize("verdict, expected", [
    ("lower", [("weakness", "W3", "effect")]), ("higher", [("strength", "S3", "effect")]),
    ("no_clear_difference", [])])
def test_versus_rest_fires_only_on_a_significant_verdict(verdict, expected):
    f = find(Q, scores({}), versus_rest=rest([("all", "effect", -2.0 if verdict == "lower" else 2.0, 81, verdict)]))
    assert rows(f) == expected


def test_only_indicators_of_level_one_and_two_and_only_all_groups():
    ch = changes([("all", "index", -3, 80, "down"), ("all", "q01", -9, 80, "down"),
                  ("holder", "law", -3, 80, "down"), ("all", "law.policy", -4, 80, "down"),
                  ("all", "effect", -5, 80, "down"), ("all", "law", -1, 80, "down"),
                  ("all", "effect.overall", -2, 80, "down")])
    f = find(Q, scores({}), changes=ch, n_nodes=3)
    # largest drops first, at most n_nodes; the index, items and other groups are never findings
    assert rows(f) == [("weakness", "W2", "effect"), ("weakness", "W2", "law.policy"),
                       ("weakness", "W2", "effect.overall")]


def test_recommendations_order_fallback_and_duplicates():
    texts = {"law": {"zh": "法律建议"}, "law.policy": {"zh": "政策建议", "en": "Policy advice"},
             "effect": {"zh": "效果建议"}}
    f = find(Q, scores({"q01": 50, "q04": 55, "q08": 60, "q02": 90, "q03": 91, "q05": 92}),
             changes=changes([("all", "law.policy", -3, 80, "down")]),
             versus_rest=rest([("all", "effect", -2, 81, "lower")]))
    rec = recommend(Q, f, texts, "en")
    # W3 (effect) first, then W2 (law.policy), then W1 items: q01 -> law.statutes (no text) -> law; q04 ->
    # law.policy (already recommended: dropped); q08 -> effect.overall (no text) -> effect (already: dropped)
    assert rec[["priority", "node", "rule", "because"]].values.tolist() == [
        [1, "effect", "W3", "effect"], [2, "law.policy", "W2", "law.policy"], [3, "law", "W1", "q01"]]
    assert rec.text.tolist() == ["效果建议", "Policy advice", "法律建议"]   # zh when the text has no en
    assert len(recommend(Q, f, texts, "zh", max_recommendations=2)) == 2
    assert recommend(Q, find(Q, scores({})), texts).empty
