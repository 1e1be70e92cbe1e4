"""Before fieldwork: next year's sample -- interviews and first-stage units per unit and group -- from this year's
results (issue 15). ``surveykit plan`` and ``sk.plan_sample`` (contract 3)::

    params = sk.plan_parameters("study.yaml", 2026)       # what this year's sample says, one row per unit and group
    plan = sk.plan_sample(params, half_width=1.5, allocation="power", valid_rate=0.9)
    plan.table                                             # unit, group, n, first_stage_units, half_width, cost

What a plan starts from (:func:`plan_parameters`)
--------------------------------------------------
From the year's results store: every unit's index (group ``all``) and group scores with SE and respondents ``n``
(``SE^2 n``, the design-effect-inclusive variance per respondent, is kept as ``variance_observed``), the groups'
shares of the unit's respondents, the population (sum of the final weights). From the responses, read and weighted
as the store was: per unit the first-stage units (streets) sampled ``k`` and in the frame ``N`` (stage-1 fpc), the
mean persons per first-stage unit in the frame ``M`` (stage-2 fpc), the cluster size ``m = n/k``, Kish's weighting
effect ``D_w = 1 + cv^2`` of the design weights; and of the index's linearised values ``e_i = z_i W_h / w_i``
(``z_i`` a respondent's influence on the unit's estimate, :func:`surveykit.scoring.score_estimates`; for a mean
``e_i = y_i - ybar``) the element variance ``S^2`` (weighted) and the intra-cluster correlation ``rho``.

The variance model (Cochran 1977, §10.2-10.8 and §11.7; Kish 1965, §5.4, §8.2, §11.7; Valliant, Dever & Kreuter
2018, ch. 9)
--------------------------------------------------------------------------------------------------------------
``n`` valid respondents in ``k`` first-stage units per unit (an SRS of first-stage units, then an equal take
``m = n/k`` in each, weights varying as the first-stage units' sizes)::

    V(n, k) = S^2 / n * [ D_w (1 - f1) m rho + (D_w - f2)(1 - rho) ]          f1 = k/N,  f2 = m/M

Cochran's two-stage variance of the ratio estimator with between ``rho S^2`` and within ``(1 - rho) S^2``, the
unequal sizes entering as ``D_w``. Without finite-population corrections it is Kish's ``D_w S^2/n [1 + (m-1) rho]``:
weighting effect times clustering effect. One stage of clusters: ``(1 - f1) D_w S^2/n [m rho + 1 - rho]`` (as its
variance estimator); no clusters: ``(1 - f1) D_w S^2 / n``. A group's score: the same with the group's ``S^2``,
``rho`` and cluster size ``share * m``. The region's index: units are independent strata, ``V = c sum_h a_h^2 V_h``
(Cochran §5.3) with ``a_h`` the unit's population share and ``c`` the ratio of the region's observed variance to
that sum at this year's sample (the region's index weights groups, not units).

``rho`` is computed from the responses -- the ANOVA estimator on ``e`` with first-stage units nested in units,
pooled over the units (Donner 1986; SE by Swiger et al. 1964) -- not inverted from a design effect: the store keeps
no design effect of the index (only its SE and Kish's weighting effect), and with up to 3/4 of a unit's streets
sampled the stage-1 fpc lowers the observed design effect, so ``(deff - 1)/(m - 1)`` would understate ``rho``, as
would the weighting effect it mixes in. Pooled, because one unit's 9-45 first-stage units estimate its own ``rho``
with an SE as large as ``rho``; roh is "portable" across strata (Kish 1965, §14.1; VDK 2018, §9.4).

``variance="model"`` (the default) plans with this model; ``variance="observed"`` takes each unit's ``S^2`` from its
own ``SE^2 n`` instead (solved from the model at this year's design, so the plan reproduces this year's SE). An SE
from ``k - 1`` degrees of freedom is noisy: on six synthetic populations (``benchmarks/bench_plan.py``) the
variance per respondent a unit's plan predicts for the same design was off by 14% (SD) with the model and 21% with
``observed``, unbiased on average (both within 4%).

Allocations (Cochran 1977, §5.5-5.9; Bankier 1988; VDK 2018, ch. 3 and 6)
-------------------------------------------------------------------------
Shares ``pi_h`` of the valid respondents, with ``S_h`` the design-effect-inclusive SD per respondent at the planned
cluster size (``V_h = S_h^2 / n_h - b_h``), ``X_h`` the unit's population, ``c_h`` its cost per interview::

    equal          pi_h ∝ 1
    proportional   pi_h ∝ X_h
    neyman         pi_h ∝ X_h S_h / sqrt(c_h)          (the most precise region estimate for its cost)
    power          pi_h ∝ X_h^q S_h / sqrt(c_h)        (Bankier: minimises sum_h X_h^(2q) V_h for its cost)

Power allocation's ``q`` (``power_q``, default 0.5) runs from 0 -- every unit's precision counts alike (with equal
``S_h`` and costs, equal allocation: equal precision) -- to 1, Neyman allocation (with equal ``S_h`` and costs,
proportional). Groups are not strata: a unit's interviews yield its groups at this year's shares.

The plan
--------
For a target 95% half-width ``H`` of every unit's index: the smallest total for which every unit, with
``n_h = max(pi_h n, floor_h)`` valid respondents, reaches ``H`` (``1.96 sqrt(V_h) <= H``); ``floor_h`` is what the
optional minimum of valid respondents per group and target half-width of every group's score need (and 2).
``k_h = ceil(n_h / m_h)`` first-stage units (``m_h`` this year's cluster size, or ``cluster_size``), at least 2, at
most ``N_h`` (then the clusters grow). ``n`` in the plan is the interviews to conduct, ``ceil(n_h / r)`` at the
valid rate ``r``; half-widths are computed at the ``r n`` valid respondents expected; ``cost = n c_h``. A budget
bounds the total cost; with a budget and no ``H`` the plan spends the budget. When no plan within the budget and
the frames (interviews at most the population) reaches the targets, :class:`~surveykit.errors.InputError` gives the
best half-width achievable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .io import read_table
from .io.writers import check_output_path, write_table
from .results import REGION
from .scoring import group_codes, score_estimates
from .survey.common import Z95

ALLOCATIONS = ("equal", "proportional", "neyman", "power")
VARIANCES = ("model", "observed")
PLAN_COLUMNS = ["unit", "group", "n", "first_stage_units", "half_width", "cost"]
PARAMETER_COLUMNS = ["unit", "group", "n", "se", "share", "population", "first_stage_units", "first_stage_frame",
                     "frame_size", "stages", "cluster_size", "element_variance", "weighting_effect", "icc", "icc_se",
                     "variance_observed", "variance_model"]
MAX_COSTS_BYTES = 10_000_000


# --- the parameters of this year's sample -------------------------------------------------------------------------
def plan_parameters(res, q, design, unit_column: str, source=None) -> pd.DataFrame:
    """The parameters a plan starts from (module docstring), one row per unit and group (``all`` = the unit's
    index) and a last row for the region (unit ``all``): columns :data:`PARAMETER_COLUMNS`.

    ``res`` is the year's results store (:class:`~surveykit.results.YearResults`), ``q`` its questionnaire and
    ``design`` the year's :class:`~surveykit.Design` as the store was computed from it (responses read, checked,
    weighted; ``unit_column`` holds unit ids); ``source`` names the responses in an error.
    :func:`surveykit.workflow.study_plan_parameters` gathers all three for a study's year."""
    structure = design_parameters(q, design, unit_column)
    observed = _store_rows(res)
    out = observed.merge(structure, on=["unit", "group"], how="left")
    missing = out[out.unit.ne(REGION) & out.element_variance.isna()]
    if len(missing):
        raise InputError(f"the responses have no respondent of unit '{missing.unit.iloc[0]}' that the results "
                         f"store lists: run `surveykit report --recompute`", file=source)
    out["variance_observed"] = out["se"] ** 2 * out["n"]
    at_obs = design_factor(out, out["n"].to_numpy(float), out["first_stage_units"].to_numpy(float))
    out["variance_model"] = out["element_variance"] * at_obs
    return _in_study_order(out[PARAMETER_COLUMNS], [u["id"] for u in res.setting.get("units", [])])


