"""Weighting (post-stratification, raking, trimming), calibration-aware SEs, deff and replicate variance,
against R's survey package (fixtures: tests/fixtures/api/make_reference.R, tests/fixtures/weighting/*.R)."""

import numpy as np
import pandas as pd
import pytest

import surveykit as sk
from surveykit.errors import InputError
from surveykit.survey.replicates import ReplicateDesign

from .conftest import FIXTURES

REL = 1e-8
API = FIXTURES / "api"
WF = FIXTURES / "weighting"
TYPES = {"E": 4421, "H": 755, "M": 1018}
SCHWIDE = {"No": 1072, "Yes": 5122}
BOTH = {"No": 2000, "Yes": 4194}


def close(a, b, rel=REL):
    return abs(a - b) <= rel * abs(b)


@pytest.fixture(scope="module")
def designs():
    st, c1, c2 = (pd.read_csv(API / f) for f in ("apistrat.csv", "apiclus1.csv", "apiclus2.csv"))
    ds = sk.Design(st, weights="pw", strata="stype", fpc="fpc")
    d1 = sk.Design(c1, weights="pw", psu="dnum", fpc="fpc")
    d2 = sk.Design(c2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])
    rk = d1.rake({"stype": TYPES, "sch.wide": SCHWIDE})
    return {
        "dclus1": d1, "dstrat": ds,
        "dclus1_poststratified_stype": d1.poststratify("stype", TYPES),
        "dclus1_ps_stype": d1.poststratify("stype", pd.DataFrame({"stype": list(TYPES), "total": list(TYPES.values())})),
        "dclus1_raked_stype_schwide": rk,
        "dclus2_raked": d2.rake({"stype": TYPES, "sch.wide": SCHWIDE}),
        "dstrat_raked_schwide_both": ds.rake({"sch.wide": SCHWIDE, "both": BOTH}),
        "dclus1_rake_then_ps": d1.rake({"sch.wide": SCHWIDE}).poststratify("stype", TYPES),
        "dclus1_raked_trimmed_20_45": rk.trim(20, 45),
    }


def estimate(d, stat, by, level, variable):
    if by == "sch.wide" and variable == "api99":  # subset(ps, sch.wide == "Yes")
        return d.subset(d.data["sch.wide"] == level).mean(variable).iloc[0]
    out = (d.mean if stat == "mean" else d.total)(variable, by=by or None)
    return (out[out[by] == level] if by else out).iloc[0]


API_ROWS = pd.read_csv(API / "api_expected.csv", keep_default_na=False)
API_ROWS = API_ROWS[API_ROWS.design.str.contains("poststratified|raked")]
W_ROWS = pd.read_csv(WF / "weighting_expected.csv", keep_default_na=False)
CAL_ROWS = W_ROWS[W_ROWS.case.isin(["dclus1_ps_stype", "dclus2_raked", "dstrat_raked_schwide_both",
                                    "dclus1_rake_then_ps", "dclus1_raked_trimmed_20_45"])]


@pytest.mark.parametrize("row", [r for _, r in API_ROWS.iterrows()],
                         ids=[f"{r.design}-{r.stat}-{r.level}" for _, r in API_ROWS.iterrows()])
def test_reference_calibrated_rows(designs, row):
    r = estimate(designs[row.design], row.stat, row.by, row.level, row.variable)
    assert close(r.estimate, row.estimate) and close(r.se, row.se), (r.estimate, r.se, row.estimate, row.se)


@pytest.mark.parametrize("row", [r for _, r in CAL_ROWS.iterrows()],
                         ids=[f"{r.case}-{r.stat}-{r.by}{r.level}-{r.variable}" for _, r in CAL_ROWS.iterrows()])
def test_calibrated_domains_multistage_sequences_trimming(designs, row):
    r = estimate(designs[row.case], row.stat, row.by, row.level, row.variable)
    assert close(r.estimate, float(row.estimate)) and close(r.se, float(row.se)), (r.se, row.se)


@pytest.mark.parametrize("case, file", [("dclus1_raked_stype_schwide", API / "api_raked_weights.csv"),
                                        ("dclus2_raked", WF / "dclus2_raked_weights.csv"),
                                        ("dclus1_raked_trimmed_20_45", WF / "dclus1_trimmed_weights.csv")])
def test_weights_row_by_row(designs, case, file):
    expected = pd.read_csv(file)["weight"].to_numpy()
    np.testing.assert_allclose(designs[case].weights.to_numpy(), expected, rtol=REL)


