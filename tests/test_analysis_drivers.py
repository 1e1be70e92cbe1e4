"""Drivers: respondent scores by hand, svyglm coefficients and SEs from R, LMG/Johnson from R and by hand, truth.

R fixture: tests/fixtures/analysis/make_analysis_fixtures.R (respondent scores and roll-up coefficients recomputed
there from the YAML; svyglm with the demo's two-stage design; LMG by averaging over orderings of lm() fits).
"""

import itertools
import math
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import surveykit as sk
from surveykit.analysis import (driver_regression, importance_performance, johnson_weights, quadrant_chart,
                                relative_importance, respondent_scores, shapley_r2)
from surveykit.errors import InputError

from .conftest import FIXTURES
from .test_analysis_common import Q_DEMO, demo, demo_design  # noqa: F401  (fixture)

matplotlib.use("Agg")
A = FIXTURES / "analysis"
MODELS = {"level1_all": dict(level=1), "level2_holder": dict(level=2, group="holder")}


@pytest.fixture(scope="module")
def fixture_design():
    q = sk.load_questionnaire(Q_DEMO)
    df = pd.read_csv(A / "drivers_data.csv")
    return q, demo_design(df)


# --- respondent-level scores ------------------------------------------------------------------------------------
def test_respondent_scores_by_hand():
    """Score fixture tree: law = 0.6 statutes (q01, q02 reversed, q03 weight 2) + 0.4 policy (q04, q05 holder-only);
    weights renormalised over the answered items; at least half of the applicable items answered."""
    q = sk.load_questionnaire(FIXTURES / "score" / "questionnaire.yaml")
    df = pd.DataFrame({"group": ["holder", "public", "public"],
                       "q01": [5, 1, 6], "q02": [2, 9, 6], "q03": [6, 6, 6], "q04": [3, 5, 4],
                       "q05": [4, None, None], "q06": [1, None, None], "q07": [2, None, None],
                       "q08": [4, 2, 3], "q09": [5, 6, 3]})
    got = respondent_scores(q, df, ["law", "law.statutes", "law.policy", "effect", "effect.overall"])
    # holder: coefficients q01 .15, q02 .15, q03 .3, q04 .2, q05 .2; q03 unanswered
    assert got.loc[0, "law"] == pytest.approx((0.15 * 100 + 0.15 * 75 + 0.2 * 50 + 0.2 * 75) / 0.7, abs=1e-12)
    assert got.loc[0, "law.statutes"] == pytest.approx((0.25 * 100 + 0.25 * 75) / 0.5, abs=1e-12)
    assert got.loc[0, "law.policy"] == pytest.approx(62.5, abs=1e-12)
    # holder effect: infringement (q06 0, q07 25) and overall (q08 75, q09 100), each half
    assert got.loc[0, "effect"] == pytest.approx(0.25 * (0 + 25 + 75 + 100), abs=1e-12)
    # public: q05 does not apply, policy = q04; 2 of the 4 applicable law items answered (q01, q04)
    assert got.loc[1, "law"] == pytest.approx((0.15 * 0 + 0.4 * 100) / 0.55, abs=1e-12)
    assert np.isnan(got.loc[1, "law.statutes"])          # 1 of 3 answered
    assert got.loc[1, "law.policy"] == 100
    assert got.loc[1, "effect"] == got.loc[1, "effect.overall"] == 25     # infringement does not apply
    # third respondent: only q04 among law items (1 of 4) -> missing; min_share=0.25 lets it through
    assert np.isnan(got.loc[2, "law"])
    assert respondent_scores(q, df, ["law"], min_share=0.25).loc[2, "law"] == 75
    assert np.isnan(respondent_scores(q, df, ["law.statutes"], min_share=1.0).loc[0, "law.statutes"])


