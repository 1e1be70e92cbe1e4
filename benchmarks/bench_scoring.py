"""Benchmark: sk.score on 1,000,000 respondents (17 strata x ~40 PSUs) with every SE, vs plain pandas.

    .venv/bin/python benchmarks/bench_scoring.py [--rows 1000000] [--repeat 3] [--r]

Prints, each time the best of ``--repeat`` runs:

* ours: ``sk.Design(...)`` + ``sk.score(q, d, by=["district"])`` -- the full score table (all items, nodes, index,
  per group and all) with every SE;
* the yardstick (issue 14): the vectorised pandas point estimate of the same item means -- every item scored at
  once, one wide ``groupby`` over all items of ``sum(w * score) / sum(w * non-missing)`` by district and group (and,
  for reference, by district alone) -- no SEs; the ratio ours / yardstick (target: at most 1.0);
* the naive pandas loop (per item: drop missing, groupby, weighted mean) and its ratio;
* the peak resident memory after our runs (before any pandas comparison) and at the end.

With ``--r`` and R installed, also times R's ``svyby`` of the item means (ratio estimators, no tree) on the same data
(written to a temporary CSV).
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


def pandas_yardstick(q, df: pd.DataFrame, keys=("district", "group")) -> pd.DataFrame:
    """The vectorised pandas point estimate of the item means: every item scored at once (missing codes masked,
    ``100*(x-min)/(max-min)``, reversed items flipped), then one wide groupby of weighted sums."""
    ids = [i.id for i in q.items]
    x = df[ids]
    s = x.mask(x.isin({i.id: list(q.item_scale(i).missing) for i in q.items}))
    lo = pd.Series({i.id: q.item_scale(i).min for i in q.items})
    span = pd.Series({i.id: q.item_scale(i).max - q.item_scale(i).min for i in q.items})
    s = (s - lo) * (100.0 / span)
    rev = [i.id for i in q.items if i.reverse]
    if rev:
        s[rev] = 100.0 - s[rev]
    num = s.mul(df["w"], axis=0)
    den = s.notna().mul(df["w"], axis=0).add_suffix("__w")
    g = pd.concat([num, den, df[list(keys)]], axis=1).groupby(list(keys)).sum()
    return g[ids] / g[den.columns].to_numpy()


def best_of(n: int, fn):
    """The result of ``fn()`` and the best wall time and best CPU time (this process) of ``n`` runs."""
    best, cpu, out = np.inf, np.inf, None
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return out, best, cpu


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="time each computation as the best of this many runs")
    ap.add_argument("--r", action="store_true", help="also time R's svyby (needs Rscript with survey)")
    args = ap.parse_args()
    q = sk.load_questionnaire(ROOT / "questionnaires" / "ip_protection_satisfaction.yaml")
    t0 = time.perf_counter()
    df = make_data(q, args.rows)
    print(f"data: {len(df):,} rows x {df.shape[1]} columns, made in {time.perf_counter() - t0:.1f} s; "
          f"RSS after data {peak_rss_gb():.2f} GB")

    def ours():
        d = sk.Design(df, weights="w", strata="district", psu="psu", fpc="fpc")
        return sk.score(q, d, by=["district"])

    scores, t_sk, c_sk = best_of(args.repeat, ours)
    rss_ours = peak_rss_gb()
    yard, t_yard, c_yard = best_of(args.repeat, lambda: pandas_yardstick(q, df))
    _, t_yard_d, c_yard_d = best_of(args.repeat, lambda: pandas_yardstick(q, df, keys=("district",)))
    naive, t_naive, _ = best_of(1, lambda: naive_pandas(q, df))

    # the same point estimates, three ways
    items = scores[scores.node.isin(naive.columns) & (scores.group != "all")]
    chk = items.pivot_table(index=["district", "group"], columns="node", values="estimate")
    diff = max(np.nanmax(np.abs(chk[naive.columns].to_numpy() - naive.to_numpy())),
               np.nanmax(np.abs(chk[yard.columns].to_numpy() - yard.loc[chk.index].to_numpy())))

    print(f"ours: sk.Design + sk.score with all SEs ({len(scores):,} rows: items, nodes, index x groups+all x "
          f"17 districts): {t_sk:.2f} s (CPU {c_sk:.2f} s)")
    print(f"yardstick: vectorised pandas item means by district x group, no SEs:  {t_yard:.2f} s (CPU "
          f"{c_yard:.2f} s); by district alone: {t_yard_d:.2f} s (CPU {c_yard_d:.2f} s)")
    print(f"ratio ours/yardstick: {t_sk / t_yard:.2f} wall, {c_sk / c_yard:.2f} CPU (target <= 1.0); against the "
          f"by-district yardstick: {t_sk / t_yard_d:.2f} wall, {c_sk / c_yard_d:.2f} CPU")
    print(f"naive pandas loop of item means, no SEs: {t_naive:.2f} s; ratio ours/naive: {t_sk / t_naive:.2f}")
    print(f"max |difference| of item means between ours and pandas: {diff:.2e}")
    print(f"peak RSS: {rss_ours:.2f} GB after ours (data included); {peak_rss_gb():.2f} GB at the end")

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
