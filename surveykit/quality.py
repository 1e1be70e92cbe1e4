"""Data quality: questionnaire x response file -> clean, coded data, and a row-level log of every decision.

:func:`prepare` reads a file (or takes a DataFrame), maps it to the questionnaire (:mod:`surveykit.mapping`),
applies the quality rules and returns a :class:`Prepared`:

* ``.data``: the rows kept, columns renamed to item ids and standard names, answers as numeric codes, group ids,
  canonical unit names; every other column as read; ``attrs`` provenance (``source``, ``file_rows``, ...) kept;
* ``.log``: one row per finding -- ``row`` (1-based row in the file), ``respondent_id``, ``rule``, ``column``
  (as named in the file), ``value`` (as in the file, with what was done to it), ``action``;
* ``.summary()``, ``.counts()`` (rule x group x action -> rows: no row-level data, for a report's appendix),
  ``.totals()`` and ``rows_read / rows_kept / rows_excluded / rows_flagged``.

Invariant: ``rows_read == rows_kept + rows_excluded`` and every excluded row has a log line with action
``exclude``: nothing disappears silently (tested with hypothesis on arbitrary inputs).

Rules (reason codes; YAML: ``questionnaires/quality_rules.yaml``, partial files override the defaults). Each rule
has an ``action``: ``exclude`` (the row is left out of the data), ``flag`` (kept, listed) or ``fix`` (an
unambiguous correction, listed); the allowed actions depend on the rule:

================== ===================================================================== ================
rule               finds                                                                  actions (default)
================== ===================================================================== ================
missing_column     the group column, an item or a ``required`` column has no column       refuse the file
empty_row          a row with no value at all                                             exclude
no_answers         a row that answers no item                                             exclude, flag
unknown_group      a blank or undeclared group                                            exclude
unknown_unit       a unit name not in the alias list (``check: auto`` skips a column      exclude, flag
                   holding no known unit at all, and says so)
not_a_number       text where an answer code belongs (incl. Excel dates, ``5 不满意``)    exclude, flag*
out_of_scale       a code neither on the scale nor a missing code                         exclude, flag*
formula            an Excel formula cell in a mapped column (its last computed value is   flag, exclude
                   used; blank when the file holds none)
whitespace         blanks around a value (trimmed)                                        fix, exclude
full_width         full-width digits or letters in a number or an id (``５`` -> 5)        fix, exclude
missing_id         a blank respondent id                                                  flag, exclude
duplicate_identical  a repeat of an earlier row of the same respondent id with the same   exclude, flag
                   answers (group, unit, every item); the first is kept
duplicate_conflicting  rows of one respondent id with different answers (all of them)    exclude, flag
not_asked          an answer to an item not asked of the respondent's group (scoring      flag, exclude
                   ignores it)
straight_lining    the same answer on >= ``min_run`` consecutive items asked of the group flag, exclude
speeder            a duration below ``min_seconds`` or below ``share_of_median`` x the    flag, exclude
                   median (when a duration column exists)
bad_duration       a duration that cannot be read as a time                               flag, exclude
dont_know          don't-know codes on >= ``min_share`` of the items answered (with at    flag, exclude
                   least ``min_answered`` answered)
================== ===================================================================== ================

(*) ``flag`` keeps the row and sets that answer to missing: an invalid answer is never scored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from .errors import InputError, SpecError
from .io import read_table
from .io.readers import blank_rows
from .resources import default_file
from .mapping import (AnswerCoder, ColumnMap, Coded, GroupCoder, MappingSpec, Roles, UnitAliases, ValueMap,
                      describe, load_aliases, load_mapping, match_columns, nfkc, show)
from .spec.questionnaire import Questionnaire
from .spec.yamlio import read_yaml, validate_model

DEFAULT_RULES = default_file("quality_rules.yaml")
LOG_COLUMNS = ["row", "respondent_id", "rule", "column", "value", "action"]
COUNT_COLUMNS = ["rule", "group", "action", "rows"]
UNKNOWN_GROUP = "unknown"

Action = Literal["exclude", "flag", "fix"]


@dataclass(frozen=True)
class RuleInfo:
    zh: str
    en: str
    actions: tuple[str, ...]
    core: bool = False  # scoring relies on it: cannot be switched off


RULE_INFO: dict[str, RuleInfo] = {
    "empty_row": RuleInfo("空行", "Empty row", ("exclude",), core=True),
    "no_answers": RuleInfo("未回答任何题目", "No item answered", ("exclude", "flag")),
    "unknown_group": RuleInfo("受访者类别无法识别", "Unknown or blank group", ("exclude",), core=True),
    "unknown_unit": RuleInfo("区名无法识别", "Unknown unit", ("exclude", "flag")),
    "not_a_number": RuleInfo("答案不是代码", "Text where an answer code belongs", ("exclude", "flag"), core=True),
    "out_of_scale": RuleInfo("答案超出量表", "Answer outside the scale", ("exclude", "flag"), core=True),
    "formula": RuleInfo("Excel公式单元格", "Excel formula cell", ("flag", "exclude")),
    "whitespace": RuleInfo("多余空格(已去除)", "Surrounding blanks (trimmed)", ("fix", "exclude"), core=True),
    "full_width": RuleInfo("全角字符(已转换)", "Full-width characters (converted)", ("fix", "exclude"), core=True),
    "missing_id": RuleInfo("缺少受访者编号", "Blank respondent id", ("flag", "exclude")),
    "duplicate_identical": RuleInfo("重复提交(答案相同)", "Duplicate id, identical answers", ("exclude", "flag")),
    "duplicate_conflicting": RuleInfo("重复编号(答案不同)", "Duplicate id, conflicting answers", ("exclude", "flag")),
    "not_asked": RuleInfo("回答了不适用的题目", "Answer to an item not asked of the group", ("flag", "exclude")),
    "straight_lining": RuleInfo("连续相同答案", "Straight-lining", ("flag", "exclude")),
    "speeder": RuleInfo("答题过快", "Speeder", ("flag", "exclude")),
    "bad_duration": RuleInfo("答题时长无法识别", "Unreadable duration", ("flag", "exclude")),
    "dont_know": RuleInfo("“不了解”过多", "Too many don't-know answers", ("flag", "exclude")),
}
RULE_ORDER = {r: k for k, r in enumerate(RULE_INFO)}


# --- the rules file ---------------------------------------------------------------------------------------------
class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    action: Action
    enabled: bool = True


class StraightLiningRule(Rule):
    min_run: int = Field(default=10, ge=2)


class SpeederRule(Rule):
    min_seconds: float | None = Field(default=60, gt=0)
    share_of_median: float | None = Field(default=None, gt=0, lt=1)


class DontKnowRule(Rule):
    min_share: float = Field(default=0.5, gt=0, le=1)
    min_answered: int = Field(default=3, ge=1)


class UnitRule(Rule):
    check: Literal["auto", "always", "never"] = "auto"


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    empty_row: Rule = Rule(action="exclude")
    no_answers: Rule = Rule(action="exclude")
    unknown_group: Rule = Rule(action="exclude")
    unknown_unit: UnitRule = UnitRule(action="exclude")
    not_a_number: Rule = Rule(action="exclude")
    out_of_scale: Rule = Rule(action="exclude")
    formula: Rule = Rule(action="flag")
    whitespace: Rule = Rule(action="fix")
    full_width: Rule = Rule(action="fix")
    missing_id: Rule = Rule(action="flag")
    duplicate_identical: Rule = Rule(action="exclude")
    duplicate_conflicting: Rule = Rule(action="exclude")
    not_asked: Rule = Rule(action="flag")
    straight_lining: StraightLiningRule = StraightLiningRule(action="flag")
    speeder: SpeederRule = SpeederRule(action="flag")
    bad_duration: Rule = Rule(action="flag")
    dont_know: DontKnowRule = DontKnowRule(action="flag")

    @field_validator("*")
    @classmethod
    def _allowed(cls, v: Rule, info: ValidationInfo):
        ri = RULE_INFO[info.field_name]
        if v.action not in ri.actions:
            raise ValueError(f"action '{v.action}' is not allowed for this rule (allowed: {', '.join(ri.actions)})")
        if ri.core and not v.enabled:
            raise ValueError("this rule cannot be switched off: scoring relies on it")
        return v


class ColumnNames(BaseModel):
    """Header texts that mean a standard column (besides its own name), compared after normalisation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    respondent_id: tuple[str, ...] = ("respondent_id", "id", "序号", "编号", "答卷编号", "答卷序号", "问卷编号",
                                      "样本编号", "respondent id")
    group: tuple[str, ...] = ("身份", "您的身份", "受访者身份", "受访者类型", "受访者类别", "调查对象", "respondent group")
    unit: tuple[str, ...] = ("区", "所在区", "您所在的区", "所属区", "所在区县", "区县", "行政区", "district", "unit")
    duration: tuple[str, ...] = ("duration", "duration_sec", "所用时间", "答题时长", "作答时长", "答题用时", "填写用时",
                                 "用时")


