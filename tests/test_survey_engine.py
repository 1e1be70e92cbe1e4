"""The design-based engine against R's survey package (fixtures in tests/fixtures/api, made by the R scripts there)."""

import numpy as np
import pandas as pd
import pytest

import surveykit as sk
from surveykit.errors import InputError

from .conftest import FIXTURES

REL = 1e-8
EXPECTED = pd.read_csv(FIXTURES / "api" / "api_expected.csv", keep_default_na=False)
UNWEIGHTED = EXPECTED[EXPECTED.design.isin(["dstrat", "dclus1", "dclus2"])]


def close(a, b, rel=REL):
    return abs(a - b) <= rel * abs(b)


@pytest.mark.parametrize("row", [r for _, r in UNWEIGHTED.iterrows()],
                         ids=[f"{r.design}-{r.stat}-{r.by}{r.level}-{r.variable}" for _, r in UNWEIGHTED.iterrows()])
def test_matches_r_survey(api, row):
    d = api[row.design]
    if row.by == "":
        out = (d.mean if row.stat == "mean" else d.total)(row.variable)
    elif row.by == "stype":
        out = d.mean(row.variable, by="stype")
        out = out[out.stype == row.level]
    else:  # subpopulation mean: subset(des, sch.wide == "Yes")
        out = d.subset(d.data["sch.wide"] == row.level).mean(row.variable)
    assert len(out) == 1
    r = out.iloc[0]
    assert close(r.estimate, row.estimate), (r.estimate, row.estimate)
    assert close(r.se, row.se), (r.se, row.se)
    assert r.ci_low == pytest.approx(r.estimate - 1.959963984540054 * r.se, rel=1e-12)


def test_output_columns_and_counts(api):
    out = api["dstrat"].mean(["api00", "api99"], by="stype")
    assert list(out.columns) == ["stype", "variable", "estimate", "se", "ci_low", "ci_high", "n"]
    assert out.groupby("variable")["n"].sum().tolist() == [200, 200]
    # enroll has no missing value in apistrat; a blanked value leaves the domain for that variable only
    df = api["dstrat"].data.copy()
    df.loc[df.index[:7], "api99"] = np.nan
    d = sk.Design(df, weights="pw", strata="stype", fpc="fpc")
    out = d.mean(["api00", "api99"])
    assert out.set_index("variable")["n"].to_dict() == {"api00": 200, "api99": 193}


EXTRA = pd.read_csv(FIXTURES / "api" / "engine_extra_expected.csv")


def extra(case, variable):
    r = EXTRA[(EXTRA.case == case) & (EXTRA.variable == variable)].iloc[0]
    return r.estimate, r.se


@pytest.mark.parametrize("policy", ["adjust", "remove", "certainty"])
def test_lonely_psu_policies_match_r(policy):
    df = pd.read_csv(FIXTURES / "api" / "apistrat_lonely.csv")
    d = sk.Design(df, weights="pw", strata="stype", lonely_psu=policy)
    for var, fn in [("api00", d.mean), ("enroll", d.total)]:
        est, se = extra(f"lonely_{policy}", var)
        r = fn(var).iloc[0]
        assert close(r.estimate, est) and close(r.se, se), (policy, var, r.se, se)


def test_lonely_psu_refused_by_default_with_clear_message():
    df = pd.read_csv(FIXTURES / "api" / "apistrat_lonely.csv")
    with pytest.raises(InputError, match=r"single sampled unit.*stratum/strata H.*lonely_psu='adjust'"):
        sk.Design(df, weights="pw", strata="stype")


def test_fpc_as_sampling_fractions(api):
    df = api["dstrat"].data.copy()
    df["frac"] = df.groupby("stype")["pw"].transform("size") / df["fpc"]
    d = sk.Design(df, weights="pw", strata="stype", fpc="frac")
    est, se = extra("dstrat_fraction_fpc", "api00")
    r = d.mean("api00").iloc[0]
    assert close(r.estimate, est) and close(r.se, se)


