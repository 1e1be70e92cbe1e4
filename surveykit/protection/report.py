"""Report-ready tables and sentences (zh/en) for the protection-level section of a report.

The functions take the tidy tables :func:`.demo.compute_protection` returns (or reads back with
:func:`.demo.load_protection`) and return display tables with translated headers, and plain sentences. They
compute nothing new: every number comes from the tables. Use them from a notebook::

    from surveykit.protection.demo import load_protection
    from surveykit.protection import report as pr
    t = load_protection("data/demo/results", 2026)
    pr.dimension_table(t, fw, lang="zh"); pr.unit_sentences(t, fw, "黄浦区", lang="zh")
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..units import find_unit
from .framework import Framework
from .scorecard import STATUS_TEXT
from .uncertainty import FACTOR_LABELS

STEP_LABELS = {"denominate": ("分母折算", "Denomination"), "impute": ("缺失值插补", "Imputation"),
               "treat": ("异常值处理", "Outlier treatment"), "normalise": ("标准化", "Normalisation"),
               "weight": ("赋权", "Weighting"), "aggregate": ("汇总", "Aggregation")}
METHOD_ZH = {"minmax": "极差标准化（0–100，设有目标区间的指标按区间截断）", "goalposts": "目标区间标准化",
             "zscore": "Z 分数标准化（50 + 10z）", "rank": "排序标准化", "distance": "目标距离标准化",
             "expert": "专家权重", "equal": "等权重", "ahp": "层次分析法（AHP）权重", "entropy": "熵权法权重",
             "arithmetic": "加权算术平均", "geometric": "加权几何平均"}
METHOD_EN = {"minmax": "min-max scaling to 0-100 (goalposts, with clipping, where set)", "goalposts": "goalposts",
             "zscore": "z-scores (50 + 10z)", "rank": "scaled ranks", "distance": "distance to target",
             "expert": "expert weights", "equal": "equal weights", "ahp": "AHP weights", "entropy": "entropy weights",
             "arithmetic": "weighted arithmetic mean", "geometric": "weighted geometric mean"}


def _t(zh: str, en: str, lang: str) -> str:
    return en if lang == "en" else zh


def _note_zh(note: str) -> str:
    """The pipeline's change notes in Chinese."""
    import re

    m = re.fullmatch(r"previous year \((\d{4})\)", note)
    if m:
        return f"取{m.group(1)}年值"
    return {"mean of the year": "取当年各区均值", "mean of the year (no previous-year value)": "无上年值，取当年各区均值",
            "left missing (weights renormalised)": "保留缺失，权重在其余指标间重新归一", "winsorised": "缩尾",
            "log": "对数变换"}.get(note, note)


def _unit_name(u: str, lang: str) -> str:
    x = find_unit(u)
    return x.name(lang) if x else u


def dimension_table(tables: dict, framework: Framework, lang: str = "zh") -> pd.DataFrame:
    """One row per unit, best first: index score, rank, the Monte Carlo rank band, each dimension's score."""
    s = tables["scores"]
    wide = s[s.level != "indicator"].pivot(index="unit", columns="node", values="score")
    rank = s[s.node == "index"].set_index("unit")["rank"]
    out = pd.DataFrame({_t("单位", "Unit", lang): [_unit_name(u, lang) for u in wide.index],
                        _t("综合指数", "Index", lang): wide["index"].round(2).to_numpy(),
                        _t("排名", "Rank", lang): rank.reindex(wide.index).astype(int).to_numpy()})
    r = tables.get("ranks")
    if r is not None and len(r):
        rr = r.set_index("unit").reindex(wide.index)
        out[_t("排名区间（5%–95%）", "Rank band (5-95%)", lang)] = [f"{a}–{b}" for a, b in zip(rr.rank_p05, rr.rank_p95)]
        out[_t("排名中位数", "Median rank", lang)] = rr.median_rank.to_numpy()
    for d in framework.dimensions:
        out[d.label.get(lang)] = wide[d.id].round(2).to_numpy()
    return out.sort_values(_t("排名", "Rank", lang), kind="stable").reset_index(drop=True)


