"""Calibration (post-stratification, raking) and calibration-aware variances, exactly as R's ``survey``.

Weights
-------
* Post-stratification (R ``postStratify``): in each post-stratum ``p``, weights are multiplied by
  ``N_p / sum_{i in p} w_i`` so that they sum to the known population count ``N_p``.
* Raking (R ``rake``): post-stratify on each margin in turn, repeat until the weighted margins move by less than
  the tolerance (iterative proportional fitting, Deming & Stephan 1940).
* Trimming (R ``trimWeights``): weights outside ``[lower, upper]`` are set to the bound; the amount trimmed is
  spread equally over the untrimmed weights; the variance then treats the weights as fixed.

Variance (R ``svyrecvar``)
--------------------------
Before the multistage recursion, influence values ``x`` are replaced by their residuals from the calibration
(Särndal, Swensson & Wretman 1992, §7.6 on post-stratification; Lumley 2010, §7.1-7.3):

* ordinary post-stratum with old weights ``o`` and new weights ``psw``:
  ``x <- x - psw * [sum_{p} x o / psw] / [sum_{p} o]`` (the post-stratum mean, weighted by the old weights);
* raking, R's rule: keep the post-stratifications of the *final* iteration, one per margin, each with the weights
  it produced (``psw_m``), and back-fit ``x <- x - psw_m * ave_m(x / psw_m)`` over the margins for a fixed
  **10 sweeps** (``ave_m`` = plain mean of the rows in the margin's cell). 10 sweeps is R's choice, matched here.

Every step subtracts ``psw_m * E_m theta_m`` (``E_m`` the row-to-cell indicator of margin ``m``), so the residual is
``x0 - sum_m psw_m * E_m theta_m`` and each update of ``theta_m`` only needs ``E_m'(r_m * x0)`` (``r_m = o/psw`` or
``1/psw``) and the small cross-products ``K_{m,m'} = E_m' diag(r_m psw_m') E_m'``. Cluster totals of the residuals
are then ``C x0 - sum_m (C diag(psw_m) E_m) theta_m``. This gives R's numbers for any number of domains without
forming residualised respondent-level columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import sparse

from .variance import Stage, group_sum, stage_variance

RAKING_SWEEPS = 10  # R's svyrecvar: `for (iterations in 1:10)`


@dataclass(frozen=True)
class Margin:
    """One post-stratification inside a calibration step (see module docstring)."""

    codes: np.ndarray   # cell of each row, in [0, n_cells)
    n_cells: int
    psw: np.ndarray     # the weights this post-stratification produced (R: attr(., "weights"))
    read: np.ndarray    # per-row factor of the cell mean: old/psw (post-stratum) or 1/psw (raking)
    norm: np.ndarray    # per cell: sum of old weights (post-stratum) or number of rows (raking)


@dataclass(frozen=True)
class CalibrationStep:
    kind: str                    # "poststratify" or "rake"
    margins: tuple[Margin, ...]
    sweeps: int                  # 1 for post-stratification, RAKING_SWEEPS for raking


def poststratum_margin(codes: np.ndarray, n_cells: int, old: np.ndarray, new: np.ndarray) -> Margin:
    psw = new.copy()
    psw[(new == 0) & (old == 0)] = 1.0  # R: zero weights before and after count as 1
    with np.errstate(divide="ignore", invalid="ignore"):
        read = np.where(psw > 0, old / psw, 0.0)
    norm = np.bincount(codes, weights=old, minlength=n_cells)
    return Margin(codes, n_cells, psw, read, norm)


def raking_margin(codes: np.ndarray, n_cells: int, new: np.ndarray) -> Margin:
    with np.errstate(divide="ignore", invalid="ignore"):
        read = np.where(new > 0, 1.0 / new, 0.0)  # R would give NaN for a zero weight; such rows carry nothing
    norm = np.bincount(codes, minlength=n_cells).astype(float)
    return Margin(codes, n_cells, new, read, norm)


class Influence(Protocol):
    """Influence values of estimates in ``n_domains`` domains, each row contributing only to its own domain."""

    n_domains: int
    k: int

    def sums(self, codes: np.ndarray, n_codes: int, row_weights: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For a partition of the rows (``codes``), the sums of ``row_weights * z`` over each (part, domain)
        combination that occurs: returns (part, domain, values[combos x k])."""


