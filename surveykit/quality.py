"""Data quality: questionnaire x response file -> clean, coded data, and a row-level log of every decision.

:func:`prepare` runs the intake top to bottom: **read** (:func:`surveykit.io.read_source`: the table and its
:class:`~surveykit.io.Provenance`), **map** (:func:`surveykit.mapping.match_columns`), then the **steps** of
:data:`STEPS` in order -- each a function ``step(table, column_map, setup, log)`` that codes columns of the
:class:`Table` and records what it finds in the :class:`Log` -- and returns a :class:`Prepared`:

* ``.data``: the rows kept, columns renamed to item ids and standard names, answers as numeric codes, group ids,
  canonical unit names; every other column as read; ``attrs`` provenance (``source``, ``file_rows``, ...) kept
  for the survey engine, which names rows in its messages;
* ``.provenance``: where the rows came from (a :class:`~surveykit.io.Provenance` of the file as read);
* ``.log``: one row per finding -- ``row`` (1-based row in the file), ``respondent_id``, ``rule``, ``column``
  (as named in the file), ``value`` (as in the file, with what was done to it), ``action``;
* ``.summary()``, ``.counts()`` (rule x group x action -> rows: no row-level data, for a report's appendix),
  ``.totals()`` and ``rows_read / rows_kept / rows_excluded / rows_flagged``.

Invariant: ``rows_read == rows_kept + rows_excluded`` and every excluded row has a log line with action
``exclude``: nothing disappears silently (tested with hypothesis on arbitrary inputs).

Rules (reason codes; YAML: ``questionnaires/quality_rules.yaml``, partial files override the defaults). Each rule
has an ``action``: ``exclude`` (the row is left out of the data), ``flag`` (kept, listed) or ``fix`` (an
unambiguous correction, listed); the allowed actions depend on the rule. Their names in words (Chinese and
English) are in :mod:`surveykit.report.quality_text`.

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
from typing import Any, Callable, Literal, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from .errors import InputError, SpecError
from .io import Provenance, blank_rows, read_source
from .resources import default_file
from .mapping import (AnswerCoder, ColumnMap, Coded, GroupCoder, MappingSpec, Roles, UnitAliases, ValueMap,
                      load_aliases, load_mapping, match_columns, nfkc, show)
from .report.quality_text import finding_text, mapping_text, summary_text
from .spec.questionnaire import Questionnaire
from .spec.yamlio import read_yaml, validate_model

DEFAULT_RULES = default_file("quality_rules.yaml")
LOG_COLUMNS = ["row", "respondent_id", "rule", "column", "value", "action"]
COUNT_COLUMNS = ["rule", "group", "action", "rows"]
UNKNOWN_GROUP = "unknown"

Action = Literal["exclude", "flag", "fix"]


@dataclass(frozen=True)
class RuleInfo:
    actions: tuple[str, ...]  # allowed actions, the default first
    core: bool = False        # scoring relies on it: cannot be switched off


RULE_INFO: dict[str, RuleInfo] = {
    "empty_row": RuleInfo(("exclude",), core=True),
    "no_answers": RuleInfo(("exclude", "flag")),
    "unknown_group": RuleInfo(("exclude",), core=True),
    "unknown_unit": RuleInfo(("exclude", "flag")),
    "not_a_number": RuleInfo(("exclude", "flag"), core=True),
    "out_of_scale": RuleInfo(("exclude", "flag"), core=True),
    "formula": RuleInfo(("flag", "exclude")),
    "whitespace": RuleInfo(("fix", "exclude"), core=True),
    "full_width": RuleInfo(("fix", "exclude"), core=True),
    "missing_id": RuleInfo(("flag", "exclude")),
    "duplicate_identical": RuleInfo(("exclude", "flag")),
    "duplicate_conflicting": RuleInfo(("exclude", "flag")),
    "not_asked": RuleInfo(("flag", "exclude")),
    "straight_lining": RuleInfo(("flag", "exclude")),
    "speeder": RuleInfo(("flag", "exclude")),
    "bad_duration": RuleInfo(("flag", "exclude")),
    "dont_know": RuleInfo(("flag", "exclude")),
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
    provenance: Provenance                 # where the rows read came from
    roles: Roles                           # the standard columns looked for
    group_ids: tuple[str, ...]             # the questionnaire's groups, in order
    n_columns: int                         # columns as read
    _groups: np.ndarray = field(repr=False)  # group label of every row read (for counts)
    _units: np.ndarray = field(repr=False)   # canonical unit of every row read ('' when none)
    _pos: np.ndarray = field(repr=False)     # position (among the rows read) of each log line

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
            t.insert(0, "unit", self._units[pos])
        keys = cols[:-1]
        out = t.drop_duplicates(keys + ["_pos"]).groupby(keys, sort=False).size().reset_index(name="rows")
        out["_r"] = out["rule"].map(RULE_ORDER)
        out["_g"] = out["group"].map(lambda g: self._group_order.get(g, len(self._group_order)))
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
        gorder = self._group_order
        out = out.iloc[np.argsort([gorder.get(g, len(gorder)) for g in out["group"]], kind="stable")]
        return out[["group", "read", "excluded", "kept", "flagged"]].reset_index(drop=True)

    def rows_by_rule(self) -> pd.DataFrame:
        """Rows per rule and action (a row counts once per rule and action), rules in their order."""
        t = (self.log.assign(_pos=self._pos).drop_duplicates(["rule", "action", "_pos"])
             .groupby(["rule", "action"], sort=False).size().reset_index(name="rows"))
        return t.iloc[np.argsort(t["rule"].map(RULE_ORDER).to_numpy(), kind="stable")]

    @property
    def _group_order(self) -> dict[str, int]:
        return {g: k for k, g in enumerate(self.group_ids)}

    def summary(self) -> str:
        """What `surveykit validate` prints (:func:`surveykit.report.quality_text.summary_text`)."""
        return summary_text(self)

    def describe_mapping(self, q: Questionnaire) -> str:
        """What `surveykit map` prints: the column and value mapping, and what is unmatched."""
        return mapping_text(q, self.provenance, (self.rows_read, self.n_columns), self.mapping, self.values,
                            roles=self.roles, notes=self.notes)

    def public_log(self) -> pd.DataFrame:
        """The log (what ``--log`` writes): the columns ``row, respondent_id, rule, column, value, action``."""
        return self.log


# --- the intake: a table, a setup, a log, and the steps --------------------------------------------------------
@dataclass(frozen=True)
class Setup:
    """What the steps need besides the table: the questionnaire, the rules and the interpreters of labels."""

    q: Questionnaire
    config: QualityConfig
    spec: MappingSpec
    aliases: UnitAliases
    groups: GroupCoder
    roles: Roles
    spec_file: str | None = None

    @classmethod
    def load(cls, q: Questionnaire, *, rules=None, mapping=None, aliases=None, unit_column: str | None = "district",
             id_column: str = "respondent_id", duration_column: str = "duration") -> "Setup":
        """Read the rules, mapping and alias files (paths, loaded objects, or None for the defaults)."""
        config = load_rules(rules)
        spec_file = str(mapping) if isinstance(mapping, (str, Path)) else None
        spec = mapping if isinstance(mapping, MappingSpec) else load_mapping(mapping)
        table = aliases if isinstance(aliases, UnitAliases) else load_aliases(aliases)
        c = config.columns
        roles = Roles(unit=unit_column, unit_names=c.unit, respondent_id=id_column, id_names=c.respondent_id,
                      duration=duration_column, duration_names=c.duration, group_names=c.group)
        return cls(q, config, spec, table.with_extra(spec.units, file=spec_file),
                   GroupCoder(q, spec.groups, file=spec_file), roles, spec_file)


@dataclass
class Table:
    """The table being coded: as read, and what the steps have found so far (one entry per row read)."""

    frame: pd.DataFrame
    provenance: Provenance
    col_of: dict[str, str]   # target -> the column in the file
    live: np.ndarray         # not an empty row
    ids: np.ndarray          # respondent id, cleaned ('' when none)
    g: np.ndarray            # group index in the questionnaire (-1: unknown)
    group_label: np.ndarray  # group id, or 'unknown'
    units: np.ndarray        # canonical unit ('' when none, or not checked)
    items: list              # the items with a column, in questionnaire order
    x: np.ndarray            # row x item: the answer code (NaN: blank or invalid)
    answered: np.ndarray     # row x item: an answer was given
    dk: np.ndarray           # row x item: a don't-know code
    asked: np.ndarray | None = None  # row x item: the item is asked of the row's group
    out: dict[str, Any] = field(default_factory=dict)  # coded columns for the data
    values: list[ValueMap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, frame: pd.DataFrame, provenance: Provenance, cmap: ColumnMap, q: Questionnaire) -> "Table":
        n = len(frame)
        col_of = {m.target: m.column for m in cmap.matches}
        items = [i for i in q.items if i.id in col_of]
        shape = (n, len(items))
        return cls(frame, provenance, col_of, np.ones(n, dtype=bool), np.full(n, "", dtype=object),
                   np.full(n, -1, dtype=np.int64), np.full(n, UNKNOWN_GROUP, dtype=object),
                   np.full(n, "", dtype=object), items, np.full(shape, np.nan), np.zeros(shape, dtype=bool),
                   np.zeros(shape, dtype=bool))

    @property
    def n(self) -> int:
        return len(self.frame)

    @property
    def known(self) -> np.ndarray:
        """Rows that are not empty and have a known group."""
        return self.live & (self.g >= 0)


class Log:
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


# --- cell readers -----------------------------------------------------------------------------------------------
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


def _shown_bad(u: Any, c: Coded) -> str:
    s = show(u)
    if c.status == "date":
        return f"{s} (an Excel date or time)"
    if c.status == "ambiguous":
        return f"{s} (number and label disagree)"
    return s


def _log_text_fixes(log: Log, codes: np.ndarray, uniq: list, cleaned: list, live: np.ndarray, col: str) -> None:
    for k, (u, c) in enumerate(zip(uniq, cleaned)):
        text, trimmed, widened = c
        if not (trimmed or widened) or not isinstance(u, str):
            continue
        log.add("full_width" if widened else "whitespace", _positions(codes, [k], live), col,
                f"{u!r} -> {text!r}")


# --- the steps, in order ----------------------------------------------------------------------------------------
def empty_rows(t: Table, cmap: ColumnMap, setup: Setup, log: Log) -> None:
    """Rows without any value: nothing else is checked on them."""
    empty = blank_rows(t.frame)
    log.add("empty_row", np.flatnonzero(empty), "", "")
    t.live = ~empty
    if t.provenance.trailing_blank_rows:
        t.notes.append(f"{t.provenance.trailing_blank_rows} blank row(s) after the last data row ignored (not data)")


def formulas(t: Table, cmap: ColumnMap, setup: Setup, log: Log) -> None:
    """Excel formula cells in mapped columns (their last computed value is what was read)."""
    mapped = set(t.col_of.values())
    for (pos, col), formula in sorted((t.provenance.formulas or {}).items()):
        if col in mapped:
            v = show(t.frame[col].iloc[pos])
            shown = f"{formula} -> {v}" if v != "" else f"{formula} (no computed value in the file)"
            log.add("formula", np.array([pos]), col, np.array([shown], object))


def code_ids(t: Table, cmap: ColumnMap, setup: Setup, log: Log) -> None:
    """Respondent ids: blanks around them trimmed, full-width characters converted; a blank id listed."""
    target = setup.roles.respondent_id
    idc = t.col_of.get(target)
    if idc is None:
        return
    s = t.frame[idc]
    codes, uniq, cleaned = _coded_uniques(s, _clean_text)
    t.ids = np.array([c[0] for c in cleaned] + [""], dtype=object)[codes]  # -1 -> "" (the sentinel is last)
    _log_text_fixes(log, codes, uniq, cleaned, t.live, idc)
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        t.out[target] = pd.Series(t.ids, index=t.frame.index, dtype=object).where(codes >= 0, None)
    log.add("missing_id", np.flatnonzero(t.live & (t.ids == "")), idc, "")


def code_labels(t: Table, cmap: ColumnMap, setup: Setup, log: Log) -> None:
    """Labels to canonical values, one recipe for two columns: group labels to group ids (``权利人`` ->
    ``holder``) and unit spellings to canonical unit names (``Jiangcheng`` -> ``江城区``)."""
    q, gcol = setup.q, setup.q.groups.column
    coded = _code_label_column(t, log, gcol, "unknown_group", setup.groups.lookup)
    if coded is not None:
        codes, canon_u = coded
        index = {gid: k for k, gid in enumerate(q.group_ids)}
        t.g = np.array([index.get(c, -1) for c in canon_u], dtype=np.int64)[codes]
        t.group_label = np.where(t.g >= 0, canon_u[codes], UNKNOWN_GROUP).astype(object)
    unit = setup.roles.unit
    if unit:
        coded = _code_label_column(t, log, unit, "unknown_unit", setup.aliases.lookup,
                                   check=setup.config.rules.unknown_unit.check)
        if coded is not None:
            t.units = coded[1][coded[0]]


def _code_label_column(t: Table, log: Log, target: str, rule: str, lookup: Callable[[Any], str | None], *,
                       check: str = "always") -> tuple[np.ndarray, np.ndarray] | None:
    """Code the column mapped to ``target`` through ``lookup`` (a .sav value label first): log the blanks fixed and
    every value not found under ``rule``, write the coded column and what was mapped. Returns the code of each row
    among the distinct values and each distinct value's canonical form ('' when unknown; the last is a blank's),
    or None when there is no column or it is not checked (``check``: always, auto, never)."""
    col = t.col_of.get(target)
    if col is None:
        return None
    s = t.frame[col]
    vl = (t.provenance.value_labels or {}).get(col, {})
    codes, uniq, cleaned = _coded_uniques(s, lambda u: _clean_text(u) if isinstance(u, str) else ("", 0, 0))
    look = [lookup(vl.get(u, u)) if vl else lookup(u) for u in uniq]
    if check == "never":
        return None
    if check == "auto" and not any(look):
        examples = ", ".join(f"'{show(u)}'" for u in uniq[:5])
        t.notes.append(f"unit check skipped: no value of column '{col}' is a known unit ({examples}"
                       f"{', ...' if len(uniq) > 5 else ''}); add the spellings to the unit alias list or set "
                       f"rules.unknown_unit.check: always")
        return None
    canon_u = np.array([x if x else "" for x in look] + [""], dtype=object)
    canon = canon_u[codes]
    _log_text_fixes(log, codes, uniq, cleaned, t.live, col)
    pos = np.flatnonzero(t.live & (canon == ""))
    log.add(rule, pos, col, s.iloc[pos].map(show).to_numpy(dtype=object))
    t.out[target] = pd.Series(np.where(canon != "", canon, s.to_numpy(dtype=object)), index=t.frame.index,
                              dtype=object)
    mapped = [(show(u), x, int((codes == k).sum())) for k, (u, x) in enumerate(zip(uniq, look))
              if x is not None and show(u) != x]
    unread = [(show(u), int((codes == k).sum())) for k, (u, x) in enumerate(zip(uniq, look)) if x is None]
    t.values.append(ValueMap(target, col, tuple(mapped), tuple(unread)))
    return codes, canon_u


def code_items(t: Table, cmap: ColumnMap, setup: Setup, log: Log) -> None:
    """Answers to codes through the scale's labels; text, dates and codes off the scale listed (an invalid answer
    is never scored)."""
    coders: dict[int, AnswerCoder] = {}
    for j, item in enumerate(t.items):
        col = t.col_of[item.id]
        sc = setup.q.item_scale(item)
        coder = coders.get(id(sc))
        if coder is None:
            coder = coders[id(sc)] = AnswerCoder(sc, setup.spec.answers, setup.config.blank_values)
        codes, uniq, coded = _coded_uniques(t.frame[col], _answer_reader(coder, t, col))
        status = np.array([_answer_status(c, sc) for c in coded] + ["blank"], dtype=object)
        row_status = status[codes]
        xj = np.array([c.code for c in coded] + [np.nan])[codes]
        shown_u = np.array([_shown_bad(u, c) for u, c in zip(uniq, coded)] + [""], object)
        for rule, bad in (("not_a_number", ("text", "date", "ambiguous")), ("out_of_scale", ("out",))):
            pos = _positions(codes, [k for k, s in enumerate(status[:-1]) if s in bad], t.live)
            if log.add(rule, pos, col, shown_u[codes[pos]]) == "flag":
                xj[pos] = np.nan
        xj[np.isin(row_status, ["text", "date", "ambiguous", "out"]) & ~t.live] = np.nan
        _log_answer_fixes(log, codes, uniq, coded, t.live, col)
        t.x[:, j] = xj
        t.answered[:, j] = (codes >= 0) & (row_status != "blank")
        t.dk[:, j] = row_status == "dk"
        vl = (t.provenance.value_labels or {}).get(col, {})
        t.values.append(_answer_value_map(item.id, col, codes, uniq, coded, status, vl))
        t.out[item.id] = xj


def _answer_reader(coder: AnswerCoder, t: Table, col: str) -> Callable[[Any], Coded]:
    """How a distinct cell value of an item column is read: a .sav code through its value label when the label is
    one of the scale's."""
    vl = (t.provenance.value_labels or {}).get(col, {})

    def read(u: Any) -> Coded:
        c = coder.code(u)
        if vl and c.status == "code" and c.via == "number" and u in vl:
            via_label = coder.code(vl[u])
            if via_label.status == "code":
                return Coded("code", via_label.code, "value label")
        return c

    return read


