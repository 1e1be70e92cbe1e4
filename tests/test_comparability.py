"""Comparability of two years' questionnaires (issue 17): the rules of surveykit.analysis.comparability, table-driven.

Every case edits last year's questionnaire into this year's and states, by hand from the rules in the module
docstring, the reason of the rows that matter; rows not listed must be ``same``.
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from surveykit.analysis.comparability import (check_declaration, common_items_questionnaires, comparability,
                                              comparable_change)
from surveykit.errors import InputError
from surveykit.spec.questionnaire import Questionnaire
from surveykit.spec.study import GroupChanges, YearComparability


def item(i, groups=None, **kw):
    d = {"id": i, "text": {"zh": f"题{i}", "en": f"Question {i}"}, **kw}
    if groups:
        d["groups"] = groups
    return d


BASE = {
    "id": "t", "version": "1", "title": {"zh": "测试", "en": "Test"},
    "scale": {"min": 1, "max": 5, "missing": [9]},
    "groups": {"column": "who", "levels": [{"id": "firm", "label": {"zh": "企业"}, "weight": 0.6},
                                           {"id": "resident", "label": {"zh": "居民"}, "weight": 0.4}]},
    "indicators": [
        {"id": "A", "label": {"zh": "甲"}, "children": [
            {"id": "A1", "label": {"zh": "甲一"}, "items": [item("a1"), item("a2", ["firm"])]},
            {"id": "A2", "label": {"zh": "甲二"}, "items": [item("a3")]}]},
        {"id": "B", "label": {"zh": "乙"}, "items": [item("b1"), item("b2"), item("b4")]},
        {"id": "C", "label": {"zh": "丙"}, "items": [item("c1"), item("c2")]},
    ],
}


def q_of(d) -> Questionnaire:
    return Questionnaire.model_validate(d)


def find(d, eid):
    """The dict of element ``eid`` in a questionnaire dict."""
    stack = list(d["indicators"])
    while stack:
        n = stack.pop()
        if n["id"] == eid:
            return n
        stack += n.get("children", []) + n.get("items", [])
    raise KeyError(eid)


def parent(d, eid):
    stack = list(d["indicators"])
    while stack:
        n = stack.pop()
        for k in ("children", "items"):
            if any(c["id"] == eid for c in n.get(k, [])):
                return n, k
        stack += n.get("children", [])
    raise KeyError(eid)


def rename(d, old, new):
    find(d, old)["id"] = new


def add_b3(d):
    find(d, "B")["items"].append(item("b3"))


def drop_b4(d):
    n, k = parent(d, "b4")
    n[k] = [c for c in n[k] if c["id"] != "b4"]


def set_(eid, **kw):
    def f(d):
        find(d, eid).update(kw)
    return f


def group_weights(fw, rw):
    def f(d):
        d["groups"]["levels"][0]["weight"], d["groups"]["levels"][1]["weight"] = fw, rw
    return f


def pooled(d):
    for g in d["groups"]["levels"]:
        g.pop("weight", None)


def rename_group(d):
    d["groups"]["levels"][1]["id"] = "citizen"
    find(d, "a2")["groups"] = ["firm"]


def add_group(d):
    d["groups"]["levels"].append({"id": "expert", "label": {"zh": "专家"}, "weight": 0.2})


def drop_group(d):
    d["groups"]["levels"] = d["groups"]["levels"][:1]


def reword(eid):
    def f(d):
        find(d, eid)["text"] = {"zh": f"题{eid}（新措辞）", "en": f"Question {eid}, reworded"}
    return f


ALL_GROUPS = ("firm", "resident", "all")

# (case, edits of this year's questionnaire, declaration, {(group or ALL_GROUPS, node): reason}, dropped rows)
CASES = [
    ("identical", [], {}, {}, []),
    ("renamed item", [lambda d: rename(d, "a3", "a3x")], {"renamed": {"a3x": "a3"}},
     {(ALL_GROUPS, "a3x"): "renamed"}, []),
    ("renamed item, undeclared", [lambda d: rename(d, "a3", "a3x")], {},
     {(ALL_GROUPS, "a3x"): "new", (ALL_GROUPS, "A2"): "children_differ", (ALL_GROUPS, "A"): "children_differ",
      (ALL_GROUPS, "index"): "children_differ"}, [(g, "a3") for g in ALL_GROUPS]),
    ("renamed node", [lambda d: rename(d, "A1", "A1x")], {"renamed": {"A1x": "A1"}},
     {(ALL_GROUPS, "A1x"): "renamed"}, []),
    ("added item", [add_b3], {},
     {(ALL_GROUPS, "b3"): "new", (ALL_GROUPS, "B"): "children_differ", (ALL_GROUPS, "index"): "children_differ"},
     []),
    ("dropped item", [drop_b4], {},
     {(ALL_GROUPS, "B"): "children_differ", (ALL_GROUPS, "index"): "children_differ"},
     [(g, "b4") for g in ALL_GROUPS]),
    ("declared changed", [reword("b2")], {"changed": ["b2"]},
     {(ALL_GROUPS, "b2"): "changed", (ALL_GROUPS, "B"): "children_differ",
      (ALL_GROUPS, "index"): "children_differ"}, []),
    ("node weight", [set_("c1", weight=2)], {},
     {(ALL_GROUPS, "C"): "weights_differ", (ALL_GROUPS, "index"): "children_differ"}, []),
    ("weights scaled alike", [set_("c1", weight=3), set_("c2", weight=3)], {}, {}, []),
    ("first-level weight", [set_("B", weight=2)], {}, {(ALL_GROUPS, "index"): "weights_differ"}, []),
    ("scale changed, undeclared", [set_("c2", scale={"min": 1, "max": 10})], {},
     {(ALL_GROUPS, "c2"): "changed", (ALL_GROUPS, "C"): "children_differ",
      (ALL_GROUPS, "index"): "children_differ"}, []),
    ("direction flipped", [set_("c2", reverse=True)], {},
     {(ALL_GROUPS, "c2"): "changed", (ALL_GROUPS, "C"): "children_differ",
      (ALL_GROUPS, "index"): "children_differ"}, []),
    # group weights only enter "all" (rule 4); a2 applies to firms only: renormalised over one group, 1 = 1
    ("group weights", [group_weights(0.5, 0.5)], {},
     {(("all",), e): "weights_differ" for e in ["index", "A", "A1", "A2", "a1", "a3", "B", "b1", "b2", "b4", "C",
                                                "c1", "c2"]}, []),
    # a2 is now asked of residents too: new for them; their A1 has other children; "all" pools other groups
    ("item asked of more groups", [set_("a2", groups=None)], {},
     {(("resident",), "a2"): "new", (("resident", "all"), "A1"): "children_differ",
      (("resident", "all"), "A"): "children_differ", (("resident", "all"), "index"): "children_differ",
      (("all",), "a2"): "groups_differ"}, []),
    ("pooled groups", [pooled], {}, {(("all",), e): "weights_differ" for e in
                                     ["index", "A", "A1", "A2", "a1", "a2", "a3", "B", "b1", "b2", "b4", "C", "c1",
                                      "c2"]}, []),
    ("renamed group", [rename_group], {"groups": {"renamed": {"citizen": "resident"}}}, {}, []),
    ("new group", [add_group], {"groups": {"new": ["expert"]}},
     {(("expert",), e): "new" for e in ["index", "A", "A1", "A2", "a1", "a3", "B", "b1", "b2", "b4", "C", "c1",
                                        "c2"]}
     | {(("all",), e): "groups_differ" for e in ["index", "A", "A1", "A2", "a1", "a3", "B", "b1", "b2", "b4", "C",
                                                 "c1", "c2"]}, []),
]


@pytest.mark.parametrize("case, edits, decl, expected, dropped", CASES, ids=[c[0] for c in CASES])
def test_comparability_rules(case, edits, decl, expected, dropped):
    cur = copy.deepcopy(BASE)
    for e in edits:
        e(cur)
    prev_q, cur_q = q_of(BASE), q_of(cur)
    groups = (decl.get("groups") or {}).get("renamed")
    t = comparability(cur_q, prev_q, renamed=decl.get("renamed"), changed=decl.get("changed", ()), groups=groups)
    want = {}
    for (gs, node), reason in expected.items():
        for g in gs:
            want[(g, node)] = reason
    here = t[t.node.notna()]
    got = dict(zip(zip(here.group, here.node), here.reason))
    for key, reason in got.items():
        assert reason == want.get(key, "same" if key[1] not in decl.get("renamed", {}) else "renamed"), (key, reason)
    for key in want:
        assert key in got, key
    assert (here.comparable == here.reason.isin(["same", "renamed"])).all()
    # every score of this year has exactly one row: the elements that apply to each group, and all of them in "all"
    expected_rows = {(g, e) for g in cur_q.group_ids for e in ["index", *[n.id for n in cur_q.nodes],
                                                               *[i.id for i in cur_q.items]]
                     if e == "index" or cur_q.applies(next(x for x in (*cur_q.nodes, *cur_q.items) if x.id == e), g)}
    expected_rows |= {("all", e) for e in ["index", *[n.id for n in cur_q.nodes], *[i.id for i in cur_q.items]]}
    assert set(got) == expected_rows and len(here) == len(expected_rows)
    gone = t[t.node.isna()]
    assert sorted(zip(gone.group, gone.node_previous)) == sorted(dropped)
    assert (gone.reason == "dropped").all() and not gone.comparable.any()


@pytest.mark.parametrize("edits, expected", [
    ([], {}),
    # pooled "all": a2's mean now pools residents too; A1 and everything above it pools a changed child
    ([set_("a2", groups=None)], {"a2": "groups_differ", "A1": "children_differ", "A": "children_differ",
                                 "index": "children_differ"}),
    ([set_("c1", weight=2)], {"C": "weights_differ", "index": "children_differ"}),
])
def test_pooled_groups_in_both_years(edits, expected):
    prev, cur = copy.deepcopy(BASE), copy.deepcopy(BASE)
    pooled(prev)
    pooled(cur)
    for e in edits:
        e(cur)
    t = comparability(q_of(cur), q_of(prev))
    allg = t[t.group == "all"].set_index("node").reason
    assert allg.to_dict() == {e: expected.get(e, "same") for e in allg.index}


def test_renamed_rows_carry_last_years_ids():
    cur = copy.deepcopy(BASE)
    rename(cur, "a3", "a3x")
    rename_group(cur)
    t = comparability(q_of(cur), q_of(BASE), renamed={"a3x": "a3"}, groups={"citizen": "resident"})
    r = t[(t.group == "citizen") & (t.node == "a3x")].iloc[0]
    assert (r.group_previous, r.node_previous, r.kind, r.level, r.reason) == ("resident", "a3", "item", 3, "renamed")
    assert t[t.node == "index"].level.eq(0).all() and set(t[t.node == "A"].kind) == {"node"}


def test_dropped_group_rows():
    cur = copy.deepcopy(BASE)
    drop_group(cur)
    t = comparability(q_of(cur), q_of(BASE))
    gone = t[t.group.isna()]
    assert set(gone.group_previous) == {"resident"} and (gone.reason == "dropped").all()
    # every element residents were asked last year (a2 is for firms only)
    assert set(gone.node_previous) == {"index", "A", "A1", "A2", "a1", "a3", "B", "b1", "b2", "b4", "C", "c1", "c2"}
    # "all" now covers firms only: every element that residents answered applies to other groups than last year
    allg = t[t.group == "all"].set_index("node").reason
    assert allg["a2"] == "same" and allg["a1"] == "groups_differ" and allg["index"] == "groups_differ"


@pytest.mark.parametrize("edits, decl, warned", [
    ([reword("b1")], {}, {"b1"}),                                  # undeclared rewording: warned, still compared
    ([reword("b1")], {"reworded": ["b1"]}, set()),                 # declared the same question: no warning
    ([reword("b1")], {"changed": ["b1"]}, set()),                  # declared changed: not compared, no warning
    ([reword("a3"), lambda d: rename(d, "a3", "a3x")], {"renamed": {"a3x": "a3"}}, set()),   # renaming is a review
    ([], {}, set()),
])
def test_wording_warning(edits, decl, warned):
    cur = copy.deepcopy(BASE)
    for e in edits:
        e(cur)
    t = comparability(q_of(cur), q_of(BASE), renamed=decl.get("renamed"), changed=decl.get("changed", ()),
                      reworded=decl.get("reworded", ()))
    assert set(t.loc[t.warning, "node"]) == warned
    if warned:
        assert t.loc[t.warning, "comparable"].all()


# --- the declaration ---------------------------------------------------------------------------------------------
def _decl(**kw) -> YearComparability:
    if "groups" in kw:
        kw["groups"] = GroupChanges(**kw["groups"])
    return YearComparability(**kw)


@pytest.mark.parametrize("edits, decl, key, message", [
    ([], {"renamed": {"zz": "a3"}}, "comparability.2026.renamed.zz", "'zz' is not an item or indicator of the 2026"),
    ([lambda d: rename(d, "a3", "a3x")], {"renamed": {"a3x": "zz"}}, "comparability.2026.renamed.a3x",
     "'zz' is not an item or indicator of the 2025"),
    ([lambda d: rename(d, "a3", "a3x"), lambda d: rename(d, "c2", "c2x")], {"renamed": {"a3x": "a3", "c2x": "a3"}},
     "comparability.2026.renamed.c2x", "two ids renamed to one"),
    ([lambda d: rename(d, "a3", "a3x")], {"renamed": {"a3x": "a1"}}, "comparability.2026.renamed.a3x",
     "both stand for 'a1'"),
    ([lambda d: rename(d, "A2", "A2x")], {"renamed": {"A2x": "a3"}}, "comparability.2026.renamed.A2x",
     "'A2x' is an indicator but 'a3' is not"),
    ([], {"changed": ["zz"]}, "comparability.2026.changed", "'zz' is not an item or indicator of the 2026"),
    ([add_b3], {"changed": ["b3"]}, "comparability.2026.changed", "'b3' has no counterpart in the 2025"),
    ([], {"changed": ["b1"], "reworded": ["b1"]}, "comparability.2026.reworded", "both changed and reworded"),
    ([], {"reworded": ["B"]}, "comparability.2026.reworded", "'B' is not an item"),
    ([add_group], {}, "comparability.2026.groups.new", "the respondent groups differ between 2025 and 2026"),
    ([drop_group], {}, "comparability.2026.groups.dropped", "dropped in 2026: resident"),
    ([rename_group], {}, "comparability.2026.groups.new", "new in 2026: citizen"),
    ([rename_group], {"groups": {"renamed": {"citizen": "people"}}}, "comparability.2026.groups.renamed.citizen",
     "'people' is not a group of the 2025"),
    ([add_group], {"groups": {"renamed": {"expert": "resident"}}}, "comparability.2026.groups.renamed",
     "two groups of 2026 stand for 'resident'"),
])
def test_bad_declarations_are_refused(edits, decl, key, message):
    cur = copy.deepcopy(BASE)
    for e in edits:
        e(cur)
    with pytest.raises(InputError) as exc:
        check_declaration(q_of(cur), q_of(BASE), _decl(**decl) if decl else None, year=2026, previous_year=2025,
                          file="study.yaml")
    assert exc.value.key == key and message in exc.value.message, exc.value.one_line()
    assert "\n" not in exc.value.one_line()


@pytest.mark.parametrize("edits, decl", [
    ([], None),
    ([lambda d: rename(d, "a3", "a3x"), reword("b2")], {"renamed": {"a3x": "a3"}, "changed": ["b2"]}),
    ([rename_group], {"groups": {"renamed": {"citizen": "resident"}}}),
    ([drop_group], {"groups": {"dropped": ["resident"]}}),
    ([add_group], {"groups": {"new": ["expert"]}}),
])
def test_good_declarations_pass(edits, decl):
    cur = copy.deepcopy(BASE)
    for e in edits:
        e(cur)
    check_declaration(q_of(cur), q_of(BASE), _decl(**decl) if decl else None, year=2026, previous_year=2025)


# --- using the table -------------------------------------------------------------------------------------------
def test_comparable_change_keeps_and_renames_only_comparable_rows():
    cur = copy.deepcopy(BASE)
    rename(cur, "a3", "a3x")
    set_("c1", weight=2)(cur)
    t = comparability(q_of(cur), q_of(BASE), renamed={"a3x": "a3"})
    now = pd.DataFrame({"unit": "u", "group": "all", "node": ["a3x", "A2", "C", "c1"],
                        "estimate": [70.0, 70.0, 60.0, 50.0], "se": [3.0, 3.0, 1.0, 1.0]})
    before = pd.DataFrame({"unit": "u", "group": "all", "node": ["a3", "A2", "C", "c1"],
                           "estimate": [66.0, 66.0, 65.0, 51.0], "se": [4.0, 4.0, 1.0, 1.0]})
    ch = comparable_change(now, before, t).set_index("node")
    assert sorted(ch.index) == ["A2", "a3x", "c1"]                          # C: weights changed, left out
    assert ch.loc["a3x", "node_previous"] == "a3" and ch.loc["a3x", "change"] == 4.0
    assert ch.loc["a3x", "se"] == 5.0 and ch.loc["c1", "change"] == -1.0     # sqrt(3^2 + 4^2)


def test_common_items_trees():
    cur = copy.deepcopy(BASE)
    rename(cur, "a3", "a3x")
    add_b3(cur)
    drop_b4(cur)
    reword("b2")(cur)
    set_("c1", weight=2)(cur)
    set_("c2", scale={"min": 0, "max": 10, "missing": [99]})(cur)
    t = comparability(q_of(cur), q_of(BASE), renamed={"a3x": "a3"}, changed=["b2"])
    now, before, keep = common_items_questionnaires(q_of(cur), q_of(BASE), t)
    assert keep == ["a1", "a2", "a3x", "b1", "c1"]
    assert [i.id for i in now.items] == keep and [i.id for i in before.items] == ["a1", "a2", "a3", "b1", "c1"]
    assert [n.id for n in now.indicators] == ["A", "B", "C"] and [n.id for n in before.indicators] == ["~A", "~B",
                                                                                                      "~C"]
    # this year's weights on both sides; each side its own scale; groups as this year's, a2 for firms only
    assert before.items[-1].weight == 2 and now.group_weights == before.group_weights == {"firm": 0.6,
                                                                                          "resident": 0.4}
    assert before.items[1].groups == ("firm",) and now.item_scale(now.items[0]).max == 5


def test_the_report_phrases_exist_in_both_languages_with_the_same_placeholders():
    import string

    from surveykit.report.i18n import TEXT

    keys = [k for k in TEXT if k.startswith("cmp.") or k in ("col.index_common", "col.change_common",
                                                             "headline.change_common", "headline.change_none")]
    assert len(keys) == 21
    for k in keys:
        names = {lang: {f for _, f, _, _ in string.Formatter().parse(TEXT[k][lang]) if f} for lang in ("zh", "en")}
        assert names["zh"] == names["en"], k
