"""Derived importance: which indicators move overall satisfaction, and where to act (importance–performance).

The bureau asks "which indicators drive satisfaction?". Respondents are not asked to rate importance (stated
importance is known to be uninformative: everything is "very important"); importance is *derived* from how each
indicator's satisfaction goes with overall satisfaction across respondents.

Respondent-level scores (:func:`respondent_scores`; the rule every report states)
    A respondent's score on a node is the weighted mean of their item scores (contract 2 rule 1) under the node,
    with the weights of contract 2 rule 3 for the respondent's group renormalised over the items the respondent
    answered: ``s_i = sum_j c_gj m_ij y_ij / sum_j c_gj m_ij`` (``c_gj`` the item's coefficient in the node for
    group g, ``m_ij`` = 1 if answered). It is missing when the respondent answered fewer than ``min_share``
    (default half) of the node's items that apply to their group, and for a node that does not apply to them.
    With equal weights this is the mean of the answered items of each sub-indicator, rolled up.

Outcome and predictors
    The outcome is overall satisfaction, ``outcome.overall`` by default (the items on the overall effect, overall
    satisfaction and improvement). The predictors default to the nodes of the chosen level outside the outcome's
    first-level branch (level 1: law, enforcement, mechanism, awareness; level 2: their 9 sub-indicators).
    A predictor must apply to every respondent analysed: when all groups are pooled, nodes that do not apply to
    some group (e.g. judicial protection, not asked of the public) are left out, with a warning.

Estimators
    * Weighted least squares of the outcome on the predictors over respondents with all of them (listwise),
      ``b = (X'WX)^-1 X'Wy``, with design-based standard errors by linearisation: the influence of respondent i is
      ``(X'WX)^-1 x_i w_i e_i`` and their covariance is :meth:`surveykit.Design.vcov` (strata, clusters, fpc,
      calibration) -- exactly R's ``svyglm`` (Binder 1983; Lumley 2010 §5.2). Checked against ``svyglm`` in the
      tests. ``t`` tests on ``degf(design) + 1 - p`` degrees of freedom, as ``summary.svyglm``.
    * Relative importance: the Shapley value (LMG) decomposition of the weighted R^2 -- predictor j gets the
      average, over all orderings of the predictors, of the increase in R^2 when j is added (Lindeman, Merenda &
      Gold 1980; Grömping 2007 *Am. Stat.* 61:139). Computed exactly over all 2^p subsets (p <= 15):
      ``phi_j = sum_{S not containing j} |S|! (p-|S|-1)! / p! * (R2(S + j) - R2(S))``. Or Johnson's (2000)
      relative weights: ``eps_j = sum_k L_jk^2 beta_k^2`` with ``L = Rxx^(1/2)``, ``beta = Rxx^(-1/2) r_xy``. Both
      sum to R^2; ``share`` is the part of R^2. Replicate weights give their standard errors.
    * Importance–performance analysis (Martilla & James 1977, *J. Marketing* 41:77): importance (share of R^2)
      against performance (the node's score), split at the means of the nodes shown.

Examples run on the small fixture study of ``tests/fixtures/store`` (six units 甲区 to 己区, three groups, two
years): ``q`` is its questionnaire, ``responses`` the 2026 responses, ``design`` (= ``d2026``) and ``d2025`` the
designs of its study file (strata ``district``, PSUs ``street`` > ``respondent_id``, fpc at both stages, not
raked); ``tests/test_analysis_docs.py`` provides them when it runs the examples.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import t as t_dist

from ..errors import InputError
from ..scoring import group_codes, item_score_matrix, rollup, score
from ..spec.questionnaire import Questionnaire
from ..survey.common import as_list
from ..survey.design import Design
from ._util import check_lang

QUADRANTS: dict[str, dict[str, str]] = {
    "concentrate_here": {"zh": "重点改进", "en": "Concentrate here"},
    "keep_up": {"zh": "继续保持", "en": "Keep up the good work"},
    "low_priority": {"zh": "次要改进", "en": "Low priority"},
    "possible_overkill": {"zh": "可能投入过度", "en": "Possible overkill"},
}
MAX_EXACT_PREDICTORS = 15


# --- respondent-level scores -----------------------------------------------------------------------------------
def respondent_scores(q: Questionnaire, data, nodes: Sequence[str] | None = None, *,
                      min_share: float = 0.5) -> pd.DataFrame:
    """Each respondent's score (0-100) on nodes of the tree (the rule in the module docstring).

    Parameters
    ----------
    q : the questionnaire.
    data : the responses (DataFrame) or a Design (its data).
    nodes : node ids (default: every node and ``index``).
    min_share : minimum share of the node's applicable items a respondent must have answered.

    Returns
    -------
    DataFrame with the index of the data and one column per node: ``s_i = sum_j c_gj m_ij y_ij / sum_j c_gj m_ij``
    (NaN when fewer than ``min_share`` of the applicable items are answered or the node does not apply).

    Source: contract 2 rules 1 and 3 applied to one respondent (item weights renormalised over the answered
    items), the usual prorated scale score (e.g. SF-36 scoring: half the items required).

    Example
    -------
    >>> from surveykit.analysis import respondent_scores
    >>> respondent_scores(q, responses, ["law", "outcome.overall"]).describe().round(2)
              law  outcome.overall
    count  496.00           483.00
    mean    61.84            62.27
    std     19.62            22.57
    min      8.00             0.00
    25%     50.00            50.00
    50%     61.11            62.50
    75%     75.00            75.00
    max    100.00           100.00
    """
    data = data.data if isinstance(data, Design) else data
    ru = rollup(q)
    el = {e: k for k, e in enumerate(ru.elements)}
    nodes = ["index", *[n.id for n in q.nodes]] if nodes is None else as_list(nodes)
    unknown = [x for x in nodes if x not in el]
    if unknown:
        raise InputError(f"unknown node(s) {unknown}")
    if not 0 < min_share <= 1:
        raise InputError("min_share must be in (0, 1]")
    g = group_codes(q, data)
    ys = item_score_matrix(q, data, groups=g)
    m = ~np.isnan(ys)
    y0 = np.where(m, ys, 0.0)
    cols = [el[x] for x in nodes]
    out = np.full((len(data), len(cols)), np.nan)
    for k, gid in enumerate(q.group_ids):
        rows = np.flatnonzero(g == k)
        if not len(rows):
            continue
        c = ru.coef[gid][:, cols]                                   # items x nodes
        num = y0[rows] @ c
        den = m[rows].astype(float) @ c
        n_ans = m[rows].astype(float) @ (c > 0)
        n_app = (c > 0).sum(axis=0)
        ok = (n_app > 0) & (n_ans >= np.maximum(min_share * n_app - 1e-9, 1.0)) & (den > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[rows] = np.where(ok, num / den, np.nan)
    return pd.DataFrame(out, index=data.index, columns=nodes)


def _default_predictors(q: Questionnaire, outcome: str, level: int) -> list[str]:
    levels = q.level_of()
    parent = q.parent_of()
    if outcome not in levels or outcome == "index":
        raise InputError(f"unknown outcome node '{outcome}'")

    def top(x: str) -> str:
        while parent[x] != "index":
            x = parent[x]
        return x

    branch = top(outcome)
    preds = [n.id for n in q.nodes if levels[n.id] == level and top(n.id) != branch]
    if not preds:
        raise InputError(f"no level-{level} indicator outside the outcome's branch '{branch}'")
    return preds


def _model_frame(q: Questionnaire, design: Design, outcome: str, predictors, level: int, group: str | None,
                 min_share: float):
    """Outcome, predictor matrix, weights and the boolean mask of the rows used."""
    preds = _default_predictors(q, outcome, level) if predictors is None else as_list(predictors)
    if outcome in preds:
        raise InputError("the outcome cannot also be a predictor")
    if len(preds) < 1:
        raise InputError("at least one predictor is needed")
    data = design.data
    g = group_codes(q, data)
    if group is not None and group not in q.group_ids:
        raise InputError(f"unknown group '{group}' (groups: {', '.join(q.group_ids)})")
    gids = q.group_ids if group is None else (group,)
    by_id = {n.id: n for n in q.nodes}
    dropped = [p for p in preds if p in by_id and not all(q.applies(by_id[p], x) for x in gids)]
    if dropped:
        if predictors is not None:
            raise InputError(f"predictor(s) {dropped} do not apply to every group analysed "
                             f"({', '.join(gids)}); choose a group or other predictors")
        warnings.warn(f"left out {dropped}: not asked of every group analysed; analyse one group to include them",
                      stacklevel=3)
        preds = [p for p in preds if p not in dropped]
    sc = respondent_scores(q, data, [outcome, *preds], min_share=min_share).to_numpy()
    w = design.weights.to_numpy()
    use = (w > 0) & ~np.isnan(sc).any(axis=1)
    if group is not None:
        use &= g == q.group_ids.index(group)
    if use.sum() <= len(preds) + 1:
        raise InputError(f"too few respondents ({int(use.sum())}) with the outcome and all predictors")
    return sc[:, 0], sc[:, 1:], w, use, preds


def _degf(design: Design, use: np.ndarray) -> int:
    """R's ``degf`` of the design restricted to the rows used: first-stage units minus strata with such rows."""
    st = design.stages[0]
    clusters = np.unique(st.cluster[use])
    strata = np.unique(st.parent[clusters])
    return int(len(clusters) - len(strata))


