"""Readers for survey exports: CSV (UTF-8, UTF-8 with BOM, UTF-16, GBK/GB18030), XLSX, SPSS .sav.

Every reader says where each row came from, so that any later message can name the file and the row as the user
sees it (in Excel, in a text editor, in SPSS): :func:`read_source` returns the table and a
:class:`~surveykit.io.provenance.Provenance`; :func:`read_table` (and ``read_csv``/``read_xlsx``/``read_sav``)
return the table with the same facts in its ``attrs``:

* ``attrs["source"]``: the file path as given;
* ``attrs["file_rows"]``: for each data row, its 1-based row number in the file -- header row(s) counted, the
  line where the record starts for CSV (a quoted cell may span lines), the Excel row number for XLSX, the case
  number for .sav (what SPSS's Data View shows; a .sav has no header row);
* ``attrs["encoding"]`` (``utf-8``, ``utf-8-bom``, ``utf-16``, ``gbk``, ``gb18030``; ``xlsx``; the .sav's own),
  ``attrs["delimiter"]`` (CSV), ``attrs["sheet"]``, ``attrs["header_rows"]`` (file rows of the header) and
  ``attrs["engine"]`` (XLSX), ``attrs["value_labels"]`` / ``attrs["column_labels"]`` (.sav; used by mapping),
  ``attrs["header_parts"]`` (column -> the texts of its header cells, outermost first, when the header has
  several rows), ``attrs["formulas"]`` (XLSX: ``{(position, column): formula}`` for formula cells; the value
  read is Excel's last computed value, ``None`` when the file holds none),
  ``attrs["empty_rows"]`` (completely blank rows among the data: *kept*, the quality step's ``empty_row`` rule
  accounts for them), ``attrs["trailing_blank_rows"]`` (blank rows after the last data row, which are not data),
  ``attrs["empty_rows_dropped"]`` (always 0 now; kept for readers of older manifests).

Readers are faithful: cells keep their values. Two lossless normalisations only: a column whose every non-blank
cell is a plain number (or a number stored as text) becomes numeric -- unless a value has leading zeros such as
an id ``007`` --, and a column with neither a header nor any value is left out. Everything else (labels, blanks
around values, full-width digits, dates in answer columns) is the business of :mod:`surveykit.mapping` and
:mod:`surveykit.quality`, which log what they do.

Problems (missing, empty, unreadable, truncated or ragged files, mixed encodings, duplicate column names, empty
sheets, a header without data) raise :class:`~surveykit.errors.InputError` naming the file, row and column.
Resources are bounded before the cells are read (:mod:`surveykit.io.limits`): a sheet's extent (rows x columns)
and the number of columns of any file.

XLSX engine: ``python-calamine`` (Rust) when installed -- it reads a 200,000-row export in seconds -- otherwise
openpyxl in read-only mode (about 20 times slower). Formulas, merged header cells and the sheet's extent are read
from the sheet's XML directly (:mod:`surveykit.io.sheetxml`), identically for both engines.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from functools import partial
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .limits import Limits, file_size
from .provenance import Provenance
from .sheetxml import HUGE, SheetScan, col_index, col_letters, scan_sheet

__all__ = ["blank_rows", "col_index", "col_letters", "read_csv", "read_sav", "read_source", "read_table",
           "read_xlsx"]

DELIMITERS = ",;\t|"
# cells read as missing in CSV: blank, and the usual "not available" spellings of R, Excel and databases
NA_TOKENS = ["", "NA", "N/A", "#N/A", "NULL", "null", "NaN", "nan"]
_NA_SET = frozenset(NA_TOKENS)
MAX_HEADER_ROWS = 6
# a plain number: optional sign, digits, optional decimals or exponent; no leading zeros ("007" is an id, not 7)
_PLAIN_NUMBER = r"[+-]?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|[+-]?\.\d+"
_PLAIN_RE = re.compile(_PLAIN_NUMBER)


# --- entry points --------------------------------------------------------------------------------------------
def read_source(path: str | Path, *, sheet: str | int | None = None, header_rows: int | None = None,
                limits: Limits | None = None) -> tuple[pd.DataFrame, Provenance]:
    """Read a response or indicator table by its extension (.csv/.txt/.tsv, .xlsx/.xlsm, .sav): the table and
    where its rows came from.

    Parameters
    ----------
    path : the file.
    sheet : XLSX only: a sheet name or 0-based index; default the first sheet.
    header_rows : number of header rows (default: 1 for CSV; for XLSX 1, or more when the top rows hold merged
        cells -- e.g. a merged question title above its sub-questions). Not used for .sav.
    limits : the largest table read (default :meth:`Limits.from_env`: the defaults, or the environment's
        ``SURVEYKIT_MAX_CELLS`` / ``SURVEYKIT_MAX_COLUMNS``).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=path)
    if path.is_dir():
        raise InputError("is a folder, not a file", file=path)
    if path.stat().st_size == 0:
        raise InputError("the file is empty (0 bytes)", file=path)
    if header_rows is not None and not (1 <= int(header_rows) <= MAX_HEADER_ROWS):
        raise InputError(f"header rows must be between 1 and {MAX_HEADER_ROWS} (got {header_rows})", file=path)
    limits = limits or Limits.from_env()
    ext = path.suffix.lower()
    if ext in (".csv", ".txt", ".tsv"):
        return _csv(path, header_rows, limits)
    if ext in (".xlsx", ".xlsm"):
        return _xlsx(path, sheet, header_rows, None, limits)
    if ext == ".sav":
        return _sav(path, limits)
    if ext == ".xls":
        if _calamine() is None:
            raise InputError("old Excel .xls files are read only with the python-calamine package; save the file "
                             "as .xlsx or CSV", file=path)
        return _xlsx(path, sheet, header_rows, None, limits)
    raise InputError(f"unknown file type '{ext}' (expected .csv, .xlsx or .sav)", file=path)


