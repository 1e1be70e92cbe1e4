"""The one translation table of the reports: every label and sentence, in Chinese and English -- the data file
``phrases.yaml`` beside this module (text for translators, not code), read once at import.

Sentences name the evaluation's own region and units through placeholders filled from the study's setting (recorded
in the results store's manifest), never literally: ``{region}`` (某市 / Some City), ``{whole}`` (全市 / Some City:
the region as a reference, "above the city"), ``{kind}``/``{kinds}`` (区 / district, districts: what the units are),
``{Kind}``/``{Kinds}`` (capitalised in English), ``{self}`` (本区 / this district: the unit a report is about),
``{subject}`` (the questionnaire's title).

:class:`Phrases` binds a language and those words: ``p.t(key, **values)`` gives plain text (table cells, chart
labels: escaped where they meet HTML by :func:`surveykit.report.tables.html_table`), ``p.md(key, **values)`` gives
Markdown with every value escaped by :func:`surveykit.report.safe.escape` (labels from user files can never become
markup). A missing key or language is a programming error (KeyError), caught by the tests, which render every key
in both languages.
"""

from __future__ import annotations

from importlib.resources import files

import yaml

from ..units import Words
from ..zones.terms import TERMS as ZONE_TERMS
from .safe import escape


def read_phrases(name: str = "phrases.yaml") -> dict[str, dict[str, str]]:
    """The phrase table shipped with surveykit: ``key: {zh: ..., en: ...}``, both languages, text only."""
    table = yaml.safe_load(files("surveykit.report").joinpath(name).read_text(encoding="utf-8"))
    for key, value in table.items():
        if not (isinstance(value, dict) and set(value) == {"zh", "en"}
                and all(isinstance(x, str) for x in value.values())):
            raise ValueError(f"{name}: phrase '{key}' must have exactly zh and en texts")
    return table


TEXT: dict[str, dict[str, str]] = read_phrases()

# the demonstration zones' vocabulary lives beside their codes (surveykit.zones.terms), keyed like this table
assert not set(TEXT) & set(ZONE_TERMS)
TEXT.update(ZONE_TERMS)

ZH_NUMERALS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三", "十四", "十五"]


def t(key: str, lang: str = "zh", **values) -> str:
    """The sentence ``key`` in ``lang`` as plain text, formatted with ``values``."""
    return TEXT[key][lang].format(**values)


def fmt(x: float, digits: int = 2) -> str:
    """Scores are reported with two decimals (百分制, two decimals); NaN as an en dash."""
    return "–" if x != x else f"{x:.{digits}f}"


def words(setting: dict, lang: str, unit_kind: dict | None = None, subject: str = "") -> dict[str, str]:
    """The placeholders that name the region and its units, from a results store's ``setting``; ``subject`` is the
    questionnaire's title, named with the region once (a title that already names the region is not prefixed)."""
    r, k = setting["region"], setting.get("kind") or {"zh": "单位", "en": "unit"}
    own = unit_kind or k
    if lang == "en":
        plural = k.get("en_plural") or _plural(k["en"])
        named = r["en"].casefold() in subject.casefold()
        return {"region": r["en"], "whole": r["en"], "kind": k["en"], "kinds": plural, "Kind": _cap(k["en"]),
                "Kinds": _cap(plural), "self": f"this {own['en']}", "Self": f"This {own['en']}", "subject": subject,
                "region_subject": subject if named else f"{subject}, {r['en']}"}
    return {"region": r["zh"], "whole": "全" + r["kind"]["zh"], "kind": k["zh"], "kinds": k["zh"], "Kind": k["zh"],
            "Kinds": k["zh"], "self": "本" + own["zh"], "Self": "本" + own["zh"], "subject": subject,
            "region_subject": subject if r["zh"] in subject else r["zh"] + subject}


def missing_words(labels: dict, missing, lang: str) -> str:
    """What the answers that are not scored are called on the page: the questionnaire's labels of its missing codes
    (e.g. 不知道、拒绝回答), else 不了解 / don't know."""
    named = [labels[c].get(lang) for c in missing if c in labels]
    if not named:
        return "不了解" if lang == "zh" else "don't know"
    return ("、" if lang == "zh" else " / ").join(named)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _plural(word: str) -> str:
    return Words(word, word).get("en", plural=True) if word else word


class Phrases:
    """Sentences in one language with the study's words; headings numbered in order of appearance."""

    def __init__(self, lang: str, words: dict[str, str]):
        if lang not in ("zh", "en"):
            raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
        self.lang = lang
        self.words = dict(words)
        self._sections = 0

    def t(self, key: str, **values) -> str:
        """Plain text (to be escaped where it meets HTML: tables do it)."""
        return TEXT[key][self.lang].format(**{**self.words, **values})

    def md(self, key: str, **values) -> str:
        """Markdown: the template is ours, every value (the study's words included) is escaped."""
        return TEXT[key][self.lang].format(**{k: escape(v) for k, v in {**self.words, **values}.items()})

    def heading(self, key: str, level: int = 2, numbered: bool = True, **values) -> str:
        """A Markdown heading; level-2 headings are numbered 一、二、… / 1. 2. … in the order they are shown."""
        text = self.md(key, **values)
        if level == 2 and numbered:
            self._sections += 1
            n = self._sections
            text = (f"{ZH_NUMERALS[n - 1]}、" if self.lang == "zh" else f"{n}. ") + text
        return "#" * level + " " + text

    def title(self, text: str, level: int = 3) -> str:
        """A Markdown heading of a user-written title (escaped)."""
        return "#" * level + " " + escape(text)

    def join(self, parts) -> str:
        """Sentences joined as the language writes them."""
        parts = [p for p in parts if p]
        return "".join(parts) if self.lang == "zh" else " ".join(parts)

    def sep(self) -> str:
        return "、" if self.lang == "zh" else ", "
