"""The benchmarks (benchmarks/*.py, run by hand; they print figures and are not timed tests) keep up with the package:
each one's imports resolve and its ``main`` exists. A benchmark that stopped importing went unnoticed once."""

from __future__ import annotations

import importlib.util

import pytest

from .conftest import ROOT

BENCHMARKS = sorted((ROOT / "benchmarks").glob("bench_*.py"))


def test_there_are_benchmarks():
    assert {p.stem for p in BENCHMARKS} >= {"bench_scoring", "bench_reports", "bench_plan", "bench_composite"}


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.stem)
def test_benchmark_imports(path):
    spec = importlib.util.spec_from_file_location(f"benchmark_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)          # top level only: main() runs under __name__ == "__main__"
    assert callable(module.main)
