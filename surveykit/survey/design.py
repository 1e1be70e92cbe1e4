"""The survey design object: data + weights + strata + clusters + fpc, with estimation verbs.

Modelled on R's ``survey`` (Lumley 2010, *Complex Surveys*): one immutable object carries the design, a few
verbs compose. ``Design.mean``, ``Design.total`` and ``Design.ratio`` return tidy DataFrames with the columns of
``surveykit estimate``: the ``by`` columns, ``variable``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``n``.

Estimators (Särndal, Swensson & Wretman 1992, §5.6-5.9; Lumley 2010, §2.3 and appendix C):

* total ``Y_D = sum_{i in D} w_i y_i``; influence ``z_i = w_i y_i 1[i in D]``;
* ratio ``R_D = sum_D w_i y_i / sum_D w_i x_i``; influence ``z_i = w_i (y_i - R_D x_i) 1[i in D] / sum_D w_i x_i``;
* mean = ratio with ``x = 1`` (so a domain mean is a ratio estimator, as in R's ``svymean`` on a subset).

Variances are those of ``sum z`` under the design (:mod:`surveykit.survey.variance`); confidence intervals are
normal, ``estimate ± 1.96·SE`` (``scipy.stats.norm.ppf(0.975)``). Rows with a missing value of a variable are out of
the domain for that variable (R's ``na.rm=TRUE``); the whole design is kept, so domains are domains.
"""

from __future__ import annotations

from functools import partial
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..errors import InputError
from .calibration import (RAKING_SWEEPS, CalibrationStep, RowInfluence, calibrated_vcov, influence_variance,
                          poststratify_weights, poststratum_margin, rake_weights, raking_margin, trim_weights)
from .variance import LONELY_POLICIES, Stage, build_stages, group_sum

Z95 = float(norm.ppf(0.975))
ESTIMATE_COLUMNS = ["variable", "estimate", "se", "ci_low", "ci_high", "n"]


def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return list(x)


def file_row(data: pd.DataFrame, pos: int) -> int | None:
    """The row number in the source file of the row at position ``pos`` (readers record it), else None."""
    rows = data.attrs.get("file_rows")
    if rows is not None:
        return int(rows[pos])
    return None


def _where(data: pd.DataFrame, pos: int | None = None, column: str | None = None) -> dict:
    return {"file": data.attrs.get("source"), "row": None if pos is None else file_row(data, pos),
            "column": column}


def numeric_column(data: pd.DataFrame, column: str, *, what: str = "a number") -> np.ndarray:
    """A column as float64 with NaN for blanks; text where a number belongs is an :class:`InputError`."""
    if column not in data.columns:
        raise InputError(f"no column '{column}' in the data (columns: {', '.join(map(str, data.columns[:12]))}"
                         f"{', ...' if len(data.columns) > 12 else ''})", file=data.attrs.get("source"),
                         column=column)
    s = data[column]
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float).to_numpy()
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=float, na_value=np.nan)
    conv = pd.to_numeric(s.astype("string").str.strip().replace("", pd.NA), errors="coerce")
    bad = conv.isna() & s.notna() & (s.astype("string").str.strip() != "")
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"'{s.iloc[pos]}' is not {what}", **_where(data, pos, column))
    return conv.to_numpy(dtype=float, na_value=np.nan)


def show_value(v) -> str:
    """A cell value as the user typed it: ``7`` not ``np.float64(7.0)``, text in quotes."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        return str(v)
    return repr(str(v))


def _replay_rake(w, *, codes, targets, max_iter, tol):
    """Raking of one replicate's weights (a replicate that does not converge keeps its last iteration)."""
    return rake_weights(w, codes, targets, max_iter, tol).weights


