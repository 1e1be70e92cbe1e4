"""The Rao-Wu rescaling bootstrap (issue 12, item 3): the multipliers against their formula, and a bootstrapped
total against R's ``survey`` on the same draws.

Formula (Rao & Wu 1988; Rao, Wu & Yue 1992), first-stage units of stratum h, ``n_h`` sampled of ``N_h``: draw
``m_h = n_h - 1`` of them with replacement; a unit drawn ``r`` times gets the multiplier
``1 - lambda_h + lambda_h * n_h / m_h * r`` with ``lambda_h = sqrt(1 - f_h)``, ``f_h = n_h / N_h`` (``lambda_h = 1``
without fpc). Inverting it with lambda and the rescale computed here from the data, every multiplier must give a
whole number of draws ``r >= 0`` and the draws of a stratum must add up to ``n_h - 1`` in every replicate: ignoring
the fpc (lambda = 1) or dropping the ``n_h / m_h`` rescale breaks both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import surveykit as sk

from .conftest import FIXTURES

BOOT = FIXTURES / "bootstrap"
RESPONSES = FIXTURES / "store" / "responses_2026.csv"


def _design(fpc: bool = True) -> sk.Design:
    df = pd.read_csv(RESPONSES, encoding="utf-8")
    df["is_public"] = (df["group"] == "public").astype(float)
    return sk.Design(df, weights="weight", strata="district", psu="street", fpc="n_streets" if fpc else None)


def _per_psu(d: sk.Design, reps) -> pd.DataFrame:
    """The multipliers of each PSU (rows: streets, columns: replicates), read through the rows' unit index."""
    first = pd.Series(range(len(d.data))).groupby(d.data["street"].to_numpy()).first()
    return pd.DataFrame(reps.multipliers[reps.unit[first.to_numpy()]], index=first.index)


def _draws(d: sk.Design, mult: pd.DataFrame, *, fpc: bool) -> dict[str, np.ndarray]:
    """Invert the formula per stratum: r = (multiplier - 1 + lambda) / (lambda * n / (n - 1))."""
    data = d.data
    out = {}
    for h, rows in data.groupby("district"):
        streets = sorted(rows["street"].unique())
        n = len(streets)
        f = n / rows["n_streets"].iloc[0] if fpc else 0.0
        lam = np.sqrt(1.0 - f)
        out[h] = (mult.loc[streets].to_numpy() - 1.0 + lam) / (lam * n / (n - 1))
    return out


@pytest.mark.parametrize("fpc", [True, False])
def test_multipliers_follow_the_rao_wu_formula(fpc):
    d = _design(fpc)
    reps = d.bootstrap(300, seed=11)
    draws = _draws(d, _per_psu(d, reps), fpc=fpc)
    for h, r in draws.items():
        n = r.shape[0]
        np.testing.assert_allclose(r, np.round(r), atol=1e-9, err_msg=f"{h}: not a whole number of draws")
        assert (np.round(r) >= 0).all(), h
        np.testing.assert_allclose(r.sum(axis=0), n - 1, atol=1e-9, err_msg=f"{h}: draws do not add to n - 1")
        # every PSU is drawn with probability 1/n: mean draws (n - 1)/n; 300 replicates, 5 Monte Carlo SEs
        sd = np.sqrt((n - 1) * (1 / n) * (1 - 1 / n) / 300)
        assert np.abs(r.mean(axis=1) - (n - 1) / n).max() < 5 * sd, h


def test_the_formula_check_detects_a_wrong_lambda_or_a_missing_rescale():
    """The inversion above would fail for multipliers made without the fpc or without the n/(n-1) rescale."""
    d = _design(True)
    reps = d.bootstrap(50, seed=3)
    mult = _per_psu(d, reps)
    draws = _draws(d, mult, fpc=True)
    for h, r in draws.items():
        counts = np.round(r)
        n = counts.shape[0]
        lam = np.sqrt(1 - n / d.data.loc[d.data.district == h, "n_streets"].iloc[0])
        no_fpc = counts * n / (n - 1)                           # lambda = 1
        no_rescale = 1 - lam + lam * counts                     # n/m dropped
        for wrong in (no_fpc, no_rescale):
            back = (wrong - 1.0 + lam) / (lam * n / (n - 1))
            assert not (np.allclose(back, np.round(back), atol=1e-9) and np.allclose(back.sum(0), n - 1)), h


def _r_totals() -> pd.DataFrame:
    return pd.read_csv(BOOT / "expected_totals.csv", encoding="utf-8", keep_default_na=False)


@pytest.fixture(scope="module")
def exported():
    """surveykit's draws as exported for R (make_bootstrap_draws.py): the same seed gives the same multipliers."""
    m = pd.read_csv(BOOT / "multipliers.csv", encoding="utf-8").set_index("street")
    d = _design(True)
    reps = d.bootstrap(m.shape[1], seed=20260513)
    np.testing.assert_array_equal(_per_psu(d, reps).loc[m.index].to_numpy(), m.to_numpy())
    return d, reps


def test_bootstrapped_total_matches_r_on_the_same_draws(exported):
    d, reps = exported
    want = _r_totals()
    t_cols = [c for c in want.columns if c.startswith("t")]
    for var in ("is_public", "duration_sec"):
        w = want[(want.district == "") & (want.variable == var)].iloc[0]
        got = reps.total(var).iloc[0]
        assert got.estimate == pytest.approx(w.estimate, rel=1e-12)
        assert got.se == pytest.approx(w.se, rel=1e-10)
        x = d.data[var].to_numpy(float)
        reps_ours = [np.sum(x * reps.replicate_weights(r)) for r in range(reps.replicates)]
        np.testing.assert_allclose(reps_ours, w[t_cols].to_numpy(float), rtol=1e-12)


def test_bootstrapped_domain_totals_match_r(exported):
    d, reps = exported
    want = _r_totals()
    want = want[want.district != ""].set_index("district")
    got = reps.total("duration_sec", by="district").set_index("district")
    assert sorted(got.index) == sorted(want.index)
    np.testing.assert_allclose(got.loc[want.index, "estimate"], want.estimate, rtol=1e-12)
    np.testing.assert_allclose(got.loc[want.index, "se"], want.se, rtol=1e-10)
