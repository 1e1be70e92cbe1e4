"""How robust is the ranking? Monte Carlo uncertainty analysis and Sobol sensitivity indices.

Following the JRC/OECD Handbook (2008, step 7) and Saisana, Saltelli & Tarantola (2005), the assumptions made
while building the index are treated as uncertain *input factors*, each sampled uniformly over its options.
A method factor's options are the framework's choice followed by the other methods its registry
(:mod:`.registry`) marks ``sampled``, in registry order -- so a method registered there is varied here too:

* ``weights``     -- :data:`.registry.WEIGHTS` (those that apply: AHP only when the framework has matrices);
* ``noise``       -- a random perturbation of those weights: each weight multiplied by U(1 - d, 1 + d)
                     (d = 0.25 by default, as COINr's ``get_sensitivity``), then renormalised; one of ``K``
                     pre-drawn perturbations is selected (COINr's approach to a many-dimensional input);
* ``normalise``   -- :data:`.registry.NORMALISE` (``goalposts`` is min-max, not a separate option);
* ``aggregate``   -- :data:`.registry.AGGREGATE`, each applied at every level (unless every level already uses it);
* ``impute``      -- :data:`.registry.IMPUTE` (only when values are missing; ``refuse`` and ``none`` are not
                     sampled: one stops the computation, the other is what the framework already allows).

Outlier treatment (:data:`.registry.TREAT`) is not varied.

A factor's uniform input ``u`` in [0, 1) picks option ``floor(u * L)`` of its ``L`` options (a discrete factor,
as in COINr). Factors with a single option are left out (and reported as such).

:func:`rank_uncertainty` runs ``runs`` (>= 1,000) seeded Monte Carlo draws and gives, per unit, the base rank,
the median rank and the 5-95 % band of its rank (empirical quantiles, so the band's ends are ranks that
occurred). :func:`sobol_indices` uses SALib's Saltelli/Sobol' design and estimators: first-order ``S1`` (the
share of the output variance a factor explains alone) and total ``ST`` (alone and through interactions) for
the mean absolute rank shift ``R = (1/n) sum_u |rank_u - base rank_u|`` (Saisana et al. 2005), and ST of
each unit's rank. The factor with the largest ST is the assumption that drives the ranking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from . import methods as M
from .framework import Framework
from .pipeline import Composite, aggregate_tree, normalise_matrix, scheme_weights
from .registry import AGGREGATE, IMPUTE, NORMALISE, WEIGHTS

# the factors, in the order of the Sobol design's columns: a registry each, and the weight perturbation
FACTORS = ("weights", "noise", "normalise", "aggregate", "impute")
NOISE_LABEL = ("权重扰动", "weight perturbation")
FACTOR_LABELS = {f: NOISE_LABEL if f == "noise" else r.label
                 for f, r in zip(FACTORS, (WEIGHTS, None, NORMALISE, AGGREGATE, IMPUTE))}
OPTION_LABELS = {"configured": ("框架设定", "as configured"),
                 **{n: r[n].label for r in (WEIGHTS, NORMALISE, AGGREGATE, IMPUTE) for n in r.sampled()}}


def _weights_options(fw: Framework) -> list:
    """``configured``, then every other sampled scheme that applies to the framework."""
    return ["configured"] + [m for m in WEIGHTS.sampled() if m != fw.weights.method and WEIGHTS[m].available(fw)]


def _normalise_options(fw: Framework) -> list:
    """The framework's method (``goalposts`` counts as ``minmax``), then every other sampled method."""
    base = NORMALISE.canonical(fw.normalise.method)
    return [base] + [m for m in NORMALISE.sampled() if m != base]


def _aggregate_options(fw: Framework) -> list:
    """``configured``, then each sampled method at every level, unless every level already uses it."""
    levels = {fw.aggregate.method, *(fw.aggregate_spec(d).method for d in fw.dimension_ids)}
    return ["configured"] + [m for m in AGGREGATE.sampled() if levels != {m}]


def _impute_options(fw: Framework, has_missing: bool) -> list:
    """``configured``, then -- only when values are missing -- each sampled policy some indicator lacks."""
    if not has_missing:
        return ["configured"]
    return ["configured"] + [m for m in IMPUTE.sampled() if any(fw.impute_policy(i) != m for i in fw.indicator_ids)]


@dataclass
class Factor:
    name: str
    options: list

    def pick(self, u: float):
        return self.options[min(int(u * len(self.options)), len(self.options) - 1)]


