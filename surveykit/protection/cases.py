"""District administrative-protection case statistics (行政保护案件统计表): reader, checks, city summary.

The city's 2024 administrative-protection plan asks every district to submit, with its half-year and full-year
summaries, a case-statistics table. Its layout (one table per district and period, XLSX or CSV)::

    江城区知识产权行政保护案件统计表（2025年上半年）           <- optional title: unit, year, period
    案件类型                          | 统计项目      | 数量
    假冒专利                          | 案件数（件）  | 3
                                      | 案值（万元）  | 12.5
                                      | 罚没款（万元）| 4.2
    商标侵权                          | 案件数（件）  | ...      (same three rows)
    商标一般违法                      | ...
    地理标志                          | ...
    官方标志/特殊标志/奥林匹克标志    | ...
    专利侵权纠纷行政裁决              | 案件数（件）  | 20
                                      | 结案数（件）  | 18

The category cell may be merged over its rows (XLSX) or left blank below the first (CSV). A *wide* layout --
one row per category, columns 案件数（件）, 案值（万元）, 罚没款（万元）, 结案数（件） -- is read as well. The unit,
year and period come from the title, the file name (``江城区_2025_H1.xlsx``, ``jiangcheng-2025-FY.csv``) or the
caller; a conflict between them is an error. Periods: ``H1`` (上半年, January-June) and ``FY`` (全年).

Checks (:func:`check_case_tables`), each a row of the log naming file, row and column:

* errors: a missing or unknown row, a non-number, a negative number, a count that is not a whole number, a
  blank count, a blank case value or fine where cases > 0, a half-year figure above the full-year figure of the
  same district and year, the same district/year/period twice;
* warnings: closed rulings far above filed ones (``closed > (1 + tolerance) * filed`` and more than ``slack``
  cases above: backlogs are closed too, so only far above is suspicious), a case value or fine reported with
  no cases, a 合计 (total) row that does not add up.

:func:`compile_cases` builds the city summary table (districts x categories, plus the city total) from the
full-year tables and derives indicators into the long values format (unit, year, indicator, value).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io.writers import inert, protect_cells

CATEGORIES = {
    "counterfeit_patent": "假冒专利",
    "trademark_infringement": "商标侵权",
    "trademark_other": "商标一般违法",
    "geographical_indication": "地理标志",
    "official_marks": "官方标志/特殊标志/奥林匹克标志",
    "patent_ruling": "专利侵权纠纷行政裁决",
}
CATEGORIES_EN = {
    "counterfeit_patent": "Patent counterfeiting",
    "trademark_infringement": "Trademark infringement",
    "trademark_other": "Other trademark violations",
    "geographical_indication": "Geographical indications",
    "official_marks": "Official, special and Olympic marks",
    "patent_ruling": "Administrative rulings on patent-infringement disputes",
}
MEASURES = {"cases": ("案件数", "件"), "value": ("案值", "万元"), "fines": ("罚没款", "万元"), "closed": ("结案数", "件")}
MEASURES_EN = {"cases": "cases", "value": "case value (10k yuan)", "fines": "fines and confiscations (10k yuan)",
               "closed": "closed"}
ENFORCEMENT = ("counterfeit_patent", "trademark_infringement", "trademark_other", "geographical_indication",
               "official_marks")
EXPECTED = [(c, m) for c in ENFORCEMENT for m in ("cases", "value", "fines")] + \
    [("patent_ruling", "cases"), ("patent_ruling", "closed")]
COUNTS = ("cases", "closed")
PERIODS = {"H1": ("上半年", "January-June"), "FY": ("全年", "full year")}

_CAT_HEADERS = {"案件类型", "类别", "类型", "案件类别", "项目类别"}
_MEASURE_HEADERS = {"统计项目", "项目", "指标", "统计指标"}
_VALUE_HEADERS = {"数量", "数值", "值", "本期", "本期数", "数据"}
_TOTAL = {"合计", "总计"}
_SEP = re.compile(r"[\s/／、，,·]+")


def _canon_category(text: str) -> str | None:
    t = _SEP.sub("", text)
    for cid, zh in CATEGORIES.items():
        if t == _SEP.sub("", zh):
            return cid
    if t.startswith("专利侵权纠纷") or t == "专利行政裁决":
        return "patent_ruling"
    if t in ("官方标志", "特殊标志", "奥林匹克标志", "官方标志特殊标志奥林匹克标志"):
        return "official_marks"
    if t in _TOTAL:
        return "total"
    return None


def _canon_measure(text: str) -> tuple[str | None, str | None]:
    """``('cases', '件')`` from ``案件数（件）``; the unit written in brackets, if any."""
    t = text.replace("（", "(").replace("）", ")").replace(" ", "")
    m = re.fullmatch(r"([^()]+)(?:\(([^()]*)\))?", t)
    if not m:
        return None, None
    name, unit = m.group(1), m.group(2)
    for mid, (zh, _) in MEASURES.items():
        if name == zh or (mid == "cases" and name in ("案件数量", "立案数", "受理数", "案件数")) or \
                (mid == "closed" and name in ("结案数量", "办结数")) or (mid == "fines" and name in ("罚没金额", "罚没款金额")):
            return mid, unit
    return None, unit


# --- raw grids ------------------------------------------------------------------------------------------------


def _grid(path: Path) -> list[tuple[int, list]]:
    """``[(file_row, [cells...]), ...]`` of a CSV or XLSX file (first sheet); blank rows left out."""
    if not path.exists():
        raise InputError("file not found", file=path)
    ext = path.suffix.lower()
    rows: list[tuple[int, list]] = []
    if ext in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable workbook is the user's input problem
            raise InputError(f"not a readable XLSX file ({type(exc).__name__})", file=path) from None
        try:
            ws = wb.worksheets[0]
            for row in ws.iter_rows():
                cells = [getattr(c, "value", None) for c in row]
                r = next((c.row for c in row if getattr(c, "row", None)), None)
                if r is not None and any(c is not None and str(c).strip() != "" for c in cells):
                    # read-only rows start at the first stored cell: pad from column A
                    first = next((c.column for c in row if getattr(c, "column", None)), 1)
                    rows.append((r, [None] * (first - 1) + cells))
        finally:
            wb.close()
    elif ext in (".csv", ".txt"):
        data = path.read_bytes()
        if not data.strip():
            raise InputError("the file is empty", file=path)
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - gb18030 decodes nearly anything
            raise InputError("cannot decode the file (UTF-8 or GBK expected)", file=path)
        delim = "\t" if text.count("\t") > text.count(",") else ","
        for r, cells in enumerate(csv.reader(io.StringIO(text), delimiter=delim), start=1):
            if any(c.strip() for c in cells):
                rows.append((r, [c if c.strip() else None for c in cells]))
    else:
        raise InputError(f"unknown file type '{ext}' (a case table is .xlsx or .csv)", file=path)
    if not rows:
        raise InputError("the file holds no data", file=path)
    return rows


def _number(v) -> tuple[float | None, str | None]:
    """A cell as a number: ``(value, None)``, ``(None, None)`` when blank, ``(None, problem)`` otherwise."""
    if v is None:
        return None, None
    if isinstance(v, bool):
        return None, f"'{v}' is not a number"
    if isinstance(v, (int, float, np.integer, np.floating)):
        x = float(v)
        return (x, None) if np.isfinite(x) else (None, f"'{v}' is not a finite number")
    t = str(v).strip().replace(",", "")
    if t == "" or t in ("-", "—", "/"):
        return None, None
    try:
        return float(t), None
    except ValueError:
        return None, f"'{str(v).strip()}' is not a number (write digits only, e.g. 12.5; units go in the header)"


# --- one table ------------------------------------------------------------------------------------------------


@dataclass
class CaseTable:
    """One district's table for one period: ``records`` has columns category, measure, value (NaN = blank),
    row, column (where the cell is in the file); ``issues`` the problems found while reading."""

    path: str
    unit: str
    year: int
    period: str
    records: pd.DataFrame
    issues: list[dict] = field(default_factory=list)

    def _index(self) -> dict:
        idx = self.__dict__.get("_idx")
        if idx is None:
            idx = {}
            for c, m, v, r, col in zip(self.records.category, self.records.measure, self.records.value,
                                       self.records.row, self.records.column):
                idx.setdefault((c, m), (float(v), int(r), str(col)))  # the first occurrence
            self.__dict__["_idx"] = idx
        return idx

    def value(self, category: str, measure: str) -> float:
        hit = self._index().get((category, measure))
        return hit[0] if hit else float("nan")

    def where(self, category: str, measure: str) -> tuple[int | None, str | None]:
        hit = self._index().get((category, measure))
        return (hit[1], hit[2]) if hit else (None, None)


def _meta_from_text(text: str, units=None) -> dict:
    """Unit (one of ``units`` whose Chinese or English name the title holds), year and period from a title."""
    out = {}
    for u in (units or ()):
        if u.zh in text or (u.en != u.zh and u.en in text):
            out["unit"] = u.id
            break
    m = re.search(r"(20\d{2})\s*年", text)
    if m:
        out["year"] = int(m.group(1))
    if re.search(r"上半年|1\s*[-—–~至]\s*6\s*月|半年度", text):
        out["period"] = "H1"
    elif re.search(r"全年|年度|1\s*[-—–~至]\s*12\s*月", text):
        out["period"] = "FY"
    return out


def _meta_from_name(stem: str, units=None) -> dict:
    """Unit, year and period from a file name's tokens (``pudong_2025_H1``); without ``units`` the first token that
    is neither a year nor a period names the unit as written."""
    out = {}
    for tok in re.split(r"[_\-\s.]+", stem):
        u = units.find(tok) if units is not None else None
        if u is not None:
            out["unit"] = u.id
        elif re.fullmatch(r"20\d{2}", tok):
            out["year"] = int(tok)
        elif tok.upper() in ("H1", "FY") or tok in ("上半年", "全年"):
            out["period"] = {"上半年": "H1", "全年": "FY"}.get(tok, tok.upper())
        elif units is None and tok and "unit" not in out:
            out["unit"] = tok
    return out


def _texts(cells: list) -> list[str]:
    return [str(c).strip() if c is not None else "" for c in cells]


def _header_index(grid: list[tuple[int, list]], path: Path) -> int:
    """The header row among the first ten: the one with a category header (案件类型, 类别, ...)."""
    for k, (_, cells) in enumerate(grid[:10]):
        if any(t in _CAT_HEADERS for t in _texts(cells)):
            return k
    raise InputError("no header row found: the table needs a column headed 案件类型 (or 类别) -- see the layout "
                     "in `surveykit cases --help`", file=path)


def _given_meta(path: Path, unit, year, period, units=None) -> dict:
    """The unit, year and period the caller gave (checked against ``units`` when given, as their ids)."""
    given = {k: v for k, v in dict(unit=unit, year=year, period=period).items() if v is not None}
    if "unit" in given and units is not None:
        u = units.find(str(given["unit"]))
        if u is None:
            raise InputError(f"unknown unit '{given['unit']}' (not one of the study's units)", file=path)
        given["unit"] = u.id
    if "period" in given:
        p = str(given["period"]).upper()
        if p not in PERIODS:
            raise InputError(f"unknown period '{given['period']}' (H1 = half year, FY = full year)", file=path)
        given["period"] = p
    return given


def _table_meta(path: Path, title: str, given: dict, units=None) -> dict:
    """Unit, year and period from the title, the file name and the caller, which must agree."""
    sources = [("the title", _meta_from_text(title, units)), ("the file name", _meta_from_name(path.stem, units)),
               ("the command", given)]
    meta = {}
    for key in ("unit", "year", "period"):
        found = [(src, d[key]) for src, d in sources if key in d]
        vals = {v for _, v in found}
        if len(vals) > 1:
            raise InputError(f"the {key} is ambiguous: " + ", ".join(f"{v} in {src}" for src, v in found), file=path)
        if not vals:
            hint = {"unit": "a district name", "year": "the year (e.g. 2025年)",
                    "period": "上半年 (H1) or 全年 (FY)"}[key]
            raise InputError(f"cannot tell the {key}: put {hint} in the title row or the file name "
                             f"(e.g. 江城区_2025_H1.xlsx)", file=path)
        meta[key] = vals.pop()
    return meta


@dataclass
class _Layout:
    """The header row: its file row and texts, and the columns of the category, the measure and the value
    (long layout) or ``wide`` ``{column: (measure, unit written, header)}`` (wide layout)."""

    row: int
    texts: list[str]
    cat: int
    meas: int | None
    val: int | None
    wide: dict


def _layout(header: tuple[int, list], path: Path) -> _Layout:
    head_row, head = header
    texts = _texts(head)
    cat_j = next(j for j, t in enumerate(texts) if t in _CAT_HEADERS)
    meas_j = next((j for j, t in enumerate(texts) if t in _MEASURE_HEADERS), None)
    val_j = next((j for j, t in enumerate(texts) if t in _VALUE_HEADERS), None)
    wide = {}
    for j, t in enumerate(texts):
        if j != cat_j and t and meas_j is None:
            mid, munit = _canon_measure(t)
            if mid is not None:
                wide[j] = (mid, munit, t)
    if meas_j is None and not wide:
        raise InputError("the header has neither a 统计项目 column (long layout) nor 案件数/案值/罚没款/结案数 "
                         "columns (wide layout)", file=path, row=head_row)
    if meas_j is not None and val_j is None:
        raise InputError("the header has a 统计项目 column but no 数量 column for the numbers", file=path, row=head_row)
    for mid, munit, t in wide.values():
        if munit is not None and munit != MEASURES[mid][1]:
            raise InputError(f"'{t}': {MEASURES[mid][0]} must be given in {MEASURES[mid][1]}", file=path,
                             row=head_row, column=t)
    return _Layout(head_row, texts, cat_j, meas_j, val_j, wide)


def _long_items(r: int, cell, lay: _Layout, current: str, issue) -> list[tuple[str, object, str]]:
    """The (measure, cell, column) of a long-layout row; none when its 统计项目 cell is unusable (an issue)."""
    mtext = cell(lay.meas)
    if mtext is None or not str(mtext).strip():
        issue("error", "the 统计项目 cell is blank", r, lay.texts[lay.meas], current)
        return []
    mid, munit = _canon_measure(str(mtext))
    if mid is None:
        issue("error", f"unknown item '{str(mtext).strip()}' (expected 案件数（件）, 案值（万元）, 罚没款（万元）"
              " or 结案数（件）)", r, lay.texts[lay.meas], current)
        return []
    if munit is not None and munit != MEASURES[mid][1]:
        issue("error", f"{MEASURES[mid][0]} must be given in {MEASURES[mid][1]}, not {munit}", r,
              lay.texts[lay.meas], current, mid)
        return []
    return [(mid, cell(lay.val), lay.texts[lay.val])]


def _read_records(rows: list[tuple[int, list]], lay: _Layout, issue) -> pd.DataFrame:
    """The numbers below the header: category, measure, value, row, column, bad (not a number)."""
    recs = []
    current = None
    for r, cells in rows:
        def cell(j, cells=cells):
            return cells[j] if j is not None and j < len(cells) else None
        ctext = cell(lay.cat)
        if ctext is not None and str(ctext).strip():
            current = _canon_category(str(ctext))
            if current is None:
                issue("error", f"unknown case type '{str(ctext).strip()}' (expected one of: "
                      f"{', '.join(CATEGORIES.values())})", r, lay.texts[lay.cat])
                current = "?"
                continue
        elif lay.meas is None:
            continue  # wide layout: a row without a category is not data
        if current is None:
            issue("error", "a row without a case type above it", r, lay.texts[lay.cat])
            continue
        if current == "?":
            continue
        items = (_long_items(r, cell, lay, current, issue) if lay.meas is not None
                 else [(mid, cell(j), t) for j, (mid, _, t) in lay.wide.items()])
        for mid, raw, colname in items:
            x, problem = _number(raw)
            if problem:
                issue("error", problem, r, colname, current, mid)
            recs.append(dict(category=current, measure=mid, value=np.nan if problem or x is None else x, row=r,
                             column=colname, bad=problem is not None))
    return pd.DataFrame(recs, columns=["category", "measure", "value", "row", "column", "bad"])


def _drop_inapplicable(records: pd.DataFrame, issue) -> pd.DataFrame:
    """Wide layout: measures that do not apply to a category (e.g. 案值 of rulings) must be blank."""
    keep = [(c, m) in set(EXPECTED) or c == "total" for c, m in zip(records.category, records.measure)]
    for rec in records[[not k for k in keep]].itertuples():
        if not np.isnan(rec.value):
            issue("error", f"{CATEGORIES.get(rec.category, rec.category)} has no {MEASURES[rec.measure][0]}; "
                  "leave the cell blank", rec.row, rec.column, rec.category, rec.measure)
    return records[keep]


def read_case_table(path: str | Path, *, unit: str | None = None, year: int | None = None,
                    period: str | None = None, units=None) -> CaseTable:
    """Read one case-statistics table (see the module docstring). Cell problems become ``issues``; a file
    whose layout cannot be recognised, or whose unit/year/period cannot be determined, raises InputError.
    ``units`` (a study's :class:`~surveykit.units.UnitSet`): recognise them in titles and file names, as ids."""
    path = Path(path)
    grid = _grid(path)
    head_k = _header_index(grid, path)
    title = " ".join(str(c) for _, cells in grid[:head_k] for c in cells if c is not None)
    meta = _table_meta(path, title, _given_meta(path, unit, year, period, units), units)
    lay = _layout(grid[head_k], path)
    issues: list[dict] = []
    f = str(path)

    def issue(sev, msg, row=None, col=None, category=None, measure=None):
        issues.append(dict(severity=sev, file=f, row=row, column=col, unit=meta["unit"], year=meta["year"],
                           period=meta["period"], category=category, measure=measure, message=msg))

    records = _read_records(grid[head_k + 1:], lay, issue)
    if lay.meas is None:
        records = _drop_inapplicable(records, issue)
    return CaseTable(f, meta["unit"], meta["year"], meta["period"], records.reset_index(drop=True), issues)


# --- checks ---------------------------------------------------------------------------------------------------


@dataclass
class CaseCheck:
    """The checks of a set of tables: ``log`` (severity, file, row, column, unit, year, period, category, measure,
    message), ``ok`` (no errors), :meth:`summary`."""

    tables: list[CaseTable]
    log: pd.DataFrame

    @property
    def errors(self) -> pd.DataFrame:
        return self.log[self.log.severity == "error"]

    @property
    def warnings(self) -> pd.DataFrame:
        return self.log[self.log.severity == "warning"]

    @property
    def ok(self) -> bool:
        return len(self.errors) == 0

    def summary(self) -> str:
        n_t = len(self.tables)
        head = (f"{n_t} case table(s) checked: {len(self.errors)} error(s), {len(self.warnings)} warning(s)")
        lines = [head]
        for r in self.log.head(20).itertuples():
            where = ", ".join(x for x in [r.file, f"row {int(r.row)}" if pd.notna(r.row) else None,
                                          f"column '{r.column}'" if isinstance(r.column, str) else None] if x)
            lines.append(f"  {r.severity}: {where}: {r.message}")
        if len(self.log) > 20:
            lines.append(f"  ... and {len(self.log) - 20} more (write the log with --log)")
        return "\n".join(lines)

    def first_error(self) -> InputError:
        e = self.errors.iloc[0]
        return InputError(str(e.message) + (f" ({len(self.errors) - 1} more error(s): run `surveykit cases validate`)"
                                             if len(self.errors) > 1 else ""),
                          file=e.file, row=int(e.row) if pd.notna(e.row) else None,
                          column=e.column if isinstance(e.column, str) else None)


LOG_COLUMNS = ["severity", "file", "row", "column", "unit", "year", "period", "category", "measure", "message"]


def _finding(t: CaseTable, severity: str, message: str, row=None, column=None, category=None,
             measure=None) -> dict:
    return dict(severity=severity, file=t.path, row=row, column=column, unit=t.unit, year=t.year, period=t.period,
                category=category, measure=measure, message=message)


def _at(t: CaseTable, severity: str, message: str, category: str, measure: str) -> dict:
    """A finding located at the cell of ``(category, measure)``."""
    return _finding(t, severity, message, *t.where(category, measure), category, measure)


def _check_rows(t: CaseTable, seen: pd.Series) -> list[dict]:
    """A row given twice, an expected row missing."""
    out = []
    rec = t.records
    for (c, m), n in seen.items():
        if n > 1:
            rows = rec[(rec.category == c) & (rec.measure == m)].row.tolist()
            out.append(_finding(t, "error", f"{CATEGORIES[c]} {MEASURES[m][0]} appears twice (rows {rows[0]} and "
                                f"{rows[1]})", int(rows[1]), None, c, m))
    for c, m in EXPECTED:
        if (c, m) not in seen.index:
            out.append(_finding(t, "error", f"the row {CATEGORIES[c]} / {MEASURES[m][0]}（{MEASURES[m][1]}） is "
                                "missing", None, None, c, m))
    return out


def _check_numbers(t: CaseTable, present: set) -> list[dict]:
    """Counts blank, negative or fractional; amounts negative; amounts blank with cases, or given without."""
    out = []
    for c, m in EXPECTED:
        if (c, m) not in present:
            continue
        x = t.value(c, m)
        name = f"{CATEGORIES[c]} {MEASURES[m][0]}"
        if m in COUNTS and np.isnan(x):
            out.append(_at(t, "error", f"{name} is blank (enter 0 when there were none)", c, m))
        elif not np.isnan(x) and x < 0:
            out.append(_at(t, "error", f"{name} is negative ({x:g})", c, m))
        elif m in COUNTS and x != round(x):
            out.append(_at(t, "error", f"{name} must be a whole number of cases (found {x:g})", c, m))
    for c in ENFORCEMENT:
        n = t.value(c, "cases")
        for m in ("value", "fines"):
            if np.isnan(n) or (c, m) not in present:
                continue
            x = t.value(c, m)
            if n > 0 and np.isnan(x):
                out.append(_at(t, "error", f"{CATEGORIES[c]}: {int(n)} case(s) but {MEASURES[m][0]} is blank (enter "
                               "the amount in 万元, 0 if none)", c, m))
            elif n == 0 and not np.isnan(x) and x > 0:
                out.append(_at(t, "warning", f"{CATEGORIES[c]}: {MEASURES[m][0]} {x:g} 万元 reported with 0 cases",
                               c, m))
    return out


def _check_sums(t: CaseTable, tolerance: float, slack: int) -> list[dict]:
    """Closed rulings far above filed ones; a 合计 row that does not add up."""
    out = []
    filed, closed = t.value("patent_ruling", "cases"), t.value("patent_ruling", "closed")
    if not (np.isnan(filed) or np.isnan(closed)) and closed > (1 + tolerance) * filed and closed - filed > slack:
        out.append(_at(t, "warning", f"专利侵权纠纷行政裁决: {int(closed)} closed but only {int(filed)} filed -- "
                       "closing a backlog is normal, this much is unusual: please confirm", "patent_ruling", "closed"))
    for r in t.records[t.records.category == "total"].itertuples():
        cats = ("patent_ruling",) if r.measure == "closed" else ENFORCEMENT
        s = sum(t.value(c, r.measure) for c in cats if not np.isnan(t.value(c, r.measure)))
        if not np.isnan(r.value) and abs(s - r.value) > 1e-6 * max(1.0, abs(s)):
            out.append(_finding(t, "warning", f"合计 {MEASURES[r.measure][0]} is {r.value:g} but the rows add up to "
                                f"{s:g}", int(r.row), r.column, "total", r.measure))
    return out


def _check_across(tables: list[CaseTable]) -> list[dict]:
    """The same district/year/period twice; a half-year figure above the full-year one."""
    out, key = [], {}
    for t in tables:
        k = (t.unit, t.year, t.period)
        if k in key:
            out.append(_finding(t, "error", f"{t.unit} {t.year} {t.period} is also in {key[k].path}"))
        else:
            key[k] = t
    for (u, y, p), h1 in key.items():
        if p != "H1" or (u, y, "FY") not in key:
            continue
        fy = key[(u, y, "FY")]
        for c, m in EXPECTED:
            a, b = h1.value(c, m), fy.value(c, m)
            if not (np.isnan(a) or np.isnan(b)) and a > b + 1e-9:
                out.append(_at(fy, "error", f"{CATEGORIES[c]} {MEASURES[m][0]}: full year {b:g} is below the half "
                               f"year {a:g} ({h1.path})", c, m))
    return out


def check_case_tables(tables: list[CaseTable], *, closed_tolerance: float = 0.5, closed_slack: int = 5) -> CaseCheck:
    """Check the tables one by one and against each other (see the module docstring)."""
    log: list[dict] = []
    for t in tables:
        rec = t.records
        seen = rec[rec.category != "total"].groupby(["category", "measure"]).size()
        present = set(seen.index) - set(zip(rec[rec.bad].category, rec[rec.bad].measure))
        log += t.issues + _check_rows(t, seen) + _check_numbers(t, present)
        log += _check_sums(t, closed_tolerance, closed_slack)
    log += _check_across(tables)
    df = pd.DataFrame(log, columns=LOG_COLUMNS)
    df["row"] = df["row"].astype("Int64")
    return CaseCheck(tables, df)


def read_case_tables(paths, **meta) -> list[CaseTable]:
    """Read every table among ``paths`` (files, or folders whose .xlsx/.csv files are read in name order)."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files += sorted(x for x in p.iterdir() if x.suffix.lower() in (".xlsx", ".csv") and not x.name.startswith("~$"))
        else:
            files.append(p)
    if not files:
        raise InputError("no case tables found (.xlsx or .csv)", file=", ".join(map(str, paths)) or None)
    return [read_case_table(f, **meta) for f in files]


# --- the city summary and the derived indicators --------------------------------------------------------------


def case_records(tables: list[CaseTable]) -> pd.DataFrame:
    """All tables as one tidy table: unit, year, period, category, measure, value (blank amounts with 0 cases
    count as 0)."""
    rows = []
    for t in tables:
        for c, m in EXPECTED:
            x = t.value(c, m)
            if np.isnan(x) and m in ("value", "fines") and t.value(c, "cases") == 0:
                x = 0.0
            rows.append(dict(unit=t.unit, year=t.year, period=t.period, category=c, measure=m, value=x))
    return pd.DataFrame(rows)


def derive_indicators(records: pd.DataFrame, entities: pd.DataFrame | None = None, period: str = "FY") -> pd.DataFrame:
    """Indicators per unit and year from the tables of ``period`` (long format: unit, year, indicator, value).

    ``admin_cases`` (cases of the five enforcement types), ``admin_case_value`` and ``admin_fines`` (万元),
    ``fines_per_case`` (万元 per case; missing when there were no cases), ``trademark_cases`` (infringement +
    other violations), ``counterfeit_patent_cases``, ``ruling_filed``, ``ruling_closed``,
    ``ruling_closing_rate`` (``100 * closed / filed``; can exceed 100 when a backlog is closed; missing with
    nothing filed) and, when ``entities`` (a values table with ``market_entities``) is given,
    ``admin_cases_per_10k`` (``admin_cases / market_entities * 10000``).
    """
    r = records[records.period == period]
    out = []
    for (u, y), g in r.groupby(["unit", "year"], sort=False):
        v = {(c, m): x for c, m, x in zip(g.category, g.measure, g.value)}
        cases = sum(v[(c, "cases")] for c in ENFORCEMENT)
        amount = sum(v[(c, "value")] for c in ENFORCEMENT)
        fines = sum(v[(c, "fines")] for c in ENFORCEMENT)
        filed, closed = v[("patent_ruling", "cases")], v[("patent_ruling", "closed")]
        d = {"admin_cases": cases, "admin_case_value": amount, "admin_fines": fines,
             "fines_per_case": fines / cases if cases > 0 else np.nan,
             "trademark_cases": v[("trademark_infringement", "cases")] + v[("trademark_other", "cases")],
             "counterfeit_patent_cases": v[("counterfeit_patent", "cases")],
             "ruling_filed": filed, "ruling_closed": closed,
             "ruling_closing_rate": 100.0 * closed / filed if filed > 0 else np.nan}
        if entities is not None:
            e = entities[(entities.unit == u) & (entities.year == y) & (entities.indicator == "market_entities")]
            n = float(e.value.iloc[0]) if len(e) else np.nan
            d["admin_cases_per_10k"] = cases / n * 10000 if n and n > 0 else np.nan
        out += [dict(unit=u, year=int(y), indicator=k, value=round(float(x), 8)) for k, x in d.items()]
    df = pd.DataFrame(out, columns=["unit", "year", "indicator", "value"])
    return df.sort_values("year", kind="stable").reset_index(drop=True)   # units in the order of the tables


def city_summary(records: pd.DataFrame, period: str = "FY", lang: str = "zh") -> pd.DataFrame:
    """The city summary table of one period: one row per unit and year plus the total (合计), one
    column per case type and item (``假冒专利/案件数（件）`` ...), and the ruling closing rate."""
    r = records[records.period == period].copy()
    if r.empty:
        return pd.DataFrame()
    cat = CATEGORIES if lang == "zh" else CATEGORIES_EN
    r["col"] = [f"{cat[c]}/{MEASURES[m][0]}（{MEASURES[m][1]}）" if lang == "zh" else f"{cat[c]} / {MEASURES_EN[m]}"
                for c, m in zip(r.category, r.measure)]
    cols = list(dict.fromkeys(r.col))
    wide = r.pivot_table(index=["year", "unit"], columns="col", values="value", aggfunc="sum", sort=False)
    wide = wide.reindex(columns=cols).reset_index()
    wide = wide.sort_values("year", kind="stable")   # units in the order of the tables
    parts = []
    total_name = "合计" if lang == "zh" else "Total"
    for y, g in wide.groupby("year", sort=True):
        tot = g[cols].sum(numeric_only=True)
        parts += [g, pd.DataFrame([{"year": y, "unit": total_name, **tot.to_dict()}])]
    out = pd.concat(parts, ignore_index=True)
    fcol = f"{cat['patent_ruling']}/{MEASURES['cases'][0]}（件）" if lang == "zh" else f"{cat['patent_ruling']} / cases"
    ccol = f"{cat['patent_ruling']}/{MEASURES['closed'][0]}（件）" if lang == "zh" else f"{cat['patent_ruling']} / closed"
    rate = "结案率（%）" if lang == "zh" else "Closing rate (%)"
    out[rate] = (100 * out[ccol] / out[fcol].where(out[fcol] > 0)).round(1)
    return out.rename(columns={"year": "年度" if lang == "zh" else "year", "unit": "单位" if lang == "zh" else "unit"})


def compile_cases(tables: list[CaseTable], entities: pd.DataFrame | None = None,
                  period: str = "FY") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check the tables and, when there is no error, return ``(summary, indicators)``: the city summary table of
    ``period`` and the derived indicators (long format). The first error raises InputError (file, row, column)."""
    check = check_case_tables(tables)
    if not check.ok:
        raise check.first_error()
    rec = case_records(tables)
    if not (rec.period == period).any():
        raise InputError(f"no {period} ({PERIODS[period][1]}) tables among the {len(tables)} given")
    return city_summary(rec, period), derive_indicators(rec, entities, period)


# --- writing (demo data and templates) ------------------------------------------------------------------------


def table_rows(values: dict[tuple[str, str], float | None]) -> list[tuple[str, str, float | None]]:
    """The rows (case type, item, number) of the long layout for ``{(category, measure): number}``."""
    rows = []
    for c, m in EXPECTED:
        rows.append((CATEGORIES[c], f"{MEASURES[m][0]}（{MEASURES[m][1]}）", values.get((c, m))))
    return rows


def write_case_table(path: str | Path, unit: str, year: int, period: str,
                     values: dict[tuple[str, str], float | None]) -> Path:
    """Write a table in the city's long layout (title row; category cells merged in XLSX), .xlsx or .csv."""
    path = Path(path)
    title = f"{unit}知识产权行政保护案件统计表（{year}年{PERIODS[period][0]}）"
    header = ("案件类型", "统计项目", "数量")
    rows = table_rows(values)
    if path.suffix.lower() == ".csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([inert(title), "", ""])
        w.writerow(header)
        last = None
        for c, m, x in rows:
            w.writerow([inert("" if c == last else c), inert(m),
                        "" if x is None else (int(x) if float(x).is_integer() else x)])
            last = c
        path.write_text(buf.getvalue(), encoding="utf-8-sig")
        return path
    import openpyxl
    from openpyxl.styles import Alignment, Font

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = f"{year}{PERIODS[period][0]}"
    ws.append([title])
    ws.merge_cells("A1:C1")
    ws["A1"].font = Font(bold=True)
    ws.append(list(header))
    start, last = None, None
    for k, (c, m, x) in enumerate(rows):
        r = k + 3
        ws.append([c if c != last else None, m, x])
        if c != last:
            if start is not None and r - 1 > start:
                ws.merge_cells(start_row=start, start_column=1, end_row=r - 1, end_column=1)
            start, last = r, c
    if start is not None and len(rows) + 2 > start:
        ws.merge_cells(start_row=start, start_column=1, end_row=len(rows) + 2, end_column=1)
    for row in ws.iter_rows(min_row=3, max_col=1):
        row[0].alignment = Alignment(vertical="center")
    ws.column_dimensions["A"].width = 32
    ws.column_dimensions["B"].width = 16
    for row in ws.iter_rows():
        protect_cells(row)
    wb.save(path)
    return path
