"""Demonstration zones as the plan runs them (issue 13): trial, acceptance, title, renewal, rectification,
withdrawal.

* :func:`load_register` -- the zone register (YAML, or CSV with a YAML header) with the plan's durations in its
  header, validated against the plan's rules (:data:`~surveykit.zones.timeline.RULES`).
* :func:`zone_status` -- where every unit stands in every year (one tidy table).
* :func:`zone_evaluation` / :func:`evaluation_table` -- what the year's acceptance scorecard means for a unit
  (acceptance or renewal recommendation, monitoring with a rectification warning, rectification progress, none).
* :func:`load_task_areas`, :func:`load_key_tasks`, :func:`key_task_completion` -- the plan's key tasks.
* :data:`TERMS` -- the zh/en wording of every code, keyed like the reports' translation table.

Formats: docs/CONTRACTS.md, section "Demonstration zones".
"""

from .evaluation import ZoneEvaluation, evaluation_table, zone_evaluation
from .model import ZoneEvent, ZoneRegister, ZoneRules
from .register import load_register, unit_ids
from .tasks import TaskArea, key_task_completion, load_key_tasks, load_task_areas
from .terms import EVENTS, STATUSES, TERMS, term
from .timeline import RULES, zone_status

__all__ = ["EVENTS", "RULES", "STATUSES", "TERMS", "TaskArea", "ZoneEvaluation", "ZoneEvent", "ZoneRegister",
           "ZoneRules", "evaluation_table", "key_task_completion", "load_key_tasks", "load_register",
           "load_task_areas", "term", "unit_ids", "zone_evaluation", "zone_status"]
