"""What a unit's report shows, read from the results store: tables (DataFrames of plain text) and sentences
(Markdown, user strings escaped).

The notebook ``notebooks/district_report.ipynb`` calls these methods and displays what they return; nothing here
computes a statistic -- it selects, formats, labels and suppresses (estimates from fewer than ``min_n``
respondents are replaced by a visible "too few" mark). No respondent-level data and no free text are read.

Example
-------
>>> r = DistrictReport(results, 2026, "alpha", "zh")        # results: a store folder (see tests/test_report_tables.py)
>>> r.indicator_table(level=1).columns[:3].tolist()
['指标', '得分', '95%置信区间']
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.drivers import assign_quadrants
from ..analysis.ranks import format_rank
from ..results import REGION
from . import comparability as cmp
from .base import StoreView, finite, signed
from .findings import find, load_recommendations, recommend
from ..protection.scorecard import STATUS_TEXT, load_targets
from .i18n import fmt
from .quality_text import appendix_table
from ..analysis import quadrant_chart
from .protection import indicator_table, scorecard_table, unit_sentences
from .safe import escape

NO_ROW = pd.Series({"estimate": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": 0,
                    "suppressed": True})


class DistrictReport(StoreView):
    """One unit's report for one year (``district``: the unit's id, Chinese or English name)."""

    def __init__(self, results: str | Path, year: int, district: str, lang: str = "zh"):
        super().__init__(results, year, lang, unit=district)
        unit = self.unit
        su = self.store.scores_unit
        self.scores = su[su.unit == unit.id].drop(columns=["unit"])
        self.city = self.store.scores_city
        self.sample = self.store.sample[self.store.sample.unit == unit.id]

    # --- helpers ---------------------------------------------------------------------------------------------
    def _get(self, frame: pd.DataFrame, node: str, group: str = "all") -> pd.Series:
        r = frame[(frame.node == node) & (frame.group == group)]
        return r.iloc[0] if len(r) else NO_ROW

    def _score(self, row: pd.Series) -> str:
        return self.p.t("suppressed") if row["suppressed"] else fmt(row["estimate"])

    def _ci(self, row: pd.Series) -> str:
        return "" if row["suppressed"] else self.ci(row["ci_low"], row["ci_high"])

    def _band(self, row: pd.Series) -> str:
        return "" if row["suppressed"] else self.band(row["estimate"])

    def _mine(self, table: pd.DataFrame | None, node: str | None = None, group: str | None = "all") -> pd.DataFrame:
        return self.rows(table, self.unit.id, node, group)

    @cached_property
    def name(self) -> str:
        return self.unit.name(self.lang)

    # --- summary -----------------------------------------------------------------------------------------------
    def title(self) -> str:
        return self.p.t("report.title", unit=self.name, year=self.year)

    def title_md(self) -> str:
        return "# " + self.p.md("report.title", unit=self.name, year=self.year)

    def headline(self) -> str:
        """The summary (Markdown): index, CI, band, the region's index; rank with its interval; change on last
        year; against the rest of the region."""
        r, c = self._get(self.scores, "index"), self._get(self.city, "index")
        if r["suppressed"]:
            return self.p.md("headline.suppressed", unit=self.name, year=self.year, n=int(r["n"]), min_n=self.min_n)
        if r["estimate"] != r["estimate"]:
            return self.p.md("headline.missing", unit=self.name, year=self.year)
        parts = [self.p.md("headline", unit=self.name, year=self.year, score=fmt(r["estimate"]),
                           low=fmt(r["ci_low"]), high=fmt(r["ci_high"]), band=self._band(r), city=fmt(c["estimate"]))]
        rk = self._mine(self.store.ranks, "index")
        if len(rk) and finite(rk["rank"].iloc[0]):
            parts.append(self.p.md("headline.rank", n_units=int(rk.n_units.iloc[0]), rank=self.rank_label("index")))
        parts.append(self.change_sentence())
        v = self._mine(self.store.compare_rest, "index")
        if len(v):
            parts.append(self.p.md("headline.rest", verdict=self.verdict(v.verdict.iloc[0]),
                                   diff=signed(v.difference.iloc[0])))
        return self.p.join(parts)

    def change_sentence(self) -> str:
        """The index's change on last year -- only when the index is comparable; else the index recomputed on the
        common items (when the study asks for it, labelled as such), or why there is no change."""
        ch = self._mine(self.store.year_change, "index")
        if len(ch) and ch.verdict.iloc[0] != "no_data":
            return self.p.md("headline.change", prev=fmt(ch.estimate_previous.iloc[0]),
                             change=signed(ch.change.iloc[0]), verdict=self.verdict(ch.verdict.iloc[0]))
        if cmp.index_is_comparable(self):
            return ""
        r = cmp.index_common(self, self.unit.id)
        if r is None or r.verdict == "no_data":
            return self.p.md("headline.change_none")
        return self.p.md("headline.change_common", n=int(r.n_items), prev=fmt(r.estimate_previous),
                         change=signed(r.change), verdict=self.verdict(r.verdict))

    def first_level_sentence(self) -> str:
        tab = self._level_rows(1)
        tab = tab[~tab["suppressed"]]
        if tab.empty:
            return ""
        best, worst = tab.loc[tab.estimate.idxmax()], tab.loc[tab.estimate.idxmin()]
        return self.p.md("first_level.lead", n=len(self.q.indicators), best=self.label(best.node),
                         best_score=fmt(best.estimate), worst=self.label(worst.node), worst_score=fmt(worst.estimate))

    def rank_label(self, node: str = "index") -> str:
        r = self._mine(self.store.ranks, node)
        if not len(r) or not finite(r["rank"].iloc[0]):
            return "–"
        return format_rank(r["rank"].iloc[0], r.rank_low.iloc[0], r.rank_high.iloc[0], lang=self.lang)

    # --- scores --------------------------------------------------------------------------------------------------
    def _level_rows(self, level: int, group: str = "all") -> pd.DataFrame:
        levels = self.q.level_of()
        s = self.scores[(self.scores.group == group)]
        s = s[s.node.map(levels) == level]
        items = {i.id for i in self.q.items}
        return s[~s.node.isin(items)] if level < max(levels.values()) else s

    def indicator_table(self, level: int = 1) -> pd.DataFrame:
        """Scores of the ``level``-th indicators (1 = first level) for all groups, beside the region's."""
        p, rows, parents = self.p, [], self.q.parent_of()
        for _, r in self._level_rows(level).iterrows():
            c = self._get(self.city, r.node)
            row = {p.t("col.indicator"): self.label(r.node)}
            if level > 1:
                row[p.t("col.parent")] = self.label(parents[r.node])
            row.update({p.t("col.score"): self._score(r), p.t("col.ci"): self._ci(r), p.t("col.band"): self._band(r),
                        p.t("col.city"): fmt(c["estimate"]),
                        p.t("col.diff_city"): "" if r["suppressed"] else signed(r["estimate"] - c["estimate"]),
                        p.t("col.n"): int(r["n"])})
            rows.append(row)
        return pd.DataFrame(rows)

    def first_level_chart_data(self) -> pd.DataFrame:
        """Long table for the chart: indicator label, who (this unit / the region), estimate, CI."""
        out = []
        for _, r in self._level_rows(1).iterrows():
            c = self._get(self.city, r.node)
            lab = self.label(r.node)
            if not r["suppressed"]:
                out.append({"indicator": lab, "who": self.p.t("chart.unit"), "estimate": r.estimate,
                            "ci_low": r.ci_low, "ci_high": r.ci_high})
            out.append({"indicator": lab, "who": self.p.t("chart.city"), "estimate": c.estimate,
                        "ci_low": c.ci_low, "ci_high": c.ci_high})
        return pd.DataFrame(out)

    def group_table(self) -> pd.DataFrame:
        """The index and first-level scores per respondent group (columns: indicators)."""
        p, rows = self.p, []
        gw = self.q.group_weights or {}
        for g in (*self.q.group_ids, "all"):
            row = {p.t("col.group"): self.group_label(g)}
            if gw:
                row[p.t("col.weight")] = "" if g == "all" else f"{gw[g] / sum(gw.values()):.2f}"
            for node in ["index", *self.first_level()]:
                r = self._get(self.scores, node, g)
                row[self.label(node)] = self._score(r) if r["n"] or not r["suppressed"] else ""
            row[p.t("col.n")] = int(self._get(self.scores, "index", g)["n"])
            rows.append(row)
        return pd.DataFrame(rows)

    def rates_table(self) -> pd.DataFrame:
        """The satisfaction rate of the index and first-level indicators, with logit 95% CIs, beside the region's."""
        p, rt = self.p, self.store.satisfaction_rates
        rows = []
        for node in ["index", *self.first_level()]:
            mine, region = rt[(rt.unit == self.unit.id) & (rt.node == node)], rt[(rt.unit == REGION) & (rt.node == node)]
            if not len(mine):
                continue
            rate, ci = self.percent(mine.iloc[0])
            rows.append({p.t("col.indicator"): self.label(node), p.t("col.rate"): rate, p.t("col.ci"): ci,
                         p.t("col.rate_city"): self.percent(region.iloc[0])[0] if len(region) else "",
                         p.t("col.n"): int(mine.n.iloc[0])})
        return pd.DataFrame(rows)

    def dont_know_table(self, top: int = 5) -> pd.DataFrame:
        """The items most often answered "don't know" in this unit (all groups): an awareness signal."""
        p = self.p
        dk = self._mine(self.store.dont_know).sort_values("estimate", ascending=False).head(top)
        return pd.DataFrame({p.t("col.item"): [self.label(i) for i in dk["item"]],
                             p.t("col.dk_rate"): [self.percent(r)[0] for _, r in dk.iterrows()],
                             p.t("col.ci"): [self.percent(r)[1] for _, r in dk.iterrows()],
                             p.t("col.n_asked"): dk.n_asked.astype(int)})

    # --- comparisons ---------------------------------------------------------------------------------------------
    def change_table(self) -> pd.DataFrame:
        """Index, first- and second-level indicators comparable with last year (the store's year_change holds only
        those): last year, this year, change with its 95% CI, verdict; the index recomputed on the common items
        first when the index is not comparable and the study asks for it (:meth:`comparability_note` says why)."""
        p = self.p
        ch = self._mine(self.store.year_change)
        common = cmp.index_common(self, self.unit.id)
        if not len(ch) and common is None:
            return pd.DataFrame()
        levels = self.q.level_of()
        ch = ch[ch.node.map(lambda x: levels.get(x, 9) <= 2)] if len(ch) else ch
        order = {n: k for k, n in enumerate(["index"] + [n.id for n in self.q.nodes])}
        rows = [(self.label(r.node), r) for r in ch.assign(_o=ch.node.map(order)).sort_values("_o").itertuples()]
        if common is not None and not cmp.index_is_comparable(self):
            rows.insert(0, (p.t("col.index_common"), common))
        return pd.DataFrame([{p.t("col.indicator"): label, p.t("col.previous"): fmt(r.estimate_previous),
                              p.t("col.current"): fmt(r.estimate), p.t("col.change"): signed(r.change),
                              p.t("col.ci_adj"): self._adjusted_ci(r), p.t("col.verdict"): self.verdict(r.verdict)}
                             for label, r in rows])

    def comparability_note(self) -> str:
        """What could not be compared with last year and why (Markdown; empty when everything is comparable)."""
        return cmp.note(self)

    def versus_rest_table(self) -> pd.DataFrame:
        """The index and first-level indicators against the pooled rest of the region (design-based contrast)."""
        p = self.p
        return pd.DataFrame([{p.t("col.indicator"): self.label(r.node), p.t("col.score"): fmt(r.estimate),
                              p.t("col.rest"): fmt(r.estimate_rest), p.t("col.difference"): signed(r.difference),
                              p.t("col.ci_adj"): self._adjusted_ci(r), p.t("col.verdict"): self.verdict(r.verdict),
                              p.t("col.rank"): self.rank_label(r.node)}
                             for r in self._mine(self.store.compare_rest).itertuples()])

    def gaps_table(self) -> pd.DataFrame:
        """Index gaps between respondent groups (design-based contrasts, Holm-adjusted within the unit)."""
        p = self.p
        gg = self.rows(self.store.group_gaps, self.unit.id, "index", group=None)
        return pd.DataFrame([{p.t("col.comparison"): p.t("gap.pair", a=self.group_label(r.group_a),
                                                          b=self.group_label(r.group_b)),
                              p.t("col.difference"): signed(r.gap), p.t("col.ci_adj"): self._adjusted_ci(r),
                              p.t("col.verdict"): self.verdict(r.verdict)} for r in gg.itertuples()])

    # --- drivers, findings, recommendations ------------------------------------------------------------------------
    @property
    def has_drivers(self) -> bool:
        return self.store.drivers is not None and self.q.roles.outcome is not None

    def drivers_text(self) -> str:
        if not self.has_drivers:
            return self.p.md("drivers.none")
        return self.p.md("drivers.lead", outcome=self.label(self.q.roles.outcome))

    def drivers_data(self) -> pd.DataFrame:
        """Importance (the region's data) of the first-level indicators against this unit's scores, in quadrants
        (:func:`surveykit.analysis.drivers.assign_quadrants`): the table surveykit.analysis.quadrant_chart draws."""
        return self._drivers

    @cached_property
    def _drivers(self) -> pd.DataFrame:
        d = self.store.drivers
        d = d[d.level == 1].copy()
        shown = self.scores[(self.scores.group == "all") & ~self.scores.suppressed.astype(bool)]
        d["performance"] = d.node.map(shown.set_index("node")["estimate"])   # a suppressed score is not plotted
        d = assign_quadrants(d[d.performance.notna()], self.lang)
        d["label"] = [self.label(n) for n in d.node]
        return d

    def drivers_table(self) -> pd.DataFrame:
        p = self.p
        d = self.drivers_data().sort_values("importance", ascending=False)
        return pd.DataFrame({p.t("col.indicator"): d.label, p.t("col.importance"): [f"{x:.3f}" for x in d.importance],
                             p.t("col.performance"): [fmt(x) for x in d.performance],
                             p.t("col.quadrant"): d.quadrant_label})

    def drivers_chart(self):
        """The importance-performance chart (None when this unit has no score to show)."""
        data = self.drivers_data()
        return quadrant_chart(data, title=self.p.t("chart.quadrant.title"), lang=self.lang) if len(data) else None

    @cached_property
    def findings(self) -> pd.DataFrame:
        return find(self.q, self.scores, changes=self._mine(self.store.year_change),
                    versus_rest=self._mine(self.store.compare_rest))

    def findings_table(self) -> pd.DataFrame:
        p, rows = self.p, []
        for r in self.findings.itertuples():
            if r.rule in ("W1", "S1"):
                detail = fmt(r.value)
            elif r.rule in ("W2", "S2"):
                detail = p.t("finding.change", value=signed(r.value), reference=fmt(r.reference))
            else:
                detail = p.t("finding.rest", value=signed(r.value), reference=fmt(r.reference))
            rows.append({p.t("col.finding"): p.t(f"kind.{r.kind}"), p.t("col.rule"): p.t(f"rule.{r.rule}"),
                         p.t("col.indicator"): self.label(r.node), p.t("col.score"): detail})
        return pd.DataFrame(rows)

    @property
    def has_recommendations(self) -> bool:
        return self.q.recommendations_path is not None

    def recommendations_table(self) -> pd.DataFrame:
        p = self.p
        if not self.has_recommendations:
            return pd.DataFrame()
        rec = recommend(self.q, self.findings, load_recommendations(self.q.recommendations_path), self.lang)
        return pd.DataFrame({p.t("col.priority"): rec.priority, p.t("col.recommendation"): rec.text,
                             p.t("col.because"): [p.t("because", rule=p.t(f"rule.{r}"), label=self.label(b))
                                                  for r, b in zip(rec.rule, rec.because)]})

    # --- method, quality, provenance -------------------------------------------------------------------------------
    def method_text(self) -> str:
        """Sample, design, scoring, bands and suppression in words (Markdown)."""
        p = self.p
        n = {g: int(self.sample.loc[self.sample.group == g, "n"].sum()) for g in self.q.group_ids}
        groups = p.sep().join(p.t("method.group_n", group=self.group_label(g), n=v) for g, v in n.items())
        sample = p.md("method.sample", unit=self.name, n=sum(n.values()), groups=groups)
        gw = self.q.group_weights
        all_rule = (p.t("method.all.weighted", weights=p.sep().join(f"{self.group_label(g)} {w:.2f}"
                                                                    for g, w in gw.items()))
                    if gw else p.t("method.all.pooled"))
        missing = p.sep().join(self.q.scale.labels[m].get(self.lang) if m in self.q.scale.labels else str(m)
                               for m in self.q.scale.missing) or p.t("method.missing.none")
        scoring = p.md("method.scoring", min=self.q.scale.min, span=self.q.scale.max - self.q.scale.min,
                       missing=missing, all_rule=all_rule)
        bands = ("；" if self.lang == "zh" else "; ").join(f"≥{b.min:g} {b.label.get(self.lang)}" for b in self.q.bands)
        return "\n\n".join([sample, self.design_text(), scoring, p.md("method.bands", bands=bands),
                            self.suppression_note()])

    def design_text(self) -> str:
        p, d = self.p, self.store.manifest.get("design_counts", {})
        text = p.t("method.design.strata", n_strata=d.get("strata", 0)) if d.get("strata") else \
            p.t("method.design.nostrata")
        text += p.t("method.design.stages", stages=d["stages"], n_psu=d["psus"]) if d.get("stages") else \
            p.t("method.design.single")
        if d.get("fpc"):
            text += p.t("method.design.fpc")
        return escape(text + p.t("method.design.end"))

    def _weights(self, stage: str) -> pd.Series | None:
        w = self.store.weights
        r = w[(w.unit == self.unit.id) & (w.stage == stage)]
        return r.iloc[0] if len(r) else None

    def weighting_text(self) -> str:
        """The weighting in words: what was calibrated, and the unit's weight variability after it."""
        p, final = self.p, self._weights("final")
        vals = dict(cv=f"{final['cv']:.2f}", deff=f"{final['deff_kish']:.2f}", neff=f"{final['n_effective']:,.0f}",
                    n=f"{int(final['n']):,}")
        margins = (self.store.manifest.get("weighting", {}).get("margins") or {}).get("levels") or {}
        if margins:
            names = p.sep().join(p.t("method.margin", variable=self._margin_name(v), levels=k)
                                 for v, k in margins.items())
            return p.md("method.weighting.raked", margins=names, **vals)
        return p.md("method.weighting.design", **vals)

    def _margin_name(self, variable: str) -> str:
        if variable == self.store.manifest.get("unit_column"):
            return self.p.t("margin.unit")
        if variable == self.q.groups.column:
            return self.p.t("margin.group")
        return variable

    def weighting_table(self) -> pd.DataFrame:
        """Design and calibrated weights of this unit: n, min, max, CV, Kish deff, effective n."""
        p, rows = self.p, []
        raked = bool(self.store.manifest.get("weighting", {}).get("margins"))
        for stage in ("design", "final") if raked else ("design",):
            r = self._weights(stage)
            if r is not None:
                rows.append({p.t("col.weights"): p.t(f"weights.stage.{stage}"), p.t("col.n"): int(r["n"]),
                             p.t("col.min"): f"{r['min']:.2f}", p.t("col.max"): f"{r['max']:.2f}",
                             p.t("col.cv"): f"{r['cv']:.3f}", p.t("col.deff_kish"): f"{r['deff_kish']:.3f}",
                             p.t("col.n_eff"): f"{r['n_effective']:,.0f}"})
        return pd.DataFrame(rows)

    def quality_text(self) -> str:
        """Rows read, excluded and flagged for this unit, in words (aggregates only)."""
        qc = self.store.quality_counts
        qc = qc[qc.unit == self.unit.id]
        return self.p.md("quality.text", n=int(self.sample["n"].sum()),
                         excluded=int(qc.loc[qc.action == "exclude", "rows"].sum()),
                         flagged=int(qc.loc[qc.action == "flag", "rows"].sum()))

    def quality_table(self) -> pd.DataFrame:
        """Counts by quality rule, action and group for this unit (no row-level data)."""
        qc = self.store.quality_counts
        return appendix_table(qc[qc.unit == self.unit.id].drop(columns=["unit"]), self.q, self.lang)

    def reliability_text(self) -> str:
        p = self.p
        parts = [p.t("quality.cfa", group=self.group_label(r.group), cfi=fmt(r.cfi, 3), tli=fmt(r.tli, 3),
                     rmsea=fmt(r.rmsea, 3), srmr=fmt(r.srmr, 3)) for r in self.store.cfa.itertuples()]
        return p.md("quality.reliability", cfa=("；" if self.lang == "zh" else "; ").join(parts) or p.t("none"))

    def reliability_table(self) -> pd.DataFrame:
        p, r = self.p, self.store.reliability
        r = r[r.group == "all"] if "all" in set(r.group) else r
        return pd.DataFrame({p.t("col.group"): [self.group_label(g) for g in r.group],
                             p.t("col.indicator"): [self.label(n) for n in r.node],
                             p.t("col.alpha"): [fmt(x, 3) for x in r.raw_alpha],
                             p.t("col.omega"): [fmt(x, 3) for x in r.omega], p.t("col.n"): r.n.astype(int)})

    def provenance_table(self) -> pd.DataFrame:
        """Where every number came from, in words: questionnaire, responses, quality, design, parameters, software."""
        p, m = self.p, self.store.manifest
        qi, ri = m["inputs"]["questionnaire"], m["inputs"]["responses"]
        rows = [(p.t("prov.questionnaire"), p.t("prov.questionnaire.value", id=self.q.title.get(self.lang),
                                               version=qi["version"], sha=qi["sha256"][:16])),
                (p.t("prov.responses"), p.t("prov.responses.value", file=Path(ri["path"]).name, rows=ri["rows"],
                                            encoding=ri.get("encoding") or "–", sha=ri["sha256"][:16])),
                (p.t("prov.design"), self._design_value()),
                (p.t("prov.quality"), p.t("prov.quality.value", read=ri.get("rows_read", ri["rows"]), kept=ri["rows"],
                                          excluded=ri.get("rows_excluded", 0), flagged=ri.get("rows_flagged", 0))),
                (p.t("prov.parameters"), self._parameters_value())]
        if self.protection is not None:
            pm = self.protection["manifest"]
            fw, tg = self.framework(), load_targets(pm["targets"]["path"])
            rows.append((p.t("prov.framework"), p.t("prov.framework.value", fw=_title(fw, self.lang),
                                                    fv=pm["framework"]["version"], tg=_title(tg, self.lang),
                                                    tv=pm["targets"]["version"])))
        rows += [(p.t("prov.package"), f"surveykit {m['surveykit_version']}"), (p.t("prov.computed"), m["created"])]
        return pd.DataFrame(rows, columns=[p.t("prov.item"), p.t("prov.value")])

    def _design_value(self) -> str:
        p, d = self.p, self.store.manifest.get("design_counts", {})
        strata = p.t("prov.design.strata", n=d["strata"]) if d.get("strata") else p.t("prov.design.nostrata")
        psu = p.t("prov.design.psu", n=d.get("psus", d.get("rows", 0)), stages=d.get("stages") or 1)
        return p.t("prov.design.value", rows=d.get("rows", 0), strata=strata, psu=psu,
                   fpc=p.t("prov.design.fpc") if d.get("fpc") else "",
                   raked=p.t("prov.design.raked") if self.store.manifest.get("weighting", {}).get("margins") else "")

    def _parameters_value(self) -> str:
        a = self.store.manifest.get("analysis", {})
        rk, cp = a.get("ranks", {}), a.get("comparisons", {})
        return self.p.t("prov.parameters.value", min_n=self.min_n,
                        max_rse="–" if self.max_rse is None else f"{100 * self.max_rse:.0f}%",
                        draws=rk.get("draws", "–"), level=round(100 * rk.get("level", 0.9)), alpha=cp.get("alpha", 0.05))

    # --- protection level (contract 5) ---------------------------------------------------------------------------
    def protection_text(self) -> str:
        return "\n\n".join(unit_sentences(self, self.unit.id))

    def protection_indicator_table(self) -> pd.DataFrame:
        return indicator_table(self, self.unit.id)

    def scorecard_table(self) -> pd.DataFrame:
        return scorecard_table(self, self.unit.id)

    @cached_property
    def zone(self) -> "ZoneSection | None":
        """The demonstration-zone section (None: the study has no register, or the unit has no zone history)."""
        z = ZoneSection(self)
        return z if z.shown else None

    @property
    def has_zone_register(self) -> bool:
        return self.store.zones_status is not None


