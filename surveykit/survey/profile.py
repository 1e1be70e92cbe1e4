"""The ``likelihood`` interval of a proportion, computed as R's ``svyciprop(method="likelihood")`` computes it.

R fits ``svyglm(y ~ 1, family=quasibinomial)`` and calls ``confint(fit, method="likelihood")``, which profiles
the quasi-binomial deviance of the intercept ``b`` (the log-odds) and rescales the cut-off by the design effect of
``b`` -- a Rao-Scott-type likelihood-ratio interval (Lumley & Scott 2014, *Statistical Science* 29:2):

* weights ``W = w n_R / sum_D w`` (svyglm's rescaling; ``n_R`` = rows of R's design), so the deviance is
  ``D(b) = -2 n_R [p log expit(b) + (1 - p) log(1 - expit(b))]`` and the dispersion (``svyvar`` of the Pearson
  residuals) is ``n/(n - 1)``;
* ``lambda`` = design variance of ``b`` / model variance ``1/(n_R p (1-p))``; ``alpha = Phi(t_{df} sqrt(lambda)) / 2``;
* the profile (MASS ``profile.glm``): up to 9 steps of ``zmax/5`` standard errors each side of ``b``,
  ``zmax = sqrt(F_{1, n_frame - 1}^{-1}(1 - alpha))``, ``z = sign * sqrt((D(b) - D(b_hat)) / dispersion)``;
* the interval (MASS ``confint.profile.glm``): an FMM cubic spline of ``z`` over ``b`` evaluated on
  ``3 x points`` equally spaced values, inverted by linear interpolation at ``z = ± Phi^{-1}(2 alpha)``.

R's steps are reproduced exactly (the spline is R's ``spline(method="fmm")``, Forsythe, Malcolm & Moler 1977),
because the interval depends on them.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaincinv, expit
from scipy.stats import norm

from .domains import t_quantile
from .glm import r_glm_fit

MAX_STEPS = 10  # MASS profile.glm: maxsteps


def fmm_spline(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients (b, c, d) of R's ``spline(method="fmm")`` through the points (x, y), x increasing: the cubic
    spline whose third derivative at each end equals that of the cubic through the four end points."""
    n = len(x)
    b, c, d = np.zeros(n), np.zeros(n), np.zeros(n)
    if n < 3:
        b[:] = (y[1] - y[0]) / (x[1] - x[0])
        return b, c, d
    d[0] = x[1] - x[0]
    c[1] = (y[1] - y[0]) / d[0]
    for i in range(1, n - 1):
        d[i] = x[i + 1] - x[i]
        b[i] = 2.0 * (d[i - 1] + d[i])
        c[i + 1] = (y[i + 1] - y[i]) / d[i]
        c[i] = c[i + 1] - c[i]
    b[0], b[n - 1] = -d[0], -d[n - 2]
    c[0] = c[n - 1] = 0.0
    if n > 3:
        c0 = c[2] / (x[3] - x[1]) - c[1] / (x[2] - x[0])
        cn = c[n - 2] / (x[n - 1] - x[n - 3]) - c[n - 3] / (x[n - 2] - x[n - 4])
        c[0] = c0 * d[0] * d[0] / (x[3] - x[0])
        c[n - 1] = -cn * d[n - 2] * d[n - 2] / (x[n - 1] - x[n - 4])
    for i in range(1, n):  # Gaussian elimination
        t = d[i - 1] / b[i - 1]
        b[i] = b[i] - t * d[i - 1]
        c[i] = c[i] - t * c[i - 1]
    c[n - 1] = c[n - 1] / b[n - 1]  # backward substitution
    for i in range(n - 2, -1, -1):
        c[i] = (c[i] - d[i] * c[i + 1]) / b[i]
    b[n - 1] = (y[n - 1] - y[n - 2]) / d[n - 2] + d[n - 2] * (c[n - 2] + 2.0 * c[n - 1])
    for i in range(n - 1):
        b[i] = (y[i + 1] - y[i]) / d[i] - d[i] * (c[i + 1] + 2.0 * c[i])
        d[i] = (c[i + 1] - c[i]) / d[i]
        c[i] = 3.0 * c[i]
    c[n - 1] = 3.0 * c[n - 1]
    d[n - 1] = d[n - 2]
    return b, c, d


