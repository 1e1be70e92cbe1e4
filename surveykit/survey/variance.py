"""The one variance function of the engine: :func:`variance`, as R's ``survey:::svyrecvar``.

Every estimator hands it *influence values* (an :class:`Influence`: ``k`` estimates in each of ``n_domains``
domains); it returns their design-based variances, or with ``joint=True`` their covariance matrix.

Multistage recursion (Särndal, Swensson & Wretman 1992, result 4.3.1; R ``svyrecvar``, ``multistage``,
``onestage``, ``onestrat``). The variance of ``sum_i z_i`` under a stratified multistage design without
replacement is::

    V = sum_h  f_h * n_h/(n_h-1) * sum_k (t_hk - tbar_h)^2                 (stage 1: PSUs k in stratum h)
      + sum_h  (n_h/N_h) * sum_{k in h}  V_2(k)                             (stage 2 inside each sampled PSU)
      + ...

with ``t_hk`` the PSU total of ``z``, ``f_h = (N_h - n_h)/N_h`` (1 without fpc) and ``V_2(k)`` the same formula
applied to the secondary units of PSU ``k`` (the stages and their factors: :mod:`surveykit.survey.stages`).

Domains are domains: the influence of an estimate in domain ``d`` is zero outside ``d`` but every unit of the
design still counts in ``n_h`` -- the zero totals of units without domain members enter the sum of squares (R pads
them with zeros in ``onestrat``). All domains at once need only the non-zero unit totals:
``sum_k (t_k - m)^2 = sum_{present} (t_k - m)^2 + (n_h - n_present) m^2``. The influence is summed once over the
units of the deepest stage carrying variance; the totals of the stages above are sums of those.

Lonely PSUs (one sampled unit in a group at some stage): ``fail`` refuses (the default, like R; the design
checks it); ``adjust`` uses the unit total's deviation from zero, i.e. from the population mean of the influence
values (R's ``survey.lonely.psu="adjust"``, uncentred, scale ``f``); ``remove`` and ``certainty`` contribute
nothing.

Calibration (R ``svyrecvar`` with ``postStrata``). Before the recursion, influence values ``x`` are replaced by
their residuals from the calibration (Särndal, Swensson & Wretman 1992, §7.6; Lumley 2010, §7.1-7.3):

* ordinary post-stratum with old weights ``o`` and new weights ``psw``:
  ``x <- x - psw * [sum_{p} x o / psw] / [sum_{p} o]`` (the post-stratum mean, weighted by the old weights);
* raking, R's rule: keep the post-stratifications of the *final* iteration, one per margin, each with the weights
  it produced (``psw_m``), and back-fit ``x <- x - psw_m * ave_m(x / psw_m)`` over the margins for a fixed
  **10 sweeps** (``ave_m`` = plain mean of the rows in the margin's cell). 10 sweeps is R's choice, matched here.

Every step subtracts ``psw_m * E_m theta_m`` (``E_m`` the row-to-cell indicator of margin ``m``), so the residual is
``x0 - sum_m psw_m * E_m theta_m`` and each update of ``theta_m`` only needs ``E_m'(r_m * x0)`` (``r_m = o/psw`` or
``1/psw``) and the small cross-products ``K_{m,m'} = E_m' diag(r_m psw_m') E_m'``. Unit totals of the residuals
are then ``C x0 - sum_m (C diag(psw_m) E_m) theta_m``: R's numbers for any number of domains without forming
residualised respondent-level columns. (The weights themselves: :mod:`surveykit.survey.weighting`.)

Example
-------
>>> import numpy as np, pandas as pd, surveykit as sk
>>> d = sk.Design(pd.DataFrame({"h": [1, 1, 2, 2], "w": [2.0, 2, 3, 3]}), weights="w", strata="h")
>>> z = np.array([[1.0], [3.0], [2.0], [6.0]])            # influence values of one total
>>> variance(d, RowInfluence(z)).item()                      # 2/1 * (1+1) + 2/1 * (4+4)
20.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import sparse

from .common import combine_codes, group_sum
from .stages import Stage

RAKING_SWEEPS = 10  # R's svyrecvar: `for (iterations in 1:10)`


class Influence(Protocol):
    """Influence values of ``k`` estimates in each of ``n_domains`` domains (estimate ``d * k + j``)."""

    n_domains: int
    k: int

    def totals(self, codes: np.ndarray, n_codes: int, row_weights: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For a partition of the rows (``codes`` in ``[0, n_codes)``), the sums of ``row_weights * z`` over each
        (part, domain) combination that occurs: returns (part, domain, values[combinations x k])."""


