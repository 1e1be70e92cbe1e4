"""Every table of a unit's report and of the overview, row by row (issue 12, item 2), on the store of the fixture
study (tests/fixtures/store, whose numbers test_store_against_r.py checks against R): each cell is derived here
from the store with the rules the reports state -- two decimals, the "too few" mark for suppressed estimates (never
the number), the band of the questionnaire's own thresholds (read from its YAML), the gap to the region, the
verdict words -- including 己区, whose professionals are too few (suppressed cells) and whose 2026 index is missing.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
import yaml

from surveykit.report.city import CityReport
from surveykit.report.district import DistrictReport
from surveykit.report.render import render_reports
from surveykit.results import load_results
from surveykit.spec.study import load_study
from surveykit.workflow import ensure_results

from .conftest import FIXTURES

STORE = FIXTURES / "store"
FILES = ["study.yaml", "questionnaire.yaml", "unit_aliases.yaml", "responses_2025.csv", "responses_2026.csv",
         "margins_2025.csv", "margins_2026.csv"]
VERDICT = {"higher": "高于", "lower": "低于", "no_clear_difference": "无明显差异", "up": "上升", "down": "下降",
           "no_clear_change": "无明显变化", "no_data": "数据不足"}
DOC = yaml.safe_load((STORE / "questionnaire.yaml").read_text(encoding="utf-8"))


def band(x: float) -> str:
    """The band of a score from the questionnaire's YAML (default bands when it has none)."""
    bands = DOC.get("bands") or [{"min": 90, "label": {"zh": "优秀"}}, {"min": 80, "label": {"zh": "良好"}},
                                 {"min": 70, "label": {"zh": "一般"}}, {"min": 60, "label": {"zh": "及格"}},
                                 {"min": 0, "label": {"zh": "不及格"}}]
    return next(b["label"]["zh"] for b in sorted(bands, key=lambda b: -b["min"]) if x >= b["min"])


def label(node: str) -> str:
    if node == "index":
        return "满意度指数"
    def walk(nodes):
        for n in nodes:
            if n["id"] == node:
                return n["label"]["zh"]
            for i in n.get("items", []):
                if i["id"] == node:
                    return i["text"]["zh"]
            found = walk(n.get("children", []))
            if found:
                return found
    return walk(DOC["indicators"])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    base = tmp_path_factory.mktemp("tables")
    for f in FILES:
        shutil.copy(STORE / f, base / f)
    study = load_study(base / "study.yaml")
    ensure_results(study)
    return {"study": study, "base": base, "res": study.results_dir}


@pytest.mark.parametrize("unit", ["jia", "ji"])
def test_first_level_table(store, unit):
    r = DistrictReport(store["res"], 2026, unit, "zh")
    s = load_results(store["res"], 2026)
    mine = s.scores_unit[(s.scores_unit.unit == unit) & (s.scores_unit.group == "all")].set_index("node")
    city = s.scores_city[s.scores_city.group == "all"].set_index("node")
    t = r.indicator_table(1)
    assert t["指标"].tolist() == [n["label"]["zh"] for n in DOC["indicators"]]
    for row, n in zip(t.to_dict("records"), [x["id"] for x in DOC["indicators"]]):
        e, c = mine.loc[n], city.loc[n]
        if e.suppressed:
            assert (row["得分"], row["95%置信区间"], row["等级"], row["与全市差"]) == ("样本不足", "", "", "")
        elif np.isnan(e.estimate):        # not computable (an item without answers in a group): a dash, no band
            assert (row["得分"], row["95%置信区间"], row["等级"], row["与全市差"]) == ("–", "", "", "–")
        else:
            assert row["得分"] == f"{e.estimate:.2f}" and row["95%置信区间"] == f"{e.ci_low:.2f}–{e.ci_high:.2f}"
            assert row["等级"] == band(e.estimate) and row["与全市差"] == f"{e.estimate - c.estimate:+.2f}"
        assert row["全市"] == f"{c.estimate:.2f}" and row["有效样本"] == int(e.n)


