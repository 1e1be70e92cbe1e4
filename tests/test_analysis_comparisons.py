"""Comparisons against R's survey (svyby totals with covmat + svycontrast of the nonlinear scores), and by hand.

R fixture: tests/fixtures/analysis/make_analysis_fixtures.R, section 4, on the scoring fixture (tests/fixtures/score).
"""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import surveykit as sk
from surveykit.analysis import (adjust_pvalues, compare_to_rest, domain_gap, group_gap, ownership_gap,
                                year_change)
from surveykit.errors import InputError

from .conftest import FIXTURES
from .test_analysis_common import demo  # noqa: F401  (fixture)

A = FIXTURES / "analysis"
NODES = ["index", "law", "effect"]
EXP = pd.read_csv(A / "comparisons_expected.csv", keep_default_na=False)


@pytest.fixture(scope="module")
def fx():
    q = sk.load_questionnaire(FIXTURES / "score" / "questionnaire.yaml")
    df = pd.read_csv(FIXTURES / "score" / "data.csv")
    # the R script's cross-cutting domain: holders split by id into foreign / private / state
    df["own"] = np.where(df["group"] == "holder", np.array(["foreign", "private", "state"])[df["id"] % 3], None)
    return q, sk.Design(df, weights="w", strata="stratum", psu="psu", fpc="fpc")


