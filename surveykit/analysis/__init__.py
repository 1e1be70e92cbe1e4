"""Analysis for the reports and for statisticians: reliability, drivers, comparisons, ranks, small domains.

Flat functions returning tidy DataFrames (pingouin style); each docstring gives the columns, the formula, its
source and an example::

    import surveykit as sk
    from surveykit import analysis as ska

    ska.reliability(q, responses)                         # alpha, omega per first-level indicator and group
    ska.cfa(q, responses, groups=["holder"])              # CFI, TLI, RMSEA, SRMR (semopy, lavaan's definitions)
    ska.relative_importance(q, design)                    # Shapley/LMG shares of R^2 for overall satisfaction
    ska.compare_to_rest(q, design, "district")            # unit - rest of the city, Holm-adjusted verdicts
    ska.year_change(scores_2026, scores_2025)              # independent samples
    ska.ownership_gap(q, design, by="district")           # foreign-funded vs domestic firms (equal protection)
    ska.rank_intervals(q, design, "district")             # ranks with 90% intervals
    ska.mark_small(scores); ska.dont_know_rates(q, design, by="district")
"""

from .comparisons import (adjust_pvalues, compare_to_rest, domain_gap, group_gap, ownership_gap,
                          year_change)
from .drivers import (driver_regression, importance_performance, johnson_weights, quadrant_chart,
                      relative_importance, respondent_scores, shapley_r2)
from .ranks import format_rank, rank_from_estimates, rank_intervals
from .reliability import (cfa, cfa_loadings, cronbach_alpha, item_analysis, item_statistics, mcdonald_omega,
                          reliability)
from .rates import satisfaction_rates
from .smalldomains import dont_know_rates, mark_small

__all__ = [
    "cronbach_alpha", "item_statistics", "mcdonald_omega", "reliability", "item_analysis", "cfa", "cfa_loadings",
    "respondent_scores", "driver_regression", "relative_importance", "shapley_r2", "johnson_weights",
    "importance_performance", "quadrant_chart",
    "compare_to_rest", "year_change", "group_gap", "domain_gap", "ownership_gap", "adjust_pvalues",
    "rank_intervals", "rank_from_estimates", "format_rank",
    "mark_small", "dont_know_rates", "satisfaction_rates",
]
