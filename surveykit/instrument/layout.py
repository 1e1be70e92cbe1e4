"""What every part of the instrument shares: the data columns, the answer codes, the routing and the codebook.

The response layout is the one ``surveykit validate`` reads without a mapping file: the respondent id column, the
group column (``groups.column``, holding group ids), the unit column, a column per subgroup the study compares
(:func:`comparison_questions`) and one column per item, named by its id and holding answer codes (the scale's
``min..max`` and its missing codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import pandas as pd

from ..errors import InputError
from ..spec.questionnaire import Item, Label, Node, Questionnaire, Scale
from .sheets import formula_like

# the standard questions every instrument asks besides the items (labels of the forms and the codebook)
GROUP_QUESTION = Label(zh="您属于以下哪一类受访者？", en="Which group of respondents do you belong to?")
UNIT_QUESTION = Label(zh="您所在的地区（评估单位）", en="The area (unit evaluated) you are in")
ID_QUESTION = Label(zh="答卷编号（由调查方填写）", en="Respondent id (filled in by the survey team)")


def unit_question(kind=None) -> Label:
    """The unit question in the study's words for its units (``kind``: a noun with ``zh`` and ``en``, e.g. the
    study's ``unit_kind``), or the generic :data:`UNIT_QUESTION` without one."""
    if kind is None:
        return UNIT_QUESTION
    return Label(zh=f"您所在的{kind.zh}", en=f"The {kind.en} you are in")


@dataclass(frozen=True)
class Choice:
    """An answer offered: ``code``, the value in the data, and its wording in each language (``en`` falls back to
    ``zh``)."""

    code: str
    zh: str
    en: str = ""

    def get(self, lang: str = "zh") -> str:
        return self.en if lang == "en" and self.en else self.zh


@dataclass(frozen=True)
class Question:
    """A respondent question besides the group, unit and items (a subgroup the study compares): its column, its
    wording, the choices offered and the groups asked (None: every group)."""

    column: str
    text: Label
    choices: tuple[Choice, ...]
    groups: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Layout:
    """The response columns: ``respondent_id``, ``group``, ``unit`` names, the subgroup questions' columns, then the
    item ids in tree order; with the unit question's wording and the units offered (none: a free-text answer)."""

    respondent_id: str
    group: str
    unit: str
    items: tuple[str, ...]
    questions: tuple[Question, ...] = ()
    unit_question: Label = UNIT_QUESTION
    units: tuple[Choice, ...] = ()

    @property
    def columns(self) -> list[str]:
        return [self.respondent_id, self.group, self.unit, *(x.column for x in self.questions), *self.items]


def unit_choices(units: Iterable) -> tuple[Choice, ...]:
    """The units offered as answers: a name (both languages), a :class:`Choice`, or a unit with ``zh`` and ``en``
    names (:class:`surveykit.units.Unit`): its Chinese name is the code, each language shows its own name."""
    out = []
    for u in units:
        if isinstance(u, Choice):
            out.append(u)
        elif hasattr(u, "zh"):
            out.append(Choice(str(u.zh), str(u.zh), str(getattr(u, "en", None) or u.zh)))
        else:
            out.append(Choice(str(u), str(u), str(u)))
    return tuple(out)


def layout(q: Questionnaire, *, unit_column: str = "district", id_column: str = "respondent_id",
           units: Iterable = (), unit_kind=None, questions: Sequence[Question] = ()) -> Layout:
    """The template's columns; refuses names that clash or that a spreadsheet would run as a formula.

    ``units``: see :func:`unit_choices`; ``unit_kind``: the words for the units (:func:`unit_question`);
    ``questions``: subgroup questions (:func:`comparison_questions`) -- one whose column is already the group,
    unit, id or an item column is left out (that column is asked already)."""
    base = {id_column, q.groups.column, unit_column, *(i.id for i in q.items)}
    asked = tuple(x for x in questions if x.column not in base)
    out = Layout(id_column, q.groups.column, unit_column, tuple(i.id for i in q.items), asked,
                 unit_question(unit_kind), unit_choices(units))
    cols = out.columns
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise InputError(f"column name '{dup[0]}' is used twice (respondent id, group, unit and item columns must "
                         f"differ): choose another --unit-column or --id-column", column=dup[0])
    unknown = [(x.column, g) for x in asked for g in x.groups or () if g not in q.group_ids]
    if unknown:
        raise InputError(f"the comparison on column '{unknown[0][0]}' names group '{unknown[0][1]}', which the "
                         f"questionnaire does not have (groups: {', '.join(q.group_ids)})", key=unknown[0][1])
    values = ([(c, "column") for c in cols] + [(g, "group id") for g in q.group_ids]
              + [(u.code, "unit") for u in out.units] + [(c.code, "level") for x in asked for c in x.choices])
    for name, what in values:
        if formula_like(name) or not name.strip():
            raise InputError(f"{what} '{name}' starts with a character that spreadsheet programs read as a formula "
                             f"(= + - @ tab) or is blank: rename it", key=name)
    return out


