"""Tests of surveykit.synth: the synthetic population, its truth, and the two-stage sample drawn from it.

The truth is checked against a direct recomputation from the population frame (contract 2 rule 1 via
``Scale.score``), and the design weights against the inclusion probabilities of the stated design.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from surveykit import synth
from surveykit.spec import load_questionnaire
from surveykit.demo import UNITS

ROOT = Path(__file__).resolve().parents[1]
QUESTIONNAIRE = ROOT / "questionnaires" / "ip_protection_satisfaction.yaml"
SCORE_FIXTURE = ROOT / "tests" / "fixtures" / "score" / "questionnaire.yaml"


@pytest.fixture(scope="module")
def q():
    return load_questionnaire(QUESTIONNAIRE)


@pytest.fixture(scope="module")
def y2026(q):
    return synth.generate_year(q, 2026, keep_population=True)


@pytest.fixture(scope="module")
def y2025(q):
    return synth.generate_year(q, 2025, keep_population=True)


def item_ids(q):
    return [i.id for i in q.items]


def scores(q, frame: pd.DataFrame) -> pd.DataFrame:
    """Item scores on 0-100 (contract 2 rule 1), NaN for blanks and missing codes, computed independently
    of synth's own truth code."""
    out = {}
    for item in q.items:
        sc = q.item_scale(item)
        x = frame[item.id].astype("float64")
        x = x.where(~x.isin(sc.missing))
        out[item.id] = sc.score(x, item.reverse)
    return pd.DataFrame(out, index=frame.index)


def first_level_of(q) -> dict[str, str]:
    parent = q.parent_of()
    out = {}
    for item in q.items:
        x = item.id
        while parent[x] != "index":
            x = parent[x]
        out[item.id] = x
    return out


# --- determinism and shape ---------------------------------------------------------------------------
def test_deterministic_and_years_differ(q, y2026, y2025):
    again = synth.generate_year(q, 2026, keep_population=True)
    pd.testing.assert_frame_equal(again.responses, y2026.responses)
    pd.testing.assert_frame_equal(again.truth_items, y2026.truth_items)
    pd.testing.assert_frame_equal(again.population_counts, y2026.population_counts)
    pd.testing.assert_frame_equal(again.population, y2026.population)
    assert not y2025.responses[item_ids(q)].equals(y2026.responses[item_ids(q)])
    other_seed = synth.generate_year(q, 2026, seed=7, target_n=3000)
    assert not other_seed.truth_items["value"].equals(y2026.truth_items["value"])


def test_columns_and_types(q, y2026):
    r = y2026.responses
    assert list(r.columns) == list(synth.FIXED_COLUMNS) + item_ids(q)
    assert r["respondent_id"].is_unique
    assert r["respondent_id"].iloc[0] == "2026-000001"
    assert (r["year"] == 2026).all()
    assert set(r["district"]) == {u.zh for u in UNITS}
    for item in item_ids(q):
        assert str(r[item].dtype) == "Int64"
    # attributes only where they apply
    holder = r["group"] == "holder"
    prof = r["group"] == "professional"
    for col in ("ownership", "firm_size", "right_type"):
        assert r.loc[holder, col].notna().all() and r.loc[~holder, col].isna().all()
    assert r.loc[prof, "profession"].notna().all() and r.loc[~prof, "profession"].isna().all()
    assert set(r.loc[holder, "ownership"]) == {"state", "private", "foreign", "jv"}
    # durations plausible, a few speeders; comments for about 5 %
    assert r["duration_sec"].between(10, 3 * 3600).all()
    assert 0.002 < (r["duration_sec"] < 2.5 * r[item_ids(q)].notna().sum(axis=1) + 10).mean() < 0.05
    assert 0.03 < r["comment"].notna().mean() < 0.07


@pytest.mark.parametrize("year", [2025, 2026])
def test_sample_sizes(q, year, y2025, y2026):
    r = {2025: y2025, 2026: y2026}[year].responses
    assert 17000 <= len(r) <= 23000
    per_unit = r.groupby("district").size()
    assert len(per_unit) == 17
    assert per_unit.min() >= 500 and per_unit.max() <= 2300
    streets = r.groupby("district")["street"].nunique()
    assert (streets >= 2).all()
    assert r.groupby("district")["street"].apply(lambda s: s.str.split("-s").str[0].nunique()).eq(1).all()


