"""The one place where the statistician's verbs (:mod:`.categorical`, :mod:`.quantile`, :mod:`.glm`) touch the
design engine: the variance of influence values, which rows are in the design, and R's degrees of freedom.

Every verb linearises its estimator into influence values ``z`` (one column per estimate, zero outside the
domain) and hands them to :func:`design_variance`, as R's ``survey`` hands them to ``svyrecvar``. When the engine
changes, only this module follows it.
"""

from __future__ import annotations

import numpy as np

from .variance import RowInfluence, variance


def design_variance(design, z: np.ndarray, domain: np.ndarray | None = None, n_domains: int = 1, *,
                    covariance: bool = False) -> np.ndarray:
    """Design-based variance of the totals of the columns of ``z`` within each domain (R ``svyrecvar``),
    calibration-aware after post-stratification or raking.

    ``z``: (rows x k) influence values, each row carrying its influence on the estimates of its own domain
    ``domain[i]`` in ``[0, n_domains)`` (zero for rows outside every domain); every sampled unit of the design
    counts, so domains are domains. Returns variances (n_domains x k), or with ``covariance`` the covariance
    matrices (n_domains x k x k).
    """
    z = np.asarray(z, dtype=float)
    z = z[:, None] if z.ndim == 1 else z
    n, k = z.shape
    domain = np.zeros(n, dtype=np.int64) if domain is None else np.asarray(domain, dtype=np.int64)
    infl = RowInfluence.of(z, domain, n_domains)
    if not covariance:
        return variance(design, infl)
    return np.stack([variance(design, infl, joint=True, select=d * k + np.arange(k)) for d in range(n_domains)])


def in_design(design) -> np.ndarray:
    """Rows in the design: all of them, or those of its :meth:`~surveykit.Design.subset`."""
    mask = design.subset_mask
    return np.ones(len(design), dtype=bool) if mask is None else mask.copy()


def degf(design, rows: np.ndarray) -> int:
    """R's ``degf`` of the design restricted to ``rows``: the first-stage units with a row of non-zero weight
    there, minus the strata holding them (``degf.survey.design2`` on ``subset(design, rows)``)."""
    st = design.stages[0]
    used = np.asarray(rows, dtype=bool) & (design.weights.to_numpy() != 0)
    clusters = np.unique(st.cluster[used])
    return int(len(clusters) - len(np.unique(st.parent[clusters])))


def r_rows(design, rows: np.ndarray) -> np.ndarray:
    """The rows R's ``subset(design, rows)`` keeps: a calibrated design keeps every row (R gives the others zero
    weight), an uncalibrated one only ``rows``. R's ``nrow(design)`` and the weight normalisation of ``svyglm``
    depend on it (``svyciprop`` methods ``beta`` and ``likelihood``)."""
    rows = np.asarray(rows, dtype=bool)
    return np.ones_like(rows) if design.calibration else rows
