"""The protection-level assessment: case-statistics tables, the composite index, its uncertainty, and the
demonstration-zone acceptance scorecard (DOMAIN.md, "The protection-level assessment").

Start here::

    from surveykit.protection import load_framework, read_indicator_values, build_composite
    fw = load_framework("questionnaires/protection_level.yaml")
    values = read_indicator_values("data/demo/protection/indicators.csv")
    r = build_composite(fw, values, 2026)          # or Composite(fw, values, 2026).denominate()...aggregate()
    r.scores, r.steps, r.changes; print(r.summary())
    ua = uncertainty_analysis(fw, values, 2026)    # rank bands (Monte Carlo) and Sobol indices (SALib)

Modules: :mod:`.framework` (contract 5 and its loader), :mod:`.values` (the long values file),
:mod:`.methods` (formulas), :mod:`.registry` (the methods of each step: ``method_table()``), :mod:`.pipeline`
(the recorded steps), :mod:`.uncertainty`, :mod:`.cases` (行政保护案件统计表), :mod:`.scorecard`. Report text:
:mod:`surveykit.report.protection`; demo data: :mod:`surveykit.demo.protection`.
"""

from .cases import (CaseCheck, CaseTable, check_case_tables, city_summary, compile_cases, derive_indicators,
                    read_case_table, read_case_tables)
from .framework import Framework, ahp_weights, load_framework
from .methods import entropy_weights
from .pipeline import Composite, CompositeResult, build_composite
from .registry import method_table
from .scorecard import Targets, evaluate_targets, load_targets, satisfaction_from_scores, scorecard_overall
from .uncertainty import Uncertainty, rank_uncertainty, sobol_indices, uncertainty_analysis
from .values import read_indicator_values

__all__ = ["CaseCheck", "CaseTable", "Composite", "CompositeResult", "Framework", "Targets", "Uncertainty",
           "ahp_weights", "build_composite", "check_case_tables", "city_summary", "compile_cases",
           "derive_indicators", "entropy_weights", "evaluate_targets", "load_framework", "load_targets",
           "method_table", "rank_uncertainty", "read_case_table", "read_case_tables", "read_indicator_values",
           "satisfaction_from_scores", "scorecard_overall", "sobol_indices", "uncertainty_analysis"]
