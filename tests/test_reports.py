"""The report pipeline end to end on the demo data: results store -> papermill -> self-contained HTML.

One module-scoped run renders two units in Chinese (plus the index) and one in English; the tests then check what
the bureau receives: no outside references, no code, no tracebacks, no respondent-level free text, Chinese text
drawn with the embedded font in headless Chromium, and unsafe parameters refused before any kernel starts.
"""

import json
import re
from html import escape as html_escape
from pathlib import Path

import pandas as pd
import pytest

from surveykit.cli import main
from surveykit.demo.study import write_demo_study
from surveykit.errors import InputError
from surveykit.report.html import external_references
from surveykit.report.district import DistrictReport
from surveykit.report.render import render_reports
from surveykit.results import load_protection, load_results
from surveykit.spec.study import load_study
from surveykit.protection.scorecard import STATUS_TEXT
from surveykit.workflow import ensure_results

from .browser import check_in_browser, cjk_font_problems
from .conftest import ROOT

QUESTIONNAIRE = ROOT / "questionnaires" / "ip_protection_satisfaction.yaml"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    data = base / "data"
    study = load_study(write_demo_study(data, questionnaire=QUESTIONNAIRE))
    ensure_results(study)
    out = base / "reports"
    zh = [render_reports(study, year=2026, districts=d, lang="zh", out=out, jobs=1) for d in ("pudong", "临港新片区")]
    # the demonstration zones at their different stages (the demo register's stories)
    zh.append(render_reports(study, year=2026, districts="fengxian,minhang,baoshan,xuhui", lang="zh", out=out, jobs=2))
    en = render_reports(study, year=2026, districts="Huangpu", lang="en", out=base / "reports_en", jobs=1)
    return {"study": study, "out": out, "zh": zh, "en": en, "data": data, "base": base}


def read(path) -> str:
    return Path(path).read_text(encoding="utf-8")


def test_reports_are_rendered_with_index_and_manifest(demo):
    for summary in demo["zh"] + [demo["en"]]:
        assert summary.ok, summary.text()
    pudong = demo["out"] / "2026" / "pudong.html"
    assert pudong.exists() and (demo["out"] / "2026" / "lingang.html").exists()
    index = read(demo["out"] / "index.html")
    assert 'href="2026/pudong.html"' in index and "浦东新区" in index
    man = json.loads(read(demo["out"] / "2026" / "manifest.json"))
    # the manifest of the folder's last run (the zones' four units)
    assert man["ok"] and {r["unit"] for r in man["reports"]} == {"fengxian", "minhang", "baoshan", "xuhui"}


def test_excel_workbook_of_every_table(demo):
    path = demo["out"] / "2026" / "surveykit_tables_2026.xlsx"
    book = pd.read_excel(path, sheet_name=None)
    assert {"README", "scores_unit", "scores_city", "sample", "dont_know", "weights"} <= set(book)
    store = load_results(demo["study"].results_dir, 2026)
    cols = ["unit", "group", "node", "estimate", "se", "ci_low", "ci_high", "n", "suppressed"]
    pd.testing.assert_frame_equal(book["scores_unit"][cols], store.scores_unit[cols], check_dtype=False)
    assert {"ranks", "compare_rest", "year_change", "reliability"} <= set(book)
    assert "respondent_id" not in "".join(str(c) for df in book.values() for c in df.columns)


def test_report_content_matches_the_results_store(demo):
    html = read(demo["out"] / "2026" / "pudong.html")
    store = load_results(demo["study"].results_dir, 2026)
    s = store.scores_unit
    idx = s[(s.unit == "pudong") & (s.group == "all") & (s.node == "index")].iloc[0]
    assert f"{idx.estimate:.2f}" in html and f"{idx.ci_low:.2f}–{idx.ci_high:.2f}" in html
    assert "浦东新区2026年知识产权保护社会满意度调查评估报告" in html
    for label in ("法律政策", "执法保护", "机制建设", "意识培养", "保护效果", "权利人", "专业人士", "社会公众"):
        assert label in html
    assert "校准变量：区（17 类）、受访者群体（3 类）" in html  # the weighting, in words, in the method section
    assert html.count("data:image/png;base64,") == 2  # the first-level chart and the quadrant chart, embedded


