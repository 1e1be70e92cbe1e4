"""Where every unit stands in every year: the plan's rules replayed over the register (:func:`zone_status`).

The replay is a small state machine, run year by year over a unit's events. It is also the register's validation:
an event its state does not allow raises :class:`~surveykit.errors.InputError` naming the file, the row (CSV) or
key (YAML), the unit, the year and the rule (``[rule <code>]``, listed in :data:`RULES`).

Timing (one principle): ``applied`` and ``trial_started`` take effect in their own year; every other event is a
decision resting on that year's evaluation, so the year keeps the status that was evaluated and the decision
changes the status from the next year. A trial started in T runs ``trial_years`` (T..T+t-1); its acceptance
review is in T+t (or later, while undecided); a title decided in A runs A+1..A+N; renewal is decided in the last
``renewal_window`` years of the title and the renewed title follows the old one; an order to rectify given in R
puts the unit under rectification from R+1 until it is lifted (or the unit withdrawn), at the latest in
R + ``rectification_years``. The clocks keep running under rectification.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

import pandas as pd

from ..errors import InputError
from .model import ZoneEvent, ZoneRegister, ZoneRules
from .terms import TERMS

# which events each status allows (anything else breaks a rule; _violation says which)
ALLOWED: dict[str, frozenset[str]] = {
    "not_zone": frozenset({"applied"}),
    "expired": frozenset({"applied"}),
    "withdrawn": frozenset({"applied"}),
    "applicant": frozenset({"trial_started", "not_selected"}),
    "trial": frozenset({"rectification_ordered", "withdrawn"}),
    "acceptance_review": frozenset({"accepted", "not_accepted", "rectification_ordered", "withdrawn"}),
    "zone": frozenset({"rectification_ordered", "withdrawn"}),
    "renewal_review": frozenset({"renewed", "not_renewed", "rectification_ordered", "withdrawn"}),
    "rectification": frozenset({"rectification_lifted", "withdrawn"}),
}
START_EVENTS = frozenset({"applied", "trial_started"})      # take effect in their own year
PAIRS = frozenset({("applied", "trial_started"), ("applied", "not_selected")})   # may share a year
RULES = {
    "one_event_a_year": "one event per unit and year (an application may share its year with its selection)",
    "apply_when_not_zone": "a unit applies only when it is not a zone",
    "reapply_after_withdrawal": "a withdrawn unit applies again only after the waiting time",
    "nothing_after_withdrawal": "nothing follows a withdrawal unless the unit applies again",
    "selection_after_application": "a trial starts (or an application is turned down) only after an application",
    "acceptance_after_trial": "acceptance is decided only after the trial years",
    "acceptance_under_review": "acceptance is decided only for a unit under acceptance review",
    "renewal_at_expiry": "renewal is decided only at the end of a valid title, once",
    "renewal_of_title": "only a titled zone is renewed",
    "decision_under_rectification": "under rectification the only decisions are lifting it or withdrawal",
    "rectification_of_zone": "rectification is ordered only to a trial or titled zone",
    "rectification_open": "a rectification is lifted only when one was ordered",
    "rectification_deadline": "an order to rectify is lifted, or the unit withdrawn, within the rectification years",
    "withdrawal_of_zone": "only a trial or titled zone is withdrawn",
}
COLUMNS = ["unit", "year", "status", "since", "stage_year", "stage_years", "decision", "next", "next_year",
           "overdue", "title_start", "title_end", "rectification_ordered"]
_INT_COLUMNS = ["since", "stage_year", "stage_years", "next_year", "title_start", "title_end",
                "rectification_ordered"]


@dataclass
class _Clock:
    stage: str = "not_zone"            # not_zone | applicant | trial | title | expired | withdrawn
    start: int | None = None           # the trial's or the title's first year
    end: int | None = None             # the title's last year
    renewal: tuple[str, int] | None = None   # the current title's renewal decision and its year
    order: int | None = None           # the year of the open order to rectify
    left: int | None = None            # the year of the last withdrawal


def _roll(c: _Clock, y: int, r: ZoneRules) -> None:
    """Move the title clock to year ``y``: a renewed title follows the old one, an unrenewed one expires."""
    while c.stage == "title" and y > c.end:
        if c.renewal is not None and c.renewal[0] == "renewed":
            c.start, c.end, c.renewal = c.end + 1, c.end + r.title_years, None
        else:
            c.stage = "expired"


def _status(c: _Clock, y: int, r: ZoneRules) -> str:
    if c.order is not None:
        return "rectification"
    if c.stage == "trial":
        return "trial" if y < c.start + r.trial_years else "acceptance_review"
    if c.stage == "title":
        return "renewal_review" if c.renewal is None and y > c.end - r.renewal_window else "zone"
    return c.stage


def _apply(c: _Clock, e: str, y: int, r: ZoneRules) -> None:
    if e == "applied":
        c.stage = "applicant"
    elif e == "trial_started":
        c.stage, c.start = "trial", y
    elif e in ("not_selected", "not_accepted"):
        c.stage = "not_zone"
    elif e == "accepted":
        c.stage, c.start, c.end, c.renewal = "title", y + 1, y + r.title_years, None
    elif e in ("renewed", "not_renewed"):
        c.renewal = (e, y)
    elif e == "rectification_ordered":
        c.order = y
    elif e == "rectification_lifted":
        c.order = None
    elif e == "withdrawn":
        c.stage, c.order, c.left = "withdrawn", None, y


def _say(status: str) -> str:
    return f"{TERMS['zone.status.' + status]['en']} ({status})"


def _renewal_rule(s: str, c: _Clock, r: ZoneRules) -> tuple[str, str]:
    if s == "zone" and c.renewal is not None:
        return "renewal_at_expiry", f"the renewal of the title {c.start}-{c.end} was already decided in {c.renewal[1]}"
    if s == "zone":
        first = c.end - r.renewal_window + 1
        when = f"in {c.end}" if first == c.end else f"in {first}-{c.end}"
        return "renewal_at_expiry", f"renewal only at expiry: the title runs {c.start}-{c.end}, renewal is decided {when}"
    if s == "expired":
        return "renewal_at_expiry", f"renewal only at expiry: the title expired at the end of {c.end}"
    return "renewal_of_title", f"only a titled zone is renewed (the unit is {_say(s)})"


def _violation(e: str, s: str, c: _Clock, y: int, r: ZoneRules) -> tuple[str, str] | None:
    """The rule an event ``e`` in year ``y`` breaks when the unit's status is ``s``: ``(code, explanation)``."""
    if s == "withdrawn" and e != "applied":
        return "nothing_after_withdrawal", f"nothing follows the withdrawal in {c.left} unless the unit applies again"
    if s == "rectification" and e in ALLOWED[s] and y > c.order + r.rectification_years:
        return "rectification_deadline", (f"the order to rectify of {c.order} had to be lifted, or the unit "
                                          f"withdrawn, by {c.order + r.rectification_years}")
    if e in ALLOWED[s]:
        if s == "withdrawn" and y < c.left + r.reapply_after_withdrawal:
            return "reapply_after_withdrawal", (f"withdrawn in {c.left}, the unit may apply again from "
                                                f"{c.left + r.reapply_after_withdrawal}")
        return None
    if s == "rectification":
        return "decision_under_rectification", (f"under rectification (ordered in {c.order}) the only decisions "
                                                "are rectification_lifted or withdrawn")
    if e == "applied":
        return "apply_when_not_zone", f"a unit applies only when it is not a zone (it is {_say(s)})"
    if e in ("trial_started", "not_selected"):
        return "selection_after_application", f"no open application (the unit is {_say(s)}); record 'applied' first"
    if e in ("accepted", "not_accepted") and s == "trial":
        return "acceptance_after_trial", (f"the trial started in {c.start} runs {r.trial_years} year(s): acceptance "
                                          f"is decided from {c.start + r.trial_years}")
    if e in ("accepted", "not_accepted"):
        return "acceptance_under_review", f"the unit is not under acceptance review (it is {_say(s)})"
    if e in ("renewed", "not_renewed"):
        return _renewal_rule(s, c, r)
    if e == "rectification_ordered":
        return "rectification_of_zone", f"the unit is not a trial or titled zone (it is {_say(s)})"
    if e == "rectification_lifted":
        return "rectification_open", f"no order to rectify is open (the unit is {_say(s)})"
    return "withdrawal_of_zone", f"the unit is not a trial or titled zone (it is {_say(s)})"


