"""The indicator framework of the protection-level composite index: contract 5 and its strict loader.

A framework is a two-level tree -- dimensions, each with indicators -- plus the default method of every
step of the pipeline (normalise, aggregate, weights, impute, treat), optional AHP pairwise matrices and the
auxiliary variables (denominators such as the number of market entities) the indicators are divided by.
It is data, not code: users replace the tree and the methods by editing YAML. :func:`load_framework` refuses
anything ambiguous -- unknown or duplicate keys, duplicate ids, non-positive weights, inverted goalposts, a
denominator that is not declared, an AHP matrix that is not a positive reciprocal matrix of the node's
children or whose consistency ratio is 0.1 or more -- with one message naming the file and the key.

Contract 5 (the minimal form; every other key is optional)::

    id: ip-protection-level
    version: "2025.1"
    normalise: {method: minmax}          # default for every indicator: 0-100 across units of the same year
    aggregate: {method: arithmetic}      # default at every level
    dimensions:
      - id: admin
        label: {zh: 行政保护, en: Administrative protection}
        weight: 0.3                      # optional, default 1; renormalised among siblings
        indicators:
          - id: ruling_closing_rate
            label: {zh: 专利侵权纠纷行政裁决结案率, en: Closing rate of patent-dispute rulings}
            unit: "%"
            direction: 1                 # 1 higher is better, -1 lower is better
            weight: 1                    # optional, default 1
            goalposts: [0, 100]          # optional: fixed bounds instead of the min and max across units

Extensions (all optional): ``title``; ``weights: {method: ...}``; ``impute: {method: ...}``;
``treat: {method: ..., winmax, skew, kurt}``; ``aggregate: {zeros: offset|refuse, offset: 1}`` (the geometric mean's rule for zero scores); ``ahp:`` a
pairwise matrix per parent (``index`` or a dimension id); ``auxiliary:`` variables used as denominators;
on a dimension ``aggregate`` (override); on an indicator ``target`` (distance-to-target normalisation),
``denominator`` + ``scale`` and optionally ``numerator`` (denominate: the indicator is its own value, or
the numerator's, divided by the denominator times the scale), ``impute`` and ``treat`` (overrides), ``definition`` and ``source``.

The methods each ``method`` key accepts are those of :mod:`.registry` (``method_table()`` lists them).
"""

from __future__ import annotations

from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_validator,
                      model_validator)

from ..spec.questionnaire import Id, Label, Weight
from ..spec.yamlio import Version, read_yaml, validate_model
from .registry import AGGREGATE, IMPUTE, NORMALISE, TREAT, WEIGHTS, Registry

_FROZEN = ConfigDict(extra="forbid", frozen=True)
Number = Annotated[StrictFloat | StrictInt, Field(allow_inf_nan=False)]



def _method_of(registry: Registry):
    """The type of a ``method`` key: a name registered in ``registry`` (looked up when a file is loaded, so the
    registry is the one list of accepted names)."""
    def known(name: str) -> str:
        if name not in registry:
            raise ValueError(registry.unknown(name))
        return name
    return Annotated[str, AfterValidator(known)]


NormaliseMethod = _method_of(NORMALISE)
AggregateMethod = _method_of(AGGREGATE)
WeightsMethod = _method_of(WEIGHTS)
ImputeMethod = _method_of(IMPUTE)
TreatMethod = _method_of(TREAT)

# Saaty's random consistency index RI(n) (Saaty 1980, The Analytic Hierarchy Process, table 1.7, n <= 10;
# n = 11..15 from Saaty's later tables, as commonly quoted). CR = CI / RI with CI = (lambda_max - n)/(n - 1).
RANDOM_INDEX = {1: 0.0, 2: 0.0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41, 9: 1.45, 10: 1.49,
                11: 1.51, 12: 1.48, 13: 1.56, 14: 1.57, 15: 1.59}
CR_LIMIT = 0.1


class NormaliseSpec(BaseModel):
    """A method of :data:`.registry.NORMALISE`."""

    model_config = _FROZEN
    method: NormaliseMethod = "minmax"


class AggregateSpec(BaseModel):
    """A method of :data:`.registry.AGGREGATE`; ``zeros`` is the geometric mean's rule for a child scoring 0:
    ``offset`` (default: ``exp(sum w log(s + c)) - c`` with ``c = offset`` points) or ``refuse`` (as COINr)."""

    model_config = _FROZEN
    method: AggregateMethod = "arithmetic"
    zeros: Literal["offset", "refuse"] = "offset"
    offset: Annotated[StrictFloat | StrictInt, Field(gt=0, le=100)] = 1.0


