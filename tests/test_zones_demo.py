"""The demo register and key tasks: where each zone stands in 2025-2026. (That the stories agree with the demo's
acceptance scorecards is checked on the demo's results store in tests/test_reports.py.)"""

import pytest

from surveykit.demo import DEMO_UNITS
from surveykit.resources import demo_file
from surveykit.zones import key_task_completion, load_key_tasks, load_register, zone_status

REGISTER = demo_file("shanghai/zones.yaml")
KEY_TASKS = demo_file("shanghai/key_tasks.csv")

# unit: (status 2025, status 2026, verdict 2025, verdict 2026, warnings 2026) -- the stories of the register
STORIES = {
    "pudong": ("zone", "zone", "targets_missed", "rectification_warning", "withdrawal_city"),
    "minhang": ("zone", "renewal_review", "targets_missed", "not_decisive", ""),
    "baoshan": ("zone", "rectification", "targets_missed", "partly_rectified", ""),
    "jingan": ("zone", "rectification", "targets_missed", "rectified", ""),
    "jiading": ("zone", "zone", "targets_missed", "targets_missed", ""),
    "qingpu": ("acceptance_review", "zone", "not_decisive", "targets_missed", ""),
    "jinshan": ("acceptance_review", "not_zone", "fail", None, ""),
    "fengxian": ("trial", "acceptance_review", None, "pass", ""),
    "xuhui": ("applicant", "trial", None, None, ""),
    "huangpu": ("withdrawn", "withdrawn", None, None, ""),
    "lingang": ("not_zone", "applicant", None, None, ""),
}


@pytest.fixture(scope="module")
def register():
    return load_register(REGISTER, units=DEMO_UNITS)


def test_demo_register_statuses(register):
    st = zone_status(register, [2025, 2026]).set_index(["unit", "year"])
    assert list(register.units) == list(STORIES)
    for unit, (s25, s26, *_) in STORIES.items():
        assert (st.loc[(unit, 2025), "status"], st.loc[(unit, 2026), "status"]) == (s25, s26), unit
    zones = {y: {u for (u, yy), s in st.status.items() if yy == y and s in
                 ("trial", "acceptance_review", "zone", "renewal_review", "rectification")} for y in (2025, 2026)}
    assert len(zones[2025]) == 8 and len(zones[2026]) == 8
    assert st.loc[("minhang", 2026), "next"] == "expired" and st.loc[("baoshan", 2026), "next"] == "decision_due"


def test_demo_key_tasks(register):
    tasks = load_key_tasks(KEY_TASKS, units=register.units)
    st = zone_status(register, sorted(set(tasks.year))).set_index(["unit", "year"]).status
    for (unit, year) in set(zip(tasks.unit, tasks.year)):      # key tasks only for units that are zones that year
        assert st[(unit, year)] in ("trial", "acceptance_review", "zone", "renewal_review", "rectification")
    c = key_task_completion(tasks)
    assert len(c) == 6 * len(set(zip(tasks.unit, tasks.year))) and c.tasks.sum() == len(tasks)
    assert {"done", "in_progress"} <= set(c.area_status)
