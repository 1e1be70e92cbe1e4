"""Which scores of two years' questionnaires can be compared year on year, and the comparison of those only.

A questionnaire changes between years: items are added, dropped, renamed or reworded, and indicators regrouped or
reweighted. A year-on-year change is honest only between scores that measure the same thing with the same formula
(contract 2), so :func:`comparability` decides, for every score of this year and of last year (group x element),
whether it is comparable and why not. Rules (``renamed`` maps an id of this year to its id last year; ``changed``
lists ids, this year's, whose wording or scale changed):

* **item**, in group g: comparable when it exists in both years (same id, or through ``renamed``), applies to g in
  both years, is not ``changed``, and has the same scale (min, max) and direction (``reverse``) in both years (a
  different scale is a change even when not declared).
* **node** (``index`` included), in group g: comparable when its children that apply to g are, in both years, the
  same elements (through ``renamed``), each comparable in g, with the same weights renormalised over those
  children (rule 3) -- applied recursively, so one changed item makes every node above it not comparable.
* **all groups**: with group weights (rule 4) an element is comparable when it applies to the same groups in both
  years, is comparable in each of them, and the group weights renormalised over them are equal. Without group
  weights (pooled) its score pools the respondents of the groups it applies to: those groups must be the same, and a
  node's children (all of them, pooled) must be comparable with the same weights. Both years weighted or both
  pooled, else ``weights_differ``.

Reasons: ``same`` and ``renamed`` (comparable); ``new`` (not in last year's questionnaire, or not asked of that
group), ``dropped`` (last year only), ``changed`` (declared, or scale/direction differs), ``children_differ``,
``weights_differ``, ``groups_differ`` (the element applies to other groups than last year).

:func:`check_declaration` refuses a declaration that cannot be right (an id absent from a year, two ids renamed
to one, groups that differ without being declared); :func:`comparable_change` is
:func:`~surveykit.analysis.year_change` restricted to the comparable rows, last year's ids mapped to this year's;
:func:`common_items_questionnaires` gives the trees of the index recomputed for both years on the items they share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import isclose
from typing import Mapping, Sequence

import pandas as pd

from ..errors import InputError
from ..spec.questionnaire import Item, Questionnaire
from .comparisons import year_change

REASONS = ("same", "renamed", "new", "dropped", "changed", "children_differ", "weights_differ", "groups_differ")
COMPARABLE = ("same", "renamed")
COLUMNS = ["group", "node", "group_previous", "node_previous", "kind", "level", "comparable", "reason", "warning"]


# --- the two questionnaires side by side ---------------------------------------------------------------------
@dataclass
class _Pair:
    cur: Questionnaire
    prev: Questionnaire
    renamed: dict[str, str]
    changed: frozenset[str]
    group_map: dict[str, str | None]          # group this year -> group last year (None: new)
    memo: dict = field(default_factory=dict)

    def __post_init__(self):
        self.cur_el, self.prev_el = _elements(self.cur), _elements(self.prev)
        back = {v: k for k, v in self.renamed.items()}
        self.back = {p: back.get(p, p if p in self.cur_el and p not in self.renamed else None) for p in self.prev_el}

    def prev_id(self, e: str) -> str | None:
        """Last year's id of this year's element ``e`` (None: new); an item maps to an item, a node to a node."""
        p = self.renamed.get(e, e)
        return p if p in self.prev_el and _kind(self.prev_el[p]) == _kind(self.cur_el[e]) else None


def _elements(q: Questionnaire) -> dict[str, object]:
    out: dict[str, object] = {"index": None}
    out.update({n.id: n for n in q.nodes})
    out.update({i.id: i for i in q.items})
    return out


def _kind(el) -> str:
    return "index" if el is None else ("item" if isinstance(el, Item) else "node")


def _children(q: Questionnaire, el) -> tuple:
    return tuple(q.indicators) if el is None else (*el.children, *el.items)


def _applies(q: Questionnaire, el, group: str | None) -> bool:
    if group is None:
        return True
    if el is None:
        return any(q.applies(c, group) for c in q.indicators)
    return q.applies(el, group)


def _groups_of(q: Questionnaire, el) -> set[str]:
    return {g for g in q.group_ids if _applies(q, el, g)}


def _same_scale(pair: _Pair, e: str, p: str) -> bool:
    a, b = pair.cur_el[e], pair.prev_el[p]
    sa, sb = pair.cur.item_scale(a), pair.prev.item_scale(b)
    return (sa.min, sa.max, a.reverse) == (sb.min, sb.max, b.reverse)


def _same_shares(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    ta, tb = sum(a.values()), sum(b.values())
    return a.keys() == b.keys() and all(isclose(a[k] / ta, b[k] / tb, rel_tol=1e-12) for k in a)


# --- the rules -------------------------------------------------------------------------------------------------
def _own(pair: _Pair, e: str) -> str | None:
    """What makes ``e`` not comparable whatever the group (new, changed), or None."""
    p = pair.prev_id(e)
    if p is None:
        return "new"
    if e in pair.changed or (_kind(pair.cur_el[e]) == "item" and not _same_scale(pair, e, p)):
        return "changed"
    return None


def _ok(pair: _Pair, e: str) -> str:
    return "renamed" if pair.prev_id(e) != e else "same"


def _in_group(pair: _Pair, e: str, g: str | None, gp: str | None, pooled: bool = False) -> str:
    """Reason for ``e`` in group ``g`` (last year ``gp``); ``pooled``: the all-groups score without weights."""
    key = (e, g, gp, pooled)
    if key not in pair.memo:
        pair.memo[key] = _rule(pair, e, g, gp, pooled)
    return pair.memo[key]


def _rule(pair: _Pair, e: str, g: str | None, gp: str | None, pooled: bool) -> str:
    own = _own(pair, e)
    if own is not None:
        return own
    p = pair.prev_id(e)
    el, pel = pair.cur_el[e], pair.prev_el[p]
    if not pooled and (gp is None or not _applies(pair.prev, pel, gp)):
        return "new"
    if pooled and {pair.group_map.get(x) for x in _groups_of(pair.cur, el)} != _groups_of(pair.prev, pel):
        return "groups_differ"
    if isinstance(el, Item):
        return _ok(pair, e)
    kids = [c for c in _children(pair.cur, el) if pooled or _applies(pair.cur, c, g)]
    pkids = [c for c in _children(pair.prev, pel) if pooled or _applies(pair.prev, c, gp)]
    mapped = [pair.prev_id(c.id) for c in kids]
    if sorted(map(str, mapped)) != sorted(c.id for c in pkids) or None in mapped:
        return "children_differ"
    if any(_in_group(pair, c.id, g, gp, pooled) not in COMPARABLE for c in kids):
        return "children_differ"
    if not _same_shares({m: c.weight for m, c in zip(mapped, kids)}, {c.id: c.weight for c in pkids}):
        return "weights_differ"
    return _ok(pair, e)


def _in_all(pair: _Pair, e: str) -> str:
    """Reason for ``e`` in the all-groups score (rule 4)."""
    own = _own(pair, e)
    if own is not None:
        return own
    cw, pw = pair.cur.group_weights, pair.prev.group_weights
    if (cw is None) != (pw is None):
        return "weights_differ"
    if cw is None:
        return _in_group(pair, e, None, None, pooled=True)
    el, pel = pair.cur_el[e], pair.prev_el[pair.prev_id(e)]
    groups = sorted(_groups_of(pair.cur, el), key=pair.cur.group_ids.index)
    if {pair.group_map.get(g) for g in groups} != _groups_of(pair.prev, pel):
        return "groups_differ"
    for g in groups:
        r = _in_group(pair, e, g, pair.group_map[g])
        if r not in COMPARABLE:
            return r
    if not _same_shares({pair.group_map[g]: cw[g] for g in groups}, {pair.group_map[g]: pw[pair.group_map[g]]
                                                                      for g in groups}):
        return "weights_differ"
    return _ok(pair, e)


# --- the table -----------------------------------------------------------------------------------------------------
def comparability(current: Questionnaire, previous: Questionnaire, *, renamed: Mapping[str, str] | None = None,
                  changed: Sequence[str] = (), reworded: Sequence[str] = (),
                  groups: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Which scores of ``current`` (this year's questionnaire) can be compared with ``previous`` (last year's).

    Parameters
    ----------
    current, previous : the two questionnaires (contract 1).
    renamed : ``{id this year: id last year}`` for elements (items or nodes) whose id changed.
    changed : ids (this year's) whose wording or scale changed: not comparable.
    reworded : items worded differently but declared the same question: comparable, no warning.
    groups : ``{group id this year: group id last year}`` for renamed respondent groups.

    Returns
    -------
    DataFrame, one row per score of either year: ``group`` (this year's group id, ``all``, or None for a group
    surveyed last year only), ``node`` (this year's id; None when dropped), ``group_previous``, ``node_previous``
    (last year's ids; None when new), ``kind`` (``index``/``node``/``item``), ``level`` (0 for the index; last
    year's level for a dropped element), ``comparable``, ``reason`` (module docstring), ``warning`` (an item
    compared under the same id whose text differs between the two questionnaires and is declared neither
    ``changed`` nor ``reworded``). Every row of ``surveykit.score`` for this year has one row here.

    Source: contract 2 (a score is a fixed linear combination of item means; two years' scores are comparable
    when the combination and its items are the same).

    Example
    -------
    >>> t = comparability(q2026, q2025, renamed={"q7b": "q7"}, changed=["q5"])        # doctest: +SKIP
    >>> t.query("group == 'all' and not comparable")[["node", "reason"]]              # doctest: +SKIP
    """
    pair = _Pair(current, previous, dict(renamed or {}), frozenset(changed),
                 {g: (groups or {}).get(g, g) if (groups or {}).get(g, g) in previous.group_ids else None
                  for g in current.group_ids})
    levels, plevels = current.level_of(), previous.level_of()
    quiet = set(reworded) | set(changed)
    rows = []
    for g in (*current.group_ids, "all"):
        gp = "all" if g == "all" else pair.group_map[g]
        for e, el in pair.cur_el.items():
            if g != "all" and not _applies(current, el, g):
                continue
            reason = _in_all(pair, e) if g == "all" else _in_group(pair, e, g, gp)
            p = pair.prev_id(e)
            warn = (_kind(el) == "item" and p == e and e not in quiet and _own(pair, e) is None
                    and el.text != pair.prev_el[p].text)
            rows.append((g, e, gp, p, _kind(el), levels[e], reason in COMPARABLE, reason, warn))
        rows += _dropped(pair, g, gp, plevels)
    for gp in previous.group_ids:
        if gp not in pair.group_map.values():
            rows += _dropped(pair, None, gp, plevels)
    return pd.DataFrame(rows, columns=COLUMNS)


