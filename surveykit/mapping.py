"""From a survey platform's export to the questionnaire's columns and codes.

Three kinds of mapping, each shown by ``surveykit map`` before anything is computed:

1. **Columns -> items and standard columns.** A column of the response file matches

   * what a mapping YAML says (``columns: {"3、您对……": q03}``; ``null`` leaves a column alone), else
   * an item id or a standard column name (``group``, the unit column, ``respondent_id``, ...), case-insensitive and
     tolerant of zero padding (``Q3`` matches ``q03``), else
   * an item's question text in Chinese or English, after removing what platforms add: numbering (``3. ``,
     ``Q3、``, ``第3题``, ``(3)``), type tags (``[单选题]``, ``*``), whitespace, full-width forms, final
     punctuation; a matrix sub-question matches by its part after ``—``/``:`` or in brackets, or by its own
     header row when the header has merged rows; a .sav variable by its variable label, else
   * for the group and unit columns only, the column's values (a column whose answers are group labels is the
     group column).

   Two columns matching one target equally well, or one column matching two targets, is *ambiguous*: nothing is
   guessed, the target stays unmatched and the message says which columns compete.
2. **Answers -> codes** through the questionnaire's scale labels (``非常满意`` -> 5; each part of
   ``不了解/不适用``; ``5``, ``５``, ``5.0``; ``5 非常满意`` and ``非常满意(5分)`` when number and label agree), extra labels
   from the mapping YAML (``answers: {比较满意: 4}``), and a .sav file's value labels (its codes are recoded
   through their labels when the labels are the questionnaire's).
   Group labels map to group ids the same way (``权利人`` -> ``holder``).
3. **Unit names -> canonical names** through an alias list kept in YAML
   (``questionnaires/unit_aliases.yaml``: ``浦东``, ``Pudong``, ``上海市浦东新区`` -> ``浦东新区``).

What is *wrong* with a value (text where a number belongs, a code outside the scale, an unknown unit) is the
business of :mod:`surveykit.quality`, which logs it row by row; this module only interprets.
"""

from __future__ import annotations

import datetime
import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import SpecError
from .spec.questionnaire import Questionnaire, Scale
from .spec.yamlio import read_yaml, validate_model


# --- text normalisation ----------------------------------------------------------------------------------------
_WS = re.compile(r"\s+")
_EDGE_PUNCT = ".。,，;；:：!！?？、*＊\"'“”‘’"
# numbering that platforms put before a question: "3. ", "3、", "Q3、", "Q3.", "第3题", "3)", "(3)", "【3】", "3-1、"
_NUMBERING = re.compile(
    r"^\s*(?:"
    r"[(\[【〔]\s*[qQ]?\s*\d+(?:[.\-_]\d+)*\s*[)\]】〕]"
    r"|第\s*\d+\s*题[.、:：]?"
    r"|[qQ]\s*\d+(?:[.\-_]\d+)*\s*[.、:：)\]】_\-]?"
    r"|\d+(?:[.\-_]\d+)*\s*[.、:：)\]】]"
    r")\s*")
# type tags and marks platforms add to a question: "[单选题]", "【矩阵量表题】", "(必答)", "*"
_TAGS = re.compile(r"[\[【(]\s*(?:单选|多选|矩阵|量表|填空|必答|必填|排序|评分|下拉)[^\]】)]{0,8}[\]】)]|\*")
_SPLIT = re.compile(r"\s*(?:——|—|--|－|:|：|\|| / )\s*")
_BRACKETED = re.compile(r"^(.*?)[(\[【]([^()\[\]【】]+)[)\]】]\s*$")


def nfkc(text: str) -> str:
    """Unicode NFKC: full-width digits, letters and punctuation become their ASCII forms (``５`` -> ``5``)."""
    return unicodedata.normalize("NFKC", text)


def norm_text(text: Any) -> str:
    """A key for comparing labels and names: NFKC, case-folded, without whitespace or edge punctuation."""
    s = _WS.sub("", nfkc(str(text))).casefold()
    return s.strip(_EDGE_PUNCT)