def _in_study_order(rows: pd.DataFrame, order) -> pd.DataFrame:
    """``rows`` with their units in ``order`` (the study's units, as its units list gives them), units it does not
    list after them, the region last; rows of one unit keep their order."""
    rank = {u: k for k, u in enumerate(order)}
    key = [len(rank) + 1 if u == REGION else rank.get(u, len(rank)) for u in rows["unit"].astype(str)]
    return rows.iloc[np.argsort(np.asarray(key), kind="stable")].reset_index(drop=True)


def _store_rows(res) -> pd.DataFrame:
    """Index rows of every unit and group (n, se), their shares and populations, and the region's index row."""
    su = res.scores_unit
    idx = su[su.node == "index"][["unit", "group", "n", "se"]]
    sample = res.sample
    unit_n = sample.groupby("unit")["n"].sum()
    groups = sample.assign(share=sample["n"] / sample["unit"].map(unit_n), population=sample["sum_weights"])
    units = sample.groupby("unit", as_index=False).agg(population=("sum_weights", "sum")).assign(group="all",
                                                                                                 share=1.0)
    shares = pd.concat([groups[["unit", "group", "share", "population"]], units], ignore_index=True)
    out = idx.merge(shares, on=["unit", "group"], how="left")
    c = res.scores_city
    region = c[(c.node == "index") & (c.group == "all")]
    row = pd.DataFrame({"unit": [REGION], "group": ["all"], "n": region["n"].to_numpy(),
                        "se": region["se"].to_numpy(), "share": [1.0],
                        "population": [float(units["population"].sum())]})
    return pd.concat([out, row], ignore_index=True)


def design_parameters(q, design, unit_column: str) -> pd.DataFrame:
    """The sample's structure and, per unit and group, the element variance and intra-cluster correlation of the
    index's linearised values (columns ``unit``, ``group``, ``first_stage_units``, ``first_stage_frame``,
    ``frame_size``, ``stages``, ``cluster_size``, ``element_variance``, ``weighting_effect``, ``icc``, ``icc_se``)
    from a :class:`~surveykit.Design` of responses whose ``unit_column`` holds the units (module docstring).
    ``stages``: 0 without clusters, 1 for one stage of clusters, 2 for two or more -- the stages the variance
    estimator uses (R's rule: a later stage only with its population size)."""
    data = design.data
    unit = data[unit_column].astype(str).to_numpy()
    st = design.stages
    cluster = st[0].cluster
    stages = 0 if st[0].n_clusters == len(data) else min(len(st), 2)
    frame_psu = _first_stage_frame(st[0], unit)
    frame_size = _frame_size(st[1], cluster, unit) if len(st) >= 2 else {}
    g = np.array(q.group_ids, dtype=object)[group_codes(q, data)]
    k_unit = pd.Series(cluster).groupby(unit).nunique()
    d_w = weighting_effect(design.base_weights, unit)   # the design weights before calibration (Design keeps them)
    w = design.weights.to_numpy()
    est = score_estimates(q, design, by=unit_column)
    rows = []
    for grp in ("all", *q.group_ids):
        keep = np.ones(len(data), dtype=bool) if grp == "all" else (g == grp)
        e = _linearised(est, design, unit_column, unit, grp, keep)
        rho, rho_se = icc_anova(e[keep], unit[keep], cluster[keep]) if stages else (0.0, 0.0)
        for h in sorted(set(unit[keep])):
            sel = keep & (unit == h)
            rows.append({"unit": h, "group": grp, "first_stage_units": int(k_unit[h]),
                         "first_stage_frame": frame_psu.get(h, np.nan), "frame_size": frame_size.get(h, np.nan),
                         "stages": stages, "cluster_size": sel.sum() / k_unit[h],
                         "element_variance": _weighted_variance(e[sel], w[sel]), "weighting_effect": float(d_w[h]),
                         "icc": rho, "icc_se": rho_se})
    return pd.DataFrame(rows)