def level_key(v) -> str:
    """A category level as text, so that 1, 1.0 and "1" are the same level (margins files are text)."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    t = str(v).strip()
    try:
        f = float(t)
    except ValueError:
        return t
    return str(int(f)) if f.is_integer() and "." in t else t


def _codes(data: pd.DataFrame, column: str) -> np.ndarray:
    if column not in data.columns:
        raise InputError(f"no column '{column}' in the data", file=data.attrs.get("source"), column=column)
    s = data[column]
    if s.isna().any():
        pos = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise InputError("blank design variable (every row needs a value)", **_where(data, pos, column))
    codes, _ = pd.factorize(s, sort=True)
    return codes.astype(np.int64)


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
    >>> sk.Design(df, weights="w", strata="h").mean("y").round(4)[["variable", "estimate"]]
      variable  estimate
    0        y       2.8
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
        psu_cols = _as_list(psu)
        fpc_cols = _as_list(fpc)
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
        strata_codes = _codes(data, strata) if strata else None
        clusters = [_codes(data, c) for c in psu_cols] or [np.arange(n, dtype=np.int64)]
        popsizes: list[np.ndarray | None] = []
        for s in range(len(clusters)):
            popsizes.append(self._fpc_values(s, fpc_cols[s]) if s < len(fpc_cols) else None)
        stages = build_stages(strata_codes, clusters, popsizes, n)
        self._check_stages(stages, popsizes)
        object.__setattr__(self, "_stage_arrays", stages)
        if weights is not None:
            w = numeric_column(data, weights, what="a weight")
            bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
            if len(bad):
                pos = int(bad[0])
                msg = ("blank weight" if np.isnan(w[pos]) else f"weight {show_value(data[weights].iloc[pos])} is not allowed")
                raise InputError(msg + " (weights must be non-negative numbers)", **_where(data, pos, weights))
        else:
            w = np.ones(n)
            for s, st in enumerate(stages):
                if popsizes[s] is not None:
                    inv_f = 1.0 / (1.0 - st.f)  # N/n
                    w = w * inv_f[st.parent[st.cluster]]
        object.__setattr__(self, "_w", w)
        object.__setattr__(self, "_base_w", w)  # the design weights before any weighting step

    # --- construction helpers ---------------------------------------------------------------------------
    def _fpc_values(self, stage: int, col: str) -> np.ndarray:
        v = numeric_column(self._data, col, what="a population size")
        bad = np.flatnonzero(~np.isfinite(v) | (v <= 0))
        if len(bad):
            raise InputError("fpc must be a positive number", **_where(self._data, int(bad[0]), col))
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
                                     "population size of that stratum/unit", **_where(data, pos, self._fpc_cols[s]))
                if np.nanmax(p) > 1:  # population sizes (not fractions): at least the sample
                    too_small = np.flatnonzero(hi[grp] < st.n[grp])
                    if len(too_small):
                        pos = int(too_small[0])
                        raise InputError(f"the fpc ({p[pos]:g}) is smaller than the number of units sampled "
                                         f"({int(st.n[grp[pos]])}) at stage {s + 1}",
                                         **_where(data, pos, self._fpc_cols[s]))
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
        return self._replace(_domain_mask=m)

    # --- weighting (issue 3): each verb returns a new, calibrated Design -----------------------------------------
    def _level_codes(self, column: str, source: str | None) -> tuple[np.ndarray, list[str]]:
        """Codes of a calibration variable's levels (as text, numbers without '.0'); blanks are refused."""
        if column not in self._data.columns:
            raise InputError(f"margin on a column that does not exist in the data ('{column}')", file=source,
                             column=column)
        s = self._data[column]
        if s.isna().any():
            pos = int(np.flatnonzero(s.isna().to_numpy())[0])
            raise InputError("blank value in a calibration variable", **_where(self._data, pos, column))
        raw_codes, raw_levels = pd.factorize(s)
        keys = np.array([level_key(v) for v in raw_levels], dtype=object)  # once per distinct value
        key_codes, uniq = pd.factorize(keys, sort=True)
        codes = key_codes[raw_codes]
        return codes.astype(np.int64), list(uniq)

    def _targets(self, column: str, levels: list[str], totals: dict[str, float], source: str | None,
                 codes: np.ndarray) -> np.ndarray:
        extra = [lv for lv in levels if lv not in totals]
        if extra:
            rows = int(np.isin(codes, [levels.index(x) for x in extra]).sum())
            raise InputError(f"level(s) {', '.join(repr(x.replace(chr(31), ' x ')) for x in extra[:5])} of "
                             f"'{column}' occur in the data ({rows} rows) but have no population total in the "
                             "margins", file=source, column=column)
        missing = [lv for lv in totals if lv not in levels]
        if missing:
            raise InputError(f"level(s) {', '.join(repr(x) for x in missing[:5])} of '{column}' have a population "
                             "total but no respondent in the data: they cannot be calibrated (merge them with "
                             "another level)", file=source, column=column)
        bad = [lv for lv, t in totals.items() if not (np.isfinite(t) and t > 0)]
        if bad:
            raise InputError(f"population total of '{column}' = {bad[0]!r} must be a positive number "
                             f"(got {totals[bad[0]]!r})", file=source, column=column)
        return np.array([totals[lv] for lv in levels], dtype=float)

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
        variables = _as_list(variables)
        source = getattr(population, "attrs", {}).get("source") if isinstance(population, pd.DataFrame) else None
        if isinstance(population, pd.DataFrame):
            tcol = "total" if "total" in population.columns else "Freq" if "Freq" in population.columns else None
            if tcol is None:
                raise InputError("population table needs a 'total' column", file=source)
            for v in variables:
                if v not in population.columns:
                    raise InputError(f"population table has no column '{v}'", file=source, column=v)
            keys = population[variables].astype(str).map(level_key).agg("\x1f".join, axis=1) if len(variables) > 1 \
                else population[variables[0]].map(level_key)
            totals = dict(zip(keys, pd.to_numeric(population[tcol], errors="coerce")))
        else:
            if len(variables) != 1:
                raise InputError("give the population as a table when post-stratifying on several variables")
            totals = {level_key(k): float(v) for k, v in dict(population).items()}
        per_var = [self._level_codes(v, source) for v in variables]  # checks every column, no blanks
        if len(variables) == 1:
            codes, levels = per_var[0]
        else:  # post-strata are the combinations of the variables' levels
            labels = [np.array(lv, dtype=object)[c] for c, lv in per_var]
            joined = pd.Series(labels[0])
            for lab in labels[1:]:
                joined = joined + "\x1f" + lab
            codes, uniq = pd.factorize(joined, sort=True)
            codes, levels = codes.astype(np.int64), list(uniq)
        name = " x ".join(variables)
        target = self._targets(name, levels, totals, source, codes)
        old = self._w
        new = poststratify_weights(old, codes, target)
        step = CalibrationStep("poststratify", (poststratum_margin(codes, len(levels), old, new),), 1)
        return self._replace(_w=new, _calibration=self._calibration + (step,),
                             _ops=self._ops + (partial(poststratify_weights, codes=codes, target=target),),
                             _history=self._history + (f"post-stratified on {name} ({len(levels)} cells)",))

    def rake(self, margins, *, max_iter: int = 100, tol: float = 1e-10) -> "Design":
        """Rake the weights to population margins by iterative proportional fitting (R ``rake``).

        ``margins``: a DataFrame with columns ``variable``, ``level``, ``total`` (the ``--rake`` CSV), or a mapping
        ``{variable: {level: total}}``. Iterates full sweeps of post-stratification until every weighted margin is
        within ``tol`` (relative) of its total; refuses non-convergence after ``max_iter`` sweeps, naming the
        largest remaining gap. SEs afterwards are calibration-aware exactly as R computes them (module
        :mod:`surveykit.survey.calibration`).
        """
        self._check_calibratable()
        source = None
        if isinstance(margins, pd.DataFrame):
            source = margins.attrs.get("source")
            need = {"variable", "level", "total"}
            if not need <= set(margins.columns):
                raise InputError(f"margins need the columns variable, level, total (missing: "
                                 f"{', '.join(sorted(need - set(margins.columns)))})", file=source)
            spec: dict[str, dict[str, float]] = {}
            tot = pd.to_numeric(margins["total"], errors="coerce")
            for pos, (var, lev, t) in enumerate(zip(margins["variable"], margins["level"], tot)):
                if pd.isna(var) or pd.isna(lev):
                    raise InputError("blank variable or level", file=source, row=file_row(margins, pos))
                if pd.isna(t):
                    raise InputError(f"total {margins['total'].iloc[pos]!r} is not a number", file=source,
                                     row=file_row(margins, pos), column="total")
                key = level_key(lev)
                if key in spec.setdefault(str(var).strip(), {}):
                    raise InputError(f"level '{lev}' of '{var}' is given twice", file=source,
                                     row=file_row(margins, pos))
                spec[str(var).strip()][key] = float(t)
        else:
            spec = {v: {level_key(k): float(t) for k, t in lv.items()} for v, lv in dict(margins).items()}
        if not spec:
            raise InputError("no margins given", file=source)
        cols, codes, targets = [], [], []
        for var, totals in spec.items():
            c, levels = self._level_codes(var, source)
            targets.append(self._targets(var, levels, totals, source, c))
            codes.append(c)
            cols.append((var, levels))
        grand = [t.sum() for t in targets]
        if max(grand) - min(grand) > 1e-6 * max(grand):
            detail = ", ".join(f"{v} {g:,.6g}" for (v, _), g in zip(cols, grand))
            raise InputError(f"the margins' grand totals disagree ({detail}); raking needs one population size",
                             file=source)
        res = rake_weights(self._w.copy(), codes, targets, max_iter, tol)
        if not res.converged:
            m, lev = res.worst
            raise InputError(f"raking did not converge after {max_iter} iterations; the largest remaining gap is "
                             f"{res.gap:.3g} (relative) at {cols[m][0]}={cols[m][1][lev]}. Check that the margins "
                             "are consistent, or merge sparse levels", file=source)
        w, psw, it = res.weights, res.psw, res.iterations
        margins_used = tuple(raking_margin(c, len(t), p) for c, t, p in zip(codes, targets, psw))
        step = CalibrationStep("rake", margins_used, RAKING_SWEEPS)
        desc = f"raked on {', '.join(f'{v} ({len(lv)} levels)' for v, lv in cols)} in {it} iterations"
        op = partial(_replay_rake, codes=codes, targets=targets, max_iter=max_iter, tol=tol)
        return self._replace(_w=w, _calibration=self._calibration + (step,), _ops=self._ops + (op,),
                             _history=self._history + (desc,))

    def trim(self, lower: float | None = None, upper: float | None = None, *, strict: bool = False) -> "Design":
        """Trim weights to ``[lower, upper]`` and spread the trimmed amount equally over the other weights (R
        ``trimWeights``); with ``strict`` repeat until no weight is outside. The weighted total is preserved;
        variances treat the trimming as fixed and keep the residuals of earlier calibration steps, as R does."""
        lo = -np.inf if lower is None else float(lower)
        hi = np.inf if upper is None else float(upper)
        if lo > hi:
            raise InputError(f"trim: lower ({lo}) is above upper ({hi})")
        if not ((self._w < lo) | (self._w > hi)).any():
            return self
        if ((self._w < lo) | (self._w > hi)).all():
            raise InputError("trim: every weight is outside the bounds")
        w = trim_weights(self._w, lo, hi, strict)
        desc = f"weights trimmed to [{lower if lower is not None else '-inf'}, {upper if upper is not None else 'inf'}]"
        # as R: the residuals of earlier calibration steps stay in the variance; the trimming itself is fixed
        return self._replace(_w=w, _ops=self._ops + (partial(trim_weights, lower=lo, upper=hi, strict=strict),),
                             _history=self._history + (desc,))

    def bootstrap(self, replicates: int = 500, seed: int | None = None, *, mse: bool = False):
        """Rao-Wu rescaling bootstrap replicates of the first-stage units (see :mod:`.replicates`); weighting steps
        are repeated on every replicate. Returns a :class:`~surveykit.survey.replicates.ReplicateDesign`.

        Only the first stage is resampled (as R's ``subbootstrap``). With a first-stage fpc *and* later stages
        carrying variance (fpc given for them), the replicate variance misses the later stages' share and is too
        small -- a warning says so; use the linearised SEs there, or a design without later-stage fpc."""
        import warnings

        from .replicates import ReplicateDesign, rao_wu_multipliers

        later = [st for st in self._stage_arrays[1:] if np.any(st.scales(self._lonely)[0])]
        if later and np.any(self._stage_arrays[0].f < 1):
            warnings.warn("the bootstrap resamples first-stage units only: with first-stage sampling fractions and "
                          "variance at later stages its SEs are too small; prefer the linearised SEs", stacklevel=2)

        mult, unit = rao_wu_multipliers(self, replicates, seed)
        return ReplicateDesign(self, mult, unit, 1.0 / (replicates - 1), np.ones(replicates), "bootstrap", mse)

    def jackknife(self, *, mse: bool = False):
        """Delete-one-PSU jackknife (JK1 without strata, JKn with strata), as R's ``as.svrepdesign``."""
        from .replicates import ReplicateDesign, jackknife_multipliers

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
        by_cols = _as_list(by)
        return pd.concat([table[by_cols].reset_index(drop=True), out], axis=1) if by_cols else out

    # --- estimation -----------------------------------------------------------------------------------------
    def domains(self, by: str | Sequence[str] | None) -> tuple[np.ndarray, pd.DataFrame]:
        """Integer domain code per row and the table of domains (sorted), for the ``by`` columns."""
        by = _as_list(by)
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
            raise InputError("blank value in a domain (--by) column", **_where(self._data, pos, col))
        if len(by) == 1:
            codes, uniq = pd.factorize(keys[by[0]], sort=True)
            table = pd.DataFrame({by[0]: uniq})
        else:
            mi = pd.MultiIndex.from_frame(keys)
            codes, uniq = pd.factorize(mi, sort=True)
            table = pd.DataFrame(list(uniq), columns=by)  # (pandas 3 drops the level names in to_frame)
        return codes.astype(np.int64), table.reset_index(drop=True)

    def domain_variance(self, z: np.ndarray, domain: np.ndarray, n_domains: int) -> np.ndarray:
        """Variance, per domain and column, of the total of influence values ``z`` (each row's influence on its
        own domain's estimates), calibration-aware (see :mod:`.variance` and :mod:`.calibration`)."""
        z = np.asarray(z, dtype=float)
        z = z[:, None] if z.ndim == 1 else z
        return self.influence_variance(RowInfluence(z, domain, n_domains))

    def influence_variance(self, infl) -> np.ndarray:
        """Variance of each domain's estimates from an :class:`~surveykit.survey.calibration.Influence`."""
        return influence_variance(self._stage_arrays, list(self._calibration), infl, self._lonely)

    def vcov(self, z: np.ndarray) -> np.ndarray:
        """Covariance matrix of the totals of the columns of ``z`` (full-length influence values), with the
        calibration residuals when the design is calibrated (R's ``svyrecvar``)."""
        z = np.asarray(z, dtype=float)
        z = z[:, None] if z.ndim == 1 else z
        return calibrated_vcov(self._stage_arrays, list(self._calibration), z, self._lonely)

    def _ratio_table(self, num: np.ndarray, den: np.ndarray, names: list[str], by, *, total: bool = False,
                     deff: bool = False) -> pd.DataFrame:
        """Shared engine of mean/total/ratio: ``num``, ``den`` are (n x k) with NaN where out of domain."""
        codes, table = self.domains(by)
        nd = len(table)
        ok = ~(np.isnan(num) | np.isnan(den))
        if self._domain_mask is not None:
            ok &= self._domain_mask[:, None]
        w = self._w[:, None]
        y = np.where(ok, num, 0.0) * w
        x = np.where(ok, den, 0.0) * w
        ty = group_sum(codes, nd, y)
        tx = group_sum(codes, nd, x)
        count = group_sum(codes, nd, ok.astype(float))
        if total:
            est = ty
            z = y
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                est = ty / tx
                z = (y - est[codes] * x) / tx[codes]
            z = np.where(ok, z, 0.0)
        var = self.domain_variance(z, codes, nd)
        se = np.sqrt(np.maximum(var, 0.0))
        if not total:
            se = np.where(tx > 0, se, np.nan)
        if deff:
            # R's deff=TRUE: variance over that of simple random sampling without replacement of the same size,
            # v_srs = s2 (W - n)/(W n) for a mean (times W^2 for a total), s2 the weighted variance with n/(n-1)
            nz = ok & (self._w > 0)[:, None] if self._domain_mask is None else ok & self._domain_mask[:, None]
            n_obs = group_sum(codes, nd, nz.astype(float))
            wsum = group_sum(codes, nd, np.where(ok, self._w[:, None], 0.0))
            mean_d = group_sum(codes, nd, np.where(ok, num, 0.0) * np.where(ok, self._w[:, None], 0.0)) / wsum
            dev = np.where(ok, num - mean_d[codes], 0.0)
            s2 = group_sum(codes, nd, dev * dev * np.where(ok, self._w[:, None], 0.0)) / wsum * n_obs / (n_obs - 1)
            v_srs = s2 * (wsum - n_obs) / (wsum * n_obs)
            if total:
                v_srs = v_srs * wsum ** 2
            with np.errstate(divide="ignore", invalid="ignore"):
                deff_v = var / v_srs
        rows = []
        for j, name in enumerate(names):
            part = table.copy()
            part["variable"] = name
            part["estimate"] = est[:, j]
            part["se"] = se[:, j]
            part["n"] = count[:, j].astype(np.int64)
            if deff:
                part["deff"] = deff_v[:, j]
            rows.append(part)
        out = pd.concat(rows, ignore_index=True)
        out["ci_low"] = out["estimate"] - Z95 * out["se"]
        out["ci_high"] = out["estimate"] + Z95 * out["se"]
        by_cols = _as_list(by)
        return out[by_cols + ESTIMATE_COLUMNS + (["deff"] if deff else [])]

    def _matrix(self, variables: Iterable[str]) -> tuple[np.ndarray, list[str]]:
        names = _as_list(variables)  # type: ignore[arg-type]
        if not names:
            raise InputError("no variable given")
        cols = [numeric_column(self._data, v) for v in names]
        return np.column_stack(cols), names

    def mean(self, variables: str | Sequence[str], by: str | Sequence[str] | None = None, *,
             deff: bool = False) -> pd.DataFrame:
        """Weighted means with linearised SEs, per domain (R: ``svyby(~y, ~by, design, svymean, na.rm=TRUE)``).

        ``estimate = sum_D w y / sum_D w``; influence ``w (y - estimate) / sum_D w``. ``deff=True`` adds the
        design effect column ``deff`` (R's ``deff=TRUE``).
        """
        y, names = self._matrix(variables)
        return self._ratio_table(y, np.where(np.isnan(y), np.nan, 1.0), names, by, deff=deff)

    def total(self, variables: str | Sequence[str], by: str | Sequence[str] | None = None, *,
              deff: bool = False) -> pd.DataFrame:
        """Weighted totals ``sum_D w y`` with SEs, per domain (R: ``svytotal(..., na.rm=TRUE)``)."""
        y, names = self._matrix(variables)
        return self._ratio_table(y, np.where(np.isnan(y), np.nan, 1.0), names, by, total=True, deff=deff)

    def ratio(self, numerator: str, denominator: str, by: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Ratio of totals ``sum_D w y / sum_D w x`` with linearised SE (R: ``svyratio``)."""
        y, _ = self._matrix(numerator)
        x, _ = self._matrix(denominator)
        return self._ratio_table(y, x, [f"{numerator}/{denominator}"], by)

    # --- the statistician's verbs (issue 16): thin wrappers; the methods, formulas and R equivalents are in
    # :mod:`.categorical`, :mod:`.quantile` and :mod:`.glm` ------------------------------------------------------
    def proportion(self, variables: str | Sequence[str], by: str | Sequence[str] | None = None, *,
                   method: str = "logit", success: Sequence | None = None, level: float = 0.95,
                   df: float | None = None) -> pd.DataFrame:
        """Proportions with intervals inside [0, 1], per domain (R ``svyciprop``): logit, likelihood, beta or mean
        interval on the domain's df; ``success`` = codes counted as 1. See :func:`.categorical.proportion`."""
        from .categorical import proportion
        return proportion(self, variables, by, method=method, success=success, level=level, df=df)

    def quantile(self, variables: str | Sequence[str], probs: float | Sequence[float],
                 by: str | Sequence[str] | None = None, *, level: float = 0.95,
                 df: float | None = None) -> pd.DataFrame:
        """Quantiles with Woodruff intervals (R ``svyquantile``, qrule "math"). See :func:`.quantile.quantile`."""
        from .quantile import quantile
        return quantile(self, variables, probs, by, level=level, df=df)

    def table(self, row: str, col: str | None = None, by: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Weighted counts and cell proportions with SEs (R ``svytable``, ``svytotal``/``svymean`` of a factor).
        See :func:`.categorical.table`."""
        from .categorical import table
        return table(self, row, col, by)

    def chisq(self, row: str, col: str, by: str | Sequence[str] | None = None, *,
              statistic: str = "F") -> pd.DataFrame:
        """Rao-Scott test of independence (R ``svychisq``): second-order ``"F"`` or first-order ``"Chisq"``.
        See :func:`.categorical.chisq`."""
        from .categorical import chisq
        return chisq(self, row, col, by, statistic=statistic)

    def glm(self, formula: str, family: str = "gaussian", *, level: float = 0.95) -> pd.DataFrame:
        """Survey-weighted GLM with linearised SEs (R ``svyglm``, quasi-families). See :func:`.glm.glm`."""
        from .glm import glm
        return glm(self, formula, family, level=level)
