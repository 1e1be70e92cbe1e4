"""The survey design object: data + weights + strata + clusters + fpc, with estimation verbs.

Modelled on R's ``survey`` (Lumley 2010, *Complex Surveys*): one immutable object carries the design, a few
verbs compose. ``Design.mean``, ``Design.total`` and ``Design.ratio`` return tidy DataFrames with the columns of
``surveykit estimate``: the ``by`` columns, ``variable``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``n``;
:meth:`Design.estimates` returns the same estimates as an :class:`~surveykit.survey.estimates.Estimates` (with
their influence functions: covariances, contrasts). The estimators: :mod:`surveykit.survey.estimates`; their
variance: :func:`surveykit.survey.variance.variance`; the weighting verbs: :mod:`surveykit.survey.weighting`;
replicate weights: :mod:`surveykit.survey.replicates`.

Rows with a missing value of a variable are out of the domain for that variable (R's ``na.rm=TRUE``); the whole
design is kept, so domains are domains.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .categorical import chisq as _chisq
from .categorical import proportion as _proportion
from .categorical import table as _table
from .common import as_list, factor_codes, location, numeric_column, numeric_matrix, show_value
from .estimates import Estimates, design_effect, ratio_estimates
from .glm import glm as _glm
from .quantile import quantile as _quantile
from .replicates import ReplicateDesign, jackknife_multipliers, rao_wu_multipliers
from .stages import LONELY_POLICIES, Stage, build_stages
from .variance import CalibrationStep, RowInfluence, variance
from .weighting import Reweighting, poststratification, raking, trimming


class Design:
    """A complex survey design: immutable; verbs return tidy DataFrames or new designs.

    Parameters
    ----------
    data : DataFrame of respondents (one row each). Not copied: do not modify it afterwards.
    weights : column of sampling weights (inverse inclusion probabilities). When omitted, weights are derived
        from ``fpc`` as ``prod_s N_s/n_s`` (like R), or 1 when there is no fpc either.
    strata : column of first-stage strata (optional).
    psu : column of primary sampling units, or a list of columns for multistage designs (PSU, then SSU...).
        Units are nested in strata and in the units above them (ids may repeat across strata).
        Omitted: every row is its own unit.
    fpc : column (or list, one per stage) of population sizes -- the number of units of that stage in the
        stratum / parent unit -- or of sampling fractions (all values <= 1). Omitted: with replacement.
    lonely_psu : what to do with a stratum holding a single sampled unit: ``"fail"`` (default, refuse with a
        message naming the strata), ``"adjust"``, ``"remove"``, ``"certainty"`` (as R's survey.lonely.psu).

    Example
    -------
    >>> import pandas as pd, surveykit as sk
    >>> df = pd.DataFrame({"y": [1., 2, 3, 4], "h": [1, 1, 2, 2], "w": [2., 2, 3, 3]})
    >>> sk.Design(df, weights="w", strata="h").mean("y").round(4)[["variable", "estimate", "se"]]
      variable  estimate      se
    0        y       2.7  0.3606
    """

    __slots__ = ("_data", "_weights_col", "_strata_col", "_psu_cols", "_fpc_cols", "_lonely", "_w",
                 "_domain_mask", "_stage_arrays", "_calibration", "_history", "_ops", "_base_w", "__dict__")

    def __init__(self, data: pd.DataFrame, weights: str | None = None, strata: str | None = None,
                 psu: str | Sequence[str] | None = None, fpc: str | Sequence[str] | None = None,
                 lonely_psu: str = "fail"):
        if not isinstance(data, pd.DataFrame):
            raise TypeError("data must be a pandas DataFrame")
        if lonely_psu not in LONELY_POLICIES:
            raise InputError(f"lonely_psu must be one of {', '.join(LONELY_POLICIES)}, not '{lonely_psu}'")
        if len(data) == 0:
            raise InputError("the data have no rows", file=data.attrs.get("source"))
        psu_cols = as_list(psu)
        fpc_cols = as_list(fpc)
        if fpc_cols and psu_cols and len(fpc_cols) > len(psu_cols):
            raise InputError(f"{len(fpc_cols)} fpc columns for {len(psu_cols)} sampling stage(s)")
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_weights_col", weights)
        object.__setattr__(self, "_strata_col", strata)
        object.__setattr__(self, "_psu_cols", tuple(psu_cols))
        object.__setattr__(self, "_fpc_cols", tuple(fpc_cols))
        object.__setattr__(self, "_lonely", lonely_psu)
        object.__setattr__(self, "_domain_mask", None)
        object.__setattr__(self, "_calibration", ())
        object.__setattr__(self, "_history", ())
        object.__setattr__(self, "_ops", ())  # weight operations since construction, replayed on replicates
        n = len(data)
        strata_codes = factor_codes(data, strata) if strata else None
        clusters = [factor_codes(data, c) for c in psu_cols] or [np.arange(n, dtype=np.int64)]
        popsizes: list[np.ndarray | None] = []
        for s in range(len(clusters)):
            popsizes.append(self._fpc_values(s, fpc_cols[s]) if s < len(fpc_cols) else None)
        stages = build_stages(strata_codes, clusters, popsizes, n)
        self._check_stages(stages, popsizes)
        object.__setattr__(self, "_stage_arrays", stages)
        w = self._design_weights(weights, stages, popsizes)
        w.flags.writeable = False
        object.__setattr__(self, "_w", w)
        object.__setattr__(self, "_base_w", w)  # the design weights before any weighting step

    # --- construction helpers ---------------------------------------------------------------------------
    def _design_weights(self, weights: str | None, stages: list[Stage], popsizes: list) -> np.ndarray:
        """The weights column, or ``prod_s N_s/n_s`` from the fpc (as R), or 1."""
        data = self._data
        if weights is not None:
            w = numeric_column(data, weights, what="a weight")
            bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
            if len(bad):
                pos = int(bad[0])
                msg = ("blank weight" if np.isnan(w[pos]) else
                       f"weight {show_value(data[weights].iloc[pos])} is not allowed")
                raise InputError(msg + " (weights must be non-negative numbers)", **location(data, pos, weights))
            return w
        w = np.ones(len(data))
        for s, st in enumerate(stages):
            if popsizes[s] is not None:
                inv_f = 1.0 / (1.0 - st.f)  # N/n
                w = w * inv_f[st.parent[st.cluster]]
        return w

    def _fpc_values(self, stage: int, col: str) -> np.ndarray:
        v = numeric_column(self._data, col, what="a population size")
        bad = np.flatnonzero(~np.isfinite(v) | (v <= 0))
        if len(bad):
            raise InputError("fpc must be a positive number", **location(self._data, int(bad[0]), col))
        return v

    def _check_stages(self, stages: list[Stage], popsizes: list[np.ndarray | None]) -> None:
        data = self._data
        for s, st in enumerate(stages):
            if popsizes[s] is not None:
                # fpc must be constant within the group the units were sampled from
                grp = st.parent[st.cluster]
                p = popsizes[s]
                lo = np.full(st.n_groups, np.inf)
                hi = np.full(st.n_groups, -np.inf)
                np.minimum.at(lo, grp, p)
                np.maximum.at(hi, grp, p)
                varying = np.flatnonzero(hi > lo)
                if len(varying):
                    pos = int(np.flatnonzero(grp == varying[0])[0])
                    raise InputError(f"the fpc of stage {s + 1} varies within a stratum/unit; it must be the "
                                     "population size of that stratum/unit", **location(data, pos, self._fpc_cols[s]))
                if np.nanmax(p) > 1:  # population sizes (not fractions): at least the sample
                    too_small = np.flatnonzero(hi[grp] < st.n[grp])
                    if len(too_small):
                        pos = int(too_small[0])
                        raise InputError(f"the fpc ({p[pos]:g}) is smaller than the number of units sampled "
                                         f"({int(st.n[grp[pos]])}) at stage {s + 1}",
                                         **location(data, pos, self._fpc_cols[s]))
            lonely = (st.n == 1) & (st.f >= 1e-7)
            if self._lonely == "fail" and lonely.any():
                grp = st.parent[st.cluster]
                rows = [int(np.flatnonzero(grp == g)[0]) for g in np.flatnonzero(lonely)[:5]]
                if s == 0 and self._strata_col:
                    names = ", ".join(str(data[self._strata_col].iloc[r]) for r in rows)
                    what = f"stratum/strata {names}"
                elif s == 0:
                    what = "the whole sample"
                else:
                    col = self._psu_cols[s - 1]
                    what = f"unit(s) {', '.join(str(data[col].iloc[r]) for r in rows)} of '{col}'"
                raise InputError(f"{int(lonely.sum())} group(s) have a single sampled unit at stage {s + 1} "
                                 f"({what}): the variance cannot be estimated. Merge strata, or choose "
                                 "lonely_psu='adjust' (R's survey.lonely.psu) knowingly.",
                                 file=data.attrs.get("source"))

    def __setattr__(self, name, value):
        raise AttributeError("Design is immutable; verbs return a new Design")

    def _replace(self, **changes) -> "Design":
        new = object.__new__(Design)
        for slot in ("_data", "_weights_col", "_strata_col", "_psu_cols", "_fpc_cols", "_lonely", "_w",
                     "_domain_mask", "_stage_arrays", "_calibration", "_history", "_ops", "_base_w"):
            object.__setattr__(new, slot, changes.get(slot, getattr(self, slot)))
        return new

    # --- properties ---------------------------------------------------------------------------------------
    @property
    def data(self) -> pd.DataFrame:
        return self._data

    @property
    def weights(self) -> pd.Series:
        """The sampling weights (0 outside a subset made with :meth:`subset`)."""
        w = self._w if self._domain_mask is None else np.where(self._domain_mask, self._w, 0.0)
        return pd.Series(w, index=self._data.index, name="weight")

    @property
    def stages(self) -> list[Stage]:
        return self._stage_arrays

    @property
    def lonely_psu(self) -> str:
        return self._lonely

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        st = self._stage_arrays[0]
        parts = [f"{len(self._data):,} rows"]
        if self._strata_col:
            parts.append(f"{st.n_groups} strata ({self._strata_col})")
        if self._psu_cols:
            parts.append(f"{st.n_clusters} PSUs ({' > '.join(self._psu_cols)})")
        if self._fpc_cols:
            parts.append(f"fpc {' > '.join(self._fpc_cols)}")
        parts.append(f"weights {self._weights_col or '(from fpc)' if self._fpc_cols else self._weights_col or '1'}")
        if self._history:
            parts.append("; ".join(self._history))
        if self._domain_mask is not None:
            parts.append(f"subset of {int(self._domain_mask.sum()):,} rows")
        return "Design(" + ", ".join(parts) + ")"

    @property
    def calibration(self) -> tuple[CalibrationStep, ...]:
        """The calibration steps applied (post-stratification, raking), in order."""
        return self._calibration

    @property
    def history(self) -> tuple[str, ...]:
        """What was done to the weights, in words (for the report's method section)."""
        return self._history

    @property
    def subset_mask(self) -> np.ndarray | None:
        """The rows of the sub-population made with :meth:`subset` (read-only), or None for the whole sample."""
        return self._domain_mask

    @property
    def base_weights(self) -> np.ndarray:
        """The design weights before any weighting step (read-only)."""
        return self._base_w

    @property
    def weight_steps(self) -> tuple[Callable[[np.ndarray], np.ndarray], ...]:
        """The weighting steps since construction, each a function of base weights (replayed on replicates)."""
        return self._ops

    # --- verbs returning designs ----------------------------------------------------------------------------
    def assign(self, **columns) -> "Design":
        """The same design with derived columns added to its data (``DataFrame.assign`` semantics): e.g. a
        domain indicator for :meth:`mean` ``by=``. Rows, weights, strata, clusters and calibration are unchanged."""
        data = self._data.assign(**columns)
        data.attrs.update(self._data.attrs)
        return self._replace(_data=data)

    def subset(self, mask) -> "Design":
        """A sub-population: estimates are restricted to rows where ``mask`` is true, the design is kept whole
        (R's ``subset(design, ...)``). ``mask`` is a boolean array/Series or a query string for ``data.eval``."""
        if isinstance(mask, str):
            mask = self._data.eval(mask)
        m = np.asarray(mask, dtype=bool)
        if m.shape != (len(self._data),):
            raise InputError("subset mask must have one value per row")
        if self._domain_mask is not None:
            m = m & self._domain_mask
        m.flags.writeable = False
        return self._replace(_domain_mask=m)

    # --- weighting: each verb returns a new, calibrated Design (module :mod:`.weighting`) ----------------------------
    def _reweighted(self, r: Reweighting) -> "Design":
        r.weights.flags.writeable = False
        return self._replace(_w=r.weights, _calibration=self._calibration + ((r.step,) if r.step else ()),
                             _ops=self._ops + (r.replay,), _history=self._history + (r.description,))

    def _check_calibratable(self) -> None:
        if self._domain_mask is not None:
            raise InputError("calibrate the whole sample, then take subsets (a subset's weights cannot be "
                             "calibrated to the population)")

    def poststratify(self, variables: str | Sequence[str], population) -> "Design":
        """Post-stratify: scale the weights in each cell of ``variables`` to its population count (R
        ``postStratify``). ``population``: a DataFrame with the ``variables`` columns and a ``total`` (or ``Freq``)
        column, or, for one variable, a mapping level -> total. SEs afterwards are calibration-aware.

        Weights: ``w_i <- w_i * N_p / sum_{j in p} w_j`` for the post-stratum ``p`` of row ``i``.
        """
        self._check_calibratable()
        return self._reweighted(poststratification(self._data, self._w, variables, population))

    def rake(self, margins, *, max_iter: int = 100, tol: float = 1e-10) -> "Design":
        """Rake the weights to population margins by iterative proportional fitting (R ``rake``).

        ``margins``: a DataFrame with columns ``variable``, ``level``, ``total`` (the ``--rake`` CSV), or a mapping
        ``{variable: {level: total}}``. Iterates full sweeps of post-stratification until every weighted margin is
        within ``tol`` (relative) of its total; refuses non-convergence after ``max_iter`` sweeps, naming the
        largest remaining gap. SEs afterwards are calibration-aware exactly as R computes them (module
        :mod:`surveykit.survey.variance`).

        Example
        -------
        >>> import pandas as pd, surveykit as sk
        >>> df = pd.DataFrame({"sex": ["f", "m", "m", "f"], "age": ["y", "y", "o", "o"], "w": [1.0, 1, 1, 1]})
        >>> d = sk.Design(df, weights="w").rake({"sex": {"f": 60, "m": 40}, "age": {"y": 50, "o": 50}})
        >>> d.weights.round(2).tolist(), d.history
        ([30.0, 20.0, 20.0, 30.0], ('raked on sex (2 levels), age (2 levels) in 1 iterations',))
        """
        self._check_calibratable()
        return self._reweighted(raking(self._data, self._w, margins, max_iter=max_iter, tol=tol))

    def trim(self, lower: float | None = None, upper: float | None = None, *, strict: bool = False) -> "Design":
        """Trim weights to ``[lower, upper]`` and spread the trimmed amount equally over the other weights (R
        ``trimWeights``); with ``strict`` repeat until no weight is outside. The weighted total is preserved;
        variances treat the trimming as fixed and keep the residuals of earlier calibration steps, as R does."""
        r = trimming(self._w, lower, upper, strict=strict)
        return self if r is None else self._reweighted(r)

    def bootstrap(self, replicates: int = 500, seed: int | None = None, *, mse: bool = False) -> ReplicateDesign:
        """Rao-Wu rescaling bootstrap replicates of the first-stage units (see :mod:`.replicates`); weighting steps
        are repeated on every replicate.

        Only the first stage is resampled (as R's ``subbootstrap``). With a first-stage fpc *and* later stages
        carrying variance (fpc given for them), the replicate variance misses the later stages' share and is too
        small -- a warning says so; use the linearised SEs there, or a design without later-stage fpc."""
        later = [st for st in self._stage_arrays[1:] if st.carries_variance(self._lonely)]
        if later and np.any(self._stage_arrays[0].f < 1):
            warnings.warn("the bootstrap resamples first-stage units only: with first-stage sampling fractions and "
                          "variance at later stages its SEs are too small; prefer the linearised SEs", stacklevel=2)
        mult, unit = rao_wu_multipliers(self, replicates, seed)
        return ReplicateDesign(self, mult, unit, 1.0 / (replicates - 1), np.ones(replicates), "bootstrap", mse)

    def jackknife(self, *, mse: bool = False) -> ReplicateDesign:
        """Delete-one-PSU jackknife (JK1 without strata, JKn with strata), as R's ``as.svrepdesign``."""
        mult, unit, rscales = jackknife_multipliers(self)
        kind = "JKn" if self._strata_col else "JK1"
        return ReplicateDesign(self, mult, unit, 1.0, rscales, kind, mse)

    def weight_diagnostics(self, by: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Weight summary per domain: ``n``, ``sum_weights``, ``min``, ``max``, ``mean``, ``cv`` (population-form
        coefficient of variation), ``deff_kish`` = n sum w^2 / (sum w)^2 = 1 + cv^2 (Kish 1965), ``n_effective`` =
        (sum w)^2 / sum w^2."""
        codes, table = self.domains(by)
        w = self.weights.to_numpy()
        inside = w > 0 if self._domain_mask is not None else np.ones(len(w), dtype=bool)
        rows = []
        for k in range(len(table)):
            x = w[(codes == k) & inside]
            s1, s2 = x.sum(), (x * x).sum()
            rows.append({"n": len(x), "sum_weights": s1, "min": x.min() if len(x) else np.nan,
                         "max": x.max() if len(x) else np.nan, "mean": x.mean() if len(x) else np.nan,
                         "cv": x.std() / x.mean() if len(x) else np.nan,
                         "deff_kish": len(x) * s2 / s1 ** 2 if s1 > 0 else np.nan,
                         "n_effective": s1 ** 2 / s2 if s2 > 0 else np.nan})
        out = pd.DataFrame(rows)
        by_cols = as_list(by)
        return pd.concat([table[by_cols].reset_index(drop=True), out], axis=1) if by_cols else out

    # --- estimation -----------------------------------------------------------------------------------------
    def domains(self, by: str | Sequence[str] | None) -> tuple[np.ndarray, pd.DataFrame]:
        """Integer domain code per row and the table of domains (sorted), for the ``by`` columns."""
        by = as_list(by)
        n = len(self._data)
        if not by:
            return np.zeros(n, dtype=np.int64), pd.DataFrame(index=[0])
        for c in by:
            if c not in self._data.columns:
                raise InputError(f"no column '{c}' in the data (for --by)", file=self._data.attrs.get("source"),
                                 column=c)
        keys = self._data[by]
        if keys.isna().any().any():
            col = next(c for c in by if keys[c].isna().any())
            pos = int(np.flatnonzero(keys[col].isna().to_numpy())[0])
            raise InputError("blank value in a domain (--by) column", **location(self._data, pos, col))
        if len(by) == 1:
            codes, uniq = pd.factorize(keys[by[0]], sort=True)
            table = pd.DataFrame({by[0]: uniq})
        else:
            mi = pd.MultiIndex.from_frame(keys)
            codes, uniq = pd.factorize(mi, sort=True)
            table = pd.DataFrame(list(uniq), columns=by)  # (pandas 3 drops the level names in to_frame)
        return codes.astype(np.int64), table.reset_index(drop=True)

    def vcov(self, z: np.ndarray) -> np.ndarray:
        """Covariance matrix of the totals of the columns of ``z`` (full-length influence values), with the
        calibration residuals when the design is calibrated (R's ``svyrecvar``)."""
        return variance(self, RowInfluence.of(z), joint=True)

    def estimates(self, statistic: str, variables: str | Sequence[str], by: str | Sequence[str] | None = None, *,
                  denominator: str | None = None) -> Estimates:
        """Means, totals or a ratio as :class:`~surveykit.survey.estimates.Estimates` (with influence functions:
        ``.vcov()``, ``.contrast()``); ``.to_frame()`` is what :meth:`mean`, :meth:`total`, :meth:`ratio` return.

        ``statistic``: ``"mean"``, ``"total"`` or ``"ratio"`` (of ``variables`` -- one -- to ``denominator``).
        """
        y, names = numeric_matrix(self._data, variables)
        if statistic == "ratio":
            if denominator is None or len(names) != 1:
                raise InputError("a ratio needs one numerator variable and a denominator")
            x, _ = numeric_matrix(self._data, denominator)
            return ratio_estimates(self, y, x, [f"{names[0]}/{denominator}"], by)
        if statistic not in ("mean", "total") or denominator is not None:
            raise InputError(f"statistic must be 'mean', 'total' or 'ratio' (with a denominator), not '{statistic}'")
        return ratio_estimates(self, y, np.where(np.isnan(y), np.nan, 1.0), names, by, total=statistic == "total")

    def _table(self, statistic: str, variables, by, deff: bool) -> pd.DataFrame:
        est = self.estimates(statistic, variables, by)
        out = est.to_frame()
        if deff:
            y, _ = numeric_matrix(self._data, variables)
            out["deff"] = design_effect(self, est, y, by, total=statistic == "total")
        return out

    def mean(self, variables: str | Sequence[str], by: str | Sequence[str] | None = None, *,
             deff: bool = False) -> pd.DataFrame:
        """Weighted means with linearised SEs, per domain (R: ``svyby(~y, ~by, design, svymean, na.rm=TRUE)``).

        ``estimate = sum_D w y / sum_D w``; influence ``w (y - estimate) / sum_D w``. ``deff=True`` adds the
        design effect column ``deff`` (R's ``deff=TRUE``).
        """
        return self._table("mean", variables, by, deff)

    def total(self, variables: str | Sequence[str], by: str | Sequence[str] | None = None, *,
              deff: bool = False) -> pd.DataFrame:
        """Weighted totals ``sum_D w y`` with SEs, per domain (R: ``svytotal(..., na.rm=TRUE)``)."""
        return self._table("total", variables, by, deff)

    def ratio(self, numerator: str, denominator: str, by: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Ratio of totals ``sum_D w y / sum_D w x`` with linearised SE (R: ``svyratio``)."""
        return self.estimates("ratio", numerator, by, denominator=denominator).to_frame()

    # --- the statistician's verbs (issue 16): thin wrappers; the methods, formulas and R equivalents are in
    # :mod:`.categorical`, :mod:`.quantile` and :mod:`.glm` ------------------------------------------------------
    def proportion(self, variables: str | Sequence[str], by: str | Sequence[str] | None = None, *,
                   method: str = "logit", success: Sequence | None = None, level: float = 0.95,
                   df: float | None = None) -> pd.DataFrame:
        """Proportions with intervals inside [0, 1], per domain (R ``svyciprop``): logit, likelihood, beta or mean
        interval on the domain's df; ``success`` = codes counted as 1. See :func:`.categorical.proportion`."""
        return _proportion(self, variables, by, method=method, success=success, level=level, df=df)

    def quantile(self, variables: str | Sequence[str], probs: float | Sequence[float],
                 by: str | Sequence[str] | None = None, *, level: float = 0.95,
                 df: float | None = None) -> pd.DataFrame:
        """Quantiles with Woodruff intervals (R ``svyquantile``, qrule "math"). See :func:`.quantile.quantile`."""
        return _quantile(self, variables, probs, by, level=level, df=df)

    def table(self, row: str, col: str | None = None, by: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Weighted counts and cell proportions with SEs (R ``svytable``, ``svytotal``/``svymean`` of a factor).
        See :func:`.categorical.table`."""
        return _table(self, row, col, by)

    def chisq(self, row: str, col: str, by: str | Sequence[str] | None = None, *,
              statistic: str = "F") -> pd.DataFrame:
        """Rao-Scott test of independence (R ``svychisq``): second-order ``"F"`` or first-order ``"Chisq"``.
        See :func:`.categorical.chisq`."""
        return _chisq(self, row, col, by, statistic=statistic)

    def glm(self, formula: str, family: str = "gaussian", *, level: float = 0.95) -> pd.DataFrame:
        """Survey-weighted GLM with linearised SEs (R ``svyglm``, quasi-families). See :func:`.glm.glm`."""
        return _glm(self, formula, family, level=level)
