"""Deterministic demonstration data for the protection-level assessment, and the computation the demo runs.

:func:`write_protection_demo` writes, for each year and each of the 17 units, the administrative-protection
case-statistics tables in the city's layout (half year as XLSX with merged category cells, full year as CSV),
plus a long values file with the other indicators (market entities, referrals, ruling times, mediation,
abnormal-application withdrawals, workstations, ...). Nothing is real. The magnitudes follow DOMAIN.md: summed
over the districts, about 1,000-1,300 trademark cases and 1,500-2,000 patent-dispute rulings a year, fines of
about 1 万元 per case. Each unit has a latent protection strength (fixed across years, with a unit-specific
trend) that moves its indicators together, so that the composite separates units without being trivial.

Deliberate blemishes exercise every step: in 2026 one unit's ruling handling time is missing (imputed from
2025) and one unit's punitive-damage count is missing (imputed by the year's mean); 浦东新区's punitive-damage
count is an outlier (winsorised); one unit closes a backlog (more rulings closed than filed: a warning).

Every random stream is ``default_rng(SeedSequence([seed, year or 0, crc32(purpose)]))``: the same seed gives
byte-identical CSV files (XLSX files embed a timestamp).

:func:`compute_protection` then reads those files, checks and compiles the case tables, adds the survey's
satisfaction index (from the results store or a given table), builds the composite with the framework's
methods, runs the uncertainty and sensitivity analysis and the acceptance scorecard, and returns (and writes)
the tidy tables the results store keeps (see :data:`TABLES`).
"""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.atomic import atomic_path, write_atomic
from ..io.writers import write_csv
from ..errors import InputError
from ..units import UNITS
from .cases import (ENFORCEMENT, case_records, check_case_tables, city_summary, derive_indicators,
                    read_case_tables, write_case_table)
from .framework import Framework, load_framework
from .pipeline import build_composite
from .scorecard import Targets, evaluate_targets, load_targets, satisfaction_from_scores, scorecard_overall
from .uncertainty import uncertainty_analysis
from .values import CITY, read_indicator_values

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FRAMEWORK = REPO_ROOT / "questionnaires" / "protection_level.yaml"
DEFAULT_TARGETS = REPO_ROOT / "questionnaires" / "demo_zone_targets.yaml"
DEFAULT_SEED = 20251123

# registered market entities (thousands) per unit in 2025 -- plausible orders of magnitude, not statistics
ENTITIES_K = {"huangpu": 90, "xuhui": 135, "changning": 105, "jingan": 140, "putuo": 110, "hongkou": 85,
              "yangpu": 125, "minhang": 330, "baoshan": 260, "jiading": 330, "pudong": 650, "jinshan": 170,
              "songjiang": 300, "qingpu": 250, "fengxian": 380, "chongming": 290, "lingang": 85}
# FY cases per 10,000 market entities, by case type (trademark infringement dominates, as in the city's data)
CASE_RATE = {"counterfeit_patent": 0.15, "trademark_infringement": 1.9, "trademark_other": 1.1,
             "geographical_indication": 0.04, "official_marks": 0.03}
VALUE_PER_CASE = {"counterfeit_patent": 4.0, "trademark_infringement": 7.0, "trademark_other": 3.0,
                  "geographical_indication": 5.0, "official_marks": 2.0}   # 万元
FINE_PER_CASE = {"counterfeit_patent": 0.8, "trademark_infringement": 1.3, "trademark_other": 0.7,
                 "geographical_indication": 1.0, "official_marks": 0.5}    # 万元
RULINGS_PER_10K = 5.5

# what compute_protection returns and writes as <results>/<year>/protection_<name>.parquet
TABLES = ("scores", "steps", "changes", "weights", "ranks", "sobol", "sobol_units", "factors", "scorecard",
          "scorecard_overall", "cases", "case_log", "values")


def _rng(seed: int, year: int | None, purpose: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, year or 0, zlib.crc32(purpose.encode())]))


def _unit_latents(seed: int) -> dict[str, tuple[float, float]]:
    rng = _rng(seed, None, "protection-latent")
    z = rng.normal(0, 1, len(UNITS))
    trend = rng.normal(0, 1, len(UNITS))
    return {u.slug: (float(z[k]), float(trend[k])) for k, u in enumerate(UNITS)}