# --- regression against svyglm ----------------------------------------------------------------------------------
@pytest.mark.parametrize("model", list(MODELS))
def test_driver_regression_matches_svyglm(fixture_design, model):
    q, d = fixture_design
    exp = pd.read_csv(A / "drivers_svyglm.csv")
    exp = exp[exp["model"] == model].reset_index(drop=True)
    exp["term"] = exp["term"].replace({"(Intercept)": "Intercept"})
    got = driver_regression(q, d, **MODELS[model])
    assert list(got.columns) == ["term", "estimate", "se", "t", "df", "p_value", "ci_low", "ci_high",
                                 "std_estimate", "n", "r2"]
    assert list(got["term"]) == list(exp["term"])
    np.testing.assert_allclose(got["estimate"], exp["estimate"], rtol=1e-9)
    np.testing.assert_allclose(got["se"], exp["se"], rtol=1e-9)
    np.testing.assert_allclose(got["t"], exp["t"], rtol=1e-9)
    np.testing.assert_allclose(got["p_value"], exp["p_value"], rtol=1e-8)
    assert (got["df"] == exp["df"]).all() and (got["n"] == exp["n"]).all()


def test_standardized_regression_reproduces_std_estimates(fixture_design):
    q, d = fixture_design
    raw = driver_regression(q, d)
    std = driver_regression(q, d, standardize=True)
    np.testing.assert_allclose(std["estimate"][1:], raw["std_estimate"][1:], rtol=1e-10)
    np.testing.assert_allclose(std["t"][1:], raw["t"][1:], rtol=1e-8)   # t is scale free
    assert std["estimate"][0] == pytest.approx(0.0, abs=1e-10)


# --- relative importance ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("method, column", [("shapley", "lmg"), ("johnson", "johnson")])
def test_relative_importance_matches_r(fixture_design, model, method, column):
    q, d = fixture_design
    exp = pd.read_csv(A / "drivers_importance.csv")
    exp = exp[exp["model"] == model].reset_index(drop=True)
    got = relative_importance(q, d, method=method, **MODELS[model])
    assert list(got["node"]) == list(exp["node"])
    np.testing.assert_allclose(got["importance"], exp[column], atol=1e-12)
    np.testing.assert_allclose(got["r2"], exp["r2"], atol=1e-12)
    assert (got["n"] == exp["n"]).all()
    assert got["importance"].sum() == pytest.approx(got["r2"].iloc[0], abs=1e-12)
    assert got["share"].sum() == pytest.approx(1.0, abs=1e-12)


def test_shapley_by_hand_over_orderings():
    """3 predictors: R^2 of every subset from statsmodels OLS, averaged over the 3! orderings by hand."""
    rng = np.random.default_rng(11)
    n = 500
    x = rng.standard_normal((n, 3)) @ np.array([[1, 0.5, 0.2], [0, 1, 0.4], [0, 0, 1]])
    y = x @ np.array([0.6, 0.3, -0.2]) + rng.standard_normal(n)
    names = [0, 1, 2]

    def r2(s):
        return 0.0 if not s else sm.OLS(y, sm.add_constant(x[:, list(s)])).fit().rsquared

    lmg = np.zeros(3)
    for order in itertools.permutations(names):
        for k, j in enumerate(order):
            lmg[j] += r2(order[:k + 1]) - r2(order[:k])
    lmg /= math.factorial(3)
    corr = np.corrcoef(np.column_stack([y, x]), rowvar=False)
    np.testing.assert_allclose(shapley_r2(corr), lmg, atol=1e-12)
    # two predictors have a closed form: LMG_1 = (r1^2 + R2 - r2^2) / 2
    c2 = corr[:3, :3]
    full = r2((0, 1))
    assert shapley_r2(c2)[0] == pytest.approx((c2[0, 1] ** 2 + full - c2[0, 2] ** 2) / 2, abs=1e-12)


def test_orthogonal_predictors_get_their_squared_correlations():
    """Uncorrelated predictors: R^2 splits exactly into r_j^2 under both methods."""
    r = np.array([0.5, 0.3, 0.1])
    corr = np.eye(4)
    corr[0, 1:] = corr[1:, 0] = r
    np.testing.assert_allclose(shapley_r2(corr), r ** 2, atol=1e-14)
    np.testing.assert_allclose(johnson_weights(corr), r ** 2, atol=1e-14)