def test_protection_level_and_scorecard_sections(demo):
    html = read(demo["out"] / "2026" / "pudong.html")
    p = load_protection(demo["study"].results_dir, 2026)
    idx = p["scores"][(p["scores"].unit == "pudong") & (p["scores"].node == "index")].iloc[0]
    band = p["ranks"][p["ranks"].unit == "pudong"].iloc[0]
    assert "知识产权保护水平" in html and f"{idx.score:.2f}" in html
    assert "示范区建设" in html and "验收指标</th>" in html   # pudong is a titled zone: annual monitoring
    # every target of the unit's scorecard in its own table row, with its own status ("达标" is inside "未达标":
    # the status must be the whole cell)
    card = p["scorecard"][p["scorecard"].unit == "pudong"]
    assert len(card)
    for r in card.itertuples():
        label = html_escape(r.label_zh)
        rows = re.findall(r"<tr[^>]*>(?:(?!</tr>).)*?" + re.escape(label) + r"(?:(?!</tr>).)*?</tr>", html, re.S)
        assert rows, label
        status = html_escape(STATUS_TEXT[r.status][0])
        assert any(re.search(r"<td[^>]*>\s*" + re.escape(status) + r"\s*</td>", row) for row in rows), (label, status)
    k = card.status.value_counts()
    assert (f"示范区验收 {len(card)} 项指标中，达标 {k.get('pass', 0)} 项、未达标 {k.get('fail', 0)} 项、"
            f"置信区间跨越阈值而不确定 {k.get('not_decisive', 0)} 项、数据不足 {k.get('insufficient_data', 0)} 项。") in html
    assert f"{int(band.rank_p05)}–{int(band.rank_p95)}" in html  # the rank shown with its 5-95% band


def test_analysis_sections_use_the_stored_comparisons(demo):
    html = read(demo["out"] / "2026" / "pudong.html")
    store = load_results(demo["study"].results_dir, 2026)
    rk = store.ranks[(store.ranks.unit == "pudong") & (store.ranks.node == "index")].iloc[0]
    assert f"第{int(rk['rank'])}名（90%区间：第{int(rk.rank_low)}–{int(rk.rank_high)}名）" in html
    v = store.compare_rest[(store.compare_rest.unit == "pudong") & (store.compare_rest.node == "index")].iloc[0]
    assert f"{v.difference:+.2f}" in html
    ch = store.year_change[(store.year_change.unit == "pudong") & (store.year_change.group == "all")
                           & (store.year_change.node == "index")].iloc[0]
    assert f"{ch.change:+.2f}" in html
    for heading in ("与全市其他区比较", "较上年变化", "影响因素与改进重点", "优势与短板", "工作建议", "数据质量与测量信度"):
        assert heading in html, heading
    assert html.count("data:image/png;base64,") == 2  # first-level chart and importance-performance chart


def test_english_report(demo):
    html = read(demo["base"] / "reports_en" / "2026" / "huangpu.html")
    assert "Huangpu: IP Protection Social Satisfaction Survey, evaluation 2026" in html
    assert "Law and policy" in html and '<html lang="en"' in html


@pytest.mark.parametrize("name", ["pudong", "lingang"])
def test_html_is_self_contained_and_clean(demo, name):
    html = read(demo["out"] / "2026" / f"{name}.html")
    assert external_references(html) == []
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html.lower()
    for leak in ("Traceback", "DistrictReport(", "import ", "display(", "In&nbsp;[", "papermill", "parameters"):
        assert leak not in html, leak


