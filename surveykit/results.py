"""The results store: every statistic of a year computed once, before any report is drawn.

Layout (``<results>/<year>/``)::

    manifest.json        what was computed from what: input file hashes, questionnaire id/version/hash, design,
                         package version, parameters, time, row counts, the tables below
    scores_unit.parquet  sk.score by reporting unit (columns of `surveykit score` + `suppressed`)
    scores_city.parquet  sk.score for the whole city
    sample.parquet       respondents per unit and group (unweighted n, sum of weights)
    dont_know.parquet    don't-know rate per unit and item (an awareness signal)
    weights.parquet      weight diagnostics per unit, before ("design") and after ("final") raking
    ranks, compare_rest, group_gaps, ownership_gap, drivers, reliability, cfa .parquet
                         the analysis of surveykit.analysis (codes, not words: reports translate them)
    year_change.parquet  change of every score on the previous year (written once both years exist)
    quality_counts / quality_totals .parquet
                         rows per quality rule, group and action by unit, and rows read/kept/excluded per group
                         (aggregates only: the row-level log never enters the store or a report)

Notebooks only read this store (:func:`load_results`) and draw; they compute nothing of their own.
:func:`ensure_results` recomputes a year only when an input changed (hashes in the manifest).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .errors import InputError
from .io import read_table
from .io.atomic import atomic_path, write_atomic
from .scoring import group_codes, score
from .spec.questionnaire import Questionnaire, load_questionnaire
from .spec.study import Study
from .survey.design import Design

STORE_VERSION = 4


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_responses(study: Study, year: int, q: Questionnaire):
    """Read, map and check a year's responses (:func:`surveykit.quality.prepare`): returns the
    :class:`~surveykit.quality.Prepared` (kept rows in ``.data``; every other row is in ``.log`` with its reason)."""
    from .quality import prepare

    if year not in study.years:
        raise InputError(f"no responses configured for {year} (years: {', '.join(map(str, study.years))})")
    qs = study.quality
    opt = lambda x: study.path(x) if x else None  # noqa: E731
    return prepare(q, study.responses_path(year), rules=opt(qs.rules), mapping=opt(qs.mapping),
                   aliases=opt(qs.aliases), unit_column=study.unit_column, id_column=qs.id_column,
                   duration_column=qs.duration_column, sheet=study.years[year].sheet)


def compute_year(study: Study, year: int, *, questionnaire: Questionnaire | None = None) -> Path:
    """Compute the store of one year (see module docstring); returns the year's folder."""
    q = questionnaire or load_questionnaire(study.questionnaire_path)
    prepared = load_responses(study, year, q)
    df = prepared.data
    col = study.unit_column
    design = Design(df, **study.design.kwargs())
    weights_before = design.weight_diagnostics(by=[col]).assign(stage="design")
    margins_path = study.path(study.years[year].rake) if study.years[year].rake else None
    if margins_path is not None:
        design = design.rake(read_table(margins_path))
    weights = pd.concat([weights_before, design.weight_diagnostics(by=[col]).assign(stage="final"),
                         design.weight_diagnostics().assign(stage="final", **{col: "全市"})], ignore_index=True)
    from . import analysis as ska

    by_unit = ska.mark_small(score(q, design, by=[col]), min_n=study.min_n, max_rse=study.max_rse)
    city = ska.mark_small(score(q, design), min_n=study.min_n, max_rse=study.max_rse)
    g = group_codes(q, df)
    w = design.weights.to_numpy()
    sample = (pd.DataFrame({col: df[col].to_numpy(), "group": np.array(q.group_ids)[g], "w": w})
              .groupby([col, "group"], sort=True).agg(n=("w", "size"), sum_weights=("w", "sum")).reset_index())
    import warnings

    notes = []
    with warnings.catch_warnings(record=True) as caught:  # analysis caveats go to the manifest, not the console
        warnings.simplefilter("always")
        analysis = _analysis_tables(q, design, df, col)
    notes = sorted({str(w.message) for w in caught})
    dont_know = analysis.pop("dont_know")
    out = study.results_dir / str(year)
    out.mkdir(parents=True, exist_ok=True)
    quality_counts = prepared.counts(by_unit=True).rename(columns={"unit": col})
    quality_totals = prepared.totals()
    tables = {"scores_unit": by_unit, "scores_city": city, "sample": sample, "dont_know": dont_know,
              "weights": weights, "quality_counts": quality_counts, "quality_totals": quality_totals, **analysis}
    for name, t in tables.items():
        _write_parquet(t, out / f"{name}.parquet")
    manifest = {
        "store_version": STORE_VERSION,
        "year": year,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "surveykit_version": __version__,
        "inputs": {"responses": {"path": str(study.responses_path(year)), "sha256": sha256(study.responses_path(year)),
                                 "encoding": df.attrs.get("encoding"), "rows_read": int(prepared.rows_read),
                                 "rows": int(len(df)), "rows_excluded": int(prepared.rows_excluded),
                                 "rows_flagged": int(prepared.rows_flagged), "quality_notes": list(prepared.notes)},
                   "questionnaire": {"path": str(study.questionnaire_path), "id": q.id, "version": q.version,
                                     "sha256": sha256(study.questionnaire_path)}},
        "design": study.design.kwargs(),
        "weighting": {"margins": None if margins_path is None else {"path": str(margins_path),
                                                                     "sha256": sha256(margins_path)},
                      "history": list(design.history)},
        "unit_column": col,
        "min_n": study.min_n,
        "max_rse": study.max_rse,
        "notes": notes,
        "analysis": {"ranks": {"method": "simulation", "draws": 4000, "seed": 20251123, "level": 0.90},
                     "comparisons": {"adjust": "holm", "family": f"per {col}", "alpha": 0.05}},
        "design_summary": repr(design),
        "tables": {k: {"file": f"{k}.parquet", "rows": int(len(v))} for k, v in tables.items()},
    }
    write_atomic(out / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    return out


def _analysis_tables(q: Questionnaire, design: Design, df: pd.DataFrame, col: str) -> dict[str, pd.DataFrame]:
    """The analysis the reports show (issue 6), as codes -- the reports put verdicts and ranks into words."""
    from . import analysis as ska

    neutral = ["verdict_text", "rank_label"]
    out = {"dont_know": ska.dont_know_rates(q, design, by=col),
           "ranks": ska.rank_intervals(q, design, col).drop(columns=neutral, errors="ignore"),
           "compare_rest": ska.compare_to_rest(q, design, col, family=col).drop(columns=neutral, errors="ignore"),
           "group_gaps": pd.concat([ska.group_gap(q, design, by=col, family=col),
                                    ska.group_gap(q, design).assign(**{col: "全市"})], ignore_index=True
                                   ).drop(columns=neutral, errors="ignore"),
           "drivers": pd.concat([ska.importance_performance(q, design, level=lv).assign(level=lv) for lv in (1, 2)],
                                ignore_index=True).drop(columns=["label", "quadrant_label"], errors="ignore"),
           "reliability": ska.reliability(q, df),
           "cfa": ska.cfa(q, df)}
    if "ownership" in df.columns:
        out["ownership_gap"] = pd.concat([ska.ownership_gap(q, design, by=col, family=col),
                                          ska.ownership_gap(q, design).assign(**{col: "全市"})], ignore_index=True
                                         ).drop(columns=neutral, errors="ignore")
    return out


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def is_current(study: Study, year: int) -> bool:
    """True when the year's store exists and was computed from the current inputs by this version."""
    m = study.results_dir / str(year) / "manifest.json"
    if not m.exists():
        return False
    man = json.loads(m.read_text(encoding="utf-8"))
    try:
        return (man["store_version"] == STORE_VERSION and man["surveykit_version"] == __version__
                and man["inputs"]["responses"]["sha256"] == sha256(study.responses_path(year))
                and man["inputs"]["questionnaire"]["sha256"] == sha256(study.questionnaire_path)
                and man["design"] == study.design.kwargs() and man["min_n"] == study.min_n
                and man.get("max_rse") == study.max_rse
                and _margins_hash(study, year) == (man["weighting"]["margins"] or {}).get("sha256"))
    except (KeyError, FileNotFoundError):
        return False


def _margins_hash(study: Study, year: int) -> str | None:
    rel = study.years[year].rake
    return sha256(study.path(rel)) if rel else None


def protection_inputs_hash(study: Study) -> str | None:
    """One hash over every protection input file (indicator values, case tables, framework, targets)."""
    spec = study.protection
    if spec is None:
        return None
    files = [study.path(spec.indicators)]
    if spec.cases:
        c = study.path(spec.cases)
        files += sorted(p for p in c.rglob("*") if p.is_file()) if c.is_dir() else [c]
    files += [study.path(x) for x in (spec.framework, spec.targets) if x]
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.name).encode())
        h.update(sha256(f).encode())
    return h.hexdigest()


