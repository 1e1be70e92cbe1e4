"""`surveykit instrument`: codebook, blank response template, XLSForm, and the round trip (issue 15, items 3-4).

Expected values come from the questionnaire read as plain YAML and from contract 2 re-derived with pandas
(tests/instrument_support.py), not from the code under test.
"""

from __future__ import annotations

import csv
import re
import socket
import subprocess
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from surveykit.cli import main
from surveykit.instrument import neutralise
from surveykit.quality import prepare
from surveykit.spec import load_questionnaire
from tests.conftest import demo_aliases_path
from tests.instrument_support import (SHIPPED, asked_of, expected_scores, group_ids, make_responses, raw,
                                      raw_items)

UNITS = ["黄浦区", "徐汇区", "浦东新区"]  # canonical names of the demo study's alias file
DEMO_ALIASES = demo_aliases_path()
ALL_FILES = {"questionnaire_zh.html", "questionnaire_en.html", "codebook.xlsx", "template.csv", "template.xlsx",
             "xlsform.xlsx"}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("instrument") / "out"
    assert main(["instrument", "--questionnaire", str(SHIPPED), "--out", str(out),
                 "--aliases", str(DEMO_ALIASES)]) == 0
    return out


def _sheet(path: Path, name: str) -> list[list]:
    ws = openpyxl.load_workbook(path)[name]
    return [list(r) for r in ws.iter_rows(values_only=True)]


def _columns(doc: dict) -> list[str]:
    return ["respondent_id", doc["groups"]["column"], "district"] + [i["id"] for i in raw_items(doc)]


# --- files ------------------------------------------------------------------------------------------------------
def test_writes_the_six_files(made):
    assert {p.name for p in made.iterdir()} == ALL_FILES


def test_neutralise_follows_owasp():
    for text in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "=HYPERLINK(\"http://x\")"]:
        assert neutralise(text) == "'" + text
    for value in ["q01", "满意", "", "a=b", " =x", 5, -3, 2.5, True, None]:
        assert neutralise(value) is value  # unchanged, numbers stay numbers


# --- codebook ---------------------------------------------------------------------------------------------------
def test_codebook_describes_every_column(made):
    doc = raw()
    rows = _sheet(made / "codebook.xlsx", "codebook")
    head, body = rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]
    assert head == ["column", "role", "question_zh", "question_en", "indicator_path", "indicator_zh",
                    "indicator_en", "scale_min", "scale_max", "codes_zh", "codes_en", "missing_codes", "groups",
                    "reverse", "weight"]
    assert [r["column"] for r in body] == _columns(doc)
    assert [r["role"] for r in body[:3]] == ["respondent_id", "group", "unit"]
    labels = doc["scale"]["labels"]
    codes_zh = "; ".join(f"{c}={labels[c]['zh']}" for c in [1, 2, 3, 4, 5, 6])
    codes_en = "; ".join(f"{c}={labels[c]['en']}" for c in [1, 2, 3, 4, 5, 6])
    for item, row in zip(raw_items(doc), body[3:]):
        assert row["question_zh"] == item["text"]["zh"] and row["question_en"] == item["text"]["en"]
        assert row["indicator_path"] == " > ".join(n["id"] for n in item["path"])
        assert row["indicator_zh"] == " > ".join(n["label"]["zh"] for n in item["path"])
        assert row["groups"] == " ".join(asked_of(doc, item))
        assert (row["scale_min"], row["scale_max"], row["missing_codes"]) == (1, 5, "6")
        assert (row["codes_zh"], row["codes_en"]) == (codes_zh, codes_en)
        assert row["reverse"] is bool(item.get("reverse", False))
        assert row["weight"] == item.get("weight", 1)
    group_row = body[1]
    assert group_row["codes_zh"] == "; ".join(f"{g['id']}={g['label']['zh']}" for g in doc["groups"]["levels"])