@dataclass(frozen=True)
class RowInfluence:
    """Explicit influence values ``z`` (rows x k), each row's on the estimates of its own ``domain``."""

    z: np.ndarray
    domain: np.ndarray | None = None
    n_domains: int = 1

    @classmethod
    def of(cls, z, domain: np.ndarray | None = None, n_domains: int = 1) -> "RowInfluence":
        z = np.asarray(z, dtype=float)
        return cls(z[:, None] if z.ndim == 1 else z, domain, n_domains)

    @property
    def k(self) -> int:
        return self.z.shape[1]

    def totals(self, codes, n_codes, row_weights=None):
        z = self.z if row_weights is None else self.z * row_weights[:, None]
        if self.domain is None:
            return np.arange(n_codes), np.zeros(n_codes, dtype=np.int64), group_sum(codes, n_codes, z)
        inv, part, dom = combine_codes(codes, self.domain, self.n_domains)
        return part, dom, group_sum(inv, len(part), z)


# --- calibration steps, as the variance sees them ------------------------------------------------------------
@dataclass(frozen=True)
class Margin:
    """One post-stratification inside a calibration step (see the module docstring)."""

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


def _dense(part, dom, values, n_parts, n_domains, k) -> np.ndarray:
    out = np.zeros((n_parts, n_domains, k))
    out[part, dom] = values
    return out


def _solve_thetas(steps: list[CalibrationStep], infl: Influence) -> list[np.ndarray]:
    """The coefficients theta_m (cells x domains*k) of every margin, by R's schedule of residualisation."""
    margins = [m for s in steps for m in s.margins]
    d, k = infl.n_domains, infl.k
    b = []
    for m in margins:
        part, dom, vals = infl.totals(m.codes, m.n_cells, m.read)
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
    return theta


# --- the variance function ------------------------------------------------------------------------------------
class DesignState(Protocol):
    """What the variance needs of a :class:`~surveykit.Design` (its public read-only properties)."""

    @property
    def stages(self) -> list[Stage]: ...

    @property
    def calibration(self) -> tuple[CalibrationStep, ...]: ...

    @property
    def lonely_psu(self) -> str: ...


def variance(design: DesignState, influence: Influence, *, joint: bool = False,
             select: np.ndarray | None = None) -> np.ndarray:
    """Design-based variance of estimates from their influence values (R ``svyrecvar``; module docstring).

    Parameters
    ----------
    design : the :class:`~surveykit.Design` (its ``stages``, ``calibration`` and ``lonely_psu``).
    influence : an :class:`Influence` (e.g. :class:`RowInfluence` of an explicit rows x k array).
    joint : return the covariance matrix of the estimates instead of their variances.
    select : with ``joint``, the estimates to include (indices ``domain * k + j``, in the order wanted);
        default all.

    Returns
    -------
    (n_domains x k) variances, or the (m x m) covariance matrix of the ``m`` selected estimates.
    """
    lonely = design.lonely_psu
    stages = design.stages
    live = [s for s, st in enumerate(stages) if st.carries_variance(lonely)]
    d, k = influence.n_domains, influence.k
    cols = np.arange(d * k) if select is None else np.asarray(select, dtype=np.int64)
    out = np.zeros((len(cols), len(cols)) if joint else (d, k))
    if not live:
        return out
    deepest = stages[live[-1]]
    fine = influence.totals(deepest.cluster, deepest.n_clusters)
    steps = list(design.calibration)
    margins = [m for s in steps for m in s.margins]
    theta = _solve_thetas(steps, influence) if steps else []
    for s in live:
        st = stages[s]
        part, dom, vals = _stage_totals(stages, live[-1], s, d, *fine)
        cal = [(sparse.csr_matrix((m.psw, (st.cluster, m.codes)), shape=(st.n_clusters, m.n_cells)), th)
               for m, th in zip(margins, theta)]  # C diag(psw_m) E_m: the calibration terms' unit totals
        if joint:
            scale, centred = st.scales(lonely)
            dev = _deviations(st, _residual_totals(st, part, _domain_rows(dom), vals, k, cols, cal), centred)
            out += (dev * scale[st.parent][:, None]).T @ dev
        elif steps:
            out += _dense_variance(st, part, _domain_rows(dom), vals, d, k, cal, lonely)
        else:
            out += _sparse_variance(st, part, dom, vals, d, lonely)
    return out


