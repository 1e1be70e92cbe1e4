"""Helpers shared by the analysis modules: joint estimates of scores with their covariance, contrasts, verdicts.

Nothing here is part of the public API; the public functions document what they use.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..errors import InputError
from ..scoring import group_codes, item_score_matrix, rollup, score_influence
from ..spec.questionnaire import Questionnaire
from ..survey.design import Z95, Design, _as_list
from ..survey.variance import group_sum

#: Plain-language verdicts of a comparison, by code and language.
VERDICTS: dict[str, dict[str, str]] = {
    "higher": {"zh": "较高", "en": "higher"},
    "lower": {"zh": "较低", "en": "lower"},
    "no_clear_difference": {"zh": "无明显差异", "en": "no clear difference"},
    "up": {"zh": "上升", "en": "up"},
    "down": {"zh": "下降", "en": "down"},
    "no_clear_change": {"zh": "无明显变化", "en": "no clear change"},
    "no_data": {"zh": "数据不足", "en": "insufficient data"},
}
ADJUST_METHODS = {"holm": "holm", "bh": "fdr_bh", "fdr_bh": "fdr_bh", "bonferroni": "bonferroni", "none": None}


def check_lang(lang: str) -> str:
    if lang not in ("zh", "en"):
        raise InputError(f"lang must be 'zh' or 'en', not '{lang}'")
    return lang


def as_data(data) -> pd.DataFrame:
    """The response DataFrame of a DataFrame or a :class:`~surveykit.Design` (only the rows of a subset)."""
    if isinstance(data, Design):
        if data._domain_mask is not None:
            return data.data[data._domain_mask]
        return data.data
    if isinstance(data, pd.DataFrame):
        return data
    raise TypeError("expected a pandas DataFrame or a surveykit Design")


def with_columns(design: Design, **columns) -> Design:
    """The same design (weights, calibration, subset) on its data plus derived columns (row order unchanged).

    Used to define comparison domains ("this district" / "rest of the city") as ordinary ``by`` columns, so that
    every estimate is computed by the scoring engine with the whole design kept.
    """
    data = design.data.assign(**columns)
    data.attrs.update(design.data.attrs)
    return design._replace(_data=data)


def first_level(q: Questionnaire) -> list[str]:
    return [n.id for n in q.indicators]


def default_nodes(q: Questionnaire) -> list[str]:
    """``index`` and the first-level indicators: the scores the reports rank and compare."""
    return ["index", *first_level(q)]


def answered_matrix(q: Questionnaire, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Group codes and the respondents x items matrix of answered (scored) items."""
    g = group_codes(q, data)
    return g, ~np.isnan(item_score_matrix(q, data, groups=g))


