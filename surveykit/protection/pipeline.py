"""The composite index as a recorded pipeline of named steps (COINr's design, the JRC/OECD Handbook's steps).

::

    from surveykit.protection import Composite, load_framework, read_indicator_values
    fw = load_framework("questionnaires/protection_level.yaml")
    values = read_indicator_values("data/demo/protection/indicators.csv")
    c = (Composite(fw, values, year=2026)
         .denominate()          # indicator = value / denominator * scale        (Handbook step 4)
         .impute()              # per-indicator policy, e.g. previous year         (Handbook step 3)
         .treat()               # COINr's skew/kurtosis rule, winsorise, else log   (Handbook step 4)
         .normalise()           # e.g. min-max with goalposts                     (Handbook step 5)
         .weight()              # e.g. expert or AHP weights                      (Handbook step 6)
         .aggregate())          # e.g. weighted arithmetic mean                   (Handbook step 6)
    r = c.result                # or: build_composite(fw, values, 2026, normalise="rank")
    r.scores; r.steps; r.changes; r.weights; print(r.summary())

Every step returns a new :class:`Composite` (inputs are never modified) and appends one record to ``steps``
(step, method, parameters, what changed, how many values) plus, in ``changes``, every value it touched (which
unit's value was imputed or winsorised, before and after). Steps run in this order; impute and treat may be
skipped; ``normalise`` refuses missing values the impute policy did not allow. The methods of each step are
those of :mod:`.registry` (listed in each step's docstring); an unknown name raises InputError.

Output (:attr:`CompositeResult.scores`, the columns of ``surveykit composite``): ``unit``, ``node`` (an
indicator id, a dimension id or ``index``), ``value`` (the indicator's value as measured -- after
denomination, before imputation and treatment; NaN for nodes and missing values), ``score`` (0-100),
``rank`` (1 = best among the units of the year, ties share the best rank) -- plus ``level`` and ``parent``.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from . import methods as M
from .framework import Framework
from .registry import AGGREGATE, IMPUTE, NORMALISE, TREAT, WEIGHTS, Registry
from .values import CITY, read_indicator_values

STAGES = ("start", "denominate", "impute", "treat", "normalise", "weight", "aggregate")


def _lists(registry: Registry):
    """Append the registry's methods to a step's docstring (the documentation comes from the one list)."""
    def add(step):
        step.__doc__ = f"{step.__doc__}\n\n        Methods:\n\n" + "\n".join(
            "        " + line for line in registry.doc().splitlines())
        return step
    return add


def _known(registry: Registry, method: str | None) -> None:
    """Refuse an unknown method name before anything runs."""
    if method is not None:
        registry[method]


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
    def _previous_values(self):
        """``f(unit, j)``: the unit's (denominated) previous-year value of indicator ``j``, NaN when absent."""
        prev = self.panel.get(self.year - 1)
        if prev is None:
            return lambda u, j: np.nan
        m = self._year_matrix(self.panel, self.year - 1)
        rows = {u: k for k, u in enumerate(prev.index)}
        return lambda u, j: float(m[rows[u], j]) if u in rows else np.nan

    @_lists(IMPUTE)
    def impute(self, method: str | None = None) -> "Composite":
        """Fill missing values by each indicator's policy (``impute`` on the indicator, else the framework's;
        ``method`` overrides both). Every imputed value is recorded; values a policy refuses (``refuse``, or a
        mean when no unit has a value) raise one error listing them."""
        self._enter("impute")
        _known(IMPUTE, method)
        fw = self.framework
        data = self.data.copy()
        previous = self._previous_values()
        changes, refused, policies = [], [], {}
        for j, ind in enumerate(fw.indicators):
            policies[ind.id] = pol = method or fw.impute_policy(ind.id)
            col = data[:, j]
            miss = np.flatnonzero(np.isnan(col))
            if len(miss) == 0:
                continue
            fill = IMPUTE[pol]
            mean = float(np.nanmean(col)) if (~np.isnan(col)).any() else np.nan
            for i in miss:
                u = self.units[i]
                v, note = fill(mean, previous(u, j), self.year)
                if v is None:
                    refused.append(f"{u}/{ind.id}{note}")
                    continue
                data[i, j] = v
                changes.append(dict(step="impute", unit=u, node=ind.id, before=np.nan, after=v, note=note))
        if refused:
            more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
            raise InputError(f"missing indicator value(s) for {self.year}: {', '.join(refused[:5])}{more}; the "
                             "impute policy is 'refuse' -- supply the values, or set `impute` (mean, previous, "
                             "none) for the indicator in the framework", file=self.values.attrs.get("source"))
        counts = Counter(c["note"] for c in changes)
        text = "no missing values" if not changes else "; ".join(f"{k}: {v}" for k, v in counts.items())
        step = Step("impute", method or "per indicator", {"policies": policies}, text, len(changes))
        return self._evolve("impute", step, changes, data=data, policies=policies)

    # --- 3. treat -------------------------------------------------------------------------------------------
    @_lists(TREAT)
    def treat(self, method: str | None = None, *, winmax: int | None = None, skew: float | None = None,
              kurt: float | None = None) -> "Composite":
        """Outlier treatment by each indicator's policy (``treat`` on the indicator, else the framework's;
        ``method`` overrides both); ``winmax``, ``skew`` and ``kurt`` override the framework's settings.
        Indicators with goalposts or a target are not treated (their bounds already fix the scale). Every
        changed value is recorded."""
        self._enter("treat")
        _known(TREAT, method)
        fw = self.framework
        spec = fw.treat
        settings = {"winmax": spec.winmax if winmax is None else int(winmax),
                    "skew": spec.skew if skew is None else float(skew),
                    "kurt": spec.kurt if kurt is None else float(kurt), "fallback": spec.fallback}
        data = self.data.copy()
        changes, notes, n = [], [], 0
        for j, ind in enumerate(fw.indicators):
            treat = TREAT[method or fw.treat_policy(ind.id)]
            if ind.goalposts is not None or ind.target is not None:
                continue
            col = data[:, j].copy()
            y, info = treat(col, settings=settings)
            if info["action"] == "none":
                continue
            data[:, j] = y
            pts = info["points"]
            n += len(pts)
            notes.append(f"{ind.id}: {info['action']} {len(pts)} point(s) (skew {info['skew_before']:.2f} -> "
                         f"{info['skew_after']:.2f}, kurtosis {info['kurt_before']:.2f} -> {info['kurt_after']:.2f})")
            changes += [dict(step="treat", unit=self.units[i], node=ind.id, before=float(col[i]), after=float(y[i]),
                             note=info["action"]) for i in pts]
        text = "; ".join(notes) if notes else "no indicator exceeded both thresholds (or treatment is off)"
        step = Step("treat", method or ("per indicator" if any(i.treat for i in fw.indicators) else spec.method),
                    settings, text, n)
        return self._evolve("treat", step, changes, data=data)

    # --- 4. normalise ---------------------------------------------------------------------------------------
    @_lists(NORMALISE)
    def normalise(self, method: str | None = None) -> "Composite":
        """Put every indicator on 0-100, higher = better, across the units of the year (``method`` overrides
        the framework's)."""
        self._enter("normalise")
        fw = self.framework
        if any(i.denominator for i in fw.indicators) and self.stage < STAGES.index("denominate"):
            raise ValueError("indicators declare denominators: call .denominate() before .normalise()")
        method = method or fw.normalise.method
        _known(NORMALISE, method)
        pols = self.policies or {i.id: fw.impute_policy(i.id) for i in fw.indicators}
        miss = [(self.units[i], fw.indicators[j].id) for i, j in zip(*np.nonzero(np.isnan(self.data)))
                if pols[fw.indicators[j].id] != "none"]
        if miss:
            u, i = miss[0]
            raise InputError(f"missing value for {u}/{i} in {self.year} ({len(miss)} in all): run the impute step "
                             "or set the indicator's impute policy", file=self.values.attrs.get("source"))
        s = normalise_matrix(fw, self.data, method)
        step = Step("normalise", method, {"method": method, "goalposts": {i.id: list(i.goalposts) for i in
                                                                          fw.indicators if i.goalposts is not None},
                                          "targets": {i.id: i.target for i in fw.indicators if i.target is not None}},
                    _normalise_text(fw, self.data, s, method), int(np.sum(~np.isnan(s))))
        return self._evolve("normalise", step, normalised=s)

    # --- 5. weight ------------------------------------------------------------------------------------------
    @_lists(WEIGHTS)
    def weight(self, method: str | None = None) -> "Composite":
        """Weights among siblings, renormalised to sum 1 in each parent (``method`` overrides the framework's).
        AHP: Saaty's eigenvector of the framework's pairwise matrices, parents without a matrix keep their
        expert weights; entropy: of the normalised scores, the dimensions' from the dimension scores at
        aggregation."""
        self._enter("weight")
        _known(WEIGHTS, method)
        if self.normalised is None:
            raise ValueError("call .normalise() before .weight()")
        fw = self.framework
        method = method or fw.weights.method
        w_ind, w_dim, params, notes = scheme_weights(fw, method, self.normalised)
        step = Step("weight", method, params, notes, len(w_ind) + (len(w_dim) if w_dim is not None else 0))
        return self._evolve("weight", step, weights=(w_ind, w_dim), weight_method=method)

    # --- 6. aggregate ---------------------------------------------------------------------------------------
    @_lists(AGGREGATE)
    def aggregate(self, method: str | None = None) -> "Composite":
        """Dimension score = aggregate of its indicators' scores; index = aggregate of the dimension scores,
        with the weights of the weight step (``method`` overrides every level's framework setting; the
        geometric mean's zero rule is documented in :func:`.methods.geometric`)."""
        self._enter("aggregate")
        _known(AGGREGATE, method)
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
    """Normalise each column (indicator) of a units x indicators matrix by ``method``; the method reads its
    options (goalposts, target) from the indicator."""
    m = NORMALISE[method]
    return np.column_stack([m(data[:, j], ind.direction, settings=ind) for j, ind in enumerate(fw.indicators)])