def test_no_free_text_or_respondent_ids_in_reports(demo):
    responses = pd.read_csv(demo["data"] / "responses_2026.csv", encoding="utf-8-sig")
    comments = [c for c in responses["comment"].dropna().unique() if len(str(c)) >= 4]
    assert comments, "the demo data must carry free-text comments for this test to mean anything"
    html = read(demo["out"] / "2026" / "pudong.html") + read(demo["out"] / "index.html")
    assert not [c for c in comments if c in html]
    assert not re.search(r"2026-\d{6}", html)  # respondent ids


def test_report_in_headless_chromium(demo, tmp_path):
    result = check_in_browser(demo["out"] / "2026" / "pudong.html", screenshot_path=tmp_path / "pudong.png")
    assert result["console_errors"] == [] and result["external_requests"] == []
    assert cjk_font_problems(result) == []
    from PIL import Image, ImageStat
    img = Image.open(result["screenshot"]).convert("L")
    assert max(ImageStat.Stat(img).stddev) > 20 and len(img.getcolors(1 << 16) or []) > 20  # not blank


QUOTE_WIDTHS = """() => {
  const p = document.querySelector("main p, .jp-RenderedMarkdown p, p");
  const probe = s => { const e = document.createElement("span"); e.textContent = s; p.appendChild(e);
                       const w = e.getBoundingClientRect().width; e.remove(); return w; };
  return {quote: probe("\u201c"), em: parseFloat(getComputedStyle(p).fontSize)};
}"""


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_quotes_are_set_as_the_page_language_sets_them(demo, lang):
    """An English page draws “ ” at a Latin width (the embedded CJK font draws them full-width, leaving wide gaps
    around quoted words); a Chinese page keeps them full-width. Measured in Chromium."""
    from playwright.sync_api import sync_playwright

    from .browser import LAUNCH_ARGS, chromium_path
    page_path = (demo["base"] / "reports_en" / "2026" / "huangpu.html") if lang == "en" else \
        (demo["out"] / "2026" / "pudong.html")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=LAUNCH_ARGS)
        page = browser.new_page()
        page.goto(page_path.as_uri(), wait_until="load")
        page.wait_for_function("document.fonts.status === 'loaded'")
        w = page.evaluate(QUOTE_WIDTHS)
        browser.close()
    ratio = w["quote"] / w["em"]
    assert (ratio < 0.6) if lang == "en" else (ratio > 0.8), (lang, w)


@pytest.mark.parametrize("district", [
    "huangpu'); import os; os.system('touch PWNED'); ('",
    "__import__('os').system('touch PWNED')",
    "黄浦区\"\nimport os",
    "../../etc/passwd",
])
def test_code_in_a_district_name_is_refused_before_anything_runs(demo, tmp_path, district, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="unknown district"):
        render_reports(demo["study"], year=2026, districts=district, out=tmp_path / "r")
    assert not (tmp_path / "r").exists()
    code = main(["report", "--study", str(demo["data"] / "study.yaml"), "--year", "2026", "--district", district,
                 "--out", str(tmp_path / "r2")])
    err = capsys.readouterr().err
    assert code == 2 and "unknown district" in err and err.count("\n") == 1
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "r2").exists()


@pytest.mark.parametrize("kwargs, pattern", [
    ({"year": 2031}, r"year 2031 is not in the study"),
    ({"year": "2026; rm -rf /"}, r"year must be a number"),
    ({"lang": "fr"}, r"language must be one of zh, en"),
])
def test_other_parameters_are_checked(demo, tmp_path, kwargs, pattern):
    args = {"year": 2026, "districts": "pudong", "lang": "zh", **kwargs}
    with pytest.raises(InputError, match=pattern):
        render_reports(demo["study"], out=tmp_path / "r", **args)


