"""Reading the zone register: a YAML file, or a CSV file with a YAML header (the format is in docs/CONTRACTS.md).

YAML::

    id: demo-zones
    version: "2026.1"
    title: {zh: 知识产权保护示范区名册, en: Register of IP-protection demonstration zones}
    rules: {trial_years: 1, title_years: 3, renewal_window: 1, rectification_years: 1,
            reapply_after_withdrawal: 1}
    zones:
      pudong:
        - {year: 2020, event: applied}
        - {year: 2020, event: trial_started}
        - {year: 2021, event: accepted, note: 沪知局〔2021〕12号}

CSV: the same header between two ``---`` lines (YAML front matter, as CSVY), then one event a row::

    ---
    id: demo-zones
    version: "2026.1"
    rules:
      trial_years: 1
      ...
    ---
    unit,year,event,note
    pudong,2020,applied,

Units are named by id (with the study's units, a unit's id, Chinese or English name is accepted and
stored as the id). Every problem -- a bad header, an unknown key, column, unit or event code, a year that is not
a year, a history that breaks the plan's rules -- raises :class:`~surveykit.errors.InputError` naming the file and
the row (CSV) or key (YAML).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated, Iterable, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from ..errors import InputError, SpecError
from ..spec.questionnaire import Label
from ..spec.yamlio import Version, _StrictLoader, read_yaml, validate_model
from ..units import UnitSet
from .model import ZoneEvent, ZoneRegister, ZoneRules
from .terms import EVENTS
from .timeline import check_register

MAX_BYTES = 5_000_000                  # a register is a few kilobytes; refuse anything unreasonable before reading
_FROZEN = ConfigDict(extra="forbid", frozen=True)
Year = Annotated[StrictInt, Field(ge=1900, le=2200)]
CSV_COLUMNS = ("unit", "year", "event", "note")


def _event_code(v: str) -> str:
    if v not in EVENTS:
        raise ValueError(f"unknown event code {v!r} (known: {', '.join(EVENTS)})")
    return v


class _Event(BaseModel):
    model_config = _FROZEN
    year: Year
    event: str
    note: str | None = None

    @field_validator("event")
    @classmethod
    def _code(cls, v: str) -> str:
        return _event_code(v)


class _Header(BaseModel):
    model_config = _FROZEN
    id: str = Field(min_length=1)
    version: Version
    title: Label | None = None
    rules: ZoneRules


class _YamlRegister(_Header):
    zones: dict[str, Annotated[tuple[_Event, ...], Field(min_length=1)]] = Field(min_length=1)


def unit_ids(units: UnitSet | Mapping[str, str] | Iterable[str] | None = None) -> dict[str, str] | None:
    """Accepted unit spellings -> unit id: a study's :class:`~surveykit.units.UnitSet` (id, Chinese or English name,
    to its id), a mapping, or a list of ids (exactly those). None: any name is accepted as it is written."""
    if units is None:
        return None
    if isinstance(units, UnitSet):
        return {k: u.id for u in units for k in (u.id, u.zh, u.en)}
    if isinstance(units, Mapping):
        return dict(units)
    return {u: u for u in units}


def _unit(name: str, ids: dict[str, str] | None, **where) -> str:
    name = name.strip()
    if not name:
        raise InputError("the unit is blank", **where)
    if ids is None:
        return name
    if name not in ids:
        known = sorted(set(ids.values()))
        raise InputError(f"unknown unit '{name}' (known: {', '.join(known[:20])}{' ...' if len(known) > 20 else ''})",
                         **where)
    return ids[name]


def _readable(path: Path) -> None:
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "is a folder, not a file", file=path)
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"the file is larger than {MAX_BYTES // 1_000_000} MB: not a register", file=path)


def load_register(path: str | Path, units: Mapping[str, str] | Iterable[str] | None = None) -> ZoneRegister:
    """Read and validate a zone register (``.yaml``/``.yml``, or ``.csv`` with a YAML header).

    ``units``: the unit ids allowed (see :func:`unit_ids`). The history of every unit is replayed against the
    register's rules (:mod:`surveykit.zones.timeline`); the first broken rule raises an InputError.
    """
    path = Path(path)
    _readable(path)
    ids = unit_ids(units)
    ext = path.suffix.lower()
    if ext in (".yaml", ".yml"):
        reg = _read_yaml(path, ids)
    elif ext == ".csv":
        reg = _read_csv(path, ids)
    else:
        raise InputError(f"unknown register file type '{ext}' (expected .yaml, .yml or .csv)", file=path)
    check_register(reg)
    return reg


def _read_yaml(path: Path, ids: dict[str, str]) -> ZoneRegister:
    m: _YamlRegister = validate_model(_YamlRegister, read_yaml(path), path)  # type: ignore[assignment]
    events, seen = [], {}
    for name, evs in m.zones.items():
        unit = _unit(str(name), ids, file=path, key=f"zones.{name}")
        if unit in seen:
            raise InputError(f"unit '{unit}' is listed twice (as '{seen[unit]}' and '{name}')", file=path,
                             key=f"zones.{name}")
        seen[unit] = name
        events += [ZoneEvent(unit, e.year, e.event, (e.note or "").strip(), key=f"zones.{name}[{k}]")
                   for k, e in enumerate(evs)]
    return ZoneRegister(m.id, m.version, m.rules, tuple(events), str(path), m.title)


def _decode(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start}): save the register as CSV UTF-8", file=path) from None


def _front_matter(lines: list[str], path: Path) -> tuple[dict, int]:
    """The YAML header between the ``---`` lines and the index of the closing line. A spreadsheet pads every line
    with commas to the table's width: the padding of the first line is removed from each header line."""
    first = lines[0].rstrip() if lines else ""
    pad = len(first) - len(first.rstrip(","))
    if first.rstrip(",").strip() != "---":
        raise InputError("a CSV register starts with its header between two '---' lines (see docs/CONTRACTS.md)",
                         file=path, row=1)
    unpad = [ln.rstrip()[:-pad] if pad and ln.rstrip().endswith("," * pad) else ln.rstrip() for ln in lines]
    close = next((k for k in range(1, len(lines)) if unpad[k].strip() == "---"), None)
    if close is None:
        raise InputError("the header has no closing '---' line", file=path)
    try:
        data = yaml.load("\n".join(unpad[1:close]), Loader=_StrictLoader)  # noqa: S506 - strict SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SpecError(f"invalid YAML in the header: {exc.problem or exc.context}", file=path,
                        row=mark.line + 2 if mark else None) from None
    return data, close


