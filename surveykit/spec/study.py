"""The study file: which questionnaire, which response file per year, and the sampling design.

An evaluator's whole setting lives in one small YAML file (``surveykit demo`` writes one for the demo data)::

    questionnaire: ../../questionnaires/ip_protection_satisfaction.yaml   # paths are relative to this file
    unit_column: district            # column holding the reporting unit (Chinese name, e.g. 浦东新区)
    design:                          # the arguments of sk.Design
      weights: weight
      strata: district
      psu: [street, respondent_id]   # stage 1 streets, stage 2 respondents
      fpc: [n_streets, n_frame]      # population sizes per stage
      lonely_psu: fail
    years:
      2025: {responses: responses_2025.csv, rake: margins_2025.csv}   # rake: optional population margins
      2026: {responses: responses_2026.csv, rake: margins_2026.csv}
    results: ../results              # where the results store is written
    min_n: 30                        # estimates from fewer respondents are suppressed in reports
    max_rse: 0.30                    # ... and those with a relative standard error above 30%
    protection:                      # optional: the protection-level composite (contract 5)
      indicators: protection/indicators.csv
      cases: protection/cases
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .yamlio import read_yaml, validate_model

_STRICT = ConfigDict(extra="forbid", frozen=True)


class DesignSpec(BaseModel):
    model_config = _STRICT
    weights: str | None = None
    strata: str | None = None
    psu: str | list[str] | None = None
    fpc: str | list[str] | None = None
    lonely_psu: str = "fail"

    def kwargs(self) -> dict:
        return self.model_dump()


class YearSpec(BaseModel):
    model_config = _STRICT
    responses: str
    sheet: str | None = None
    rake: str | None = None          # population margins (variable, level, total) to rake the weights to


class ProtectionSpec(BaseModel):
    """Inputs of the protection-level composite (contract 5): case tables and the long indicator values."""

    model_config = _STRICT
    indicators: str                  # long CSV: unit, year, indicator, value
    cases: str | None = None         # folder (or file) of 行政保护案件统计表
    framework: str | None = None     # default: questionnaires/protection_level.yaml
    targets: str | None = None       # default: questionnaires/demo_zone_targets.yaml


class QualitySpec(BaseModel):
    """How responses are read and checked (surveykit.quality.prepare); every key optional."""

    model_config = _STRICT
    rules: str | None = None         # default: questionnaires/quality_rules.yaml
    mapping: str | None = None       # explicit column / label mapping YAML (surveykit map --out)
    aliases: str | None = None       # default: questionnaires/unit_aliases.yaml
    id_column: str = "respondent_id"
    duration_column: str = "duration_sec"


class Study(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    questionnaire: str
    unit_column: str = "district"
    design: DesignSpec = DesignSpec()
    years: dict[int, YearSpec] = Field(min_length=1)
    results: str = "results"
    min_n: int = Field(default=30, ge=1)
    max_rse: float | None = Field(default=0.30, gt=0)   # and estimates with a larger relative SE
    protection: ProtectionSpec | None = None
    quality: QualitySpec = QualitySpec()
    base: Path = Path(".")

    @field_validator("years", mode="before")
    @classmethod
    def _int_years(cls, v):
        if isinstance(v, dict):
            return {int(k) if str(k).isdigit() else k: x for k, x in v.items()}
        return v

    def path(self, rel: str) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else (self.base / p).resolve()

    @property
    def questionnaire_path(self) -> Path:
        return self.path(self.questionnaire)

    @property
    def results_dir(self) -> Path:
        return self.path(self.results)

    def responses_path(self, year: int) -> Path:
        return self.path(self.years[year].responses)


def load_study(path: str | Path) -> Study:
    """Load a study YAML file; paths inside it are relative to the file."""
    path = Path(path)
    data = read_yaml(path)
    if isinstance(data, dict):
        data = {**data, "base": path.resolve().parent}
    return validate_model(Study, data, path)  # type: ignore[return-value]