class WeightsSpec(BaseModel):
    model_config = _FROZEN
    method: WeightsMethod = "expert"


class ImputeSpec(BaseModel):
    model_config = _FROZEN
    method: ImputeMethod = "refuse"


class TreatSpec(BaseModel):
    """A method of :data:`.registry.TREAT` and the settings ``winsorise`` reads (COINr's defaults)."""

    model_config = _FROZEN
    method: TreatMethod = "none"
    winmax: Annotated[StrictInt, Field(ge=1)] = 5
    skew: Annotated[StrictFloat | StrictInt, Field(gt=0)] = 2.0
    kurt: Annotated[StrictFloat | StrictInt, Field(gt=0)] = 3.5
    fallback: Literal["log", "none"] = "log"


def _judgement(v) -> float:
    """A Saaty judgement: a positive number or a fraction written as text ("1/3")."""
    if isinstance(v, bool):
        raise ValueError("a judgement must be a number, not true/false")
    if isinstance(v, (int, float)):
        x = float(v)
    elif isinstance(v, str):
        try:
            x = float(Fraction(v.strip()))
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"'{v}' is not a number or a fraction such as 1/3") from None
    else:
        raise ValueError(f"a judgement must be a number, found {type(v).__name__}")
    if not np.isfinite(x) or x <= 0:
        raise ValueError(f"judgements must be positive numbers (found {v})")
    return x


def ahp_weights(matrix) -> tuple[np.ndarray, float, float, float]:
    """Saaty's eigenvector weights of a positive reciprocal matrix.

    Returns ``(weights, lambda_max, CI, CR)``: the principal right eigenvector normalised to sum 1, its
    eigenvalue, ``CI = (lambda_max - n)/(n - 1)`` and ``CR = CI / RI(n)`` (:data:`RANDOM_INDEX`; CR = 0 for
    n <= 2). Saaty (1980, 2008): judgements are acceptable when ``CR < 0.1``.

    >>> w, lam, ci, cr = ahp_weights([[1, 3], [1/3, 1]])
    >>> [round(x, 2) for x in w], round(cr, 3)
    ([0.75, 0.25], 0.0)
    """
    a = np.asarray(matrix, dtype=float)
    n = a.shape[0]
    if n == 1:
        return np.ones(1), 1.0, 0.0, 0.0
    vals, vecs = np.linalg.eig(a)
    k = int(np.argmax(vals.real))
    lam = float(vals[k].real)
    v = np.abs(vecs[:, k].real)
    w = v / v.sum()
    ci = (lam - n) / (n - 1)
    ri = RANDOM_INDEX.get(n)
    if ri is None:
        raise ValueError(f"no random index for a {n}x{n} matrix (at most 15 elements)")
    cr = ci / ri if ri > 0 else 0.0
    return w, lam, ci, max(cr, 0.0)


class AhpMatrix(BaseModel):
    """A pairwise comparison matrix on Saaty's 1-9 scale: ``matrix[i][j]`` is how much more important
    ``compare[i]`` is than ``compare[j]`` (reciprocal: ``matrix[j][i] = 1/matrix[i][j]``)."""

    model_config = _FROZEN
    compare: tuple[Id, ...] = Field(min_length=2)
    matrix: tuple[tuple[float, ...], ...]

    @field_validator("matrix", mode="before")
    @classmethod
    def _numbers(cls, v):
        if not isinstance(v, (list, tuple)):
            raise ValueError("the matrix is a list of rows, each a list of judgements")
        rows = []
        for i, r in enumerate(v):
            if not isinstance(r, (list, tuple)):
                raise ValueError(f"row {i + 1} of the matrix is not a list")
            try:
                rows.append(tuple(_judgement(x) for x in r))
            except ValueError as exc:
                raise ValueError(f"row {i + 1}: {exc}") from None
        return tuple(rows)

    @model_validator(mode="after")
    def _check(self) -> "AhpMatrix":
        n = len(self.compare)
        if len(set(self.compare)) != n:
            raise ValueError(f"'compare' lists an element twice: {list(self.compare)}")
        if len(self.matrix) != n or any(len(r) != n for r in self.matrix):
            raise ValueError(f"the matrix must be {n}x{n} (one row and one column per element of 'compare')")
        a = np.asarray(self.matrix)
        if n > 15:
            raise ValueError("AHP matrices have at most 15 elements (Saaty's random index stops there)")
        if not np.allclose(np.diag(a), 1.0):
            raise ValueError("the diagonal of the matrix must be 1 (an element compared with itself)")
        bad = np.argwhere(~np.isclose(a * a.T, 1.0, rtol=0.02, atol=0))
        if len(bad):
            i, j = (int(x) for x in bad[0])
            raise ValueError(f"the matrix is not reciprocal: row {i + 1}, column {j + 1} is {a[i, j]:g} but row "
                             f"{j + 1}, column {i + 1} is {a[j, i]:g} (expected {1 / a[i, j]:.4g})")
        _, lam, _, cr = ahp_weights(a)
        if cr >= CR_LIMIT:
            raise ValueError(f"the judgements are inconsistent: consistency ratio CR = {cr:.3f} (lambda_max = "
                             f"{lam:.3f}, n = {n}); Saaty's rule requires CR < {CR_LIMIT}. Revise the comparisons "
                             "that contradict each other (if a > b and b > c, then a > c by about the product)")
        return self

    @cached_property
    def result(self) -> tuple[dict[str, float], float, float, float]:
        w, lam, ci, cr = ahp_weights(self.matrix)
        return dict(zip(self.compare, map(float, w))), lam, ci, cr


