"""sk.score against values computed independently in R (tests/fixtures/score/make_score_fixture.R)."""

import numpy as np
import pandas as pd
import pytest

import surveykit as sk
from surveykit.errors import InputError
from surveykit.scoring import rollup

from .conftest import FIXTURES

F = FIXTURES / "score"
REL = 1e-8


@pytest.fixture(scope="module")
def design():
    df = pd.read_csv(F / "data.csv")
    return sk.Design(df, weights="w", strata="stratum", psu="psu", fpc="fpc")


@pytest.mark.parametrize("questionnaire, expected, by", [
    ("questionnaire.yaml", "expected_by_district.csv", ["district"]),
    ("questionnaire.yaml", "expected_overall.csv", None),
    ("questionnaire_pooled.yaml", "expected_pooled_by_district.csv", ["district"]),
])
def test_every_score_and_se_matches_r(design, questionnaire, expected, by):
    q = sk.load_questionnaire(F / questionnaire)
    got = sk.score(q, design, by=by)
    assert list(got.columns) == (by or []) + ["group", "node", "estimate", "se", "ci_low", "ci_high", "n"]
    exp = pd.read_csv(F / expected)
    keys = (by or []) + ["group", "node"]
    m = exp.merge(got, on=keys, how="outer", suffixes=("_r", "_py"), indicator=True)
    assert (m["_merge"] == "both").all(), m[m["_merge"] != "both"][keys + ["_merge"]]
    np.testing.assert_allclose(m.estimate_py, m.estimate_r, rtol=REL, atol=0)
    np.testing.assert_allclose(m.se_py, m.se_r, rtol=REL, atol=0)
    assert (m.n_py == m.n_r).all()
    np.testing.assert_allclose(m.ci_high - m.estimate_py, 1.959963984540054 * m.se_r, rtol=1e-9)


def test_two_stage_design_matches_r():
    """PSUs then respondents, fpc at both stages (the demo's design): the element stage enters the variance."""
    df = pd.read_csv(F / "data.csv")
    d = sk.Design(df, weights="w", strata="stratum", psu=["psu", "id"], fpc=["fpc", "fpc2"])
    q = sk.load_questionnaire(F / "questionnaire.yaml")
    got = sk.score(q, d, by="district")
    exp = pd.read_csv(F / "expected_twostage_by_district.csv")
    m = exp.merge(got, on=["district", "group", "node"], how="outer", indicator=True)
    assert (m["_merge"] == "both").all()
    np.testing.assert_allclose(m.estimate_y, m.estimate_x, rtol=REL, atol=0)
    np.testing.assert_allclose(m.se_y, m.se_x, rtol=REL, atol=0)
    # the second stage adds variance: every SE differs from the one-stage design's
    one = pd.read_csv(F / "expected_by_district.csv").merge(exp, on=["district", "group", "node"])
    assert (one.se_y > one.se_x).mean() > 0.9


def test_rollup_coefficients_by_hand():
    """law = 0.6/(0.6+0.4) of index; law.statutes weight 1.5 vs law.policy 1; q03 weight 2 in its node."""
    q = sk.load_questionnaire(F / "questionnaire.yaml")
    ru = rollup(q)
    el = {e: k for k, e in enumerate(ru.elements)}
    it = {i: k for k, i in enumerate(ru.items)}
    c = ru.coef["public"]
    # for the public, effect.infringement does not apply: effect == effect.overall
    assert not ru.applies["public"][el["effect.infringement"]]
    np.testing.assert_allclose(c[:, el["effect"]], c[:, el["effect.overall"]])
    # the index coefficients of one group sum to one
    for g in q.group_ids:
        assert ru.coef[g][:, el["index"]].sum() == pytest.approx(1.0)
    statutes = [i.id for i in q.nodes if i.id == "law.statutes"][0]
    node = next(n for n in q.nodes if n.id == statutes)
    ws = {i.id: i.weight for i in node.items}
    for i, wt in ws.items():
        assert ru.coef["holder"][it[i], el[statutes]] == pytest.approx(wt / sum(ws.values()))


def test_all_is_group_weighted_sum(design):
    q = sk.load_questionnaire(F / "questionnaire.yaml")
    s = sk.score(q, design, by="district").set_index(["district", "group", "node"])["estimate"]
    gw = q.group_weights
    for dist in "ABC":
        manual = sum(gw[g] * s[(dist, g, "index")] for g in q.group_ids)
        assert s[(dist, "all", "index")] == pytest.approx(manual, rel=1e-12)