def _normalise_text(fw: Framework, data: np.ndarray, s: np.ndarray, method: str) -> str:
    """What the normalise step did, in a sentence."""
    m = NORMALISE[method]
    gp = [i.id for i in fw.indicators if i.goalposts is not None] if "goalposts" in m.options else []
    tg = [i.id for i in fw.indicators if i.target is not None] if "target" in m.options else []
    parts = [f"{len(fw.indicators)} indicators scaled by {m.description}"]
    if gp:
        clipped = sum(int(np.sum((data[:, j] < i.goalposts[0]) | (data[:, j] > i.goalposts[1])))
                      for j, i in enumerate(fw.indicators) if i.goalposts is not None)
        parts.append(f"goalposts for {', '.join(gp)} ({clipped} value(s) clipped)")
    if tg:
        parts.append(f"targets for {', '.join(tg)}")
    rev = [i.id for i in fw.indicators if i.direction == -1]
    if rev:
        parts.append(f"reversed (lower is better): {', '.join(rev)}")
    const = [fw.indicators[j].id for j in range(s.shape[1])
             if np.nanmax(data[:, j]) == np.nanmin(data[:, j]) and fw.indicators[j].goalposts is None]
    if const:
        parts.append(f"constant across units (scored 50): {', '.join(const)}")
    return "; ".join(parts)


