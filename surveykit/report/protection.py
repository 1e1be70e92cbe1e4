"""The protection-level sections of the reports: tables (plain text) and sentences (Markdown, user strings escaped).

Every function takes a report view (:class:`surveykit.report.base.StoreView`: the store, the study's words, the
language) and reads the protection tables of the year; nothing new is computed.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from ..protection.registry import AGGREGATE, NORMALISE, WEIGHTS
from ..protection.scorecard import STATUS_TEXT
from ..protection.uncertainty import FACTOR_LABELS
from .i18n import fmt
from .safe import escape

STEP_LABELS = {"denominate": ("分母折算", "Denomination"), "impute": ("缺失值插补", "Imputation"),
               "treat": ("异常值处理", "Outlier treatment"), "normalise": ("标准化", "Normalisation"),
               "weight": ("赋权", "Weighting"), "aggregate": ("汇总", "Aggregation")}
#: Chinese measure words of the framework's units, in English (a unit written ``件/万户`` reads "cases per 10k
#: entities"); a unit not made of these words is shown as written.
UNIT_EN = {"件": "cases", "%": "%", "天": "days", "万元": "10k yuan", "元": "yuan", "个": "units", "家": "firms",
           "户": "entities", "万户": "10k entities", "分": "points", "次": "times", "人": "persons", "人次": "person-times",
           "项": "items", "年": "years", "月": "months", "小时": "hours"}


#: After "per", the singular (10k yuan per case).
PER_EN = {"件": "case", "个": "unit", "家": "firm", "户": "entity", "人": "person", "人次": "person-time", "项": "item",
          "年": "year", "月": "month", "天": "day", "小时": "hour", "次": "time"}


def _t(view, zh: str, en: str) -> str:
    return en if view.lang == "en" else zh


def measure_unit(unit: str | None, lang: str) -> str:
    """A unit of measure in the report's language (``件/万户`` -> ``cases per 10k entities``)."""
    if not unit or lang != "en":
        return unit or ""
    parts = unit.split("/")
    if not all(p in UNIT_EN for p in parts):
        return unit
    return " per ".join([UNIT_EN[parts[0]], *(PER_EN.get(p, UNIT_EN[p]) for p in parts[1:])])


def _note(note: str, view) -> str:
    """The pipeline's change notes in the report's language."""
    if view.lang == "en":
        return note
    m = re.fullmatch(r"previous year \((\d{4})\)", note)
    if m:
        return f"取{m.group(1)}年值"
    whole = view.p.words["kinds"]
    return {"mean of the year": f"取当年各{whole}均值", "mean of the year (no previous-year value)":
            f"无上年值，取当年各{whole}均值", "left missing (weights renormalised)": "保留缺失，权重在其余指标间重新归一",
            "winsorised": "缩尾", "log": "对数变换"}.get(note, note)


def dimension_table(view) -> pd.DataFrame:
    """One row per unit, best first: index score, rank, the Monte Carlo rank band, each dimension's score."""
    tables, fw = view.protection, view.framework()
    s = tables["scores"]
    wide = s[s.level != "indicator"].pivot(index="unit", columns="node", values="score")
    rank = s[s.node == "index"].set_index("unit")["rank"]
    out = pd.DataFrame({view.p.t("col.unit"): [view.unit_name(u) for u in wide.index],
                        _t(view, "综合指数", "Index"): wide["index"].round(2).to_numpy(),
                        _t(view, "排名", "Rank"): rank.reindex(wide.index).astype(int).to_numpy()})
    r = tables.get("ranks")
    if r is not None and len(r):
        rr = r.set_index("unit").reindex(wide.index)
        out[_t(view, "排名区间（5%–95%）", "Rank band (5-95%)")] = [f"{a}–{b}" for a, b in zip(rr.rank_p05, rr.rank_p95)]
        out[_t(view, "排名中位数", "Median rank")] = rr.median_rank.to_numpy()
    for d in fw.dimensions:
        out[d.label.get(view.lang)] = wide[d.id].round(2).to_numpy()
    return out.sort_values(_t(view, "排名", "Rank"), kind="stable").reset_index(drop=True)


