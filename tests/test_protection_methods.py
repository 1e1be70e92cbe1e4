"""Known answers for the composite's formulas: hand calculations, Saaty's published AHP example, and
independent implementations (scipy's bias-corrected moments = Excel SKEW/KURT = e1071 type 2 = COINr)."""

import math

import numpy as np
import pytest
import scipy.stats as st

from surveykit.errors import InputError
from surveykit.protection import build_composite, entropy_weights, load_framework, read_indicator_values
from surveykit.protection import methods as M
from surveykit.protection.framework import ahp_weights

from .conftest import FIXTURES

P = FIXTURES / "protection"


@pytest.fixture(scope="module")
def small():
    return load_framework(P / "framework_small.yaml"), read_indicator_values(P / "values_small.csv")


def _scores(result):
    return result.scores.set_index(["unit", "node"])


# --- normalisation ------------------------------------------------------------------------------------------

def test_minmax_direction_and_goalposts_by_hand():
    np.testing.assert_allclose(M.minmax([10, 20, 40]), [0, 100 / 3, 100])
    np.testing.assert_allclose(M.minmax([5, 1, 3], direction=-1), [0, 100, 50])
    np.testing.assert_allclose(M.minmax([50, 120, 80, -5], goalposts=(0, 100)), [50, 100, 80, 0])
    np.testing.assert_allclose(M.minmax([50, 120, 80], direction=-1, goalposts=(0, 100)), [50, 0, 20])
    np.testing.assert_allclose(M.minmax([7, 7, 7]), [50, 50, 50])          # constant: neutral
    out = M.minmax([1, np.nan, 3])
    assert np.isnan(out[1]) and out[0] == 0 and out[2] == 100


def test_zscore_rank_distance_by_hand():
    # mean 20, sd 10 -> z = -1, 0, 1
    np.testing.assert_allclose(M.zscore([10, 20, 30]), [40, 50, 60])
    np.testing.assert_allclose(M.zscore([10, 20, 30], direction=-1), [60, 50, 40])
    np.testing.assert_allclose(M.rank_scores([3, 1, 2, 2]), [100, 0, 50, 50])  # ranks 4, 1, 2.5, 2.5
    # distance to target 90 from min 50: 100 (x - 50)/40, capped at 100
    np.testing.assert_allclose(M.distance_to_target([50, 70, 95], 1, 90), [0, 50, 100])
    # lower is better, target 2, max 10: 100 (10 - x)/8
    np.testing.assert_allclose(M.distance_to_target([10, 6, 1], -1, 2), [0, 50, 100])
    np.testing.assert_allclose(M.distance_to_target([50, 70, 90], 1), [0, 50, 100])  # frontier = best unit


# --- the pipeline on the hand table ------------------------------------------------------------------------

def test_composite_known_answers(small):
    fw, values = small
    s = _scores(build_composite(fw, values, 2025))
    exp = {("黄浦区", "x1"): 0, ("徐汇区", "x1"): 100 / 3, ("长宁区", "x1"): 100,
           ("黄浦区", "x2"): 0, ("徐汇区", "x2"): 100, ("长宁区", "x2"): 50,
           ("黄浦区", "y1"): 50, ("徐汇区", "y1"): 100, ("长宁区", "y1"): 80,
           ("黄浦区", "a"): 0, ("徐汇区", "a"): 250 / 3, ("长宁区", "a"): 62.5,
           ("黄浦区", "b"): 50, ("徐汇区", "b"): 100, ("长宁区", "b"): 80,
           ("黄浦区", "index"): 50 / 3, ("徐汇区", "index"): 800 / 9, ("长宁区", "index"): 205 / 3}
    for k, v in exp.items():
        assert s.loc[k, "score"] == pytest.approx(v, abs=1e-10), k
    assert [s.loc[(u, "index"), "rank"] for u in ("黄浦区", "徐汇区", "长宁区")] == [3, 1, 2]
    assert s.loc[("徐汇区", "y1"), "value"] == 120          # the raw value, before clipping
    assert np.isnan(s.loc[("徐汇区", "a"), "value"])         # nodes have no value
    assert s.loc[("黄浦区", "x2"), "rank"] == 3 and s.loc[("徐汇区", "x2"), "rank"] == 1


def test_weights_override_equal_by_hand(small):
    fw, values = small
    s = _scores(build_composite(fw, values, 2025, weights="equal"))
    # a = (x1 + x2)/2 = 0, 66.667, 75; index = (a + b)/2
    assert s.loc[("徐汇区", "a"), "score"] == pytest.approx((100 / 3 + 100) / 2)
    assert s.loc[("长宁区", "index"), "score"] == pytest.approx((75 + 80) / 2)


