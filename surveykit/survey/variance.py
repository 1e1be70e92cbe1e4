"""Design-based variance of linearised estimators: the multistage "ultimate cluster" recursion of R's survey.

Given influence values ``z_i`` (one column per estimate), the variance of ``sum_i z_i`` under a stratified
multistage design without replacement is (Särndal, Swensson & Wretman 1992, result 4.3.1; R ``survey:::svyrecvar``,
``multistage``, ``onestage``, ``onestrat``)::

    V = sum_h  f_h * n_h/(n_h-1) * sum_k (t_hk - tbar_h)^2                 (stage 1: PSUs k in stratum h)
      + sum_h  (n_h/N_h) * sum_{k in h}  V_2(k)                             (stage 2 inside each sampled PSU)
      + ...

with ``t_hk`` the PSU total of ``z``, ``f_h = (N_h - n_h)/N_h`` (1 without fpc) and ``V_2(k)`` the same formula
applied to the secondary units of PSU ``k``. Later stages enter only when a population size is known for them,
exactly as R does (without fpc, only the first stage is used: the "ultimate cluster" approximation).

Domains (:func:`domain_variance`) are handled as domains: the influence of an estimate in domain ``d`` is zero
outside ``d`` but every PSU of the design still counts in ``n_h`` -- the zero totals of PSUs without domain members
enter the sum of squares (R pads them with zeros in ``onestrat``). Computing all domains at once only needs the
non-zero PSU totals: ``sum_k (t_k - m)^2 = sum_{present} (t_k - m)^2 + (n_h - n_present) m^2``.

Lonely PSUs (a stratum with one sampled PSU at some stage): ``fail`` refuses (the default, like R);
``adjust`` uses the PSU total's deviation from zero, i.e. from the population mean of the influence values
(R's ``survey.lonely.psu="adjust"``, uncentred, scale ``f``); ``remove`` and ``certainty`` contribute nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

LONELY_POLICIES = ("fail", "adjust", "remove", "certainty")


def group_sum(codes: np.ndarray, ngroups: int, x: np.ndarray) -> np.ndarray:
    """Column sums of ``x`` (n x k) within integer groups ``codes`` in ``[0, ngroups)``; returns (ngroups x k)."""
    n = codes.shape[0]
    m = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(ngroups, n))
    out = m @ x
    return np.asarray(out)


@dataclass(frozen=True)
class Stage:
    """One sampling stage, with rows already mapped to integer codes.

    ``cluster`` (per row) are the sampled units of this stage, globally unique; ``parent`` (per cluster) is the
    group they were sampled in (a stratum at stage 1, the parent cluster at later stages); per group: ``n``
    sampled clusters, ``f`` finite population correction ``(N-n)/N``, ``mult`` the product of the sampling
    fractions ``n/N`` of the stages above.
    """

    cluster: np.ndarray
    n_clusters: int
    parent: np.ndarray
    n_groups: int
    n: np.ndarray
    f: np.ndarray
    mult: np.ndarray

    def scales(self, lonely_psu: str) -> tuple[np.ndarray, np.ndarray]:
        """Per group: the factor of the centred sum of squares, and whether the group is centred."""
        lonely = self.n == 1
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(lonely, self.f, self.f * self.n / (self.n - 1))
        scale = scale * self.mult
        centred = ~lonely
        if lonely_psu in ("remove", "certainty"):
            scale = np.where(lonely, 0.0, scale)
        scale = np.where(self.f < 1e-7, 0.0, scale)  # census strata: no variance (R's onestrat)
        return scale, centred


def stage_variance(st: Stage, cd_cluster: np.ndarray, cd_domain: np.ndarray, t: np.ndarray, n_domains: int,
                   lonely_psu: str = "fail") -> np.ndarray:
    """One stage's variance contribution per domain, from the cluster totals ``t`` (combinations x k) of the
    influence values of each domain's estimates. Clusters of the stage without members in a domain count as
    zero totals (R pads them in ``onestrat``)."""
    scale, centred = st.scales(lonely_psu)
    grp = st.parent[cd_cluster]
    gkey = grp.astype(np.int64) * n_domains + cd_domain
    ugkey, ginv = np.unique(gkey, return_inverse=True)
    ginv = ginv.ravel()
    g_of = ugkey // n_domains
    d_of = ugkey % n_domains
    n_g = st.n[g_of].astype(float)
    present = np.bincount(ginv, minlength=len(ugkey)).astype(float)
    mean = group_sum(ginv, len(ugkey), t) / n_g[:, None]
    mean = np.where(centred[g_of][:, None], mean, 0.0)
    dev = t - mean[ginv]
    ss = group_sum(ginv, len(ugkey), dev * dev) + (n_g - present)[:, None] * mean * mean
    return group_sum(d_of, n_domains, ss * scale[g_of][:, None])


def stage_has_variance(st: Stage, lonely_psu: str) -> bool:
    return bool(np.any(st.scales(lonely_psu)[0]))


def build_stages(strata: np.ndarray | None, clusters: list[np.ndarray], popsizes: list[np.ndarray | None],
                 n_rows: int) -> list[Stage]:
    """Turn per-row stratum, cluster and population-size columns into :class:`Stage` objects.

    ``clusters`` has one array per stage (None-free; use row numbers for element sampling); PSUs are nested in
    strata and each stage's units in the units above (ids may repeat across strata). ``popsizes[s]`` holds the
    population number of stage-``s`` units in the row's stratum / parent unit (or, when every value is <= 1, the
    sampling fraction), or None (no fpc). Only the
    stages up to the last one with a known population size enter the recursion beyond stage 1 (R's rule).
    """
    group = np.zeros(n_rows, dtype=np.int64) if strata is None else strata.astype(np.int64)
    mult_of_group = np.ones(int(group.max()) + 1 if n_rows else 0)
    stages: list[Stage] = []
    for s, cl in enumerate(clusters):
        if s > 0 and popsizes[s] is None:
            break
        # units are nested in their group: (group, unit) pairs, as one int64 key
        key = group.astype(np.int64) * (int(cl.max()) + 1 if n_rows else 1) + cl
        codes, uniq = pd.factorize(key)
        codes = np.asarray(codes, dtype=np.int64)
        n_cl = len(uniq)
        first_row = np.zeros(n_cl, dtype=np.int64)
        first_row[codes[::-1]] = np.arange(n_rows)[::-1]
        parent = group[first_row]
        n_groups = len(mult_of_group)
        n = np.bincount(parent, minlength=n_groups).astype(float)
        if popsizes[s] is None:
            big_n = np.full(n_groups, np.inf)
        else:
            big_n = np.full(n_groups, np.nan)
            big_n[group] = popsizes[s]
            if np.nanmax(popsizes[s]) <= 1:  # sampling fractions, as R accepts: N = n / f
                big_n = n / big_n
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(np.isinf(big_n), 1.0, (big_n - n) / big_n)
        stages.append(Stage(cluster=codes, n_clusters=n_cl, parent=parent, n_groups=n_groups, n=n, f=f,
                            mult=mult_of_group.copy()))
        # the next stage samples inside each cluster; its multiplier carries this stage's sampling fraction
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(np.isinf(big_n), 1.0, n / big_n)
        mult_of_group = (mult_of_group * frac)[parent]
        group = codes
    return stages
