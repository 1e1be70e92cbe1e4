"""What the user reads, in words: titles name the region once (a questionnaire title that already starts with the
region's name is not prefixed with it again: a user study's "浙东省营商环境满意度调查" read "2026年浙东省浙东省营商环境…");
the answers not scored are called what the questionnaire calls them; a misspelt key is named as the file writes it."""

from __future__ import annotations

import pytest

from surveykit.report.i18n import Phrases, missing_words, words
from surveykit.spec.questionnaire import Label

SETTING = {"region": {"zh": "浙东省", "en": "Zhedong Province", "kind": {"zh": "省", "en": "province"}},
           "kind": {"zh": "县", "en": "county"}}


@pytest.mark.parametrize("lang, subject, city_title, index_title", [
    ("zh", "浙东省营商环境满意度调查", "2026年浙东省营商环境满意度调查：全省概览", "浙东省营商环境满意度调查评估报告"),
    ("zh", "营商环境满意度调查", "2026年浙东省营商环境满意度调查：全省概览", "浙东省营商环境满意度调查评估报告"),
    ("en", "Zhedong Province business survey", "Zhedong Province business survey 2026: overview of Zhedong Province",
     "Zhedong Province business survey: evaluation reports"),
    ("en", "Business survey", "Business survey 2026: overview of Zhedong Province",
     "Business survey, Zhedong Province: evaluation reports"),
])
def test_the_region_is_named_once(lang, subject, city_title, index_title):
    p = Phrases(lang, words(SETTING, lang, subject=subject))
    assert p.t("city.title", year=2026) == city_title
    assert p.t("index.title") == index_title


def test_the_unscored_answers_are_called_what_the_questionnaire_calls_them():
    labels = {1: Label(zh="1分", en="1"), 98: Label(zh="拒绝回答", en="Refused"), 99: Label(zh="不知道", en="Don't know")}
    assert missing_words(labels, (99, 98), "zh") == "不知道、拒绝回答"
    assert missing_words(labels, (99, 98), "en") == "Don't know / Refused"
    assert missing_words(labels, (97,), "zh") == "不了解" and missing_words({}, (), "en") == "don't know"


def test_an_unknown_key_is_named_as_the_file_writes_it(tmp_path):
    """A typo inside ``comparability: {2026: ...}`` is named ``comparability.2026.<key>`` (the file's own path,
    not the model's internal ``years[2026]``), and the message points at the documented formats."""
    from surveykit.errors import InputError, SpecError
    from surveykit.spec.study import load_study

    (tmp_path / "study.yaml").write_text(
        "questionnaire: q.yaml\nunit_column: unit\ndesign: {weights: w}\nyears:\n  2026: {responses: r.csv}\n"
        "comparability:\n  2026: {renamd: {a: b}}\n", encoding="utf-8")
    with pytest.raises((SpecError, InputError)) as err:
        load_study(tmp_path / "study.yaml")
    text = str(err.value)
    assert "key 'comparability.2026.renamd'" in text and "docs/CONTRACTS.md" in text, text
