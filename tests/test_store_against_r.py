"""The results store against an independent computation in R (issue 12, item 1).

The fixture study in ``tests/fixtures/store`` (six units, three groups, two years, a stratified two-stage design with
fpc at both stages, raked on unit and group) goes through the production path -- the study file is loaded and the
store computed exactly as ``surveykit report`` does -- and every table the reports read is compared with the tables
``make_store_expected.R`` computed from the same input files with R's ``survey`` package and the contract text
alone (docs/CONTRACTS.md, contract 2): scores of every item, node and the index per unit and group and for the
city, their SEs, CIs, counts and suppression marks; sample counts and weight diagnostics; don't-know rates; each unit
against the rest of the city; group gaps; ownership gaps; year changes; the rank of every point estimate. Tolerance
1e-8 (relative, and absolute for values near zero). The intervals, z and p of the comparisons are recomputed here
from R's difference and SE (normal 95% interval, two-sided normal p); R supplies the Holm-adjusted p and the verdict.

This module does not import the scoring engine: only the pipeline entry points, in :func:`build_store`.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from .conftest import FIXTURES

STORE = FIXTURES / "store"
INPUTS = ["study.yaml", "questionnaire.yaml", "unit_aliases.yaml", "responses_2025.csv", "responses_2026.csv",
          "margins_2025.csv", "margins_2026.csv"]
UNIT = "district"
CITY = "全市"
RTOL, ATOL = 1e-8, 1e-8
Z95 = norm.ppf(0.975)


def build_store(folder: Path) -> dict:
    """The production path, and this module's only call into the pipeline: load the study written to ``folder``,
    compute its results store, and read every year back (``{year: tables}``, unit ids turned back into the units'
    names as R has them, the whole region as ``全市``, the declared ownership comparison as ``ownership_gap``)."""
    from surveykit.results import load_results
    from surveykit.spec.study import load_study
    from surveykit.workflow import ensure_results

    study = load_study(folder / "study.yaml")
    ensure_results(study)
    return {y: _named(load_results(study.results_dir, y)) for y in study.years}


def _named(r) -> SimpleNamespace:
    names = {u["id"]: u["zh"] for u in r.setting["units"]} | {"all": CITY}
    tables = {}
    for f in dataclasses.fields(r):
        t = getattr(r, f.name)
        if isinstance(t, pd.DataFrame) and "unit" in t.columns:
            t = t.assign(unit=t["unit"].map(names)).rename(columns={"unit": UNIT})
        tables[f.name] = t
    c = tables["comparisons"]
    tables["ownership_gap"] = c[c.comparison == "ownership"].drop(columns="comparison").reset_index(drop=True)
    return SimpleNamespace(**tables)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("store_study")
    for name in INPUTS:
        shutil.copy(STORE / name, folder / name)
    return build_store(folder)


def expected(name: str, year: int | None = None) -> pd.DataFrame:
    t = pd.read_csv(STORE / f"expected_{name}.csv", encoding="utf-8", keep_default_na=False, na_values=[""])
    return t if year is None else t[t.year == year].drop(columns="year").reset_index(drop=True)


def with_tests(t: pd.DataFrame, diff: str) -> pd.DataFrame:
    """R's difference and SE plus the 95% interval, z and two-sided p they imply (what the store must hold)."""
    t = t.copy()
    t["ci_low"], t["ci_high"] = t[diff] - Z95 * t["se"], t[diff] + Z95 * t["se"]
    t["z"] = t[diff] / t["se"]
    t["p_value"] = 2 * norm.sf(np.abs(t["z"]))
    return t


def compare(got: pd.DataFrame, want: pd.DataFrame, keys: list[str], numeric: list[str], exact: list[str] = (), *,
            se_where: str | None = None):
    """Same rows (by ``keys``), numeric columns within the tolerance (NaN where R has NA), other columns equal.

    ``se_where``: compare ``se`` only on the rows where R has a value of that column (an estimate or difference);
    the rows where it is missing are checked by the ``*_missing_*`` tests."""
    g = got.set_index(keys).sort_index()
    w = want.set_index(keys).sort_index()
    assert not g.index.duplicated().any() and not w.index.duplicated().any()
    assert g.index.equals(w.index), (sorted(set(g.index) ^ set(w.index)))[:10]
    for c in numeric:
        rows = w[se_where].notna().to_numpy() if (c == "se" and se_where) else np.ones(len(w), bool)
        np.testing.assert_allclose(g[c].to_numpy(float)[rows], w[c].to_numpy(float)[rows], rtol=RTOL, atol=ATOL,
                                   equal_nan=True, err_msg=f"column {c}")
    for c in exact:
        a, b = g[c].to_numpy(), w[c].to_numpy()
        bad = [(k, x, y) for k, x, y in zip(g.index, a, b) if x != y]
        assert not bad, f"column {c}: {bad[:5]}"


YEARS = [2025, 2026]


def _scores(year, city):
    r = with_tests(expected("scores", year), "estimate").drop(columns=["z", "p_value"])
    r = r[(r[UNIT] == CITY) == city]
    return r.drop(columns=UNIT) if city else r


@pytest.mark.parametrize("year", YEARS)
def test_unit_scores(store, year):
    got = store[year].scores_unit
    compare(got, _scores(year, False), [UNIT, "group", "node"], ["estimate", "se", "ci_low", "ci_high", "n"],
            ["suppressed"])


@pytest.mark.parametrize("year", YEARS)
def test_city_scores(store, year):
    compare(store[year].scores_city, _scores(year, True), ["group", "node"],
            ["estimate", "se", "ci_low", "ci_high", "n"], ["suppressed"])


