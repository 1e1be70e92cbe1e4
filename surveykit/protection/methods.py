"""The numerical methods of the composite index, as plain functions on numpy arrays.

Each function states its formula and its source. They follow the JRC/OECD *Handbook on Constructing Composite
Indicators* (2008) and, where the Handbook leaves a choice open, COINr (Becker et al., JRC), so that a
statistician can check any number by hand. All scores are on 0-100 with higher = better; ``NaN`` means
missing and is carried through (never silently replaced). :mod:`.registry` names them (one list of the
methods of each step); the pipeline (:mod:`.pipeline`) and the Monte Carlo (:mod:`.uncertainty`) both call them
through it, so the two can never disagree.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

# --- outliers (COINr's Treat(): check_SkewKurt, winsorise, log_CT) -----------------------------------------


def _shape_statistic(x, n_min: int, formula) -> float:
    """``formula(n, d, s2)`` of the non-missing values (``d`` their deviations from the mean, ``s2 = sum d^2``);
    NaN for fewer than ``n_min`` values, 0 when they are all equal."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) < n_min:
        return float("nan")
    d = x - x.mean()
    s2 = np.sum(d**2)
    return 0.0 if s2 == 0 else float(formula(len(x), d, s2))


def skew(x) -> float:
    """Sample skewness, type 2 (Excel's SKEW, e1071 ``type = 2``, COINr's ``skew()``); NaN for n < 3.

    ``G1 = sqrt(n(n-1))/(n-2) * m3 / m2^(3/2)`` with ``m_k`` the k-th central moment (divisor n).
    """
    def g1(n, d, m2):
        return np.sqrt(n) * np.sum(d**3) / m2**1.5 * np.sqrt(n * (n - 1)) / (n - 2)
    return _shape_statistic(x, 3, g1)


def kurt(x) -> float:
    """Sample excess kurtosis, type 2 (Excel's KURT, e1071 ``type = 2``, COINr's ``kurt()``); NaN for n < 4.

    ``G2 = ((n+1)(r-3) + 6)(n-1)/((n-2)(n-3))`` with ``r = n * sum(d^4) / sum(d^2)^2``.
    """
    def g2(n, d, s2):
        r = n * np.sum(d**4) / s2**2
        return ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))
    return _shape_statistic(x, 4, g2)


def passes_skew_kurt(x, skew_thresh: float = 2.0, kurt_thresh: float = 3.5) -> bool:
    """COINr's ``check_SkewKurt``: an indicator passes when ``|skew| < skew_thresh`` OR ``kurt < kurt_thresh``
    (it is an outlier problem only when both are exceeded). Fewer than 4 values always pass."""
    s, k = skew(x), kurt(x)
    if np.isnan(s) or np.isnan(k):
        return True
    return bool(abs(s) < skew_thresh or k < kurt_thresh)


def winsorise(x, winmax: int = 5, skew_thresh: float = 2.0, kurt_thresh: float = 3.5) -> tuple[np.ndarray, bool]:
    """COINr's ``winsorise()``: while the indicator fails :func:`passes_skew_kurt` and fewer than ``winmax``
    points have been changed, replace the highest value(s) by the next highest (when skew >= 0) or the lowest
    by the next lowest (skew < 0). Tied extremes move together. Returns ``(treated, passes)``.
    """
    y = np.asarray(x, dtype=float).copy()
    ok = ~np.isnan(y)
    passing = passes_skew_kurt(y, skew_thresh, kurt_thresh)
    while not passing:
        changed = int(np.sum(y[ok] != np.asarray(x, dtype=float)[ok]))
        if changed >= winmax:
            break
        v = y[ok]
        if len(np.unique(v)) < 3:
            break
        if skew(v) >= 0:
            top = v.max()
            y[ok & (y == top)] = v[v < top].max()
        else:
            bottom = v.min()
            y[ok & (y == bottom)] = v[v > bottom].min()
        passing = passes_skew_kurt(y, skew_thresh, kurt_thresh)
    return y, passing


def log_ct(x) -> np.ndarray:
    """COINr's ``log_CT``: ``log(x - min(x) + 0.01 (max(x) - min(x)))`` (order-preserving, defined for any sign)."""
    x = np.asarray(x, dtype=float)
    lo, hi = np.nanmin(x), np.nanmax(x)
    return np.log(x - lo + 0.01 * (hi - lo))