def read_table(path: str | Path, *, sheet: str | int | None = None, header_rows: int | None = None,
               limits: Limits | None = None) -> pd.DataFrame:
    """:func:`read_source`, with the provenance in the table's ``attrs`` (see the module docstring)."""
    df, prov = read_source(path, sheet=sheet, header_rows=header_rows, limits=limits)
    return prov.attach(df)


def read_csv(path: str | Path, *, header_rows: int | None = None, limits: Limits | None = None) -> pd.DataFrame:
    """CSV with encoding (UTF-8, BOM, UTF-16, GBK, GB18030) and delimiter detection; CRLF line ends are fine.
    The provenance is in ``attrs``."""
    df, prov = _csv(Path(path), header_rows, limits or Limits.from_env())
    return prov.attach(df)


def read_xlsx(path: str | Path, *, sheet: str | int | None = None, header_rows: int | None = None,
              engine: str | None = None, limits: Limits | None = None) -> pd.DataFrame:
    """A sheet of an Excel workbook (the first, or ``sheet``); the provenance is in ``attrs``.

    The header is the first non-blank row (a lone title cell above the header is skipped), plus the rows below
    it that merged header cells span: a question title merged across its sub-questions makes the row below part
    of the header, and a column's name joins its header cells with `` / `` (``attrs['header_parts']`` keeps the
    pieces for matching). ``header_rows`` overrides the count. ``engine``: ``calamine`` or ``openpyxl`` (default:
    calamine when installed).
    """
    df, prov = _xlsx(Path(path), sheet, header_rows, engine, limits or Limits.from_env())
    return prov.attach(df)


def read_sav(path: str | Path) -> pd.DataFrame:
    """SPSS .sav via pyreadstat: codes as stored; value labels in ``attrs['value_labels']`` (used by mapping),
    variable labels (often the question text) in ``attrs['column_labels']``; ``file_rows`` are case numbers."""
    df, prov = _sav(Path(path))
    return prov.attach(df)