def _dropped(pair: _Pair, g: str | None, gp: str | None, plevels: dict[str, int]) -> list[tuple]:
    """Rows of last year's elements (in group ``gp``) with no counterpart this year (in group ``g``)."""
    if gp is None:
        return []
    out = []
    for p, pel in pair.prev_el.items():
        if gp != "all" and not _applies(pair.prev, pel, gp):
            continue
        e = pair.back[p]
        gone = e is None or pair.prev_id(e) != p
        if not gone and g not in (None, "all"):
            gone = not _applies(pair.cur, pair.cur_el[e], g)
        if gone or g is None:
            out.append((g, None, gp, p, _kind(pel), plevels.get(p, 0), False, "dropped", False))
    return out


def index_comparable(table: pd.DataFrame, group: str = "all") -> bool:
    """Whether the index of ``group`` is comparable (False when the table has no such row)."""
    r = table[(table["group"] == group) & (table["node"] == "index")]
    return bool(len(r)) and bool(r["comparable"].iloc[0])


# --- the declaration -------------------------------------------------------------------------------------------
def check_declaration(current: Questionnaire, previous: Questionnaire, declaration=None, *, year: int,
                      previous_year: int, file=None) -> None:
    """Refuse a ``comparability.<year>`` declaration that cannot be right, and groups that differ undeclared.

    ``declaration`` is a :class:`surveykit.spec.study.YearComparability` (None: no declaration). Raises
    :class:`~surveykit.errors.InputError` naming the key: an id of ``renamed``/``changed``/``reworded`` absent from
    either year (or an item renamed to a node), two ids renamed to one, an id both changed and reworded, a group
    renamed from or to an unknown group, or groups that differ between the years without ``groups.renamed`` /
    ``groups.new`` / ``groups.dropped`` saying how.
    """
    key = f"comparability.{year}"
    cur, prev = _elements(current), _elements(previous)
    renamed = dict(declaration.renamed) if declaration else {}

    def fail(msg: str, k: str) -> None:
        raise InputError(msg, file=file, key=f"{key}.{k}")

    for e, p in renamed.items():
        if e not in cur or e == "index":
            fail(f"'{e}' is not an item or indicator of the {year} questionnaire", f"renamed.{e}")
        if p not in prev or p == "index":
            fail(f"'{p}' is not an item or indicator of the {previous_year} questionnaire", f"renamed.{e}")
        if _kind(cur[e]) != _kind(prev[p]):
            fail(f"'{e}' is {'an item' if _kind(cur[e]) == 'item' else 'an indicator'} but '{p}' is not",
                 f"renamed.{e}")
    onto: dict[str, str] = {}
    for e in cur:
        p = renamed.get(e, e)
        if p in prev and p != "index":
            if p in onto:
                fail(f"'{onto[p]}' and '{e}' both stand for '{p}' of {previous_year}: two ids renamed to one",
                     f"renamed.{e if e in renamed else onto[p]}")
            onto[p] = e
    for name in ("changed", "reworded"):
        for e in (getattr(declaration, name) if declaration else ()):
            if e not in cur or e == "index":
                fail(f"'{e}' is not an item or indicator of the {year} questionnaire", name)
            if renamed.get(e, e) not in prev:
                fail(f"'{e}' has no counterpart in the {previous_year} questionnaire (new items are not compared "
                     "anyway; a renamed one needs renamed)", name)
            if name == "reworded" and (_kind(cur[e]) != "item" or e in declaration.changed):
                fail(f"'{e}' is {'both changed and reworded' if e in declaration.changed else 'not an item'}",
                     name)
    _check_groups(current, previous, declaration, year, previous_year, fail)


