"""The indicator values file: a long table with columns ``unit``, ``year``, ``indicator``, ``value``.

One row per unit, year and variable (indicator or auxiliary variable such as ``market_entities``). Units are
kept as written (a study maps them to its unit ids: :func:`surveykit.workflow.protection_values`); the region as a
whole may appear as ``全市``/``全省`` or ``all`` (used by scorecard targets against the region's average, never scored).
A blank value is missing (the pipeline's impute step decides what happens); any other non-number is an error.
Problems raise :class:`~surveykit.errors.InputError` naming the file, row and column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import read_table
from ..io.writers import write_csv

COLUMNS = ("unit", "year", "indicator", "value")
#: The unit of the region's own rows (the whole region: 全市 / 全省 ...), as the results store names it.
CITY = "all"
_CITY_NAMES = {"all", "全市", "全省", "全区", "全县", "city", "City", "region", "Region"}


def _unit_name(v) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    t = str(v).strip()
    if t in _CITY_NAMES:
        return CITY
    return t or None


def _unit_ids(names: pd.Series, unit_set, file, rows) -> pd.Series:
    found = [CITY if n == CITY else unit_set.find(n) for n in names]
    for k, (n, u) in enumerate(zip(names, found)):
        if u is None:
            raise InputError(f"unknown unit '{n}' (not one of the study's units)", file=file, row=int(rows[k]),
                             column="unit")
    return pd.Series([u if u == CITY else u.id for u in found], index=names.index)


def _source_table(source: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str | None, np.ndarray]:
    """The table, its file name and the file row of each of its rows."""
    if isinstance(source, pd.DataFrame):
        return (source.copy(), source.attrs.get("source"),
                np.asarray(source.attrs.get("file_rows", np.arange(len(source)) + 2)))
    df = read_table(source)
    return df, df.attrs.get("source", str(source)), np.asarray(df.attrs["file_rows"])


def _refuse_first(bad, message, file, rows: np.ndarray, column: str) -> None:
    """Raise for the first row flagged in ``bad``: ``message(k)`` names its problem."""
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(message(k), file=file, row=int(rows[k]), column=column)


def _numbers(raw: pd.Series, file, rows: np.ndarray) -> pd.Series:
    """The value column as floats: blank is missing; any other text that is not a number is an error."""
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        text = raw.map(lambda v: v.strip().replace(",", "") if isinstance(v, str) else v)
        text = text.map(lambda v: np.nan if isinstance(v, str) and v == "" else v)
        value = pd.to_numeric(text, errors="coerce")
        _refuse_first(value.isna() & text.notna(), lambda k: f"the value '{raw.iloc[k]}' is not a number (leave the "
                      "cell blank when missing)", file, rows, "value")
    else:
        value = pd.to_numeric(raw, errors="coerce")
    value = value.astype(float)
    _refuse_first(np.isinf(value.to_numpy()), lambda k: "the value is infinite", file, rows, "value")
    return value


def _refuse_duplicates(out: pd.DataFrame, file, rows: np.ndarray) -> None:
    key = ["unit", "year", "indicator"]
    dup = out.duplicated(key, keep=False).to_numpy()
    if dup.any():
        pos = np.flatnonzero(dup)
        first = out.iloc[pos[0]]
        same = pos[(out.iloc[pos][key] == first[key]).all(axis=1).to_numpy()]
        raise InputError(f"{first.unit}, {first.year}, '{first.indicator}' appears twice (rows "
                         f"{int(rows[same[0]])} and {int(rows[same[1]])})", file=file, row=int(rows[same[1]]),
                         column="indicator")


def read_indicator_values(source: str | Path | pd.DataFrame, *, units=None, region: tuple[str, ...] = ()
                          ) -> pd.DataFrame:
    """Read and check a values file (CSV/XLSX, see the module docstring) or an in-memory DataFrame.

    ``units`` (a :class:`surveykit.units.UnitSet`): every unit must be one of them (by id, Chinese or English name)
    and is stored as its id; ``region``: more names of the whole region (e.g. ``某市``). Returns columns ``unit``
    (as written or the unit's id, ``all`` for the region), ``year`` (int), ``indicator`` (str), ``value`` (float,
    NaN = missing), in file order; ``attrs['source']`` and ``attrs['file_rows']`` say where each row came from.
    """
    df, file, rows = _source_table(source)
    df.columns = [str(c).strip() for c in df.columns]
    for c in COLUMNS:
        if c not in df.columns:
            raise InputError(f"no column '{c}' (a values file has columns {', '.join(COLUMNS)})", file=file,
                             column=c)
    unit_set, units = units, df["unit"].map(lambda v: CITY if str(v).strip() in region else _unit_name(v))
    _refuse_first(units.isna(), lambda k: "the unit is blank (write the unit's name or id, or 全市/all for the whole "
                  "region)", file, rows, "unit")
    if unit_set is not None:
        units = _unit_ids(units, unit_set, file, rows)
    year = pd.to_numeric(df["year"], errors="coerce")
    _refuse_first(year.isna() | (year != year.round()), lambda k: f"the year '{df['year'].iloc[k]}' is not a whole "
                  "number", file, rows, "year")
    ind = df["indicator"].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                              else str(v).strip() or None)
    _refuse_first(ind.isna(), lambda k: "the indicator id is blank", file, rows, "indicator")
    value = _numbers(df["value"], file, rows)
    out = pd.DataFrame({"unit": units.to_numpy(), "year": year.astype(int).to_numpy(),
                        "indicator": ind.to_numpy(), "value": value.to_numpy()})
    _refuse_duplicates(out, file, rows)
    out.attrs.update(source=file, file_rows=rows, checked=True)
    return out


def write_indicator_values(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a long values table (columns unit, year, indicator, value) as UTF-8 CSV."""
    path = Path(path)
    write_csv(df.loc[:, list(COLUMNS)], path)
    return path