def indicator_table(view, unit: str) -> pd.DataFrame:
    """One unit's indicators: dimension, indicator, unit of measure, value, score, rank, the region's median."""
    tables, fw, L = view.protection, view.framework(), view.lang
    ind = tables["scores"][tables["scores"].level == "indicator"]
    med = ind.groupby("node").value.median()
    me = ind[ind.unit == unit].set_index("node")
    rows = []
    for d in fw.dimensions:
        for i in d.indicators:
            r = me.loc[i.id]
            rows.append({_t(view, "维度", "Dimension"): d.label.get(L), _t(view, "指标", "Indicator"): i.label.get(L),
                         _t(view, "计量单位", "Unit of measure"): measure_unit(i.unit, L),
                         _t(view, "数值", "Value"): r.value,
                         _t(view, f"{view.p.words['whole']}中位数", f"Median of {view.p.words['whole']}"): med.get(i.id),
                         _t(view, "得分", "Score"): round(float(r.score), 2), _t(view, "排名", "Rank"): r["rank"],
                         _t(view, "方向", "Direction"): _t(view, "正向", "higher is better") if i.direction == 1
                         else _t(view, "逆向", "lower is better")})
    return pd.DataFrame(rows)


def sobol_table(view) -> pd.DataFrame:
    """Sensitivity indices per factor, largest total effect first."""
    s = view.protection.get("sobol")
    if s is None or not len(s):
        return pd.DataFrame()
    k = view.lang == "en"
    return pd.DataFrame({_t(view, "不确定性来源", "Assumption"): [FACTOR_LABELS[f][k] for f in s.factor],
                         _t(view, "一阶指数 S1", "First-order S1"): s.S1.round(3).to_numpy(),
                         _t(view, "总效应指数 ST", "Total ST"): s.ST.round(3).to_numpy(),
                         _t(view, "ST 95% 区间半宽", "ST 95% half-width"): s.ST_conf.round(3).to_numpy()})


def scorecard_table(view, unit: str | None = None) -> pd.DataFrame:
    """The scorecard (one unit, or every unit): target, threshold, evidence (with CI), status."""
    c = view.protection["scorecard"]
    if unit is not None:
        c = c[c.unit == unit]
    avg = _t(view, f"（{view.p.words['whole']}平均）", f" (average of {view.p.words['whole']})")

    def ev(r):
        if not np.isfinite(r.evidence):
            return "—"
        if np.isfinite(r.ci_low) and np.isfinite(r.ci_high):
            return _t(view, f"{r.evidence:.2f}（{r.ci_low:.2f}–{r.ci_high:.2f}）",
                      f"{r.evidence:.2f} ({r.ci_low:.2f}-{r.ci_high:.2f})")
        return f"{r.evidence:.2f}"

    def thr(r):
        if not np.isfinite(r.threshold):
            return "—"
        return f"{r.op} {r.threshold:.2f}" + (avg if str(r.threshold_basis).startswith("city_average") else "")

    out = pd.DataFrame({view.p.t("col.unit"): [view.unit_name(u) for u in c.unit],
                        "target": c.target.to_numpy(),
                        _t(view, "验收指标", "Target"): (c.label_en if view.lang == "en" else c.label_zh).to_numpy(),
                        _t(view, "阈值", "Threshold"): [thr(r) for r in c.itertuples()],
                        _t(view, "证据（95%置信区间）", "Evidence (95% CI)"): [ev(r) for r in c.itertuples()],
                        _t(view, "结论", "Status"): [STATUS_TEXT[s][view.lang == "en"] for s in c.status]})
    if unit is not None:
        out = out.drop(columns=[view.p.t("col.unit")])
    return out.drop(columns=["target"]).reset_index(drop=True) if unit is not None else out.reset_index(drop=True)


def scorecard_wide(view) -> pd.DataFrame:
    """Units x targets, the status in each cell (keyed by target ids, so two targets may share a label)."""
    card = scorecard_table(view)
    unit_col, label_col, status_col = view.p.t("col.unit"), _t(view, "验收指标", "Target"), _t(view, "结论", "Status")
    wide = card.pivot(index=unit_col, columns="target", values=status_col)
    targets = list(dict.fromkeys(card["target"]))
    labels = card.drop_duplicates("target").set_index("target")[label_col]
    wide = wide.reindex(index=list(dict.fromkeys(card[unit_col])), columns=targets)
    wide.columns = [labels[t] if list(labels).count(labels[t]) == 1 else f"{labels[t]} ({t})" for t in targets]
    return wide.reset_index()