class Auxiliary(BaseModel):
    """A variable of the values file that is not an indicator, e.g. a denominator (market entities)."""

    model_config = _FROZEN
    id: Id
    label: Label
    unit: str = ""
    definition: Label | None = None
    source: Label | None = None


class Indicator(BaseModel):
    model_config = _FROZEN
    id: Id
    label: Label
    unit: str = ""
    direction: Literal[1, -1] = 1
    weight: Weight = 1.0
    goalposts: tuple[Number, Number] | None = None
    target: Number | None = None
    numerator: Id | None = None
    denominator: Id | None = None
    scale: Annotated[StrictFloat | StrictInt, Field(gt=0, allow_inf_nan=False)] = 1.0
    impute: ImputeMethod | None = None
    treat: TreatMethod | None = None
    definition: Label | None = None
    source: Label | None = None

    @field_validator("direction", mode="before")
    @classmethod
    def _direction(cls, v):
        if isinstance(v, bool) or v not in (1, -1):
            raise ValueError(f"direction must be 1 (higher is better) or -1 (lower is better), found {v!r}")
        return int(v)

    @field_validator("goalposts")
    @classmethod
    def _goalposts(cls, v):
        if v is not None and not v[0] < v[1]:
            raise ValueError(f"goalposts are [lower, upper] with lower < upper (found {list(v)})")
        return v


class Dimension(BaseModel):
    model_config = _FROZEN
    id: Id
    label: Label
    weight: Weight = 1.0
    aggregate: AggregateSpec | None = None
    indicators: tuple[Indicator, ...] = Field(min_length=1)