def test_codebook_numbers_are_numbers(made):
    ws = openpyxl.load_workbook(made / "codebook.xlsx")["codebook"]
    head = [c.value for c in ws[1]]
    for name in ("scale_min", "scale_max", "weight"):
        cell = ws.cell(row=5, column=head.index(name) + 1)  # q01
        assert cell.data_type == "n" and isinstance(cell.value, (int, float))
    codes = _sheet(made / "codebook.xlsx", "codes")
    q01 = [r for r in codes[1:] if r[0] == "q01"]
    assert [r[1] for r in q01] == [1, 2, 3, 4, 5, 6] and [r[4] for r in q01] == [False] * 5 + [True]


EVIL = """\
id: evil
version: "1"
title: {zh: "=HYPERLINK(\\"http://evil\\",\\"x\\")", en: "+1+1"}
intro: {zh: "@SUM(A1)", en: "-2+3"}
scale: {min: 1, max: 3, missing: [9], labels: {1: {zh: "=1+1"}, 3: {zh: "\\tTab"}, 9: {zh: "\\rCR", en: "-dk"}}}
groups:
  column: group
  levels:
    - {id: a, label: {zh: "=A", en: "@A"}}
    - {id: b, label: {zh: 乙}}
indicators:
  - id: n1
    label: {zh: "-n1", en: "+n1"}
    items:
      - {id: x1, text: {zh: "=cmd|' /C calc'!A0", en: "+x"}, groups: [a]}
      - {id: x2, text: {zh: 普通题目, en: plain}, weight: 2}
"""


@pytest.fixture(scope="module")
def evil(tmp_path_factory):
    d = tmp_path_factory.mktemp("evil")
    (d / "q.yaml").write_text(EVIL, encoding="utf-8")
    assert main(["instrument", "--questionnaire", str(d / "q.yaml"), "--out", str(d / "out"), "--no-units"]) == 0
    return d / "out"


def _formula_elements(path: Path) -> int:
    """Formula elements in the workbook's XML, read without openpyxl."""
    with zipfile.ZipFile(path) as z:
        return sum(len(re.findall(rb"<(?:\w+:)?f[\s>/]", z.read(n))) for n in z.namelist()
                   if n.startswith("xl/worksheets/"))


def test_no_text_becomes_a_formula(evil):
    for name in ("codebook.xlsx", "template.xlsx", "xlsform.xlsx"):
        assert _formula_elements(evil / name) == 0, name
    body = _sheet(evil / "codebook.xlsx", "codebook")
    x1 = next(r for r in body if r[0] == "x1")
    assert x1[2] == "'=cmd|' /C calc'!A0" and x1[3] == "'+x" and x1[5] == "'-n1" and x1[6] == "'+n1"
    # (a bare CR in a cell comes back as LF: XML parsers normalise line ends)
    assert x1[9] == "1==1+1; 2=2; 3=\tTab; 9=\nCR"  # starts with "1": left as it is
    codes = _sheet(evil / "codebook.xlsx", "codes")
    assert ["group", "a", "'=A", "'@A", False] in codes and ["x1", 9, "'\nCR", "'-dk", True] in codes
    about = dict((r[0], r[1]) for r in _sheet(evil / "codebook.xlsx", "about")[1:])
    assert about["title_zh"] == "'=HYPERLINK(\"http://evil\",\"x\")" and about["title_en"] == "'+1+1"


def test_the_xlsform_keeps_texts_exactly_as_text(evil):
    """Labels shown to respondents are not prefixed, and still stored as text, never as formulas."""
    ws = openpyxl.load_workbook(evil / "xlsform.xlsx")["survey"]
    head = [c.value for c in ws[1]]
    rows = {r[1].value: r for r in ws.iter_rows(min_row=2)}
    cell = rows["x1"][head.index("label::Chinese (zh)")]
    assert cell.value == "=cmd|' /C calc'!A0" and cell.data_type == "s"
    settings = _sheet(evil / "xlsform.xlsx", "settings")
    assert dict(zip(*settings))["form_title"] == "=HYPERLINK(\"http://evil\",\"x\")"


