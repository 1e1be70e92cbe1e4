"""An Excel workbook of every table of a year's results store, for the statisticians.

One sheet per store table (aggregates only: no respondent-level data is ever in the store), a README sheet saying
what each holds and where it came from (the manifest), numbers kept at full precision, header row frozen,
columns sized. Written atomically next to the reports.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..io.atomic import atomic_path
from ..results import YearResults

SHEETS = {
    "scores_unit": "Scores of every item, indicator and the index by unit and group (contract 2), with SE and 95% CI",
    "scores_city": "The same for the whole city",
    "sample": "Respondents and sum of weights by unit and group",
    "dont_know": "Don't-know answers per unit and item (asked, don't know, rate)",
    "weights": "Weight diagnostics by unit: design weights and calibrated (final) weights",
    "ranks": "Rank of every unit on the index and first-level indicators, with its 90% interval",
    "compare_rest": "Each unit against the rest of the city (design-based contrast, Holm within unit)",
    "group_gaps": "Gaps between respondent groups by unit and city-wide",
    "ownership_gap": "Foreign-funded vs domestic rights holders (equal protection)",
    "drivers": "Importance (Shapley share of R^2) and performance of the indicators, city-wide",
    "reliability": "Cronbach's alpha and McDonald's omega of the first-level indicators",
    "cfa": "Confirmatory factor analysis fit (CFI, TLI, RMSEA, SRMR) per group",
    "year_change": "Change of every score comparable with the previous year's (independent samples, Holm within "
                   "unit); node_previous/group_previous: last year's ids",
    "comparability": "Which scores can be compared with the previous year's questionnaire, and why not (reason: "
                     "same, renamed, new, dropped, changed, children_differ, weights_differ, groups_differ)",
    "index_common": "The index recomputed for both years on their common comparable items (this year's tree and "
                    "weights), and its change: asked for by the study because the index is not comparable",
}


def write_workbook(store: YearResults, path: str | Path, extra: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write every table of ``store`` (plus ``extra`` tables) to ``path`` (.xlsx), atomically."""
    path = Path(path)
    tables = {name: getattr(store, name, None) for name in SHEETS}
    tables = {name: t for name, t in tables.items() if t is not None}
    tables.update(extra or {})
    man = store.manifest
    readme = pd.DataFrame(
        [("year", str(store.year)), ("computed", man["created"]), ("surveykit", man["surveykit_version"]),
         ("questionnaire", f"{man['inputs']['questionnaire']['id']} {man['inputs']['questionnaire']['version']}"),
         ("responses sha256", man["inputs"]["responses"]["sha256"]), ("design", man["design_summary"])]
        + [(f"sheet {name}", SHEETS.get(name, "")) for name in tables],
        columns=["item", "value"])
    with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as xw:
        for name, df in {"README": readme, **tables}.items():
            df.to_excel(xw, sheet_name=name[:31], index=False)
            ws = xw.sheets[name[:31]]
            ws.freeze_panes = "A2"
            for col_cells in ws.columns:
                width = max(len(str(c.value)) if c.value is not None else 0 for c in col_cells[:200])
                ws.column_dimensions[col_cells[0].column_letter].width = min(60, max(8, width + 2))
    return path
