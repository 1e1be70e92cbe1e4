"""An Excel workbook of every table of a year's results store, for the statisticians.

One sheet per store table (aggregates only: no respondent-level data is ever in the store), a README sheet saying
what each holds and where it came from (the manifest), numbers at full precision, header row frozen, columns
sized. Written atomically and spreadsheet-safe (:mod:`surveykit.io.writers`: no text becomes a formula).

**Suppression, as in the reports** (:mod:`surveykit.report.suppression`): a cell the reports do not show is blank
here too, never the number, and every sheet with per-cell estimates has a ``suppressed`` column saying which rows
were blanked.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..io.writers import write_xlsx
from ..results import YearResults
from .suppression import public_tables

SHEETS = {
    "scores_unit": "Scores of every item, indicator and the index by unit and group (contract 2), with SE and 95% CI",
    "scores_city": "The same for the whole region (unit ids in every sheet; 'all' is the whole region)",
    "sample": "Respondents and sum of weights by unit and group",
    "dont_know": "Don't-know answers per unit and item (asked, don't know, rate)",
    "weights": "Weight diagnostics by unit: design weights and calibrated (final) weights",
    "ranks": "Rank of every unit on the index and first-level indicators, with its 90% interval",
    "compare_rest": "Each unit against the rest of the city (design-based contrast, Holm within unit)",
    "group_gaps": "Gaps between respondent groups by unit and city-wide",
    "comparisons": "The study's declared subgroup comparisons (e.g. foreign-funded vs domestic firms), by unit",
    "satisfaction_rates": "Satisfaction rate (share of respondents satisfied on average) with logit 95% CIs",
    "drivers": "Importance (Shapley share of R^2) and performance of the indicators, city-wide",
    "reliability": "Cronbach's alpha and McDonald's omega of the first-level indicators",
    "cfa": "Confirmatory factor analysis fit (CFI, TLI, RMSEA, SRMR) per group",
    "year_change": "Change of every score comparable with the previous year's (independent samples, Holm within "
                   "unit); node_previous/group_previous: last year's ids",
    "comparability": "Which scores can be compared with the previous year's questionnaire, and why not (reason: "
                     "same, renamed, new, dropped, changed, children_differ, weights_differ, groups_differ)",
    "index_common": "The index recomputed for both years on their common comparable items (this year's tree and "
                    "weights), and its change: asked for by the study because the index is not comparable",
    "zones_status": "Demonstration zones: each unit's status in the year (from the zone register)",
    "zones_evaluation": "Demonstration zones: what the year's evaluation means for each unit (codes)",
    "zones_tasks": "Demonstration zones: key-task completion by area",
    "plan": "Next year's sample (the study's plan: key): interviews, first-stage units and expected 95% half-width "
            "per unit and group, the region last",
}


def write_workbook(store: YearResults, path: str | Path, extra: dict[str, pd.DataFrame] | None = None, *,
                   previous: YearResults | None = None) -> Path:
    """Write every table of ``store`` (plus ``extra`` tables), suppressed as in the reports, to ``path`` (.xlsx).

    ``previous``: the store of the year ``year_change`` compares with; without it that sheet is left out (its
    previous-year cells could not be checked for suppression).
    """
    tables = public_tables(store, previous, names=tuple(SHEETS))
    tables.update(extra or {})
    man = store.manifest
    left_out = [("year_change", "left out: the previous year's store was not given")] \
        if store.year_change is not None and previous is None else []
    readme = pd.DataFrame(
        [("year", str(store.year)), ("computed", man["created"]), ("surveykit", man["surveykit_version"]),
         ("questionnaire", f"{man['inputs']['questionnaire']['id']} {man['inputs']['questionnaire']['version']}"),
         ("responses sha256", man["inputs"]["responses"]["sha256"]), ("design", man["design_summary"]),
         ("suppression", f"as in the reports: estimates from fewer than {man['min_n']} respondents (or with a "
                         f"relative SE above {man.get('max_rse')}) are blank; the column 'suppressed' marks them")]
        + [(f"sheet {name}", SHEETS.get(name, "")) for name in tables] + left_out,
        columns=["item", "value"])
    return write_xlsx({"README": readme, **tables}, path)