class QualityConfig(BaseModel):
    """A quality-rules YAML (default ``questionnaires/quality_rules.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    required: tuple[str, ...] = ()
    blank_values: tuple[str, ...] = ("(跳过)", "(空)", "跳过")
    columns: ColumnNames = ColumnNames()
    rules: Rules = Rules()


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def load_rules(path: str | Path | QualityConfig | None = None) -> QualityConfig:
    """Load a rules YAML. Keys it leaves out keep their defaults (a file may say only
    ``rules: {straight_lining: {action: exclude, min_run: 8}}``). None: the shipped default file."""
    if isinstance(path, QualityConfig):
        return path
    if path is None:
        if not DEFAULT_RULES.exists():
            return QualityConfig()
        path = DEFAULT_RULES
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise SpecError(f"expected a mapping at the top level, found {type(data).__name__}", file=path)
    base = QualityConfig().model_dump(mode="python")
    unknown_rules = [k for k in (data.get("rules") or {}) if k not in RULE_INFO] if isinstance(
        data.get("rules"), dict) else []
    if unknown_rules:
        raise SpecError(f"unknown rule (rules: {', '.join(RULE_INFO)})", file=path, key=f"rules.{unknown_rules[0]}")
    merged = _merge(base, data)
    return validate_model(QualityConfig, merged, path)  # type: ignore[return-value]


# --- the result -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    """Kept data, the row-level log and counts; see the module docstring."""

    data: pd.DataFrame
    log: pd.DataFrame
    rows_read: int
    rows_excluded: int
    rows_flagged: int
    rows_fixed: int
    source: str
    mapping: ColumnMap
    values: tuple[ValueMap, ...]
    notes: tuple[str, ...]
    config: QualityConfig
    attrs: dict = field(default_factory=dict, repr=False)
    _groups: np.ndarray = field(default=None, repr=False)  # group label of every row read (for counts)
    _pos: np.ndarray = field(default=None, repr=False)     # position (among the rows read) of each log line

    @property
    def rows_kept(self) -> int:
        return self.rows_read - self.rows_excluded

    @property
    def ok(self) -> bool:
        """No row fails a rule whose action is ``exclude``."""
        return self.rows_excluded == 0

    def counts(self, by_unit: bool = False) -> pd.DataFrame:
        """Rows per rule, group and action (a row counts once per rule) -- aggregate only, for reports.

        Columns ``rule, group, action, rows`` (plus ``unit`` first when ``by_unit``); ``group`` is a group id or
        ``unknown``. Rules that found nothing have no row.
        """
        cols = (["unit"] if by_unit else []) + COUNT_COLUMNS
        if self.log.empty:
            return pd.DataFrame({c: pd.Series(dtype="int64" if c == "rows" else object) for c in cols})
        pos = self._pos
        t = pd.DataFrame({"rule": self.log["rule"].to_numpy(), "group": self._groups[pos],
                          "action": self.log["action"].to_numpy(), "_pos": pos})
        if by_unit:
            t.insert(0, "unit", self.attrs.get("_units", np.full(self.rows_read, ""))[pos])
        keys = cols[:-1]
        out = t.drop_duplicates(keys + ["_pos"]).groupby(keys, sort=False).size().reset_index(name="rows")
        out["_r"] = out["rule"].map(RULE_ORDER)
        gorder = {g: k for k, g in enumerate(self.attrs.get("_group_ids", ()))}
        out["_g"] = out["group"].map(lambda g: gorder.get(g, len(gorder)))
        sort = (["unit"] if by_unit else []) + ["_r", "_g", "action"]
        return out.sort_values(sort, kind="stable")[cols].reset_index(drop=True)

    def totals(self) -> pd.DataFrame:
        """Per group: rows ``read``, ``excluded``, ``kept``, ``flagged`` (aggregate only)."""
        excl = np.zeros(self.rows_read, dtype=bool)
        flag = np.zeros(self.rows_read, dtype=bool)
        if not self.log.empty:
            act = self.log["action"].to_numpy()
            excl[self._pos[act == "exclude"]] = True
            flag[self._pos[act == "flag"]] = True
        flag &= ~excl
        t = pd.DataFrame({"group": self._groups, "read": 1, "excluded": excl.astype(int), "flagged": flag.astype(int)})
        out = t.groupby("group", sort=False).sum().reset_index()
        out["kept"] = out["read"] - out["excluded"]
        gorder = {g: k for k, g in enumerate(self.attrs.get("_group_ids", ()))}
        out = out.iloc[np.argsort([gorder.get(g, len(gorder)) for g in out["group"]], kind="stable")]
        return out[["group", "read", "excluded", "kept", "flagged"]].reset_index(drop=True)

    def summary(self) -> str:
        """What `surveykit validate` prints."""
        a = self.attrs
        where = []
        if a.get("sheet"):
            where.append(f"sheet '{a['sheet']}'")
        hr = a.get("header_rows")
        if hr:
            where.append(f"header row{'s' if len(hr) > 1 else ''} {hr[0]}{'-' + str(hr[-1]) if len(hr) > 1 else ''}")
        if a.get("encoding") and a["encoding"] != "xlsx":
            where.append(f"encoding {a['encoding']}")
        lines = [f"{self.source}" + (f" ({', '.join(where)})" if where else "")]
        w = len(f"{self.rows_read:,}")
        lines.append(f"  rows read      {self.rows_read:>{w},}")
        lines.append(f"  rows kept      {self.rows_kept:>{w},}")
        lines.append(f"  rows excluded  {self.rows_excluded:>{w},}")
        lines.append(f"  rows flagged   {self.rows_flagged:>{w},}  (kept; listed in the log)")
        if self.rows_fixed:
            lines.append(f"  rows fixed     {self.rows_fixed:>{w},}  (values corrected; listed in the log)")
        if not self.log.empty:
            t = (self.log.assign(_pos=self._pos).drop_duplicates(["rule", "action", "_pos"])
                 .groupby(["rule", "action"], sort=False).size().reset_index(name="rows"))
            t = t.iloc[np.argsort(t["rule"].map(RULE_ORDER).to_numpy(), kind="stable")]
            rw = max(len(x) for x in t["rule"])
            lw = max(len(RULE_INFO[x].en) for x in t["rule"])
            nw = max(w, 4)
            lines.append(f"  by rule:{'':<{rw + lw - 2}}action   {'rows':>{nw}}")
            for r in t.itertuples():
                lines.append(f"    {r.rule:<{rw}}  {RULE_INFO[r.rule].en:<{lw}}  {r.action:<7}  {r.rows:>{nw},}")
        else:
            lines.append("  no problems found")
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)

    def describe_mapping(self, q: Questionnaire) -> str:
        """What `surveykit map` prints: the column and value mapping, and what is unmatched."""
        return describe(q, _AttrsOnly(self.attrs, self.rows_read, self.attrs.get("_n_columns", 0)), self.mapping,
                        self.values, roles=self.attrs["_roles"], notes=self.notes)

    def public_log(self) -> pd.DataFrame:
        """The log (what ``--log`` writes): the columns ``row, respondent_id, rule, column, value, action``."""
        return self.log


class _AttrsOnly:
    """The few DataFrame properties :func:`surveykit.mapping.describe` reads."""

    def __init__(self, attrs: dict, n: int, ncol: int):
        self.attrs = attrs
        self.shape = (n, ncol)

    def __len__(self) -> int:
        return self.shape[0]


# --- prepare ----------------------------------------------------------------------------------------------------
class _Log:
    """Findings collected as arrays (fast for 200,000 rows), turned into the tidy log at the end."""

    def __init__(self, config: QualityConfig):
        self.parts: list[tuple[np.ndarray, str, str, np.ndarray, str]] = []
        self.rules = config.rules

    def add(self, rule: str, pos: np.ndarray, column: str, values) -> str:
        spec: Rule = getattr(self.rules, rule)
        if not spec.enabled or len(pos) == 0:
            return spec.action
        pos = np.asarray(pos, dtype=np.int64)
        vals = np.asarray(values, dtype=object) if not isinstance(values, str) else np.full(len(pos), values, object)
        self.parts.append((pos, rule, column, vals, spec.action))
        return spec.action

    def frame(self, file_rows: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({"row": pd.Series(dtype="int64"), "respondent_id": pd.Series(dtype=object),
                                 "rule": pd.Series(dtype=object), "column": pd.Series(dtype=object),
                                 "value": pd.Series(dtype=object), "action": pd.Series(dtype=object),
                                 "_pos": pd.Series(dtype="int64")})
        pos = np.concatenate([p[0] for p in self.parts])
        order_in = np.concatenate([np.full(len(p[0]), k) for k, p in enumerate(self.parts)])
        df = pd.DataFrame({
            "row": file_rows[pos],
            "respondent_id": ids[pos],
            "rule": np.concatenate([np.full(len(p[0]), p[1], object) for p in self.parts]),
            "column": np.concatenate([np.full(len(p[0]), p[2], object) for p in self.parts]),
            "value": np.concatenate([p[3] for p in self.parts]),
            "action": np.concatenate([np.full(len(p[0]), p[4], object) for p in self.parts]),
            "_pos": pos,
        })
        idx = np.lexsort((order_in, pos))
        return df.iloc[idx].reset_index(drop=True)

    def mask(self, n: int, action: str) -> np.ndarray:
        m = np.zeros(n, dtype=bool)
        for pos, _, _, _, act in self.parts:
            if act == action:
                m[pos] = True
        return m


def _coded_uniques(series: pd.Series, fn) -> tuple[np.ndarray, list, list]:
    codes, uniq = pd.factorize(series, use_na_sentinel=True)
    uniq = list(uniq)
    return codes, uniq, [fn(u) for u in uniq]


def _positions(codes: np.ndarray, which: Sequence[int], live: np.ndarray | None = None) -> np.ndarray:
    if not len(which):
        return np.empty(0, dtype=np.int64)
    m = np.isin(codes, np.asarray(which))
    if live is not None:
        m &= live
    return np.flatnonzero(m)


def _clean_text(v: Any) -> tuple[str, bool, bool]:
    """(cleaned text, trimmed?, widened?) of a cell of a text column (ids)."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v)), False, False
    raw = str(v)
    s = raw.strip()
    t = nfkc(s)
    return t.strip(), s != raw and s != "", t != s