def test_replicate_standard_errors_of_shares(fixture_design):
    """The replicate SE equals the spread of shares recomputed, replicate by replicate, on re-weighted designs."""
    q, d = fixture_design
    reps = d.bootstrap(replicates=20, seed=5)
    got = relative_importance(q, d, replicates=reps)
    shares = []
    for r in range(reps.replicates):
        dr = sk.Design(d.data.assign(w_rep=reps.replicate_weights(r)), weights="w_rep")
        shares.append(relative_importance(q, dr)["share"].to_numpy())
    shares = np.array(shares)
    se = np.sqrt(np.sum((shares - shares.mean(axis=0)) ** 2, axis=0) / (reps.replicates - 1))
    np.testing.assert_allclose(got["se"], se, rtol=1e-10)
    assert (got["se"] > 0).all()


def test_enforcement_drives_overall_satisfaction_in_the_demo(demo):
    """The synthetic outcome is driven by law .20, enforcement .40, mechanism .25, awareness .15 (synth.py):
    the decomposition finds enforcement first and awareness last."""
    q, _, d = demo
    got = relative_importance(q, d).set_index("node")
    assert got["share"].idxmax() == "enforcement" and got["share"].idxmin() == "awareness"
    reg = driver_regression(q, d).set_index("term")
    assert reg["estimate"].drop("Intercept").idxmax() == "enforcement"
    assert (reg["p_value"].drop("Intercept") < 1e-6).all()


def test_predictors_must_apply_to_every_group_analysed(fixture_design):
    q, d = fixture_design
    with pytest.warns(UserWarning, match="enforcement.judicial"):
        got = relative_importance(q, d, level=2)
    assert "enforcement.judicial" not in set(got["node"]) and len(got) == 8
    with pytest.raises(InputError, match="do not apply to every group"):
        relative_importance(q, d, predictors=["law", "enforcement.judicial"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(relative_importance(q, d, level=2, group="holder")) == 9
    with pytest.raises(InputError, match="cannot also be a predictor"):
        driver_regression(q, d, predictors=["law", "outcome.overall"])


# --- importance-performance -----------------------------------------------------------------------------------------
def test_importance_performance_table_and_quadrants(fixture_design):
    q, d = fixture_design
    ipa = importance_performance(q, d, level=2, group="holder", lang="en")
    imp = relative_importance(q, d, level=2, group="holder").set_index("node")
    sc = sk.score(q, d).query("group == 'holder'").set_index("node")
    assert list(ipa["node"]) == list(imp.index)
    np.testing.assert_allclose(ipa["importance"], imp["share"].to_numpy(), atol=1e-15)
    np.testing.assert_allclose(ipa["performance"], sc.loc[ipa["node"], "estimate"].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(ipa["performance_se"], sc.loc[ipa["node"], "se"].to_numpy(), atol=1e-12)
    assert ipa["importance_mean"].iloc[0] == pytest.approx(1 / 9)
    expected = {(True, False): "concentrate_here", (True, True): "keep_up", (False, False): "low_priority",
                (False, True): "possible_overkill"}
    for _, r in ipa.iterrows():
        key = (r["importance"] >= r["importance_mean"], r["performance"] >= r["performance_mean"])
        assert r["quadrant"] == expected[key]
    assert set(ipa["quadrant_label"]) <= {"Concentrate here", "Keep up the good work", "Low priority",
                                          "Possible overkill"}
    assert ipa.loc[ipa["node"] == "law.policy", "label"].iloc[0] == "Policies and measures"


def test_quadrant_chart_labels_every_point_without_overlap(fixture_design):
    import matplotlib.pyplot as plt

    q, d = fixture_design
    ipa = importance_performance(q, d, level=2, group="holder")
    fig = quadrant_chart(ipa, title="驱动因素")
    ax = fig.axes[0]
    texts = [t for t in ax.texts]
    labels = [t for t in texts if t.get_text() in set(ipa["label"])]
    assert len(labels) == 9
    corner = {t.get_text().strip() for t in texts} & {"重点改进", "继续保持", "次要改进", "可能投入过度"}
    assert len(corner) == 4
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in labels]
    assert not any(boxes[i].overlaps(boxes[j]) for i in range(9) for j in range(i))
    plt.close(fig)
