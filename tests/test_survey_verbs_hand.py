"""Hand checks of the statistician's verbs on tiny designs (formulas re-derived here, not imported), identities that
any correct implementation satisfies, and the errors a user sees."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from scipy.stats import beta, chi2_contingency, t

import surveykit as sk
from surveykit.errors import InputError
from surveykit.survey.adapter import design_variance

from .conftest import FIXTURES

# two strata of four rows, every row its own PSU, no fpc
TINY = pd.DataFrame({"h": [1, 1, 1, 1, 2, 2, 2, 2], "w": [1., 2, 3, 4, 2, 2, 4, 4],
                     "y": [1., 0, 1, 1, 0, 1, 0, 1], "x": [3., 1, 4, 1, 5, 9, 2, 6],
                     "g": list("abababab"), "q": [5, 4, 2, 9, 4, 1, 3, 5]})


@pytest.fixture
def tiny():
    return sk.Design(TINY, weights="w", strata="h")


def strat_var(z):
    """sum_h n_h/(n_h-1) sum_i (z_i - mean_h z)^2 for the tiny design (rows are PSUs, two strata of 4)."""
    z = np.asarray(z, dtype=float).reshape(2, 4, -1)
    dev = z - z.mean(axis=1, keepdims=True)
    return 4 / 3 * np.einsum("hik,hil->kl", dev, dev)


def test_proportion_by_hand(tiny):
    w, y = TINY.w.to_numpy(), TINY.y.to_numpy()
    p = 14 / 22                       # sum w y = 1 + 3 + 4 + 2 + 4
    v = strat_var(w * (y - p) / 22)[0, 0]
    q = t.ppf(0.975, 6)               # df = 8 PSUs - 2 strata
    got = {m: tiny.proportion("y", method=m).iloc[0] for m in ("mean", "logit", "beta")}
    for r in got.values():
        assert r.estimate == pytest.approx(p, rel=1e-14) and r.se == pytest.approx(np.sqrt(v), rel=1e-12)
        assert r.n == 8
    half = q * np.sqrt(v)
    assert (got["mean"].ci_low, got["mean"].ci_high) == pytest.approx((p - half, p + half), rel=1e-12)
    half = half / (p * (1 - p))
    assert (got["logit"].ci_low, got["logit"].ci_high) == pytest.approx(
        (expit(logit(p) - half), expit(logit(p) + half)), rel=1e-12)
    n_eff = p * (1 - p) / v * (t.ppf(0.025, 7) / t.ppf(0.025, 6)) ** 2   # Korn & Graubard, n = 8 rows
    assert (got["beta"].ci_low, got["beta"].ci_high) == pytest.approx(
        (beta.ppf(0.025, n_eff * p, n_eff * (1 - p) + 1), beta.ppf(0.975, n_eff * p + 1, n_eff * (1 - p))), rel=1e-10)


def test_likelihood_interval_is_inside_0_1_and_near_the_logit_one(tiny):
    lik = tiny.proportion("y", method="likelihood").iloc[0]
    lo = tiny.proportion("y", method="logit").iloc[0]
    assert 0 < lik.ci_low < lik.estimate < lik.ci_high < 1
    assert abs(lik.ci_low - lo.ci_low) < 0.05 and abs(lik.ci_high - lo.ci_high) < 0.05


def test_success_codes_make_the_indicator(tiny):
    """A satisfaction rate: codes 4 and 5 count as 1, other codes 0; codes may be given as text."""
    top = tiny.assign(top=np.isin(TINY.q, [4, 5]).astype(float))
    a = tiny.proportion("q", by="g", success=[4, 5])
    b = tiny.proportion("q", by="g", success=["4", "5.0"])
    c = top.proportion("top", by="g")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a.drop(columns="variable"), c.drop(columns="variable"))
    assert a.estimate.tolist() == pytest.approx([(1 + 2) / 10, (2 + 4) / 12])   # a: rows 1, 5; b: rows 2, 8


def test_missing_values_are_outside_the_domain(tiny):
    blank = tiny.assign(y=TINY.y.where(TINY.index != 2))       # row 3 (w 3, y 1) has no answer
    got = blank.proportion("y", method="mean").iloc[0]
    assert got.estimate == pytest.approx(11 / 19) and got.n == 7
    same = tiny.subset(TINY.index != 2).proportion("y", method="mean").iloc[0]
    assert got[["estimate", "se", "ci_low", "ci_high"]].tolist() == pytest.approx(
        same[["estimate", "se", "ci_low", "ci_high"]].tolist(), rel=1e-14)


def test_quantiles_by_hand(tiny):
    # sorted x: 1 1 2 3 4 5 6 9 with weights 2 4 4 1 3 2 4 2, cumulative 2 6 10 11 14 16 20 22 (of 22):
    # p=.25 -> 5.5 lies inside the 2nd value's weight -> 1; p=.5 -> 11 is exactly reached at 3 -> 3; p=.9 -> 19.8 -> 6
    got = tiny.quantile("x", [0.25, 0.5, 0.9])
    assert got.estimate.tolist() == [1.0, 3.0, 6.0]
    assert list(got.columns) == ["variable", "quantile", "estimate", "se", "ci_low", "ci_high"]
    # Woodruff: the share at or below the estimate, its t interval, mapped back through the same rule (NaN when
    # the share's interval leaves [0, 1])
    w, x = TINY.w.to_numpy(), TINY.x.to_numpy()
    cum = np.array([2, 6, 10, 11, 14, 16, 20, 22]) / 22
    xs = np.array([1, 1, 2, 3, 4, 5, 6, 9.])

    def rule(p):  # the smallest x whose cumulative share reaches p
        return xs[np.searchsorted(cum, p - 1e-15)] if 0 <= p <= 1 else np.nan

    q = t.ppf(0.975, 6)
    for _, r in got.iterrows():
        m = w[x <= r.estimate].sum() / 22
        se_m = np.sqrt(strat_var(w * ((x <= r.estimate) - m) / 22)[0, 0])
        lo, hi = rule(m - q * se_m), rule(m + q * se_m)
        assert [r.ci_low, r.ci_high, r.se] == pytest.approx([lo, hi, (hi - lo) / (2 * q)], rel=1e-14, nan_ok=True)
    assert got.ci_low.tolist()[2] == 5.0 and got.ci_high.tolist()[0] == 5.0  # the tiny design leaves one end each


def test_table_by_hand(tiny):
    got = tiny.table("g", "y")
    # g=a rows 1,3,5,7 (w 1,3,2,4; y 1,1,0,0); g=b rows 2,4,6,8 (w 2,4,2,4; y 0,1,1,1)
    assert got["count"].tolist() == [6, 4, 2, 10] and got.n.tolist() == [2, 2, 1, 3]
    assert got.proportion.tolist() == pytest.approx([6 / 22, 4 / 22, 2 / 22, 10 / 22])
    w = TINY.w.to_numpy()
    ind = np.column_stack([(TINY.g == g) & (TINY.y == y) for g, y in [("a", 0), ("a", 1), ("b", 0), ("b", 1)]])
    assert got.count_se.tolist() == pytest.approx(np.sqrt(np.diag(strat_var(ind * w[:, None]))), rel=1e-12)
    prop = ind.T @ w / 22
    zp = w[:, None] * (ind - prop) / 22
    assert got.proportion_se.tolist() == pytest.approx(np.sqrt(np.diag(strat_var(zp))), rel=1e-12)


def test_rao_scott_under_simple_random_sampling_is_pearson_rescaled():
    """With every row its own PSU, no strata and equal weights, V = (D - pp')/(n-1) and Delta = n/(n-1) I, so
    F = X²(n-1)/(n df) on (df, df(n-1)) degrees of freedom and the first-order statistic is X²(n-1)/n."""
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"r": rng.choice(["u", "v", "x"], 90), "c": rng.choice(["k", "l"], 90)})
    d = sk.Design(df)
    x2, _, dof, _ = chi2_contingency(pd.crosstab(df.r, df.c).to_numpy(), correction=False)
    f = d.chisq("r", "c").iloc[0]
    assert f.statistic == pytest.approx(x2 * 89 / 90 / dof, rel=1e-10)
    assert (f.ndf, f.ddf) == pytest.approx((dof, dof * 89), rel=1e-10)
    c = d.chisq("r", "c", statistic="Chisq").iloc[0]
    assert c.statistic == pytest.approx(x2 * 89 / 90, rel=1e-10) and c.ndf == dof and np.isinf(c.ddf)


def test_gaussian_glm_by_hand(tiny):
    w, x, y = TINY.w.to_numpy(), TINY.x.to_numpy(), TINY.y.to_numpy()
    xm = np.column_stack([np.ones(8), x])
    a = xm.T @ (xm * w[:, None])
    b = np.linalg.solve(a, xm.T @ (w * y))
    z = (xm * (w * (y - xm @ b))[:, None]) @ np.linalg.inv(a)
    se = np.sqrt(np.diag(strat_var(z)))
    got = tiny.glm("y ~ x")
    assert got.term.tolist() == ["Intercept", "x"]
    assert got.estimate.tolist() == pytest.approx(b, rel=1e-12) and got.se.tolist() == pytest.approx(se, rel=1e-10)
    dfree = 6 + 1 - 2
    assert got.attrs["df"] == dfree
    assert got.p_value.tolist() == pytest.approx(2 * t.sf(np.abs(b / se), dfree), rel=1e-10)
    assert got.ci_high.tolist() == pytest.approx(b + t.ppf(0.975, dfree) * se, rel=1e-12)


def test_logistic_and_poisson_coefficients_equal_statsmodels():
    """The coefficients are the weighted maximum-likelihood ones (statsmodels GLM with variance weights)."""
    import statsmodels.api as sm

    df = pd.read_csv(FIXTURES / "api" / "apistrat.csv")
    df["yes"] = (df["sch.wide"] == "Yes").astype(float)
    d = sk.Design(df, weights="pw", strata="stype", fpc="fpc")
    for formula, fam, sfam in [("yes ~ ell + meals", "binomial", sm.families.Binomial()),
                               ("api_stu ~ meals", "poisson", sm.families.Poisson())]:
        data = df.rename(columns={"api.stu": "api_stu"})
        got = sk.Design(data, weights="pw", strata="stype", fpc="fpc").glm(formula, fam)
        resp, *preds = [s.strip() for s in formula.replace("~", "+").split("+")]
        ref = sm.GLM(data[resp], sm.add_constant(data[preds]), family=sfam, var_weights=data.pw).fit(tol=1e-12)
        assert got.estimate.tolist() == pytest.approx(ref.params.tolist(), rel=1e-7)
    assert d.glm("yes ~ ell", "binomial").attrs["n"] == 200


def test_domain_covariance_blocks_equal_domain_variances():
    """The adapter's covariance path (several domains at once) agrees with its variance path, raked too."""
    df = pd.read_csv(FIXTURES / "api" / "apiclus2.csv")
    d = sk.Design(df, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"]).rake({"stype": {"E": 4421, "H": 755, "M": 1018}})
    codes, table = d.domains("awards")
    z = np.column_stack([df.api00 * d.weights, df.api99 * d.weights])
    cov = design_variance(d, z, codes, len(table), covariance=True)
    var = design_variance(d, z, codes, len(table))
    assert cov.shape == (2, 2, 2)
    np.testing.assert_allclose(np.diagonal(cov, axis1=1, axis2=2), var, rtol=1e-10)


@pytest.mark.parametrize("call, pattern", [
    (lambda d: d.proportion("x"), "0/1 variable"),
    (lambda d: d.proportion("y", method="wald"), "method must be one of"),
    (lambda d: d.quantile("x", 1.5), "between 0 and 1"),
    (lambda d: d.subset(TINY.g == "a").chisq("g", "y"), "two levels or more"),
    (lambda d: d.table("g", "g"), "distinct"),
    (lambda d: d.glm("y ~ nowhere"), "cannot use the formula"),
    (lambda d: d.glm("x ~ g", "binomial"), "between 0 and 1"),
    (lambda d: d.glm("y ~ x + I(2 * x)"), "collinear"),
    (lambda d: d.glm("y ~ x", "probit"), "family must be one of"),
])
def test_bad_requests_are_input_errors(tiny, call, pattern):
    with pytest.raises(InputError, match=pattern):
        call(tiny)
