"""A questionnaire per year and honest year-on-year comparisons, end to end (issue 17).

Two years drawn from one synthetic population (one questionnaire holding every item of both years generates both
samples), written as the two years' files of a study:

* ``a3`` is renamed ``a3x`` in 2026 (declared ``renamed``): compared;
* ``b3`` is new in 2026 and ``b4`` dropped: not compared, and indicator B above them neither;
* ``b2`` is reworded (declared ``changed``): not compared;
* indicator C's weights change (c1 1 -> 2): C is not compared, its items are;
* ``c2`` gets an edited wording with no declaration: compared, with a warning;
* the index, above B and C, is not compared -- except as the explicitly labelled index on the common items.

The expected changes are computed here from the CSV files with plain pandas/numpy (contract 2: item means by
unit and group, roll-up, group weights) and the SEs with sk.score on each year separately -- not through the
store, year_change or the comparability code.
"""

from __future__ import annotations

import html as htmllib
import json
import re

import numpy as np
import pandas as pd
import pytest

import surveykit as sk
from surveykit.cli import main
from surveykit.report.city import CityReport
from surveykit.report.district import DistrictReport
from surveykit.report.render import render_reports
from surveykit.results import load_results
from surveykit.spec.study import load_study
from surveykit.synth import generate_year
from surveykit.units import Unit
from surveykit.workflow import ensure_results

from .conftest import ROOT

UNITS = (Unit("north", "北区", "North"), Unit("south", "南区", "South"), Unit("east", "东区", "East"),
         Unit("west", "西区", "West"))
GROUPS = {"firm": 0.6, "resident": 0.4}
BAD_TEXT = "Question b4 <img src=x onerror=alert(1)> [x](javascript:alert(1))"


def text(i, zh=None, en=None):
    return {"zh": zh or f"题目{i}", "en": en or f"Question {i}"}


def questionnaire(year: int | None) -> dict:
    """The questionnaire of ``year`` (None: every item of both years, to draw the data)."""
    a3 = "a3x" if year == 2026 else "a3"
    b = [{"id": "b1", "text": text("b1")},
         {"id": "b2", "text": text("b2", "您对办事效率（含网上办理）是否满意" if year == 2026 else None)}]
    if year != 2026:   # its English text is markup: data, never markup in a report
        b.append({"id": "b4", "text": text("b4", en=BAD_TEXT)})
    if year != 2025:
        b.append({"id": "b3", "text": text("b3")})
    c2 = text("c2", "题目c2（修订）") if year == 2026 else text("c2")
    return {
        "id": "cmp-test", "version": str(year or 0), "title": {"zh": "营商环境满意度", "en": "Business survey"},
        "scale": {"min": 1, "max": 5, "missing": [9]},
        "groups": {"column": "who", "levels": [{"id": g, "label": {"zh": g, "en": g}, "weight": w}
                                               for g, w in GROUPS.items()]},
        "indicators": [
            {"id": "A", "label": {"zh": "政务服务", "en": "Services"}, "children": [
                {"id": "A1", "label": {"zh": "服务态度", "en": "Attitude"},
                 "items": [{"id": "a1", "text": text("a1")}, {"id": "a2", "text": text("a2"), "groups": ["firm"]}]},
                {"id": "A2", "label": {"zh": "服务效率", "en": "Speed"}, "items": [{"id": a3, "text": text("a3")}]}]},
            {"id": "B", "label": {"zh": "办事便利", "en": "Convenience"}, "items": b},
            {"id": "C", "label": {"zh": "公平公正", "en": "Fairness"},
             "items": [{"id": "c1", "text": text("c1"), "weight": 2 if year == 2026 else 1},
                       {"id": "c2", "text": c2}]},
        ],
    }


STUDY = """\
region: {zh: 测试市, en: Testcity, kind: {zh: 市, en: city}}
unit_kind: {zh: 区, en: district}
units:
%(units)s
questionnaire: q2025.yaml
unit_column: district
design: {weights: weight, strata: district}
years:
  2025: {responses: r2025.csv}
  2026: {responses: r2026.csv, questionnaire: q2026.yaml}
comparability:
  2026:
    renamed: {a3x: a3}
    changed: [b2]
%(extra)sresults: %(results)s
min_n: 20
"""