def _duration_seconds(v: Any) -> float | None:
    """Seconds from a duration cell: 125, '125', '125秒', '2分5秒', '1小时2分', '00:02:05', '2:05', '125s'."""
    if v is None or (isinstance(v, float) and v != v):
        return float("nan")
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return float(v)
    if hasattr(v, "total_seconds"):
        return float(v.total_seconds())
    if hasattr(v, "hour") and hasattr(v, "second") and not hasattr(v, "year"):  # datetime.time
        return v.hour * 3600.0 + v.minute * 60.0 + v.second
    s = nfkc(str(v)).strip().lower().replace(" ", "")
    if s == "":
        return float("nan")
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        return float(s)
    m = re.fullmatch(r"(?:(\d+)(?:小时|时|h|hours?))?(?:(\d+)(?:分钟|分|m|min|mins|minutes?))?"
                     r"(?:(\d+(?:\.\d+)?)(?:秒钟|秒|s|sec|secs|seconds?))?", s)
    if m and any(m.groups()):
        h, mi, se = (float(x) if x else 0.0 for x in m.groups())
        return h * 3600 + mi * 60 + se
    m = re.fullmatch(r"(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)", s)
    if m:
        return float(m.group(1) or 0) * 3600 + float(m.group(2)) * 60 + float(m.group(3))
    return None