def index_influence(est, unit_column: str, group: str = "all") -> np.ndarray:
    """Each respondent's influence ``z_i`` on the index of ``group`` in its own unit (0 outside the group), from
    the scores by unit ``est`` (:func:`~surveykit.scoring.score_estimates` with ``by=unit_column``): the values
    whose sum over a sampling unit enters the variance (``est.design``'s rows, in order)."""
    k, keys = est.influence.k, est.keys
    sel = np.flatnonzero((keys["group"] == group).to_numpy() & (keys["node"] == "index").to_numpy())
    target = pd.Series(est.column[sel] // k, index=keys[unit_column].astype(str).to_numpy()[sel])
    unit = est.design.data[unit_column].astype(str).to_numpy()
    part, dom, vals = est.influence.totals(np.arange(len(unit)), len(unit))   # per respondent and domain
    found = pd.Series(vals[:, int(est.column[sel[0]] % k)], index=pd.MultiIndex.from_arrays([part, dom]))
    wanted = target.reindex(unit).to_numpy()                                  # the domain of its unit's index
    ok = ~np.isnan(wanted)
    z = np.zeros(len(unit))
    z[ok] = found.reindex(pd.MultiIndex.from_arrays([np.flatnonzero(ok), wanted[ok].astype(np.int64)])
                          ).fillna(0.0).to_numpy()
    return z


def _linearised(est, design, unit_column: str, unit: np.ndarray, group: str, keep: np.ndarray) -> np.ndarray:
    """Each respondent's linearised value ``e_i = z_i W / w_i`` for its unit's index of ``group`` (``keep``: the
    group's rows): ``z_i`` its influence on the estimate (:func:`index_influence`), ``W`` the group's sum of
    weights in the unit; for a mean ``e_i = y_i - ybar`` (0 outside the group)."""
    zi = index_influence(est, unit_column, group)
    w = design.weights.to_numpy()
    w_unit = pd.Series(np.where(keep, w, 0.0)).groupby(unit).transform("sum").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(keep & (w > 0), zi * w_unit / w, 0.0)


def _weighted_variance(e: np.ndarray, w: np.ndarray) -> float:
    """``sum w (e - ebar)^2 / sum w * n / (n - 1)``: the population element variance estimated from the sample."""
    if len(e) < 2 or w.sum() <= 0:
        return float("nan")
    mean = float(np.sum(w * e) / w.sum())
    return float(np.sum(w * (e - mean) ** 2) / w.sum() * len(e) / (len(e) - 1))


def weighting_effect(base_weights, unit: np.ndarray) -> pd.Series:
    """Kish's weighting effect ``1 + cv^2`` of the design weights (before calibration) in each unit, ``cv^2`` the
    population-form relvariance ``n sum w^2 / (sum w)^2 - 1`` (Kish 1965, §11.7): with an equal take per first-stage
    unit the weights vary as the first-stage units' sizes, and so will next year's."""
    w = pd.Series(np.asarray(base_weights, dtype=float))
    by = w.groupby(unit)
    return 1.0 + (by.var(ddof=0) / by.mean() ** 2).fillna(0.0)


def _first_stage_frame(stage, unit: np.ndarray) -> dict[str, float]:
    """First-stage units in each unit's frame: a stratum's ``N`` (stage-1 fpc) shared among the units in it in
    proportion to their sampled first-stage units (exact when the strata are the units); NaN without an fpc."""
    with np.errstate(divide="ignore"):
        n_frame = _whole(np.where(stage.f < 1.0, stage.n / (1.0 - stage.f), np.inf))   # per stratum; f = (N-n)/N
    psu = pd.DataFrame({"unit": unit, "psu": stage.cluster}).drop_duplicates()
    psu["stratum"] = stage.parent[psu["psu"].to_numpy()]
    per = psu.groupby(["unit", "stratum"]).size().rename("k").reset_index()
    per["N"] = n_frame[per["stratum"]] * per["k"] / stage.n[per["stratum"]]
    out = per.groupby("unit")["N"].sum()
    return {u: (float(v) if np.isfinite(v) else np.nan) for u, v in out.items()}


def _frame_size(stage2, cluster: np.ndarray, unit: np.ndarray) -> dict[str, float]:
    """Mean persons per first-stage unit in the frame (stage-2 fpc ``M = m / (1 - f)``) over each unit's sampled
    first-stage units; NaN without a stage-2 fpc."""
    with np.errstate(divide="ignore"):
        m_frame = _whole(np.where(stage2.f < 1.0, stage2.n / (1.0 - stage2.f), np.nan))   # per first-stage unit
    psu = pd.DataFrame({"unit": unit, "psu": cluster}).drop_duplicates()
    psu["M"] = m_frame[psu["psu"].to_numpy()]
    return psu.groupby("unit")["M"].mean().to_dict()


def _whole(x: np.ndarray) -> np.ndarray:
    """Population sizes recovered from ``n / (1 - f)``: whole numbers where they are within rounding of one."""
    r = np.round(x)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(x) & (np.abs(x - r) < 1e-6 * np.maximum(np.abs(x), 1.0)), r, x)