def strip_numbering(text: str) -> str:
    """Remove a question number and type tags: ``'Q3、您对……的满意程度[单选题]'`` -> ``'您对……的满意程度'``."""
    s = nfkc(str(text))
    s = _TAGS.sub("", s)
    prev = None
    while prev != s:  # "Q3. (1) ..." has two numberings
        prev = s
        s = _NUMBERING.sub("", s, count=1)
    return s.strip()


def question_keys(name: str, parts: Sequence[str] = (), label: str | None = None) -> list[str]:
    """Every normalised text a column header may stand for (the whole header, header rows, matrix sub-question)."""
    texts = [name, *parts]
    if label:
        texts.append(label)
    keys: list[str] = []
    for t in texts:
        core = strip_numbering(t)
        cands = [core]
        pieces = [p for p in _SPLIT.split(core) if p]
        if len(pieces) > 1:
            cands += [strip_numbering(p) for p in pieces]
        m = _BRACKETED.match(core)
        if m:
            cands += [strip_numbering(m.group(1)), strip_numbering(m.group(2))]
        for c in cands:
            k = norm_text(c)
            if k and k not in keys:
                keys.append(k)
    return keys


def id_key(name: str) -> str:
    """A key for ids: case-folded, NFKC, numbers without leading zeros (``Q3`` and ``q03`` are the same id)."""
    s = norm_text(name)
    return re.sub(r"(?<!\d)0+(?=\d)", "", s)