def treat_outliers(x, winmax: int = 5, skew_thresh: float = 2.0, kurt_thresh: float = 3.5,
                   fallback: str = "log") -> tuple[np.ndarray, dict]:
    """COINr's default two-stage ``Treat()``: check; winsorise (at most ``winmax`` points); if that still fails,
    apply ``log_CT`` to the *original* values instead (``fallback='log'``) or keep the winsorised values
    (``fallback='none'``). Returns the treated values and a record: ``action`` (``none``, ``winsorised``,
    ``log``), ``points`` (positions changed), skew/kurtosis before and after.
    """
    x = np.asarray(x, dtype=float)
    info = {"skew_before": skew(x), "kurt_before": kurt(x), "action": "none", "points": []}
    if passes_skew_kurt(x, skew_thresh, kurt_thresh):
        info.update(skew_after=info["skew_before"], kurt_after=info["kurt_before"])
        return x.copy(), info
    y, ok = winsorise(x, winmax, skew_thresh, kurt_thresh)
    if not ok and fallback == "log":
        y = log_ct(x)
        info["action"] = "log"
        info["points"] = [int(i) for i in np.flatnonzero(~np.isnan(x))]
    else:
        info["action"] = "winsorised"
        info["points"] = [int(i) for i in np.flatnonzero((y != x) & ~np.isnan(x))]
    info.update(skew_after=skew(y), kurt_after=kurt(y))
    return y, info


# --- normalisation: every method returns 0-100, higher = better ---------------------------------------------


def minmax(x, direction: int = 1, goalposts: tuple[float, float] | None = None) -> np.ndarray:
    """Min-max (Handbook 5.4): ``100 (x - min)/(max - min)``, or ``100 (max - x)/(max - min)`` when
    ``direction = -1``. ``goalposts = (lower, upper)`` replace min and max and the result is clipped to 0-100
    (COINr's ``n_goalposts``). When every unit has the same value (max = min) each scores 50: the indicator
    then carries no information and does not move any unit."""
    x = np.asarray(x, dtype=float)
    if goalposts is not None:
        lo, hi = float(goalposts[0]), float(goalposts[1])
    else:
        if np.all(np.isnan(x)):
            return x.copy()
        lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    if hi == lo:
        return np.where(np.isnan(x), np.nan, 50.0)
    s = 100.0 * ((x - lo) if direction == 1 else (hi - x)) / (hi - lo)
    return np.clip(s, 0.0, 100.0) if goalposts is not None else s


def zscore(x, direction: int = 1) -> np.ndarray:
    """Standardisation (Handbook 5.3) put on a 0-100-like scale: ``50 + 10 (d x - mean)/sd`` with ``d`` the
    direction and the sample SD (n - 1, as R's ``sd``; COINr's ``n_zscore`` with ``m_sd = c(50, 10)``). Values
    can fall outside 0-100 for extreme units; a constant indicator scores 50."""
    x = np.asarray(x, dtype=float) * direction
    ok = ~np.isnan(x)
    if ok.sum() < 2:
        return np.where(ok, 50.0, np.nan)
    sd = float(np.std(x[ok], ddof=1))
    if sd == 0:
        return np.where(ok, 50.0, np.nan)
    return 50.0 + 10.0 * (x - float(np.mean(x[ok]))) / sd


def rank_scores(x, direction: int = 1) -> np.ndarray:
    """Ranking (Handbook 5.1) scaled to 0-100: ``100 (r - 1)/(n - 1)`` with ``r`` the ascending rank of ``d x``
    (ties get their average rank); the worst unit scores 0, the best 100."""
    x = np.asarray(x, dtype=float) * direction
    ok = ~np.isnan(x)
    n = int(ok.sum())
    out = np.full(x.shape, np.nan)
    if n == 0:
        return out
    if n == 1:
        out[ok] = 50.0
        return out
    out[ok] = 100.0 * (rankdata(x[ok], method="average") - 1) / (n - 1)
    return out


def distance_to_target(x, direction: int = 1, target: float | None = None) -> np.ndarray:
    """Distance to a target (Handbook 5.5; COINr's ``n_dist2targ`` with ``cap_max``): for ``direction = 1``
    ``100 (x - min)/(target - min)``, for ``-1`` ``100 (max - x)/(max - target)``, clipped to 0-100 (reaching
    the target scores 100). Without a target, the best unit is the target (distance to the frontier)."""
    x = np.asarray(x, dtype=float)
    if np.all(np.isnan(x)):
        return x.copy()
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    if direction == 1:
        t = hi if target is None else float(target)
        den, num = t - lo, x - lo
    else:
        t = lo if target is None else float(target)
        den, num = hi - t, hi - x
    if den <= 0:
        # no spread to the frontier (every value equal): neutral 50; a target at or beyond the worst unit:
        # every unit has reached it
        return np.where(np.isnan(x), np.nan, 50.0 if target is None else 100.0)
    return np.clip(100.0 * num / den, 0.0, 100.0)


# --- weights ------------------------------------------------------------------------------------------------