def test_results_store_manifest_has_provenance(demo):
    store = load_results(demo["study"].results_dir, 2026)
    m = store.manifest
    assert len(m["inputs"]["responses"]["sha256"]) == 64 and m["inputs"]["questionnaire"]["version"] == "2025.1"
    assert m["weighting"]["margins"]["sha256"] and m["weighting"]["history"]
    final = store.weights[(store.weights.stage == "final") & (store.weights.unit != "all")]
    pop = pd.read_csv(demo["data"] / "population_2026.csv", encoding="utf-8-sig").groupby("district")["count"].sum()
    ids = pd.read_csv(demo["data"] / "units.csv").set_index("zh")["id"]
    assert final.set_index("unit")["sum_weights"].to_dict() == pytest.approx(pop.rename(ids).to_dict(), rel=1e-8)


def test_same_inputs_same_numbers_same_html(demo, tmp_path):
    """A second results store computed from the same inputs, and a second render: identical numbers and HTML
    except the generation time (the only timestamp in a report)."""
    import shutil
    study_file = demo["data"] / "study.yaml"
    other = tmp_path / "data"
    shutil.copytree(demo["data"], other, ignore=shutil.ignore_patterns("results"))
    # the questionnaire path in the copied study is relative to the original folder
    text = study_file.read_text(encoding="utf-8").replace(
        next(ln for ln in study_file.read_text(encoding="utf-8").splitlines() if ln.startswith("questionnaire:")),
        f"questionnaire: {QUESTIONNAIRE}")
    (other / "study.yaml").write_text(text, encoding="utf-8")
    study2 = load_study(other / "study.yaml")
    ensure_results(study2)
    a, b = load_results(demo["study"].results_dir, 2026), load_results(study2.results_dir, 2026)
    pd.testing.assert_frame_equal(a.scores_unit, b.scores_unit)
    pd.testing.assert_frame_equal(a.weights, b.weights)
    out = render_reports(study2, year=2026, districts="pudong", out=tmp_path / "r", jobs=1)
    assert out.ok
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
    h1 = stamp.sub("<time>", read(demo["out"] / "2026" / "pudong.html"))
    h2 = stamp.sub("<time>", read(tmp_path / "r" / "2026" / "pudong.html"))
    assert h1.replace(str(demo["data"]), "<data>") == h2.replace(str(other), "<data>")


def test_render_on_a_dask_cluster(demo, tmp_path):
    """Any concurrent.futures.Executor works: here a dask.distributed LocalCluster (the path beyond one machine)."""
    from dask.distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        out = render_reports(demo["study"], year=2026, districts="jiading,崇明区,Xuhui", out=tmp_path / "r", jobs=2,
                             executor=client.get_executor())
    assert out.ok and [o.unit for o in out.outcomes] == ["xuhui", "jiading", "chongming"], out.text()
    assert sorted(p.name for p in (tmp_path / "r" / "2026").glob("*.html")) == ["chongming.html", "jiading.html",
                                                                                "xuhui.html"]


def test_city_overview(demo, tmp_path):
    from surveykit.report.render import CITY_NOTEBOOK, render_unit
    out = render_unit(str(CITY_NOTEBOOK), {"year": 2026, "lang": "zh", "results": str(demo["study"].results_dir)},
                      str(tmp_path / "city.html"), name="overview")
    assert out.ok, out.error
    html = read(tmp_path / "city.html")
    assert external_references(html) == [] and "Traceback" not in html
    assert html.count("data:image/png;base64,") == 2  # heat-map and trend chart
    s25 = load_results(demo["study"].results_dir, 2025).scores_unit
    s26 = load_results(demo["study"].results_dir, 2026).scores_unit
    pick = lambda s: s[(s.unit == "chongming") & (s.group == "all") & (s.node == "index")].estimate.iloc[0]  # noqa
    assert f"{pick(s26) - pick(s25):+.2f}" in html  # the change on last year, from the two stores
    assert "2026年上海市知识产权保护社会满意度调查：全市概览" in html


