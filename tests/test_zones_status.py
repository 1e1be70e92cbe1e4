"""zone_status, table-driven: every transition of the plan, with hand-written expected tables.

Each case is a history (``year event`` pairs), the rules that differ from the base (trial 1 year, title 3 years,
renewal in the expiry year, 1 year to rectify, re-application 1 year after withdrawal) and the expected table:
year, status, since, stage year k, of n, the year's decision, next status and its year, overdue, the title held,
the year of the open order to rectify ("-" = none).
"""

import pandas as pd
import pytest

from surveykit.zones import ZoneEvent, ZoneRegister, ZoneRules, zone_status
from surveykit.zones.timeline import check_register

BASE = dict(trial_years=1, title_years=3, renewal_window=1, rectification_years=1, reapply_after_withdrawal=1)


def register(history: str, **rules) -> ZoneRegister:
    evs = []
    for k, item in enumerate(x.strip() for x in history.split(";")):
        year, event = item.split()
        evs.append(ZoneEvent("u", int(year), event, key=f"zones.u[{k}]"))
    reg = ZoneRegister("t", "1", ZoneRules(**{**BASE, **rules}), tuple(evs), "t.yaml")
    check_register(reg)
    return reg


def expected(table: str) -> pd.DataFrame:
    rows = []
    for line in table.strip().splitlines():
        y, st, since, k, n, dec, nxt, ny, od, title, rect = line.split()
        dash = lambda v, f=int: None if v == "-" else f(v)  # noqa: E731
        t0, t1 = (None, None) if title == "-" else map(int, title.split("-"))
        rows.append(dict(year=int(y), status=st, since=dash(since), stage_year=dash(k), stage_years=dash(n),
                         decision=dash(dec, str), next=dash(nxt, str), next_year=dash(ny), overdue=od == "1",
                         title_start=t0, title_end=t1, rectification_ordered=dash(rect)))
    return pd.DataFrame(rows)


def got(reg: ZoneRegister, years) -> pd.DataFrame:
    out = zone_status(reg, years).drop(columns="unit")
    for c in out.columns:
        out[c] = [None if pd.isna(v) else v for v in out[c]]
    return out.astype(object)


