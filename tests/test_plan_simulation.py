"""The plan against the sampling it plans: on the demo's synthetic population of 2026 (17 units, 267,333 persons in
339 streets), plan every unit's index to ±1.5 with power allocation at a valid rate of 0.85, then draw that
stratified two-stage sample 80 times (an SRS of the planned streets in each unit, the planned interviews spread
over them, each valid with probability 0.85) and score each draw with sk.Design / sk.score.

The plan's inputs here are the census values of its variance model (``plan_support.population_parameters``:
Cochran's two-stage components of this population), so what is checked is the plan -- model, allocation,
rounding, streets, valid rate -- not the sampling error of one year's estimates of those inputs (that end-to-end
figure, from the demo's own results store, is in ``benchmarks/bench_plan.py``).

Tolerances, from the simulation's own error: the SD of 80 estimates is known to about 1/sqrt(2 * 79) = 8%, so the
mean over 17 units of planned / achieved SD to about 2% (the check allows 4%); the root-mean-square of 80 estimated
half-widths is known to 1-3%, but the linearised SE of an index from 6-16 sampled streets runs a few percent below
the estimates' SD (the mean check allows 6%, every unit 15%).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import surveykit as sk
from surveykit import plan as sp
from surveykit.demo import find_unit
from surveykit.synth import generate_year

from . import plan_support as ps

ROOT = Path(__file__).resolve().parents[1]
REPS, VALID = 80, 0.85


@pytest.fixture(scope="module")
def simulated():
    q = sk.load_questionnaire(ROOT / "questionnaires" / "ip_protection_satisfaction.yaml")
    fr = ps.frame(generate_year(q, 2026, keep_population=True).population, lambda v: find_unit(v).id)
    params = ps.population_parameters(q, fr, cluster_size=80.0)
    plan = sp.plan_sample(params, half_width=1.5, allocation="power", valid_rate=VALID)
    out = ps.simulate(q, fr, plan.table, VALID, REPS, seed=20260101, rake=ps.margins(fr))
    print("\n" + out.round(3).to_string(index=False))
    return plan, out, fr


def test_the_plan_is_a_plan_of_this_frame(simulated):
    plan, out, fr = simulated
    units = plan.table[(plan.table.group == "all") & (plan.table.unit != "all")].set_index("unit")
    assert sorted(units.index) == sorted(fr.unit_streets)
    for u, row in units.iterrows():
        assert 2 <= row.first_stage_units <= len(fr.unit_streets[u])
        assert row.half_width <= 1.5
    assert units.half_width.max() > 1.45          # the unit that binds is planned to the target, not far below


def test_achieved_half_widths_match_the_plan(simulated):
    _, out, _ = simulated
    units = out[out.unit != "all"]
    figures = out.round(3).to_string(index=False)
    assert abs(units.empirical_ratio.mean() - 1) < 0.04, figures
    assert abs(units.achieved_ratio.mean() - 1) < 0.06, figures
    assert ((units.achieved_ratio > 0.85) & (units.achieved_ratio < 1.15)).all(), figures
    region = out[out.unit == "all"].iloc[0]
    assert abs(region.achieved_ratio - 1) < 0.06, figures
