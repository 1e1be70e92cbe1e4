"""The rendered report in headless Chromium, offline, as the bureau's readers see it.

Needs /usr/bin/chromium (`apt-get install chromium`); without it these tests fail, they do
not skip. See tests/browser.py.
"""

from __future__ import annotations

import re

import pytest
from PIL import Image, ImageStat

from surveykit.report.html import notebook_to_html, write_atomic
from tests.browser import (
    RARE_TEXT,
    check_in_browser,
    chromium_path,
    cjk_font_problems,
    executed_sample_notebook,
)


def test_chromium_is_installed():
    assert chromium_path()  # raises with "apt-get install chromium" when missing


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser")
    html = notebook_to_html(executed_sample_notebook(), lang="zh",
                            subtitle="上海市知识产权局 · 2025 年度", kicker="知识产权保护社会满意度调查",
                            chapter_breaks=True)
    page = write_atomic(out / "report.html", html)
    result = check_in_browser(page, screenshot_path=out / "report.png", pdf_path=out / "report.pdf",
                              probe_texts=[RARE_TEXT])
    print(f"screenshot: {result['screenshot']}  pdf: {result['pdf']}")
    return result


def test_no_console_errors(loaded):
    assert loaded["console_errors"] == []


def test_nothing_is_fetched_from_outside_the_file(loaded):
    assert loaded["external_requests"] == []
    assert loaded["failed_requests"] == []


def test_screenshot_is_not_blank(loaded):
    with Image.open(loaded["screenshot"]) as image:
        image = image.convert("RGB")
        assert image.width >= 1000 and image.height > 1200  # masthead, text, table, chart
        colours = image.getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 200
        assert max(ImageStat.Stat(image).stddev) > 20
        # the masthead band is dark, the page below it light
        top = image.crop((0, 0, image.width, 60)).convert("L")
        assert ImageStat.Stat(top).mean[0] < 100
        body = image.crop((0, 300, image.width, image.height)).convert("L")
        assert ImageStat.Stat(body).mean[0] > 200


def test_chinese_is_drawn_with_the_embedded_cjk_font(loaded):
    assert ["SurveykitCJK", "loaded"] in loaded["font_faces"]
    assert cjk_font_problems(loaded) == []
    probed = {probe["selector"] for probe in loaded["cjk_fonts"]}
    assert {"h1", "main p", "main th", f"text:{RARE_TEXT}"} <= probed
    rare = next(p for p in loaded["cjk_fonts"] if p["selector"] == f"text:{RARE_TEXT}")
    assert all(f["isCustomFont"] for f in rare["fonts"] if f["glyphCount"]), rare


def test_prints_on_a4(loaded):
    pdf = loaded["pdf"].read_bytes()
    assert pdf.startswith(b"%PDF")
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert len(boxes) >= 2  # chapter_breaks: the second chapter starts a new page
    for width, height in boxes:
        assert abs(float(width) - 595.3) < 1.5 and abs(float(height) - 841.9) < 1.5
