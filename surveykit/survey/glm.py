"""Generalised linear models with design-based standard errors, equal to R's ``svyglm`` (Binder 1983, *Int.
Stat. Rev.* 51:279; Lumley 2010, §5.2-6.1).

The coefficients solve the weighted score equations ``sum_i w_i x_i (y_i - mu_i) = 0`` (canonical links: identity,
logit, log), by R's own IRLS (:func:`r_glm_fit`, ``glm.fit`` step for step) with svyglm's rescaled weights. Their
covariance is the sandwich ``A^-1 V A^-1``: ``A = X' diag(u_i) X`` with ``u_i = w_i v(mu_i)`` the working weights
(``v`` the family's variance function; R takes them from its last iteration) and ``V`` the design covariance of the
totals of the estimating functions ``x_i u_i (y_i - mu_i) / v(mu_i)``, from the influence values ``A^-1 x_i u_i
(y_i - mu_i) / v(mu_i)`` (calibration residuals included after ``rake``/``poststratify``, as R). The dispersion of
the quasi-families never enters. Tests are t on ``degf + 1 - p`` degrees of freedom (R's ``df.residual``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy.stats import t as t_dist

from ..errors import InputError
from .adapter import degf, design_variance, in_design, r_rows

GLM_FAMILIES = ("gaussian", "binomial", "poisson")
GLM_COLUMNS = ["term", "estimate", "se", "t", "p_value", "ci_low", "ci_high"]


def _model_frame(design, formula: str):
    """Response, model matrix, term names and the positions of the rows used (in the design, non-zero weight,
    every variable of the formula observed)."""
    from formulaic import model_matrix

    w = design.weights.to_numpy()
    pos = np.flatnonzero(in_design(design) & (w != 0))
    data = design.data.iloc[pos].reset_index(drop=True)
    try:
        mm = model_matrix(formula, data, na_action="drop")
    except Exception as exc:  # formulaic reports unknown names and bad syntax with its own exception types
        raise InputError(f"cannot use the formula '{formula}': {exc}") from None
    if not hasattr(mm, "lhs") or mm.lhs.shape[1] != 1:
        raise InputError(f"the formula '{formula}' needs one response on the left of '~'")
    keep = mm.rhs.index.to_numpy()
    y = mm.lhs.to_numpy(dtype=float)[:, 0]
    x = mm.rhs.to_numpy(dtype=float)
    return y, x, list(mm.rhs.columns), pos[keep]


def svyglm_weights(design) -> np.ndarray:
    """The prior weights of ``svyglm``: the design weights divided by their mean over R's rows of the design."""
    w = design.weights.to_numpy()
    return w * int(r_rows(design, in_design(design)).sum()) / w.sum()


def _check_response(y: np.ndarray, family: str, formula: str) -> None:
    if family == "binomial" and ((y < 0) | (y > 1)).any():
        raise InputError(f"binomial regression needs a response between 0 and 1 ('{formula}')")
    if family == "poisson" and (y < 0).any():
        raise InputError(f"poisson regression needs a non-negative response ('{formula}')")


@dataclass(frozen=True)
class Family:
    """The pieces of an R ``family`` object that ``glm.fit`` uses (canonical links only)."""

    name: str
    linkfun: Callable
    linkinv: Callable
    mu_eta: Callable
    variance: Callable
    dev_resids: Callable
    mustart: Callable  # the family's ``initialize``: starting means from y and the prior weights


def _logit_inv(eta):  # R's C_logit_linkinv and C_logit_mu_eta (thresholds at |eta| = 30)
    e = np.exp(np.clip(eta, -30.0, 30.0))
    e = np.where(eta < -30, EPS, np.where(eta > 30, 1.0 / EPS, e))
    return e / (1.0 + e)


def _logit_mu_eta(eta):
    e = np.exp(np.clip(eta, -30.0, 30.0))
    return np.where(np.abs(eta) > 30, EPS, e / ((1.0 + e) * (1.0 + e)))


def _binomial_dev(y, mu, w):
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(y > 0, y * np.log(y / mu), 0.0)
        b = np.where(y < 1, (1.0 - y) * np.log((1.0 - y) / (1.0 - mu)), 0.0)
    return 2.0 * w * (a + b)


def _poisson_dev(y, mu, w):
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * np.where(y > 0, w * (y * np.log(y / mu) - (y - mu)), mu * w)


