"""Mapping (issue 4, acceptance 2): columns to items by id, question text or a mapping YAML; labels to codes;
unit spellings to canonical names; `surveykit map`."""

import re

import numpy as np
import pandas as pd
import pytest
import yaml

from surveykit import load_questionnaire
from surveykit.cli import main
from surveykit.errors import SpecError
from surveykit.mapping import (AnswerCoder, GroupCoder, MappingSpec, Roles, id_key, load_aliases,
                               load_mapping, match_columns, question_keys, strip_numbering)
from surveykit.demo import UNITS
from surveykit.mapping import region_prefixes
from surveykit.resources import demo_file

DEMO_ALIASES = demo_file("shanghai/unit_aliases.yaml")   # the demo study's spellings of Shanghai's districts
PREFIXES = region_prefixes("上海市", "Shanghai")


def demo_aliases():
    return load_aliases(DEMO_ALIASES, PREFIXES)

from .conftest import FIXTURES, ROOT

Q = load_questionnaire(FIXTURES / "score" / "questionnaire.yaml")
QFULL = load_questionnaire(ROOT / "questionnaires" / "ip_protection_satisfaction.yaml")
TEXT = "知识产权法律法规的完备程度"  # q01 of the fixture


@pytest.mark.parametrize("header", [
    f"3. {TEXT}", f"3、{TEXT}", f"Q3、{TEXT}", f"q3.{TEXT}", f"第3题 {TEXT}", f"(3){TEXT}", f"（3）{TEXT}",
    f"【3】{TEXT}", f"3-1、{TEXT}", f"3){TEXT}", f"Q3. (1) {TEXT}", f"3、{TEXT}[单选题]", f"*3、{TEXT}",
    f"３．{TEXT}", "  3、 知识产权 法律法规的完备程度 ", f"3、{TEXT}？", f"5、请评价以下方面—{TEXT}",
    f"5、请评价以下方面:{TEXT}", f"5、请评价以下方面({TEXT})", "Q1", "q01", "Q01", " q01 ",
    "3. Completeness of IP laws and regulations", "COMPLETENESS OF IP LAWS AND REGULATIONS.",
])
def test_a_column_matches_its_item_despite_numbering_and_blanks(header):
    df = pd.DataFrame({"group": ["holder"], header: [5]})
    cmap = match_columns(Q, df)
    assert cmap.column_of("q01") == header, cmap


def test_numbering_and_keys():
    assert strip_numbering("Q12、您的身份[单选题]") == "您的身份"
    assert strip_numbering("2025年度调查") == "2025年度调查"  # a year is not a question number
    assert id_key("Q3") == id_key("q03") != id_key("q30")
    assert "执法力度" in question_keys("5、请评价—执法力度")


def test_merged_header_parts_and_sav_labels_match():
    df = pd.DataFrame({"评价 / " + TEXT: [1], "V2": [2], "group": ["holder"]})
    df.attrs["header_parts"] = {"评价 / " + TEXT: ("评价", TEXT)}
    df.attrs["column_labels"] = {"V2": "维权时遇到法律空白或障碍的程度"}
    cmap = match_columns(Q, df)
    assert cmap.column_of("q01") == "评价 / " + TEXT and cmap.match_of("q01").how == "question text"
    assert cmap.column_of("q02") == "V2" and cmap.match_of("q02").how == "variable label"


def test_ambiguous_columns_are_not_guessed():
    df = pd.DataFrame({f"3、{TEXT}": [1], f"4、{TEXT}": [2], "group": ["holder"]})
    cmap = match_columns(Q, df)
    assert "q01" in cmap.missing_items
    assert cmap.ambiguous["q01"] == (f"3、{TEXT}", f"4、{TEXT}")


def test_mapping_file_wins_and_null_leaves_a_column_alone(tmp_path):
    m = tmp_path / "m.yaml"
    m.write_text("columns:\n  X1: q01\n  '3、知识产权法律法规的完备程度': null\n  身份: group\nanswers: {比较满意: 4}\n",
                 encoding="utf-8")
    spec = load_mapping(m)
    df = pd.DataFrame({"X1": [5], f"3、{TEXT}": [4], "身份": ["权利人"]})
    cmap = match_columns(Q, df, spec=spec)
    assert cmap.column_of("q01") == "X1" and cmap.match_of("q01").how == "mapping file"
    assert cmap.ignored == (f"3、{TEXT}",)
    assert spec.answers == {"比较满意": 4}