def _answer_status(c: Coded, sc) -> str:
    """``ok``, ``dk`` (a missing code), ``out`` (off the scale), or the reading's own status (blank, text, ...)."""
    if c.status != "code":
        return c.status
    if c.code in set(sc.missing):
        return "dk"
    return "ok" if sc.min <= c.code <= sc.max and float(c.code).is_integer() else "out"


def _log_answer_fixes(log: Log, codes: np.ndarray, uniq: list, coded: list[Coded], live: np.ndarray,
                      col: str) -> None:
    for k, c in enumerate(coded):
        if c.status == "code" and (c.trimmed or c.widened):
            log.add("full_width" if c.widened else "whitespace", _positions(codes, [k], live), col,
                    f"{show(uniq[k])!r} -> {show(c.code)}")
    for k, c in enumerate(coded):
        if c.status not in ("code", "blank") and c.trimmed:  # a cell of blanks is blank
            log.add("whitespace", _positions(codes, [k], live), col, f"{show(uniq[k])!r} -> {c.clean!r}")


def _answer_value_map(iid: str, col: str, codes: np.ndarray, uniq: list, coded: list[Coded], status: np.ndarray,
                      vl: dict) -> ValueMap:
    """The labels read as codes (``value -> code (rows)``) and the values that are not answers."""
    mapped: dict[tuple[str, str], int] = {}
    for k, (u, c) in enumerate(zip(uniq, coded)):
        if c.status == "code" and c.via in ("label", "value label"):
            key = (show(u) if c.via == "label" else f"{show(u)} ({vl.get(u)})", show(c.code))
            mapped[key] = mapped.get(key, 0) + int((codes == k).sum())
    unread = [(show(u), int((codes == k).sum())) for k, (u, s) in enumerate(zip(uniq, status[:-1]))
              if s in ("text", "date", "ambiguous")]
    return ValueMap(iid, col, tuple((a, b, m) for (a, b), m in mapped.items()), tuple(unread))


