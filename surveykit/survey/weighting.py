"""Weighting: post-stratification, raking and trimming of the design weights, exactly as R's ``survey``.

* Post-stratification (R ``postStratify``): in each post-stratum ``p``, weights are multiplied by
  ``N_p / sum_{i in p} w_i`` so that they sum to the known population count ``N_p``.
* Raking (R ``rake``): post-stratify on each margin in turn, repeat until the weighted margins move by less than
  the tolerance (iterative proportional fitting, Deming & Stephan 1940).
* Trimming (R ``trimWeights``): weights outside ``[lower, upper]`` are set to the bound; the amount trimmed is
  spread equally over the untrimmed weights; the variance then treats the weights as fixed.

Each operation (:func:`poststratification`, :func:`raking`, :func:`trimming`) returns a :class:`Reweighting`:
the new weights, the calibration step the variance must take into account
(:class:`~surveykit.survey.variance.CalibrationStep`; none for trimming), the operation as a function of other base
weights (replayed on every replicate of a replicate design) and a sentence for the report's method section.
:meth:`surveykit.Design.poststratify`, :meth:`~surveykit.Design.rake` and :meth:`~surveykit.Design.trim`
wrap them and return new designs.

Example
-------
>>> import numpy as np
>>> poststratify_weights(np.array([1.0, 1, 2]), np.array([0, 0, 1]), np.array([10.0, 5])).tolist()
[5.0, 5.0, 5.0]
>>> trim_weights(np.array([1.0, 1, 10]), 0.0, 6.0, strict=False).tolist()
[3.0, 3.0, 6.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .common import as_list, file_row, level_key, location
from .variance import RAKING_SWEEPS, CalibrationStep, poststratum_margin, raking_margin


@dataclass(frozen=True)
class Reweighting:
    """The outcome of one weighting operation (see the module docstring)."""

    weights: np.ndarray
    step: CalibrationStep | None
    replay: Callable[[np.ndarray], np.ndarray]
    description: str


# --- the weight operations as pure functions ------------------------------------------------------------------
def poststratify_weights(w: np.ndarray, codes: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``w_i * N_p / sum_{j in p} w_j`` for the cell ``p`` of each row."""
    sums = np.bincount(codes, weights=w, minlength=len(target))
    with np.errstate(divide="ignore", invalid="ignore"):
        return w * (target / sums)[codes]


@dataclass(frozen=True)
class RakeResult:
    weights: np.ndarray
    psw: list          # weights after each margin's post-stratification in the last iteration
    iterations: int
    converged: bool
    gap: float         # largest relative gap |sum w - N| / N after the last iteration
    worst: tuple[int, int]  # (margin, level) of that gap


def rake_weights(w: np.ndarray, codes: list[np.ndarray], targets: list[np.ndarray], max_iter: int, tol: float
                 ) -> RakeResult:
    """Iterative proportional fitting: full sweeps of post-stratification until every margin is within ``tol``."""
    gap, worst, psw = np.inf, (0, 0), []
    for it in range(1, max_iter + 1):
        psw = []
        for c, t in zip(codes, targets):
            w = poststratify_weights(w, c, t)
            psw.append(w)
        gaps = [np.abs(np.bincount(c, weights=w, minlength=len(t)) - t) / t for c, t in zip(codes, targets)]
        m = int(np.argmax([g.max() for g in gaps]))
        gap, worst = float(gaps[m].max()), (m, int(np.argmax(gaps[m])))
        if gap < tol:
            return RakeResult(w, psw, it, True, gap, worst)
    return RakeResult(w, psw, max_iter, False, gap, worst)


def trim_weights(w: np.ndarray, lower: float, upper: float, strict: bool) -> np.ndarray:
    """R ``trimWeights``: clip to [lower, upper], spread the trimmed amount over the untrimmed weights."""
    w = w.copy()
    while True:
        outside = (w < lower) | (w > upper)
        if not outside.any() or outside.all():
            return w
        new = np.clip(w, lower, upper)
        new[~outside] += (w - new).sum() / (~outside).sum()
        w = new
        if not strict:
            return w


def _replay_rake(w, *, codes, targets, max_iter, tol):
    """Raking of one replicate's weights (a replicate that does not converge keeps its last iteration)."""
    return rake_weights(w, codes, targets, max_iter, tol).weights


# --- reading margins and population tables ---------------------------------------------------------------------
def level_codes(data: pd.DataFrame, column: str, source: str | None) -> tuple[np.ndarray, list[str]]:
    """Codes of a calibration variable's levels (as text, numbers without '.0'); blanks are refused."""
    if column not in data.columns:
        raise InputError(f"margin on a column that does not exist in the data ('{column}')", file=source,
                         column=column)
    s = data[column]
    if s.isna().any():
        pos = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise InputError("blank value in a calibration variable", **location(data, pos, column))
    raw_codes, raw_levels = pd.factorize(s)
    keys = np.array([level_key(v) for v in raw_levels], dtype=object)  # once per distinct value
    key_codes, uniq = pd.factorize(keys, sort=True)
    codes = key_codes[raw_codes]
    return codes.astype(np.int64), list(uniq)


