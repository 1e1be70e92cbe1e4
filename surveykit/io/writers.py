"""Every CSV and Excel file surveykit writes goes through this module: spreadsheet-safe text, checked paths.

**No formulas** (OWASP "CSV injection"). A spreadsheet takes a cell that begins with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return as a formula, and text from a user's file (a respondent id such as
``=cmd|' /C calc'!A0``, a unit name, a group id, a column name) would then run as one. So:

* CSV: such text is written with a leading single quote (``'=1+1``), which Excel and LibreOffice show as text,
  and every text field is quoted (``csv.QUOTE_NONNUMERIC``), so that a reader whose list separator is ``;``
  cannot split a field into a new cell that starts a formula. Numbers are written as they are, unquoted: a column
  of negative numbers stays numeric. Only text changes, and only text that starts with one of those characters.
* XLSX: such text is written as a string cell, never a formula (openpyxl would store ``=1+1`` as a formula), with
  Excel's quote prefix (the cell style Excel itself uses when someone types ``'=1+1``): the text is kept exactly,
  shown as typed, and stays text when the cell is edited.

**Paths.** :func:`check_outputs` refuses, before any work is done, an output that is the same file as an input
(paths compared after resolving symbolic links; hard links too), lies inside an input folder, is a folder, lies
under a file, or cannot be written; every write is atomic (:mod:`surveykit.io.atomic`) and any system error
becomes one :class:`~surveykit.errors.InputError` line.

Example
-------
>>> import pandas as pd
>>> print(csv_text(pd.DataFrame({"id": ["=1+1", "a"], "x": [-2.5, 3.0]})), end="")
"id","x"
"'=1+1",-2.5
"a",3.0
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Iterable

import pandas as pd

from ..errors import InputError
from .atomic import atomic_path

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXCEL_MAX_ROWS = 1_048_576  # rows of one sheet, the header included


def inert(value):
    """``value`` with a leading ``'`` when it is text that a spreadsheet would take as a formula (CSV rule)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _text_columns(df: pd.DataFrame) -> list[int]:
    """Positions of the columns that may hold text (not numbers, booleans or dates)."""
    return [j for j, dt in enumerate(df.dtypes) if not (pd.api.types.is_numeric_dtype(dt)
                                                        or pd.api.types.is_bool_dtype(dt)
                                                        or pd.api.types.is_datetime64_any_dtype(dt))]


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` for CSV: every text cell and column name passed through :func:`inert`."""
    out = df.copy()
    for j in _text_columns(df):
        out.isetitem(j, out.iloc[:, j].astype(object).map(inert))
    out.columns = [inert(c) for c in out.columns]
    return out


def csv_text(df: pd.DataFrame, float_format: str | None = None) -> str:
    """The CSV text of ``df`` (no index), spreadsheet-safe."""
    return safe_frame(df).to_csv(index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC,
                                 float_format=float_format)


def write_csv(df: pd.DataFrame, out: str | os.PathLike, *, bom: bool = False,
              float_format: str | None = None) -> Path | None:
    """Write ``df`` as spreadsheet-safe CSV to ``out`` (``"-"``: standard output), atomically.

    ``bom``: UTF-8 with a byte-order mark (Excel then reads Chinese correctly). Returns the path (None for ``-``).
    """
    text = csv_text(df, float_format)
    if str(out) == "-":
        sys.stdout.write(text)
        return None
    path = Path(out)
    with _writing(path), atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8-sig" if bom else "utf-8", newline="")
    return path


def write_xlsx(sheets: dict[str, pd.DataFrame], path: str | os.PathLike) -> Path:
    """Write one sheet per table (no index; header frozen; columns sized), spreadsheet-safe, atomically."""
    path = Path(path)
    for name, df in sheets.items():
        if len(df) >= EXCEL_MAX_ROWS:
            raise InputError(f"{len(df)} rows do not fit in one Excel sheet ('{name}'); write a .csv file instead",
                             file=path)
    with _writing(path), atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name[:31], index=False)
            ws = xw.sheets[name[:31]]
            protect_cells(ws[1])
            for j in _text_columns(df):
                protect_cells(c[0] for c in ws.iter_rows(min_row=2, min_col=j + 1, max_col=j + 1))
            ws.freeze_panes = "A2"
            for col_cells in ws.iter_cols(max_row=200):
                width = max(len(str(c.value)) if c.value is not None else 0 for c in col_cells)
                ws.column_dimensions[col_cells[0].column_letter].width = min(60, max(8, width + 2))
    return path


def protect_cells(cells: Iterable) -> None:
    """Make openpyxl cells whose text would start a formula plain text: string type with Excel's quote prefix."""
    for c in cells:
        if isinstance(c.value, str) and c.value.startswith(FORMULA_START):
            c.data_type = "s"
            c.quotePrefix = True


def write_table(df: pd.DataFrame, path: str | os.PathLike, *, sheet: str = "log", bom: bool = True) -> Path | None:
    """A table people open in a spreadsheet: ``.xlsx`` (one sheet) or CSV (UTF-8 with BOM by default)."""
    if str(path) != "-" and Path(path).suffix.lower() == ".xlsx":
        return write_xlsx({sheet: df}, path)
    return write_csv(df, path, bom=bom)


class _writing:
    """Turn a system error while writing ``path`` into one InputError line."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, OSError) and not isinstance(exc, InputError):
            raise InputError(f"cannot write the file ({exc.strerror or type(exc).__name__})", file=self.path) from None
        return False


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_path(path: str | os.PathLike, *, folder: bool = False) -> Path:
    """Refuse an output path that cannot be written: a folder (or, with ``folder``, a file), a path under a file,
    a missing parent folder (files only), or a place without write permission. Returns the resolved path."""
    p = Path(path).expanduser()
    r = p.resolve()
    kind = "folder" if folder else "file"
    if r.exists() and r.is_dir() != folder:
        raise InputError(f"the output is a {'file' if folder else 'folder'}, not a {kind}", file=p)
    probe = r if folder else r.parent
    if not folder and not probe.exists():
        up = next((a for a in probe.parents if a.exists()), None)
        if up is not None and not up.is_dir():
            raise InputError(f"the output lies under a file ({up}), not a folder", file=p)
        raise InputError("the output folder does not exist", file=p.parent)
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"the output lies under a file ({probe}), not a folder", file=p)
    if not os.access(probe, os.W_OK | os.X_OK) or (r.exists() and not os.access(r, os.W_OK)):
        raise InputError("cannot write here (permission denied)", file=p)
    return r


def check_outputs(outputs: Iterable, inputs: Iterable = (), *, folders: Iterable = ()) -> None:
    """Before any work: every output file (``outputs``; ``None`` and ``-`` are skipped) can be written, is none of
    the ``inputs`` (files, or folders whose files are read) and no other output; ``folders`` are output folders."""
    ins = [(Path(i).expanduser(), Path(i).expanduser().resolve()) for i in inputs if i is not None]
    seen: dict[Path, str] = {}
    for o in outputs:
        if o is None or str(o) == "-":
            continue
        r = check_output_path(o)
        for raw, i in ins:
            if _same(r, i):
                raise InputError(f"the output is an input file ({raw}): it would be overwritten; choose another "
                                 "name", file=o)
            if i.is_dir() and r.is_relative_to(i):
                raise InputError(f"the output lies inside an input folder ({raw}), whose files are read as input",
                                 file=o)
        if r in seen:
            raise InputError(f"two outputs are the same file ({seen[r]})", file=o)
        seen[r] = str(o)
    for f in folders:
        check_output_path(f, folder=True)
