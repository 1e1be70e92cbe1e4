"""What every report says about comparing this year with last year when the questionnaire changed.

Read from the results store: the year's ``comparability`` table (:mod:`surveykit.analysis.comparability`), the
manifest's ``comparability`` entry (last year's questionnaire, for the labels of what was dropped) and, when the
study asks for it, ``index_common`` (the index recomputed on the common items). Nothing is computed here; the
sentences name the indicators that could not be compared and why (every label escaped once, by ``p.md``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..analysis.comparability import index_comparable
from ..spec.questionnaire import Questionnaire, load_questionnaire
from .base import StoreView


def table(view: StoreView) -> pd.DataFrame | None:
    """The year's comparability rows of all groups (None for the study's first year)."""
    t = view.store.comparability
    return None if t is None else t[t["group"] == "all"]


def previous_questionnaire(view: StoreView) -> Questionnaire | None:
    entry = view.store.manifest.get("comparability") or {}
    path = entry.get("questionnaire_previous")
    return load_questionnaire(path) if path and Path(path).is_file() else None  # moved since: ids, not texts


def index_common(view: StoreView, unit: str) -> pd.Series | None:
    """The row of the index recomputed on the common items for ``unit`` (all groups), when the store has it."""
    t = view.store.index_common
    if t is None:
        return None
    r = t[(t["unit"] == unit) & (t["group"] == "all")]
    return r.iloc[0] if len(r) else None


def index_is_comparable(view: StoreView) -> bool:
    t = table(view)
    return t is None or index_comparable(t)


def note(view: StoreView) -> str:
    """Markdown: what could not be compared with last year and why, renamed and reworded items, and how the index
    change is shown. Empty when every score is comparable and no item was renamed or reworded."""
    t = table(view)
    if t is None:
        return ""
    p, prev = view.p, previous_questionnaire(view)
    year = view.store.manifest["comparability"]["previous"]

    def name(r) -> str:
        if r.node is None or r.node != r.node:
            return prev.label(r.node_previous, view.lang) if prev is not None else str(r.node_previous)
        return view.label(r.node)

    def listed(rows) -> str:
        return p.sep().join(p.t("cmp.entry", label=name(r), reason=p.t(f"cmp.reason.{r.reason}"))
                            for r in rows.itertuples())

    bad = t[~t["comparable"]]
    parts = []
    indicators = bad[bad["kind"] != "item"]
    if len(indicators):
        parts.append(p.md("cmp.indicators", list=listed(indicators)))
    items = bad[bad["kind"] == "item"]
    if len(items):
        parts.append(p.md("cmp.items", list=listed(items)))
    ren = t[t["reason"] == "renamed"]
    if len(ren):
        parts.append(p.md("cmp.renamed", list=p.sep().join(
            p.t("cmp.renamed.entry", label=name(r), old=r.node_previous) for r in ren.itertuples())))
    warn = t[t["warning"]]
    if len(warn):
        parts.append(p.md("cmp.reworded", year=year, list=p.sep().join(
            p.t("cmp.reworded.entry", **_wordings(view, prev, e)) for e in warn["node"])))
    if not parts:
        return ""
    return p.join([p.md("cmp.lead", year=year), *parts, index_sentence(view)])


def _wordings(view: StoreView, prev: Questionnaire | None, item: str) -> dict[str, str]:
    """This year's and last year's text of ``item``, in the report's language -- or in the other one when only
    that one differs (a Chinese rewording shown in an English report)."""
    if prev is None:
        return {"now": view.q.label(item, view.lang), "before": ""}
    lang = view.lang
    if view.q.label(item, lang) == prev.label(item, lang):
        lang = "zh" if lang == "en" else "en"
    return {"now": view.q.label(item, lang), "before": prev.label(item, lang)}


def index_sentence(view: StoreView) -> str:
    """How the index's change is shown when the index is not comparable."""
    if index_is_comparable(view):
        return ""
    t = view.store.index_common
    if t is None or not len(t):
        return view.p.md("cmp.index.none")
    return view.p.md("cmp.index.common", label=view.p.t("col.index_common"), n=int(t["n_items"].iloc[0]),
                     total=int(t["n_items_current"].iloc[0]))