def test_geometric_with_zeros_offset_rule_by_hand(small):
    fw, values = small
    s = _scores(build_composite(fw, values, 2025, aggregate="geometric"))
    a_xh = math.pow(100 / 3 + 1, 0.25) * math.pow(101, 0.75) - 1
    a_cn = math.pow(101, 0.25) * math.pow(51, 0.75) - 1
    assert s.loc[("黄浦区", "a"), "score"] == pytest.approx(0.0, abs=1e-12)
    assert s.loc[("徐汇区", "a"), "score"] == pytest.approx(a_xh, rel=1e-12)
    assert s.loc[("长宁区", "a"), "score"] == pytest.approx(a_cn, rel=1e-12)
    # index: weights 2/3 and 1/3 on (a + 1) and (b + 1)
    idx = math.pow(0 + 1, 2 / 3) * math.pow(51, 1 / 3) - 1
    assert s.loc[("黄浦区", "index"), "score"] == pytest.approx(idx, rel=1e-12)


def test_geometric_rules():
    w = np.array([1.0, 1.0])
    # all zero -> 0; all 100 -> 100; plain geometric mean on the shifted scale
    np.testing.assert_allclose(M.geometric([[0, 0], [100, 100], [3, 15]], w), [0, 100, math.sqrt(4 * 16) - 1])
    with pytest.raises(ValueError, match="cannot enter a geometric mean"):
        M.geometric([[0, 50]], w, zeros="refuse")
    np.testing.assert_allclose(M.geometric([[25, 100]], w, zeros="refuse"), [50.0])
    # a missing child is skipped, the weights renormalised
    np.testing.assert_allclose(M.arithmetic([[10, np.nan, 30]], [1, 5, 3]), [(10 + 90) / 4])


def test_geometric_refuse_names_the_node(small, tmp_path):
    fw, values = small
    fw2 = fw.model_copy(update={"aggregate": fw.aggregate.model_copy(update={"zeros": "refuse"})})
    with pytest.raises(InputError, match="cannot aggregate 'a'"):
        build_composite(fw2, values, 2025, aggregate="geometric")


# --- weights --------------------------------------------------------------------------------------------------

DRINKS = ["coffee", "wine", "tea", "beer", "sodas", "milk", "water"]
# Saaty (2008), Int. J. Services Sciences 1(1), table "Which drink is consumed more in the U.S.?"
DRINKS_MATRIX = [[1, 9, 5, 2, 1, 1, 1 / 2],
                 [1 / 9, 1, 1 / 3, 1 / 9, 1 / 9, 1 / 9, 1 / 9],
                 [1 / 5, 3, 1, 1 / 3, 1 / 4, 1 / 3, 1 / 9],
                 [1 / 2, 9, 3, 1, 1 / 2, 1, 1 / 3],
                 [1, 9, 4, 2, 1, 2, 1 / 2],
                 [1, 9, 3, 1, 1 / 2, 1, 1 / 3],
                 [2, 9, 9, 3, 2, 3, 1]]
DRINKS_PUBLISHED = [0.177, 0.019, 0.042, 0.116, 0.190, 0.129, 0.327]


def test_ahp_saaty_published_drinks_example():
    w, lam, ci, cr = ahp_weights(DRINKS_MATRIX)
    assert np.round(w, 3).tolist() == DRINKS_PUBLISHED
    assert round(cr, 3) == 0.022                     # published CR
    assert ci == pytest.approx((lam - 7) / 6) and cr == pytest.approx(ci / 1.32)


def test_ahp_consistent_matrix_and_two_elements():
    # a consistent matrix built from weights (4, 2, 1): eigenvector = the weights, lambda = n, CR = 0
    v = np.array([4, 2, 1.0])
    w, lam, ci, cr = ahp_weights(v[:, None] / v[None, :])
    np.testing.assert_allclose(w, v / v.sum())
    assert lam == pytest.approx(3) and cr == pytest.approx(0, abs=1e-12)
    w, lam, ci, cr = ahp_weights([[1, 3], [1 / 3, 1]])
    np.testing.assert_allclose(w, [0.75, 0.25])
    # by hand: a 2x2 reciprocal matrix has trace 2 and determinant 1 - 3 * (1/3) = 0, so its eigenvalues are 2 and
    # 0: lambda_max = 2, CI = (2 - 2)/1 = 0; Saaty's RI(2) = 0, and CR is 0 by definition
    assert lam == pytest.approx(2, abs=1e-12) and ci == pytest.approx(0, abs=1e-12)
    assert cr == 0


@pytest.mark.parametrize("a, b, c, cr_hand", [(3, 5, 2, 0.0031850), (2, 4, 3, 0.0157713), (9, 1 / 9, 9, 6.1302682)])
def test_ahp_consistency_ratio_of_3x3_by_hand(a, b, c, cr_hand):
    """A hand derivation, independent of numpy's eigen-solver. For A = [[1, a, b], [1/a, 1, c], [1/b, 1/c, 1]],
    det(A - lambda I) = mu^3 - 3 mu + ac/b + b/(ac) with mu = 1 - lambda; with t = (ac/b)^(1/3), mu = -(t + 1/t)
    is a root (mu^3 - 3 mu = -(t^3 + 1/t^3)), the one giving the largest lambda: lambda_max = 1 + t + 1/t, and
    CR = (lambda_max - 3)/2 / RI(3) with Saaty's RI(3) = 0.58. For n = 3 the principal eigenvector is the
    normalised vector of row geometric means (Crawford & Williams 1985)."""
    t = (a * c / b) ** (1 / 3)
    lam_hand = 1 + t + 1 / t
    w, lam, ci, cr = ahp_weights([[1, a, b], [1 / a, 1, c], [1 / b, 1 / c, 1]])
    assert lam == pytest.approx(lam_hand, rel=1e-12)
    assert ci == pytest.approx((lam_hand - 3) / 2, rel=1e-9)
    assert cr == pytest.approx((lam_hand - 3) / 2 / 0.58, rel=1e-9) and cr == pytest.approx(cr_hand, abs=1e-7)
    g = np.array([(a * b) ** (1 / 3), (c / a) ** (1 / 3), (1 / (b * c)) ** (1 / 3)])
    np.testing.assert_allclose(w, g / g.sum(), rtol=1e-12)


