"""The examples in the docstrings of the engine (``surveykit.survey``) and of ``surveykit.scoring`` run and are right.

Every example runs (none is skipped); those that read a file read the scoring fixture of ``tests/fixtures/score``,
relative to the repository root, where this test runs them.
"""

import doctest
import importlib
import inspect

import pytest

from .conftest import ROOT

MODULES = ["surveykit.survey.common", "surveykit.survey.stages", "surveykit.survey.variance",
           "surveykit.survey.weighting", "surveykit.survey.estimates", "surveykit.survey.replicates",
           "surveykit.survey.design", "surveykit.scoring"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    mod = importlib.import_module(name)
    assert "+SKIP" not in inspect.getsource(mod)
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0