def test_two_stage_without_fpc_is_ultimate_cluster(api):
    df = api["dclus2"].data.copy()
    df["w"] = api["dclus2"].weights.to_numpy()
    d = sk.Design(df, weights="w", psu=["dnum", "snum"])
    est, se = extra("dclus2_ultimate", "api00")
    r = d.mean("api00").iloc[0]
    assert close(r.estimate, est) and close(r.se, se)


def test_weights_derived_from_fpc_like_r(api):
    # R: weights(svydesign(id=~dnum+snum, fpc=~fpc1+fpc2, data=apiclus2)) -- the weight of school 1 is
    # (757/40) * (fpc2/n2) for its district
    d = api["dclus2"]
    df = d.data
    n1 = df.dnum.nunique()
    n2 = df.groupby("dnum")["snum"].transform("nunique")
    np.testing.assert_allclose(d.weights.to_numpy(), (df.fpc1 / n1) * (df.fpc2 / n2), rtol=1e-12)


def test_ratio_matches_r(api):
    d = api["dclus1"]
    est, se = extra("dclus1_ratio", "api.stu/enroll")
    r = d.ratio("api.stu", "enroll").iloc[0]
    assert close(r.estimate, est) and close(r.se, se)
    by = d.ratio("api.stu", "enroll", by="stype").set_index("stype")
    for s in "EHM":
        est, se = extra(f"dclus1_ratio_stype_{s}", "api.stu/enroll")
        assert close(by.loc[s, "estimate"], est) and close(by.loc[s, "se"], se)


def test_vcov_diagonal_equals_domain_variance(api):
    """Two routes through the engine: a full covariance of domain-masked influence vs. the domain shortcut."""
    d = api["dclus2"]
    y = d.data["api00"].to_numpy(float)
    w = d.weights.to_numpy()
    codes, table = d.domains("stype")
    est = d.mean("api00", by="stype").estimate.to_numpy()
    tw = np.bincount(codes, weights=w)
    z = np.column_stack([(codes == k) * w * (y - est[k]) / tw[k] for k in range(len(table))])
    v = d.vcov(z)
    se = d.mean("api00", by="stype").se.to_numpy()
    np.testing.assert_allclose(np.sqrt(np.diag(v)), se, rtol=1e-12)


def test_design_is_immutable(api):
    d = api["dstrat"]
    with pytest.raises(AttributeError):
        d.lonely_psu = "adjust"
    sub = d.subset(d.data.stype == "E")
    assert sub is not d and d.weights.gt(0).all() and (sub.weights == 0).sum() == 100


@pytest.mark.parametrize("mutate, message", [
    (lambda df: df.assign(pw=df.pw.where(df.index != 3, -1.0)), r"row 5.*column 'pw'.*non-negative"),
    (lambda df: df.assign(pw=df.pw.where(df.index != 3, np.nan)), r"row 5.*column 'pw'.*blank"),
    (lambda df: df.assign(api00=df.api00.astype(object).where(df.index != 9, "n/a")), r"row 11.*column 'api00'.*'n/a' is not a number"),
    (lambda df: df.assign(stype=df.stype.where(df.index != 0, None)), r"row 2.*column 'stype'.*blank design variable"),
    (lambda df: df.assign(fpc=df.fpc.where(df.index != 0, 5.0)), r"column 'fpc'.*varies within a stratum"),
])
def test_bad_design_input_names_row_and_column(mutate, message):
    df = mutate(pd.read_csv(FIXTURES / "api" / "apistrat.csv"))
    df.attrs["source"] = "apistrat.csv"
    df.attrs["file_rows"] = np.arange(len(df)) + 2  # header is row 1
    with pytest.raises(InputError, match=message):
        sk.Design(df, weights="pw", strata="stype", fpc="fpc").mean("api00")


def test_missing_column_is_named(api):
    with pytest.raises(InputError, match=r"no column 'nope'"):
        api["dstrat"].mean("nope")