def test_group_table_marks_the_suppressed_cells(store):
    r = DistrictReport(store["res"], 2026, "ji", "zh")
    s = load_results(store["res"], 2026).scores_unit
    t = r.group_table().set_index("群体")
    prof = s[(s.unit == "ji") & (s.group == "professional") & (s.node == "index")].iloc[0]
    assert prof.suppressed and prof.n < 30
    assert t.loc["专业人士", "满意度指数"] == "样本不足" and t.loc["专业人士", "有效样本"] == prof.n
    gw = {g["id"]: g["weight"] for g in DOC["groups"]["levels"]}
    assert t.loc["权利人", "群体权重"] == f"{gw['holder'] / sum(gw.values()):.2f}"
    holder = s[(s.unit == "ji") & (s.group == "holder") & (s.node == "law")].iloc[0]
    assert t.loc["权利人", label("law")] == ("样本不足" if holder.suppressed else f"{holder.estimate:.2f}")


def test_comparison_tables(store):
    r = DistrictReport(store["res"], 2026, "jia", "zh")
    s = load_results(store["res"], 2026)
    v = r.versus_rest_table()
    rest = s.compare_rest[s.compare_rest.unit == "jia"]
    assert len(v) == len(rest)
    for row, x in zip(v.to_dict("records"), rest.itertuples()):
        assert row["指标"] == label(x.node) and row["差值"] == f"{x.difference:+.2f}"
        assert row["校正后95%置信区间"] == f"[{x.ci_low_adj:+.2f}, {x.ci_high_adj:+.2f}]"
        assert row["结论"] == VERDICT[x.verdict]
    ch = r.change_table()
    yc = s.year_change[(s.year_change.unit == "jia") & (s.year_change.group == "all")].set_index("node")
    for row in ch.to_dict("records"):
        node = next(n for n in yc.index if label(n) == row["指标"])
        x = yc.loc[node]
        assert row["较上年变化"] == f"{x.change:+.2f}" and row["结论"] == VERDICT[x.verdict]
    # a unit's comparison: each side below min_n (30) in every unit of the fixture -> no rows, and the page says so
    og = s.comparisons[(s.comparisons.unit == "jia") & (s.comparisons.comparison == "ownership")]
    assert len(og) and ((og.n_a < 30) | (og.n_b < 30)).all() and r.comparison_table("ownership").empty
    [c] = r.comparisons()
    assert c["table"].empty and "30" in c["too_few"]
    # the region's: both sides large enough, every row from the store
    city = CityReport(store["res"], 2026, "zh")
    og = s.comparisons[(s.comparisons.unit == "all") & (s.comparisons.comparison == "ownership")]
    assert ((og.n_a >= 30) & (og.n_b >= 30)).all()
    own = city.comparison_table("ownership")
    assert own.columns.tolist()[:3] == ["指标", "外资/合资企业", "内资企业"] and len(own) == len(og) > 0
    for row, x in zip(own.to_dict("records"), og.itertuples()):
        assert row["外资/合资企业"] == f"{x.estimate_a:.2f}" and row["内资企业"] == f"{x.estimate_b:.2f}"
        assert row["差值"] == ("–" if x.gap != x.gap else f"{x.gap:+.2f}") and row["结论"] == VERDICT[x.verdict]
        assert row["校正后95%置信区间"] == f"[{x.ci_low_adj:+.2f}, {x.ci_high_adj:+.2f}]"
        lo, hi = x.ci_low_adj, x.ci_high_adj        # the verdict agrees with the interval printed beside it
        assert x.verdict == ("higher" if lo > 0 else "lower" if hi < 0 else "no_clear_difference")


