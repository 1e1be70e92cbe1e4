"""From a survey platform's export to the questionnaire's columns and codes.

Three kinds of mapping, each shown by ``surveykit map`` before anything is computed (the words it prints are in
:mod:`surveykit.report.quality_text`):

1. **Columns -> items and standard columns**, by the chain of matchers :data:`MATCHERS`, in order (a target or
   a column taken by one matcher is not offered to the next). A column of the response file matches

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
   (the study's aliases file: ``江城``, ``Jiangcheng``, ``某市江城区`` -> ``江城区``; the region's name is stripped first).

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
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from rapidfuzz import fuzz as rf_fuzz
from rapidfuzz import process as rf_process

from .errors import SpecError
from .io.provenance import Provenance
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
        units: {江城区(含开发区): 江城区} # extra unit spellings -> canonical unit names
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
    leading region name from ``prefixes`` (e.g. the study's ``某市``/``Some City``: ``某市江城区`` -> ``江城区``)."""
    s = _UNIT_DROP.sub("", nfkc(str(name)).casefold())
    for p in prefixes:
        if s.startswith(p) and len(s) > len(p):
            return s[len(p):]
    return s


def region_prefixes(*names: str) -> tuple[str, ...]:
    """The keys of a region's names (and of the Chinese name without its last character, 江南省 -> 江南), longest
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
    """Canonical unit names and their spellings. ``lookup('Jiangcheng')`` -> ``'江城区'``; None when unknown."""

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

    Format: ``units: {江城区: [江城, Jiangcheng, Jiangcheng District, ...], ...}``; the canonical name and every alias match
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


@dataclass(frozen=True)
class MatchContext:
    """What the columns of a table are matched against, and what is known of each column (cached)."""

    q: Questionnaire
    frame: pd.DataFrame
    provenance: Provenance
    spec: MappingSpec
    roles: Roles
    aliases: UnitAliases | None = None
    groups: GroupCoder | None = None
    spec_file: str | None = None
    _keys: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def role_targets(self) -> list[str]:
        r = self.roles
        return [t for t in (self.q.groups.column, r.unit, r.respondent_id, r.duration) if t]

    def parts(self, column: str) -> tuple[str, ...]:
        return tuple((self.provenance.header_parts or {}).get(column, ()))

    def label(self, column: str) -> str | None:
        return (self.provenance.column_labels or {}).get(column)

    def keys(self, column: str) -> list[str]:
        """:func:`question_keys` of a column's header, header parts and variable label."""
        if column not in self._keys:
            self._keys[column] = question_keys(column, self.parts(column), self.label(column))
        return self._keys[column]


class Matching:
    """The state of a match: what each target is matched to, so far; what is ambiguous or left alone."""

    def __init__(self, columns: list[str]):
        self.columns = columns
        self.order = {c: k for k, c in enumerate(columns)}
        self.chosen: dict[str, ColumnMatch] = {}      # target -> match
        self.by_column: dict[str, str] = {}            # column -> target ('' when left alone)
        self.ambiguous: dict[str, tuple[str, ...]] = {}
        self.ignored: list[str] = []

    def free(self) -> list[str]:
        return [c for c in self.columns if c not in self.by_column]

    def take(self, m: ColumnMatch) -> None:
        self.chosen[m.target] = m
        self.by_column[m.column] = m.target

    def settle(self, cands: dict[str, list[tuple[str, str, str]]]) -> None:
        """``cands``: target -> [(column, how, detail)] found by one matcher; accept only one-to-one matches."""
        col_targets: dict[str, set[str]] = {}
        for t, lst in cands.items():
            for c, _, _ in lst:
                col_targets.setdefault(c, set()).add(t)
        for t, lst in cands.items():
            if t in self.chosen:
                continue
            cols = sorted({c for c, _, _ in lst if c not in self.by_column}, key=self.order.__getitem__)
            if not cols:
                continue
            if len(cols) > 1:
                self.ambiguous[t] = tuple(cols)
                continue
            c = cols[0]
            if len(col_targets[c] - set(self.chosen)) > 1:
                for other in col_targets[c]:
                    self.ambiguous.setdefault(other, (c,))
                continue
            how, detail = next((h, d) for cc, h, d in lst if cc == c)
            self.take(ColumnMatch(c, t, how, detail))
            self.ambiguous.pop(t, None)


