"""Helpers shared by the analysis modules: joint estimates of scores with their covariance, contrasts, verdicts.

Nothing here is part of the public API; the public functions document what they use.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm
from statsmodels.stats.multitest import multipletests

from ..errors import InputError
from ..scoring import rollup, score_estimates
from ..spec.questionnaire import Questionnaire
from ..survey.common import Z95, as_list
from ..survey.design import Design
from ..survey.estimates import Estimates

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
        if data.subset_mask is not None:
            return data.data[data.subset_mask]
        return data.data
    if isinstance(data, pd.DataFrame):
        return data
    raise TypeError("expected a pandas DataFrame or a surveykit Design")


def with_columns(design: Design, **columns) -> Design:
    """The same design (weights, calibration, subset) on its data plus derived columns (row order unchanged).

    Used to define comparison domains ("this district" / "rest of the city") as ordinary ``by`` columns, so that
    every estimate is computed by the scoring engine with the whole design kept.
    """
    return design.assign(**columns)


def first_level(q: Questionnaire) -> list[str]:
    return [n.id for n in q.indicators]


def default_nodes(q: Questionnaire) -> list[str]:
    """``index`` and the first-level indicators: the scores the reports rank and compare."""
    return ["index", *first_level(q)]


def joint_scores(q: Questionnaire, design: Design, by: str | Sequence[str] | None, nodes: Sequence[str],
                 groups: str | Sequence[str]) -> Estimates:
    """The scores of ``nodes`` for ``groups`` (a group id or ``all``, or several) in every ``by`` domain, as
    :class:`~surveykit.survey.estimates.Estimates` (``.vcov()``: their covariance matrix; ``.contrast()``).

    Rows: group outermost, then domain, then ``nodes`` in the order given (elements that do not apply to a group
    have no row); ``keys`` has the ``by`` columns, ``group``, ``node``; ``n`` and the NaN of empty cells are those of
    :func:`surveykit.score` (contract 2).
    """
    nodes = list(dict.fromkeys(nodes))
    groups = as_list(groups)
    elements = rollup(q).elements
    unknown = [x for x in nodes if x not in elements]
    if unknown:
        raise InputError(f"unknown node(s) {unknown}; nodes are 'index', indicator ids and item ids")
    for g in groups:
        if g != "all" and g not in q.group_ids:
            raise InputError(f"unknown group '{g}' (groups: {', '.join(q.group_ids)}, all)")
    est = score_estimates(q, design, by)
    by_cols = as_list(by)
    domain = pd.factorize(pd.MultiIndex.from_frame(est.keys[by_cols]))[0] if by_cols else np.zeros(len(est))
    keep = np.flatnonzero(est.keys["group"].isin(groups).to_numpy() & est.keys["node"].isin(nodes).to_numpy())
    order = np.lexsort((est.keys["node"].map({x: i for i, x in enumerate(nodes)}).to_numpy()[keep], domain[keep],
                        est.keys["group"].map({x: i for i, x in enumerate(groups)}).to_numpy()[keep]))
    return est.take(keep[order])


def normal_test(diff: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normal (Wald) test of a difference: ``z = diff/se``, two-sided ``p = 2(1 - Phi(|z|))``; 95% interval."""
    diff = np.asarray(diff, dtype=float)
    se = np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / se, np.nan)
    p = 2.0 * norm.sf(np.abs(z))
    return z, p, diff - Z95 * se, diff + Z95 * se


def adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Multiplicity-adjusted p-values (statsmodels ``multipletests``; Holm's step-down computed here, see
    :func:`holm`); NaN p-values are left out and stay NaN."""
    if method not in ADJUST_METHODS:
        raise InputError(f"adjust must be one of {', '.join(ADJUST_METHODS)}, not '{method}'")
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if not ok.any():
        return out
    if ADJUST_METHODS[method] is None:
        out[ok] = p[ok]
    elif method == "holm":
        out[ok] = holm(p[ok])
    else:
        out[ok] = multipletests(p[ok], method=ADJUST_METHODS[method])[1]
    return out


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's (1979) step-down adjusted p-values: sorted ascending, ``p_(i) (m - i + 1)``, made non-decreasing by a
    running maximum, capped at 1 -- statsmodels' ``multipletests(p, method="holm")[1]``, which the tests compare
    with. Computed here because statsmodels (0.14-0.15) calls ``gc.collect()`` on every Holm call: about 0.1 s each
    with a large heap, a third of a demo year's computation (124 families)."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    out = np.empty_like(p)
    out[order] = np.minimum(1.0, np.maximum.accumulate(p[order] * np.arange(len(p), 0, -1)))
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
    fam = as_list(family)
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
