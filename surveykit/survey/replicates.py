"""Replicate-weight variance, for statistics that are not linear (ranks, quantiles, model coefficients...).

A :class:`ReplicateDesign` carries the full-sample weights and ``R`` sets of replicate weights; the variance of a
statistic ``theta`` is (R ``survey:::svrVar``)::

    v = scale * sum_r rscale_r * (theta_r - theta_bar)^2,   theta_bar = mean of the replicates (or theta, mse=True)

Replicates are made from a :class:`~surveykit.Design` by

* :meth:`Design.bootstrap` -- the Rao-Wu rescaling bootstrap (Rao & Wu 1988; Rao, Wu & Yue 1992): in each stratum
  draw ``m_h = n_h - 1`` of its ``n_h`` PSUs with replacement; PSU ``i`` drawn ``r_i`` times gets the multiplier
  ``1 - lambda_h + lambda_h * n_h/m_h * r_i`` with ``lambda_h = sqrt(1 - f_h)`` (``f_h`` = first-stage sampling
  fraction, 0 without fpc); ``scale = 1/(R-1)``. Without fpc this is R's ``as.svrepdesign(type="subbootstrap")``.
* :meth:`Design.jackknife` -- delete-one-PSU jackknife: JK1 for an unstratified design, JKn for a stratified one;
  PSU ``k`` of stratum ``h`` removed, the others of ``h`` multiplied by ``n_h/(n_h-1)``;
  ``rscale = f_h (n_h-1)/n_h`` with ``f_h = (N_h-n_h)/N_h`` (R's ``jk1weights``/``jknweights``).

When the design was post-stratified, raked or trimmed, every replicate's weights are calibrated again by the same
steps (replicate weights must carry the calibration, otherwise the variance ignores it).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .common import Z95, group_sum, numeric_matrix
from .estimates import estimate_table, variable_keys


class ReplicateDesign:
    """A design with replicate weights (R's ``svrep.design``); build it with ``Design.bootstrap`` or
    ``Design.jackknife``, or directly from replicate multipliers of the first-stage units.

    Parameters
    ----------
    design : the :class:`~surveykit.Design` the replicates belong to (data, domains, calibration steps).
    multipliers : (units x R) replicate factors of the first-stage units (PSUs, or rows without clusters).
    unit : per row, the index of its unit in ``multipliers``.
    scale, rscales : the variance constants (see module docstring).
    kind : a name for reports ("bootstrap", "JK1", "JKn", ...).
    mse : centre at the full-sample estimate instead of the replicate mean.
    """

    def __init__(self, design, multipliers: np.ndarray, unit: np.ndarray, scale: float, rscales: np.ndarray,
                 kind: str, mse: bool = False):
        self.design = design
        self.multipliers = np.asarray(multipliers, dtype=float)
        self.unit = np.asarray(unit, dtype=np.int64)
        self.scale = float(scale)
        self.rscales = np.asarray(rscales, dtype=float)
        self.kind = kind
        self.mse = mse

    @property
    def replicates(self) -> int:
        return self.multipliers.shape[1]

    def __repr__(self) -> str:
        return f"ReplicateDesign({self.kind}, {self.replicates} replicates, {self.design!r})"

    # --- weights --------------------------------------------------------------------------------------------
    def replicate_weights(self, r: int) -> np.ndarray:
        """Weights of replicate ``r``: design weights x the unit's multiplier, then the design's weighting steps."""
        d = self.design
        w = d.base_weights * self.multipliers[self.unit, r]
        for op in d.weight_steps:
            w = op(w)
        if d.subset_mask is not None:
            w = np.where(d.subset_mask, w, 0.0)
        return w

    def variance(self, full: np.ndarray, reps: np.ndarray) -> np.ndarray:
        """``reps``: (R x ...) replicate estimates; returns the variance of each estimate (R's svrVar)."""
        ok = self.rscales > 0
        centre = full if self.mse else np.nanmean(reps[ok], axis=0)
        dev = reps - centre
        return self.scale * np.tensordot(self.rscales, dev * dev, axes=(0, 0))

    # --- estimates ------------------------------------------------------------------------------------------
    def estimate_with_replicates(self, fn: Callable[[np.ndarray], object]) -> pd.DataFrame:
        """Any statistic ``fn(weights) -> number | array | Series`` with its replicate SE.

        ``fn`` receives a weight vector (one per row of the design's data; 0 outside a subset) and returns the
        statistic; it is called once with the full-sample weights and once per replicate. Returns a DataFrame with
        ``name``, ``estimate``, ``se``, ``ci_low``, ``ci_high`` (normal 95% intervals).

        Example
        -------
        >>> import numpy as np, pandas as pd, surveykit as sk
        >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "psu": [1, 1, 2, 2, 3, 3]})
        >>> reps = sk.Design(df, psu="psu").jackknife()
        >>> reps.estimate_with_replicates(lambda w: np.average(df.y, weights=w)).round(4)  # sqrt(2/3 * (1+0+1))
           name  estimate      se  ci_low  ci_high
        0     0       3.5  1.1547  1.2368   5.7632
        """
        full = fn(self.design.weights.to_numpy())
        names = list(full.index) if isinstance(full, pd.Series) else (
            list(range(np.size(full))) if np.ndim(full) else [0])
        full_arr = np.atleast_1d(np.asarray(full, dtype=float)).ravel()
        reps = np.empty((self.replicates, full_arr.size))
        for r in range(self.replicates):
            reps[r] = np.atleast_1d(np.asarray(fn(self.replicate_weights(r)), dtype=float)).ravel()
        se = np.sqrt(self.variance(full_arr, reps))
        return pd.DataFrame({"name": names, "estimate": full_arr, "se": se, "ci_low": full_arr - Z95 * se,
                             "ci_high": full_arr + Z95 * se})

    def _ratio_reps(self, num: np.ndarray, den: np.ndarray, names: list[str], by, total: bool) -> pd.DataFrame:
        d = self.design
        codes, table = d.domains(by)
        nd = len(table)
        ok = ~(np.isnan(num) | np.isnan(den))
        y, x = np.where(ok, num, 0.0), np.where(ok, den, 0.0)

        def stat(w: np.ndarray) -> np.ndarray:
            ty = group_sum(codes, nd, y * w[:, None])
            if total:
                return ty
            tx = group_sum(codes, nd, x * w[:, None])
            with np.errstate(divide="ignore", invalid="ignore"):
                return ty / tx

        w_full = d.weights.to_numpy()
        full = stat(w_full)
        if not d.weight_steps:
            # replicate weights are unit multipliers: aggregate once per (unit, domain), then one product
            n_units = self.multipliers.shape[0]
            key = self.unit * nd + codes
            ty_u = group_sum(key, n_units * nd, y * w_full[:, None]).reshape(n_units, nd, -1)
            tx_u = group_sum(key, n_units * nd, x * w_full[:, None]).reshape(n_units, nd, -1)
            ty_r = np.tensordot(self.multipliers.T, ty_u, axes=(1, 0))
            with np.errstate(divide="ignore", invalid="ignore"):
                reps = ty_r if total else ty_r / np.tensordot(self.multipliers.T, tx_u, axes=(1, 0))
        else:
            reps = np.stack([stat(self.replicate_weights(r)) for r in range(self.replicates)])
        se = np.sqrt(self.variance(full, reps))
        count = group_sum(codes, nd, (ok & (w_full > 0)[:, None]).astype(float))
        return estimate_table(variable_keys(table, names, by), full.T.ravel(), se.T.ravel(), count.T.ravel())

    def mean(self, variables: str | Sequence[str], by=None) -> pd.DataFrame:
        """Weighted means with replicate SEs, per domain (R: ``svyby(~y, ~by, repdesign, svymean)``)."""
        y, names = numeric_matrix(self.design.data, variables)
        return self._ratio_reps(y, np.where(np.isnan(y), np.nan, 1.0), names, by, total=False)

    def total(self, variables: str | Sequence[str], by=None) -> pd.DataFrame:
        y, names = numeric_matrix(self.design.data, variables)
        return self._ratio_reps(y, np.where(np.isnan(y), np.nan, 1.0), names, by, total=True)

    def ratio(self, numerator: str, denominator: str, by=None) -> pd.DataFrame:
        y, _ = numeric_matrix(self.design.data, numerator)
        x, _ = numeric_matrix(self.design.data, denominator)
        return self._ratio_reps(y, x, [f"{numerator}/{denominator}"], by, total=False)


def rao_wu_multipliers(design, replicates: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Rao-Wu rescaling bootstrap multipliers (units x R) of the first-stage units, and each row's unit."""
    if replicates < 2:
        raise InputError("the bootstrap needs at least 2 replicates")
    st = design.stages[0]
    rng = np.random.default_rng(seed)
    mult = np.empty((st.n_clusters, replicates))
    for h in range(st.n_groups):
        units = np.flatnonzero(st.parent == h)
        n = len(units)
        if n < 2:
            raise InputError("a stratum with a single PSU cannot be bootstrapped; merge strata first")
        m = n - 1
        lam = np.sqrt(st.f[h])  # st.f = (N-n)/N = 1 - sampling fraction; 1 without fpc
        draws = rng.integers(0, n, size=(m, replicates))
        counts = np.zeros((n, replicates))
        np.add.at(counts, (draws, np.arange(replicates)[None, :]), 1.0)
        mult[units] = 1.0 - lam + lam * (n / m) * counts
    return mult, st.cluster


def jackknife_multipliers(design) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Delete-one-PSU multipliers (units x units), each row's unit, and the rscales f_h (n_h-1)/n_h."""
    st = design.stages[0]
    n_units = st.n_clusters
    mult = np.ones((n_units, n_units))
    rscales = np.empty(n_units)
    for h in range(st.n_groups):
        units = np.flatnonzero(st.parent == h)
        n = len(units)
        if n < 2:
            raise InputError("a stratum with a single PSU cannot be jackknifed; merge strata first")
        for k in units:
            mult[units, k] = n / (n - 1)
            mult[k, k] = 0.0
            rscales[k] = st.f[h] * (n - 1) / n
    return mult, st.cluster, rscales