def test_formula_like_text_carries_excels_quote_prefix(evil):
    """Where the text is kept exactly (the XLSForm, the template's code lists), every cell that a spreadsheet would
    read as a formula is a string cell with Excel's quote prefix (the same value for pyxform; text in Excel)."""
    starts = ("=", "+", "-", "@", "\t", "\r", "\n")      # (a CR comes back as LF from the XML)
    for name in ("xlsform.xlsx", "template.xlsx"):
        wb = openpyxl.load_workbook(evil / name)
        risky = [c for ws in wb for row in ws.iter_rows() for c in row
                 if isinstance(c.value, str) and c.value.startswith(starts)]
        assert risky, name                                  # the evil questionnaire puts some in each file
        bare = [f"{c.parent.title}!{c.coordinate}" for c in risky if not (c.quotePrefix and c.data_type == "s")]
        assert bare == [], (name, bare[:5])


# --- template ---------------------------------------------------------------------------------------------------
def test_template_columns(made):
    doc = raw()
    with open(made / "template.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [_columns(doc)]
    assert (made / "template.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel shows Chinese
    assert _sheet(made / "template.xlsx", "responses") == [_columns(doc)]


def test_template_drop_down_lists(made):
    doc = raw()
    wb = openpyxl.load_workbook(made / "template.xlsx")
    codes = [list(r) for r in wb["codes"].iter_rows(values_only=True)]
    ws = wb["responses"]
    lists = {}
    for dv in ws.data_validations.dataValidation:
        m = re.fullmatch(r"codes!\$B\$(\d+):\$B\$(\d+)", dv.formula1)
        column = ws.cell(row=1, column=openpyxl.utils.column_index_from_string(str(dv.sqref).split(":")[0][:-1])).value
        lists[column] = [codes[k - 1][1] for k in range(int(m.group(1)), int(m.group(2)) + 1)]
    assert lists[doc["groups"]["column"]] == group_ids(doc)
    assert lists["district"] == list(raw(DEMO_ALIASES)["units"])
    for item in raw_items(doc):
        assert lists[item["id"]] == [1, 2, 3, 4, 5, 6]
    assert "respondent_id" not in lists


# --- XLSForm ----------------------------------------------------------------------------------------------------
XF = "{http://www.w3.org/2002/xforms}"


@pytest.fixture(scope="module")
def xform(made):
    """The XLSForm converted by pyxform, with the network and subprocesses (Java's ODK Validate) forbidden."""
    from pyxform.xls2xform import convert

    def refuse(*args, **kwargs):
        raise AssertionError("the conversion tried to reach the network or start a process")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(subprocess, "Popen", refuse)
        warnings: list[str] = []
        result = convert(str(made / "xlsform.xlsx"), warnings=warnings, validate=False)
    assert warnings == []
    return ET.fromstring(result.xform)


def _binds(root) -> dict[str, dict]:
    return {b.get("nodeset"): b.attrib for b in root.iter(f"{XF}bind")}


def _groups_in(expr: str | None) -> set[str] | None:
    """The groups an XPath relevant expression of the form  /data/group = 'a' or /data/group = 'b'  lets in."""
    if expr is None:
        return None
    parts = [re.fullmatch(r"\s*/data/group\s*=\s*'([^']*)'\s*", p) for p in expr.split(" or ")]
    assert all(parts), expr
    return {p.group(1) for p in parts}


def test_xlsform_converts_and_asks_the_group_first(xform):
    doc = raw()
    binds = _binds(xform)
    body = next(xform.iter("{http://www.w3.org/1999/xhtml}body"))
    questions = [el.get("ref") for el in body if binds[el.get("ref")].get("readonly") != "true()"]
    assert questions[:2] == ["/data/group", "/data/district"]
    assert questions[2:] == [f"/data/{i['id']}" for i in raw_items(doc)]
    assert binds["/data/respondent_id"]["calculate"] == "once(uuid())"
    data = next(xform.iter(f"{XF}instance"))[0]
    assert (data.get("id"), data.get("version")) == (doc["id"], doc["version"])


def test_xlsform_routing_is_relevant(xform):
    doc = raw()
    binds = _binds(xform)
    for item in raw_items(doc):
        expected = set(item["groups"]) if "groups" in item else None
        assert _groups_in(binds[f"/data/{item['id']}"].get("relevant")) == expected, item["id"]
        assert binds[f"/data/{item['id']}"]["required"] == "true()"
    assert sum("groups" in i for i in raw_items(doc)) == 7  # the restricted items of the shipped file


def _straight(text: str) -> str:
    return text.translate(str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}))


