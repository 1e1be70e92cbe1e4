"""Key tasks of the demonstration zones: the plan's task areas, the evaluator's key-task files, completion by area.

The areas (ids and bilingual labels) are data: by default ``surveykit/data/zone_task_areas.yaml`` (the plan's
six areas), or any file of that layout. A key-task file (CSV or XLSX; one per zone or one for all) has one task a
row::

    unit,year,area,task,status,evidence
    pudong,2026,rule_of_law,出台区知识产权保护实施意见,done,浦府发〔2026〕3号

Required columns ``unit`` (a unit id, see :func:`surveykit.zones.register.unit_ids`), ``year``, ``area`` (an area
id), ``status`` (``not_started``, ``in_progress`` or ``done``); optional ``task`` (a short description) and
``evidence`` (a short reference to the document showing it; required when the status is ``done``). Blank rows are
skipped; every other row is a task. Problems raise :class:`~surveykit.errors.InputError` naming file, row and
column.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InputError
from ..io.readers import read_table
from ..spec.questionnaire import Id, Label
from ..spec.yamlio import Version, read_yaml, validate_model
from .register import _readable, _unit, unit_ids
from .terms import TASK_STATUSES

DEFAULT_AREAS = files("surveykit") / "data" / "zone_task_areas.yaml"
REQUIRED = ("unit", "year", "area", "status")
OPTIONAL = ("task", "evidence")
TASK_COLUMNS = ["unit", "year", "area", "task", "status", "evidence", "file", "row"]
COMPLETION_COLUMNS = ["unit", "year", "area", "label_zh", "label_en", "tasks", "done", "in_progress",
                      "not_started", "share_done", "area_status"]
_FROZEN = ConfigDict(extra="forbid", frozen=True)


class _Area(BaseModel):
    model_config = _FROZEN
    id: Id
    label: Label


class _Areas(BaseModel):
    model_config = _FROZEN
    id: str = Field(min_length=1)
    version: Version
    areas: tuple[_Area, ...] = Field(min_length=1)


@dataclass(frozen=True)
class TaskArea:
    id: str
    zh: str
    en: str


def load_task_areas(path: str | Path | None = None) -> tuple[TaskArea, ...]:
    """The task areas, in their file's order (default: the package's ``data/zone_task_areas.yaml``)."""
    path = Path(str(DEFAULT_AREAS)) if path is None else Path(path)
    _readable(path)
    m: _Areas = validate_model(_Areas, read_yaml(path), path)  # type: ignore[assignment]
    ids = [a.id for a in m.areas]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InputError(f"duplicate area id(s): {', '.join(dup)}", file=path, key="areas")
    return tuple(TaskArea(a.id, a.label.zh, a.label.get("en")) for a in m.areas)


def _files(paths) -> list[Path]:
    out = []
    for p in [paths] if isinstance(paths, (str, Path)) else list(paths):
        p = Path(p)
        found = sorted(q for q in p.iterdir() if q.suffix.lower() in (".csv", ".xlsx")) if p.is_dir() else [p]
        if p.is_dir() and not found:
            raise InputError("no key-task file (.csv or .xlsx) in the folder", file=p)
        out += found
    return out


def _text(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _task(rec: dict, where: dict, ids: dict[str, str], areas: set[str]) -> dict:
    unit = _unit(_text(rec["unit"]), ids, **where, column="unit")
    year = _text(rec["year"])
    if not (year.isascii() and year.isdigit() and 1900 <= int(year) <= 2200):
        raise InputError(f"not a year: '{year}'", **where, column="year")
    area, status, evidence = _text(rec["area"]), _text(rec["status"]), _text(rec.get("evidence"))
    if area not in areas:
        raise InputError(f"unknown area '{area}' (known: {', '.join(sorted(areas))})", **where, column="area")
    if status not in TASK_STATUSES:
        raise InputError(f"unknown status '{status}' (known: {', '.join(TASK_STATUSES)})", **where, column="status")
    if status == "done" and not evidence:
        raise InputError("a done task needs an evidence reference", **where, column="evidence")
    return dict(unit=unit, year=int(year), area=area, task=_text(rec.get("task")), status=status, evidence=evidence,
                file=where["file"], row=where["row"])


def _read_one(path: Path, ids: dict[str, str], areas: set[str]) -> list[dict]:
    _readable(path)
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise InputError(f"unknown key-task file type '{path.suffix}' (expected .csv or .xlsx)", file=path)
    df = read_table(path)
    cols = [str(c).strip() for c in df.columns]
    for c in cols:
        if c not in REQUIRED + OPTIONAL or cols.count(c) > 1:
            why = "twice" if c in REQUIRED + OPTIONAL else f"unknown (expected {', '.join(REQUIRED + OPTIONAL)})"
            raise InputError(f"column is {why}", file=path, row=1, column=c)
    for c in REQUIRED:
        if c not in cols:
            raise InputError("required column is missing", file=path, row=1, column=c)
    df.columns = cols
    out, seen = [], {}
    for rec, row in zip(df.to_dict("records"), df.attrs["file_rows"]):
        if not any(_text(v) for v in rec.values()):
            continue
        t = _task(rec, dict(file=str(path), row=int(row)), ids, areas)
        key = (t["unit"], t["year"], t["area"], t["task"])
        if t["task"] and key in seen:
            raise InputError(f"the same task is listed twice (first in row {seen[key]})", file=path, row=int(row),
                             column="task")
        seen[key] = int(row)
        out.append(t)
    return out


def load_key_tasks(paths: str | Path | Iterable[str | Path], *, units: Mapping[str, str] | Iterable[str] | None = None,
                   areas: tuple[TaskArea, ...] | None = None) -> pd.DataFrame:
    """Read and validate key-task files (a file, a folder of .csv/.xlsx files, or a list of either).

    ``units``: the unit ids allowed (default every unit; pass ``register.units`` to allow only the register's
    zones); ``areas``: from :func:`load_task_areas` (default the package's). Returns one row per task:
    ``unit, year, area, task, status, evidence, file, row`` (``row`` is the row in its file).
    """
    ids, known = unit_ids(units), {a.id for a in (areas or load_task_areas())}
    rows = [t for p in _files(paths) for t in _read_one(p, ids, known)]
    out = pd.DataFrame(rows, columns=TASK_COLUMNS)
    out["year"] = out["year"].astype("int64")
    out["row"] = out["row"].astype("int64")
    return out


def _area_status(n: int, done: int, not_started: int) -> str:
    if n == 0:
        return "not_reported"
    return "done" if done == n else ("not_started" if not_started == n else "in_progress")


def key_task_completion(tasks: pd.DataFrame, areas: tuple[TaskArea, ...] | None = None) -> pd.DataFrame:
    """Completion by area: one row per unit and year of ``tasks`` and per area (every area, in the areas' order).

    Columns ``unit, year, area, label_zh, label_en, tasks, done, in_progress, not_started`` (counts),
    ``share_done`` (done / tasks; NaN without tasks) and ``area_status``: ``done`` (every task done),
    ``not_started`` (none started), ``in_progress`` (otherwise) or ``not_reported`` (no task listed).
    """
    areas = areas or load_task_areas()
    rows = []
    for (unit, year), g in tasks.groupby(["unit", "year"], sort=False):
        for a in areas:
            c = g.loc[g["area"] == a.id, "status"].value_counts()
            n, done, ns = int(c.sum()), int(c.get("done", 0)), int(c.get("not_started", 0))
            rows.append(dict(unit=unit, year=int(year), area=a.id, label_zh=a.zh, label_en=a.en, tasks=n, done=done,
                             in_progress=int(c.get("in_progress", 0)), not_started=ns,
                             share_done=done / n if n else float("nan"), area_status=_area_status(n, done, ns)))
    return pd.DataFrame(rows, columns=COMPLETION_COLUMNS)