def _stage_totals(stages: list[Stage], deepest: int, s: int, n_domains: int, part, dom, vals):
    """The (unit, domain) totals of stage ``s`` from those of the deepest stage (whose units nest in them)."""
    if s == deepest:
        return part, dom, vals
    for t in range(deepest, s, -1):
        part = stages[t].parent[part]
    inv, part, dom = combine_codes(part, dom, n_domains)
    return part, dom, group_sum(inv, len(part), vals)


def _sparse_variance(st: Stage, part, dom, vals, n_domains: int, lonely_psu: str) -> np.ndarray:
    """One stage's variance per domain from the totals of the (unit, domain) combinations present; the units of
    the stage without members in a domain count as zero totals (R pads them in ``onestrat``)."""
    scale, centred = st.scales(lonely_psu)
    ginv, g_of, d_of = combine_codes(st.parent[part], dom, n_domains)
    n_g = st.n[g_of].astype(float)
    present = np.bincount(ginv, minlength=len(g_of)).astype(float)
    mean = group_sum(ginv, len(g_of), vals) / n_g[:, None]
    mean = np.where(centred[g_of][:, None], mean, 0.0)
    dev = vals - mean[ginv]
    ss = group_sum(ginv, len(g_of), dev * dev) + (n_g - present)[:, None] * mean * mean
    return group_sum(d_of, n_domains, ss * scale[g_of][:, None])


def _dense_variance(st: Stage, part, rows_of, vals, n_domains: int, k: int, cal, lonely_psu: str,
                    max_cells: int = 20_000_000) -> np.ndarray:
    """One stage's variance of every estimate with calibration residuals (every unit then has a total in every
    domain), in chunks of whole domains of at most ``max_cells`` unit totals."""
    scale, centred = st.scales(lonely_psu)
    out = np.zeros(n_domains * k)
    chunk = max(1, int(max_cells // max(1, st.n_clusters * k))) * k
    for lo in range(0, n_domains * k, chunk):
        cols = np.arange(lo, min(n_domains * k, lo + chunk))
        dev = _deviations(st, _residual_totals(st, part, rows_of, vals, k, cols, cal), centred)
        out[cols] = scale @ group_sum(st.parent, st.n_groups, dev * dev)
    return out.reshape(n_domains, k)


def _domain_rows(dom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The combinations of each domain: ``order[start[d]:start[d + 1]]``."""
    order = np.argsort(dom, kind="stable")
    return order, np.searchsorted(dom[order], np.arange(int(dom.max()) + 2 if len(dom) else 1))


def _residual_totals(st: Stage, part, rows_of, vals, k: int, cols: np.ndarray, cal) -> np.ndarray:
    """Dense (units x len(cols)) totals of the estimates ``cols`` (``domain * k + j``; ``rows_of`` the combinations
    of each domain, :func:`_domain_rows`), minus the calibration term ``(C diag(psw_m) E_m) theta_m`` of every
    margin (``cal``: pairs of those matrices and thetas)."""
    t = np.zeros((st.n_clusters, len(cols)))
    order, start = rows_of
    col_dom, col_j = np.divmod(cols, k)
    for dd in np.unique(col_dom):
        if dd + 1 < len(start):
            rows = order[start[dd]:start[dd + 1]]
            at = np.flatnonzero(col_dom == dd)
            t[np.ix_(part[rows], at)] = vals[np.ix_(rows, col_j[at])]
    for h, th in cal:
        t -= h @ th[:, cols]
    return t


def _deviations(st: Stage, t: np.ndarray, centred: np.ndarray) -> np.ndarray:
    """Unit totals minus their group mean (not centred in lonely-PSU groups under "adjust", as R)."""
    mean = group_sum(st.parent, st.n_groups, t) / st.n[:, None]
    return t - np.where(centred[:, None], mean, 0.0)[st.parent]
