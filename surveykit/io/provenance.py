"""Where the rows of a table came from: a small typed object that travels beside the DataFrame.

The readers (:mod:`surveykit.io.readers`) build a :class:`Provenance` for every file they read; the intake
(:mod:`surveykit.mapping`, :mod:`surveykit.quality`) works from it. At the edges of the package the same facts are
also written to ``DataFrame.attrs`` under the keys documented in :mod:`surveykit.io.readers` (what
:func:`~surveykit.io.read_table` returns and what the survey engine reads to name a row in a message):
:meth:`Provenance.attach` writes them, :meth:`Provenance.of` reads them back from a frame someone hands in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

# attrs keys written by the readers, in the order they are written
_KEYS = ("source", "file_rows", "header_rows", "trailing_blank_rows", "empty_rows_dropped", "header_parts",
         "formulas", "empty_rows", "encoding", "delimiter", "sheet", "engine", "value_labels", "column_labels")


@dataclass(frozen=True)
class Provenance:
    """The file and, for each data row, its 1-based row number in the file (``file_rows``); how it was read.

    ``None`` means "not known / not applicable" (a CSV has no sheet, a .sav no header rows); such keys are left out
    of ``attrs``. ``extra`` keeps any other ``attrs`` key of a frame handed in, so nothing is lost on the way.
    """

    source: str
    file_rows: np.ndarray
    encoding: str | None = None
    delimiter: str | None = None          # CSV
    sheet: str | None = None              # XLSX
    engine: str | None = None             # XLSX: calamine or openpyxl
    header_rows: tuple[int, ...] | None = None          # file rows of the header
    header_parts: Mapping[str, tuple[str, ...]] | None = None  # column -> texts of its header cells
    formulas: Mapping[tuple[int, str], str] | None = None      # (position, column) -> formula (XLSX)
    value_labels: Mapping[str, Mapping] | None = None          # .sav
    column_labels: Mapping[str, str] | None = None             # .sav
    empty_rows: int | None = None
    trailing_blank_rows: int | None = None
    empty_rows_dropped: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, df: pd.DataFrame) -> "Provenance":
        """The provenance in ``df.attrs``; a frame without it: source ``(data frame)``, rows 2, 3, ... (a header
        in row 1)."""
        a = df.attrs
        kw = {k: a[k] for k in _KEYS if k in a and k != "header_rows"}
        kw.setdefault("source", "(data frame)")
        kw["source"] = str(kw["source"])
        if "file_rows" not in a:
            kw["file_rows"] = np.arange(len(df), dtype=np.int64) + 2
        if a.get("header_rows") is not None:
            kw["header_rows"] = tuple(a["header_rows"])
        return cls(**kw, extra={k: v for k, v in a.items() if k not in _KEYS})

    def to_attrs(self) -> dict[str, Any]:
        """The ``attrs`` form: the keys that are known (``header_rows`` as a list, as the readers write it)."""
        out: dict[str, Any] = {}
        for k in _KEYS:
            v = getattr(self, k)
            if v is not None:
                out[k] = list(v) if k == "header_rows" else v
        out.update(self.extra)
        return out

    def attach(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` with these facts in its ``attrs`` (replacing what was there); returns ``df``."""
        df.attrs.clear()
        df.attrs.update(self.to_attrs())
        return df

    def replace(self, **changes) -> "Provenance":
        return dataclasses.replace(self, **changes)