def prepare(q: Questionnaire, source: str | Path | pd.DataFrame, *, rules: str | Path | QualityConfig | None = None,
            mapping: str | Path | MappingSpec | None = None, aliases: str | Path | UnitAliases | None = None,
            unit_column: str | None = "district", id_column: str = "respondent_id", duration_column: str = "duration",
            sheet: str | int | None = None, header_rows: int | None = None, strict: bool = True,
            rename_standard: bool = True) -> Prepared:
    """Read, map and check a response file; see the module docstring.

    Parameters
    ----------
    q : the questionnaire.
    source : a file path (CSV, XLSX, SAV) or a DataFrame (e.g. from :func:`surveykit.io.read_table`).
    rules : a rules YAML path or a :class:`QualityConfig`; default ``questionnaires/quality_rules.yaml``.
    mapping : a mapping YAML path or a :class:`~surveykit.mapping.MappingSpec` (explicit column/label mapping).
    aliases : the unit alias YAML; default ``questionnaires/unit_aliases.yaml``.
    unit_column, id_column, duration_column : names of the standard columns in the result (found in the file by
        these names, by the header texts of the rules file's ``columns:``, or through the mapping file).
    sheet, header_rows : passed to the reader (a mapping file may set them too).
    strict : refuse a file without the group column or an item column (:class:`~surveykit.errors.InputError`);
        ``False`` (``surveykit map``) checks what is there.
    rename_standard : give the unit, id and duration columns their standard names in ``.data``; ``False`` keeps
        the file's names (their values are still cleaned), for callers that refer to columns by those names.

    Example
    -------
    >>> p = prepare(q, "export.xlsx")                                   # doctest: +SKIP
    >>> print(p.summary()); p.log.to_csv("log.csv"); p.counts()          # doctest: +SKIP
    """
    config = load_rules(rules)
    spec_file = str(mapping) if isinstance(mapping, (str, Path)) else None
    spec = mapping if isinstance(mapping, MappingSpec) else load_mapping(mapping)
    alias_table = aliases if isinstance(aliases, UnitAliases) else load_aliases(aliases)
    alias_table = alias_table.with_extra(spec.units, file=spec_file)
    groups = GroupCoder(q, spec.groups, file=spec_file)

    if isinstance(source, pd.DataFrame):
        df = source
        if "file_rows" not in df.attrs:
            df = df.copy()
            df.attrs.update(source=df.attrs.get("source", "(data frame)"), file_rows=np.arange(len(df)) + 2)
    else:
        df = read_table(source, sheet=sheet if sheet is not None else spec.sheet,
                        header_rows=header_rows if header_rows is not None else spec.header_rows)
    src = str(df.attrs.get("source", "(data frame)"))
    n = len(df)
    file_rows = np.asarray(df.attrs["file_rows"], dtype=np.int64)
    roles = Roles(unit=unit_column, unit_names=config.columns.unit, respondent_id=id_column,
                  id_names=config.columns.respondent_id, duration=duration_column,
                  duration_names=config.columns.duration, group_names=config.columns.group)
    cmap = match_columns(q, df, spec=spec, roles=roles, aliases=alias_table, groups=groups, spec_file=spec_file)
    gcol = q.groups.column
    col_of = {m.target: m.column for m in cmap.matches}
    _check_required(q, df, cmap, config, strict=strict, src=src)
    clash = [m for m in cmap.matches if m.target in cmap.unmatched or m.target in cmap.ignored]
    if clash:
        m = clash[0]
        raise InputError(f"column '{m.column}' is mapped to '{m.target}', but the file also has a column named "
                         f"'{m.target}': map that one to another name (or null) in a mapping file",
                         file=src, column=m.target)
    log = _Log(config)
    notes: list[str] = []
    values: list[ValueMap] = []
    value_labels = df.attrs.get("value_labels") or {}
    out: dict[str, Any] = {}

    # --- empty rows: nothing else is checked on them
    empty = blank_rows(df)
    log.add("empty_row", np.flatnonzero(empty), "", "")
    live = ~empty
    if df.attrs.get("trailing_blank_rows"):
        notes.append(f"{df.attrs['trailing_blank_rows']} blank row(s) after the last data row ignored (not data)")

    # --- formulas in mapped columns
    for (pos, col), formula in sorted((df.attrs.get("formulas") or {}).items()):
        if col in col_of.values():
            v = df[col].iloc[pos]
            shown = f"{formula} -> {show(v)}" if show(v) != "" else f"{formula} (no computed value in the file)"
            log.add("formula", np.array([pos]), col, np.array([shown], object))

    # --- respondent ids
    ids = np.full(n, "", dtype=object)
    idc = col_of.get(id_column)
    if idc is not None:
        codes, uniq, cleaned = _coded_uniques(df[idc], _clean_text)
        clean_u = np.array([c[0] for c in cleaned] + [""], dtype=object)
        ids = clean_u[codes]  # -1 -> "" (the sentinel is the last element)
        _log_text_fixes(log, codes, uniq, cleaned, live, idc)
        if df[idc].dtype == object or pd.api.types.is_string_dtype(df[idc]):
            fixed_ids = pd.Series(ids, index=df.index, dtype=object).where(codes >= 0, None)
            out[id_column] = fixed_ids
        blank_id = live & (ids == "")
        log.add("missing_id", np.flatnonzero(blank_id), idc, "")

    # --- groups
    g = np.full(n, -1, dtype=np.int64)
    group_label = np.full(n, UNKNOWN_GROUP, dtype=object)
    gc = col_of.get(gcol)
    if gc is not None:
        vl = value_labels.get(gc, {})
        codes, uniq, cleaned = _coded_uniques(df[gc], lambda u: _clean_text(u) if isinstance(u, str) else ("", 0, 0))
        look = [groups.lookup(vl.get(u, u)) if vl else groups.lookup(u) for u in uniq]
        gidx = np.array([q.group_ids.index(x) if x else -1 for x in look] + [-1], dtype=np.int64)
        g = gidx[codes]
        _log_text_fixes(log, codes, uniq, cleaned, live, gc)
        bad = live & (g < 0)
        pos = np.flatnonzero(bad)
        log.add("unknown_group", pos, gc, np.array([show(df[gc].iloc[p]) for p in pos], object)
                if len(pos) < 10000 else df[gc].iloc[pos].map(show).to_numpy(dtype=object))
        ids_arr = np.array(list(q.group_ids) + [UNKNOWN_GROUP], dtype=object)
        group_label = ids_arr[np.where(g >= 0, g, len(q.group_ids))]
        out[gcol] = pd.Series(np.where(g >= 0, group_label, df[gc].to_numpy(dtype=object)), index=df.index,
                              dtype=object)
        mapped = [(show(u), x, int((codes == k).sum())) for k, (u, x) in enumerate(zip(uniq, look))
                  if x is not None and show(u) != x]
        unread = [(show(u), int((codes == k).sum())) for k, (u, x) in enumerate(zip(uniq, look)) if x is None]
        values.append(ValueMap(gcol, gc, tuple(mapped), tuple(unread)))

    # --- units
    units_canon = np.full(n, "", dtype=object)
    uc = col_of.get(unit_column) if unit_column else None
    if uc is not None:
        vl = value_labels.get(uc, {})
        codes, uniq, cleaned = _coded_uniques(df[uc], lambda u: _clean_text(u) if isinstance(u, str) else ("", 0, 0))
        look = [alias_table.lookup(vl.get(u, u)) if vl else alias_table.lookup(u) for u in uniq]
        mode = config.rules.unknown_unit.check
        if mode == "auto" and not any(look):
            examples = ", ".join(f"'{show(u)}'" for u in uniq[:5])
            notes.append(f"unit check skipped: no value of column '{uc}' is a known unit ({examples}"
                         f"{', ...' if len(uniq) > 5 else ''}); add the spellings to the unit alias list or set "
                         f"rules.unknown_unit.check: always")
        elif mode != "never":
            canon_u = np.array([x if x else "" for x in look] + [""], dtype=object)
            units_canon = canon_u[codes]
            _log_text_fixes(log, codes, uniq, cleaned, live, uc)
            bad = live & (units_canon == "")
            pos = np.flatnonzero(bad)
            log.add("unknown_unit", pos, uc, df[uc].iloc[pos].map(show).to_numpy(dtype=object))
            out[unit_column] = pd.Series(np.where(units_canon != "", units_canon, df[uc].to_numpy(dtype=object)),
                                         index=df.index, dtype=object)
            mapped = [(show(u), x, int((codes == k).sum())) for k, (u, x) in enumerate(zip(uniq, look))
                      if x is not None and show(u) != x]
            unread = [(show(u), int((codes == k).sum())) for k, (u, x) in enumerate(zip(uniq, look)) if x is None]
            values.append(ValueMap(unit_column, uc, tuple(mapped), tuple(unread)))

    # --- items
    items = [i for i in q.items if i.id in col_of]
    n_items = len(items)
    x = np.full((n, n_items), np.nan)
    answered = np.zeros((n, n_items), dtype=bool)
    dk = np.zeros((n, n_items), dtype=bool)
    coders: dict[int, AnswerCoder] = {}
    for j, item in enumerate(items):
        col = col_of[item.id]
        sc = q.item_scale(item)
        coder = coders.get(id(sc))
        if coder is None:
            coder = coders[id(sc)] = AnswerCoder(sc, spec.answers, config.blank_values)
        vl = value_labels.get(col, {})

        def read(u, coder=coder, vl=vl):
            c = coder.code(u)
            if vl and c.status == "code" and c.via == "number" and u in vl:
                via_label = coder.code(vl[u])
                if via_label.status == "code":
                    return Coded("code", via_label.code, "value label")
            return c

        codes, uniq, coded = _coded_uniques(df[col], read)
        missing_codes = set(sc.missing)
        status = []
        for c in coded:
            if c.status == "code":
                if c.code in missing_codes:
                    status.append("dk")
                elif sc.min <= c.code <= sc.max and float(c.code).is_integer():
                    status.append("ok")
                else:
                    status.append("out")
            else:
                status.append(c.status)
        st = np.array(status + ["blank"], dtype=object)
        code_u = np.array([c.code for c in coded] + [np.nan])
        row_status = st[codes]
        xj = code_u[codes]
        # not a number / outside the scale
        text_u = [k for k, s in enumerate(status) if s in ("text", "date", "ambiguous")]
        out_u = [k for k, s in enumerate(status) if s == "out"]
        pos_text = _positions(codes, text_u, live)
        shown_u = [_shown_bad(u, c) for u, c in zip(uniq, coded)]
        act = log.add("not_a_number", pos_text, col, np.array(shown_u + [""], object)[codes[pos_text]])
        if act == "flag":
            xj[pos_text] = np.nan
        pos_out = _positions(codes, out_u, live)
        act = log.add("out_of_scale", pos_out, col, np.array(shown_u + [""], object)[codes[pos_out]])
        if act == "flag":
            xj[pos_out] = np.nan
        xj[np.isin(row_status, ["text", "date", "ambiguous", "out"]) & ~live] = np.nan
        fix_u = [k for k, c in enumerate(coded) if c.status == "code" and (c.trimmed or c.widened)]
        for k in fix_u:
            c, u = coded[k], uniq[k]
            rule = "full_width" if c.widened else "whitespace"
            pos = _positions(codes, [k], live)
            act = log.add(rule, pos, col, f"{show(u)!r} -> {show(c.code)}")
        for k, c in enumerate(coded):
            if c.status == "blank" and c.trimmed:
                pass  # a cell of blanks is blank
            elif c.status != "code" and c.trimmed:
                log.add("whitespace", _positions(codes, [k], live), col, f"{show(uniq[k])!r} -> {c.clean!r}")
        x[:, j] = xj
        answered[:, j] = codes >= 0
        answered[:, j] &= row_status != "blank"
        dk[:, j] = row_status == "dk"
        mapped = {}
        for k, (u, c) in enumerate(zip(uniq, coded)):
            if c.status == "code" and c.via in ("label", "value label"):
                key = (show(u) if c.via == "label" else f"{show(u)} ({vl.get(u)})", show(c.code))
                mapped[key] = mapped.get(key, 0) + int((codes == k).sum())
        unread = [(show(u), int((codes == k).sum())) for k, (u, s) in enumerate(zip(uniq, status))
                  if s in ("text", "date", "ambiguous")]
        values.append(ValueMap(item.id, col, tuple((a, b, m) for (a, b), m in mapped.items()), tuple(unread)))
        out[item.id] = xj

    # --- what a group is asked
    known = live & (g >= 0)
    asked = np.ones((len(q.group_ids) + 1, n_items), dtype=bool)
    for j, item in enumerate(items):
        gs = q.item_groups(item)
        asked[:len(q.group_ids), j] = [gid in gs for gid in q.group_ids]
    row_asked = asked[np.where(g >= 0, g, len(q.group_ids))]  # unknown group: every item
    for j, item in enumerate(items):
        pos = np.flatnonzero(known & answered[:, j] & ~row_asked[:, j])
        log.add("not_asked", pos, col_of[item.id], df[col_of[item.id]].iloc[pos].map(show).to_numpy(dtype=object))
    if n_items:
        n_ans = (answered & row_asked).sum(axis=1)
        log.add("no_answers", np.flatnonzero(known & (n_ans == 0)), "", "")
        # don't know
        r = config.rules.dont_know
        n_dk = (dk & row_asked).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(n_ans > 0, n_dk / np.maximum(n_ans, 1), 0.0)
        pos = np.flatnonzero(known & (n_ans >= r.min_answered) & (share >= r.min_share) & (n_dk > 0))
        log.add("dont_know", pos, "", np.array([f"{n_dk[p]} of {n_ans[p]} answers are don't-know ({share[p]:.0%})"
                                                for p in pos], object))
        # straight-lining
        _straight_lining(log, q, items, x, g, known, col_of, config.rules.straight_lining.min_run)

    # --- duration / speeders
    dc = col_of.get(duration_column)
    if dc is not None:
        codes, uniq, secs = _coded_uniques(df[dc], _duration_seconds)
        bad_u = [k for k, s in enumerate(secs) if s is None]
        pos = _positions(codes, bad_u, live)
        log.add("bad_duration", pos, dc, df[dc].iloc[pos].map(show).to_numpy(dtype=object))
        sec_u = np.array([np.nan if s is None else s for s in secs] + [np.nan])
        sec = sec_u[codes]
        r = config.rules.speeder
        ok = live & ~np.isnan(sec)
        thr = []
        if r.min_seconds is not None:
            thr.append(r.min_seconds)
        if r.share_of_median is not None and ok.any():
            thr.append(r.share_of_median * float(np.median(sec[ok])))
        if thr:
            limit = max(thr)
            pos = np.flatnonzero(ok & (sec < limit))
            log.add("speeder", pos, dc, np.array([f"{show(df[dc].iloc[p])} = {sec[p]:g} s (< {limit:g} s)"
                                                  for p in pos], object))

    # --- duplicates (same respondent id)
    if idc is not None and (config.rules.duplicate_identical.enabled or config.rules.duplicate_conflicting.enabled):
        _duplicates(log, ids, live, x, g, units_canon, file_rows, idc)

    # --- the result
    logdf = log.frame(file_rows, ids)
    log_pos = logdf.pop("_pos").to_numpy()
    excluded = log.mask(n, "exclude")
    flagged = log.mask(n, "flag") & ~excluded
    fixed = log.mask(n, "fix") & ~excluded
    rename = cmap.rename()
    if not rename_standard:
        keep_name = {c for c, t in rename.items() if t in (unit_column, id_column, duration_column)}
        back = {rename[c]: c for c in keep_name}
        rename = {c: t for c, t in rename.items() if c not in keep_name}
        out = {back.get(k, k): v for k, v in out.items()}
    data = df.rename(columns=rename)
    for k, v in out.items():
        data[k] = v
    keep = ~excluded
    attrs = {k: v for k, v in df.attrs.items() if k not in ("formulas",)}
    data = data.loc[keep].reset_index(drop=True) if excluded.any() else data.reset_index(drop=True)
    data.attrs.clear()
    data.attrs.update(attrs)
    data.attrs["file_rows"] = file_rows[keep]
    data.attrs.update(rows_read=n, rows_excluded=int(excluded.sum()))
    p_attrs = dict(attrs)
    p_attrs.update(_group_ids=q.group_ids, _units=units_canon, _roles=roles, _n_columns=df.shape[1])
    return Prepared(data=data, log=logdf, rows_read=n, rows_excluded=int(excluded.sum()),
                    rows_flagged=int(flagged.sum()), rows_fixed=int(fixed.sum()), source=src, mapping=cmap,
                    values=tuple(values), notes=tuple(notes), config=config, attrs=p_attrs, _groups=group_label,
                    _pos=log_pos)