CASES = {
    # not_zone -> applicant -> trial -> acceptance_review -> zone -> renewal_review -> zone (renewed) ->
    # renewal_review -> expired
    "full_cycle_renewed_then_expired": ("2020 applied; 2021 trial_started; 2022 accepted; 2025 renewed", {}, """
2019 not_zone          -    - - -             -                 -    0 -         -
2020 applicant         2020 - - applied       -                 -    0 -         -
2021 trial             2021 1 1 trial_started acceptance_review 2022 0 -         -
2022 acceptance_review 2022 - - accepted      zone              2023 0 -         -
2023 zone              2023 1 3 -             renewal_review    2025 0 2023-2025 -
2024 zone              2023 2 3 -             renewal_review    2025 0 2023-2025 -
2025 renewal_review    2025 3 3 renewed       zone              2026 0 2023-2025 -
2026 zone              2026 1 3 -             renewal_review    2028 0 2026-2028 -
2027 zone              2026 2 3 -             renewal_review    2028 0 2026-2028 -
2028 renewal_review    2028 3 3 -             expired           2029 0 2026-2028 -
2029 expired           2029 - - -             -                 -    0 -         -
"""),
    # applicant -> not_zone (not selected); applied and selected in one year; not accepted -> not_zone
    "not_selected_then_not_accepted": ("2020 applied; 2021 not_selected; 2023 applied; 2023 trial_started; "
                                       "2024 not_accepted", {}, """
2020 applicant         2020 - - applied       -                 -    0 - -
2021 applicant         2020 - - not_selected  not_zone          2022 0 - -
2022 not_zone          2022 - - -             -                 -    0 - -
2023 trial             2023 1 1 trial_started acceptance_review 2024 0 - -
2024 acceptance_review 2024 - - not_accepted  not_zone          2025 0 - -
2025 not_zone          2025 - - -             -                 -    0 - -
"""),
    # a two-year trial; the acceptance decision comes a year late (overdue)
    "two_year_trial_overdue_acceptance": ("2020 applied; 2020 trial_started; 2023 accepted", {"trial_years": 2}, """
2020 trial             2020 1 2 trial_started acceptance_review 2022 0 -         -
2021 trial             2020 2 2 -             acceptance_review 2022 0 -         -
2022 acceptance_review 2022 - - -             decision_due      2022 0 -         -
2023 acceptance_review 2022 - - accepted      zone              2024 1 -         -
2024 zone              2024 1 3 -             renewal_review    2026 0 2024-2026 -
"""),
    # zone -> rectification -> (lifted) renewal_review -> expired: the title's clock runs under rectification
    "rectification_of_a_zone_lifted": ("2020 applied; 2020 trial_started; 2021 accepted; 2022 rectification_ordered; "
                                       "2023 rectification_lifted", {}, """
2022 zone           2022 1 3 rectification_ordered rectification  2023 0 2022-2024 -
2023 rectification  2023 1 1 rectification_lifted  renewal_review 2024 0 2022-2024 2022
2024 renewal_review 2024 3 3 -                     expired        2025 0 2022-2024 -
2025 expired        2025 - - -                     -              -    0 -         -
"""),
    # renewal_review -> rectification: the title expires while under rectification -> expired when lifted
    "rectification_across_expiry": ("2020 applied; 2020 trial_started; 2021 accepted; 2024 rectification_ordered; "
                                    "2025 rectification_lifted", {}, """
2024 renewal_review 2024 3 3 rectification_ordered rectification 2025 0 2022-2024 -
2025 rectification  2025 1 1 rectification_lifted  expired       2026 0 -         2024
2026 expired        2026 - - -                     -             -    0 -         -
"""),
    # acceptance_review -> rectification (2 years) -> withdrawn -> applicant after the waiting time
    "rectification_failed_withdrawn_reapply": (
        "2020 applied; 2020 trial_started; 2021 rectification_ordered; 2023 withdrawn; 2025 applied",
        {"rectification_years": 2, "reapply_after_withdrawal": 2}, """
2021 acceptance_review 2021 - - rectification_ordered rectification 2022 0 - -
2022 rectification     2022 1 2 -                     decision_due  2023 0 - 2021
2023 rectification     2022 2 2 withdrawn             withdrawn     2024 0 - 2021
2024 withdrawn         2024 - - -                     -             -    0 - -
2025 applicant         2025 - - applied               -             -    0 - -
"""),
    # trial -> rectification -> (lifted) acceptance_review, late -> zone
    "rectification_of_a_trial": ("2019 applied; 2020 trial_started; 2021 rectification_ordered; "
                                 "2022 rectification_lifted; 2023 accepted", {"trial_years": 2}, """
2021 trial             2020 2 2 rectification_ordered rectification     2022 0 -         -
2022 rectification     2022 1 1 rectification_lifted  acceptance_review 2023 0 -         2021
2023 acceptance_review 2023 - - accepted              zone              2024 1 -         -
2024 zone              2024 1 3 -                     renewal_review    2026 0 2024-2026 -
"""),
    # no decision on a rectification: it stays open, overdue; the title expires meanwhile
    "rectification_overdue": ("2020 applied; 2020 trial_started; 2021 accepted; 2022 rectification_ordered", {}, """
2023 rectification 2023 1 1 - decision_due 2023 0 2022-2024 2022
2024 rectification 2023 2 1 - decision_due 2023 1 2022-2024 2022
2025 rectification 2023 3 1 - decision_due 2023 1 -         2022
"""),
    # a two-year renewal window: renewed early -> zone until the old title ends, then the new title
    "early_renewal": ("2020 applied; 2020 trial_started; 2021 accepted; 2023 renewed", {"renewal_window": 2}, """
2022 zone           2022 1 3 -       renewal_review 2023 0 2022-2024 -
2023 renewal_review 2023 2 3 renewed zone           2024 0 2022-2024 -
2024 zone           2024 3 3 -       renewal_review 2026 0 2022-2024 -
2025 zone           2024 1 3 -       renewal_review 2026 0 2025-2027 -
2026 renewal_review 2026 2 3 -       expired        2028 0 2025-2027 -
"""),
    # not renewed -> expires at the end of the title -> applies again
    "not_renewed_expired_reapply": ("2020 applied; 2020 trial_started; 2021 accepted; 2023 not_renewed; 2026 applied",
                                    {"renewal_window": 2}, """
2023 renewal_review 2023 2 3 not_renewed zone    2024 0 2022-2024 -
2024 zone           2024 3 3 -           expired 2025 0 2022-2024 -
2025 expired        2025 - - -           -       -    0 -         -
2026 applicant      2026 - - applied     -       -    0 -         -
"""),
    # trial -> withdrawn
    "trial_withdrawn": ("2019 applied; 2020 trial_started; 2021 withdrawn", {"trial_years": 2}, """
2021 trial     2020 2 2 withdrawn withdrawn 2022 0 - -
2022 withdrawn 2022 - - -         -         -    0 - -
"""),
    # zone -> withdrawn (without rectification)
    "zone_withdrawn": ("2020 applied; 2020 trial_started; 2021 accepted; 2023 withdrawn", {}, """
2023 zone      2022 2 3 withdrawn withdrawn 2024 0 2022-2024 -
2024 withdrawn 2024 - - -         -         -    0 -         -
"""),
}