@dataclass(frozen=True)
class RowInfluence:
    """Explicit influence values ``z`` (rows x k) of each row on its own domain's estimates."""

    z: np.ndarray
    domain: np.ndarray
    n_domains: int

    @property
    def k(self) -> int:
        return self.z.shape[1]

    def sums(self, codes, n_codes, row_weights=None):
        key = codes.astype(np.int64) * self.n_domains + self.domain
        ukey, inv = np.unique(key, return_inverse=True)
        z = self.z if row_weights is None else self.z * row_weights[:, None]
        return ukey // self.n_domains, ukey % self.n_domains, group_sum(inv.ravel(), len(ukey), z)


def _dense(part, dom, values, n_parts, n_domains, k) -> np.ndarray:
    out = np.zeros((n_parts, n_domains, k))
    out[part, dom] = values
    return out


def _solve_thetas(steps: list[CalibrationStep], infl: Influence) -> list[np.ndarray]:
    """The coefficients theta_m (cells x domains x k) of every margin, by R's schedule of residualisation."""
    margins = [m for s in steps for m in s.margins]
    d, k = infl.n_domains, infl.k
    b = []
    for m in margins:
        part, dom, vals = infl.sums(m.codes, m.n_cells, m.read)
        b.append(_dense(part, dom, vals, m.n_cells, d, k).reshape(m.n_cells, d * k))
    # K[a][c] = E_a' diag(read_a * psw_c) E_c : how theta_c feeds margin a's projection
    cross = {}
    for a, ma in enumerate(margins):
        for c, mc in enumerate(margins):
            key = ma.codes.astype(np.int64) * mc.n_cells + mc.codes
            cross[a, c] = np.bincount(key, weights=ma.read * mc.psw, minlength=ma.n_cells * mc.n_cells
                                      ).reshape(ma.n_cells, mc.n_cells)
    theta = [np.zeros_like(x) for x in b]
    start = 0
    for step in steps:
        idx = range(start, start + len(step.margins))
        for _ in range(step.sweeps):
            for a in idx:
                proj = b[a] - sum(cross[a, c] @ theta[c] for c in range(len(margins)))
                with np.errstate(divide="ignore", invalid="ignore"):
                    upd = np.where(margins[a].norm[:, None] > 0, proj / margins[a].norm[:, None], 0.0)
                theta[a] = theta[a] + upd
        start += len(step.margins)
    return [t.reshape(m.n_cells, d, k) for t, m in zip(theta, margins)]


def _margin_totals(st: Stage, margins: list[Margin]) -> list:
    """Per margin, the (clusters x cells) sums of its weights ``C diag(psw_m) E_m``: what the calibration term
    ``psw_m * E_m theta_m`` adds up to in each cluster of stage ``st``."""
    return [sparse.csr_matrix((m.psw, (st.cluster, m.codes)), shape=(st.n_clusters, m.n_cells)) for m in margins]


def _deviations(st: Stage, t: np.ndarray, centred: np.ndarray) -> np.ndarray:
    """Cluster totals minus their group mean (not centred in lonely-PSU groups under "adjust", as R)."""
    mean = group_sum(st.parent, st.n_groups, t) / st.n[:, None]
    return t - np.where(centred[:, None], mean, 0.0)[st.parent]