def validate(q: Questionnaire, path: str | Path | pd.DataFrame, **kwargs) -> Prepared:
    """:func:`prepare` under its former name (kept for scripts written against the first version)."""
    return prepare(q, path, **kwargs)


def _shown_bad(u: Any, c: Coded) -> str:
    s = show(u)
    if c.status == "date":
        return f"{s} (an Excel date or time)"
    if c.status == "ambiguous":
        return f"{s} (number and label disagree)"
    return s


def _log_text_fixes(log: _Log, codes: np.ndarray, uniq: list, cleaned: list, live: np.ndarray, col: str) -> None:
    for k, (u, c) in enumerate(zip(uniq, cleaned)):
        text, trimmed, widened = c
        if not (trimmed or widened) or not isinstance(u, str):
            continue
        log.add("full_width" if widened else "whitespace", _positions(codes, [k], live), col,
                f"{u!r} -> {text!r}")


def _check_required(q: Questionnaire, df: pd.DataFrame, cmap: ColumnMap, config: QualityConfig, *, strict: bool,
                    src: str) -> None:
    if not strict:
        return
    targets = {m.target for m in cmap.matches}
    missing = []
    if q.groups.column not in targets:
        missing.append(q.groups.column)
    missing += list(cmap.missing_items)
    missing += [c for c in config.required if c not in targets and c not in df.columns]
    if not missing:
        return
    first = missing[0]
    if first in cmap.ambiguous:
        why = ("several columns match it equally: " + ", ".join(f"'{c}'" for c in cmap.ambiguous[first])
               + " -- say which in a mapping file")
    elif first in cmap.suggestions:
        c, r = cmap.suggestions[first]
        why = f"closest column: '{c}' (similarity {r:.2f}) -- map it in a mapping file if it is this one"
    elif df.shape[1] == 1:
        why = "the file has a single column: is it delimited by something other than , ; tab or |?"
    else:
        why = "run `surveykit map` to see the columns found"
    what = ("the group column (groups.column)" if first == q.groups.column else
            f"item {first}" if first in cmap.missing_items else "a required column (rules: required)")
    more = f"; {len(missing) - 1} more missing: {', '.join(missing[1:6])}{', ...' if len(missing) > 6 else ''}" \
        if len(missing) > 1 else ""
    raise InputError(f"no column '{first}' in the data ({what}); {why}{more}", file=src, column=first)