# --- design weights ----------------------------------------------------------------------------------
def test_weights_are_inverse_inclusion_probabilities(y2026):
    r = y2026.responses
    streets_sampled = r.groupby("district")["street"].transform("nunique")
    persons_sampled = r.groupby("street")["street"].transform("size")
    expected = (r["n_streets"] / streets_sampled) * (r["n_frame"] / persons_sampled)
    np.testing.assert_allclose(r["weight"], expected, rtol=1e-12)
    assert r["weight"].nunique() > 50  # unequal weights


def test_fpc_columns_match_population(y2026):
    p, r = y2026.population, y2026.responses
    n_streets = p.groupby("district")["street"].nunique()
    n_frame = p.groupby("street").size()
    assert (r["n_streets"].to_numpy() == r["district"].map(n_streets).to_numpy()).all()
    assert (r["n_frame"].to_numpy() == r["street"].map(n_frame).to_numpy()).all()
    assert p.groupby("district")["street"].nunique().between(12, 45).all()
    assert n_frame.between(150, 2500).all()
    assert p.groupby("district")["street"].nunique()["浦东新区"] == 45


def test_horvitz_thompson_totals_close_to_population(y2026):
    r, counts = y2026.responses, y2026.population_counts
    est = r.groupby(["district", "group"])["weight"].sum()
    true = counts.set_index(["district", "group"])["count"]
    unit_ratio = est.groupby(level=0).sum() / true.groupby(level=0).sum()
    assert unit_ratio.between(0.6, 1.4).all()
    assert abs(est.sum() / true.sum() - 1) < 0.12
    group_ratio = est.groupby(level=1).sum() / true.groupby(level=1).sum()
    assert group_ratio.between(0.85, 1.15).all()


def test_stage_one_is_srs_within_units(q):
    """Each street's selection frequency over many replicate draws is m_h/N_h (so (N_h/m_h) is its
    inverse stage-1 inclusion probability)."""
    fr = synth._build_frame(q, 20251123)
    _, m_h = synth._allocate(fr, 20000)
    rng = np.random.default_rng(1)
    reps = 4000
    hits = np.zeros(fr.street_unit.size)
    for _ in range(reps):
        chosen = synth._select_streets(fr, m_h, rng)
        hits += chosen
        assert (np.bincount(fr.street_unit, weights=chosen) == m_h).all()
    pi = m_h[fr.street_unit] / fr.unit_streets[fr.street_unit]
    se = np.sqrt(pi * (1 - pi) / reps)
    assert np.all(np.abs(hits / reps - pi) < 5 * se + 1e-12)


def test_stage_two_is_srs_within_streets():
    sizes = np.array([5, 8])
    street = np.repeat([0, 1], sizes)
    take = np.array([2, 3])
    rng = np.random.default_rng(2)
    reps = 5000
    hits = np.zeros(street.size)
    for _ in range(reps):
        chosen = synth._select_persons(street, take, sizes, rng)
        assert (np.bincount(street, weights=chosen) == take).all()
        hits += chosen
    pi = (take / sizes)[street]
    assert np.all(np.abs(hits / reps - pi) < 5 * np.sqrt(pi * (1 - pi) / reps))


def test_sample_rows_are_population_rows(q, y2026):
    p, r = y2026.population, y2026.responses
    sampled = p[p["respondent_id"].notna()].set_index("respondent_id")
    assert len(sampled) == len(r)
    r2 = r.set_index("respondent_id")
    cols = ["district", "street", "group", "ownership", "n_streets", "n_frame"] + item_ids(q)
    pd.testing.assert_frame_equal(sampled.loc[r2.index, cols], r2[cols])


# --- answers -----------------------------------------------------------------------------------------
def test_blanks_exactly_where_not_asked(q, y2026):
    for frame in (y2026.responses, y2026.population):
        for item in q.items:
            asked = frame["group"].isin(q.item_groups(item)).to_numpy()
            blank = frame[item.id].isna().to_numpy()
            assert (blank == ~asked).all(), item.id


def test_codes_on_scale_or_dont_know(q, y2026):
    r = y2026.responses
    values = r[item_ids(q)].stack().dropna()
    assert set(values.unique()) <= {1, 2, 3, 4, 5, 6}
    assert set(values.unique()) >= {2, 3, 4, 5, 6}


