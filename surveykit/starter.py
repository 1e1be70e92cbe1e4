"""``surveykit init DIR``: a new study folder that renders as it is, for the evaluator to replace piece by piece.

It holds a commented ``study.yaml``, a copy of the default questionnaire (and its recommendations), the quality
rules, the protection-level framework and targets, a units list with three example units, and small synthetic
response files for two years (so that year-on-year changes show) with their population margins. Nothing in it is
real; every file says what to replace it with.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .demo.study import SYNTH_COMPARISONS, SYNTH_DESIGN, write_margins
from .errors import InputError
from .resources import DEFAULT_QUESTIONNAIRE, default_file
from .spec.questionnaire import load_questionnaire
from .synth import write_demo
from .units import Unit

EXAMPLE_UNITS = (Unit("east", "东区", "East District"), Unit("west", "西区", "West District"),
                 Unit("north", "北区", "North District"))
YEARS = (2025, 2026)

STUDY = """\
# The study file: the whole setting of one evaluation (format: docs/CONTRACTS.md, "Study file").
# Written by `surveykit init` with EXAMPLE data: replace each piece with your own, then run
#     surveykit report --study study.yaml --year 2026 --district all
# Paths are relative to this file.

# The region evaluated and what its units are called (used by every sentence of the reports).
region: {zh: 示例市, en: Example City, kind: {zh: 市, en: city}}
unit_kind: {zh: 区, en: district}      # e.g. {zh: 县, en: county}; a unit may have its own kind in units.csv

# The reporting units: id (ASCII, the name of the unit's report file), zh, en. Remove this line to use the values
# found in the unit column instead.
units: units.csv

# The questionnaire (contract 1): edit the copy here, or point to your own.
questionnaire: questionnaire.yaml

# The column of the response files that holds the unit (its id, Chinese or English name).
unit_column: district

# The sampling design (the arguments of sk.Design): weights, strata, PSUs per stage, population sizes per stage.
""" + SYNTH_DESIGN + """
# One entry per survey year: the response file (CSV, XLSX or SAV) and, optionally, population margins to rake to.
years:
  2025: {responses: responses_2025.csv, rake: margins_2025.csv}
  2026: {responses: responses_2026.csv, rake: margins_2026.csv}

# Optional subgroup comparisons the policy asks for (e.g. foreign-funded vs domestic firms among rights holders).
comparisons:
""" + SYNTH_COMPARISONS + """
# How responses are checked: the rules file (edit the copy), other spellings of the units (optional).
quality:
  rules: quality_rules.yaml

results: results                 # where the computed statistics are stored
min_n: 30                        # estimates from fewer respondents are suppressed in every output
max_rse: 0.30                    # ... and those with a relative standard error above 30%

# The protection-level composite (contract 5) needs administrative indicator values; uncomment when you have them:
# protection:
#   indicators: indicators.csv   # columns unit, year, indicator, value
#   framework: protection_level.yaml
#   targets: zone_targets.yaml
"""

UNITS_CSV = """\
id,zh,en,kind_zh,kind_en
east,东区,East District,,
west,西区,West District,,
north,北区,North District,,
"""

COPIES = {"questionnaire.yaml": DEFAULT_QUESTIONNAIRE, "recommendations.yaml": "recommendations.yaml",
          "quality_rules.yaml": "quality_rules.yaml", "protection_level.yaml": "protection_level.yaml",
          "zone_targets.yaml": "demo_zone_targets.yaml"}


def write_starter_study(folder: str | Path, *, seed: int = 20251123) -> Path:
    """Write a new study folder (module docstring); returns the study file. Refuses a folder that is not empty."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError("the folder exists and is not empty; `surveykit init` writes a new study folder", file=folder)
    folder.mkdir(parents=True, exist_ok=True)
    for target, source in COPIES.items():
        shutil.copyfile(default_file(source), folder / target)
    (folder / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    q = load_questionnaire(folder / "questionnaire.yaml")
    paths = write_demo(q, folder, years=YEARS, seed=seed, target_n=1500, units=EXAMPLE_UNITS)
    for y in YEARS:
        write_margins(folder / f"population_{y}.csv", folder / f"margins_{y}.csv")
        for stem in (f"truth_items_{y}", f"truth_scores_{y}", f"population_{y}"):
            paths[stem].unlink()
    (folder / "study.yaml").write_text(STUDY, encoding="utf-8")
    return folder / "study.yaml"