def _straight_lining(log: _Log, q: Questionnaire, items, x: np.ndarray, g: np.ndarray, known: np.ndarray,
                     col_of: dict, min_run: int) -> None:
    if not log.rules.straight_lining.enabled:
        return
    for gi, gid in enumerate(q.group_ids):
        cols = [j for j, it in enumerate(items) if gid in q.item_groups(it)]
        if len(cols) < min_run:
            continue
        rows = np.flatnonzero(known & (g == gi))
        if not len(rows):
            continue
        sub = x[np.ix_(rows, cols)]
        run = np.where(np.isnan(sub[:, 0]), 0, 1)
        best = run.copy()
        best_end = np.zeros(len(rows), dtype=np.int64)
        for k in range(1, len(cols)):
            same = (sub[:, k] == sub[:, k - 1]) & ~np.isnan(sub[:, k])
            run = np.where(same, run + 1, np.where(np.isnan(sub[:, k]), 0, 1))
            better = run > best
            best = np.where(better, run, best)
            best_end = np.where(better, k, best_end)
        hit = np.flatnonzero(best >= min_run)
        if not len(hit):
            continue
        vals = []
        for h in hit:
            end = best_end[h]
            start = end - best[h] + 1
            a, b = items[cols[start]].id, items[cols[end]].id
            vals.append(f"answer {show(sub[h, end])} on {best[h]} consecutive items ({a} to {b})")
        log.add("straight_lining", rows[hit], "", np.array(vals, object))