def test_xlsform_holds_the_texts_unchanged(made):
    doc = raw()
    survey = _sheet(made / "xlsform.xlsx", "survey")
    head, rows = survey[0], {r[1]: r for r in survey[1:]}
    assert any("\u201c" in i["text"]["zh"] for i in raw_items(doc))  # the shipped file has curly quotes
    for item in raw_items(doc):
        assert rows[item["id"]][head.index("label::Chinese (zh)")] == item["text"]["zh"]
        assert rows[item["id"]][head.index("label::English (en)")] == item["text"]["en"]
    assert rows["intro"][head.index("label::Chinese (zh)")] == doc["intro"]["zh"]


def test_xlsform_labels_and_choices_in_both_languages(xform):
    doc = raw()
    texts = {}
    for tr in xform.iter(f"{XF}translation"):
        texts[tr.get("lang")] = {t.get("id"): "".join(v.text or "" for v in t.iter(f"{XF}value"))
                                 for t in tr.iter(f"{XF}text")}
    assert set(texts) == {"Chinese (zh)", "English (en)"}
    for item in raw_items(doc):  # pyxform makes curly quotes straight (XLSForm/pyxform#85), “一网通办” too
        assert texts["Chinese (zh)"][f"/data/{item['id']}:label"] == _straight(item["text"]["zh"])
        assert texts["English (en)"][f"/data/{item['id']}:label"] == _straight(item["text"]["en"])
    scale = next(i for i in xform.iter(f"{XF}instance") if i.get("id") == "scale")
    values = [(el.findtext(f"{XF}name"), el.findtext(f"{XF}itextId")) for el in scale.iter(f"{XF}item")]
    assert [v for v, _ in values] == ["1", "2", "3", "4", "5", "6"]  # the don't-know code is a choice
    for (code, itext) in values:
        assert texts["Chinese (zh)"][itext] == doc["scale"]["labels"][int(code)]["zh"]
        assert texts["English (en)"][itext] == doc["scale"]["labels"][int(code)]["en"]
    groups = next(i for i in xform.iter(f"{XF}instance") if i.get("id") == "groups")
    assert [el.findtext(f"{XF}name") for el in groups.iter(f"{XF}item")] == group_ids(doc)


OVERRIDE = """\
id: mini
version: "1"
title: {zh: 小问卷}
scale: {min: 1, max: 5, missing: [6]}
groups: {column: who, levels: [{id: a, label: {zh: 甲}}, {id: b, label: {zh: 乙}}]}
indicators:
  - id: n
    label: {zh: 节点}
    items:
      - {id: x1, text: {zh: 题一}}
      - {id: x2, text: {zh: 题二}, scale: {min: 0, max: 10}}
      - {id: x3, text: {zh: 题三}, groups: [b]}
"""


def test_an_item_scale_of_its_own_gets_its_own_list(tmp_path):
    from pyxform.xls2xform import convert

    (tmp_path / "q.yaml").write_text(OVERRIDE, encoding="utf-8")
    assert main(["instrument", "--questionnaire", str(tmp_path / "q.yaml"), "--out", str(tmp_path / "o"),
                 "--no-units", "--unit-column", "area"]) == 0
    root = ET.fromstring(convert(str(tmp_path / "o" / "xlsform.xlsx"), validate=False).xform)
    binds = _binds(root)
    lists = {i.get("id"): [el.findtext(f"{XF}name") for el in i.iter(f"{XF}item")]
             for i in root.iter(f"{XF}instance") if i.get("id")}
    assert lists["scale"] == ["1", "2", "3", "4", "5", "6"] and lists["scale_2"] == [str(k) for k in range(11)]
    assert binds["/data/area"]["type"] == "string" and "units" not in lists  # unit asked as text
    assert "/data/intro" not in binds  # no intro in the questionnaire, no intro note
    assert "required" not in binds["/data/x2"]  # no don't-know code: the respondent may skip it
    assert binds["/data/x3"]["relevant"].split() == ["/data/who", "=", "'b'"]
    with open(tmp_path / "o" / "template.csv", encoding="utf-8-sig", newline="") as f:
        assert list(csv.reader(f)) == [["respondent_id", "who", "area", "x1", "x2", "x3"]]


