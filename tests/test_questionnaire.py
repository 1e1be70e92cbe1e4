"""Questionnaire loader (contract 1): strict validation of broken files, and the shipped questionnaire.

Each negative test writes a broken variant of the small valid questionnaire ``MINI`` to ``tmp_path`` and
checks that :func:`load_questionnaire` raises :class:`SpecError` whose message names the file and the
offending key or id.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from surveykit.errors import SpecError
from surveykit.spec import load_questionnaire

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "questionnaires" / "ip_protection_satisfaction.yaml"

MINI = """\
id: mini
version: "1"
title: {zh: 小问卷, en: Mini}
scale: {min: 1, max: 5, missing: [6]}
groups:
  column: group
  levels:
    - {id: ga, label: {zh: 甲组}, weight: 0.5}
    - {id: gb, label: {zh: 乙组}, weight: 0.5}
indicators:
  - id: n1
    label: {zh: 一}
    weight: 1
    children:
      - id: n1.x
        label: {zh: 一甲}
        weight: 1
        items:
          - {id: i1, text: {zh: 题一}, weight: 1}
          - {id: i2, text: {zh: 题二}, groups: [ga]}
  - id: n2
    label: {zh: 二}
    items:
      - {id: i3, text: {zh: 题三}}
"""


def write(tmp_path: Path, text: str, name: str = "broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def variant(old: str, new: str) -> str:
    """MINI with the first occurrence of ``old`` replaced (fails loudly if ``old`` is not there)."""
    assert old in MINI, f"test bug: {old!r} not in MINI"
    return MINI.replace(old, new, 1)


def assert_load_error(tmp_path: Path, text: str, *fragments: str, name: str = "broken.yaml") -> SpecError:
    """Load ``text``; assert SpecError naming the file and every fragment. Returns the error."""
    path = write(tmp_path, text, name)
    with pytest.raises(SpecError) as info:
        load_questionnaire(path)
    msg = str(info.value)
    assert path.name in msg, msg
    assert info.value.file == str(path)
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"
    return info.value


# --- the fixture itself is valid ----------------------------------------------------------------------

def test_mini_is_valid(tmp_path):
    q = load_questionnaire(write(tmp_path, MINI, "mini.yaml"))
    assert [n.id for n in q.nodes] == ["n1", "n1.x", "n2"]
    assert [i.id for i in q.items] == ["i1", "i2", "i3"]
    assert q.group_weights == {"ga": 0.5, "gb": 0.5}


def test_accepts_str_path(tmp_path):
    q = load_questionnaire(str(write(tmp_path, MINI, "mini.yaml")))
    assert q.id == "mini"


# --- duplicate ids -------------------------------------------------------------------------------------

def test_duplicate_node_ids(tmp_path):
    assert_load_error(tmp_path, variant("id: n2\n", "id: n1\n"), "duplicate id", "'n1'")


def test_duplicate_nested_node_id(tmp_path):
    assert_load_error(tmp_path, variant("id: n1.x\n", "id: n2\n"), "duplicate id", "'n2'")


def test_duplicate_item_ids(tmp_path):
    assert_load_error(tmp_path, variant("{id: i3,", "{id: i1,"), "duplicate id", "'i1'")


def test_duplicate_item_ids_in_same_node(tmp_path):
    assert_load_error(tmp_path, variant("{id: i2,", "{id: i1,"), "duplicate id", "'i1'")


def test_two_indicators_of_one_level_with_one_label(tmp_path):
    """Tables and charts name indicators by label: two first-level indicators labelled alike are refused (the
    reports failed with 'cannot reindex on an axis with duplicate labels')."""
    assert_load_error(tmp_path, variant("label: {zh: 二}", "label: {zh: 一}"),
               "first-level indicators 'n1' and 'n2' have the same label '一'")


def test_one_label_at_different_levels_is_fine(tmp_path):
    load_questionnaire(write(tmp_path, variant("label: {zh: 一甲}", "label: {zh: 二}")))


def test_duplicate_node_and_item_id(tmp_path):
    assert_load_error(tmp_path, variant("{id: i3,", "{id: n1.x,"), "duplicate id", "'n1.x'")


def test_duplicate_group_ids(tmp_path):
    assert_load_error(tmp_path, variant("{id: gb,", "{id: ga,"), "duplicate group id", "ga")


def test_reserved_node_id_index(tmp_path):
    assert_load_error(tmp_path, variant("id: n2\n", "id: index\n"), "'index'")


def test_reserved_group_id_all(tmp_path):
    assert_load_error(tmp_path, variant("{id: gb,", "{id: all,"), "'all'")


# --- unknown keys -------------------------------------------------------------------------------------

def test_unknown_top_level_key(tmp_path):
    assert_load_error(tmp_path, MINI + "colour: blue\n", "unknown key", "'colour'")


def test_unknown_key_in_item(tmp_path):
    err = assert_load_error(tmp_path, variant("{id: i1, text: {zh: 题一}, weight: 1}",
                                       "{id: i1, text: {zh: 题一}, wieght: 1}"),
                     "unknown key", "wieght", "i1")
    assert err.key == "indicators[n1].children[n1.x].items[i1].wieght"


def test_unknown_key_in_node(tmp_path):
    assert_load_error(tmp_path, variant("    label: {zh: 二}\n", "    label: {zh: 二}\n    note: x\n"),
               "unknown key", "indicators[n2].note")


# --- weights ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("w", ["0", "-1", "-0.5"])
def test_non_positive_node_weight(tmp_path, w):
    err = assert_load_error(tmp_path, variant("    weight: 1\n    children:", f"    weight: {w}\n    children:"),
                     "indicators[n1].weight", "greater than 0")
    assert err.key == "indicators[n1].weight"


@pytest.mark.parametrize("w", ["0", "-2"])
def test_non_positive_nested_node_weight(tmp_path, w):
    assert_load_error(tmp_path, variant("        weight: 1\n", f"        weight: {w}\n"),
               "indicators[n1].children[n1.x].weight", "greater than 0")


@pytest.mark.parametrize("w", ["0", "-1"])
def test_non_positive_item_weight(tmp_path, w):
    assert_load_error(tmp_path, variant("题一}, weight: 1}", f"题一}}, weight: {w}}}"),
               "indicators[n1].children[n1.x].items[i1].weight", "greater than 0")


@pytest.mark.parametrize("w", ["0", "-0.3"])
def test_non_positive_group_weight(tmp_path, w):
    assert_load_error(tmp_path, variant("{zh: 乙组}, weight: 0.5}", f"{{zh: 乙组}}, weight: {w}}}"),
               "groups.levels[gb].weight", "greater than 0")


def test_group_weights_for_some_groups_only(tmp_path):
    assert_load_error(tmp_path, variant("{zh: 乙组}, weight: 0.5}", "{zh: 乙组}}"), "weight", "every group")


def test_no_group_weights_means_pooled(tmp_path):
    text = variant("{zh: 乙组}, weight: 0.5}", "{zh: 乙组}}").replace("{zh: 甲组}, weight: 0.5}", "{zh: 甲组}}")
    q = load_questionnaire(write(tmp_path, text, "pooled.yaml"))
    assert q.group_weights is None


# --- structure ----------------------------------------------------------------------------------------

def test_empty_node(tmp_path):
    text = variant("    items:\n      - {id: i3, text: {zh: 题三}}\n", "")
    assert_load_error(tmp_path, text, "'n2'", "neither children nor items")


def test_empty_nested_node(tmp_path):
    text = variant("        items:\n          - {id: i1, text: {zh: 题一}, weight: 1}\n"
                   "          - {id: i2, text: {zh: 题二}, groups: [ga]}\n", "")
    assert_load_error(tmp_path, text, "n1.x", "neither children nor items")


def test_no_indicators(tmp_path):
    text = MINI[: MINI.index("indicators:")] + "indicators: []\n"
    assert_load_error(tmp_path, text, "indicators")


def test_empty_item_group_list(tmp_path):
    assert_load_error(tmp_path, variant("groups: [ga]", "groups: []"), "indicators[n1].children[n1.x].items[i2].groups")


# --- scale --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lo,hi", [(5, 1), (3, 3)])
def test_inverted_scale(tmp_path, lo, hi):
    assert_load_error(tmp_path, variant("{min: 1, max: 5,", f"{{min: {lo}, max: {hi},"), "key 'scale'", "must be below max")


def test_missing_code_inside_scale(tmp_path):
    assert_load_error(tmp_path, variant("missing: [6]", "missing: [3, 6]"), "key 'scale'", "[3]")


def test_missing_code_inside_item_scale(tmp_path):
    text = variant("{id: i3, text: {zh: 题三}}", "{id: i3, text: {zh: 题三}, scale: {min: 0, max: 10, missing: [9]}}")
    assert_load_error(tmp_path, text, "indicators[n2].items[i3].scale", "[9]")


def test_label_for_code_off_scale(tmp_path):
    assert_load_error(tmp_path, variant("missing: [6]}", "missing: [6], labels: {7: {zh: 七}}}"), "key 'scale'", "[7]")


# --- groups named by items ------------------------------------------------------------------------------

def test_item_names_undeclared_group(tmp_path):
    assert_load_error(tmp_path, variant("groups: [ga]", "groups: [ga, gz]"), "'i2'", "'gz'", "not declared")


# --- the file itself ------------------------------------------------------------------------------------

def test_broken_yaml_syntax_names_line(tmp_path):
    # line 12 is "    label: {zh: 一}"; an unclosed flow mapping there is a syntax error
    lines = MINI.splitlines(keepends=True)
    assert lines[11] == "    label: {zh: 一}\n"
    lines[11] = "    label: {zh: 一\n"
    err = assert_load_error(tmp_path, "".join(lines), "invalid YAML", "line ")
    # the parser notices the problem on line 12 or on the next token (line 13)
    assert any(f"line {n}," in str(err) for n in (12, 13)), str(err)


def test_bad_indentation(tmp_path):
    assert_load_error(tmp_path, variant("  column: group\n", "  column: group\n bad: 1\n"), "invalid YAML", "line ")


def test_duplicate_yaml_key(tmp_path):
    err = assert_load_error(tmp_path, variant('version: "1"\n', 'version: "1"\nversion: "2"\n'),
                     "duplicate key 'version'", "first on line 2")
    assert "line 3" in str(err)


def test_duplicate_yaml_key_nested(tmp_path):
    assert_load_error(tmp_path, variant("{id: i3, text: {zh: 题三}}", "{id: i3, text: {zh: 题三, zh: 又}}"),
               "duplicate key 'zh'")


@pytest.mark.parametrize("text", ["", "   \n\n"])
def test_empty_file(tmp_path, text):
    assert_load_error(tmp_path, text, "empty", name="empty.yaml")


def test_comments_only_file(tmp_path):
    assert_load_error(tmp_path, "# nothing here\n", "mapping", name="comments.yaml")


def test_top_level_list(tmp_path):
    assert_load_error(tmp_path, "- id: x\n", "mapping", name="list.yaml")


def test_missing_file(tmp_path):
    path = tmp_path / "does_not_exist.yaml"
    with pytest.raises(SpecError) as info:
        load_questionnaire(path)
    assert "does_not_exist.yaml" in str(info.value)
    assert "not found" in str(info.value)


def test_missing_required_key(tmp_path):
    text = variant("title: {zh: 小问卷, en: Mini}\n", "")
    assert_load_error(tmp_path, text, "'title'", "required key is missing")


# --- reserved ids and non-finite weights ---------------------------------------------------------

def test_reserved_item_id_index(tmp_path):
    assert_load_error(tmp_path, variant("{id: i3,", "{id: index,"), "'index'")


def test_infinite_weight(tmp_path):
    assert_load_error(tmp_path, variant("题一}, weight: 1}", "题一}, weight: .inf}"), "items[i1].weight")


# --- the shipped questionnaire -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def q():
    return load_questionnaire(SHIPPED)


def test_shipped_counts(q):
    assert len(q.indicators) == 5
    assert len(q.nodes) - len(q.indicators) == 11
    assert len(q.items) == 31
    assert all(len(n.children) == 0 for top in q.indicators for n in top.children)  # three levels only


def test_shipped_header(q):
    assert q.id == "ip-protection-satisfaction"
    assert q.version == "2025.1"
    assert q.title.zh == "知识产权保护社会满意度调查"
    assert (q.scale.min, q.scale.max, q.scale.missing) == (1, 5, (6,))
    assert set(q.scale.labels) == {1, 2, 3, 4, 5, 6}
    assert q.scale.labels[6].zh == "不了解/不适用"
    assert q.groups.column == "group"
    assert q.group_ids == ("holder", "professional", "public")
    assert q.group_weights == {"holder": 0.4, "professional": 0.3, "public": 0.3}


def test_shipped_ids(q):
    ids = [n.id for n in q.nodes] + [i.id for i in q.items]
    assert len(ids) == len(set(ids))
    assert [n.id for n in q.indicators] == ["law", "enforcement", "mechanism", "awareness", "outcome"]
    assert [i.id for i in q.items] == [f"q{k:02d}" for k in range(1, 32)]
    for top in q.indicators:
        for child in top.children:
            assert child.id.startswith(top.id + ".")


def test_shipped_weights(q):
    assert [n.weight for n in q.indicators] == [0.2] * 5
    assert all(i.weight == 1 for i in q.items)
    assert not any(i.reverse for i in q.items)


def test_shipped_texts_bilingual(q):
    for n in q.nodes:
        assert n.label.zh and n.label.en
    for i in q.items:
        assert i.text.zh and i.text.en
        assert "满意" in i.text.zh and "satisfied" in i.text.en


def test_every_node_applies_to_some_group(q):
    for n in q.nodes:
        assert any(q.applies(n, g) for g in q.group_ids), n.id


def test_public_has_full_index(q):
    for top in q.indicators:
        assert q.applies(top, "public"), top.id
        assert any(q.applies(i, "public") for i in top.leaf_items()), top.id


def test_group_restrictions_are_few(q):
    restricted = [i for i in q.items if i.groups is not None]
    assert 1 <= len(restricted) <= 8
    for i in restricted:
        assert "public" not in i.groups


def test_shipped_applies(q):
    items = {i.id: i for i in q.items}
    nodes = {n.id: n for n in q.nodes}
    assert q.applies(items["q01"], "public")
    assert q.applies(items["q11"], "holder") and q.applies(items["q11"], "professional")
    assert not q.applies(items["q11"], "public")
    assert not q.applies(nodes["enforcement.judicial"], "public")
    assert q.applies(nodes["enforcement"], "public")
    assert q.item_groups(items["q30"]) == ("holder", "professional", "public")


def test_shipped_item_scale(q):
    for i in q.items:
        assert q.item_scale(i) is q.scale
    assert q.item_scale(q.items[0]).score(5) == 100.0
    assert q.item_scale(q.items[0]).score(1) == 0.0


def test_shipped_parent_and_level(q):
    parent = q.parent_of()
    level = q.level_of()
    assert parent["law"] == "index"
    assert parent["law.statutes"] == "law"
    assert parent["q01"] == "law.statutes"
    assert parent["q11"] == "enforcement.judicial"
    assert parent["q31"] == "outcome.overall"
    assert len(parent) == 5 + 11 + 31
    assert level["index"] == 0
    assert level["outcome"] == 1
    assert level["mechanism.services"] == 2
    assert level["q20"] == 3
    assert {level[i.id] for i in q.items} == {3}


def test_shipped_labels(q):
    assert q.label("index") == "知识产权保护社会满意度调查"
    assert q.label("law", "en") == "Law and policy"
    assert q.label("awareness") == "意识培养"
    assert q.group_label("public") == "社会公众"
    assert q.group_label("holder", "en") == "Rights holders"


# --- stricter checks added after review ---------------------------------------------------------------------

def test_boolean_weight_refused(tmp_path):
    assert_load_error(tmp_path, variant("题一}, weight: 1}", "题一}, weight: true}"), "items[i1].weight")


def test_unquoted_version_refused(tmp_path):
    assert_load_error(tmp_path, variant('version: "1"', "version: 2025.10"), "version", "quotes")


def test_item_listing_a_group_twice(tmp_path):
    assert_load_error(tmp_path, variant("{id: i3,", "{id: i3, groups: [ga, ga],"), "i3", "twice")


def test_item_id_equal_to_group_column(tmp_path):
    assert_load_error(tmp_path, variant("{id: i3,", "{id: group,"), "'group'", "group column")


def test_blank_id_refused(tmp_path):
    assert_load_error(tmp_path, variant("{id: i3,", "{id: ' ',"), "id")


def test_partial_group_weights_name_the_group(tmp_path):
    assert_load_error(tmp_path, variant("{id: gb, label: {zh: 乙组}, weight: 0.5}", "{id: gb, label: {zh: 乙组}}"), "gb")
