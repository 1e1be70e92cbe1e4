"""The sampling stages of a design as integer arrays: who was sampled in which group, with which fpc.

Stage 1 samples PSUs inside strata; stage ``s`` samples units inside the units of stage ``s-1`` (ids may repeat
across strata or parent units: units are nested). Per group of a stage the arrays hold ``n`` (sampled units),
``f = (N-n)/N`` (1 without fpc) and ``mult``, the product of the sampling fractions ``n/N`` of the stages above;
:meth:`Stage.scales` turns them, with the lonely-PSU policy, into the factors of the variance recursion of
:mod:`surveykit.survey.variance`. Later stages count only when a population size is known for them (R's rule).

Example
-------
>>> import numpy as np
>>> st = build_stages(np.array([0, 0, 1, 1]), [np.array([0, 1, 0, 1])], [None], 4)[0]
>>> st.n_clusters, st.parent.tolist(), st.n.tolist()
(4, [0, 0, 1, 1], [2.0, 2.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

LONELY_POLICIES = ("fail", "adjust", "remove", "certainty")


@dataclass(frozen=True)
class Stage:
    """One sampling stage, with rows already mapped to integer codes.

    ``cluster`` (per row) are the sampled units of this stage, globally unique; ``parent`` (per cluster) is the
    group they were sampled in (a stratum at stage 1, the cluster of the stage above at later stages); per group:
    ``n`` sampled clusters, ``f`` finite population correction ``(N-n)/N``, ``mult`` the product of the sampling
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

    def carries_variance(self, lonely_psu: str) -> bool:
        return bool(np.any(self.scales(lonely_psu)[0]))


def _stage(group: np.ndarray, cl: np.ndarray, popsize: np.ndarray | None, mult_of_group: np.ndarray
           ) -> tuple[Stage, np.ndarray]:
    """One stage from its groups (per row), its units (per row, nested in the groups) and its fpc; also the
    sampling fraction ``n/N`` of each group (1 without fpc)."""
    n_rows = len(group)
    key = group.astype(np.int64) * (int(cl.max()) + 1 if n_rows else 1) + cl  # (group, unit) pairs as one key
    codes, uniq = pd.factorize(key)
    codes = np.asarray(codes, dtype=np.int64)
    n_cl = len(uniq)
    first_row = np.zeros(n_cl, dtype=np.int64)
    first_row[codes[::-1]] = np.arange(n_rows)[::-1]
    parent = group[first_row]
    n_groups = len(mult_of_group)
    n = np.bincount(parent, minlength=n_groups).astype(float)
    if popsize is None:
        big_n = np.full(n_groups, np.inf)
    else:
        big_n = np.full(n_groups, np.nan)
        big_n[group] = popsize
        if np.nanmax(popsize) <= 1:  # sampling fractions, as R accepts: N = n / f
            big_n = n / big_n
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(np.isinf(big_n), 1.0, (big_n - n) / big_n)
        frac = np.where(np.isinf(big_n), 1.0, n / big_n)
    return Stage(cluster=codes, n_clusters=n_cl, parent=parent, n_groups=n_groups, n=n, f=f,
                 mult=mult_of_group.copy()), frac


def build_stages(strata: np.ndarray | None, clusters: list[np.ndarray], popsizes: list[np.ndarray | None],
                 n_rows: int) -> list[Stage]:
    """Turn per-row stratum, cluster and population-size columns into :class:`Stage` objects.

    ``clusters`` has one array per stage (None-free; use row numbers for element sampling); PSUs are nested in
    strata and each stage's units in the units above (ids may repeat across strata). ``popsizes[s]`` holds the
    population number of stage-``s`` units in the row's stratum / parent unit (or, when every value is <= 1, the
    sampling fraction), or None (no fpc). Only the stages up to the last one with a known population size enter
    the recursion beyond stage 1 (R's rule).
    """
    group = np.zeros(n_rows, dtype=np.int64) if strata is None else strata.astype(np.int64)
    mult_of_group = np.ones(int(group.max()) + 1 if n_rows else 0)
    stages: list[Stage] = []
    for s, cl in enumerate(clusters):
        if s > 0 and popsizes[s] is None:
            break
        st, frac = _stage(group, cl, popsizes[s], mult_of_group)
        stages.append(st)
        # the next stage samples inside each cluster; its multiplier carries this stage's sampling fraction
        mult_of_group = (mult_of_group * frac)[st.parent]
        group = st.cluster
    return stages