def icc_anova(u: np.ndarray, unit: np.ndarray, cluster: np.ndarray) -> tuple[float, float]:
    """Pooled ANOVA estimate of the intra-cluster correlation of ``u`` with clusters nested in units, and its SE.

    ``MSB = sum_c n_c (ubar_c - ubar_h)^2 / (K - H)``, ``MSW = sum_c sum_i (u_i - ubar_c)^2 / (n - K)``,
    ``m0 = (n - sum_h sum_c n_c^2 / n_h) / (K - H)``, ``rho = (MSB - MSW) / (MSB + (m0 - 1) MSW)`` truncated at 0
    (Donner 1986, unequal cluster sizes; Kish 1965, §5.6); ``var(rho) = 2 (1 - rho)^2 (1 + (m0 - 1) rho)^2 (n - H)
    / (m0^2 (n - K) (K - H))`` (Swiger, Harvey, Everson & Gregory 1964), with ``K`` clusters, ``H`` units, ``n``
    values. 0 (SE NaN) when no unit has two clusters."""
    df = pd.DataFrame({"u": u, "h": unit, "c": cluster})
    cl = df.groupby(["h", "c"])["u"].agg(["size", "mean"])
    cl["dev2"] = df.groupby(["h", "c"])["u"].apply(lambda x: float(((x - x.mean()) ** 2).sum()))
    hm = df.groupby("h")["u"].agg(["size", "mean"])
    n, k, h = len(df), len(cl), len(hm)
    if k - h < 1 or n - k < 1:
        return 0.0, float("nan")
    h_of = cl.index.get_level_values("h")
    ssb = float((cl["size"] * (cl["mean"] - hm["mean"].reindex(h_of).to_numpy()) ** 2).sum())
    ssw = float(cl["dev2"].sum())
    msb, msw = ssb / (k - h), ssw / (n - k)
    m0 = (n - float((cl["size"] ** 2 / hm["size"].reindex(h_of).to_numpy()).sum())) / (k - h)
    rho = max((msb - msw) / (msb + (m0 - 1.0) * msw), 0.0) if msb + (m0 - 1.0) * msw > 0 else 0.0
    var = 2.0 * (1 - rho) ** 2 * (1 + (m0 - 1) * rho) ** 2 * (n - h) / (m0 ** 2 * (n - k) * (k - h))
    return float(rho), float(math.sqrt(var))


# --- the variance model -------------------------------------------------------------------------------------------
def design_factor(par: pd.DataFrame, n, k) -> np.ndarray:
    """The factor ``D`` of ``V = S^2 / n * D`` for the rows of ``par`` (parameters) with ``n`` respondents of the
    row's group in ``k`` first-stage units: ``m = n/k``, ``f1 = k/N``, ``f2 = (m/share)/M``, ``D_w`` the weighting
    effect; two stages ``D_w (1 - f1) m rho + (D_w - f2)(1 - rho)``, one stage of clusters
    ``(1 - f1) D_w [m rho + 1 - rho]``, no clusters ``(1 - f1) D_w`` (module docstring)."""
    n, k = np.asarray(n, dtype=float), np.asarray(k, dtype=float)
    share, rho = par["share"].to_numpy(float), par["icc"].to_numpy(float)
    d_w = par["weighting_effect"].to_numpy(float)
    big_n, big_m = par["first_stage_frame"].to_numpy(float), par["frame_size"].to_numpy(float)
    m = n / k
    f1 = np.where(np.isnan(big_n), 0.0, np.minimum(k / np.where(np.isnan(big_n), 1.0, big_n), 1.0))
    f2 = np.where(np.isnan(big_m), 0.0, np.minimum(m / share / np.where(np.isnan(big_m), 1.0, big_m), 1.0))
    two = d_w * (1.0 - f1) * m * rho + (d_w - f2) * (1.0 - rho)
    one = (1.0 - f1) * d_w * (m * rho + 1.0 - rho)
    return np.where(par["stages"].to_numpy() >= 2, two, one)


def first_stage_units(n_valid, cluster_size, frame, stages) -> np.ndarray:
    """First-stage units for ``n_valid`` respondents: ``ceil(n / m)``, at least 2 (a unit's variance needs two)
    and at most the frame's ``N``; the respondents themselves without clusters (``stages == 0``)."""
    n_valid = np.asarray(n_valid, dtype=float)
    k = np.maximum(np.ceil(n_valid / np.asarray(cluster_size, dtype=float) - 1e-9), 2.0)
    frame = np.asarray(frame, dtype=float)
    k = np.where(np.isnan(frame), k, np.minimum(k, frame))
    return np.where(np.asarray(stages) == 0, np.ceil(n_valid), np.minimum(k, np.maximum(n_valid, 1.0)))


# --- the plan -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SamplePlan:
    """A sampling plan: ``table`` (columns :data:`PLAN_COLUMNS`: per unit its index row, group ``all``, then one
    row per group; the region last, unit ``all``), ``units`` (per unit: allocation share, valid respondents,
    interviews, first-stage units, cluster size, element variance, design factor, half-width, cost), ``settings``
    (the targets and choices, totals, and ``clustered``: whether the design samples first-stage units -- False
    when its only stage is the respondents) and ``notes``."""

    table: pd.DataFrame
    units: pd.DataFrame
    settings: dict
    notes: tuple[str, ...] = field(default=())

    @property
    def region_half_width(self) -> float:
        return float(self.table["half_width"].iloc[-1])


