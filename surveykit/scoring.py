"""Scores of the indicator tree with design-based standard errors: contract 2 of docs/CONTRACTS.md.

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

Two faces of one estimator: :func:`score_estimates` returns an :class:`~surveykit.survey.estimates.Estimates`
(the table, the influence functions of every score, the design: ``.se``, ``.vcov(rows)``, ``.contrast(C)``,
``.take(rows)``) for joint inference -- contrasts between districts, groups or kinds of respondents, rank
intervals; :func:`score` is its ``.to_frame()``, the tidy table of contract 4.

Checked against R to 1e-8 in ``tests/test_scoring.py`` (fixture and R script in ``tests/fixtures/score``).

Example
-------
>>> import numpy as np, pandas as pd, surveykit as sk
>>> q = sk.load_questionnaire("tests/fixtures/score/questionnaire.yaml")
>>> df = pd.read_csv("tests/fixtures/score/data.csv")
>>> d = sk.Design(df, weights="w", strata="stratum", psu="psu", fpc="fpc")
>>> s = sk.score(q, d, by="district")
>>> s.query("group == 'all' and node == 'index'").round(2)[["district", "estimate", "se", "n"]]   # as R
    district  estimate    se    n
43         A     63.10  3.00  180
102        B     47.12  3.08  242
161        C     58.60  2.05  211
>>> e = score_estimates(q, d, by="district")
>>> a = e.keys.index[(e.keys.group == "all") & (e.keys.node == "index")]   # A, B, C
>>> c = np.zeros(len(e)); c[a[0]], c[a[1]] = 1.0, -1.0   # A - B (independent strata: sqrt(3.00^2 + 3.08^2))
>>> e.contrast(c).round(2)[["estimate", "se"]]
   estimate   se
0     15.98  4.3
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import InputError
from .spec.questionnaire import Item, Node, Questionnaire
from .survey.common import as_list, combine_codes, group_sum, location, numeric_column, show_value
from .survey.design import Design
from .survey.estimates import Estimates

_BAD = -1  # bucket of an answer outside the scale (refused, or missing with check=False)


# --- rule 1: item scores --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CodedAnswers:
    """Every answer coded once (rule 1): ``buckets[j]`` (items x rows) is ``x - min`` for a code on item ``j``'s
    scale and ``n_buckets - 1`` for a missing code or a blank; ``scores[j, b]`` is the item score of bucket ``b``
    (0 for the missing bucket) and ``valid[j, b]`` whether it has one. Scores are looked up, never recomputed."""

    buckets: np.ndarray
    scores: np.ndarray
    valid: np.ndarray

    @property
    def n_buckets(self) -> int:
        return self.scores.shape[1]


def code_answers(q: Questionnaire, data: pd.DataFrame, *, check: bool = True) -> CodedAnswers:
    """The answers of every item coded (see :class:`CodedAnswers`). An answer outside the scale raises
    :class:`~surveykit.errors.InputError` naming row and column (with ``check``; else it counts as missing)."""
    spans = [q.item_scale(i).max - q.item_scale(i).min for i in q.items]
    nb = max(spans) + 2
    dtype = np.int8 if nb < 127 else np.int32
    buckets = np.empty((len(q.items), len(data)), dtype=dtype)
    scores = np.zeros((len(q.items), nb))
    valid = np.zeros((len(q.items), nb), dtype=bool)
    work = (np.empty(len(data)), np.empty(len(data), dtype=np.intp))  # reused by every item
    for j, item in enumerate(q.items):
        sc = q.item_scale(item)
        _code_item(data, item.id, sc, nb - 1, check, buckets[j], work)
        codes = np.arange(sc.min, sc.max + 1, dtype=float)
        scores[j, :len(codes)] = sc.score(codes, item.reverse)
        valid[j, :len(codes)] = True
    return CodedAnswers(buckets, scores, valid)


def _code_item(data: pd.DataFrame, column: str, sc, missing: int, check: bool, b: np.ndarray, work) -> None:
    """One item's buckets, written to ``b``, by a lookup table over ``[lo-1, hi+1]`` (``lo``, ``hi`` the smallest
    and largest code, missing codes included) with blanks in one more entry; non-integers and values off the table
    are bad. ``work``: a float and an integer array of the same length, overwritten."""
    x = numeric_column(data, column, what="an answer code")
    lo, hi = min(sc.min, *sc.missing), max(sc.max, *sc.missing)
    lut = np.full(hi - lo + 4, _BAD, dtype=b.dtype)
    lut[sc.min - lo + 1:sc.max - lo + 2] = np.arange(sc.max - sc.min + 1)
    lut[[m - lo + 1 for m in sc.missing]] = missing
    lut[-1] = missing
    t, ti = work
    np.subtract(x, lo - 1, out=t)
    np.clip(t, 0, hi - lo + 2, out=t)  # below and above the table: its first and last-but-one entries
    np.copyto(t, hi - lo + 3, where=np.isnan(t))
    np.copyto(ti, t, casting="unsafe")
    np.take(lut, ti, out=b)
    frac = ti != t
    if frac.any():
        b[frac] = _BAD
    if b.min() == _BAD:
        bad = b == _BAD
        if check:
            pos = int(np.flatnonzero(bad)[0])
            allowed = f"{sc.min}..{sc.max}" + (f" or a missing code {list(sc.missing)}" if sc.missing else "")
            raise InputError(f"answer {show_value(data[column].iloc[pos])} is outside the scale ({allowed}); "
                             f"{int(bad.sum())} such value(s) in this column -- run `surveykit validate`",
                             **location(data, pos, column))
        b[bad] = missing


def item_applies(q: Questionnaire) -> np.ndarray:
    """(groups x items) whether each item applies to each group (questionnaire order)."""
    return np.array([[g in q.item_groups(i) for i in q.items] for g in q.group_ids], dtype=bool)


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
    coded = code_answers(q, data, check=check)
    applies = item_applies(q)
    out = np.empty((len(data), len(q.items)))
    for j in range(len(q.items)):
        out[:, j] = np.where(coded.valid[j], coded.scores[j], np.nan)[coded.buckets[j]]
        out[~applies[g, j], j] = np.nan
    return out


def group_codes(q: Questionnaire, data: pd.DataFrame) -> np.ndarray:
    """Integer code of each respondent's group (questionnaire order); unknown or blank groups are an error."""
    col = q.groups.column
    if col not in data.columns:
        raise InputError(f"no group column '{col}' in the data (the questionnaire's groups.column)",
                         file=data.attrs.get("source"), column=col)
    s = data[col]
    ids = list(q.group_ids)
    raw, uniq = pd.factorize(s)  # each distinct value read once; blanks -1
    known = pd.Index(ids).get_indexer(pd.Series(uniq).astype("string").str.strip())
    codes = np.append(known, -1).astype(np.int64)[raw]  # -1: unknown or blank
    bad = codes < 0
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        val = s.iloc[pos]
        what = "blank group" if pd.isna(val) or str(val).strip() == "" else f"unknown group '{val}'"
        raise InputError(f"{what} (declared groups: {', '.join(ids)}); {int(bad.sum())} row(s) affected",
                         **location(data, pos, col))
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
    have no respondent in a cell is NaN (and so is "all" if any of its groups is NaN). It is
    ``score_estimates(q, design, by).to_frame()``; see :func:`score_estimates` for the computation.

    Example
    -------
    >>> import pandas as pd, surveykit as sk
    >>> q = sk.load_questionnaire("tests/fixtures/score/questionnaire.yaml")
    >>> d = sk.Design(pd.read_csv("tests/fixtures/score/data.csv"), weights="w", strata="stratum", psu="psu",
    ...               fpc="fpc")
    >>> sk.score(q, d).query("node == 'index'").round(2)[["group", "estimate", "se", "n"]]   # as R
               group  estimate    se    n
    0         holder     53.25  2.14  267
    16  professional     58.11  2.08  187
    31        public     49.79  1.66  179
    43           all     54.02  1.71  633
    """
    return score_estimates(q, design, by).to_frame()


def score_estimates(q: Questionnaire, design: Design, by: str | Sequence[str] | None = None) -> Estimates:
    """The scores of :func:`score` as :class:`~surveykit.survey.estimates.Estimates`: the same table (``keys``:
    the ``by`` columns, ``group``, ``node``; ``estimate``; ``n``) with the influence functions of every score, for
    covariances (``.vcov(rows)``) and contrasts (``.contrast(C)``) -- e.g. a district against the rest of the city.

    Notes
    -----
    Computation. Let ``A_kcj = sum w m y`` and ``B_kcj = sum w m`` over the rows of sampling unit ``k`` (at any
    stage) in cell ``c`` (domain x group) for item ``j``. The unit's total of the influence values of the item mean
    ``R_cj = A_cj / B_cj`` is ``(A_kcj - R_cj B_kcj) / B_cj`` and that of a score ``sum_j a_j R_cj`` is the same
    combination of those totals; the "all" score's unit totals are the group-weighted sums over the unit's cells
    (or, pooled, the same formula over the unit's rows of the domain). So every variance and covariance needs only
    these per-unit sums -- one pass over the data, answers coded once and their scores looked up, per (unit x cell)
    weighted counts of each answer code -- and never a respondent x score matrix.
    """
    g = group_codes(q, design.data)
    coded = code_answers(q, design.data)
    dom, table = design.domains(by)
    n_dom, n_grp = len(table), len(q.group_ids)
    resp = _Responses(coded, design.weights.to_numpy(), dom * n_grp + g, n_dom * n_grp, n_grp, item_applies(q))
    ru = rollup(q)
    infl = _ScoreInfluence.build(q, ru, resp, design.stages, n_dom)
    counts = _answer_counts(ru, resp, design.subset_mask, n_dom)
    return _score_table(q, ru, infl, table, by, np.vstack(infl.estimates()), counts, design)


def _score_table(q: Questionnaire, ru: Rollup, infl: "_ScoreInfluence", table: pd.DataFrame, by, est: np.ndarray,
                 counts: np.ndarray, design: Design) -> Estimates:
    """The rows of the score table -- per domain, per group then "all", the elements that apply -- over the
    influence's domains (cells ``d * groups + g``, then "all" ``cells + d``)."""
    n_grp, n_dom = len(q.group_ids), len(table)
    apply = [ru.applies[x] for x in q.group_ids] + [np.ones(len(ru.elements), dtype=bool)]
    pg = np.concatenate([np.full(int(a.sum()), gi) for gi, a in enumerate(apply)])
    pe = np.concatenate([np.flatnonzero(a) for a in apply])
    dd = np.repeat(np.arange(n_dom), len(pg))
    gg, ee = np.tile(pg, n_dom), np.tile(pe, n_dom)
    where = np.where(gg < n_grp, dd * n_grp + gg, infl.resp.n_cells + dd)
    by_cols = as_list(by)
    keys = table.iloc[dd][by_cols].reset_index(drop=True) if by_cols else pd.DataFrame(index=range(len(dd)))
    keys["group"] = np.array([*q.group_ids, "all"], dtype=object)[gg]
    keys["node"] = np.array(ru.elements, dtype=object)[ee]
    return Estimates(keys, est[where, ee], counts[where, ee].astype(np.int64), infl, where * infl.k + ee, design)


@dataclass(frozen=True)
class _Responses:
    """The respondents as the score estimator sees them: coded answers, weights (0 outside a subset), each row's
    cell (``domain * groups + group``) and which items apply to which group (groups x items)."""

    coded: CodedAnswers
    w: np.ndarray
    cell: np.ndarray
    n_cells: int
    n_groups: int
    applies: np.ndarray

    def sums(self, codes: np.ndarray, row_weights: np.ndarray | None = None):
        """Per (part, cell) combination of the partition ``codes``: ``A = sum r w m y`` and ``B = sum r w m``
        (combinations x items; ``r`` the row weights), answers to items not applying to the cell's group left out.
        Returns (part, cell, A, B)."""
        combo, uniq = pd.factorize(codes.astype(np.int64) * self.n_cells + self.cell)
        part, cell = uniq // self.n_cells, uniq % self.n_cells
        w = self.w if row_weights is None else self.w * row_weights
        n_items, nb = self.coded.scores.shape
        a, b = np.empty((len(uniq), n_items)), np.empty((len(uniq), n_items))
        if len(uniq) * nb <= 4 * len(w) + 65536:  # weighted counts of each answer code, then a lookup
            key = np.empty(len(w), dtype=np.int64)
            base = combo.astype(np.int64) * nb
            for j in range(n_items):
                np.add(base, self.coded.buckets[j], out=key)
                h = np.bincount(key, weights=w, minlength=len(uniq) * nb).reshape(len(uniq), nb)
                a[:, j], b[:, j] = h @ self.coded.scores[j], h @ self.coded.valid[j]
        else:  # (nearly) one combination per row: sums of the rows' own values
            for j in range(n_items):
                bj = self.coded.buckets[j]
                a[:, j] = np.bincount(combo, weights=w * self.coded.scores[j][bj], minlength=len(uniq))
                b[:, j] = np.bincount(combo, weights=w * self.coded.valid[j][bj], minlength=len(uniq))
        ok = self.applies[cell % self.n_groups]
        return part, cell, np.where(ok, a, 0.0), np.where(ok, b, 0.0)


@dataclass(frozen=True)
class _Means:
    """Item means per cell (rows) from the sums of (part, cell) combinations: ``ratio = sum A / sum B`` (0 where
    no answer), ``inv_den = 1 / sum B`` (1 where none), ``empty``."""

    ratio: np.ndarray
    inv_den: np.ndarray
    empty: np.ndarray

    @classmethod
    def of(cls, cell: np.ndarray, n_cells: int, a: np.ndarray, b: np.ndarray) -> "_Means":
        num, den = group_sum(cell, n_cells, a), group_sum(cell, n_cells, b)
        empty = den <= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            return cls(np.where(empty, 0.0, num / den), 1.0 / np.where(empty, 1.0, den), empty)

    def scores(self, coef: np.ndarray, rows=slice(None)) -> np.ndarray:
        """``ratio @ coef`` for the cells ``rows``; NaN where an item the score uses has no answer."""
        est = self.ratio[rows] @ coef
        est[(self.empty[rows].astype(float) @ (coef != 0)) > 0] = np.nan
        return est

    def item_totals(self, cell: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Influence totals ``(A - R B) / D`` of the item means, for (part, cell) sums ``a``, ``b``."""
        return (a - self.ratio[cell] * b) * self.inv_den[cell]


@dataclass(frozen=True, eq=False)
class _ScoreInfluence:
    """Influence of each respondent on the scores of its cell (influence domain ``cell``) and on the "all" scores
    of its domain (domain ``n_cells + d``), kept as sufficient statistics (:func:`score_estimates`, Notes).

    The sums over the units of the design's last stage are computed once (``fine``); the partitions of the
    design's stages (the variance's) are served from them, any other partition (calibration margins) takes a pass
    over the rows. ``coef``: per group the (items x elements) roll-up; ``all_weights``: groups x elements, the
    group weights renormalised over the groups an element applies to, or None when "all" pools the respondents of
    the domain (``pooled``: their item means; ``pooled_coef``: the roll-up without groups)."""

    resp: _Responses
    stages: tuple
    fine: tuple
    means: _Means
    coef: tuple
    all_weights: np.ndarray | None
    pooled: _Means | None
    pooled_coef: np.ndarray
    n_dom: int

    @classmethod
    def build(cls, q: Questionnaire, ru: Rollup, resp: _Responses, stages, n_dom: int) -> "_ScoreInfluence":
        fine = resp.sums(stages[-1].cluster)
        all_weights = pooled = None
        if q.group_weights is not None:
            app = np.column_stack([ru.applies[x] for x in q.group_ids])  # elements x groups
            wn = app * np.array([q.group_weights[x] for x in q.group_ids])
            all_weights = (wn / wn.sum(axis=1, keepdims=True)).T
        else:
            pooled = _Means.of(fine[1] // resp.n_groups, n_dom, fine[2], fine[3])
        return cls(resp, tuple(stages), fine, _Means.of(fine[1], resp.n_cells, fine[2], fine[3]),
                   tuple(ru.coef[x] for x in q.group_ids), all_weights, pooled, ru.coef[None], n_dom)

    @property
    def n_domains(self) -> int:
        return self.resp.n_cells + self.n_dom

    @property
    def k(self) -> int:
        return self.pooled_coef.shape[1]

    def estimates(self) -> tuple[np.ndarray, np.ndarray]:
        """Scores per cell, and per domain for "all" (NaN where an item has no respondent, rules 3-4)."""
        n_grp = self.resp.n_groups
        est = np.empty((self.resp.n_cells, self.k))
        for gi, coef in enumerate(self.coef):
            est[gi::n_grp] = self.means.scores(coef, slice(gi, None, n_grp))
        if self.all_weights is None:
            return est, self.pooled.scores(self.pooled_coef)
        est3, wn = est.reshape(self.n_dom, n_grp, -1), self.all_weights[None, :, :]
        used = wn > 0
        est_all = np.where(np.any(np.isnan(est3) & used, axis=1), np.nan,
                           np.where(used, est3 * wn, 0.0).sum(axis=1))
        return est, est_all

    def totals(self, codes, n_codes, row_weights=None):
        part, cell, a, b = self._sums(codes, row_weights)
        n_grp = self.resp.n_groups
        t_items = self.means.item_totals(cell, a, b)
        t = np.empty((len(cell), self.k))
        for gi, coef in enumerate(self.coef):
            sel = np.flatnonzero(cell % n_grp == gi)
            t[sel] = t_items[sel] @ coef
        inv, p_all, d_all = combine_codes(part, cell // n_grp, self.n_dom)
        if self.all_weights is not None:
            t_all = group_sum(inv, len(p_all), t * self.all_weights[cell % n_grp])
        else:
            a_p, b_p = group_sum(inv, len(p_all), a), group_sum(inv, len(p_all), b)
            t_all = self.pooled.item_totals(d_all, a_p, b_p) @ self.pooled_coef
        return (np.concatenate([part, p_all]), np.concatenate([cell, self.resp.n_cells + d_all]),
                np.vstack([t, t_all]))

    def _sums(self, codes, row_weights):
        """(part, cell, A, B) of a partition: from ``fine`` for a stage of the design, else from the rows."""
        stage = next((s for s, st in enumerate(self.stages) if st.cluster is codes), None)
        if row_weights is not None or stage is None:
            return self.resp.sums(codes, row_weights)
        if stage == len(self.stages) - 1:
            return self.fine
        part, cell, a, b = self.fine
        for s in range(len(self.stages) - 1, stage, -1):
            part = self.stages[s].parent[part]
        inv, part, cell = combine_codes(part, cell, self.resp.n_cells)
        return part, cell, group_sum(inv, len(part), a), group_sum(inv, len(part), b)


# --- counts: respondents with an answer under each element ----------------------------------------------------------
def _answer_counts(ru: Rollup, resp: _Responses, inside: np.ndarray | None, n_dom: int) -> np.ndarray:
    """Per cell, and per domain for "all", the respondents with a score on at least one item under each element.

    The answered items that apply to a row's group are bits of a few bytes per row; with the rows sorted by cell,
    each element's count is one reduction per cell of "any of its items' bits". (An item's coefficient in an
    element for a group is non-zero exactly when it is under the element and applies to the group, so the test
    is the same for every group; "all" counts the sum over the domain's groups, pooled or not.)"""
    coef = ru.coef[None]
    packed = _answer_bits(resp.coded, resp.applies, resp.cell % resp.n_groups, inside)
    order = np.argsort(resp.cell.astype(np.uint16) if resp.n_cells < 2 ** 16 else resp.cell, kind="stable")
    present = np.flatnonzero(np.bincount(resp.cell, minlength=resp.n_cells))
    starts = np.searchsorted(resp.cell[order], present)
    packed = packed[:, order]
    under = _bits((coef != 0).T)                                           # elements x bytes
    counts = np.zeros((resp.n_cells, coef.shape[1]))
    for e, row in enumerate(under):
        has = np.zeros(packed.shape[1], dtype=bool)
        for k in np.flatnonzero(row):
            has |= (packed[k] & row[k]) != 0
        counts[present, e] = np.add.reduceat(has, starts, dtype=np.int64)
    return np.vstack([counts, counts.reshape(n_dom, resp.n_groups, -1).sum(axis=1)])


def _answer_bits(coded: CodedAnswers, applies: np.ndarray, group: np.ndarray, inside: np.ndarray | None
                 ) -> np.ndarray:
    """Per row, the items with an answer on the scale that apply to the row's group, as bits (bytes x rows);
    no bits outside the subset ``inside``."""
    n_items, n = coded.buckets.shape
    packed = np.zeros(((n_items + 7) // 8, n), dtype=np.uint8)
    missing = coded.n_buckets - 1
    for j in range(n_items):
        packed[j // 8] |= (coded.buckets[j] != missing).view(np.uint8) << (j % 8)
    for k, by_group in enumerate(_bits(applies).T):
        packed[k] &= by_group[group]
    if inside is not None:
        packed[:, ~inside] = 0
    return packed


def _bits(flags: np.ndarray) -> np.ndarray:
    """Rows of ``flags`` (x items, bool) as bits (rows x bytes; item ``j`` is bit ``j % 8`` of byte ``j // 8``)."""
    return np.packbits(flags, axis=1, bitorder="little").reshape(flags.shape[0], -1)