def indicator_table(tables: dict, framework: Framework, unit: str, lang: str = "zh") -> pd.DataFrame:
    """One unit's indicators: dimension, indicator, unit of measure, value, score, rank, city median value."""
    s = tables["scores"]
    ind = s[s.level == "indicator"]
    med = ind.groupby("node").value.median()
    me = ind[ind.unit == unit].set_index("node")
    rows = []
    for d in framework.dimensions:
        for i in d.indicators:
            r = me.loc[i.id]
            rows.append({_t("维度", "Dimension", lang): d.label.get(lang), _t("指标", "Indicator", lang): i.label.get(lang),
                         _t("单位", "Unit", lang): i.unit, _t("数值", "Value", lang): r.value,
                         _t("全市中位数", "City median", lang): med.get(i.id),
                         _t("得分", "Score", lang): round(float(r.score), 2), _t("排名", "Rank", lang): r["rank"],
                         _t("方向", "Direction", lang): _t("正向", "higher is better", lang) if i.direction == 1
                         else _t("逆向", "lower is better", lang)})
    return pd.DataFrame(rows)


def steps_table(tables: dict, lang: str = "zh") -> pd.DataFrame:
    """The recorded steps: step, method, what changed, how many values."""
    st = tables["steps"]
    return pd.DataFrame({_t("步骤", "Step", lang): [STEP_LABELS.get(x, (x, x))[lang == "en"] for x in st.step],
                         _t("方法", "Method", lang): st.method.to_numpy(),
                         _t("处理情况", "What changed", lang): st.changed.to_numpy(),
                         _t("涉及数值", "Values", lang): st.n_changed.to_numpy()})


def sobol_table(tables: dict, lang: str = "zh") -> pd.DataFrame:
    """Sensitivity indices per factor, largest total effect first."""
    s = tables.get("sobol")
    if s is None or not len(s):
        return pd.DataFrame()
    return pd.DataFrame({_t("不确定性来源", "Assumption", lang): [FACTOR_LABELS[f][lang == "en"] for f in s.factor],
                         _t("一阶指数 S1", "First-order S1", lang): s.S1.round(3).to_numpy(),
                         _t("总效应指数 ST", "Total ST", lang): s.ST.round(3).to_numpy(),
                         _t("ST 95% 区间半宽", "ST 95% half-width", lang): s.ST_conf.round(3).to_numpy()})


def scorecard_table(tables: dict, unit: str | None = None, lang: str = "zh") -> pd.DataFrame:
    """The scorecard (one unit, or every unit): target, threshold, evidence (with CI), status."""
    c = tables["scorecard"]
    if unit is not None:
        c = c[c.unit == unit]

    def ev(r):
        if not np.isfinite(r.evidence):
            return "—"
        if np.isfinite(r.ci_low) and np.isfinite(r.ci_high):
            return f"{r.evidence:.2f}（{r.ci_low:.2f}–{r.ci_high:.2f}）" if lang == "zh" else \
                f"{r.evidence:.2f} ({r.ci_low:.2f}-{r.ci_high:.2f})"
        return f"{r.evidence:.2f}"

    def thr(r):
        if not np.isfinite(r.threshold):
            return "—"
        base = f"{r.op} {r.threshold:.2f}"
        if str(r.threshold_basis).startswith("city_average"):
            base += _t("（全市平均）", " (city average)", lang)
        return base

    out = pd.DataFrame({_t("单位", "Unit", lang): [_unit_name(u, lang) for u in c.unit],
                        _t("验收指标", "Target", lang): (c.label_en if lang == "en" else c.label_zh).to_numpy(),
                        _t("阈值", "Threshold", lang): [thr(r) for r in c.itertuples()],
                        _t("证据（95%置信区间）", "Evidence (95% CI)", lang): [ev(r) for r in c.itertuples()],
                        _t("结论", "Status", lang): [STATUS_TEXT[s][lang == "en"] for s in c.status]})
    if unit is not None:
        out = out.drop(columns=[_t("单位", "Unit", lang)])
    return out.reset_index(drop=True)


