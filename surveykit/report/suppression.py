"""Which cells of a year's results store may be shown: one rule for the reports and the workbook.

Scores rest on the respondents of a cell; the reports never show an estimate from fewer than ``min_n`` respondents
or with a relative SE above ``max_rse`` (:func:`surveykit.analysis.mark_small`, the store's ``suppressed`` flag):
the score tables mark such a cell "too few". Every other table built from those cells follows it:

* ``scores_unit``, ``scores_city``: the store's own ``suppressed`` flag (fewer than ``min_n`` respondents, or a
  relative SE above ``max_rse``; :func:`surveykit.analysis.mark_small`) -- estimate, SE, CI and RSE blank.
* ``ranks``, ``compare_rest``, ``year_change``, ``group_gaps``, ``comparisons``: these repeat or are built from
  score cells, so a row is suppressed when a score cell it uses is suppressed in ``scores_unit`` /
  ``scores_city`` (``year_change`` also looks up the previous year's store), or when a side counts fewer than
  ``min_n`` respondents (``n``, ``n_a``, ``n_b``: the two sides of a declared comparison have no score cell of
  their own).
* ``index_common`` (the index recomputed on the common items): its own ``suppressed`` flag, set by the workflow
  when either year's recomputed index is too small (a store without the flag: every row suppressed).
* ``satisfaction_rates``: its own ``suppressed`` flag (fewer than ``min_n`` respondents). Every statistic of the row is blank (a difference would give the hidden estimate back); the
  verdict too. The respondent counts stay, as in the reports.
* ``dont_know``: fewer than ``min_n`` respondents asked (``n_asked``) -- the rate, its SE and CI and the count of
  don't-know answers blank (one respondent's rate is that person's answer). The RSE rule is not applied: a rate
  near 0 has a large RSE by nature, and the reports' RSE rule is about the precision of scores.
* ``sample``, ``weights``, ``drivers``, ``reliability``, ``cfa``: counts, weight diagnostics and city-wide
  results per group -- nothing per small cell to suppress.

:func:`public_tables` blanks those cells and adds the ``suppressed`` column (the workbook);
:func:`reportable` drops those rows from the analysis tables of a store (the district and city reports: a row
that is not there cannot be shown).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..results import YearResults, load_results, read_manifest

SCORE_TABLES = ("scores_unit", "scores_city")
#: tables whose suppressed rows the reports keep, flagged and blanked, to show the "too few" mark in their place
MARKED_TABLES = (*SCORE_TABLES, "satisfaction_rates")
_TEST = ["se", "ci_low", "ci_high", "z", "p_value", "p_adj", "ci_low_adj", "ci_high_adj", "verdict"]
BLANKED = {
    "scores_unit": ["estimate", "se", "ci_low", "ci_high", "rse"],
    "scores_city": ["estimate", "se", "ci_low", "ci_high", "rse"],
    "dont_know": ["n_dont_know", "estimate", "se", "ci_low", "ci_high"],
    "ranks": ["estimate", "se", "rank", "rank_median", "rank_low", "rank_high", "p_top"],
    "compare_rest": ["estimate", "difference", *_TEST],
    "group_gaps": ["estimate_a", "estimate_b", "gap", *_TEST],
    "comparisons": ["estimate_a", "estimate_b", "gap", *_TEST],
    "satisfaction_rates": ["estimate", "se", "ci_low", "ci_high"],
    "year_change": ["estimate_previous", "estimate", "change", *_TEST],
    "index_common": ["estimate_previous", "estimate", "change", *_TEST],
}


def masks(store: YearResults, previous: YearResults | None = None) -> dict[str, np.ndarray]:
    """Per table of ``store`` that has per-cell estimates: which rows are suppressed (module doc). ``year_change``
    needs the ``previous`` year's store; without it every row of that table counts as suppressed."""
    col, min_n = "unit", int(store.manifest["min_n"])
    cur = _CellFlags(store)
    small = lambda t, *ns: np.logical_or.reduce([t[n].to_numpy(float) < min_n for n in ns])  # noqa: E731
    out = {
        "scores_unit": store.scores_unit["suppressed"].to_numpy(bool),
        "scores_city": store.scores_city["suppressed"].to_numpy(bool),
        "dont_know": small(store.dont_know, "n_asked"),
        "ranks": cur.of(store.ranks, col),
        "compare_rest": cur.of(store.compare_rest, col) | small(store.compare_rest, "n"),
        "group_gaps": (cur.of(store.group_gaps, col, "group_a") | cur.of(store.group_gaps, col, "group_b")
                       | small(store.group_gaps, "n_a", "n_b")),
    }
    if store.comparisons is not None:
        og = store.comparisons
        out["comparisons"] = cur.of(og, col) | small(og, "n_a", "n_b")
    if store.satisfaction_rates is not None:
        out["satisfaction_rates"] = store.satisfaction_rates["suppressed"].to_numpy(bool)
    if store.index_common is not None:     # its own flag: either year's recomputed index too small
        ic = store.index_common
        out["index_common"] = (ic["suppressed"].to_numpy(bool) if "suppressed" in ic
                               else np.ones(len(ic), dtype=bool))
    if store.year_change is not None:
        ch = store.year_change
        out["year_change"] = (np.ones(len(ch), dtype=bool) if previous is None
                              else cur.of(ch, col) | _CellFlags(previous).of(ch, col))
    return out