def generate_protection_year(year: int, seed: int = DEFAULT_SEED) -> tuple[dict, pd.DataFrame]:
    """One year: ``({(unit, period): {(category, measure): number}}, other-indicator values (long))``."""
    lat = _unit_latents(seed)
    rng = _rng(seed, year, "protection-year")
    t = year - 2025
    tables: dict = {}
    rows = []
    backlog_unit = UNITS[int(_rng(seed, None, "backlog").integers(len(UNITS)))].slug
    missing = _rng(seed, None, "missing").choice(len(UNITS), 2, replace=False)
    for k, u in enumerate(UNITS):
        z0, tr = lat[u.slug]
        z = z0 + 0.35 * tr * t
        ent = round(ENTITIES_K[u.slug] * 1000 * 1.03**t * float(np.exp(rng.normal(0, 0.01))))
        scale = ent / 10000
        fy: dict = {}
        h1: dict = {}
        for c in ENFORCEMENT:
            n = int(rng.poisson(scale * CASE_RATE[c] * np.exp(0.35 * z)))
            val = round(float(n * VALUE_PER_CASE[c] * np.exp(rng.normal(0, 0.35))), 2) if n else 0.0
            fine = round(float(n * FINE_PER_CASE[c] * np.exp(0.25 * z + rng.normal(0, 0.3))), 2) if n else 0.0
            share = rng.uniform(0.38, 0.55)
            n1 = int(rng.binomial(n, share)) if n else 0
            fy[(c, "cases")], fy[(c, "value")], fy[(c, "fines")] = n, val, fine
            h1[(c, "cases")] = n1
            h1[(c, "value")] = round(val * n1 / n * rng.uniform(0.8, 1.0), 2) if n else 0.0
            h1[(c, "fines")] = round(fine * n1 / n * rng.uniform(0.8, 1.0), 2) if n else 0.0
        filed = int(rng.poisson(scale * RULINGS_PER_10K * np.exp(0.3 * z)))
        rate = float(np.clip(rng.normal(0.9 + 0.04 * z, 0.04), 0.7, 1.06))
        closed = int(round(filed * rate))
        if u.slug == backlog_unit and year == 2025:
            closed = int(round(filed * 1.8)) + 8
        f1 = int(rng.binomial(filed, 0.47))
        c1 = min(int(rng.binomial(closed, 0.45)), closed)
        fy[("patent_ruling", "cases")], fy[("patent_ruling", "closed")] = filed, closed
        h1[("patent_ruling", "cases")], h1[("patent_ruling", "closed")] = f1, c1
        tables[(u.zh, "FY")] = fy
        tables[(u.zh, "H1")] = h1
        punitive = int(rng.poisson(1.5 + ent / 100000 * np.exp(0.4 * z)))
        if u.slug == "pudong":
            punitive = 30 + int(rng.integers(0, 8))
        v = {
            "market_entities": ent,
            "criminal_referral_rate": round(float(np.clip(6 + 2 * z + rng.normal(0, 1.5), 0.5, 18)), 1),
            "ruling_days": round(float(np.clip(55 - 8 * z + rng.normal(0, 6), 20, 120)), 1),
            "mediation_success_rate": round(float(np.clip(38 + 7 * z + rng.normal(0, 5), 10, 80)), 1),
            "court_mediations": int(rng.poisson(scale * 1.2 * np.exp(0.3 * z))),
            "punitive_damages_cases": punitive,
            "abnormal_withdrawal_rate": round(float(np.clip(88 + 4 * z + rng.normal(0, 3), 60, 99.5)), 1),
            "compliance_firms": int(rng.poisson(scale * 0.8 * np.exp(0.4 * z))),
            "workstations": max(2, int(rng.poisson(3 + ent / 50000 * np.exp(0.2 * z)))),
            "service_response_days": round(float(np.clip(5 - 1.0 * z + rng.normal(0, 0.8), 1, 15)), 1),
            "repeat_infringement_rate": round(float(np.clip(8 - 2 * z + rng.normal(0, 1.5), 1, 25)), 1),
        }
        if year >= 2026 and k == missing[0]:
            v["ruling_days"] = np.nan
        if year >= 2026 and k == missing[1]:
            v["punitive_damages_cases"] = np.nan
        rows += [dict(unit=u.zh, year=year, indicator=key, value=float(x)) for key, x in v.items()]
    df = pd.DataFrame(rows)
    # the city's own reported withdrawal rate (used by the scorecard's "city average")
    w = df[df.indicator == "abnormal_withdrawal_rate"].value
    df = pd.concat([df, pd.DataFrame([dict(unit=CITY, year=year, indicator="abnormal_withdrawal_rate",
                                           value=round(float(w.mean()) + 0.3, 1))])], ignore_index=True)
    return tables, df


