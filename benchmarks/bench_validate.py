"""Benchmark: read + map + validate a 200,000-row 问卷星-style XLSX export (acceptance: under 30 s).

    .venv/bin/python benchmarks/bench_validate.py [--rows 200000] [--file export.xlsx] [--engine calamine|openpyxl]

Generates (unless ``--file`` exists already; then it is reused) an export as an online survey platform writes it:
header row of question texts ("3、您对……的满意程度"), metadata columns (序号, 提交答卷时间, 所用时间 "245秒", 来源,
来自IP), the district as short/long/English spellings, the group as a Chinese label, answers as labels
(非常满意 … 不了解/不适用), "(跳过)" for items not asked of the group, and a sprinkling of real-world problems
(blank rows, typos, out-of-scale codes, duplicate submissions, speeders, straight-liners). Written with openpyxl's
write-only mode (not timed). Then times, separately: reading (``read_table``), mapping + quality rules
(``quality.prepare`` on the DataFrame), and the whole ``prepare(path)`` as ``surveykit validate`` runs it; prints
the figures, the validation summary and the peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from surveykit import load_questionnaire  # noqa: E402
from surveykit.demo import DEMO_UNITS  # noqa: E402
from surveykit.quality import prepare  # noqa: E402

QUESTIONNAIRE = ROOT / "questionnaires" / "ip_protection_satisfaction.yaml"
SPELLINGS = {"浦东新区": ["浦东", "浦东新区", "Pudong"], "临港新片区": ["临港", "临港新片区"]}


def make_export(path: Path, n: int, seed: int = 7) -> None:
    import openpyxl

    q = load_questionnaire(QUESTIONNAIRE)
    rng = np.random.default_rng(seed)
    units = [u.zh for u in DEMO_UNITS.units]
    labels = {k: v.zh for k, v in q.scale.labels.items()}
    group_labels = [g.label.zh for g in q.groups.levels]
    header = ["序号", "提交答卷时间", "所用时间", "来源", "来自IP", "1、您所在的区", "2、您的身份"]
    header += [f"{k + 3}、{item.text.zh}" for k, item in enumerate(q.items)]
    asked = np.array([[g.id in q.item_groups(i) for i in q.items] for g in q.groups.levels])
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("问卷数据")
    ws.append(header)
    unit_idx = rng.integers(0, len(units), n)
    grp = rng.choice(len(group_labels), n, p=[0.45, 0.15, 0.40])
    level = rng.normal(3.9, 0.6, n)
    answers = np.clip(np.rint(level[:, None] + rng.normal(0, 0.8, (n, len(q.items)))), 1, 5).astype(int)
    answers[rng.random((n, len(q.items))) < 0.06] = 6  # don't know
    secs = rng.gamma(6, 45, n).astype(int) + 20
    straight = rng.random(n) < 0.01
    answers[straight] = 4
    label_of = np.array([""] + [labels[k] for k in range(1, 7)], dtype=object)
    cells = label_of[answers]
    cells[~asked[grp]] = "(跳过)"
    cells[rng.random((n, len(q.items))) < 0.002] = "很满意呀"  # text where no label fits
    cells[rng.random((n, len(q.items))) < 0.001] = 7            # out of scale
    for i in range(n):
        if i % 10_000 == 5_000:
            ws.append([None] * len(header))                     # an empty row now and then
            continue
        u = units[unit_idx[i]]
        spelled = SPELLINGS.get(u, [u, u.removesuffix("区")])[i % len(SPELLINGS.get(u, [u, u]))]
        rid = i + 1 if i % 25_000 != 24_999 else i              # a duplicate id now and then
        ws.append([rid, f"2025/5/{1 + i % 28} 10:{i % 60:02d}:00", f"{secs[i]}秒", "手机提交", "10.0.0.1(上海)",
                   spelled, group_labels[grp[i]], *cells[i].tolist()])
    wb.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--file", type=Path, help="export to reuse (generated there if missing)")
    ap.add_argument("--engine", choices=["calamine", "openpyxl"], help="XLSX engine (default: calamine if installed)")
    args = ap.parse_args()
    tmp = None
    path = args.file
    if path is None:
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "export.xlsx"
    if not path.exists():
        t = time.perf_counter()
        make_export(path, args.rows)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - t:.1f} s ({path.stat().st_size / 1e6:.1f} MB)")
    q = load_questionnaire(QUESTIONNAIRE)

    from surveykit.io import readers

    t0 = time.perf_counter()
    df = readers.read_xlsx(path, engine=args.engine)
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    p = prepare(q, df)
    t_prep = time.perf_counter() - t0
    t0 = time.perf_counter()
    p2 = prepare(q, path) if args.engine is None else p
    t_all = time.perf_counter() - t0 if args.engine is None else t_read + t_prep
    assert p2.rows_read == p2.rows_kept + p2.rows_excluded
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(p.summary())
    print()
    print(f"rows: {p.rows_read:,} x {df.shape[1]} columns; engine {df.attrs.get('engine')}")
    print(f"read            {t_read:6.1f} s")
    print(f"map + validate  {t_prep:6.1f} s")
    print(f"prepare(path)   {t_all:6.1f} s   (what `surveykit validate` runs; target < 30 s)")
    print(f"peak memory     {peak:6.0f} MB")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