class _Model:
    """The composite as a fast function of the factor choices (same numerical core as the pipeline)."""

    def __init__(self, framework: Framework, values: pd.DataFrame, year: int, *, noise: float = 0.25,
                 n_noise: int = 200, seed: int = 0):
        fw = framework
        self.fw = fw
        base = Composite(fw, values, year).denominate()
        self.units = base.units
        imp_opts = _impute_options(fw, bool(np.isnan(base.data).any()))
        self.treated = {opt: base.impute(None if opt == "configured" else opt).treat().data for opt in imp_opts}
        options = {"weights": _weights_options(fw), "noise": list(range(n_noise)) if noise > 0 else [None],
                   "normalise": _normalise_options(fw), "aggregate": _aggregate_options(fw), "impute": imp_opts}
        self.factors = [Factor(f, options[f]) for f in FACTORS]
        self.active = [f for f in self.factors if len(f.options) > 1]
        self.inactive = [f for f in self.factors if len(f.options) <= 1]
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1729]))
        n_i, n_d = len(fw.indicators), len(fw.dimensions)
        self.noise_ind = rng.uniform(1 - noise, 1 + noise, size=(n_noise, n_i)) if noise > 0 else None
        self.noise_dim = rng.uniform(1 - noise, 1 + noise, size=(n_noise, n_d)) if noise > 0 else None
        self.dim_index = np.array([fw.dimension_ids.index(fw.dimension_of(i)) for i in fw.indicator_ids])
        self._norm_cache: dict = {}
        self._w_cache: dict = {}
        self.zeros_note = None
        self.base_scores = self.evaluate({})
        self.base_rank = M.competition_rank(self.base_scores)

    def _normalised(self, imp, norm):
        k = (imp, norm)
        if k not in self._norm_cache:
            self._norm_cache[k] = normalise_matrix(self.fw, self.treated[imp], norm)
        return self._norm_cache[k]

    def evaluate(self, choice: dict) -> np.ndarray:
        fw = self.fw
        imp = choice.get("impute", "configured")
        norm = choice.get("normalise", self.factors[2].options[0])
        wm = choice.get("weights", "configured")
        wm = fw.weights.method if wm == "configured" else wm
        s = self._normalised(imp, norm)
        key = (wm, imp, norm) if wm == "entropy" else (wm,)
        if key not in self._w_cache:
            w_ind, w_dim, _, _ = scheme_weights(fw, wm, s)
            self._w_cache[key] = (w_ind, w_dim)
        w_ind, w_dim = self._w_cache[key]
        k = choice.get("noise")
        if k is not None and self.noise_ind is not None:
            w_ind = w_ind * self.noise_ind[k]
            for d in range(len(fw.dimensions)):
                m = self.dim_index == d
                w_ind[m] = w_ind[m] / w_ind[m].sum()
            if w_dim is not None:
                w_dim = w_dim * self.noise_dim[k]
                w_dim = w_dim / w_dim.sum()
        agg = choice.get("aggregate", "configured")
        try:
            _, index, _, _ = aggregate_tree(fw, s, w_ind, w_dim, None if agg == "configured" else agg)
        except InputError:
            # zeros: refuse cannot hold for min-max scores in a Monte Carlo: use the offset rule there
            self.zeros_note = "geometric zeros 'refuse' replaced by the offset rule in the Monte Carlo"
            fw2 = fw.model_copy(update={"aggregate": fw.aggregate.model_copy(update={"zeros": "offset"})})
            _, index, _, _ = aggregate_tree(fw2, s, w_ind, w_dim, None if agg == "configured" else agg)
        return index

    def run(self, u: np.ndarray) -> np.ndarray:
        """Index scores (rows of ``u`` x units) for a matrix of uniform inputs over the active factors."""
        out = np.empty((u.shape[0], len(self.units)))
        for r in range(u.shape[0]):
            choice = {f.name: f.pick(u[r, k]) for k, f in enumerate(self.active)}
            out[r] = self.evaluate(choice)
        return out

    def factor_table(self) -> pd.DataFrame:
        rows = []
        for f in self.factors:
            opts = f.options
            if f.name == "noise":
                desc = f"{len(opts)} perturbations" if opts != [None] else "off"
            else:
                desc = ", ".join(str(o) for o in opts)
            rows.append(dict(factor=f.name, options=desc, n_options=len(opts), active=len(opts) > 1))
        return pd.DataFrame(rows)


@dataclass
class Uncertainty:
    """Results: ``ranks`` (per unit), ``sobol`` (per factor, for the mean rank shift), ``sobol_units`` (ST per
    unit and factor), ``factors`` (the options sampled), ``runs`` and ``seed``."""

    ranks: pd.DataFrame
    sobol: pd.DataFrame | None
    sobol_units: pd.DataFrame | None
    factors: pd.DataFrame
    runs: int
    seed: int
    notes: list

    @property
    def driver(self) -> str | None:
        """The factor with the largest total Sobol index (the assumption that drives the ranking)."""
        if self.sobol is None or self.sobol.empty or self.sobol.ST.isna().all():
            return None
        return str(self.sobol.sort_values("ST", ascending=False).factor.iloc[0])