def write_protection_demo(out_dir: str | Path, years=(2025, 2026), seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Write the demo inputs under ``out_dir``: ``cases/<slug>_<year>_H1.xlsx`` and ``..._FY.csv`` for every unit
    and year, and ``indicators.csv`` (the other indicators, long format). Returns the paths by name
    (``cases``, ``indicators``, ``framework``, ``targets``)."""
    out = Path(out_dir)
    cases = out / "cases"
    cases.mkdir(parents=True, exist_ok=True)
    parts = []
    by_zh = {u.zh: u for u in UNITS}
    for y in years:
        tables, df = generate_protection_year(int(y), seed)
        for (unit, period), vals in tables.items():
            ext = "xlsx" if period == "H1" else "csv"
            write_case_table(cases / f"{by_zh[unit].slug}_{y}_{period}.{ext}", unit, int(y), period, vals)
        parts.append(df)
    values = pd.concat(parts, ignore_index=True)
    ind = out / "indicators.csv"
    write_csv(values, ind, float_format="%.10g")
    return {"cases": cases, "indicators": ind, "framework": DEFAULT_FRAMEWORK, "targets": DEFAULT_TARGETS}


def satisfaction_values(survey: pd.DataFrame, year: int) -> pd.DataFrame:
    """Survey estimates (unit, estimate, ...) as values rows of the indicator ``satisfaction_index``."""
    return pd.DataFrame({"unit": survey["unit"].to_numpy(), "year": int(year), "indicator": "satisfaction_index",
                         "value": survey["estimate"].to_numpy(dtype=float)})


def load_survey(results_dir: str | Path, year: int, unit_column: str = "district") -> tuple[pd.DataFrame, dict]:
    """The survey's per-unit index (unit, estimate, ci_low, ci_high) and the city estimate from the results
    store of ``year``."""
    from ..results import load_results

    r = load_results(results_dir, year)
    survey = satisfaction_from_scores(r.scores_unit, unit_column)
    c = r.scores_city
    city = c[(c["group"] == "all") & (c["node"] == "index")]
    return survey, ({"satisfaction_index": float(city.estimate.iloc[0])} if len(city) else {})


def compute_protection(inputs: dict, year: int, *, results_dir: str | Path | None = None,
                       survey: dict[int, pd.DataFrame] | pd.DataFrame | None = None,
                       city: dict[str, float] | None = None, framework: Framework | str | Path | None = None,
                       targets: Targets | str | Path | None = None, runs: int = 1000, sobol_n: int = 256,
                       seed: int = DEFAULT_SEED, unit_column: str = "district", write: bool = True) -> dict:
    """Everything the report needs about the protection level of ``year``, as tidy tables.

    Parameters
    ----------
    inputs : ``{"cases": folder or list of case tables, "indicators": values CSV}`` (as returned by
        :func:`write_protection_demo`); ``cases`` may be omitted when the values file already holds the
        case-derived indicators.
    year : the year assessed (the previous year, when present, serves imputation).
    results_dir : the study's results folder: the survey is read from ``<results_dir>/<year>/`` (and the
        previous year's) unless ``survey`` is given, and, with ``write``, the tables are written there as
        ``protection_<name>.parquet`` plus ``protection.json`` (what was computed from what).
    survey : ``{year: table}`` or one table for ``year``: unit, estimate, ci_low, ci_high.
    city : city-level values for "city average" targets (default: the store's city estimate).

    Returns a dict of DataFrames named as in :data:`TABLES` (``scores`` = the composite's tidy scores, ``ranks``
    = Monte Carlo rank bands, ``sobol`` = sensitivity indices, ``scorecard`` = the acceptance scorecard, ``cases``
    = the city case summary, ...) plus ``"result"`` (the :class:`CompositeResult`) and ``"uncertainty"``.
    """
    fw_path = None if isinstance(framework, Framework) else Path(framework or DEFAULT_FRAMEWORK)
    tg_path = None if isinstance(targets, Targets) else Path(targets or DEFAULT_TARGETS)
    fw = framework if isinstance(framework, Framework) else load_framework(fw_path)
    tg = targets if isinstance(targets, Targets) else load_targets(tg_path)
    values = read_indicator_values(inputs["indicators"])
    parts = [values]
    case_summary = pd.DataFrame()
    case_log = pd.DataFrame()
    if inputs.get("cases"):
        paths = inputs["cases"] if isinstance(inputs["cases"], (list, tuple)) else [inputs["cases"]]
        tables = read_case_tables(paths)
        check = check_case_tables(tables)
        case_log = check.log
        if not check.ok:
            raise check.first_error()
        rec = case_records(tables)
        case_summary = city_summary(rec, "FY")
        parts.append(derive_indicators(rec, values, "FY"))
    # the survey
    surveys: dict[int, pd.DataFrame] = {}
    if isinstance(survey, pd.DataFrame):
        surveys[year] = survey
    elif isinstance(survey, dict):
        surveys.update(survey)
    city = dict(city or {})
    if results_dir is not None:
        for y in (year - 1, year):
            if y not in surveys and (Path(results_dir) / str(y) / "manifest.json").exists():
                s, c = load_survey(results_dir, y, unit_column)
                surveys[y] = s
                if y == year:
                    city = {**c, **city}
    for y, s in surveys.items():
        parts.append(satisfaction_values(s, y))
    allv = pd.concat(parts, ignore_index=True)
    allv = allv.drop_duplicates(["unit", "year", "indicator"], keep="last").reset_index(drop=True)
    allv.attrs["source"] = str(inputs["indicators"])
    if year not in surveys and "satisfaction_index" in fw.indicator_ids and \
            not (allv[(allv.year == year) & (allv.indicator == "satisfaction_index")]).value.notna().any():
        raise InputError(f"no satisfaction index for {year}: compute the survey's results store first, or pass "
                         "the survey table")
    result = build_composite(fw, allv, year)
    ua = uncertainty_analysis(fw, allv, year, runs=runs, sobol_n=sobol_n, seed=seed)
    card = evaluate_targets(tg, allv, year, survey=surveys.get(year), city=city, units=list(result.units))
    out = {
        "scores": result.scores.assign(year=year), "steps": result.steps.assign(year=year),
        "changes": result.changes.assign(year=year), "weights": result.weights.assign(year=year),
        "ranks": ua.ranks.assign(year=year), "sobol": (ua.sobol if ua.sobol is not None else pd.DataFrame()),
        "sobol_units": (ua.sobol_units if ua.sobol_units is not None else pd.DataFrame()),
        "factors": ua.factors.assign(notes="; ".join(ua.notes)),
        "scorecard": card.assign(year=year), "scorecard_overall": scorecard_overall(card).assign(year=year),
        "cases": case_summary, "case_log": case_log, "values": allv,
        "result": result, "uncertainty": ua,
    }
    if write and results_dir is not None:
        folder = Path(results_dir) / str(year)
        folder.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            t = out[name].copy()
            t.attrs = {}
            for c in t.columns:  # parquet needs one type per column
                if t[c].dtype == object:
                    t[c] = t[c].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
            with atomic_path(folder / f"protection_{name}.parquet") as tmp:
                t.to_parquet(tmp, index=False)
        from .. import __version__

        manifest = {"year": year, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "surveykit_version": __version__, "framework": {"id": fw.id, "version": fw.version,
                                                                   "path": str(fw_path) if fw_path else None},
                    "targets": {"id": tg.id, "version": tg.version, "path": str(tg_path) if tg_path else None},
                    "inputs": {k: str(v) for k, v in inputs.items()},
                    "survey_years": sorted(surveys), "monte_carlo": {"runs": runs, "seed": seed},
                    "sobol": {"n": sobol_n, "runs": int(ua.sobol.runs.iloc[0]) if ua.sobol is not None and len(ua.sobol)
                              else 0}, "notes": ua.notes,
                    "tables": {n: {"file": f"protection_{n}.parquet", "rows": int(len(out[n]))} for n in TABLES}}
        write_atomic(folder / "protection.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    return out


def load_protection(results_dir: str | Path, year: int) -> dict[str, pd.DataFrame] | None:
    """The protection tables written by :func:`compute_protection` for ``year`` (None when there are none)."""
    folder = Path(results_dir) / str(year)
    man = folder / "protection.json"
    if not man.exists():
        return None
    m = json.loads(man.read_text(encoding="utf-8"))
    out = {n: pd.read_parquet(folder / v["file"]) for n, v in m["tables"].items()}
    out["manifest"] = m
    return out