# --- CSV -----------------------------------------------------------------------------------------------------
def _decode(path: Path) -> tuple[str, str]:
    """The text of a CSV file and the encoding found: BOMs first, then UTF-8, then GBK, then GB18030.

    A file whose lines are partly UTF-8 (with Chinese text) and partly not is refused: decoding it either way would
    garble some rows without a word (GB18030 accepts almost any bytes).
    """
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        return _strict(raw[3:], "utf-8", path), "utf-8-bom"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" is UTF-16 with a BOM, tab-delimited
        return _strict(raw, "utf-16", path), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    lines = raw.split(b"\n")
    utf8_line = None
    for k, line in enumerate(lines, start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8_line = utf8_line or k
        except UnicodeDecodeError:
            if utf8_line is not None:
                raise InputError(f"mixed text encodings: row {utf8_line} is UTF-8 but this row is not (GBK?); save "
                                 "the whole file again with one encoding", file=path, row=k) from None
            bad_line = k
            break
    else:  # pragma: no cover - the whole-file decode failed, so some line fails
        bad_line = raw[:first_bad].count(b"\n") + 1
    # from here on no UTF-8 line with non-ASCII text came before the first non-UTF-8 one
    for enc in ("gbk", "gb18030"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError as exc:
            last = exc
            continue
        # a later line that is valid UTF-8 with Chinese text while earlier ones were GBK: mixed as well
        for k in range(bad_line + 1, len(lines) + 1):
            line = lines[k - 1]
            if not line.isascii() and _looks_utf8_cjk(line):
                raise InputError(f"mixed text encodings: row {bad_line} is GBK but this row is UTF-8; save the whole "
                                 "file again with one encoding", file=path, row=k)
        return text, enc
    line = raw[: last.start].count(b"\n") + 1  # type: ignore[possibly-undefined]
    raise InputError(f"cannot decode the text (not UTF-8 and not GBK/GB18030; byte {last.start})",  # type: ignore
                     file=path, row=line)


def _looks_utf8_cjk(line: bytes) -> bool:
    """True when the line is valid UTF-8 and holds CJK characters (GBK text almost never is valid UTF-8)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _strict(raw: bytes, enc: str, path: Path) -> str:
    try:
        return raw.decode(enc)
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot decode the text as {enc} (byte {exc.start})", file=path,
                         row=raw[: exc.start].count(b"\n") + 1) from None


def _delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the same number (> 1) of fields; ties favour the comma."""
    sample = []
    for line in io.StringIO(text):
        if line.strip():
            sample.append(line)
        if len(sample) >= 30:
            break
    best, best_key = ",", (0, 0)
    for d in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(sample, delimiter=d)]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts)
        key = (consistent, counts[0])
        if key > best_key:
            best, best_key = d, key
    return best


def _csv(path: Path, header_rows: int | None, limits: Limits) -> tuple[pd.DataFrame, Provenance]:
    text, encoding = _decode(path)
    if not text.strip():
        raise InputError("the file holds no data (only blanks)", file=path)
    delim = _delimiter(text)
    rows, starts = _records(path, text, delim, limits)
    df, prov = _frame(path, rows, starts, header_rows=header_rows or 1, kind="csv", na_tokens=True)
    return df, prov.replace(encoding=encoding, delimiter=delim)


