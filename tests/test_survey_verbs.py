"""The statistician's verbs of Design (issue 16) against R's survey package: proportion (svyciprop), quantile
(svyquantile), table (svytable/svytotal/svymean), chisq (svychisq) and glm (svyglm), on a stratified two-stage
design with fpc, on domains, and after raking (fixtures: tests/fixtures/verbs/make_verbs_fixtures.R)."""

import numpy as np
import pandas as pd
import pytest

import surveykit as sk

from .conftest import FIXTURES

REL = 1e-8
VF = FIXTURES / "verbs"
TYPES = {"E": 4421, "H": 755, "M": 1018}
SCHWIDE = {"No": 1072, "Yes": 5122}


def close(a, b, rel=REL):
    """Equal to ``rel`` relative (NaN equals NaN: R and surveykit agree that an interval end is undefined)."""
    a, b = float(a), float(b)
    if np.isnan(b):
        return np.isnan(a)
    return abs(a - b) <= rel * abs(b) + 1e-300


def api_data() -> pd.DataFrame:
    """apiclus2 with the columns the R script adds (same definitions)."""
    df = pd.read_csv(FIXTURES / "api" / "apiclus2.csv")
    df["stratum"] = np.where(df.dnum % 2 == 0, "even", "odd")
    df["N1"] = np.where(df.stratum == "even", 380, 377)
    df["yes"] = (df["sch.wide"] == "Yes").astype(float)
    df["big"] = np.where(df["acs.k3"].isna(), np.nan, (df["acs.k3"] >= 20).astype(float))
    df["meals50"] = np.where(df.meals > 50, "high", "low")
    return df


@pytest.fixture(scope="module")
def designs():
    d = sk.Design(api_data(), strata="stratum", psu=["dnum", "snum"], fpc=["N1", "fpc2"])
    return {"strat2": d, "strat2_raked": d.rake({"stype": TYPES, "sch.wide": SCHWIDE})}


def expected(name):
    return pd.read_csv(VF / f"verbs_{name}.csv", keep_default_na=False, na_values=["NA", "NaN"])


def pick(df, **keys):
    for k, v in keys.items():
        df = df[df[k] == v]
    assert len(df) == 1, keys
    return df.iloc[0]


def assert_row(got, exp, columns):
    bad = {c: (float(got[c]), float(exp[c])) for c in columns if not close(got[c], exp[c])}
    assert not bad, bad


PROP = expected("proportion")


@pytest.mark.parametrize("case, stype, variable, method, df_arg",
                         sorted({(r.case, r.stype, r.variable, r.method, r.df_arg) for r in PROP.itertuples()}))
def test_proportion_equals_svyciprop(designs, case, stype, variable, method, df_arg):
    exp = pick(PROP, case=case, stype=stype, variable=variable, method=method, df_arg=df_arg)
    df = np.inf if df_arg == "Inf" else None   # R's df= argument: normal intervals
    got = designs[case].proportion(variable, by="stype" if stype else None, method=method, df=df)
    row = pick(got, stype=stype) if stype else got.iloc[0]
    assert list(got.columns) == (["stype"] if stype else []) + ["variable", "estimate", "se", "ci_low", "ci_high", "n"]
    assert_row(row, exp, ["estimate", "se", "ci_low", "ci_high"])


def test_proportion_df_and_n_are_the_domains(designs):
    """R's df for a domain: its first-stage units minus their strata (checked through the 'mean' interval)."""
    d = designs["strat2"]
    got = d.proportion("big", by="stype", method="mean")
    data = d.data
    for _, r in got.dropna(subset=["estimate"]).iterrows():
        rows = (data.stype == r.stype) & data.big.notna()
        assert r.n == rows.sum()
        exp = pick(PROP, case="strat2", stype=r.stype, variable="big", method="mean", df_arg="degf")
        assert exp.df == data.loc[rows, "dnum"].nunique() - data.loc[rows, "stratum"].nunique()


QUANT = expected("quantile")


@pytest.mark.parametrize("case, stype, variable, df_arg",
                         sorted({(r.case, r.stype, r.variable, r.df_arg) for r in QUANT.itertuples()}))