def rank_uncertainty(framework: Framework, values: pd.DataFrame, year: int, *, runs: int = 1000, seed: int = 2025,
                     noise: float = 0.25, _model: _Model | None = None) -> tuple[pd.DataFrame, _Model]:
    """Monte Carlo over the input factors: per unit ``base_rank``, ``median_rank``, ``rank_p05``, ``rank_p95``,
    ``base_score``, ``score_p05``, ``score_p95`` (index scores), ``mean_rank``; ``runs`` seeded draws."""
    if runs < 1:
        raise InputError("the Monte Carlo needs at least one run")
    model = _model or _Model(framework, values, year, noise=noise, seed=seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 31]))
    u = rng.random((runs, len(model.active)))
    scores = model.run(u)
    ranks = np.vstack([M.competition_rank(s) for s in scores])
    q = lambda a, p: np.quantile(a, p, axis=0, method="inverted_cdf")  # noqa: E731 - quantiles that occurred
    t = pd.DataFrame({"unit": list(model.units), "base_score": model.base_scores, "base_rank": model.base_rank,
                      "median_rank": q(ranks, 0.5), "rank_p05": q(ranks, 0.05), "rank_p95": q(ranks, 0.95),
                      "mean_rank": ranks.mean(axis=0), "score_p05": np.quantile(scores, 0.05, axis=0),
                      "score_p95": np.quantile(scores, 0.95, axis=0)})
    for c in ("base_rank", "median_rank", "rank_p05", "rank_p95"):
        t[c] = t[c].astype(int)
    t = t.sort_values(["base_rank", "unit"]).reset_index(drop=True)
    return t, model


def sobol_indices(framework: Framework, values: pd.DataFrame, year: int, *, n: int = 256, seed: int = 2025,
                  noise: float = 0.25, _model: _Model | None = None) -> tuple[pd.DataFrame, pd.DataFrame, _Model]:
    """Sobol' first-order and total indices (SALib: Saltelli sampling, ``N = n`` base samples, ``n (D + 2)``
    model runs, bootstrap 95 % intervals) of the mean absolute rank shift, and the total index of each unit's
    rank. Returns ``(table, per_unit, model)``; ``table`` has factor, S1, S1_conf, ST, ST_conf."""
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    model = _model or _Model(framework, values, year, noise=noise, seed=seed)
    names = [f.name for f in model.active]
    if not names:
        empty = pd.DataFrame(columns=["factor", "S1", "S1_conf", "ST", "ST_conf"])
        return empty, pd.DataFrame(columns=["unit", "factor", "ST"]), model
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    x = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    scores = model.run(x)
    ranks = np.vstack([M.competition_rank(s) for s in scores])
    shift = np.mean(np.abs(ranks - model.base_rank[None, :]), axis=1)

    def analyse(y):
        if np.var(y) == 0:
            z = np.zeros(len(names))
            return dict(S1=z, S1_conf=z, ST=z, ST_conf=z)
        return sobol_analyze.analyze(problem, y, calc_second_order=False, num_resamples=200, conf_level=0.95,
                                     seed=seed)

    si = analyse(shift)
    table = pd.DataFrame({"factor": names, "S1": np.clip(si["S1"], 0, None), "S1_conf": si["S1_conf"],
                          "ST": np.clip(si["ST"], 0, None), "ST_conf": si["ST_conf"]})
    table["output"] = "mean absolute rank shift"
    table["runs"] = len(shift)
    rows = []
    for k, u in enumerate(model.units):
        s = analyse(ranks[:, k].astype(float))
        for j, f in enumerate(names):
            rows.append(dict(unit=u, factor=f, ST=float(max(s["ST"][j], 0.0)), S1=float(max(s["S1"][j], 0.0))))
    return table.sort_values("ST", ascending=False).reset_index(drop=True), pd.DataFrame(rows), model


def uncertainty_analysis(framework: Framework, values: pd.DataFrame, year: int, *, runs: int = 1000,
                         sobol_n: int = 256, seed: int = 2025, noise: float = 0.25) -> Uncertainty:
    """Both analyses on one model: :func:`rank_uncertainty` and :func:`sobol_indices` (``sobol_n = 0`` skips it).

    >>> ua = uncertainty_analysis(fw, values, 2026, runs=1000, seed=1)   # doctest: +SKIP
    >>> ua.ranks; ua.sobol; ua.driver                                     # doctest: +SKIP
    """
    if runs < 1000:
        notes = [f"only {runs} Monte Carlo runs (1,000 or more recommended)"]
    else:
        notes = []
    model = _Model(framework, values, year, noise=noise, seed=seed)
    ranks, _ = rank_uncertainty(framework, values, year, runs=runs, seed=seed, _model=model)
    sob = su = None
    if sobol_n:
        sob, su, _ = sobol_indices(framework, values, year, n=sobol_n, seed=seed, _model=model)
    for f in model.inactive:
        if f.name == "impute":
            notes.append("no value is missing: imputation cannot change the ranking and is not varied")
        elif f.name == "noise":
            notes.append("weights are not perturbed (noise = 0)")
        else:
            notes.append(f"factor '{f.name}' has a single option and is not varied")
    if model.zeros_note:
        notes.append(model.zeros_note)
    return Uncertainty(ranks=ranks, sobol=sob, sobol_units=su, factors=model.factor_table(), runs=runs, seed=seed,
                       notes=notes)