def compute_protection_year(study: Study, year: int) -> None:
    """The protection-level composite of ``year`` into the store (reads the year's satisfaction index)."""
    from .protection.demo import compute_protection

    spec = study.protection
    inputs = {"indicators": study.path(spec.indicators)}
    if spec.cases:
        inputs["cases"] = study.path(spec.cases)
    compute_protection(inputs, year, results_dir=study.results_dir, unit_column=study.unit_column,
                       framework=study.path(spec.framework) if spec.framework else None,
                       targets=study.path(spec.targets) if spec.targets else None)
    stamp = study.results_dir / str(year) / "protection_inputs.sha256"
    write_atomic(stamp, protection_inputs_hash(study) or "")


def ensure_results(study: Study, years: list[int] | None = None) -> dict[int, Path]:
    """Compute every configured year whose store is missing or stale; returns the folders.

    The survey statistics of all years come first (the composite of a year uses that year's satisfaction index
    and imputes from the year before), then the protection-level composite when the study configures it.
    """
    q = load_questionnaire(study.questionnaire_path)
    out, fresh = {}, set()
    for y in sorted(years or study.years):
        if is_current(study, y):
            out[y] = study.results_dir / str(y)
        else:
            out[y] = compute_year(study, y, questionnaire=q)
            fresh.add(y)
    # year-on-year change of every score (independent samples), kept with the later year
    from .analysis import year_change

    done = sorted(out)
    for prev, cur in zip(done, done[1:]):
        stamp = out[cur] / "year_change.from"
        key = f"{sha256(out[prev] / 'manifest.json')} {sha256(out[cur] / 'manifest.json')}"
        if cur in fresh or prev in fresh or not stamp.exists() or stamp.read_text(encoding="utf-8") != key:
            a, b = load_results(study.results_dir, cur), load_results(study.results_dir, prev)
            col = a.manifest["unit_column"]
            keys = [col, "group", "node"]
            ch = year_change(a.scores_unit[keys + ["estimate", "se"]], b.scores_unit[keys + ["estimate", "se"]],
                             family=col).drop(columns=["verdict_text"], errors="ignore")
            ch_city = year_change(a.scores_city[["group", "node", "estimate", "se"]],
                                  b.scores_city[["group", "node", "estimate", "se"]]).drop(
                columns=["verdict_text"], errors="ignore").assign(**{col: "全市"})
            _write_parquet(pd.concat([ch, ch_city], ignore_index=True), out[cur] / "year_change.parquet")
            write_atomic(stamp, key)
    if study.protection is not None:
        want = protection_inputs_hash(study)
        for y in sorted(out):
            stamp = out[y] / "protection_inputs.sha256"
            if y in fresh or not stamp.exists() or stamp.read_text(encoding="utf-8") != want:
                compute_protection_year(study, y)
    return out


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
    drivers: pd.DataFrame
    reliability: pd.DataFrame
    cfa: pd.DataFrame
    ownership_gap: pd.DataFrame | None = None
    year_change: pd.DataFrame | None = None


def load_results(results_dir: str | Path, year: int) -> YearResults:
    """Read a year's results store (written by :func:`compute_year`)."""
    folder = Path(results_dir) / str(year)
    man_path = folder / "manifest.json"
    if not man_path.exists():
        raise InputError(f"no results for {year}: run `surveykit report` (it computes them) first", file=folder)
    manifest = json.loads(man_path.read_text(encoding="utf-8"))
    tables = {k: pd.read_parquet(folder / v["file"]) for k, v in manifest["tables"].items()}
    if (folder / "year_change.parquet").exists():
        tables["year_change"] = pd.read_parquet(folder / "year_change.parquet")
    return YearResults(year=year, manifest=manifest, **tables)