def _duplicates(log: _Log, ids: np.ndarray, live: np.ndarray, x: np.ndarray, g: np.ndarray, units: np.ndarray,
                file_rows: np.ndarray, idc: str) -> None:
    cand = np.flatnonzero(live & (ids != ""))
    if not len(cand):
        return
    s = pd.Series(ids[cand])
    dup = s.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    pos = cand[dup]
    content = pd.DataFrame(x[pos]).assign(_g=g[pos], _u=units[pos])
    h = pd.util.hash_pandas_object(content, index=False).to_numpy()
    t = pd.DataFrame({"id": ids[pos], "h": h, "pos": pos}).sort_values(["id", "pos"], kind="stable")
    ident_pos, ident_val, confl_pos, confl_val = [], [], [], []
    for _, grp in t.groupby("id", sort=False):
        first_of: dict[int, int] = {}
        for hh, p in zip(grp["h"].to_numpy(), grp["pos"].to_numpy()):
            if hh in first_of:
                ident_pos.append(p)
                ident_val.append(f"same id and answers as row {file_rows[first_of[hh]]}")
            else:
                first_of[hh] = p
        if len(first_of) > 1:
            versions = list(first_of.values())
            for p in versions:
                others = ", ".join(str(file_rows[o]) for o in versions if o != p)
                confl_pos.append(p)
                confl_val.append(f"same id, different answers from row {others}")
    log.add("duplicate_identical", np.array(ident_pos, dtype=np.int64), idc, np.array(ident_val, object))
    log.add("duplicate_conflicting", np.array(confl_pos, dtype=np.int64), idc, np.array(confl_val, object))