def test_a_failing_unit_does_not_stop_the_others(demo, tmp_path):
    """A unit whose notebook fails is retried once, reported, marked in the index; the others are written and the
    run is not ok (the CLI then exits 1). No partial file is left for the failed unit."""
    import nbformat as nbf
    from surveykit.report.render import NOTEBOOK
    nb = nbf.read(NOTEBOOK, as_version=4)
    nb.cells.insert(2, nbf.v4.new_code_cell('if district == "jiading":\n    raise RuntimeError("boom")'))
    broken = tmp_path / "broken.ipynb"
    nbf.write(nb, broken)
    out = render_reports(demo["study"], year=2026, districts="jiading,pudong", out=tmp_path / "r", jobs=2,
                         notebook=broken)
    by = {o.unit: o for o in out.outcomes}
    assert not out.ok and by["pudong"].ok and not by["jiading"].ok
    assert by["jiading"].attempts == 2 and "boom" in by["jiading"].error
    assert (tmp_path / "r" / "2026" / "pudong.html").exists()
    assert not list((tmp_path / "r" / "2026").glob("jiading*"))
    assert "FAILED jiading" in out.text()
    index = read(tmp_path / "r" / "index.html")
    assert "嘉定区 (生成失败)" in index and 'href="2026/pudong.html"' in index
    man = json.loads(read(tmp_path / "r" / "2026" / "manifest.json"))
    assert man["ok"] is False


def test_protection_tables_and_sentences(demo):
    """The protection-level section's tables and sentences, in both languages, from the store the demo computed."""
    from surveykit.report import protection as pr
    from surveykit.report.city import CityReport
    res = demo["study"].results_dir
    back = load_protection(res, 2026)
    assert {"scores", "ranks", "sobol", "scorecard", "cases", "values"} <= set(back)
    assert back["manifest"]["monte_carlo"]["runs"] == 1000
    assert set(back["scorecard"].status) <= {"pass", "fail", "not_decisive", "insufficient_data"}
    assert "合计" in set(back["cases"]["单位"]) and "pudong" in set(back["cases"]["单位"])
    for lang in ("zh", "en"):
        city, unit = CityReport(res, 2026, lang), DistrictReport(res, 2026, "huangpu", lang)
        fw = city.framework()
        dt = pr.dimension_table(city)
        assert len(dt) == 17 and dt.iloc[0, 2] == 1
        assert pr.indicator_table(unit, "huangpu").shape[0] == len(fw.indicators)
        assert len(pr.sobol_table(city)) == 5 and len(pr.scorecard_table(unit, "huangpu")) == 5
        assert len(pr.unit_sentences(unit, "huangpu")) >= 4 and len(pr.method_sentences(city)) >= 5
    unit = DistrictReport(res, 2026, "huangpu", "zh")
    zh = " ".join(pr.unit_sentences(unit, "huangpu"))
    idx = back["scores"].query("unit == 'huangpu' and node == 'index'").iloc[0]
    assert f"{idx.score:.2f} 分" in zh and f"排第 {int(idx['rank'])} 位" in zh and "90% 区间" in zh
    en = " ".join(pr.unit_sentences(DistrictReport(res, 2026, "huangpu", "en"), "huangpu"))
    assert "rank" in en and "acceptance targets" in en


@pytest.mark.parametrize("params, unit", [({}, "黄浦区"), ({"district": "pudong"}, "浦东新区")])
def test_notebook_runs_as_opened_in_jupyterlab(demo, tmp_path, params, unit):
    """The report notebook executed as JupyterLab runs it: working folder = its own folder, the defaults of its
    parameters cell (results = ../data/demo/results, where `make demo` puts the store), nothing injected; changing
    `district` shows that unit."""
    import shutil
    import papermill as pm
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "district_report.ipynb", tmp_path / "notebooks")
    (tmp_path / "data" / "demo").mkdir(parents=True)
    (tmp_path / "data" / "demo" / "results").symlink_to(demo["study"].results_dir, target_is_directory=True)
    nb = pm.execute_notebook(str(tmp_path / "notebooks" / "district_report.ipynb"), None, parameters=params,
                             kernel_name="python3", progress_bar=False, cwd=str(tmp_path / "notebooks"))
    shown = "".join(str(o.get("data", {}).get("text/markdown", "")) for c in nb.cells for o in c.get("outputs", []))
    assert f"# {unit}2026年" in shown and "Error" not in shown


