"""Fresh results (issue 10, item 4): the store's key covers every input file (by content) and every setting that
changes a number (by value); changing any one of them recomputes the year, changing nothing recomputes nothing,
and ``surveykit report --recompute`` forces it."""

from __future__ import annotations

import pandas as pd
import pytest

import surveykit as sk
from surveykit import workflow
from surveykit.cli import main
from surveykit.demo.study import write_margins
from surveykit.resources import default_file
from surveykit.results import read_manifest
from surveykit.spec.study import load_study
from surveykit.synth import write_demo
from surveykit.units import Unit

from .conftest import FIXTURES

UNITS = (Unit("a", "甲区", "A"), Unit("b", "乙区", "B"), Unit("c", "丙区", "C"))
STUDY = """\
region: {zh: 某市, en: Some City}
units: units.csv
questionnaire: q.yaml
unit_column: district
design: {weights: weight, strata: district, psu: street}
years: {2026: {responses: r.csv, rake: m.csv}}
quality: {rules: rules.yaml, mapping: mapping.yaml, aliases: aliases.yaml}
results: store
min_n: 30
"""


@pytest.fixture
def study(tmp_path):
    q_text = (FIXTURES / "score" / "questionnaire.yaml").read_text(encoding="utf-8")
    (tmp_path / "q.yaml").write_text(q_text, encoding="utf-8")
    paths = write_demo(sk.load_questionnaire(tmp_path / "q.yaml"), tmp_path, years=(2026,), target_n=900,
                       units=UNITS)
    paths["responses_2026"].rename(tmp_path / "r.csv")
    write_margins(tmp_path / "population_2026.csv", tmp_path / "m.csv")
    (tmp_path / "units.csv").write_text("id,zh,en\na,甲区,A\nb,乙区,B\nc,丙区,C\n", encoding="utf-8")
    (tmp_path / "rules.yaml").write_text("rules:\n  speeder: {action: flag}\n", encoding="utf-8")
    (tmp_path / "mapping.yaml").write_text("columns: {}\n", encoding="utf-8")
    (tmp_path / "aliases.yaml").write_text("units:\n  甲区: [甲]\n", encoding="utf-8")
    (tmp_path / "study.yaml").write_text(STUDY, encoding="utf-8")
    return tmp_path


def computed(monkeypatch) -> list:
    calls = []
    real = workflow.compute_year

    def counting(study, year, **kw):
        calls.append(year)
        return real(study, year, **kw)
    monkeypatch.setattr(workflow, "compute_year", counting)
    return calls


def append(path, text):
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


CHANGES = {
    "responses": lambda d: edit(d / "r.csv", '"2026-000001"', '"2026-000001x"'),
    "questionnaire": lambda d: edit(d / "q.yaml", "weight: 0.6", "weight: 0.7"),
    "quality rules": lambda d: edit(d / "rules.yaml", "speeder: {action: flag}", "speeder: {action: exclude}"),
    "mapping": lambda d: append(d / "mapping.yaml", "answers: {很满意: 5}\n"),
    "aliases": lambda d: edit(d / "aliases.yaml", "[甲]", "[甲, 甲城]"),
    "units file": lambda d: edit(d / "units.csv", "a,甲区,A", "a,甲区,Alpha"),
    "min_n": lambda d: edit(d / "study.yaml", "min_n: 30", "min_n: 31"),
    "max_rse": lambda d: append(d / "study.yaml", "max_rse: 0.25\n"),
    "design": lambda d: edit(d / "study.yaml", "psu: street}", "psu: street, lonely_psu: adjust}"),
    "duration column": lambda d: edit(d / "study.yaml", "aliases: aliases.yaml}", "aliases: aliases.yaml, "
                                                                                  "duration_column: n_frame}"),
    "region": lambda d: edit(d / "study.yaml", "en: Some City}", "en: Another City}"),
    "comparisons": lambda d: append(d / "study.yaml", "comparisons:\n  - {id: own, group: holder, column: ownership, "
                                                      "a: {levels: [foreign], label: {zh: 外资}}, "
                                                      "b: {levels: [private], label: {zh: 民营}}}\n"),
}


def change_margins(d):
    m = pd.read_csv(d / "m.csv")
    for var in m.variable.unique():                # one more person in a unit and in a group: totals still agree
        m.loc[m.index[m.variable == var][0], "total"] += 1
    m.to_csv(d / "m.csv", index=False)


CHANGES["margins"] = change_margins   # a population total changed


@pytest.mark.parametrize("what", sorted(CHANGES))
def test_changing_an_input_or_setting_recomputes(study, monkeypatch, what):
    s = load_study(study / "study.yaml")
    workflow.ensure_results(s)
    key = read_manifest(s.results_dir, 2026)["key"]
    calls = computed(monkeypatch)
    workflow.ensure_results(load_study(study / "study.yaml"))
    assert calls == []                                     # nothing changed: nothing recomputed
    CHANGES[what](study)
    s2 = load_study(study / "study.yaml")
    workflow.ensure_results(s2)
    assert calls == [2026], what
    assert read_manifest(s2.results_dir, 2026)["key"] != key


def test_the_shipped_defaults_are_inputs_too(study):
    s = load_study(study / "study.yaml")
    assert workflow.year_inputs(s, 2026)["rules"] == study / "rules.yaml"
    (study / "study.yaml").write_text((study / "study.yaml").read_text(encoding="utf-8").replace(
        "rules: rules.yaml, ", ""), encoding="utf-8")
    assert workflow.year_inputs(load_study(study / "study.yaml"), 2026)["rules"] == default_file("quality_rules.yaml")


def test_changed_rules_change_the_numbers_not_only_the_key(study):
    """The issue's case (straight-liners there, speeders here): flagged, then excluded -- the store must show the
    new counts."""
    s = load_study(study / "study.yaml")
    workflow.ensure_results(s)
    before = read_manifest(s.results_dir, 2026)["inputs"]["responses"]
    CHANGES["quality rules"](study)
    workflow.ensure_results(load_study(study / "study.yaml"))
    after = read_manifest(s.results_dir, 2026)["inputs"]["responses"]
    assert before["rows_excluded"] == 0 and after["rows_excluded"] > 0
    assert after["rows"] == before["rows"] - after["rows_excluded"]


def test_recompute_flag_forces_a_recompute(study, monkeypatch, capsys):
    s = load_study(study / "study.yaml")
    workflow.ensure_results(s)
    calls = computed(monkeypatch)
    assert main(["report", "--study", str(study / "study.yaml"), "--year", "2026", "--district", "a",
                 "--out", str(study / "out"), "--quiet", "--jobs", "1", "--recompute"]) == 0
    assert calls == [2026]
