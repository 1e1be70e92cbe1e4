"""The codes of the demonstration-zone module and their wording in Chinese and English (the plan's terms).

Functions return codes, never sentences. :data:`TERMS` is keyed like the reports' translation table
(``surveykit/report/i18n.py``: ``key -> {"zh": ..., "en": ...}``) so it can be merged into it as it is.
The keys are ``zone.<family>.<code>`` with family ``status``, ``event``, ``next``, ``kind``, ``verdict``, ``flag``,
``task`` (a key task's status) and ``area_status``; ``zone.stage_year`` is a format string (``k``, ``n``).
"""

from __future__ import annotations

STATUSES = ("not_zone", "applicant", "trial", "acceptance_review", "zone", "renewal_review", "rectification",
            "expired", "withdrawn")
EVENTS = ("applied", "not_selected", "trial_started", "accepted", "not_accepted", "renewed", "not_renewed",
          "rectification_ordered", "rectification_lifted", "withdrawn")
KINDS = ("acceptance", "renewal", "monitoring", "rectification", "none")
VERDICTS = ("pass", "not_decisive", "fail", "insufficient_data", "no_target_missed", "targets_missed",
            "rectification_warning", "rectified", "partly_rectified", "not_rectified", "no_missed_targets")
FLAGS = ("reason", "missed", "missed_twice", "rectified", "still_missed")
TASK_STATUSES = ("not_started", "in_progress", "done")
AREA_STATUSES = ("not_reported", "not_started", "in_progress", "done")


def _t(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


TERMS: dict[str, dict[str, str]] = {
    # where a unit stands in a year (zone_status)
    "zone.status.not_zone": _t("非示范区", "not a zone"),
    "zone.status.applicant": _t("已申报", "applicant"),
    "zone.status.trial": _t("试点区", "trial zone"),
    "zone.status.acceptance_review": _t("验收评审", "under acceptance review"),
    "zone.status.zone": _t("示范区", "demonstration zone"),
    "zone.status.renewal_review": _t("续展评审", "up for renewal"),
    "zone.status.rectification": _t("责令整改", "under rectification"),
    "zone.status.expired": _t("称号期满", "title expired"),
    "zone.status.withdrawn": _t("取消资格", "withdrawn"),
    "zone.stage_year": _t("第{k}年（共{n}年）", "year {k} of {n}"),
    # the register's events
    "zone.event.applied": _t("申报", "applied"),
    "zone.event.not_selected": _t("未入选", "not selected"),
    "zone.event.trial_started": _t("启动试点", "trial started"),
    "zone.event.accepted": _t("通过验收", "accepted"),
    "zone.event.not_accepted": _t("未通过验收", "not accepted"),
    "zone.event.renewed": _t("准予续展", "title renewed"),
    "zone.event.not_renewed": _t("不予续展", "not renewed"),
    "zone.event.rectification_ordered": _t("责令整改", "rectification ordered"),
    "zone.event.rectification_lifted": _t("整改完成", "rectification lifted"),
    "zone.event.withdrawn": _t("取消资格", "withdrawn"),
    # the next milestone (a status code, or this)
    "zone.next.decision_due": _t("待作出决定", "decision due"),
    # what the year's evaluation is for the unit (zone_evaluation)
    "zone.kind.acceptance": _t("验收评审", "acceptance review"),
    "zone.kind.renewal": _t("续展评审", "renewal review"),
    "zone.kind.monitoring": _t("年度监测", "annual monitoring"),
    "zone.kind.rectification": _t("整改进展", "rectification progress"),
    "zone.kind.none": _t("不适用", "not applicable"),
    "zone.verdict.pass": _t("建议通过", "recommend: pass"),
    "zone.verdict.not_decisive": _t("尚不能确定（置信区间跨越阈值）", "not decisive (a confidence interval straddles "
                                                              "its threshold)"),
    "zone.verdict.fail": _t("建议不通过", "recommend: fail"),
    "zone.verdict.insufficient_data": _t("数据不足", "insufficient data"),
    "zone.verdict.no_target_missed": _t("无未达标指标", "no target missed"),
    "zone.verdict.targets_missed": _t("部分指标未达标", "targets missed"),
    "zone.verdict.rectification_warning": _t("整改预警：指标连续两年未达标", "rectification warning: targets missed "
                                                                     "two years running"),
    "zone.verdict.rectified": _t("已完成整改", "rectified"),
    "zone.verdict.partly_rectified": _t("部分完成整改", "partly rectified"),
    "zone.verdict.not_rectified": _t("未完成整改", "not rectified"),
    "zone.verdict.no_missed_targets": _t("整改事项不涉及验收指标", "no missed target to track"),
    "zone.flag.reason": _t("未通过或不确定", "failed or not decisive"),
    "zone.flag.missed": _t("未达标", "missed"),
    "zone.flag.missed_twice": _t("连续两年未达标", "missed two years running"),
    "zone.flag.rectified": _t("已达标", "now met"),
    "zone.flag.still_missed": _t("仍未达标", "still missed"),
    # key tasks
    "zone.task.not_started": _t("未启动", "not started"),
    "zone.task.in_progress": _t("推进中", "in progress"),
    "zone.task.done": _t("已完成", "done"),
    "zone.area_status.not_reported": _t("未报告", "not reported"),
    "zone.area_status.not_started": _t("未启动", "not started"),
    "zone.area_status.in_progress": _t("推进中", "in progress"),
    "zone.area_status.done": _t("已完成", "done"),
}


def term(family: str, code: str, lang: str = "zh") -> str:
    """The wording of a code, e.g. ``term("status", "trial", "en")`` -> ``"trial zone"``."""
    return TERMS[f"zone.{family}.{code}"][lang]