ZONE_SECTIONS = {   # unit: (status shown, kind of this year's evaluation, verdict shown; None: no scorecard)
    "pudong": ("示范区（第", "年度监测", "整改预警：指标连续两年未达标"),
    "fengxian": ("验收评审", "验收评审", "建议通过"),
    "minhang": ("续展评审", "续展评审", "尚不能确定"),
    "baoshan": ("责令整改", "整改进展", "部分完成整改"),
    "xuhui": ("试点区", None, None),
    "lingang": ("已申报", None, None),
}


@pytest.mark.parametrize("unit", sorted(ZONE_SECTIONS))
def test_each_zone_status_shows_its_section(demo, unit):
    """The demo register's stories (tests/test_zones_demo.py) as the bureau reads them: the status, and the
    scorecard only where this year's evaluation needs one."""
    status, kind, verdict = ZONE_SECTIONS[unit]
    text = " ".join(visible_text(read(demo["out"] / "2026" / f"{unit}.html")).split())
    start = text.index("示范区建设")
    section = text[start:re.compile(r"[一二三四五六七八九十]+、").search(text, start).start()]   # to the next section
    assert f"示范区状态：{status}" in section
    scorecard = re.search(r"验收指标 阈值 证据（95%置信区间） 结论", section)
    if kind is None:
        assert scorecard is None
    else:
        assert kind in section and verdict in section and scorecard


def test_zone_sentences_are_written_as_each_language_writes_them(demo):
    """The status sentence and the next milestone: zh runs sentences on (。), en separates them with a space."""
    res = demo["study"].results_dir
    zh = DistrictReport(res, 2026, "pudong", "zh").zone.text()
    en = DistrictReport(res, 2026, "pudong", "en").zone.text()
    assert "起。下一节点：" in zh and "since 2025. Next milestone: " in en, (zh[:200], en[:200])
    assert not re.search(r"[.:;,][A-Z]", en)        # no sentence glued to the next


def test_zone_verdicts_follow_the_demo_scorecards(demo):
    """The register's stories agree with the acceptance scorecards of the demo's own store."""
    store = load_results(demo["study"].results_dir, 2026)
    ev = store.zones_evaluation.set_index("unit")
    assert ev.loc["fengxian", "verdict"] == "pass" and ev.loc["minhang", "verdict"] == "not_decisive"
    assert ev.loc["baoshan", "verdict"] == "partly_rectified" and ev.loc["pudong", "verdict"] == "rectification_warning"
    assert ev.loc["jinshan", "kind"] == "none" and ev.loc["huangpu", "kind"] == "none"
    overview = load_results(demo["study"].results_dir, 2026).zones_status
    assert (overview.status != "not_zone").sum() >= 8


ALLOWED_ASCII = {"Cronbach", "McDonald", "Holm", "Kish", "Shapley", "Sobol", "CFI", "TLI", "RMSEA", "SRMR", "logit",
                 "surveykit", "JRC", "OECD", "AHP", "UTF", "BOM", "GBK", "CV", "ST", "S1", "z", "R²", "Z"}


def visible_text(html: str) -> str:
    html = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", html, flags=re.S)
    import html as h
    return h.unescape(re.sub(r"<[^>]+>", " ", html))


def test_every_zh_page_speaks_chinese(demo):
    """No English sentence, code or Python repr in a Chinese page: ASCII words are method names, or the data's own
    file name, fingerprints and timestamps in the provenance table."""
    m = load_results(demo["study"].results_dir, 2026).manifest
    data_words = {Path(m["inputs"]["responses"]["path"]).name}
    for name in ("pudong", "lingang", "fengxian", "baoshan", "overview"):
        page = demo["out"] / "2026" / f"{name}.html"
        if not page.exists():
            continue
        text = visible_text(read(page))
        for w in data_words:
            text = text.replace(w, " ")
        text = re.sub(r"\b[0-9a-f]{16}\b|\d{4}-\d\d-\d\dT[\d:+]+|\d+(\.\d+)?", " ", text)
        words = set(re.findall(r"[A-Za-z][A-Za-z²]*", text)) - ALLOWED_ASCII - {"utf", "bom", "gbk"}
        assert not words, (name, sorted(words)[:20])


