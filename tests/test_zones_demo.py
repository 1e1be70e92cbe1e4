"""The demo register and key tasks: where each zone stands in 2025-2026, and that the stories agree with the
acceptance scorecards the demo data give (the demo's survey and indicators are regenerated and scored here)."""

import pandas as pd
import pytest

import surveykit as sk
from surveykit.cli import write_demo_study, write_margins
from surveykit.io.readers import read_table
from surveykit.protection.demo import compute_protection, write_protection_demo
from surveykit.protection.scorecard import satisfaction_from_scores
from surveykit.results import load_responses
from surveykit.spec.study import load_study
from surveykit.synth import write_demo
from surveykit.units import UNITS
from surveykit.zones import evaluation_table, key_task_completion, load_key_tasks, load_register, zone_status

from .conftest import ROOT

REGISTER = ROOT / "questionnaires" / "demo_zones.yaml"
KEY_TASKS = ROOT / "questionnaires" / "demo_key_tasks.csv"
QUESTIONNAIRE = ROOT / "questionnaires" / "ip_protection_satisfaction.yaml"

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
    return load_register(REGISTER)


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


@pytest.fixture(scope="module")
def demo_cards(tmp_path_factory):
    """The acceptance scorecards of the demo data for 2025 and 2026, computed as the results store does."""
    data = tmp_path_factory.mktemp("zones_demo")
    q = sk.load_questionnaire(QUESTIONNAIRE)
    write_demo(q, data, years=(2025, 2026))
    for y in (2025, 2026):
        write_margins(data / f"population_{y}.csv", data / f"margins_{y}.csv")
    paths = write_protection_demo(data / "protection", (2025, 2026))
    study = load_study(write_demo_study(data, QUESTIONNAIRE, (2025, 2026)))
    cards = []
    for y in (2025, 2026):
        design = sk.Design(load_responses(study, y, q).data, **study.design.kwargs())
        design = design.rake(read_table(study.path(study.years[y].rake)))
        idx = sk.score(q, design, by=["district"])
        city = sk.score(q, design)
        city_index = float(city[(city.group == "all") & (city.node == "index")].estimate.iloc[0])
        out = compute_protection(paths, y, survey=satisfaction_from_scores(idx.assign(suppressed=False)),
                                 city={"satisfaction_index": city_index}, runs=20, sobol_n=8, write=False)
        cards.append(out["scorecard"].assign(year=y))
    return pd.concat(cards, ignore_index=True)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_demo_stories_agree_with_the_demo_scorecards(register, demo_cards):
    st = zone_status(register, [2025, 2026])
    ev = evaluation_table(st, demo_cards, {u.slug: u.zh for u in UNITS}).set_index(["unit", "year"])
    for unit, (_, _, v25, v26, w26) in STORIES.items():
        got = [None if pd.isna(v) else v for v in (ev.loc[(unit, 2025), "verdict"], ev.loc[(unit, 2026), "verdict"])]
        assert got == [v25, v26], unit
        assert ev.loc[(unit, 2026), "warnings"] == w26, unit
    # the register's decisions follow the evidence
    both = st.set_index(["unit", "year"]).join(ev[["verdict"]])
    for (unit, year), row in both[both.decision.notna()].iterrows():
        expected = {"accepted": {"pass", "not_decisive"}, "not_accepted": {"fail"},
                    "rectification_ordered": {"targets_missed", "rectification_warning"},
                    "rectification_lifted": {"rectified"}}.get(row.decision)
        assert expected is None or row.verdict in expected, (unit, year, row.decision, row.verdict)