def plan_sample(parameters: pd.DataFrame, *, half_width: float | None = None, allocation: str = "power",
                power_q: float = 0.5, group_half_width: float | None = None, min_per_group: int = 0,
                budget: float | None = None, costs=None, valid_rate: float = 1.0,
                cluster_size: float | None = None, variance: str = "model") -> SamplePlan:
    """Interviews and first-stage units per unit and group for a target 95% half-width of every unit's index
    (module docstring: model, allocations, rounding, infeasibility).

    Parameters
    ----------
    parameters : :func:`plan_parameters` of a year (or a table with its columns).
    half_width : target 95% half-width ``H`` of each unit's index (points); optional with a budget (then the plan
        spends the budget).
    allocation : ``equal``, ``proportional``, ``neyman`` or ``power`` (Bankier, exponent ``power_q`` in [0, 1]).
    group_half_width : optional target half-width of each group's score in every unit.
    min_per_group : minimum valid respondents of every group in every unit.
    budget, costs : total budget; cost per interview per unit (a mapping unit id -> cost, or one number).
    valid_rate : expected share of interviews that end valid (response and quality), in (0, 1].
    cluster_size : valid respondents per first-stage unit (default: this year's, per unit).
    variance : ``model`` (element variance and pooled ICC) or ``observed`` (this year's ``SE^2 n``).

    Returns a :class:`SamplePlan`; raises :class:`~surveykit.errors.InputError` when no plan within the budget and
    the frames reaches the targets (its message gives the best half-width achievable).
    """
    opts = _check_options(half_width, allocation, power_q, group_half_width, min_per_group, budget, costs,
                          valid_rate, cluster_size, variance)
    units, groups, region = _split(parameters, opts)
    _attach_costs(units, costs, budget)
    floors = _floors(units, groups, opts)
    need = _requirement(units, units, opts["half_width"], opts) if half_width is not None else np.zeros(len(units))
    if np.isinf(need).any():
        raise InputError(_unreachable(units, need, opts))
    shares = allocation_shares(units, allocation, power_q)
    scale = float(np.max(np.where(need > floors, need / shares, 0.0))) if len(units) else 0.0
    planned = _at_scale(units, shares, floors, scale, opts)
    if not _feasible(units, planned, budget) or half_width is None:
        best = _best_scale(units, shares, floors, opts, budget)
        if half_width is not None or best is None:
            raise InputError(_infeasible_message(units, shares, floors, opts, budget, planned, best))
        planned = best[1]
    return _assemble(units, groups, region, shares, planned, opts)


def _check_options(half_width, allocation, power_q, group_half_width, min_per_group, budget, costs, valid_rate,
                   cluster_size, variance) -> dict:
    def positive(x, name):
        if x is not None and not (isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                                  and x > 0):
            raise InputError(f"{name} must be a positive number, not {x!r}", key=name)

    for value, name in ((half_width, "half_width"), (group_half_width, "group_half_width"), (budget, "budget"),
                        (cluster_size, "cluster_size")):
        positive(value, name)
    if allocation not in ALLOCATIONS:
        raise InputError(f"allocation must be one of {', '.join(ALLOCATIONS)}, not {allocation!r}", key="allocation")
    if variance not in VARIANCES:
        raise InputError(f"variance must be one of {', '.join(VARIANCES)}, not {variance!r}", key="variance")
    if not (isinstance(power_q, (int, float)) and 0.0 <= power_q <= 1.0):
        raise InputError(f"power_q must be between 0 and 1, not {power_q!r}", key="power_q")
    if not (isinstance(valid_rate, (int, float)) and 0.0 < valid_rate <= 1.0):
        raise InputError(f"the valid rate must be in (0, 1], not {valid_rate!r}", key="valid_rate")
    if not (isinstance(min_per_group, (int, np.integer)) and min_per_group >= 0):
        raise InputError(f"min_per_group must be a whole number >= 0, not {min_per_group!r}", key="min_per_group")
    if half_width is None and budget is None:
        raise InputError("give a target half-width, or a budget to spend", key="half_width")
    if budget is not None and costs is None:
        raise InputError("a budget needs the cost per interview of every unit (costs)", key="costs")
    if cluster_size is not None and cluster_size < 1:
        raise InputError(f"cluster_size must be at least 1, not {cluster_size!r}", key="cluster_size")
    return dict(half_width=half_width, allocation=allocation, power_q=float(power_q),
                group_half_width=group_half_width, min_per_group=int(min_per_group), budget=budget,
                valid_rate=float(valid_rate), cluster_size=cluster_size, variance=variance)


def _split(parameters: pd.DataFrame, opts: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series | None]:
    """Unit rows (index ``all``, indexed by unit id), group rows, the region row; with the planning element
    variance ``S2``, planned cluster size ``m_plan``, caps on interviews and valid respondents, population share."""
    missing = [c for c in PARAMETER_COLUMNS if c not in parameters.columns]
    if missing:
        raise InputError(f"the parameters lack column(s) {missing} (see surveykit.plan.plan_parameters)")
    par = parameters[parameters.unit.astype(str) != REGION].copy()
    par["unit"] = par["unit"].astype(str)
    n_obs, k_obs = par["n"].to_numpy(float), par["first_stage_units"].to_numpy(float)
    factor = design_factor(par, n_obs, k_obs)
    par["S2"] = (par["element_variance"] if opts["variance"] == "model"
                 else par["variance_observed"] / factor).to_numpy(float)
    par["V_obs"] = par["S2"] / n_obs * factor
    bad = par[~np.isfinite(par["S2"]) | (par["n"] < 2)]
    if len(bad):
        r = bad.iloc[0]
        raise InputError(f"unit '{r.unit}' has too few respondents of group '{r.group}' this year to plan from "
                         f"({int(r.n)})", key="parameters")
    units = par[par.group == "all"].set_index("unit", drop=False)
    if units.empty:
        raise InputError("the parameters have no unit rows (group 'all')", key="parameters")
    groups = par[par.group != "all"].reset_index(drop=True)
    m = opts["cluster_size"] if opts["cluster_size"] is not None else units["cluster_size"]
    units["m_plan"] = np.where(units["stages"] == 0, 1.0, m)
    units["cap"] = np.floor(units["population"].to_numpy(float) + 1e-9)
    units["cap_valid"] = np.floor(units["cap"] * opts["valid_rate"] + 1e-9)
    units["a"] = units["population"] / units["population"].sum()
    reg = parameters[parameters.unit.astype(str) == REGION]
    return units, groups, (reg.iloc[0] if len(reg) else None)