def test_deff_matches_r(designs):
    exp = W_ROWS[W_ROWS.deff != "NA"]
    for _, row in exp.iterrows():
        d = designs[row.case]
        out = (d.mean if row.stat == "mean" else d.total)(row.variable, by=row.by or None, deff=True)
        r = (out[out[row.by] == row.level] if row.by else out).iloc[0]
        assert close(r.deff, float(row.deff)), (row.case, r.deff, row.deff)


def test_raked_margins_are_met_and_history_recorded(designs):
    rk = designs["dclus2_raked"]
    w = rk.weights
    assert w.groupby(rk.data.stype).sum().to_dict() == pytest.approx(TYPES, rel=1e-10)
    assert w.groupby(rk.data["sch.wide"]).sum().to_dict() == pytest.approx(SCHWIDE, rel=1e-10)
    assert "raked on stype (3 levels), sch.wide (2 levels)" in repr(rk)


def test_calibrated_vcov_diagonal_equals_domain_variance(designs):
    d = designs["dclus1_raked_stype_schwide"]
    y = d.data["api00"].to_numpy(float)
    w = d.weights.to_numpy()
    codes, table = d.domains("stype")
    est = d.mean("api00", by="stype")
    tw = np.bincount(codes, weights=w)
    z = np.column_stack([(codes == k) * w * (y - est.estimate[k]) / tw[k] for k in range(len(table))])
    np.testing.assert_allclose(np.sqrt(np.diag(d.vcov(z))), est.se, rtol=1e-10)


# --- replicate weights --------------------------------------------------------------------------------------
def rep_expected(case, by="", level=""):
    r = W_ROWS[(W_ROWS.case == case) & (W_ROWS.by == by) & (W_ROWS.level == level)].iloc[0]
    return float(r.estimate), float(r.se)


def test_jackknife_jkn_and_jk1_match_r(designs):
    jk = designs["dstrat"].jackknife()
    assert jk.kind == "JKn" and jk.replicates == 200
    est, se = rep_expected("dstrat_JKn")
    r = jk.mean("api00").iloc[0]
    assert close(r.estimate, est) and close(r.se, se)
    by = jk.mean("api00", by="stype").set_index("stype")
    for s in "EHM":
        est, se = rep_expected("dstrat_JKn", "stype", s)
        assert close(by.loc[s, "se"], se)
    jk1 = designs["dclus1"].jackknife()
    assert jk1.kind == "JK1"
    est, se = rep_expected("dclus1_JK1")
    assert close(jk1.mean("api00").se.iloc[0], se)


@pytest.fixture(scope="module")
def r_bootstrap(designs):
    """R's own Rao-Wu (subbootstrap) draws, applied through our ReplicateDesign."""
    d1 = designs["dclus1"]
    m = pd.read_csv(WF / "dclus1_subbootstrap100_multipliers.csv")
    mult = np.round(m.drop(columns="dnum").to_numpy() * 14 / 15) * 15 / 14  # counts x n/(n-1), exactly
    st = d1.stages[0]
    unit_of_r = [st.cluster[int(np.flatnonzero(d1.data.dnum.to_numpy() == x)[0])] for x in m.dnum]
    ours = np.empty_like(mult)
    ours[unit_of_r] = mult
    return ReplicateDesign(d1, ours, st.cluster, 1 / 99, np.ones(100), "subbootstrap")


def test_bootstrap_variance_formula_matches_r(r_bootstrap, designs):
    est, se = rep_expected("dclus1_subbootstrap100")
    assert close(r_bootstrap.mean("api00").se.iloc[0], se)
    r = W_ROWS[(W_ROWS.case == "dclus1_subbootstrap100") & (W_ROWS.stat == "ratio")].iloc[0]
    assert close(r_bootstrap.ratio("api.stu", "enroll").se.iloc[0], float(r.se))
    by = r_bootstrap.mean("api00", by="stype").set_index("stype")
    for s in "EHM":
        assert close(by.loc[s, "se"], rep_expected("dclus1_subbootstrap100", "stype", s)[1])
    # any statistic through estimate_with_replicates: the weighted mean by hand gives the same SE
    api00 = designs["dclus1"].data.api00.to_numpy()
    out = r_bootstrap.estimate_with_replicates(lambda w: np.average(api00, weights=w))
    assert close(out.se.iloc[0], se)


def test_our_rao_wu_bootstrap_agrees_with_linearisation(designs):
    """2,000 replicates: the bootstrap SE of a mean is within 6% of the linearised SE (its Monte Carlo error
    is about 1.6%); the fpc enters through lambda = sqrt(1 - f)."""
    d1 = designs["dclus1"]
    b = d1.bootstrap(2000, seed=7)
    assert b.mean("api00").se.iloc[0] == pytest.approx(d1.mean("api00").se.iloc[0], rel=0.06)
    assert b.replicate_weights(0).shape == (len(d1.data),)
    # same seed, same replicates
    np.testing.assert_array_equal(d1.bootstrap(50, seed=3).multipliers, d1.bootstrap(50, seed=3).multipliers)


