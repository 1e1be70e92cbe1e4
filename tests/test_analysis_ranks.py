"""Ranks with uncertainty: cases with a known answer, coverage of true ranks (toy and synthetic truth), speed."""

import time
import warnings

import numpy as np
import pandas as pd
import pytest

import surveykit as sk
from surveykit.analysis import format_rank, rank_from_estimates, rank_intervals
from surveykit.errors import InputError
from surveykit.synth import generate_year

from .conftest import FIXTURES
from .test_analysis_common import demo, demo_design, true_scores  # noqa: F401  (fixture)


def test_well_separated_units_have_degenerate_intervals():
    est = np.array([60.0, 90.0, 75.0, 82.0])
    got = rank_from_estimates(est, np.diag([0.2, 0.3, 0.25, 0.1]) ** 2)
    assert list(got["rank"]) == [4, 1, 3, 2]
    assert (got["rank_low"] == got["rank"]).all() and (got["rank_high"] == got["rank"]).all()
    assert list(got["p_top"]) == [0.0, 1.0, 1.0, 1.0]          # top 3 of 4
    sim = rank_from_estimates(est, np.diag([0.2, 0.3, 0.25, 0.1]) ** 2, interval="simultaneous")
    assert (sim["rank_low"] == sim["rank"]).all() and (sim["rank_high"] == sim["rank"]).all()


def test_exchangeable_units_have_wide_intervals_and_even_top3_chances():
    n = 12
    got = rank_from_estimates(np.full(n, 80.0), np.eye(n), draws=20000, seed=3)
    assert (got["rank_low"] <= 2).all() and (got["rank_high"] >= n - 1).all()
    np.testing.assert_allclose(got["p_top"], 3 / n, atol=0.015)
    np.testing.assert_allclose(got["rank_median"], (n + 1) / 2, atol=1.0)
    sim = rank_from_estimates(np.full(n, 80.0), np.eye(n), interval="simultaneous")
    assert (sim["rank_low"] == 1).all() and (sim["rank_high"] == n).all()


def test_two_units_by_hand():
    """Two independent units, difference 1 SE of the difference: P(A first) = Phi(1) = 0.841 < 0.95, so the 90%
    interval of both is 1-2; with a difference of 2 SEs P = 0.977 and the intervals are degenerate."""
    from scipy.stats import norm

    v = np.eye(2) * 0.5                                      # SE of the difference = 1
    got = rank_from_estimates(np.array([1.0, 0.0]), v, draws=200000, seed=1, top=1)
    assert got["p_top"].iloc[0] == pytest.approx(norm.cdf(1.0), abs=0.003)
    assert list(got["rank_low"]) == [1, 1] and list(got["rank_high"]) == [2, 2]
    got = rank_from_estimates(np.array([2.0, 0.0]), v, draws=200000, seed=1, top=1)
    assert got["p_top"].iloc[0] == pytest.approx(norm.cdf(2.0), abs=0.002)
    assert list(got["rank_low"]) == [1, 2] and list(got["rank_high"]) == [1, 2]


def test_correlated_estimates_are_ranked_with_their_covariance():
    """Two units 1 point apart with SE 1 each: independent they swap often; with correlation 0.98 the
    difference's SE is 0.2 and their order is settled."""
    est = np.array([81.0, 80.0])
    ind = rank_from_estimates(est, np.eye(2), top=1)
    cor = rank_from_estimates(est, np.array([[1.0, 0.98], [0.98, 1.0]]), top=1)
    assert ind["rank_high"].iloc[0] == 2 and cor["rank_high"].iloc[0] == 1
    assert cor["p_top"].iloc[0] > 0.99 > 0.8 > ind["p_top"].iloc[0]


def test_missing_estimates_are_not_ranked():
    got = rank_from_estimates(np.array([70.0, np.nan, 80.0]), np.eye(3))
    assert np.isnan(got.loc[1, "rank"]) and np.isnan(got.loc[1, "rank_low"])
    assert list(got.loc[[0, 2], "rank"]) == [2, 1] and (got["n_units"] == 2).all()
    assert format_rank(np.nan, 1, 2) == "—"


def test_toy_coverage_of_true_ranks():
    """10 independent units spread over 3 SEs, 300 samples: the percentile intervals cover the true rank 92% of the
    time on average (the extreme units less, ~85%); the simultaneous ones at least 90% for every unit."""
    rng = np.random.default_rng(0)
    mu = np.linspace(0, 3, 10)
    true = 10 - np.argsort(np.argsort(mu))
    cov_p, cov_s = [], []
    for rep in range(300):
        est = mu + rng.standard_normal(10)
        p = rank_from_estimates(est, np.eye(10), draws=1000, seed=rep)
        s = rank_from_estimates(est, np.eye(10), draws=1000, seed=rep, interval="simultaneous")
        cov_p.append((p["rank_low"] <= true) & (true <= p["rank_high"]))
        cov_s.append((s["rank_low"] <= true) & (true <= s["rank_high"]))
    cov_p, cov_s = np.array(cov_p).mean(axis=0), np.array(cov_s).mean(axis=0)
    assert cov_p.mean() >= 0.89 and cov_p.min() >= 0.80
    assert cov_s.min() >= 0.90