def spline_eval(x, y, coef, u: np.ndarray) -> np.ndarray:
    """Evaluate the spline at ``u`` (inside [x[0], x[-1]]), choosing the knot interval as R's ``spline_eval``."""
    b, c, d = coef
    i = np.clip(np.searchsorted(x, u, side="right") - 1, 0, len(x) - 1)
    i = np.where((i > 0) & (x[i] == u), i - 1, i)  # a value on a knot is evaluated on the interval below it
    dx = u - x[i]
    return y[i] + dx * (b[i] + dx * (c[i] + dx * d[i]))


def _f1_upper_quantile(alpha: float, nu: float) -> float:
    """``qf(alpha, 1, nu, lower.tail=FALSE)`` through the beta distribution, as R computes it: exact for the
    tiny ``alpha`` of a large design effect, where ``scipy.stats.f.isf`` returns inf."""
    y = betaincinv(nu / 2.0, 0.5, alpha)
    return float(nu * (1.0 - y) / y)


def _profile(b0: float, se_b: float, deviance, dispersion: float, zmax: float) -> tuple[np.ndarray, np.ndarray]:
    """MASS ``profile.glm`` for the one parameter: the points (b, z), sorted by z."""
    d0, step_size = deviance(b0), zmax / 5.0
    zs, bs = [0.0], [b0]
    for sgn in (-1.0, 1.0):
        step, z = 0, 0.0
        while (step := step + 1) < MAX_STEPS and abs(z) < zmax:
            bi = b0 + sgn * step * step_size * se_b
            zz = (deviance(bi) - d0) / dispersion
            z = sgn * np.sqrt(max(zz, 0.0))
            zs.append(z)
            bs.append(bi)
    order = np.argsort(zs, kind="stable")
    return np.asarray(bs)[order], np.asarray(zs)[order]


def logit_profile_interval(y: np.ndarray, w: np.ndarray, var: float, df: float, *, n_rows: int, n_frame: int,
                           level: float = 0.95) -> tuple[float, float]:
    """The ``likelihood`` interval of ``svyciprop`` for the 0/1 values ``y`` with weights ``w`` (the domain's rows
    of non-zero weight), whose weighted mean has design variance ``var`` on ``df`` degrees of freedom;
    ``n_rows`` rows in R's design, ``n_frame`` of them in the model frame (see the module docstring). NaN when
    every ``y`` is 0 or every one is 1, or there are no degrees of freedom."""
    p = float(np.sum(w * y) / np.sum(w))
    if not (0.0 < p < 1.0) or df <= 0 or len(y) < 2 or not var > 0:
        return np.nan, np.nan
    scaled = w * n_rows / np.sum(w)  # svyglm's rescaled weights: they sum to n_rows
    coef, fitted, work = r_glm_fit(np.ones((len(y), 1)), y, scaled, "binomial")
    b0, mu0 = float(coef[0]), float(fitted[0])
    se_b = np.sqrt(var) / (mu0 * (1.0 - mu0))
    lam = se_b ** 2 * work.sum()  # design variance / model variance of the intercept (R's naive.cov)
    alpha = norm.cdf(t_quantile((1.0 - level) / 2.0, df) * np.sqrt(lam)) / 2.0
    zmax = np.sqrt(_f1_upper_quantile(alpha, n_frame - 1))
    dispersion = len(y) / (len(y) - 1.0) * p * (1.0 - p) / (mu0 * (1.0 - mu0))  # svyvar of Pearson residuals

    def deviance(b: float) -> float:
        mu = expit(b)
        return -2.0 * n_rows * (p * np.log(mu) + (1.0 - p) * np.log1p(-mu))

    bs, zs = _profile(b0, se_b, deviance, dispersion, zmax)
    by_b = np.argsort(bs, kind="stable")  # R's spline() sorts the points by x
    bs, zs = bs[by_b], zs[by_b]
    coef = fmm_spline(bs, zs)
    grid = np.linspace(bs[0], bs[-1], 3 * len(bs))
    sz = spline_eval(bs, zs, coef, grid)
    order = np.argsort(sz, kind="stable")
    cut = norm.ppf(2.0 * alpha)
    lo, hi = (np.interp(c, sz[order], grid[order], left=np.nan, right=np.nan) for c in (cut, -cut))
    return float(expit(lo)), float(expit(hi))
