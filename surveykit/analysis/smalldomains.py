"""Small domains and awareness: suppression of unreliable estimates, don't-know rates per item.

Suppression rule (statistical offices' practice, e.g. the US NCHS data presentation standards for proportions,
Parker et al. 2017, and Statistics Canada's CV bands): an estimate is not shown when it rests on fewer than
``min_n`` respondents (default 30) or when its relative standard error ``RSE = se / |estimate|`` exceeds
``max_rse`` (default 0.30, i.e. a coefficient of variation above 30%). Both are configurable; the reports show
such cells as "—" with a footnote, never as a number.

Don't know (不了解/不适用) is an answer, not a midpoint: it is missing for scoring (contract 2) and its rate per
item is reported as an awareness signal. The rate is a design-based domain mean of the indicator "answered with a
missing code" over the respondents who were asked the item and gave any answer (blank = not asked or skipped):
``rate = sum_D w_i dk_i / sum_D w_i`` (a ratio estimator, R's ``svymean(~dk, na.rm=TRUE)`` on the domain), with its
linearised SE under the full design (checked against R's ``survey``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..scoring import group_codes, item_score_matrix
from ..spec.questionnaire import Questionnaire
from ..survey.adapter import degf
from ..survey.categorical import logit_interval
from ..survey.common import as_list, group_sum, numeric_column
from ..survey.design import Design
from ..survey.estimates import ratio_estimates

MIN_N = 30
MAX_RSE = 0.30


def mark_small(table: pd.DataFrame, *, min_n: int = MIN_N, max_rse: float | None = MAX_RSE, n_col: str = "n",
               blank: bool = False, columns: Sequence[str] = ("estimate", "se", "ci_low", "ci_high")) -> pd.DataFrame:
    """Mark (and optionally blank) the estimates of a table that are too unreliable to publish.

    Parameters
    ----------
    table : any estimate table with ``estimate``, ``se`` and ``n`` (``sk.score``, ``Design.mean``, the results
        store, :func:`dont_know_rates` with ``n_col="n_asked"``...).
    min_n : fewer respondents than this -> suppressed (``n < min_n``).
    max_rse : relative SE above this -> suppressed (None: no RSE rule).
    blank : also set ``columns`` to NaN where suppressed (for a table going into a report).

    Returns
    -------
    A copy with ``rse`` (``se / |estimate|``), ``small_n`` (bool), ``high_rse`` (bool), ``suppressed`` (either),
    ``flag`` (``""``, ``"n<30"``, ``"RSE>30%"`` or both joined by ``"; "``).

    Source: NCHS data presentation standards for proportions (Parker et al. 2017, *Vital Health Stat* 2(175));
    Statistics Canada's CV-based release rules.

    Example
    -------
    >>> import pandas as pd
    >>> from surveykit.analysis import mark_small
    >>> t = pd.DataFrame({"estimate": [80.0, 0.02, 75.0], "se": [0.5, 0.01, 2.0], "n": [400, 900, 12]})
    >>> mark_small(t)[["suppressed", "flag"]]
       suppressed     flag
    0       False         
    1        True  RSE>30%
    2        True     n<30
    """
    for c in ("estimate", "se", n_col):
        if c not in table.columns:
            raise InputError(f"the table has no column '{c}'")
    if min_n < 0 or (max_rse is not None and max_rse <= 0):
        raise InputError("min_n must be >= 0 and max_rse > 0")
    out = table.copy()
    est = out["estimate"].to_numpy(float)
    se = out["se"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rse"] = np.where(est != 0, se / np.abs(est), np.where(se > 0, np.inf, np.nan))
    out["small_n"] = out[n_col].to_numpy(float) < min_n
    out["high_rse"] = (out["rse"] > max_rse).to_numpy() if max_rse is not None else False
    out["suppressed"] = out["small_n"] | out["high_rse"]
    pct = f"RSE>{max_rse * 100:g}%" if max_rse is not None else ""
    out["flag"] = ["; ".join(x for x, on in ((f"n<{min_n}", s), (pct, h)) if on)
                   for s, h in zip(out["small_n"], out["high_rse"])]
    if blank:
        for c in columns:
            if c in out.columns:
                out[c] = out[c].astype(float).mask(out["suppressed"])
    return out


def dont_know_rates(q: Questionnaire, design: Design, by: str | Sequence[str] | None = None, *,
                    groups: Sequence[str] | None = ("all",)) -> pd.DataFrame:
    """Don't-know rate of every item, per domain and group, with design-based SEs.

    Parameters
    ----------
    q, design : questionnaire and survey design.
    by : domain column(s), e.g. ``"district"`` (None: the whole data).
    groups : ``"all"`` (every respondent asked the item, pooled) and/or group ids; None: ``all`` and every group.

    Returns
    -------
    DataFrame: the ``by`` columns, ``group``, ``item``, ``node`` (the item's parent indicator), ``n_asked``
    (respondents asked who answered, don't know included), ``n_dont_know``, ``estimate`` (the weighted rate
    ``sum w dk / sum w`` over those respondents), ``se`` (linearised: influence ``w (dk - rate) / sum w`` under the
    full design), ``ci_low``, ``ci_high`` (95%, logit: ``expit(logit p ± t·se/(p(1-p)))`` on the domain's degrees
    of freedom, so the interval stays inside [0, 1]; NaN when the rate is 0 or 1). Items without a missing code in
    their scale, and cells where the item is not asked, have no row.

    Source: ratio estimator of a domain mean with its linearised variance (Särndal, Swensson & Wretman 1992
    §5.6; R ``svyby(~dk, ~domain, design, svymean, na.rm=TRUE)``); the interval is R's ``svyciprop(~dk,
    subset(design, domain & asked), method = "logit")``.

    Example
    -------
    >>> from surveykit.analysis import dont_know_rates
    >>> t = dont_know_rates(q, design, by="district").sort_values("estimate").tail(3)
    >>> t[["district", "item", "n_asked", "n_dont_know", "estimate"]].round(3)
       district item  n_asked  n_dont_know  estimate
    33       己区  q06       41            5     0.149
    9        己区  q02       77           10     0.152
    17       甲区  q03       71           13     0.199

    (``q``, ``design``: the 2026 fixture study of ``tests/fixtures/store``, which ``tests/test_analysis_docs.py``
    provides.)
    """
    gids = ["all", *q.group_ids] if groups is None else as_list(groups)
    for x in gids:
        if x != "all" and x not in q.group_ids:
            raise InputError(f"unknown group '{x}' (groups: {', '.join(q.group_ids)}, all)")
    by_cols = as_list(by)
    dk, meta = _dont_know_columns(q, design.data, gids)
    if not meta:
        return pd.DataFrame(columns=[*by_cols, "group", "item", "node", "n_asked", "n_dont_know", "estimate", "se",
                                     "ci_low", "ci_high"])
    est = ratio_estimates(design, dk, np.where(np.isnan(dk), np.nan, 1.0), [str(k) for k in range(len(meta))], by)
    codes, table = design.domains(by)
    inside = np.ones(len(dk), dtype=bool) if design.subset_mask is None else design.subset_mask
    n_dk = group_sum(codes, len(table), np.where(np.isnan(dk) | ~inside[:, None], 0.0, dk))
    which = np.repeat(np.arange(len(meta)), len(table))
    out = est.keys[by_cols].copy()
    for i, name in enumerate(("group", "item", "node")):
        out[name] = np.array([m[i] for m in meta], dtype=object)[which]
    out["n_asked"] = est.n
    out["n_dont_know"] = n_dk.T.ravel().astype(np.int64)
    out["estimate"] = est.estimate
    out["se"] = est.se
    domain = np.tile(np.arange(len(table)), len(meta))
    asked = ~np.isnan(dk) & inside[:, None]
    out["df"] = [degf(design, (codes == d) & asked[:, k]) if n else 0 for d, k, n in zip(domain, which, est.n)]
    out = out[out["n_asked"] > 0].reset_index(drop=True)
    out["ci_low"], out["ci_high"] = logit_interval(out["estimate"], out["se"], out.pop("df"))
    return out


def _dont_know_columns(q: Questionnaire, data: pd.DataFrame, gids: list[str]) -> tuple[np.ndarray, list]:
    """One column per (group, item with a missing code) asked of the group: 1 for don't know, 0 for a score, NaN
    for respondents not asked or without an answer; and per column (group, item, parent node)."""
    g = group_codes(q, data)
    scores = item_score_matrix(q, data, groups=g)
    parent = q.parent_of()
    cols, meta = [], []
    for j, item in enumerate(q.items):
        if not q.item_scale(item).missing:
            continue
        is_dk = np.isin(numeric_column(data, item.id, what="an answer code"), q.item_scale(item).missing)
        asked = np.isin(g, [q.group_ids.index(x) for x in q.item_groups(item)]) & (is_dk | ~np.isnan(scores[:, j]))
        for gid in gids:
            if gid != "all" and gid not in q.item_groups(item):
                continue
            ok = asked if gid == "all" else asked & (g == q.group_ids.index(gid))
            cols.append(np.where(ok, is_dk.astype(float), np.nan))
            meta.append((gid, item.id, parent[item.id]))
    return (np.column_stack(cols) if cols else np.empty((len(data), 0))), meta