def public_tables(store: YearResults, previous: YearResults | None = None,
                  names: tuple[str, ...] | None = None) -> dict[str, pd.DataFrame]:
    """The store's tables (``names``, default all) with the cells the reports suppress blanked and a
    ``suppressed`` column; ``year_change`` is left out without the ``previous`` year's store."""
    names = names or tuple(f for f in YearResults.__dataclass_fields__ if f not in ("year", "manifest"))
    out = {n: getattr(store, n) for n in names if getattr(store, n, None) is not None}
    if previous is None:
        out.pop("year_change", None)
    for name, mask in masks(store, previous).items():
        if name in out:
            out[name] = _blank(out[name], mask, BLANKED[name])
    return out


def reportable(store: YearResults, previous: YearResults | None = None) -> YearResults:
    """``store`` without the suppressed rows of its analysis tables; the score tables and the satisfaction rates keep
    theirs, flagged (and the rates' numbers blanked): the reports mark them "too few"."""
    keep = {}
    for name, mask in masks(store, previous).items():
        if name in SCORE_TABLES:
            continue
        table = getattr(store, name)
        keep[name] = _blank(table, mask, BLANKED[name]) if name in MARKED_TABLES else \
            table[~mask].reset_index(drop=True)
    return replace(store, **keep)


def previous_store(results: str | Path, year: int) -> YearResults | None:
    """The store ``year_change`` of ``year`` was computed against (the one whose key its ``year_change.from``
    stamp names; without a stamp, the latest earlier year), or None."""
    results = Path(results)
    years = sorted((int(p.name) for p in results.iterdir() if p.name.isdigit() and int(p.name) < year
                    and read_manifest(results, int(p.name)) is not None), reverse=True) if results.is_dir() else []
    stamp = results / str(year) / "year_change.from"
    if stamp.exists() and years:
        want = stamp.read_text(encoding="utf-8").split()[0]
        years = [y for y in years if read_manifest(results, y).get("key") == want]
    return load_results(results, years[0]) if years else None


class _CellFlags:
    """The ``suppressed`` flag of every score cell of a store: (unit, group, node) and, city-wide, (group, node)."""

    def __init__(self, store: YearResults):
        col = "unit"
        su, sc = store.scores_unit, store.scores_city
        self.units = set(su[col])
        self.unit = dict(zip(zip(su[col], su["group"], su["node"]), su["suppressed"].astype(bool)))
        self.city = dict(zip(zip(sc["group"], sc["node"]), sc["suppressed"].astype(bool)))

    def of(self, table: pd.DataFrame, col: str, group: str = "group") -> np.ndarray:
        """Per row of ``table``: is its (unit, group, node) cell suppressed? Rows of no known cell count as
        suppressed (nothing is shown that cannot be checked); rows of no known unit are city-wide."""
        g = table[group] if group in table.columns else pd.Series("all", index=table.index)
        return np.array([self.unit.get((u, gg, n), True) if u in self.units else self.city.get((gg, n), True)
                         for u, gg, n in zip(table[col], g, table["node"])], dtype=bool)


def _blank(table: pd.DataFrame, mask: np.ndarray, columns: list[str]) -> pd.DataFrame:
    out = table.copy()
    for c in columns:
        if c in out.columns:
            out[c] = out[c].astype(float).mask(mask) if pd.api.types.is_numeric_dtype(out[c]) \
                else out[c].astype(object).mask(mask, None)
    out["suppressed"] = mask
    return out