def entropy_weights(scores) -> np.ndarray:
    """Entropy weights (熵权法) of the columns of a units x indicators matrix of non-negative scores.

    ``p_ij = s_ij / sum_i s_ij``; ``e_j = -(1/ln n) sum_i p_ij ln p_ij`` (0 ln 0 = 0); ``d_j = 1 - e_j``;
    ``w_j = d_j / sum_j d_j``. Rows with a missing score are left out of that column (n is then the count of
    the column's values). An all-zero column has no information (d = 0). If no column has any, weights are equal.
    """
    s = np.asarray(scores, dtype=float)
    m = s.shape[1]
    d = np.zeros(m)
    for j in range(m):
        v = s[:, j]
        v = v[~np.isnan(v)]
        n = len(v)
        tot = v.sum()
        if n < 2 or tot <= 0:
            continue
        p = np.clip(v, 0, None) / tot
        with np.errstate(divide="ignore", invalid="ignore"):
            plogp = np.where(p > 0, p * np.log(p), 0.0)
        d[j] = 1.0 - (-plogp.sum() / np.log(n))
    d = np.clip(d, 0, None)
    if d.sum() <= 0:
        return np.full(m, 1.0 / m)
    return d / d.sum()


# --- aggregation --------------------------------------------------------------------------------------------


def arithmetic(scores, weights) -> np.ndarray:
    """Weighted arithmetic mean of each row over its non-missing columns, weights renormalised over them:
    ``sum_j w_j s_ij / sum_j w_j`` (Handbook 6.2.1). A row with no value is missing."""
    s = np.asarray(scores, dtype=float)
    w = np.asarray(weights, dtype=float)
    if w.ndim == 1 and not np.isnan(s).any():  # the common case, fast (the Monte Carlo calls this often)
        return s @ w / w.sum()
    w = np.broadcast_to(w, s.shape)
    ok = ~np.isnan(s)
    den = np.where(ok, w, 0.0).sum(axis=1)
    num = np.where(ok, w * np.where(ok, s, 0.0), 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def geometric(scores, weights, zeros: str = "offset", offset: float = 1.0) -> np.ndarray:
    """Weighted geometric mean of each row (Handbook 6.2.2) with a documented rule for zero scores.

    A min-max scaled indicator always gives its worst unit a 0, and ``prod s^w`` would then be 0 whatever
    the other scores: the rule decides.

    * ``zeros='offset'`` (default): ``G = exp(sum_j w_j ln(s_ij + c) / sum_j w_j) - c`` with ``c = offset``
      points (default 1). G stays on 0-100 (0 only if every child is 0, 100 only if every child is 100),
      is non-compensatory (one weak child pulls G down far more than in the arithmetic mean) and is exactly
      the ordinary geometric mean computed on the scale shifted by ``c``. Negative scores (possible with
      z-scores) count as 0.
    * ``zeros='refuse'``: as COINr's ``a_gmean``: a score <= 0 is an error (:class:`ValueError` naming the
      position); use goalposts or z-scores then.

    Missing scores are skipped and the weights renormalised, as in :func:`arithmetic`.
    """
    s = np.asarray(scores, dtype=float)
    w = np.asarray(weights, dtype=float)
    ok = ~np.isnan(s)
    if zeros == "refuse":
        bad = ok & (s <= 0)
        if bad.any():
            i, j = (int(v) for v in np.argwhere(bad)[0])
            raise ValueError(f"a score of {s[i, j]:g} (row {i}, column {j}) cannot enter a geometric mean "
                             "(zeros: refuse)")
        c = 0.0
    elif zeros == "offset":
        c = float(offset)
    else:
        raise ValueError(f"unknown rule for zeros '{zeros}'")
    if w.ndim == 1 and ok.all():
        return np.exp(np.log(np.maximum(s, 0.0) + c) @ w / w.sum()) - c
    w = np.broadcast_to(w, s.shape)
    x = np.where(ok, np.clip(s, 0.0, None) + c, 1.0)
    den = np.where(ok, w, 0.0).sum(axis=1)
    num = np.where(ok, w * np.log(x), 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, np.exp(num / np.where(den > 0, den, 1.0)) - c, np.nan)


def competition_rank(scores) -> np.ndarray:
    """Ranks with 1 = best (highest score); ties share the best rank ("1224" competition ranking); NaN stays NaN.
    Scores are compared after rounding to 10 decimals so that floating-point noise does not split ties."""
    s = np.round(np.asarray(scores, dtype=float), 10)
    out = np.full(s.shape, np.nan)
    ok = ~np.isnan(s)
    v = s[ok]
    out[ok] = 1 + (v[None, :] > v[:, None]).sum(axis=1)
    return out
