"""Deterministic demonstration data for the protection-level assessment of the demo study.

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

:func:`surveykit.workflow.compute_protection` then reads those files as any study's.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.writers import write_csv
from ..protection.cases import ENFORCEMENT, write_case_table
from ..protection.values import CITY
from . import DEMO_UNITS

UNITS = DEMO_UNITS.units

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
    (``cases``, ``indicators``)."""
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
    return {"cases": cases, "indicators": ind}
