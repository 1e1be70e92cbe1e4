"""Titles name the region once: a questionnaire title that already starts with the region's name is not prefixed
with it again (a user study: "浙东省营商环境满意度调查" read "2026年浙东省浙东省营商环境…")."""

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