def test_synthetic_coverage_of_true_ranks():
    """Three synthetic populations with known truth (8,000 respondents each): index and first-level indicators,
    17 units. The percentile intervals cover about 90% of the true ranks, the simultaneous ones nearly all."""
    q = sk.load_questionnaire(FIXTURES.parents[1] / "questionnaires" / "ip_protection_satisfaction.yaml")
    nodes = ["index", *[n.id for n in q.indicators]]
    hits = {"simulation": [], "simultaneous": []}
    for seed in (1, 2, 3):
        s = generate_year(q, 2026, seed=seed, target_n=8000)
        d = demo_design(s.responses)
        truth = true_scores(q, s.truth_items, nodes)
        truth["true_rank"] = truth.groupby("node")["value"].rank(ascending=False)
        for method in hits:
            m = rank_intervals(q, d, "district", method=method, draws=2000).merge(truth, on=["district", "node"])
            assert len(m) == 17 * 6
            hits[method].extend((m["rank_low"] <= m["true_rank"]) & (m["true_rank"] <= m["rank_high"]))
    assert np.mean(hits["simulation"]) >= 0.85
    assert np.mean(hits["simultaneous"]) >= 0.95


def test_rank_intervals_on_the_demo(demo):
    """Estimates and SEs are those of sk.score; rank orders the estimates; all units and 6 scores in < 5 s (CPU time
    of this process; about 0.2 s here)."""
    q, _, d = demo
    t0 = time.process_time()
    got = rank_intervals(q, d, "district")
    elapsed = time.process_time() - t0
    assert elapsed < 5.0
    assert len(got) == 17 * 6
    assert list(got.columns) == ["district", "group", "node", "estimate", "se", "rank", "rank_median", "rank_low",
                                 "rank_high", "p_top", "n_units", "rank_label"]
    sc = sk.score(q, d, by="district").query("group == 'all'")
    m = got.merge(sc, on=["district", "group", "node"])
    np.testing.assert_allclose(m["estimate_x"], m["estimate_y"], rtol=1e-12)
    np.testing.assert_allclose(m["se_x"], m["se_y"], rtol=1e-9)
    for node, t in got.groupby("node"):
        assert list(t.sort_values("estimate", ascending=False)["rank"]) == list(range(1, 18))
        assert (t["rank_low"] <= t["rank"]).all() and (t["rank"] <= t["rank_high"]).all()
        assert t["p_top"].sum() == pytest.approx(3.0)
    again = rank_intervals(q, d, "district")
    pd.testing.assert_frame_equal(got, again)                 # seeded: reproducible
    assert got["rank_label"].str.contains("90%区间").all()


def test_replicate_ranks_reproduce_the_scores_and_warn_when_replicates_miss_variance(demo):
    q, _, d = demo
    reps = d.bootstrap(replicates=60, seed=2)
    with pytest.warns(UserWarning, match="replicate variances"):
        got = rank_intervals(q, d, "district", nodes=["index"], method="replicates", replicates=reps)
    sim = rank_intervals(q, d, "district", nodes=["index"])
    np.testing.assert_allclose(got["estimate"], sim["estimate"], rtol=1e-12)
    assert (got["rank"] == sim["rank"]).all()
    with pytest.raises(InputError, match="bootstrap"):
        rank_intervals(q, d, "district", nodes=["index"], method="replicates", replicates=d.jackknife())
    with pytest.raises(InputError, match="needs replicates"):
        rank_intervals(q, d, "district", method="replicates")


def test_replicate_ranks_agree_with_simulation_for_a_one_stage_design():
    """Score fixture (stratified one-stage cluster sample): the Rao-Wu replicates reproduce the linearised variance,
    so no warning; their SEs are close to the linearised ones."""
    q = sk.load_questionnaire(FIXTURES / "score" / "questionnaire.yaml")
    df = pd.read_csv(FIXTURES / "score" / "data.csv")
    d = sk.Design(df, weights="w", strata="stratum", psu="psu")
    reps = d.bootstrap(replicates=400, seed=9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = rank_intervals(q, d, "district", nodes=["index", "law"], method="replicates", replicates=reps)
    lin = rank_intervals(q, d, "district", nodes=["index", "law"])
    np.testing.assert_allclose(got["se"], lin["se"], rtol=0.2)


def test_format_rank():
    assert format_rank(3, 2, 6) == "第3名（90%区间：第2–6名）"
    assert format_rank(11, 9, 13, lang="en") == "11th (90% interval: 9th–13th)"
    assert format_rank(2, 1, 3, level=0.95, lang="en") == "2nd (95% interval: 1st–3rd)"
    assert format_rank(22, 21, 23, lang="en") == "22nd (90% interval: 21st–23rd)"