# --- bad input --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, args, words", [
    (("id: x1,", "id: '=x1',"), [], "formula"),
    (("id: x1,", "id: 1x,"), [], "XLSForm"),
    ((), ["--unit-column", "x1"], "twice"),
    (("id: a,", "id: \"a'b\","), [], "quote"),
])
def test_bad_names_are_refused_in_one_line(tmp_path, capsys, change, args, words):
    text = OVERRIDE.replace(*change) if change else OVERRIDE
    (tmp_path / "q.yaml").write_text(text, encoding="utf-8")
    assert main(["instrument", "--questionnaire", str(tmp_path / "q.yaml"), "--out", str(tmp_path / "o"),
                 "--no-units", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("surveykit: error:") and words in err and "\n" not in err
    assert not (tmp_path / "o").exists()  # nothing written


def test_out_must_be_a_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["instrument", "--questionnaire", str(SHIPPED), "--out", str(tmp_path / "file")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "x"


# --- round trip (item 4) ----------------------------------------------------------------------------------------
def _validate_and_score(path: Path, capsys, tmp_path: Path) -> pd.DataFrame:
    capsys.readouterr()
    assert main(["validate", "--questionnaire", str(SHIPPED), "--responses", str(path),
                 "--aliases", str(DEMO_ALIASES)]) == 0   # the units offered by the instrument are recognised
    summary = capsys.readouterr().out
    assert re.search(r"rows excluded\s+0", summary) and re.search(r"rows flagged\s+0", summary), summary
    scores = tmp_path / f"{path.stem}_scores.csv"
    assert main(["score", "--questionnaire", str(SHIPPED), "--responses", str(path), "--out", str(scores)]) == 0
    return pd.read_csv(scores)


def _assert_scores(scores: pd.DataFrame, data: pd.DataFrame) -> None:
    expected = expected_scores(raw(), data)
    got = {(g, n): e for g, n, e in zip(scores.group, scores.node, scores.estimate)}
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key


def test_responses_in_the_template_layout_validate_and_score(made, tmp_path, capsys):
    doc = raw()
    with open(made / "template.csv", encoding="utf-8-sig", newline="") as f:
        columns = next(csv.reader(f))
    data = make_responses(doc, columns, UNITS, n=90, seed=15)
    path = tmp_path / "filled.csv"
    data.to_csv(path, index=False, encoding="utf-8-sig")
    _assert_scores(_validate_and_score(path, capsys, tmp_path), data)

    wb = openpyxl.load_workbook(made / "template.xlsx")  # the workbook, filled in as a data-entry clerk would
    for row in data.itertuples(index=False):
        wb["responses"].append([None if pd.isna(v) else v for v in row])
    wb.save(tmp_path / "filled.xlsx")
    _assert_scores(_validate_and_score(tmp_path / "filled.xlsx", capsys, tmp_path), data)


def test_answers_exported_under_the_xlsform_names_validate(made, tmp_path, capsys):
    """An export as ODK Central writes it: the form's field names (notes included, blank), codes as choice names,
    blanks where `relevant` skipped a question, and the platform's own columns."""
    doc = raw()
    survey = _sheet(made / "xlsform.xlsx", "survey")
    fields = [r[1] for r in survey[1:] if r[0] != "note"]
    data = make_responses(doc, ["respondent_id", doc["groups"]["column"], "district",
                                *[i["id"] for i in raw_items(doc)]], UNITS, n=60, seed=4)
    export = pd.DataFrame({"SubmissionDate": "2026-03-01T10:00:00.000Z"}, index=data.index)
    for r in survey[1:]:
        name = r[1]
        export[name] = "" if r[0] == "note" else data[name].map(lambda v: "" if pd.isna(v) else str(v))
    export["respondent_id"] = [f"uuid:{k:08x}" for k in range(len(data))]
    for c, v in {"meta-instanceID": "uuid:x", "KEY": "uuid:x", "SubmitterID": 5, "SubmitterName": "enumerator",
                 "ReviewState": "", "Edits": 0, "FormVersion": doc["version"]}.items():
        export[c] = v
    assert set(fields) <= set(export.columns)
    path = tmp_path / "odk_export.csv"
    export.to_csv(path, index=False)
    _assert_scores(_validate_and_score(path, capsys, tmp_path), data)


# --- with a study: its units' names in each language, its wording, its comparisons' columns ----------------------
STUDY_UNITS = [("qingshan", "青山县", "Qingshan County"), ("baishui", "白水县", ""), ("linjiang", "临江市", "Linjiang City")]
STUDY = """\
region: {zh: 江南省, en: Jiangnan Province}
%(kind)s
units: units.csv
questionnaire: q.yaml
unit_column: county
quality: {id_column: rid}
years: {2026: {responses: r2026.csv}}
comparisons:
  - id: size
    group: a
    column: size
    a: {levels: [micro, small], label: {zh: 小微企业, en: Small firms}}
    b: {levels: [large], label: {zh: 大型企业, en: Large firms}}
    title: {zh: 按企业规模, en: Firms by size}
"""


def _write_study(d: Path, kind: str = "unit_kind: {zh: 县, en: county}") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "q.yaml").write_text(OVERRIDE, encoding="utf-8")
    (d / "units.csv").write_text("id,zh,en\n" + "".join(f"{i},{zh},{en}\n" for i, zh, en in STUDY_UNITS),
                                 encoding="utf-8")
    (d / "study.yaml").write_text(STUDY % {"kind": kind}, encoding="utf-8")
    return d / "study.yaml"


@pytest.fixture(scope="module")
def with_study(tmp_path_factory):
    d = tmp_path_factory.mktemp("study_instrument")
    assert main(["instrument", "--study", str(_write_study(d)), "--out", str(d / "out")]) == 0
    return d / "out"


def test_study_units_are_offered_by_their_name_in_each_language(with_study):
    """The English questionnaire and the XLSForm's English labels name the units in English (the Chinese name where
    a unit has none), the Chinese ones in Chinese; the data code stays the Chinese name."""
    en_names = [en or zh for _, zh, en in STUDY_UNITS]
    zh_names = [zh for _, zh, _ in STUDY_UNITS]
    choices = _sheet(with_study / "xlsform.xlsx", "choices")
    units = [dict(zip(choices[0], r)) for r in choices[1:] if r[0] == "units"]
    assert [u["name"] for u in units] == zh_names
    assert [u["label::Chinese (zh)"] for u in units] == zh_names
    assert [u["label::English (en)"] for u in units] == en_names
    en = (with_study / "questionnaire_en.html").read_text(encoding="utf-8")
    zh = (with_study / "questionnaire_zh.html").read_text(encoding="utf-8")
    assert all(f"□ {name}" in en for name in en_names) and "□ 青山县" not in en and "□ 临江市" not in en
    assert all(f"□ {name}" in zh for name in zh_names) and "Qingshan County" not in zh
    codes = [r for r in _sheet(with_study / "codebook.xlsx", "codes")[1:] if r[0] == "county"]
    assert [(r[1], r[2], r[3]) for r in codes] == list(zip(zh_names, zh_names, en_names))


def test_study_unit_question_in_the_study_words(with_study, tmp_path):
    survey = _sheet(with_study / "xlsform.xlsx", "survey")
    county = next(r for r in survey if r[1] == "county")
    assert county[2:4] == ["您所在的县", "The county you are in"]
    book = {r[0]: r for r in _sheet(with_study / "codebook.xlsx", "codebook")}
    assert book["county"][2:4] == ["您所在的县", "The county you are in"]
    assert "您所在的县" in (with_study / "questionnaire_zh.html").read_text(encoding="utf-8")
    assert "The county you are in" in (with_study / "questionnaire_en.html").read_text(encoding="utf-8")
    # a study that does not name its units (default 单位 / unit), and no study: the generic wording
    generic = ["您所在的地区（评估单位）", "The area (unit evaluated) you are in"]
    assert main(["instrument", "--study", str(_write_study(tmp_path / "s", kind="")), "--out",
                 str(tmp_path / "o1")]) == 0
    assert main(["instrument", "--questionnaire", str(tmp_path / "s" / "q.yaml"), "--out", str(tmp_path / "o2")]) == 0
    for out, name in ((tmp_path / "o1", "county"), (tmp_path / "o2", "district")):
        assert next(r for r in _sheet(out / "xlsform.xlsx", "survey") if r[1] == name)[2:4] == generic


def test_study_comparison_columns_are_asked(with_study):
    """The comparison's column is in the template, the codebook and the XLSForm (choices both sides' levels,
    labelled by their side, relevant to the comparison's group only)."""
    with open(with_study / "template.csv", encoding="utf-8-sig", newline="") as f:
        assert list(csv.reader(f)) == [["rid", "who", "county", "size", "x1", "x2", "x3"]]
    assert _sheet(with_study / "template.xlsx", "responses") == [["rid", "who", "county", "size", "x1", "x2", "x3"]]
    book = {r[0]: dict(zip(_sheet(with_study / "codebook.xlsx", "codebook")[0], r))
            for r in _sheet(with_study / "codebook.xlsx", "codebook")[1:]}
    assert book["size"]["role"] == "subgroup" and book["size"]["groups"] == "a"
    assert (book["size"]["question_zh"], book["size"]["question_en"]) == ("按企业规模", "Firms by size")
    codes = [r for r in _sheet(with_study / "codebook.xlsx", "codes")[1:] if r[0] == "size"]
    assert [r[1] for r in codes] == ["micro", "small", "large"]
    assert [r[2] for r in codes] == ["小微企业（micro）", "小微企业（small）", "大型企业"]
    assert [r[3] for r in codes] == ["Small firms (micro)", "Small firms (small)", "Large firms"]

    from pyxform.xls2xform import convert
    root = ET.fromstring(convert(str(with_study / "xlsform.xlsx"), validate=False).xform)
    binds = _binds(root)
    assert binds["/data/size"]["relevant"].split() == ["/data/who", "=", "'a'"]
    assert "required" not in binds["/data/size"]   # a firm of another size may leave it blank
    lists = {i.get("id"): [el.findtext(f"{XF}name") for el in i.iter(f"{XF}item")]
             for i in root.iter(f"{XF}instance") if i.get("id")}
    assert lists["subgroup_size"] == ["micro", "small", "large"]
    body = next(root.iter("{http://www.w3.org/1999/xhtml}body"))
    assert [el.get("ref") for el in body][:3] == ["/data/who", "/data/county", "/data/size"]


def test_study_template_filled_in_validates(with_study, tmp_path, capsys):
    """The round trip with a study's instrument: responses in the template's layout (subgroup column included)
    validate with the study's unit and id columns, and score as contract 2 says."""
    doc = raw(with_study.parent / "q.yaml")
    with open(with_study / "template.csv", encoding="utf-8-sig", newline="") as f:
        columns = next(csv.reader(f))
    items = [c for c in columns if c not in ("rid", "who", "county", "size")]
    rng = np.random.default_rng(3)
    rows = []
    for k in range(60):
        g = "ab"[k % 2]
        row = {"rid": f"R{k:03d}", "who": g, "county": STUDY_UNITS[k % 3][1],
               "size": ["micro", "small", "large"][k % 3] if g == "a" else None}
        row.update({c: int(rng.integers(1, 6)) if c != "x2" else int(rng.integers(0, 11)) for c in items})
        row["x3"] = row["x3"] if g == "b" else None
        rows.append(row)
    data = pd.DataFrame(rows, columns=columns)
    path = tmp_path / "filled.csv"
    data.to_csv(path, index=False, encoding="utf-8-sig")
    capsys.readouterr()
    assert main(["validate", "--questionnaire", str(with_study.parent / "q.yaml"), "--responses", str(path),
                 "--unit-column", "county", "--id-column", "rid"]) == 0
    summary = capsys.readouterr().out
    assert re.search(r"rows excluded\s+0", summary) and re.search(r"rows flagged\s+0", summary), summary
    kept = prepare(load_questionnaire(with_study.parent / "q.yaml"), path, unit_column="county", id_column="rid").data
    assert kept["size"].fillna("").tolist() == data["size"].fillna("").tolist()   # it reaches the analysis
    assert kept[doc["groups"]["column"]].tolist() == data["who"].tolist()
