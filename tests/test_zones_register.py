"""The zone register: YAML and CSV forms, format errors, and every rule of the plan (InputError naming file,
key or row, unit, year and rule)."""

import textwrap

import pandas as pd
import pytest

from surveykit.errors import InputError, SpecError
from surveykit.zones import RULES, zone_status
from surveykit.zones import load_register as _load_register
from surveykit.zones import register as regmod

HEADER = """\
id: t
version: "1"
rules:
  trial_years: {t}
  title_years: 3
  renewal_window: {w}
  rectification_years: 1
  reapply_after_withdrawal: {r}
"""
from surveykit.demo import DEMO_UNITS


def load_register(*args, **kwargs):
    """With the demo study's units (the tests name Shanghai's districts by id or name)."""
    if len(args) < 2:
        kwargs.setdefault("units", DEMO_UNITS)
    return _load_register(*args, **kwargs)


def yaml_register(tmp_path, zones: str, t=1, w=1, r=1, name="z.yaml"):
    p = tmp_path / name
    p.write_text(HEADER.format(t=t, w=w, r=r) + "zones:\n" + textwrap.indent(textwrap.dedent(zones), "  "),
                 encoding="utf-8")
    return p


def csv_register(tmp_path, rows: str, t=1, w=1, r=1, name="z.csv", header=None):
    p = tmp_path / name
    head = header if header is not None else "---\n" + HEADER.format(t=t, w=w, r=r) + "---\n"
    p.write_text(head + textwrap.dedent(rows), encoding="utf-8")
    return p


def history_yaml(history: str) -> str:
    """'2020 applied; 2021 accepted' -> the YAML list of unit pudong."""
    items = [x.split() for x in history.split(";")]
    return "pudong:\n" + "".join(f"  - {{year: {y}, event: {e}}}\n" for y, e in items)


# --- the plan's rules: (history, rules, rule broken, index of the offending event) --------------------------------
ACC = "2020 applied; 2020 trial_started; 2021 accepted"          # title 2022-2024
VIOLATIONS = {
    "three_in_a_year": ("2020 applied; 2020 trial_started; 2020 withdrawn", {}, "one_event_a_year", 2),
    "two_decisions_in_a_year": ("2020 applied; 2021 trial_started; 2021 withdrawn", {}, "one_event_a_year", 2),
    "trial_without_application": ("2020 trial_started", {}, "selection_after_application", 0),
    "not_selected_without_application": ("2019 not_selected", {}, "selection_after_application", 0),
    "apply_while_zone": ("2020 applied; 2020 trial_started; 2021 applied", {}, "apply_when_not_zone", 2),
    "accept_during_trial": ("2020 applied; 2020 trial_started; 2021 accepted", {"t": 2}, "acceptance_after_trial", 2),
    "accept_same_year_as_trial": ("2019 applied; 2020 trial_started; 2020 accepted", {}, "one_event_a_year", 2),
    "accept_an_applicant": ("2019 applied; 2020 accepted", {}, "acceptance_under_review", 1),
    "renew_too_early": (ACC + "; 2023 renewed", {}, "renewal_at_expiry", 3),
    "renew_after_expiry": (ACC + "; 2025 renewed", {}, "renewal_at_expiry", 3),
    "renew_twice": (ACC + "; 2023 renewed; 2024 renewed", {"w": 2}, "renewal_at_expiry", 4),
    "renew_a_trial": ("2020 applied; 2020 trial_started; 2021 renewed", {}, "renewal_of_title", 2),
    "renew_under_rectification": (ACC + "; 2023 rectification_ordered; 2024 renewed", {},
                                  "decision_under_rectification", 4),
    "rectify_an_applicant": ("2020 applied; 2021 rectification_ordered", {}, "rectification_of_zone", 1),
    "rectify_after_the_title_expired": (ACC + "; 2025 rectification_ordered", {}, "rectification_of_zone", 3),
    "lift_without_order": (ACC + "; 2022 rectification_lifted", {}, "rectification_open", 3),
    "lift_too_late": (ACC + "; 2022 rectification_ordered; 2024 rectification_lifted", {}, "rectification_deadline", 4),
    "withdraw_an_applicant": ("2020 applied; 2021 withdrawn", {}, "withdrawal_of_zone", 1),
    "event_after_withdrawal": (ACC + "; 2022 withdrawn; 2023 rectification_ordered", {}, "nothing_after_withdrawal", 4),
    "reapply_too_soon": (ACC + "; 2022 withdrawn; 2023 applied", {"r": 2}, "reapply_after_withdrawal", 4),
}


@pytest.mark.parametrize("name", VIOLATIONS)
def test_rule_violation_names_file_key_unit_year_and_rule(tmp_path, name):
    history, rules, code, k = VIOLATIONS[name]
    year, event = history.split(";")[k].split()
    p = yaml_register(tmp_path, history_yaml(history), **rules)
    with pytest.raises(InputError) as e:
        load_register(p)
    assert e.value.file == str(p) and e.value.key == f"zones.pudong[{k}]"
    assert f"unit 'pudong', {year}, event '{event}'" in e.value.message and e.value.message.endswith(f"[rule {code}]")


