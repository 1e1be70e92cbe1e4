"""The zone register as objects: the plan's rules, the events, the register (read by :mod:`.register`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from ..spec.questionnaire import Label

_FROZEN = ConfigDict(extra="forbid", frozen=True)
Years = Annotated[StrictInt, Field(ge=1, le=50)]


class ZoneRules(BaseModel):
    """The plan's durations, from the register's header (all required: no city's rules live in code).

    * ``trial_years`` -- a trial runs this many years from the year it starts; the acceptance review is the year
      after (acceptance is decided in that year or later, never earlier).
    * ``title_years`` -- a title (after acceptance or renewal) is valid this many years, from the year after the
      decision.
    * ``renewal_window`` -- renewal is decided only in the last this-many years of a title (1: in the expiry year).
    * ``rectification_years`` -- an order to rectify must be lifted, or the unit withdrawn, within this many years
      after the year of the order.
    * ``reapply_after_withdrawal`` -- a withdrawn unit may apply again this many years after the withdrawal.
    """

    model_config = _FROZEN
    trial_years: Years
    title_years: Years
    renewal_window: Years
    rectification_years: Years
    reapply_after_withdrawal: Years

    @model_validator(mode="after")
    def _window(self) -> "ZoneRules":
        if self.renewal_window > self.title_years:
            raise ValueError(f"renewal_window ({self.renewal_window}) is longer than title_years "
                             f"({self.title_years})")
        return self


@dataclass(frozen=True)
class ZoneEvent:
    """One event of a unit's history; ``row`` (CSV: the line in the file) or ``key`` (YAML) locates it."""

    unit: str
    year: int
    event: str
    note: str = ""
    row: int | None = None
    key: str | None = None


@dataclass(frozen=True)
class ZoneRegister:
    """A validated register: header, rules and every unit's events (in file order)."""

    id: str
    version: str
    rules: ZoneRules
    events: tuple[ZoneEvent, ...]
    file: str
    title: Label | None = None

    @property
    def units(self) -> tuple[str, ...]:
        """The units of the register, in order of first appearance."""
        return tuple(dict.fromkeys(e.unit for e in self.events))

    def events_of(self, unit: str) -> tuple[ZoneEvent, ...]:
        """A unit's events by year (an application before its selection in the same year); () if none."""
        evs = [e for e in self.events if e.unit == unit]
        return tuple(sorted(evs, key=lambda e: (e.year, e.event != "applied")))

    def table(self) -> pd.DataFrame:
        """The events as a tidy table: ``unit, year, event, note``."""
        return pd.DataFrame([(e.unit, e.year, e.event, e.note) for e in self.events],
                            columns=["unit", "year", "event", "note"])
