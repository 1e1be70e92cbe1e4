"""How large a table surveykit agrees to read, checked *before* the cells are read.

A spreadsheet's size on disk says little about what reading it costs: a 5 KB .xlsx whose one cell sits at
``XFD1048576`` asks the Excel engine for a grid of 1,048,576 x 16,384 cells. So the readers first find how far a
sheet reaches (:mod:`surveykit.io.sheetxml`: its ``<dimension>`` and every cell reference, in one streaming pass)
and how many columns a CSV has, and refuse what is over these limits with one line that names the file, its size,
the limit and how to raise it.

=============  ================  ====================================================================
limit          default           raise it with
=============  ================  ====================================================================
cells          10,000,000        ``SURVEYKIT_MAX_CELLS`` (environment) or ``Limits(max_cells=...)``
               (rows x columns   passed as ``limits=`` to :func:`surveykit.io.read_table`
               of a sheet)
columns        16,384            ``SURVEYKIT_MAX_COLUMNS`` or ``Limits(max_columns=...)``
               (Excel's width)
=============  ================  ====================================================================

An .xls workbook is bounded by its format (65,536 x 256 cells) and not checked further.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

ENV_CELLS = "SURVEYKIT_MAX_CELLS"
ENV_COLUMNS = "SURVEYKIT_MAX_COLUMNS"


@dataclass(frozen=True)
class Limits:
    """The largest table read: ``max_cells`` (rows x columns of a sheet) and ``max_columns`` (any file)."""

    max_cells: int = 10_000_000
    max_columns: int = 16_384

    @classmethod
    def from_env(cls) -> "Limits":
        """The defaults, overridden by ``SURVEYKIT_MAX_CELLS`` / ``SURVEYKIT_MAX_COLUMNS`` when set."""
        d = cls()
        return cls(max_cells=_env_int(ENV_CELLS, d.max_cells), max_columns=_env_int(ENV_COLUMNS, d.max_columns))

    def check_columns(self, n: int, path: Path, *, row: int | None = None) -> None:
        if n > self.max_columns:
            raise InputError(f"{n:,} columns (file of {file_size(path)}); the limit is {self.max_columns:,} columns "
                             f"-- set the environment variable {ENV_COLUMNS} to a larger number to read it",
                             file=path, row=row)

    def check_extent(self, rows: int, columns: int, path: Path, *, where: str) -> None:
        """Refuse a table of ``rows`` x ``columns`` cells beyond the limits; ``where`` says what reaches that far
        (``sheet 'S' reaches cell XFD1048576``)."""
        self.check_columns(columns, path)
        cells = rows * columns
        if cells > self.max_cells:
            raise InputError(f"{where}: {rows:,} rows x {columns:,} columns = {cells:,} cells (file of "
                             f"{file_size(path)}); the limit is {self.max_cells:,} cells -- set the environment "
                             f"variable {ENV_CELLS} to a larger number to read it", file=path)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip().replace("_", "").replace(",", "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise InputError(f"the environment variable {name} must be a whole number above 0 (it is '{raw}')")
    return int(raw)


def file_size(path: Path) -> str:
    """``4.7 KB``, ``12.3 MB``: a file's size as people read it."""
    n = Path(path).stat().st_size
    if n < 1000:
        return f"{n} bytes"
    size, unit = n / 1000, "KB"
    for bigger in ("MB", "GB"):
        if size < 1000:
            break
        size, unit = size / 1000, bigger
    return f"{size:.1f} {unit}"