def test_out_of_scale_answer_is_refused_with_row_and_column(design):
    q = sk.load_questionnaire(F / "questionnaire.yaml")
    df = design.data.copy()
    df.loc[df.index[4], "q03"] = 7
    df.attrs.update(source="data.csv", file_rows=np.arange(len(df)) + 2)
    d = sk.Design(df, weights="w", strata="stratum", psu="psu", fpc="fpc")
    with pytest.raises(InputError, match=r"data.csv, row 6, column 'q03': answer 7(\.0)? is outside the scale"):
        sk.score(q, d)


def test_item_scores_by_hand_with_codes_between_and_off_the_scale():
    """Rule 1 by hand on the fixture's scale 1..5 with missing codes 6 and 9: 7 and 8 lie between them, 2.5 is not a
    code, 0 and 10 are off the table; q02 is reversed, q05 is asked of holders only."""
    from surveykit.scoring import item_score_matrix
    q = sk.load_questionnaire(F / "questionnaire.yaml")
    items = [i.id for i in q.items]
    df = pd.DataFrame({i: [3.0] * 5 for i in items} | {"group": ["holder", "public", "holder", "holder", "holder"]})
    df["q01"] = [1.0, 5, 6, 9, np.nan]
    df["q02"] = [1.0, 5, 2, 3, 4]
    df["q05"] = [5.0, 5, 6, 1, 2]
    got = pd.DataFrame(item_score_matrix(q, df), columns=items)
    np.testing.assert_array_equal(got["q01"], [0.0, 100.0, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(got["q02"], [100.0, 0.0, 75.0, 50.0, 25.0])
    np.testing.assert_array_equal(got["q05"], [100.0, np.nan, np.nan, 0.0, 25.0])
    np.testing.assert_array_equal(got["q03"], [50.0] * 5)
    df["q01"] = [7.0, 8, 2.5, 0, np.inf]
    with pytest.raises(InputError, match=r"column 'q01': answer 7 is outside the scale .*; 5 such value"):
        item_score_matrix(q, df)
    assert np.isnan(item_score_matrix(q, df, check=False)[:, 0]).all()


def test_unknown_group_is_refused(design):
    q = sk.load_questionnaire(F / "questionnaire.yaml")
    df = design.data.copy()
    df.loc[df.index[10], "group"] = "lawyers"
    df.attrs.update(source="data.csv", file_rows=np.arange(len(df)) + 2)
    d = sk.Design(df, weights="w", strata="stratum", psu="psu", fpc="fpc")
    with pytest.raises(InputError, match=r"row 12, column 'group': unknown group 'lawyers'"):
        sk.score(q, d)


def test_empty_cell_gives_nan_not_a_guess(design):
    """A group with no respondent in a district: its scores and the 'all' score are NaN there, others unaffected."""
    q = sk.load_questionnaire(F / "questionnaire.yaml")
    df = design.data[~((design.data.district == "A") & (design.data.group == "public"))]
    d = sk.Design(df, weights="w", strata="stratum", psu="psu", fpc="fpc")
    s = sk.score(q, d, by="district").set_index(["district", "group", "node"])
    assert np.isnan(s.loc[("A", "public", "index"), "estimate"])
    assert np.isnan(s.loc[("A", "all", "index"), "estimate"])
    assert np.isfinite(s.loc[("B", "all", "index"), "estimate"])
    assert np.isfinite(s.loc[("A", "holder", "index"), "estimate"])


def _joint(q, d, nodes, group):
    """The rows of ``nodes`` for ``group`` by district from score_estimates, as (table, Estimates of them)."""
    from surveykit.scoring import score_estimates
    e = score_estimates(q, d, by="district")
    sub = e.take(np.flatnonzero((e.keys.group == group).to_numpy() & e.keys.node.isin(nodes).to_numpy()))
    return sub.keys.assign(estimate=sub.estimate), sub


@pytest.mark.parametrize("questionnaire", ["questionnaire.yaml", "questionnaire_pooled.yaml"])
@pytest.mark.parametrize("group", ["all", "holder", "public"])
def test_score_estimates_give_the_r_checked_ses_through_vcov(design, questionnaire, group):
    """score_estimates(...).vcov(): the diagonal is score()'s SE (itself equal to R's), also after raking."""
    q = sk.load_questionnaire(F / questionnaire)
    for d in (design, design.rake({"district": {"A": 3000, "B": 4000, "C": 3500},
                                   "group": {"holder": 4000, "professional": 2500, "public": 4000}})):
        s = sk.score(q, d, by="district")
        t, e = _joint(q, d, ["index", "law", "effect.infringement", "q05"], group)
        v = e.vcov()
        m = t.merge(s, on=["district", "group", "node"])
        assert len(m) == len(t) == v.shape[1]
        np.testing.assert_allclose(m.estimate_x, m.estimate_y, rtol=1e-12)
        np.testing.assert_allclose(np.sqrt(np.diag(v)), m.se, rtol=1e-10)


def test_score_estimates_empty_cell_is_missing(design):
    q = sk.load_questionnaire(F / "questionnaire.yaml")
    df = design.data[~((design.data.district == "A") & (design.data.group == "public"))]
    d = sk.Design(df, weights="w", strata="stratum", psu="psu", fpc="fpc")
    for group in ("public", "all"):
        t, e = _joint(q, d, ["index"], group)
        a = t.index[t.district == "A"][0]
        assert np.isnan(t.estimate[a]) and not e.vcov()[:, a].any()
        s = sk.score(q, d, by="district").set_index(["district", "group", "node"])
        b = t.index[t.district == "B"][0]
        assert t.estimate[b] == pytest.approx(s.loc[("B", group, "index"), "estimate"], rel=1e-12)


def test_two_by_columns_keep_their_names(design):
    q = sk.load_questionnaire(F / "questionnaire.yaml")
    out = sk.score(q, design, by=["district", "stratum"])
    assert list(out.columns[:2]) == ["district", "stratum"]
    assert list(design.mean("q01", by=["district", "group"]).columns[:2]) == ["district", "group"]
    # and the rows are those of one combined domain column (each district is one stratum here: A/SA, B/SB, C/SC)
    df = design.data.assign(both=design.data["district"] + "/" + design.data["stratum"])
    one = sk.score(q, sk.Design(df, weights="w", strata="stratum", psu="psu", fpc="fpc"), by="both")
    assert sorted(set(out["district"] + "/" + out["stratum"])) == ["A/SA", "B/SB", "C/SC"]
    pd.testing.assert_frame_equal(out.drop(columns=["district", "stratum"]), one.drop(columns="both"))
    m = design.mean("q01", by=["district", "group"])
    for (dist, grp), t in m.groupby(["district", "group"]):
        sub = design.data[(design.data.district == dist) & (design.data.group == grp) & design.data.q01.notna()]
        assert t.estimate.iloc[0] == pytest.approx(np.average(sub.q01, weights=sub.w), rel=1e-12)


def test_batched_contrasts_do_not_spread_a_missing_estimate():
    """Contrasts computed together: one using a missing estimate is missing, the others keep their value and SE
    (0 x NaN must not leak into them). Hand values: differences of the estimates, SE from the covariance."""
    import surveykit as sk
    from surveykit.scoring import score_estimates
    q = sk.load_questionnaire(F / "questionnaire.yaml")
    df = pd.read_csv(F / "data.csv")
    df.loc[(df.district == "A") & (df.group == "professional"), ["q06", "q07"]] = np.nan  # an empty cell
    d = sk.Design(df, weights="w", strata="stratum", psu="psu", fpc="fpc")
    e = score_estimates(q, d, by=["district"])
    t = e.to_frame()
    pos = {k: i for i, k in enumerate(zip(t.district, t.group, t.node))}
    bad, a, b = pos[("A", "professional", "effect")], pos[("B", "holder", "index")], pos[("B", "public", "index")]
    assert np.isnan(t.estimate[bad])
    c = np.zeros((2, len(e)))
    c[0, bad], c[0, a] = 1, -1
    c[1, a], c[1, b] = 1, -1
    out = e.contrast(c)
    v = e.vcov([a, b])
    assert np.isnan(out.estimate[0]) and np.isnan(out.se[0])
    assert out.estimate[1] == pytest.approx(t.estimate[a] - t.estimate[b], rel=1e-12)
    assert out.se[1] == pytest.approx(np.sqrt(v[0, 0] + v[1, 1] - 2 * v[0, 1]), rel=1e-12)
