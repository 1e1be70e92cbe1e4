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

from dataclasses import dataclass, field
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
    return pd.DataFrame(item_score_matrix(q, data, check=check), index=data.index, columns=[i.id for i in q.items])


def item_score_matrix(q: Questionnaire, data: pd.DataFrame, *, check: bool = True,
                      groups: np.ndarray | None = None) -> np.ndarray:
    """:func:`item_scores` as a float array (rows x items), the form the estimators use."""
    g = group_codes(q, data) if groups is None else groups
    out = np.empty((len(data), len(q.items)))
    for j, item in enumerate(q.items):
        x = numeric_column(data, item.id, what="an answer code")
        sc = q.item_scale(item)
        missing = np.isnan(x)
        for code in sc.missing:
            missing |= x == code
        valid = (x >= sc.min) & (x <= sc.max) & (x == np.round(x))
        bad = ~missing & ~valid
        if check and bad.any():
            pos = int(np.flatnonzero(bad)[0])
            allowed = f"{sc.min}..{sc.max}" + (f" or a missing code {list(sc.missing)}" if sc.missing else "")
            raise InputError(f"answer {show_value(data[item.id].iloc[pos])} is outside the scale ({allowed}); "
                             f"{int(bad.sum())} such value(s) in this column -- run `surveykit validate`",
                             **_where(data, pos, item.id))
        applies = np.isin(np.arange(len(q.group_ids)), [q.group_ids.index(x) for x in q.item_groups(item)])[g]
        out[:, j] = np.where(missing | bad | ~applies, np.nan, sc.score(x, item.reverse))
    return out