def _attach_costs(units: pd.DataFrame, costs, budget) -> None:
    """Cost per interview per unit (1 for the allocation when none is given; the plan's cost is then blank)."""
    if costs is None:
        units["c"], units["c_given"] = 1.0, False
        return
    if isinstance(costs, (int, float)) and not isinstance(costs, bool):
        table = {u: float(costs) for u in units.index}
    else:
        table = {str(k): v for k, v in dict(costs).items()}
    lacking = [u for u in units.index if u not in table]
    if lacking:
        raise InputError(f"no cost per interview for unit '{lacking[0]}' ({len(lacking)} unit(s) lack one)",
                         key="costs")
    c = np.array([float(table[u]) for u in units.index])
    if not np.all(np.isfinite(c) & (c > 0)):
        raise InputError(f"the cost per interview of unit '{units.index[int(np.argmin(np.isfinite(c) & (c > 0)))]}'"
                         " must be a positive number", key="costs")
    units["c"], units["c_given"] = c, True


def allocation_shares(units: pd.DataFrame, allocation: str, power_q: float = 0.5) -> np.ndarray:
    """Shares ``pi_h`` of the respondents (module docstring): ``X_h`` = ``population``, ``S_h = sqrt(a_h)`` with
    ``a_h = S2 [m rho + w (1 - rho)]`` the variance per respondent at the planned cluster size (no stage-1 fpc),
    ``c_h`` = ``c`` (1 without costs)."""
    x = units["population"].to_numpy(float)
    if allocation == "equal":
        raw = np.ones(len(units))
    elif allocation == "proportional":
        raw = x
    else:
        q = 1.0 if allocation == "neyman" else power_q
        no_fpc1 = units.assign(first_stage_frame=np.nan)
        m = units["m_plan"].to_numpy(float)
        a = units["S2"].to_numpy(float) * design_factor(no_fpc1, m, np.ones(len(units)))
        raw = x ** q * np.sqrt(a) / np.sqrt(units["c"].to_numpy(float))
    return raw / raw.sum()


def _row_variance(rows: pd.DataFrame, units: pd.DataFrame, n_unit, k=None) -> np.ndarray:
    """Variance of each row's score (a unit's index or a group's score) when its unit has ``n_unit`` valid
    respondents (one value per row) in ``k`` first-stage units (default: as many as the plan gives them)."""
    u = units.loc[rows["unit"].to_numpy()]
    n_unit = np.asarray(n_unit, dtype=float)
    if k is None:
        k = first_stage_units(n_unit, u["m_plan"].to_numpy(float), u["first_stage_frame"].to_numpy(float),
                              u["stages"].to_numpy())
    n_row = rows["share"].to_numpy(float) * n_unit
    return rows["S2"].to_numpy(float) / n_row * design_factor(rows, n_row, k)


def _requirement(rows: pd.DataFrame, units: pd.DataFrame, half_width: float, opts: dict) -> np.ndarray:
    """Per row, the fewest valid respondents of its unit that bring the row's half-width to ``half_width``
    (bisection: the variance falls as respondents are added); inf when even the unit's whole population (at the
    valid rate) does not."""
    target = (half_width / Z95) ** 2
    hi = units.loc[rows["unit"].to_numpy(), "cap_valid"].to_numpy(float)
    reach = _row_variance(rows, units, np.maximum(hi, 2.0)) <= target
    lo = np.full(len(rows), 2.0)
    hi = np.where(reach, np.maximum(hi, 2.0), lo)
    while np.any(hi > lo):
        mid = np.floor((lo + hi) / 2.0)
        ok = _row_variance(rows, units, mid) <= target
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid + 1.0)
    return np.where(reach, hi, np.inf)


def _per_unit(units: pd.DataFrame, rows: pd.DataFrame, values: np.ndarray) -> np.ndarray:
    """The largest of ``values`` (one per row) in each unit (0 where a unit has no row)."""
    s = pd.Series(values, index=rows["unit"].to_numpy()).groupby(level=0).max()
    return s.reindex(units.index).fillna(0.0).to_numpy(float)


def _floors(units: pd.DataFrame, groups: pd.DataFrame, opts: dict) -> np.ndarray:
    """Valid respondents each unit needs whatever the allocation: the minimum per group and the groups' target
    half-width (groups come at this year's shares), and 2."""
    floor = np.full(len(units), 2.0)
    if opts["min_per_group"] and len(groups):
        need = np.ceil(opts["min_per_group"] / groups["share"].to_numpy(float) - 1e-9)
        floor = np.maximum(floor, _per_unit(units, groups, need))
    if opts["group_half_width"] is not None and len(groups):
        need = _requirement(groups, units, opts["group_half_width"], opts)
        if np.isinf(need).any():
            r = groups[np.isinf(need)].iloc[0]
            best = Z95 * math.sqrt(_row_variance(groups[np.isinf(need)].iloc[:1], units,
                                                 [units.loc[r.unit, "cap_valid"]])[0])
            raise InputError(f"group '{r.group}' in unit '{r.unit}' cannot reach ±{opts['group_half_width']:g} "
                             f"even interviewing the unit's whole population ({int(units.loc[r.unit, 'cap'])}); "
                             f"the best achievable half-width there is ±{_above(best, opts['group_half_width'])}",
                             key="group_half_width")
        floor = np.maximum(floor, _per_unit(units, groups, need))
    return floor


