"""surveykit installed from its wheel, not from the checkout (issue 11, item 4): built without build isolation,
installed into a fresh virtual environment, then run from an empty folder -- ``surveykit demo`` renders every
report, ``surveykit init`` writes a study that ``surveykit report`` renders as it is.

The fresh environment gets surveykit only from the wheel (``pip install --no-deps``); its dependencies are made
importable by a ``.pth`` file naming this environment's site-packages (a path entry: the editable install's own
``.pth`` hook there is not run), so the test needs no network and proves that the wheel carries every file it needs
(questionnaires, notebooks, templates, fonts, rules) and nothing reads the source tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .conftest import ROOT


def run(cmd, cwd, timeout=1200, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH")}
    env.update(env_extra or {})
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    base = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", base / "dist", ROOT],
        cwd=base)
    wheel = next((base / "dist").glob("surveykit-*.whl"))
    run([sys.executable, "-m", "venv", base / "venv"], cwd=base)
    py = base / "venv" / "bin" / "python"
    run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], cwd=base)
    site = Path(run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base).stdout.strip())
    (site / "_surveykit_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    # the dependencies' data files: nbconvert's templates only (a kernel spec there would name this environment's
    # python; without one, kernels are the fresh environment's own python, which imports the wheel)
    data = base / "jupyter_data"
    data.mkdir()
    (data / "nbconvert").symlink_to(Path(sys.prefix) / "share" / "jupyter" / "nbconvert", target_is_directory=True)
    return {"base": base, "py": py, "bin": base / "venv" / "bin", "site": site, "wheel": wheel,
            "env": {"JUPYTER_PATH": str(data)}}


def test_the_wheel_carries_the_package_data(venv):
    import zipfile
    names = zipfile.ZipFile(venv["wheel"]).namelist()
    for f in ("surveykit/notebooks/district_report.ipynb", "surveykit/notebooks/city_report.ipynb",
              "surveykit/questionnaires/ip_protection_satisfaction.yaml", "surveykit/questionnaires/quality_rules.yaml",
              "surveykit/questionnaires/protection_level.yaml", "surveykit/demo/shanghai/units.csv",
              "surveykit/report/templates/surveykit/index.html.j2", "surveykit/data/zone_task_areas.yaml"):
        assert f in names, f
    where = run([venv["py"], "-c", "import surveykit; print(surveykit.__file__)"], cwd=venv["base"]).stdout
    assert where.startswith(str(venv["site"])), where


def test_demo_from_an_empty_folder(venv):
    empty = venv["base"] / "empty"
    empty.mkdir()
    run([venv["bin"] / "surveykit", "demo", "--out", "out", "--jobs", "2"], cwd=empty, env_extra=venv["env"])
    year = empty / "out" / "2026"
    pages = sorted(p.stem for p in year.glob("*.html"))
    assert len(pages) == 18 and "overview" in pages and "pudong" in pages
    assert (empty / "out" / "index.html").exists() and (year / "surveykit_tables_2026.xlsx").exists()
    assert "浦东新区" in (year / "pudong.html").read_text(encoding="utf-8")


def test_init_then_report_from_an_empty_folder(venv):
    work = venv["base"] / "work"
    work.mkdir()
    run([venv["bin"] / "surveykit", "init", "mystudy"], cwd=work)
    listed = sorted(p.name for p in (work / "mystudy").iterdir())
    assert {"study.yaml", "questionnaire.yaml", "quality_rules.yaml", "units.csv", "responses_2026.csv"} <= set(listed)
    run([venv["bin"] / "surveykit", "report", "--study", "mystudy/study.yaml", "--year", "2026", "--out", "reports",
         "--quiet"], cwd=work, env_extra=venv["env"])
    pages = sorted(p.stem for p in (work / "reports" / "2026").glob("*.html"))
    assert pages == ["east", "north", "overview", "west"]
    assert "东区" in (work / "reports" / "2026" / "east.html").read_text(encoding="utf-8")