def _error(ev: ZoneEvent, file: str, code: str, why: str) -> InputError:
    return InputError(f"unit '{ev.unit}', {ev.year}, event '{ev.event}': {why} [rule {code}]", file=file,
                      row=ev.row, key=ev.key)


def _next(c: _Clock, s: str, y: int, r: ZoneRules) -> tuple[str | None, int | None]:
    """The next status the clocks bring (no further decision) and its year; ``decision_due`` when only a decision
    can move the unit (acceptance, rectification)."""
    ahead = replace(c)
    for z in range(y + 1, y + r.trial_years + 2 * r.title_years + 3):
        _roll(ahead, z, r)
        s2 = _status(ahead, z, r)
        if s2 != s:
            return s2, z
    if s == "acceptance_review":
        return "decision_due", c.start + r.trial_years
    if s == "rectification":
        return "decision_due", c.order + r.rectification_years
    return None, None


def _stage(c: _Clock, s: str, y: int, r: ZoneRules) -> tuple[int | None, int | None]:
    if s == "trial":
        return y - c.start + 1, r.trial_years
    if s in ("zone", "renewal_review"):
        return y - c.start + 1, r.title_years
    if s == "rectification":
        return y - c.order, r.rectification_years
    return None, None


def _year_events(events: tuple[ZoneEvent, ...], file: str) -> dict[int, list[ZoneEvent]]:
    by: dict[int, list[ZoneEvent]] = {}
    for ev in events:
        by.setdefault(ev.year, []).append(ev)
    for evs in by.values():
        for k in range(1, len(evs)):
            if k > 1 or (evs[0].event, evs[1].event) not in PAIRS:
                raise _error(evs[k], file, "one_event_a_year", f"'{evs[k - 1].event}' is recorded in the same year")
    return by