def _at_scale(units: pd.DataFrame, shares: np.ndarray, floors: np.ndarray, scale: float, opts: dict) -> pd.DataFrame:
    """The plan for a total of ``scale`` valid respondents allocated by ``shares`` above the ``floors``."""
    n_valid = np.maximum(np.ceil(shares * scale - 1e-9), floors)
    interviews = np.ceil(n_valid / opts["valid_rate"] - 1e-9)
    k = first_stage_units(n_valid, units["m_plan"].to_numpy(float), units["first_stage_frame"].to_numpy(float),
                          units["stages"].to_numpy())
    return pd.DataFrame({"n_valid": n_valid, "interviews": interviews, "first_stage_units": k,
                         "cost": interviews * units["c"].to_numpy(float)}, index=units.index)


def _feasible(units: pd.DataFrame, planned: pd.DataFrame, budget: float | None) -> bool:
    within_frames = bool(np.all(planned["interviews"].to_numpy() <= units["cap"].to_numpy()))
    return within_frames and (budget is None or float(planned["cost"].sum()) <= budget * (1 + 1e-12))


def _best_scale(units, shares, floors, opts, budget) -> tuple[float, pd.DataFrame] | None:
    """The largest total whose plan is within the budget and the frames (None when even the floors are not)."""
    if not _feasible(units, _at_scale(units, shares, floors, 0.0, opts), budget):
        return None
    lo, hi = 0.0, float(np.max(units["cap"].to_numpy(float) / shares)) + 1.0
    for _ in range(80):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if _feasible(units, _at_scale(units, shares, floors, mid, opts), budget) else (lo, mid)
    return lo, _at_scale(units, shares, floors, lo, opts)


def _half_widths(rows: pd.DataFrame, units: pd.DataFrame, planned: pd.DataFrame, opts: dict) -> np.ndarray:
    """Expected 95% half-widths of ``rows`` (units' index or groups' scores) at the planned interviews times the
    valid rate, in the planned first-stage units."""
    p = planned.loc[rows["unit"].to_numpy()]
    n_valid = p["interviews"].to_numpy(float) * opts["valid_rate"]
    return Z95 * np.sqrt(_row_variance(rows, units, n_valid, p["first_stage_units"].to_numpy(float)))


def _infeasible_message(units, shares, floors, opts, budget, planned, best) -> str:
    """One line: why the targets cannot be met, and the best half-width achievable within the budget/frames."""
    how = _allocation_words(opts)
    over = units.index[(planned["interviews"] > units["cap"]).to_numpy()]
    if best is None:
        floor_plan = _at_scale(units, shares, floors, 0.0, opts)
        if len(units.index[(floor_plan["interviews"] > units["cap"]).to_numpy()]) or budget is None:
            return "the minimum per group needs more interviews than a unit's population"
        return (f"the minimum per group and group targets alone cost {floor_plan['cost'].sum():,.0f}, more than the "
                f"budget {budget:,.0f}")
    best_hw = float(np.max(_half_widths(units.reset_index(drop=True), units, best[1], opts)))
    target = f"±{opts['half_width']:g} in every unit"
    if len(over):
        u = over[0]
        why = (f"{target} needs {int(planned.loc[u, 'interviews']):,} interviews in unit '{u}', more than its "
               f"population ({int(units.loc[u, 'cap']):,})")
    else:
        why = f"{target} costs {planned['cost'].sum():,.0f}, more than the budget {budget:,.0f}"
    return f"{why} ({how}); the best achievable half-width is ±{_above(best_hw, opts['half_width'])}"


def _above(best: float, target: float | None) -> str:
    """``best`` with two decimals, or as many more (up to 8) as it takes to show it above ``target`` (shown with
    ``:g``): "cannot reach ±0.02; the best is ±0.0213", never "±0.02; the best is ±0.02"."""
    for decimals in range(2, 9):
        text = f"{best:.{decimals}f}"
        if target is None or float(text) > float(f"{target:g}"):
            return text
    return text


def _allocation_words(opts: dict) -> str:
    a = opts["allocation"]
    return f"power allocation, q = {opts['power_q']:g}" if a == "power" else f"{a} allocation"


def _unreachable(units: pd.DataFrame, need: np.ndarray, opts: dict) -> str:
    u = units.index[np.isinf(need)][0]
    row = units.loc[[u]].reset_index(drop=True)
    best = Z95 * math.sqrt(_row_variance(row, units, [max(units.loc[u, "cap_valid"], 2.0)])[0])
    return (f"unit '{u}' cannot reach ±{opts['half_width']:g} even interviewing its whole population "
            f"({int(units.loc[u, 'cap']):,}, valid rate {opts['valid_rate']:g}); the best achievable half-width "
            f"there is ±{_above(best, opts['half_width'])}")