def write_study(base, name, results, extra="", **replace):
    units = "\n".join(f"  - {{id: {u.id}, zh: {u.zh}, en: {u.en}}}" for u in UNITS)
    body = STUDY % {"units": units, "results": results, "extra": extra}
    for a, b in replace.items():
        body = body.replace(a, b)
    (base / name).write_text(body, encoding="utf-8")
    return base / name


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    import yaml

    base = tmp_path_factory.mktemp("cmp")
    full = sk.spec.Questionnaire.model_validate(questionnaire(None))
    for y in (2025, 2026):
        (base / f"q{y}.yaml").write_text(yaml.safe_dump(questionnaire(y), allow_unicode=True), encoding="utf-8")
        r = generate_year(full, y, seed=17, target_n=3000, units=UNITS).responses
        r = r.drop(columns=["ownership", "firm_size", "right_type", "profession", "comment"])
        r = r.drop(columns=["b3"] if y == 2025 else ["b4"]).rename(columns={"a3": "a3x"} if y == 2026 else {})
        r.to_csv(base / f"r{y}.csv", index=False, encoding="utf-8")
    path = write_study(base, "study.yaml", "store")
    common = write_study(base, "study_common.yaml", "store_common", extra="  index_on_common_items: true\n")
    studies = {"study": load_study(path), "common": load_study(common)}
    for s in studies.values():
        ensure_results(s)
    out = base / "reports"
    runs = [render(studies["study"], "all", "zh", out), render(studies["study"], "north", "en", base / "en"),
            render(studies["common"], "north", "zh", base / "common")]
    return {"base": base, **studies, "out": out, "runs": runs}


def render(study, district, lang, out):
    """The reports of 2026 from this checkout's notebooks (the ones the package ships)."""
    return render_reports(study, year=2026, districts=district, lang=lang, out=out, jobs=2,
                          notebook=ROOT / "notebooks" / "district_report.ipynb",
                          city_notebook=ROOT / "notebooks" / "city_report.ipynb")


# --- the independent computation (contract 2, plain pandas/numpy) ------------------------------------------------
TREE_2026 = {"index": {"A": 1, "B": 1, "C": 1}, "A": {"A1": 1, "A2": 1}, "A1": {"a1": 1, "a2": 1}, "A2": {"a3x": 1},
             "B": {"b1": 1, "b2": 1, "b3": 1}, "C": {"c1": 2, "c2": 1}}
FIRM_ONLY = {"a2"}


def item_means(path) -> pd.DataFrame:
    """Weighted mean item score (0-100) by unit and group: sum w y / sum w over respondents who answered."""
    df = pd.read_csv(path)
    items = [c for c in df.columns if re.fullmatch(r"[abc]\d+x?", c)]
    rows = []
    for (unit, g), d in df.groupby(["district", "who"]):
        for i in items:
            x = d[i].to_numpy(float)
            ok = ~np.isnan(x) & (x != 9)
            if i in FIRM_ONLY and g != "firm":
                continue
            w = d["weight"].to_numpy(float)[ok]
            rows.append((unit, g, i, float(np.sum(w * 25.0 * (x[ok] - 1)) / np.sum(w))))
    return pd.DataFrame(rows, columns=["unit", "group", "item", "mean"])


def rollup(means: dict[str, float], tree: dict, node: str) -> float | None:
    """Rule 3: a node is the weighted mean of its children that apply (have a mean), weights renormalised."""
    if node not in tree:
        return means.get(node)
    parts = [(w, rollup(means, tree, c)) for c, w in tree[node].items()]
    parts = [(w, v) for w, v in parts if v is not None]
    return sum(w * v for w, v in parts) / sum(w for w, _ in parts) if parts else None


def scores_all(means: pd.DataFrame, tree: dict, node: str, rename=None) -> dict[str, float]:
    """Rule 4: the all-groups score of ``node`` per unit (group weights renormalised over the groups it applies
    to); ``rename`` maps last year's item ids to this year's."""
    out = {}
    for unit, m in means.groupby("unit"):
        per = {}
        for g, mg in m.groupby("group"):
            d = dict(zip(mg["item"].map(lambda i: (rename or {}).get(i, i)), mg["mean"]))
            v = rollup(d, tree, node)
            if v is not None:
                per[g] = v
        out[unit] = sum(GROUPS[g] * v for g, v in per.items()) / sum(GROUPS[g] for g in per)
    return out