def test_quantile_equals_svyquantile(designs, case, stype, variable, df_arg):
    df = np.inf if df_arg == "Inf" else None
    got = designs[case].quantile(variable, [0.25, 0.5, 0.9], by="stype" if stype else None, df=df)
    assert list(got.columns) == (["stype"] if stype else []) + ["variable", "quantile", "estimate", "se", "ci_low",
                                                                 "ci_high"]
    for p in (0.25, 0.5, 0.9):
        exp = pick(QUANT, case=case, stype=stype, variable=variable, quantile=p, df_arg=df_arg)
        sel = got[(got["quantile"] == p) & ((got["stype"] == stype) if stype else True)]
        assert len(sel) == 1
        assert_row(sel.iloc[0], exp, ["estimate", "se", "ci_low", "ci_high"])


TAB = expected("table")


@pytest.mark.parametrize("case, meals50", sorted({(r.case, r.meals50) for r in TAB.itertuples()}))
def test_table_equals_svytotal_svymean_svytable(designs, case, meals50):
    d = designs[case]
    d = d.subset(d.data.meals50 == meals50) if meals50 else d
    got = d.table("stype", "sch.wide")
    exp = TAB[(TAB.case == case) & (TAB.meals50 == meals50)]
    assert len(got) == len(exp) == 6
    for _, e in exp.iterrows():
        g = pick(got, stype=e.stype, **{"sch.wide": e["sch.wide"]})
        assert_row(g, e, ["count", "count_se", "proportion", "proportion_se"])
        assert close(g["count"], e.svytable)


def test_table_by_domain_equals_subsets(designs):
    """``by`` gives each domain's table, as ``subset`` does (R: svyby of the subsets)."""
    d = designs["strat2_raked"]
    by = d.table("stype", "sch.wide", by="meals50")
    for lev in ("high", "low"):
        one = d.subset(d.data.meals50 == lev).table("stype", "sch.wide")
        part = by[by.meals50 == lev].drop(columns="meals50").reset_index(drop=True)
        pd.testing.assert_frame_equal(part, one, rtol=1e-12)


CHI = expected("chisq")


@pytest.mark.parametrize("case, meals50, row, col",
                         sorted({(r.case, r.meals50, r.row, r.col) for r in CHI.itertuples()}))
def test_chisq_equals_svychisq(designs, case, meals50, row, col):
    e = pick(CHI, case=case, meals50=meals50, row=row, col=col)
    d = designs[case]
    f = d.chisq(row, col, by="meals50") if meals50 else d.chisq(row, col)
    x = d.chisq(row, col, by="meals50", statistic="Chisq") if meals50 else d.chisq(row, col, statistic="Chisq")
    f, x = (pick(t, meals50=meals50) if meals50 else t.iloc[0] for t in (f, x))
    assert close(f.statistic, e.F) and close(f.ndf, e.F_ndf) and close(f.ddf, e.F_ddf) and close(f.p_value, e.F_p)
    assert close(x.statistic, e.chisq) and x.ndf == e.chisq_ndf and np.isinf(x.ddf) and close(x.p_value, e.chisq_p)


GLM = expected("glm")
MODELS = {"gaussian": ("api00 ~ ell + meals + C(stype)", "gaussian", None),
          "binomial": ("yes ~ ell + C(stype)", "binomial", None),
          "poisson": ("enroll ~ meals + C(stype)", "poisson", None),
          "gaussian_E": ("api00 ~ ell + meals", "gaussian", "E")}


def r_term(term: str) -> str:
    """R's name of a coefficient: (Intercept), stypeH for formulaic's Intercept, C(stype)[T.H]."""
    if term == "Intercept":
        return "(Intercept)"
    if term.startswith("C("):
        return term[2:term.index(")")] + term[term.index("[T.") + 3:-1]
    return term


@pytest.mark.parametrize("case, model", sorted({(r.case, r.model) for r in GLM.itertuples()}))
def test_glm_equals_svyglm(designs, case, model):
    formula, family, stype = MODELS[model]
    d = designs[case]
    d = d.subset(d.data.stype == stype) if stype else d
    got = d.glm(formula, family)
    exp = GLM[(GLM.case == case) & (GLM.model == model)]
    assert list(got.columns) == ["term", "estimate", "se", "t", "p_value", "ci_low", "ci_high"]
    assert [r_term(t) for t in got.term] == list(exp.term)
    assert got.attrs["df"] == exp.df.iloc[0]
    for (_, g), (_, e) in zip(got.iterrows(), exp.iterrows()):
        assert_row(g, e, ["estimate", "se", "t", "p_value", "ci_low", "ci_high"])