def _records(path: Path, text: str, delim: str, limits: Limits) -> tuple[list[list[str]], list[int]]:
    """The records of a CSV text and the line where each starts; a record wider than the column limit stops."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
    rows: list[list[str]] = []
    starts: list[int] = []
    line = 1
    try:
        for rec in reader:
            if len(rec) > limits.max_columns:
                limits.check_columns(len(rec), path, row=line)
            rows.append(rec)
            starts.append(line)
            line = reader.line_num + 1
    except csv.Error as exc:
        msg = str(exc)
        if "unexpected end of data" in msg:
            raise InputError("the file ends inside a quoted cell: it may be truncated, or a quote is not closed",
                             file=path, row=line) from None
        raise InputError(f"malformed CSV quoting ({msg})", file=path, row=line) from None
    return rows, starts


# --- XLSX ----------------------------------------------------------------------------------------------------
def _calamine():
    """The python-calamine module, or None (not installed, or SURVEYKIT_XLSX_ENGINE=openpyxl)."""
    if os.environ.get("SURVEYKIT_XLSX_ENGINE", "").lower() == "openpyxl":
        return None
    try:
        import python_calamine
    except ImportError:  # optional accelerator
        return None
    return python_calamine


def _xlsx(path: Path, sheet, header_rows: int | None, engine: str | None,
          limits: Limits) -> tuple[pd.DataFrame, Provenance]:
    engine = engine or ("calamine" if _calamine() is not None else "openpyxl")
    xls = path.suffix.lower() == ".xls"  # bounded by its format (65,536 x 256): no XML to scan
    if xls:
        engine = "calamine"
    if engine not in ("calamine", "openpyxl"):
        raise ValueError(f"unknown engine {engine!r}")
    book = _Book(path, engine)
    try:
        name = _sheet_name(book.names, sheet, path)
        check = partial(_check_extent, limits, path, name)
        scan = SheetScan() if xls else scan_sheet(path, name, check)
        rows, row0, col0 = book.rows(name)
    finally:
        book.close()
    if not rows or not any(_has_value(v) for r in rows for v in r):
        others = [n for n in book.names if n != name]
        hint = f" (other sheets: {', '.join(others)}; choose one with --sheet)" if others and sheet is None else ""
        raise InputError(f"sheet '{name}' is empty{hint}", file=path)
    starts = list(range(row0 + 1, row0 + 1 + len(rows)))
    df, prov = _frame(path, rows, starts, header_rows=header_rows, kind="xlsx", merged=scan.merged, col0=col0,
                      formulas=scan.formulas)
    return df, prov.replace(sheet=str(name), encoding="xlsx", engine=engine)


def _check_extent(limits: Limits, path: Path, sheet: str, rows: int, columns: int) -> None:
    if max(rows, columns) >= HUGE:
        raise InputError(f"sheet '{sheet}' has a cell reference beyond the size of any worksheet (file of "
                         f"{file_size(path)}): the file is damaged, or not what it claims to be", file=path)
    corner = f"{col_letters(max(columns, 1) - 1)}{rows}"
    limits.check_extent(rows, columns, path, where=f"sheet '{sheet}' reaches cell {corner}")


def _sheet_name(names: list[str], sheet, path: Path) -> str:
    if sheet is None:
        return names[0]
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise InputError(f"no sheet number {sheet} (the workbook has {len(names)})", file=path)
        return names[sheet]
    if sheet not in names:
        raise InputError(f"no sheet '{sheet}' (sheets: {', '.join(names)})", file=path)
    return sheet


def _unreadable(path: Path, exc: Exception) -> InputError:
    kind = type(exc).__name__
    detail = " (the file is damaged or truncated)" if isinstance(exc, zipfile.BadZipFile) or "zip" in str(exc).lower() \
        else ""
    return InputError(f"not a readable Excel workbook{detail or ' (' + kind + ')'}", file=path)


class _Book:
    """An open workbook (calamine or openpyxl): its sheet names, then the rows of one sheet. The engine's own
    errors for a damaged file become an :class:`InputError`."""

    def __init__(self, path: Path, engine: str):
        self.path, self.engine = path, engine
        try:
            if engine == "calamine":
                pc = _calamine()
                if pc is None:
                    raise InputError("reading this file needs the python-calamine package", file=path)
                self.book = pc.CalamineWorkbook.from_path(str(path))
                self.names = [m.name for m in self.book.sheets_metadata
                              if str(m.typ).endswith("WorkSheet")] or list(self.book.sheet_names)
            else:
                import openpyxl  # the fallback engine: imported only when used

                self.book = openpyxl.load_workbook(path, read_only=True, data_only=True)
                self.names = list(self.book.sheetnames)
        except InputError:
            raise
        except Exception as exc:  # each engine raises its own error types for corrupt files
            raise _unreadable(path, exc) from None

    def rows(self, name: str) -> tuple[list[list], int, int]:
        """The sheet's rows and the (row, column) of its first cell, 0-based."""
        try:
            if self.engine == "calamine":
                sh = self.book.get_sheet_by_name(name)
                start = sh.start or (0, 0)
                return sh.to_python(skip_empty_area=True), int(start[0]), int(start[1])
            ws = self.book[name]
            if not hasattr(ws, "iter_rows"):  # a chart sheet
                raise InputError(f"sheet '{name}' holds no cells (a chart sheet?)", file=self.path)
            return [list(r) for r in ws.iter_rows(values_only=True)], 0, 0
        except InputError:
            raise
        except Exception as exc:
            raise _unreadable(self.path, exc) from None

    def close(self) -> None:
        if self.engine == "openpyxl":
            self.book.close()


