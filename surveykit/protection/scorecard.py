"""The demonstration-zone acceptance scorecard (知识产权保护示范区验收): targets YAML -> pass / fail per unit.

Targets file (``questionnaires/demo_zone_targets.yaml``)::

    id: demo-zone-acceptance
    version: "2025.1"
    title: {zh: 知识产权保护示范区验收指标, en: ...}
    targets:
      - id: satisfaction_80
        label: {zh: 满意度不低于80分, en: Satisfaction index at least 80}
        indicator: satisfaction_index
        source: survey                 # survey (estimate with CI) | indicators (the values file)
        op: ">="                       # >=, >, <=, <
        threshold: 80                  # a number, or city_average
      - id: withdrawal_above_city
        indicator: abnormal_withdrawal_rate
        op: ">="
        threshold: city_average

Statuses, per unit and target:

* ``pass`` / ``fail`` -- the evidence meets / misses the threshold. For a survey target the evidence is the
  estimate *with its 95 % CI*: ``pass`` only when the whole interval meets the threshold, ``fail`` only when
  the whole interval misses it, and an interval straddling the threshold is ``not_decisive`` (never a pass).
* ``insufficient_data`` -- no value (or a suppressed survey estimate, or no CI), or no city average.

``city_average`` is, for the survey, the city-level estimate when given (``city=``), else the mean of the
units' estimates; for an indicator, the value of the ``全市`` row of the values file for that year when present,
else the unweighted mean over the units. The evidence column says which.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_validator, model_validator

from ..spec.questionnaire import Id, Label
from ..spec.yamlio import Version, read_yaml, validate_model
from .values import CITY

_FROZEN = ConfigDict(extra="forbid", frozen=True)
OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
STATUS_TEXT = {
    "pass": ("达标", "pass"), "fail": ("未达标", "fail"), "not_decisive": ("不确定（置信区间跨越阈值）", "not decisive"),
    "insufficient_data": ("数据不足", "insufficient data"),
}


class Target(BaseModel):
    model_config = _FROZEN
    id: Id
    label: Label
    indicator: Id
    source: Literal["survey", "indicators"] = "indicators"
    op: Literal[">=", ">", "<=", "<"] = ">="
    threshold: Annotated[StrictFloat | StrictInt, Field(allow_inf_nan=False)] | Literal["city_average"]
    note: Label | None = None

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, v):
        if isinstance(v, bool) or not (isinstance(v, (int, float)) or v == "city_average"):
            raise ValueError(f"threshold must be a number or 'city_average' (found {v!r})")
        return v


class Targets(BaseModel):
    model_config = _FROZEN
    id: str = Field(min_length=1)
    version: Version
    title: Label | None = None
    targets: tuple[Target, ...] = Field(min_length=1)


    @model_validator(mode="after")
    def _unique(self) -> "Targets":
        ids = [t.id for t in self.targets]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate target id(s): {', '.join(dup)}")
        for lang in ("zh", "en"):  # each target is a column of the city's scorecard table, named by its label
            seen: dict[str, str] = {}
            for t in self.targets:
                label = t.label.get(lang)
                if label in seen:
                    raise ValueError(f"targets '{seen[label]}' and '{t.id}' have the same label ({lang}) "
                                     f"'{label}': give each target its own label")
                seen[label] = t.id
        return self


def load_targets(path: str | Path) -> Targets:
    """Read and validate a targets YAML file; problems raise a SpecError naming the file and key."""
    return validate_model(Targets, read_yaml(path), path)  # type: ignore[return-value]


def satisfaction_from_scores(scores_unit: pd.DataFrame, unit_column: str = "district", node: str = "index",
                             group: str = "all") -> pd.DataFrame:
    """The survey's per-unit estimates as the tidy table the scorecard takes: ``unit, estimate, ci_low, ci_high``
    (from the results store's ``scores_unit``: group ``all``, node ``index``). Suppressed cells (too few
    respondents) get NaN estimates, so their targets are 'insufficient data'."""
    t = scores_unit[(scores_unit["group"] == group) & (scores_unit["node"] == node)].copy()
    out = pd.DataFrame({"unit": t[unit_column].to_numpy(), "estimate": t["estimate"].to_numpy(dtype=float),
                        "ci_low": t["ci_low"].to_numpy(dtype=float), "ci_high": t["ci_high"].to_numpy(dtype=float)})
    if "suppressed" in t.columns:
        sup = t["suppressed"].to_numpy(dtype=bool)
        out.loc[sup, ["estimate", "ci_low", "ci_high"]] = np.nan
    return out


CARD_COLUMNS = ["unit", "target", "label_zh", "label_en", "indicator", "source", "op", "threshold", "threshold_basis",
                "evidence", "ci_low", "ci_high", "status", "note"]


def _assessed_units(vals: pd.DataFrame | None, survey: pd.DataFrame | None) -> list[str]:
    """Every unit with any evidence, in order of appearance (the region's own row left out)."""
    found = [*(vals.unit if vals is not None else ()), *(survey.unit if survey is not None else ())]
    return [u for u in dict.fromkeys(found) if u != CITY]


def _evidence(t: Target, units: list[str], vals: pd.DataFrame | None,
              survey: pd.DataFrame | None) -> tuple[dict, str]:
    """``({unit: (value, ci_low, ci_high)}, note)``; the note says why there is no evidence at all."""
    if t.source == "survey":
        if survey is None:
            return {}, "no survey estimates were supplied"
        s = survey.set_index("unit")
        return {u: (float(s.loc[u, "estimate"]), float(s.loc[u, "ci_low"]), float(s.loc[u, "ci_high"]))
                for u in units if u in s.index}, ""
    if vals is None:
        return {}, "no indicator values were supplied"
    v = vals[vals.indicator == t.indicator].set_index("unit")["value"]
    return {u: (float(v[u]), np.nan, np.nan) for u in units if u in v.index}, ""


def _threshold(t: Target, est: dict, city: dict, vals: pd.DataFrame | None) -> tuple[float, str]:
    """The threshold and its basis: the number, or the city average (see the module docstring)."""
    if t.threshold != "city_average":
        return float(t.threshold), f"{t.threshold:g}"
    if t.indicator in city and np.isfinite(city[t.indicator]):
        return float(city[t.indicator]), "city_average (city estimate)"
    if t.source == "indicators" and vals is not None:
        row = vals[(vals.unit == CITY) & (vals.indicator == t.indicator)]
        if len(row.dropna(subset=["value"])):
            return float(row.value.iloc[0]), "city_average (city value)"
    xs = [e[0] for e in est.values() if np.isfinite(e[0])]
    if xs:
        return float(np.mean(xs)), f"city_average (mean of {len(xs)} units)"
    return np.nan, "city_average (unavailable)"


def _status(t: Target, x: float, lo: float, hi: float, thr: float) -> tuple[str, str]:
    """``(status, note)`` of one unit's evidence against the threshold (see the module docstring)."""
    if not np.isfinite(thr):
        return "insufficient_data", "no city average can be computed"
    if not np.isfinite(x):
        return "insufficient_data", ("no survey estimate (missing or suppressed)" if t.source == "survey"
                                     else "no value for the year")
    f = OPS[t.op]
    if t.source != "survey":
        return ("pass" if f(x, thr) else "fail"), ""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "insufficient_data", "no confidence interval for the estimate"
    if f(lo, thr) and f(hi, thr):
        return "pass", ""
    if not f(lo, thr) and not f(hi, thr):
        return "fail", ""
    return "not_decisive", "the 95% CI straddles the threshold"


def evaluate_targets(targets: Targets, values: pd.DataFrame | None, year: int, *,
                     survey: pd.DataFrame | None = None, city: dict[str, float] | None = None,
                     units: list[str] | None = None) -> pd.DataFrame:
    """The scorecard: one row per unit and target.

    Parameters
    ----------
    targets : from :func:`load_targets`.
    values : the long values table (unit, year, indicator, value) for ``source: indicators`` targets.
    year : the year assessed.
    survey : ``unit, estimate, ci_low, ci_high`` (e.g. :func:`satisfaction_from_scores`) for survey targets.
    city : optional city-level values by indicator id (e.g. ``{"satisfaction_index": 81.2}`` from the store's
        ``scores_city``) used as the city average.
    units : the units to assess (default: every unit with any evidence).

    Columns: ``unit, target, label_zh, label_en, indicator, source, op, threshold, threshold_basis, evidence,
    ci_low, ci_high, status, note``.
    """
    city = dict(city or {})
    vals = values[values["year"] == year] if values is not None else None
    if units is None:
        units = _assessed_units(vals, survey)
    rows = []
    for t in targets.targets:
        est, missing_note = _evidence(t, units, vals, survey)
        thr, basis = _threshold(t, est, city, vals)
        for u in units:
            x, lo, hi = est.get(u, (np.nan, np.nan, np.nan))
            status, note = ("insufficient_data", missing_note) if missing_note else _status(t, x, lo, hi, thr)
            rows.append(dict(unit=u, target=t.id, label_zh=t.label.get("zh"), label_en=t.label.get("en"),
                             indicator=t.indicator, source=t.source, op=t.op, threshold=thr, threshold_basis=basis,
                             evidence=x, ci_low=lo, ci_high=hi, status=status, note=note))
    return pd.DataFrame(rows, columns=CARD_COLUMNS)


def scorecard_overall(card: pd.DataFrame) -> pd.DataFrame:
    """Per unit: counts of each status and the overall verdict -- ``pass`` when every target passes, ``fail``
    when any fails, else ``not_decisive`` or ``insufficient_data``."""
    rows = []
    for u, g in card.groupby("unit", sort=False):
        c = g.status.value_counts()
        if (g.status == "pass").all():
            v = "pass"
        elif (g.status == "fail").any():
            v = "fail"
        elif (g.status == "not_decisive").any():
            v = "not_decisive"
        else:
            v = "insufficient_data"
        rows.append(dict(unit=u, targets=len(g), passed=int(c.get("pass", 0)), failed=int(c.get("fail", 0)),
                         not_decisive=int(c.get("not_decisive", 0)),
                         insufficient_data=int(c.get("insufficient_data", 0)), overall=v))
    return pd.DataFrame(rows)
