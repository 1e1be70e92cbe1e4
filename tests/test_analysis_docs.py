"""The examples in the docstrings of surveykit.analysis and surveykit.report.findings run and are correct (doctest).

The examples that need data use the fixture study of tests/fixtures/store: this module hands them ``q``,
``responses``, ``design`` (= ``d2026``) and ``d2025`` (the study's questionnaire, 2026 responses and designs, not
raked). Every module must run examples (a module whose examples are all skipped would report "0 failed" of 0).
"""

import doctest
import importlib

import pandas as pd
import pytest

from .conftest import FIXTURES

STORE = FIXTURES / "store"
MODULES = ["analysis.reliability", "analysis.drivers", "analysis.comparisons", "analysis.ranks",
           "analysis.smalldomains", "analysis.rates", "report.findings"]


@pytest.fixture(scope="module")
def example_globals():
    import surveykit as sk

    kw = dict(weights="weight", strata="district", psu=["street", "respondent_id"], fpc=["n_streets", "n_frame"])
    responses = pd.read_csv(STORE / "responses_2026.csv", encoding="utf-8")
    design = sk.Design(responses, **kw)
    return {"q": sk.load_questionnaire(STORE / "questionnaire.yaml"), "responses": responses, "design": design,
            "d2026": design, "d2025": sk.Design(pd.read_csv(STORE / "responses_2025.csv", encoding="utf-8"), **kw)}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, example_globals):
    mod = importlib.import_module(f"surveykit.{name}")
    finder = doctest.DocTestFinder()
    examples = [ex for t in finder.find(mod) for ex in t.examples]
    skipped = [ex.source.strip() for ex in examples if ex.options.get(doctest.SKIP)]
    assert not skipped, f"skipped examples: {skipped}"
    res = doctest.testmod(mod, extraglobs=example_globals, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert res.failed == 0
    assert res.attempted >= 2 and res.attempted == len(examples)


def test_every_public_function_documents_formula_source_and_example():
    import surveykit.analysis as ska

    for name in ska.__all__:
        doc = getattr(ska, name).__doc__ or ""
        assert "Example" in doc or ">>>" in doc, name
        assert "Returns" in doc or "Returns one" in doc or name in {"shapley_r2", "johnson_weights",
                                                                      "format_rank", "quadrant_chart"}, name