def page(path) -> str:
    """A rendered page's text: tags removed, character references (escaped user text) decoded."""
    return htmllib.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


# --- the tests ---------------------------------------------------------------------------------------------------
def test_reports_are_rendered(study):
    for run in study["runs"]:
        assert run.ok, run.text()
    assert len(study["runs"][0].outcomes) == 5


def test_each_year_is_scored_with_its_own_questionnaire(study):
    res = study["study"].results_dir
    for y in (2025, 2026):
        m = load_results(res, y).manifest
        assert m["inputs"]["questionnaire"]["path"] == str(study["base"] / f"q{y}.yaml")
        nodes = set(load_results(res, y).scores_unit.node)
        assert ({"a3x", "b3"} <= nodes) == (y == 2026) and ({"a3", "b4"} <= nodes) == (y == 2025)
    assert load_results(res, 2025).comparability is None


def test_the_change_table_compares_exactly_the_comparable_elements(study):
    ch = load_results(study["study"].results_dir, 2026).year_change
    allg = ch[ch.group == "all"]
    assert set(allg.node) == {"A", "A1", "A2", "a1", "a2", "a3x", "b1", "c1", "c2"}
    for uid in ("north", "west"):
        r = DistrictReport(study["study"].results_dir, 2026, uid, "zh")
        # levels 1-2: A, A1, A2 and the items directly under B and C that are comparable
        assert list(r.change_table()["指标"]) == ["政务服务", "服务态度", "服务效率", "题目b1", "题目c1", "题目c2（修订）"]
    assert set(ch.loc[ch.node == "a3x", "node_previous"]) == {"a3"}


@pytest.mark.parametrize("node", ["A", "A1", "A2", "a1", "a2", "a3x", "b1", "c1", "c2"])
def test_changes_equal_an_independent_computation(study, node):
    base = study["base"]
    now, before = item_means(base / "r2026.csv"), item_means(base / "r2025.csv")
    e_now = scores_all(now, TREE_2026, node)
    e_before = scores_all(before, TREE_2026, node, rename={"a3": "a3x"})
    ch = load_results(study["study"].results_dir, 2026).year_change
    ch = ch[(ch.group == "all") & (ch.node == node) & (ch.unit != "all")].set_index("unit")
    # SEs: sk.score on each year on its own (independent samples: var of the change = sum of the variances)
    se = {}
    for y, qname, item in ((2026, "q2026.yaml", node), (2025, "q2025.yaml", "a3" if node == "a3x" else node)):
        q = sk.load_questionnaire(base / qname)
        s = sk.score(q, sk.Design(pd.read_csv(base / f"r{y}.csv"), weights="weight", strata="district"),
                     by="district")
        se[y] = s[(s.group == "all") & (s.node == item)].set_index("district")["se"]
    assert len(ch) == 4
    for u in UNITS:
        r = ch.loc[u.id]
        assert r.estimate == pytest.approx(e_now[u.zh], abs=1e-9)
        assert r.estimate_previous == pytest.approx(e_before[u.zh], abs=1e-9)
        assert r.change == pytest.approx(e_now[u.zh] - e_before[u.zh], abs=1e-9)
        assert r.se == pytest.approx(np.hypot(se[2026][u.zh], se[2025][u.zh]), rel=1e-9)


def test_the_store_says_why_the_others_are_not_compared(study):
    res = load_results(study["study"].results_dir, 2026)
    t = res.comparability
    allg = t[t.group == "all"]
    why = dict(zip(allg.node.fillna(allg.node_previous), allg.reason))
    assert {k: v for k, v in why.items() if v not in ("same", "renamed")} == {
        "index": "children_differ", "B": "children_differ", "C": "weights_differ", "b2": "changed", "b3": "new",
        "b4": "dropped"}
    assert why["a3x"] == "renamed"
    notes = [n for n in res.manifest["notes"] if n.startswith("comparability")]
    assert len(notes) == 1 and "'c2'" in notes[0] and "题目c2（修订）" in notes[0] and "'题目c2'" in notes[0]