# --- SPSS ----------------------------------------------------------------------------------------------------
def _sav(path: Path, limits: Limits | None = None) -> tuple[pd.DataFrame, Provenance]:
    try:
        import pyreadstat
    except ImportError:  # pragma: no cover - pyreadstat is a dependency
        raise InputError("reading .sav needs the pyreadstat package", file=path) from None
    try:
        _, head = pyreadstat.read_sav(str(path), metadataonly=True)
        limits = limits or Limits.from_env()
        limits.check_extent(max(head.number_rows or 0, 0), head.number_columns or 0, path,
                            where="the .sav file is larger than the limit")
        df, meta = pyreadstat.read_sav(str(path))
    except InputError:
        raise
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"not a readable SPSS .sav file ({reason})", file=path) from None
    if df.shape[1] == 0:
        raise InputError("the .sav file has no variables", file=path)
    if len(df) == 0:
        raise InputError("the .sav file has variables but no cases (no data rows)", file=path)
    df.columns = [str(c) for c in df.columns]
    df = _integral_floats(df)
    prov = Provenance(source=str(path), file_rows=np.arange(len(df), dtype=np.int64) + 1,
                      encoding=meta.file_encoding or "sav",
                      value_labels={str(k): dict(v) for k, v in (meta.variable_value_labels or {}).items()},
                      column_labels={str(k): v for k, v in zip(meta.column_names, meta.column_labels) if v},
                      empty_rows=int(blank_rows(df).sum()), trailing_blank_rows=0, empty_rows_dropped=0)
    return df, prov


# --- shared: header, blank rows, types -----------------------------------------------------------------------
def _has_value(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, str):
        return v.strip() != ""
    if isinstance(v, float):
        return v == v
    return True