# --- YAML files ------------------------------------------------------------------------------------------------
class MappingSpec(BaseModel):
    """A mapping YAML: how one export's columns and labels map to the questionnaire.

    Example::

        sheet: 问卷数据          # optional: the sheet to read (default: the first)
        header_rows: 2           # optional: header rows (default: detected from merged header cells)
        columns:                 # file column (header text as shown by `surveykit map`) -> target; null = leave alone
          "序号": respondent_id
          "1、您所在的区": district
          "7、请评价—行政执法力度": q06
          "来自IP": null
        answers: {比较满意: 4, 很满意: 5}   # extra answer labels -> codes, for every item
        groups: {企业: holder}             # extra group labels -> group ids
        units: {浦东新区(含保税区): 浦东新区} # extra unit spellings -> canonical unit names
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    sheet: str | int | None = None
    header_rows: int | None = Field(default=None, ge=1, le=6)
    columns: dict[str, str | None] = Field(default_factory=dict)
    answers: dict[str, int] = Field(default_factory=dict)
    groups: dict[str, str] = Field(default_factory=dict)
    units: dict[str, str] = Field(default_factory=dict)

    @field_validator("columns", "answers", "groups", "units", mode="before")
    @classmethod
    def _string_keys(cls, v):
        if isinstance(v, dict):
            return {str(k): v2 for k, v2 in v.items()}
        return v

    @field_validator("columns")
    @classmethod
    def _targets_unique(cls, v):
        seen: dict[str, str] = {}
        for col, target in v.items():
            if target is None:
                continue
            if not str(target).strip():
                raise ValueError(f"column '{col}' is mapped to an empty name")
            if target in seen:
                raise ValueError(f"columns '{seen[target]}' and '{col}' are both mapped to '{target}'")
            seen[target] = col
        return v


def load_mapping(path: str | Path | None) -> MappingSpec:
    """Load a mapping YAML (see :class:`MappingSpec`); None gives the empty mapping."""
    if path is None:
        return MappingSpec()
    return validate_model(MappingSpec, read_yaml(path), path)  # type: ignore[return-value]


class _AliasFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    units: dict[str, list[str]] = Field(min_length=1)

    @field_validator("units", mode="before")
    @classmethod
    def _lists(cls, v):
        if isinstance(v, dict):
            return {str(k): ([] if x is None else [str(a) for a in x] if isinstance(x, list) else x)
                    for k, x in v.items()}
        return v


_UNIT_DROP = re.compile(r"[\s'’`\-_·.()\[\]（）【】,，]")


def unit_key(name: Any, prefixes: tuple[str, ...] = ()) -> str:
    """A key for unit names: NFKC, case-folded, without blanks, apostrophes, hyphens or brackets, and without a
    leading region name from ``prefixes`` (e.g. the study's ``上海市``/``Shanghai``: ``上海市浦东新区`` -> ``浦东新区``)."""
    s = _UNIT_DROP.sub("", nfkc(str(name)).casefold())
    for p in prefixes:
        if s.startswith(p) and len(s) > len(p):
            return s[len(p):]
    return s


def region_prefixes(*names: str) -> tuple[str, ...]:
    """The keys of a region's names (and of the Chinese name without its last character, 上海市 -> 上海), longest
    first, as :func:`unit_key` strips them."""
    keys = set()
    for n in names:
        if n:
            keys.add(_UNIT_DROP.sub("", nfkc(n).casefold()))
            if len(n) > 2 and n[-1] in "市省县区州":
                keys.add(_UNIT_DROP.sub("", nfkc(n[:-1]).casefold()))
    return tuple(sorted((k for k in keys if k), key=len, reverse=True))


@dataclass(frozen=True)
class UnitAliases:
    """Canonical unit names and their spellings. ``lookup('Pudong')`` -> ``'浦东新区'``; None when unknown."""

    canonical: tuple[str, ...]
    table: Mapping[str, str]
    source: str = "(built in)"
    prefixes: tuple[str, ...] = ()   # region names stripped from the front of a spelling (region_prefixes)

    def lookup(self, value: Any) -> str | None:
        if value is None or (isinstance(value, float) and value != value):
            return None
        return self.table.get(unit_key(value, self.prefixes)) or self.table.get(unit_key(value))

    def with_extra(self, extra: Mapping[str, str], *, file: str | None = None) -> "UnitAliases":
        """Add spellings (from a mapping YAML) that point to known canonical units."""
        if not extra:
            return self
        table = dict(self.table)
        for alias, canon in extra.items():
            target = self.lookup(canon)
            if target is None:
                raise SpecError(f"'{canon}' is not a known unit (known: {', '.join(self.canonical)})", file=file,
                                key=f"units.{alias}")
            table[unit_key(alias)] = target
        return UnitAliases(self.canonical, table, self.source, self.prefixes)


def load_aliases(path: str | Path | None = None, prefixes: tuple[str, ...] = ()) -> UnitAliases:
    """Load a unit alias YAML (the study's ``quality.aliases``); without one, no spelling is known.

    Format: ``units: {浦东新区: [浦东, Pudong, Pudong New Area, ...], ...}``; the canonical name and every alias match
    after :func:`unit_key` normalisation. A spelling listed for two units is an error.
    """
    if path is None:
        return UnitAliases((), {}, "(none)", prefixes)
    data = read_yaml(path)
    spec: _AliasFile = validate_model(_AliasFile, data, path)  # type: ignore[assignment]
    table: dict[str, str] = {}
    for canon, aliases in spec.units.items():
        for a in (canon, *aliases):
            k = unit_key(a)
            if not k:
                raise SpecError("empty alias", file=path, key=f"units.{canon}")
            if table.get(k, canon) != canon:
                raise SpecError(f"'{a}' is listed for both '{table[k]}' and '{canon}'", file=path,
                                key=f"units.{canon}")
            table[k] = canon
    return UnitAliases(tuple(spec.units), table, str(path), prefixes)


# --- answers -> codes -------------------------------------------------------------------------------------------
_NUM = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_CODE_LABEL = re.compile(r"^[(\[【]?\s*([+-]?\d+)\s*(?:分)?\s*[)\]】]?\s*[.、:：\-=]?\s*(\D.*)$")
_LABEL_CODE = re.compile(r"^(\D.*?)\s*[(\[【]\s*([+-]?\d+)\s*分?\s*[)\]】]$")
_POINTS = re.compile(r"^([+-]?\d+)\s*分$")


@dataclass(frozen=True)
class Coded:
    """How one distinct cell value was read.

    ``status``: ``blank``, ``code`` (a number: the answer code), ``text`` (neither a number nor a known label),
    ``date`` (an Excel date or time), ``ambiguous`` (number and label disagree, e.g. ``5 不满意``).
    ``via``: ``number``, ``label``, ``value label`` (.sav) -- how a code was found.
    ``trimmed`` / ``widened``: the value had surrounding whitespace / full-width characters (number or id).
    """

    status: str
    code: float = float("nan")
    via: str = ""
    trimmed: bool = False
    widened: bool = False
    clean: Any = None  # the value after trimming and NFKC (for text columns)


BLANK = Coded("blank")


class AnswerCoder:
    """Answer labels of one scale -> codes (see module docstring, 2)."""

    def __init__(self, scale: Scale, extra: Mapping[str, int] | None = None, blank_values: Iterable[str] = ()):
        self.scale = scale
        labels: dict[str, int] = {}
        for code, lab in scale.labels.items():
            for text in (lab.zh, lab.en):
                if not text:
                    continue
                labels.setdefault(norm_text(text), code)
                for piece in re.split(r"[/／|、]", nfkc(text)):
                    if piece.strip() and piece.strip() != text:
                        labels.setdefault(norm_text(piece), code)
        for text, code in (extra or {}).items():
            labels[norm_text(text)] = int(code)
        self.labels = labels
        self.blank = frozenset(norm_text(b) for b in blank_values)

    def code(self, v: Any) -> Coded:
        if v is None:
            return BLANK
        if isinstance(v, bool):
            return Coded("text", clean=v)
        if isinstance(v, (int, np.integer)):
            return Coded("code", float(v), "number")
        if isinstance(v, (float, np.floating)):
            return BLANK if v != v else Coded("code", float(v), "number")
        if isinstance(v, (pd.Timestamp,)) or hasattr(v, "isoformat"):  # datetime, date, time
            return Coded("date", clean=v)
        if hasattr(v, "total_seconds"):  # timedelta
            return Coded("date", clean=v)
        raw = str(v)
        s = raw.strip()
        trimmed = s != raw and s != ""
        if s == "":
            return BLANK
        t = nfkc(s)
        widened = t != s
        t = t.strip()
        if norm_text(t) in self.blank:
            return Coded("blank", trimmed=trimmed)
        if _NUM.fullmatch(t):
            return Coded("code", float(t), "number", trimmed, widened)
        m = _POINTS.match(t)
        if m:
            return Coded("code", float(m.group(1)), "number", trimmed, widened)
        key = norm_text(t)
        if key in self.labels:
            return Coded("code", float(self.labels[key]), "label", trimmed)
        for pat, num_group, lab_group in ((_CODE_LABEL, 1, 2), (_LABEL_CODE, 2, 1)):
            m = pat.match(t)
            if m:
                num, lab = float(m.group(num_group)), self.labels.get(norm_text(m.group(lab_group)))
                if lab is not None and lab == num:
                    return Coded("code", num, "label", trimmed)
                if lab is not None:
                    return Coded("ambiguous", clean=t, trimmed=trimmed)
        return Coded("text", clean=t, trimmed=trimmed)


class GroupCoder:
    """Group ids and labels (zh/en) -> group ids."""

    def __init__(self, q: Questionnaire, extra: Mapping[str, str] | None = None, *, file: str | None = None):
        table: dict[str, str] = {}
        for g in q.groups.levels:
            for t in (g.id, g.label.zh, g.label.en):
                if t:
                    table.setdefault(norm_text(t), g.id)
        for text, gid in (extra or {}).items():
            if gid not in q.group_ids:
                raise SpecError(f"'{gid}' is not a group of the questionnaire ({', '.join(q.group_ids)})", file=file,
                                key=f"groups.{text}")
            table[norm_text(text)] = gid
        self.table = table

    def lookup(self, v: Any) -> str | None:
        if v is None or (isinstance(v, float) and v != v):
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return self.table.get(norm_text(v))


# --- columns -> targets -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Roles:
    """The standard columns besides items and the group column: target name and the header texts that mean it."""

    unit: str | None = "district"
    unit_names: tuple[str, ...] = ()
    respondent_id: str = "respondent_id"
    id_names: tuple[str, ...] = ()
    duration: str = "duration"
    duration_names: tuple[str, ...] = ()
    group_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnMatch:
    column: str   # the column as named in the file
    target: str   # item id, group column, unit column, respondent id, duration, or a name from the mapping YAML
    how: str      # 'mapping file', 'id', 'name', 'question text', 'variable label', 'values'
    detail: str = ""


@dataclass(frozen=True)
class ColumnMap:
    """The proposed column mapping (see :func:`match_columns`)."""

    matches: tuple[ColumnMatch, ...]
    unmatched: tuple[str, ...]
    ignored: tuple[str, ...]
    missing_items: tuple[str, ...]
    missing_roles: tuple[str, ...]
    ambiguous: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    suggestions: Mapping[str, tuple[str, float]] = field(default_factory=dict)

    def rename(self) -> dict[str, str]:
        return {m.column: m.target for m in self.matches}

    def column_of(self, target: str) -> str | None:
        return next((m.column for m in self.matches if m.target == target), None)

    def match_of(self, target: str) -> ColumnMatch | None:
        return next((m for m in self.matches if m.target == target), None)


_RANK = {"mapping file": 0, "id": 1, "name": 2, "question text": 3, "variable label": 3, "values": 4}


def match_columns(q: Questionnaire, df: pd.DataFrame, *, spec: MappingSpec | None = None,
                  roles: Roles = Roles(), aliases: UnitAliases | None = None,
                  groups: GroupCoder | None = None, spec_file: str | None = None) -> ColumnMap:
    """Match the columns of ``df`` (as read, with the reader's attrs) to the questionnaire (module docstring, 1)."""
    spec = spec or MappingSpec()
    columns = [str(c) for c in df.columns]
    parts = df.attrs.get("header_parts") or {}
    labels = df.attrs.get("column_labels") or {}
    items = list(q.items)
    gcol = q.groups.column
    role_targets = [t for t in (gcol, roles.unit, roles.respondent_id, roles.duration) if t]

    chosen: dict[str, ColumnMatch] = {}      # target -> match
    by_column: dict[str, str] = {}            # column -> target
    ambiguous: dict[str, tuple[str, ...]] = {}
    ignored: list[str] = []

    # 1. the mapping file
    norm_cols = {}
    for c in columns:
        norm_cols.setdefault(norm_text(c), []).append(c)
    for raw, target in spec.columns.items():
        cols = [raw] if raw in columns else norm_cols.get(norm_text(raw), [])
        if not cols:
            shown = ", ".join(f"'{c}'" for c in columns[:8]) + (", ..." if len(columns) > 8 else "")
            raise SpecError(f"no column '{raw}' in {df.attrs.get('source', 'the responses')} (columns: {shown})",
                            file=spec_file, key=f"columns.{raw}")
        col = cols[0]
        if target is None:
            ignored.append(col)
            by_column[col] = ""
            continue
        chosen[target] = ColumnMatch(col, target, "mapping file")
        by_column[col] = target
    free = [c for c in columns if c not in by_column]

    def settle(cands: dict[str, list[tuple[str, str, str]]]) -> None:
        """``cands``: target -> [(column, how, detail)] at one rank; accept only one-to-one matches."""
        col_targets: dict[str, set[str]] = {}
        for t, lst in cands.items():
            for c, _, _ in lst:
                col_targets.setdefault(c, set()).add(t)
        for t, lst in cands.items():
            if t in chosen:
                continue
            cols = sorted({c for c, _, _ in lst if c not in by_column}, key=columns.index)
            if not cols:
                continue
            if len(cols) > 1:
                ambiguous[t] = tuple(cols)
                continue
            c = cols[0]
            if len(col_targets[c] - set(chosen)) > 1:
                for other in col_targets[c]:
                    ambiguous.setdefault(other, (c,))
                continue
            how, detail = next((h, d) for cc, h, d in lst if cc == c)
            chosen[t] = ColumnMatch(c, t, how, detail)
            by_column[c] = t
            ambiguous.pop(t, None)

    # 2. ids and standard names
    item_ids = {id_key(i.id): i.id for i in items}
    role_ids = {id_key(t): t for t in role_targets}
    cands: dict[str, list] = {}
    for c in free:
        for p in (c, *parts.get(c, ())):
            k = id_key(p)
            t = item_ids.get(k) or role_ids.get(k)
            if t:
                cands.setdefault(t, []).append((c, "id", ""))
    settle(cands)
    name_sets = {gcol: roles.group_names, roles.unit: roles.unit_names, roles.respondent_id: roles.id_names,
                 roles.duration: roles.duration_names}
    cands = {}
    for c in free:
        if c in by_column:
            continue
        keys = set(question_keys(c, parts.get(c, ()), labels.get(c)))
        for t, names in name_sets.items():
            if t and any(norm_text(strip_numbering(n)) in keys for n in names):
                cands.setdefault(t, []).append((c, "name", ""))
    settle(cands)

    # 3. question text (and .sav variable labels)
    text_keys: dict[str, list[str]] = {}
    for i in items:
        for t in (i.text.zh, i.text.en):
            if t:
                k = norm_text(strip_numbering(t))
                if i.id not in text_keys.setdefault(k, []):
                    text_keys[k].append(i.id)
    cands = {}
    for c in free:
        if c in by_column:
            continue
        for k in question_keys(c, parts.get(c, ()), labels.get(c)):
            for iid in text_keys.get(k, []):
                how = "variable label" if labels.get(c) and k in question_keys(labels[c]) and \
                    k not in question_keys(c, parts.get(c, ())) else "question text"
                if not any(cc == c for cc, _, _ in cands.get(iid, [])):
                    cands.setdefault(iid, []).append((c, how, ""))
    settle(cands)

    # 4. group and unit columns by their values
    for target, kind in ((gcol, "group"), (roles.unit, "unit")):
        if not target or target in chosen:
            continue
        best, best_share = None, 0.0
        for c in free:
            if c in by_column:
                continue
            s = df[c]
            vals = s.dropna()
            if len(vals) == 0:
                continue
            uniq, counts = np.unique(vals.astype(str).to_numpy(), return_counts=True)
            if len(uniq) > 200:
                continue
            if kind == "group":
                hit = np.array([groups is not None and groups.lookup(u) is not None for u in uniq])
            else:
                hit = np.array([aliases is not None and aliases.lookup(u) is not None for u in uniq])
            share = counts[hit].sum() / counts.sum()
            if share > best_share:
                best, best_share = c, share
        if best is not None and best_share >= 0.8:
            chosen[target] = ColumnMatch(best, target, "values", f"{best_share:.0%} of its values are {kind}s")
            by_column[best] = target

    missing_items = tuple(i.id for i in items if i.id not in chosen)
    missing_roles = tuple(t for t in role_targets if t not in chosen)
    unmatched = tuple(c for c in columns if c not in by_column)
    # closest columns for what is missing (a suggestion only; never applied)
    suggestions: dict[str, tuple[str, float]] = {}
    pool = {c: question_keys(c, parts.get(c, ()), labels.get(c)) for c in unmatched}
    for iid in missing_items:
        item = next(i for i in items if i.id == iid)
        targets = [norm_text(strip_numbering(t)) for t in (item.text.zh, item.text.en) if t]
        best = (None, 0.0)
        for c, keys in pool.items():
            for k in keys:
                for t in targets:
                    r = difflib.SequenceMatcher(None, k, t).ratio()
                    if r > best[1]:
                        best = (c, r)
        if best[0] is not None and best[1] >= 0.6:
            suggestions[iid] = (best[0], round(best[1], 2))
    order = {c: k for k, c in enumerate(columns)}
    matches = tuple(sorted(chosen.values(), key=lambda m: order[m.column]))
    amb = {t: v for t, v in ambiguous.items() if t not in chosen}
    return ColumnMap(matches, unmatched, tuple(ignored), missing_items, missing_roles, amb, suggestions)


# --- the proposal shown by `surveykit map` ----------------------------------------------------------------------
@dataclass(frozen=True)
class ValueMap:
    """Distinct values of a mapped column and what they became: ``(value, becomes, rows)``; unread ones apart."""

    target: str
    column: str
    mapped: tuple[tuple[str, str, int], ...]
    unread: tuple[tuple[str, int], ...]


def show(v: Any) -> str:
    """A cell value as the user sees it: ``7`` not ``7.0``; dates as dates."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, (float, np.floating)) and v != v):
        return ""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, datetime.datetime) and v.time() == datetime.time(0):  # a date cell, whichever Excel engine
        return v.date().isoformat()
    return str(v)


def describe(q: Questionnaire, df: pd.DataFrame, cmap: ColumnMap, values: Sequence[ValueMap], *,
             roles: Roles, notes: Sequence[str] = (), max_values: int = 12) -> str:
    """The text printed by ``surveykit map``."""
    a = df.attrs
    src = a.get("source", "(data frame)")
    where = []
    if a.get("sheet"):
        where.append(f"sheet '{a['sheet']}'")
    hr = a.get("header_rows")
    if hr:
        where.append(f"header row{'s' if len(hr) > 1 else ''} {hr[0]}{'-' + str(hr[-1]) if len(hr) > 1 else ''}")
    if a.get("encoding") and a.get("encoding") != "xlsx":
        where.append(f"encoding {a['encoding']}")
    if a.get("delimiter"):
        where.append("delimiter " + {"\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}.get(a["delimiter"],
                                                                                                   a["delimiter"]))
    lines = [f"{src}: {len(df)} data rows, {df.shape[1]} columns" + (f" ({', '.join(where)})" if where else "")]
    n_items = len(q.items)
    matched_items = [m for m in cmap.matches if m.target in {i.id for i in q.items}]
    lines.append("")
    lines.append(f"Columns matched ({len(matched_items)} of {n_items} items; "
                 f"{len(cmap.matches) - len(matched_items)} other):")
    width = max([len(m.target) for m in cmap.matches] + [6])
    for m in cmap.matches:
        extra = f"; {m.detail}" if m.detail else ""
        lines.append(f"  {m.target:<{width}} <- '{m.column}'  [{m.how}{extra}]")
    vm = [v for v in values if v.mapped or v.unread]
    if vm:
        lines.append("")
        lines.append("Values mapped:")
        item_ids = {i.id for i in q.items}
        # answer labels: pooled over the items (the same labels in every column)
        pooled: dict[tuple[str, str], int] = {}
        unread_items: list[tuple[str, str, int]] = []
        for v in vm:
            if v.target in item_ids:
                for raw, to, n in v.mapped:
                    pooled[(raw, to)] = pooled.get((raw, to), 0) + n
                unread_items += [(v.column, raw, n) for raw, n in v.unread]
        if pooled:
            shown = sorted(pooled.items(), key=lambda kv: (kv[0][1], kv[0][0]))
            body = ", ".join(f"{raw}->{to} ({n})" for (raw, to), n in shown[:max_values])
            more = f", ... ({len(shown) - max_values} more)" if len(shown) > max_values else ""
            lines.append(f"  answers (all items): {body}{more}")
        for v in vm:
            if v.target in item_ids:
                continue
            if v.mapped:
                body = ", ".join(f"{raw}->{to} ({n})" for raw, to, n in v.mapped[:max_values])
                more = f", ... ({len(v.mapped) - max_values} more)" if len(v.mapped) > max_values else ""
                lines.append(f"  {v.target}: {body}{more}")
            if v.unread:
                body = ", ".join(f"'{raw}' ({n})" for raw, n in v.unread[:max_values])
                lines.append(f"  {v.target}: NOT RECOGNISED: {body}")
        if unread_items:
            by_col: dict[str, list[str]] = {}
            for c, raw, n in unread_items:
                by_col.setdefault(c, []).append(f"'{raw}' ({n})")
            for c, vals in list(by_col.items())[:max_values]:
                lines.append(f"  '{c}': NOT AN ANSWER CODE: {', '.join(vals[:6])}{' ...' if len(vals) > 6 else ''}")
    lines.append("")
    if cmap.missing_items or any(t == q.groups.column for t in cmap.missing_roles):
        lines.append("NOT MATCHED (required):")
        for t in ([q.groups.column] if q.groups.column in cmap.missing_roles else []) + list(cmap.missing_items):
            why = ""
            if t in cmap.ambiguous:
                why = " -- ambiguous: " + ", ".join(f"'{c}'" for c in cmap.ambiguous[t])
            elif t in cmap.suggestions:
                c, r = cmap.suggestions[t]
                why = f" -- closest column: '{c}' (similarity {r:.2f})"
            label = q.label(t) if t != q.groups.column else "group column"
            lines.append(f"  {t} ({label}){why}")
    else:
        lines.append("Every item and the group column are matched.")
    opt = [t for t in cmap.missing_roles if t != q.groups.column]
    if opt:
        lines.append("Optional columns not found: " + ", ".join(opt))
    if cmap.unmatched:
        shown = ", ".join(f"'{c}'" for c in cmap.unmatched[:20])
        lines.append(f"Other columns, kept as they are ({len(cmap.unmatched)}): {shown}"
                     f"{', ...' if len(cmap.unmatched) > 20 else ''}")
    if cmap.ignored:
        lines.append("Left alone by the mapping file: " + ", ".join(f"'{c}'" for c in cmap.ignored))
    for note in notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def mapping_yaml(cmap: ColumnMap, df: pd.DataFrame) -> str:
    """A mapping YAML with the proposed column mapping, for the user to check and edit (``map --out``)."""
    import yaml

    def q(s: str) -> str:
        return yaml.safe_dump(s, allow_unicode=True, default_style='"').strip().removesuffix("\n...")

    lines = ["# Column mapping proposed by `surveykit map` -- check it, edit it, then pass it with --mapping.",
             "# file column: target (an item id, the group/unit/id column, any new name; null = leave alone)"]
    a = df.attrs
    if a.get("sheet"):
        lines.append(f"sheet: {q(a['sheet'])}")
    hr = a.get("header_rows")
    if hr:  # detected: left to detection (header_rows counts from the first non-blank row, a title row included)
        lines.append(f"# header: row{'s' if len(hr) > 1 else ''} {hr[0]}{'-' + str(hr[-1]) if len(hr) > 1 else ''}"
                     " (detected; set header_rows: N only if that is wrong)")
    lines.append("columns:")
    for m in cmap.matches:
        lines.append(f"  {q(m.column)}: {q(m.target)}    # {m.how}")
    for iid in cmap.missing_items:
        sug = cmap.suggestions.get(iid)
        hint = f"  # closest: {q(sug[0])}" if sug else ""
        lines.append(f"  # ???: {iid}{hint}")
    for c in cmap.unmatched:
        lines.append(f"  {q(c)}: null")
    lines += ["answers: {}      # extra answer labels -> codes, e.g. {比较满意: 4}",
              "groups: {}       # extra group labels -> group ids",
              "units: {}        # extra unit spellings -> canonical names"]
    return "\n".join(lines) + "\n"