def test_the_report_note_lists_the_others(study):
    text = page(study["out"] / "2026" / "north.html")
    assert "本年问卷与2025年不完全相同" in text
    assert "未与上年比较的指标：“满意度指数”（下属指标或题目有变化）、“办事便利”（下属指标或题目有变化）、“公平公正”（权重有变化）" in text
    assert "有变化的题目：“您对办事效率（含网上办理）是否满意”（措辞或量表有变化）" in text
    assert "“题目b3”（本年新增）" in text and "“题目b4”（本年不再调查）" in text
    assert "更名后仍与上年比较的题目：“题目a3”（原编号 a3）" in text
    assert "“题目c2（修订）”（上年：“题目c2”）" in text
    assert "满意度指数的构成与上年不同，不报告其较上年变化" in text
    assert "本年问卷的指数构成与上年不同，不与上年比较" in text                 # the headline says so too
    en = page(study["base"] / "en" / "2026" / "north.html")
    assert "Indicators not compared with last year: “Satisfaction index” (its questions changed), " \
           "“Convenience” (its questions changed), “Fairness” (weights changed)" in en
    assert "compared as the same question: “题目c2（修订）” (last year: “题目c2”)" in en   # only Chinese differs
    assert "“Question b3” (new this year)" in en and f"“{BAD_TEXT}” (no longer asked)" in en
    raw = (study["base"] / "en" / "2026" / "north.html").read_text(encoding="utf-8")
    assert "<img src=x" not in raw and "&lt;img src=x onerror" in raw and 'href="javascript' not in raw
    note = DistrictReport(study["study"].results_dir, 2026, "north", "en").comparability_note()
    assert "&#60;img src=x onerror=alert&#40;1&#41;&#62; &#91;x&#93;&#40;javascript&#58;alert" in note


def test_the_overview_trend_has_no_change_for_an_index_not_comparable(study):
    c = CityReport(study["study"].results_dir, 2026, "zh")
    tt = c.trend_table()
    assert list(tt.columns) == ["区", "2025年", "2026年"]
    data = c.trend_chart_data()
    assert data.groupby("unit").segment.nunique().eq(2).all()           # each unit's line broken at 2026
    html = page(study["out"] / "2026" / "overview.html")
    assert "两年之间的折线断开" in html and "未与上年比较的指标：“满意度指数”" in html


def test_index_on_common_items_is_labelled_and_equals_an_independent_computation(study):
    base, res = study["base"], study["common"].results_dir
    common = load_results(res, 2026).index_common
    tree = {k: dict(v) for k, v in TREE_2026.items()}
    tree["B"] = {"b1": 1}                                               # b2 changed, b3 new: left out
    now, before = item_means(base / "r2026.csv"), item_means(base / "r2025.csv")
    before = before[before.item != "b2"]
    e_now = scores_all(now[~now.item.isin(["b2", "b3"])], tree, "index")
    e_before = scores_all(before, tree, "index", rename={"a3": "a3x"})
    c = common[(common.group == "all") & (common.unit != "all")].set_index("unit")
    assert (c.n_items == 6).all() and (c.n_items_current == 8).all()   # a1 a2 a3x b1 c1 c2 of 8
    for u in UNITS:
        assert c.loc[u.id, "estimate"] == pytest.approx(e_now[u.zh], abs=1e-9)
        assert c.loc[u.id, "estimate_previous"] == pytest.approx(e_before[u.zh], abs=1e-9)
    r = DistrictReport(res, 2026, "north", "zh")
    tab = r.change_table()
    assert list(tab["指标"]) == ["满意度指数（按共有题目重算）", "政务服务", "服务态度", "服务效率", "题目b1", "题目c1",
                               "题目c2（修订）"]
    html = page(base / "common" / "2026" / "north.html")
    assert "按两年共有的 6 道可比题目重算，指数较上年" in html
    assert "仅用两年共有的 6 道可比题目（本年共 8 道）对两年分别重算的指数" in html
    # the regular study has no such table, and its store does not keep one from an earlier run
    assert load_results(study["study"].results_dir, 2026).index_common is None


def test_workbook_has_the_comparability_sheet(study):
    book = pd.read_excel(study["out"] / "2026" / "surveykit_tables_2026.xlsx", sheet_name=None)
    assert "comparability" in book and set(book["comparability"].reason) >= {"same", "renamed", "new", "dropped",
                                                                              "changed", "weights_differ"}
    assert set(book["year_change"].node) == set(load_results(study["study"].results_dir, 2026).year_change.node)