def group_codes(q: Questionnaire, data: pd.DataFrame) -> np.ndarray:
    """Integer code of each respondent's group (questionnaire order); unknown or blank groups are an error."""
    col = q.groups.column
    if col not in data.columns:
        raise InputError(f"no group column '{col}' in the data (the questionnaire's groups.column)",
                         file=data.attrs.get("source"), column=col)
    s = data[col]
    ids = list(q.group_ids)
    codes = pd.Index(ids).get_indexer(s.astype("string").str.strip()).astype(np.int64)  # -1: unknown or blank
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

    Notes
    -----
    Computation. Let ``A_kcj = sum w m y`` and ``B_kcj = sum w m`` over the rows of sampling unit ``k`` (at any
    stage) in cell ``c`` (domain x group) for item ``j``. The unit's total of the influence values of the item mean
    ``R_cj = A_cj / B_cj`` is ``(A_kcj - R_cj B_kcj) / B_cj`` and that of a score ``sum_j a_j R_cj`` is the same
    combination of those totals; the "all" score's unit totals are the group-weighted sums over the unit's cells.
    So each stage's variance needs only these per-unit sums -- one pass over the data -- and never a
    respondent x score matrix (when the stage's units are the respondents, the sums are the rows themselves).

    Example
    -------
    >>> q = sk.load_questionnaire("questionnaires/ip_protection_satisfaction.yaml")     # doctest: +SKIP
    >>> d = sk.Design(df, weights="weight", strata="district", psu="street", fpc="n_streets")  # doctest: +SKIP
    >>> sk.score(q, d, by=["district"]).query("group == 'all' and node == 'index'")      # doctest: +SKIP
    """
    g, ys, answered, wm, dom, table = _weighted_answers(q, design, by)
    n_dom, n_grp = len(table), len(q.group_ids)
    ys *= wm  # now w*m*y
    ru = rollup(q)
    gw = q.group_weights

    by_group = _Cells(code=dom * n_grp + g, n=n_dom * n_grp, group=np.tile(np.arange(n_grp), n_dom),
                      domain=np.repeat(np.arange(n_dom), n_grp), coef=[ru.coef[x] for x in q.group_ids])
    if gw is not None:
        wvec = np.array([gw[x] for x in q.group_ids])
        app = np.column_stack([ru.applies[x] for x in q.group_ids])  # elements x groups
        wn = app * wvec
        wn = (wn / wn.sum(axis=1, keepdims=True)).T  # groups x elements, renormalised over applicable groups
        res = _linear_scores(design, by_group, wm, ys, answered, ru, n_dom=n_dom, all_weights=wn)
        est3 = res.est.reshape(n_dom, n_grp, -1)
        used = wn[None, :, :] > 0
        est_all = np.where(np.any(np.isnan(est3) & used, axis=1), np.nan,
                           np.where(used, est3 * wn[None, :, :], 0.0).sum(axis=1))
        se_all = np.where(np.isnan(est_all), np.nan, np.sqrt(np.maximum(res.var_all, 0.0)))
        n_all = res.n.reshape(n_dom, n_grp, -1).sum(axis=1)
        app_all = np.ones(len(ru.elements), dtype=bool)
    else:  # rule 4 without group weights: pool the respondents of the domain
        res = _linear_scores(design, by_group, wm, ys, answered, ru, n_dom=n_dom)
        pooled = _Cells(code=dom, n=n_dom, group=np.zeros(n_dom, dtype=np.int64), domain=np.arange(n_dom),
                        coef=[ru.coef[None]])
        res_all = _linear_scores(design, pooled, wm, ys, answered, ru, n_dom=n_dom)
        est_all, n_all, app_all = res_all.est, res_all.n, ru.applies[None]
        se_all = res_all.se

    frames = []
    for gi, gid in enumerate([*q.group_ids, "all"]):
        if gid == "all":
            e, s, n, app = est_all, se_all, n_all, app_all
        else:
            sl = np.arange(n_dom) * n_grp + gi
            e, s, n, app = res.est[sl], res.se[sl], res.n[sl], ru.applies[gid]
        cols = np.flatnonzero(app)
        frames.append(pd.DataFrame({
            "_dom": np.repeat(np.arange(n_dom), len(cols)),
            "_g": gi,
            "_el": np.tile(cols, n_dom),
            "group": gid,
            "node": np.tile(np.array(ru.elements, dtype=object)[cols], n_dom),
            "estimate": e[:, cols].ravel(),
            "se": s[:, cols].ravel(),
            "n": n[:, cols].ravel().astype(np.int64),
        }))
    out = pd.concat(frames, ignore_index=True).sort_values(["_dom", "_g", "_el"], kind="stable")
    out["ci_low"] = out["estimate"] - Z95 * out["se"]
    out["ci_high"] = out["estimate"] + Z95 * out["se"]
    by_cols = _as_list(by)
    if by_cols:
        keys = table.iloc[out["_dom"].to_numpy()].reset_index(drop=True)
        out = pd.concat([keys, out.reset_index(drop=True)], axis=1)
    return out[by_cols + SCORE_COLUMNS].reset_index(drop=True)


def _weighted_answers(q: Questionnaire, design: Design, by):
    """Shared start of the estimators: group codes, item scores (0 where missing), answered mask, ``w*m``, domains."""
    g = group_codes(q, design.data)
    ys = item_score_matrix(q, design.data, groups=g)
    dom, table = design.domains(by)
    answered = ~np.isnan(ys)
    if design._domain_mask is not None:
        answered &= design._domain_mask[:, None]
    wm = answered * design.weights.to_numpy()[:, None]
    np.nan_to_num(ys, copy=False)
    return g, ys, answered, wm, dom, table


@dataclass(frozen=True)
class _Cells:
    """Estimation cells: per row ``code`` in ``[0, n)``; per cell its ``group`` (index into ``coef``) and
    ``domain``; ``coef[k]`` the (items x elements) roll-up of group ``k``."""

    code: np.ndarray
    n: int
    group: np.ndarray
    domain: np.ndarray
    coef: list


@dataclass(frozen=True)
class _Linear:
    est: np.ndarray
    se: np.ndarray
    n: np.ndarray
    var_all: np.ndarray | None


@dataclass(frozen=True)
class _ScoreInfluence:
    """Influence of each respondent on its own cell's scores, kept as sufficient statistics (see score, Notes).

    ``sums(codes, ...)``: over the rows of each (part, cell) combination, ``A = sum r w m y`` and ``B = sum r w m``
    per item give the items' influence totals ``(A - R B) / D``; nodes are their roll-up with the cell's group."""

    cells: _Cells
    wm: np.ndarray
    wmy: np.ndarray
    r: np.ndarray
    inv_den: np.ndarray
    k: int
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_domains(self) -> int:
        return self.cells.n

    def sums(self, codes, n_codes, row_weights=None):
        # the cells' and the all-groups' variances need the same sums: compute them once
        memo_key = (id(codes), None if row_weights is None else id(row_weights))
        if memo_key not in self._memo:
            self._memo[memo_key] = (codes, row_weights, self._sums(codes, row_weights))
        return self._memo[memo_key][2]

    def _sums(self, codes, row_weights):
        key = codes.astype(np.int64) * self.cells.n + self.cells.code
        ukey, inv = np.unique(key, return_inverse=True)
        inv = inv.ravel()
        wm, wmy = (self.wm, self.wmy) if row_weights is None else (self.wm * row_weights[:, None],
                                                                   self.wmy * row_weights[:, None])
        part, cell = ukey // self.cells.n, ukey % self.cells.n
        a_sum = group_sum(inv, len(ukey), wmy)
        b_sum = group_sum(inv, len(ukey), wm)
        t_items = (a_sum - self.r[cell] * b_sum) * self.inv_den[cell]
        t = np.empty((len(ukey), self.k))
        cg = self.cells.group[cell]
        for g, a in enumerate(self.cells.coef):
            sel = np.flatnonzero(cg == g)
            t[sel] = t_items[sel] @ a
        return part, cell, t


@dataclass(frozen=True)
class _AllGroupsInfluence:
    """Influence on the group-weighted "all" scores of each domain: ``W_g`` times the own-group influence."""

    base: _ScoreInfluence
    weights: np.ndarray  # groups x elements (renormalised over applicable groups)
    n_domains: int

    @property
    def k(self) -> int:
        return self.base.k

    def sums(self, codes, n_codes, row_weights=None):
        part, cell, t = self.base.sums(codes, n_codes, row_weights)
        t = t * self.weights[self.base.cells.group[cell]]
        key = part * self.n_domains + self.base.cells.domain[cell]
        ukey, inv = np.unique(key, return_inverse=True)
        return ukey // self.n_domains, ukey % self.n_domains, group_sum(inv.ravel(), len(ukey), t)


def _linear_scores(design: Design, cells: _Cells, wm: np.ndarray, wmy: np.ndarray, answered: np.ndarray,
                   ru: Rollup, *, n_dom: int, all_weights: np.ndarray | None = None) -> _Linear:
    """Estimates, SEs and counts of every element in every cell; with ``all_weights`` (groups x elements) also the
    variance of the group-weighted "all" scores per domain. See :func:`score`, Notes."""
    n_el = len(ru.elements)
    num = group_sum(cells.code, cells.n, wmy)
    den = group_sum(cells.code, cells.n, wm)
    empty = den <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(empty, 0.0, num / den)
    inv_den = 1.0 / np.where(empty, 1.0, den)
    est = np.empty((cells.n, n_el))
    nan_mask = np.zeros((cells.n, n_el), dtype=bool)
    counts = np.zeros((cells.n, n_el))
    row_group = cells.group[cells.code]
    for k, a in enumerate(cells.coef):
        ck = np.flatnonzero(cells.group == k)
        est[ck] = r[ck] @ a
        nan_mask[ck] = (empty[ck].astype(float) @ (a != 0)) > 0
        rows = np.flatnonzero(row_group == k) if len(cells.coef) > 1 else slice(None)
        has = (answered[rows].astype(np.float32) @ (a != 0).astype(np.float32)) > 0
        counts += group_sum(cells.code[rows], cells.n, has.astype(float))
    est[nan_mask] = np.nan
    infl = _ScoreInfluence(cells, wm, wmy, r, inv_den, n_el)
    var = design.influence_variance(infl)
    var_all = None
    if all_weights is not None:
        var_all = design.influence_variance(_AllGroupsInfluence(infl, all_weights, n_dom))
    se = np.where(nan_mask, np.nan, np.sqrt(np.maximum(var, 0.0)))
    return _Linear(est=est, se=se, n=counts, var_all=var_all)


# --- influence values of scores, for contrasts and joint covariances ---------------------------------------------
def score_influence(q: Questionnaire, design: Design, by: str | Sequence[str] | None = None, *,
                    nodes: Sequence[str] = ("index",), group: str = "all") -> tuple[pd.DataFrame, np.ndarray]:
    """Influence values of the scores of ``nodes`` for ``group`` in every domain, for joint inference.

    Returns ``(table, z)``: ``table`` has the ``by`` columns, ``group``, ``node``, ``estimate`` (as :func:`score`);
    ``z`` is an array (respondents x rows of ``table``) whose column ``k`` holds each respondent's influence on the
    estimate of row ``k`` (zero outside its domain). ``design.vcov(z)`` is then the full covariance matrix of the
    estimates -- calibration-aware, domains kept as domains -- and a contrast ``c`` has variance ``c' V c``
    (e.g. a district against the rest of the city, with the rest-of-city score built from the same rows).

    Example
    -------
    >>> t, z = score_influence(q, d, by="district", nodes=["index"])        # doctest: +SKIP
    >>> V = d.vcov(z); np.sqrt(np.diag(V))                                  # equals score(...)'s se  # doctest: +SKIP
    """
    data = design.data
    g, y0, answered, wm, dom, table = _weighted_answers(q, design, by)
    n_dom, n_grp = len(table), len(q.group_ids)
    ru = rollup(q)
    el = {e: k for k, e in enumerate(ru.elements)}
    unknown = [x for x in nodes if x not in el]
    if unknown:
        raise InputError(f"unknown node(s) {unknown}; nodes are 'index', indicator ids and item ids")
    cols = [el[x] for x in nodes]
    gw = q.group_weights
    pooled = group == "all" and gw is None
    if group != "all" and group not in q.group_ids:
        raise InputError(f"unknown group '{group}' (groups: {', '.join(q.group_ids)}, all)")
    cell = dom if pooled else dom * n_grp + g
    n_cells = n_dom if pooled else n_dom * n_grp
    num = group_sum(cell, n_cells, wm * y0)
    den = group_sum(cell, n_cells, wm)
    empty = den <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(empty, 0.0, num / den)
    inv_den = 1.0 / np.where(empty, 1.0, den)
    zi = wm * (y0 - r[cell]) * inv_den[cell]            # influence on the row's own cell's item means
    coef = {k: ru.coef[None] if pooled else ru.coef[q.group_ids[k]] for k in ([0] if pooled else range(n_grp))}
    z_el = np.zeros((len(data), len(cols)))
    est_cells = np.zeros((n_cells, len(cols)))
    for k, a in coef.items():
        rows = slice(None) if pooled else np.flatnonzero(g == k)
        z_el[rows] = zi[rows] @ a[:, cols]
        ck = slice(None) if pooled else np.arange(k, n_cells, n_grp)
        est_cells[ck] = r[ck] @ a[:, cols]
    # a score with an item that has no respondent in its cell is missing (as in score): NaN, no influence
    cell_group = np.zeros(n_cells, dtype=np.int64) if pooled else np.arange(n_cells) % n_grp
    missing_cells = np.zeros((n_cells, len(cols)), dtype=bool)
    for k, a in coef.items():
        ck = cell_group == k
        missing_cells[ck] = (empty[ck].astype(float) @ (a[:, cols] != 0)) > 0
    est_cells[missing_cells] = np.nan
    z_el[missing_cells[cell]] = 0.0
    if group == "all" and not pooled:
        app = np.column_stack([ru.applies[x] for x in q.group_ids])[cols]      # nodes x groups
        wn = app * np.array([gw[x] for x in q.group_ids])
        wn = wn / wn.sum(axis=1, keepdims=True)
        z_el *= wn.T[g]
        used = wn.T[None] > 0
        e3 = est_cells.reshape(n_dom, n_grp, -1)
        est = np.where(np.any(np.isnan(e3) & used, axis=1), np.nan, np.where(used, e3 * wn.T[None], 0.0).sum(axis=1))
    elif group == "all":
        est = est_cells
    else:
        gi = q.group_ids.index(group)
        keep = ru.applies[group][cols]
        z_el = np.where(g[:, None] == gi, z_el, 0.0)[:, keep]
        cols = [c for c, k in zip(cols, keep) if k]
        nodes = [x for x, k in zip(nodes, keep) if k]
        est = est_cells[np.arange(n_dom) * n_grp + gi][:, keep]
    z = np.zeros((len(data), n_dom * len(cols)))
    for d_ in range(n_dom):
        rows = dom == d_
        z[rows, d_ * len(cols):(d_ + 1) * len(cols)] = z_el[rows]
    z[:, np.isnan(est.ravel())] = 0.0  # a missing estimate has no influence
    by_cols = _as_list(by)
    out = table.loc[np.repeat(np.arange(n_dom), len(cols)), by_cols].reset_index(drop=True) if by_cols else \
        pd.DataFrame(index=range(n_dom * len(cols)))
    out["group"] = group
    out["node"] = np.tile(np.array(nodes, dtype=object), n_dom)
    out["estimate"] = est.ravel()
    return out, z
