"""The composite's methods, one registry per choice: name -> function, description, options.

These five registries are the only place method names are listed. From them

* the pipeline (:mod:`.pipeline`) and the Monte Carlo (:mod:`.uncertainty`) dispatch: ``REGISTRY[name](...)``;
* the framework loader (:mod:`.framework`) accepts exactly their names, and ``surveykit composite`` offers them
  (``--impute/--treat/--normalise/--weights/--aggregate``);
* the documentation is written: :func:`method_table`, the docstrings of the pipeline's steps;
* the uncertainty analysis samples the entries marked ``sampled`` (see :mod:`.uncertainty`).

An unknown name is refused with one :class:`~surveykit.errors.InputError` naming the choices. To add a method,
register it here (or, from a script, with :meth:`Registry.register`; only the steps' docstrings, written at
import, then miss it); nothing else needs to change.

Signatures, per registry (``options`` name the settings a method reads, from the object given as ``settings``):

* :data:`IMPUTE`    ``f(mean, previous, year) -> (value, note)``: the fill of one missing value from the year's
  mean of the other units and the unit's previous-year value (NaN when absent); ``value`` None = refused.
* :data:`TREAT`     ``f(x, **options) -> (treated, record)``; options from the framework's ``treat``.
* :data:`NORMALISE` ``f(x, direction, **options) -> scores 0-100``; options from the indicator.
* :data:`WEIGHTS`   ``f(framework, normalised) -> (w_ind, w_dim, parameters, notes)``, weights not yet
  renormalised among siblings (``w_dim`` None: computed from the dimension scores at aggregation).
* :data:`AGGREGATE` ``f(scores, weights, **options)``; options from the node's ``aggregate`` spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..errors import InputError
from . import methods as M


@dataclass(frozen=True)
class Method:
    """One method: ``name``, ``function``, ``description`` (English, used in the step records), ``label``
    (short zh and en names), ``options`` (settings passed as keywords), ``sampled`` (an option of the
    uncertainty analysis), ``same_as`` (another name for that method), ``needs`` (a framework attribute that
    must not be empty for the method to apply, e.g. ``ahp`` matrices)."""

    name: str
    function: Callable
    description: str
    label: tuple[str, str]
    options: tuple[str, ...] = ()
    sampled: bool = True
    same_as: str | None = None
    needs: str | None = None

    def __call__(self, *args, settings: Any = None):
        """Call the function with ``args`` and, as keywords, the method's options read from ``settings`` (a
        mapping or an object with those attributes)."""
        get = settings.__getitem__ if isinstance(settings, dict) else lambda k: getattr(settings, k)
        return self.function(*args, **{k: get(k) for k in self.options})

    def available(self, framework) -> bool:
        return self.needs is None or bool(getattr(framework, self.needs))


class Registry:
    """The methods of one choice (``key``: the framework key and command-line option), in order."""

    def __init__(self, key: str, label: tuple[str, str], *methods: Method):
        self.key = key
        self.label = label
        self._methods = {m.name: m for m in methods}

    def __getitem__(self, name: str) -> Method:
        try:
            return self._methods[name]
        except (KeyError, TypeError):
            raise InputError(self.unknown(name)) from None

    def unknown(self, name) -> str:
        """The message refusing ``name``: it names every registered method."""
        return f"unknown {self.key} method '{name}' (one of: {', '.join(self._methods)})"

    def register(self, method: Method) -> Method:
        """Add a method (a new name only): from then on the pipeline, the Monte Carlo, the framework loader,
        the command line and :func:`method_table` all know it."""
        if method.name in self._methods:
            raise ValueError(f"{self.key} method '{method.name}' is already registered")
        self._methods[method.name] = method
        return method

    def unregister(self, name: str) -> Method:
        return self._methods.pop(self[name].name)

    def __contains__(self, name) -> bool:
        return name in self._methods

    def __iter__(self):
        return iter(self._methods)

    def __len__(self) -> int:
        return len(self._methods)

    def __repr__(self) -> str:
        return f"Registry({self.key!r}: {', '.join(self._methods)})"

    def methods(self) -> tuple[Method, ...]:
        return tuple(self._methods.values())

    def sampled(self) -> tuple[str, ...]:
        """The names the uncertainty analysis chooses among, in registry order."""
        return tuple(m.name for m in self._methods.values() if m.sampled)

    def canonical(self, name: str) -> str:
        """The method ``name`` stands for (``goalposts`` is ``minmax``)."""
        m = self[name]
        return m.same_as or m.name

    def doc(self) -> str:
        """The methods as a reST list (appended to the docstrings of the pipeline's steps)."""
        return "\n".join(f"* ``{m.name}``: {m.description}" + (f" (reads {', '.join(m.options)})" if m.options
                                                                 else "") for m in self._methods.values())


# --- impute: the fill of one missing value ---------------------------------------------------------------------


def _filled(value: float, note: str) -> tuple[float | None, str]:
    return (None, " (no unit has a value)") if np.isnan(value) else (value, note)


def _refuse(mean: float, previous: float, year: int):
    return None, ""


def _leave_missing(mean: float, previous: float, year: int):
    return np.nan, "left missing (weights renormalised)"


def _mean_of_year(mean: float, previous: float, year: int):
    return _filled(mean, "mean of the year")


def _previous_year(mean: float, previous: float, year: int):
    if not np.isnan(previous):
        return previous, f"previous year ({year - 1})"
    return _filled(mean, "mean of the year (no previous-year value)")


IMPUTE = Registry(
    "impute", ("缺失值插补", "imputation"),
    Method("refuse", _refuse, "refuse: an error lists the missing values", ("拒绝（报错）", "refuse"),
           sampled=False),
    Method("none", _leave_missing, "left missing: the weights are renormalised over the indicators present",
           ("保留缺失", "left missing"), sampled=False),
    Method("mean", _mean_of_year, "mean of the other units in the year", ("年度均值", "mean of year")),
    Method("previous", _previous_year, "the unit's previous-year value (the year's mean when there is none)",
           ("上年值", "previous year")),
)

# --- treat: outliers ----------------------------------------------------------------------------------------------


def _no_treatment(x) -> tuple[np.ndarray, dict]:
    return np.asarray(x, dtype=float).copy(), {"action": "none", "points": []}


def _winsorise(x, *, winmax: int, skew: float, kurt: float, fallback: str) -> tuple[np.ndarray, dict]:
    return M.treat_outliers(x, winmax, skew, kurt, fallback)


TREAT = Registry(
    "treat", ("异常值处理", "outlier treatment"),
    Method("none", _no_treatment, "no outlier treatment", ("不处理", "none"), sampled=False),
    Method("winsorise", _winsorise, "COINr's rule: while the absolute skewness >= skew and the kurtosis >= kurt, "
           "winsorise (at most winmax points); if that fails, log(x - min + 0.01 (max - min)) instead (fallback: log)",
           ("缩尾", "winsorise"), ("winmax", "skew", "kurt", "fallback"), sampled=False),
)

# --- normalise ----------------------------------------------------------------------------------------------------

NORMALISE = Registry(
    "normalise", ("标准化方法", "normalisation method"),
    Method("minmax", M.minmax, "min-max 0-100 across units (goalposts where given)", ("极差标准化", "min-max"),
           ("goalposts",)),
    Method("goalposts", M.minmax, "min-max 0-100 with goalposts where given", ("目标区间", "goalposts"),
           ("goalposts",), sampled=False, same_as="minmax"),
    Method("zscore", M.zscore, "z-score, 50 + 10 z", ("Z 分数", "z-score")),
    Method("rank", M.rank_scores, "scaled rank 0-100", ("排序", "rank")),
    Method("distance", M.distance_to_target, "distance to target (or to the best unit)",
           ("目标距离", "distance to target"), ("target",)),
)

# --- weights ------------------------------------------------------------------------------------------------------


def _expert(fw, normalised=None):
    w_ind = np.array([float(i.weight) for i in fw.indicators])
    w_dim = np.array([float(d.weight) for d in fw.dimensions])
    return w_ind, w_dim, {}, ["weights from the framework"]


def _equal(fw, normalised=None):
    return np.ones(len(fw.indicators)), np.ones(len(fw.dimensions)), {}, ["equal weights among siblings"]


def _ahp(fw, normalised=None):
    """Saaty's eigenvector weights where the framework has a pairwise matrix; expert weights elsewhere."""
    w_ind, w_dim, _, _ = _expert(fw)
    used = {}
    for parent, m in fw.ahp.items():
        wts, lam, ci, cr = m.result
        used[parent] = {"lambda_max": round(lam, 4), "CI": round(ci, 4), "CR": round(cr, 4)}
        if parent == "index":
            w_dim = np.array([wts[d.id] for d in fw.dimensions])
        else:
            for j in fw.dimension_members[fw.dimension_ids.index(parent)]:
                w_ind[j] = wts[fw.indicators[j].id]
    kept = [p for p in ("index", *fw.dimension_ids) if p not in fw.ahp]
    notes = ["AHP eigenvector weights for " + ", ".join(f"{p} (CR {v['CR']:.3f})" for p, v in used.items())]
    if kept:
        notes.append("expert weights kept for " + ", ".join(kept) + " (no pairwise matrix)")
    return w_ind, w_dim, {"matrices": used}, notes


def _entropy(fw, normalised=None):
    if normalised is None:
        raise ValueError("entropy weights need the normalised scores")
    w_ind = np.zeros(len(fw.indicators))
    for idx in fw.dimension_members:
        w_ind[list(idx)] = M.entropy_weights(normalised[:, list(idx)])
    return w_ind, None, {}, ["entropy weights of the normalised scores within each dimension; dimension weights: "
                             "entropy of the dimension scores"]


# The order is the Monte Carlo's order of the alternatives to the framework's scheme (kept so that a seeded
# analysis reproduces its earlier results).
WEIGHTS = Registry(
    "weights", ("权重方案", "weighting scheme"),
    Method("equal", _equal, "equal weights", ("等权", "equal")),
    Method("ahp", _ahp, "AHP eigenvector weights", ("AHP", "AHP"), needs="ahp"),
    Method("entropy", _entropy, "entropy weights", ("熵权", "entropy")),
    Method("expert", _expert, "expert weights from the framework", ("专家权重", "expert")),
)

# --- aggregate ----------------------------------------------------------------------------------------------------

AGGREGATE = Registry(
    "aggregate", ("汇总方法", "aggregation method"),
    Method("arithmetic", M.arithmetic, "weighted arithmetic mean", ("算术加权", "arithmetic")),
    Method("geometric", M.geometric, "weighted geometric mean", ("几何加权", "geometric"), ("zeros", "offset")),
)

REGISTRIES: dict[str, Registry] = {r.key: r for r in (IMPUTE, TREAT, NORMALISE, WEIGHTS, AGGREGATE)}


def method_table() -> pd.DataFrame:
    """Every registered method: ``choice`` (the framework key and command-line option), ``method``,
    ``description``, ``options`` (the settings it reads), ``sampled`` (varied by the uncertainty analysis),
    ``label_zh``, ``label_en``."""
    return pd.DataFrame([dict(choice=r.key, method=m.name, description=m.description, options=", ".join(m.options),
                              sampled=m.sampled, label_zh=m.label[0], label_en=m.label[1])
                         for r in REGISTRIES.values() for m in r.methods()])
