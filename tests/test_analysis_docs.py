"""The runnable examples in the docstrings of surveykit.analysis are correct (doctest)."""

import doctest
import importlib

import pytest

MODULES = ["reliability", "drivers", "comparisons", "ranks", "smalldomains"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(f"surveykit.analysis.{name}")
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert res.failed == 0


def test_every_public_function_documents_formula_source_and_example():
    import surveykit.analysis as ska

    for name in ska.__all__:
        doc = getattr(ska, name).__doc__ or ""
        assert "Example" in doc or ">>>" in doc, name
        assert "Returns" in doc or "Returns one" in doc or name in {"shapley_r2", "johnson_weights",
                                                                      "format_rank", "quadrant_chart"}, name