def scheme_weights(fw: Framework, method: str, normalised: np.ndarray | None = None):
    """``(w_ind, w_dim, parameters, text)`` of a :data:`.registry.WEIGHTS` scheme: indicator weights (each
    dimension's summing to 1, framework order) and dimension weights (summing to 1; ``None`` for entropy,
    computed at aggregation)."""
    w_ind, w_dim, extra, notes = WEIGHTS[method](fw, normalised)
    for idx in fw.dimension_members:
        idx = list(idx)
        tot = w_ind[idx].sum()
        w_ind[idx] = w_ind[idx] / tot if tot > 0 else 1.0 / len(idx)
    if w_dim is not None:
        w_dim = w_dim / w_dim.sum()
    return w_ind, w_dim, {"method": method, **extra}, "; ".join(notes)


def aggregate_tree(fw: Framework, normalised: np.ndarray, w_ind: np.ndarray, w_dim: np.ndarray | None,
                   method: str | None = None):
    """Dimension scores (units x dimensions), index scores, the dimension weights used and a note."""
    dims = np.empty((normalised.shape[0], len(fw.dimensions)))
    used = []
    for k, d in enumerate(fw.dimensions):
        idx = list(fw.dimension_members[k])
        spec = fw.aggregate_spec(d.id)
        how = method or spec.method
        used.append(how)
        dims[:, k] = _agg(normalised[:, idx], w_ind[idx], how, spec, d.id)
    if w_dim is None:
        w_dim = M.entropy_weights(dims)
    how = method or fw.aggregate.method
    index = _agg(dims, w_dim, how, fw.aggregate, "index")
    kinds = sorted(set(used))
    note = (f"dimensions: {' / '.join(AGGREGATE[k].description for k in kinds)}; index: "
            f"{AGGREGATE[how].description} of the {len(fw.dimensions)} dimension scores")
    if any("zeros" in AGGREGATE[k].options for k in {*used, how}):
        z = fw.aggregate
        note += (f"; geometric zero rule: {z.zeros}" + (f" (offset {z.offset:g} point)" if z.zeros == "offset" else ""))
    return dims, index, w_dim, note


def _agg(s, w, how, spec, node):
    method = AGGREGATE[how]
    try:
        return method(s, w, settings=spec)
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
