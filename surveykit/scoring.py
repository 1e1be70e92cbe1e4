"""Scores of the indicator tree with design-based standard errors: contract 2 of ARCHITECTURE.md.

Rules (normative; every report's method section states them):

1. Item score of a respondent: ``100*(x-min)/(max-min)``, or ``100*(max-x)/(max-min)`` when ``reverse``. Codes in
   ``missing`` and blanks are missing. Any other value outside the scale is invalid: scoring refuses it with a
   message naming the row and column (the quality step reports such rows; scoring never guesses). An answer to an
   item that does not apply to the respondent's group is not applicable and is ignored (quality flags it).
2. Item mean in a domain for a group: the weighted mean over respondents of that domain and group with a
   non-missing score -- a ratio estimator ``R = sum w y / sum w``.
3. A node's score for a group: the weighted sum of its children's scores, weights renormalised over the children
   that apply to that group (structurally: an item applies to the groups it lists, a node if any child does).
   The root is ``index``. Each score is therefore a linear combination ``sum_j c_jg R_jg`` of item means.
4. "all" groups: ``sum_g W_g * score_g`` with the group weights renormalised over the groups the element applies
   to; without group weights, item means are pooled over all respondents of the domain and rolled up the same way.
5. Standard errors: Taylor linearisation of that linear combination of ratio means under the full design
   (strata, PSUs, fpc, weights), domains kept as domains -- R's ``svycontrast`` over ``svyby(..., svyratio)``.
   The influence value of respondent ``i`` on ``sum_j c_j R_j`` is ``sum_j c_j w_i m_ij (y_ij - R_j) / sum w m_j``
   (``m_ij`` = 1 if answered); 95% CIs are ``estimate ± 1.96·SE``.

Checked against R to 1e-8 in ``tests/test_scoring.py`` (fixture and R script in ``tests/fixtures/score``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import InputError
from .spec.questionnaire import Item, Node, Questionnaire
from .survey.design import Z95, Design, _as_list, _where, numeric_column, show_value
from .survey.variance import group_sum

SCORE_COLUMNS = ["group", "node", "estimate", "se", "ci_low", "ci_high", "n"]


# --- rule 1: item scores --------------------------------------------------------------------------------------
def item_scores(q: Questionnaire, data: pd.DataFrame, *, check: bool = True) -> pd.DataFrame:
    """Respondent-level item scores on 0-100 (rule 1), NaN where missing or not applicable to the group.

    Returns a DataFrame with one column per item (questionnaire order), index as ``data``. Raises
    :class:`~surveykit.errors.InputError` for an unknown group or an answer outside the scale (when ``check``).
    """
    groups = group_codes(q, data)
    out = {}
    for item in q.items:
        x = numeric_column(data, item.id, what="an answer code")
        sc = q.item_scale(item)
        missing = np.isnan(x) | np.isin(x, sc.missing)
        valid = (x >= sc.min) & (x <= sc.max) & (x == np.round(x))
        bad = ~missing & ~valid
        if check and bad.any():
            pos = int(np.flatnonzero(bad)[0])
            allowed = f"{sc.min}..{sc.max}" + (f" or a missing code {list(sc.missing)}" if sc.missing else "")
            raise InputError(f"answer {show_value(data[item.id].iloc[pos])} is outside the scale ({allowed}); "
                             f"{int(bad.sum())} such value(s) in this column -- run `surveykit validate`",
                             **_where(data, pos, item.id))
        applies = np.isin(groups, [q.group_ids.index(g) for g in q.item_groups(item)])
        s = np.where(missing | bad | ~applies, np.nan, sc.score(x, item.reverse))
        out[item.id] = s
    return pd.DataFrame(out, index=data.index)


def group_codes(q: Questionnaire, data: pd.DataFrame) -> np.ndarray:
    """Integer code of each respondent's group (questionnaire order); unknown or blank groups are an error."""
    col = q.groups.column
    if col not in data.columns:
        raise InputError(f"no group column '{col}' in the data (the questionnaire's groups.column)",
                         file=data.attrs.get("source"), column=col)
    s = data[col]
    ids = list(q.group_ids)
    codes = pd.Categorical(s.astype("string").str.strip(), categories=ids).codes.astype(np.int64)
    bad = codes < 0
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        val = s.iloc[pos]
        what = "blank group" if pd.isna(val) or str(val).strip() == "" else f"unknown group '{val}'"
        raise InputError(f"{what} (declared groups: {', '.join(ids)}); {int(bad.sum())} row(s) affected",
                         **_where(data, pos, col))
    return codes