__all__ = ["DistrictReport", "REGION"]


class ZoneSection:
    """The demonstration-zone section of a unit's report: where the unit stands (its status, the next milestone)
    and what this year's evaluation means for it -- acceptance or renewal review (the scorecard and a verdict),
    annual monitoring (targets missed, escalated when missed two years running), progress of a rectification --
    and its key tasks by area. Absent (None) for a unit with no zone history and for studies without a register."""

    def __init__(self, report: DistrictReport):
        self.r, self.p = report, report.p
        st, ev = report.store.zones_status, report.store.zones_evaluation
        self.status = st[st.unit == report.unit.id].iloc[0] if st is not None and (st.unit == report.unit.id).any() \
            else None
        self.evaluation = ev[ev.unit == report.unit.id].iloc[0] if ev is not None and (ev.unit == report.unit.id).any() \
            else None

    @property
    def shown(self) -> bool:
        return self.status is not None and not (self.status.status == "not_zone" and pd.isna(self.status.since))

    @property
    def kind(self) -> str:
        return "none" if self.evaluation is None else self.evaluation.kind

    def text(self) -> str:
        """Status and evaluation in words (Markdown)."""
        p, s, r = self.p, self.status, self.r
        stage = p.t("zone.stage", k=int(s.stage_year), n=int(s.stage_years)) if finite_int(s.stage_year) else ""
        out = p.md("zone.sentence", unit=r.name, year=r.year, status=p.t(f"zone.status.{s.status}"), stage=stage)
        out += p.md("zone.since", since=int(s.since)) if finite_int(s.since) else p.md("zone.end")
        if isinstance(s.next, str) and s.next:
            nxt = p.t(f"zone.next.{s.next}") if s.next == "decision_due" else p.t(f"zone.status.{s.next}")
            out = p.join([out, p.md("zone.next", next=nxt, overdue=p.t("zone.overdue") if bool(s.overdue) else "",
                                    next_year=int(s.next_year) if finite_int(s.next_year) else "–")])
        return out + ("\n\n" + self.evaluation_text() if self.kind != "none" else "")

    def evaluation_text(self) -> str:
        p, e = self.p, self.evaluation
        kind, verdict = p.t(f"zone.kind.{e.kind}"), p.t(f"zone.verdict.{e.verdict}")
        if e.kind in ("acceptance", "renewal"):
            parts, reasons = [p.md("zone.eval.review", kind=kind, verdict=verdict)], "zone.reasons.review"
        elif e.kind == "monitoring":
            parts, reasons = [p.md("zone.eval.monitoring", kind=kind, verdict=verdict)], "zone.reasons.monitoring"
        else:
            parts = [p.md("zone.eval.rectification", kind=kind, verdict=verdict, order=int(e.compared_year))]
            reasons = "zone.reasons.rectification"
        labels = self._labels()
        if e.reasons:
            parts.append(p.md(reasons, targets=p.sep().join(labels.get(t, t) for t in e.reasons.split(";"))))
        if e.warnings:
            parts.append(p.md("zone.warnings", targets=p.sep().join(labels.get(t, t) for t in e.warnings.split(";"))))
        return p.join(parts)

    def _labels(self) -> dict[str, str]:
        t = self.targets()
        lab = "label_en" if self.r.lang == "en" else "label_zh"
        return dict(zip(t.target, t[lab].fillna(t.label_zh))) if len(t) else {}

    def targets(self) -> pd.DataFrame:
        zt = self.r.store.zones_targets
        if zt is None or not len(zt):
            return pd.DataFrame(columns=["target", "label_zh", "label_en"])
        return zt[zt.unit == self.r.unit.id]

    def targets_table(self) -> pd.DataFrame:
        """One row per target behind the verdict: threshold, evidence with its CI, status, the compared year's."""
        p, t, L = self.p, self.targets(), self.r.lang
        rows = []
        for x in t.itertuples():
            row = {p.t("col.target"): (x.label_en if L == "en" and isinstance(x.label_en, str) else x.label_zh),
                   p.t("col.threshold"): "—" if not finite(x.threshold) else f"{x.op} {x.threshold:.2f}",
                   p.t("col.evidence"): self._evidence(x), p.t("col.status"): self._status(x.status)}
            if finite_int(x.compared_year):
                row[p.t("col.compared", year=int(x.compared_year))] = self._status(x.compared_status)
            row[p.t("col.flag")] = p.t(f"zone.flag.{x.flag}") if isinstance(x.flag, str) and x.flag else ""
            rows.append(row)
        return pd.DataFrame(rows)

    def _status(self, code) -> str:
        """A target's status (pass / fail / not decisive / insufficient data) in words."""
        return STATUS_TEXT[code][self.r.lang == "en"] if isinstance(code, str) and code in STATUS_TEXT else ""

    def _evidence(self, x) -> str:
        if not finite(x.evidence):
            return "—"
        if finite(x.ci_low) and finite(x.ci_high):
            return f"{x.evidence:.2f} ({x.ci_low:.2f}–{x.ci_high:.2f})"
        return f"{x.evidence:.2f}"

    def tasks_table(self) -> pd.DataFrame:
        """Key tasks by area for this unit and year (counts and the area's status)."""
        p, zt = self.p, self.r.store.zones_tasks
        if zt is None or not len(zt):
            return pd.DataFrame()
        t = zt[zt.unit == self.r.unit.id]
        lab = "label_en" if self.r.lang == "en" else "label_zh"
        return pd.DataFrame({p.t("col.area"): t[lab].fillna(t.label_zh).to_numpy(), p.t("col.tasks"): t.tasks.to_numpy(),
                             p.t("col.done"): t.done.to_numpy(), p.t("col.in_progress"): t.in_progress.to_numpy(),
                             p.t("col.not_started"): t.not_started.to_numpy(),
                             p.t("col.status"): [p.t(f"zone.area_status.{s}") for s in t.area_status]})


def _title(spec, lang: str) -> str:
    """A framework's or targets file's title in ``lang`` (its id when it has none)."""
    return spec.title.get(lang) if getattr(spec, "title", None) is not None else spec.id


def finite_int(x) -> bool:
    return x is not None and not pd.isna(x)