def test_every_en_page_speaks_english(demo, tmp_path):
    """No Chinese and no full-width punctuation in an English page (units of measure translated): a unit's report,
    the overview and the index (with its zone markers)."""
    from surveykit.report.render import CITY_NOTEBOOK, render_unit
    out = render_unit(str(CITY_NOTEBOOK), {"year": 2026, "lang": "en", "results": str(demo["study"].results_dir)},
                      str(tmp_path / "overview.html"), name="overview")
    assert out.ok, out.error
    en = demo["base"] / "reports_en"
    for page in (en / "2026" / "huangpu.html", en / "index.html", tmp_path / "overview.html"):
        text = visible_text(read(page))
        cjk = set(re.findall(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]+", text))
        assert not cjk, (page.name, sorted(cjk)[:20])
    assert "[withdrawn]" in visible_text(read(en / "index.html"))        # huangpu's zone marker, in English


def test_no_verdict_contradicts_its_interval(demo):
    """Wherever a verdict sits beside an interval (versus the rest of the city, change on last year, group gaps,
    declared comparisons), a significant verdict has an interval excluding 0 and 'no clear ...' one including it."""
    from html.parser import HTMLParser

    class Tables(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.tables, self.cell, self.row = [], None, None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.tables.append([])
            elif tag == "tr":
                self.row = []
                self.tables[-1].append(self.row)
            elif tag in ("td", "th"):
                self.cell = ""

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.row is not None:
                self.row.append(self.cell.strip())
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    checked = 0
    for name in ("pudong", "lingang", "fengxian", "minhang", "baoshan", "xuhui"):
        parser = Tables()
        parser.feed(read(demo["out"] / "2026" / f"{name}.html"))
        for table in parser.tables:
            head = table[0]
            if "结论" not in head or "校正后95%置信区间" not in head:
                continue
            i, j = head.index("校正后95%置信区间"), head.index("结论")
            for row in table[1:]:
                m = re.fullmatch(r"\[([+\-−]?[\d.]+), ([+\-−]?[\d.]+)\]", row[i])
                if not m:
                    continue
                lo, hi = (float(x.replace("−", "-")) for x in m.groups())
                significant = row[j] in ("高于", "低于", "上升", "下降")
                assert significant == (lo > 0 or hi < 0), (name, row)
                checked += 1
    assert checked > 50


def test_a_suppressed_satisfaction_rate_shows_the_mark(demo):
    """A unit's satisfaction rate from too few respondents stays in the report's tables as "too few" (it was
    dropped: the unit report skipped the row and the overview left a blank), and its number is not in the table."""
    import dataclasses

    from surveykit.report.city import CityReport
    from surveykit.report.suppression import reportable

    res = demo["study"].results_dir
    store = load_results(res, 2026)
    rates = store.satisfaction_rates
    hidden = rates[(rates.unit == "pudong") & (rates.node == "index")].estimate.iloc[0]
    store = dataclasses.replace(store, satisfaction_rates=rates.assign(suppressed=rates.unit.eq("pudong")))
    shown = reportable(store)
    unit = DistrictReport(res, 2026, "pudong", "zh")
    unit.store = shown
    t = unit.rates_table()
    assert (t["满意率"] == "样本不足").all() and len(t) == 1 + len(unit.first_level())
    city = CityReport(res, 2026, "zh")
    city.store = shown
    row = city.rates_table().set_index("区").loc["浦东新区"]
    assert (row == "样本不足").all()
    assert f"{100 * hidden:.1f}%" not in t.to_string() + row.to_string()
