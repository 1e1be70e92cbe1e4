"""The questionnaire: a frozen model of contract 1 (docs/CONTRACTS.md) and its strict loader.

A questionnaire declares the answer scale, the respondent groups (with optional weights for the
"all groups" score) and an indicator tree whose leaves are items, i.e. columns of the response data.
It is data, not code: users replace the tree by editing YAML. :func:`load_questionnaire` refuses
anything ambiguous -- unknown keys, duplicate ids, non-positive weights, empty nodes, an inverted
scale, undeclared groups -- with one message naming the file and the offending key or id.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Iterator

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_validator, model_validator

from ..errors import SpecError
from .yamlio import Version, read_yaml, validate_model

_FROZEN = ConfigDict(extra="forbid", frozen=True)
# a weight is a finite positive number (not a boolean, not .inf)
Weight = Annotated[StrictFloat | StrictInt, Field(gt=0, allow_inf_nan=False)]
# an id is a non-empty name without surrounding blanks (ids are column names in the data)
Id = Annotated[str, Field(min_length=1, pattern=r"^\S(.*\S)?$")]


class Label(BaseModel):
    """A bilingual label. ``en`` falls back to ``zh`` when absent."""

    model_config = _FROZEN
    zh: str = Field(min_length=1)
    en: str | None = None

    def get(self, lang: str = "zh") -> str:
        return self.en if lang == "en" and self.en else self.zh


class Scale(BaseModel):
    """An answer scale: integer codes ``min..max``; codes in ``missing`` mean don't know / not applicable."""

    model_config = _FROZEN
    min: int
    max: int
    missing: tuple[int, ...] = ()
    labels: dict[int, Label] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> "Scale":
        if self.min >= self.max:
            raise ValueError(f"scale min ({self.min}) must be below max ({self.max})")
        inside = [m for m in self.missing if self.min <= m <= self.max]
        if inside:
            raise ValueError(f"missing code(s) {inside} fall inside the scale {self.min}..{self.max}")
        bad = [k for k in self.labels if not (self.min <= k <= self.max or k in self.missing)]
        if bad:
            raise ValueError(f"label(s) for code(s) {bad} that are neither on the scale nor missing codes")
        return self

    def score(self, x, reverse: bool = False):
        """Item score on 0-100: ``100*(x-min)/(max-min)``, or ``100*(max-x)/(max-min)`` when reversed."""
        span = self.max - self.min
        return 100.0 * ((self.max - x) if reverse else (x - self.min)) / span


class GroupLevel(BaseModel):
    model_config = _FROZEN
    id: Id
    label: Label
    weight: Weight | None = None


class Groups(BaseModel):
    model_config = _FROZEN
    column: str = Field(min_length=1)
    levels: tuple[GroupLevel, ...] = Field(min_length=1)


class Item(BaseModel):
    """A question: ``id`` is the column name in the response data."""

    model_config = _FROZEN
    id: Id
    text: Label
    weight: Weight = 1.0
    reverse: bool = False
    groups: tuple[str, ...] | None = None
    scale: Scale | None = None

    @field_validator("groups")
    @classmethod
    def _non_empty(cls, v):
        if v is not None and len(v) == 0:
            raise ValueError("an empty group list means the item is never asked; omit 'groups' for every group")
        return v


class Node(BaseModel):
    """An indicator: a node of the tree with child nodes and/or items."""

    model_config = _FROZEN
    id: Id
    label: Label
    weight: Weight = 1.0
    children: tuple["Node", ...] = ()
    items: tuple[Item, ...] = ()

    @model_validator(mode="after")
    def _not_empty(self) -> "Node":
        if not self.children and not self.items:
            raise ValueError(f"indicator '{self.id}' has neither children nor items")
        return self

    def walk(self) -> Iterator["Node"]:
        yield self
        for c in self.children:
            yield from c.walk()

    def leaf_items(self) -> Iterator[Item]:
        for c in self.children:
            yield from c.leaf_items()
        yield from self.items


class Band(BaseModel):
    """A score band: scores at or above ``min`` (and below the next band's ``min``) get ``label``."""

    model_config = _FROZEN
    min: float = Field(ge=0, le=100)
    label: Label


DEFAULT_BANDS = (
    Band(min=90, label=Label(zh="优秀", en="Excellent")),
    Band(min=80, label=Label(zh="良好", en="Good")),
    Band(min=70, label=Label(zh="一般", en="Fair")),
    Band(min=60, label=Label(zh="及格", en="Pass")),
    Band(min=0, label=Label(zh="不及格", en="Fail")),
)


