"""Writing the instrument's spreadsheets: every text cell is text, never a formula.

Spreadsheet programs run a cell that starts with ``=`` (and, on import, ``+ - @``, a tab or a carriage return) as
a formula: a questionnaire text such as ``=HYPERLINK(...)`` would become live in a codebook opened by someone else
(OWASP, "CSV injection"). Two rules:

* :func:`neutralise` -- the one place that decides: text starting with ``= + - @ \\t \\r`` gets a leading
  apostrophe (OWASP's recommendation), anything else (numbers, booleans, other text) is returned unchanged. Used for
  cells people read (the codebook).
* :func:`write_xlsx` writes every ``str`` as a string cell (openpyxl would otherwise turn ``"=..."`` into a
  formula), with or without neutralising. Sheets read by a program (the XLSForm, the template's code lists) keep
  their text exactly -- an apostrophe would be shown to respondents -- and such cells carry Excel's quote prefix
  instead (:func:`surveykit.io.writers.protect_cells`): text in Excel, the same text for pyxform.

The rule and the CSV writer are :mod:`surveykit.io.writers`' (one rule for every file surveykit writes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ..errors import InputError
from ..io.atomic import atomic_path
from ..io.writers import FORMULA_START, inert, protect_cells

#: text a spreadsheet would run as a formula, prefixed with ``'``; every other value unchanged (io.writers.inert)
neutralise = inert


def formula_like(value: Any) -> bool:
    """True for text that :func:`neutralise` would change."""
    return neutralise(value) is not value


def _cell_value(value: Any, safe: bool) -> Any:
    if value is None or (isinstance(value, float) and value != value) or (isinstance(value, str) and value == ""):
        return None  # an empty cell
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars -> Python numbers
        value = value.item()
    return neutralise(value) if safe else value


def write_xlsx(path: str | Path, sheets: Mapping[str, pd.DataFrame], *, safe: bool = True,
               setup=None) -> Path:
    """Write ``sheets`` (name -> table, header in row 1) to ``path`` atomically; strings as string cells.

    ``safe``: neutralise text cells (:func:`neutralise`); headers are neutralised too. ``setup(workbook)`` may add
    data validations or formatting before saving. Returns the path.
    """
    from openpyxl import Workbook
    from openpyxl.utils.exceptions import IllegalCharacterError

    wb = Workbook()
    wb.remove(wb.active)
    for name, df in sheets.items():
        ws = wb.create_sheet(name[:31])
        rows = [list(df.columns), *df.itertuples(index=False, name=None)]
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                v = _cell_value(value, safe)
                try:
                    cell = ws.cell(row=r, column=c, value=v)
                except IllegalCharacterError:
                    raise InputError(f"a control character in the text of column '{df.columns[c - 1]}' cannot be "
                                     f"written to a workbook: {value!r}", file=path, row=r) from None
                if isinstance(v, str):
                    cell.data_type = "s"  # text, even when it starts with "="
                    protect_cells([cell])  # and Excel's quote prefix when it does
        ws.freeze_panes = "A2"
        for c, col in enumerate(df.columns, start=1):
            width = max([len(str(col))] + [len(str(v)) for v in df.iloc[:200, c - 1] if v is not None])
            ws.column_dimensions[ws.cell(row=1, column=c).column_letter].width = min(60, max(8, width + 2))
    if setup is not None:
        setup(wb)
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return Path(path)


__all__ = ["FORMULA_START", "formula_like", "neutralise", "write_xlsx"]
