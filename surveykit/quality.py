"""Data quality: questionnaire x response file -> a row-level log of every problem found.

This first version checks what scoring relies on -- the group column and every item column exist, groups are
declared, answers are on the scale or a missing code, numbers are numbers -- and logs every offending cell (not
only the first), with the file row number as the user sees it. Nothing is excluded here: the log says what
`surveykit score` would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .io import read_table
from .spec.questionnaire import Questionnaire

LOG_COLUMNS = ["row", "respondent_id", "rule", "column", "value", "action"]


@dataclass(frozen=True)
class QualityReport:
    source: str
    rows_read: int
    log: pd.DataFrame

    @property
    def ok(self) -> bool:
        return self.log.empty

    def summary(self) -> str:
        lines = [f"{self.source}: {self.rows_read} rows read, "
                 f"{self.log['row'].nunique() if not self.log.empty else 0} with problems"]
        for rule, n in self.log.groupby("rule").size().items():
            lines.append(f"  {rule}: {n} cell(s)")
        return "\n".join(lines)


def validate(q: Questionnaire, path: str | Path, *, id_column: str = "respondent_id") -> QualityReport:
    df = read_table(path)
    rows = df.attrs["file_rows"]
    ids = df[id_column].astype("string").to_numpy() if id_column in df.columns else np.full(len(df), "")
    entries = []

    def log(mask, rule, column, values):
        for pos in np.flatnonzero(mask):
            entries.append((int(rows[pos]), ids[pos], rule, column, str(values.iloc[pos]), "refused by score"))

    gcol = q.groups.column
    if gcol not in df.columns:
        entries.append((1, "", "missing_column", gcol, "", "refused by score"))
    else:
        g = df[gcol].astype("string").str.strip()
        log(~g.isin(list(q.group_ids)).fillna(False).to_numpy(dtype=bool), "unknown_group", gcol, df[gcol])
    for item in q.items:
        if item.id not in df.columns:
            entries.append((1, "", "missing_column", item.id, "", "refused by score"))
            continue
        raw = df[item.id]
        num = pd.to_numeric(raw.astype("string").str.strip(), errors="coerce")
        text = num.isna() & raw.notna() & (raw.astype("string").str.strip() != "")
        log(text.to_numpy(dtype=bool), "not_a_number", item.id, raw)
        sc = q.item_scale(item)
        ok = num.isna() | num.isin(sc.missing) | (num.between(sc.min, sc.max) & (num == num.round()))
        log((~ok).to_numpy(dtype=bool), "out_of_scale", item.id, raw)
    log_df = pd.DataFrame(entries, columns=LOG_COLUMNS).sort_values(["row", "column"], kind="stable")
    return QualityReport(source=str(path), rows_read=len(df), log=log_df.reset_index(drop=True))
