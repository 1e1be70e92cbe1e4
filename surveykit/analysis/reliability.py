"""Reliability and validity of the instrument: Cronbach's alpha, McDonald's omega, item statistics, CFA.

Conventions (the same as R's ``psych::alpha``, Revelle 2024):

* the statistics are computed from the **pairwise-complete** covariance matrix ``C`` of the items (divisor n-1) and
  its correlation matrix ``R``, so a respondent who skipped an item ("don't know", not asked) still contributes
  to the other pairs;
* they describe the instrument in the sample: respondents are **not weighted** (as in psych and lavaan);
* on the questionnaire, items are the item scores of contract 2 rule 1 (0-100, reverse-keyed items already
  reversed), per respondent group (items not asked of a group are left out of that group's scale), per node.

Formulas (``k`` items):

* raw alpha (Cronbach 1951): ``k/(k-1) * (1 - tr(C)/sum(C))``; standardised alpha: the same on ``R``, i.e.
  ``k rbar / (1 + (k-1) rbar)`` with ``rbar`` the average inter-item correlation;
* Feldt (1965) interval of raw alpha, as ``psych::alpha.ci``: ``1 - (1-alpha) F_{1-a/2}(n-1, (n-1)(k-1))`` and
  ``1 - (1-alpha) F_{a/2}(n-1, (n-1)(k-1))``, n = number of rows;
* item-rest correlation (``psych`` ``r.drop``): ``(sum_j C_ij - C_ii) / sqrt(C_ii * sum(C[-i,-i]))``;
* alpha if item dropped: alpha of ``C[-i,-i]`` (and of ``R[-i,-i]``); undefined (NaN) for a 2-item scale;
* omega total (McDonald 1999, eq. 6.20b): ``(sum lambda)^2 / ((sum lambda)^2 + sum psi)`` from a one-factor
  maximum-likelihood factor model ``C = lambda lambda' + diag(psi)`` fitted to the pairwise covariance matrix
  (lambda keyed so that ``sum lambda > 0``); NaN for fewer than 3 items (not identified);
* confirmatory factor analysis (:func:`cfa`): one factor per indicator node, fitted by maximum likelihood with
  semopy; fit indices from the ML discrepancy as lavaan defines them (see :func:`cfa`).

Checked against ``psych::alpha`` (bfi data, with and without reverse-keyed items) and lavaan (omega, CFA fit
indices and standardised loadings) in ``tests/test_analysis_reliability.py``; fixtures and the R script in
``tests/fixtures/analysis``.

Examples run on the small fixture study of ``tests/fixtures/store`` (six units 甲区 to 己区, three groups, two
years): ``q`` is its questionnaire, ``responses`` the 2026 responses, ``design`` (= ``d2026``) and ``d2025`` the
designs of its study file (strata ``district``, PSUs ``street`` > ``respondent_id``, fpc at both stages, not
raked); ``tests/test_analysis_docs.py`` provides them when it runs the examples.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.stats import chi2 as chi2_dist
from scipy.stats import f as f_dist
from scipy.stats import ncx2

from ..errors import InputError
from ..scoring import group_codes, item_score_matrix
from ..spec.questionnaire import Questionnaire
from ..survey.common import as_list
from ._util import as_data

ALPHA_COLUMNS = ["k", "n", "raw_alpha", "std_alpha", "average_r", "ci_low", "ci_high"]


# --- matrices -------------------------------------------------------------------------------------------------
def pairwise_cov(x: np.ndarray) -> np.ndarray:
    """Pairwise-complete covariance matrix (divisor n_ij - 1, means over the pair's complete rows), as R's
    ``cov(x, use = "pairwise")``."""
    x = np.asarray(x, dtype=float)
    ok = ~np.isnan(x)
    if ok.all():
        return np.atleast_2d(np.cov(x, rowvar=False))
    m = ok.astype(float)
    x0 = np.where(ok, x, 0.0)
    n = m.T @ m                                          # n_ij
    s_i = x0.T @ m                                       # sum of x_i over rows where j is present
    s_ij = x0.T @ x0
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (s_ij - s_i * s_i.T / n) / (n - 1)
    return c


def _alpha_from(c: np.ndarray) -> tuple[float, float, float]:
    k = c.shape[0]
    if k < 2:
        return np.nan, np.nan, np.nan
    raw = (1.0 - np.trace(c) / c.sum()) * k / (k - 1)
    d = np.sqrt(np.diag(c))
    r = c / np.outer(d, d)
    sum_r = r.sum()
    std = (1.0 - k / sum_r) * k / (k - 1)
    avg_r = (sum_r - k) / (k * (k - 1))
    return float(raw), float(std), float(avg_r)


def _feldt(alpha: float, n: int, k: int, level: float) -> tuple[float, float]:
    if not np.isfinite(alpha) or n < 2 or k < 2:
        return np.nan, np.nan
    a = 1.0 - level
    df1, df2 = n - 1, (n - 1) * (k - 1)
    return (1.0 - (1.0 - alpha) * f_dist.ppf(1.0 - a / 2, df1, df2),
            1.0 - (1.0 - alpha) * f_dist.ppf(a / 2, df1, df2))


def _alpha_row(x: np.ndarray, ci: float) -> dict:
    c = pairwise_cov(x)
    raw, std, avg = _alpha_from(c)
    lo, hi = _feldt(raw, x.shape[0], x.shape[1], ci)
    return {"k": x.shape[1], "n": x.shape[0], "raw_alpha": raw, "std_alpha": std, "average_r": avg,
            "ci_low": lo, "ci_high": hi}


def _omega(x: np.ndarray) -> tuple[float, bool]:
    if x.shape[1] < 3 or x.shape[0] <= x.shape[1]:
        return np.nan, False
    lam, psi, ok = one_factor_ml(pairwise_cov(x))
    s = lam.sum() ** 2
    return float(s / (s + psi.sum())), ok


def _matrix(data: pd.DataFrame, items, reverse) -> tuple[np.ndarray, list[str]]:
    items = list(data.columns) if items is None else as_list(items)
    missing = [c for c in items if c not in data.columns]
    if missing:
        raise InputError(f"no column(s) {missing} in the data")
    rev = set(as_list(reverse))
    if rev - set(items):
        raise InputError(f"reverse-keyed item(s) {sorted(rev - set(items))} are not among the items")
    x = np.column_stack([pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                         for c in items]) if items else np.empty((len(data), 0))
    # reversing an item (max + min - x) only changes the sign of its covariances: negate it
    x = x * np.array([-1.0 if c in rev else 1.0 for c in items])
    return x, items


# --- the plain-data functions -----------------------------------------------------------------------------------
def cronbach_alpha(data: pd.DataFrame, items: Sequence[str] | None = None, *, reverse: Sequence[str] = (),
                   ci: float = 0.95) -> pd.DataFrame:
    """Cronbach's alpha of a scale, raw and standardised, with the Feldt confidence interval (``psych::alpha``).

    Parameters
    ----------
    data : respondents x items (numbers; NaN = missing). Other columns are ignored when ``items`` is given.
    items : the scale's columns (default: every column).
    reverse : reverse-keyed items (reversed as ``max + min - x`` before computing, as psych's ``keys``).
    ci : level of the Feldt interval of the raw alpha.

    Returns
    -------
    One-row DataFrame: ``k`` (items), ``n`` (rows), ``raw_alpha`` = k/(k-1) (1 - tr C / sum C) from the
    pairwise-complete covariance matrix C, ``std_alpha`` (the same from the correlation matrix R),
    ``average_r`` (mean inter-item correlation), ``ci_low``, ``ci_high`` (Feldt 1965:
    ``1 - (1-alpha) F_{1-a/2}(n-1, (n-1)(k-1))`` and ``1 - (1-alpha) F_{a/2}(...)``, psych's ``alpha.ci``).

    Source: Cronbach (1951) *Psychometrika* 16:297; Feldt, Woodruff & Salih (1987) *Appl. Psych. Meas.* 11:93;
    agrees with ``psych::alpha`` to 1e-10 (tests).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from surveykit.analysis import cronbach_alpha
    >>> x = pd.DataFrame({"a": [1, 2, 3, 4, 5.], "b": [2, 2, 3, 5, 5.], "c": [1, 3, 3, 4, 4.]})
    >>> cronbach_alpha(x)[["k", "n", "raw_alpha"]].round(4)
       k  n  raw_alpha
    0  3  5     0.9538
    """
    x, items = _matrix(data, items, reverse)
    return pd.DataFrame([_alpha_row(x, ci)])


def item_statistics(data: pd.DataFrame, items: Sequence[str] | None = None, *,
                    reverse: Sequence[str] = ()) -> pd.DataFrame:
    """Item analysis of a scale: item–rest correlation and alpha if the item is dropped (``psych::alpha``).

    Returns
    -------
    One row per item: ``item``, ``n`` (non-missing answers), ``mean``, ``sd`` (of the item as answered, before
    reversal),
    ``r_rest`` = ``(sum_j C_ij - C_ii) / sqrt(C_ii * sum C[-i,-i])`` -- the correlation of the item with the sum
    of the other items, from the pairwise covariance matrix (psych's ``r.drop``) --, ``alpha_if_dropped`` and
    ``std_alpha_if_dropped`` (alpha of the other items; NaN for a two-item scale, where psych reports a
    regression slope instead).

    Source: Revelle, ``psych::alpha`` (``item.stats$r.drop``, ``alpha.drop``); Nunnally & Bernstein (1994) §8.

    Example
    -------
    >>> import pandas as pd
    >>> x = pd.DataFrame({"a": [1, 2, 3, 4, 5.], "b": [2, 2, 3, 5, 5.], "c": [1, 3, 3, 4, 4.]})
    >>> item_statistics(x)[["item", "r_rest", "alpha_if_dropped"]].round(3)
      item  r_rest  alpha_if_dropped
    0    a   0.970             0.882
    1    b   0.903             0.933
    2    c   0.870             0.968
    """
    x, items = _matrix(data, items, reverse)
    c = pairwise_cov(x)
    k = len(items)
    rev = set(as_list(reverse))
    rows = []
    for i, name in enumerate(items):
        rest = [j for j in range(k) if j != i]
        v_rest = c[np.ix_(rest, rest)].sum()
        r_rest = (c[i].sum() - c[i, i]) / np.sqrt(c[i, i] * v_rest) if k > 1 else np.nan
        raw, std, _ = _alpha_from(c[np.ix_(rest, rest)]) if k > 2 else (np.nan, np.nan, np.nan)
        col = x[:, i] * (-1.0 if name in rev else 1.0)      # mean and sd of the item as answered
        ok = ~np.isnan(col)
        rows.append({"item": name, "n": int(ok.sum()), "mean": float(np.mean(col[ok])) if ok.any() else np.nan,
                     "sd": float(np.std(col[ok], ddof=1)) if ok.sum() > 1 else np.nan,
                     "r_rest": float(r_rest), "alpha_if_dropped": raw, "std_alpha_if_dropped": std})
    return pd.DataFrame(rows)


def one_factor_ml(c: np.ndarray, *, tol: float = 1e-14, max_iter: int = 2000) -> tuple[np.ndarray, np.ndarray, bool]:
    """Maximum-likelihood one-factor model ``C = l l' + diag(psi)``: returns ``(l, psi, converged)``.

    Jöreskog's (1967) fixed-point iteration on the correlation matrix R (ML is scale invariant, so the solution is
    rescaled to C): given the uniquenesses ``psi``, the ML loadings are ``l = psi^1/2 v sqrt(theta - 1)`` with
    ``(theta, v)`` the largest eigenpair of ``psi^-1/2 R psi^-1/2``; then ``psi = diag(R - l l')`` (kept above
    1e-8: a Heywood case). Stops when no uniqueness moves by more than ``tol``; if that takes more than
    ``max_iter`` steps (slow convergence towards a boundary) the fit is finished by L-BFGS-B with the uniquenesses
    bounded below by 1e-8. Loadings are keyed so that their sum is positive.
    """
    d = np.sqrt(np.diag(c))
    r = c / np.outer(d, d)
    vals, vecs = np.linalg.eigh(r)
    lam = vecs[:, -1] * np.sqrt(max(vals[-1], 0.0))
    psi = np.clip(1.0 - lam ** 2, 1e-3, None)
    converged = False
    for _ in range(max_iter):
        s = 1.0 / np.sqrt(psi)
        theta, v = np.linalg.eigh(r * np.outer(s, s))
        lam = np.sqrt(psi) * v[:, -1] * np.sqrt(max(theta[-1] - 1.0, 0.0))
        new = np.maximum(1.0 - lam ** 2, 1e-8)
        step = np.max(np.abs(new - psi))
        psi = new
        if step < tol:
            converged = True
            break
    if not converged:
        # slow near a boundary (a Heywood case: a uniqueness heading to 0): finish with a bounded quasi-Newton
        lam, psi, converged = _one_factor_lbfgs(r, lam, psi)
    if lam.sum() < 0:
        lam = -lam
    return lam * d, psi * d ** 2, converged


def _one_factor_lbfgs(r: np.ndarray, lam: np.ndarray, psi: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """ML one-factor fit by L-BFGS-B with uniquenesses bounded below by 1e-8 (analytic gradient)."""
    k = len(lam)

    def fun(theta):
        l_, p_ = theta[:k], theta[k:]
        sig = np.outer(l_, l_) + np.diag(p_)
        si = np.linalg.inv(sig)
        g = si - si @ r @ si
        return np.linalg.slogdet(sig)[1] + np.trace(r @ si), np.concatenate([2.0 * g @ l_, np.diag(g)])

    res = optimize.minimize(fun, np.concatenate([lam, psi]), jac=True, method="L-BFGS-B",
                            bounds=[(None, None)] * k + [(1e-8, None)] * k,
                            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 20000})
    return res.x[:k], res.x[k:], bool(res.success)


def mcdonald_omega(data: pd.DataFrame, items: Sequence[str] | None = None, *,
                   reverse: Sequence[str] = ()) -> pd.DataFrame:
    """McDonald's omega total of a scale from a one-factor maximum-likelihood model.

    ``omega = (sum_i l_i)^2 / ((sum_i l_i)^2 + sum_i psi_i)`` where ``l`` and ``psi`` are the loadings and unique
    variances of the one-factor model fitted by ML to the pairwise-complete covariance matrix of the (keyed)
    items. It equals alpha when the items are tau-equivalent and exceeds it otherwise.

    Returns
    -------
    One-row DataFrame: ``k``, ``n`` (rows), ``omega`` (NaN for fewer than 3 items: not identified), ``converged``.

    Source: McDonald (1999) *Test theory: a unified treatment*, eq. 6.20b; checked against lavaan's ML one-factor
    CFA on the same covariance matrix (tests).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0); f = rng.standard_normal(300)
    >>> x = pd.DataFrame({f"i{j}": l * f + rng.standard_normal(300) for j, l in enumerate([0.9, 0.7, 0.5, 0.8])})
    >>> mcdonald_omega(x).round(4)
       k    n   omega  converged
    0  4  300  0.7242       True
    >>> float(cronbach_alpha(x)["raw_alpha"].iloc[0]) < 0.7242      # congeneric items: alpha < omega
    True
    """
    x, items = _matrix(data, items, reverse)
    om, ok = _omega(x)
    return pd.DataFrame([{"k": len(items), "n": len(x), "omega": om, "converged": ok}])


# --- the questionnaire functions ---------------------------------------------------------------------------------
def _scales(q: Questionnaire, level: int | Sequence[str]) -> list[tuple[str, list[str]]]:
    """(node id, item ids under it) for the nodes of ``level`` (1 = first level) or the given node ids."""
    levels = q.level_of()
    if isinstance(level, int):
        nodes = [n for n in q.nodes if levels[n.id] == level]
        if not nodes:
            raise InputError(f"the questionnaire has no indicators at level {level}")
    else:
        by_id = {n.id: n for n in q.nodes}
        unknown = [x for x in level if x not in by_id]
        if unknown:
            raise InputError(f"unknown indicator(s) {unknown}")
        nodes = [by_id[x] for x in level]
    return [(n.id, [i.id for i in n.leaf_items()]) for n in nodes]


def _group_frames(q: Questionnaire, data: pd.DataFrame, groups, by):
    """Yield (by values, group id, respondents x items array of item scores of the group's respondents)."""
    g = group_codes(q, data)
    ys = item_score_matrix(q, data, groups=g)
    gids = list(q.group_ids) if groups is None else as_list(groups)
    for x in gids:
        if x != "all" and x not in q.group_ids:
            raise InputError(f"unknown group '{x}' (groups: {', '.join(q.group_ids)}, all)")
    by = as_list(by)
    if by:
        codes, uniq = pd.factorize(pd.MultiIndex.from_frame(data[by]), sort=True)
        keys = [(tuple(u), np.flatnonzero(codes == k)) for k, u in enumerate(uniq)]
    else:
        keys = [((), np.arange(len(data)))]
    for key, idx in keys:
        for gid in gids:
            rows = idx if gid == "all" else idx[g[idx] == q.group_ids.index(gid)]
            yield key, gid, ys[rows]


def _node_items(q: Questionnaire, scales, gid: str) -> list[tuple[str, list[int], list[str]]]:
    """Per node: item positions and ids applicable to the group."""
    ids = [i.id for i in q.items]
    out = []
    for node, items in scales:
        cols = [c for c in items if gid == "all" or q.applies(_item(q, c), gid)]
        if cols:
            out.append((node, [ids.index(c) for c in cols], cols))
    return out


def _node_blocks(q: Questionnaire, data: pd.DataFrame, level, groups, by):
    """Yield (by values, group id, node, item ids, item-score array) per domain, group and node of the level: the
    rows of the group's respondents who answered at least one of the node's items."""
    scales = _scales(q, level)
    per_group = {gid: _node_items(q, scales, gid) for gid in (list(q.group_ids) + ["all"])}
    for key, gid, ys in _group_frames(q, data, groups, by):
        for node, pos, cols in per_group[gid]:
            x = ys[:, pos]
            yield key, gid, node, cols, x[~np.isnan(x).all(axis=1)]


def reliability(q: Questionnaire, data, *, level: int | Sequence[str] = 1, groups: Sequence[str] | None = None,
                by: str | Sequence[str] | None = None, ci: float = 0.95) -> pd.DataFrame:
    """Alpha, omega and their ingredients for every indicator of a level, per respondent group (and domain).

    Parameters
    ----------
    q : the questionnaire.
    data : the responses (DataFrame) or a Design (its data are used; reliability is unweighted).
    level : 1 for the first-level indicators (default), 2 for the second level, or a list of node ids.
    groups : group ids (default: every group of the questionnaire); ``"all"`` pools every respondent
        (pairwise covariances of items asked of some groups then come from those groups only).
    by : optional domain column(s), e.g. ``"district"``.

    Returns
    -------
    DataFrame with the ``by`` columns, ``group``, ``node``, ``k`` (items of the node asked of the group), ``n``
    (respondents with at least one answer under the node), ``raw_alpha``, ``std_alpha``, ``average_r``,
    ``ci_low``, ``ci_high`` (Feldt interval of raw_alpha), ``omega`` (McDonald's omega total). Item scores
    (0-100, reverse-keyed items already reversed, don't-know missing); formulas in the module docstring and
    :func:`cronbach_alpha`, :func:`mcdonald_omega`.

    Source: Cronbach (1951); McDonald (1999) eq. 6.20b; Revelle's ``psych::alpha`` conventions (pairwise
    covariances, Feldt interval); checked against psych and R in the tests.

    Example
    -------
    >>> from surveykit.analysis import reliability
    >>> reliability(q, responses).query("group == 'holder'")[["node", "k", "raw_alpha", "omega"]].round(3)
          node  k  raw_alpha  omega
    0      law  4      0.781  0.783
    1  enforce  4      0.787  0.789
    2  outcome  5      0.817  0.820
    """
    rows = []
    for key, gid, node, cols, x in _node_blocks(q, as_data(data), level, groups, by):
        rows.append({**dict(zip(as_list(by), key)), "group": gid, "node": node, **_alpha_row(x, ci),
                     "omega": _omega(x)[0]})
    return pd.DataFrame(rows, columns=as_list(by) + ["group", "node", "k", "n", "raw_alpha", "std_alpha",
                                                       "average_r", "ci_low", "ci_high", "omega"])


def _item(q: Questionnaire, item_id: str):
    for i in q.items:
        if i.id == item_id:
            return i
    raise KeyError(item_id)


def item_analysis(q: Questionnaire, data, *, level: int | Sequence[str] = 1, groups: Sequence[str] | None = None,
                  by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Item–rest correlations and alpha-if-item-dropped for the items of every indicator of a level, per group.

    Returns
    -------
    DataFrame with the ``by`` columns, ``group``, ``node``, ``item``, ``n`` (answers), ``mean`` and ``sd`` (of
    the item score, 0-100), ``r_rest`` (item–rest correlation), ``alpha_if_dropped``, ``std_alpha_if_dropped``
    (see :func:`item_statistics`). A low ``r_rest`` or an ``alpha_if_dropped`` above the node's alpha flags an
    item that does not measure what its siblings measure.

    Source: Revelle, ``psych::alpha`` (``r.drop``, ``alpha.drop``); checked against psych in the tests.

    Example
    -------
    >>> from surveykit.analysis import item_analysis
    >>> t = item_analysis(q, responses, groups=["public"]).sort_values("r_rest").head(3)
    >>> t[["node", "item", "r_rest", "alpha_if_dropped"]].round(3)
          node item  r_rest  alpha_if_dropped
    2      law  q03   0.429             0.618
    0      law  q01   0.461             0.576
    5  outcome  q09   0.507             0.709
    """
    frames = []
    for key, gid, node, cols, x in _node_blocks(q, as_data(data), level, groups, by):
        st = item_statistics(pd.DataFrame(x, columns=cols), cols)
        st.insert(0, "node", node)
        st.insert(0, "group", gid)
        for c, v in reversed(list(zip(as_list(by), key))):
            st.insert(0, c, v)
        frames.append(st)
    cols = as_list(by) + ["group", "node", "item", "n", "mean", "sd", "r_rest", "alpha_if_dropped",
                           "std_alpha_if_dropped"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


# --- confirmatory factor analysis ---------------------------------------------------------------------------------
CFA_COLUMNS = ["group", "n", "k", "factors", "chi2", "df", "p_value", "cfi", "tli", "rmsea", "rmsea_ci_low",
               "rmsea_ci_high", "srmr", "converged"]


def _cfa_data(q: Questionnaire, data: pd.DataFrame, group: str, level: int | Sequence[str]):
    """Complete cases of the group on the items of the model, in answer-scale units; the factor structure."""
    g = group_codes(q, data)
    ys = item_score_matrix(q, data, groups=g)
    ids = [i.id for i in q.items]
    rows = np.ones(len(data), dtype=bool) if group == "all" else g == q.group_ids.index(group)
    factors = {}
    for node, items in _scales(q, level):
        cols = [c for c in items if group == "all" or q.applies(_item(q, c), group)]
        if cols:
            factors[node] = cols
    used = [c for cols in factors.values() for c in cols]
    if any(len(cols) < 2 for cols in factors.values()) and len(factors) == 1:
        raise InputError("a factor needs at least 3 items (2 with other factors)")
    # answer-scale units (the item score is 100*(x-min)/(max-min)): loadings read in scale points
    span = np.array([q.item_scale(_item(q, c)).max - q.item_scale(_item(q, c)).min for c in used], dtype=float)
    x = ys[np.ix_(rows, [ids.index(c) for c in used])] * span / 100.0
    x = x[~np.isnan(x).any(axis=1)]
    return pd.DataFrame(x, columns=used), factors


def _fit_cfa(x: pd.DataFrame, factors: dict[str, list[str]]):
    """The CFA fitted by semopy: (model, optimiser result, the data as fitted, {semopy name: id}). semopy reads a
    model written in its own syntax, so the ids (which may hold spaces, '#', '=~' ...) are replaced by plain names
    (``v0``.. for items, ``f0``.. for factors): no id can change the model."""
    import semopy

    items = {c: f"v{k}" for k, c in enumerate(x.columns)}
    latent = {f: f"f{k}" for k, f in enumerate(factors)}
    desc = "\n".join(f"{latent[f]} =~ " + " + ".join(items[c] for c in cols) for f, cols in factors.items())
    model = semopy.Model(desc)
    logging.getLogger("semopy").setLevel(logging.ERROR)
    xs = x.rename(columns=items)
    # a tight tolerance: semopy's default (SLSQP ftol 1e-6) leaves chi2 off lavaan's by ~1e-6 relative
    res = model.fit(xs, obj="MLW", solver="SLSQP", options={"ftol": 1e-12, "maxiter": 10000})
    back = {v: k for k, v in items.items()} | {v: k for k, v in latent.items()}
    return model, res, xs, back


def _fit_indices(x: pd.DataFrame, model, n_params: int, level: float = 0.90) -> dict:
    obs = list(model.vars["observed"])
    s = np.cov(x[obs].to_numpy(float), rowvar=False, bias=True)       # ML: divisor N
    sigma = model.calc_sigma()[0]
    p = len(obs)
    n = len(x)

    def f_ml(sig):
        return (np.linalg.slogdet(sig)[1] + np.trace(s @ np.linalg.inv(sig)) - np.linalg.slogdet(s)[1] - p)

    chi2 = n * f_ml(sigma)
    df = p * (p + 1) // 2 - n_params
    chi2_b = n * f_ml(np.diag(np.diag(s)))
    df_b = p * (p - 1) // 2
    cfi = 1.0 - max(chi2 - df, 0.0) / max(chi2 - df, chi2_b - df_b, 0.0)
    tli = (chi2_b / df_b - chi2 / df) / (chi2_b / df_b - 1.0)
    rmsea = np.sqrt(max(chi2 - df, 0.0) / (df * n))

    def ncp_for(prob):  # the noncentrality at which P(X <= chi2) = prob (lavaan's RMSEA interval)
        if chi2_dist.cdf(chi2, df) < prob:
            return 0.0
        hi = max(chi2, 1.0)
        while ncx2.cdf(chi2, df, hi) > prob:
            hi *= 2.0
        return optimize.brentq(lambda lam: ncx2.cdf(chi2, df, lam) - prob, 1e-12, hi, xtol=1e-12)

    a = (1.0 - level) / 2
    lo, up = ncp_for(1.0 - a), ncp_for(a)
    d = np.sqrt(np.diag(s))
    resid = (s - sigma) / np.outer(d, d)
    srmr = np.sqrt(np.mean(resid[np.tril_indices(p)] ** 2))
    return {"chi2": chi2, "df": df, "p_value": float(chi2_dist.sf(chi2, df)), "cfi": cfi, "tli": tli,
            "rmsea": rmsea, "rmsea_ci_low": np.sqrt(lo / (df * n)), "rmsea_ci_high": np.sqrt(up / (df * n)),
            "srmr": srmr}


def cfa(q: Questionnaire, data, *, groups: Sequence[str] | None = None,
        level: int | Sequence[str] = 1) -> pd.DataFrame:
    """Confirmatory factor analysis of the indicator structure: one factor per node, its items as indicators.

    Fitted by maximum likelihood (semopy, objective ``MLW``) on the complete cases of each respondent group (items
    not asked of the group are left out of its model; the answers in answer-scale points). Factors correlate freely;
    each factor's scale is set by its first loading (= 1).

    Fit indices, with ``S`` the sample covariance (divisor N), ``Sigma`` the fitted one, ``p`` items::

        F      = log|Sigma| + tr(S Sigma^-1) - log|S| - p            chi2 = N F,   df = p(p+1)/2 - parameters
        chi2_b = N (sum log S_ii - log|S|)                           df_b = p(p-1)/2   (independence model)
        CFI    = 1 - max(chi2 - df, 0) / max(chi2 - df, chi2_b - df_b, 0)            (Bentler 1990)
        TLI    = (chi2_b/df_b - chi2/df) / (chi2_b/df_b - 1)                         (Tucker & Lewis 1973)
        RMSEA  = sqrt(max(chi2 - df, 0) / (df N)), 90% interval by inverting the noncentral chi2 (Steiger 1990)
        SRMR   = sqrt(mean over i <= j of ((S_ij - Sigma_ij) / sqrt(S_ii S_jj))^2)      (Bentler 1995)

    These are lavaan's definitions (``estimator = "ML"``, normal likelihood): the tests agree with lavaan 0.6 to
    better than 1e-6. semopy's own ``calc_stats`` differs in two ways: its RMSEA divides by ``N - 1`` (about 1e-6
    higher here) and it has no SRMR; so the indices are computed here from semopy's estimates.

    Returns
    -------
    One row per group: ``group``, ``n`` (complete cases), ``k`` (items), ``factors``, ``chi2``, ``df``, ``p_value``,
    ``cfi``, ``tli``, ``rmsea``, ``rmsea_ci_low``, ``rmsea_ci_high``, ``srmr``, ``converged``. Conventional
    thresholds of good fit (Hu & Bentler 1999): CFI and TLI >= 0.95, RMSEA <= 0.06, SRMR <= 0.08.

    Source: Jöreskog (1969) *Psychometrika* 34:183 (ML CFA); Hu & Bentler (1999) *Struct. Equ. Model.* 6:1
    (cut-offs); Rosseel (2012) *J. Stat. Softw.* 48(2) (lavaan's definitions); semopy: Igolkina & Meshcheryakov
    (2020) *Struct. Equ. Model.* 27:952.

    Example
    -------
    >>> from surveykit.analysis import cfa
    >>> cfa(q, responses, groups=["holder"])[["group", "n", "cfi", "tli", "rmsea", "srmr"]].round(3)
        group   n    cfi    tli  rmsea   srmr
    0  holder  70  0.863  0.827  0.117  0.069
    """
    data = as_data(data)
    rows = []
    for gid in (list(q.group_ids) if groups is None else as_list(groups)):
        x, factors = _cfa_data(q, data, gid, level)
        model, res, xs, _ = _fit_cfa(x, factors)
        fit = _fit_indices(xs, model, len(model.param_vals))
        rows.append({"group": gid, "n": len(x), "k": x.shape[1], "factors": len(factors), **fit,
                     "converged": bool(res.success)})
    return pd.DataFrame(rows, columns=CFA_COLUMNS)


def cfa_loadings(q: Questionnaire, data, *, groups: Sequence[str] | None = None,
                 level: int | Sequence[str] = 1) -> pd.DataFrame:
    """Loadings of the CFA of :func:`cfa` (refitted): raw (answer-scale points) and standardised.

    Returns
    -------
    DataFrame: ``group``, ``factor``, ``item``, ``estimate`` (raw loading; the first item of each factor is fixed
    at 1), ``se`` (semopy's standard error from the information matrix; NaN for the fixed loading),
    ``std_estimate`` (completely standardised loading ``l_i sqrt(phi_f) / sqrt(Sigma_ii)``, lavaan's ``std.all``).
    Standardised loadings below about 0.5 flag weak items.

    Source: as :func:`cfa`; standardisation as lavaan's ``standardizedSolution`` (``std.all``).

    Example
    -------
    >>> from surveykit.analysis import cfa_loadings
    >>> cfa_loadings(q, responses, groups=["holder"]).sort_values("std_estimate").head(3).round(3)
         group   factor item  estimate     se  std_estimate
    11  holder  outcome  q10     2.003  0.423         0.594
    12  holder  outcome  q11     0.935  0.195         0.601
    7   holder  enforce  q08     1.072  0.221         0.611
    """
    data = as_data(data)
    frames = []
    for gid in (list(q.group_ids) if groups is None else as_list(groups)):
        x, factors = _cfa_data(q, data, gid, level)
        model, _, _, back = _fit_cfa(x, factors)
        ins = model.inspect(std_est=True)
        lo = ins[(ins["op"] == "~") & ins["rval"].map(back).isin(factors.keys())]
        se = pd.to_numeric(lo["Std. Err"], errors="coerce")
        frames.append(pd.DataFrame({"group": gid, "factor": lo["rval"].map(back).to_numpy(),
                                    "item": lo["lval"].map(back).to_numpy(),
                                    "estimate": lo["Estimate"].to_numpy(float), "se": se.to_numpy(float),
                                    "std_estimate": lo["Est. Std"].to_numpy(float)}))
    return pd.concat(frames, ignore_index=True)