def applicability(t: Table, cmap: ColumnMap, setup: Setup, log: Log) -> None:
    """Answers to items not asked of the respondent's group (scoring ignores them); rows answering no item asked."""
    q = setup.q
    asked = np.ones((len(q.group_ids) + 1, len(t.items)), dtype=bool)
    for j, item in enumerate(t.items):
        gs = q.item_groups(item)
        asked[:len(q.group_ids), j] = [gid in gs for gid in q.group_ids]
    t.asked = asked[np.where(t.g >= 0, t.g, len(q.group_ids))]  # unknown group: every item
    known = t.known
    for j, item in enumerate(t.items):
        col = t.col_of[item.id]
        pos = np.flatnonzero(known & t.answered[:, j] & ~t.asked[:, j])
        log.add("not_asked", pos, col, t.frame[col].iloc[pos].map(show).to_numpy(dtype=object))
    if t.items:
        n_ans = (t.answered & t.asked).sum(axis=1)
        log.add("no_answers", np.flatnonzero(known & (n_ans == 0)), "", "")


def patterns(t: Table, cmap: ColumnMap, setup: Setup, log: Log) -> None:
    """Answer patterns: too many don't-know answers; the same answer on a run of consecutive items."""
    if not t.items:
        return
    r = setup.config.rules.dont_know
    n_ans = (t.answered & t.asked).sum(axis=1)
    n_dk = (t.dk & t.asked).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_ans > 0, n_dk / np.maximum(n_ans, 1), 0.0)
    pos = np.flatnonzero(t.known & (n_ans >= r.min_answered) & (share >= r.min_share) & (n_dk > 0))
    log.add("dont_know", pos, "", np.array([f"{n_dk[p]} of {n_ans[p]} answers are don't-know ({share[p]:.0%})"
                                            for p in pos], object))
    _straight_lining(log, setup.q, t.items, t.x, t.g, t.known, t.col_of,
                     setup.config.rules.straight_lining.min_run)


