"""What every report page reads first: a year's results store, the study's setting recorded in it (region, units,
wording, comparisons), the questionnaire, and the phrases of the page's language.

Nothing here computes a statistic; it selects, labels and formats what the store holds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..protection.framework import load_framework
from ..results import REGION, YearResults, load_protection, load_results
from ..spec.questionnaire import Questionnaire, load_questionnaire
from ..units import Unit, UnitSet
from .i18n import Phrases, fmt, missing_words, words
from .suppression import previous_store, reportable


class StoreView:
    """One year's store, seen in one language."""

    def __init__(self, results: str | Path, year: int, lang: str = "zh", unit: str | None = None):
        self.results = Path(results)
        self.year = int(year)
        self.lang = lang
        # the analysis tables without the rows the reports suppress (surveykit.report.suppression)
        self.store: YearResults = reportable(load_results(self.results, self.year),
                                             previous_store(self.results, self.year))
        self.setting: dict = self.store.manifest["setting"]
        self.units = UnitSet.from_dict(self.setting)
        self.q: Questionnaire = load_questionnaire(self.store.manifest["inputs"]["questionnaire"]["path"])
        self.unit: Unit | None = None if unit is None else self.units.find(unit)
        if unit is not None and self.unit is None:
            raise ValueError(f"unknown unit {unit!r}")
        # whose figures the page reports: a unit's id, or the whole region's
        self.subject = REGION if self.unit is None else self.unit.id
        own = None if self.unit is None else self.units.kind_of(self.unit)
        self.p = Phrases(lang, {**words(self.setting, lang, None if own is None else {"zh": own.zh, "en": own.en},
                                        subject=self.q.title.get(lang)),
                                "dk": missing_words(self.q.scale.labels, self.q.scale.missing, lang)})
        self.min_n = int(self.setting["min_n"])
        self.max_rse = self.setting.get("max_rse")

    # --- names ------------------------------------------------------------------------------------------------
    def unit_name(self, uid: str) -> str:
        if uid == REGION:
            return self.p.words["whole"]
        u = self.units.find(uid)
        return u.name(self.lang) if u is not None else str(uid)

    def label(self, node: str) -> str:
        """An indicator's label or an item's text; ``index`` is the satisfaction index."""
        return self.p.t("col.index") if node == "index" else self.q.label(node, self.lang)

    def group_label(self, gid: str) -> str:
        return self.p.t("all_groups") if gid == "all" else self.q.group_label(gid, self.lang)

    def verdict(self, code: str) -> str:
        return self.p.t(f"verdict.{code}")

    def subtitle(self) -> str:
        return self.p.t("report.subtitle", version=__version__)

    def suppression_note(self) -> str:
        if self.max_rse is None:
            return self.p.md("suppressed.note_n", min_n=self.min_n)
        return self.p.md("suppressed.note", min_n=self.min_n, max_rse=f"{100 * self.max_rse:.0f}%")

    # --- tables of the store ----------------------------------------------------------------------------------
    def rows(self, table: pd.DataFrame | None, unit: str | None = None, node: str | None = None,
             group: str | None = "all") -> pd.DataFrame:
        """Rows of a store table for one unit (and node, group)."""
        if table is None:
            return pd.DataFrame()
        t = table
        if unit is not None and "unit" in t.columns:
            t = t[t.unit == unit]
        if group is not None and "group" in t.columns:
            t = t[t.group == group]
        return t if node is None else t[t.node == node]

    def first_level(self) -> list[str]:
        return [n.id for n in self.q.indicators]

    def band(self, estimate: float) -> str:
        b = self.q.band(estimate)
        return b.label.get(self.lang) if b else ""

    def ci(self, low: float, high: float, signed: bool = False) -> str:
        if low != low or high != high:
            return ""
        return f"[{low:+.2f}, {high:+.2f}]" if signed else f"{fmt(low)}–{fmt(high)}"

    # --- satisfaction rate ------------------------------------------------------------------------------------
    @property
    def has_rates(self) -> bool:
        return self.store.satisfaction_rates is not None and len(self.store.satisfaction_rates) > 0

    def rates_text(self) -> str:
        codes = self.p.sep().join(f"{c}={self.q.scale.labels[c].get(self.lang)}" if c in self.q.scale.labels
                                  else str(c) for c in (self.q.top_box or ()))
        return self.p.md("rates.lead", codes=codes)

    def percent(self, row) -> tuple[str, str]:
        """A rate and its interval as percentages (the "too few" mark when suppressed)."""
        if bool(row.get("suppressed", False)) or row["estimate"] != row["estimate"]:
            return self.p.t("suppressed"), ""
        lo, hi = row["ci_low"], row["ci_high"]
        ci = "" if lo != lo or hi != hi else f"{100 * lo:.1f}%–{100 * hi:.1f}%"
        return f"{100 * row['estimate']:.1f}%", ci

    # --- declared comparisons -----------------------------------------------------------------------------------
    def _adjusted_ci(self, r) -> str:
        """The multiplicity-adjusted interval the verdict is read from (the unadjusted one when none is stored)."""
        lo, hi = getattr(r, "ci_low_adj", r.ci_low), getattr(r, "ci_high_adj", r.ci_high)
        return self.ci(lo, hi, signed=True)

    def _side(self, spec: dict, side: str) -> str:
        return spec[side]["label"].get(self.lang) or spec[side]["label"]["zh"]

    def comparisons(self) -> list[dict]:
        """The study's declared subgroup comparisons (e.g. equal protection) for the page's subject, as
        ``{id, title, table}``; ``table`` is empty when a side has too few respondents (``too_few`` says so)."""
        if self.store.comparisons is None:
            return []
        out = []
        for c in self.setting.get("comparisons", []):
            title = (c.get("title") or {}).get(self.lang) or (c.get("title") or {}).get("zh") or \
                f"{self._side(c, 'a')} − {self._side(c, 'b')}"
            out.append({"id": c["id"], "title": title, "table": self.comparison_table(c["id"]),
                        "too_few": self.p.md("comparison.too_few", min_n=self.min_n)})
        return out

    def comparison_table(self, comparison: str) -> pd.DataFrame:
        """One declared comparison on the index and first-level indicators: both sides, gap, adjusted CI, verdict
        (no rows when it is suppressed: a side with fewer than ``min_n`` respondents)."""
        p, tab = self.p, self.store.comparisons
        spec = next(c for c in self.setting.get("comparisons", []) if c["id"] == comparison)
        if tab is None:
            return pd.DataFrame()
        og = tab[(tab.comparison == comparison) & (tab.unit == self.subject)]
        la, lb = self._side(spec, "a"), self._side(spec, "b")
        return pd.DataFrame([{p.t("col.indicator"): self.label(r.node), la: fmt(r.estimate_a), lb: fmt(r.estimate_b),
                              p.t("col.difference"): signed(r.gap),
                              p.t("col.ci_adj"): "" if r.gap != r.gap else self._adjusted_ci(r),
                              p.t("col.verdict"): self.verdict(r.verdict)} for r in og.itertuples()])

    # --- protection level -------------------------------------------------------------------------------------
    @property
    def protection(self) -> dict | None:
        """The protection-level tables of the year (None when the study has no protection inputs)."""
        if not hasattr(self, "_protection"):
            self._protection = load_protection(self.results, self.year)
        return self._protection

    def framework(self):
        return load_framework(self.protection["manifest"]["framework"]["path"])


def signed(x: float) -> str:
    return "–" if x != x else f"{x:+.2f}"


def finite(x) -> bool:
    return x is not None and np.isfinite(x)
