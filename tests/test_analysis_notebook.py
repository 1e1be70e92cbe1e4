"""The statistician's starter notebook runs end to end (papermill, kernel python3) on a small demo dataset."""

import os
import sys
from pathlib import Path

import nbformat

from surveykit.synth import write_demo

from .conftest import ROOT
from .test_analysis_common import Q_DEMO

NOTEBOOK = ROOT / "notebooks" / "explore.ipynb"


def test_explore_notebook_has_a_parameters_cell():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    for name in ("questionnaire", "data_dir", "year", "district", "lang"):
        assert f"{name} = " in tagged[0].source
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook unexecuted"


def test_explore_notebook_runs_with_papermill(tmp_path):
    import papermill as pm

    import surveykit as sk

    data = tmp_path / "data"
    write_demo(sk.load_questionnaire(Q_DEMO), data, years=(2025, 2026), target_n=3000)
    out = tmp_path / "explore.ipynb"
    old_path = os.environ.get("PATH", "")
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + old_path   # the kernel is this venv's python
    try:
        last = None
        for _ in range(2):                 # kernels occasionally fail to start (STACK_NOTES): retry once
            try:
                nb = pm.execute_notebook(str(NOTEBOOK), str(out), kernel_name="python3", cwd=str(tmp_path),
                                         progress_bar=False,
                                         parameters={"questionnaire": str(Q_DEMO), "data_dir": str(data),
                                                     "year": 2026, "district": "徐汇区", "lang": "en"})
                break
            except RuntimeError as exc:     # a kernel that died before running anything
                last = exc
        else:
            raise last
    finally:
        os.environ["PATH"] = old_path
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))
    text = "\n".join(o.get("data", {}).get("text/plain", "") + o.get("text", "")
                     for c in code for o in c.get("outputs", []))
    assert "interval" in text                           # ranks shown with their intervals (English labels)
    assert "no clear" in text or "higher" in text or "lower" in text
    images = [o for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 2                             # the quadrant chart and the custom rank chart
    assert not list(Path(tmp_path).glob("*.csv"))       # nothing written outside data_dir