def test_the_store_key_covers_the_years_questionnaire_and_the_declaration(study, tmp_path):
    from surveykit.workflow import year_key

    s = study["study"]
    k2025, k2026 = year_key(s, 2025), year_key(s, 2026)
    q = (study["base"] / "q2026.yaml").read_text(encoding="utf-8")
    moved = tmp_path / "q2026.yaml"
    moved.write_text(q.replace("题目c2（修订）", "题目c2（再修订）"), encoding="utf-8")
    other = write_study(study["base"], "study_k.yaml", "store_k",
                        **{"questionnaire: q2026.yaml": f"questionnaire: {moved}"})
    t = load_study(other)
    assert year_key(t, 2025) == k2025 and year_key(t, 2026) != k2026       # this year's questionnaire
    t2 = load_study(write_study(study["base"], "study_k2.yaml", "store_k", **{"changed: [b2]": "changed: [b2, c2]"}))
    assert year_key(t2, 2025) == k2025 and year_key(t2, 2026) != k2026     # the declaration of 2026
    t3 = load_study(write_study(study["base"], "study_k3.yaml", "store_k",
                                **{"comparability:\n": "comparability:\n  index_on_common_items: true\n"}))
    assert year_key(t3, 2025) == k2025 and year_key(t3, 2026) != k2026     # the switch of the common index


@pytest.mark.parametrize("replace, key, message", [
    ({"renamed: {a3x: a3}": "renamed: {a3x: zz}"}, "comparability.2026.renamed.a3x",
     "'zz' is not an item or indicator of the 2025 questionnaire"),
    ({"changed: [b2]": "changed: [b9]"}, "comparability.2026.changed",
     "'b9' is not an item or indicator of the 2026 questionnaire"),
    ({"renamed: {a3x: a3}": "renamed: {a3x: a3, b3: a3}"}, "comparability.2026.renamed.b3", "two ids renamed to one"),
    ({"  2026:\n    renamed": "  2025:\n    renamed"}, "comparability.2025",
     "is not a year of the study after its first"),
])
def test_bad_declarations_exit_2_with_one_line(study, tmp_path, capsys, replace, key, message):
    path = write_study(study["base"], "study_bad.yaml", str(tmp_path / "store"), **replace)
    code = main(["report", "--study", str(path), "--year", "2026", "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and f"key '{key}'" in err and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "store").exists()          # refused before anything is computed


def test_groups_differing_without_declaration_exit_2(study, tmp_path, capsys):
    q = json.loads(json.dumps(questionnaire(2026)))
    q["groups"]["levels"][1]["id"] = "citizen"
    import yaml

    (tmp_path / "q.yaml").write_text(yaml.safe_dump(q, allow_unicode=True), encoding="utf-8")
    path = write_study(study["base"], "study_groups.yaml", str(tmp_path / "store"),
                       **{"questionnaire: q2026.yaml": f"questionnaire: {tmp_path / 'q.yaml'}"})
    code = main(["report", "--study", str(path), "--year", "2026", "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "key 'comparability.2026.groups.new'" in err and "new in 2026: citizen" in err
    assert err.count("\n") == 1


def test_the_common_items_index_follows_the_suppression_rule(study):
    """index_common carries its own suppression flag (either year's recomputed index too small): with a min_n no
    unit reaches every unit's row is suppressed, with none no row is; the reports and the workbook drop or blank the
    flagged rows as they do the other tables."""
    from dataclasses import replace as dc_replace

    from surveykit.report.suppression import public_tables, reportable
    from surveykit.spec.study import load_study
    from surveykit.workflow import index_on_common_items

    st = load_study(study["base"] / "study_common.yaml")
    comp = load_results(st.results_dir, 2026).comparability
    strict = index_on_common_items(st.model_copy(update={"min_n": 10 ** 9}), 2025, 2026, comp)
    loose = index_on_common_items(st.model_copy(update={"min_n": 0, "max_rse": None}), 2025, 2026, comp)
    assert strict.suppressed.all() and not loose.suppressed.any()
    store = load_results(st.results_dir, 2026)
    flagged = store.index_common.assign(suppressed=store.index_common.unit.eq("north"))
    store = dc_replace(store, index_common=flagged)
    assert "north" not in set(reportable(store).index_common.unit)
    pub = public_tables(store, names=("index_common",))["index_common"]
    assert pub.loc[pub.unit == "north", ["estimate", "change"]].isna().all().all()
    assert pub.loc[pub.unit != "north", "estimate"].notna().all()
