"""The composite index as a recorded pipeline of named steps (COINr's design, the JRC/OECD Handbook's steps).

::

    from surveykit.protection import Composite, load_framework, read_indicator_values
    fw = load_framework("questionnaires/protection_level.yaml")
    values = read_indicator_values("data/demo/protection/indicators.csv")
    c = (Composite(fw, values, year=2026)
         .denominate()          # indicator = value / denominator * scale        (Handbook step 4)
         .impute()              # per-indicator policy: refuse, none, mean, previous (Handbook step 3)
         .treat()               # COINr's skew/kurtosis rule, winsorise, else log   (Handbook step 4)
         .normalise()           # min-max (goalposts), z-score, rank, distance      (Handbook step 5)
         .weight()              # expert, equal, AHP, entropy                      (Handbook step 6)
         .aggregate())          # arithmetic, geometric (zero rule)                 (Handbook step 6)
    r = c.result                # or: build_composite(fw, values, 2026, normalise="rank")
    r.scores; r.steps; r.changes; r.weights; print(r.summary())

Every step returns a new :class:`Composite` (inputs are never modified) and appends one record to ``steps``
(step, method, parameters, what changed, how many values) plus, in ``changes``, every value it touched (which
unit's value was imputed or winsorised, before and after). Steps run in this order; impute and treat may be
skipped; ``normalise`` refuses missing values the impute policy did not allow.

Output (:attr:`CompositeResult.scores`, the columns of ``surveykit composite``): ``unit``, ``node`` (an
indicator id, a dimension id or ``index``), ``value`` (the indicator's value as measured -- after
denomination, before imputation and treatment; NaN for nodes and missing values), ``score`` (0-100),
``rank`` (1 = best among the units of the year, ties share the best rank) -- plus ``level`` and ``parent``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from . import methods as M
from .framework import Framework
from .values import CITY

STAGES = ("start", "denominate", "impute", "treat", "normalise", "weight", "aggregate")

METHOD_TEXT = {
    "minmax": "min-max 0-100 across units (goalposts where given)",
    "goalposts": "min-max 0-100 with goalposts where given",
    "zscore": "z-score, 50 + 10 z",
    "rank": "scaled rank 0-100",
    "distance": "distance to target (or to the best unit)",
    "arithmetic": "weighted arithmetic mean",
    "geometric": "weighted geometric mean",
    "expert": "expert weights from the framework",
    "equal": "equal weights",
    "ahp": "AHP eigenvector weights",
    "entropy": "entropy weights",
}


@dataclass(frozen=True)
class Step:
    step: str
    method: str
    parameters: dict
    changed: str
    n_changed: int


def _panel(framework: Framework, values: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """Per year, a units x variables table of the raw values (city rows left out)."""
    v = values[values["unit"] != CITY]
    out = {}
    for y, g in v.groupby("year", sort=True):
        t = g.pivot(index="unit", columns="indicator", values="value")
        t = t.reindex(pd.unique(g["unit"]))   # units in the order of the values file
        out[int(y)] = t
    return out


class Composite:
    """An immutable composite-index computation; each step method returns a new object. See module docstring."""

    def __init__(self, framework: Framework, values: pd.DataFrame, year: int):
        if not values.attrs.get("checked"):
            from .values import read_indicator_values

            values = read_indicator_values(values)  # unit names, numbers, duplicates: checked once
        panel = _panel(framework, values)
        if int(year) not in panel:
            years = ", ".join(map(str, sorted(panel))) or "none"
            raise InputError(f"no indicator values for {year} (years in the file: {years})",
                             file=values.attrs.get("source"))
        known = set().union(*(set(t.columns) for t in panel.values()))
        absent = [i for i in framework.required_variables if i not in known]
        if absent:
            raise InputError(f"variable(s) the framework needs are missing from the values file: {', '.join(absent)}",
                             file=values.attrs.get("source"), column="indicator")
        self._set(framework=framework, values=values, year=int(year), panel=panel,
                  units=tuple(panel[int(year)].index), stage=0, steps=(), changes=(),
                  raw=None, data=None, normalised=None, weights=None, scores=None, weight_method=None,
                  weight_table=None, policies={})
        self._set(data=self._year_matrix(panel, int(year)), raw=self._year_matrix(panel, int(year)))

    # --- plumbing -------------------------------------------------------------------------------------------
    def _set(self, **kw):
        for k, v in kw.items():
            object.__setattr__(self, k, v)

    def __setattr__(self, key, value):
        raise AttributeError("a Composite is immutable: each step returns a new object")

    def _evolve(self, stage: str, step: Step, changes: list[dict] = (), **kw) -> "Composite":
        new = copy.copy(self)
        new._set(stage=STAGES.index(stage), steps=self.steps + (step,), changes=self.changes + tuple(changes), **kw)
        return new

    def _enter(self, stage: str) -> None:
        k = STAGES.index(stage)
        if k <= self.stage:
            raise ValueError(f"step '{stage}' cannot run after '{STAGES[self.stage]}' (order: "
                             f"{' -> '.join(STAGES[1:])})")

    def _year_matrix(self, panel, year) -> np.ndarray:
        t = panel[year]
        return np.column_stack([t[i].to_numpy(dtype=float) if i in t.columns else np.full(len(t), np.nan)
                                for i in self.framework.indicator_ids])

    @property
    def indicator_ids(self) -> tuple[str, ...]:
        return self.framework.indicator_ids

    def _frame(self, a) -> pd.DataFrame:
        return pd.DataFrame(a, index=pd.Index(self.units, name="unit"), columns=list(self.indicator_ids))

    @property
    def table(self) -> pd.DataFrame:
        """The current working values (units x indicators) -- after denominate, impute, treat as run so far."""
        return self._frame(self.data)

    # --- 1. denominate --------------------------------------------------------------------------------------
    def denominate(self) -> "Composite":
        """Divide each indicator that declares a ``denominator`` by it and multiply by ``scale``
        (e.g. cases per 10,000 market entities: ``denominator: market_entities, scale: 10000``), in every
        year (so that the previous year's value can be imputed on the same footing). A missing or zero
        denominator makes the value missing (recorded)."""
        self._enter("denominate")
        fw = self.framework
        panel = {}
        changes, done, lost = [], [], 0
        for y, t in self.panel.items():
            t = t.copy()
            for ind in fw.indicators:
                if ind.denominator is None:
                    continue
                src = ind.numerator or ind.id
                num = t[src] if src in t.columns else pd.Series(np.nan, index=t.index)
                den = t[ind.denominator] if ind.denominator in t.columns else pd.Series(np.nan, index=t.index)
                with np.errstate(divide="ignore", invalid="ignore"):
                    q = num / den.where(den != 0) * float(ind.scale)
                if y == self.year:
                    for u in t.index:
                        if pd.notna(num[u]) and pd.isna(q[u]):
                            lost += 1
                            changes.append(dict(step="denominate", unit=u, node=ind.id, before=float(num[u]),
                                                after=np.nan, note=f"denominator '{ind.denominator}' missing or 0"))
                t[ind.id] = q
            panel[y] = t
        for ind in fw.indicators:
            if ind.denominator is not None:
                done.append(f"{ind.id} = {ind.numerator or ind.id} / {ind.denominator}"
                            + (f" x {ind.scale:g}" if ind.scale != 1 else ""))
        data = self._year_matrix(panel, self.year)
        n = int(sum(np.sum(~np.isnan(data[:, k])) for k, i in enumerate(fw.indicators) if i.denominator))
        text = ("; ".join(done) if done else "no indicator has a denominator") + \
            (f"; {lost} value(s) lost to a missing or zero denominator" if lost else "")
        step = Step("denominate", "ratio", {"indicators": {i.id: {"numerator": i.numerator or i.id,
                                                                  "denominator": i.denominator, "scale": i.scale}
                                                           for i in fw.indicators if i.denominator}}, text, n)
        return self._evolve("denominate", step, changes, panel=panel, data=data, raw=data.copy())

    # --- 2. impute ------------------------------------------------------------------------------------------
    def impute(self, method: str | None = None) -> "Composite":
        """Fill missing values by each indicator's policy (``impute`` on the indicator, else the framework's;
        ``method`` overrides both): ``refuse`` (an error listing them), ``none`` (left missing: aggregation
        renormalises the weights over the indicators present), ``mean`` (mean of the other units in the
        year), ``previous`` (the unit's value in the previous year; the year's mean when there is none).
        Every imputed value is recorded."""
        self._enter("impute")
        fw = self.framework
        data = self.data.copy()
        prev = self.panel.get(self.year - 1)
        prev_m = self._year_matrix(self.panel, self.year - 1) if prev is not None else None
        prev_units = {u: k for k, u in enumerate(prev.index)} if prev is not None else {}
        changes, refused, counts = [], [], {}
        policies = {}
        for j, ind in enumerate(fw.indicators):
            pol = method or fw.impute_policy(ind.id)
            policies[ind.id] = pol
            col = data[:, j]
            miss = np.flatnonzero(np.isnan(col))
            if len(miss) == 0:
                continue
            mean = float(np.nanmean(col)) if (~np.isnan(col)).any() else np.nan
            for i in miss:
                u = self.units[i]
                if pol == "refuse":
                    refused.append(f"{u}/{ind.id}")
                    continue
                if pol == "none":
                    how, v = "left missing (weights renormalised)", np.nan
                elif pol == "previous" and prev_m is not None and u in prev_units and \
                        not np.isnan(prev_m[prev_units[u], j]):
                    how, v = f"previous year ({self.year - 1})", float(prev_m[prev_units[u], j])
                else:
                    how = "mean of the year" if pol == "mean" else "mean of the year (no previous-year value)"
                    v = mean
                    if np.isnan(v):
                        refused.append(f"{u}/{ind.id} (no unit has a value)")
                        continue
                data[i, j] = v
                counts[how] = counts.get(how, 0) + 1
                changes.append(dict(step="impute", unit=u, node=ind.id, before=np.nan, after=v, note=how))
        if refused:
            more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
            raise InputError(f"missing indicator value(s) for {self.year}: {', '.join(refused[:5])}{more}; the "
                             "impute policy is 'refuse' -- supply the values, or set `impute` (mean, previous, "
                             "none) for the indicator in the framework", file=self.values.attrs.get("source"))
        n = len(changes)
        text = "no missing values" if n == 0 else "; ".join(f"{k}: {v}" for k, v in counts.items())
        step = Step("impute", method or "per indicator", {"policies": policies}, text, n)
        return self._evolve("impute", step, changes, data=data, policies=policies)

    # --- 3. treat -------------------------------------------------------------------------------------------
    def treat(self, method: str | None = None, *, winmax: int | None = None, skew: float | None = None,
              kurt: float | None = None) -> "Composite":
        """Outlier treatment as COINr's default ``Treat()``: an indicator with ``|skew| >= skew`` AND
        ``kurtosis >= kurt`` (type-2 sample statistics; defaults 2 and 3.5) is winsorised -- its most extreme
        value set to the next one, repeatedly, at most ``winmax`` (5) points -- and, if it still fails, log-
        transformed instead (``log(x - min + 0.01 (max - min))``). ``method`` (``none``/``winsorise``)
        overrides the framework and per-indicator policies. Indicators with goalposts or a target are not
        treated (their bounds already fix the scale). Every changed value is recorded."""
        self._enter("treat")
        fw = self.framework
        spec = fw.treat
        winmax = spec.winmax if winmax is None else int(winmax)
        sk = spec.skew if skew is None else float(skew)
        ku = spec.kurt if kurt is None else float(kurt)
        data = self.data.copy()
        changes, notes, n = [], [], 0
        for j, ind in enumerate(fw.indicators):
            pol = method or fw.treat_policy(ind.id)
            if pol != "winsorise":
                continue
            if ind.goalposts is not None or ind.target is not None:
                continue
            col = data[:, j].copy()
            y, info = M.treat_outliers(col, winmax, sk, ku, spec.fallback)
            if info["action"] == "none":
                continue
            data[:, j] = y
            pts = info["points"]
            n += len(pts)
            notes.append(f"{ind.id}: {info['action']} {len(pts)} point(s) (skew {info['skew_before']:.2f} -> "
                         f"{info['skew_after']:.2f}, kurtosis {info['kurt_before']:.2f} -> {info['kurt_after']:.2f})")
            for i in pts:
                changes.append(dict(step="treat", unit=self.units[i], node=ind.id, before=float(col[i]),
                                    after=float(y[i]), note=info["action"]))
        text = "; ".join(notes) if notes else "no indicator exceeded both thresholds (or treatment is off)"
        step = Step("treat", method or ("per indicator" if any(i.treat for i in fw.indicators) else spec.method),
                    {"winmax": winmax, "skew": sk, "kurt": ku, "fallback": spec.fallback}, text, n)
        return self._evolve("treat", step, changes, data=data)

    # --- 4. normalise ---------------------------------------------------------------------------------------
    def normalise(self, method: str | None = None) -> "Composite":
        """Put every indicator on 0-100, higher = better, across the units of the year (``method`` overrides
        the framework's): see :func:`.methods.normalise`."""
        self._enter("normalise")
        fw = self.framework
        if any(i.denominator for i in fw.indicators) and self.stage < STAGES.index("denominate"):
            raise ValueError("indicators declare denominators: call .denominate() before .normalise()")
        method = method or fw.normalise.method
        pols = self.policies or {i.id: fw.impute_policy(i.id) for i in fw.indicators}
        miss = [(self.units[i], fw.indicators[j].id) for i, j in zip(*np.nonzero(np.isnan(self.data)))
                if pols[fw.indicators[j].id] != "none"]
        if miss:
            u, i = miss[0]
            raise InputError(f"missing value for {u}/{i} in {self.year} ({len(miss)} in all): run the impute step "
                             "or set the indicator's impute policy", file=self.values.attrs.get("source"))
        s = normalise_matrix(fw, self.data, method)
        gp = [i.id for i in fw.indicators if i.goalposts is not None] if method in ("minmax", "goalposts") else []
        tg = [i.id for i in fw.indicators if i.target is not None] if method == "distance" else []
        clipped = 0
        if gp:
            for j, ind in enumerate(fw.indicators):
                if ind.goalposts is not None:
                    col = self.data[:, j]
                    clipped += int(np.sum((col < ind.goalposts[0]) | (col > ind.goalposts[1])))
        parts = [f"{len(fw.indicators)} indicators scaled by {METHOD_TEXT[method]}"]
        if gp:
            parts.append(f"goalposts for {', '.join(gp)} ({clipped} value(s) clipped)")
        if tg:
            parts.append(f"targets for {', '.join(tg)}")
        rev = [i.id for i in fw.indicators if i.direction == -1]
        if rev:
            parts.append(f"reversed (lower is better): {', '.join(rev)}")
        const = [fw.indicators[j].id for j in range(s.shape[1])
                 if np.nanmax(self.data[:, j]) == np.nanmin(self.data[:, j]) and fw.indicators[j].goalposts is None]
        if const:
            parts.append(f"constant across units (scored 50): {', '.join(const)}")
        step = Step("normalise", method, {"method": method, "goalposts": {i.id: list(i.goalposts) for i in
                                                                          fw.indicators if i.goalposts is not None},
                                          "targets": {i.id: i.target for i in fw.indicators if i.target is not None}},
                    "; ".join(parts), int(np.sum(~np.isnan(s))))
        return self._evolve("normalise", step, normalised=s)

    # --- 5. weight ------------------------------------------------------------------------------------------
    def weight(self, method: str | None = None) -> "Composite":
        """Weights among siblings (renormalised to sum 1 in each parent): ``expert`` (the framework's),
        ``equal``, ``ahp`` (Saaty's eigenvector of the framework's pairwise matrices; parents without a matrix
        keep their expert weights), ``entropy`` (entropy weights of the normalised scores; the dimensions'
        from the dimension scores, computed at aggregation)."""
        self._enter("weight")
        if self.normalised is None:
            raise ValueError("call .normalise() before .weight()")
        fw = self.framework
        method = method or fw.weights.method
        w_ind, w_dim, params, notes = scheme_weights(fw, method, self.normalised)
        step = Step("weight", method, params, notes, len(w_ind) + (len(w_dim) if w_dim is not None else 0))
        return self._evolve("weight", step, weights=(w_ind, w_dim), weight_method=method)

    # --- 6. aggregate ---------------------------------------------------------------------------------------
    def aggregate(self, method: str | None = None) -> "Composite":
        """Dimension score = aggregate of its indicators' scores; index = aggregate of the dimension scores,
        with the weights of the weight step (``method`` overrides every level's framework setting):
        :func:`.methods.arithmetic` or :func:`.methods.geometric` (zero rule documented there)."""
        self._enter("aggregate")
        if self.weights is None:
            raise ValueError("call .weight() before .aggregate()")
        fw = self.framework
        w_ind, w_dim = self.weights
        dims, index, w_dim_used, notes = aggregate_tree(fw, self.normalised, w_ind, w_dim, method)
        scores = np.column_stack([dims, index])
        params = {"index": (method or fw.aggregate.method),
                  "dimensions": {d.id: (method or fw.aggregate_spec(d.id).method) for d in fw.dimensions},
                  "zeros": fw.aggregate.zeros, "offset": fw.aggregate.offset}
        step = Step("aggregate", method or "per node", params, notes, int(np.sum(~np.isnan(scores))))
        return self._evolve("aggregate", step, scores=scores, weights=(w_ind, w_dim_used))

    # --- results --------------------------------------------------------------------------------------------
    @property
    def result(self) -> "CompositeResult":
        if self.scores is None:
            raise ValueError("the pipeline has not been aggregated yet: call .aggregate()")
        return CompositeResult(self)


# --- shared numerical core (used by the pipeline and by the Monte Carlo) --------------------------------------


def normalise_matrix(fw: Framework, data: np.ndarray, method: str) -> np.ndarray:
    """Normalise each column (indicator) of a units x indicators matrix by ``method``."""
    cols = []
    for j, ind in enumerate(fw.indicators):
        gp = ind.goalposts if method in ("minmax", "goalposts") else None
        cols.append(M.normalise(data[:, j], method, ind.direction, gp, ind.target))
    return np.column_stack(cols)


def scheme_weights(fw: Framework, method: str, normalised: np.ndarray | None = None):
    """``(w_ind, w_dim, parameters, text)``: indicator weights (each dimension's summing to 1, framework
    order) and dimension weights (summing to 1; ``None`` for entropy, computed at aggregation)."""
    members = fw.dimension_members
    w_ind = np.zeros(len(fw.indicators))
    params: dict[str, Any] = {"method": method}
    notes = []
    if method == "expert":
        for j, ind in enumerate(fw.indicators):
            w_ind[j] = float(ind.weight)
        w_dim = np.array([float(d.weight) for d in fw.dimensions])
        notes.append("weights from the framework")
    elif method == "equal":
        w_ind[:] = 1.0
        w_dim = np.ones(len(fw.dimensions))
        notes.append("equal weights among siblings")
    elif method == "ahp":
        for j, ind in enumerate(fw.indicators):
            w_ind[j] = float(ind.weight)
        w_dim = np.array([float(d.weight) for d in fw.dimensions])
        used, kept = {}, []
        for parent, m in fw.ahp.items():
            wts, lam, ci, cr = m.result
            used[parent] = {"lambda_max": round(lam, 4), "CI": round(ci, 4), "CR": round(cr, 4)}
            if parent == "index":
                w_dim = np.array([wts[d.id] for d in fw.dimensions])
            else:
                for j in members[fw.dimension_ids.index(parent)]:
                    w_ind[j] = wts[fw.indicators[j].id]
        for p in ("index", *fw.dimension_ids):
            if p not in fw.ahp:
                kept.append(p)
        params["matrices"] = used
        notes.append("AHP eigenvector weights for " + ", ".join(f"{p} (CR {v['CR']:.3f})" for p, v in used.items()))
        if kept:
            notes.append("expert weights kept for " + ", ".join(kept) + " (no pairwise matrix)")
    elif method == "entropy":
        if normalised is None:
            raise ValueError("entropy weights need the normalised scores")
        for idx in members:
            w_ind[list(idx)] = M.entropy_weights(normalised[:, list(idx)])
        w_dim = None
        notes.append("entropy weights of the normalised scores within each dimension; dimension weights: "
                     "entropy of the dimension scores")
    else:
        raise ValueError(f"unknown weighting method '{method}'")
    for idx in members:
        idx = list(idx)
        tot = w_ind[idx].sum()
        w_ind[idx] = w_ind[idx] / tot if tot > 0 else 1.0 / len(idx)
    if w_dim is not None:
        w_dim = w_dim / w_dim.sum()
    return w_ind, w_dim, params, "; ".join(notes)


def aggregate_tree(fw: Framework, normalised: np.ndarray, w_ind: np.ndarray, w_dim: np.ndarray | None,
                   method: str | None = None, *, refuse_ok: bool = True):
    """Dimension scores (units x dimensions), index scores, the dimension weights used and a note."""
    dims = np.empty((normalised.shape[0], len(fw.dimensions)))
    used = []
    for k, d in enumerate(fw.dimensions):
        idx = list(fw.dimension_members[k])
        spec = fw.aggregate_spec(d.id)
        how = method or spec.method
        used.append(how)
        dims[:, k] = _agg(normalised[:, idx], w_ind[idx], how, spec, d.id, refuse_ok)
    if w_dim is None:
        w_dim = M.entropy_weights(dims)
    how = method or fw.aggregate.method
    index = _agg(dims, w_dim, how, fw.aggregate, "index", refuse_ok)
    kinds = sorted(set(used))
    note = (f"dimensions: {' / '.join(METHOD_TEXT[k] for k in kinds)}; index: {METHOD_TEXT[how]} of the "
            f"{len(fw.dimensions)} dimension scores")
    if "geometric" in used + [how]:
        z = fw.aggregate
        note += (f"; geometric zero rule: {z.zeros}" + (f" (offset {z.offset:g} point)" if z.zeros == "offset" else ""))
    return dims, index, w_dim, note


def _agg(s, w, how, spec, node, refuse_ok=True):
    try:
        return M.aggregate(s, w, how, spec.zeros, spec.offset)
    except ValueError as exc:
        raise InputError(f"cannot aggregate '{node}': {exc}; set aggregate.zeros to 'offset' or normalise with "
                         "goalposts") from None


# --- the result -----------------------------------------------------------------------------------------------


class CompositeResult:
    """The finished computation: tidy ``scores``, ``steps``, ``changes``, ``weights``; :meth:`summary`."""

    def __init__(self, c: Composite):
        self.framework: Framework = c.framework
        self.year: int = c.year
        self.units: tuple[str, ...] = c.units
        self._c = c
        fw = c.framework
        rows = []
        dim_ids = list(fw.dimension_ids)
        ind_rank = np.column_stack([M.competition_rank(c.normalised[:, j]) for j in range(c.normalised.shape[1])])
        node_rank = np.column_stack([M.competition_rank(c.scores[:, k]) for k in range(c.scores.shape[1])])
        for i, u in enumerate(c.units):
            rows.append((u, "index", np.nan, c.scores[i, -1], node_rank[i, -1], "index", ""))
            for k, d in enumerate(fw.dimensions):
                rows.append((u, d.id, np.nan, c.scores[i, k], node_rank[i, k], "dimension", "index"))
                for j, ind in enumerate(fw.indicators):
                    if fw.dimension_of(ind.id) == d.id:
                        rows.append((u, ind.id, c.raw[i, j], c.normalised[i, j], ind_rank[i, j], "indicator", d.id))
        s = pd.DataFrame(rows, columns=["unit", "node", "value", "score", "rank", "level", "parent"])
        s["rank"] = s["rank"].astype("Int64")
        self.scores = s
        self.steps = pd.DataFrame([dict(step=st.step, method=st.method,
                                        parameters=json.dumps(st.parameters, ensure_ascii=False, default=float),
                                        changed=st.changed, n_changed=st.n_changed) for st in c.steps])
        self.changes = pd.DataFrame(list(c.changes), columns=["step", "unit", "node", "before", "after", "note"])
        w_ind, w_dim = c.weights
        wrows = [dict(node=d.id, parent="index", weight=float(w_dim[k]), level="dimension")
                 for k, d in enumerate(fw.dimensions)]
        wrows += [dict(node=ind.id, parent=fw.dimension_of(ind.id), weight=float(w_ind[j]), level="indicator")
                  for j, ind in enumerate(fw.indicators)]
        self.weights = pd.DataFrame(wrows)
        self.weights["method"] = c.weight_method
        self.weights["effective"] = [r.weight if r.level == "dimension" else
                                     r.weight * float(w_dim[dim_ids.index(r.parent)]) for r in self.weights.itertuples()]
        self.choices = {st.step: st.method for st in c.steps}

    @property
    def composite(self) -> Composite:
        return self._c

    def index(self) -> pd.DataFrame:
        """The index score and rank per unit, best first."""
        t = self.scores[self.scores.node == "index"][["unit", "score", "rank"]]
        return t.sort_values(["rank", "unit"]).reset_index(drop=True)

    def wide(self, level: str = "dimension") -> pd.DataFrame:
        """Scores as a units x nodes table (``level``: ``dimension`` (with the index) or ``indicator``)."""
        keep = ["index", *self.framework.dimension_ids] if level == "dimension" else list(self.framework.indicator_ids)
        t = self.scores[self.scores.node.isin(keep)].pivot(index="unit", columns="node", values="score")
        return t.reindex(index=list(self.units), columns=keep)

    def summary(self, lang: str = "en") -> str:
        fw = self.framework
        lines = [f"Composite index '{fw.id}' {fw.version}, {self.year}: {len(self.units)} units, "
                 f"{len(fw.dimensions)} dimensions, {len(fw.indicators)} indicators", "", "Steps:"]
        for st in self._c.steps:
            lines.append(f"  {st.step:<10} {st.method:<14} {st.changed}")
        lines += ["", "Ranking (index score):"]
        for r in self.index().itertuples():
            lines.append(f"  {int(r.rank):>3}  {r.unit:<8} {r.score:6.2f}")
        return "\n".join(lines)


def build_composite(framework: Framework, values: pd.DataFrame, year: int, *, impute: str | None = None,
                    treat: str | None = None, normalise: str | None = None, weights: str | None = None,
                    aggregate: str | None = None) -> CompositeResult:
    """Run every step with the framework's methods, any of which a keyword overrides; see module docstring.

    >>> r = build_composite(fw, values, 2026, normalise="rank", weights="equal")   # doctest: +SKIP
    >>> r.scores.query("node == 'index'")                                           # doctest: +SKIP
    """
    c = Composite(framework, values, year).denominate().impute(impute).treat(treat)
    return c.normalise(normalise).weight(weights).aggregate(aggregate).result