def test_dont_know_rates(q, y2026):
    r, p = y2026.responses, y2026.population
    items = item_ids(q)
    asked = r[items].notna().sum()
    dk = (r[items] == 6).sum()
    assert (dk / asked).between(0.02, 0.20).all()
    overall = dk.sum() / asked.sum()
    assert 0.03 < overall < 0.15
    # higher for the public than for professionals; per item and group within 1.5-20 % in the population
    rates = {g: (p.loc[p["group"] == g, items] == 6).sum() / p.loc[p["group"] == g, items].notna().sum()
             for g in q.group_ids}
    rates = pd.DataFrame(rates)
    assert rates.stack().dropna().between(0.015, 0.20).all()
    assert (rates["public"].dropna() > rates.loc[rates["public"].notna(), "professional"]).all()


# --- truth ---------------------------------------------------------------------------------------------
def test_truth_equals_recomputation_from_population(q, y2026):
    p, truth = y2026.population, y2026.truth_items
    sc = scores(q, p)
    t = truth.set_index(["district", "group", "item"])
    cells = [("浦东新区", "holder", "q01"), ("黄浦区", "public", "q30"), ("临港新片区", "professional", "q11"),
             ("崇明区", "holder", "q19"), ("静安区", synth.ALL_POOLED, "q21"), ("金山区", synth.ALL_POOLED, "q12")]
    for district, group, item in cells:
        mask = p["district"] == district
        if group != synth.ALL_POOLED:
            mask &= p["group"] == group
        x = sc.loc[mask, item].dropna()
        assert t.loc[(district, group, item), "value"] == pytest.approx(x.mean(), abs=1e-9)
        assert t.loc[(district, group, item), "n_pop"] == len(x)
    # no cell for an item not asked of a group
    assert not ((truth["group"] == "public") & (truth["item"] == "q10")).any()
    assert len(truth) == 17 * (sum(len(q.item_groups(i)) for i in q.items) + len(q.items))
    counts = p.groupby(["district", "group"]).size()
    pc = y2026.population_counts.set_index(["district", "group"])["count"]
    assert (pc.sort_index() == counts.sort_index()).all()


def test_weighted_sample_estimates_near_truth(q, y2026):
    r, truth = y2026.responses, y2026.truth_items
    sc = scores(q, r)
    w = r["weight"]
    est = (sc.mul(w, axis=0).sum() / sc.notna().mul(w, axis=0).sum())
    city = truth[truth["group"] == synth.ALL_POOLED].assign(s=lambda d: d["value"] * d["n_pop"])
    city = city.groupby("item")["s"].sum() / city.groupby("item")["n_pop"].sum()
    assert (est - city[est.index]).abs().max() < 1.5


def _pooled_district_means(truth):
    t = truth[truth["group"] == synth.ALL_POOLED]
    return t.groupby("district")["value"].mean()


def test_levels_year_effects_and_unit_differences(q, y2025, y2026):
    m25, m26 = _pooled_district_means(y2025.truth_items), _pooled_district_means(y2026.truth_items)
    assert m26.between(70, 90).all() and m25.between(70, 90).all()
    change = m26 - m25
    assert (change > 0.7).sum() >= 5 and (change < -0.5).sum() >= 3
    assert change.abs().max() < 5
    assert m26.max() - m26.min() > 2.0
    # group levels (city, item means pooled over units): professionals above the public
    t = y2026.truth_items
    t = t[t["group"] != synth.ALL_POOLED].assign(s=lambda d: d["value"] * d["n_pop"])
    g = t.groupby("group")["s"].sum() / t.groupby("group")["n_pop"].sum()
    assert g["professional"] > g["holder"] > g["public"]
    assert 74 < g["public"] and g["professional"] < 88
    # awareness is the lowest first-level indicator
    level = t.assign(dim=t["item"].map(first_level_of(q)))
    dims = level.groupby("dim")["s"].sum() / level.groupby("dim")["n_pop"].sum()
    assert dims.idxmin() == "awareness"


def test_items_correlate_within_first_level_indicators(q, y2026):
    r = y2026.responses
    sc = scores(q, r)
    top = first_level_of(q)
    for node in q.indicators:
        cols = [i for i in sc.columns if top[i] == node.id]
        c = sc.loc[r["group"] == "holder", cols].corr().to_numpy()
        mean_r = c[np.triu_indices(len(cols), 1)].mean()
        assert mean_r > 0.3, node.id


def test_outcome_driven_by_enforcement_most(q, y2026):
    p = y2026.population
    sc = scores(q, p[p["group"] == "holder"])
    top = first_level_of(q)
    dim = pd.DataFrame({n.id: sc[[i for i in sc.columns if top[i] == n.id]].mean(axis=1) for n in q.indicators})
    dim = dim.dropna()
    x = dim.drop(columns="outcome")
    design = np.column_stack([np.ones(len(x)), x.to_numpy()])
    beta = np.linalg.lstsq(design, dim["outcome"].to_numpy(), rcond=None)[0][1:]
    coefs = pd.Series(beta, index=x.columns)
    assert coefs.idxmax() == "enforcement"
    assert (coefs > 0).all()


