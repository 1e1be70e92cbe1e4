"""Comparisons with design-based standard errors: a unit against the rest of the city, year on year, group gaps.

Every comparison is a contrast ``d = a - b`` of two scores (contract 2) tested with a normal (Wald) test, the
same normal approximation as the scores' confidence intervals:

    z = d / se(d),   p = 2 (1 - Phi(|z|)),   95% CI  d ± 1.96 se(d)

* **Same sample** (a unit vs the rest of the city, two groups of respondents, two kinds of firms): both scores are
  computed from one design, so ``var(d) = V_aa + V_bb - 2 V_ab`` with ``V`` the covariance matrix of the two
  estimates' influence totals (:func:`surveykit.scoring.score_estimates` and its ``contrast``; strata,
  clusters, fpc and calibration included; R's ``svycontrast``). This is a proper test of the difference, not a
  look at two overlapping intervals (two 95% intervals can overlap while the difference is significant).
* **Independent samples** (two survey years drawn separately): ``var(d) = se_a^2 + se_b^2``.

Multiple comparisons: p-values are adjusted with Holm's step-down method (default; controls the family-wise
error rate) or Benjamini–Hochberg (``adjust="bh"``; controls the false discovery rate), through
``statsmodels.stats.multitest.multipletests``; by default the family is the whole table returned (``family=``
names columns to adjust within, e.g. one district's rows). The verdict is ``higher`` / ``lower`` (``up`` /
``down`` for changes) when the adjusted p-value is below ``alpha`` (0.05), otherwise ``no_clear_difference``
(``no_clear_change``); ``no_data`` when a score is missing. ``verdict_text`` says it in Chinese or English
(较高 / 较低 / 无明显差异; 上升 / 下降 / 无明显变化).

Checked against R's ``survey`` (``svyby(..., svytotal, covmat=TRUE)`` + ``svycontrast`` of the nonlinear scores)
in ``tests/test_analysis_comparisons.py``.

Examples run on the small fixture study of ``tests/fixtures/store`` (six units 甲区 to 己区, three groups, two
years): ``q`` is its questionnaire, ``responses`` the 2026 responses, ``design`` (= ``d2026``) and ``d2025`` the
designs of its study file (strata ``district``, PSUs ``street`` > ``respondent_id``, fpc at both stages, not
raked); ``tests/test_analysis_docs.py`` provides them when it runs the examples.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..spec.questionnaire import Questionnaire
from ..survey.common import as_list
from ..survey.design import Design
from ..survey.estimates import Estimates
from ._util import add_verdicts, check_lang, default_nodes, finish_tests, joint_scores, with_columns

TEST_COLUMNS = ["se", "ci_low", "ci_high", "z", "p_value", "p_adj", "ci_low_adj", "ci_high_adj", "verdict", "verdict_text"]


def _difference_se(est: Estimates, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """SE of ``estimate[ia] - estimate[ib]`` (pairwise, for index arrays into ``est``): a contrast (R svycontrast)."""
    c = np.zeros((len(ia), len(est)))
    c[np.arange(len(ia)), ia] += 1.0
    c[np.arange(len(ia)), ib] -= 1.0
    return est.contrast(c)["se"].to_numpy()


def compare_to_rest(q: Questionnaire, design: Design, unit_column: str, *, units: Sequence[str] | None = None,
                    nodes: Sequence[str] | None = None, group: str = "all", adjust: str = "holm",
                    alpha: float = 0.05, family: str | Sequence[str] | None = None,
                    lang: str = "zh") -> pd.DataFrame:
    """Each unit against the rest of the city: score difference with a design-based SE and a verdict.

    The rest-of-city score of unit u is the score of the pooled respondents of every other unit, computed with the
    same rules (contract 2: item means over the pooled respondents, roll-up, group weights) -- not a mean of the
    other units' scores. Both scores come from one design, so the SE of the difference includes their covariance
    (zero for units that are strata without calibration; not zero after raking on cross-unit margins).

    Parameters
    ----------
    q, design : questionnaire and survey design (the whole city).
    unit_column : the column of reporting units, e.g. ``"district"``.
    units : the units to compare (default every unit in the data).
    nodes : node ids (default ``index`` and the first-level indicators).
    group : ``"all"`` (default) or one respondent group.
    adjust, alpha, family : multiplicity adjustment (``"holm"``, ``"bh"``, ``"bonferroni"``, ``"none"``), level,
        and the columns defining the families (default: the whole table).
    lang : ``"zh"`` or ``"en"`` for ``verdict_text``.

    Returns
    -------
    DataFrame: ``unit_column``, ``group``, ``node``, ``estimate`` (the unit), ``estimate_rest``, ``difference``
    (unit - rest), ``se`` (of the difference), ``ci_low``, ``ci_high`` (95%), ``z``, ``p_value``, ``p_adj``,
    ``verdict`` (``higher``/``lower``/``no_clear_difference``/``no_data``), ``verdict_text``, ``n``, ``n_rest``.

    Source: Lumley (2010) *Complex Surveys* §2.4-2.5 (domains, contrasts; R ``svycontrast``); Holm (1979)
    *Scand. J. Stat.* 6:65; Benjamini & Hochberg (1995) *JRSS B* 57:289.

    Example
    -------
    >>> from surveykit.analysis import compare_to_rest
    >>> t = compare_to_rest(q, design, "district", units=["甲区"])
    >>> t[["node", "difference", "se", "p_adj", "verdict"]].round(3)
          node  difference     se  p_adj              verdict
    0    index      13.047  4.665  0.010               higher
    1      law      14.337  3.982  0.001               higher
    2  enforce      11.712  6.490  0.071  no_clear_difference
    3  outcome      13.537  3.728  0.001               higher
    """
    check_lang(lang)
    nodes = default_nodes(q) if nodes is None else as_list(nodes)
    col = design.data[unit_column] if unit_column in design.data.columns else None
    if col is None:
        raise InputError(f"no column '{unit_column}' in the data")
    all_units = sorted(col.dropna().unique().tolist())
    units = all_units if units is None else as_list(units)
    unknown = [u for u in units if u not in all_units]
    if unknown:
        raise InputError(f"unknown unit(s) {unknown} in '{unit_column}'")
    frames = []
    values = col.to_numpy()
    for u in units:
        # "0": this unit, "1": the rest (domains are sorted)
        e = joint_scores(q, with_columns(design, _side=np.where(values == u, "0", "1")), "_side", nodes, group)
        t = e.keys
        k = len(t) // 2
        if len(t) != 2 * k or list(t["_side"].iloc[:k].unique()) != ["0"]:
            raise AssertionError("unexpected domain layout")
        ia, ib = np.arange(k), np.arange(k, 2 * k)
        frames.append(pd.DataFrame({unit_column: u, "group": t["group"].iloc[:k].to_numpy(),
                                    "node": t["node"].iloc[:k].to_numpy(), "estimate": e.estimate[ia],
                                    "estimate_rest": e.estimate[ib], "difference": e.estimate[ia] - e.estimate[ib],
                                    "se": _difference_se(e, ia, ib), "n": e.n[ia], "n_rest": e.n[ib]}))
    out = pd.concat(frames, ignore_index=True)
    out = finish_tests(out, "difference", adjust_method=adjust, alpha=alpha, family=family, lang=lang)
    return out[[unit_column, "group", "node", "estimate", "estimate_rest", "difference", *TEST_COLUMNS, "n",
                "n_rest"]]


def year_change(current: pd.DataFrame, previous: pd.DataFrame, *, keys: Sequence[str] | None = None,
                adjust: str = "holm", alpha: float = 0.05, family: str | Sequence[str] | None = None,
                lang: str = "zh") -> pd.DataFrame:
    """Change of every score from one survey year to the next (independent samples).

    Parameters
    ----------
    current, previous : score tables (``surveykit.score`` output or the results store's), with ``estimate`` and
        ``se``; rows are matched on ``keys``.
    keys : matching columns (default: the columns both tables share other than the estimate columns, e.g.
        ``district``, ``group``, ``node``).

    Returns
    -------
    DataFrame: the ``keys``, ``estimate_previous``, ``estimate`` (current), ``change`` (current - previous), ``se``
    = ``sqrt(se_current^2 + se_previous^2)`` (the two years' samples are drawn independently), ``ci_low``,
    ``ci_high``, ``z``, ``p_value``, ``p_adj``, ``verdict`` (``up``/``down``/``no_clear_change``/``no_data``),
    ``verdict_text``. Rows present in only one year get ``no_data``.

    Not valid for a panel (the same respondents or PSUs re-interviewed): their covariance would be ignored.

    Source: variance of a difference of independent estimates; Holm (1979); Benjamini & Hochberg (1995).

    Example
    -------
    >>> import surveykit as sk
    >>> from surveykit.analysis import year_change
    >>> ch = year_change(sk.score(q, d2026, by="district"), sk.score(q, d2025, by="district"), family="district")
    >>> ch.query("group == 'all' and node == 'index'")[["district", "change", "se", "verdict"]].round(2)
        district  change    se          verdict
    3         丁区    5.50  3.22  no_clear_change
    83        丙区   -4.16  3.75  no_clear_change
    163       乙区    9.71  3.64  no_clear_change
    243       己区     NaN   NaN          no_data
    323       戊区   -4.86  4.33  no_clear_change
    403       甲区    9.02  4.77  no_clear_change

    (己区's 2026 index is missing: none of its professionals scored item q08. Holm adjusts over the 80 rows of each
    district, so no change is significant.)
    """
    check_lang(lang)
    value_cols = {"estimate", "se", "ci_low", "ci_high", "n", "suppressed", "rse", "flag", "small_n", "high_rse",
                  "deff"}
    if keys is None:
        keys = [c for c in current.columns if c in previous.columns and c not in value_cols]
    keys = as_list(keys)
    if not keys:
        raise InputError("no column to match the two years' rows on (give keys=)")
    for name, t in (("current", current), ("previous", previous)):
        missing = [c for c in [*keys, "estimate", "se"] if c not in t.columns]
        if missing:
            raise InputError(f"the {name} table has no column(s) {missing}")
        if t.duplicated(keys).any():
            raise InputError(f"the {name} table has several rows per {keys}")
    m = current[[*keys, "estimate", "se"]].merge(previous[[*keys, "estimate", "se"]], on=keys, how="outer",
                                                  suffixes=("", "_previous"), sort=False)
    out = m[keys].copy()
    out["estimate_previous"] = m["estimate_previous"].to_numpy(float)
    out["estimate"] = m["estimate"].to_numpy(float)
    out["change"] = out["estimate"] - out["estimate_previous"]
    out["se"] = np.sqrt(m["se"].to_numpy(float) ** 2 + m["se_previous"].to_numpy(float) ** 2)
    out = finish_tests(out, "change", adjust_method=adjust, alpha=alpha, family=family, lang=lang, change=True)
    return out[[*keys, "estimate_previous", "estimate", "change", *TEST_COLUMNS]]


def group_gap(q: Questionnaire, design: Design, *, by: str | Sequence[str] | None = None,
              pairs: Sequence[tuple[str, str]] | None = None, nodes: Sequence[str] | None = None,
              adjust: str = "holm", alpha: float = 0.05, family: str | Sequence[str] | None = None,
              lang: str = "zh") -> pd.DataFrame:
    """Gaps between respondent groups (e.g. rights holders vs the public) within each domain.

    Both groups' scores come from the same design; the covariance of the two estimates (non-zero when the groups
    share PSUs or after calibration) enters the SE: ``var(a - b) = V_aa + V_bb - 2 V_ab``. A node enters the
    comparison of a pair only if it applies to both groups (its score is then each group's own roll-up).

    Parameters
    ----------
    by : domain column(s) (e.g. ``"district"``); None: the whole data.
    pairs : ``(group_a, group_b)`` tuples (default every pair of the questionnaire's groups, in its order).
    nodes : default ``index`` and the first-level indicators.

    Returns
    -------
    DataFrame: the ``by`` columns, ``group_a``, ``group_b``, ``node``, ``estimate_a``, ``estimate_b``, ``gap``
    (a - b), ``se``, ``ci_low``, ``ci_high``, ``z``, ``p_value``, ``p_adj``, ``verdict`` (a is ``higher`` /
    ``lower`` than b / ``no_clear_difference``), ``verdict_text``, ``n_a``, ``n_b``.

    Source: Lumley (2010) §2.4-2.5 (R ``svyby(..., covmat=TRUE)`` + ``svycontrast``); Holm (1979).

    Example
    -------
    >>> from surveykit.analysis import group_gap
    >>> group_gap(q, design, pairs=[("holder", "public")])[["node", "gap", "se", "p_adj", "verdict"]].round(2)
          node   gap    se  p_adj              verdict
    0    index -0.91  1.64   1.00  no_clear_difference
    1      law  1.15  2.22   1.00  no_clear_difference
    2  enforce -5.56  1.95   0.02                lower
    3  outcome  3.23  1.63   0.14  no_clear_difference
    """
    check_lang(lang)
    nodes = default_nodes(q) if nodes is None else as_list(nodes)
    gids = list(q.group_ids)
    pairs = [(a, b) for i, a in enumerate(gids) for b in gids[i + 1:]] if pairs is None else list(pairs)
    for a, b in pairs:
        for x in (a, b):
            if x not in gids:
                raise InputError(f"unknown group '{x}' (groups: {', '.join(gids)})")
    by_cols = as_list(by)
    needed = sorted({x for p in pairs for x in p}, key=gids.index)
    e = joint_scores(q, design, by, nodes, needed)
    table = e.keys.assign(estimate=e.estimate, n=e.n, _pos=np.arange(len(e)))
    tables = {gid: table[table["group"] == gid] for gid in needed}
    frames = []
    for a, b in pairs:
        on = [*by_cols, "node"]
        m = tables[a].merge(tables[b], on=on, suffixes=("_a", "_b"), sort=False)
        ia, ib = m["_pos_a"].to_numpy(), m["_pos_b"].to_numpy()
        f = m[on].copy()
        f.insert(len(by_cols), "group_a", a)
        f.insert(len(by_cols) + 1, "group_b", b)
        f["estimate_a"] = m["estimate_a"].to_numpy()
        f["estimate_b"] = m["estimate_b"].to_numpy()
        f["gap"] = f["estimate_a"] - f["estimate_b"]
        f["se"] = _difference_se(e, ia, ib)
        f["n_a"], f["n_b"] = m["n_a"].to_numpy(), m["n_b"].to_numpy()
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out = finish_tests(out, "gap", adjust_method=adjust, alpha=alpha, family=family, lang=lang)
    return out[[*by_cols, "group_a", "group_b", "node", "estimate_a", "estimate_b", "gap", *TEST_COLUMNS, "n_a",
                "n_b"]]


def domain_gap(q: Questionnaire, design: Design, column: str, a, b, *, by: str | Sequence[str] | None = None,
               group: str = "all", nodes: Sequence[str] | None = None, adjust: str = "holm", alpha: float = 0.05,
               family: str | Sequence[str] | None = None, lang: str = "zh") -> pd.DataFrame:
    """Gap between two kinds of respondents defined by any column (e.g. ownership), within each domain.

    Respondents whose ``column`` is in ``a`` form one domain, those in ``b`` the other (others and blanks are in
    neither, but the whole design is kept). Scores are contract-2 scores of those domains for ``group``; the SE of
    the gap uses their joint covariance (the two kinds share PSUs).

    Parameters
    ----------
    column : the column, e.g. ``"ownership"``.
    a, b : a value or a list of values of ``column`` for each side.
    by : domain column(s) within which to compare (None: the whole data).
    group : the respondent group (``"all"`` only when every group has members on both sides).

    Returns
    -------
    DataFrame: the ``by`` columns, ``group``, ``node``, ``level_a``, ``level_b`` (the values, joined by "+"),
    ``estimate_a``, ``estimate_b``, ``gap`` (a - b), ``se``, ``ci_low``, ``ci_high``, ``z``, ``p_value``,
    ``p_adj``, ``verdict``, ``verdict_text``, ``n_a``, ``n_b``.

    Source: Lumley (2010) §2.4-2.5 (domain contrasts under the full design); Holm (1979).

    Example
    -------
    >>> from surveykit.analysis import domain_gap
    >>> t = domain_gap(q, design, "ownership", "foreign", ["state", "private"], group="holder")
    >>> t[["node", "estimate_a", "estimate_b", "gap", "se"]].round(2)
          node  estimate_a  estimate_b    gap    se
    0    index       54.95       65.55 -10.59  3.21
    1      law       52.34       63.88 -11.54  3.50
    2  enforce       56.18       65.40  -9.22  3.68
    3  outcome       55.93       67.40 -11.47  3.34
    """
    check_lang(lang)
    nodes = default_nodes(q) if nodes is None else as_list(nodes)
    a, b = [str(x) for x in as_list(a)], [str(x) for x in as_list(b)]
    if set(a) & set(b):
        raise InputError(f"{sorted(set(a) & set(b))} are on both sides of the comparison")
    if column not in design.data.columns:
        raise InputError(f"no column '{column}' in the data")
    raw = design.data[column]
    txt = raw.astype("string").str.strip()
    present = set(txt.dropna().unique())
    for x in a + b:
        if x not in present:
            raise InputError(f"no respondent with {column} = '{x}'")
    side = np.where(txt.isin(a).fillna(False).to_numpy(bool), "a",
                    np.where(txt.isin(b).fillna(False).to_numpy(bool), "b", "z"))
    d2 = with_columns(design, _side=side)
    by_cols = as_list(by)
    e = joint_scores(q, d2, [*by_cols, "_side"], nodes, group)
    t = e.keys.assign(estimate=e.estimate, n=e.n, _pos=np.arange(len(e)))
    on = [*by_cols, "group", "node"]
    m = t[t["_side"] == "a"].merge(t[t["_side"] == "b"], on=on, suffixes=("_a", "_b"), sort=False)
    out = m[on].copy()
    out["level_a"], out["level_b"] = "+".join(a), "+".join(b)
    out["estimate_a"] = m["estimate_a"].to_numpy()
    out["estimate_b"] = m["estimate_b"].to_numpy()
    out["gap"] = out["estimate_a"] - out["estimate_b"]
    out["se"] = _difference_se(e, m["_pos_a"].to_numpy(), m["_pos_b"].to_numpy())
    out["n_a"], out["n_b"] = m["n_a"].to_numpy(), m["n_b"].to_numpy()
    out = finish_tests(out, "gap", adjust_method=adjust, alpha=alpha, family=family, lang=lang)
    return out[[*on, "level_a", "level_b", "estimate_a", "estimate_b", "gap", *TEST_COLUMNS, "n_a", "n_b"]]


#: Ownership levels of the demo data. Foreign-funded (外商投资企业) includes joint ventures, as in the Foreign
#: Investment Law (2019, art. 2); domestic = state-owned and private.
FOREIGN_FUNDED = ("foreign", "jv")
DOMESTIC = ("state", "private")


def ownership_gap(q: Questionnaire, design: Design, *, by: str | Sequence[str] | None = None,
                  column: str = "ownership", foreign: Sequence[str] = FOREIGN_FUNDED,
                  domestic: Sequence[str] = DOMESTIC, group: str = "holder", nodes: Sequence[str] | None = None,
                  adjust: str = "holm", alpha: float = 0.05, family: str | Sequence[str] | None = None,
                  lang: str = "zh") -> pd.DataFrame:
    """Equal protection (同等保护): foreign-funded vs domestic firms' satisfaction, within each domain.

    :func:`domain_gap` with ``a`` = foreign-funded (default ``foreign`` and ``jv``: joint ventures are
    foreign-invested enterprises under the Foreign Investment Law) and ``b`` = domestic (``state``, ``private``),
    among rights holders. ``gap`` = foreign-funded - domestic: negative means foreign-funded firms are less
    satisfied; ``verdict`` ``lower`` means significantly so (after the multiplicity adjustment).

    Returns
    -------
    The columns of :func:`domain_gap`: the ``by`` columns, ``group``, ``node``, ``level_a`` (foreign-funded),
    ``level_b`` (domestic), ``estimate_a``, ``estimate_b``, ``gap``, ``se``, ``ci_low``, ``ci_high``, ``z``,
    ``p_value``, ``p_adj``, ``verdict``, ``verdict_text``, ``n_a``, ``n_b``.

    Source: as :func:`domain_gap`; the equal-protection goal (同等保护) of the city's IP plans.

    Example
    -------
    >>> from surveykit.analysis import ownership_gap
    >>> t = ownership_gap(q, design, by="district", family="district").query("node == 'index'")
    >>> t[["district", "gap", "se", "n_a", "n_b", "verdict"]].round(2)
       district    gap    se  n_a  n_b              verdict
    0        丁区 -11.59  6.52   10   28  no_clear_difference
    4        丙区 -15.74  5.63    9   38                lower
    8        乙区 -12.00  5.99    8   21  no_clear_difference
    12       己区 -10.36  6.19   17   22  no_clear_difference
    16       戊区  11.67  5.36    9   30  no_clear_difference
    20       甲区   0.15  7.46    9   21  no_clear_difference
    """
    return domain_gap(q, design, column, list(foreign), list(domestic), by=by, group=group, nodes=nodes,
                      adjust=adjust, alpha=alpha, family=family, lang=lang)


def adjust_pvalues(table: pd.DataFrame, *, method: str = "holm", alpha: float = 0.05,
                   family: str | Sequence[str] | None = None, lang: str = "zh") -> pd.DataFrame:
    """Re-adjust the p-values of a comparison table (e.g. after selecting one district's rows) and redo verdicts.

    ``table`` is the output of one of this module's functions (it needs ``p_value`` and the difference column
    ``difference``, ``change`` or ``gap``). Returns a copy with ``p_adj``, ``verdict`` and ``verdict_text``
    recomputed within the families given by ``family`` (default: the whole table).

    Source: Holm (1979) *Scand. J. Stat.* 6:65; Benjamini & Hochberg (1995) *JRSS B* 57:289 (statsmodels
    ``multipletests``).

    Example
    -------
    >>> one = compare_to_rest(q, design, "district").query("district == '甲区'")
    >>> adjust_pvalues(one, method="bh")[["node", "p_value", "p_adj", "verdict"]].round(4)
           node  p_value   p_adj              verdict
    20    index   0.0052  0.0069               higher
    21      law   0.0003  0.0006               higher
    22  enforce   0.0711  0.0711  no_clear_difference
    23  outcome   0.0003  0.0006               higher
    """
    check_lang(lang)
    diff = next((c for c in ("difference", "change", "gap") if c in table.columns), None)
    if diff is None or "p_value" not in table.columns:
        raise InputError("not a comparison table (needs p_value and difference/change/gap)")
    out = table.copy()
    return add_verdicts(out, diff, out["p_value"].to_numpy(float), adjust_method=method, alpha=alpha, family=family,
                        lang=lang, change=diff == "change")
