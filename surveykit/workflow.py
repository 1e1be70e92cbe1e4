"""The year's computation, in one readable sequence of named steps: study file -> results store.

``ensure_results(study)`` is what ``surveykit report``, ``surveykit demo`` and the notebooks' store call::

    for each year of the study whose store is missing or stale (its key differs):
        compute_year:   questionnaire -> read and check responses (quality rules, mapping, aliases)
                        -> units (the study's list, or the values of the unit column) -> Design -> weighting
                        -> scores by unit and for the region -> analysis -> store (parquet + manifest)
    year_change:        every comparable score against the previous year's (independent samples; each year has
                        its own questionnaire, and the study declares how it relates to the year before: see
                        surveykit.analysis.comparability)
    compute_protection: the protection-level composite of each year (reads the year's satisfaction index)

The store's **key** is a hash of every input file's content and every setting that changes a number (the
study's settings, the year's questionnaire and the previous year's (with the study's comparability declaration
for the year), responses, quality rules, mapping, aliases, units file, margins; the default
files shipped with surveykit when the study uses them) and of the surveykit version: a year is recomputed exactly
when its key changes, or when asked (``recompute=True``, ``surveykit report --recompute``).

Statistics are computed here once; notebooks only read the store (:func:`surveykit.results.load_results`).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from . import analysis as ska
from .errors import InputError
from .io import read_table
from .io.atomic import write_atomic
from .mapping import UnitAliases, load_aliases, region_prefixes, unit_key
from .protection.cases import case_records, check_case_tables, city_summary, derive_indicators, read_case_tables
from .protection.framework import load_framework
from .protection.pipeline import build_composite
from .protection.scorecard import evaluate_targets, load_targets, satisfaction_from_scores, scorecard_overall
from .protection.uncertainty import uncertainty_analysis
from .protection.values import read_indicator_values
from .quality import Prepared, prepare
from .resources import default_file
from .results import (PROTECTION_TABLES, REGION, STORE_VERSION, load_plan, load_protection, load_results,
                      read_manifest, sha256, write_plan, write_protection, write_store)
from .analysis.comparability import (check_declaration, common_items_questionnaires, comparability,
                                     comparable_change, index_comparable, wording_notes)
from .plan import plan_parameters, plan_sample, read_costs
from .scoring import group_codes, score
from .spec.questionnaire import Questionnaire, load_questionnaire
from .spec.study import Study, load_study
from .survey.common import as_list
from .survey.design import Design
from .units import UnitSet
from .zones import (evaluation_table, key_task_completion, load_key_tasks, load_register, load_task_areas,
                    zone_evaluation, zone_status)

#: Settings of the analysis recorded in the manifest (what the reports state in their provenance).
ANALYSIS = {"ranks": {"method": "simulation", "draws": 4000, "seed": 20251123, "level": 0.90},
            "comparisons": {"adjust": "holm", "family": "per unit", "alpha": 0.05}}
PROTECTION_RUNS, PROTECTION_SOBOL_N, PROTECTION_SEED = 1000, 256, 20251123
#: The kept plan's format, part of its key: a change recomputes plans kept before it (2: units in the study's order,
#: ``clustered`` in its settings).
PLAN_FORMAT = 2


# --- the whole study ------------------------------------------------------------------------------------------
def ensure_results(study: Study, years: list[int] | None = None, *, recompute: bool = False) -> dict[int, Path]:
    """Compute every year of the study (or ``years``) whose store is missing or stale; returns the folders.

    The survey statistics of all years come first (the composite of a year uses that year's satisfaction index
    and imputes from the year before), then the year-on-year changes, then the protection-level composite.
    """
    check_zones(study)   # a broken register stops the run before anything is computed
    check_comparability(study)
    out, fresh = {}, set()
    for y in sorted(years or study.years):
        key = year_key(study, y)
        man = read_manifest(study.results_dir, y)
        if recompute or man is None or man.get("key") != key:
            compute_year(study, y, key=key)
            fresh.add(y)
        out[y] = study.results_dir / str(y)
    for cur in sorted(out):
        prev = study.previous_year(cur)
        if prev in out:
            _ensure_year_change(study, prev, cur, force=bool({prev, cur} & fresh))
    if study.protection is not None:
        for y in sorted(out):
            _ensure_protection(study, y, force=y in fresh or (y - 1) in fresh)
    if study.zones is not None:
        _ensure_zones(study, sorted(out))
    for y in sorted(out):
        _ensure_plan(study, y)
    return out


# --- one year ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class YearSample:
    """A year's responses as every computation reads them: prepared, units found, unit ids in the unit column, the
    weighted (raked) design and its weight diagnostics."""

    prepared: Prepared
    units: UnitSet
    data: pd.DataFrame
    design: Design
    weights: pd.DataFrame


def year_sample(study: Study, year: int, q: Questionnaire) -> YearSample:
    """Read, check and weight a year's responses (the one sequence :func:`compute_year`, the common-items index and
    the sampling plan all start from)."""
    prepared = read_responses(study, year, q)
    units = study_units(study, year, prepared)
    data = with_unit_ids(study, year, prepared.data, units)
    design, weights = weighted_design(study, year, data, units)
    return YearSample(prepared, units, data, design, weights)


def compute_year(study: Study, year: int, *, key: str | None = None) -> Path:
    """Compute the results store of one year (see the module docstring); returns the year's folder."""
    q = study_questionnaire(study, year)
    ys = year_sample(study, year, q)
    prepared, units, data, design, weights = ys.prepared, ys.units, ys.data, ys.design, ys.weights
    tables, notes = survey_tables(study, q, design, data)
    tables["weights"] = weights
    tables.update(quality_tables(prepared, units))
    comp, comp_notes = year_comparability(study, year, q)
    if comp is not None:
        tables["comparability"] = comp
    manifest = year_manifest(study, year, q, prepared, design, units, key or year_key(study, year))
    manifest.update(notes=notes + comp_notes, design_counts=design_counts(study, data))
    return write_store(study.results_dir, year, tables, manifest)