@pytest.mark.parametrize("year", YEARS)
def test_sample_counts_and_weights(store, year):
    compare(store[year].sample, expected("sample", year), [UNIT, "group"], ["n", "sum_weights"])
    cols = ["n", "sum_weights", "min", "max", "mean", "cv", "deff_kish", "n_effective"]
    compare(store[year].weights, expected("weights", year), [UNIT, "stage"], cols)


@pytest.mark.parametrize("year", YEARS)
def test_dont_know_rates(store, year):
    got = store[year].dont_know
    assert (got.group == "all").all()
    want = expected("dk", year)             # the interval: R's svyciprop(method = "logit"), NA where p is 0 or 1
    compare(got, want, [UNIT, "item"], ["n_asked", "n_dont_know", "estimate", "se", "ci_low", "ci_high"], ["node"])


@pytest.mark.parametrize("year", YEARS)
def test_each_unit_against_the_rest_of_the_city(store, year):
    got = store[year].compare_rest
    assert (got.group == "all").all()
    cols = ["estimate", "estimate_rest", "difference", "se", "ci_low", "ci_high", "z", "p_value", "p_adj", "n",
            "n_rest"]
    compare(got, with_tests(expected("rest", year), "difference"), [UNIT, "node"], cols, ["verdict"],
            se_where="difference")


@pytest.mark.parametrize("year", YEARS)
def test_group_gaps(store, year):
    cols = ["gap", "se", "ci_low", "ci_high", "z", "p_value", "p_adj", "n_a", "n_b"]
    want = with_tests(expected("gaps", year), "gap")
    scores = expected("scores", year)[[UNIT, "group", "node", "estimate"]]
    for side in ("a", "b"):                                  # each group's own score, from R's score table
        want = want.merge(scores.rename(columns={"group": f"group_{side}", "estimate": f"estimate_{side}"}),
                          on=[UNIT, f"group_{side}", "node"], how="left", validate="many_to_one")
    compare(store[year].group_gaps, want, [UNIT, "group_a", "group_b", "node"], ["estimate_a", "estimate_b", *cols],
            ["verdict"], se_where="gap")


@pytest.mark.parametrize("year", YEARS)
def test_ownership_gaps(store, year):
    got = store[year].ownership_gap
    assert (got.group == "holder").all()
    assert (got.level_a == "foreign+jv").all() and (got.level_b == "state+private").all()
    cols = ["estimate_a", "estimate_b", "gap", "se", "ci_low", "ci_high", "z", "p_value", "p_adj", "n_a", "n_b"]
    compare(got, with_tests(expected("own", year), "gap"), [UNIT, "node"], cols, ["verdict"])


def test_year_changes(store):
    got = store[2026].year_change
    assert store[2025].year_change is None
    keys = [UNIT, "group", "node"]
    want = with_tests(expected("change", 2026), "change")
    for year, col in ((2026, "estimate"), (2025, "estimate_previous")):   # the two scores, from R's score table
        want = want.merge(expected("scores", year)[keys + ["estimate"]].rename(columns={"estimate": col}), on=keys,
                          how="left", validate="one_to_one")
    cols = ["estimate_previous", "estimate", "change", "se", "ci_low", "ci_high", "z", "p_value", "p_adj"]
    compare(got, want, keys, cols, ["verdict"])


@pytest.mark.parametrize("year", YEARS)
def test_rank_of_every_point_estimate(store, year):
    got = store[year].ranks
    assert (got.group == "all").all()
    compare(got, expected("ranks", year), [UNIT, "node"], ["estimate", "se", "rank", "n_units"], se_where="estimate")


# --- missing scores (2026: no professional of 己区 scored q08, so 己区's "all" scores above q08 are missing) ---------
def test_the_fixture_has_missing_scores(store):
    want = expected("scores", 2026)
    miss = want[want.estimate.isna()]
    assert set(miss[UNIT]) == {"己区"} and {"index", "enforce", "q08"} <= set(miss.node)
    assert expected("rest", 2026).difference.isna().sum() > 0 and expected("gaps", 2026).gap.isna().sum() > 0


@pytest.mark.parametrize("table, file, diff, keys", [
    ("compare_rest", "rest", "difference", [UNIT, "node"]),
    ("group_gaps", "gaps", "gap", [UNIT, "group_a", "group_b", "node"]),
    ("ranks", "ranks", "estimate", [UNIT, "node"]),
])
def test_a_missing_estimate_has_no_standard_error(store, table, file, diff, keys):
    """Where a score or a difference is missing (R: NA, the store: NaN and verdict no_data), its SE is missing too:
    not the SE of the other side alone, not 0."""
    want = expected(file, 2026)
    want = want[want[diff].isna()]
    got = getattr(store[2026], table).merge(want[keys], on=keys)
    assert len(got) == len(want) > 0
    assert got[diff].isna().all()
    bad = got[got.se.notna()]
    assert bad.empty, f"{table}: se given for a missing {diff}:\n{bad[keys + ['se']].to_string()}"


def test_the_store_does_not_need_a_node_called_outcome_overall(tmp_path, store):
    """Node ids come from the questionnaire, not from the package: the same study with its node ``outcome.overall``
    renamed computes the same store under the new name. (The fixture names a node ``outcome.overall`` only so that
    the comparisons above can run while the drivers step of the store assumes the demo questionnaire's node id.)"""
    for name in INPUTS:
        shutil.copy(STORE / name, tmp_path / name)
    qfile = tmp_path / "questionnaire.yaml"
    qfile.write_text(qfile.read_text(encoding="utf-8").replace("outcome.overall", "outcome.trend"), encoding="utf-8")
    renamed = build_store(tmp_path)
    for year in YEARS:
        want = store[year].scores_unit.replace({"node": {"outcome.overall": "outcome.trend"}})
        pd.testing.assert_frame_equal(renamed[year].scores_unit, want)