@pytest.mark.parametrize("text, pattern", [
    ("columns: {a: q01, b: q01}\n", r"m.yaml, key 'columns': Value error|columns 'a' and 'b' are both mapped to 'q01'"),
    ("colums: {a: q01}\n", r"m.yaml, key 'colums': unknown key"),
    ("header_rows: 9\n", r"m.yaml, key 'header_rows'"),
])
def test_bad_mapping_files(tmp_path, text, pattern):
    m = tmp_path / "m.yaml"
    m.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=pattern):
        load_mapping(m)


def test_group_and_unit_columns_found_by_their_values():
    df = pd.DataFrame({"A": ["权利人", "社会公众", "Professionals", "权利人"], "B": ["浦东", "Xuhui", "黄浦区", "临港"],
                       "q01": [1, 2, 3, 4]})
    cmap = match_columns(Q, df, aliases=demo_aliases(), groups=GroupCoder(Q))
    assert cmap.column_of("group") == "A" and cmap.match_of("group").how == "values"
    assert cmap.column_of("district") == "B"


def test_suggestion_for_a_near_miss():
    df = pd.DataFrame({"group": ["holder"], "3、知识产权法律法规完备程度如何": [4]})
    cmap = match_columns(Q, df)
    col, ratio = cmap.suggestions["q01"]
    assert col == "3、知识产权法律法规完备程度如何" and ratio >= 0.6
    assert "q01" in cmap.missing_items  # a suggestion is never applied


# --- answers ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, status, code", [
    ("非常满意", "code", 5), ("满意", "code", 4), (" 一般 ", "code", 3), ("Very dissatisfied", "code", 1),
    ("5", "code", 5), ("５", "code", 5), ("5.0", "code", 5), (5, "code", 5), (4.0, "code", 4), ("5 非常满意", "code", 5),
    ("5.非常满意", "code", 5), ("非常满意(5分)", "code", 5), ("(1)非常不满意", "code", 1), ("3分", "code", 3),
    ("5 不满意", "ambiguous", None), ("很好", "text", None), ("", "blank", None), (None, "blank", None),
    (float("nan"), "blank", None), ("(跳过)", "blank", None), ("（跳过）", "blank", None), ("8", "code", 8),
    (True, "text", None),
])
def test_answer_labels_to_codes(value, status, code):
    coder = AnswerCoder(Q.scale, blank_values=["(跳过)"])
    c = coder.code(value)
    assert c.status == status
    if code is not None:
        assert c.code == code


def test_answer_label_parts_and_extra_labels():
    coder = AnswerCoder(QFULL.scale, {"比较满意": 4})
    assert coder.code("不了解/不适用").code == 6 and coder.code("不了解").code == 6 and coder.code("不适用").code == 6
    assert coder.code("比较满意").code == 4
    assert coder.code("2025-01-01").status == "text"
    import datetime as dt
    assert coder.code(dt.datetime(2025, 1, 1)).status == "date"


def test_group_labels():
    gc = GroupCoder(Q, {"企业": "holder"})
    assert [gc.lookup(v) for v in ["holder", "权利人", "Rights holders", "PUBLIC", "企业", "firms", None]] == \
        ["holder", "holder", "holder", "public", "holder", None, None]
    with pytest.raises(SpecError, match=r"key 'groups.企业': 'firm' is not a group"):
        GroupCoder(Q, {"企业": "firm"})


# --- units -----------------------------------------------------------------------------------------------------
SHORT = {"浦东新区": "浦东", "临港新片区": "临港"}


@pytest.mark.parametrize("unit", UNITS, ids=[u.slug for u in UNITS])
def test_every_unit_and_its_common_spellings(unit):
    a = demo_aliases()
    short = SHORT.get(unit.zh, unit.zh.removesuffix("区"))
    for spelling in (unit.zh, unit.en, unit.slug, short, unit.en.upper(), f"上海市{unit.zh}", f"Shanghai {unit.en}",
                     f" {short} ", unit.slug.capitalize()):
        assert a.lookup(spelling) == unit.zh, spelling
    assert load_aliases().lookup(unit.zh) is None   # no city is built in: spellings come from the study