def test_entropy_weights_hand_example():
    # two indicators over three units; p = s / column sum
    # column 1: (0, 50, 100) -> p = (0, 1/3, 2/3); e1 = -(1/ln 3)(1/3 ln 1/3 + 2/3 ln 2/3) = 0.57938...
    # column 2: (40, 50, 60) -> p = (4, 5, 6)/15;  e2 = -(1/ln 3) sum p ln p = 0.98778...
    e1 = -(1 / math.log(3)) * (1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3))
    e2 = -(1 / math.log(3)) * sum(p * math.log(p) for p in (4 / 15, 5 / 15, 6 / 15))
    assert e1 == pytest.approx(0.57938, abs=1e-5) and e2 == pytest.approx(0.98778, abs=1e-5)
    d1, d2 = 1 - e1, 1 - e2
    w = entropy_weights([[0, 40], [50, 50], [100, 60]])
    np.testing.assert_allclose(w, [d1 / (d1 + d2), d2 / (d1 + d2)])
    assert w[0] == pytest.approx(0.97177, abs=1e-5)
    # a column with no spread carries no information; all-constant -> equal weights
    np.testing.assert_allclose(entropy_weights([[10, 5], [10, 9], [10, 1]]), [0, 1], atol=1e-12)
    np.testing.assert_allclose(entropy_weights([[10, 5], [10, 5]]), [0.5, 0.5])


def test_pipeline_entropy_and_ahp_weights(small, tmp_path):
    fw, values = small
    r = build_composite(fw, values, 2025, weights="entropy")
    w = r.weights.set_index("node")
    assert w.loc[["x1", "x2"], "weight"].sum() == pytest.approx(1)
    assert w.loc[["a", "b"], "weight"].sum() == pytest.approx(1)
    # x1 (0, 33.3, 100) and x2 (0, 100, 50): their entropy weights, by the formula
    s1, s2 = np.array([0, 100 / 3, 100]), np.array([0, 100, 50])
    ent = lambda s: 1 + sum(p * math.log(p) for p in s / s.sum() if p > 0) / math.log(3)  # noqa: E731
    assert w.loc["x1", "weight"] == pytest.approx(ent(s1) / (ent(s1) + ent(s2)))


# --- outliers (COINr's rule) ------------------------------------------------------------------------------------

def test_skew_kurt_match_bias_corrected_definitions():
    rng = np.random.default_rng(3)
    x = rng.lognormal(0, 1, 17)
    assert M.skew(x) == pytest.approx(st.skew(x, bias=False), rel=1e-12)
    assert M.kurt(x) == pytest.approx(st.kurtosis(x, fisher=True, bias=False), rel=1e-12)


def test_winsorise_coinr_example():
    # COINr's documentation example: x <- c(1:10, 30, 100); skew 3.06 > 2 and kurtosis 9.74 > 3.5 fail the check
    x = np.r_[np.arange(1, 11), 30, 100.0]
    assert not M.passes_skew_kurt(x)
    y, ok = M.winsorise(x, winmax=5)
    assert ok and y.tolist() == [*range(1, 11), 30, 30]      # the 100 takes the next highest value, then passes
    # at most winmax points: a vector that never passes stops after winmax changes
    z = np.r_[np.ones(30), 5, 1e3, 1e4, 1e5]
    y, ok = M.winsorise(z, winmax=2)
    assert not ok and int(np.sum(y != z)) == 2 and y.max() == 1e3


def test_treat_falls_back_to_log_ct():
    x = np.r_[np.ones(30), 5, 1e3, 1e4, 1e5]
    y, info = M.treat_outliers(x, winmax=2)
    assert info["action"] == "log"
    lo, hi = x.min(), x.max()
    np.testing.assert_allclose(y, np.log(x - lo + 0.01 * (hi - lo)))
    y, info = M.treat_outliers(np.arange(17.0))
    assert info["action"] == "none" and (y == np.arange(17.0)).all()


def test_competition_ranks():
    np.testing.assert_array_equal(M.competition_rank([50, 80, 80, 10]), [3, 1, 1, 4])
    r = M.competition_rank([1.0, np.nan, 2.0])
    assert np.isnan(r[1]) and r[0] == 2 and r[2] == 1
