"""Domains and small helpers shared by the statistician's verbs (proportion, quantile, table, chisq, glm).

A verb's domain ``d`` is, as in R, ``subset(design, by == d & <every variable used is observed>)``: rows with a
missing value of a variable used are outside it (R's ``na.rm=TRUE``), the whole design is kept for the variance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm
from scipy.stats import t as t_dist

from ..errors import InputError
from .adapter import in_design
from .common import as_list, level_key, numeric_column


@dataclass(frozen=True)
class Domains:
    """Domain code of every row (R's ``svyby`` groups) and the table of domains."""

    codes: np.ndarray
    table: pd.DataFrame
    by: list[str]
    inside: np.ndarray  # rows in the design (its subset)

    @property
    def count(self) -> int:
        return len(self.table)

    def rows(self, d: int, observed: np.ndarray) -> np.ndarray:
        """Rows of domain ``d`` where the variables used are observed."""
        return self.inside & observed & (self.codes == d)

    def frame(self, d: int) -> dict:
        """The ``by`` values of domain ``d`` as a row fragment."""
        return {c: self.table[c].iloc[d] for c in self.by}


def domains(design, by: str | Sequence[str] | None) -> Domains:
    by = as_list(by)
    codes, table = design.domains(by)
    return Domains(codes, table, by, in_design(design))


def t_quantile(p: float, df):
    """``qt(p, df)``: ``qnorm(p)`` for infinite df, NaN when there are no degrees of freedom (``df <= 0``);
    a float for a scalar ``df``, an array for an array."""
    d = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        q = np.where(np.isinf(d), norm.ppf(p), np.where(d > 0, t_dist.ppf(p, np.where(d > 0, d, 1.0)), np.nan))
    return float(q) if q.ndim == 0 else q


def values(design, column: str) -> np.ndarray:
    """A numeric column (NaN for blanks); text is an :class:`InputError` naming row and column."""
    return numeric_column(design.data, column)


def in_codes(design, column: str, codes: Sequence) -> np.ndarray:
    """1.0 where ``column`` holds one of ``codes`` (compared as text, so 4, 4.0 and "4" agree), 0.0 where it
    holds another value, NaN where it is blank."""
    if column not in design.data.columns:
        raise InputError(f"no column '{column}' in the data", file=design.data.attrs.get("source"), column=column)
    s = design.data[column]
    wanted = {level_key(c) for c in codes}
    if not wanted:
        raise InputError("success codes are empty", column=column)
    raw, levels = pd.factorize(s)
    hit = np.array([level_key(v) in wanted for v in levels], dtype=float)
    return np.where(raw < 0, np.nan, hit[np.maximum(raw, 0)] if len(levels) else np.nan)


def weighted_share(w: np.ndarray, y: np.ndarray, rows: np.ndarray) -> tuple[float, np.ndarray]:
    """Weighted mean of ``y`` over ``rows`` and its influence values ``w (y - mean) / sum w`` (zero elsewhere),
    as R's ``svymean`` on ``subset(design, rows)``."""
    wd = np.where(rows, w, 0.0)
    total = wd.sum()
    est = float((wd * np.where(rows, y, 0.0)).sum() / total) if total > 0 else float("nan")
    z = np.where(rows, wd * (np.where(rows, y, 0.0) - est) / total, 0.0) if total > 0 else np.zeros(len(w))
    return est, z
