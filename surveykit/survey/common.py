"""Leaf helpers of the engine, shared by its modules and by the scoring and analysis layers.

Nothing here knows of designs: column reading with row-and-column error messages (:func:`numeric_column`,
:func:`location`), level and value spelling (:func:`level_key`, :func:`show_value`), integer coding
(:func:`factor_codes`), grouped sums (:func:`group_sum`) and the normal quantile of the 95% intervals (:data:`Z95`).

Example
-------
>>> import numpy as np
>>> group_sum(np.array([0, 1, 0]), 2, np.array([[1.0], [2.0], [3.0]])).ravel().tolist()
[4.0, 2.0]
>>> as_list("q01"), as_list(None), level_key(2.0), level_key(" 03 "), show_value(7.0)
(['q01'], [], '2', '03', '7')
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.stats import norm

from ..errors import InputError

Z95 = float(norm.ppf(0.975))


def as_list(x: str | Sequence[str] | None) -> list[str]:
    """``None`` -> ``[]``, a string -> ``[x]``, any other sequence -> ``list(x)``."""
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return list(x)


def file_row(data: pd.DataFrame, pos: int) -> int | None:
    """The row number in the source file of the row at position ``pos`` (readers record it), else None."""
    rows = data.attrs.get("file_rows")
    if rows is not None:
        return int(rows[pos])
    return None


def location(data: pd.DataFrame, pos: int | None = None, column: str | None = None) -> dict:
    """``file``, ``row`` and ``column`` keywords of an :class:`~surveykit.errors.InputError` about a cell."""
    return {"file": data.attrs.get("source"), "row": None if pos is None else file_row(data, pos),
            "column": column}


def numeric_column(data: pd.DataFrame, column: str, *, what: str = "a number") -> np.ndarray:
    """A column as float64 with NaN for blanks; text where a number belongs is an :class:`InputError`."""
    if column not in data.columns:
        cols = ", ".join(map(str, data.columns[:12])) + (", ..." if len(data.columns) > 12 else "")
        raise InputError(f"no column '{column}' in the data (columns: {cols})", file=data.attrs.get("source"),
                         column=column)
    s = data[column]
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float).to_numpy()
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=float, na_value=np.nan)
    conv = pd.to_numeric(s.astype("string").str.strip().replace("", pd.NA), errors="coerce")
    bad = conv.isna() & s.notna() & (s.astype("string").str.strip() != "")
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"'{s.iloc[pos]}' is not {what}", **location(data, pos, column))
    return conv.to_numpy(dtype=float, na_value=np.nan)


def numeric_matrix(data: pd.DataFrame, variables: str | Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """The columns ``variables`` as a float (rows x variables) array, and their names."""
    names = as_list(variables)
    if not names:
        raise InputError("no variable given")
    return np.column_stack([numeric_column(data, v) for v in names]), names


def show_value(v) -> str:
    """A cell value as the user typed it: ``7`` not ``np.float64(7.0)``, text in quotes."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        return str(v)
    return repr(str(v))


def level_key(v) -> str:
    """A category level as text, so that 1, 1.0 and "1" are the same level (margins files are text)."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    t = str(v).strip()
    try:
        f = float(t)
    except ValueError:
        return t
    return str(int(f)) if f.is_integer() and "." in t else t


def factor_codes(data: pd.DataFrame, column: str) -> np.ndarray:
    """Integer codes (sorted levels) of a design column; a missing column or a blank value is refused."""
    if column not in data.columns:
        raise InputError(f"no column '{column}' in the data", file=data.attrs.get("source"), column=column)
    s = data[column]
    if s.isna().any():
        pos = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise InputError("blank design variable (every row needs a value)", **location(data, pos, column))
    codes, _ = pd.factorize(s, sort=True)
    return codes.astype(np.int64)


def group_sum(codes: np.ndarray, ngroups: int, x: np.ndarray) -> np.ndarray:
    """Column sums of ``x`` (n x k) within integer groups ``codes`` in ``[0, ngroups)``; returns (ngroups x k)."""
    n = codes.shape[0]
    m = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(ngroups, n))
    return np.asarray(m @ x)


def combine_codes(a: np.ndarray, b: np.ndarray, n_b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (a, b) pairs that occur: per row the pair's index, and per pair its ``a`` and ``b`` (sorted by a, b)."""
    key = a.astype(np.int64) * n_b + b
    uniq, inv = np.unique(key, return_inverse=True)
    return inv.ravel(), uniq // n_b, uniq % n_b