def method_sentences(view) -> list[str]:
    """What was done, one Markdown sentence per step (for the methodology section)."""
    tables, fw, L = view.protection, view.framework(), view.lang
    st = tables["steps"].set_index("step")
    ch = tables.get("changes", pd.DataFrame(columns=["step", "unit", "node", "note"]))
    n_u, kinds = tables["scores"].unit.nunique(), view.p.words["kinds"]
    lab = lambda i: escape(fw.label(i, L))  # noqa: E731
    out = [_t(view, f"保护水平指数按《构建综合指标手册》（JRC/OECD，2008）的步骤计算，覆盖 {n_u} 个{escape(kinds)}、"
                    f"{len(fw.dimensions)} 个维度、{len(fw.indicators)} 项指标，每一步均有记录。",
              f"The protection-level index follows the steps of the JRC/OECD Handbook on Constructing Composite "
              f"Indicators (2008) for {n_u} {escape(kinds)}, {len(fw.dimensions)} dimensions and "
              f"{len(fw.indicators)} indicators; every step is recorded.")]
    den = [i for i in fw.indicators if i.denominator]
    if den:
        out.append(_t(view, "按分母折算的指标：" + "、".join(lab(i.id) for i in den) + "。",
                      "Indicators divided by a denominator: " + ", ".join(lab(i.id) for i in den) + "."))
    imp = ch[ch.step == "impute"]
    if len(imp):
        sep = "；" if L == "zh" else "; "
        items = sep.join(f"{escape(view.unit_name(r.unit))} {lab(r.node)}（{escape(_note(r.note, view))}）" if L == "zh"
                         else f"{escape(view.unit_name(r.unit))} {lab(r.node)} ({escape(_note(r.note, view))})"
                         for r in imp.itertuples())
        out.append(_t(view, f"缺失值 {len(imp)} 个，已插补：{items}。", f"{len(imp)} missing value(s) imputed: {items}."))
    else:
        out.append(_t(view, "无缺失值。", "No value was missing."))
    out += _treatment_sentence(view, st, ch, lab)
    m, w = st.loc["normalise", "method"], st.loc["weight", "method"]
    a = json.loads(st.loc["aggregate", "parameters"])["index"]
    say = lambda reg, name: escape(reg[name].label[L == "en"] if name in reg else name)  # noqa: E731
    out.append(_t(view, f"标准化：{say(NORMALISE, m)}；逆向指标取反向。",
                  f"Normalisation: {say(NORMALISE, m)}; lower-is-better indicators reversed."))
    out.append(_t(view, f"赋权：{say(WEIGHTS, w)}；汇总：{say(AGGREGATE, a)}。",
                  f"Weights: {say(WEIGHTS, w)}; aggregation: {say(AGGREGATE, a)}."))
    return out


def _treatment_sentence(view, st, ch, lab) -> list[str]:
    tr = ch[ch.step == "treat"]
    if not len(tr):
        return []
    p = json.loads(st.loc["treat", "parameters"]) if "treat" in st.index else {}
    fw = view.framework()
    nodes = sorted(set(tr.node), key=list(fw.indicator_ids).index)
    return [_t(view, f"异常值处理（偏度绝对值≥{p.get('skew', 2):g} 且峰度≥{p.get('kurt', 3.5):g} 时缩尾，至多 "
                     f"{p.get('winmax', 5)} 个点）：" + "、".join(f"{lab(n)}（{(tr.node == n).sum()} 个值）" for n in nodes)
               + "。",
               f"Outliers (|skew| >= {p.get('skew', 2):g} and kurtosis >= {p.get('kurt', 3.5):g}; at most "
               f"{p.get('winmax', 5)} points winsorised): "
               + ", ".join(f"{lab(n)} ({(tr.node == n).sum()} value(s))" for n in nodes) + ".")]


