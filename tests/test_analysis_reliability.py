"""Reliability and validity against psych (alpha, item statistics, Feldt CI), lavaan (omega, CFA) and by hand.

Fixtures: tests/fixtures/analysis/make_analysis_fixtures.R (psych 2.2.9, lavaan 0.6.14), inputs written by
make_python_inputs.py; bfi from R's psych package (tests/fixtures/api).
"""

import numpy as np
import pandas as pd
import pytest

import surveykit as sk
from surveykit.analysis import (cfa, cfa_loadings, cronbach_alpha, item_analysis, item_statistics, mcdonald_omega,
                                reliability)
from surveykit.analysis.reliability import one_factor_ml, pairwise_cov

from .conftest import FIXTURES, ROOT
from .test_analysis_common import demo  # noqa: F401  (fixture)

A = FIXTURES / "analysis"
BFI = pd.read_csv(FIXTURES / "api" / "bfi.csv")
Q_DEMO = ROOT / "questionnaires" / "ip_protection_satisfaction.yaml"


def _scale_rows(path):
    t = pd.read_csv(path, keep_default_na=False)
    return [r for _, r in t.iterrows()]


def _items(scale):
    return [f"{scale}{i}" for i in range(1, 6)] if scale != "E2" else ["E1", "E2"]


@pytest.mark.parametrize("row", _scale_rows(FIXTURES / "api" / "bfi_alpha_expected.csv"),
                         ids=lambda r: f"{r['scale']}-{r['reversed'] or 'none'}")
def test_alpha_matches_the_shared_psych_reference(row):
    """../shared/reference/bfi_alpha_expected.csv (copied into tests/fixtures/api), without and with reverse keys."""
    got = cronbach_alpha(BFI, _items(row["scale"]), reverse=row["reversed"].split()).iloc[0]
    assert got["raw_alpha"] == pytest.approx(float(row["raw_alpha"]), abs=1e-8)
    assert got["std_alpha"] == pytest.approx(float(row["std_alpha"]), abs=1e-8)


@pytest.mark.parametrize("row", _scale_rows(A / "bfi_alpha_total.csv"),
                         ids=lambda r: f"{r['scale']}-{r['reversed'] or 'none'}")
def test_alpha_average_r_and_feldt_interval_match_psych(row):
    got = cronbach_alpha(BFI, _items(row["scale"]), reverse=row["reversed"].split()).iloc[0]
    assert got["k"] == row["k"] and got["n"] == row["n"]
    for ours, theirs in [("raw_alpha", "raw_alpha"), ("std_alpha", "std_alpha"), ("average_r", "average_r"),
                         ("ci_low", "feldt_low"), ("ci_high", "feldt_high")]:
        assert got[ours] == pytest.approx(float(row[theirs]), abs=1e-10), ours


@pytest.mark.parametrize("scale, reversed_", [("A", ""), ("A", "A1"), ("C", "C4 C5"), ("N", ""), ("O", "O2 O5")])
def test_item_rest_correlation_and_alpha_if_dropped_match_psych(scale, reversed_):
    exp = pd.read_csv(A / "bfi_alpha_items.csv", keep_default_na=False)
    exp = exp[(exp["scale"] == scale) & (exp["reversed"] == reversed_)].reset_index(drop=True)
    got = item_statistics(BFI, _items(scale), reverse=reversed_.split())
    assert list(got["item"]) == list(exp["item"])
    assert (got["n"] == exp["n"]).all()
    np.testing.assert_allclose(got["r_rest"], exp["r_drop"], atol=1e-10, rtol=0)
    np.testing.assert_allclose(got["alpha_if_dropped"], exp["alpha_drop_raw"], atol=1e-10, rtol=0)
    np.testing.assert_allclose(got["std_alpha_if_dropped"], exp["alpha_drop_std"], atol=1e-10, rtol=0)
    np.testing.assert_allclose(got["sd"], exp["sd_raw"], rtol=1e-12)
    np.testing.assert_allclose(got["mean"], exp["mean_raw"], rtol=1e-12)


def test_pingouin_agrees_on_complete_and_missing_data():
    """A third implementation: pingouin's cronbach_alpha (pairwise covariances too)."""
    import pingouin as pg

    x = BFI[["N1", "N2", "N3", "N4", "N5"]]
    assert cronbach_alpha(x).iloc[0]["raw_alpha"] == pytest.approx(pg.cronbach_alpha(x)[0], abs=1e-10)
    xc = x.dropna()
    assert cronbach_alpha(xc).iloc[0]["raw_alpha"] == pytest.approx(pg.cronbach_alpha(xc)[0], abs=1e-10)


def test_alpha_by_hand():
    """3 items, 5 respondents: item variances 2.5, 2.3, 1.5; the totals 4, 7, 9, 13, 14 have variance 17.3,
    so alpha = 3/2 (1 - 6.3/17.3)."""
    x = pd.DataFrame({"a": [1, 2, 3, 4, 5.], "b": [2, 2, 3, 5, 5.], "c": [1, 3, 3, 4, 4.]})
    got = cronbach_alpha(x).iloc[0]
    assert got["raw_alpha"] == pytest.approx(1.5 * (1 - 6.3 / 17.3), abs=1e-12)
    # two items: alpha-if-dropped is undefined (a single item), not psych's regression slope
    assert item_statistics(x, ["a", "b"])["alpha_if_dropped"].isna().all()