def study_questionnaire(study: Study, year: int) -> Questionnaire:
    """The questionnaire of ``year`` (the year's own, else the study's)."""
    return load_questionnaire(study.questionnaire_file(year))


def read_responses(study: Study, year: int, q: Questionnaire):
    """Read, map and check a year's responses (:func:`surveykit.quality.prepare`): the
    :class:`~surveykit.quality.Prepared` (kept rows in ``.data``; every other row is in ``.log`` with its reason)."""
    qs = study.quality
    opt = lambda x: study.path(x) if x else None  # noqa: E731
    prepared = prepare(q, study.responses_path(year), rules=opt(qs.rules), mapping=opt(qs.mapping),
                       aliases=unit_aliases(study), unit_column=study.unit_column, id_column=qs.id_column,
                       duration_column=qs.duration_column, sheet=study.years[year].sheet)
    _check_design_columns(study, year, prepared)
    return prepared


def _check_design_columns(study: Study, year: int, prepared: Prepared) -> None:
    """Every column the study's design names is in the responses as read: else one line naming the study's key. A
    typo in ``unit_column`` shows here: the unit column is then found by its values and read under the typo's name."""
    renamed = {m.column: m.target for m in prepared.mapping.matches if m.column != m.target}
    for role in ("weights", "strata", "psu", "fpc"):
        for c in as_list(getattr(study.design, role)):
            if c in prepared.data.columns:
                continue
            hint = f"; the file's column '{c}' is read as '{renamed[c]}'" if c in renamed else ""
            if renamed.get(c) == study.unit_column:
                hint += " (unit_column): name the same column in unit_column and the design"
            raise InputError(f"design.{role} names column '{c}', which is not in {study.responses_path(year).name} "
                             f"as read{hint}", file=study.file, key=f"design.{role}")


def unit_aliases(study: Study) -> UnitAliases:
    """How values of the unit column are recognised: a declared unit's id, Chinese or English name, or a spelling
    from the study's aliases file (its keys name a unit); normalised by :func:`surveykit.mapping.unit_key`. Without
    declared units every spelling is its own unit (the aliases file may still merge spellings)."""
    units = study.declared_units()
    table: dict[str, str] = {}
    if units is not None:
        for u in units:
            for name in (u.id, u.zh, u.en):
                table[unit_key(name)] = u.id
    if study.quality.aliases:
        path = study.path(study.quality.aliases)
        extra = load_aliases(path)
        for alias_key, canon in extra.table.items():
            target = units.find(canon) if units is not None else None
            if units is not None and target is None:
                raise InputError(f"'{canon}' is not a unit of the study", file=path, key=f"units.{canon}")
            table[alias_key] = target.id if target is not None else canon
    canonical = units.ids if units is not None else tuple(sorted(set(table.values())))
    return UnitAliases(canonical, table, "study units", region_prefixes(study.region.zh, study.region.en))


def study_units(study: Study, year: int, prepared) -> UnitSet:
    """The study's units; without a list, the distinct values of the unit column (every year of the study is read
    through the store's manifests, so a unit keeps its id across years)."""
    declared = study.declared_units()
    if declared is not None:
        _refuse_unknown_units(study, year, prepared, declared)
        return declared
    col = study.unit_column
    if col not in prepared.data.columns:
        raise InputError(f"no unit column '{col}' in the data (the study's unit_column)",
                         file=study.responses_path(year), column=col)
    return UnitSet.from_names(prepared.data[col], study.unit_kind.words())


def _refuse_unknown_units(study: Study, year: int, prepared, units: UnitSet) -> None:
    """A unit in the responses that the study does not list: one line naming the file, row and value."""
    log = prepared.log
    bad = log[log["rule"] == "unknown_unit"] if len(log) else log
    col = study.unit_column
    if len(bad):
        r = bad.iloc[0]
        raise InputError(f"unit '{r['value']}' is not one of the study's units ({len(bad)} row(s)); add it to the "
                         "study's units, or its spelling to the aliases file", file=study.responses_path(year),
                         row=int(r["row"]), column=str(r["column"]))
    values = prepared.data[col].astype(str) if col in prepared.data.columns else pd.Series([], dtype=str)
    unknown = sorted(set(values) - set(units.ids))
    if unknown:
        raise InputError(f"unit '{unknown[0]}' is not one of the study's units; add it to the study's units, or its "
                         "spelling to the aliases file", file=study.responses_path(year), column=col)