def test_every_rule_is_exercised():
    assert {v[2] for v in VIOLATIONS.values()} == set(RULES)


def test_rule_violation_in_csv_names_the_row(tmp_path):
    p = csv_register(tmp_path, """\
        unit,year,event,note
        pudong,2020,applied,
        pudong,2020,trial_started,

        pudong,2023,accepted,late
        pudong,2021,renewed,
        """, t=1)
    # the file's lines: 1-10 header, 11 columns, 12-13 events, 14 blank, 15-16 events; replayed by year
    with pytest.raises(InputError) as e:
        load_register(p)
    assert e.value.row == 16 and "unit 'pudong', 2021, event 'renewed'" in e.value.message
    assert "[rule renewal_of_title]" in e.value.message
    assert e.value.one_line().startswith(f"{p}, row 16: unit 'pudong'")


def test_yaml_and_csv_forms_agree(tmp_path):
    history = ACC + "; 2023 rectification_ordered; 2024 rectification_lifted"
    y = load_register(yaml_register(tmp_path, history_yaml(history)))
    rows = "unit,year,event,note\n" + "".join(f"浦东新区,{x.split()[0]},{x.split()[1]},\n" for x in history.split(";"))
    c = load_register(csv_register(tmp_path, rows))
    assert y.units == c.units == ("pudong",)
    pd.testing.assert_frame_equal(y.table(), c.table())
    assert y.rules == c.rules and (y.id, y.version) == (c.id, c.version) == ("t", "1")
    pd.testing.assert_frame_equal(zone_status(y, range(2019, 2027)), zone_status(c, range(2019, 2027)))
    assert [e.row for e in c.events] == [12, 13, 14, 15, 16] and y.events[3].key == "zones.pudong[3]"


def test_unit_names_become_ids_and_duplicates_are_refused(tmp_path):
    reg = load_register(yaml_register(tmp_path, "浦东新区:\n  - {year: 2020, event: applied}\n"
                                                "Minhang:\n  - {year: 2021, event: applied}\n"))
    assert reg.units == ("pudong", "minhang")
    p = yaml_register(tmp_path, "pudong:\n  - {year: 2020, event: applied}\n浦东新区:\n  - {year: 2021, event: applied}\n")
    with pytest.raises(InputError, match="listed twice") as e:
        load_register(p)
    assert e.value.key == "zones.浦东新区"
    only = load_register(yaml_register(tmp_path, "a1:\n  - {year: 2020, event: applied}\n"), units=["a1", "a2"])
    assert only.units == ("a1",)


FORMAT_ERRORS = {
    # (zones or a whole text, key expected, message part)
    "unknown_top_key": (HEADER.format(t=1, w=1, r=1) + "zones: {pudong: [{year: 2020, event: applied}]}\n"
                        "notes: x\n", "notes", "unknown key"),
    "missing_rule": ('id: t\nversion: "1"\nrules: {trial_years: 1, title_years: 3, renewal_window: 1, '
                     'reapply_after_withdrawal: 1}\nzones: {pudong: [{year: 2020, event: applied}]}\n',
                     "rules.rectification_years", "required key is missing"),
    "unknown_rule": ('id: t\nversion: "1"\nrules: {trial_years: 1, title_years: 3, renewal_window: 1, '
                     'rectification_years: 1, reapply_after_withdrawal: 1, grace: 2}\nzones: {}\n',
                     "rules.grace", "unknown key"),
    "window_longer_than_title": ('id: t\nversion: "1"\nrules: {trial_years: 1, title_years: 3, renewal_window: 4, '
                                 'rectification_years: 1, reapply_after_withdrawal: 1}\n'
                                 'zones: {pudong: [{year: 2020, event: applied}]}\n', "rules",
                                 "renewal_window (4) is longer than title_years (3)"),
    "zero_years": ('id: t\nversion: "1"\nrules: {trial_years: 0, title_years: 3, renewal_window: 1, '
                   'rectification_years: 1, reapply_after_withdrawal: 1}\n'
                   'zones: {pudong: [{year: 2020, event: applied}]}\n', "rules.trial_years", "greater than or equal"),
    "unknown_event_code": ("pudong:\n  - {year: 2020, event: applied}\n  - {year: 2021, event: acepted}\n",
                           "zones.pudong[1].event", "unknown event code 'acepted'"),
    "unknown_event_key": ("pudong:\n  - {yr: 2020, event: applied}\n", "zones.pudong[0].year", "required key"),
    "quoted_year": ("pudong:\n  - {year: '2020', event: applied}\n", "zones.pudong[0].year", "valid integer"),
    "no_events": ("pudong: []\n", "zones.pudong", "at least 1"),
    "unknown_unit": ("atlantis:\n  - {year: 2020, event: applied}\n", "zones.atlantis", "unknown unit 'atlantis'"),
}


