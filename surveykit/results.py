"""The results store: reading and writing what :mod:`surveykit.workflow` computed, once per year.

Layout (``<results>/<year>/``)::

    manifest.json        what was computed from what: the store key (input hashes + settings), questionnaire,
                         the study's setting (region, units and their wording, comparisons), design, version, time,
                         row counts, and the tables below
    scores_unit.parquet  sk.score by reporting unit (columns of `surveykit score` with ``unit`` first, + `suppressed`)
    scores_city.parquet  sk.score for the whole region
    sample.parquet       respondents per unit and group (unweighted n, sum of weights)
    dont_know.parquet    don't-know rate per unit and item (an awareness signal)
    weights.parquet      weight diagnostics per unit, before ("design") and after ("final") raking
    ranks, compare_rest, group_gaps, comparisons, drivers, satisfaction_rates, reliability, cfa .parquet
                         the analysis of surveykit.analysis (codes, not words: reports translate them)
    comparability.parquet  which scores can be compared with the previous year's, and why not
                         (surveykit.analysis.comparability; every year but the study's first)
    year_change.parquet  change of every comparable score on the previous year (written once both years exist)
    index_common.parquet the index recomputed for both years on their common comparable items, and its change
                         (only when the study asks for it and the index is not comparable)
    zones_status, zones_evaluation, zones_targets, zones_tasks .parquet
                         demonstration zones (when the study has a register): each unit's status, what the year's
                         evaluation means for it (codes), the targets behind the verdict, key-task completion
    quality_counts / quality_totals .parquet
                         rows per quality rule, group and action by unit, and rows read/kept/excluded per group
                         (aggregates only: the row-level log never enters the store or a report)
    protection_<name>.parquet + protection.json
                         the protection-level composite of the year (when the study has protection inputs)

Every ``unit`` column holds unit ids (the study's ``units``); ``all`` (:data:`REGION`) marks the whole region.
Notebooks only read this store (:func:`load_results`) and draw; they compute nothing of their own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .io.atomic import atomic_path, write_atomic

STORE_VERSION = 5
#: The unit id of the whole region in store tables (like the group ``all``).
REGION = "all"
#: Tables written after the year's own computation, because they need other years too.
LATER_TABLES = ("year_change", "index_common", "zones_status", "zones_evaluation", "zones_targets", "zones_tasks")
#: What the protection-level computation writes as ``protection_<name>.parquet``.
PROTECTION_TABLES = ("scores", "steps", "changes", "weights", "ranks", "sobol", "sobol_units", "factors", "scorecard",
                     "scorecard_overall", "cases", "values")


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(results_dir: str | Path, year: int) -> dict | None:
    """The manifest of a year's store, or None when there is none (or it is unreadable)."""
    path = Path(results_dir) / str(year) / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def write_store(results_dir: str | Path, year: int, tables: dict[str, pd.DataFrame], manifest: dict | None) -> Path:
    """Write ``tables`` as parquet files of the year's store, then the manifest (listing the tables) when given."""
    folder = Path(results_dir) / str(year)
    folder.mkdir(parents=True, exist_ok=True)
    for name, t in tables.items():
        _write_parquet(t, folder / f"{name}.parquet")
    if manifest is not None:
        manifest = {**manifest, "tables": {k: {"file": f"{k}.parquet", "rows": int(len(v))} for k, v in tables.items()}}
        write_atomic(folder / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    return folder


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    t = df.copy()
    t.attrs = {}
    for c in t.columns:  # parquet needs one type per column: mixed object columns become text
        if t[c].dtype == object:
            t[c] = t[c].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else
                            (v if isinstance(v, (str, bool)) else str(v)))
    with atomic_path(path) as tmp:
        t.to_parquet(tmp, index=False)