def _assemble(units, groups, region, shares, planned, opts) -> SamplePlan:
    """The plan's tables: per unit its index row then its groups (expected interviews at this year's shares,
    apportioned by largest remainder), the region last."""
    hw = _half_widths(units.reset_index(drop=True), units, planned, opts)
    g_hw = _half_widths(groups, units, planned, opts) if len(groups) else np.array([])
    g_n = _apportion(groups, planned) if len(groups) else np.array([], dtype=np.int64)
    cost_of = lambda n, u: n * units.loc[u, "c"] if units.loc[u, "c_given"] else np.nan  # noqa: E731
    rows = []
    for i, u in enumerate(units.index):
        p = planned.loc[u]
        rows.append((u, "all", int(p.interviews), int(p.first_stage_units), float(hw[i]), cost_of(p.interviews, u)))
        for j in np.flatnonzero(groups["unit"].to_numpy() == u):
            rows.append((u, groups.group.iloc[j], int(g_n[j]), int(p.first_stage_units), float(g_hw[j]),
                         cost_of(g_n[j], u)))
    region_hw = _region_half_width(units, region, planned, opts)
    total_cost = float(planned["cost"].sum()) if bool(units["c_given"].iloc[0]) else np.nan
    rows.append((REGION, "all", int(planned.interviews.sum()), int(planned.first_stage_units.sum()), region_hw,
                 total_cost))
    table = pd.DataFrame(rows, columns=PLAN_COLUMNS)
    detail = planned.assign(unit=units.index, share=shares, cluster_size=planned.n_valid / planned.first_stage_units,
                            element_variance=units["S2"], icc=units["icc"], half_width=hw)
    detail["cost"] = np.where(units["c_given"], detail["cost"], np.nan)
    settings = {**opts, "interviews": int(planned.interviews.sum()), "first_stage_units":
                int(planned.first_stage_units.sum()), "cost": total_cost, "region_half_width": region_hw,
                "max_unit_half_width": float(np.max(hw)), "clustered": bool(np.any(units["stages"] > 0))}
    return SamplePlan(table=table, units=detail.reset_index(drop=True)[
        ["unit", "share", "n_valid", "interviews", "first_stage_units", "cluster_size", "element_variance", "icc",
         "half_width", "cost"]], settings=settings, notes=_notes(units, groups))


def _apportion(groups: pd.DataFrame, planned: pd.DataFrame) -> np.ndarray:
    """Each unit's interviews split over its groups at their shares, whole numbers summing to the unit's."""
    out = np.zeros(len(groups), dtype=np.int64)
    for u, idx in groups.groupby("unit").indices.items():
        total = int(planned.loc[u, "interviews"])
        exact = groups["share"].to_numpy(float)[idx] * total
        base = np.floor(exact).astype(np.int64)
        order = np.argsort(-(exact - base), kind="stable")
        base[order[: max(total - int(base.sum()), 0)]] += 1
        out[idx] = base
    return out


def _region_half_width(units, region, planned, opts) -> float:
    """``z sqrt(c sum_h a_h^2 V_h)``: the units are independent strata; ``c`` makes this year's sample give this
    year's region SE (module docstring)."""
    rows = units.reset_index(drop=True)
    a2 = units["a"].to_numpy(float) ** 2
    v_plan = _row_variance(rows, units, planned["interviews"].to_numpy(float) * opts["valid_rate"],
                           planned["first_stage_units"].to_numpy(float))
    c = 1.0
    if region is not None and np.isfinite(region["se"]):
        c = float(region["se"]) ** 2 / float(np.sum(a2 * units["V_obs"].to_numpy(float)))
    return float(Z95 * math.sqrt(c * np.sum(a2 * v_plan)))


def _notes(units: pd.DataFrame, groups: pd.DataFrame) -> tuple[str, ...]:
    notes = []
    if len(groups):
        every = sorted(set(groups["group"]))
        for u in units.index:
            have = set(groups.loc[groups.unit == u, "group"])
            for g in every:
                if g not in have:
                    notes.append(f"unit '{u}' had no respondent of group '{g}' this year: the plan cannot "
                                 "promise it any")
    return tuple(notes)


# --- files: costs in, plans out -----------------------------------------------------------------------------------
def read_costs(path, units=None) -> dict[str, float]:
    """A costs file (CSV or XLSX, columns ``unit`` -- an id, Chinese or English name of ``units``, a
    :class:`~surveykit.units.UnitSet` -- and ``cost`` per interview): unit id -> cost. Every row is checked; a unit
    twice, an unknown unit, or a cost that is not a positive number is refused naming the row."""

    path = Path(path)
    if path.is_file() and path.stat().st_size > MAX_COSTS_BYTES:
        raise InputError(f"the costs file is {path.stat().st_size:,} bytes; one row per unit is expected", file=path)
    df = read_table(path)
    for col in ("unit", "cost"):
        if col not in df.columns:
            raise InputError(f"no column '{col}' (a costs file has unit, cost)", file=path, column=col)
    rows = df.attrs.get("file_rows", np.arange(len(df)) + 2)
    out: dict[str, float] = {}
    for k, (name, cost) in enumerate(zip(df["unit"], df["cost"])):
        found = units.find(name) if units is not None else None
        uid = found.id if found is not None else (str(name).strip() if units is None else None)
        if not uid:
            raise InputError(f"unit '{name}' is not one of the study's units", file=path, row=int(rows[k]),
                             column="unit")
        value = pd.to_numeric(pd.Series([cost]), errors="coerce").iloc[0]
        if not (np.isfinite(value) and value > 0):
            raise InputError(f"the cost must be a positive number, not '{cost}'", file=path, row=int(rows[k]),
                             column="cost")
        if uid in out:
            raise InputError(f"unit '{name}' has a second cost", file=path, row=int(rows[k]), column="unit")
        out[uid] = float(value)
    return out


def write_plan(table: pd.DataFrame, path) -> Path:
    """Write a plan table (or its parameters) as CSV (UTF-8 with BOM) or XLSX (sheet ``plan``) by the file's
    extension, through the project's spreadsheet-safe writers (:mod:`surveykit.io.writers`: atomic, text never a
    formula)."""

    path = Path(path)
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise InputError(f"the plan is written as .csv or .xlsx, not '{path.suffix or path.name}'", file=path)
    check_output_path(path)
    return write_table(table, path, sheet="plan", bom=True)
