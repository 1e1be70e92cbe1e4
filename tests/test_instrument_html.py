"""The printable questionnaire (issue 15, item 3): content from the YAML, routing shown, self-contained, and every
user text escaped. The page is read back with the standard library's HTML parser, as a browser would tokenise it."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from surveykit.instrument import questionnaire_html
from surveykit.report.html import external_references
from surveykit.spec import load_questionnaire
from tests.browser import check_in_browser, cjk_font_problems
from tests.instrument_support import SHIPPED, asked_of, group_ids, raw, raw_items


class Page(HTMLParser):
    """Start tags with their attributes, the text of the body, the title, and table rows as lists of cell texts."""

    def __init__(self, document: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list]] = []
        self.text: list[str] = []
        self.rows: list[list[str]] = []
        self.title = ""
        self._cell: list[str] | None = None
        self._in_title = False
        self.feed(document)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def body_text(self) -> str:
        return "".join(self.text)

    def row(self, first: str) -> list[str]:
        return next(r for r in self.rows if r and r[0] == first)


@pytest.fixture(scope="module")
def shipped():
    q = load_questionnaire(SHIPPED)
    return {lang: questionnaire_html(q, lang, units=["黄浦区", "徐汇区"]) for lang in ("zh", "en")}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_content_comes_from_the_yaml(shipped, lang):
    doc, page = raw(), Page(shipped[lang])
    assert page.title == doc["title"][lang]
    text = page.body_text
    for paragraph in doc["intro"][lang].split("\n\n"):
        assert paragraph.strip() in text
    for code, label in doc["scale"]["labels"].items():
        assert label[lang] in text
    for item in raw_items(doc):
        row = page.row(item["id"])
        assert row[1].startswith(item["text"][lang])
        assert row[2:] == ["□"] * 6  # one box per code, the don't-know code included
        for node in item["path"]:
            assert node["label"][lang] in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_scale_table_marks_the_dont_know_code(shipped, lang):
    doc, page = raw(), Page(shipped[lang])
    dk = doc["scale"]["missing"][0]
    assert page.row(str(dk))[1] == doc["scale"]["labels"][dk][lang]
    assert page.row(str(dk))[2] != page.row("1")[2]  # "not scored" vs "scored"
    header = next(r for r in page.rows if r[:1] == (["题号"] if lang == "zh" else ["No."]) and len(r) == 8)
    assert header[7] == f"{dk}{doc['scale']['labels'][dk][lang]}"


def test_routing_is_shown(shipped):
    doc, page = raw(), Page(shipped["zh"])
    labels = {g["id"]: g["label"]["zh"] for g in doc["groups"]["levels"]}
    items = raw_items(doc)
    for g in group_ids(doc):
        skipped = [i["id"] for i in items if g not in asked_of(doc, i)]
        row = page.row(labels[g])
        assert row[1:] == [g, str(len(items) - len(skipped)), " ".join(skipped) or "无"]
    for item in items:
        cell = page.row(item["id"])[1]
        if "groups" in item:
            assert cell.endswith("仅限以下受访者回答：" + "、".join(labels[g] for g in item["groups"]))
        else:
            assert "仅限" not in cell
    group_question = page.row("A1")[1]
    assert all(f"□ {labels[g]} ({g})" in group_question for g in group_ids(doc))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_self_contained_and_script_free(shipped, lang):
    document = shipped[lang]
    assert external_references(document) == []
    assert not any(tag == "script" for tag, _ in Page(document).tags)
    assert "@font-face" in document and "data:font/woff2;base64," in document  # the CJK subset is embedded
    assert "@media print" in document


def test_intro_is_optional(tmp_path):
    text = SHIPPED.read_text(encoding="utf-8")
    start = text.index("\nintro:")
    end = text.index("\nscale:")
    (tmp_path / "q.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    q = load_questionnaire(tmp_path / "q.yaml")
    assert q.intro is None
    headings = [r for r in Page(questionnaire_html(q, "en")).text if r in ("Introduction", "How to answer")]
    assert headings == ["How to answer"]


EVIL_IMG = "<img src=x onerror=alert(1)>"
EVIL_B = "<b onmouseover=alert(2)>hover</b>"
INJECTED = f"""\
id: injected
version: "1"
title: {{zh: "标题{EVIL_IMG}", en: "Title{EVIL_B}"}}
intro: {{zh: "说明{EVIL_B}\\n\\n第二段{EVIL_IMG}", en: "Intro{EVIL_IMG}"}}
scale: {{min: 1, max: 3, missing: [9], labels: {{1: {{zh: "差{EVIL_IMG}"}}, 9: {{zh: "不知道{EVIL_B}"}}}}}}
groups:
  column: group
  levels:
    - {{id: "g<i>", label: {{zh: "组{EVIL_B}", en: "Group{EVIL_IMG}"}}}}
    - {{id: other, label: {{zh: 其他}}}}
indicators:
  - id: "n\\"><script>alert(3)</script>"
    label: {{zh: "指标{EVIL_IMG}", en: "Indicator{EVIL_B}"}}
    children:
      - id: n2
        label: {{zh: "子指标{EVIL_B}"}}
        items:
          - {{id: x1, text: {{zh: "题目{EVIL_IMG}", en: "Question{EVIL_B}"}}, groups: ["g<i>"]}}
          - {{id: x2, text: {{zh: "题目二{EVIL_B}"}}}}
"""


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    path = tmp_path_factory.mktemp("injected") / "q.yaml"
    path.write_text(INJECTED, encoding="utf-8")
    q = load_questionnaire(path)
    return {lang: questionnaire_html(q, lang, units=[f"区{EVIL_IMG}"]) for lang in ("zh", "en")}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_user_text_is_shown_not_run(injected, lang):
    page = Page(injected[lang])
    assert not [t for t, _ in page.tags if t in ("img", "script", "i")]
    assert not [t for t, attrs in page.tags if t == "b"]
    assert not [(t, a) for t, attrs in page.tags for a, _ in attrs if a.lower().startswith("on")]
    text = page.body_text
    expected = {"zh": [f"说明{EVIL_B}", f"第二段{EVIL_IMG}", f"差{EVIL_IMG}", f"不知道{EVIL_B}", f"组{EVIL_B}",
                       f"指标{EVIL_IMG}", f"子指标{EVIL_B}", f"题目{EVIL_IMG}", f"题目二{EVIL_B}", f"区{EVIL_IMG}",
                       "仅限以下受访者回答：" + f"组{EVIL_B}", "g<i>"],
                "en": [f"Intro{EVIL_IMG}", f"Group{EVIL_IMG}", f"Indicator{EVIL_B}", f"Question{EVIL_B}",
                       f"题目二{EVIL_B}", f"区{EVIL_IMG}", "Only for: " + f"Group{EVIL_IMG}"]}[lang]
    for shown in expected:
        assert shown in text, shown
    assert page.title == {"zh": f"标题{EVIL_IMG}", "en": f"Title{EVIL_B}"}[lang]


def test_injected_page_in_a_browser(injected, tmp_path):
    """Chromium loads the page: nothing fetched, no error, Chinese drawn with the embedded font."""
    path = tmp_path / "questionnaire_zh.html"
    path.write_text(injected["zh"], encoding="utf-8")
    result = check_in_browser(path, screenshot_path=tmp_path / "q.png")
    assert result["external_requests"] == [] and result["console_errors"] == []
    assert cjk_font_problems(result) == []