def population_targets(column: str, levels: list[str], totals: dict[str, float], source: str | None,
                       codes: np.ndarray) -> np.ndarray:
    """The population total of each level; levels without a total, totals without respondents are refused."""
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


def _population_totals(variables: list[str], population) -> tuple[dict[str, float], str | None]:
    """``{post-stratum key: total}`` of a population table (or a mapping for one variable), and its source."""
    if not isinstance(population, pd.DataFrame):
        if len(variables) != 1:
            raise InputError("give the population as a table when post-stratifying on several variables")
        return {level_key(k): float(v) for k, v in dict(population).items()}, None
    source = population.attrs.get("source")
    tcol = "total" if "total" in population.columns else "Freq" if "Freq" in population.columns else None
    if tcol is None:
        raise InputError("population table needs a 'total' column", file=source)
    for v in variables:
        if v not in population.columns:
            raise InputError(f"population table has no column '{v}'", file=source, column=v)
    keys = population[variables].astype(str).map(level_key).agg("\x1f".join, axis=1) if len(variables) > 1 \
        else population[variables[0]].map(level_key)
    return dict(zip(keys, pd.to_numeric(population[tcol], errors="coerce"))), source


def _margin_spec(margins) -> tuple[dict[str, dict[str, float]], str | None]:
    """``{variable: {level: total}}`` of a margins table (columns variable, level, total) or mapping."""
    if not isinstance(margins, pd.DataFrame):
        return {v: {level_key(k): float(t) for k, t in lv.items()} for v, lv in dict(margins).items()}, None
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
            raise InputError(f"level '{lev}' of '{var}' is given twice", file=source, row=file_row(margins, pos))
        spec[str(var).strip()][key] = float(t)
    return spec, source


# --- the operations -------------------------------------------------------------------------------------------------
def poststratification(data: pd.DataFrame, w: np.ndarray, variables: str | Sequence[str], population
                       ) -> Reweighting:
    """Post-stratify the weights ``w`` of ``data`` on the cells of ``variables`` (see :meth:`Design.poststratify`)."""
    variables = as_list(variables)
    totals, source = _population_totals(variables, population)
    per_var = [level_codes(data, v, source) for v in variables]  # checks every column, no blanks
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
    target = population_targets(name, levels, totals, source, codes)
    new = poststratify_weights(w, codes, target)
    step = CalibrationStep("poststratify", (poststratum_margin(codes, len(levels), w, new),), 1)
    return Reweighting(new, step, partial(poststratify_weights, codes=codes, target=target),
                       f"post-stratified on {name} ({len(levels)} cells)")


def raking(data: pd.DataFrame, w: np.ndarray, margins, *, max_iter: int, tol: float) -> Reweighting:
    """Rake the weights ``w`` of ``data`` to population margins (see :meth:`Design.rake`)."""
    spec, source = _margin_spec(margins)
    if not spec:
        raise InputError("no margins given", file=source)
    cols, codes, targets = [], [], []
    for var, totals in spec.items():
        c, levels = level_codes(data, var, source)
        targets.append(population_targets(var, levels, totals, source, c))
        codes.append(c)
        cols.append((var, levels))
    grand = [t.sum() for t in targets]
    if max(grand) - min(grand) > 1e-6 * max(grand):
        detail = ", ".join(f"{v} {g:,.6g}" for (v, _), g in zip(cols, grand))
        raise InputError(f"the margins' grand totals disagree ({detail}); raking needs one population size",
                         file=source)
    res = rake_weights(w.copy(), codes, targets, max_iter, tol)
    if not res.converged:
        m, lev = res.worst
        raise InputError(f"raking did not converge after {max_iter} iterations; the largest remaining gap is "
                         f"{res.gap:.3g} (relative) at {cols[m][0]}={cols[m][1][lev]}. Check that the margins "
                         "are consistent, or merge sparse levels", file=source)
    used = tuple(raking_margin(c, len(t), p) for c, t, p in zip(codes, targets, res.psw))
    desc = f"raked on {', '.join(f'{v} ({len(lv)} levels)' for v, lv in cols)} in {res.iterations} iterations"
    return Reweighting(res.weights, CalibrationStep("rake", used, RAKING_SWEEPS),
                       partial(_replay_rake, codes=codes, targets=targets, max_iter=max_iter, tol=tol), desc)


def trimming(w: np.ndarray, lower: float | None, upper: float | None, *, strict: bool) -> Reweighting | None:
    """Trim the weights ``w`` (see :meth:`Design.trim`); None when no weight is outside the bounds."""
    lo = -np.inf if lower is None else float(lower)
    hi = np.inf if upper is None else float(upper)
    if lo > hi:
        raise InputError(f"trim: lower ({lo}) is above upper ({hi})")
    outside = (w < lo) | (w > hi)
    if not outside.any():
        return None
    if outside.all():
        raise InputError("trim: every weight is outside the bounds")
    desc = f"weights trimmed to [{lower if lower is not None else '-inf'}, {upper if upper is not None else 'inf'}]"
    # as R: the residuals of earlier calibration steps stay in the variance; the trimming itself is fixed
    return Reweighting(trim_weights(w, lo, hi, strict), None, partial(trim_weights, lower=lo, upper=hi,
                                                                      strict=strict), desc)