@pytest.mark.parametrize("name", FORMAT_ERRORS)
def test_yaml_format_errors(tmp_path, name):
    text, key, msg = FORMAT_ERRORS[name]
    p = tmp_path / "z.yaml"
    if text.startswith("id:"):
        p.write_text(text, encoding="utf-8")
    else:
        p = yaml_register(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_register(p)
    assert e.value.file == str(p) and e.value.key == key and msg in e.value.message


CSV_ERRORS = {
    # (rows after the header, row, column, message part); the header takes lines 1-10
    "unknown_column": ("unit,year,event,remark\n", 11, "remark", "unknown"),
    "column_twice": ("unit,year,event,year\n", 11, "year", "twice"),
    "missing_column": ("unit,year,note\n", 11, "event", "required column is missing"),
    "unknown_event": ("unit,year,event\npudong,2020,applied\npudong,2021,trial\n", 13, "event",
                      "unknown event code 'trial'"),
    "bad_year": ("unit,year,event\npudong,2020.0,applied\n", 12, "year", "not a year"),
    "blank_unit": ("unit,year,event\n,2020,applied\n", 12, "unit", "blank"),
    "unknown_unit": ("unit,year,event\natlantis,2020,applied\n", 12, "unit", "unknown unit"),
    "too_many_cells": ("unit,year,event\npudong,2020,applied,x,y\n", 12, None, "5 cells but 3 columns"),
}


@pytest.mark.parametrize("name", CSV_ERRORS)
def test_csv_format_errors(tmp_path, name):
    rows, row, column, msg = CSV_ERRORS[name]
    p = csv_register(tmp_path, rows)
    with pytest.raises(InputError) as e:
        load_register(p)
    assert (e.value.file, e.value.row, e.value.column) == (str(p), row, column) and msg in e.value.message


def test_csv_header_problems(tmp_path):
    rows = "unit,year,event\npudong,2020,applied\n"
    with pytest.raises(InputError, match="starts with its header") as e:
        load_register(csv_register(tmp_path, rows, header=""))
    assert e.value.row == 1
    with pytest.raises(InputError, match="no closing"):
        load_register(csv_register(tmp_path, rows, header="---\n" + HEADER.format(t=1, w=1, r=1)))
    with pytest.raises(SpecError, match="invalid YAML in the header") as e:
        load_register(csv_register(tmp_path, rows, header="---\nid: t\nversion: \"1\"\nrules: [\n---\n"))
    assert e.value.row is not None and 4 <= e.value.row <= 5
    with pytest.raises(SpecError) as e:
        load_register(csv_register(tmp_path, rows, header="---\nid: t\nversion: \"1\"\nid: u\n---\n"))
    assert "duplicate key 'id'" in e.value.message
    with pytest.raises(SpecError) as e:
        load_register(csv_register(tmp_path, rows, header="---\nid: t\nversion: \"1\"\n---\n"))
    assert e.value.key == "rules"
    with pytest.raises(InputError, match="lists no events"):
        load_register(csv_register(tmp_path, "unit,year,event\n\n"))


def test_csv_saved_by_a_spreadsheet(tmp_path):
    """A spreadsheet pads every line with commas and may add a BOM; the header survives that."""
    head = "---\n" + HEADER.format(t=1, w=1, r=1) + "---\n"
    padded = "".join(line + ",,," + "\n" for line in head.splitlines())
    p = tmp_path / "z.csv"
    p.write_bytes(("\ufeff" + padded + "unit,year,event,note\npudong,2020,applied,\n,,,\n").encode("utf-8"))
    reg = load_register(p)
    assert reg.rules.title_years == 3 and len(reg.events) == 1 and reg.events[0].row == 12


def test_file_problems(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_register(tmp_path / "none.yaml")
    with pytest.raises(InputError, match="folder"):
        load_register(tmp_path)
    p = tmp_path / "z.txt"
    p.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="unknown register file type '.txt'"):
        load_register(p)
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(regmod.MAX_BYTES + 1)
    with pytest.raises(InputError, match="larger than"):
        load_register(big)
    gbk = tmp_path / "g.csv"
    gbk.write_bytes(("---\n" + HEADER.format(t=1, w=1, r=1) + "---\nunit,year,event,note\n"
                     "pudong,2020,applied,浦东\n").encode("gbk"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_register(gbk)


def test_a_broken_register_stops_surveykit_report_with_one_line(tmp_path, capsys):
    """The register is checked before anything is computed: `surveykit report` exits 2 with one line naming the
    file, the unit, the year and the rule."""
    from surveykit.cli import main
    from .conftest import ROOT
    reg = tmp_path / "zones.yaml"
    reg.write_text(HEADER.format(t=1, w=1, r=1) + "zones:\n  pudong:\n    - {year: 2024, event: accepted}\n",
                   encoding="utf-8")
    (tmp_path / "study.yaml").write_text(
        f"questionnaire: {ROOT / 'questionnaires' / 'ip_protection_satisfaction.yaml'}\n"
        f"units: {ROOT / 'surveykit' / 'demo' / 'shanghai' / 'units.csv'}\n"
        "years: {2026: {responses: r.csv}}\nzones: {register: zones.yaml}\n", encoding="utf-8")
    code = main(["report", "--study", str(tmp_path / "study.yaml"), "--year", "2026", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "zones.yaml" in err and "pudong" in err and "2024" in err and "[rule " in err
