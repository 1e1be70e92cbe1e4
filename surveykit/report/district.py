"""What a district report shows, read from the results store: tables (DataFrames) and sentences.

The notebook ``notebooks/district_report.ipynb`` calls these methods and displays what they return; nothing here
computes a statistic -- it selects, formats, labels and suppresses (estimates from fewer than ``min_n``
respondents are replaced by a visible "too few" mark). No respondent-level data and no free text are read.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..results import YearResults, load_results
from ..spec.questionnaire import Questionnaire, load_questionnaire
from ..units import Unit, find_unit
from .i18n import fmt, t
from .suppression import previous_store, reportable


class DistrictReport:
    """One unit's report for one year.

    Example
    -------
    >>> r = DistrictReport("data/demo/results", 2026, "pudong", "zh")   # doctest: +SKIP
    >>> r.first_level_table()                                          # doctest: +SKIP
    """

    def __init__(self, results: str | Path, year: int, district: str, lang: str = "zh"):
        unit = find_unit(district)
        if unit is None:
            raise ValueError(f"unknown unit {district!r}")
        self.unit: Unit = unit
        self.year = int(year)
        self.lang = lang
        self.store_dir = Path(results)
        # the analysis tables without the rows the reports suppress (surveykit.report.suppression)
        self.store: YearResults = reportable(load_results(results, self.year), previous_store(results, self.year))
        man = self.store.manifest
        self.q: Questionnaire = load_questionnaire(man["inputs"]["questionnaire"]["path"])
        self.min_n = int(man["min_n"])
        col = man["unit_column"]
        su = self.store.scores_unit
        self.scores = su[su[col] == unit.zh].drop(columns=[col])
        self.city = self.store.scores_city
        self.sample = self.store.sample[self.store.sample[col] == unit.zh]

    # --- helpers ---------------------------------------------------------------------------------------------
    def _get(self, frame: pd.DataFrame, node: str, group: str = "all") -> pd.Series:
        r = frame[(frame.node == node) & (frame.group == group)]
        return r.iloc[0] if len(r) else pd.Series({"estimate": float("nan"), "se": float("nan"), "ci_low": float("nan"),
                                                    "ci_high": float("nan"), "n": 0, "suppressed": True})

    def _score(self, row: pd.Series) -> str:
        return t("suppressed", self.lang) if row["suppressed"] else fmt(row["estimate"])

    def _ci(self, row: pd.Series) -> str:
        return "" if row["suppressed"] else f"{fmt(row['ci_low'])}–{fmt(row['ci_high'])}"

    def _band(self, row: pd.Series) -> str:
        b = None if row["suppressed"] else self.q.band(row["estimate"])
        return b.label.get(self.lang) if b else ""

    @cached_property
    def name(self) -> str:
        return self.unit.name(self.lang)

    # --- content ---------------------------------------------------------------------------------------------
    def title(self) -> str:
        return t("report.title", self.lang, unit=self.name, year=self.year)

    def subtitle(self) -> str:
        return t("report.subtitle", self.lang, version=__version__)

    def headline(self) -> str:
        """The summary: index, CI, band, city index; rank with its interval; change on last year; vs the rest."""
        r = self._get(self.scores, "index")
        c = self._get(self.city, "index")
        if r["suppressed"]:
            return t("headline.suppressed", self.lang, unit=self.name, year=self.year, n=int(r["n"]), min_n=self.min_n)
        parts = [t("headline", self.lang, unit=self.name, year=self.year, score=fmt(r["estimate"]),
                   low=fmt(r["ci_low"]), high=fmt(r["ci_high"]), band=self._band(r), city=fmt(c["estimate"]))]
        rk = self._unit_rows(self.store.ranks, "index")
        if len(rk):
            parts.append(t("headline.rank", self.lang, n_units=int(rk.n_units.iloc[0]), rank=self.rank_label("index")))
        ch = self._unit_rows(self.store.year_change, "index") if self.store.year_change is not None else None
        if ch is not None and len(ch) and ch.verdict.iloc[0] != "no_data":
            parts.append(t("headline.change", self.lang, prev=fmt(ch.estimate_previous.iloc[0]),
                           change=f"{ch.change.iloc[0]:+.2f}", verdict=self._verdict(ch.verdict.iloc[0])))
        v = self._unit_rows(self.store.compare_rest, "index")
        if len(v):
            parts.append(t("headline.rest", self.lang, verdict=self._verdict(v.verdict.iloc[0]),
                           diff=f"{v.difference.iloc[0]:+.2f}"))
        return "".join(parts) if self.lang == "zh" else " ".join(parts)

    # --- analysis read from the store (ranks, comparisons, drivers) -----------------------------------------
    def _unit_rows(self, table: pd.DataFrame | None, node: str | None = None, group: str = "all") -> pd.DataFrame:
        if table is None:
            return pd.DataFrame()
        col = self.store.manifest["unit_column"]
        t_ = table[table[col] == self.unit.zh]
        if "group" in t_.columns:
            t_ = t_[t_.group == group]
        return t_ if node is None else t_[t_.node == node]

    def _verdict(self, code: str) -> str:
        return t(f"verdict.{code}", self.lang)

    def rank_label(self, node: str = "index") -> str:
        from ..analysis import format_rank

        r = self._unit_rows(self.store.ranks, node)
        if not len(r) or not np.isfinite(r["rank"].iloc[0]):
            return "–"
        return format_rank(r["rank"].iloc[0], r.rank_low.iloc[0], r.rank_high.iloc[0], lang=self.lang)

    def change_table(self) -> pd.DataFrame:
        """Index, first- and second-level indicators: last year, this year, change with 95% CI, verdict."""
        L = self.lang
        ch = self._unit_rows(self.store.year_change)
        if not len(ch):
            return pd.DataFrame()
        levels = self.q.level_of()
        ch = ch[ch.node.map(lambda x: levels.get(x, 9) <= 2)]
        ch = ch.assign(_o=ch.node.map({n: k for k, n in enumerate(["index"] + [n.id for n in self.q.nodes])}))
        rows = []
        for r in ch.sort_values("_o").itertuples():
            rows.append({t("col.indicator", L): self.q.label(r.node, L) if r.node != "index" else t("col.index", L),
                         t("col.previous", L): fmt(r.estimate_previous), t("col.current", L): fmt(r.estimate),
                         t("col.change", L): "–" if r.change != r.change else f"{r.change:+.2f}",
                         t("col.ci", L): "" if r.change != r.change else f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]",
                         t("col.verdict", L): self._verdict(r.verdict)})
        return pd.DataFrame(rows)

    def versus_rest_table(self) -> pd.DataFrame:
        """The index and first-level indicators against the pooled rest of the city (design-based contrast)."""
        L = self.lang
        rows = []
        for r in self._unit_rows(self.store.compare_rest).itertuples():
            rows.append({t("col.indicator", L): self.q.label(r.node, L) if r.node != "index" else t("col.index", L),
                         t("col.score", L): fmt(r.estimate), t("col.rest", L): fmt(r.estimate_rest),
                         t("col.difference", L): f"{r.difference:+.2f}",
                         t("col.ci", L): f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]",
                         t("col.verdict", L): self._verdict(r.verdict),
                         t("col.rank", L): self.rank_label(r.node)})
        return pd.DataFrame(rows)

    def gaps_table(self) -> pd.DataFrame:
        """Index gaps between respondent groups, and between foreign-funded and domestic firms (equal protection)."""
        L = self.lang
        rows = []
        col = self.store.manifest["unit_column"]
        gg = self.store.group_gaps
        gg = gg[(gg[col] == self.unit.zh) & (gg.node == "index")]
        for r in gg.itertuples():
            rows.append({t("col.comparison", L): t("gap.pair", L, a=self.q.group_label(r.group_a, L),
                                                   b=self.q.group_label(r.group_b, L)),
                         t("col.difference", L): f"{r.gap:+.2f}", t("col.ci", L): f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]",
                         t("col.verdict", L): self._verdict(r.verdict)})
        og = self.store.ownership_gap
        if og is not None:
            og = og[(og[col] == self.unit.zh) & (og.node == "index")]
            for r in og.itertuples():
                rows.append({t("col.comparison", L): t("ownership.pair", L),
                             t("col.difference", L): "–" if r.gap != r.gap else f"{r.gap:+.2f}",
                             t("col.ci", L): "" if r.gap != r.gap else f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]",
                             t("col.verdict", L): self._verdict(r.verdict)})
        return pd.DataFrame(rows)

    def ownership_table(self) -> pd.DataFrame:
        """Rights holders by ownership: foreign-funded vs domestic firms on the index and first-level indicators
        (the city's equal-protection goal), with the gap's CI and verdict."""
        L = self.lang
        og = self.store.ownership_gap
        if og is None:
            return pd.DataFrame()
        col = self.store.manifest["unit_column"]
        og = og[og[col] == self.unit.zh]
        rows = []
        for r in og.itertuples():
            rows.append({t("col.indicator", L): self.q.label(r.node, L) if r.node != "index" else t("col.index", L),
                         t("ownership.foreign", L): fmt(r.estimate_a), t("ownership.domestic", L): fmt(r.estimate_b),
                         t("col.difference", L): "–" if r.gap != r.gap else f"{r.gap:+.2f}",
                         t("col.ci", L): "" if r.gap != r.gap else f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]",
                         t("col.verdict", L): self._verdict(r.verdict)})
        return pd.DataFrame(rows)

    def dont_know_table(self, top: int = 5) -> pd.DataFrame:
        """The items most often answered "don't know" in this unit (all groups): an awareness signal."""
        L = self.lang
        col = self.store.manifest["unit_column"]
        dk = self.store.dont_know
        dk = dk[(dk[col] == self.unit.zh) & (dk.group == "all")].sort_values("estimate", ascending=False).head(top)
        return pd.DataFrame({t("col.item", L): [self.q.label(i, L) for i in dk["item"]],
                             t("col.dk_rate", L): [f"{100 * x:.1f}%" for x in dk.estimate],
                             t("col.ci", L): [f"{100 * a:.1f}%–{100 * b:.1f}%" for a, b in zip(dk.ci_low, dk.ci_high)],
                             t("col.n_asked", L): dk.n_asked.astype(int)})

    def drivers_data(self) -> pd.DataFrame:
        """City-wide importance of the first-level indicators against this unit's scores, in quadrants split at
        the means (Martilla & James 1977): the table surveykit.analysis.quadrant_chart draws."""
        from ..analysis.drivers import QUADRANTS

        d = self.store.drivers
        d = d[d.level == 1].copy()
        s = self.scores[(self.scores.group == "all") & ~self.scores.suppressed.astype(bool)]
        d["performance"] = d.node.map(s.set_index("node")["estimate"])
        d = d[d["performance"].notna()]  # a suppressed score is not drawn
        d["performance_mean"] = d["performance"].mean()
        hi_i, hi_p = d.importance >= d.importance_mean, d.performance >= d.performance_mean
        d["quadrant"] = np.select([hi_i & ~hi_p, hi_i & hi_p, ~hi_i & ~hi_p],
                                  ["concentrate_here", "keep_up", "low_priority"], "possible_overkill")
        d["label"] = [self.q.label(n, self.lang) for n in d.node]
        d["quadrant_label"] = [QUADRANTS[c][self.lang] for c in d.quadrant]
        return d

    def drivers_table(self) -> pd.DataFrame:
        L = self.lang
        d = self.drivers_data().sort_values("importance", ascending=False)
        return pd.DataFrame({t("col.indicator", L): d.label, t("col.importance", L): [f"{x:.3f}" for x in d.importance],
                             t("col.performance", L): [fmt(x) for x in d.performance],
                             t("col.quadrant", L): d.quadrant_label})

    def drivers_chart(self):
        """The quadrant chart, or None when every first-level score of the unit is suppressed."""
        from ..analysis import quadrant_chart

        d = self.drivers_data()
        return quadrant_chart(d, title=t("chart.quadrant.title", self.lang), lang=self.lang) if len(d) else None

    @cached_property
    def findings(self) -> pd.DataFrame:
        from .findings import find

        return find(self.q, self.scores.assign(**{"group": self.scores.group}),
                    changes=self._unit_rows(self.store.year_change, None, group="all"),
                    versus_rest=self._unit_rows(self.store.compare_rest, None, group="all"))

    def findings_table(self) -> pd.DataFrame:
        L = self.lang
        rows = []
        for r in self.findings.itertuples():
            if r.rule in ("W1", "S1"):
                detail = fmt(r.value)
            elif r.rule in ("W2", "S2"):
                detail = f"{r.value:+.2f}（{t('col.previous', L)} {fmt(r.reference)}）" if L == "zh" else \
                    f"{r.value:+.2f} (last year {fmt(r.reference)})"
            else:
                detail = f"{r.value:+.2f}（{t('col.rest', L)} {fmt(r.reference)}）" if L == "zh" else \
                    f"{r.value:+.2f} (rest of city {fmt(r.reference)})"
            rows.append({t("col.finding", L): t(f"kind.{r.kind}", L), t("col.rule", L): t(f"rule.{r.rule}", L),
                         t("col.indicator", L): self.q.label(r.node, L), t("col.score", L): detail})
        return pd.DataFrame(rows)

    def recommendations_table(self) -> pd.DataFrame:
        from .findings import load_recommendations, recommend

        L = self.lang
        rec = recommend(self.q, self.findings, load_recommendations(), L)
        return pd.DataFrame({t("col.priority", L): rec.priority,
                             t("col.recommendation", L): rec.text,
                             t("col.because", L): [f"{t('rule.' + r, L)}：{self.q.label(b, L)}" if L == "zh"
                                                   else f"{t('rule.' + r, L)}: {self.q.label(b, L)}"
                                                   for r, b in zip(rec.rule, rec.because)]})

    def quality_text(self) -> str:
        """Rows read, excluded and flagged for this unit, in words (aggregates only)."""
        col = self.store.manifest["unit_column"]
        qc = self.store.quality_counts
        qc = qc[qc[col] == self.unit.zh]
        n = int(self.sample["n"].sum())
        excluded = int(qc.loc[qc.action == "exclude", "rows"].sum())
        flagged = int(qc.loc[qc.action == "flag", "rows"].sum())
        return t("quality.text", self.lang, n=n, excluded=excluded, flagged=flagged)

    def quality_table(self) -> pd.DataFrame:
        """Counts by quality rule, action and group for this unit (no row-level data)."""
        from ..quality import appendix_table

        col = self.store.manifest["unit_column"]
        qc = self.store.quality_counts
        return appendix_table(qc[qc[col] == self.unit.zh].drop(columns=[col]), self.q, self.lang)

    def reliability_text(self) -> str:
        c = self.store.cfa
        parts = [f"{self.q.group_label(r.group, self.lang)} CFI {r.cfi:.3f}, TLI {r.tli:.3f}, RMSEA {r.rmsea:.3f}, "
                 f"SRMR {r.srmr:.3f}" for r in c.itertuples()]
        return t("quality.reliability", self.lang, cfa="；".join(parts) if self.lang == "zh" else "; ".join(parts))

    def reliability_table(self) -> pd.DataFrame:
        L = self.lang
        r = self.store.reliability
        r = r[r.group == "all"] if "all" in set(r.group) else r
        return pd.DataFrame({t("col.group", L): [self.q.group_label(g, L) for g in r.group],
                             t("col.indicator", L): [self.q.label(n, L) for n in r.node],
                             t("col.alpha", L): [f"{x:.3f}" for x in r.raw_alpha],
                             t("col.omega", L): [f"{x:.3f}" for x in r.omega], t("col.n", L): r.n.astype(int)})

    def first_level_sentence(self) -> str:
        tab = self._level_rows(1)
        tab = tab[~tab["suppressed"]]
        if tab.empty:
            return ""
        best, worst = tab.loc[tab.estimate.idxmax()], tab.loc[tab.estimate.idxmin()]
        return t("first_level.lead", self.lang, best=self.q.label(best.node, self.lang), best_score=fmt(best.estimate),
                 worst=self.q.label(worst.node, self.lang), worst_score=fmt(worst.estimate))

    def _level_rows(self, level: int, group: str = "all") -> pd.DataFrame:
        levels = self.q.level_of()
        s = self.scores[(self.scores.group == group)]
        s = s[s.node.map(levels) == level]
        items = {i.id for i in self.q.items}
        return s[~s.node.isin(items)] if level < max(levels.values()) else s

    def indicator_table(self, level: int = 1) -> pd.DataFrame:
        """Scores of the ``level``-th indicators (1 = first level) for all groups, beside the city."""
        L = self.lang
        rows = []
        parents = self.q.parent_of()
        for _, r in self._level_rows(level).iterrows():
            c = self._get(self.city, r.node)
            row = {t("col.indicator", L): self.q.label(r.node, L)}
            if level > 1:
                row[t("col.parent", L)] = self.q.label(parents[r.node], L)
            row.update({
                t("col.score", L): self._score(r),
                t("col.ci", L): self._ci(r),
                t("col.band", L): self._band(r),
                t("col.city", L): fmt(c["estimate"]),
                t("col.diff_city", L): "" if r["suppressed"] else f"{r['estimate'] - c['estimate']:+.2f}",
                t("col.n", L): int(r["n"]),
            })
            rows.append(row)
        return pd.DataFrame(rows)

    def first_level_chart_data(self) -> pd.DataFrame:
        """Long table for the chart: indicator label, who (this unit / city), estimate, CI."""
        out = []
        for _, r in self._level_rows(1).iterrows():
            c = self._get(self.city, r.node)
            lab = self.q.label(r.node, self.lang)
            if not r["suppressed"]:
                out.append({"indicator": lab, "who": t("chart.unit", self.lang), "estimate": r.estimate,
                            "ci_low": r.ci_low, "ci_high": r.ci_high})
            out.append({"indicator": lab, "who": t("chart.city", self.lang), "estimate": c.estimate,
                        "ci_low": c.ci_low, "ci_high": c.ci_high})
        return pd.DataFrame(out)

    def group_table(self) -> pd.DataFrame:
        """The index and first-level scores per respondent group (columns: indicators)."""
        L = self.lang
        nodes = ["index"] + [n.id for n in self.q.indicators]
        rows = []
        gw = self.q.group_weights or {}
        for g in (*self.q.group_ids, "all"):
            row = {t("col.group", L): t("all_groups", L) if g == "all" else self.q.group_label(g, L)}
            if gw:
                row[t("col.weight", L)] = "" if g == "all" else f"{gw[g] / sum(gw.values()):.2f}"
            for node in nodes:
                r = self._get(self.scores, node, g)
                label = t("col.index", L) if node == "index" else self.q.label(node, L)
                row[label] = self._score(r) if r["n"] or not r["suppressed"] else ""
            row[t("col.n", L)] = int(self._get(self.scores, "index", g)["n"])
            rows.append(row)
        return pd.DataFrame(rows)

    def method_text(self) -> str:
        L = self.lang
        n = {g: int(self.sample.loc[self.sample.group == g, "n"].sum()) for g in self.q.group_ids}
        sample = t("method.sample", L, unit=self.name, n=sum(n.values()),
                   **{f"n_{g}": v for g, v in n.items() if g in ("holder", "professional", "public")})
        gw = self.q.group_weights
        weights = ("、" if L == "zh" else ", ").join(
            f"{self.q.group_label(g, L)} {w:.2f}" for g, w in (gw or {}).items()) or "-"
        scoring = t("method.scoring", L, weights=weights, min=self.q.scale.min, span=self.q.scale.max - self.q.scale.min)
        bands = ("；" if L == "zh" else "; ").join(f"≥{b.min:g} {b.label.get(L)}" for b in self.q.bands)
        return "\n\n".join([sample, scoring, t("method.bands", L, bands=bands), t("suppressed.note", L, min_n=self.min_n)])

    # --- protection level (contract 5): read from the store, formatted by surveykit.protection.report ---------
    @cached_property
    def protection(self) -> dict | None:
        """The protection-level tables of the year (None when the study has no protection inputs)."""
        from ..protection.demo import load_protection

        return load_protection(self.store_dir, self.year)

    @cached_property
    def framework(self):
        from ..protection.demo import DEFAULT_FRAMEWORK
        from ..protection.framework import load_framework

        path = (self.protection or {}).get("manifest", {}).get("framework", {}).get("path") or DEFAULT_FRAMEWORK
        return load_framework(path)

    def protection_text(self) -> str:
        from ..protection.report import unit_sentences

        return "\n\n".join(unit_sentences(self.protection, self.framework, self.unit.zh, self.lang))

    def protection_indicator_table(self) -> pd.DataFrame:
        from ..protection.report import indicator_table

        return indicator_table(self.protection, self.framework, self.unit.zh, self.lang)

    def scorecard_table(self) -> pd.DataFrame:
        from ..protection.report import scorecard_table

        return scorecard_table(self.protection, self.unit.zh, self.lang)

    def _weights(self, stage: str) -> pd.Series | None:
        w = self.store.weights
        col = self.store.manifest["unit_column"]
        r = w[(w[col] == self.unit.zh) & (w.stage == stage)]
        return r.iloc[0] if len(r) else None

    def weighting_text(self) -> str:
        """The weighting in words: what was calibrated, and the unit's weight variability after it."""
        L = self.lang
        final = self._weights("final")
        history = self.store.manifest.get("weighting", {}).get("history", [])
        vals = dict(cv=f"{final['cv']:.2f}", deff=f"{final['deff_kish']:.2f}", neff=f"{final['n_effective']:,.0f}",
                    n=f"{int(final['n']):,}")
        if history:
            return t("method.weighting.raked", L, history="；".join(history) if L == "zh" else "; ".join(history),
                     **vals)
        return t("method.weighting.design", L, **vals)

    def weighting_table(self) -> pd.DataFrame:
        """Design and calibrated weights of this unit: n, min, max, CV, Kish deff, effective n."""
        L = self.lang
        rows = []
        for stage in ("design", "final"):
            r = self._weights(stage)
            if r is None:
                continue
            rows.append({t("col.weights", L): t(f"weights.stage.{stage}", L), t("col.n", L): int(r["n"]),
                         t("col.min", L): f"{r['min']:.2f}", t("col.max", L): f"{r['max']:.2f}",
                         t("col.cv", L): f"{r['cv']:.3f}", t("col.deff_kish", L): f"{r['deff_kish']:.3f}",
                         t("col.n_eff", L): f"{r['n_effective']:,.0f}"})
        return pd.DataFrame(rows)

    def provenance_table(self) -> pd.DataFrame:
        L = self.lang
        m = self.store.manifest
        qi, ri = m["inputs"]["questionnaire"], m["inputs"]["responses"]
        rows = [
            (t("prov.questionnaire", L), f"{qi['id']} {qi['version']} · sha256 {qi['sha256'][:16]}…"),
            (t("prov.responses", L), f"{Path(ri['path']).name} · {ri['rows']} rows · {ri['encoding']} · "
                                     f"sha256 {ri['sha256'][:16]}…"),
            (t("prov.design", L), m["design_summary"]),
            (t("prov.quality", L), f"{ri.get('rows_read', ri['rows'])} read · {ri['rows']} kept · "
                                   f"{ri.get('rows_excluded', 0)} excluded · {ri.get('rows_flagged', 0)} flagged"),
            (t("prov.parameters", L), f"min_n {m['min_n']} · max_rse {m.get('max_rse')} · ranks "
                                      f"{m.get('analysis', {}).get('ranks', {})} · comparisons "
                                      f"{m.get('analysis', {}).get('comparisons', {})}"),
            *([(t("prov.framework", L), f"{self.protection['manifest']['framework']['id']} "
                                        f"{self.protection['manifest']['framework']['version']} · targets "
                                        f"{self.protection['manifest']['targets']['id']} "
                                        f"{self.protection['manifest']['targets']['version']}")]
              if self.protection is not None else []),
            (t("prov.package", L), f"surveykit {m['surveykit_version']}"),
            (t("prov.computed", L), m["created"]),
        ]
        return pd.DataFrame(rows, columns=[t("prov.item", L), t("prov.value", L)])