def _check(m, a, b, diff, se):
    assert len(m) > 0
    np.testing.assert_allclose(m[a], m["estimate_a"], rtol=1e-10)
    np.testing.assert_allclose(m[b], m["estimate_b"], rtol=1e-10)
    np.testing.assert_allclose(m[diff], m["diff"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m[se], m["se_r"], rtol=1e-9)


@pytest.mark.parametrize("group", ["all", "holder", "public"])
def test_district_vs_rest_of_city_matches_r(fx, group):
    q, d = fx
    got = compare_to_rest(q, d, "district", units=["A", "B"], nodes=NODES, group=group)
    assert list(got.columns) == ["district", "group", "node", "estimate", "estimate_rest", "difference", "se",
                                 "ci_low", "ci_high", "z", "p_value", "p_adj", "ci_low_adj", "ci_high_adj",
                                 "verdict", "verdict_text", "n", "n_rest"]
    exp = EXP[(EXP["comparison"] == "rest") & (EXP["group"] == group)].rename(columns={"se": "se_r"})
    m = exp.merge(got, on=["district", "group", "node"])
    assert len(m) == 6
    _check(m, "estimate", "estimate_rest", "difference", "se")
    # the test statistic and the interval follow from the difference and its SE
    np.testing.assert_allclose(m["p_value"], 2 * norm.sf(np.abs(m["diff"] / m["se_r"])), rtol=1e-8)
    np.testing.assert_allclose(m["ci_high"] - m["difference"], 1.959963984540054 * m["se_r"], rtol=1e-9)


def test_rest_of_city_is_the_pooled_other_units(fx):
    """estimate_rest = score of the subpopulation 'not this district' (same rules), n_rest its respondents."""
    q, d = fx
    got = compare_to_rest(q, d, "district", nodes=["index"]).set_index("district")
    for u in ["A", "B", "C"]:
        rest = sk.score(q, d.subset(d.data["district"] != u)).query("group == 'all' and node == 'index'").iloc[0]
        assert got.loc[u, "estimate_rest"] == pytest.approx(rest["estimate"], rel=1e-12)
        assert got.loc[u, "n_rest"] == rest["n"]
        own = sk.score(q, d, by="district").query("group == 'all' and node == 'index'").set_index("district")
        assert got.loc[u, "estimate"] == pytest.approx(own.loc[u, "estimate"], rel=1e-12)


def test_a_subset_design_is_respected(fx):
    """On d.subset(...) the unit scores and counts are those of sk.score on the same subset."""
    q, d = fx
    sub = d.subset(d.data["id"] % 2 == 0)
    got = compare_to_rest(q, sub, "district", nodes=["index", "law"]).set_index(["district", "node"])
    exp = sk.score(q, sub, by="district").query("group == 'all'").set_index(["district", "node"])
    for key in got.index:
        assert got.loc[key, "estimate"] == pytest.approx(exp.loc[key, "estimate"], rel=1e-12)
        assert got.loc[key, "n"] == exp.loc[key, "n"]
    assert got["n"].sum() < compare_to_rest(q, d, "district", nodes=["index", "law"])["n"].sum()


def test_units_as_strata_are_independent_but_not_after_raking(fx):
    """Districts are strata: the unit and the rest share no PSU, so var(d) = se_unit^2 + se_rest^2 exactly. After
    raking on group totals across districts they covary and the contrast differs from the naive sum."""
    q, d = fx
    got = compare_to_rest(q, d, "district", nodes=["index"]).set_index("district")
    for u in ["A", "B", "C"]:
        se_u = sk.score(q, d, by="district").query("group == 'all' and node == 'index'").set_index("district")
        se_r = sk.score(q, d.subset(d.data["district"] != u)).query("group == 'all' and node == 'index'")
        assert got.loc[u, "se"] == pytest.approx(np.hypot(se_u.loc[u, "se"], se_r["se"].iloc[0]), rel=1e-10)
    tot = d.data.groupby("group")["w"].sum() * 1.1
    dr = d.rake({"group": tot.to_dict()})
    raked = compare_to_rest(q, dr, "district", nodes=["index"]).set_index("district")
    se_u = sk.score(q, dr, by="district").query("group == 'all' and node == 'index'").set_index("district")
    se_r = sk.score(q, dr.subset(dr.data["district"] != "A")).query("group == 'all' and node == 'index'")
    assert abs(raked.loc["A", "se"] - np.hypot(se_u.loc["A", "se"], se_r["se"].iloc[0])) > 1e-6


@pytest.mark.parametrize("pair", [("holder", "public"), ("professional", "public")])
def test_group_gap_within_districts_matches_r(fx, pair):
    q, d = fx
    got = group_gap(q, d, by="district", pairs=[pair], nodes=NODES)
    exp = EXP[EXP["comparison"] == f"group:{pair[0]}-{pair[1]}"].rename(columns={"se": "se_r"})
    m = exp.merge(got, on=["district", "node"])
    assert len(m) == 9 and (m["group_a"] == pair[0]).all() and (m["group_b"] == pair[1]).all()
    np.testing.assert_allclose(m["estimate_a_y"], m["estimate_a_x"], rtol=1e-10)
    np.testing.assert_allclose(m["estimate_b_y"], m["estimate_b_x"], rtol=1e-10)
    np.testing.assert_allclose(m["gap"], m["diff"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m["se"], m["se_r"], rtol=1e-9)


@pytest.mark.parametrize("by", ["district", None])
def test_ownership_gap_matches_r(fx, by):
    q, d = fx
    got = ownership_gap(q, d, by=by, column="own", foreign=["foreign"], domestic=["private", "state"], nodes=NODES)
    exp = EXP[(EXP["comparison"] == "ownership") & ((EXP["district"] == "ALL") == (by is None))]
    exp = exp.rename(columns={"se": "se_r"})
    m = exp.merge(got, on=["district", "node"]) if by else exp.merge(got, on="node")
    assert len(m) == (9 if by else 3)
    assert (m["level_a"] == "foreign").all() and (m["level_b"] == "private+state").all()
    np.testing.assert_allclose(m["estimate_a_y"], m["estimate_a_x"], rtol=1e-10)
    np.testing.assert_allclose(m["estimate_b_y"], m["estimate_b_x"], rtol=1e-10)
    np.testing.assert_allclose(m["gap"], m["diff"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m["se"], m["se_r"], rtol=1e-9)


def test_domain_gap_refuses_what_it_cannot_compare(fx):
    q, d = fx
    with pytest.raises(InputError, match="both sides"):
        domain_gap(q, d, "own", ["foreign", "state"], ["state"])
    with pytest.raises(InputError, match="no respondent with own = 'jv'"):
        domain_gap(q, d, "own", "jv", "state")


def test_empty_cell_gives_no_data_not_a_number(fx):
    """A district without public respondents: its 'all' score is missing (contract 2), so no verdict is given."""
    q, d = fx
    df = d.data[~((d.data["district"] == "A") & (d.data["group"] == "public"))]
    d2 = sk.Design(df, weights="w", strata="stratum", psu="psu", fpc="fpc")
    got = compare_to_rest(q, d2, "district", nodes=["index"]).set_index("district")
    assert np.isnan(got.loc["A", "estimate"]) and got.loc["A", "verdict"] == "no_data"
    assert got.loc["A", "verdict_text"] == "数据不足"
    assert np.isfinite(got.loc["B", "difference"])
    # and the holders' comparison of that district is unaffected
    assert np.isfinite(compare_to_rest(q, d2, "district", units=["A"], group="holder")["difference"]).all()


# --- year on year ---------------------------------------------------------------------------------------------------
def test_year_change_by_hand():
    prev = pd.DataFrame({"district": ["A", "B", "C", "D"], "node": "index", "estimate": [80.0, 75.0, 70.0, 60.0],
                         "se": [0.6, 0.8, 1.0, 1.0], "n": 500})
    cur = pd.DataFrame({"district": ["A", "B", "C", "E"], "node": "index", "estimate": [82.0, 74.0, 70.5, 65.0],
                        "se": [0.8, 0.6, 1.0, 1.0], "n": 500})
    got = year_change(cur, prev, lang="en").set_index("district")
    assert got.loc["A", "change"] == 2.0 and got.loc["A", "se"] == pytest.approx(1.0)
    assert got.loc["A", "z"] == pytest.approx(2.0) and got.loc["B", "z"] == pytest.approx(-1.0)
    assert got.loc["C", "se"] == pytest.approx(np.sqrt(2.0))
    p = 2 * norm.sf([2.0, 1.0, 0.5 / np.sqrt(2.0)])
    assert got.loc[["A", "B", "C"], "p_value"].to_numpy() == pytest.approx(p, rel=1e-12)
    # Holm by hand: sorted p_(1) < p_(2) < p_(3) multiplied by 3, 2, 1, made monotone
    holm = np.maximum.accumulate(np.sort(p) * np.array([3, 2, 1]))
    assert got.loc[["A", "B", "C"], "p_adj"].to_numpy() == pytest.approx(holm[np.argsort(np.argsort(p))], rel=1e-12)
    # A: p = 0.0455, Holm 0.137: no clear change although the unadjusted test is significant
    assert got.loc["A", "verdict"] == "no_clear_change" and got.loc["A", "p_value"] < 0.05
    assert got.loc["D", "verdict"] == got.loc["E", "verdict"] == "no_data"
    assert got.loc["D", "verdict_text"] == "insufficient data"
    unadjusted = year_change(cur, prev, adjust="none").set_index("district")
    assert unadjusted.loc["A", "verdict"] == "up" and unadjusted.loc["A", "verdict_text"] == "上升"


def test_benjamini_hochberg_by_hand_and_families():
    t = pd.DataFrame({"district": list("ABCD"), "node": ["index", "index", "law", "law"],
                      "estimate": [81.0, 78.0, 84.0, 70.0], "se": 1.0, "n": 300})
    zero = t.assign(estimate=[79.0, 80.0, 80.0, 72.5])
    got = year_change(t, zero, adjust="bh")
    p = got["p_value"].to_numpy()
    order = np.argsort(p)
    bh = np.minimum.accumulate((p[order] * 4 / np.arange(1, 5))[::-1])[::-1]
    exp = np.empty(4)
    exp[order] = np.minimum(bh, 1)
    np.testing.assert_allclose(got["p_adj"], exp, rtol=1e-12)
    fam = adjust_pvalues(got, method="holm", family="node")
    for node, rows in fam.groupby("node"):
        pp = rows["p_value"].to_numpy()
        holm = np.minimum(np.maximum.accumulate(np.sort(pp) * np.array([2, 1])), 1)
        np.testing.assert_allclose(np.sort(rows["p_adj"].to_numpy()), holm, rtol=1e-12)


def test_year_change_on_demo_years_recovers_the_generated_changes(demo):
    """The synthetic units change by about +1.2..+3.2 or -0.8..-2.4 points a year (synth.py); the finite-population
    truth of both years is known. With ~1,000 respondents per unit and year (SE of a change 0.5-0.9), the
    Holm-adjusted verdicts flag the largest changes, never with the wrong sign, and the 95% intervals cover the true
    changes (15 of 17 with this seed; 13 is the 5% binomial lower bound)."""
    from .test_analysis_common import demo_design, demo_year, true_scores

    q, s25 = demo_year(2025)
    _, s26 = demo_year(2026)
    _, _, d26 = demo
    cur = sk.score(q, d26, by="district").query("node == 'index' and group == 'all'")
    prev = sk.score(q, demo_design(s25.responses), by="district").query("node == 'index' and group == 'all'")
    got = year_change(cur, prev).set_index("district")
    truth = (true_scores(q, s26.truth_items).set_index("district")["value"]
             - true_scores(q, s25.truth_items).set_index("district")["value"])
    detected = got[got["verdict"] != "no_clear_change"]
    assert len(detected) >= 5
    assert (np.sign(detected["change"]) == np.sign(truth.loc[detected.index])).all()
    assert set(detected["verdict"]) <= {"up", "down"}
    covered = (got["ci_low"] <= truth) & (truth <= got["ci_high"])
    assert covered.sum() >= 13


def test_foreign_funded_firms_are_less_satisfied_in_the_demo(demo):
    """The generator gives foreign firms -1.5 points everywhere and -5 more in 7 units: city-wide the gap is clearly
    negative; joint ventures (-0.5) dilute it."""
    q, _, d = demo
    strict = ownership_gap(q, d, foreign=["foreign"], nodes=["index"]).iloc[0]
    fie = ownership_gap(q, d, nodes=["index"]).iloc[0]
    assert strict["verdict"] == "lower" and -6 < strict["gap"] < -1.5
    assert fie["level_a"] == "foreign+jv" and fie["level_b"] == "state+private"
    assert strict["gap"] < fie["gap"] < 0
    by = ownership_gap(q, d, by="district", foreign=["foreign"], nodes=["index"])
    assert len(by) == 17 and (by["verdict"] == "lower").sum() >= 3 and (by["verdict"] == "higher").sum() == 0


def test_comparisons_are_fast_on_the_demo(demo):
    """20,000 respondents, 17 units: each comparison well under a few seconds (CPU time of this process, so that
    other processes on a loaded machine do not count; about 1.5 s each here)."""
    import time

    q, _, d = demo
    t0 = time.process_time()
    c = compare_to_rest(q, d, "district")
    t1 = time.process_time()
    g = group_gap(q, d, by="district")
    t2 = time.process_time()
    assert len(c) == 17 * 6 and len(g) == 17 * 3 * 6
    assert t1 - t0 < 5.0 and t2 - t1 < 5.0


def test_adjusted_interval_agrees_with_the_adjusted_verdict():
    """The interval shown beside an adjusted verdict excludes 0 exactly when the verdict is significant; for
    Bonferroni it is the textbook interval at level 1 - alpha/m (hand value: z_{1-0.05/(2*4)} = 2.4977)."""
    from scipy.stats import norm
    from surveykit.analysis._util import add_verdicts
    rng = np.random.default_rng(3)
    for method in ("holm", "bh", "bonferroni", "none"):
        t = pd.DataFrame({"difference": rng.normal(0, 2, 40), "se": rng.uniform(0.5, 1.5, 40),
                          "fam": np.repeat(["a", "b", "c", "d"], 10)})
        p = 2 * norm.sf(np.abs(t.difference / t.se))
        out = add_verdicts(t, "difference", np.asarray(p), adjust_method=method, alpha=0.05, family="fam", lang="en")
        excludes_zero = (out.ci_low_adj > 0) | (out.ci_high_adj < 0)
        assert (excludes_zero == (out.p_adj < 0.05)).all(), method
        assert ((out.verdict != "no_clear_difference") == excludes_zero).all(), method
    t = pd.DataFrame({"difference": [3.0, 1.0, -0.5, 2.6], "se": [1.0, 1.0, 1.0, 1.0]})
    p = 2 * norm.sf(np.abs(t.difference))
    out = add_verdicts(t, "difference", np.asarray(p), adjust_method="bonferroni", alpha=0.05, family=None, lang="en")
    np.testing.assert_allclose(out.ci_high_adj - t.difference, 2.497705, atol=1e-5)   # z_{1-0.00625}


def test_holm_equals_statsmodels_multipletests():
    """surveykit computes Holm's adjustment itself (statsmodels' calls gc.collect() each time): the same values as
    statsmodels' multipletests on random p-values, ties, ones and a single test; NaN stays NaN through adjust."""
    from statsmodels.stats.multitest import multipletests

    from surveykit.analysis._util import adjust, holm

    rng = np.random.default_rng(5)
    cases = [rng.uniform(0, 1, 40), rng.uniform(0, 0.02, 25), np.array([0.01, 0.01, 0.04, 0.04, 0.5]),
             np.array([0.3]), np.array([0.9, 0.8, 1.0]), rng.choice([0.001, 0.02, 0.2], 30)]
    for p in cases:
        np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=0, atol=1e-15)
    p = np.array([0.01, np.nan, 0.03, 0.2])
    got = adjust(p, "holm")
    assert np.isnan(got[1]) and np.allclose(got[[0, 2, 3]], multipletests(p[[0, 2, 3]], method="holm")[1])
