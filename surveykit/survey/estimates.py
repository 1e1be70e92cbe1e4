"""Estimates with their influence functions: the one result type of the engine, and the one tidy table.

An :class:`Estimates` holds what R's ``svyby(..., influence=TRUE)`` holds: a table of estimates (their key
columns, ``estimate`` and ``n``), the influence functions of all of them (an
:class:`~surveykit.survey.variance.Influence`, kept as sufficient statistics where it can be) and the design. From
these it gives the standard errors (:attr:`Estimates.se`), the covariance matrix of any of them
(:meth:`Estimates.vcov`; R ``vcov``), linear contrasts with their SEs (:meth:`Estimates.contrast`; R
``svycontrast``) and the tidy table of contract 4 (:meth:`Estimates.to_frame`), built by :func:`estimate_table`
-- the only place the tidy estimate table is built (linearised or replicate SEs alike).

The verbs that return tidy DataFrames (``Design.mean/total/ratio``, ``surveykit.score``) are
``....to_frame()`` of their siblings that return :class:`Estimates` (``Design.estimates``,
``surveykit.scoring.score_estimates``).

Linear estimators of a design (Särndal, Swensson & Wretman 1992, §5.6-5.9; Lumley 2010, §2.3 and appendix C),
:func:`ratio_estimates`:

* total ``Y_D = sum_{i in D} w_i y_i``; influence ``z_i = w_i y_i 1[i in D]``;
* ratio ``R_D = sum_D w_i y_i / sum_D w_i x_i``; influence ``z_i = w_i (y_i - R_D x_i) 1[i in D] / sum_D w_i x_i``;
* mean = ratio with ``x = 1`` (so a domain mean is a ratio estimator, as in R's ``svymean`` on a subset).

Confidence intervals are normal, ``estimate ± 1.96·SE`` (``scipy.stats.norm.ppf(0.975)``).

Example
-------
>>> import pandas as pd, surveykit as sk
>>> df = pd.DataFrame({"y": [1., 2, 3, 4], "h": [1, 1, 2, 2], "w": [2., 2, 3, 3]})
>>> e = sk.Design(df, weights="w", strata="h").estimates("mean", "y")
>>> e.to_frame().round(4)[["variable", "estimate", "se"]]    # 27/10; by hand: sqrt(2*0.02 + 2*0.045)
  variable  estimate      se
0        y       2.7  0.3606
>>> e.contrast([[2.0]]).round(4)[["estimate", "se"]]
   estimate      se
0       5.4  0.7211
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np
import pandas as pd

from .common import Z95, as_list, group_sum
from .variance import DesignState, Influence, RowInfluence, variance

RESULT_COLUMNS = ["estimate", "se", "ci_low", "ci_high", "n"]
ESTIMATE_COLUMNS = ["variable", *RESULT_COLUMNS]


def estimate_table(keys: pd.DataFrame, estimate, se, n, **extra) -> pd.DataFrame:
    """The tidy table: the ``keys`` columns, ``estimate``, ``se``, ``ci_low``, ``ci_high`` (normal 95%), ``n``, then
    the ``extra`` columns."""
    out = keys.reset_index(drop=True).copy()
    out["estimate"] = np.asarray(estimate, dtype=float)
    out["se"] = np.asarray(se, dtype=float)
    out["ci_low"] = out["estimate"] - Z95 * out["se"]
    out["ci_high"] = out["estimate"] + Z95 * out["se"]
    out["n"] = np.asarray(n).astype(np.int64)
    for name, values in extra.items():
        out[name] = values
    return out


def variable_keys(table: pd.DataFrame, names: list[str], by) -> pd.DataFrame:
    """Key columns of per-variable estimates in domains: the ``by`` columns of ``table`` and ``variable``, one row
    per (variable, domain), variables outermost."""
    by_cols = as_list(by)
    rows = np.tile(np.arange(len(table)), len(names))
    keys = table.iloc[rows][by_cols].reset_index(drop=True) if by_cols else pd.DataFrame(index=range(len(rows)))
    keys["variable"] = np.repeat(np.array(names, dtype=object), len(table))
    return keys


@dataclass(frozen=True, eq=False)
class Estimates:
    """Estimates, their influence functions and the design (see the module docstring).

    ``keys``: one row per estimate (e.g. the ``by`` columns and ``variable``, or ``group`` and ``node``);
    ``estimate``, ``n``: per row; ``influence``: the influence values of ``n_domains * k`` estimates, of which row
    ``r`` is number ``column[r]`` (``domain * k + j``); ``defined``: where the SE is defined (default: where the
    estimate is finite). An undefined estimate has no influence (its covariances are 0).
    """

    keys: pd.DataFrame
    estimate: np.ndarray
    n: np.ndarray
    influence: Influence
    column: np.ndarray
    design: DesignState
    defined: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.estimate)

    @cached_property
    def _defined(self) -> np.ndarray:
        return np.isfinite(self.estimate) if self.defined is None else np.asarray(self.defined, dtype=bool)

    @cached_property
    def variances(self) -> np.ndarray:
        """The variance of every estimate (all at once: one pass of the influence over the design)."""
        return variance(self.design, self.influence).ravel()[self.column]

    @property
    def se(self) -> np.ndarray:
        return np.where(self._defined, np.sqrt(np.maximum(self.variances, 0.0)), np.nan)

    def vcov(self, rows: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Covariance matrix of the estimates at positions ``rows`` (default all), calibration-aware, domains kept
        as domains (R ``vcov`` of ``svyby(..., covmat=TRUE)``)."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        v = variance(self.design, self.influence, joint=True, select=self.column[rows])
        off = ~self._defined[rows]
        v[off, :] = 0.0
        v[:, off] = 0.0
        return v

    def contrast(self, coef, names: Sequence[str] | None = None) -> pd.DataFrame:
        """Linear combinations ``C @ estimate`` (``coef``: one row of ``len(self)`` coefficients per contrast) with
        SE ``sqrt(c' V c)`` and normal 95% intervals (R ``svycontrast``); missing where an estimate used is
        missing. Returns ``contrast`` (``names`` or 0, 1, ...), ``estimate``, ``se``, ``ci_low``, ``ci_high``."""
        c = np.atleast_2d(np.asarray(coef, dtype=float))
        if c.shape[1] != len(self):
            raise ValueError(f"contrast coefficients need {len(self)} columns, not {c.shape[1]}")
        used = np.flatnonzero(np.any(c != 0, axis=0))
        cu, x = c[:, used], self.estimate[used]
        missing = np.isnan(x)
        est = cu @ np.where(missing, 0.0, x)                  # contrasts are batched: 0 * NaN must not spread
        est[(cu[:, missing] != 0).any(axis=1)] = np.nan      # a contrast using a missing estimate is missing
        var = np.einsum("ij,jk,ik->i", cu, self.vcov(used), cu)
        se = np.where(np.isnan(est), np.nan, np.sqrt(np.maximum(var, 0.0)))
        return pd.DataFrame({"contrast": list(range(len(c))) if names is None else list(names), "estimate": est,
                             "se": se, "ci_low": est - Z95 * se, "ci_high": est + Z95 * se})

    def take(self, rows: Sequence[int] | np.ndarray) -> "Estimates":
        """The estimates at positions ``rows`` (any order), with the same influence and design."""
        rows = np.asarray(rows, dtype=np.int64)
        out = Estimates(self.keys.iloc[rows].reset_index(drop=True), self.estimate[rows], self.n[rows],
                        self.influence, self.column[rows], self.design, self._defined[rows])
        if "variances" in self.__dict__:  # already computed: keep it
            out.__dict__["variances"] = self.variances[rows]
        return out

    def to_frame(self) -> pd.DataFrame:
        """The tidy table: ``keys`` columns, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``n``."""
        return estimate_table(self.keys, self.estimate, self.se, self.n)


def ratio_estimates(design, num: np.ndarray, den: np.ndarray, names: list[str], by, *,
                    total: bool = False) -> Estimates:
    """Totals (``total``) or ratios ``sum w num / sum w den`` of the columns of ``num`` and ``den`` (rows x k,
    NaN where out of domain) in the ``by`` domains of ``design`` (module docstring)."""
    codes, table = design.domains(by)
    nd = len(table)
    ok = _in_domain(design, num, den)
    w = design.weights.to_numpy()[:, None]
    y = np.where(ok, num, 0.0) * w
    x = np.where(ok, den, 0.0) * w
    ty = group_sum(codes, nd, y)
    tx = group_sum(codes, nd, x)
    count = group_sum(codes, nd, ok.astype(float))
    if total:
        est, z = ty, y
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            est = ty / tx
            z = np.where(ok, (y - est[codes] * x) / tx[codes], 0.0)
    k = len(names)
    column = (np.arange(nd)[None, :] * k + np.arange(k)[:, None]).ravel()  # variables outermost
    defined = np.ones(nd * k, dtype=bool) if total else (tx > 0).T.ravel()
    return Estimates(variable_keys(table, names, by), est.T.ravel(), count.T.ravel().astype(np.int64),
                     RowInfluence.of(z, codes, nd), column, design, defined)


def _in_domain(design, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Rows in each column's domain: both values present, inside the design's subset."""
    ok = ~(np.isnan(num) | np.isnan(den))
    if design.subset_mask is not None:
        ok &= design.subset_mask[:, None]
    return ok


def design_effect(design, est: Estimates, num: np.ndarray, by, *, total: bool = False) -> np.ndarray:
    """R's ``deff=TRUE`` of means or totals of the columns of ``num``: the variance over that of simple random
    sampling without replacement of the same size, ``v_srs = s2 (W - n)/(W n)`` for a mean (times ``W^2`` for a
    total), ``s2`` the weighted variance with ``n/(n-1)``. Per row of ``est`` (variables outermost)."""
    codes, table = design.domains(by)
    nd = len(table)
    ok = _in_domain(design, num, np.where(np.isnan(num), np.nan, 1.0))
    w = design.weights.to_numpy()
    nz = ok & (w > 0)[:, None] if design.subset_mask is None else ok
    n_obs = group_sum(codes, nd, nz.astype(float))
    wok = np.where(ok, w[:, None], 0.0)
    wsum = group_sum(codes, nd, wok)
    mean_d = group_sum(codes, nd, np.where(ok, num, 0.0) * wok) / wsum
    dev = np.where(ok, num - mean_d[codes], 0.0)
    s2 = group_sum(codes, nd, dev * dev * wok) / wsum * n_obs / (n_obs - 1)
    v_srs = s2 * (wsum - n_obs) / (wsum * n_obs)
    if total:
        v_srs = v_srs * wsum ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return est.variances / v_srs.T.ravel()
