"""What the city overview shows, read from the results store(s): tables, sentences and chart data.

Like :mod:`surveykit.report.district`, nothing here computes a statistic; it selects and formats the stored
estimates of every unit (all groups) for the comparison the bureau makes across units and years.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..results import YearResults, load_results
from ..spec.questionnaire import Questionnaire, load_questionnaire
from ..units import UNITS, find_unit
from .i18n import fmt, t
from .suppression import previous_store, reportable


class CityReport:
    """The city overview for one year (and the earlier years found in the results store)."""

    def __init__(self, results: str | Path, year: int, lang: str = "zh"):
        self.results = Path(results)
        self.year = int(year)
        self.lang = lang
        # the analysis tables without the rows the reports suppress (surveykit.report.suppression)
        self.store: YearResults = reportable(load_results(self.results, self.year),
                                             previous_store(self.results, self.year))
        man = self.store.manifest
        self.q: Questionnaire = load_questionnaire(man["inputs"]["questionnaire"]["path"])
        self.col = man["unit_column"]
        self.years = sorted(int(p.name) for p in self.results.iterdir()
                            if p.name.isdigit() and (p / "manifest.json").exists() and int(p.name) <= self.year)

    def _unit_name(self, zh: str) -> str:
        u = find_unit(zh)
        return u.name(self.lang) if u else zh

    def title(self) -> str:
        return t("city.title", self.lang, year=self.year)

    def subtitle(self) -> str:
        return t("report.subtitle", self.lang, version=__version__)

    def headline(self) -> str:
        c = self.store.scores_city
        r = c[(c.group == "all") & (c.node == "index")].iloc[0]
        band = self.q.band(r.estimate)
        su = self.store.scores_unit
        idx = su[(su.group == "all") & (su.node == "index") & ~su.suppressed]
        return t("city.headline", self.lang, year=self.year, score=fmt(r.estimate), low=fmt(r.ci_low),
                 high=fmt(r.ci_high), band=band.label.get(self.lang) if band else "", n_units=len(idx),
                 lo=fmt(idx.estimate.min()), hi=fmt(idx.estimate.max()))

    def heatmap_data(self) -> pd.DataFrame:
        """Units x (index + first-level indicators), all groups; suppressed cells are NaN (drawn blank)."""
        su = self.store.scores_unit
        nodes = ["index"] + [n.id for n in self.q.indicators]
        s = su[(su.group == "all") & su.node.isin(nodes)].copy()
        s.loc[s.suppressed, "estimate"] = np.nan
        wide = s.pivot(index=self.col, columns="node", values="estimate")[nodes]
        order = [u.zh for u in UNITS if u.zh in wide.index]
        wide = wide.loc[order]
        wide.index = [self._unit_name(x) for x in wide.index]
        wide.columns = [t("col.index", self.lang) if n == "index" else self.q.label(n, self.lang) for n in nodes]
        return wide

    def rank_table(self) -> pd.DataFrame:
        """Every unit's index and first-level ranks, each with its 90% interval (ranks are never shown bare)."""
        L = self.lang
        rk = self.store.ranks
        rk = rk[rk.group == "all"]
        nodes = ["index"] + [n.id for n in self.q.indicators]
        idx = rk[rk.node == "index"].sort_values(["rank", "estimate"], ascending=[True, False])
        rows = []
        for u in idx[self.col]:
            row = {t("col.unit", L): self._unit_name(u)}
            for n in nodes:
                r = rk[(rk[self.col] == u) & (rk.node == n)]
                label = t("col.index", L) if n == "index" else self.q.label(n, L)
                if len(r) and np.isfinite(r["rank"].iloc[0]):
                    row[label] = (f"{fmt(r.estimate.iloc[0])}（{int(r['rank'].iloc[0])}: "
                                  f"{int(r.rank_low.iloc[0])}–{int(r.rank_high.iloc[0])}）")
                else:
                    row[label] = "–"
            rows.append(row)
        return pd.DataFrame(rows)

    def trend_table(self) -> pd.DataFrame:
        """The index of every unit in each year of the store, and the change over the last year."""
        L = self.lang
        frames = []
        for y in self.years:
            su = load_results(self.results, y).scores_unit if y != self.year else self.store.scores_unit
            s = su[(su.group == "all") & (su.node == "index")].set_index(self.col)
            frames.append(s["estimate"].where(~s["suppressed"]).rename(str(y)))
        wide = pd.concat(frames, axis=1)
        order = [u.zh for u in UNITS if u.zh in wide.index]
        wide = wide.loc[order]
        out = pd.DataFrame({t("col.unit", L): [self._unit_name(x) for x in wide.index]})
        for y in wide.columns:
            out[y] = [fmt(v) for v in wide[y]]
        ch = self.store.year_change
        if ch is not None and len(self.years) > 1:
            c = ch[(ch.group == "all") & (ch.node == "index")].set_index(self.col)
            out[t("col.change", L)] = [("–" if u not in c.index or np.isnan(c.loc[u, "change"])
                                        else f"{c.loc[u, 'change']:+.2f}") for u in wide.index]
            out[t("col.verdict", L)] = [t(f"verdict.{c.loc[u, 'verdict']}", L) if u in c.index else ""
                                        for u in wide.index]
        return out

    def trend_chart_data(self) -> pd.DataFrame:
        rows = []
        for y in self.years:
            su = load_results(self.results, y).scores_unit if y != self.year else self.store.scores_unit
            s = su[(su.group == "all") & (su.node == "index") & ~su.suppressed]
            rows += [{"unit": self._unit_name(u), "year": y, "estimate": e} for u, e in zip(s[self.col], s.estimate)]
        return pd.DataFrame(rows)

    def group_table(self) -> pd.DataFrame:
        """City-level index and first-level scores per respondent group."""
        L = self.lang
        c = self.store.scores_city
        nodes = ["index"] + [n.id for n in self.q.indicators]
        rows = []
        for g in (*self.q.group_ids, "all"):
            row = {t("col.group", L): t("all_groups", L) if g == "all" else self.q.group_label(g, L)}
            for n in nodes:
                r = c[(c.group == g) & (c.node == n)]
                label = t("col.index", L) if n == "index" else self.q.label(n, L)
                row[label] = fmt(r.estimate.iloc[0]) if len(r) and not r.suppressed.iloc[0] else ""
            r = c[(c.group == g) & (c.node == "index")]
            row[t("col.n", L)] = int(r.n.iloc[0]) if len(r) else 0
            rows.append(row)
        return pd.DataFrame(rows)

    # --- protection level ------------------------------------------------------------------------------------
    @property
    def protection(self) -> dict | None:
        from ..protection.demo import load_protection

        return load_protection(self.results, self.year)

    def _framework(self):
        from ..protection.demo import DEFAULT_FRAMEWORK
        from ..protection.framework import load_framework

        path = (self.protection or {}).get("manifest", {}).get("framework", {}).get("path") or DEFAULT_FRAMEWORK
        return load_framework(path)

    def protection_tables(self) -> dict[str, pd.DataFrame]:
        """Ranking with Monte Carlo rank bands and dimension scores, the sensitivity indices, the scorecard."""
        from ..protection.report import dimension_table, sobol_table

        p = self.protection
        return {"dimensions": dimension_table(p, self._framework(), self.lang),
                "sobol": sobol_table(p, self.lang), "scorecard": scorecard_matrix(p, self.lang)}

    def protection_method(self) -> str:
        from ..protection.report import method_sentences

        return "\n\n".join(method_sentences(self.protection, self._framework(), self.lang))


def scorecard_matrix(tables: dict, lang: str = "zh") -> pd.DataFrame:
    """Units x targets: the status of every target for every unit (``tables["scorecard"]``, the store's), keyed on
    unit and target ids -- two targets may share a label -- and then named by unit names and target labels."""
    from ..protection.report import scorecard_table

    card = scorecard_table(tables, None, lang)  # one row per row of tables["scorecard"], in its order
    unit_col, target_col, verdict_col = card.columns[0], card.columns[1], card.columns[-1]
    ids = tables["scorecard"][["unit", "target"]].to_numpy()
    wide = card.assign(_u=ids[:, 0], _t=ids[:, 1]).pivot(index="_u", columns="_t", values=verdict_col)
    units, targets = list(dict.fromkeys(ids[:, 0])), list(dict.fromkeys(ids[:, 1]))
    wide = wide.reindex(index=units, columns=targets)
    unit_name, target_label = dict(zip(ids[:, 0], card[unit_col])), dict(zip(ids[:, 1], card[target_col]))
    wide.index = pd.Index([unit_name[u] for u in units], name=unit_col)
    wide.columns = [target_label[t] for t in targets]
    return wide.reset_index()