def blank_rows(df: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is blank (missing, or a text of only whitespace).

    Column by column, only the rows still blank so far are looked at: after the first well-filled column (an id,
    a timestamp) almost none are left, so this costs one vectorised missing-value test per column.
    """
    cand = np.ones(len(df), dtype=bool)
    for c in df.columns:
        s = df[c]
        na = s.isna().to_numpy()
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            idx = np.flatnonzero(cand & ~na)
            if len(idx):
                vals = s.to_numpy(dtype=object)[idx]
                filled = np.fromiter((_has_value(v) for v in vals), dtype=bool, count=len(idx))
                cand[idx[filled]] = False
        else:
            cand &= na
        if not cand.any():
            break
    return cand


def _header_block(rows: list[list], first: int, merged: Sequence[tuple[int, int, int, int]], row0: int,
                  col0: int) -> int:
    """How many rows from ``first`` form the header: 1, plus the rows that merged header cells span.

    A cell merged across columns (a question title over its sub-questions) means the row below holds the
    sub-headers; a cell merged down spans header rows itself. (Rows and columns of ``merged`` are absolute.)
    """
    top = row0 + first
    h = 1
    changed = True
    while changed and h < MAX_HEADER_ROWS:
        changed = False
        for r1, c1, r2, c2 in merged:
            if top <= r1 < top + h:
                need = (r2 - top + 1) + (1 if c2 > c1 else 0)
                if need > h:
                    h = min(need, MAX_HEADER_ROWS)
                    changed = True
    return min(h, len(rows) - first)


def _n(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


def _cell_text(v: Any) -> str:
    if not _has_value(v):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return " ".join(str(v).split())


def _frame(path: Path, rows: list[list], starts: list[int], *, header_rows: int | None, kind: str,
           merged: Sequence[tuple[int, int, int, int]] = (), col0: int = 0,
           formulas: dict[tuple[int, int], str] | None = None,
           na_tokens: bool = False) -> tuple[pd.DataFrame, Provenance]:
    """Header + data rows -> DataFrame and provenance (shared by the CSV and XLSX readers)."""
    first, h = _header_at(path, rows, starts, header_rows, kind, merged, col0)
    header, body, body_starts = rows[first:first + h], rows[first + h:], starts[first + h:]
    header_at = list(starts[first:first + h])
    width = _width(path, header, body, body_starts, kind)
    grid = _header_grid(header, width, merged, header_at[0] - 1, col0)
    names, keep_cols, parts_of = _column_names(grid, body, width, kind, col0)
    _check_unique(path, names, keep_cols, header_at, kind, col0)
    body, body_starts, trailing = _data_rows(path, body, body_starts, header_at)
    df = _table(body, width, keep_cols, names, na_tokens)
    formula_cells = _formula_cells(formulas or {}, body_starts, keep_cols, names, col0)
    prov = Provenance(source=str(path), file_rows=np.asarray(body_starts, dtype=np.int64),
                      header_rows=tuple(header_at), trailing_blank_rows=int(trailing), empty_rows_dropped=0,
                      header_parts=parts_of or None, formulas=formula_cells or None,
                      empty_rows=int(blank_rows(df).sum()))
    return df, prov


def _header_at(path: Path, rows: list[list], starts: list[int], header_rows: int | None, kind: str,
               merged: Sequence[tuple[int, int, int, int]], col0: int) -> tuple[int, int]:
    """(index of the first header row, number of header rows)."""
    nonblank = [any(_has_value(v) for v in r) for r in rows]
    if not any(nonblank):
        raise InputError("the file holds no data (only blanks)", file=path)
    first = nonblank.index(True)
    # a lone title cell above the real header (some platforms write the survey's name in A1)
    if (kind == "xlsx" and header_rows is None and first + 1 < len(rows)
            and sum(_has_value(v) for v in rows[first]) == 1
            and sum(_has_value(v) for v in rows[first + 1]) >= 3):
        first += 1
    if header_rows is not None:
        return first, header_rows
    return first, (_header_block(rows, first, merged, starts[0] - 1, col0) if kind == "xlsx" else 1)


def _width(path: Path, header: list[list], body: list[list], body_starts: list[int], kind: str) -> int:
    """The number of columns: the header's; extra cells must be blank (CSV), short rows are padded only if blank.
    XLSX cells right of the header are kept (named by their column letter)."""
    width = max([len(r) for r in header] + [0])
    for k, r in enumerate(body):
        if len(r) > width:
            if any(_has_value(v) for v in r[width:]):
                if kind == "csv":
                    raise InputError(f"{_n(len(r), 'field')} where the header has {width} (wrong delimiter or an "
                                     "unquoted comma?)", file=path, row=body_starts[k])
                width = len(r)
        elif len(r) < width and kind == "csv" and any(_has_value(v) for v in r) and len(r) > 0:
            raise InputError(f"{_n(len(r), 'field')} where the header has {width} (the file may be truncated, or "
                             "this row uses another delimiter)", file=path, row=body_starts[k])
    return width


def _header_grid(header: list[list], width: int, merged: Sequence[tuple[int, int, int, int]], top: int,
                 col0: int) -> list[list[str]]:
    """The header's texts, a merged cell's text repeated over the cells it spans (``top``: absolute row of the
    first header row)."""
    h = len(header)
    grid = [[_cell_text(r[j]) if j < len(r) else "" for j in range(width)] for r in header]
    for r1, c1, r2, c2 in merged:
        for r in range(max(r1, top), min(r2, top + h - 1) + 1):
            i = r - top
            for c in range(max(c1, col0), min(c2, col0 + width - 1) + 1):
                j = c - col0
                if not grid[i][j]:
                    grid[i][j] = grid[r1 - top][c1 - col0] if r1 - top >= 0 else grid[i][j]
    return grid


def _column_names(grid: list[list[str]], body: list[list], width: int, kind: str,
                  col0: int) -> tuple[list[str], list[int], dict[str, tuple[str, ...]]]:
    """Names of the columns kept, their indices, and the header parts of names joined from several rows."""
    names: list[str] = []
    keep_cols: list[int] = []
    parts_of: dict[str, tuple[str, ...]] = {}
    for j in range(width):
        parts: list[str] = []
        for row in grid:
            if row[j] and (not parts or parts[-1] != row[j]):
                parts.append(row[j])
        if not parts and not any(j < len(r) and _has_value(r[j]) for r in body):
            continue  # neither a header nor a value: not a column
        name = " / ".join(parts) if parts else (f"column {col_letters(col0 + j)}" if kind == "xlsx"
                                                 else f"column {j + 1}")
        names.append(name)
        keep_cols.append(j)
        if len(parts) > 1:
            parts_of[name] = tuple(parts)
    return names, keep_cols, parts_of


def _check_unique(path: Path, names: list[str], keep_cols: list[int], header_at: list[int], kind: str,
                  col0: int) -> None:
    seen: dict[str, int] = {}
    for j, name in zip(keep_cols, names):
        if name in seen:
            where = (f"columns {col_letters(col0 + seen[name])} and {col_letters(col0 + j)}" if kind == "xlsx"
                     else f"columns {seen[name] + 1} and {j + 1}")
            raise InputError(f"duplicate column name ({where})", file=path, row=header_at[-1], column=name)
        seen[name] = j


def _data_rows(path: Path, body: list[list], body_starts: list[int],
               header_at: list[int]) -> tuple[list[list], list[int], int]:
    """The data rows without the blank rows after the last one (Excel's used range and final newlines often run
    past the last row: not data), their file rows, and how many were left off."""
    if not body:
        raise InputError(f"the file has a header (row {header_at[0]}"
                         f"{'-' + str(header_at[-1]) if len(header_at) > 1 else ''}) but no data rows", file=path)
    last = len(body)
    while last > 0 and not any(_has_value(v) for v in body[last - 1]):
        last -= 1
    if last == 0:
        raise InputError(f"the file has a header (row {header_at[0]}) but no data rows (only blank rows "
                         "below it)", file=path)
    return body[:last], body_starts[:last], len(body) - last


def _table(body: list[list], width: int, keep_cols: list[int], names: list[str], na_tokens: bool) -> pd.DataFrame:
    """The data rows as a table of typed columns, built at once (an export may have 20,000 columns: setting them
    one by one would cost time in the square of their number)."""
    data = [((list(r) + [None] * (width - len(r))) if len(r) < width else (r if len(r) == width else r[:width]))
            for r in body]
    grid = np.array(data, dtype=object).reshape(len(data), width)
    if len(keep_cols) != width:
        grid = grid[:, keep_cols]
    if na_tokens:
        na = pd.DataFrame(grid, dtype=object).isin(_NA_SET).to_numpy()
        if na.any():
            grid[na] = None
    return pd.DataFrame({name: _typed(grid[:, j]) for j, name in enumerate(names)})


def _formula_cells(formulas: dict[tuple[int, int], str], body_starts: list[int], keep_cols: list[int],
                   names: list[str], col0: int) -> dict[tuple[int, str], str]:
    """Formula cells by (position among the data rows, column name)."""
    if not formulas:
        return {}
    pos_of_row = {r: k for k, r in enumerate(body_starts)}
    name_of_col = dict(zip(keep_cols, names))
    out = {}
    for (r, c), text in formulas.items():
        k = pos_of_row.get(r + 1)
        name = name_of_col.get(c - col0)
        if k is not None and name is not None:
            out[(k, name)] = text
    return out


def _integral_floats(df: pd.DataFrame) -> pd.DataFrame:
    """Float columns whose values are all whole numbers become integers (nullable when blanks exist)."""
    out = {}
    for c in df.columns:
        s = df[c]
        if s.dtype.kind == "f":
            v = s.to_numpy()
            ok = ~np.isnan(v)
            if ok.any() and np.all(v[ok] == np.round(v[ok])) and np.all(np.abs(v[ok]) < 2**53):
                out[c] = s.astype("int64") if ok.all() else s.astype("Int64")
    return df.assign(**out) if out else df


def _typed(arr: np.ndarray) -> Any:
    """A column of plain numbers (or numbers stored as text) becomes numeric (integers when every value is whole:
    ``int64``, or ``Int64`` with blanks); empty strings become missing; anything else is left as read. The values
    are factorised (looked at once each) only when the first ones do not already rule numbers out -- this runs on
    every column of a 200,000-row export."""
    arr = np.array(arr, dtype=object)
    empty = arr == ""
    if empty.any():  # an empty cell (calamine reads it as '')
        arr[empty] = None
    head = [v for v in arr[:200] if v is not None and not (isinstance(v, float) and v != v)]
    if any(not _numberlike(v) for v in head):
        return pd.Series(arr, dtype=object)  # object, as read (not pandas' string type)
    codes, uniq = pd.factorize(arr, use_na_sentinel=True)
    if len(uniq) == 0 or not all(_numberlike(u) for u in uniq):
        return pd.Series(arr, dtype=object)
    vu = np.array([float(u) for u in uniq], dtype=float)
    x = np.where(codes >= 0, vu[np.maximum(codes, 0)], np.nan)
    finite = ~np.isnan(x)
    if finite.any() and np.all(x[finite] == np.round(x[finite])) and np.all(np.abs(x[finite]) < 2**53):
        return x.astype(np.int64) if finite.all() else pd.array(x, dtype="Int64")
    return x


def _numberlike(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float, np.integer, np.floating)):
        return True
    return isinstance(v, str) and _PLAIN_RE.fullmatch(v) is not None
