"""Benchmark: raking 1,000,000 respondents to 17 + 3 margins (unit, group) to tol 1e-10, then the raked score
table with calibration-aware SEs.

    .venv/bin/python benchmarks/bench_raking.py [--rows 1000000]

Prints the raking time (target: under 2 s on this 2-core machine), its iterations, the time of
``sk.score(q, raked, by=["district"])`` with every SE, the unraked score time for comparison, and peak RSS.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import surveykit as sk  # noqa: E402
from bench_scoring import make_data, peak_rss_gb  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    q = sk.load_questionnaire(ROOT / "questionnaires" / "ip_protection_satisfaction.yaml")
    df = make_data(q, args.rows)
    d = sk.Design(df, weights="w", strata="district", psu="psu", fpc="fpc")
    rng = np.random.default_rng(5)
    w = d.weights
    grand = w.sum() * 1.07
    by_d = w.groupby(df.district).sum() * rng.uniform(0.9, 1.1, 17)
    by_g = w.groupby(df.group).sum() * rng.uniform(0.8, 1.2, 3)
    margins = {"district": (by_d / by_d.sum() * grand).to_dict(), "group": (by_g / by_g.sum() * grand).to_dict()}

    t0 = time.perf_counter()
    raked = d.rake(margins, tol=1e-10)
    t_rake = time.perf_counter() - t0
    gap = max(abs(raked.weights.groupby(df[v]).sum() / raked.weights.groupby(df[v]).sum().index.map(m).to_numpy() - 1).max()
              for v, m in margins.items())
    t0 = time.perf_counter()
    s_raked = sk.score(q, raked, by=["district"])
    t_score_raked = time.perf_counter() - t0
    t0 = time.perf_counter()
    s_plain = sk.score(q, d, by=["district"])
    t_score = time.perf_counter() - t0
    idx = lambda s: s[(s.group == "all") & (s.node == "index")].se.mean()  # noqa: E731
    print(f"rows: {len(df):,}; margins: 17 districts + 3 groups")
    print(f"raking to tol 1e-10: {t_rake:.2f} s ({raked.history[-1]}); largest remaining relative gap {gap:.1e}")
    print(f"raked score table with calibration-aware SEs ({len(s_raked):,} rows): {t_score_raked:.2f} s")
    print(f"unraked score table for comparison: {t_score:.2f} s")
    print(f"mean SE of the district indexes: unraked {idx(s_plain):.4f}, raked {idx(s_raked):.4f}")
    print(f"peak RSS: {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