def _check_groups(current, previous, declaration, year, previous_year, fail) -> None:
    decl = declaration.groups if declaration else None
    renamed = dict(decl.renamed) if decl else {}
    for g, gp in renamed.items():
        if g not in current.group_ids:
            fail(f"'{g}' is not a group of the {year} questionnaire", f"groups.renamed.{g}")
        if gp not in previous.group_ids:
            fail(f"'{gp}' is not a group of the {previous_year} questionnaire", f"groups.renamed.{g}")
    mapped = [renamed.get(g, g) for g in current.group_ids]
    twice = sorted({m for m in mapped if mapped.count(m) > 1})
    if twice:
        fail(f"two groups of {year} stand for '{twice[0]}' of {previous_year}", "groups.renamed")
    new = [g for g, m in zip(current.group_ids, mapped) if m not in previous.group_ids]
    dropped = [g for g in previous.group_ids if g not in mapped]
    for name, actual, declared in (("new", new, decl.new if decl else ()),
                                   ("dropped", dropped, decl.dropped if decl else ())):
        if sorted(actual) != sorted(declared):
            fail(f"the respondent groups differ between {previous_year} and {year} ({name} in {year}: "
                 f"{', '.join(actual) or 'none'}; declared: {', '.join(declared) or 'none'}): declare them under "
                 f"groups.renamed / groups.new / groups.dropped", f"groups.{name}")