@pytest.mark.parametrize("name", CASES)
def test_status_table(name):
    history, rules, table = CASES[name]
    want = expected(table)
    out = got(register(history, **rules), want["year"])
    pd.testing.assert_frame_equal(out.reset_index(drop=True), want.astype(object), check_dtype=False)


def test_every_status_and_transition_is_covered():
    seen, moves = set(), set()
    for history, rules, table in CASES.values():
        t = expected(table)
        seen |= set(t.status)
        moves |= {(a, b) for a, b, y0, y1 in zip(t.status, t.status[1:], t.year, t.year[1:]) if a != b and y1 == y0 + 1}
    assert seen == {"not_zone", "applicant", "trial", "acceptance_review", "zone", "renewal_review",
                    "rectification", "expired", "withdrawn"}
    assert moves >= {("not_zone", "applicant"), ("applicant", "trial"), ("applicant", "not_zone"),
                     ("trial", "acceptance_review"), ("acceptance_review", "zone"), ("acceptance_review", "not_zone"),
                     ("zone", "renewal_review"), ("renewal_review", "zone"), ("renewal_review", "expired"),
                     ("zone", "rectification"), ("trial", "rectification"), ("acceptance_review", "rectification"),
                     ("renewal_review", "rectification"), ("rectification", "renewal_review"),
                     ("rectification", "acceptance_review"), ("rectification", "expired"),
                     ("rectification", "withdrawn"), ("trial", "withdrawn"), ("zone", "withdrawn"),
                     ("withdrawn", "applicant"), ("expired", "applicant"), ("zone", "expired")}


def test_units_without_events_and_column_types():
    reg = register("2020 applied; 2020 trial_started")
    out = zone_status(reg, [2021, 2020], units=["u", "other"])
    assert list(out.unit) == ["u", "u", "other", "other"] and list(out.year) == [2020, 2021, 2020, 2021]
    assert list(out.status) == ["trial", "acceptance_review", "not_zone", "not_zone"]
    assert out.since.isna().tolist() == [False, False, True, True]
    assert str(out.since.dtype) == "Int64" and out.overdue.dtype == bool
    assert list(zone_status(reg, [2021]).columns) == ["unit", "year", "status", "since", "stage_year", "stage_years",
                                                      "decision", "next", "next_year", "overdue", "title_start",
                                                      "title_end", "rectification_ordered"]