def test_foreign_funded_gap_in_some_units(y2026, q):
    p = y2026.population
    h = p[p["group"] == "holder"]
    sc = scores(q, h).mean(axis=1)
    gap = sc.groupby([h["district"], h["ownership"]]).mean().unstack()
    gap = gap["foreign"] - gap["private"]
    assert (gap < -3).sum() >= 4 and (gap > -2.5).sum() >= 4


# --- files and other questionnaires ---------------------------------------------------------------------
def test_write_demo_byte_identical_with_bom(q, tmp_path, y2026):
    a = synth.write_demo(q, tmp_path / "a", years=(2025, 2026))
    b = synth.write_demo(q, tmp_path / "b", years=(2025, 2026))
    assert sorted(a) == sorted(f"{k}_{y}" for k in ("responses", "truth_items", "truth_scores", "population") for y in (2025, 2026))
    for key in a:
        assert a[key].read_bytes() == b[key].read_bytes(), key
        assert a[key].read_bytes().startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(a["responses_2026"], encoding="utf-8-sig")
    assert list(back.columns) == list(y2026.responses.columns)
    assert (back["weight"].to_numpy() == y2026.responses["weight"].to_numpy()).all()  # exact round trip
    assert back["q10"].isna().sum() == y2026.responses["q10"].isna().sum()
    assert back["comment"].dropna().tolist() == y2026.responses["comment"].dropna().tolist()
    assert back["district"].tolist() == y2026.responses["district"].tolist()
    assert a["responses_2025"].read_bytes() != a["responses_2026"].read_bytes()


def test_other_questionnaires(tmp_path):
    """Works for any valid questionnaire: reverse items, several missing codes, an item-level scale,
    unknown group ids, no 'outcome' or 'awareness' indicator."""
    q1 = load_questionnaire(SCORE_FIXTURE)
    s = synth.generate_year(q1, 2025, target_n=3000, keep_population=True)
    assert list(s.responses.columns) == list(synth.FIXED_COLUMNS) + item_ids(q1)
    assert set(s.responses[item_ids(q1)].stack().dropna().unique()) <= {1, 2, 3, 4, 5, 6}
    sc = scores(q1, s.population)
    x = sc.loc[(s.population["district"] == "徐汇区") & (s.population["group"] == "holder"), "q02"].dropna()
    t = s.truth_items.set_index(["district", "group", "item"])
    assert t.loc[("徐汇区", "holder", "q02"), "value"] == pytest.approx(x.mean(), abs=1e-9)
    # the reverse item scores like the others although its codes run the other way
    assert abs(sc["q02"].mean() - sc["q01"].mean()) < 8
    assert s.population["q02"].astype(float).where(lambda v: v <= 5).mean() < 2.5

    yaml = tmp_path / "q.yaml"
    yaml.write_text("""
id: other
version: "1"
title: {zh: 其他问卷}
scale: {min: 1, max: 5}
groups:
  column: respondent_type
  levels:
    - {id: firm, label: {zh: 企业}}
    - {id: citizen, label: {zh: 市民}}
indicators:
  - id: a
    label: {zh: 甲}
    items:
      - {id: x1, text: {zh: 题1}}
      - {id: x2, text: {zh: 题2}, groups: [firm]}
  - id: b
    label: {zh: 乙}
    items:
      - {id: x3, text: {zh: 题3}, scale: {min: 0, max: 10, missing: [99]}}
      - {id: x4, text: {zh: 题4}, reverse: true}
""", encoding="utf-8")
    q2 = load_questionnaire(yaml)
    s2 = synth.generate_year(q2, 2026, target_n=2000)
    r = s2.responses
    assert "respondent_type" in r.columns and set(r["respondent_type"]) == {"firm", "citizen"}
    assert r.loc[r["respondent_type"] == "citizen", "x2"].isna().all()
    assert set(r["x1"].dropna().unique()) <= {1, 2, 3, 4, 5}          # no missing code: no don't know
    x3 = set(r["x3"].dropna().unique())
    assert x3 <= set(range(11)) | {99} and 99 in x3 and len(x3) > 4
    assert r["ownership"].isna().all()
    assert 1500 <= len(r) <= 2500
