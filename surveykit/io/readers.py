"""Readers for survey exports: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030), XLSX, SPSS .sav.

Every reader returns a DataFrame whose ``attrs`` say where each row came from, so that any later message can name
the file and the row as the user sees it in Excel:

* ``attrs["source"]``: the file path as given;
* ``attrs["file_rows"]``: for each data row, its 1-based row number in the file (the header is row 1);
* ``attrs["encoding"]``, ``attrs["delimiter"]`` (CSV), ``attrs["sheet"]`` (XLSX).

Problems (missing, empty, unreadable, ragged, duplicate column names) raise :class:`~surveykit.errors.InputError`
naming the file, row and column.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

CSV_ENCODINGS = ("utf-8-sig", "gb18030")  # GB18030 is a superset of GBK and GB2312 (Chinese Excel's "CSV")
DELIMITERS = ",;\t|"
# cells read as missing: blank, and the usual "not available" spellings of R, Excel and databases
NA_TOKENS = ["", "NA", "N/A", "#N/A", "NULL", "null", "NaN", "nan"]


def read_table(path: str | Path, *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read a response or indicator table by its extension (.csv/.txt, .xlsx/.xlsm, .sav)."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=path)
    if path.is_dir():
        raise InputError("is a folder, not a file", file=path)
    if path.stat().st_size == 0:
        raise InputError("the file is empty (0 bytes)", file=path)
    ext = path.suffix.lower()
    if ext in (".csv", ".txt", ".tsv"):
        df = read_csv(path)
    elif ext in (".xlsx", ".xlsm"):
        df = read_xlsx(path, sheet=sheet)
    elif ext == ".sav":
        df = read_sav(path)
    elif ext == ".xls":
        raise InputError("old Excel .xls files are not read; save the file as .xlsx or CSV", file=path)
    else:
        raise InputError(f"unknown file type '{ext}' (expected .csv, .xlsx or .sav)", file=path)
    return df


def _decode(path: Path) -> tuple[str, str]:
    raw = path.read_bytes()
    for enc in CSV_ENCODINGS:
        try:
            return raw.decode(enc), ("utf-8" if enc == "utf-8-sig" and not raw.startswith(b"\xef\xbb\xbf")
                                     else "utf-8-bom" if enc == "utf-8-sig" else enc)
        except UnicodeDecodeError as exc:
            last = exc
    line = raw[: last.start].count(b"\n") + 1  # type: ignore[possibly-undefined]
    raise InputError(f"cannot decode the text (not UTF-8 and not GBK/GB18030; byte {last.start})",  # type: ignore
                     file=path, row=line)


def _delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = text.splitlines()[0] if text else ""
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] > 0 else ","


def _check_header(names: list[str], path: Path) -> None:
    seen: dict[str, int] = {}
    for k, name in enumerate(names, start=1):
        key = str(name).strip()
        if key == "" or key.lower().startswith("unnamed:"):
            continue
        if key in seen:
            raise InputError(f"duplicate column name (columns {seen[key]} and {k})", file=path, row=1, column=key)
        seen[key] = k


def read_csv(path: str | Path) -> pd.DataFrame:
    """CSV with encoding (UTF-8, BOM, GB18030) and delimiter detection; CRLF line ends are fine."""
    path = Path(path)
    text, encoding = _decode(path)
    if not text.strip():
        raise InputError("the file holds no data (only blanks)", file=path)
    delim = _delimiter(text)
    header = next(csv.reader(io.StringIO(text.splitlines()[0]), delimiter=delim))
    _check_header(header, path)
    try:
        df = pd.read_csv(io.StringIO(text), sep=delim, skip_blank_lines=False,
                         keep_default_na=False, na_values=NA_TOKENS, skipinitialspace=False)
    except pd.errors.ParserError as exc:
        msg = str(exc)
        import re

        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
        if m:
            raise InputError(f"{m.group(3)} fields where the header has {m.group(1)} (wrong delimiter or an "
                             "unquoted comma?)", file=path, row=int(m.group(2))) from None
        raise InputError(f"cannot parse the CSV: {msg.strip()}", file=path) from None
    except pd.errors.EmptyDataError:
        raise InputError("the file holds no data", file=path) from None
    df.columns = [str(c).strip() for c in df.columns]
    rows = np.arange(len(df)) + 2
    # a multi-line quoted cell shifts later file rows; rare in survey exports and we keep row = record number + 1
    df = _finish(df, path, rows)
    df.attrs.update(encoding=encoding, delimiter=delim)
    return df


def _finish(df: pd.DataFrame, path: Path, rows: np.ndarray) -> pd.DataFrame:
    """Drop completely empty rows (they carry no respondent) while keeping file row numbers, set attrs."""
    empty = df.isna().all(axis=1).to_numpy()
    if empty.any():
        df = df.loc[~empty].reset_index(drop=True)
        rows = rows[~empty]
    df.attrs["source"] = str(path)
    df.attrs["file_rows"] = rows
    df.attrs["empty_rows_dropped"] = int(empty.sum())
    return df


def read_xlsx(path: str | Path, *, sheet: str | int | None = None) -> pd.DataFrame:
    """First sheet (or ``sheet``) of an Excel workbook; the first row is the header."""
    path = Path(path)
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise InputError(f"not a readable .xlsx workbook ({type(exc).__name__})", file=path) from None
    names = book.sheet_names
    if sheet is None:
        sheet = names[0]
    elif isinstance(sheet, str) and sheet not in names:
        raise InputError(f"no sheet '{sheet}' (sheets: {', '.join(names)})", file=path)
    df = book.parse(sheet, dtype=object)
    if df.shape[1] == 0:
        raise InputError(f"sheet '{sheet}' is empty", file=path)
    _check_header([str(c) for c in df.columns], path)
    df.columns = [str(c).strip() for c in df.columns]
    df = df.infer_objects()
    df = _finish(df, path, np.arange(len(df)) + 2)
    df.attrs.update(sheet=str(sheet), encoding="xlsx")
    return df


def read_sav(path: str | Path) -> pd.DataFrame:
    """SPSS .sav via pyreadstat; value labels are kept in ``attrs['value_labels']`` for mapping."""
    path = Path(path)
    try:
        import pyreadstat
    except ImportError:  # pragma: no cover - pyreadstat is a dependency
        raise InputError("reading .sav needs the pyreadstat package", file=path) from None
    try:
        df, meta = pyreadstat.read_sav(str(path))
    except Exception as exc:
        raise InputError(f"not a readable SPSS .sav file ({exc})", file=path) from None
    df = _finish(df, path, np.arange(len(df)) + 2)
    df.attrs.update(encoding=meta.file_encoding or "sav", value_labels=meta.variable_value_labels,
                    column_labels=dict(zip(meta.column_names, meta.column_labels)))
    return df