# --- rule 3: the tree as linear combinations ------------------------------------------------------------------
@dataclass(frozen=True)
class Rollup:
    """Each output element (``index``, every node, every item) as a linear combination of item means.

    ``coef[g]`` is a (n_items x n_elements) matrix for group ``g`` (``None`` key: pooled, every child applies);
    ``applies[g]`` a boolean vector over elements.
    """

    elements: tuple[str, ...]
    items: tuple[str, ...]
    coef: dict
    applies: dict


def rollup(q: Questionnaire) -> Rollup:
    """The coefficients of rule 3 for every group, and for the pooled case."""
    items = tuple(i.id for i in q.items)
    elements = ("index",) + tuple(n.id for n in q.nodes) + items
    col = {e: k for k, e in enumerate(elements)}
    row = {i: k for k, i in enumerate(items)}
    coef, applies = {}, {}
    for g in (*q.group_ids, None):
        c = np.zeros((len(items), len(elements)))

        def ok(el: Node | Item) -> bool:
            return True if g is None else q.applies(el, g)

        def visit(children: Sequence[Node | Item]) -> dict[str, float]:
            """Item coefficients of a node whose children are ``children``; fills ``c`` for every child."""
            live = [ch for ch in children if ok(ch)]
            total = sum(ch.weight for ch in live)
            combo: dict[str, float] = {}
            for ch in live:
                sub = {ch.id: 1.0} if isinstance(ch, Item) else visit((*ch.children, *ch.items))
                for i, v in sub.items():
                    c[row[i], col[ch.id]] = v
                    combo[i] = combo.get(i, 0.0) + ch.weight / total * v
            return combo

        for i, v in visit(q.indicators).items():
            c[row[i], col["index"]] = v
        coef[g] = c
        applies[g] = np.array([True] + [ok(n) for n in q.nodes] + [ok(i) for i in q.items])
    return Rollup(elements, items, coef, applies)