# --- refusing data in `surveykit score` -------------------------------------------------------------------------
def refusal(p: Prepared) -> InputError | None:
    """The error `surveykit score` raises for data with rows that fail an ``exclude`` rule (None if there are none).

    One line: the first such finding (file, row, column, what is wrong), then how many rows and by which rules.
    """
    if p.ok:
        return None
    is_ex = (p.log["action"] == "exclude").to_numpy()
    ex = p.log[is_ex].assign(_pos=p._pos[is_ex])
    first = ex.iloc[0]
    msg = _finding_text(first)
    by_rule = ex.drop_duplicates(["rule", "_pos"]).groupby("rule", sort=False).size()
    parts = ", ".join(f"{r} {k}" for r, k in by_rule.items())
    col = first["column"] or None
    return InputError(f"{msg}; {p.rows_excluded} of {p.rows_read} rows fail rules whose action is exclude "
                      f"({parts}) -- see `surveykit validate --log`, or score with --on-invalid exclude",
                      file=p.source, row=int(first["row"]), column=col)


def _finding_text(r) -> str:
    v = r["value"]
    rule = r["rule"]
    if rule == "not_a_number":
        return f"'{v}' is not an answer code"
    if rule == "out_of_scale":
        return f"answer {v} is outside the scale"
    if rule == "unknown_group":
        return "blank group" if v == "" else f"unknown group '{v}'"
    if rule == "unknown_unit":
        return "blank unit" if v == "" else f"unknown unit '{v}'"
    if rule == "empty_row":
        return "empty row"
    if rule == "no_answers":
        return "no item answered"
    info = RULE_INFO[rule]
    return f"{info.en.lower()}" + (f": {v}" if v else "")


# --- the report appendix ----------------------------------------------------------------------------------------
def appendix_table(counts: pd.DataFrame, q: Questionnaire, lang: str = "zh") -> pd.DataFrame:
    """Counts of :meth:`Prepared.counts` as a display table: one row per rule and action, one column per group
    (labels in ``lang``) and a total. Aggregates only -- no row-level data."""
    if counts.empty:
        return pd.DataFrame()
    t = counts.copy()
    t["rule"] = t["rule"].map(lambda r: RULE_INFO[r].zh if lang == "zh" else RULE_INFO[r].en)
    names = {"exclude": ("剔除", "excluded"), "flag": ("标记", "flagged"), "fix": ("修正", "fixed")}
    t["action"] = t["action"].map(lambda a: names[a][0 if lang == "zh" else 1])
    t["group"] = t["group"].map(lambda gid: q.group_label(gid, lang) if gid in q.group_ids
                                else ("未识别" if lang == "zh" else "unknown"))
    order = [q.group_label(g, lang) for g in q.group_ids] + ["未识别" if lang == "zh" else "unknown"]
    wide = t.pivot_table(index=["rule", "action"], columns="group", values="rows", aggfunc="sum", fill_value=0,
                         sort=False)
    wide = wide[[g for g in order if g in wide.columns]]
    wide[("合计" if lang == "zh" else "Total")] = wide.sum(axis=1)
    wide = wide.reset_index()
    wide.columns.name = None
    return wide.rename(columns={"rule": "规则" if lang == "zh" else "Rule",
                                "action": "处理" if lang == "zh" else "Action"})
