"""The study file: the whole setting of one evaluation -- who is evaluated, with which questionnaire, from which
responses, with which design, and how the reports name things.

Nothing of one evaluation lives in code: the reporting units, the region's name and the words for its units, the
subgroup comparisons policy asks for, the questionnaire and the sampling design all come from here (``surveykit
init`` writes a commented example; ``surveykit demo`` writes the demo's)::

    region: {zh: 某市, en: Some City, kind: {zh: 市, en: city}}   # kind: what the region is (全市, "the city")
    unit_kind: {zh: 区, en: district}     # what the units are called (a unit may have its own `kind`)
    units: units.csv                      # or a list of {id, zh, en[, kind]}; without it: the values in the data
    questionnaire: questionnaire.yaml     # paths are relative to this file
    unit_column: district                 # column holding the reporting unit (its id, Chinese or English name)
    design:                               # the arguments of sk.Design
      weights: weight
      strata: district
      psu: [street, respondent_id]        # stage 1 streets, stage 2 respondents
      fpc: [n_streets, n_frame]           # population sizes per stage
      lonely_psu: fail
    years:
      2025: {responses: responses_2025.csv, rake: margins_2025.csv}   # rake: optional population margins
      2026: {responses: responses_2026.csv, rake: margins_2026.csv, questionnaire: questionnaire_2026.yaml}
    comparability:                        # optional: how a year's questionnaire relates to the previous year's
      2026:
        renamed: {q_new: q_old}           # id this year: id last year (same question, new id)
        changed: [q5]                     # wording or scale changed: not compared with last year
        reworded: [q7]                    # wording edited, meaning kept: compared, no warning
        groups: {renamed: {firm: holder}, new: [], dropped: []}   # respondent groups that changed
      index_on_common_items: false        # true: when the index is not comparable, also compare an index
                                          # recomputed for both years on the items both years share
    comparisons:                          # optional subgroup comparisons (e.g. equal protection)
      - id: ownership
        group: holder                     # the respondent group it applies to (optional: all respondents)
        column: ownership
        a: {levels: [foreign, jv], label: {zh: 外资/合资企业, en: Foreign-funded firms}}
        b: {levels: [state, private], label: {zh: 内资企业, en: Domestic firms}}
        title: {zh: 按企业所有制（权利人）：同等保护, en: "Rights holders by ownership: equal protection"}
    results: results                      # where the results store is written
    min_n: 30                             # estimates from fewer respondents are suppressed in every output
    max_rse: 0.30                         # ... and those with a relative standard error above 30%
    protection:                           # optional: the protection-level composite (contract 5)
      indicators: protection/indicators.csv
      cases: protection/cases
    zones:                                # optional: demonstration zones (needs `protection`: the scorecards)
      register: zones.yaml                # events per unit: applied, trial_started, accepted, ...
      key_tasks: key_tasks.csv            # optional: the six task areas' tasks per zone and year
    plan: {half_width: 1.5, allocation: power, valid_rate: 0.9}   # optional: next year's sample in the overview
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import InputError
from ..units import Unit, UnitSet, Words, check_unit_id
from .questionnaire import Label
from .yamlio import read_yaml, validate_model

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Name(BaseModel):
    """A name in both languages, both required."""

    model_config = _STRICT
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Noun(Name):
    """A noun in both languages, e.g. ``{zh: 区, en: district}``; ``en_plural`` when not regular."""

    en_plural: str | None = None

    def words(self) -> Words:
        return Words(self.zh, self.en, self.en_plural)


class Region(Name):
    """The region evaluated: its name and what it is (its ``kind`` gives 全市/全省 and "the city"/"the province")."""

    kind: Noun | None = None

    def kind_words(self) -> Words:
        if self.kind is not None:
            return self.kind.words()
        last = self.zh[-1]
        return Words(last, {"市": "city", "省": "province", "县": "county", "州": "prefecture"}.get(last, "region"))


class UnitEntry(BaseModel):
    model_config = _STRICT
    id: str
    zh: str = Field(min_length=1)
    en: str | None = None
    kind: Noun | None = None

    def unit(self, file=None) -> Unit:
        return Unit(check_unit_id(self.id, file=file), self.zh.strip(), (self.en or self.zh).strip(),
                    self.kind.words() if self.kind else None)


class Subset(BaseModel):
    model_config = _STRICT
    levels: tuple[str, ...] = Field(min_length=1)
    label: Label


class Comparison(BaseModel):
    """A declared subgroup comparison: respondents whose ``column`` is in ``a.levels`` against those in
    ``b.levels`` (within ``group`` when given), on the index and first-level indicators, in every unit."""

    model_config = _STRICT
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    column: str = Field(min_length=1)
    a: Subset
    b: Subset
    group: str | None = None
    title: Label | None = None

    @model_validator(mode="after")
    def _disjoint(self) -> "Comparison":
        both = set(self.a.levels) & set(self.b.levels)
        if both:
            raise ValueError(f"level(s) {sorted(both)} are on both sides of comparison '{self.id}'")
        return self


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
    questionnaire: str | None = None  # this year's questionnaire (default: the study's top-level one)


class GroupChanges(BaseModel):
    """Respondent groups that differ from last year's: renamed (id this year: id last year), new, dropped."""

    model_config = _STRICT
    renamed: dict[str, str] = Field(default_factory=dict)
    new: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()