def with_unit_ids(study: Study, year: int, data: pd.DataFrame, units: UnitSet) -> pd.DataFrame:
    """The data with the unit column holding unit ids."""
    col = study.unit_column
    ids = [units.find(v) for v in data[col].astype(str)]
    if any(u is None for u in ids):
        first = next(v for v, u in zip(data[col].astype(str), ids) if u is None)
        raise InputError(f"unit '{first}' is not one of the study's units", file=study.responses_path(year),
                         column=col)
    out = data.copy()
    out[col] = [u.id for u in ids]
    return out


def weighted_design(study: Study, year: int, data: pd.DataFrame, units: UnitSet) -> tuple[Design, pd.DataFrame]:
    """The sampling design, raked to the year's population margins when the study gives them; and the weight
    diagnostics per unit before and after."""
    col = study.unit_column
    design = Design(data, **study.design.kwargs())
    before = design.weight_diagnostics(by=[col]).assign(stage="design")
    rel = study.years[year].rake
    if rel:
        design = design.rake(_margins(study, study.path(rel), units))
    after = design.weight_diagnostics(by=[col]).assign(stage="final")
    region = design.weight_diagnostics().assign(stage="final", **{col: REGION})
    weights = pd.concat([before, after, region], ignore_index=True).rename(columns={col: "unit"})
    return design, weights


def _margins(study: Study, path: Path, units: UnitSet) -> pd.DataFrame:
    """Population margins; levels of the unit column name units (id, Chinese or English name)."""
    m = read_table(path)
    if "variable" in m.columns and "level" in m.columns:
        is_unit = m["variable"].astype(str) == study.unit_column
        for k in np.flatnonzero(is_unit.to_numpy()):
            u = units.find(m["level"].iloc[k])
            if u is None:
                raise InputError(f"margin level '{m['level'].iloc[k]}' is not one of the study's units", file=path,
                                 row=int(k) + 2, column="level")
        m = m.copy()
        m.loc[is_unit, "level"] = [units.find(v).id for v in m.loc[is_unit, "level"]]
    return m