def method_sentences(tables: dict, framework: Framework, lang: str = "zh") -> list[str]:
    """What was done, one sentence per step (for the methodology section)."""
    st = tables["steps"].set_index("step")
    ch = tables.get("changes", pd.DataFrame(columns=["step", "unit", "node", "note"]))
    out = []
    n_u = tables["scores"].unit.nunique()
    lab = lambda i: framework.label(i, lang)  # noqa: E731
    out.append(_t(f"保护水平指数按《构建综合指标手册》（JRC/OECD，2008）的步骤计算，覆盖 {n_u} 个区、"
                  f"{len(framework.dimensions)} 个维度、{len(framework.indicators)} 项指标，每一步均有记录。",
                  f"The protection-level index follows the steps of the JRC/OECD Handbook on Constructing Composite "
                  f"Indicators (2008) for {n_u} units, {len(framework.dimensions)} dimensions and "
                  f"{len(framework.indicators)} indicators; every step is recorded.", lang))
    den = [i for i in framework.indicators if i.denominator]
    if den:
        out.append(_t("按分母折算的指标：" + "、".join(f"{i.label.zh}" for i in den) + "。",
                      "Indicators divided by a denominator: " + ", ".join(i.label.get("en") for i in den) + ".", lang))
    imp = ch[ch.step == "impute"]
    if len(imp):
        items = "；".join(f"{_unit_name(r.unit, lang)} {lab(r.node)}（{_note_zh(r.note)}）" for r in imp.itertuples()) \
            if lang == "zh" else "; ".join(f"{r.unit} {lab(r.node)} ({r.note})" for r in imp.itertuples())
        out.append(_t(f"缺失值 {len(imp)} 个，已插补：{items}。", f"{len(imp)} missing value(s) imputed: {items}.", lang))
    else:
        out.append(_t("无缺失值。", "No value was missing.", lang))
    tr = ch[ch.step == "treat"]
    p = json.loads(st.loc["treat", "parameters"]) if "treat" in st.index else {}
    if len(tr):
        nodes = sorted(set(tr.node), key=list(framework.indicator_ids).index)
        out.append(_t(f"异常值处理（偏度绝对值≥{p.get('skew', 2):g} 且峰度≥{p.get('kurt', 3.5):g} 时缩尾，至多 "
                      f"{p.get('winmax', 5)} 个点）：" + "、".join(f"{lab(n)}（{(tr.node == n).sum()} 个值）" for n in nodes) + "。",
                      f"Outliers (|skew| >= {p.get('skew', 2):g} and kurtosis >= {p.get('kurt', 3.5):g}; at most "
                      f"{p.get('winmax', 5)} points winsorised): " + ", ".join(f"{lab(n)} ({(tr.node == n).sum()} value(s))"
                                                                               for n in nodes) + ".", lang))
    m = st.loc["normalise", "method"]
    out.append(_t(f"标准化：{METHOD_ZH.get(m, m)}；逆向指标取反向。", f"Normalisation: {METHOD_EN.get(m, m)}; "
                  "lower-is-better indicators reversed.", lang))
    w = st.loc["weight", "method"]
    a = json.loads(st.loc["aggregate", "parameters"])
    out.append(_t(f"赋权：{METHOD_ZH.get(w, w)}；汇总：{METHOD_ZH.get(a['index'], a['index'])}。",
                  f"Weights: {METHOD_EN.get(w, w)}; aggregation: {METHOD_EN.get(a['index'], a['index'])}.", lang))
    return out


