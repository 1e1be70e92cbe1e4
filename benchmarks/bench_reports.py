"""Benchmark: render the full demo year (every unit + index) and, in the same run, the floor.

    .venv/bin/python benchmarks/bench_reports.py [--jobs 2] [--data DIR]

The floor is the same number of renders, through the same pipeline (papermill, a fresh kernel each, HTML export,
atomic write), of a notebook that only does the report notebook's imports: it is what any notebook-per-report
design costs on this machine. Targets (issue 7): the full year under 90 s and under 1.5 x the floor.
Demo data are generated (and the results store computed) first if ``--data`` has no study file; that time is
printed separately and not counted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import nbformat as nbf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from surveykit.cli import main as cli_main  # noqa: E402
from surveykit.report.render import NOTEBOOK, render_reports  # noqa: E402
from surveykit.spec.study import load_study  # noqa: E402
from surveykit.workflow import ensure_results  # noqa: E402


def floor_notebook(path: Path) -> Path:
    """The report notebook's parameters and import cells only."""
    nb = nbf.read(NOTEBOOK, as_version=4)
    keep = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    imports = next(c for c in nb.cells if c.cell_type == "code" and "import" in c.source and
                   "parameters" not in c.metadata.get("tags", []))
    lines = [ln for ln in imports.source.splitlines() if ln.startswith(("from ", "import "))]
    keep.append(nbf.v4.new_code_cell("\n".join(lines)))
    nb.cells = keep
    nbf.write(nb, path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--data", default=None, help="a demo data folder with study.yaml (default: a fresh one)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sk-bench-"))
    data = Path(args.data) if args.data else tmp / "data"
    t0 = time.perf_counter()
    if not (data / "study.yaml").exists():
        cli_main(["demo", "--data", str(data), "--out", str(tmp / "warmup"), "--jobs", str(args.jobs)])
    study = load_study(data / "study.yaml")
    ensure_results(study)
    print(f"demo data + results store ready in {time.perf_counter() - t0:.1f} s (not counted)")
    year = max(study.years)

    t0 = time.perf_counter()
    full = render_reports(study, year=year, districts="all", out=tmp / "reports", jobs=args.jobs)
    t_full = time.perf_counter() - t0
    n = len(full.outcomes) + 1  # + the index page

    nb = floor_notebook(tmp / "floor.ipynb")
    t0 = time.perf_counter()
    floor = render_reports(study, year=year, districts="all", out=tmp / "floor", jobs=args.jobs, notebook=nb,
                           city_notebook=nb)
    t_floor = time.perf_counter() - t0

    print(f"full year: {len(full.outcomes)} reports (17 units + city overview) + index + workbook in {t_full:.1f} s "
          f"with {args.jobs} workers "
          f"({'all ok' if full.ok else 'FAILURES'})")
    print(f"floor (imports-only notebook, same {n} renders): {t_floor:.1f} s ({'ok' if floor.ok else 'FAILURES'})")
    print(f"ratio full/floor: {t_full / t_floor:.2f}   targets: full < 90 s, ratio < 1.5")
    print(f"per report: {t_full / n:.2f} s wall; floor {t_floor / n:.2f} s")


if __name__ == "__main__":
    main()
