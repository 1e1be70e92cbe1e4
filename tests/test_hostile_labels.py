"""Every label a user writes is data, not markup (issue 10, item 1): a study whose every label -- region, units,
questionnaire title, band, indicator, item, group, scale and comparison labels, recommendation texts, the
protection framework's dimensions and indicators, the targets -- carries markup, rendered end to end; no tag or
event handler from a label survives on any page, and the label is shown as text."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

import surveykit as sk
from surveykit.cli import main
from surveykit.synth import generate_year
from surveykit.units import Unit

PAYLOADS = ['<img src="data:," onerror="alert(1)">', "<b onmouseover=alert(2)>bold</b>",
            "<details open ontoggle=alert(3)>", "<svg onload=alert(4)>", "<style>body{display:none}</style>",
            "[click](javascript:alert(5))", "**$x$** `code` # h"]


def bad(k: int, text: str) -> str:
    return f"{text}{PAYLOADS[k % len(PAYLOADS)]}"


def yaml_text(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def questionnaire() -> str:
    lab = lambda k, zh, en: f"{{zh: {yaml_text(bad(k, zh))}, en: {yaml_text(bad(k + 1, en))}}}"  # noqa: E731
    lines = ['id: hostile', 'version: "1"', f"title: {lab(0, '调查', 'Survey')}",
             "scale:", "  min: 1", "  max: 5", "  missing: [9]", "  labels:",
             f"    4: {lab(1, '满意', 'Satisfied')}", f"    5: {lab(2, '很满意', 'Very')}",
             f"    9: {lab(3, '不知道', 'DK')}", "top_box: [4, 5]", "recommendations: rec.yaml",
             "roles: {outcome: b}",
             "groups:", "  column: group", "  levels:",
             f"    - {{id: holder, label: {lab(4, '企业', 'Firms')}, weight: 0.5}}",
             f"    - {{id: public, label: {lab(5, '公众', 'Public')}, weight: 0.5}}",
             "bands:", f"  - {{min: 80, label: {lab(6, '好', 'Good')}}}", f"  - {{min: 0, label: {lab(0, '差', 'Poor')}}}",
             "indicators:"]
    k = 0
    for a, n in (("a", 1), ("b", 2), ("c", 3)):
        lines += [f"  - id: {a}", f"    label: {lab(n, '维度' + a, 'Dim ' + a)}", "    children:"]
        for b in (1, 2):
            lines += [f"      - id: {a}{b}", f"        label: {lab(n + b, '方面', 'Aspect')}", "        items:"]
            for _ in (1, 2):
                k += 1
                lines += [f"          - id: x{k:02d}", f"            text: {lab(k, '题目', 'Q')}"]
    return "\n".join(lines) + "\n"


FRAMEWORK = """\
id: fw
version: "1"
title: {zh: %(t)s, en: %(t)s}
dimensions:
  - id: d1
    label: {zh: %(d1)s, en: %(d1)s}
    indicators:
      - {id: i1, label: {zh: %(i1)s, en: %(i1)s}, unit: "%%"}
      - {id: satisfaction_index, label: {zh: %(i2)s, en: %(i2)s}}
  - id: d2
    label: {zh: %(d2)s, en: %(d2)s}
    indicators:
      - {id: i3, label: {zh: %(i3)s, en: %(i3)s}, direction: -1}