def unit_sentences(tables: dict, framework: Framework, unit: str, lang: str = "zh") -> list[str]:
    """The headline sentences about one unit: score, rank and its band, best and worst dimension, what drives
    the ranking, and the scorecard."""
    s = tables["scores"]
    me = s[s.unit == unit]
    if me.empty:
        return [_t(f"{unit}没有保护水平数据。", f"No protection-level data for {unit}.", lang)]
    name = _unit_name(unit, lang)
    year = int(me.year.iloc[0]) if "year" in me.columns else None
    n = s.unit.nunique()
    idx = me[me.node == "index"].iloc[0]
    out = []
    band = ""
    r = tables.get("ranks")
    if r is not None and len(r) and unit in set(r.unit):
        rr = r[r.unit == unit].iloc[0]
        band = _t(f"；综合考虑权重、标准化、汇总和插补方法的不确定性，排名的 90% 区间为第 {rr.rank_p05}–{rr.rank_p95} 位"
                  f"（中位数第 {rr.median_rank} 位）",
                  f"; allowing for the uncertainty of weights, normalisation, aggregation and imputation, its rank "
                  f"lies between {rr.rank_p05} and {rr.rank_p95} in 90% of the simulations (median {rr.median_rank})",
                  lang)
    yr = f"{year}年，" if (year and lang == "zh") else (f"In {year}, " if year else "")
    out.append(_t(f"{yr}{name}知识产权保护水平指数为 {idx.score:.2f} 分，在 {n} 个区中排第 {int(idx['rank'])} 位{band}。",
                  f"{yr}{name} scores {idx.score:.2f} on the protection-level index, rank {int(idx['rank'])} of {n}{band}.",
                  lang))
    dims = me[me.level == "dimension"].sort_values("score")
    lo, hi = dims.iloc[0], dims.iloc[-1]
    out.append(_t(f"得分最高的维度是“{framework.label(hi.node, 'zh')}”（{hi.score:.1f} 分，第 {int(hi['rank'])} 位），最低的是"
                  f"“{framework.label(lo.node, 'zh')}”（{lo.score:.1f} 分，第 {int(lo['rank'])} 位）。",
                  f"Its strongest dimension is {framework.label(hi.node, 'en')} ({hi.score:.1f}, rank {int(hi['rank'])}), "
                  f"its weakest {framework.label(lo.node, 'en')} ({lo.score:.1f}, rank {int(lo['rank'])}).", lang))
    sob = tables.get("sobol")
    if sob is not None and len(sob) and sob.ST.notna().any():
        top = sob.sort_values("ST", ascending=False).iloc[0]
        out.append(_t(f"敏感性分析（Sobol 指数）表明，对全市排名影响最大的假设是{FACTOR_LABELS[top.factor][0]}"
                      f"（总效应指数 {top.ST:.2f}）。",
                      f"The Sobol sensitivity analysis shows the ranking depends most on the "
                      f"{FACTOR_LABELS[top.factor][1]} (total index {top.ST:.2f}).", lang))
    card = tables.get("scorecard")
    if card is not None and len(card) and unit in set(card.unit):
        c = card[card.unit == unit]
        k = c.status.value_counts()
        out.append(_t(f"示范区验收 {len(c)} 项指标中，达标 {k.get('pass', 0)} 项、未达标 {k.get('fail', 0)} 项、"
                      f"置信区间跨越阈值而不确定 {k.get('not_decisive', 0)} 项、数据不足 {k.get('insufficient_data', 0)} 项。",
                      f"Of the {len(c)} acceptance targets, {k.get('pass', 0)} pass, {k.get('fail', 0)} fail, "
                      f"{k.get('not_decisive', 0)} are not decisive (the CI straddles the threshold) and "
                      f"{k.get('insufficient_data', 0)} lack data.", lang))
        bad = c[c.status == "fail"]
        if len(bad):
            labels = (bad.label_zh if lang == "zh" else bad.label_en).tolist()
            out.append(_t("未达标：" + "；".join(labels) + "。", "Not met: " + "; ".join(labels) + ".", lang))
    return out
