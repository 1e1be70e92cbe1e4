"""Executed notebook -> self-contained HTML report (surveykit.report.html and .fonts)."""

from __future__ import annotations

import base64
import io
import re
import stat
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from surveykit.report import fonts
from surveykit.report.html import (
    ReportError,
    convert_notebook_file,
    external_references,
    notebook_to_html,
    write_atomic,
)
from tests.browser import (
    CODE_FRAGMENTS,
    RARE_TEXT,
    REPORT_TITLE,
    STDERR_TEXT,
    STDOUT_TEXT,
    WARNING_TEXT,
    executed_sample_notebook,
)


@pytest.fixture(scope="module")
def executed():
    return executed_sample_notebook()


@pytest.fixture(scope="module")
def report(executed):
    return notebook_to_html(executed, lang="zh", subtitle="上海市知识产权局 · 2025 年度")


def _stream_text(nb, name):
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == name)


def test_the_kernel_is_this_environment(executed):
    import sys

    removed = next(c for c in executed.cells if "remove" in c.metadata.get("tags", []))
    assert removed.outputs[0]["text"].strip() == sys.prefix


def test_charts_found_chinese_glyphs(executed):
    stderr = _stream_text(executed, "stderr")
    assert STDERR_TEXT in stderr and WARNING_TEXT in stderr  # the notebook did write them
    assert "missing from font" not in stderr and "findfont" not in stderr, stderr


def test_no_external_references_and_no_script(report):
    assert external_references(report) == []
    assert "<script" not in report.lower()
    assert "<link" not in report.lower()
    for cdn in ("require.js", "mathjax", "mermaid", "cdnjs", "unpkg", "jsdelivr"):
        assert cdn not in report.lower()


def test_no_code_parameters_stderr_or_traceback(report):
    for fragment in CODE_FRAGMENTS:
        assert fragment not in report, fragment
    assert "Traceback" not in report
    assert STDERR_TEXT not in report
    assert WARNING_TEXT not in report and "UserWarning" not in report
    assert "In&nbsp;[" not in report and "Out[" not in report


def test_visible_content(report):
    assert '<html lang="zh-CN">' in report
    assert f"<title>{REPORT_TITLE}</title>" in report
    assert re.search(rf'<h1 class="sk-title">\s*{REPORT_TITLE}\s*</h1>', report)
    # the notebook's own "# title" is shown once, in the masthead, not repeated in the body
    body = report[report.index("<main"):]
    assert REPORT_TITLE not in body
    for text in ("一、总体情况", "浦东新区", "法律政策", "标准误", "样本量", STDOUT_TEXT, RARE_TEXT,
                 "上海市知识产权局"):
        assert text in report, text


