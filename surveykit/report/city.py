"""What the region's overview shows, read from the results store(s): tables, sentences and chart data.

Like :mod:`surveykit.report.district`, nothing here computes a statistic; it selects and formats the stored
estimates of every unit (all groups) for the comparison the bureau makes across units and years.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..results import REGION, load_plan, load_results, read_manifest
from . import comparability as cmp
from .base import StoreView, finite, signed
from .i18n import fmt
from .protection import dimension_table, method_sentences, scorecard_wide, sobol_table


class CityReport(StoreView):
    """The overview of the whole region for one year (and the earlier years found in the results store)."""

    def __init__(self, results: str | Path, year: int, lang: str = "zh"):
        super().__init__(results, year, lang)
        self.years = sorted(int(p.name) for p in self.results.iterdir()
                            if p.name.isdigit() and read_manifest(self.results, int(p.name)) is not None
                            and int(p.name) <= self.year)

    def _order(self, ids) -> list[str]:
        """Unit ids in the study's order (ids the study does not list last)."""
        ids = list(ids)
        return [u for u in self.units.ids if u in ids] + [u for u in ids if u not in self.units.ids]

    def title(self) -> str:
        return self.p.t("city.title", year=self.year)

    def title_md(self) -> str:
        return "# " + self.p.md("city.title", year=self.year)

    def headline(self) -> str:
        c = self.store.scores_city
        r = c[(c.group == "all") & (c.node == "index")].iloc[0]
        su = self.store.scores_unit
        idx = su[(su.group == "all") & (su.node == "index") & ~su.suppressed]
        return self.p.md("city.headline", year=self.year, score=fmt(r.estimate), low=fmt(r.ci_low),
                         high=fmt(r.ci_high), band=self.band(r.estimate), n_units=len(idx),
                         lo=fmt(idx.estimate.min()), hi=fmt(idx.estimate.max()))

    def heatmap_data(self) -> pd.DataFrame:
        """Units x (index + first-level indicators), all groups; suppressed cells are NaN (drawn blank)."""
        su = self.store.scores_unit
        nodes = ["index", *self.first_level()]
        s = su[(su.group == "all") & su.node.isin(nodes)].copy()
        s.loc[s.suppressed, "estimate"] = np.nan
        wide = s.pivot(index="unit", columns="node", values="estimate")[nodes]
        wide = wide.loc[self._order(wide.index)]
        wide.index = [self.unit_name(x) for x in wide.index]
        wide.columns = [self.label(n) for n in nodes]
        return wide

    def rank_table(self) -> pd.DataFrame:
        """Every unit's index and first-level ranks, each with its 90% interval (ranks are never shown bare)."""
        rk = self.store.ranks
        rk = rk[rk.group == "all"]
        nodes = ["index", *self.first_level()]
        idx = rk[rk.node == "index"].sort_values(["rank", "estimate"], ascending=[True, False])
        rows = []
        left, right = ("（", "）") if self.lang == "zh" else (" (", ")")
        for u in idx.unit:
            row = {self.p.t("col.unit"): self.unit_name(u)}
            for n in nodes:
                r = rk[(rk.unit == u) & (rk.node == n)]
                ok = len(r) and finite(r["rank"].iloc[0])
                row[self.label(n)] = (f"{fmt(r.estimate.iloc[0])}{left}{int(r['rank'].iloc[0])}: "
                                      f"{int(r.rank_low.iloc[0])}–{int(r.rank_high.iloc[0])}{right}" if ok else "–")
            rows.append(row)
        return pd.DataFrame(rows)

    @cached_property
    def _stores(self) -> dict:
        """Every year's store, up to this one (each loaded once)."""
        return {y: self.store if y == self.year else load_results(self.results, y) for y in self.years}

    @cached_property
    def _index_by_year(self) -> pd.DataFrame:
        frames = []
        for y in self.years:
            su = self._stores[y].scores_unit
            s = su[(su.group == "all") & (su.node == "index")].set_index("unit")
            frames.append(s["estimate"].where(~s["suppressed"]).rename(str(y)))
        wide = pd.concat(frames, axis=1)
        return wide.loc[self._order(wide.index)]

    def trend_table(self) -> pd.DataFrame:
        """The index of every unit in each year of the store, and the change over the last year -- only when the
        index is comparable with last year's, else the index recomputed on the common items (labelled) when the
        study asks for it (:meth:`comparability_note` says why)."""
        p, wide = self.p, self._index_by_year
        out = pd.DataFrame({p.t("col.unit"): [self.unit_name(x) for x in wide.index]})
        for y in wide.columns:
            out[p.t("index.year", year=y)] = [fmt(v) for v in wide[y]]
        ch, head = self.store.year_change, "col.change"
        if not cmp.index_is_comparable(self):
            ch, head = self.store.index_common, "col.change_common"
        if ch is not None and len(self.years) > 1:
            c = ch[(ch.group == "all") & (ch.node == "index")].set_index("unit")
            out[p.t(head)] = ["–" if u not in c.index else signed(c.loc[u, "change"]) for u in wide.index]
            out[p.t("col.verdict")] = [self.verdict(c.loc[u, "verdict"]) if u in c.index else "" for u in wide.index]
        return out

    @cached_property
    def _breaks(self) -> set[int]:
        """Years whose index is not comparable with the year before (a questionnaire change)."""
        out = set()
        for y in self.years[1:]:
            t = self._stores[y].comparability
            if t is not None and not cmp.index_comparable(t):
                out.add(y)
        return out

    def trend_chart_data(self) -> pd.DataFrame:
        """Long table for the trend chart: unit, year, estimate, and ``segment`` (the line is broken at a year
        whose index is not comparable with the year before)."""
        wide, breaks = self._index_by_year, self._breaks
        segment = {y: sum(b <= int(y) for b in breaks) for y in wide.columns}
        return pd.DataFrame([{"unit": self.unit_name(u), "year": int(y), "estimate": e,
                              "segment": f"{u}#{segment[y]}"}
                             for u in wide.index for y, e in wide.loc[u].items() if e == e])

    def comparability_note(self) -> str:
        """What could not be compared with last year and why, and where the trend lines break (Markdown)."""
        parts = [cmp.note(self), self.p.md("cmp.trend") if self._breaks else ""]
        return "\n\n".join(x for x in parts if x)

    def group_table(self) -> pd.DataFrame:
        """The region's index and first-level scores per respondent group."""
        p, c = self.p, self.store.scores_city
        rows = []
        for g in (*self.q.group_ids, "all"):
            row = {p.t("col.group"): self.group_label(g)}
            for n in ["index", *self.first_level()]:
                r = c[(c.group == g) & (c.node == n)]
                row[self.label(n)] = fmt(r.estimate.iloc[0]) if len(r) and not r.suppressed.iloc[0] else ""
            r = c[(c.group == g) & (c.node == "index")]
            row[p.t("col.n")] = int(r.n.iloc[0]) if len(r) else 0
            rows.append(row)
        return pd.DataFrame(rows)

    def rates_table(self) -> pd.DataFrame:
        """Every unit's satisfaction rate (index and first-level indicators), the region's last."""
        rt = self.store.satisfaction_rates
        nodes = ["index", *self.first_level()]
        rows = []
        for u in [*self._order(set(rt.unit) - {"all"}), "all"]:
            row = {self.p.t("col.unit"): self.unit_name(u)}
            for n in nodes:
                r = rt[(rt.unit == u) & (rt.node == n)]
                row[self.label(n)] = self.percent(r.iloc[0])[0] if len(r) else ""
            rows.append(row)
        return pd.DataFrame(rows)

    # --- protection level ------------------------------------------------------------------------------------
    def protection_tables(self) -> dict[str, pd.DataFrame]:
        """Ranking with Monte Carlo rank bands and dimension scores, the sensitivity indices, the scorecard."""
        return {"dimensions": dimension_table(self), "sobol": sobol_table(self), "scorecard": scorecard_wide(self)}

    def protection_method(self) -> str:
        return "\n\n".join(method_sentences(self))

    # --- demonstration zones -----------------------------------------------------------------------------------
    def zones_table(self) -> pd.DataFrame:
        """Every unit with a zone history: status (year k of n), since, next milestone and its year, and what this
        year's evaluation concluded (acceptance, renewal, monitoring, rectification)."""
        p, st, ev = self.p, self.store.zones_status, self.store.zones_evaluation
        if st is None or not len(st):
            return pd.DataFrame()
        st = st[(st.status != "not_zone") | st.since.notna()]
        verdicts = {} if ev is None else dict(zip(ev.unit, zip(ev.kind, ev.verdict)))
        rows = []
        for s in st.itertuples():
            stage = p.t("zone.stage", k=int(s.stage_year), n=int(s.stage_years)) if not pd.isna(s.stage_year) else ""
            nxt = "" if not isinstance(s.next, str) else \
                (p.t("zone.next.decision_due") if s.next == "decision_due" else p.t(f"zone.status.{s.next}")) + \
                ("" if pd.isna(s.next_year) else f" ({int(s.next_year)})")
            kind, verdict = verdicts.get(s.unit, ("none", None))
            rows.append({p.t("col.unit"): self.unit_name(s.unit),
                         p.t("col.zone_status"): p.t(f"zone.status.{s.status}") + stage,
                         p.t("col.since"): "" if pd.isna(s.since) else str(int(s.since)), p.t("col.next"): nxt,
                         p.t("col.zone_verdict"): "" if kind == "none" or not isinstance(verdict, str) else
                         f"{p.t(f'zone.kind.{kind}')}: {p.t(f'zone.verdict.{verdict}')}"})
        return pd.DataFrame(rows)

    # --- next year's sample ------------------------------------------------------------------------------------
    @property
    def plan(self) -> tuple[pd.DataFrame, dict] | None:
        """Next year's sampling plan kept beside the year's results (the study's ``plan:`` key), or None."""
        if not hasattr(self, "_plan"):
            self._plan = load_plan(self.results, self.year)
        return self._plan

    def _plan_clustered(self) -> bool:
        """Whether the plan's design samples first-stage units (a plan kept before this was recorded: yes)."""
        return bool(self.plan[1].get("clustered", True))

    def plan_table(self) -> pd.DataFrame:
        """Per unit (in the study's order) the interviews, first-stage units (a design with clusters only), expected
        95% half-width of the index, each group's expected interviews and, with costs, the cost; the region last."""
        p, (t, settings) = self.p, self.plan
        listed = list(t.loc[(t.group == "all") & (t.unit != REGION), "unit"])
        groups = [g for g in dict.fromkeys(t.group) if g != "all"]
        with_cost = settings.get("cost") is not None and bool(np.isfinite(t["cost"].to_numpy(float)).any())
        rows = []
        for u in [*self._order(listed), REGION]:
            r = t[(t.unit == u) & (t.group == "all")].iloc[0]
            row = {p.t("col.unit"): self.unit_name(u), p.t("plan.col.n"): f"{int(r.n):,}"}
            if self._plan_clustered():
                row[p.t("plan.col.first_stage")] = f"{int(r.first_stage_units):,}"
            row[p.t("plan.col.half_width")] = f"±{r.half_width:.2f}"
            for g in groups:
                x = t[(t.group == g) & ((t.unit == u) | (u == REGION))]
                row[p.t("plan.col.group_n", group=self.group_label(g))] = f"{int(x.n.sum()):,}" if len(x) else "–"
            if with_cost:
                row[p.t("plan.col.cost")] = f"{r.cost:,.0f}"
            rows.append(row)
        return pd.DataFrame(rows)

    def plan_lead(self) -> str:
        """The sentence (Markdown) above the plan's table: the target, allocation, valid rate and totals; the
        first-stage units and the intra-cluster correlation only for a design with clusters."""
        p, settings = self.p, self.plan[1]
        how = p.t(f"plan.allocation.{settings['allocation']}", q=f"{settings['power_q']:g}")
        values = dict(allocation=how, rate=f"{100 * settings['valid_rate']:.0f}%", n=f"{settings['interviews']:,}",
                      k=f"{settings['first_stage_units']:,}", region_hw=f"{settings['region_half_width']:.2f}",
                      worst=f"{settings['max_unit_half_width']:.2f}")
        single = "" if self._plan_clustered() else ".single"
        if settings.get("half_width") is not None:
            text = p.md(f"plan.lead{single}", half_width=f"{settings['half_width']:g}", **values)
        else:
            text = p.md(f"plan.lead.budget{single}", budget=f"{settings['budget']:,.0f}", **values)
        return text + " " + p.md(f"plan.method{single}")