def durations(t: Table, cmap: ColumnMap, setup: Setup, log: Log) -> None:
    """Durations read as seconds (``125``, ``2分5秒``, ``00:02:05``); unreadable ones and speeders listed."""
    dc = t.col_of.get(setup.roles.duration)
    if dc is None:
        return
    s = t.frame[dc]
    codes, uniq, secs = _coded_uniques(s, _duration_seconds)
    pos = _positions(codes, [k for k, v in enumerate(secs) if v is None], t.live)
    log.add("bad_duration", pos, dc, s.iloc[pos].map(show).to_numpy(dtype=object))
    sec = np.array([np.nan if v is None else v for v in secs] + [np.nan])[codes]
    r = setup.config.rules.speeder
    ok = t.live & ~np.isnan(sec)
    thr = [] if r.min_seconds is None else [r.min_seconds]
    if r.share_of_median is not None and ok.any():
        thr.append(r.share_of_median * float(np.median(sec[ok])))
    if thr:
        limit = max(thr)
        pos = np.flatnonzero(ok & (sec < limit))
        log.add("speeder", pos, dc, np.array([f"{show(s.iloc[p])} = {sec[p]:g} s (< {limit:g} s)" for p in pos],
                                             object))


def duplicates(t: Table, cmap: ColumnMap, setup: Setup, log: Log) -> None:
    """Rows sharing a respondent id: a repeat with the same answers, or different answers."""
    idc = t.col_of.get(setup.roles.respondent_id)
    rules = setup.config.rules
    if idc is not None and (rules.duplicate_identical.enabled or rules.duplicate_conflicting.enabled):
        _duplicates(log, t.ids, t.live, t.x, t.g, t.units, np.asarray(t.provenance.file_rows, dtype=np.int64), idc)


