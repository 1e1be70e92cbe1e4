"""The indicator values file: a long table with columns ``unit``, ``year``, ``indicator``, ``value``.

One row per unit, year and variable (indicator or auxiliary variable such as ``market_entities``). Units are
written as in :mod:`surveykit.units` (Chinese name, slug or English name; stored as the Chinese name); the
city as a whole may appear as ``全市`` (used by scorecard targets against the city average, never scored).
A blank value is missing (the pipeline's impute step decides what happens); any other non-number is an error.
Problems raise :class:`~surveykit.errors.InputError` naming the file, row and column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..units import find_unit

COLUMNS = ("unit", "year", "indicator", "value")
CITY = "全市"
_CITY_NAMES = {"全市", "city", "City", "上海市", "shanghai"}


def _unit_name(v) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    t = str(v).strip()
    if t in _CITY_NAMES:
        return CITY
    u = find_unit(t)
    return u.zh if u else None


def read_indicator_values(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read and check a values file (CSV/XLSX, see the module docstring) or an in-memory DataFrame.

    Returns columns ``unit`` (Chinese name or ``全市``), ``year`` (int), ``indicator`` (str), ``value`` (float,
    NaN = missing), in file order; ``attrs['source']`` and ``attrs['file_rows']`` say where each row came from.
    """
    if isinstance(source, pd.DataFrame):
        df = source.copy()
        file = source.attrs.get("source")
        rows = np.asarray(source.attrs.get("file_rows", np.arange(len(df)) + 2))
    else:
        from ..io import read_table

        df = read_table(source)
        file = df.attrs.get("source", str(source))
        rows = np.asarray(df.attrs["file_rows"])
    df.columns = [str(c).strip() for c in df.columns]
    for c in COLUMNS:
        if c not in df.columns:
            raise InputError(f"no column '{c}' (a values file has columns {', '.join(COLUMNS)})", file=file,
                             column=c)
    units = df["unit"].map(_unit_name)
    bad = units.isna().to_numpy()
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(f"unknown unit '{df['unit'].iloc[k]}' (use a district's name, e.g. 黄浦区, or 全市 for the "
                         "city)", file=file, row=int(rows[k]), column="unit")
    year = pd.to_numeric(df["year"], errors="coerce")
    bad = (year.isna() | (year != year.round())).to_numpy()
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(f"the year '{df['year'].iloc[k]}' is not a whole number", file=file, row=int(rows[k]),
                         column="year")
    ind = df["indicator"].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                              else str(v).strip() or None)
    bad = ind.isna().to_numpy()
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError("the indicator id is blank", file=file, row=int(rows[k]), column="indicator")
    raw = df["value"]
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        text = raw.map(lambda v: v.strip().replace(",", "") if isinstance(v, str) else v)
        text = text.map(lambda v: np.nan if isinstance(v, str) and v == "" else v)
        value = pd.to_numeric(text, errors="coerce")
        bad = (value.isna() & text.notna()).to_numpy()
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InputError(f"the value '{raw.iloc[k]}' is not a number (leave the cell blank when missing)",
                             file=file, row=int(rows[k]), column="value")
    else:
        value = pd.to_numeric(raw, errors="coerce")
    value = value.astype(float)
    if np.isinf(value.to_numpy()).any():
        k = int(np.flatnonzero(np.isinf(value.to_numpy()))[0])
        raise InputError("the value is infinite", file=file, row=int(rows[k]), column="value")
    out = pd.DataFrame({"unit": units.to_numpy(), "year": year.astype(int).to_numpy(),
                        "indicator": ind.to_numpy(), "value": value.to_numpy()})
    dup = out.duplicated(["unit", "year", "indicator"], keep=False).to_numpy()
    if dup.any():
        pos = np.flatnonzero(dup)
        first = out.iloc[pos[0]]
        same = pos[(out.iloc[pos][["unit", "year", "indicator"]] == first[["unit", "year", "indicator"]]).all(axis=1)
                   .to_numpy()]
        raise InputError(f"{first.unit}, {first.year}, '{first.indicator}' appears twice (rows "
                         f"{int(rows[same[0]])} and {int(rows[same[1]])})", file=file, row=int(rows[same[1]]),
                         column="indicator")
    out.attrs.update(source=file, file_rows=rows, checked=True)
    return out


def write_indicator_values(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a long values table (columns unit, year, indicator, value) as UTF-8 CSV."""
    path = Path(path)
    from ..io.writers import write_csv

    write_csv(df.loc[:, list(COLUMNS)], path)
    return path
