"""Suppression of small or unreliable estimates, and don't-know rates (against R's survey and by hand)."""

import numpy as np
import pandas as pd
import pytest

import surveykit as sk
from surveykit.analysis import dont_know_rates, mark_small
from surveykit.errors import InputError

from .conftest import FIXTURES
from .test_analysis_common import demo  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def fx():
    q = sk.load_questionnaire(FIXTURES / "score" / "questionnaire.yaml")
    df = pd.read_csv(FIXTURES / "score" / "data.csv")
    return q, sk.Design(df, weights="w", strata="stratum", psu="psu", fpc="fpc")


def test_mark_small_rules_and_boundaries():
    t = pd.DataFrame({"estimate": [80.0, 0.02, 75.0, 60.0, 50.0, 0.0],
                      "se": [0.5, 0.01, 2.0, 18.0, 15.0, 0.0],
                      "n": [400, 900, 12, 30, 29, 50]})
    got = mark_small(t)
    # n = 30 is published, 29 is not; RSE = 0.30 exactly is published, 0.5 is not
    assert list(got["suppressed"]) == [False, True, True, False, True, False]
    assert list(got["flag"]) == ["", "RSE>30%", "n<30", "", "n<30", ""]
    np.testing.assert_allclose(got["rse"], [0.00625, 0.5, 2 / 75, 0.3, 0.3, np.nan])
    both = mark_small(pd.DataFrame({"estimate": [1.0], "se": [1.0], "n": [3]}))
    assert both["flag"].iloc[0] == "n<30; RSE>30%"
    custom = mark_small(t, min_n=10, max_rse=None)
    assert list(custom["suppressed"]) == [False, False, False, False, False, False]
    blanked = mark_small(t, blank=True)
    assert blanked.loc[blanked["suppressed"], "estimate"].isna().all()
    assert (blanked.loc[~blanked["suppressed"], "estimate"] == t.loc[~blanked["suppressed"], "estimate"]).all()
    assert t["estimate"].notna().all()                         # the input is not modified
    with pytest.raises(InputError, match="no column 'se'"):
        mark_small(t.drop(columns="se"))


def test_mark_small_on_a_score_table(fx):
    q, d = fx
    sc = sk.score(q, d, by="district")
    got = mark_small(sc, min_n=60)
    assert (got["small_n"] == (sc["n"] < 60)).all()
    assert got["small_n"].any() and not got["small_n"].all()
    assert list(got.columns[: len(sc.columns)]) == list(sc.columns)
    pd.testing.assert_frame_equal(got[sc.columns], sc)                     # the score columns are untouched
    np.testing.assert_allclose(got["rse"], sc["se"] / sc["estimate"].abs())
    assert (got["high_rse"] == (got["rse"] > 0.30)).all()
    assert (got["suppressed"] == (got["small_n"] | got["high_rse"])).all()


def test_dont_know_rates_match_r(fx):
    q, d = fx
    got = dont_know_rates(q, d, by="district", groups=None)
    exp = pd.read_csv(FIXTURES / "analysis" / "dont_know_expected.csv")
    m = exp.merge(got, on=["district", "group", "item"], how="left")
    assert len(m) == len(exp) == 39 and m["estimate"].notna().all()
    np.testing.assert_allclose(m["estimate"], m["rate"], atol=1e-14)
    np.testing.assert_allclose(m["se_y"], m["se_x"], rtol=1e-10)


def test_dont_know_counts_by_hand(fx):
    """n_asked = respondents of the group the item applies to with any answer (6 and 9 included, blanks not)."""
    q, d = fx
    df = d.data
    got = dont_know_rates(q, d, by="district", groups=["all", "holder"]).set_index(["district", "group", "item"])
    for item, groups in [("q01", None), ("q05", ["holder"])]:
        asked = df[item].notna() & (df["group"].isin(groups) if groups else True)
        for dist in "ABC":
            rows = df[asked & (df["district"] == dist)]
            r = got.loc[(dist, "all", item)]
            assert r["n_asked"] == len(rows)
            assert r["n_dont_know"] == rows[item].isin([6, 9]).sum()
            w = rows["w"]
            assert r["estimate"] == pytest.approx((w * rows[item].isin([6, 9])).sum() / w.sum(), rel=1e-12)
    # q05 is asked of holders only: no row for the public, and "all" equals "holder"
    assert ("A", "public", "q05") not in got.index
    assert got.loc[("A", "all", "q05"), "estimate"] == got.loc[("A", "holder", "q05"), "estimate"]


def test_dont_know_rate_equals_the_engine_mean_of_an_indicator(fx):
    """Second route: Design.mean of a 0/1 column that is blank where the item was not answered."""
    q, d = fx
    df = d.data.assign(dk=lambda t: np.where(t["q06"].isna(), np.nan, t["q06"].isin([6, 9]).astype(float)))
    d2 = sk.Design(df, weights="w", strata="stratum", psu="psu", fpc="fpc")
    exp = d2.mean("dk", by="district").set_index("district")
    got = dont_know_rates(q, d, by="district").query("item == 'q06'").set_index("district")
    np.testing.assert_allclose(got["estimate"], exp["estimate"], rtol=1e-12)
    np.testing.assert_allclose(got["se"], exp["se"], rtol=1e-10)
    assert (got["ci_low"] >= 0).all() and (got["ci_high"] <= 1).all()
    # the interval is svyciprop's logit interval (the proportion verb is checked against R in test_survey_verbs.py)
    logit = d2.proportion("dk", by="district", method="logit").set_index("district")
    np.testing.assert_allclose(got["ci_low"], logit["ci_low"], rtol=1e-10)
    np.testing.assert_allclose(got["ci_high"], logit["ci_high"], rtol=1e-10)
    p = got["estimate"].to_numpy()    # hand check: asymmetric around p, inside (0, 1)
    assert ((got["ci_low"] < p) & (p < got["ci_high"])).all() and not np.allclose(p - got["ci_low"], got["ci_high"] - p)


def test_dont_know_rates_on_the_demo(demo):
    """Demo rates are about 2-15% per item and group (synth.py), higher for specialised items and the public."""
    q, _, d = demo
    got = dont_know_rates(q, d, groups=None)
    assert len(got) == 31 + 31 + 28 + 24                        # all + holder + professional + public
    g = got.set_index(["group", "item"])["estimate"]
    assert g.between(0.005, 0.25).all()
    assert g.xs("public").mean() > g.xs("professional").mean()
    by = dont_know_rates(q, d, by="district")
    assert len(by) == 17 * 31 and set(by.columns) >= {"district", "node", "n_asked", "se"}
    # by hand, for every item of one district: the weighted share of don't-know (code 6) among those asked who
    # answered, the counts, and the item's parent node
    _, df, _ = demo
    parent = q.parent_of()
    one = by[by.district == "黄浦区"].set_index("item")
    assert len(one) == 31
    for item in q.items:
        asked = df["group"].isin(q.item_groups(item)) & df[item.id].notna() & (df.district == "黄浦区")
        x, w = df.loc[asked, item.id].astype(float), df.loc[asked, "weight"]
        r = one.loc[item.id]
        assert r.n_asked == asked.sum() and r.n_dont_know == (x == 6).sum() and r.node == parent[item.id]
        assert r.estimate == pytest.approx(float((w * (x == 6)).sum() / w.sum()), rel=1e-12)
        assert 0 < r.se < 0.1