@dataclass(frozen=True)
class YearResults:
    """A year's store, read back: the tables plus the manifest."""

    year: int
    manifest: dict
    scores_unit: pd.DataFrame
    scores_city: pd.DataFrame
    sample: pd.DataFrame
    dont_know: pd.DataFrame
    weights: pd.DataFrame
    quality_counts: pd.DataFrame
    quality_totals: pd.DataFrame
    ranks: pd.DataFrame
    compare_rest: pd.DataFrame
    group_gaps: pd.DataFrame
    reliability: pd.DataFrame
    cfa: pd.DataFrame
    drivers: pd.DataFrame | None = None
    comparisons: pd.DataFrame | None = None
    satisfaction_rates: pd.DataFrame | None = None
    year_change: pd.DataFrame | None = None
    zones_status: pd.DataFrame | None = None
    zones_evaluation: pd.DataFrame | None = None
    zones_targets: pd.DataFrame | None = None
    zones_tasks: pd.DataFrame | None = None
    comparability: pd.DataFrame | None = None
    index_common: pd.DataFrame | None = None

    @property
    def setting(self) -> dict:
        return self.manifest["setting"]


def load_results(results_dir: str | Path, year: int) -> YearResults:
    """Read a year's results store (written by :func:`surveykit.workflow.compute_year`)."""
    folder = Path(results_dir) / str(year)
    manifest = read_manifest(results_dir, year)
    if manifest is None:
        raise InputError(f"no results for {year}: run `surveykit report` (it computes them) first", file=folder)
    if manifest.get("store_version") != STORE_VERSION:
        raise InputError(f"the results for {year} were written by another version of surveykit: run "
                         "`surveykit report --recompute`", file=folder)
    tables = {k: pd.read_parquet(folder / v["file"]) for k, v in manifest["tables"].items()}
    for name in LATER_TABLES:   # written after the year's own computation (they need other years)
        if (folder / f"{name}.parquet").exists():
            tables[name] = pd.read_parquet(folder / f"{name}.parquet")
    return YearResults(year=year, manifest=manifest, **tables)


def write_protection(results_dir: str | Path, year: int, tables: dict[str, pd.DataFrame], manifest: dict) -> None:
    """Write the protection-level tables of ``year`` (``protection_<name>.parquet``) and ``protection.json``."""
    folder = Path(results_dir) / str(year)
    for name, t in tables.items():
        _write_parquet(t, folder / f"protection_{name}.parquet")
    manifest = {**manifest, "tables": {n: {"file": f"protection_{n}.parquet", "rows": int(len(t))}
                                       for n, t in tables.items()}}
    write_atomic(folder / "protection.json", json.dumps(manifest, ensure_ascii=False, indent=2))


def load_protection(results_dir: str | Path, year: int) -> dict[str, pd.DataFrame] | None:
    """The protection tables of ``year`` (None when the study has none), plus ``"manifest"``."""
    folder = Path(results_dir) / str(year)
    man = folder / "protection.json"
    if not man.exists():
        return None
    m = json.loads(man.read_text(encoding="utf-8"))
    out = {n: pd.read_parquet(folder / v["file"]) for n, v in m["tables"].items()}
    out["manifest"] = m
    return out


def write_plan(results_dir: str | Path, year: int, table: pd.DataFrame | None, settings: dict | None) -> None:
    """Keep next year's sampling plan beside ``year``'s results (``plan.parquet``, ``plan.json``: its settings,
    notes and key); ``table`` None removes an earlier plan."""
    folder = Path(results_dir) / str(year)
    if table is None:
        for name in ("plan.parquet", "plan.json"):
            (folder / name).unlink(missing_ok=True)
        return
    _write_parquet(table, folder / "plan.parquet")
    write_atomic(folder / "plan.json", json.dumps(settings, ensure_ascii=False, indent=2))


def load_plan(results_dir: str | Path, year: int) -> tuple[pd.DataFrame, dict] | None:
    """The plan kept beside ``year``'s results (:func:`write_plan`): ``(table, settings)``, or None."""
    folder = Path(results_dir) / str(year)
    try:
        settings = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
        return pd.read_parquet(folder / "plan.parquet"), settings
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
