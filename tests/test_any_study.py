"""Any evaluation, not only Shanghai's (issue 11): a second study unlike the demo in every respect, written by the
test -- a province with 13 units (districts, counties and a county-level city), a 1-10 answer scale with
don't-know code 99, a 4 -> 8 -> 16 indicator tree with its own ids and no outcome role, two respondent groups
(``firm`` 0.6, ``resident`` 0.4) in a column not called ``group``, units in a column not called ``district``, a
stratified single-stage design, two years -- rendered end to end with ``surveykit report --study``.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

import surveykit as sk
from surveykit.cli import main
from surveykit.demo import DEMO_UNITS
from surveykit.synth import generate_year
from surveykit.units import Unit, Words

UNITS = [("jiangcheng", "江城区", "Jiangcheng"), ("hedong", "河东区", "Hedong"), ("hexi", "河西区", "Hexi"),
         ("nanhu", "南湖区", "Nanhu"), ("beishan", "北山区", "Beishan"), ("donggang", "东港区", "Donggang"),
         ("xiling", "西岭区", "Xiling"), ("xincheng", "新城区", "Xincheng"), ("gaoxin", "高新区", "Gaoxin"),
         ("qingshan", "青山县", "Qingshan County"), ("baishui", "白水县", "Baishui County"),
         ("yunxi", "云溪县", "Yunxi County"), ("linjiang", "临江市", "Linjiang City")]
KIND = {"县": ("县", "county"), "市": ("市", "county-level city")}


def questionnaire_yaml() -> str:
    """4 first-level indicators, 2 second-level each, 2 items each (16 items), ids of its own."""
    lines = ['id: service-satisfaction', 'version: "2026.1"',
             'title: {zh: 营商服务满意度调查, en: Business Service Satisfaction Survey}',
             'scale:', '  min: 1', '  max: 10', '  missing: [99]', '  labels:',
             '    1: {zh: 极不满意, en: Not at all satisfied}', '    10: {zh: 非常满意, en: Completely satisfied}',
             '    99: {zh: 说不清, en: "Cannot say"}',
             'groups:', '  column: respondent_type', '  levels:',
             '    - {id: firm, label: {zh: 企业, en: Firms}, weight: 0.6}',
             '    - {id: resident, label: {zh: 居民, en: Residents}, weight: 0.4}',
             'bands:', '  - {min: 85, label: {zh: 优, en: Very good}}', '  - {min: 70, label: {zh: 中, en: Fair}}',
             '  - {min: 0, label: {zh: 差, en: Poor}}', 'indicators:']
    k = 0
    for a in "PQRS":
        lines += [f"  - id: {a}", f"    label: {{zh: 维度{a}, en: Dimension {a}}}", "    children:"]
        for b in (1, 2):
            lines += [f"      - id: {a}{b}", f"        label: {{zh: 方面{a}{b}, en: Aspect {a}{b}}}", "        items:"]
            for _ in (1, 2):
                k += 1
                groups = "\n            groups: [firm]" if k in (3, 11) else ""
                lines += [f"          - id: x{k:02d}", f"            text: {{zh: 题目{k}, en: Question {k}}}{groups}"]
    return "\n".join(lines) + "\n"


STUDY = """\
region: {zh: 江南省, en: Jiangnan Province, kind: {zh: 省, en: province}}
unit_kind: {zh: 区县, en: county-level unit}
units:
%(units)s
questionnaire: questionnaire.yaml
unit_column: area
design: {weights: weight, strata: area}
years:
  2025: {responses: r2025.csv}
  2026: {responses: r2026.csv}