@pytest.mark.parametrize("spelling, canon", [
    ("Pudong New Area", "浦东新区"), ("pudong", "浦东新区"), ("浦东区", "浦东新区"), ("Jing'an", "静安区"),
    ("JINGAN", "静安区"), ("jing an district", "静安区"), ("中国（上海）自由贸易试验区临港新片区", "临港新片区"),
    ("Lingang Special Area", "临港新片区"), ("临港新区", "临港新片区"), ("崇明县", "崇明区"), ("浦西", None),
    ("黄埔区", None), ("", None), (None, None),
])
def test_unit_aliases(spelling, canon):
    assert demo_aliases().lookup(spelling) == canon


def test_alias_file_errors_and_fallback(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("units:\n  浦东新区: [浦东]\n  黄浦区: [浦东]\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"a.yaml, key 'units.黄浦区': '浦东' is listed for both '浦东新区' and '黄浦区'"):
        load_aliases(p)
    p.write_text("units:\n  浦东新区: [Pudong New Area]\n", encoding="utf-8")
    b = load_aliases(p)
    assert b.lookup("Pudong New Area") == "浦东新区" and b.lookup("浦东") is None
    ext = b.with_extra({"浦东": "浦东新区"})
    assert ext.lookup("浦东") == "浦东新区"
    with pytest.raises(SpecError, match="'浦西新区' is not a known unit"):
        b.with_extra({"浦西": "浦西新区"})


def test_demo_alias_file_has_every_demo_unit():
    a = demo_aliases()
    assert set(a.canonical) == {u.zh for u in UNITS}


# --- `surveykit map` -------------------------------------------------------------------------------------------
def _wjx(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    items = Q.items
    ws.append(["序号", "1、您所在的区", "2、您的身份", "所用时间", "来自IP"] + [f"{k + 3}、{i.text.zh}"
                                                                     for k, i in enumerate(items[:-1])] + ["Q99"])
    ws.append([1, "浦东", "权利人", "300秒", "1.1.1.1"] + ["满意"] * 8 + [4])
    ws.append([2, "Pudong", "社会公众", "200秒", "1.1.1.2"] + ["一般", "很好"] + ["一般"] * 6 + [3])
    p = tmp_path / "wjx.xlsx"
    wb.save(p)
    return p


def test_map_command_shows_matches_values_and_what_is_missing(tmp_path, capsys):
    p = _wjx(tmp_path)
    code = main(["map", "--questionnaire", str(FIXTURES / "score" / "questionnaire.yaml"), "--responses", str(p),
                 "--aliases", str(DEMO_ALIASES)])
    out, err = capsys.readouterr()
    assert code == 1  # q09 unmatched
    assert "respondent_id <- '序号'  [name]" in out
    assert "district      <- '1、您所在的区'  [name]" in out
    assert f"q01           <- '3、{TEXT}'  [question text]" in out
    assert "answers (all items): 一般->3 (7), 满意->4 (8)" in out
    assert "group: 权利人->holder (1), 社会公众->public (1)" in out
    assert "district: 浦东->浦东新区 (1), Pudong->浦东新区 (1)" in out
    assert "NOT AN ANSWER CODE: '很好' (1)" in out
    assert re.search(r"NOT MATCHED \(required\):\n  q09 \(对本区知识产权保护的总体满意程度\)", out)
    assert "Other columns, kept as they are (2): '来自IP', 'Q99'" in out


def test_map_writes_a_mapping_file_that_completes_the_match(tmp_path, capsys):
    p = _wjx(tmp_path)
    out_yaml = tmp_path / "m.yaml"
    args = ["map", "--questionnaire", str(FIXTURES / "score" / "questionnaire.yaml"), "--responses", str(p)]
    assert main(args + ["--out", str(out_yaml)]) == 1
    text = out_yaml.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert data["columns"]["序号"] == "respondent_id" and data["columns"]["Q99"] is None
    # the user edits it: Q99 is q09
    out_yaml.write_text(text.replace('"Q99": null', '"Q99": "q09"'), encoding="utf-8")
    capsys.readouterr()
    assert main(args + ["--mapping", str(out_yaml)]) == 0
    out, _ = capsys.readouterr()
    assert "q09           <- 'Q99'  [mapping file]" in out and "Every item and the group column are matched." in out
    assert "`surveykit validate` would keep 1 of 2 rows (1 excluded, 0 flagged)." in out
    # --out refuses to overwrite without --force
    assert main(args + ["--out", str(out_yaml)]) == 2
    assert "the file exists; pass --force" in capsys.readouterr().err


def test_mapping_spec_defaults():
    assert MappingSpec() == load_mapping(None)
    assert Roles().unit == "district"
    assert np.isnan(AnswerCoder(Q.scale).code(None).code)
