"""What the year's evaluation means for a unit, from its status and the acceptance scorecards (pure functions).

The scorecard is :func:`surveykit.protection.scorecard.evaluate_targets` (a survey target passes only when its
whole 95% CI meets the threshold; a straddling CI is ``not_decisive``). By status:

* ``acceptance_review`` / ``renewal_review`` -> kind ``acceptance`` / ``renewal``: the year's scorecard and the
  overall recommendation of :func:`~surveykit.protection.scorecard.scorecard_overall` -- ``pass`` (every target
  passes), ``fail`` (any fails), ``not_decisive`` (none fails, one is not decisive) or ``insufficient_data``; the
  reasons are the targets that did not pass.
* ``zone`` -> ``monitoring``: the same targets; a target ``fail``-ed this year is ``missed``, and one also failed
  the year before is ``missed_twice`` and escalated: verdict ``rectification_warning`` (else ``targets_missed``,
  or ``no_target_missed``).
* ``rectification`` -> ``rectification``: the targets failed in the year of the order and how they stand now;
  ``rectified`` (all pass now), ``partly_rectified``, ``not_rectified``, or ``no_missed_targets`` (the order
  failed no target of the scorecard).
* any other status -> kind ``none``: no scorecard.

A missing scorecard (for the year, or the year of the order) gives ``insufficient_data``. Codes are worded by
:data:`surveykit.zones.terms.TERMS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pandas as pd

from ..protection.scorecard import scorecard_overall

KIND = {"acceptance_review": "acceptance", "renewal_review": "renewal", "zone": "monitoring",
        "rectification": "rectification"}
CARD_COLUMNS = ["unit", "target", "label_zh", "label_en", "indicator", "source", "op", "threshold",
                "threshold_basis", "evidence", "ci_low", "ci_high", "status", "note"]
TABLE_COLUMNS = ["year", *CARD_COLUMNS, "compared_year", "compared_status", "flag"]


@dataclass(frozen=True, eq=False)
class ZoneEvaluation:
    """The year's evaluation of one unit.

    ``kind`` and ``verdict`` are codes (see the module docstring); ``reasons`` the targets behind the verdict
    (not passed; missed; still missed); ``warnings`` the targets missed two years running (monitoring);
    ``compared_year`` the year compared with (the year before, or the year of the order to rectify); ``table`` one
    row per target shown: the scorecard's columns plus ``compared_year, compared_status, flag``.
    """

    unit: str
    year: int
    status: str
    kind: str
    verdict: str | None
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]
    compared_year: int | None
    table: pd.DataFrame


def _table(card: pd.DataFrame, year: int, compared_year, compared: Mapping[str, str], flags: Mapping[str, str]):
    t = card.reindex(columns=CARD_COLUMNS).copy()
    t.insert(0, "year", year)
    t["compared_year"] = pd.array([compared_year] * len(t), dtype="Int64")
    t["compared_status"] = [compared.get(x) for x in t["target"]]
    t["flag"] = [flags.get(x, "") for x in t["target"]]
    return t.reset_index(drop=True)


def _review(card: pd.DataFrame, year: int) -> tuple:
    if card.empty:
        return "insufficient_data", (), (), None, _table(card, year, None, {}, {})
    verdict = scorecard_overall(card)["overall"].iloc[0]
    reasons = tuple(card.loc[card["status"] != "pass", "target"])
    return verdict, reasons, (), None, _table(card, year, None, {}, dict.fromkeys(reasons, "reason"))


def _monitoring(card: pd.DataFrame, before: pd.DataFrame, year: int) -> tuple:
    compared = year - 1 if not before.empty else None
    if card.empty:
        return "insufficient_data", (), (), compared, _table(card, year, compared, {}, {})
    prev = dict(zip(before["target"], before["status"]))
    missed = tuple(card.loc[card["status"] == "fail", "target"])
    twice = tuple(t for t in missed if prev.get(t) == "fail")
    verdict = "rectification_warning" if twice else ("targets_missed" if missed else "no_target_missed")
    flags = {t: "missed_twice" if t in twice else "missed" for t in missed}
    return verdict, missed, twice, compared, _table(card, year, compared, prev, flags)


def _rectification(card: pd.DataFrame, base: pd.DataFrame, year: int, order: int) -> tuple:
    missed = list(base.loc[base["status"] == "fail", "target"])
    if base.empty or card.empty:
        return "insufficient_data", tuple(missed), (), order, _table(card.iloc[:0], year, order, {}, {})
    if not missed:
        return "no_missed_targets", (), (), order, _table(card.iloc[:0], year, order, {}, {})
    now = card.set_index("target").reindex(missed).reset_index()
    now["status"] = now["status"].fillna("insufficient_data")
    for col in ("unit", "label_zh", "label_en", "indicator", "source", "op"):    # a target dropped from this year's card
        now[col] = now[col].fillna(base.set_index("target").loc[missed, col].reset_index(drop=True))
    still = tuple(t for t, s in zip(now["target"], now["status"]) if s != "pass")
    verdict = "rectified" if not still else ("not_rectified" if len(still) == len(missed) else "partly_rectified")
    flags = {t: "still_missed" if t in still else "rectified" for t in missed}
    return verdict, still, (), order, _table(now, year, order, dict.fromkeys(missed, "fail"), flags)


def zone_evaluation(status: Mapping, cards: pd.DataFrame | None, *, card_unit: str | None = None) -> ZoneEvaluation:
    """What the year's evaluation means for one unit.

    Parameters
    ----------
    status : a row of :func:`~surveykit.zones.zone_status` (``unit``, ``year``, ``status``,
        ``rectification_ordered``).
    cards : scorecards (:func:`~surveykit.protection.scorecard.evaluate_targets`) with a ``year`` column -- e.g.
        the results store's ``protection_scorecard`` tables of several years concatenated; other units' rows are
        ignored. None: no scorecard at all.
    card_unit : the unit's name in the scorecards' ``unit`` column when it is not the status's unit id (the
        scorecards name units in Chinese: ``card_unit=find_unit(id).zh``).
    """
    unit, year, s = status["unit"], int(status["year"]), status["status"]
    kind = KIND.get(s, "none")
    empty = pd.DataFrame(columns=[*CARD_COLUMNS, "year"])
    mine = empty if cards is None else cards[cards["unit"] == (card_unit or unit)]
    card, before = mine[mine["year"] == year], mine[mine["year"] == year - 1]
    if kind == "none":
        return ZoneEvaluation(unit, year, s, kind, None, (), (), None, _table(empty, year, None, {}, {}))
    if kind in ("acceptance", "renewal"):
        parts = _review(card, year)
    elif kind == "monitoring":
        parts = _monitoring(card, before, year)
    else:
        order = int(status["rectification_ordered"])
        parts = _rectification(card, mine[mine["year"] == order], year, order)
    return ZoneEvaluation(unit, year, s, kind, *parts)


def evaluation_table(statuses: pd.DataFrame, cards: pd.DataFrame | None,
                     card_units: Mapping[str, str] | None = None) -> pd.DataFrame:
    """:func:`zone_evaluation` for every row of a :func:`~surveykit.zones.zone_status` table, as one tidy table:
    ``unit, year, status, kind, verdict, reasons, warnings, compared_year`` (reasons and warnings: target ids
    joined by ``;``). ``card_units`` maps unit ids to the scorecards' unit names (e.g. slug -> Chinese name)."""
    rows = []
    for st in statuses.to_dict("records"):
        ev = zone_evaluation(st, cards, card_unit=(card_units or {}).get(st["unit"]))
        rows.append(dict(unit=ev.unit, year=ev.year, status=ev.status, kind=ev.kind, verdict=ev.verdict,
                         reasons=";".join(ev.reasons), warnings=";".join(ev.warnings),
                         compared_year=ev.compared_year))
    out = pd.DataFrame(rows, columns=["unit", "year", "status", "kind", "verdict", "reasons", "warnings",
                                      "compared_year"])
    out["compared_year"] = out["compared_year"].astype("Int64")
    return out
