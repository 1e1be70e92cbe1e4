"""zone_evaluation: what the year's scorecard means for a unit, by status (hand-made scorecards)."""

import pandas as pd
import pytest

from surveykit.zones import TERMS, evaluation_table, term, zone_evaluation
from surveykit.zones import terms as T


def cards(spec: dict[int, str], unit: str = "u") -> pd.DataFrame:
    """{year: "t1=pass t2=fail"} -> scorecard rows (the columns evaluate_targets writes, with a year)."""
    rows = []
    for year, statuses in spec.items():
        for item in statuses.split():
            target, status = item.split("=")
            rows.append(dict(unit=unit, target=target, label_zh=f"{target}中", label_en=f"{target} en", indicator="x",
                             source="indicators", op=">=", threshold=1.0, threshold_basis="1", evidence=2.0,
                             ci_low=float("nan"), ci_high=float("nan"), status=status, note="", year=year))
    return pd.DataFrame(rows)


def st(status: str, year: int = 2026, order=None, unit: str = "u") -> dict:
    return dict(unit=unit, year=year, status=status, rectification_ordered=order)


REVIEWS = {
    # (this year's card, verdict, reasons)
    "all_pass": ("a=pass b=pass c=pass", "pass", ()),
    "one_not_decisive": ("a=pass b=not_decisive c=pass", "not_decisive", ("b",)),
    "fail_beats_not_decisive": ("a=not_decisive b=pass c=fail", "fail", ("a", "c")),
    "only_missing_data": ("a=pass b=insufficient_data", "insufficient_data", ("b",)),
    "not_decisive_and_missing": ("a=insufficient_data b=not_decisive", "not_decisive", ("a", "b")),
}


@pytest.mark.parametrize("status,kind", [("acceptance_review", "acceptance"), ("renewal_review", "renewal")])
@pytest.mark.parametrize("name", REVIEWS)
def test_review_recommendation(name, status, kind):
    card, verdict, reasons = REVIEWS[name]
    ev = zone_evaluation(st(status), cards({2026: card, 2025: "a=fail b=fail c=fail"}))
    assert (ev.kind, ev.verdict, ev.reasons, ev.warnings, ev.compared_year) == (kind, verdict, reasons, (), None)
    assert list(ev.table.target) == [x.split("=")[0] for x in card.split()]
    assert [f for f in ev.table.flag if f] == ["reason"] * len(reasons)
    assert ev.table.compared_status.isna().all() and (ev.table.year == 2026).all()


def test_review_without_scorecard():
    for c in (None, cards({2025: "a=pass"}), cards({2026: "a=pass"}, unit="other")):
        ev = zone_evaluation(st("acceptance_review"), c)
        assert (ev.kind, ev.verdict, ev.reasons) == ("acceptance", "insufficient_data", ()) and ev.table.empty


MONITORING = {
    # (last year's card or None, this year's, verdict, reasons (missed), warnings (missed twice), flags)
    "two_years_running": ("a=fail b=not_decisive c=pass d=fail", "a=fail b=fail c=pass d=pass",
                          "rectification_warning", ("a", "b"), ("a",), ["missed_twice", "missed", "", ""]),
    "missed_once": ("a=pass b=pass", "a=fail b=not_decisive", "targets_missed", ("a",), (), ["missed", ""]),
    "nothing_missed": ("a=fail b=fail", "a=pass b=not_decisive", "no_target_missed", (), (), ["", ""]),
    "no_last_year": (None, "a=fail b=pass", "targets_missed", ("a",), (), ["missed", ""]),
}


@pytest.mark.parametrize("name", MONITORING)
def test_monitoring_and_rectification_warning(name):
    before, now, verdict, reasons, warnings, flags = MONITORING[name]
    spec = {2026: now, **({2025: before} if before else {}), 2024: "a=fail b=fail c=fail d=fail"}
    ev = zone_evaluation(st("zone"), cards(spec))
    assert (ev.kind, ev.verdict, ev.reasons, ev.warnings) == ("monitoring", verdict, reasons, warnings)
    assert list(ev.table.flag) == flags
    if before:
        assert ev.compared_year == 2025 and list(ev.table.compared_status) == [x.split("=")[1] for x in before.split()]
    else:
        assert ev.compared_year is None and ev.table.compared_status.isna().all()


def test_monitoring_without_this_years_card():
    ev = zone_evaluation(st("zone"), cards({2025: "a=fail"}))
    assert (ev.verdict, ev.reasons, ev.compared_year) == ("insufficient_data", (), 2025) and ev.table.empty