EPS = np.finfo(float).eps
FAMILIES = {
    "gaussian": Family("gaussian", linkfun=lambda mu: mu, linkinv=lambda e: e, mu_eta=np.ones_like,
                       variance=np.ones_like, dev_resids=lambda y, mu, w: w * (y - mu) ** 2,
                       mustart=lambda y, w: y),
    "binomial": Family("binomial", linkfun=lambda mu: np.log(mu / (1.0 - mu)), linkinv=_logit_inv,
                       mu_eta=_logit_mu_eta, variance=lambda mu: mu * (1.0 - mu), dev_resids=_binomial_dev,
                       mustart=lambda y, w: (w * y + 0.5) / (w + 1.0)),
    "poisson": Family("poisson", linkfun=np.log, linkinv=lambda e: np.maximum(np.exp(e), EPS),
                      mu_eta=lambda e: np.maximum(np.exp(e), EPS), variance=lambda mu: mu, dev_resids=_poisson_dev,
                      mustart=lambda y, w: y + 0.1),
}


def r_glm_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, family: str, epsilon: float = 1e-8, maxit: int = 25
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R's ``glm.fit`` (IRLS from the family's starting means, stopping when the deviance changes by less than
    ``epsilon`` relative), step for step: ``svyglm``'s standard errors use the working weights of the *last*
    iteration, evaluated at the means that iteration started from, so they depend on the path R takes.

    Returns the coefficients, the fitted means and those working weights ``w mu_eta^2 / V(mu)``.
    """
    fam = FAMILIES[family]
    mu = fam.mustart(y, w)
    eta = fam.linkfun(mu)
    mu = fam.linkinv(eta)
    dev_old = float(np.sum(fam.dev_resids(y, mu, w)))
    coef, work = np.zeros(x.shape[1]), w
    for _ in range(maxit):
        mu_eta = fam.mu_eta(eta)
        z = eta + (y - mu) / mu_eta
        work = w * mu_eta ** 2 / fam.variance(mu)
        sw = np.sqrt(work)
        coef = np.linalg.lstsq(x * sw[:, None], z * sw, rcond=None)[0]
        eta = x @ coef
        mu = fam.linkinv(eta)
        dev = float(np.sum(fam.dev_resids(y, mu, w)))
        if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
            return coef, mu, work
        dev_old = dev
    warnings.warn(f"the {family} model did not converge in {maxit} iterations (as R's glm.fit warns)", stacklevel=3)
    return coef, mu, work


def glm(design, formula: str, family: str = "gaussian", *, level: float = 0.95) -> pd.DataFrame:
    """A survey-weighted GLM (R: ``svyglm(formula, design, family=quasi...)``; module docstring for the method).

    ``formula``: ``"y ~ x1 + C(g)"`` in formulaic's syntax (``C(g)`` a factor, reference = first level in sorted
    order, as R; names with dots in backticks: `` `sch.wide` ``). ``family``: ``gaussian`` (identity),
    ``binomial`` (logit; a 0/1 or [0, 1] response, as ``quasibinomial``), ``poisson`` (log, as ``quasipoisson``).
    Rows with a missing value of a variable of the formula are outside the model (R's ``na.omit``); in a
    :meth:`~surveykit.Design.subset` the model is fitted to the subset, the design kept whole.

    Returns one row per coefficient: ``term`` (formulaic's column name: ``Intercept``, ``C(g)[T.b]``, ...),
    ``estimate``, ``se``, ``t``, ``p_value`` (two-sided, t on ``degf + 1 - p``), ``ci_low``/``ci_high`` (t
    interval at ``level``). ``attrs``: ``df``, ``n`` (rows used), ``family``.
    """
    if family not in GLM_FAMILIES:
        raise InputError(f"family must be one of {', '.join(GLM_FAMILIES)}, not '{family}'")
    y, x, terms, rows = _model_frame(design, formula)
    if len(y) <= x.shape[1]:
        raise InputError(f"too few rows ({len(y)}) for the {x.shape[1]} coefficients of '{formula}'")
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise InputError(f"the terms of '{formula}' are collinear ({', '.join(terms)}); drop one")
    _check_response(y, family, formula)
    b, mu, work = r_glm_fit(x, y, svyglm_weights(design)[rows], family)
    fam = FAMILIES[family]
    a_inv = np.linalg.inv(x.T @ (x * work[:, None]))
    z = np.zeros((len(design), len(b)))
    z[rows] = (x * (work * (y - mu) / fam.mu_eta(x @ b))[:, None]) @ a_inv
    se = np.sqrt(np.maximum(np.diag(design_variance(design, z, covariance=True)[0]), 0.0))
    used = np.zeros(len(design), dtype=bool)
    used[rows] = True
    df = degf(design, used) + 1 - len(b)
    tt = b / se
    q = t_dist.ppf(0.5 + level / 2.0, df) if df > 0 else np.nan
    p = 2.0 * t_dist.sf(np.abs(tt), df) if df > 0 else np.full(len(b), np.nan)
    out = pd.DataFrame({"term": terms, "estimate": b, "se": se, "t": tt, "p_value": p,
                        "ci_low": b - q * se, "ci_high": b + q * se})
    out.attrs.update({"df": int(df), "n": int(len(rows)), "family": family})
    return out