def driver_regression(q: Questionnaire, design: Design, *, outcome: str = "outcome.overall",
                      predictors: Sequence[str] | None = None, level: int = 1, group: str | None = None,
                      standardize: bool = False, min_share: float = 0.5) -> pd.DataFrame:
    """Weighted regression of overall satisfaction on indicator scores, with design-based standard errors.

    Parameters
    ----------
    q, design : the questionnaire and the survey design (a :meth:`~surveykit.Design.subset` for one district).
    outcome : the outcome node (respondent-level score), default ``outcome.overall``.
    predictors : node ids; default the level-``level`` nodes outside the outcome's branch (module docstring).
    group : a respondent group, or None for every respondent (design-weighted).
    standardize : regress z-scores (weighted means and SDs of the analysis sample) instead of 0-100 scores.

    Returns
    -------
    One row per term (``Intercept`` then the predictors): ``term``, ``estimate`` = ``(X'WX)^-1 X'Wy``, ``se``
    (linearisation, ``V = A^-1 [design covariance of sum_i w_i x_i e_i] A^-1``, ``A = X'WX``, as ``svyglm``),
    ``t``, ``df`` (``degf + 1 - p``), ``p_value``, ``ci_low``/``ci_high`` (95%, t quantile), ``std_estimate``
    (``b_j sd(x_j)/sd(y)``, weighted), ``n`` (respondents used), ``r2`` (weighted R^2).

    Source: Binder (1983) *Int. Stat. Rev.* 51:279; Lumley (2010) *Complex Surveys* §5.2 (R ``svyglm``).

    Example
    -------
    >>> from surveykit.analysis import driver_regression
    >>> driver_regression(q, design)[["term", "estimate", "se", "p_value"]].round(3)
            term  estimate     se  p_value
    0  Intercept     9.648  2.741    0.004
    1        law     0.529  0.060    0.000
    2    enforce     0.303  0.069    0.001
    """
    y, x, w, use, preds = _model_frame(q, design, outcome, predictors, level, group, min_share)
    yu, xu, wu = y[use], x[use], w[use]
    mean_x = np.average(xu, axis=0, weights=wu)
    sd_x = np.sqrt(np.average((xu - mean_x) ** 2, axis=0, weights=wu))
    mean_y = np.average(yu, weights=wu)
    sd_y = np.sqrt(np.average((yu - mean_y) ** 2, weights=wu))
    if standardize:
        xu = (xu - mean_x) / sd_x
        yu = (yu - mean_y) / sd_y
    xm = np.column_stack([np.ones(len(yu)), xu])
    a = xm.T @ (xm * wu[:, None])
    b = np.linalg.solve(a, xm.T @ (wu * yu))
    e = yu - xm @ b
    z = np.zeros((len(y), xm.shape[1]))
    z[use] = np.linalg.solve(a, (xm * (wu * e)[:, None]).T).T     # influence: A^-1 x_i w_i e_i
    v = design.vcov(z)
    se = np.sqrt(np.maximum(np.diag(v), 0.0))
    df = _degf(design, use) + 1 - xm.shape[1]
    tt = b / se
    p = 2.0 * t_dist.sf(np.abs(tt), df)
    q975 = t_dist.ppf(0.975, df)
    r2 = 1.0 - np.sum(wu * e * e) / np.sum(wu * (yu - np.average(yu, weights=wu)) ** 2)
    std = np.concatenate([[np.nan], b[1:] * (1.0 if standardize else sd_x / sd_y)])
    return pd.DataFrame({"term": ["Intercept", *preds], "estimate": b, "se": se, "t": tt, "df": df, "p_value": p,
                         "ci_low": b - q975 * se, "ci_high": b + q975 * se, "std_estimate": std,
                         "n": int(use.sum()), "r2": r2})