class YearComparability(BaseModel):
    """How a year's questionnaire relates to the previous year's (checked against both questionnaires by
    :func:`surveykit.analysis.comparability.check_declaration`)."""

    model_config = _STRICT
    renamed: dict[str, str] = Field(default_factory=dict)   # id this year: id last year
    changed: tuple[str, ...] = ()    # ids (this year's) whose wording or scale changed: not comparable
    reworded: tuple[str, ...] = ()   # items worded differently but asking the same: comparable, no warning
    groups: GroupChanges = GroupChanges()


class Comparability(BaseModel):
    """``comparability: {2026: {...}, index_on_common_items: false}``: a declaration per year (against the
    previous year of the study) and the switch for the index recomputed on the common items."""

    model_config = _STRICT
    index_on_common_items: bool = False
    years: dict[int, YearComparability] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _year_keys(cls, v):
        if isinstance(v, dict) and "years" not in v:
            years = {int(k): x for k, x in v.items() if isinstance(k, int) or str(k).isdigit()}
            rest = {k: x for k, x in v.items() if not (isinstance(k, int) or str(k).isdigit())}
            return {**rest, "years": years}
        return v

    def of(self, year: int) -> YearComparability | None:
        return self.years.get(year)


class ProtectionSpec(BaseModel):
    """Inputs of the protection-level composite (contract 5): case tables and the long indicator values."""

    model_config = _STRICT
    indicators: str                  # long CSV: unit, year, indicator, value
    cases: str | None = None         # folder (or file) of 行政保护案件统计表
    framework: str | None = None     # default: the framework shipped with surveykit (protection_level.yaml)
    targets: str | None = None       # default: the targets shipped with surveykit (demo_zone_targets.yaml)


class ZonesSpec(BaseModel):
    """The demonstration zones (docs/CONTRACTS.md, "Demonstration zones"): the register of events, optionally the
    evaluator's key-task files (a file or a folder) and the task areas (default: the plan's six, shipped)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    register_file: str = Field(alias="register")   # (pydantic's BaseModel has a `register` of its own)
    key_tasks: str | None = None
    task_areas: str | None = None


class PlanSpec(BaseModel):
    """Next year's sampling plan, shown in the region's overview (``surveykit plan``, :mod:`surveykit.plan`): a target
    95% half-width of every unit's index and/or a budget, and the choices of :func:`surveykit.plan.plan_sample`."""

    model_config = _STRICT
    half_width: float | None = Field(default=None, gt=0)          # points on the 0-100 scale
    allocation: Literal["equal", "proportional", "neyman", "power"] = "power"
    power_q: float = Field(default=0.5, ge=0, le=1)               # power allocation: 0 units alike .. 1 Neyman
    group_half_width: float | None = Field(default=None, gt=0)    # and of every group's score in every unit
    min_per_group: int = Field(default=0, ge=0)                   # valid respondents of each group in each unit
    budget: float | None = Field(default=None, gt=0)
    costs: str | None = None                                      # CSV/XLSX: unit, cost (per interview)
    valid_rate: float = Field(default=1.0, gt=0, le=1)            # expected valid share of the interviews
    cluster_size: float | None = Field(default=None, ge=1)        # valid respondents per first-stage unit
    variance: Literal["model", "observed"] = "model"

    @model_validator(mode="after")
    def _target(self) -> "PlanSpec":
        if self.half_width is None and self.budget is None:
            raise ValueError("a plan needs a target half_width, or a budget to spend")
        if self.budget is not None and self.costs is None:
            raise ValueError("a plan's budget needs the costs file (unit, cost per interview)")
        return self


class QualitySpec(BaseModel):
    """How responses are read and checked (surveykit.quality.prepare); every key optional."""

    model_config = _STRICT
    rules: str | None = None         # default: the rules shipped with surveykit (quality_rules.yaml)
    mapping: str | None = None       # explicit column / label mapping YAML (surveykit map --out)
    aliases: str | None = None       # other spellings of the units (default: none)
    id_column: str = "respondent_id"
    duration_column: str = "duration_sec"


