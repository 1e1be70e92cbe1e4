"""What every part of the instrument shares: the data columns, the answer codes, the routing and the codebook.

The response layout is the one ``surveykit validate`` reads without a mapping file: the respondent id column, the
group column (``groups.column``, holding group ids), the unit column and one column per item, named by its id and
holding answer codes (the scale's ``min..max`` and its missing codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from ..errors import InputError
from ..spec.questionnaire import Item, Label, Node, Questionnaire, Scale
from .sheets import formula_like

# the standard questions every instrument asks besides the items (labels of the forms and the codebook)
GROUP_QUESTION = Label(zh="您属于以下哪一类受访者？", en="Which group of respondents do you belong to?")
UNIT_QUESTION = Label(zh="您所在的地区（评估单位）", en="The area (unit evaluated) you are in")
ID_QUESTION = Label(zh="答卷编号（由调查方填写）", en="Respondent id (filled in by the survey team)")


@dataclass(frozen=True)
class Layout:
    """The response columns: ``respondent_id``, ``group``, ``unit`` names, then the item ids in tree order."""

    respondent_id: str
    group: str
    unit: str
    items: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        return [self.respondent_id, self.group, self.unit, *self.items]


def layout(q: Questionnaire, *, unit_column: str = "district", id_column: str = "respondent_id",
           units: Sequence[str] = ()) -> Layout:
    """The template's columns; refuses names that clash or that a spreadsheet would run as a formula."""
    out = Layout(id_column, q.groups.column, unit_column, tuple(i.id for i in q.items))
    cols = out.columns
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise InputError(f"column name '{dup[0]}' is used twice (respondent id, group, unit and item columns must "
                         f"differ): choose another --unit-column or --id-column", column=dup[0])
    values = [(c, "column") for c in cols] + [(g, "group id") for g in q.group_ids] + [(u, "unit") for u in units]
    for name, what in values:
        if formula_like(name) or not name.strip():
            raise InputError(f"{what} '{name}' starts with a character that spreadsheet programs read as a formula "
                             f"(= + - @ tab) or is blank: rename it", key=name)
    return out


def codes(scale: Scale) -> list[tuple[int, Label | None, bool]]:
    """The answer codes of a scale: ``(code, label or None, is_missing)``, scale codes first, then missing codes."""
    return [(c, scale.labels.get(c), c in scale.missing) for c in [*range(scale.min, scale.max + 1), *scale.missing]]


def code_label(code: int, label: Label | None, lang: str) -> str:
    return label.get(lang) if label is not None else str(code)


def paths(q: Questionnaire) -> dict[str, tuple[Node, ...]]:
    """Item id -> the indicator nodes above it, top first."""
    out: dict[str, tuple[Node, ...]] = {}

    def visit(node: Node, above: tuple[Node, ...]) -> None:
        here = (*above, node)
        for c in node.children:
            visit(c, here)
        for i in node.items:
            out[i.id] = here

    for top in q.indicators:
        visit(top, ())
    return out


def restricted(q: Questionnaire, element: Node | Item) -> tuple[str, ...] | None:
    """The groups an item or indicator is asked of, or None when every group answers it."""
    asked = tuple(g for g in q.group_ids if q.applies(element, g))
    return None if len(asked) == len(q.group_ids) else asked


def routing(q: Questionnaire) -> pd.DataFrame:
    """One row per group: ``group``, ``label_zh``, ``label_en``, ``items`` (asked, count), ``skipped`` (ids)."""
    rows = []
    for g in q.groups.levels:
        skipped = [i.id for i in q.items if not q.applies(i, g.id)]
        rows.append(dict(group=g.id, label_zh=g.label.get("zh"), label_en=g.label.get("en"),
                         items=len(q.items) - len(skipped), skipped=" ".join(skipped)))
    return pd.DataFrame(rows)


def _codes_text(scale: Scale, lang: str) -> str:
    return "; ".join(f"{c}={code_label(c, lab, lang)}" for c, lab, _ in codes(scale))


def codebook(q: Questionnaire, lay: Layout, units: Sequence[str] = ()) -> pd.DataFrame:
    """The codebook: one row per response column (see :data:`CODEBOOK_COLUMNS`)."""
    groups_zh = "; ".join(f"{g.id}={g.label.get('zh')}" for g in q.groups.levels)
    groups_en = "; ".join(f"{g.id}={g.label.get('en')}" for g in q.groups.levels)
    unit_codes = "; ".join(units)
    rows = [dict(column=lay.respondent_id, role="respondent_id", question_zh=ID_QUESTION.zh,
                 question_en=ID_QUESTION.en),
            dict(column=lay.group, role="group", question_zh=GROUP_QUESTION.zh, question_en=GROUP_QUESTION.en,
                 codes_zh=groups_zh, codes_en=groups_en),
            dict(column=lay.unit, role="unit", question_zh=UNIT_QUESTION.zh, question_en=UNIT_QUESTION.en,
                 codes_zh=unit_codes, codes_en=unit_codes)]
    above = paths(q)
    for item in q.items:
        scale = q.item_scale(item)
        nodes = above[item.id]
        rows.append(dict(
            column=item.id, role="item", question_zh=item.text.get("zh"), question_en=item.text.get("en"),
            indicator_path=" > ".join(n.id for n in nodes),
            indicator_zh=" > ".join(n.label.get("zh") for n in nodes),
            indicator_en=" > ".join(n.label.get("en") for n in nodes),
            scale_min=scale.min, scale_max=scale.max, codes_zh=_codes_text(scale, "zh"),
            codes_en=_codes_text(scale, "en"), missing_codes=" ".join(map(str, scale.missing)),
            groups=" ".join(q.item_groups(item)), reverse=item.reverse, weight=float(item.weight)))
    return pd.DataFrame(rows, columns=CODEBOOK_COLUMNS)


def code_list(q: Questionnaire, lay: Layout, units: Sequence[str] = ()) -> pd.DataFrame:
    """Every allowed value of every coded column: ``column``, ``code``, ``label_zh``, ``label_en``, ``missing``."""
    rows = [dict(column=lay.group, code=g.id, label_zh=g.label.get("zh"), label_en=g.label.get("en"), missing=False)
            for g in q.groups.levels]
    rows += [dict(column=lay.unit, code=u, label_zh=u, label_en=u, missing=False) for u in units]
    for item in q.items:
        rows += [dict(column=item.id, code=c, label_zh=code_label(c, lab, "zh"), label_en=code_label(c, lab, "en"),
                      missing=m) for c, lab, m in codes(q.item_scale(item))]
    return pd.DataFrame(rows, columns=["column", "code", "label_zh", "label_en", "missing"])


CODEBOOK_COLUMNS = ["column", "role", "question_zh", "question_en", "indicator_path", "indicator_zh", "indicator_en",
                    "scale_min", "scale_max", "codes_zh", "codes_en", "missing_codes", "groups", "reverse", "weight"]

__all__ = ["CODEBOOK_COLUMNS", "GROUP_QUESTION", "ID_QUESTION", "Layout", "UNIT_QUESTION", "code_label", "code_list",
           "codebook", "codes", "layout", "paths", "restricted", "routing"]