def by_mapping_file(m: Matching, ctx: MatchContext) -> None:
    """What the mapping YAML says (a header as written, or equal after normalisation); ``null`` leaves a column
    alone."""
    norm_cols: dict[str, list[str]] = {}
    for c in m.columns:
        norm_cols.setdefault(norm_text(c), []).append(c)
    for raw, target in ctx.spec.columns.items():
        cols = [raw] if raw in m.order else norm_cols.get(norm_text(raw), [])
        if not cols:
            shown = ", ".join(f"'{c}'" for c in m.columns[:8]) + (", ..." if len(m.columns) > 8 else "")
            raise SpecError(f"no column '{raw}' in {ctx.provenance.source} (columns: {shown})", file=ctx.spec_file,
                            key=f"columns.{raw}")
        if target is None:
            m.ignored.append(cols[0])
            m.by_column[cols[0]] = ""
        else:
            m.take(ColumnMatch(cols[0], target, "mapping file"))


def by_id(m: Matching, ctx: MatchContext) -> None:
    """An item id or a standard column name, in the header or one of its parts (``Q3`` is ``q03``)."""
    targets = {id_key(t): t for t in ctx.role_targets}
    targets.update({id_key(i.id): i.id for i in ctx.q.items})  # an item id wins over a standard name
    cands: dict[str, list] = {}
    for c in m.free():
        for p in (c, *ctx.parts(c)):
            t = targets.get(id_key(p))
            if t:
                cands.setdefault(t, []).append((c, "id", ""))
    m.settle(cands)


def by_name(m: Matching, ctx: MatchContext) -> None:
    """A header text that means a standard column (the rules file's ``columns:``), numbering removed."""
    r = ctx.roles
    name_sets = {ctx.q.groups.column: r.group_names, r.unit: r.unit_names, r.respondent_id: r.id_names,
                 r.duration: r.duration_names}
    wanted = {t: {norm_text(strip_numbering(n)) for n in names} for t, names in name_sets.items() if t}
    cands: dict[str, list] = {}
    for c in m.free():
        keys = set(ctx.keys(c))
        for t, names in wanted.items():
            if keys & names:
                cands.setdefault(t, []).append((c, "name", ""))
    m.settle(cands)


def by_question_text(m: Matching, ctx: MatchContext) -> None:
    """An item's question text (Chinese or English), or a .sav variable label."""
    text_keys: dict[str, list[str]] = {}
    for i in ctx.q.items:
        for t in (i.text.zh, i.text.en):
            if t:
                k = norm_text(strip_numbering(t))
                if i.id not in text_keys.setdefault(k, []):
                    text_keys[k].append(i.id)
    cands: dict[str, list] = {}
    for c in m.free():
        label = ctx.label(c)
        for k in ctx.keys(c):
            for iid in text_keys.get(k, []):
                how = "variable label" if label and k in question_keys(label) and \
                    k not in question_keys(c, ctx.parts(c)) else "question text"
                if not any(cc == c for cc, _, _ in cands.get(iid, [])):
                    cands.setdefault(iid, []).append((c, how, ""))
    m.settle(cands)


def by_values(m: Matching, ctx: MatchContext) -> None:
    """The group and unit columns only: the column whose values are (>= 80 %) group labels / unit names."""
    seen: dict[str, tuple[list[str], np.ndarray] | None] = {}
    for target, kind in ((ctx.q.groups.column, "group"), (ctx.roles.unit, "unit")):
        lookup = ctx.groups if kind == "group" else ctx.aliases
        if not target or target in m.chosen:
            continue
        known: dict[str, bool] = {}
        best, best_share = None, 0.0
        for c in m.free():
            if c not in seen:
                seen[c] = _distinct_texts(ctx.frame[c])
            if seen[c] is None:
                continue
            texts, counts = seen[c]
            hit = np.array([known.setdefault(u, lookup is not None and lookup.lookup(u) is not None)
                            for u in texts])
            share = counts[hit].sum() / counts.sum()
            if share > best_share:
                best, best_share = c, share
        if best is not None and best_share >= 0.8:
            m.take(ColumnMatch(best, target, "values", f"{best_share:.0%} of its values are {kind}s"))