STEPS: tuple[Callable[[Table, ColumnMap, Setup, Log], None], ...] = (
    empty_rows, formulas, code_ids, code_labels, code_items, applicability, patterns, durations, duplicates)
"""The intake's steps, in order; each reads what earlier ones found in the :class:`Table`."""


# --- prepare: read -> map -> check the mapping -> the steps -> the result -----------------------------------------
def prepare(q: Questionnaire, source: str | Path | pd.DataFrame, *, rules: str | Path | QualityConfig | None = None,
            mapping: str | Path | MappingSpec | None = None, aliases: str | Path | UnitAliases | None = None,
            unit_column: str | None = "district", id_column: str = "respondent_id", duration_column: str = "duration",
            sheet: str | int | None = None, header_rows: int | None = None, strict: bool = True,
            rename_standard: bool = True) -> Prepared:
    """Read, map and check a response file; see the module docstring.

    Parameters
    ----------
    q : the questionnaire.
    source : a file path (CSV, XLSX, SAV) or a DataFrame (e.g. from :func:`surveykit.io.read_table`; its
        ``attrs`` say where its rows came from).
    rules : a rules YAML path or a :class:`QualityConfig`; default ``questionnaires/quality_rules.yaml``.
    mapping : a mapping YAML path or a :class:`~surveykit.mapping.MappingSpec` (explicit column/label mapping).
    aliases : a unit alias YAML or :class:`UnitAliases` (the study's units and their spellings); default: none.
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
    setup = Setup.load(q, rules=rules, mapping=mapping, aliases=aliases, unit_column=unit_column,
                       id_column=id_column, duration_column=duration_column)
    frame, prov = _read(source, setup.spec, sheet=sheet, header_rows=header_rows)
    cmap = match_columns(q, frame, provenance=prov, spec=setup.spec, roles=setup.roles, aliases=setup.aliases,
                         groups=setup.groups, spec_file=setup.spec_file)
    check_mapping(setup, frame, cmap, strict=strict, source=prov.source)
    table, log = Table.start(frame, prov, cmap, q), Log(setup.config)
    for step in STEPS:
        step(table, cmap, setup, log)
    return _result(table, cmap, setup, log, rename_standard=rename_standard)


def validate(q: Questionnaire, path: str | Path | pd.DataFrame, **kwargs) -> Prepared:
    """:func:`prepare` under its former name (kept for scripts written against the first version)."""
    return prepare(q, path, **kwargs)


def _read(source: str | Path | pd.DataFrame, spec: MappingSpec, *, sheet, header_rows) -> tuple[pd.DataFrame,
                                                                                               Provenance]:
    if isinstance(source, pd.DataFrame):
        return source, Provenance.of(source)
    return read_source(source, sheet=sheet if sheet is not None else spec.sheet,
                       header_rows=header_rows if header_rows is not None else spec.header_rows)


def check_mapping(setup: Setup, frame: pd.DataFrame, cmap: ColumnMap, *, strict: bool, source: str) -> None:
    """Refuse a file the steps cannot code: without the group column, an item or a ``required`` column (when
    ``strict``), or with a column mapped onto the name of another column of the file."""
    if strict:
        _check_required(setup, frame, cmap, source)
    clash = [m for m in cmap.matches if m.target in cmap.unmatched or m.target in cmap.ignored]
    if clash:
        m = clash[0]
        raise InputError(f"column '{m.column}' is mapped to '{m.target}', but the file also has a column named "
                         f"'{m.target}': map that one to another name (or null) in a mapping file",
                         file=source, column=m.target)


def _check_required(setup: Setup, frame: pd.DataFrame, cmap: ColumnMap, source: str) -> None:
    q = setup.q
    targets = {m.target for m in cmap.matches}
    missing = [q.groups.column] if q.groups.column not in targets else []
    missing += list(cmap.missing_items)
    missing += [c for c in setup.config.required if c not in targets and c not in frame.columns]
    if not missing:
        return
    first = missing[0]
    if first in cmap.ambiguous:
        why = ("several columns match it equally: " + ", ".join(f"'{c}'" for c in cmap.ambiguous[first])
               + " -- say which in a mapping file")
    elif first in cmap.suggestions:
        c, r = cmap.suggestions[first]
        why = f"closest column: '{c}' (similarity {r:.2f}) -- map it in a mapping file if it is this one"
    elif frame.shape[1] == 1:
        why = "the file has a single column: is it delimited by something other than , ; tab or |?"
    else:
        why = "run `surveykit map` to see the columns found"
    what = ("the group column (groups.column)" if first == q.groups.column else
            f"item {first}" if first in cmap.missing_items else "a required column (rules: required)")
    more = f"; {len(missing) - 1} more missing: {', '.join(missing[1:6])}{', ...' if len(missing) > 6 else ''}" \
        if len(missing) > 1 else ""
    raise InputError(f"no column '{first}' in the data ({what}); {why}{more}", file=source, column=first)


def _result(t: Table, cmap: ColumnMap, setup: Setup, log: Log, *, rename_standard: bool) -> Prepared:
    """The kept rows, renamed and coded, with their provenance; the tidy log; the counts."""
    n, prov = t.n, t.provenance
    file_rows = np.asarray(prov.file_rows, dtype=np.int64)
    logdf = log.frame(file_rows, t.ids)
    log_pos = logdf.pop("_pos").to_numpy()
    excluded = log.mask(n, "exclude")
    rename, out = cmap.rename(), t.out
    if not rename_standard:
        r = setup.roles
        keep_name = {c for c, target in rename.items() if target in (r.unit, r.respondent_id, r.duration)}
        back = {rename[c]: c for c in keep_name}
        rename = {c: target for c, target in rename.items() if c not in keep_name}
        out = {back.get(k, k): v for k, v in out.items()}
    data = t.frame.rename(columns=rename)
    for k, v in out.items():
        data[k] = v
    keep = ~excluded
    data = data.loc[keep].reset_index(drop=True) if excluded.any() else data.reset_index(drop=True)
    data.attrs.clear()
    data.attrs.update(prov.replace(formulas=None, file_rows=file_rows[keep]).to_attrs(), rows_read=n,
                      rows_excluded=int(excluded.sum()))
    return Prepared(data=data, log=logdf, rows_read=n, rows_excluded=int(excluded.sum()),
                    rows_flagged=int((log.mask(n, "flag") & ~excluded).sum()),
                    rows_fixed=int((log.mask(n, "fix") & ~excluded).sum()), source=prov.source, mapping=cmap,
                    values=tuple(t.values), notes=tuple(t.notes), config=setup.config, provenance=prov,
                    roles=setup.roles, group_ids=tuple(setup.q.group_ids), n_columns=t.frame.shape[1],
                    _groups=t.group_label, _units=t.units, _pos=log_pos)


def _straight_lining(log: Log, q: Questionnaire, items, x: np.ndarray, g: np.ndarray, known: np.ndarray,
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


def _duplicates(log: Log, ids: np.ndarray, live: np.ndarray, x: np.ndarray, g: np.ndarray, units: np.ndarray,
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
    by_rule = ex.drop_duplicates(["rule", "_pos"]).groupby("rule", sort=False).size()
    parts = ", ".join(f"{r} {k}" for r, k in by_rule.items())
    return InputError(f"{finding_text(first['rule'], first['value'])}; {p.rows_excluded} of {p.rows_read} rows fail "
                      f"rules whose action is exclude ({parts}) -- see `surveykit validate --log`, or score with "
                      f"--on-invalid exclude", file=p.source, row=int(first["row"]), column=first["column"] or None)