results: store
min_n: 30
"""


def unit_objects() -> tuple[Unit, ...]:
    return tuple(Unit(i, zh, en, Words(*KIND[zh[-1]]) if zh[-1] in KIND else None) for i, zh, en in UNITS)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    base = tmp_path_factory.mktemp("province")
    (base / "questionnaire.yaml").write_text(questionnaire_yaml(), encoding="utf-8")
    q = sk.load_questionnaire(base / "questionnaire.yaml")
    for y in (2025, 2026):
        r = generate_year(q, y, seed=11, target_n=2600, units=unit_objects()).responses
        r = r.drop(columns=["ownership", "firm_size", "right_type", "profession", "comment"])
        r.rename(columns={"district": "area"}).to_csv(base / f"r{y}.csv", index=False, encoding="utf-8")
    units = "\n".join(f"  - {{id: {i}, zh: {zh}, en: {en}"
                      + (f", kind: {{zh: {KIND[zh[-1]][0]}, en: {KIND[zh[-1]][1]}}}" if zh[-1] in KIND else "") + "}"
                      for i, zh, en in UNITS)
    (base / "study.yaml").write_text(STUDY % {"units": units}, encoding="utf-8")
    out = base / "reports"
    code = main(["report", "--study", str(base / "study.yaml"), "--year", "2026", "--district", "all",
                 "--out", str(out), "--quiet", "--jobs", "2"])
    code_en = main(["report", "--study", str(base / "study.yaml"), "--year", "2026", "--district", "qingshan",
                    "--lang", "en", "--out", str(base / "en"), "--quiet", "--jobs", "1"])
    return {"base": base, "q": q, "out": out, "code": code, "code_en": code_en}


def pages(study) -> dict[str, str]:
    files = sorted((study["out"] / "2026").glob("*.html")) + [study["out"] / "index.html",
                                                              study["base"] / "en" / "2026" / "qingshan.html"]
    return {str(p.relative_to(study["base"])): p.read_text(encoding="utf-8") for p in files}


def test_every_unit_the_overview_and_the_index_are_rendered(study):
    assert study["code"] == 0 and study["code_en"] == 0
    names = sorted(p.stem for p in (study["out"] / "2026").glob("*.html"))
    assert names == sorted([u[0] for u in UNITS] + ["overview"])
    index = (study["out"] / "index.html").read_text(encoding="utf-8")
    for uid, zh, _ in UNITS:
        assert f'<a href="2026/{uid}.html">{zh}</a>' in index


def test_headline_index_equals_sk_score_on_the_same_data(study):
    """Each unit's headline is the index sk.score computes from the same file and design (independent path: no
    quality step, no results store, no notebook)."""
    q = study["q"]
    df = pd.read_csv(study["base"] / "r2026.csv")
    d = sk.Design(df, weights="weight", strata="area")
    s = sk.score(q, d, by="area")
    idx = s[(s.group == "all") & (s.node == "index")].set_index("area")
    assert len(idx) == 13
    for uid, zh, _ in UNITS:
        html = (study["out"] / "2026" / f"{uid}.html").read_text(encoding="utf-8")
        e = idx.loc[zh]
        assert f"{zh}2026年满意度指数为 <strong>{e.estimate:.2f}</strong> 分（95%置信区间 {e.ci_low:.2f}–{e.ci_high:.2f}）" \
            in html, uid


def test_no_shanghai_name_appears_anywhere(study):
    shanghai = ["上海", "Shanghai", "全市", "临港", "city"] + [u.zh for u in DEMO_UNITS] + \
        [u.en for u in DEMO_UNITS] + ["权利人", "专业人士", "社会公众", "holder"]
    for name, html in pages(study).items():
        text = re.sub(r"<style.*?</style>", "", html, flags=re.S)
        found = [w for w in shanghai if w in text]
        assert not found, (name, found)


def test_the_study_words_are_used(study):
    zh = (study["out"] / "2026" / "qingshan.html").read_text(encoding="utf-8")
    assert "在全省 13 个区县中" in zh and "与全省其他区县比较" in zh and "本县" in zh
    assert "问卷未指定代表总体满意度的指标" in zh          # no outcome role: the drivers section says why
    assert "问卷未提供建议文本" in zh                      # no recommendations file
    assert "同等保护" not in zh and "不分层" not in zh and "以区县为层（共 13 层）" in zh and "单阶段抽样" in zh
    assert "校准后权数" not in zh and "本县权数的变异系数" in zh   # no calibration; the county's own word
    en = (study["base"] / "en" / "2026" / "qingshan.html").read_text(encoding="utf-8")
    assert "Among the 13 county-level units of Jiangnan Province" in en and "The weights of this county" in en
    overview = (study["out"] / "2026" / "overview.html").read_text(encoding="utf-8")
    assert "2026年江南省营商服务满意度调查：全省概览" in overview


def test_the_allow_list_is_the_study_units(study, capsys):
    code = main(["report", "--study", str(study["base"] / "study.yaml"), "--year", "2026", "--district", "pudong",
                 "--out", str(study["base"] / "x")])
    err = capsys.readouterr().err
    assert code == 2 and "unknown county-level unit 'pudong'" in err and "jiangcheng" in err and err.count("\n") == 1


@pytest.mark.parametrize("units, message", [
    ("  - {id: a/b, zh: 甲区}", "unit id 'a/b' is not a safe file name"),
    ("  - {id: '..', zh: 甲区}", "unit id '..' is not a safe file name"),
    ("  - {id: a, zh: 甲区}\n  - {id: a, zh: 乙区}", "unit id 'a' is listed twice"),
    ("  - {id: overview, zh: 甲区}", "unit id 'overview' is reserved"),
])
def test_bad_unit_lists_are_refused(study, tmp_path, units, message, capsys):
    text = (study["base"] / "study.yaml").read_text(encoding="utf-8")
    head, rest = text.split("units:\n", 1)
    rest = rest[rest.index("questionnaire:"):]
    bad = tmp_path / "study.yaml"
    bad.write_text(f"{head}units:\n{units}\n{rest}".replace("questionnaire.yaml", str(study["base"] /
                                                                                   "questionnaire.yaml"))
                   .replace("r2025.csv", str(study["base"] / "r2025.csv"))
                   .replace("r2026.csv", str(study["base"] / "r2026.csv")), encoding="utf-8")
    code = main(["report", "--study", str(bad), "--year", "2026", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_a_unit_missing_from_the_list_is_refused(study, tmp_path, capsys):
    text = (study["base"] / "study.yaml").read_text(encoding="utf-8")
    text = re.sub(r"  - \{id: linjiang.*\n", "", text)
    for name in ("questionnaire.yaml", "r2025.csv", "r2026.csv"):
        text = text.replace(name, str(study["base"] / name))
    (tmp_path / "study.yaml").write_text(text, encoding="utf-8")
    code = main(["report", "--study", str(tmp_path / "study.yaml"), "--year", "2026", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "unit '临江市' is not one of the study's units" in err and "r2025.csv" in err, err
    assert err.count("\n") == 1


def test_a_typo_in_unit_column_names_the_study_key(study, tmp_path, capsys):
    """unit_column misspelt: the unit column is still found by its values (and read under the misspelt name), so the
    design's strata column goes missing; the one line names the study's key and says why."""
    text = (study["base"] / "study.yaml").read_text(encoding="utf-8").replace("unit_column: area", "unit_column: aera")
    for name in ("questionnaire.yaml", "r2025.csv", "r2026.csv"):
        text = text.replace(name, str(study["base"] / name))
    (tmp_path / "study.yaml").write_text(text, encoding="utf-8")
    code = main(["report", "--study", str(tmp_path / "study.yaml"), "--year", "2026", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "key 'design.strata'" in err and "the file's column 'area' is read as 'aera' (unit_column)" in err, err


def test_validate_reads_a_study_as_report_does(study, tmp_path, capsys):
    """`surveykit validate --study S --year Y` checks a year's responses with the study's own questionnaire, columns
    and unit list: the same rows as the report keeps; a unit missing from the list stops it as it stops the report."""
    code = main(["validate", "--study", str(study["base"] / "study.yaml"), "--year", "2026"])
    out = capsys.readouterr().out
    kept = pd.read_csv(study["base"] / "r2026.csv")
    assert code == 0 and re.search(rf"rows read\s+{len(kept):,}", out), out
    text = (study["base"] / "study.yaml").read_text(encoding="utf-8")
    text = re.sub(r"  - \{id: linjiang.*\n", "", text)
    for name in ("questionnaire.yaml", "r2025.csv", "r2026.csv"):
        text = text.replace(name, str(study["base"] / name))
    (tmp_path / "study.yaml").write_text(text, encoding="utf-8")
    code = main(["validate", "--study", str(tmp_path / "study.yaml"), "--year", "2026"])
    err = capsys.readouterr().err
    assert code == 2 and "unit '临江市' is not one of the study's units" in err and err.count("\n") == 1, err
    code = main(["validate", "--study", str(tmp_path / "study.yaml"), "--year", "2026", "--rules", "x.yaml"])
    err = capsys.readouterr().err
    assert code == 2 and "leave out --rules" in err, err
