"""Ranks with uncertainty: how sure are we that a district is 3rd?

A rank is a function of every unit's estimate, so its uncertainty comes from the joint distribution of all the
estimates. Three methods:

* **Parametric simulation** (default; Goldstein & Spiegelhalter 1996 *JRSS A* 159:385; Marshall & Spiegelhalter
  1998 *BMJ* 316:1701): draw ``theta* ~ N(theta_hat, V)`` where ``theta_hat`` are the units' scores and ``V``
  their full design-based covariance matrix (:func:`surveykit.scoring.score_estimates` ``.vcov()``: calibration
  and shared PSUs make units covary), rank every draw, and summarise
  each unit's ranks over the draws.
* **Simultaneous** (``method="simultaneous"``; Mogstad, Romano, Shaikh & Wilhelm 2024, *Rev. Econ. Stud.*
  91:476): the rank interval of unit j counts the units that are *surely* above or below j according to
  simultaneous intervals of the differences ``theta_k - theta_j``. Its coverage is guaranteed (at least
  ``level`` whatever the true scores), at the price of wider intervals.
* **Replicate weights** (``method="replicates"``): the scores recomputed with each replicate's weights of a
  Rao–Wu bootstrap (:meth:`surveykit.Design.bootstrap`), ranked, and summarised as the simulation. No normality
  assumption, but only as good as the replicates' variance: with the demo's two-stage design and large
  first-stage sampling fractions the first-stage bootstrap misses most of the variance (replicate SEs about half
  the linearised ones), so a warning is raised when the two disagree.

Rank 1 is the highest score. Summaries over the draws: ``rank_median``; the interval ``[rank_low, rank_high]``
with ``rank_low`` the ``(1-level)/2`` quantile and ``rank_high`` the ``(1+level)/2`` quantile of the rank
(inverted-CDF quantiles, so the bounds are ranks that occur and each tail holds at most ``(1-level)/2`` of the
draws); ``p_top``, the share of draws in which the unit is among the first ``top``. A 90% interval 2–6 reads
"we are 90% sure the district ranks between 2nd and 6th". Reports should never show a rank without it.

How good are the 90% intervals? A coverage study on the synthetic data with known finite-population truth
(6 populations, 8,000 respondents each, 17 units x 6 scores = 612 intervals per method): the percentile intervals
covered the true rank 88% of the time on average (77-97% per population; average width, high minus low,
4.5 ranks), the simultaneous ones 99% (width 8.3). With independent units of equal SE (toy study, 10 units
spread over 3 SEs, 300 samples) the percentile intervals cover 92% on average but only 85-87% for the first and
last units: the observed extremes look more extreme than they are. The percentile intervals are the usual presentation
(Goldstein & Spiegelhalter); state the method, and use ``"simultaneous"`` when a guarantee matters (e.g. a
demonstration-zone decision that turns on a rank).

Validated in ``tests/test_analysis_ranks.py``: well separated units get degenerate intervals, exchangeable units
get intervals spanning almost every rank, and the coverage studies above (reduced) are repeated.

Examples run on the small fixture study of ``tests/fixtures/store`` (six units 甲区 to 己区, three groups, two
years): ``q`` is its questionnaire, ``responses`` the 2026 responses, ``design`` (= ``d2026``) and ``d2025`` the
designs of its study file (strata ``district``, PSUs ``street`` > ``respondent_id``, fpc at both stages, not
raked); ``tests/test_analysis_docs.py`` provides them when it runs the examples.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..scoring import group_codes, item_score_matrix, rollup
from ..spec.questionnaire import Questionnaire
from ..survey.common import as_list, group_sum
from ..survey.design import Design
from ._util import check_lang, default_nodes, joint_scores

RANK_COLUMNS = ["estimate", "se", "rank", "rank_median", "rank_low", "rank_high", "p_top", "n_units"]


def _ranks(draws: np.ndarray) -> np.ndarray:
    """Ranks (1 = largest) along the last axis; NaN entries are left out (rank NaN)."""
    x = np.where(np.isnan(draws), -np.inf, draws)
    order = np.argsort(-x, axis=-1, kind="stable")
    r = np.empty_like(order)
    np.put_along_axis(r, order, np.arange(1, draws.shape[-1] + 1)[None, :].repeat(draws.shape[0], 0), axis=-1)
    return np.where(np.isnan(draws), np.nan, r.astype(float))


def summarise_ranks(rank_draws: np.ndarray, *, level: float = 0.90, top: int = 3) -> pd.DataFrame:
    """Summaries of simulated ranks (draws x units): median, ``level`` interval, P(rank <= top).

    Returns one row per unit: ``rank_median``, ``rank_low``, ``rank_high``, ``p_top``.
    """
    a = (1.0 - level) / 2.0
    ok = ~np.isnan(rank_draws[0])
    out = pd.DataFrame({"rank_median": np.nan, "rank_low": np.nan, "rank_high": np.nan, "p_top": np.nan},
                       index=range(rank_draws.shape[1]))
    if ok.any():
        rd = rank_draws[:, ok]
        out.loc[ok, "rank_median"] = np.quantile(rd, 0.5, axis=0, method="inverted_cdf")
        out.loc[ok, "rank_low"] = np.quantile(rd, a, axis=0, method="inverted_cdf")
        out.loc[ok, "rank_high"] = np.quantile(rd, 1.0 - a, axis=0, method="inverted_cdf")
        out.loc[ok, "p_top"] = (rd <= top).mean(axis=0)
    return out


def simultaneous_rank_bounds(estimates: np.ndarray, cov: np.ndarray, sim: np.ndarray, *, level: float = 0.90
                             ) -> tuple[np.ndarray, np.ndarray]:
    """Marginal rank confidence intervals from simultaneous intervals of the differences (Mogstad, Romano, Shaikh &
    Wilhelm 2024, *Rev. Econ. Stud.* 91:476, marginal two-sided version).

    For unit j: ``c_j`` is the ``level`` quantile of ``max_k |Z_k - Z_j| / s_jk`` with ``Z ~ N(0, V)`` (the rows of
    ``sim`` centred at the estimates) and ``s_jk^2 = V_jj + V_kk - 2 V_jk``; unit k is surely above j when
    ``d_jk - c_j s_jk > 0`` (``d_jk = theta_k - theta_j``), surely below when ``d_jk + c_j s_jk < 0``. Then
    ``rank_low = 1 + #(surely above)`` and ``rank_high = n - #(surely below)``: the interval covers the true rank with
    probability at least ``level`` (asymptotically), whatever the configuration of the true scores.
    """
    est = np.asarray(estimates, dtype=float)
    ok = np.flatnonzero(~np.isnan(est))
    low = np.full(len(est), np.nan)
    high = np.full(len(est), np.nan)
    n = len(ok)
    if n == 0:
        return low, high
    if n == 1:
        low[ok] = high[ok] = 1.0
        return low, high
    e = est[ok]
    v = cov[np.ix_(ok, ok)]
    z = sim[:, ok] - e
    dv = np.diag(v)
    for a, j in enumerate(ok):
        others = np.array([b for b in range(n) if b != a])
        s = np.sqrt(np.maximum(dv[others] + dv[a] - 2.0 * v[a, others], 0.0))
        d = e[others] - e[a]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.abs(z[:, others] - z[:, [a]]) / s
        t = np.where(s > 0, t, 0.0)
        c = np.quantile(t.max(axis=1), level)
        above = np.sum(np.where(s > 0, d - c * s > 0, d > 0))
        below = np.sum(np.where(s > 0, d + c * s < 0, d < 0))
        low[j] = 1 + above
        high[j] = n - below
    return low, high


def rank_from_estimates(estimates: np.ndarray, cov: np.ndarray, *, draws: int = 4000, level: float = 0.90,
                        top: int = 3, seed: int | None = 20251123, interval: str = "percentile") -> pd.DataFrame:
    """Rank intervals of units from their estimates and covariance matrix (parametric simulation).

    Parameters
    ----------
    estimates : (units,) point estimates (NaN: not ranked).
    cov : (units x units) covariance matrix of the estimates.
    draws, level, top, seed : number of draws, interval level, the "top" of ``p_top``, the random seed.
    interval : ``"percentile"`` (the ``(1-level)/2`` and ``(1+level)/2`` quantiles of the simulated ranks) or
        ``"simultaneous"`` (:func:`simultaneous_rank_bounds`: wider, with guaranteed coverage).

    Returns
    -------
    One row per unit (input order): ``estimate``, ``se``, ``rank`` (of the estimate; 1 = highest), ``rank_median``,
    ``rank_low``, ``rank_high``, ``p_top``, ``n_units`` (units ranked). ``rank_median`` and ``p_top`` always come
    from the simulated ranks.

    Source: Goldstein & Spiegelhalter (1996) *JRSS A* 159:385; Marshall & Spiegelhalter (1998) *BMJ*
    316:1701; Mogstad, Romano, Shaikh & Wilhelm (2024) *Rev. Econ. Stud.* 91:476 (simultaneous).

    Example
    -------
    >>> import numpy as np
    >>> from surveykit.analysis import rank_from_estimates
    >>> rank_from_estimates(np.array([80., 70, 60]), np.eye(3) * 0.01)[["rank", "rank_low", "rank_high"]]
       rank  rank_low  rank_high
    0   1.0       1.0        1.0
    1   2.0       2.0        2.0
    2   3.0       3.0        3.0
    """
    est = np.asarray(estimates, dtype=float)
    v = np.asarray(cov, dtype=float)
    if v.shape != (len(est), len(est)):
        raise InputError("cov must be a units x units matrix matching the estimates")
    if draws < 100:
        raise InputError("use at least 100 draws (2,000 or more for reports)")
    if interval not in ("percentile", "simultaneous"):
        raise InputError(f"interval must be 'percentile' or 'simultaneous', not '{interval}'")
    ok = ~np.isnan(est)
    sim = np.full((draws, len(est)), np.nan)
    if ok.any():
        sub = v[np.ix_(ok, ok)]
        # a symmetric square root (eigendecomposition) works for singular covariance matrices too
        vals, vecs = np.linalg.eigh((sub + sub.T) / 2)
        root = vecs * np.sqrt(np.clip(vals, 0.0, None))
        rng = np.random.default_rng(seed)
        sim[:, ok] = est[ok] + rng.standard_normal((draws, int(ok.sum()))) @ root.T
    out = summarise_ranks(_ranks(sim), level=level, top=top)
    if interval == "simultaneous":
        out["rank_low"], out["rank_high"] = simultaneous_rank_bounds(est, v, sim, level=level)
    out.insert(0, "rank", _ranks(est[None, :])[0])
    out.insert(0, "se", np.where(ok, np.sqrt(np.clip(np.diag(v), 0.0, None)), np.nan))   # no estimate, no SE
    out.insert(0, "estimate", est)
    out["n_units"] = int(ok.sum())
    return out


def _point_scores(q: Questionnaire, design: Design, unit_column: str, nodes: list[str], group: str):
    """A function of the weights giving the (units x nodes) scores, for replicate weights (contract 2 rules 2-4)."""
    data = design.data
    g = group_codes(q, data)
    ys = item_score_matrix(q, data, groups=g)
    dom, table = design.domains(unit_column)
    n_dom, n_grp = len(table), len(q.group_ids)
    m = ~np.isnan(ys)
    y0 = np.where(m, ys, 0.0)
    ru = rollup(q)
    el = {e: k for k, e in enumerate(ru.elements)}
    cols = [el[x] for x in nodes]
    gw = q.group_weights
    pooled = group == "all" and gw is None
    cell = dom if pooled else dom * n_grp + g
    n_cells = n_dom if pooled else n_dom * n_grp

    def fn(w: np.ndarray) -> np.ndarray:
        wm = m * w[:, None]
        num = group_sum(cell, n_cells, wm * y0)
        den = group_sum(cell, n_cells, wm)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = num / den                                            # NaN for empty cells
        if pooled:
            return np.nan_to_num(r) @ ru.coef[None][:, cols] + np.where(
                (np.isnan(r).astype(float) @ (ru.coef[None][:, cols] != 0)) > 0, np.nan, 0.0)
        est = np.zeros((n_dom, len(cols)))
        groups = q.group_ids if group == "all" else (group,)
        for gid in groups:
            k = q.group_ids.index(gid)
            a = ru.coef[gid][:, cols]
            rk = r[np.arange(n_dom) * n_grp + k]
            sk_ = np.nan_to_num(rk) @ a + np.where((np.isnan(rk).astype(float) @ (a != 0)) > 0, np.nan, 0.0)
            if group == "all":
                app = ru.applies[gid][cols]
                wn = np.array([sum(gw[x] for x in q.group_ids if ru.applies[x][c]) for c in cols])
                est += np.where(app, gw[gid] / wn * sk_, 0.0)
            else:
                est = sk_
        return est

    return fn, table


def rank_intervals(q: Questionnaire, design: Design, unit_column: str, *, nodes: Sequence[str] | None = None,
                   group: str = "all", level: float = 0.90, draws: int = 4000, top: int = 3,
                   seed: int | None = 20251123, method: str = "simulation", replicates=None,
                   lang: str = "zh") -> pd.DataFrame:
    """Every unit's rank on the index and each first-level indicator, with a ``level`` interval.

    Parameters
    ----------
    q, design : questionnaire and survey design (the whole city).
    unit_column : the column of reporting units (e.g. ``"district"``).
    nodes : node ids (default ``index`` and the first-level indicators).
    group : ``"all"`` or one respondent group.
    level : interval level (0.90: 5th to 95th percentile of the rank).
    draws : simulation draws (default 4,000; the Monte Carlo error of a bound is then small, and reproducible with
        ``seed``).
    top : ``p_top`` is the probability of ranking among the first ``top`` units.
    method : ``"simulation"`` (default: percentile interval of ranks simulated from the estimates and their full
        covariance), ``"simultaneous"`` (Mogstad et al. 2024: from simultaneous intervals of the differences to
        every other unit; wider, coverage guaranteed) or ``"replicates"`` (percentiles of the ranks recomputed with
        each bootstrap replicate; needs ``replicates``, a bootstrap
        :class:`~surveykit.survey.replicates.ReplicateDesign` of ``design``).
    lang : language of ``rank_label``.

    Returns
    -------
    DataFrame: ``unit_column``, ``group``, ``node``, ``estimate``, ``se``, ``rank`` (1 = highest estimate),
    ``rank_median``, ``rank_low``, ``rank_high``, ``p_top``, ``n_units``, ``rank_label``
    (:func:`format_rank`, e.g. "第3名（90%区间：第2–6名）").
    Units whose score is missing get no rank.

    Source: as :func:`rank_from_estimates`; the covariance from :func:`surveykit.scoring.score_estimates`
    (``.vcov()``).

    Example
    -------
    >>> from surveykit.analysis import rank_intervals
    >>> r = rank_intervals(q, design, "district").query("node == 'index'").sort_values("rank")
    >>> r[["district", "estimate", "rank", "rank_low", "rank_high"]].round(2)
      district  estimate  rank  rank_low  rank_high
    5       甲区     76.78   1.0       1.0        1.0
    2       乙区     67.79   2.0       2.0        3.0
    0       丁区     63.59   3.0       2.0        5.0
    4       戊区     63.53   4.0       2.0        5.0
    1       丙区     61.50   5.0       3.0        5.0
    3       己区       NaN   NaN       NaN        NaN

    (己区's 2026 index is missing -- none of its professionals scored item q08 -- so five units are ranked.)
    """
    check_lang(lang)
    if not 0 < level < 1:
        raise InputError("level must be between 0 and 1")
    nodes = default_nodes(q) if nodes is None else as_list(nodes)
    if unit_column not in design.data.columns:
        raise InputError(f"no column '{unit_column}' in the data")
    if method not in ("simulation", "simultaneous", "replicates"):
        raise InputError(f"method must be 'simulation', 'simultaneous' or 'replicates', not '{method}'")
    e = joint_scores(q, design, unit_column, nodes, group)
    node_list = list(dict.fromkeys(e.keys["node"]))
    n_units = len(e) // len(node_list)
    est = e.estimate.reshape(n_units, len(node_list))
    if method == "replicates":
        per_node = _replicate_ranks(q, design, e, unit_column, node_list, group, replicates, level=level, top=top)
    else:
        v, per_node = e.vcov(), []
        for j in range(len(node_list)):
            idx = np.arange(n_units) * len(node_list) + j
            per_node.append(rank_from_estimates(est[:, j], v[np.ix_(idx, idx)], draws=draws, level=level, top=top,
                                                seed=None if seed is None else seed + j,
                                                interval="percentile" if method == "simulation" else "simultaneous"))
    frames = []
    for j, (node, r) in enumerate(zip(node_list, per_node)):
        r.insert(0, "node", node)
        r.insert(0, "group", group)
        r.insert(0, unit_column, e.keys[unit_column].to_numpy()[np.arange(n_units) * len(node_list) + j])
        frames.append(r)
    out = pd.concat(frames, ignore_index=True)
    out["rank_label"] = [format_rank(r, lo, hi, level=level, lang=lang)
                         for r, lo, hi in zip(out["rank"], out["rank_low"], out["rank_high"])]
    return out[[unit_column, "group", "node", *RANK_COLUMNS, "rank_label"]]


def _replicate_ranks(q: Questionnaire, design: Design, e, unit_column: str, node_list: list[str], group: str,
                     replicates, *, level: float, top: int) -> list[pd.DataFrame]:
    """Per node, the rank summary of the scores recomputed with each bootstrap replicate (``method="replicates"``
    of :func:`rank_intervals`); warns when the replicate variances do not reproduce the linearised ones."""
    if replicates is None:
        raise InputError("method='replicates' needs replicates=design.bootstrap(...)")
    if replicates.kind != "bootstrap":
        raise InputError(f"replicate ranks need bootstrap replicates (their spread is the sampling spread), "
                         f"not {replicates.kind}")
    est = e.estimate.reshape(-1, len(node_list))
    fn, _ = _point_scores(q, design, unit_column, node_list, group)
    full = fn(design.weights.to_numpy())
    if not np.allclose(np.nan_to_num(full), np.nan_to_num(est), rtol=1e-9, atol=1e-9):
        raise AssertionError("replicate scoring does not reproduce the scores")
    reps = np.stack([fn(replicates.replicate_weights(r)) for r in range(replicates.replicates)])
    var = replicates.variance(full, reps)
    lin = np.where(np.isnan(e.estimate), 0.0, e.variances).reshape(est.shape)
    ratio = np.nanmedian(var / np.where(lin > 0, lin, np.nan))
    if ratio < 0.8 or ratio > 1.25:
        warnings.warn(f"the replicate variances are {ratio:.0%} of the linearised ones (median): the replicates do "
                      "not reproduce the design's variance (e.g. later sampling stages with a large first-stage "
                      "sampling fraction), so their rank intervals are too narrow or too wide; prefer "
                      "method='simulation'", stacklevel=3)
    out = []
    for j in range(len(node_list)):
        r = summarise_ranks(_ranks(reps[:, :, j]), level=level, top=top)
        r.insert(0, "rank", _ranks(est[None, :, j])[0])
        r.insert(0, "se", np.sqrt(var[:, j]))
        r.insert(0, "estimate", est[:, j])
        r["n_units"] = int((~np.isnan(est[:, j])).sum())
        out.append(r)
    return out


def format_rank(rank: float, low: float, high: float, *, level: float = 0.90, lang: str = "zh") -> str:
    """A rank as the reports must show it: never without its interval.

    >>> format_rank(3, 2, 6)
    '第3名（90%区间：第2–6名）'
    >>> format_rank(3, 2, 6, lang="en")
    '3rd (90% interval: 2nd–6th)'
    >>> format_rank(1, 1, 1, lang="en")
    '1st (90% interval: 1st–1st)'
    """
    check_lang(lang)
    if any(x is None or x != x for x in (rank, low, high)):
        return "—"
    pct = f"{round(100 * level)}%"
    rank, low, high = int(rank), int(low), int(high)
    if lang == "zh":
        return f"第{rank}名（{pct}区间：第{low}–{high}名）"

    def ordinal(k: int) -> str:
        suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
        return f"{k}{suffix}"

    return f"{ordinal(rank)} ({pct} interval: {ordinal(low)}–{ordinal(high)})"