class Framework(BaseModel):
    """Contract 5. Load with :func:`load_framework`; the object is immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))
    id: str = Field(min_length=1)
    version: Version
    title: Label | None = None
    normalise: NormaliseSpec = NormaliseSpec()
    aggregate: AggregateSpec = AggregateSpec()
    weights: WeightsSpec = WeightsSpec()
    impute: ImputeSpec = ImputeSpec()
    treat: TreatSpec = TreatSpec()
    ahp: dict[str, AhpMatrix] = Field(default_factory=dict)
    auxiliary: tuple[Auxiliary, ...] = ()
    dimensions: tuple[Dimension, ...] = Field(min_length=1)


    @model_validator(mode="after")
    def _check(self) -> "Framework":
        seen: dict[str, str] = {}
        for kind, ids in (("dimension", [d.id for d in self.dimensions]),
                          ("indicator", [i.id for i in self.indicators]),
                          ("auxiliary variable", [a.id for a in self.auxiliary])):
            for x in ids:
                if x == "index":
                    raise ValueError(f"'index' is reserved for the composite index; rename the {kind}")
                if x in seen:
                    raise ValueError(f"duplicate id '{x}' ({seen[x]} and {kind})")
                seen[x] = kind
        known = set(seen)
        for d in self.dimensions:
            for i in d.indicators:
                if i.denominator is not None:
                    if i.denominator not in known or seen[i.denominator] == "dimension":
                        raise ValueError(f"indicator '{i.id}': denominator '{i.denominator}' is neither an auxiliary "
                                         "variable (declare it under 'auxiliary') nor an indicator")
                    if i.denominator == i.id:
                        raise ValueError(f"indicator '{i.id}' is its own denominator")
                if i.numerator is not None:
                    if i.denominator is None:
                        raise ValueError(f"indicator '{i.id}' has a numerator but no denominator")
                    if i.numerator not in known or seen[i.numerator] == "dimension" or i.numerator == i.id:
                        raise ValueError(f"indicator '{i.id}': numerator '{i.numerator}' is neither an auxiliary "
                                         "variable (declare it under 'auxiliary') nor another indicator")
        for parent, m in self.ahp.items():
            if parent == "index":
                children = [d.id for d in self.dimensions]
            elif parent in self.dimension_ids:
                children = [i.id for i in self.dimension(parent).indicators]
            else:
                raise ValueError(f"ahp: '{parent}' is neither 'index' nor a dimension id "
                                 f"({', '.join(self.dimension_ids)})")
            if sorted(m.compare) != sorted(children):
                raise ValueError(f"ahp.{parent}: 'compare' must list exactly the children of '{parent}' "
                                 f"({', '.join(children)}); found {', '.join(m.compare)}")
        scheme = WEIGHTS[self.weights.method]
        if not scheme.available(self):
            raise ValueError(f"weights.method is '{scheme.name}' but no '{scheme.needs}' matrices are given")
        return self

    # --- navigation ------------------------------------------------------------------------------------
    @cached_property
    def indicators(self) -> tuple[Indicator, ...]:
        return tuple(i for d in self.dimensions for i in d.indicators)

    @cached_property
    def indicator_ids(self) -> tuple[str, ...]:
        return tuple(i.id for i in self.indicators)

    @cached_property
    def dimension_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.dimensions)

    @cached_property
    def dimension_index(self) -> tuple[int, ...]:
        """For each indicator (framework order), the position of its dimension."""
        return tuple(k for k, d in enumerate(self.dimensions) for _ in d.indicators)

    @cached_property
    def dimension_members(self) -> tuple[tuple[int, ...], ...]:
        """For each dimension, the positions of its indicators (framework order)."""
        out, j = [], 0
        for d in self.dimensions:
            out.append(tuple(range(j, j + len(d.indicators))))
            j += len(d.indicators)
        return tuple(out)

    def dimension(self, dim_id: str) -> Dimension:
        return next(d for d in self.dimensions if d.id == dim_id)

    def indicator(self, ind_id: str) -> Indicator:
        return next(i for i in self.indicators if i.id == ind_id)

    def dimension_of(self, ind_id: str) -> str:
        return next(d.id for d in self.dimensions for i in d.indicators if i.id == ind_id)

    def label(self, node_id: str, lang: str = "zh") -> str:
        """The label of ``index`` (the title), a dimension, an indicator or an auxiliary variable; else the id."""
        if node_id == "index":
            return self.title.get(lang) if self.title else ("综合指数" if lang == "zh" else "Composite index")
        labels = {x.id: x.label for x in (*self.dimensions, *self.indicators, *self.auxiliary)}  # ids are unique
        return labels[node_id].get(lang) if node_id in labels else node_id

    def impute_policy(self, ind_id: str) -> str:
        return self.indicator(ind_id).impute or self.impute.method

    def treat_policy(self, ind_id: str) -> str:
        return self.indicator(ind_id).treat or self.treat.method

    def aggregate_spec(self, node_id: str) -> AggregateSpec:
        """The aggregation of a node's children: the dimension's own, else the framework default."""
        if node_id != "index":
            d = self.dimension(node_id)
            if d.aggregate is not None:
                return d.aggregate
        return self.aggregate

    @property
    def required_variables(self) -> tuple[str, ...]:
        """The variables the values file must hold: each indicator's own values -- or, for a ratio defined
        by ``numerator``/``denominator``, those two -- and the denominators."""
        out: list[str] = []
        for i in self.indicators:
            for v in ((i.numerator, i.denominator) if i.numerator else (i.id, i.denominator)):
                if v is not None and v not in out:
                    out.append(v)
        return tuple(out)


def load_framework(path: str | Path) -> Framework:
    """Read and validate an indicator framework YAML file (contract 5); problems raise a located SpecError."""
    data = read_yaml(path)
    return validate_model(Framework, data, path)  # type: ignore[return-value]