# --- the tables ---------------------------------------------------------------------------------------------------
def survey_tables(study: Study, q: Questionnaire, design: Design,
                  data: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Scores by unit and for the region (suppression marked), sample sizes and the analysis the reports show;
    unit columns are named ``unit`` and hold unit ids (``all`` = the whole region). Also the analysis' caveats."""
    col = study.unit_column
    mark = dict(min_n=study.min_n, max_rse=study.max_rse)
    tables = {"scores_unit": ska.mark_small(score(q, design, by=[col]), **mark),
              "scores_city": ska.mark_small(score(q, design), **mark),
              "sample": _sample(q, design, data, col)}
    with warnings.catch_warnings(record=True) as caught:  # analysis caveats go to the manifest, not the console
        warnings.simplefilter("always")
        tables.update(analysis_tables(study, q, design, data))
    tables = {k: (t.rename(columns={col: "unit"}) if col in t.columns else t) for k, t in tables.items()}
    return tables, sorted({str(w.message) for w in caught})


def _sample(q: Questionnaire, design: Design, data: pd.DataFrame, col: str) -> pd.DataFrame:
    g = group_codes(q, data)
    frame = pd.DataFrame({col: data[col].to_numpy(), "group": np.array(q.group_ids)[g],
                          "w": design.weights.to_numpy()})
    return (frame.groupby([col, "group"], sort=True).agg(n=("w", "size"), sum_weights=("w", "sum"))
            .reset_index())


def analysis_tables(study: Study, q: Questionnaire, design: Design, data: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The analysis the reports show, as codes (the reports put verdicts and ranks into words)."""
    col = study.unit_column
    neutral = ["verdict_text", "rank_label"]
    out = {"dont_know": ska.dont_know_rates(q, design, by=col),
           "ranks": ska.rank_intervals(q, design, col),
           "compare_rest": ska.compare_to_rest(q, design, col, family=col),
           "group_gaps": _with_region(ska.group_gap(q, design, by=col, family=col), ska.group_gap(q, design), col),
           "reliability": ska.reliability(q, data),
           "cfa": ska.cfa(q, data)}
    if q.top_box is not None:
        rates = _with_region(ska.satisfaction_rates(q, design, by=col), ska.satisfaction_rates(q, design), col)
        out["satisfaction_rates"] = ska.mark_small(rates, min_n=study.min_n, max_rse=None)
    if q.roles.outcome is not None:
        out["drivers"] = pd.concat([ska.importance_performance(q, design, outcome=q.roles.outcome, level=lv)
                                    .assign(level=lv) for lv in (1, 2)], ignore_index=True)
    comparisons = [subgroup_comparison(study, q, design, c) for c in study.comparisons]
    if comparisons:
        out["comparisons"] = pd.concat(comparisons, ignore_index=True)
    return {k: t.drop(columns=neutral + ["label", "quadrant_label"], errors="ignore") for k, t in out.items()}


def subgroup_comparison(study: Study, q: Questionnaire, design: Design, c) -> pd.DataFrame:
    """A declared comparison (e.g. foreign-funded vs domestic firms) in every unit and for the whole region."""
    col = study.unit_column
    if c.column not in design.data.columns:
        raise InputError(f"comparison '{c.id}' names column '{c.column}', which is not in the responses",
                         file=study.file, key=f"comparisons[{c.id}].column")
    if c.group is not None and c.group not in q.group_ids:
        raise InputError(f"comparison '{c.id}' names group '{c.group}', which the questionnaire does not declare",
                         file=study.file, key=f"comparisons[{c.id}].group")
    nodes = ["index"] + [n.id for n in q.indicators]
    args = dict(group=c.group or "all", nodes=nodes)
    units = ska.domain_gap(q, design, c.column, list(c.a.levels), list(c.b.levels), by=col, family=col, **args)
    region = ska.domain_gap(q, design, c.column, list(c.a.levels), list(c.b.levels), **args)
    return _with_region(units, region, col).assign(comparison=c.id)


def _with_region(by_unit: pd.DataFrame, region: pd.DataFrame, col: str) -> pd.DataFrame:
    return pd.concat([by_unit, region.assign(**{col: REGION})], ignore_index=True)


def quality_tables(prepared, units: UnitSet) -> dict[str, pd.DataFrame]:
    """Rows per quality rule, group and action by unit, and rows read/kept/excluded per group (aggregates only:
    the row-level log never enters the store or a report)."""
    counts = prepared.counts(by_unit=True)
    counts["unit"] = [(units.find(v).id if units.find(v) is not None else str(v)) for v in counts["unit"]]
    return {"quality_counts": counts, "quality_totals": prepared.totals()}


# --- provenance and the store key ------------------------------------------------------------------------------
def setting(study: Study, units: UnitSet) -> dict:
    """What the reports need to know of the study, recorded in the manifest: region, units and their wording,
    declared comparisons."""
    region = study.region
    kind = region.kind_words()
    return {"region": {"zh": region.zh, "en": region.en, "kind": {"zh": kind.zh, "en": kind.en}},
            **units.to_dict(), "comparisons": [c.model_dump(mode="json") for c in study.comparisons],
            "min_n": study.min_n, "max_rse": study.max_rse}


def year_manifest(study: Study, year: int, q: Questionnaire, prepared, design: Design, units: UnitSet,
                  key: str) -> dict:
    df = prepared.data
    return {
        "store_version": STORE_VERSION, "key": key, "year": year,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "surveykit_version": __version__,
        "inputs": {"responses": {"path": str(study.responses_path(year)), "sha256": sha256(study.responses_path(year)),
                                 "encoding": df.attrs.get("encoding"), "rows_read": int(prepared.rows_read),
                                 "rows": int(len(df)), "rows_excluded": int(prepared.rows_excluded),
                                 "rows_flagged": int(prepared.rows_flagged), "quality_notes": list(prepared.notes)},
                   "questionnaire": {"path": str(study.questionnaire_file(year)), "id": q.id, "version": q.version,
                                     "sha256": sha256(study.questionnaire_file(year))}},
        "comparability": _comparability_entry(study, year),
        "setting": setting(study, units),
        "design": study.design.kwargs(),
        "weighting": {"margins": _margins_entry(study, year), "history": list(design.history)},
        "unit_column": study.unit_column, "min_n": study.min_n, "max_rse": study.max_rse,
        "analysis": ANALYSIS,
        "design_summary": repr(design),
    }


def _margins_entry(study: Study, year: int) -> dict | None:
    rel = study.years[year].rake
    if not rel:
        return None
    m = read_table(study.path(rel))
    levels = m.groupby("variable", sort=False)["level"].nunique() if {"variable", "level"} <= set(m.columns) else {}
    return {"path": str(study.path(rel)), "sha256": sha256(study.path(rel)),
            "levels": {str(k): int(v) for k, v in dict(levels).items()}}


def design_counts(study: Study, data: pd.DataFrame) -> dict:
    """The design in numbers, for the reports' method section: rows, strata, first-stage units, stages, fpc."""
    spec = study.design
    psu = [spec.psu] if isinstance(spec.psu, str) else list(spec.psu or [])
    strata = data[spec.strata] if spec.strata else pd.Series(0, index=data.index)
    n_psu = len(pd.DataFrame({"s": strata.to_numpy(), "p": data[psu[0]].to_numpy()}).drop_duplicates()) if psu \
        else len(data)
    return {"rows": int(len(data)), "strata": int(strata.nunique()) if spec.strata else 0, "psus": int(n_psu),
            "stages": len(psu), "fpc": bool(spec.fpc)}


def year_inputs(study: Study, year: int) -> dict[str, Path]:
    """Every file the year's survey statistics are computed from (the defaults shipped with surveykit included)."""
    qs = study.quality
    files = {"questionnaire": study.questionnaire_file(year), "responses": study.responses_path(year),
             "rules": study.path(qs.rules) if qs.rules else default_file("quality_rules.yaml")}
    for name, rel in (("mapping", qs.mapping), ("aliases", qs.aliases), ("margins", study.years[year].rake),
                      ("units", study.units if isinstance(study.units, str) else None)):
        if rel:
            files[name] = study.path(rel)
    if study.previous_year(year) is not None:  # the comparability of the year's scores with the year before
        files["questionnaire_previous"] = study.questionnaire_file(study.previous_year(year))
    return files


def year_key(study: Study, year: int) -> str:
    """The store key of ``year``: every input file's content hash and every setting, by value (module docstring)."""
    files = {}
    for name, path in year_inputs(study, year).items():
        if not Path(path).is_file():
            raise InputError(f"the {name} file named by the study does not exist", file=path)
        files[name] = sha256(path)
    settings = study.model_dump(mode="json", exclude={"base", "file", "years", "protection", "results",
                                                      "comparability", "plan"})
    settings["year"] = study.years[year].model_dump(mode="json", exclude={"responses", "rake", "questionnaire"})
    if study.previous_year(year) is not None:
        settings["comparability"] = _comparability_entry(study, year)
    blob = json.dumps({"files": files, "settings": settings, "store_version": STORE_VERSION,
                       "surveykit": __version__}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# --- year on year ---------------------------------------------------------------------------------------------------
def check_comparability(study: Study) -> None:
    """Every ``comparability`` declaration is for a year after the study's first, and fits the questionnaires of
    its year and the year before (:func:`surveykit.analysis.comparability.check_declaration`); years without one
    must have the same respondent groups. Checked before anything is computed."""
    for y in study.comparability.years:
        if study.previous_year(y) is None or y not in study.years:
            years = ", ".join(map(str, sorted(study.years)))
            raise InputError(f"{y} is not a year of the study after its first ({years}); a declaration relates a "
                             "year to the previous one", file=study.file, key=f"comparability.{y}")
    for y in sorted(study.years):
        prev = study.previous_year(y)
        if prev is not None:
            check_declaration(study_questionnaire(study, y), study_questionnaire(study, prev),
                              study.comparability.of(y), year=y, previous_year=prev, file=study.file)


def year_comparability(study: Study, year: int, q: Questionnaire) -> tuple[pd.DataFrame | None, list[str]]:
    """Which scores of ``year`` can be compared with the previous year's (the store's ``comparability`` table) and
    the notes on items compared although worded differently; (None, []) for the study's first year."""
    prev = study.previous_year(year)
    if prev is None:
        return None, []
    qp, decl = study_questionnaire(study, prev), study.comparability.of(year)
    check_declaration(q, qp, decl, year=year, previous_year=prev, file=study.file)
    table = comparability(q, qp, renamed=decl.renamed if decl else None, changed=decl.changed if decl else (),
                          reworded=decl.reworded if decl else (), groups=decl.groups.renamed if decl else None)
    return table, wording_notes(q, qp, table, year=year, previous_year=prev)


def _comparability_entry(study: Study, year: int) -> dict | None:
    """What the year's comparison with the year before rests on (manifest and store key)."""
    prev = study.previous_year(year)
    if prev is None:
        return None
    decl = study.comparability.of(year)
    return {"previous": prev, "questionnaire_previous": str(study.questionnaire_file(prev)),
            "declared": decl.model_dump(mode="json") if decl else None,
            "index_on_common_items": study.comparability.index_on_common_items}


def _ensure_year_change(study: Study, prev: int, cur: int, *, force: bool) -> None:
    """The change of every comparable score on the previous year; with ``index_on_common_items`` and an index that
    is not comparable, also the index recomputed for both years on their common items (``index_common``)."""
    folder = study.results_dir / str(cur)
    stamp = folder / "year_change.from"
    key = f"{read_manifest(study.results_dir, prev)['key']} {read_manifest(study.results_dir, cur)['key']}"
    if force or not stamp.exists() or stamp.read_text(encoding="utf-8") != key:
        a, b = load_results(study.results_dir, cur), load_results(study.results_dir, prev)
        comp = a.comparability
        keys = ["unit", "group", "node"]
        ch = comparable_change(a.scores_unit[keys + ["estimate", "se"]], b.scores_unit[keys + ["estimate", "se"]],
                               comp, family="unit")
        region = comparable_change(a.scores_city[["group", "node", "estimate", "se"]],
                                   b.scores_city[["group", "node", "estimate", "se"]], comp).assign(unit=REGION)
        tables = {"year_change": pd.concat([ch, region], ignore_index=True).drop(columns=["verdict_text"],
                                                                                 errors="ignore")}
        (folder / "index_common.parquet").unlink(missing_ok=True)
        if study.comparability.index_on_common_items and not all(
                index_comparable(comp, g) for g in set(comp["group"].dropna())):
            common = index_on_common_items(study, prev, cur, comp)
            if common is not None:
                tables["index_common"] = common
        write_store(study.results_dir, cur, tables, None)
        write_atomic(stamp, key)


def index_on_common_items(study: Study, prev: int, cur: int, comp: pd.DataFrame) -> pd.DataFrame | None:
    """The index of both years recomputed with this year's tree and weights on the items both years share
    comparably (:func:`surveykit.analysis.comparability.common_items_questionnaires`), for the units and the
    region, and its change (independent samples); None when the years share no item. Columns of year_change plus
    ``n_items`` (the common items), ``n_items_current`` (this year's items) and ``suppressed`` (either year's
    recomputed index is too small to report: :func:`surveykit.analysis.mark_small`)."""
    q = study_questionnaire(study, cur)
    decl = study.comparability.of(cur)
    trees = common_items_questionnaires(q, study_questionnaire(study, prev), comp,
                                        groups=decl.groups.renamed if decl else None)
    if trees is None:
        return None
    scores = {}
    for y, tree in ((cur, trees[0]), (prev, trees[1])):
        design = _common_groups_design(study, y, tree)
        mark = dict(min_n=study.min_n, max_rse=study.max_rse)
        su = ska.mark_small(score(tree, design, by=[study.unit_column]), **mark)
        sc = ska.mark_small(score(tree, design), **mark).assign(**{study.unit_column: REGION})
        t = pd.concat([su, sc], ignore_index=True).rename(columns={study.unit_column: "unit"})
        t = t[t.node == "index"]
        if y == prev:  # last year's groups under this year's ids
            t = t.assign(group=t.group.map({tree.group_ids[k]: g for k, g in enumerate(trees[0].group_ids)} |
                                           {"all": "all"}))
        scores[y] = t[["unit", "group", "node", "estimate", "se", "suppressed"]]
    keys = ["unit", "group", "node"]
    small = pd.concat([scores[cur], scores[prev]]).groupby(keys, sort=False)["suppressed"].any()
    out = ska.year_change(scores[cur].drop(columns="suppressed"), scores[prev].drop(columns="suppressed"),
                          family="unit").drop(columns=["verdict_text"], errors="ignore")
    flag = small.reindex(pd.MultiIndex.from_frame(out[keys])).fillna(True).to_numpy(bool)
    return out.assign(n_items=len(trees[2]), n_items_current=len(q.items), suppressed=flag)


def _common_groups_design(study: Study, year: int, tree: Questionnaire) -> Design:
    """The year's weighted design (as compute_year builds it), restricted to the respondent groups of ``tree``
    (a domain: the design is kept whole)."""
    ys = year_sample(study, year, study_questionnaire(study, year))
    design, data = ys.design, ys.data
    col = tree.groups.column
    inside = data[col].astype("string").str.strip().isin(tree.group_ids).fillna(False).to_numpy(bool)
    if inside.all():
        return design
    placeholder = pd.Series(data[col].astype("string").str.strip()).where(inside, tree.group_ids[0])
    return design.assign(**{col: placeholder.to_numpy(object)}).subset(inside)


# --- the protection level ---------------------------------------------------------------------------------------
def protection_files(study: Study) -> dict[str, Path]:
    spec = study.protection
    files = {"indicators": study.path(spec.indicators),
             "framework": study.path(spec.framework) if spec.framework else default_file("protection_level.yaml"),
             "targets": study.path(spec.targets) if spec.targets else default_file("demo_zone_targets.yaml")}
    if spec.cases:
        c = study.path(spec.cases)
        for p in (sorted(x for x in c.rglob("*") if x.is_file()) if c.is_dir() else [c]):
            files[f"cases/{p.name}"] = p
    return files


def _ensure_protection(study: Study, year: int, *, force: bool) -> None:
    files = protection_files(study)
    h = hashlib.sha256()
    for name, p in sorted(files.items()):
        h.update(name.encode())
        h.update(sha256(p).encode())
    for y in (year - 1, year):
        m = read_manifest(study.results_dir, y)
        h.update((m or {}).get("key", "").encode())
    want = h.hexdigest()
    stamp = study.results_dir / str(year) / "protection_inputs.sha256"
    if force or not stamp.exists() or stamp.read_text(encoding="utf-8") != want:
        compute_protection(study, year)
        write_atomic(stamp, want)


def protection_values(study: Study, year: int, units: UnitSet) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The indicator values (the values file, the case tables' derived indicators and the survey's index), units as
    ids (the region's own rows as ``all``); and the case tables' city summary."""
    files = protection_files(study)
    region = (study.region.zh, study.region.en)
    values = read_indicator_values(files["indicators"], units=units, region=region)
    parts, summary = [values], pd.DataFrame()
    cases = [p for k, p in files.items() if k.startswith("cases/")]
    if cases:
        tables = read_case_tables(cases, units=units)
        check = check_case_tables(tables)
        if not check.ok:
            raise check.first_error()
        rec = case_records(tables)
        summary = city_summary(rec, "FY")
        parts.append(derive_indicators(rec, values, "FY"))
    for y in (year - 1, year):
        man = read_manifest(study.results_dir, y)
        if man is not None:
            su = load_results(study.results_dir, y).scores_unit
            idx = su[(su.group == "all") & (su.node == "index")]
            parts.append(pd.DataFrame({"unit": idx.unit.to_numpy(), "year": y, "indicator": "satisfaction_index",
                                       "value": idx.estimate.to_numpy(dtype=float)}))
    allv = read_indicator_values(pd.concat(parts, ignore_index=True), units=units, region=region)
    allv = allv.drop_duplicates(["unit", "year", "indicator"], keep="last").reset_index(drop=True)
    return allv, summary


def compute_protection(study: Study, year: int) -> dict:
    """Everything the reports need about the protection level of ``year``, written to the store as
    ``protection_<name>.parquet`` + ``protection.json``: the composite, its recorded steps, Monte Carlo rank bands,
    Sobol indices, the acceptance scorecard, the case summary."""
    files = protection_files(study)
    units = UnitSet.from_dict(read_manifest(study.results_dir, year)["setting"])
    fw, tg = load_framework(files["framework"]), load_targets(files["targets"])
    values, case_summary = protection_values(study, year, units)
    values.attrs["source"] = str(files["indicators"])
    survey = _survey_index(study, year)
    result = build_composite(fw, values, year)
    ua = uncertainty_analysis(fw, values, year, runs=PROTECTION_RUNS, sobol_n=PROTECTION_SOBOL_N, seed=PROTECTION_SEED)
    city = _region_index(study, year)
    card = evaluate_targets(tg, values, year, survey=survey, city=city, units=list(result.units))
    out = {"scores": result.scores, "steps": result.steps, "changes": result.changes, "weights": result.weights,
           "ranks": ua.ranks, "sobol": ua.sobol if ua.sobol is not None else pd.DataFrame(),
           "sobol_units": ua.sobol_units if ua.sobol_units is not None else pd.DataFrame(),
           "factors": ua.factors.assign(notes="; ".join(ua.notes)), "scorecard": card,
           "scorecard_overall": scorecard_overall(card), "cases": case_summary, "values": values}
    out = {k: (t.assign(year=year) if k in ("scores", "steps", "changes", "weights", "ranks", "scorecard",
                                            "scorecard_overall") else t) for k, t in out.items()}
    manifest = {"year": year, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "surveykit_version": __version__,
                "framework": {"id": fw.id, "version": fw.version, "path": str(files["framework"])},
                "targets": {"id": tg.id, "version": tg.version, "path": str(files["targets"])},
                "inputs": {k: str(v) for k, v in files.items()}, "monte_carlo": {"runs": PROTECTION_RUNS,
                                                                                "seed": PROTECTION_SEED},
                "sobol": {"n": PROTECTION_SOBOL_N}, "notes": ua.notes}
    write_protection(study.results_dir, year, {k: out[k] for k in PROTECTION_TABLES}, manifest)
    return out


def _survey_index(study: Study, year: int) -> pd.DataFrame:
    """Each unit's index with its CI (suppressed estimates as NaN: their survey targets lack data)."""
    return satisfaction_from_scores(load_results(study.results_dir, year).scores_unit, unit_column="unit")


def _region_index(study: Study, year: int) -> dict[str, float]:
    c = load_results(study.results_dir, year).scores_city
    r = c[(c.group == "all") & (c.node == "index")]
    return {"satisfaction_index": float(r.estimate.iloc[0])} if len(r) else {}


# --- demonstration zones ----------------------------------------------------------------------------------------
def zone_files(study: Study) -> dict[str, Path]:
    spec = study.zones
    files = {"register": study.path(spec.register_file)}
    if spec.task_areas:
        files["task_areas"] = study.path(spec.task_areas)
    if spec.key_tasks:
        k = study.path(spec.key_tasks)
        for p in (sorted(x for x in k.rglob("*") if x.is_file()) if k.is_dir() else [k]):
            files[f"key_tasks/{p.name}"] = p
    return files


def check_zones(study: Study) -> None:
    """Validate the zone register and key-task files against the plan's rules (and the study's units, when it
    lists them): an inconsistent history is an :class:`InputError` naming the file, unit, year and rule."""
    if study.zones is None:
        return
    files, units = zone_files(study), study.declared_units()
    load_register(files["register"], units=units)
    if study.zones.key_tasks:
        load_key_tasks(study.path(study.zones.key_tasks), units=units, areas=load_task_areas(files.get("task_areas")))


def _ensure_zones(study: Study, years: list[int]) -> None:
    """Zone status, the year's evaluation (acceptance, renewal, monitoring, rectification) and key-task completion
    of every year, recomputed when the register, the key tasks or a year's scorecard changed."""
    h = hashlib.sha256()
    for name, p in sorted(zone_files(study).items()):
        h.update(name.encode())
        h.update(sha256(p).encode())
    for y in years:
        stamp = study.results_dir / str(y) / "protection_inputs.sha256"
        h.update(stamp.read_bytes() if stamp.exists() else b"")
    want = h.hexdigest()
    stamps = [study.results_dir / str(y) / "zones_inputs.sha256" for y in years]
    if all(p.exists() and p.read_text(encoding="utf-8") == want for p in stamps):
        return
    for y, tables in compute_zones(study, years).items():
        write_store(study.results_dir, y, tables, None)
    for p in stamps:
        write_atomic(p, want)


def compute_zones(study: Study, years: list[int]) -> dict[int, dict[str, pd.DataFrame]]:
    """Per year: ``zones_status`` (every unit), ``zones_evaluation`` (one row per unit: kind, verdict, reasons,
    warnings), ``zones_targets`` (the targets behind each zone's verdict) and ``zones_tasks`` (key-task completion
    by area). Units as the study's ids; the register and key tasks are validated against the plan's rules."""
    files, spec = zone_files(study), study.zones
    units = UnitSet.from_dict(read_manifest(study.results_dir, years[-1])["setting"])
    register = load_register(files["register"], units=units)
    status = zone_status(register, years, units=units.ids)
    cards = _scorecards(study, years)
    areas = load_task_areas(files.get("task_areas"))
    tasks = (load_key_tasks(study.path(spec.key_tasks), units=units, areas=areas) if spec.key_tasks
             else pd.DataFrame(columns=["unit", "year", "area", "status"]))
    completion = key_task_completion(tasks, areas) if len(tasks) else pd.DataFrame(columns=["unit", "year"])
    out = {}
    for y in years:
        st = status[status.year == y]
        evals = [zone_evaluation(r, cards) for r in st.to_dict("records")]
        targets = [e.table.assign(unit=e.unit) for e in evals if len(e.table)]
        out[y] = {"zones_status": st.reset_index(drop=True),
                  "zones_evaluation": evaluation_table(st, cards),
                  "zones_targets": pd.concat(targets, ignore_index=True) if targets else pd.DataFrame(),
                  "zones_tasks": completion[completion.year == y].reset_index(drop=True)}
    return out


def _scorecards(study: Study, years: list[int]) -> pd.DataFrame | None:
    cards = []
    for y in years:
        p = load_protection(study.results_dir, y)
        if p is not None and len(p["scorecard"]):
            cards.append(p["scorecard"].assign(year=y))
    return pd.concat(cards, ignore_index=True) if cards else None


# --- next year's sample ---------------------------------------------------------------------------------------------
def study_plan_parameters(study: Study | str | Path, year: int) -> pd.DataFrame:
    """The parameters a sampling plan starts from (:func:`surveykit.plan.plan_parameters`) for a study's year: its
    results store (which must exist: ``surveykit report`` computes it), questionnaire and design, rebuilt from the
    responses as :func:`compute_year` built it. ``study``: a :class:`Study` or a study file's path."""
    study = study if isinstance(study, Study) else load_study(study)
    if year not in study.years:
        raise InputError(f"year {year} is not in the study (years: {', '.join(map(str, study.years))})",
                         file=study.file)
    res = load_results(study.results_dir, year)
    q = load_questionnaire(res.manifest["inputs"]["questionnaire"]["path"])
    design = year_sample(study, year, q).design
    return plan_parameters(res, q, design, study.unit_column, source=study.responses_path(year))


def plan_options(study: Study, year: int, **overrides) -> dict:
    """Keyword arguments of :func:`surveykit.plan.plan_sample`: the study's ``plan:`` key (its costs file read with
    the units of ``year``'s results store), and ``overrides`` that are not None on top (``costs``: a file's path)."""
    spec = study.plan
    opts = spec.model_dump(exclude={"costs"}) if spec is not None else {}
    costs = overrides.pop("costs", None) or (study.path(spec.costs) if spec is not None and spec.costs else None)
    opts.update({k: v for k, v in overrides.items() if v is not None})
    if costs is not None:
        opts["costs"] = read_costs(costs, UnitSet.from_dict(read_manifest(study.results_dir, year)["setting"]))
    return opts


def _ensure_plan(study: Study, year: int) -> None:
    """The plan the study's ``plan:`` key asks for, from ``year``'s results, kept beside them (an earlier plan is
    removed when the key is gone); recomputed when the year's store, the key or the costs file change."""
    spec = study.plan
    if spec is None:
        write_plan(study.results_dir, year, None, None)
        return
    blob = {"store": read_manifest(study.results_dir, year)["key"], "plan": spec.model_dump(mode="json"),
            "costs": sha256(study.path(spec.costs)) if spec.costs else None,
            "format": PLAN_FORMAT}
    key = hashlib.sha256(json.dumps(blob, sort_keys=True).encode("utf-8")).hexdigest()
    old = load_plan(study.results_dir, year)
    if old is not None and old[1].get("key") == key:
        return
    plan = plan_sample(study_plan_parameters(study, year), **plan_options(study, year))
    settings = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in plan.settings.items()}
    write_plan(study.results_dir, year, plan.table, {**settings, "notes": list(plan.notes), "key": key})