def _side_choices(side) -> list[Choice]:
    """A comparison side's levels, each worded by the side's label (and the level, when the side has several)."""
    several = len(side.levels) > 1
    return [Choice(str(v), side.label.get("zh") + (f"（{v}）" if several else ""),
                   side.label.get("en") + (f" ({v})" if several else "")) for v in side.levels]


def comparison_questions(comparisons: Iterable) -> tuple[Question, ...]:
    """One question per column the study's declared comparisons (``comparisons:``) compare on: choices the levels of
    both sides (the first comparison naming a level words it), worded by the first comparison's title (else the
    column), asked of the comparisons' ``group`` -- of every group when one of them names none."""
    by_column: dict[str, list] = {}
    for c in comparisons:
        by_column.setdefault(c.column, []).append(c)
    out = []
    for column, cs in by_column.items():
        choices: dict[str, Choice] = {}
        for c in cs:
            for choice in _side_choices(c.a) + _side_choices(c.b):
                choices.setdefault(choice.code, choice)
        title = cs[0].title
        text = Label(zh=title.zh, en=title.en) if title is not None else Label(zh=column)
        groups = None if any(c.group is None for c in cs) else tuple(dict.fromkeys(c.group for c in cs))
        out.append(Question(column, text, tuple(choices.values()), groups))
    return tuple(out)


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


def _choices_text(choices: Sequence[Choice], lang: str) -> str:
    """``code=label; ...`` (the label alone where it is the code)."""
    return "; ".join(c.code if c.get(lang) == c.code else f"{c.code}={c.get(lang)}" for c in choices)


def codebook(q: Questionnaire, lay: Layout) -> pd.DataFrame:
    """The codebook: one row per response column (see :data:`CODEBOOK_COLUMNS`)."""
    groups_zh = "; ".join(f"{g.id}={g.label.get('zh')}" for g in q.groups.levels)
    groups_en = "; ".join(f"{g.id}={g.label.get('en')}" for g in q.groups.levels)
    uq = lay.unit_question
    rows = [dict(column=lay.respondent_id, role="respondent_id", question_zh=ID_QUESTION.zh,
                 question_en=ID_QUESTION.en),
            dict(column=lay.group, role="group", question_zh=GROUP_QUESTION.zh, question_en=GROUP_QUESTION.en,
                 codes_zh=groups_zh, codes_en=groups_en),
            dict(column=lay.unit, role="unit", question_zh=uq.get("zh"), question_en=uq.get("en"),
                 codes_zh=_choices_text(lay.units, "zh"), codes_en=_choices_text(lay.units, "en"))]
    rows += [dict(column=x.column, role="subgroup", question_zh=x.text.get("zh"), question_en=x.text.get("en"),
                  codes_zh=_choices_text(x.choices, "zh"), codes_en=_choices_text(x.choices, "en"),
                  groups=" ".join(x.groups or q.group_ids)) for x in lay.questions]
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


def code_list(q: Questionnaire, lay: Layout) -> pd.DataFrame:
    """Every allowed value of every coded column: ``column``, ``code``, ``label_zh``, ``label_en``, ``missing``."""
    rows = [dict(column=lay.group, code=g.id, label_zh=g.label.get("zh"), label_en=g.label.get("en"), missing=False)
            for g in q.groups.levels]
    rows += [dict(column=col, code=c.code, label_zh=c.get("zh"), label_en=c.get("en"), missing=False)
             for col, choices in [(lay.unit, lay.units), *((x.column, x.choices) for x in lay.questions)]
             for c in choices]
    for item in q.items:
        rows += [dict(column=item.id, code=c, label_zh=code_label(c, lab, "zh"), label_en=code_label(c, lab, "en"),
                      missing=m) for c, lab, m in codes(q.item_scale(item))]
    return pd.DataFrame(rows, columns=["column", "code", "label_zh", "label_en", "missing"])


CODEBOOK_COLUMNS = ["column", "role", "question_zh", "question_en", "indicator_path", "indicator_zh", "indicator_en",
                    "scale_min", "scale_max", "codes_zh", "codes_en", "missing_codes", "groups", "reverse", "weight"]

__all__ = ["CODEBOOK_COLUMNS", "GROUP_QUESTION", "ID_QUESTION", "Choice", "Layout", "Question", "UNIT_QUESTION",
           "code_label", "code_list", "codebook", "codes", "comparison_questions", "layout", "paths", "restricted",
           "routing", "unit_choices", "unit_question"]