def test_bootstrap_of_a_raked_design_recalibrates_every_replicate(designs):
    rk = designs["dclus2_raked"]
    with pytest.warns(UserWarning, match="first-stage units only"):  # two stages with fpc: see the warning test
        b = rk.bootstrap(30, seed=1)
    for r in (0, 7, 29):
        w = b.replicate_weights(r)
        assert pd.Series(w).groupby(rk.data.stype.to_numpy()).sum().to_dict() == pytest.approx(TYPES, rel=1e-8)
    se_boot = b.mean("api00").se.iloc[0]
    assert 0.5 < se_boot / rk.mean("api00").se.iloc[0] < 1.6


# --- diagnostics ----------------------------------------------------------------------------------------------
def test_weight_diagnostics_by_hand(designs):
    d = designs["dclus1_raked_stype_schwide"]
    out = d.weight_diagnostics(by="stype").set_index("stype")
    w = d.weights.to_numpy()
    x = w[d.data.stype.to_numpy() == "H"]
    assert out.loc["H", "n"] == len(x)
    assert out.loc["H", "deff_kish"] == pytest.approx(len(x) * (x ** 2).sum() / x.sum() ** 2)
    assert out.loc["H", "n_effective"] == pytest.approx(x.sum() ** 2 / (x ** 2).sum())
    assert out.loc["H", "deff_kish"] == pytest.approx(1 + out.loc["H", "cv"] ** 2)
    whole = designs["dclus1"].weight_diagnostics()
    assert whole.deff_kish.iloc[0] == pytest.approx(1.0)  # dclus1 has equal weights


# --- errors ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("margins, pattern", [
    ({"stype": {"E": 4421, "H": 755}}, r"level\(s\) 'M' of 'stype' occur in the data \(25 rows\) but have no population total"),
    ({"stype": {**TYPES, "K": 10}}, r"level\(s\) 'K' of 'stype' have a population total but no respondent"),
    ({"stype": TYPES, "sch.wide": {"No": 1072, "Yes": 5000}}, r"grand totals disagree \(stype 6,194, sch.wide 6,072\)"),
    ({"school_type": TYPES}, r"column 'school_type': margin on a column that does not exist"),
    ({"stype": {"E": 4421, "H": 0, "M": 1018}}, r"population total of 'stype' = 'H' must be a positive number"),
])
def test_margin_errors_are_clear(designs, margins, pattern):
    with pytest.raises(InputError, match=pattern):
        designs["dclus1"].rake(margins)


def test_non_convergence_names_the_gap(designs):
    with pytest.raises(InputError, match=r"did not converge after 1 iterations; the largest remaining gap is .* at (stype|sch.wide|both)="):
        designs["dclus1"].rake({"sch.wide": SCHWIDE, "stype": TYPES, "both": {"No": 1500, "Yes": 4694}},
                               max_iter=1, tol=1e-12)


def test_poststratify_on_two_variables_equals_one_combined_variable(designs):
    """Post-strata from two columns are their combinations: same weights and SEs as a pre-combined column."""
    d1 = designs["dclus1"]
    df = d1.data.assign(cell=d1.data.stype + "/" + d1.data["sch.wide"])
    w = d1.weights.groupby([df.stype, df["sch.wide"]]).sum() * 1.05
    pop2 = w.rename("total").reset_index()
    two = d1.poststratify(["stype", "sch.wide"], pop2)
    one = sk.Design(df, weights="pw", psu="dnum", fpc="fpc").poststratify(
        "cell", {f"{a}/{b}": t for (a, b), t in w.items()})
    np.testing.assert_allclose(two.weights, one.weights, rtol=1e-12)
    np.testing.assert_allclose(two.mean("api00").se, one.mean("api00").se, rtol=1e-12)
    with pytest.raises(InputError, match=r"'E x No' of 'stype x sch.wide' occur in the data \(\d+ rows\)"):
        d1.poststratify(["stype", "sch.wide"], pop2.iloc[1:])


def test_bootstrap_warns_when_later_stages_carry_variance(designs):
    with pytest.warns(UserWarning, match="first-stage units only") as caught:
        reps = designs["dclus2_raked"].bootstrap(5, seed=1)
    assert len(caught) == 1 and reps.replicates == 5
