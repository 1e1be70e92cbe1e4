"""HTML tables for the reports: every cell and header escaped (:func:`surveykit.report.safe.escape`), numbers
right-aligned, a class the report theme styles."""

from __future__ import annotations

import re

import pandas as pd
from IPython.display import HTML

from .safe import escape

_NUMBER = re.compile(r"^[+\-−]?\d[\d,]*(\.\d+)?(%|–[+\-]?\d[\d,]*(\.\d+)?)?$")


def format_numbers(df: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Floats as text with ``digits`` decimals and thousands separators; integers and text unchanged."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = [("–" if v != v else f"{v:,.{digits}f}") for v in out[c]]
    return out


def html_table(df: pd.DataFrame, *, caption: str | None = None) -> HTML:
    """Render ``df`` as an escaped HTML table; floats get two decimals (:func:`format_numbers`), numeric-looking
    cells are right-aligned."""
    df = format_numbers(df)
    def cell(v) -> str:
        s = "" if v is None or (isinstance(v, float) and v != v) else str(v)
        cls = ' class="num"' if _NUMBER.match(s.replace(" ", "")) else ""
        return f"<td{cls}>{escape(s)}</td>"

    head = "".join(f"<th>{escape(c)}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in df.itertuples(index=False))
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return HTML(f'<table class="sk-table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')
