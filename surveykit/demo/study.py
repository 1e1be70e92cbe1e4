"""Write the demo study folder -- synthetic responses, margins, protection inputs and the study file -- exactly as
an evaluator's own study folder would look, so that the demo exercises the same path as any evaluation.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from ..io.writers import write_csv
from ..resources import DEFAULT_QUESTIONNAIRE, default_file, demo_file
from ..spec.questionnaire import load_questionnaire
from ..synth import write_demo
from .protection import write_protection_demo

DEMO_YEARS = (2025, 2026)
DEMO_SEED = 20251123

# The layout of the synthetic response files (surveykit.synth): their sampling design and the declared comparison
# they support -- shared by the demo study and the study `surveykit init` writes.
SYNTH_DESIGN = """\
design:
  weights: weight
  strata: district
  psu: [street, respondent_id]   # stage 1: streets/towns; stage 2: respondents
  fpc: [n_streets, n_frame]      # population sizes per stage
"""
SYNTH_COMPARISONS = """\
  - id: ownership
    group: holder
    column: ownership
    a: {levels: [foreign, jv], label: {zh: 外资/合资企业, en: Foreign-funded firms}}
    b: {levels: [state, private], label: {zh: 内资企业, en: Domestic firms}}
    title: {zh: 按企业所有制（权利人）：同等保护, en: "Rights holders by ownership: equal protection"}
"""

STUDY_HEAD = """\
# Study file written by `surveykit demo` -- the whole setting of the demo evaluation (format: docs/CONTRACTS.md,
# "Study file"). Paths are relative to this file. The data are synthetic: nothing here is real.
region: {zh: 上海市, en: Shanghai, kind: {zh: 市, en: city}}
unit_kind: {zh: 区, en: district}
units: units.csv                 # id (file names), zh, en; 临港新片区 has its own kind (片区)
questionnaire: %(questionnaire)s
unit_column: district
""" + SYNTH_DESIGN.replace("%", "%%") + """\
years:
%(years)s
comparisons:                     # equal protection (同等保护): foreign-funded vs domestic rights holders
""" + SYNTH_COMPARISONS.replace("%", "%%") + """\
quality:
  aliases: unit_aliases.yaml     # other spellings of the districts in response exports
results: results
min_n: 30
plan: {half_width: 1.5, allocation: power, valid_rate: 0.9, min_per_group: 30}   # next year's sample (overview)
"""

PROTECTION = """\
protection:                      # the protection-level composite (contract 5)
  indicators: protection/indicators.csv
  cases: protection/cases
zones:                           # demonstration zones: the register of events and the key tasks of each zone
  register: zones.yaml
  key_tasks: key_tasks.csv
"""


def write_margins(population_csv: Path, out: Path, unit_column: str = "district") -> Path:
    """Raking margins (variable, level, total) from the demo's population counts per unit and group."""
    pop = pd.read_csv(population_csv, encoding="utf-8-sig")
    parts = [pop.groupby(col, sort=False)["count"].sum().reset_index()
             .rename(columns={col: "level", "count": "total"}).assign(variable=col)
             for col in (unit_column, "group")]
    write_csv(pd.concat(parts)[["variable", "level", "total"]], out)
    return out


def write_demo_study(data_dir: str | Path, *, years=DEMO_YEARS, seed: int = DEMO_SEED,
                     questionnaire: str | Path | None = None, protection: bool = True) -> Path:
    """Generate the demo's inputs in ``data_dir`` and write its ``study.yaml``; returns the study file's path.

    Writes ``responses_<year>.csv`` (with ``truth_*``/``population_*`` files: the synthetic truth), ``margins_<year>.csv``,
    ``units.csv`` and ``unit_aliases.yaml`` (the demo's setting), and, with ``protection``, the protection-level
    inputs under ``protection/`` and the demonstration zones' register and key tasks.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    qpath = Path(questionnaire) if questionnaire else default_file(DEFAULT_QUESTIONNAIRE)
    write_demo(load_questionnaire(qpath), data_dir, years=tuple(years), seed=seed)
    for y in years:
        write_margins(data_dir / f"population_{y}.csv", data_dir / f"margins_{y}.csv")
    for name in ("units.csv", "unit_aliases.yaml"):
        shutil.copyfile(demo_file(f"shanghai/{name}"), data_dir / name)
    text = STUDY_HEAD % {"questionnaire": os.path.relpath(qpath.resolve(), data_dir.resolve()),
                         "years": "\n".join(f"  {y}: {{responses: responses_{y}.csv, rake: margins_{y}.csv}}"
                                            for y in years)}
    if protection:
        write_protection_demo(data_dir / "protection", tuple(years), seed)
        for name in ("zones.yaml", "key_tasks.csv"):
            shutil.copyfile(demo_file(f"shanghai/{name}"), data_dir / name)
        text += PROTECTION
    path = data_dir / "study.yaml"
    path.write_text(text, encoding="utf-8")
    return path