def test_dont_know_and_weights(store):
    r = DistrictReport(store["res"], 2026, "ji", "zh")
    s = load_results(store["res"], 2026)
    dk = s.dont_know[(s.dont_know.unit == "ji") & (s.dont_know.group == "all")].sort_values("estimate",
                                                                                             ascending=False)
    t = r.dont_know_table(top=5)
    assert t["“不了解、不适用”比例"].tolist() == [f"{100 * x:.1f}%" for x in dk.estimate.head(5)]
    assert t["作答人数"].tolist() == dk.n_asked.head(5).astype(int).tolist()
    en = DistrictReport(store["res"], 2026, "ji", "en").dont_know_table(top=5)     # the questionnaire's label
    assert "Share answering “Don't know / Not applicable”" in en.columns
    w = r.weighting_table()
    assert w["权数"].tolist() == ["设计权数", "校准后权数"]   # the study rakes
    final = s.weights[(s.weights.unit == "ji") & (s.weights.stage == "final")].iloc[0]
    assert w.iloc[1]["变异系数"] == f"{final.cv:.3f}" and w.iloc[1]["有效样本"] == int(final.n)


def test_the_missing_index_is_said_not_shown(store):
    r = DistrictReport(store["res"], 2026, "ji", "zh")
    s = load_results(store["res"], 2026).scores_unit
    idx = s[(s.unit == "ji") & (s.group == "all") & (s.node == "index")].iloc[0]
    assert np.isnan(idx.estimate) and not idx.suppressed      # 80 respondents, but q08 unanswered by professionals
    assert r.headline() == "己区2026年满意度指数无法计算：至少一个题目在某一受访者群体中无人作答（各项得分见下文）。"


def test_overview_tables(store):
    c = CityReport(store["res"], 2026, "zh")
    s = load_results(store["res"], 2026)
    h = c.heatmap_data()
    assert h.index.tolist() == ["甲区", "乙区", "丙区", "丁区", "戊区", "己区"]            # the study's order
    assert np.isnan(h.loc["己区", "满意度指数"])                                          # suppressed: blank
    jia = s.scores_unit[(s.scores_unit.unit == "jia") & (s.scores_unit.group == "all")].set_index("node")
    assert h.loc["甲区", "满意度指数"] == jia.loc["index", "estimate"]
    trend = c.trend_table().set_index("区" if "区" in c.trend_table().columns else "单位")
    assert trend.loc["甲区", "2026年"] == f"{jia.loc['index', 'estimate']:.2f}" and trend.loc["己区", "2026年"] == "–"
    rank = c.rank_table()
    rk = s.ranks[(s.ranks.node == "index") & (s.ranks.group == "all")].dropna(subset=["rank"]).sort_values("rank")
    assert rank.iloc[0, 0] == {u["id"]: u["zh"] for u in s.setting["units"]}[rk.unit.iloc[0]]
    g = c.group_table().set_index("群体")
    city = s.scores_city[(s.scores_city.node == "index")].set_index("group")
    assert g.loc["权利人", "满意度指数"] == f"{city.loc['holder', 'estimate']:.2f}"


def test_the_page_shows_the_mark_not_the_number(store):
    out = render_reports(store["study"], year=2026, districts="ji", lang="zh", out=store["base"] / "out", jobs=1)
    assert out.ok, out.text()
    html = (store["base"] / "out" / "2026" / "ji.html").read_text(encoding="utf-8")
    s = load_results(store["res"], 2026).scores_unit
    prof = s[(s.unit == "ji") & (s.group == "professional") & (s.node.isin(["law", "outcome"]))]
    row = re.search(r"<tr><td[^>]*>专业人士</td>.*?</tr>", html).group(0)
    assert "样本不足" in row
    for x in prof.estimate.dropna():
        assert f">{x:.2f}<" not in row
    assert "样本不足" in html and "注：有效样本少于 30 人" in html


def test_a_statistic_that_could_not_be_computed_is_a_dash_not_nan(store):
    """McDonald's omega (or a CFA index) that the fit could not give is shown as "–", never "nan"."""
    import dataclasses

    r = DistrictReport(store["res"], 2026, "ji", "en")
    rel = r.store.reliability.copy()
    rel.loc[rel.index[0], "omega"] = np.nan
    cfa = r.store.cfa.copy()
    cfa.loc[cfa.index[0], "rmsea"] = np.nan
    r.store = dataclasses.replace(r.store, reliability=rel, cfa=cfa)
    t = r.reliability_table()
    assert t.iloc[0]["McDonald's omega"] == "–" and "nan" not in t.to_string()
    assert "RMSEA –" in r.reliability_text() and "nan" not in r.reliability_text()