RECTIFICATION = {
    # (card of the order year, this year's card, verdict, reasons (still missed), table targets, flags, now)
    "partly": ("a=fail b=fail c=pass", "a=pass b=not_decisive c=fail", "partly_rectified", ("b",), ["a", "b"],
               ["rectified", "still_missed"], ["pass", "not_decisive"]),
    "all": ("a=fail b=fail", "a=pass b=pass", "rectified", (), ["a", "b"], ["rectified", "rectified"],
            ["pass", "pass"]),
    "none": ("a=fail b=pass", "a=fail b=fail", "not_rectified", ("a",), ["a"], ["still_missed"], ["fail"]),
    "dropped_target": ("a=fail z=fail", "a=pass", "partly_rectified", ("z",), ["a", "z"], ["rectified", "still_missed"],
                       ["pass", "insufficient_data"]),
    "nothing_missed": ("a=pass b=not_decisive", "a=pass", "no_missed_targets", (), [], [], []),
}


@pytest.mark.parametrize("name", RECTIFICATION)
def test_rectification_progress(name):
    base, now, verdict, reasons, targets, flags, statuses = RECTIFICATION[name]
    ev = zone_evaluation(st("rectification", 2026, order=2024), cards({2024: base, 2025: "a=pass", 2026: now}))
    assert (ev.kind, ev.verdict, ev.reasons, ev.compared_year) == ("rectification", verdict, reasons, 2024)
    assert list(ev.table.target) == targets and list(ev.table.flag) == flags and list(ev.table.status) == statuses
    assert list(ev.table.compared_status) == ["fail"] * len(targets)
    if name == "dropped_target":
        assert ev.table.label_en.tolist() == ["a en", "z en"] and ev.table.unit.tolist() == ["u", "u"]


def test_rectification_without_the_order_years_card():
    ev = zone_evaluation(st("rectification", 2026, order=2025), cards({2026: "a=fail"}))
    assert (ev.verdict, ev.reasons, ev.compared_year) == ("insufficient_data", (), 2025) and ev.table.empty


@pytest.mark.parametrize("status", ["not_zone", "applicant", "trial", "expired", "withdrawn"])
def test_other_statuses_have_no_scorecard(status):
    ev = zone_evaluation(st(status), cards({2026: "a=fail", 2025: "a=fail"}))
    assert (ev.kind, ev.verdict, ev.reasons, ev.warnings, ev.compared_year) == ("none", None, (), (), None)
    assert ev.table.empty


def test_card_unit_and_evaluation_table():
    c = pd.concat([cards({2026: "a=pass", 2025: "a=fail"}, unit="浦东新区"),
                   cards({2026: "a=fail", 2025: "a=fail"}, unit="黄浦区")])
    ev = zone_evaluation(st("zone", unit="pudong"), c, card_unit="浦东新区")
    assert ev.verdict == "no_target_missed" and ev.unit == "pudong"
    statuses = pd.DataFrame([st("zone", unit="pudong"), st("zone", unit="huangpu"), st("trial", unit="xuhui")])
    out = evaluation_table(statuses, c, {"pudong": "浦东新区", "huangpu": "黄浦区", "xuhui": "徐汇区"})
    assert out.verdict.tolist()[:2] == ["no_target_missed", "rectification_warning"] and pd.isna(out.verdict[2])
    assert out.warnings.tolist() == ["", "a", ""] and out.kind.tolist() == ["monitoring", "monitoring", "none"]
    assert out.compared_year.tolist() == [2025, 2025, pd.NA]


def test_vocabulary_covers_every_code_in_both_languages():
    families = {"status": T.STATUSES, "event": T.EVENTS, "kind": T.KINDS, "verdict": T.VERDICTS, "flag": T.FLAGS,
                "task": T.TASK_STATUSES, "area_status": T.AREA_STATUSES, "next": ("decision_due",)}
    keys = {f"zone.{f}.{c}" for f, codes in families.items() for c in codes} | {"zone.stage_year"}
    assert set(TERMS) == keys
    for k, v in TERMS.items():
        assert set(v) == {"zh", "en"} and v["zh"].strip() and v["en"].strip(), k
    plan = {"trial": "试点区", "acceptance_review": "验收评审", "zone": "示范区", "rectification": "责令整改",
            "withdrawn": "取消资格"}
    assert {c: term("status", c) for c in plan} == plan and "续展" in term("status", "renewal_review")
    assert TERMS["zone.stage_year"]["en"].format(k=2, n=3) == "year 2 of 3"