def replay(register: ZoneRegister, unit: str, first: int, last: int) -> list[dict]:
    """The unit's rows (see :func:`zone_status`) for years ``first..last``; raises on a broken rule."""
    r, by = register.rules, _year_events(register.events_of(unit), register.file)
    c, rows, prev, since, seen = _Clock(), [], None, None, False
    for y in range(min([first, *by]), last + 1):
        _roll(c, y, r)
        s = _status(c, y, r)
        title = (c.start, c.end) if c.stage == "title" else (None, None)
        order, stage = c.order, _stage(c, s, y, r)
        overdue = (s == "acceptance_review" and y > c.start + r.trial_years) or (
            s == "rectification" and y > c.order + r.rectification_years)
        for ev in by.get(y, ()):
            broken = _violation(ev.event, s, c, y, r)
            if broken:
                raise _error(ev, register.file, *broken)
            _apply(c, ev.event, y, r)
            seen = True
            if ev.event in START_EVENTS:       # decisions come last in a year and change the status next year
                s = _status(c, y, r)
                stage = _stage(c, s, y, r)
        since = (y if seen else None) if s != prev else since
        prev = s
        if y >= first:
            nxt = _next(c, s, y, r)
            rows.append(dict(unit=unit, year=y, status=s, since=since, stage_year=stage[0], stage_years=stage[1],
                             decision=by[y][-1].event if y in by else None, next=nxt[0], next_year=nxt[1],
                             overdue=bool(overdue), title_start=title[0], title_end=title[1],
                             rectification_ordered=order))
    return rows


def check_register(register: ZoneRegister) -> None:
    """Replay every unit's history to its last event; the first broken rule raises an InputError."""
    for unit in register.units:
        years = [e.year for e in register.events_of(unit)]
        replay(register, unit, min(years), max(years))


def zone_status(register: ZoneRegister, years: Iterable[int], units: Iterable[str] | None = None) -> pd.DataFrame:
    """The status of every unit in every year, derived from the register.

    Parameters
    ----------
    register : from :func:`~surveykit.zones.load_register`.
    years : the years wanted (e.g. the study's years); years after the last event continue the clocks.
    units : the units wanted (default: the register's); a unit without events is ``not_zone`` every year.

    Returns one row per unit and year, units in the order given, with the columns:
    ``status`` (a code of :data:`~surveykit.zones.terms.STATUSES`), ``since`` (first year of that status; NA for a
    unit that never had an event), ``stage_year`` / ``stage_years`` (year k of n of the trial, the title -- also
    for ``renewal_review`` -- or the rectification), ``decision`` (the year's event: the selection when an
    application shares its year), ``next`` / ``next_year`` (the status the clocks bring next and when, or
    ``decision_due`` and the year it was due; NA when nothing is scheduled), ``overdue`` (an acceptance decision or
    the end of a rectification is past due), ``title_start`` / ``title_end`` (the title held, also under
    rectification), ``rectification_ordered`` (year of the open order).
    """
    years = sorted({int(y) for y in years})
    rows: list[dict] = []
    for unit in (register.units if units is None else list(units)):
        got = {}
        if years and register.events_of(unit):
            got = {row["year"]: row for row in replay(register, unit, years[0], years[-1])}
        rows += [got.get(y) or dict(unit=unit, year=y, status="not_zone", overdue=False) for y in years]
    out = pd.DataFrame(rows, columns=COLUMNS)
    out[_INT_COLUMNS] = out[_INT_COLUMNS].astype("Int64")
    out["overdue"] = out["overdue"].astype(bool)
    return out