class Study(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True,
                              ignored_types=(cached_property,))
    questionnaire: str | None = None   # the questionnaire of every year that does not name its own
    region: Region = Region(zh="本地区", en="the region", kind=Noun(zh="地区", en="region"))
    unit_kind: Noun = Noun(zh="单位", en="unit")
    units: str | list[UnitEntry] | None = None
    unit_column: str = "district"
    design: DesignSpec = DesignSpec()
    years: dict[int, YearSpec] = Field(min_length=1)
    comparisons: tuple[Comparison, ...] = ()
    results: str = "results"
    min_n: int = Field(default=30, ge=1)
    max_rse: float | None = Field(default=0.30, gt=0)   # and estimates with a larger relative SE
    protection: ProtectionSpec | None = None
    zones: ZonesSpec | None = None
    quality: QualitySpec = QualitySpec()
    comparability: Comparability = Comparability()
    plan: PlanSpec | None = None     # optional: next year's sampling plan in the overview (surveykit plan)
    base: Path = Path(".")
    file: Path | None = None

    @field_validator("years", mode="before")
    @classmethod
    def _int_years(cls, v):
        if isinstance(v, dict):
            return {int(k) if str(k).isdigit() else k: x for k, x in v.items()}
        return v

    @field_validator("comparisons")
    @classmethod
    def _unique_comparisons(cls, v):
        ids = [c.id for c in v]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"comparison id(s) {dup} used twice")
        return v

    @model_validator(mode="after")
    def _questionnaires(self) -> "Study":
        missing = [y for y, s in self.years.items() if s.questionnaire is None]
        if self.questionnaire is None and missing:
            raise ValueError(f"no questionnaire for {missing[0]}: give the study a questionnaire, or each year one")
        return self

    def path(self, rel: str) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else (self.base / p).resolve()

    @property
    def questionnaire_path(self) -> Path:
        """The study's questionnaire: the top-level one, or (when every year names its own) the latest year's."""
        return self.questionnaire_file(None if self.questionnaire else max(self.years))

    def questionnaire_file(self, year: int | None = None) -> Path:
        """The questionnaire of ``year``: its own, else the study's top-level one."""
        own = self.years[year].questionnaire if year is not None else None
        return self.path(own or self.questionnaire)

    def previous_year(self, year: int) -> int | None:
        """The study's year before ``year`` (its year-on-year comparisons are against it), or None."""
        earlier = [y for y in self.years if y < year]
        return max(earlier) if earlier else None

    @property
    def results_dir(self) -> Path:
        return self.path(self.results)

    def responses_path(self, year: int) -> Path:
        return self.path(self.years[year].responses)

    def declared_units(self) -> UnitSet | None:
        """The units the study lists (inline or in the CSV it names); None when the data decide."""
        if self.units is None:
            return None
        kind = self.unit_kind.words()
        if isinstance(self.units, str):
            return _units_csv(self.path(self.units), kind)
        return _unit_set([u.unit(self.file) for u in self.units], kind, self.file)


def _unit_set(units: list[Unit], kind: Words, file) -> UnitSet:
    if not units:
        raise InputError("the study lists no units", file=file, key="units")
    try:
        return UnitSet(tuple(units), kind)
    except InputError as exc:
        raise InputError(exc.message, file=file, key="units") from None


def _units_csv(path: Path, kind: Words) -> UnitSet:
    """A units CSV: columns ``id``, ``zh``, optional ``en``, ``kind_zh``, ``kind_en`` (one unit per row, in order)."""
    if not path.is_file():
        raise InputError("the units file named by the study does not exist", file=path)
    if path.stat().st_size > 10_000_000:
        raise InputError(f"the units file is {path.stat().st_size:,} bytes; a units list is expected to be small",
                         file=path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for col in ("id", "zh"):
        if col not in df.columns:
            raise InputError(f"no column '{col}' (a units file has id, zh, en[, kind_zh, kind_en])", file=path,
                             column=col)
    units = []
    for k, r in enumerate(df.to_dict("records")):
        try:
            uid = check_unit_id(r["id"].strip())
        except InputError as exc:
            raise InputError(exc.message, file=path, row=k + 2, column="id") from None
        if not r["zh"].strip():
            raise InputError("empty name", file=path, row=k + 2, column="zh")
        kz, ke = r.get("kind_zh", "").strip(), r.get("kind_en", "").strip()
        units.append(Unit(uid, r["zh"].strip(), (r.get("en") or r["zh"]).strip(),
                          Words(kz, ke or kz) if kz else None))
    return _unit_set(units, kind, path)


def load_study(path: str | Path) -> Study:
    """Load a study YAML file; paths inside it are relative to the file."""
    path = Path(path)
    data = read_yaml(path)
    if isinstance(data, dict):
        data = {**data, "base": path.resolve().parent, "file": path}
    return validate_model(Study, data, path)  # type: ignore[return-value]