"""

TARGETS = """\
id: tg
version: "1"
targets:
  - {id: t1, label: {zh: %(a)s, en: %(a)s}, indicator: satisfaction_index, source: survey, threshold: 70}
  - {id: t2, label: {zh: %(b)s, en: %(b)s}, indicator: i1, threshold: city_average}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    (base / "q.yaml").write_text(questionnaire(), encoding="utf-8")
    (base / "rec.yaml").write_text("recommendations:\n" + "".join(
        f"  {n}: {{zh: {yaml_text(bad(k, '建议'))}, en: {yaml_text(bad(k + 2, 'Advice'))}}}\n"
        for k, n in enumerate(["a", "b", "c", "a1", "a2", "b1", "b2", "c1", "c2"])), encoding="utf-8")
    q = sk.load_questionnaire(base / "q.yaml")
    units = (Unit("u1", bad(0, "甲区"), bad(1, "East")), Unit("u2", bad(2, "乙区"), bad(3, "West")),
             Unit("u3", bad(4, "丙区"), bad(5, "North")))
    for y in (2025, 2026):
        r = generate_year(q, y, seed=3, target_n=1400, units=units).responses
        r["district"] = r["district"].map({u.zh: u.id for u in units})
        r["owner"] = r["ownership"].fillna("none")
        r.to_csv(base / f"r{y}.csv", index=False, encoding="utf-8")
    sub = {k: yaml_text(bad(n, k)) for n, k in enumerate(["t", "d1", "i1", "i2", "d2", "i3"])}
    (base / "fw.yaml").write_text(FRAMEWORK % sub, encoding="utf-8")
    (base / "tg.yaml").write_text(TARGETS % {"a": yaml_text(bad(1, "目标甲")), "b": yaml_text(bad(3, "目标乙"))},
                                  encoding="utf-8")
    pd.DataFrame([dict(unit=u.id, year=y, indicator=i, value=v + k)
                  for k, u in enumerate(units) for y in (2025, 2026) for i, v in (("i1", 50.0), ("i3", 9.0))]
                 ).to_csv(base / "values.csv", index=False)
    units_yaml = "\n".join(f"  - {{id: {u.id}, zh: {yaml_text(u.zh)}, en: {yaml_text(u.en)}}}" for u in units)
    (base / "study.yaml").write_text(f"""\
region: {{zh: {yaml_text(bad(6, '某省'))}, en: {yaml_text(bad(0, 'Province'))}, kind: {{zh: 省, en: province}}}}
unit_kind: {{zh: {yaml_text(bad(1, '区'))}, en: {yaml_text(bad(2, 'area'))}}}
units:
{units_yaml}
questionnaire: q.yaml
unit_column: district
design: {{weights: weight, strata: district, psu: street}}
years: {{2025: {{responses: r2025.csv}}, 2026: {{responses: r2026.csv}}}}
comparisons:
  - id: own
    group: holder
    column: owner
    a: {{levels: [foreign, jv], label: {{zh: {yaml_text(bad(3, '外资'))}, en: {yaml_text(bad(4, 'Foreign'))}}}}}
    b: {{levels: [state, private], label: {{zh: {yaml_text(bad(5, '内资'))}, en: {yaml_text(bad(6, 'Domestic'))}}}}}
    title: {{zh: {yaml_text(bad(0, '同等保护'))}, en: {yaml_text(bad(1, 'Equal'))}}}
protection: {{indicators: values.csv, framework: fw.yaml, targets: tg.yaml}}
results: store
""", encoding="utf-8")
    codes = [main(["report", "--study", str(base / "study.yaml"), "--year", "2026", "--out", str(base / lang),
                   "--lang", lang, "--quiet"]) for lang in ("zh", "en")]
    pages = {str(p.relative_to(base)): p.read_text(encoding="utf-8") for p in sorted(base.glob("*/**/*.html"))
             if "store" not in p.parts}
    return {"codes": codes, "pages": pages}


class Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.bad, self.text, self.head = [], [], True

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.head = False
        if any(k.startswith("on") for k in a):
            self.bad.append((tag, a))
        if tag in ("script", "iframe", "object", "embed", "details", "svg", "b", "code", "h1") and not (
                tag == "h1" and a.get("class") == "sk-title"):
            self.bad.append((tag, a))
        if tag == "img" and not str(a.get("src", "")).startswith("data:image/png;base64,"):
            self.bad.append((tag, a))
        if tag == "a" and not re.fullmatch(r"(\d{4}/)?[a-z0-9_-]+\.html", str(a.get("href", ""))):
            self.bad.append((tag, a))
        if tag in ("style", "link", "meta", "base") and not self.head:
            self.bad.append((tag, a))

    def handle_data(self, data):
        self.text.append(data)


def test_every_page_renders(site):
    assert site["codes"] == [0, 0]
    names = sorted(site["pages"])
    assert {"zh/index.html", "zh/2026/overview.html", "zh/2026/u1.html", "en/2026/u3.html"} <= set(names)


def test_no_tag_or_handler_from_a_label_survives(site):
    for name, page in site["pages"].items():
        parser = Tags()
        parser.feed(page)
        assert parser.bad == [], (name, parser.bad[:3])


def test_the_labels_are_shown_as_text(site):
    zh, en = site["pages"]["zh/2026/u1.html"], site["pages"]["en/2026/u1.html"]
    for page in (zh, en):
        parser = Tags()
        parser.feed(page)
        text = html.unescape("".join(parser.text))
        for payload in ('<img src="data:," onerror="alert(1)">', "<b onmouseover=alert(2)>bold</b>",
                        "<svg onload=alert(4)>", "[click](javascript:alert(5))"):
            assert payload in text, payload
    parser = Tags()
    parser.feed(zh)
    assert '甲区<img src="data:," onerror="alert(1)">' in "".join(parser.text)   # the unit's name, as written


def test_a_content_security_policy_forbids_scripts(site):
    for name, page in site["pages"].items():
        m = re.search(r'<meta content="([^"]+)" http-equiv="Content-Security-Policy"', page) or \
            re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)"', page)
        assert m and "default-src 'none'" in m.group(1) and "script-src" not in m.group(1), name