@pytest.mark.parametrize("scale, reversed_", [("A", ""), ("A", "A1"), ("C", "C4 C5"), ("N", ""), ("O", "O2 O5")])
def test_omega_matches_r_one_factor_ml(scale, reversed_):
    """R's factanal (factr = 1) to 1e-8 and lavaan's cfa to 1e-6: both optimisers stop short of the optimum (lavaan's
    nlminb by ~1e-7 and refuses tighter tolerances); at our solution the gradient of the ML discrepancy is < 1e-12
    and the discrepancy is lower than at either R solution."""
    exp = pd.read_csv(A / "bfi_omega.csv", keep_default_na=False)
    exp = exp[(exp["scale"] == scale) & (exp["reversed"] == reversed_)].iloc[0]
    got = mcdonald_omega(BFI, _items(scale), reverse=reversed_.split()).iloc[0]
    assert got["converged"] and got["k"] == 5 and got["n"] == 2800
    assert got["omega"] == pytest.approx(exp["omega_factanal"], abs=1e-8)
    assert got["omega"] == pytest.approx(exp["omega"], abs=1e-6)


def test_one_factor_ml_recovers_an_exact_model_and_omega_equals_alpha_when_tau_equivalent():
    lam = np.array([0.9, 0.7, 1.2, 0.5])
    psi = np.array([0.6, 0.5, 0.9, 0.4])
    c = np.outer(lam, lam) + np.diag(psi)
    l_hat, psi_hat, ok = one_factor_ml(c)
    assert ok
    np.testing.assert_allclose(l_hat, lam, atol=1e-7)
    np.testing.assert_allclose(psi_hat, psi, atol=1e-7)
    # equal loadings: omega = alpha exactly (McDonald 1999, ch. 6)
    rng = np.random.default_rng(1)
    f = rng.standard_normal(20000)
    x = pd.DataFrame({f"i{k}": 0.8 * f + rng.standard_normal(20000) * 0.6 for k in range(5)})
    c = pairwise_cov(x.to_numpy())
    lt = np.full(5, np.sqrt(np.mean(c[np.triu_indices(5, 1)])))        # tau-equivalent model implied by C
    ce = np.outer(lt, lt) + np.diag(np.diag(c) - lt ** 2)
    l2, p2, _ = one_factor_ml(ce)
    omega = l2.sum() ** 2 / (l2.sum() ** 2 + p2.sum())
    k = 5
    alpha = k / (k - 1) * (1 - np.trace(ce) / ce.sum())
    assert omega == pytest.approx(alpha, abs=1e-8)


def test_omega_needs_three_items():
    assert np.isnan(mcdonald_omega(BFI, ["E1", "E2"]).iloc[0]["omega"])


# --- on the questionnaire -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def score_fixture():
    q = sk.load_questionnaire(FIXTURES / "score" / "questionnaire.yaml")
    return q, pd.read_csv(FIXTURES / "score" / "data.csv")


def test_questionnaire_reliability_is_alpha_of_the_group_item_scores(score_fixture):
    """reliability() = cronbach_alpha on the item scores (0-100, q02 reversed, codes 6/9 missing) of each group."""
    q, df = score_fixture
    got = reliability(q, df, groups=["holder", "public"]).set_index(["group", "node"])
    for g, items in [("holder", ["q01", "q02", "q03", "q04", "q05"]), ("public", ["q01", "q02", "q03", "q04"])]:
        sub = df[df["group"] == g][items].astype(float)
        sub = sub.where(~sub.isin([6, 9]))
        sub = sub[sub.notna().any(axis=1)]
        exp = cronbach_alpha(sub, items, reverse=["q02"]).iloc[0]      # linear rescaling does not change alpha
        row = got.loc[(g, "law")]
        assert row["k"] == len(items) and row["n"] == len(sub)
        assert row["raw_alpha"] == pytest.approx(exp["raw_alpha"], abs=1e-12)
        assert row["std_alpha"] == pytest.approx(exp["std_alpha"], abs=1e-12)
    # the reverse-keyed item enters reversed: its item-rest correlation is positive
    ia = item_analysis(q, df, groups=["holder"]).set_index("item")
    sub = df[df["group"] == "holder"][["q01", "q02", "q03", "q04", "q05"]].astype(float)
    sub = sub.where(~sub.isin([6, 9]))
    exp = item_statistics(sub[sub.notna().any(axis=1)], reverse=["q02"]).set_index("item")
    assert ia.loc["q02", "r_rest"] == pytest.approx(exp.loc["q02", "r_rest"], abs=1e-12) and ia.loc["q02", "r_rest"] > 0