def test_image_is_an_embedded_png(report):
    sources = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', report)
    assert len(sources) == 1
    src = sources[0]
    assert src.startswith("data:image/png;base64,")
    png = base64.b64decode(src.split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
    assert re.search(r'<img\b[^>]*\balt="图表"', report)


def test_font_face_embeds_the_chinese_glyphs(report):
    from fontTools.ttLib import TTFont

    faces = re.findall(r'@font-face\{font-family:"SurveykitCJK";src:url\(data:font/woff2;base64,'
                       r'([A-Za-z0-9+/=]+)\) format\("woff2"\)[^}]*\}', report)
    assert len(faces) == 2, "a GB2312 face and a face for the rare characters"
    covered = set()
    for data in faces:
        font = TTFont(io.BytesIO(base64.b64decode(data)))
        assert font.flavor == "woff2"
        covered |= set(font.getBestCmap())
    body_text = re.sub(r"<[^>]+>", "", report[report.index("<body"):])
    chinese = {ord(c) for c in body_text if "\u4e00" <= c <= "\u9fff"}
    assert chinese and chinese <= covered, sorted(chr(c) for c in chinese - covered)
    assert "unicode-range:U+5586,U+5803" in report  # 喆 and 堃, outside GB2312


def test_print_stylesheet(report):
    assert re.search(r"@page\s*\{[^}]*size:\s*A4", report)
    assert "margin: 18mm 16mm" in report
    assert "@media print" in report
    assert "break-inside: avoid" in report
    assert "break-before: page" in report
    assert 'class="sk-first-h2"' in report  # the first chapter stays on the title page


def test_page_breaks(report, executed):
    assert '<body class="sk-report">' in report  # chapters flow on by default
    html = notebook_to_html(executed, chapter_breaks=True)
    assert '<body class="sk-report sk-chapter-breaks">' in html
    nb = new_notebook()
    nb.cells = [new_markdown_cell("## 一、结论\n\n正文。"), new_markdown_cell("## 二、方法\n\n正文。"),
                new_markdown_cell("## 附录：数据来源\n\n正文。")]
    html = notebook_to_html(nb)
    assert re.search(r'<h2 [^>]*class="sk-first-h2"[^>]*>一、结论', html)
    assert re.search(r"<h2>二、方法", html)   # no class: no page break (headings carry no anchor id)
    assert re.search(r'<h2 [^>]*class="sk-page-break"[^>]*>附录：数据来源', html)


def test_tables_align_numbers_right_and_text_left(report):
    table = re.search(r"<table\b.*?</table>", report, re.S).group(0)
    assert '<th class="sk-text sk-index">一级指标</th>' in table  # index name row merged
    assert table.count("<tr") == 6  # one header row + five data rows
    assert '<th class="sk-text">等级</th>' in table
    assert '<td class="sk-text">良好</td>' in table
    assert "<td>82.4</td>" in table  # numbers keep the default (right) alignment
    assert "<style" not in table and "dataframe tbody" not in report


def test_english_report(executed):
    html = notebook_to_html(executed, lang="en", title="Pudong: evaluation report")
    assert '<html lang="en">' in html
    assert "<title>Pudong: evaluation report</title>" in html
    assert 'alt="Figure"' in html
    # a different title: the notebook's own heading is then kept in the body
    assert REPORT_TITLE in html[html.index("<main"):]
    with pytest.raises(ValueError):
        notebook_to_html(executed, lang="fr")


def test_conversion_is_fast_and_leaves_the_notebook_alone(executed):
    before = nbformat.writes(executed)
    notebook_to_html(executed)  # warm: exporter built, base font cached
    start = time.perf_counter()
    html = notebook_to_html(executed, subtitle="计时用副标题：新字符集")  # new characters
    elapsed = time.perf_counter() - start
    print(f"notebook_to_html: {elapsed:.3f} s, {len(html) / 1024:.0f} KB")
    assert elapsed < 2.0
    assert nbformat.writes(executed) == before


def test_title_and_subtitle_from_displayed_markdown():
    nb = new_notebook()
    setup = new_code_cell("from IPython.display import Markdown, display")
    title = new_code_cell("display(Markdown(...))")
    title.outputs = [new_output("display_data", data={
        "text/markdown": "# 黄浦区评估报告\n\n*2026 年度 · 上海市知识产权局*\n\n导语。",
        "text/plain": "<IPython.core.display.Markdown object>"})]
    nb.cells = [setup, title, new_markdown_cell("## 一、总体情况\n\n正文。")]
    html = notebook_to_html(nb)
    assert "<title>黄浦区评估报告</title>" in html
    assert re.search(r'<p class="sk-subtitle">\s*2026 年度 · 上海市知识产权局\s*</p>', html)
    body = html[html.index("<main"):]
    assert "黄浦区评估报告" not in body and "2026 年度" not in body
    assert "导语。" in body and "正文。" in body
    # an explicit subtitle wins; the emphasised line then stays in the text
    html = notebook_to_html(nb, subtitle="另一个副标题")
    assert "另一个副标题" in html and "2026 年度" in html[html.index("<main"):]


def _notebook_with_error():
    nb = new_notebook()
    cell = new_code_cell("1/0")
    cell.outputs = [new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                               traceback=["Traceback (most recent call last)", "ZeroDivisionError"])]
    nb.cells = [new_markdown_cell("# 标题"), cell]
    return nb


def test_error_outputs_are_refused():
    with pytest.raises(ReportError, match="ZeroDivisionError"):
        notebook_to_html(_notebook_with_error())


def test_javascript_and_external_resources_are_refused():
    nb = new_notebook()
    cell = new_code_cell("display(HTML(...))")
    cell.outputs = [new_output("display_data", data={"text/html": '<img src="https://example.org/a.png">'})]
    nb.cells = [cell]
    with pytest.raises(ReportError, match="https://example.org/a.png"):
        notebook_to_html(nb)
    cell.outputs = [new_output("display_data", data={"text/html": "<script>alert(1)</script>"})]
    with pytest.raises(ReportError, match="JavaScript"):
        notebook_to_html(nb)
    # JavaScript and widget outputs are simply not rendered when there is a static alternative
    cell.outputs = [new_output("display_data", data={"application/javascript": "alert(1)",
                                                     "text/plain": "静态文本"})]
    html = notebook_to_html(nb)
    assert "静态文本" in html and "alert" not in html


