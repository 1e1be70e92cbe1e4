"""Quantiles with Woodruff confidence intervals, equal to R's ``svyquantile`` defaults (survey 4.x:
``qrule="math"``, ``interval.type="mean"``; Woodruff 1952, *JASA* 47:635; Lumley 2010, §2.4.1).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .adapter import degf, design_variance
from .domains import as_list, domains, t_quantile, values, weighted_share

QUANTILE_COLUMNS = ["variable", "quantile", "estimate", "se", "ci_low", "ci_high"]


def qrule_math(x: np.ndarray, w: np.ndarray, p: float) -> float:
    """R's ``qrule_math`` (Hyndman & Fan type 1 with weights): sort ``x``, ``k`` = the last position whose
    cumulative weight is at most ``p sum w`` (the first when none is); the ``k``-th value when its cumulative
    share reaches ``p`` exactly, else the next one. Rows of zero weight are dropped first."""
    keep = w != 0
    x, w = x[keep], w[keep]
    order = np.argsort(x, kind="stable")
    x, cumw = x[order], np.cumsum(w[order])
    total = cumw[-1]
    below = np.flatnonzero(cumw <= p * total)
    pos = int(below[-1]) if len(below) else 0
    nxt = min(pos + 1, len(x) - 1)
    return float(x[pos] if p - cumw[pos] / total <= 0 else x[nxt])


def _woodruff(x, w, rows, qhat, var_share, share, df, level) -> tuple[float, float, float]:
    """Woodruff's interval: the share ``m`` of the domain at or below ``qhat`` (variance ``var_share``), its
    interval ``m ± t_{df} se``, mapped back through the quantile rule; ``se`` = interval width / (2 t_{df})."""
    a = (1.0 - level) / 2.0
    q = t_quantile(1.0 - a, df)
    lo_p, hi_p = share - q * np.sqrt(var_share), share + q * np.sqrt(var_share)
    xs, ws = x[rows], w[rows]
    lo = np.nan if not lo_p >= 0 else qrule_math(xs, ws, lo_p)
    hi = np.nan if not hi_p <= 1 else qrule_math(xs, ws, hi_p)
    return lo, hi, (hi - lo) / (2.0 * q)


def quantile(design, variables: str | Sequence[str], probs: float | Sequence[float],
             by: str | Sequence[str] | None = None, *, level: float = 0.95, df: float | None = None) -> pd.DataFrame:
    """Quantiles per domain with Woodruff intervals (R: ``svyby(~x, ~by, design, svyquantile, quantiles=probs,
    ci=TRUE)``, the defaults of survey 4.x).

    ``estimate`` = :func:`qrule_math` of the domain's values and weights; the interval inverts the interval of
    the estimated share at or below it (``svymean(x <= estimate)``, t on R's ``degf`` of the domain); ``se`` =
    (``ci_high`` - ``ci_low``) / (2 t), as R reports it. An end is NaN when the share's interval leaves [0, 1].
    Columns: the ``by`` columns, ``variable``, ``quantile`` (the probability), ``estimate``, ``se``, ``ci_low``,
    ``ci_high``. ``df``: degrees of freedom instead of each domain's ``degf`` (R's ``df=``; ``np.inf`` normal).
    """
    probs = [float(p) for p in np.atleast_1d(probs)]
    if not probs or any(not 0.0 <= p <= 1.0 for p in probs):
        raise InputError(f"quantile probabilities must be between 0 and 1 (got {probs})")
    dom = domains(design, by)
    w = design.weights.to_numpy()
    out = []
    for name in as_list(variables):
        x = values(design, name)
        rows_all = [dom.rows(d, ~np.isnan(x)) & (w != 0) for d in range(dom.count)]
        for p in probs:
            qhat = [qrule_math(x[r], w[r], p) if r.any() else np.nan for r in rows_all]
            fits = [weighted_share(w, (x <= q).astype(float), r) for r, q in zip(rows_all, qhat)]
            z = np.column_stack([f[1] for f in fits]).sum(axis=1)
            var = design_variance(design, z, dom.codes, dom.count)[:, 0]
            for d, rows in enumerate(rows_all):
                lo, hi, se = (_woodruff(x, w, rows, qhat[d], var[d], fits[d][0],
                                        degf(design, rows) if df is None else df, level)
                              if rows.any() else (np.nan,) * 3)
                out.append({**dom.frame(d), "variable": name, "quantile": p, "estimate": qhat[d], "se": se,
                            "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(out, columns=dom.by + QUANTILE_COLUMNS)
