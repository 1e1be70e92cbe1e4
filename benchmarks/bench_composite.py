"""Benchmark: the protection-level composite, its Monte Carlo (1,000 runs) and Sobol indices for 17 units.

    .venv/bin/python benchmarks/bench_composite.py [--runs 1000] [--sobol-n 256]

Writes the demo study to a temporary folder and computes its survey results (the satisfaction index is one of the
indicators), then prints the time of: reading and checking the case tables,
one full pipeline (denominate ... aggregate), the Monte Carlo rank bands, and the Sobol analysis (N x (D + 2)
model runs plus SALib's bootstrap), and the peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from surveykit.demo.study import write_demo_study  # noqa: E402
from surveykit.protection import build_composite, load_framework  # noqa: E402
from surveykit.protection.cases import check_case_tables, read_case_tables  # noqa: E402
from surveykit.protection.uncertainty import _Model, rank_uncertainty, sobol_indices  # noqa: E402
from surveykit.results import read_manifest  # noqa: E402
from surveykit.spec.study import load_study  # noqa: E402
from surveykit.units import UnitSet  # noqa: E402
from surveykit.workflow import ensure_results, protection_files, protection_values  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--sobol-n", type=int, default=256)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        study = load_study(write_demo_study(Path(d), years=(2025, 2026)))
        ensure_results(study, [2025, 2026])       # the survey's index is one of the indicators
        print(f"demo study and its results store: {time.perf_counter() - t0:.1f} s (not counted)")
        files = protection_files(study)
        units = UnitSet.from_dict(read_manifest(study.results_dir, 2026)["setting"])   # as the workflow reads them
        t0 = time.perf_counter()
        tables = read_case_tables([p for k, p in files.items() if k.startswith("cases/")], units=units)
        check = check_case_tables(tables)
        t_cases = time.perf_counter() - t0
        allv, _ = protection_values(study, 2026, units)
        fw = load_framework(files["framework"])
        t0 = time.perf_counter()
        build_composite(fw, allv, 2026)
        t_one = time.perf_counter() - t0
        t0 = time.perf_counter()
        model = _Model(fw, allv, 2026, seed=1)
        t_model = time.perf_counter() - t0
        t0 = time.perf_counter()
        rank_uncertainty(fw, allv, 2026, runs=a.runs, seed=1, _model=model)
        t_mc = time.perf_counter() - t0
        t0 = time.perf_counter()
        s, _, _ = sobol_indices(fw, allv, 2026, n=a.sobol_n, seed=1, _model=model)
        t_sobol = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"case tables: {len(tables)} read and checked in {t_cases:.2f} s ({len(check.log)} findings)")
    print(f"one pipeline ({allv[allv.unit != 'all'].unit.nunique()} units, {len(fw.indicators)} indicators): {t_one * 1000:.1f} ms")
    print(f"Monte Carlo: {a.runs} runs in {t_mc:.2f} s (+ {t_model:.2f} s setup)")
    print(f"Sobol: N = {a.sobol_n}, {int(s.runs.iloc[0])} runs + per-unit indices in {t_sobol:.2f} s")
    print(f"peak memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