def test_external_references():
    html = """
    <link rel="stylesheet" href="https://cdn.example/x.css"><script src="//cdn.example/require.js"></script>
    <img src="chart.png"><img src="data:image/png;base64,AAAA"><a href="#sec-1">x</a>
    <img srcset="a@2x.png 2x, data:image/png;base64,AA,BB 1x">
    <div style="background: url('http://example.org/bg.png')"></div>
    <style>@import url("print.css"); .f{src:url(data:font/woff2;base64,AAAA)}</style>
    <iframe srcdoc="hi"></iframe><meta http-equiv="refresh" content="0; url=http://example.org/">
    <p>text that merely mentions src="http://not-a-reference" or url(x) is not markup</p>
    <a href="2026/huangpu.html">a sibling report</a><a href="mailto:survey@example.org">mail</a>
    <a href="https://www.example.org/law">a website</a><a href="//example.org/x">x</a>
    """
    assert external_references(html) == [
        "https://cdn.example/x.css", "//cdn.example/require.js", "chart.png", "a@2x.png",
        "http://example.org/bg.png", "<iframe>", "http://example.org/",
        "https://www.example.org/law", "//example.org/x", "print.css",
    ]
    assert external_references('<a href="#top">top</a><img src="data:image/png;base64,AA">') == []


def test_write_atomic(tmp_path):
    target = tmp_path / "sub" / "report.html"
    write_atomic(target, "第一版")
    assert target.read_text(encoding="utf-8") == "第一版"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    target.chmod(0o640)
    write_atomic(target, "第二版")
    assert target.read_text(encoding="utf-8") == "第二版"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temporary files left


def test_convert_notebook_file(tmp_path, executed):
    source = tmp_path / "report.ipynb"
    nbformat.write(executed, source)
    out = convert_notebook_file(source, tmp_path / "out" / "report.html", lang="zh")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_woff2_encoder_round_trip():
    from fontTools.ttLib import TTFont

    sfnt = fonts.ensure_base_font().read_bytes()
    woff2 = fonts.woff2_encode(sfnt)
    assert woff2[:4] == b"wOF2" and len(woff2) % 4 == 0
    original = TTFont(io.BytesIO(sfnt))
    decoded = TTFont(io.BytesIO(woff2))
    assert decoded.flavor == "woff2"
    assert sorted(decoded.keys()) == sorted(original.keys())
    for tag in ("cmap", "hmtx", "name", "OS/2", "post"):
        assert decoded.getTableData(tag) == original.getTableData(tag), tag
    assert decoded["glyf"][decoded.getBestCmap()[ord("中")]].numberOfContours > 0


def test_font_subset_and_css():
    text = "法律政策执法保护机制建设意识培养保护效果"
    woff2 = fonts.font_subset_woff2(text)
    assert woff2[:4] == b"wOF2" and 5_000 < len(woff2) < 200_000
    css = fonts.font_face_css(text, family="ReportFont")
    assert css.startswith('@font-face{font-family:"ReportFont";src:url(data:font/woff2;base64,')
    assert css.count("@font-face") == 1
    assert fonts.font_face_css(text, family="ReportFont") is css  # cached per character set
    with pytest.raises(ValueError):
        fonts.font_face_css(text, family='x"; }')


def test_cjk_font_is_free_and_registered_with_matplotlib():
    import matplotlib as mpl

    path = fonts.cjk_font_path()
    assert path.is_file() and "simhei" not in path.name.lower()
    family = fonts.use_cjk_font()
    assert family == fonts.use_cjk_font() == "Noto Sans CJK SC"
    assert mpl.rcParams["font.sans-serif"][0] == family
    assert mpl.rcParams["font.family"] == ["sans-serif"]
    assert mpl.rcParams["axes.unicode_minus"] is False
    assert mpl.rcParams["svg.fonttype"] == "path"


def test_non_free_fonts_are_refused(monkeypatch, tmp_path):
    from fontTools.ttLib import TTFont

    font = TTFont(fonts.ensure_base_font())
    font["name"].names = [rec for rec in font["name"].names if rec.nameID not in (13, 14)]
    font["name"].setName("Copyright (c) someone. All rights reserved.", 13, 3, 1, 0x409)
    non_free = tmp_path / "NonFree.ttf"
    font.save(non_free)
    monkeypatch.setenv(fonts.FONT_ENV, str(non_free))
    with pytest.raises(fonts.FontError, match="Open Font License"):
        fonts.use_cjk_font()
    monkeypatch.setenv(fonts.FONT_ENV, str(tmp_path / "missing.otf"))
    with pytest.raises(fonts.FontError, match="no such font file"):
        fonts.cjk_font_path()
