"""Proportions with confidence intervals, weighted tables and the Rao-Scott test of independence.

Equal to R's ``survey`` (version 4.5; Lumley 2010, *Complex Surveys*, ch. 2.4 and 6): ``svyciprop``,
``svytable``/``svytotal``/``svymean`` of a factor, and ``svychisq``. Domains as in :mod:`.domains`; variances
from influence values through :func:`.adapter.design_variance` (calibration-aware after ``rake``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from scipy.stats import beta as beta_dist
from scipy.stats import chi2, f as f_dist

from ..errors import InputError
from .adapter import degf, design_variance, r_rows
from .domains import as_list, domains, in_codes, t_quantile, values, weighted_share
from .profile import logit_profile_interval

PROPORTION_METHODS = ("logit", "likelihood", "beta", "mean")
PROPORTION_COLUMNS = ["variable", "estimate", "se", "ci_low", "ci_high", "n"]


def _indicator(design, column: str, success: Sequence | None) -> np.ndarray:
    if success is not None:
        return in_codes(design, column, success)
    y = values(design, column)
    bad = np.flatnonzero(~np.isnan(y) & (y != 0) & (y != 1))
    if len(bad):
        pos = int(bad[0])
        rows = design.data.attrs.get("file_rows")
        raise InputError(f"a proportion needs a 0/1 variable (found {y[pos]:g}); give the codes that count as 1 "
                         "with success=[...] (--success)", file=design.data.attrs.get("source"),
                         row=None if rows is None else int(rows[pos]), column=column)
    return y


def logit_interval(p, se, df, level: float = 0.95):
    """R's ``svyciprop(method = "logit")``: the Wald interval of the log-odds (``svyglm(y ~ 1, quasibinomial)``),
    ``expit(logit p ± t_df · se / (p (1 - p)))``, t on ``df`` degrees of freedom; NaN where p is 0 or 1 (the
    log-odds is infinite). Vectorised over ``p``, ``se``, ``df``."""
    p, se, df = np.asarray(p, dtype=float), np.asarray(se, dtype=float), np.asarray(df, dtype=float)
    q = t_quantile(1.0 - (1.0 - level) / 2.0, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = q * se / (p * (1.0 - p))
        inside = (p > 0.0) & (p < 1.0)
        lo = np.where(inside, expit(logit(p) - half), np.nan)
        hi = np.where(inside, expit(logit(p) + half), np.nan)
    return lo, hi


def _interval(design, y, rows, p, var, df, method: str, level: float) -> tuple[float, float]:
    """The interval of ``svyciprop`` for one domain (``rows``) with estimate ``p`` and variance ``var``, on ``df``
    degrees of freedom (R's ``df`` argument, by default ``degf`` of the domain)."""
    a = (1.0 - level) / 2.0
    se = np.sqrt(var)
    if method == "mean":        # confint(svymean, df = degf)
        q = t_quantile(1.0 - a, df)
        return p - q * se, p + q * se
    if method == "logit":
        lo, hi = logit_interval(p, se, df, level)
        return float(lo), float(hi)
    if method == "beta":        # Korn & Graubard (1998): effective n, corrected to the design's df
        kept = int(r_rows(design, rows).sum())
        n_eff = p * (1.0 - p) / var * (t_quantile(a, kept - 1) / t_quantile(a, degf(design, rows))) ** 2
        lo = beta_dist.ppf(a, n_eff * p, n_eff * (1.0 - p) + 1.0)
        hi = beta_dist.ppf(1.0 - a, n_eff * p + 1.0, n_eff * (1.0 - p))
        return float(lo), float(hi)
    kept = r_rows(design, rows)  # likelihood: Rao-Scott-scaled profile likelihood of svyglm's intercept
    w = design.weights.to_numpy()
    live = rows & (w != 0)
    return logit_profile_interval(y[live], w[live], var, df, n_rows=int(kept.sum()),
                                  n_frame=int((kept & ~np.isnan(y)).sum()), level=level)


def proportion(design, variables: str | Sequence[str], by: str | Sequence[str] | None = None, *,
               method: str = "logit", success: Sequence | None = None, level: float = 0.95,
               df: float | None = None) -> pd.DataFrame:
    """Proportions with confidence intervals that stay in [0, 1], per domain (R: ``svyciprop`` in ``svyby``).

    ``variables``: 0/1 columns, or any columns with ``success`` the codes counted as 1 (e.g. ``[4, 5]`` for a
    satisfaction rate; other observed codes count 0, blanks are outside the domain). ``estimate`` = ``sum_D w y /
    sum_D w``, ``se`` its linearised SE (influence ``w (y - p) / sum_D w``). Intervals at ``level`` on ``df`` =
    R's ``degf`` of the domain (first-stage units minus strata): ``logit`` expit(logit p ± t se/(p(1-p)))
    (undefined at p = 0 or 1); ``likelihood`` the profile likelihood of the log-odds scaled by its design effect
    (Rao-Scott); ``beta`` Korn & Graubard's beta interval with effective sample size p(1-p)/se²; ``mean``
    p ± t se. Columns: the ``by`` columns, ``variable``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``n``
    (rows used). ``df``: degrees of freedom of the intervals instead of each domain's ``degf`` (R's ``df=``
    argument; ``np.inf`` gives normal intervals; the ``beta`` method's effective-n correction keeps ``degf``, as R).
    """
    if method not in PROPORTION_METHODS:
        raise InputError(f"method must be one of {', '.join(PROPORTION_METHODS)}, not '{method}'")
    dom = domains(design, by)
    w = design.weights.to_numpy()
    out = []
    for name in as_list(variables):
        y = _indicator(design, name, success)
        rows_all = [dom.rows(d, ~np.isnan(y)) for d in range(dom.count)]
        fits = [weighted_share(w, y, r) for r in rows_all]
        z = np.column_stack([f[1] for f in fits]).sum(axis=1)
        var = design_variance(design, z, dom.codes, dom.count)[:, 0]
        for d, (rows, (p, _)) in enumerate(zip(rows_all, fits)):
            lo, hi = (_interval(design, y, rows, p, var[d], degf(design, rows) if df is None else df, method, level)
                      if np.isfinite(p) else (np.nan, np.nan))  # an empty domain has no estimate
            se = float(np.sqrt(var[d])) if np.isfinite(p) else np.nan
            out.append({**dom.frame(d), "variable": name, "estimate": p, "se": se,
                        "ci_low": lo, "ci_high": hi, "n": int(rows.sum())})
    return pd.DataFrame(out, columns=dom.by + PROPORTION_COLUMNS)


def _factor(design, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Level code of every row (-1 for a blank) and the sorted levels of a categorical column."""
    if column not in design.data.columns:
        raise InputError(f"no column '{column}' in the data", file=design.data.attrs.get("source"), column=column)
    codes, levels = pd.factorize(design.data[column], sort=True)
    return codes.astype(np.int64), np.asarray(levels, dtype=object)


def _check_names(variables: list[str], by: list[str], reserved: list[str]) -> None:
    clash = [v for v in variables if v in by or v in reserved]
    if clash or len(set(variables)) < len(variables):
        raise InputError(f"a table needs distinct row, column and domain variables, none named "
                         f"{', '.join(reserved)} (got {', '.join(variables)})")


TABLE_COLUMNS = ["count", "count_se", "proportion", "proportion_se", "n"]


def table(design, row: str, col: str | None = None, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Weighted counts and cell proportions of one or two categorical variables, with SEs, per domain (R:
    ``svytable`` for the counts, ``svytotal``/``svymean`` of ``interaction(row, col)`` for the SEs, in ``svyby``).

    Every combination of the levels observed (rows in the design with both values) is a cell, zero cells
    included. ``count`` = ``sum_D w 1[cell]`` (influence ``w 1[cell]``), ``proportion`` = count / ``sum_D w``
    (influence ``w (1[cell] - proportion) / sum_D w``). Columns: the ``by`` columns, ``row`` (named after the
    variable), ``col`` (likewise, when given), ``count``, ``count_se``, ``proportion``, ``proportion_se``, ``n``
    (rows in the cell).
    """
    names = [row] + ([col] if col is not None else [])
    dom = domains(design, by)
    _check_names(names, dom.by, TABLE_COLUMNS)
    factors = [_factor(design, v) for v in names]
    observed = np.logical_and.reduce([c >= 0 for c, _ in factors])
    use = dom.inside & observed
    if not use.any():
        raise InputError(f"no row of the design has a value of {' and '.join(names)}")
    kept = [np.unique(c[use]) for c, _ in factors]  # levels observed in the design
    strides = [int(np.prod([len(k) for k in kept[i + 1:]])) for i in range(len(kept))]  # the row varies slowest
    cell = np.zeros(len(use), dtype=np.int64)
    for (c, _), k, stride in zip(factors, kept, strides):
        cell += np.searchsorted(k, np.where(use, c, k[0])) * stride
    n_cells = int(np.prod([len(k) for k in kept]))
    labels = [{v: f[1][k[(cell_k // stride) % len(k)]] for v, f, k, stride in zip(names, factors, kept, strides)}
              for cell_k in range(n_cells)]
    w = np.where(use, design.weights.to_numpy(), 0.0)
    ind = np.zeros((len(use), n_cells))
    ind[np.flatnonzero(use), cell[use]] = 1.0
    tw = np.bincount(dom.codes, weights=w, minlength=dom.count)
    counts = np.zeros((dom.count, n_cells))
    np.add.at(counts, dom.codes, ind * w[:, None])
    nobs = np.zeros((dom.count, n_cells))
    np.add.at(nobs, dom.codes, ind)
    with np.errstate(divide="ignore", invalid="ignore"):
        prop = counts / tw[:, None]
        zp = w[:, None] * (ind - prop[dom.codes]) / tw[dom.codes][:, None]
    var = design_variance(design, np.hstack([ind * w[:, None], np.where(use[:, None], zp, 0.0)]), dom.codes,
                          dom.count)
    se = np.sqrt(np.maximum(var, 0.0))
    out = []
    for d in range(dom.count):
        for k in range(n_cells):
            out.append({**dom.frame(d), **labels[k], "count": counts[d, k], "count_se": se[d, k],
                        "proportion": prop[d, k], "proportion_se": se[d, n_cells + k], "n": int(nobs[d, k])})
    return pd.DataFrame(out, columns=dom.by + names + TABLE_COLUMNS)


CHISQ_STATISTICS = ("F", "Chisq")
CHISQ_COLUMNS = ["statistic", "ndf", "ddf", "p_value"]


def rao_scott(p: np.ndarray, v: np.ndarray, nr: int, nc: int, nu: float, statistic: str = "F") -> dict:
    """Rao & Scott's corrections of Pearson's X² for the cell proportions ``p`` (nr x nc cells, rows varying
    fastest) with design covariance ``v`` on ``nu`` degrees of freedom (R ``svychisq``).

    ``C`` = the interaction columns of the saturated model residualised on the main effects; ``Delta`` =
    ``(C' D^-1 C)^-1 C' D^-1 V D^-1 C`` (``D = diag(p)``, the table scaled to total 1). ``F`` (second order):
    ``X²/tr(Delta)`` on ``d0 = tr(Delta)²/tr(Delta²)`` and ``d0 nu`` degrees of freedom. ``Chisq`` (first order):
    ``X²/mean(diag(Delta))`` on ``(nr-1)(nc-1)`` degrees of freedom, chi-squared.
    """
    i, j = np.arange(nr * nc) % nr, np.arange(nr * nc) // nr
    main = np.column_stack([np.ones(nr * nc)] + [i == a for a in range(1, nr)] + [j == b for b in range(1, nc)])
    inter = np.column_stack([(i == a) & (j == b) for b in range(1, nc) for a in range(1, nr)]).astype(float)
    cmat = inter - main @ np.linalg.lstsq(main, inter, rcond=None)[0]
    inv_d = np.diag(np.where(p == 0, 0.0, 1.0 / np.where(p == 0, 1.0, p)))
    delta = np.linalg.solve(cmat.T @ inv_d @ cmat, cmat.T @ inv_d @ v @ inv_d @ cmat)
    tab = p.reshape(nc, nr).T
    expected = np.outer(tab.sum(axis=1), tab.sum(axis=0))
    x2 = float(((tab - expected) ** 2 / expected).sum())
    tr = float(np.trace(delta))
    if statistic == "F":
        d0 = tr * tr / float(np.trace(delta @ delta))
        stat = x2 / tr
        return {"statistic": stat, "ndf": d0, "ddf": d0 * nu, "p_value": float(f_dist.sf(stat, d0, d0 * nu))}
    stat = x2 / (tr / delta.shape[0])
    k = delta.shape[0]
    return {"statistic": stat, "ndf": float(k), "ddf": np.inf, "p_value": float(chi2.sf(stat, k))}


def chisq(design, row: str, col: str, by: str | Sequence[str] | None = None, *, statistic: str = "F"
          ) -> pd.DataFrame:
    """Design-based test of independence of two categorical variables, per domain (R: ``svychisq``).

    Pearson's X² of the weighted table with Rao & Scott's correction (:func:`rao_scott`): ``statistic="F"`` the
    second-order F test (R's default), ``"Chisq"`` the first-order chi-squared test. ``nu`` = R's ``degf`` of
    the domain. The levels are those with weight in the domain. Columns: the ``by`` columns, ``statistic``,
    ``ndf``, ``ddf``, ``p_value`` (NaN for a domain where a variable has fewer than two levels).
    """
    if statistic not in CHISQ_STATISTICS:
        raise InputError(f"statistic must be one of {', '.join(CHISQ_STATISTICS)}, not '{statistic}'")
    dom = domains(design, by)
    _check_names([row, col], dom.by, [])
    (rc, _), (cc, _) = _factor(design, row), _factor(design, col)
    w = design.weights.to_numpy()
    out = []
    for d in range(dom.count):
        rows = dom.rows(d, (rc >= 0) & (cc >= 0)) & (w != 0)  # rows of zero weight add nothing, not even a level
        rk, ck = np.unique(rc[rows]), np.unique(cc[rows])
        res = dict.fromkeys(CHISQ_COLUMNS, np.nan)
        if len(rk) >= 2 and len(ck) >= 2:
            cell = (np.searchsorted(rk, np.where(rows, rc, rk[0]))
                    + len(rk) * np.searchsorted(ck, np.where(rows, cc, ck[0])))
            ind = np.zeros((len(w), len(rk) * len(ck)))
            ind[np.flatnonzero(rows), cell[rows]] = 1.0
            shares = [weighted_share(w, ind[:, k], rows) for k in range(ind.shape[1])]
            p = np.array([s[0] for s in shares])
            v = design_variance(design, np.column_stack([s[1] for s in shares]), covariance=True)[0]
            res = rao_scott(p, v, len(rk), len(ck), degf(design, rows), statistic)
        elif not dom.by:
            raise InputError(f"a test of independence needs two levels or more of '{row}' and of '{col}'")
        out.append({**dom.frame(d), **res})
    return pd.DataFrame(out, columns=dom.by + CHISQ_COLUMNS)