# --- relative importance ---------------------------------------------------------------------------------------
def _weighted_corr(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    d = np.column_stack([y, x])
    mu = np.average(d, axis=0, weights=w)
    dc = d - mu
    c = (dc * w[:, None]).T @ dc / w.sum()
    s = np.sqrt(np.diag(c))
    return c / np.outer(s, s)


def r2_all_subsets(corr: np.ndarray) -> np.ndarray:
    """R^2 of the regression of variable 0 on every subset of variables 1..p of a correlation matrix.

    Returns an array indexed by bitmask (bit j = predictor j): ``R2(S) = r_S' R_SS^-1 r_S``."""
    p = corr.shape[0] - 1
    if p > MAX_EXACT_PREDICTORS:
        raise InputError(f"{p} predictors: the exact decomposition is limited to {MAX_EXACT_PREDICTORS}")
    r = corr[0, 1:]
    rxx = corr[1:, 1:]
    out = np.zeros(1 << p)
    for mask in range(1, 1 << p):
        idx = [j for j in range(p) if mask >> j & 1]
        rs = r[idx]
        out[mask] = rs @ np.linalg.solve(rxx[np.ix_(idx, idx)], rs)
    return out


def shapley_r2(corr: np.ndarray) -> np.ndarray:
    """LMG / Shapley decomposition of R^2 (variable 0 on 1..p of a correlation matrix), exact over all subsets.

    ``phi_j = sum_{S not containing j} |S|! (p-|S|-1)! / p! * (R2(S + j) - R2(S))`` (Grömping 2007); the values sum
    to the R^2 of the full model.

    Example
    -------
    >>> import numpy as np
    >>> c = np.array([[1, .5, .4], [.5, 1, .3], [.4, .3, 1]])      # y, x1, x2
    >>> shapley_r2(c).round(4)                                      # ((.25 + .3187 - .16)/2, (.16 + .3187 - .25)/2)
    array([0.2043, 0.1143])
    """
    p = corr.shape[0] - 1
    r2 = r2_all_subsets(corr)
    fact = [math.factorial(k) for k in range(p + 1)]
    weight = np.array([fact[k] * fact[p - k - 1] / fact[p] for k in range(p)])
    size = np.array([bin(m).count("1") for m in range(1 << p)])
    phi = np.zeros(p)
    masks = np.arange(1 << p)
    for j in range(p):
        without = masks[(masks >> j & 1) == 0]
        phi[j] = np.sum(weight[size[without]] * (r2[without | (1 << j)] - r2[without]))
    return phi


def johnson_weights(corr: np.ndarray) -> np.ndarray:
    """Johnson's (2000) relative weights of predictors 1..p for variable 0 of a correlation matrix.

    ``eps_j = sum_k L_jk^2 beta_k^2`` with ``L = Rxx^(1/2)`` (symmetric square root) and ``beta = L^-1 r_xy``, the
    weights of the orthogonal counterparts of the predictors; they sum to R^2. Source: Johnson (2000)
    *Multivariate Behav. Res.* 35:1.

    Example
    -------
    >>> import numpy as np
    >>> c = np.array([[1, .5, .4], [.5, 1, .3], [.4, .3, 1]])
    >>> float(johnson_weights(c).sum().round(4))                    # = R^2 = r' Rxx^-1 r
    0.3187
    """
    r = corr[0, 1:]
    vals, vecs = np.linalg.eigh(corr[1:, 1:])
    half = vecs @ np.diag(np.sqrt(vals)) @ vecs.T                  # Rxx^(1/2), symmetric
    beta = np.linalg.solve(half, r)                                # weights of y on the orthogonal counterparts
    return (half ** 2) @ (beta ** 2)


def relative_importance(q: Questionnaire, design: Design, *, outcome: str = "outcome.overall",
                        predictors: Sequence[str] | None = None, level: int = 1, group: str | None = None,
                        method: str = "shapley", replicates=None, min_share: float = 0.5) -> pd.DataFrame:
    """Relative importance of indicators for overall satisfaction: Shapley/LMG or Johnson's relative weights.

    Parameters
    ----------
    method : ``"shapley"`` (exact LMG over all subsets, p <= 15) or ``"johnson"`` (relative weights).
    replicates : optional :class:`~surveykit.survey.replicates.ReplicateDesign` (``design.bootstrap(...)``) for
        standard errors of the shares (the whole computation is repeated with each replicate's weights).
    Other parameters as :func:`driver_regression`.

    Returns
    -------
    One row per predictor: ``node``, ``importance`` (its part of R^2; the column sums to ``r2``), ``share``
    (importance / R^2, sums to 1), ``rank`` (1 = most important), ``r2``, ``n``; with ``replicates`` also
    ``se``, ``ci_low``, ``ci_high`` of ``share`` (normal 95%). Weighted correlations of the respondent-level
    scores (listwise), so R^2 is that of :func:`driver_regression`.

    Formulas: LMG ``phi_j = sum_{S not containing j} |S|!(p-|S|-1)!/p! (R2(S+j) - R2(S))``, ``R2(S) =
    r_S' R_SS^-1 r_S``; Johnson ``eps_j = sum_k (Rxx^1/2)_jk^2 beta_k^2``, ``beta = Rxx^-1/2 r_xy``.
    Sources: Lindeman, Merenda & Gold (1980); Grömping (2007) *Am. Stat.* 61:139; Johnson (2000) *Multivariate
    Behav. Res.* 35:1.

    Example
    -------
    >>> from surveykit.analysis import relative_importance
    >>> relative_importance(q, design, level=1)[["node", "share", "rank"]].round(3)
          node  share  rank
    0      law  0.579     1
    1  enforce  0.421     2
    """
    if method not in ("shapley", "johnson"):
        raise InputError(f"method must be 'shapley' or 'johnson', not '{method}'")
    fn = shapley_r2 if method == "shapley" else johnson_weights
    y, x, w, use, preds = _model_frame(q, design, outcome, predictors, level, group, min_share)
    if method == "shapley" and len(preds) > MAX_EXACT_PREDICTORS:
        raise InputError(f"{len(preds)} predictors: the exact Shapley decomposition is limited to "
                         f"{MAX_EXACT_PREDICTORS}; use method='johnson' or fewer predictors")
    corr = _weighted_corr(y[use], x[use], w[use])
    imp = fn(corr)
    r2 = float(imp.sum())
    out = pd.DataFrame({"node": preds, "importance": imp, "share": imp / r2})
    out["rank"] = out["share"].rank(ascending=False, method="min").astype(int)
    out["r2"] = r2
    out["n"] = int(use.sum())
    if replicates is not None:
        yu, xu = y[use], x[use]

        def stat(weights: np.ndarray) -> np.ndarray:
            wu = weights[use]
            v = fn(_weighted_corr(yu, xu, wu))
            return v / v.sum()

        rep = replicates.estimate_with_replicates(stat)
        out["se"] = rep["se"].to_numpy()
        out["ci_low"] = rep["ci_low"].to_numpy()
        out["ci_high"] = rep["ci_high"].to_numpy()
    return out


# --- importance-performance ----------------------------------------------------------------------------------------
def importance_performance(q: Questionnaire, design: Design, *, outcome: str = "outcome.overall",
                           predictors: Sequence[str] | None = None, level: int = 1, group: str | None = None,
                           method: str = "shapley", lang: str = "zh", min_share: float = 0.5) -> pd.DataFrame:
    """Importance–performance table: derived importance against the indicator's score, in four quadrants.

    Importance is the ``share`` of :func:`relative_importance`; performance is the node's score (contract 2) for
    ``group`` (``all`` when None) in the design's data (pass ``design.subset(...)`` for one district). Quadrants are
    split at the means of the nodes' importance and performance (Martilla & James 1977): high importance and low
    performance = ``concentrate_here`` (重点改进), high/high = ``keep_up`` (继续保持), low/low = ``low_priority``
    (次要改进), low importance and high performance = ``possible_overkill`` (可能投入过度); a value equal to the mean
    counts as high.

    Returns
    -------
    One row per predictor: ``node``, ``label``, ``importance``, ``performance``, ``performance_se``,
    ``importance_mean``, ``performance_mean``, ``quadrant`` (code), ``quadrant_label`` (in ``lang``).

    Source: Martilla & James (1977) *J. Marketing* 41(1):77; derived importance as in ACSI practice
    (Fornell et al. 1996 *J. Marketing* 60(4):7).

    Example
    -------
    >>> from surveykit.analysis import importance_performance, quadrant_chart
    >>> ipa = importance_performance(q, design, level=2, group="holder")
    >>> ipa[["node", "importance", "performance", "quadrant"]].round(3)
                   node  importance  performance           quadrant
    0         law.rules       0.215       63.384  possible_overkill
    1        law.policy       0.260       58.971   concentrate_here
    2     enforce.admin       0.307       63.268            keep_up
    3  enforce.judicial       0.218       63.471  possible_overkill
    >>> fig = quadrant_chart(ipa)
    """
    check_lang(lang)
    imp = relative_importance(q, design, outcome=outcome, predictors=predictors, level=level, group=group,
                              method=method, min_share=min_share)
    sc = score(q, design)
    sc = sc[(sc["group"] == (group or "all")) & sc["node"].isin(imp["node"])].set_index("node")
    out = pd.DataFrame({"node": imp["node"], "label": [q.label(x, lang) for x in imp["node"]],
                        "importance": imp["share"].to_numpy(),
                        "performance": sc["estimate"].reindex(imp["node"]).to_numpy(),
                        "performance_se": sc["se"].reindex(imp["node"]).to_numpy()})
    out["importance_mean"] = out["importance"].mean()
    return assign_quadrants(out, lang)


def assign_quadrants(table: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """``table`` (columns ``importance``, ``importance_mean``, ``performance``) with ``performance_mean`` (over its
    rows), ``quadrant`` and ``quadrant_label``: split at the means (Martilla & James 1977) -- high importance and
    low performance is where to concentrate."""
    out = table.assign(performance_mean=table["performance"].mean())
    hi_i = out["importance"] >= out["importance_mean"]
    hi_p = out["performance"] >= out["performance_mean"]
    out["quadrant"] = np.select([hi_i & ~hi_p, hi_i & hi_p, ~hi_i & ~hi_p], ["concentrate_here", "keep_up",
                                                                           "low_priority"], "possible_overkill")
    out["quadrant_label"] = [QUADRANTS[c][lang] for c in out["quadrant"]]
    return out


def quadrant_chart(table: pd.DataFrame, *, title: str | None = None, lang: str = "zh"):
    """Importance–performance quadrant chart (seaborn) of an :func:`importance_performance` table.

    Performance on the x axis, importance (share of R^2, in %) on the y axis, dashed lines at the means, one
    labelled point per indicator, the quadrant names in the corners. Returns a matplotlib Figure.

    Source: the importance–performance grid of Martilla & James (1977).

    Example
    -------
    >>> from surveykit.analysis import importance_performance
    >>> fig = quadrant_chart(importance_performance(q, design), title="驱动因素")
    >>> [t.get_text() for t in fig.axes[0].texts]            # a label per indicator, then the four quadrants
    ['法律政策', '执法保护', ' 重点改进 ', ' 继续保持 ', ' 次要改进 ', ' 可能投入过度 ']
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from ..report.charts import setup

    check_lang(lang)
    setup()
    d = table.assign(importance_pct=100 * table["importance"])
    fig, ax = plt.subplots(figsize=(7.2, 5.4))
    palette = {"concentrate_here": "#c0392b", "keep_up": "#1f4e79", "low_priority": "#7f8c8d",
               "possible_overkill": "#d68910"}
    sns.scatterplot(data=d, x="performance", y="importance_pct", hue="quadrant", palette=palette, s=90,
                    legend=False, ax=ax, zorder=3)
    px, py = float(d["performance_mean"].iloc[0]), 100 * float(d["importance_mean"].iloc[0])
    ax.axvline(px, color="#999999", ls="--", lw=1)
    ax.axhline(py, color="#999999", ls="--", lw=1)
    texts = [ax.annotate(r["label"], (r["performance"], r["importance_pct"]), xytext=(6, 4),
                         textcoords="offset points", fontsize=9) for _, r in d.iterrows()]
    xr = d["performance"].max() - d["performance"].min()
    yr = d["importance_pct"].max() - d["importance_pct"].min()
    ax.set_xlim(d["performance"].min() - 0.25 * xr - 0.5, d["performance"].max() + 0.35 * xr + 0.5)
    ax.set_ylim(max(0.0, d["importance_pct"].min() - 0.25 * yr - 1), d["importance_pct"].max() + 0.25 * yr + 1)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    corners = {"concentrate_here": (x0, y1, "left", "top"), "keep_up": (x1, y1, "right", "top"),
               "low_priority": (x0, y0, "left", "bottom"), "possible_overkill": (x1, y0, "right", "bottom")}
    for code, (xx, yy, ha, va) in corners.items():
        ax.text(xx, yy, " " + QUADRANTS[code][lang] + " ", ha=ha, va=va, fontsize=9, color=palette[code],
                fontweight="bold")
    _separate_labels(fig, texts)
    ax.set_xlabel("表现（得分）" if lang == "zh" else "Performance (score)")
    ax.set_ylabel("重要性（占R²的%）" if lang == "zh" else "Importance (% of R²)")
    if title:
        ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    sns.despine(ax=ax)
    fig.tight_layout()
    return fig


def _separate_labels(fig, texts, max_rounds: int = 60) -> None:
    """Nudge overlapping point labels apart vertically (in offset points), so no label hides another."""
    if len(texts) < 2:
        return
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    to_points = 72.0 / fig.dpi
    for _ in range(max_rounds):
        boxes = [t.get_window_extent(renderer) for t in texts]
        moved = False
        for i in range(len(texts)):
            for j in range(i):
                a, b = boxes[i], boxes[j]
                if a.overlaps(b):
                    # move the lower label down (or the later one up) by the overlap plus a pixel
                    if a.y0 <= b.y0:
                        dy = -(a.y1 - b.y0 + 1.0)
                    else:
                        dy = b.y1 - a.y0 + 1.0
                    x, y = texts[i].xyann
                    texts[i].xyann = (x, y + dy * to_points)
                    boxes[i] = texts[i].get_window_extent(renderer)
                    moved = True
        if not moved:
            return