# --- rules 2-5: estimates and SEs -------------------------------------------------------------------------------
def score(q: Questionnaire, design: Design, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Scores of every item, node and the index, per domain and group and for "all", with design-based SEs.

    Parameters
    ----------
    q : the questionnaire (contract 1).
    design : a :class:`~surveykit.Design` on the response data (one row per respondent).
    by : domain column(s), e.g. ``["district"]``; None scores the whole data as one domain.

    Returns
    -------
    DataFrame with the ``by`` columns, ``group`` (a group id or ``all``), ``node`` (``index``, a node id or an item
    id), ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``n`` (respondents of the domain and group with a score on at
    least one item under the node). Elements that do not apply to a group have no row for it. A score whose items
    have no respondent in a cell is NaN (and so is "all" if any of its groups is NaN).

    Example
    -------
    >>> q = sk.load_questionnaire("questionnaires/ip_protection_satisfaction.yaml")     # doctest: +SKIP
    >>> d = sk.Design(df, weights="weight", strata="district", psu="street", fpc="n_streets")  # doctest: +SKIP
    >>> sk.score(q, d, by=["district"]).query("group == 'all' and node == 'index'")      # doctest: +SKIP
    """
    data = design.data
    ys = item_scores(q, data).to_numpy()
    g = group_codes(q, data)
    dom, table = design.domains(by)
    n_dom, n_grp = len(table), len(q.group_ids)
    w = design.weights.to_numpy()
    answered = ~np.isnan(ys)
    inside = np.ones(len(w), dtype=bool) if design._domain_mask is None else design._domain_mask
    answered &= inside[:, None]
    y0 = np.where(answered, ys, 0.0)
    ru = rollup(q)
    gw = q.group_weights

    frames = []
    cell = dom * n_grp + g
    est_g, se_g, n_g, z = _cell_scores(ru, y0, answered, w, cell, n_dom * n_grp, g, lambda k: k % n_grp, design)
    # "all" (rule 4)
    if gw is not None:
        wvec = np.array([gw[x] for x in q.group_ids])
        app = np.column_stack([ru.applies[x] for x in q.group_ids])  # elements x groups
        wn = app * wvec
        wn = wn / wn.sum(axis=1, keepdims=True)  # renormalised over the groups the element applies to
        est3 = est_g.reshape(n_dom, n_grp, -1)
        contrib = np.where(wn.T[None, :, :] > 0, est3 * wn.T[None, :, :], 0.0)
        nan_any = np.any(np.isnan(est3) & (wn.T[None, :, :] > 0), axis=1)
        est_all = np.where(nan_any, np.nan, contrib.sum(axis=1))
        z *= wn.T[g]  # influence on the all-groups score: W_g(renormalised) x own-group influence
        var_all = design.domain_variance(z, dom, n_dom)
        se_all = np.where(np.isnan(est_all), np.nan, np.sqrt(np.maximum(var_all, 0.0)))
        n_all = n_g.reshape(n_dom, n_grp, -1).sum(axis=1)
        app_all = np.ones(len(ru.elements), dtype=bool)
    else:
        del z
        est_all, se_all, n_all, _ = _cell_scores(ru, y0, answered, w, dom, n_dom, None, None, design)
        app_all = ru.applies[None]

    for gi, gid in enumerate([*q.group_ids, "all"]):
        if gid == "all":
            e, s, n, app = est_all, se_all, n_all, app_all
        else:
            sl = np.arange(n_dom) * n_grp + gi
            e, s, n, app = est_g[sl], se_g[sl], n_g[sl], ru.applies[gid]
        cols = np.flatnonzero(app)
        part = pd.DataFrame({
            "_dom": np.repeat(np.arange(n_dom), len(cols)),
            "group": gid,
            "node": np.tile(np.array(ru.elements, dtype=object)[cols], n_dom),
            "_el": np.tile(cols, n_dom),
            "estimate": e[:, cols].ravel(),
            "se": s[:, cols].ravel(),
            "n": n[:, cols].ravel().astype(np.int64),
        })
        part["_g"] = gi
        frames.append(part)
    out = pd.concat(frames, ignore_index=True).sort_values(["_dom", "_g", "_el"], kind="stable")
    out["ci_low"] = out["estimate"] - Z95 * out["se"]
    out["ci_high"] = out["estimate"] + Z95 * out["se"]
    by_cols = _as_list(by)
    if by_cols:
        keys = table.iloc[out["_dom"].to_numpy()].reset_index(drop=True)
        out = pd.concat([keys, out.reset_index(drop=True)], axis=1)
    return out[by_cols + SCORE_COLUMNS].reset_index(drop=True)


def _cell_scores(ru: Rollup, y0: np.ndarray, answered: np.ndarray, w: np.ndarray, cell: np.ndarray, n_cells: int,
                 g: np.ndarray | None, group_of_cell, design: Design):
    """Estimates, SEs and counts of every element in every cell (domain x group, or domain when pooled).

    Returns (est, se, n, z) with z the (rows x elements) influence of each row on its own cell's scores.
    """
    wm = answered * w[:, None]
    num = group_sum(cell, n_cells, wm * y0)
    den = group_sum(cell, n_cells, wm)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / den
    empty = den <= 0
    r = np.where(empty, 0.0, r)
    zi = wm * (y0 - r[cell])
    with np.errstate(divide="ignore", invalid="ignore"):
        zi /= np.where(empty, 1.0, den)[cell]
    n_el = len(ru.elements)
    est = np.empty((n_cells, n_el))
    nan_mask = np.zeros((n_cells, n_el), dtype=bool)
    counts = np.empty((n_cells, n_el))
    z = np.empty((len(cell), n_el))
    keys = [None] if g is None else list(range(len(ru.coef) - 1))
    gids = list(ru.coef)
    cell_groups = np.zeros(n_cells, dtype=np.int64) if g is None else group_of_cell(np.arange(n_cells))
    for k in keys:
        a = ru.coef[None] if k is None else ru.coef[gids[k]]
        rows_c = np.flatnonzero(cell_groups == (0 if k is None else k))
        est[rows_c] = r[rows_c] @ a
        nan_mask[rows_c] = (empty[rows_c].astype(float) @ (a != 0)) > 0
        rows = slice(None) if k is None else np.flatnonzero(g == k)
        z[rows] = zi[rows] @ a
        has = (answered[rows].astype(np.float32) @ (a != 0).astype(np.float32)) > 0
        cnt = group_sum(cell[rows], n_cells, has.astype(float))
        counts[rows_c] = cnt[rows_c]
    est[nan_mask] = np.nan
    var = design.domain_variance(z, cell, n_cells)
    se = np.where(nan_mask, np.nan, np.sqrt(np.maximum(var, 0.0)))
    return est, se, counts, z