def wording_notes(current: Questionnaire, previous: Questionnaire, table: pd.DataFrame, *, year: int,
                  previous_year: int) -> list[str]:
    """One line per item compared under the same id whose wording differs (the table's ``warning``), for the
    results store's notes: an undeclared rewording is never compared silently."""
    out = []
    for e in table.loc[table["warning"], "node"].drop_duplicates():
        a, b = current.label(e), previous.label(e)
        out.append(f"comparability {previous_year}->{year}: item '{e}' is worded differently ({previous_year}: "
                   f"{b!r}; {year}: {a!r}) but compared as the same question; declare it under "
                   f"comparability.{year}.changed (not comparable) or .reworded (comparable)")
    return out


# --- using it --------------------------------------------------------------------------------------------------
def comparable_change(current: pd.DataFrame, previous: pd.DataFrame, table: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """:func:`~surveykit.analysis.year_change` of the comparable scores only.

    ``current``, ``previous``: score tables (``group``, ``node``, ``estimate``, ``se`` and domain columns);
    ``table``: :func:`comparability` of the two questionnaires. Last year's rows are renamed to this year's ids
    (``node_previous``, ``group_previous`` say what they were); rows of scores that are not comparable are left
    out of both years. ``kwargs`` go to :func:`~surveykit.analysis.year_change`. Returns its columns plus
    ``node_previous`` and ``group_previous``.
    """
    ok = table.loc[table["comparable"], ["group", "node", "group_previous", "node_previous"]]
    cur = current.merge(ok[["group", "node"]], on=["group", "node"])
    prev = previous.rename(columns={"group": "group_previous", "node": "node_previous"}).merge(
        ok, on=["group_previous", "node_previous"]).drop(columns=["group_previous", "node_previous"])
    out = year_change(cur, prev[list(current.columns)], **kwargs)
    return out.merge(ok, on=["group", "node"], how="left")


def common_items(table: pd.DataFrame, current: Questionnaire, groups: Sequence[str]) -> list[str]:
    """Items of ``current`` comparable in every one of ``groups`` they apply to, applying to the same of those
    groups in both years (one row per group in ``table`` where they apply), and to at least one of them."""
    items = table[(table["kind"] == "item") & table["group"].isin(list(groups))]
    out = []
    for item in current.items:
        rows = items[items["node"] == item.id]
        applies = [g for g in groups if current.applies(item, g)]
        if applies and len(rows) == len(applies) and rows["comparable"].all():
            gone = table[(table["reason"] == "dropped") & (table["node_previous"] == rows["node_previous"].iloc[0])
                         & table["group"].isin(list(groups))]
            if not len(gone):
                out.append(item.id)
    return out


def common_items_questionnaires(current: Questionnaire, previous: Questionnaire, table: pd.DataFrame, *,
                                groups: Mapping[str, str] | None = None
                                ) -> tuple[Questionnaire, Questionnaire, list[str]] | None:
    """The trees of the index recomputed for both years on the items both years share comparably.

    Both trees are this year's tree, with this year's node, item and group weights, restricted to the respondent
    groups of both years and to their common comparable items (:func:`common_items`; a node left without items is
    dropped); last year's tree uses last year's ids, scales and group column, so it scores last year's data. The
    same formula on both years: the two indices are comparable by construction. Returns ``(this year's tree,
    last year's tree, common item ids)``, or None when the years share no item.
    """
    gmap = {g: (groups or {}).get(g, g) for g in current.group_ids}
    common_groups = [g for g in current.group_ids if gmap[g] in previous.group_ids]
    keep = common_items(table, current, common_groups)
    if not keep:
        return None
    back = table.dropna(subset=["node"]).drop_duplicates("node").set_index("node")["node_previous"]

    def prune(nodes, prev_side: bool) -> list[dict]:
        out = []
        for n in nodes:
            kids = prune(n.children, prev_side)
            items = [_item(current, previous, i, back[i.id] if prev_side else None, gmap, common_groups)
                     for i in n.items if i.id in keep]
            if kids or items:
                out.append({"id": f"~{n.id}" if prev_side else n.id, "label": n.label.model_dump(),
                            "weight": n.weight, "children": kids, "items": items})
        return out

    def tree(q: Questionnaire, prev_side: bool) -> Questionnaire:
        levels = [{"id": gmap[g] if prev_side else g, "label": current.groups.levels[current.group_ids.index(g)]
                   .label.model_dump(), "weight": current.group_weights[g] if current.group_weights else None}
                  for g in common_groups]
        return Questionnaire.model_validate({
            "id": q.id, "version": q.version, "title": q.title.model_dump(), "scale": q.scale.model_dump(),
            "groups": {"column": q.groups.column, "levels": levels}, "indicators": prune(current.indicators,
                                                                                        prev_side)})

    return tree(current, False), tree(previous, True), keep


def _item(current: Questionnaire, previous: Questionnaire, item: Item, prev_id: str | None, gmap, common) -> dict:
    """An item of the common tree: this year's weight; on last year's side, last year's id, scale and direction."""
    src_q, src = (current, item) if prev_id is None else (previous, next(i for i in previous.items
                                                                         if i.id == prev_id))
    groups = [g for g in common if current.applies(item, g)]
    return {"id": src.id, "text": src.text.model_dump(), "weight": item.weight, "reverse": src.reverse,
            "scale": src_q.item_scale(src).model_dump(),
            "groups": [gmap[g] if prev_id is not None else g for g in groups]}


__all__ = ["REASONS", "COMPARABLE", "comparability", "check_declaration", "wording_notes", "comparable_change",
           "common_items", "common_items_questionnaires", "index_comparable"]