def unit_sentences(view, unit: str) -> list[str]:
    """The headline sentences (Markdown) about one unit: score, rank and its band, best and worst dimension, what
    drives the ranking, and the scorecard."""
    tables, fw = view.protection, view.framework()
    s = tables["scores"]
    me = s[s.unit == unit]
    name = escape(view.unit_name(unit))
    if me.empty:
        return [_t(view, f"{name}没有保护水平数据。", f"No protection-level data for {name}.")]
    year, n, kinds = int(me.year.iloc[0]), s.unit.nunique(), escape(view.p.words["kinds"])
    idx = me[me.node == "index"].iloc[0]
    band = _rank_band(view, tables.get("ranks"), unit)
    out = [_t(view, f"{year}年，{name}知识产权保护水平指数为 {idx.score:.2f} 分，在 {n} 个{kinds}中排第 {int(idx['rank'])} 位{band}。",
              f"In {year}, {name} scores {idx.score:.2f} on the protection-level index, rank {int(idx['rank'])} of "
              f"{n} {kinds}{band}.")]
    dims = me[me.level == "dimension"].sort_values("score")
    lo, hi = dims.iloc[0], dims.iloc[-1]
    out.append(_t(view, f"得分最高的维度是“{escape(fw.label(hi.node, 'zh'))}”（{hi.score:.1f} 分，第 {int(hi['rank'])} 位），"
                        f"最低的是“{escape(fw.label(lo.node, 'zh'))}”（{lo.score:.1f} 分，第 {int(lo['rank'])} 位）。",
                  f"Its strongest dimension is {escape(fw.label(hi.node, 'en'))} ({hi.score:.1f}, rank "
                  f"{int(hi['rank'])}), its weakest {escape(fw.label(lo.node, 'en'))} ({lo.score:.1f}, rank "
                  f"{int(lo['rank'])})."))
    sob = tables.get("sobol")
    if sob is not None and len(sob) and sob.ST.notna().any():
        top = sob.sort_values("ST", ascending=False).iloc[0]
        out.append(_t(view, f"敏感性分析（Sobol 指数）表明，对排名影响最大的假设是{FACTOR_LABELS[top.factor][0]}"
                            f"（总效应指数 {top.ST:.2f}）。",
                      f"The Sobol sensitivity analysis shows the ranking depends most on the "
                      f"{FACTOR_LABELS[top.factor][1]} (total index {top.ST:.2f})."))
    return out + _scorecard_sentences(view, tables.get("scorecard"), unit)


def _rank_band(view, r, unit) -> str:
    if r is None or not len(r) or unit not in set(r.unit):
        return ""
    rr = r[r.unit == unit].iloc[0]
    return _t(view, f"；综合考虑权重、标准化、汇总和插补方法的不确定性，排名的 90% 区间为第 {rr.rank_p05}–{rr.rank_p95} 位"
                    f"（中位数第 {rr.median_rank} 位）",
              f"; allowing for the uncertainty of weights, normalisation, aggregation and imputation, its rank lies "
              f"between {rr.rank_p05} and {rr.rank_p95} in 90% of the simulations (median {rr.median_rank})")


def _scorecard_sentences(view, card, unit) -> list[str]:
    if card is None or not len(card) or unit not in set(card.unit):
        return []
    c = card[card.unit == unit]
    k = c.status.value_counts()
    out = [_t(view, f"示范区验收 {len(c)} 项指标中，达标 {k.get('pass', 0)} 项、未达标 {k.get('fail', 0)} 项、"
                    f"置信区间跨越阈值而不确定 {k.get('not_decisive', 0)} 项、数据不足 {k.get('insufficient_data', 0)} 项。",
              f"Of the {len(c)} acceptance targets, {k.get('pass', 0)} pass, {k.get('fail', 0)} fail, "
              f"{k.get('not_decisive', 0)} are not decisive (the CI straddles the threshold) and "
              f"{k.get('insufficient_data', 0)} lack data.")]
    bad = c[c.status == "fail"]
    if len(bad):
        labels = [escape(x) for x in (bad.label_zh if view.lang == "zh" else bad.label_en)]
        out.append(_t(view, "未达标：" + "；".join(labels) + "。", "Not met: " + "; ".join(labels) + "."))
    return out


__all__ = ["dimension_table", "indicator_table", "method_sentences", "scorecard_table", "scorecard_wide",
           "sobol_table", "unit_sentences", "measure_unit", "fmt"]
