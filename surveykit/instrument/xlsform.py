"""The questionnaire as an XLSForm (https://xlsform.org), the open form standard of ODK and KoboToolbox.

Sheets ``survey``, ``choices`` and ``settings``; labels in two languages (``label::Chinese (zh)``,
``label::English (en)``, default Chinese). The form asks, in order: the intro (a note, when the questionnaire has
one), the respondent group (``select_one``, named as the group column, choices named by the group ids: the first
question), the unit (``select_one`` from the units given -- choice names their codes, labels each language's
name -- else text), each subgroup the study compares (``select_one`` from its levels, list ``subgroup_<column>``,
``relevant`` to the comparison's group), then every indicator as a note heading
followed by its items (``select_one`` from the item's scale, don't-know / missing codes included, choice names the
codes), and a hidden ``respondent_id`` (``once(uuid())``).

Routing: an item asked of some groups only gets ``relevant: ${group} = 'holder' or ${group} = 'professional'``
(likewise an indicator heading whose items are all restricted). Items are required when their scale has a
don't-know code (a respondent can always answer). No ``begin group``: exports then name every column by the item id,
which is what ``surveykit validate`` reads without a mapping file.
"""

from __future__ import annotations

import re
from typing import Sequence

import pandas as pd

from ..errors import InputError
from ..spec.questionnaire import Label, Node, Questionnaire, Scale
from .layout import GROUP_QUESTION, Choice, Layout, code_label, codes, restricted

LANGUAGES = {"zh": "Chinese (zh)", "en": "English (en)"}
LABELS = [f"label::{name}" for name in LANGUAGES.values()]
SURVEY_COLUMNS = ["type", "name", *LABELS, "required", "relevant", "calculation"]
CHOICE_COLUMNS = ["list_name", "name", *LABELS]
GROUP_LIST, UNIT_LIST, SCALE_LIST = "groups", "units", "scale"
# an XML element name (XLSForm names become the form's XML elements): a letter or _ first, then letters, digits . - _
_XML_NAME = re.compile(r"[^\W\d][\w.\-]*")


def _labels(label: Label | Choice) -> dict[str, str]:
    return {col: label.get(lang) for col, lang in zip(LABELS, LANGUAGES)}


def _subgroup_list(column: str) -> str:
    return f"subgroup_{column}"


def _relevant(q: Questionnaire, groups: Sequence[str] | None) -> str | None:
    """``${group} = 'a' or ${group} = 'b'``; None when every group is asked."""
    if not groups:
        return None
    return " or ".join(f"${{{q.groups.column}}} = '{g}'" for g in groups)


def _scale_lists(q: Questionnaire) -> list[tuple[Scale, str]]:
    """A choice list per distinct scale: ``scale`` for the questionnaire's, ``scale_2``, ... for overrides."""
    lists = [(q.scale, SCALE_LIST)]
    for item in q.items:
        s = q.item_scale(item)
        if all(s != known for known, _ in lists):
            lists.append((s, f"{SCALE_LIST}_{len(lists) + 1}"))
    return lists


def _list_of(lists: list[tuple[Scale, str]], scale: Scale) -> str:
    return next(name for known, name in lists if known == scale)


def _check_names(q: Questionnaire, lay: Layout) -> None:
    for name in lay.columns:
        if not _XML_NAME.fullmatch(name):
            raise InputError(f"'{name}' cannot name a question of an XLSForm (it becomes an XML element: start with "
                             f"a letter or _, then letters, digits, . - _): rename it", key=name)
    named = [(g, "group id") for g in q.group_ids] + [(c.code, "level") for x in lay.questions for c in x.choices]
    for g, what in named:
        if "'" in g or any(ch.isspace() for ch in g):
            raise InputError(f"{what} '{g}' holds a quote or a blank, which an XLSForm choice name cannot: rename "
                             f"it", key=g)
    units = [u.code for u in lay.units]
    if any("'" in u for u in units):
        raise InputError(f"unit name {next(u for u in units if chr(39) in u)!r} holds a quote, which an XLSForm "
                         f"choice name cannot")


def _note_names(lay: Layout):
    """Names for notes: ``intro``, ``section_1``, ``section_2``, ... (prefixed with ``_`` if a column has one)."""
    counter = iter(range(1, 10**9))

    def name(prefix: str) -> str:
        out = prefix if prefix == "intro" else f"{prefix}_{next(counter)}"
        while out in lay.columns:
            out = "_" + out
        return out

    return name


def _survey(q: Questionnaire, lay: Layout) -> list[dict]:
    lists, note = _scale_lists(q), _note_names(lay)
    rows: list[dict] = []
    if q.intro is not None:
        rows.append(dict(type="note", name=note("intro"), **_labels(q.intro)))
    rows.append(dict(type=f"select_one {GROUP_LIST}", name=lay.group, required="yes", **_labels(GROUP_QUESTION)))
    rows.append(dict(type=f"select_one {UNIT_LIST}" if lay.units else "text", name=lay.unit, required="yes",
                     **_labels(lay.unit_question)))
    rows += [dict(type=f"select_one {_subgroup_list(x.column)}", name=x.column, relevant=_relevant(q, x.groups),
                  **_labels(x.text)) for x in lay.questions]

    def visit(node: Node) -> None:
        rows.append(dict(type="note", name=note("section"), relevant=_relevant(q, restricted(q, node)),
                         **_labels(node.label)))
        for child in node.children:
            visit(child)
        for item in node.items:
            scale = q.item_scale(item)
            rows.append(dict(type=f"select_one {_list_of(lists, scale)}", name=item.id,
                             required="yes" if scale.missing else None, relevant=_relevant(q, restricted(q, item)),
                             **_labels(item.text)))

    for top in q.indicators:
        visit(top)
    rows.append(dict(type="calculate", name=lay.respondent_id, calculation="once(uuid())"))
    return rows


def _choices(q: Questionnaire, lay: Layout) -> list[dict]:
    rows = [dict(list_name=GROUP_LIST, name=g.id, **_labels(g.label)) for g in q.groups.levels]
    rows += [dict(list_name=UNIT_LIST, name=u.code, **_labels(u)) for u in lay.units]
    rows += [dict(list_name=_subgroup_list(x.column), name=c.code, **_labels(c)) for x in lay.questions
             for c in x.choices]
    for scale, name in _scale_lists(q):
        rows += [dict(list_name=name, name=str(c), **{col: code_label(c, lab, lang) for col, lang in
                                                        zip(LABELS, LANGUAGES)}) for c, lab, _ in codes(scale)]
    return rows


def xlsform_sheets(q: Questionnaire, lay: Layout) -> dict[str, pd.DataFrame]:
    """The XLSForm's sheets ``survey``, ``choices``, ``settings`` as tables (see the module docstring)."""
    _check_names(q, lay)
    settings = dict(form_title=q.title.get("zh"), form_id=q.id, version=q.version,
                    default_language=LANGUAGES["zh"])
    return {"survey": pd.DataFrame(_survey(q, lay), columns=SURVEY_COLUMNS),
            "choices": pd.DataFrame(_choices(q, lay), columns=CHOICE_COLUMNS),
            "settings": pd.DataFrame([settings])}


__all__ = ["CHOICE_COLUMNS", "LABELS", "LANGUAGES", "SURVEY_COLUMNS", "xlsform_sheets"]