def test_demo_indicators_are_reliable_as_generated(demo):
    """The synthetic answer model makes items of one first-level indicator correlate (alpha 0.8-0.95 by design);
    by district the values scatter around the city's."""
    q, df, _ = demo
    r = reliability(q, df)
    assert len(r) == 15 and r["raw_alpha"].between(0.78, 0.95).all()
    assert (r["omega"] >= r["raw_alpha"] - 1e-3).all()           # omega >= alpha up to sampling noise
    by = reliability(q, df, by="district", groups=["public"])
    assert len(by) == 17 * 5 and by["raw_alpha"].between(0.6, 0.97).all()


# --- CFA -----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cfa_data():
    return sk.load_questionnaire(Q_DEMO), pd.read_csv(A / "cfa_holders.csv")


def test_cfa_fit_indices_match_lavaan(cfa_data):
    """5 factors, 31 items, 2,000 complete rights holders; lavaan ML (normal likelihood) in the R script.
    Differences come from the optimisers only (both converge to ~1e-10 in chi2)."""
    q, d = cfa_data
    got = cfa(q, d, groups=["holder"]).iloc[0]
    exp = pd.read_csv(A / "cfa_lavaan_fit.csv").set_index("measure")["value"]
    assert got["converged"] and got["n"] == exp["ntotal"] == 2000 and got["k"] == 31 and got["factors"] == 5
    assert got["df"] == exp["df"] == 424
    assert got["chi2"] == pytest.approx(exp["chisq"], rel=1e-7)
    assert got["p_value"] == pytest.approx(exp["pvalue"], rel=1e-5)
    for ours, theirs in [("cfi", "cfi"), ("tli", "tli"), ("rmsea", "rmsea"), ("rmsea_ci_low", "rmsea.ci.lower"),
                         ("rmsea_ci_high", "rmsea.ci.upper"), ("srmr", "srmr")]:
        assert got[ours] == pytest.approx(exp[theirs], abs=1e-6), ours


def test_cfa_loadings_match_lavaan(cfa_data):
    q, d = cfa_data
    got = cfa_loadings(q, d, groups=["holder"])
    exp = pd.read_csv(A / "cfa_lavaan_loadings.csv")
    m = exp.merge(got, on=["factor", "item"], suffixes=("_r", "_py"))
    assert len(m) == 31
    np.testing.assert_allclose(m["estimate_py"], m["estimate_r"], atol=1e-5)
    np.testing.assert_allclose(m["std_estimate_py"], m["std_estimate_r"], atol=1e-5)
    free = m["se_r"] > 0
    np.testing.assert_allclose(m.loc[free, "se_py"], m.loc[free, "se_r"], rtol=1e-4)
    assert m.loc[~free, "se_py"].isna().all()                       # the fixed first loadings


def test_semopy_own_rmsea_uses_n_minus_1(cfa_data):
    """Why the indices are computed here: semopy's calc_stats divides by N - 1 in the RMSEA (lavaan: N)."""
    import semopy

    from surveykit.analysis.reliability import _cfa_data, _fit_cfa

    q, d = cfa_data
    x, factors = _cfa_data(q, d, "holder", 1)
    model, _, _, _ = _fit_cfa(x, factors)
    st = semopy.calc_stats(model).iloc[0]
    ours = cfa(q, d, groups=["holder"]).iloc[0]
    assert st["chi2"] == pytest.approx(ours["chi2"], rel=1e-9)
    assert st["RMSEA"] == pytest.approx(np.sqrt((ours["chi2"] / ours["df"] - 1) / (ours["n"] - 1)), rel=1e-9)
    assert abs(st["RMSEA"] - ours["rmsea"]) > 1e-7


def test_ids_cannot_change_the_cfa_model(cfa_data):
    """semopy reads a model written in its own syntax; ids with spaces, '#', '=~' or '+' (allowed by the
    questionnaire's id rule) must neither break the fit nor change it: same data under such names, same numbers."""
    from surveykit.analysis.reliability import _cfa_data, _fit_cfa, _fit_indices

    q, d = cfa_data
    x, factors = _cfa_data(q, d, "holder", 1)
    hostile = {c: f"{c} #x" if k % 2 else f"{c} =~ q01 + " for k, c in enumerate(x.columns)}
    hf = {f"law =~ {f} #": [hostile[c] for c in cols] for f, cols in factors.items()}
    plain = _fit_cfa(x, factors)
    odd = _fit_cfa(x.rename(columns=hostile), hf)
    a = _fit_indices(plain[2], plain[0], len(plain[0].param_vals))
    b = _fit_indices(odd[2], odd[0], len(odd[0].param_vals))
    assert a["df"] == b["df"] and a["chi2"] == pytest.approx(b["chi2"], rel=1e-9)
    assert set(odd[3].values()) == set(hf) | set(hostile.values())


def test_cfa_uses_each_groups_items(demo):
    q, df, _ = demo
    got = cfa(q, df, groups=["public"]).iloc[0]
    assert got["k"] == 24 and got["converged"]         # 7 items are not asked of the public
    assert got["cfi"] > 0.95 and got["srmr"] < 0.05     # the generated structure fits