class Roles(BaseModel):
    """What some nodes stand for: ``outcome`` is the node of overall satisfaction (drivers and
    importance-performance explain it by the other indicators); absent, those analyses are left out."""

    model_config = _FROZEN
    outcome: str | None = None


class Questionnaire(BaseModel):
    """Contract 1. Load with :func:`load_questionnaire`; the object is immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))
    id: str = Field(min_length=1)
    version: Version
    title: Label
    intro: Label | None = None  # extension of contract 1: optional text opening the printed/online questionnaire
    scale: Scale
    groups: Groups
    indicators: tuple[Node, ...] = Field(min_length=1)
    bands: tuple[Band, ...] = DEFAULT_BANDS  # extension of contract 1: optional, wording bands of the reports
    roles: Roles = Roles()                   # extension: what some nodes stand for (the outcome node)
    top_box: tuple[int, ...] | None = None   # extension: the codes counted as satisfied (the satisfaction rate)
    recommendations: str | None = None       # extension: file of recommendation texts per node (relative path)
    source: Path | None = None               # the file it was read from (set by load_questionnaire)

    @field_validator("bands")
    @classmethod
    def _bands_cover(cls, v):
        mins = [b.min for b in v]
        if len(set(mins)) != len(mins):
            raise ValueError("two bands start at the same score")
        if min(mins) != 0:
            raise ValueError("the lowest band must start at 0 so that every score has a band")
        return tuple(sorted(v, key=lambda b: -b.min))

    def band(self, score: float) -> Band | None:
        """The band of a 0-100 score (None for NaN)."""
        if score != score:  # NaN
            return None
        return next(b for b in self.bands if score >= b.min)


    @model_validator(mode="after")
    def _check_ids_and_groups(self) -> "Questionnaire":
        seen: set[str] = set()
        group_ids = [g.id for g in self.groups.levels]
        dup_groups = {g for g in group_ids if group_ids.count(g) > 1}
        if dup_groups:
            raise ValueError(f"duplicate group id(s): {sorted(dup_groups)}")
        if "all" in group_ids:
            raise ValueError("'all' is reserved for the all-groups score; rename that group")
        weights = [g.weight for g in self.groups.levels]
        if any(w is None for w in weights) and any(w is not None for w in weights):
            missing = [g.id for g in self.groups.levels if g.weight is None]
            raise ValueError(f"give a weight to every group or to none (none: respondents are pooled); "
                             f"no weight for: {', '.join(missing)}")
        for node in self.nodes:
            if node.id in seen:
                raise ValueError(f"duplicate id '{node.id}'")
            if node.id == "index":
                raise ValueError("'index' is reserved for the root of the tree")
            seen.add(node.id)
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"duplicate id '{item.id}'")
            if item.id == "index":
                raise ValueError("'index' is reserved for the root of the tree; rename the item")
            if item.id == self.groups.column:
                raise ValueError(f"item id '{item.id}' is also the group column: rename one of them")
            seen.add(item.id)
            if item.groups and len(set(item.groups)) != len(item.groups):
                raise ValueError(f"item '{item.id}' lists a group twice: {list(item.groups)}")
            for g in item.groups or ():
                if g not in group_ids:
                    raise ValueError(f"item '{item.id}' names group '{g}', which is not declared in groups.levels "
                                     f"({', '.join(group_ids)})")
        if self.top_box is not None:
            off = [c for c in self.top_box if not self.scale.min <= c <= self.scale.max]
            if off or not self.top_box:
                raise ValueError(f"top_box codes must be on the scale {self.scale.min}..{self.scale.max}: {off}")
            if max(self.top_box) != self.scale.max or len(self.top_box) != self.scale.max - min(self.top_box) + 1:
                raise ValueError("top_box must be the top codes of the scale, e.g. [4, 5] on 1..5")
        out = self.roles.outcome
        if out is not None and out not in {n.id for n in self.nodes}:
            raise ValueError(f"roles.outcome names '{out}', which is not an indicator node of the tree")
        return self

    @model_validator(mode="after")
    def _check_node_labels(self) -> "Questionnaire":
        """First-level indicators are told apart by their labels in the tables and charts that put them side by side
        (columns of the overview, rows of a unit's chart): no two may share one. (Deeper indicators are shown with
        their parent; the same label under two parents is fine.)"""
        seen: dict[tuple[str, str], str] = {}
        for node in self.indicators:
            for lang in ("zh", "en"):
                key = (lang, node.label.get(lang))
                if key in seen:
                    raise ValueError(f"first-level indicators '{seen[key]}' and '{node.id}' have the same label "
                                     f"'{key[1]}' ({lang}); they need distinct labels")
                seen[key] = node.id
        return self

    @property
    def recommendations_path(self) -> Path | None:
        """The recommendations file, relative to the questionnaire file (None when the questionnaire has none)."""
        if self.recommendations is None:
            return None
        p = Path(self.recommendations)
        return p if p.is_absolute() or self.source is None else (self.source.parent / p).resolve()

    # --- navigation -------------------------------------------------------------------------------
    @cached_property
    def nodes(self) -> tuple[Node, ...]:
        """Every indicator node, depth first, parents before children."""
        return tuple(n for top in self.indicators for n in top.walk())

    @cached_property
    def items(self) -> tuple[Item, ...]:
        """Every item (leaf), in tree order."""
        return tuple(i for top in self.indicators for i in top.leaf_items())

    @property
    def group_ids(self) -> tuple[str, ...]:
        return tuple(g.id for g in self.groups.levels)

    @property
    def group_weights(self) -> dict[str, float] | None:
        """Group weights for the 'all' score, or None when respondents are pooled."""
        if self.groups.levels[0].weight is None:
            return None
        return {g.id: float(g.weight) for g in self.groups.levels}

    def item_scale(self, item: Item) -> Scale:
        return item.scale or self.scale

    def item_groups(self, item: Item) -> tuple[str, ...]:
        return item.groups or self.group_ids

    def applies(self, element: Node | Item, group: str) -> bool:
        """Structural applicability: an item applies to the groups it lists; a node if any child does."""
        if isinstance(element, Item):
            return group in self.item_groups(element)
        return any(self.applies(c, group) for c in (*element.children, *element.items))

    def label(self, element_id: str, lang: str = "zh") -> str:
        """The label of a node or the text of an item; ``index`` is the questionnaire title."""
        if element_id == "index":
            return self.title.get(lang)
        for n in self.nodes:
            if n.id == element_id:
                return n.label.get(lang)
        for i in self.items:
            if i.id == element_id:
                return i.text.get(lang)
        raise KeyError(element_id)

    def group_label(self, group_id: str, lang: str = "zh") -> str:
        if group_id == "all":
            return "全体" if lang == "zh" else "All groups"
        for g in self.groups.levels:
            if g.id == group_id:
                return g.label.get(lang)
        raise KeyError(group_id)

    def parent_of(self) -> dict[str, str]:
        """Map of every node and item id to its parent id (``index`` for the first level)."""
        out: dict[str, str] = {}

        def visit(node: Node, parent: str) -> None:
            out[node.id] = parent
            for c in node.children:
                visit(c, node.id)
            for i in node.items:
                out[i.id] = node.id

        for top in self.indicators:
            visit(top, "index")
        return out

    def level_of(self) -> dict[str, int]:
        """Depth of every element: ``index`` 0, first-level indicators 1, ..., items deepest."""
        parents = self.parent_of()
        levels = {"index": 0}

        def depth(x: str) -> int:
            if x not in levels:
                levels[x] = depth(parents[x]) + 1
            return levels[x]

        for k in parents:
            depth(k)
        return levels


def load_questionnaire(path: str | Path) -> Questionnaire:
    """Load and validate a questionnaire YAML file (contract 1).

    Raises :class:`~surveykit.errors.SpecError` naming the file and the offending key or id.

    Example
    -------
    >>> q = load_questionnaire("questionnaires/ip_protection_satisfaction.yaml")  # doctest: +SKIP
    >>> [n.id for n in q.indicators]                                              # doctest: +SKIP
    ['law', 'enforcement', 'mechanism', 'awareness', 'outcome']
    """
    data = read_yaml(path)
    if isinstance(data, dict):
        data = {**data, "source": Path(path).resolve()}
    q = validate_model(Questionnaire, data, path)
    return q  # type: ignore[return-value]


__all__ = ["Band", "DEFAULT_BANDS", "Label", "Scale", "GroupLevel", "Groups", "Item", "Node", "Questionnaire", "Roles", "load_questionnaire",
           "SpecError"]
