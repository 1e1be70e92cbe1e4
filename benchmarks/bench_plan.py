"""Benchmark: how well a sampling plan (surveykit.plan) predicts the precision it buys, on synthetic populations.

    .venv/bin/python benchmarks/bench_plan.py [--seeds 20251123 1 2 3 4 5] [--reps 200] [--skip-store]

1. **Inputs from one sample.** For each seed: the demo's population and sample of 2026 (synth.generate_year); the
   variance per respondent of every unit's index at that sample's own design (its streets, its take), as the plan
   predicts it from the sample -- ``variance="model"`` (element variance, Kish weighting effect, pooled ICC) and
   ``variance="observed"`` (the unit's own SE^2 n) -- against the exact value for that population (Cochran's
   two-stage variance of the linearised index, from the census: ``tests/plan_support.population_parameters``).
   Prints the ratio's mean and SD over units and seeds.
2. **End to end.** The demo study of 2026 (results store computed), ``sk.plan_parameters`` then ``sk.plan_sample``
   (±1.5, power allocation, valid rate 0.9) with each variance choice, and the planned sample drawn ``--reps`` times
   from the population (tests/plan_support.simulate: weights raked to the population margins as the study does);
   per unit the planned half-width, the root-mean-square of the achieved ones, 1.96 x the SD of the estimates.
3. **The model alone.** The same with the census values as the plan's inputs (the test's check, more draws).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import surveykit as sk  # noqa: E402
from surveykit import plan as sp  # noqa: E402
from surveykit.demo import find_unit  # noqa: E402
from surveykit.synth import generate_year  # noqa: E402
from tests import plan_support as ps  # noqa: E402

QUESTIONNAIRE = ROOT / "questionnaires" / "ip_protection_satisfaction.yaml"
DEMO_DESIGN = dict(weights="weight", strata="district", psu=["street", "respondent_id"], fpc=["n_streets", "n_frame"])


def exact_per_respondent(census: pd.DataFrame, k: pd.Series, m: pd.Series) -> pd.Series:
    """Cochran's two-stage variance times n at ``k`` streets and take ``m`` per unit, from the census components:
    ``(1 - k/N) m S_T^2/Mbar^2 + A - (m/Mbar) B`` (``population_parameters`` stores them as S2, D_w, rho)."""
    c = census[census.unit != "all"].set_index("unit")
    between = c.weighting_effect * c.icc * c.element_variance
    a = c.weighting_effect * (1 - c.icc) * c.element_variance
    b = (1 - c.icc) * c.element_variance
    k, m = k.reindex(c.index), m.reindex(c.index)
    return (1 - k / c.first_stage_frame) * m * between + a - m / c.frame_size * b


def inputs_from_one_sample(q, seeds) -> None:
    print("1. variance per respondent of each unit's index at the sample's own design: predicted / exact")
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        s = generate_year(q, 2026, seed=seed, keep_population=True)
        fr = ps.frame(s.population, lambda v: find_unit(v).id)
        r = s.responses.assign(district=[find_unit(v).id for v in s.responses.district])
        k = r.groupby("district").street.nunique()
        n = r.groupby("district").size()
        exact = exact_per_respondent(ps.population_parameters(q, fr, 80.0), k, n / k)
        d = sk.Design(r, **DEMO_DESIGN)
        par = sp.design_parameters(q, d, "district")
        a = par[par.group == "all"].set_index("unit").assign(n=n, share=1.0)
        model = a.element_variance * sp.design_factor(a, a.n.to_numpy(float), a.first_stage_units.to_numpy(float))
        sc = sk.score(q, d, by="district")
        se = sc[(sc.node == "index") & (sc.group == "all")].set_index("district").se
        part = pd.DataFrame({"seed": seed, "model": model / exact, "observed": se ** 2 * n / exact})
        rows.append(part)
        print(f"   seed {seed}: model {part.model.mean():.3f} (SD {part.model.std():.3f}), observed "
              f"{part.observed.mean():.3f} (SD {part.observed.std():.3f}); ICC {a.icc.iloc[0]:.4f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    allr = pd.concat(rows)
    for c in ("model", "observed"):
        print(f"   all seeds, {c}: mean ratio {allr[c].mean():.3f}, SD {allr[c].std():.3f} "
              f"({len(allr)} units), half-width ratio SD ~{np.sqrt(allr[c]).std():.3f}")


def show(title: str, out: pd.DataFrame) -> None:
    units = out[out.unit != "all"]
    print(title)
    print(out.round(3).to_string(index=False))
    print(f"   units: achieved/planned mean {units.achieved_ratio.mean():.3f} (min {units.achieved_ratio.min():.3f}, "
          f"max {units.achieved_ratio.max():.3f}); empirical/planned mean {units.empirical_ratio.mean():.3f} "
          f"(SD {units.empirical_ratio.std():.3f})", flush=True)


def end_to_end(q, reps: int) -> None:
    from surveykit.demo.study import write_demo_study
    from surveykit.spec.study import load_study
    from surveykit.workflow import ensure_results

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        study = load_study(write_demo_study(Path(tmp), years=(2026,), protection=False, questionnaire=QUESTIONNAIRE))
        ensure_results(study, [2026])
        params = sk.plan_parameters(study, 2026)
        print(f"2. end to end from the demo's results store ({time.perf_counter() - t0:.0f} s to compute it)")
    fr = ps.frame(generate_year(q, 2026, keep_population=True).population, lambda v: find_unit(v).id)
    for variance in ("model", "observed"):
        plan = sk.plan_sample(params, half_width=1.5, allocation="power", valid_rate=0.9, variance=variance)
        t0 = time.perf_counter()
        out = ps.simulate(q, fr, plan.table, 0.9, reps, seed=1, rake=ps.margins(fr))
        show(f"   variance={variance}: {plan.settings['interviews']:,} interviews, {reps} draws "
             f"({time.perf_counter() - t0:.0f} s)", out)


def model_alone(q, reps: int) -> None:
    fr = ps.frame(generate_year(q, 2026, keep_population=True).population, lambda v: find_unit(v).id)
    plan = sk.plan_sample(ps.population_parameters(q, fr, 80.0), half_width=1.5, allocation="power", valid_rate=0.85)
    t0 = time.perf_counter()
    out = ps.simulate(q, fr, plan.table, 0.85, reps, seed=2, rake=ps.margins(fr))
    show(f"3. census inputs: {plan.settings['interviews']:,} interviews, {reps} draws "
         f"({time.perf_counter() - t0:.0f} s)", out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[20251123, 1, 2, 3, 4, 5])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--skip-store", action="store_true", help="skip part 2 (it computes the demo's results store)")
    a = ap.parse_args()
    q = sk.load_questionnaire(QUESTIONNAIRE)
    inputs_from_one_sample(q, a.seeds)
    if not a.skip_store:
        end_to_end(q, a.reps)
    model_alone(q, a.reps)


if __name__ == "__main__":
    main()