def calibrated_variance(stages: list[Stage], steps: list[CalibrationStep], infl: Influence, lonely_psu: str,
                        max_cells: int = 20_000_000) -> np.ndarray:
    """Variance (n_domains x k) of each domain's estimates under the design, with calibration residuals."""
    d, k = infl.n_domains, infl.k
    margins = [m for s in steps for m in s.margins]
    theta = _solve_thetas(steps, infl) if steps else []
    total = np.zeros((d, k))
    for st in stages:
        scale, centred = st.scales(lonely_psu)
        if not np.any(scale):
            continue
        part, dom, vals = infl.sums(st.cluster, st.n_clusters)
        h = _margin_totals(st, margins)
        chunk = max(1, int(max_cells // max(1, st.n_clusters * k)))
        for lo in range(0, d, chunk):
            hi = min(d, lo + chunk)
            sel = (dom >= lo) & (dom < hi)
            t = _dense(part[sel], dom[sel] - lo, vals[sel], st.n_clusters, hi - lo, k).reshape(st.n_clusters, -1)
            for hm, th in zip(h, theta):
                t -= hm @ th[:, lo:hi, :].reshape(th.shape[0], -1)
            # every cluster now has a (generally non-zero) total in every domain
            dev = _deviations(st, t, centred)
            ss = group_sum(st.parent, st.n_groups, dev * dev)
            total[lo:hi] += (scale @ ss).reshape(hi - lo, k)
    return total


def uncalibrated_variance(stages: list[Stage], infl: Influence, lonely_psu: str) -> np.ndarray:
    """The same without calibration: only the (cluster, domain) combinations present are needed."""
    total = np.zeros((infl.n_domains, infl.k))
    for st in stages:
        if not np.any(st.scales(lonely_psu)[0]):
            continue
        part, dom, vals = infl.sums(st.cluster, st.n_clusters)
        total += stage_variance(st, part, dom, vals, infl.n_domains, lonely_psu)
    return total


def influence_variance(stages: list[Stage], steps: list[CalibrationStep], infl: Influence,
                       lonely_psu: str) -> np.ndarray:
    """Variance of each domain's estimates from their influence values, calibration-aware when ``steps``."""
    if steps:
        return calibrated_variance(stages, steps, infl, lonely_psu)
    return uncalibrated_variance(stages, infl, lonely_psu)


def calibrated_vcov(stages: list[Stage], steps: list[CalibrationStep], z: np.ndarray, lonely_psu: str) -> np.ndarray:
    """Covariance matrix (k x k) of the totals of the columns of ``z`` (full-length influence values)."""
    n, k = z.shape
    infl = RowInfluence(z, np.zeros(n, dtype=np.int64), 1)
    margins = [m for s in steps for m in s.margins]
    theta = _solve_thetas(steps, infl) if steps else []
    out = np.zeros((k, k))
    for st in stages:
        scale, centred = st.scales(lonely_psu)
        if not np.any(scale):
            continue
        t = group_sum(st.cluster, st.n_clusters, z)
        for hm, th in zip(_margin_totals(st, margins), theta):
            t = t - hm @ th.reshape(th.shape[0], k)
        dev = _deviations(st, t, centred)
        out += (dev * scale[st.parent][:, None]).T @ dev
    return out


# --- the weight operations as pure functions (replayed on every replicate of a replicate design) -------------
def poststratify_weights(w: np.ndarray, codes: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``w_i * N_p / sum_{j in p} w_j`` for the cell ``p`` of each row."""
    sums = np.bincount(codes, weights=w, minlength=len(target))
    with np.errstate(divide="ignore", invalid="ignore"):
        return w * (target / sums)[codes]


@dataclass(frozen=True)
class RakeResult:
    weights: np.ndarray
    psw: list          # weights after each margin's post-stratification in the last iteration
    iterations: int
    converged: bool
    gap: float         # largest relative gap |sum w - N| / N after the last iteration
    worst: tuple[int, int]  # (margin, level) of that gap


def rake_weights(w: np.ndarray, codes: list[np.ndarray], targets: list[np.ndarray], max_iter: int, tol: float
                 ) -> RakeResult:
    """Iterative proportional fitting: full sweeps of post-stratification until every margin is within ``tol``."""
    gap, worst, psw = np.inf, (0, 0), []
    for it in range(1, max_iter + 1):
        psw = []
        for c, t in zip(codes, targets):
            w = poststratify_weights(w, c, t)
            psw.append(w)
        gaps = [np.abs(np.bincount(c, weights=w, minlength=len(t)) - t) / t for c, t in zip(codes, targets)]
        m = int(np.argmax([g.max() for g in gaps]))
        gap, worst = float(gaps[m].max()), (m, int(np.argmax(gaps[m])))
        if gap < tol:
            return RakeResult(w, psw, it, True, gap, worst)
    return RakeResult(w, psw, max_iter, False, gap, worst)


def trim_weights(w: np.ndarray, lower: float, upper: float, strict: bool) -> np.ndarray:
    """R ``trimWeights``: clip to [lower, upper], spread the trimmed amount over the untrimmed weights."""
    w = w.copy()
    while True:
        outside = (w < lower) | (w > upper)
        if not outside.any() or outside.all():
            return w
        new = np.clip(w, lower, upper)
        new[~outside] += (w - new).sum() / (~outside).sum()
        w = new
        if not strict:
            return w
