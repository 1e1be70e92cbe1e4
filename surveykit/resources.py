"""Files shipped with surveykit (package data), found with :mod:`importlib.resources` -- never by a path into a
source checkout, so an installed wheel and an editable install behave the same.

* ``surveykit.questionnaires`` (the repository's ``questionnaires/`` folder): the default questionnaire, its
  recommendations, the quality rules, the protection-level framework and targets;
* ``surveykit.notebooks`` (``notebooks/``): the report notebooks papermill executes;
* ``surveykit.demo`` (``surveykit/demo/``): the demo study's setting (its units, their spellings).
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path


def _file(package: str, name: str) -> Path:
    ref = files(package) / name
    with as_file(ref) as p:  # a real path (packages are installed as folders, so this is the file itself)
        path = Path(p)
    if not path.is_file():
        raise FileNotFoundError(f"surveykit is missing its file {package}/{name}: reinstall surveykit")
    return path


def default_file(name: str) -> Path:
    """A default file shipped in ``questionnaires/`` (e.g. ``quality_rules.yaml``)."""
    return _file("surveykit.questionnaires", name)


def notebook(name: str) -> Path:
    """A report notebook shipped in ``notebooks/`` (e.g. ``district_report.ipynb``)."""
    return _file("surveykit.notebooks", name)


def demo_file(name: str) -> Path:
    """A file of the demo study's setting (``surveykit/demo/shanghai/...``)."""
    return _file("surveykit.demo", name)


DEFAULT_QUESTIONNAIRE = "ip_protection_satisfaction.yaml"