def _distinct_texts(s: pd.Series, most: int = 200) -> tuple[list[str], np.ndarray] | None:
    """A column's distinct values as text (``astype(str)``) with their counts; None when it has no value or more
    than ``most`` distinct ones."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    present = codes >= 0
    if not present.any():
        return None
    counts = np.bincount(codes[present], minlength=len(uniques))
    by_text: dict[str, int] = {}
    for text, k in zip(pd.Index(uniques).astype(str), counts):
        by_text[text] = by_text.get(text, 0) + int(k)
    if len(by_text) > most:
        return None
    return list(by_text), np.array(list(by_text.values()))


MATCHERS = (by_mapping_file, by_id, by_name, by_question_text, by_values)
"""The chain of matchers, in order: a target or a column taken by one is not offered to the next."""


def match_columns(q: Questionnaire, df: pd.DataFrame, *, provenance: Provenance | None = None,
                  spec: MappingSpec | None = None, roles: Roles = Roles(), aliases: UnitAliases | None = None,
                  groups: GroupCoder | None = None, spec_file: str | None = None) -> ColumnMap:
    """Match the columns of ``df`` to the questionnaire through :data:`MATCHERS` (module docstring, 1).

    ``provenance``: where ``df`` came from (header parts, .sav variable labels); default :meth:`Provenance.of`
    ``df``. Linear in the number of columns."""
    ctx = MatchContext(q, df, provenance or Provenance.of(df), spec or MappingSpec(), roles, aliases, groups,
                       spec_file)
    m = Matching([str(c) for c in df.columns])
    for matcher in MATCHERS:
        matcher(m, ctx)
    missing_items = tuple(i.id for i in q.items if i.id not in m.chosen)
    unmatched = tuple(m.free())
    matches = tuple(sorted(m.chosen.values(), key=lambda x: m.order[x.column]))
    return ColumnMap(matches, unmatched, tuple(m.ignored), missing_items,
                     tuple(t for t in ctx.role_targets if t not in m.chosen),
                     {t: v for t, v in m.ambiguous.items() if t not in m.chosen},
                     suggestions(ctx, missing_items, unmatched))


def suggestions(ctx: MatchContext, missing_items: Sequence[str], columns: Sequence[str],
                cutoff: float = 0.6) -> dict[str, tuple[str, float]]:
    """For each missing item, the column whose header is closest to its question text (difflib's ratio, at least
    ``cutoff``; the first column in file order on a tie) -- a suggestion only, never applied.

    Only pairs that can reach the best ratio are compared by difflib: rapidfuzz's Indel similarity
    (2 x longest common subsequence / total length) bounds difflib's ratio (2 x matched characters / total
    length) from above and is computed for every pair at C speed."""
    pool = [(c, k) for c in columns for k in ctx.keys(c)]
    if not pool or not missing_items:
        return {}
    keys = [k for _, k in pool]
    out: dict[str, tuple[str, float]] = {}
    items = {i.id: i for i in ctx.q.items}
    for iid in missing_items:
        texts = [norm_text(strip_numbering(t)) for t in (items[iid].text.zh, items[iid].text.en) if t]
        if not texts:
            continue
        bound = rf_process.cdist(texts, keys, scorer=rf_fuzz.ratio, score_cutoff=cutoff * 100 - 1e-6,
                                 dtype=np.float64)
        best = (None, 0.0, None)  # column, ratio, place in the order difflib saw them (column, key, text)
        for place in sorted(zip(*np.nonzero(bound.T)), key=lambda p: -bound[p[1], p[0]]):
            p, t = int(place[0]), int(place[1])
            if bound[t, p] / 100 + 1e-9 < best[1]:
                break  # no pair left can reach the best ratio
            r = difflib.SequenceMatcher(None, keys[p], texts[t]).ratio()
            if r > best[1] or (r == best[1] and best[2] is not None and (p, t) < best[2]):
                best = (pool[p][0], r, (p, t))
        if best[0] is not None and best[1] >= cutoff:
            out[iid] = (best[0], round(best[1], 2))
    return out


# --- values as the user sees them; the mapping file proposed by `surveykit map` -------------------------------
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


def mapping_yaml(cmap: ColumnMap, provenance: Provenance) -> str:
    """A mapping YAML with the proposed column mapping, for the user to check and edit (``map --out``)."""
    def q(s: str) -> str:
        return yaml.safe_dump(s, allow_unicode=True, default_style='"').strip().removesuffix("\n...")

    lines = ["# Column mapping proposed by `surveykit map` -- check it, edit it, then pass it with --mapping.",
             "# file column: target (an item id, the group/unit/id column, any new name; null = leave alone)"]
    if provenance.sheet:
        lines.append(f"sheet: {q(provenance.sheet)}")
    hr = provenance.header_rows
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
