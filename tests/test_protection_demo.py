"""Demo data (deterministic, plausible) and the Monte Carlo and Sobol analysis on it. (The year's protection
computation through a study and the report's tables and sentences: tests/test_reports.py.)"""

import time

import numpy as np
import pandas as pd
import pytest

from surveykit.demo import DEMO_UNITS, UNITS
from surveykit.demo.protection import write_protection_demo
from surveykit.protection import build_composite, load_framework, uncertainty_analysis
from surveykit.protection.cases import case_records, derive_indicators, read_case_tables
from surveykit.protection.values import CITY, read_indicator_values
from surveykit.resources import default_file

DEFAULT_FRAMEWORK = default_file("protection_level.yaml")


def satisfaction_values(year):
    """A made-up satisfaction index per unit as values rows (the survey's part of the composite)."""
    est = np.random.default_rng(year).normal(81, 2, len(UNITS))
    return pd.DataFrame({"unit": [u.zh for u in UNITS], "year": year, "indicator": "satisfaction_index",
                         "value": est})


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("pdemo")
    paths = write_protection_demo(d, years=(2025, 2026), seed=7)
    values = read_indicator_values(paths["indicators"], units=DEMO_UNITS)
    rec = case_records(read_case_tables([paths["cases"]], units=DEMO_UNITS))
    allv = pd.concat([values, derive_indicators(rec, values)] + [satisfaction_values(y) for y in (2025, 2026)],
                     ignore_index=True)
    return d, paths, read_indicator_values(allv, units=DEMO_UNITS)


def test_demo_files_deterministic_and_plausible(demo, tmp_path):
    d, paths, allv = demo
    files = sorted(p.name for p in paths["cases"].iterdir())
    assert len(files) == 17 * 2 * 2 and "huangpu_2025_H1.xlsx" in files and "lingang_2026_FY.csv" in files
    again = write_protection_demo(tmp_path, years=(2025, 2026), seed=7)
    assert again["indicators"].read_bytes() == paths["indicators"].read_bytes()
    assert (again["cases"] / "pudong_2026_FY.csv").read_bytes() == (paths["cases"] / "pudong_2026_FY.csv").read_bytes()
    fy = allv[allv.unit != CITY].pivot_table(index="year", columns="indicator", values="value", aggfunc="sum")
    for y in (2025, 2026):
        assert 700 <= fy.loc[y, "trademark_cases"] <= 1800          # city: ~1,050 trademark cases (2022)
        assert 1000 <= fy.loc[y, "ruling_filed"] <= 3000            # city: ~2,040 patent disputes (2022)
        per_case = fy.loc[y, "admin_fines"] / fy.loc[y, "admin_cases"]
        assert 0.5 <= per_case <= 2.5                                # city: ~1.1 万元 per trademark case
    # the blemishes: two missing values in 2026, 浦东新区's outlier
    m = allv[(allv.year == 2026) & allv.value.isna()]
    assert set(m.indicator) == {"ruling_days", "punitive_damages_cases"}


def test_pipeline_on_demo_records_its_repairs(demo):
    _, _, allv = demo
    fw = load_framework(DEFAULT_FRAMEWORK)
    r = build_composite(fw, allv, 2026)
    assert len(r.units) == 17
    assert set(r.changes[r.changes.step == "impute"].note) == {"previous year (2025)", "mean of the year"}
    t = r.changes[r.changes.step == "treat"]
    assert ("pudong", "punitive_damages_cases") in set(zip(t.unit, t.node))
    idx = r.index()
    assert idx["rank"].tolist() == sorted(idx["rank"].tolist()) and idx.score.between(0, 100).all()


def test_uncertainty_and_sobol(demo):
    _, _, allv = demo
    fw = load_framework(DEFAULT_FRAMEWORK)
    t0 = time.perf_counter()
    ua = uncertainty_analysis(fw, allv, 2026, runs=1000, sobol_n=256, seed=11)
    elapsed = time.perf_counter() - t0
    assert elapsed < 20                                   # a few seconds on a laptop (benchmarks/bench_composite.py)
    r = ua.ranks
    base = build_composite(fw, allv, 2026).index().set_index("unit")
    assert (r.set_index("unit").base_rank == base["rank"].reindex(r.unit)).all()    # same numerical core
    assert np.allclose(r.set_index("unit").base_score, base.score.reindex(r.unit))
    assert ((r.rank_p05 <= r.median_rank) & (r.median_rank <= r.rank_p95)).all()
    assert (r.rank_p05 >= 1).all() and (r.rank_p95 <= 17).all() and (r.rank_p95 > r.rank_p05).any()
    s = ua.sobol
    assert set(s.factor) == {"weights", "noise", "normalise", "aggregate", "impute"}
    assert s.runs.iloc[0] == 256 * (5 + 2)
    assert (s.ST >= s.S1 - 2 * s.ST_conf - 0.05).all()     # total >= first order, up to estimation error
    assert ua.driver in set(s.factor)
    assert set(ua.sobol_units.unit) == set(r.unit)
    # deterministic by seed
    again = uncertainty_analysis(fw, allv, 2026, runs=1000, sobol_n=0, seed=11)
    pd.testing.assert_frame_equal(again.ranks, ua.ranks)


def test_sobol_sees_no_effect_when_nothing_can_change(tmp_path):
    # two indicators that rank the units identically: no method choice can change the ranking
    fw_p = tmp_path / "fw.yaml"
    fw_p.write_text("""\
id: t
version: "1"
dimensions:
  - id: a
    label: {zh: 甲}
    indicators:
      - {id: x, label: {zh: x}}
      - {id: y, label: {zh: y}}
""", encoding="utf-8")
    fw = load_framework(fw_p)
    units = [u.zh for u in UNITS[:6]]
    rows = [dict(unit=u, year=2026, indicator=i, value=float(k * (2 if i == "x" else 3) + 1))
            for k, u in enumerate(units) for i in ("x", "y")]
    v = read_indicator_values(pd.DataFrame(rows))
    ua = uncertainty_analysis(fw, v, 2026, runs=1000, sobol_n=64, seed=1)
    assert (ua.ranks.rank_p05 == ua.ranks.rank_p95).all()
    assert np.allclose(ua.sobol.ST, 0) and np.allclose(ua.sobol.S1, 0)
    assert ua.notes == ["no value is missing: imputation cannot change the ranking and is not varied"]