def _read_csv(path: Path, ids: dict[str, str]) -> ZoneRegister:
    lines = _decode(path).splitlines()
    data, close = _front_matter(lines, path)
    h: _Header = validate_model(_Header, data, path)  # type: ignore[assignment]
    events = _csv_events(lines[close + 1:], close + 2, path, ids)
    if not events:
        raise InputError("the register lists no events", file=path)
    return ZoneRegister(h.id, h.version, h.rules, tuple(events), str(path), h.title)


def _csv_events(lines: list[str], header_row: int, path: Path, ids: dict[str, str]) -> list[ZoneEvent]:
    reader = csv.reader(io.StringIO("\n".join(lines)))
    header = [c.strip() for c in next(reader, [])]
    for c in header:
        if c not in CSV_COLUMNS or header.count(c) > 1:
            why = "twice" if c in CSV_COLUMNS else f"unknown (expected {', '.join(CSV_COLUMNS)})"
            raise InputError(f"column is {why}", file=path, row=header_row, column=c)
    for c in CSV_COLUMNS[:3]:
        if c not in header:
            raise InputError("required column is missing", file=path, row=header_row, column=c)
    events, done = [], reader.line_num
    for cells in reader:
        row, done = header_row + done, reader.line_num
        if not any(x.strip() for x in cells):
            continue
        if len(cells) > len(header):
            raise InputError(f"{len(cells)} cells but {len(header)} columns", file=path, row=row)
        rec = dict(zip(header, [x.strip() for x in cells]))
        events.append(_csv_event(rec, path, row, ids))
    return events


def _csv_event(rec: dict[str, str], path: Path, row: int, ids: dict[str, str]) -> ZoneEvent:
    unit = _unit(rec.get("unit", ""), ids, file=path, row=row, column="unit")
    year = rec.get("year", "")
    if not (year.isascii() and year.isdigit() and 1900 <= int(year) <= 2200):
        raise InputError(f"not a year: '{year}'", file=path, row=row, column="year")
    event = rec.get("event", "")
    if event not in EVENTS:
        raise InputError(f"unknown event code '{event}' (known: {', '.join(EVENTS)})", file=path, row=row,
                         column="event")
    return ZoneEvent(unit, int(year), event, rec.get("note", ""), row=row)