def joint_scores(q: Questionnaire, design: Design, by: str | Sequence[str] | None, nodes: Sequence[str],
                 group: str, answered: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Scores of ``nodes`` for ``group`` in every ``by`` domain and the influence matrix of all of them.

    Returns ``(table, z)`` as :func:`surveykit.scoring.score_influence`, with ``table`` extended by ``n`` (respondents
    with an answer under the node) and with ``estimate`` set to NaN (and the column of ``z`` to zero) where
    :func:`surveykit.score` gives NaN: an item of the score without any respondent in a cell (contract 2
    extension). ``design.vcov(z)`` is the covariance matrix of the estimates.
    """
    nodes = list(dict.fromkeys(nodes))
    by_cols = _as_list(by)
    if len(by_cols) > 1:
        # one combined domain column (Design.domains loses the names of several by columns under pandas 3)
        keys = design.data[by_cols]
        if keys.isna().any().any():
            raise InputError(f"blank value in a domain column ({', '.join(by_cols)})")
        codes, uniq = pd.factorize(pd.MultiIndex.from_frame(keys), sort=True)
        combos = pd.DataFrame(list(uniq), columns=by_cols)
        design = with_columns(design, _domain=codes)
        table, z = joint_scores(q, design, "_domain", nodes, group, answered)
        keys_out = combos.iloc[table["_domain"].to_numpy()].reset_index(drop=True)
        table = pd.concat([keys_out, table.drop(columns="_domain").reset_index(drop=True)], axis=1)
        return table, z
    table, z = score_influence(q, design, by, nodes=nodes, group=group)
    empty, count = _empty_cells(q, design, by, table, group, answered)
    table = table.assign(n=count)
    table.loc[empty, "estimate"] = np.nan
    z[:, empty] = 0.0
    return table, z


def _empty_cells(q: Questionnaire, design: Design, by, table: pd.DataFrame, group: str, answered=None):
    """Per row of a ``score_influence`` table: whether :func:`surveykit.score` gives NaN, and its ``n``."""
    g, answered = answered_matrix(q, design.data) if answered is None else answered
    if design._domain_mask is not None:
        answered = answered & design._domain_mask[:, None]      # not in place: the caller may reuse it
    dom, dtable = design.domains(by)
    n_dom, n_grp = len(dtable), len(q.group_ids)
    ru = rollup(q)
    el = {e: k for k, e in enumerate(ru.elements)}
    gw = q.group_weights
    pooled = group == "all" and gw is None
    cell = dom if pooled else dom * n_grp + g
    n_cells = n_dom if pooled else n_dom * n_grp
    cnt = group_sum(cell, n_cells, answered.astype(float))              # cells x items
    nodes = list(dict.fromkeys(table["node"]))
    k = len(nodes)
    if len(table) != n_dom * k:
        raise AssertionError("unexpected score_influence table layout")
    empty = np.zeros((n_dom, k), dtype=bool)
    count = np.zeros((n_dom, k))

    def cell_stats(coef: np.ndarray, rows_group: np.ndarray | slice, cells: np.ndarray):
        used = coef != 0                                              # items x nodes
        e = (cnt[cells] == 0).astype(float) @ used > 0               # cells x nodes
        has = (answered[rows_group].astype(np.float32) @ used.astype(np.float32)) > 0
        c = group_sum(cell[rows_group], n_cells, has.astype(float))[cells]
        return e, c

    cols = [el[x] for x in nodes]
    if pooled:
        e, c = cell_stats(ru.coef[None][:, cols], slice(None), np.arange(n_dom))
        return e.ravel(), c.ravel().astype(np.int64)
    groups = q.group_ids if group == "all" else (group,)
    for gid in groups:
        gi = q.group_ids.index(gid)
        app = ru.applies[gid][cols]
        if group == "all" and gw[gid] <= 0:
            continue
        rows = np.flatnonzero(g == gi)
        e, c = cell_stats(ru.coef[gid][:, cols], rows, np.arange(n_dom) * n_grp + gi)
        empty |= e & app
        count += np.where(app, c, 0.0)
    return empty.ravel(), count.ravel().astype(np.int64)


def normal_test(diff: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normal (Wald) test of a difference: ``z = diff/se``, two-sided ``p = 2(1 - Phi(|z|))``; 95% interval."""
    diff = np.asarray(diff, dtype=float)
    se = np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / se, np.nan)
    p = 2.0 * norm.sf(np.abs(z))
    return z, p, diff - Z95 * se, diff + Z95 * se


def adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Multiplicity-adjusted p-values (statsmodels ``multipletests``); NaN p-values are left out and stay NaN."""
    from statsmodels.stats.multitest import multipletests

    if method not in ADJUST_METHODS:
        raise InputError(f"adjust must be one of {', '.join(ADJUST_METHODS)}, not '{method}'")
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if not ok.any():
        return out
    if ADJUST_METHODS[method] is None:
        out[ok] = p[ok]
    else:
        out[ok] = multipletests(p[ok], method=ADJUST_METHODS[method])[1]
    return out


def verdict_codes(diff: np.ndarray, p_adj: np.ndarray, alpha: float, *, change: bool = False) -> np.ndarray:
    """``higher``/``lower`` (``up``/``down`` for changes) when the adjusted p-value is below ``alpha``, else
    ``no_clear_difference`` (``no_clear_change``); ``no_data`` when the difference cannot be tested."""
    hi, lo, none = ("up", "down", "no_clear_change") if change else ("higher", "lower", "no_clear_difference")
    diff = np.asarray(diff, dtype=float)
    p_adj = np.asarray(p_adj, dtype=float)
    out = np.where(np.isnan(p_adj) | np.isnan(diff), "no_data",
                   np.where(p_adj < alpha, np.where(diff > 0, hi, lo), none))
    return out.astype(object)


def finish_tests(out: pd.DataFrame, diff_col: str, *, adjust_method: str, alpha: float, family, lang: str,
                 change: bool = False) -> pd.DataFrame:
    """Add ``z``, ``p_value``, ``p_adj``, ``verdict``, ``verdict_text`` to a table with ``diff_col`` and ``se``.

    ``family``: columns whose values define the families of the multiplicity adjustment (None: the whole table).
    """
    out["se"] = out["se"].where(out[diff_col].notna())   # a missing difference has no SE (not one side's alone)
    z, p, lo, hi = normal_test(out[diff_col].to_numpy(float), out["se"].to_numpy(float))
    out["ci_low"], out["ci_high"], out["z"], out["p_value"] = lo, hi, z, p
    return add_verdicts(out, diff_col, p, adjust_method=adjust_method, alpha=alpha, family=family, lang=lang,
                        change=change)


def adjusted_interval(d: np.ndarray, se: np.ndarray, p: np.ndarray, p_adj: np.ndarray, m: np.ndarray,
                      alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """The interval that agrees with a multiplicity-adjusted verdict: ``d ± z*·se`` with
    ``z* = Phi^-1(1 - alpha_i/2)`` and ``alpha_i = alpha · p_i / p_adj_i`` (``alpha/m`` when ``p_adj_i`` is 0, or
    1 -- capped, so not significant whatever the level; ``m`` = the family's size).

    It excludes 0 exactly when ``p_adj_i < alpha``: ``|z_i| > z*  <=>  p_i < alpha p_i / p_adj_i  <=>  p_adj_i <
    alpha``. For Bonferroni (``p_adj = m p``) it is the Bonferroni interval at level ``1 - alpha/m``; for Holm it is
    the interval at the step-down level of the comparison's rank (``alpha/(m - j + 1)``, or lower where the
    adjusted p-values' monotonicity raises ``p_adj``); without adjustment it is the ordinary ``1 - alpha`` interval.
    Source: the p-value / confidence-interval duality (e.g. Dmitrienko, Tamhane & Bretz 2010, *Multiple Testing
    Problems in Pharmaceutical Statistics*, sec. 2.6).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.where((p_adj > 0) & (p_adj < 1), alpha * p / p_adj, alpha / np.maximum(m, 1))
        z = norm.ppf(1.0 - level / 2.0)
    half = z * se
    return d - half, d + half


def add_verdicts(out: pd.DataFrame, diff_col: str, p: np.ndarray, *, adjust_method: str, alpha: float, family,
                 lang: str, change: bool = False) -> pd.DataFrame:
    """Adjust ``p`` within each family (rows sharing the ``family`` columns; None: the whole table) and add
    ``p_adj``, the adjusted interval ``ci_low_adj``/``ci_high_adj`` (:func:`adjusted_interval`), ``verdict`` and
    ``verdict_text`` to ``out`` (in place; returned)."""
    fam = _as_list(family)
    p_adj, m = np.full(len(out), np.nan), np.ones(len(out))
    groups = out.groupby(fam, sort=False, dropna=False).indices.values() if fam else [np.arange(len(out))]
    for idx in groups:
        p_adj[idx] = adjust(p[idx], adjust_method)
        m[idx] = np.isfinite(p[idx]).sum()
    out["p_adj"] = p_adj
    if "se" in out.columns:
        out["ci_low_adj"], out["ci_high_adj"] = adjusted_interval(out[diff_col].to_numpy(float),
                                                                  out["se"].to_numpy(float), p, p_adj, m, alpha)
    out["verdict"] = verdict_codes(out[diff_col].to_numpy(float), p_adj, alpha, change=change)
    out["verdict_text"] = [VERDICTS[v][lang] for v in out["verdict"]]
    return out
