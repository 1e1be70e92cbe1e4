"""Benchmark: sk.score on 1,000,000 respondents (17 strata x ~40 PSUs) with every SE, vs naive pandas.

    .venv/bin/python benchmarks/bench_scoring.py [--rows 1000000] [--r]

Prints: the time of ``sk.score(q, d, by=["district"])`` (all items, nodes, index, per group and all, with SEs),
the time of naive pandas point estimates of the same item means (per item: drop missing, groupby district x group,
weighted mean -- no SEs), their ratio, and the peak resident memory. With ``--r`` and R installed, also times R's
``svyby`` of the item means (ratio estimators, no tree) on the same data (written to a temporary CSV).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import surveykit as sk  # noqa: E402


def make_data(q, n: int, seed: int = 1) -> pd.DataFrame:
    """n respondents: 17 strata, ~40 PSUs each (fpc 60-200), unequal weights, groups, answers with don't-know."""
    rng = np.random.default_rng(seed)
    strata = rng.integers(0, 17, n)
    n_psu = 40
    psu = strata * 100 + rng.integers(0, n_psu, n)
    fpc = (60 + 8 * strata).astype(float)
    w = rng.gamma(4.0, 25.0, n)
    group = rng.choice(list(q.group_ids), n, p=[0.45, 0.15, 0.40])
    df = pd.DataFrame({"district": strata, "psu": psu, "fpc": fpc, "w": w, "group": group})
    latent = rng.normal(0, 0.8, n) + strata * 0.02
    for item in q.items:
        sc = q.item_scale(item)
        x = np.clip(np.round(3.8 + latent + rng.normal(0, 0.9, n)), sc.min, sc.max)
        x = np.where(rng.random(n) < 0.06, sc.missing[0] if sc.missing else np.nan, x)
        x = np.where(np.isin(group, q.item_groups(item)), x, np.nan)
        df[item.id] = x
    return df


def naive_pandas(q, df: pd.DataFrame) -> pd.DataFrame:
    """What a careful analyst writes without a survey package: per item, groupby weighted means."""
    out = []
    for item in q.items:
        sc = q.item_scale(item)
        sub = df[df[item.id].notna() & ~df[item.id].isin(sc.missing)]
        s = sc.score(sub[item.id], item.reverse)
        g = sub.assign(_wy=sub["w"] * s).groupby(["district", "group"])[["_wy", "w"]].sum()
        out.append((g["_wy"] / g["w"]).rename(item.id))
    return pd.concat(out, axis=1)


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--r", action="store_true", help="also time R's svyby (needs Rscript with survey)")
    args = ap.parse_args()
    q = sk.load_questionnaire(ROOT / "questionnaires" / "ip_protection_satisfaction.yaml")
    t0 = time.perf_counter()
    df = make_data(q, args.rows)
    print(f"data: {len(df):,} rows x {df.shape[1]} columns, made in {time.perf_counter() - t0:.1f} s; "
          f"RSS after data {peak_rss_gb():.2f} GB")

    t0 = time.perf_counter()
    naive = naive_pandas(q, df)
    t_naive = time.perf_counter() - t0

    t0 = time.perf_counter()
    d = sk.Design(df, weights="w", strata="district", psu="psu", fpc="fpc")
    scores = sk.score(q, d, by=["district"])
    t_sk = time.perf_counter() - t0

    # the same point estimates, two ways
    items = scores[scores.node.isin(naive.columns) & (scores.group != "all")]
    chk = items.pivot_table(index=["district", "group"], columns="node", values="estimate")
    diff = np.nanmax(np.abs(chk[naive.columns].to_numpy() - naive.to_numpy()))

    print(f"sk.score with all SEs ({len(scores):,} rows: items, nodes, index x groups+all x 17 districts): "
          f"{t_sk:.2f} s")
    print(f"naive pandas item means, no SEs:                                                  {t_naive:.2f} s")
    print(f"ratio naive/sk.score: {t_naive / t_sk:.2f} (> 1 means sk.score is faster)")
    print(f"max |difference| of item means between the two: {diff:.2e}")
    print(f"peak RSS: {peak_rss_gb():.2f} GB")

    if args.r:
        if not shutil.which("Rscript"):
            print("R: Rscript not found (apt-get install r-base-core r-cran-survey)")
            return
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.csv"
            df.to_csv(path, index=False)
            items_r = "+".join(f"num_{i.id}" for i in q.items)
            dens_r = "+".join(f"den_{i.id}" for i in q.items)
            prep = "; ".join(
                f"d$den_{i.id} <- as.numeric(!is.na(d${i.id}) & !(d${i.id} %in% c({','.join(map(str, q.item_scale(i).missing))})));"
                f" d$num_{i.id} <- ifelse(d$den_{i.id} == 1, 25*(d${i.id}-1), 0)" for i in q.items)
            script = (f"suppressMessages(library(survey)); d <- read.csv('{path}'); {prep};"
                      "des <- svydesign(id=~psu, strata=~district, weights=~w, fpc=~fpc, data=d);"
                      f"t0 <- Sys.time(); r <- svyby(~{items_r}, ~district+group, des, svytotal);"
                      f"r2 <- svyby(~{dens_r}, ~district+group, des, svytotal);"
                      "cat(as.numeric(difftime(Sys.time(), t0, units='secs')), '\\n')")
            p = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
            if p.returncode != 0:
                print("R failed:", p.stderr[-500:])
                return
            t_r = float(p.stdout.split()[-1])
            print(f"R svyby of the item totals (numerators and denominators, SEs, no tree): {t_r:.2f} s; "
                  f"ratio R/sk.score: {t_r / t_sk:.1f}")


if __name__ == "__main__":
    main()
