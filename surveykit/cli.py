"""The command line (contract 3, docs/CONTRACTS.md). The only module that prints or exits.

Bad input ends with one line on stderr naming the file, row and column where known, and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

import pandas as pd

from .demo.study import write_demo_study
from .errors import InputError
from .instrument import write_instrument
from .io import read_table
from .io.atomic import write_atomic
from .io.writers import check_outputs, write_table
from .mapping import load_aliases, mapping_yaml
from .plan import plan_sample, write_plan
from .protection import cases as _cases_doc
from .protection.cases import check_case_tables, compile_cases, read_case_tables
from .protection.framework import load_framework
from .protection.pipeline import build_composite
from .protection.registry import REGISTRIES
from .protection.scorecard import evaluate_targets, load_targets
from .protection.uncertainty import uncertainty_analysis
from .protection.values import read_indicator_values
from .quality import DEFAULT_RULES, prepare, refusal
from .report.render import check_report_folder, render_reports
from .scoring import score
from .spec import load_questionnaire
from .spec.study import load_study
from .starter import write_starter_study
from .survey import Design
from .workflow import (ensure_results, plan_options, read_responses, study_plan_parameters, study_questionnaire,
                       study_units, year_inputs)

DEFAULT_STUDY = Path("data/demo/study.yaml")


def _design_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("sampling design")
    g.add_argument("--weights", metavar="W", help="column of sampling weights")
    g.add_argument("--strata", metavar="S", help="column of strata")
    g.add_argument("--psu", metavar="P", action="append",
                   help="column of primary sampling units (repeat for later stages: --psu street --psu id)")
    g.add_argument("--fpc", metavar="F", action="append",
                   help="column of population sizes (or sampling fractions), one per stage")
    g.add_argument("--lonely-psu", default="fail", choices=["fail", "adjust", "remove", "certainty"],
                   help="strata with a single sampled unit: refuse (default) or treat as R's survey does")
    g.add_argument("--rake", metavar="MARGINS.csv",
                   help="rake the weights to population margins (columns variable, level, total); "
                        "SEs are then calibration-aware")
    p.add_argument("--by", metavar="COL", action="append", help="domain column (repeatable)")
    p.add_argument("--out", metavar="OUT.csv", default="-", help="output CSV ('-' for standard output, the default)")


def _design(args, data: pd.DataFrame):
    d = Design(data, weights=args.weights, strata=args.strata, psu=args.psu, fpc=args.fpc,
               lonely_psu=args.lonely_psu)
    if args.rake:
        d = d.rake(read_table(args.rake))
    return d


def _write(df: pd.DataFrame, out: str) -> None:
    """A result table, spreadsheet-safe (surveykit.io.writers): .xlsx when the name ends so, else CSV to a file or,
    for '-', standard output."""
    path = write_table(df, out, sheet="table", bom=False)
    if path is not None:
        print(f"wrote {len(df)} rows to {path}", file=sys.stderr)


def _check_paths(outputs, inputs) -> None:
    """Before any work: no output overwrites an input or another output, and every output can be written."""
    check_outputs(outputs, inputs)


def cmd_estimate(args) -> int:
    _check_paths([args.out], [args.data, args.rake])
    data = read_table(args.data)
    d = _design(args, data)
    if args.stat == "proportion":
        out = d.proportion(args.var, by=args.by, method=args.method, success=args.success)
    elif args.stat == "quantile":
        out = d.quantile(args.var, args.quantiles, by=args.by)
    else:
        out = (d.mean if args.stat == "mean" else d.total)(args.var, by=args.by)
    _write(out, args.out)
    return 0


def cmd_crosstab(args) -> int:
    d = _design(args, read_table(args.data))
    test = d.chisq(args.row, args.col, by=args.by, statistic=args.statistic)
    _write(d.table(args.row, args.col, by=args.by), args.out)
    if args.out == "-" and args.test_out == "-":
        print()
    _write(test, args.test_out)
    return 0


def cmd_score(args) -> int:
    _check_paths([args.out], [args.questionnaire, args.responses, args.rake])
    q = load_questionnaire(args.questionnaire)
    # the quality rules decide what is scored: rows failing an `exclude` rule are refused, or left out with a
    # summary on stderr (--on-invalid exclude); nothing is dropped silently
    # (strict=False: a missing item column is reported by scoring itself, after the design options are checked;
    # id/unit columns keep their names in the file, which the design options refer to)
    p = prepare(q, read_table(args.responses), strict=False, rename_standard=False, rules=args.rules,
                mapping=args.mapping, aliases=args.aliases)
    if not p.ok:
        if args.on_invalid == "refuse":
            raise refusal(p)
        print(p.summary(), file=sys.stderr)
        print(f"scoring the {p.rows_kept} kept rows; `surveykit validate --log LOG.csv` lists the excluded ones",
              file=sys.stderr)
    if p.rows_kept == 0:
        raise InputError("no rows left to score after the quality rules", file=args.responses)
    data = p.data
    d = _design(args, data)
    _write(score(q, d, by=args.by), args.out)
    return 0


def _quality_inputs(args) -> dict:
    return dict(rules=args.rules, mapping=args.mapping, aliases=args.aliases, unit_column=args.unit_column,
                id_column=args.id_column, sheet=args.sheet, header_rows=args.header_rows)


def _quality_files(args) -> list:
    """The files `validate` and `map` read (the default rules included)."""
    return [args.questionnaire, args.responses, args.mapping, args.rules or DEFAULT_RULES, args.aliases]


def _write_log(log: pd.DataFrame, out: str, bom: bool = True) -> None:
    """A row-level log: CSV in UTF-8 with a BOM (Excel then shows Chinese correctly), or .xlsx; spreadsheet-safe."""
    path = write_table(log, out, sheet="log", bom=bom)
    print(f"wrote {len(log)} log rows to {path}", file=sys.stderr)


def cmd_validate(args) -> int:
    if args.study:
        p = _validate_study(args)
    else:
        if not (args.questionnaire and args.responses):
            raise InputError("validate needs --questionnaire and --responses, or --study and --year")
        _check_paths([args.log], _quality_files(args))
        p = prepare(load_questionnaire(args.questionnaire), args.responses, **_quality_inputs(args))
    print(p.summary())
    if args.log:
        _write_log(p.public_log(), args.log)
    return 0 if p.ok else 1


def _validate_study(args):
    """A year's responses read exactly as `surveykit report` reads them: the year's questionnaire, the study's rules,
    mapping, aliases and columns, and its list of units (a unit not in it stops here, as it stops the report)."""
    given = [o for o in ("questionnaire", "responses", "mapping", "rules", "aliases", "sheet", "header_rows")
             if getattr(args, o) is not None]
    if given or args.unit_column != "district" or args.id_column != "respondent_id":
        raise InputError("with --study, the study file names the questionnaire, responses, rules, mapping, aliases "
                         f"and columns; leave out --{(given or ['unit-column'])[0].replace('_', '-')}")
    if args.year is None:
        raise InputError("--study needs --year")
    study = _study_with_year(args)
    _check_paths([args.log], [study.file, *year_inputs(study, args.year).values()])
    p = read_responses(study, args.year, study_questionnaire(study, args.year))
    study_units(study, args.year, p)
    return p


def cmd_map(args) -> int:
    _check_paths([args.out], _quality_files(args))
    if args.out and Path(args.out).exists() and not args.force:
        raise InputError("the file exists; pass --force to overwrite it", file=args.out)
    q = load_questionnaire(args.questionnaire)
    p = prepare(q, args.responses, strict=False, **_quality_inputs(args))
    print(p.describe_mapping(q))
    complete = not p.mapping.missing_items and q.groups.column not in p.mapping.missing_roles
    if complete:
        print(f"\n`surveykit validate` would keep {p.rows_kept} of {p.rows_read} rows "
              f"({p.rows_excluded} excluded, {p.rows_flagged} flagged).")
    if args.out:
        path = Path(args.out)       # (refused before any work when it exists without --force)
        try:
            write_atomic(path, mapping_yaml(p.mapping, p.provenance))
        except OSError as exc:
            raise InputError(f"cannot write the file ({exc.strerror})", file=path) from None
        print(f"wrote the proposed mapping to {path}", file=sys.stderr)
    return 0 if complete else 1


def cmd_demo(args) -> int:
    years = tuple(args.years)
    print(f"generating demo data for {', '.join(map(str, years))} in {args.data}/ ...", file=sys.stderr)
    study = load_study(write_demo_study(Path(args.data), years=years, seed=args.seed,
                                        questionnaire=args.questionnaire))
    check_report_folder(study, args.out, max(years))
    print("computing the results store ...", file=sys.stderr)
    ensure_results(study)
    summary = render_reports(study, year=max(years), districts="all", lang=args.lang, out=Path(args.out),
                             jobs=args.jobs, progress=True)
    print(summary.text(), file=sys.stderr)
    return 0 if summary.ok else 1


def cmd_init(args) -> int:
    path = write_starter_study(Path(args.folder))
    print(f"wrote a new study folder: {path.parent}/ (example data: replace it piece by piece)\n"
          f"render it with: surveykit report --study {path} --year 2026 --district all --out {path.parent}/reports",
          file=sys.stderr)
    return 0


def _study_with_year(args):
    """The study of ``--study``, which must list ``--year``."""
    study = load_study(args.study)
    if args.year not in study.years:
        raise InputError(f"year {args.year} is not in the study (years: {', '.join(map(str, study.years))})",
                         file=args.study)
    return study


def cmd_report(args) -> int:
    study = _study_with_year(args)
    check_report_folder(study, args.out, args.year)
    ensure_results(study, recompute=args.recompute)
    summary = render_reports(study, year=args.year, districts=args.district, lang=args.lang, out=Path(args.out),
                             jobs=args.jobs, progress=not args.quiet)
    print(summary.text(), file=sys.stderr)
    return 0 if summary.ok else 1


def _read_values(paths):
    """One or more values files (unit, year, indicator, value) as one checked table."""
    parts = [read_indicator_values(p) for p in paths]
    if len(parts) == 1:
        return parts[0]
    allv = pd.concat(parts, ignore_index=True)
    allv.attrs["source"] = ", ".join(map(str, paths))
    allv.attrs["file_rows"] = pd.concat([pd.Series(t.attrs["file_rows"]) for t in parts], ignore_index=True).to_numpy()
    return read_indicator_values(allv)


def cmd_composite(args) -> int:
    _check_paths([args.out, args.steps, args.changes, args.uncertainty,
                  args.sobol, args.scorecard], [args.framework, *args.indicators, args.targets, args.survey])
    fw = load_framework(args.framework)
    if args.scorecard and not args.targets:
        raise InputError("--scorecard needs --targets TARGETS.yaml")
    tg = load_targets(args.targets) if args.targets else None  # a bad targets file is refused before any work
    values = _read_values(args.indicators)
    r = build_composite(fw, values, args.year, impute=args.impute, treat=args.treat, normalise=args.normalise,
                        weights=args.weights, aggregate=args.aggregate)
    for st in r.steps.itertuples():
        print(f"{st.step}: {st.method}: {st.changed}", file=sys.stderr)
    _write(r.scores[["unit", "node", "value", "score", "rank"]], args.out)
    if args.steps:
        _write(r.steps, args.steps)
    if args.changes:
        _write(r.changes, args.changes)
    if args.uncertainty or args.sobol:
        if args.runs < 1000:
            print(f"note: {args.runs} Monte Carlo runs; 1,000 or more are recommended", file=sys.stderr)
        ua = uncertainty_analysis(fw, values, args.year, runs=args.runs, sobol_n=args.sobol_n if args.sobol else 0,
                                  seed=args.seed)
        for note in ua.notes:
            print(f"note: {note}", file=sys.stderr)
        if args.uncertainty:
            _write(ua.ranks, args.uncertainty)
        if args.sobol:
            _write(ua.sobol, args.sobol)
    if args.targets:
        survey = None
        if args.survey:
            survey = read_table(args.survey)
            for c in ("unit", "estimate", "ci_low", "ci_high"):
                if c not in survey.columns:
                    raise InputError(f"no column '{c}' (the survey table has unit, estimate, ci_low, ci_high)",
                                     file=args.survey, column=c)
            survey["unit"] = [str(u).strip() for u in survey.unit]
        if survey is None and any(t.source == "survey" for t in tg.targets):
            print("note: no --survey table: the survey targets are 'insufficient data'", file=sys.stderr)
        card = evaluate_targets(tg, values, args.year, survey=survey, units=list(r.units))
        if args.scorecard:
            _write(card, args.scorecard)
        else:
            print(card.status.value_counts().to_string(), file=sys.stderr)
    return 0


def _study_units(study_file: str | None):
    """The units a study lists (None without a study, or when the data decide)."""
    if not study_file:
        return None
    return load_study(study_file).declared_units()


def cmd_cases_validate(args) -> int:
    _check_paths([args.log], args.files)
    tables = read_case_tables(args.files, unit=args.unit, year=args.year, period=args.period,
                              units=_study_units(args.study))
    check = check_case_tables(tables)
    print(check.summary(), file=sys.stderr)
    if args.log:
        _write_log(check.log, args.log, bom=False)
    return 0 if check.ok else 1


def cmd_cases_compile(args) -> int:
    _check_paths([args.summary, args.out], [*args.files, args.entities])
    tables = read_case_tables(args.files, unit=args.unit, year=args.year, period=None, units=_study_units(args.study))
    entities = _read_values([args.entities]) if args.entities else None
    summary, indicators = compile_cases(tables, entities, period=args.period)
    if args.summary:
        path = write_table(summary, args.summary, sheet="summary")  # opened in Excel by people: BOM for Chinese
        print(f"wrote the city summary ({len(summary)} rows) to {path}", file=sys.stderr)
    _write(indicators, args.out)
    return 0


def cmd_instrument(args) -> int:
    unit_column, id_column = args.unit_column, args.id_column
    setting: dict = {}
    if args.study:
        study = load_study(args.study)
        declared = study.declared_units()
        q = load_questionnaire(study.questionnaire_path)
        units = () if args.no_units or declared is None else tuple(declared)   # zh and en names
        unit_column, id_column = study.unit_column, study.quality.id_column
        # the study's words for its units when it declares them (the default 单位 reads as "workplace")
        setting = dict(unit_kind=study.unit_kind if "unit_kind" in study.model_fields_set else None,
                       comparisons=study.comparisons)
    elif args.questionnaire:
        q = load_questionnaire(args.questionnaire)
        units = () if args.no_units or not args.aliases else load_aliases(args.aliases).canonical
    else:
        raise InputError("name the questionnaire (--questionnaire Q) or the study (--study S)")
    written = write_instrument(q, Path(args.out), unit_column=unit_column, id_column=id_column, units=units,
                               **setting)
    for path in written.values():
        print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_plan(args) -> int:
    study = _study_with_year(args)
    check_outputs([args.out, args.parameters], inputs=[args.study, args.costs,
                                                       *year_inputs(study, args.year).values()])
    ensure_results(study, [args.year])
    params = study_plan_parameters(study, args.year)
    opts = plan_options(study, args.year, half_width=args.half_width, allocation=args.allocation,
                        power_q=args.power_q, group_half_width=args.group_half_width,
                        min_per_group=args.min_per_group, budget=args.budget, costs=args.costs,
                        valid_rate=args.valid_rate, cluster_size=args.cluster_size, variance=args.variance)
    plan = plan_sample(params, **opts)
    write_plan(plan.table, args.out)
    if args.parameters:
        write_plan(params, args.parameters)
    st = plan.settings
    cost = "" if st["cost"] != st["cost"] else f", cost {st['cost']:,.0f}"
    clusters = f" in {st['first_stage_units']:,} first-stage units" if st["clustered"] else ""
    print(f"wrote the plan to {args.out}: {st['interviews']:,} interviews{clusters}{cost}; widest unit half-width "
          f"±{st['max_unit_half_width']:.2f}, region ±{st['region_half_width']:.2f}", file=sys.stderr)
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _quality_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    """The options of the commands that read a response file (validate, map)."""
    p.add_argument("--questionnaire", required=required)
    p.add_argument("--responses", required=required, help="CSV, XLSX or SAV export")
    p.add_argument("--mapping", metavar="MAPPING.yaml", help="explicit column and label mapping")
    p.add_argument("--rules", metavar="RULES.yaml",
                   help="quality rules (default: the rules shipped with surveykit; partial files override it)")
    p.add_argument("--aliases", metavar="ALIASES.yaml",
                   help="other spellings of the units, e.g. {江城区: [江城, Jiangcheng]} (default: none)")
    p.add_argument("--sheet", help="XLSX sheet (default: the first)")
    p.add_argument("--header-rows", type=int, metavar="N",
                   help="header rows (default: 1, more when merged header cells span rows)")
    p.add_argument("--unit-column", default="district", help="name of the unit column (default: district)")
    p.add_argument("--id-column", default="respondent_id",
                   help="name of the respondent id column (default: respondent_id)")


def _add_demo(sub) -> None:
    d = sub.add_parser("demo", help="generate demo data and render every report")
    d.add_argument("--out", default="reports", help="folder for the reports (default: reports)")
    d.add_argument("--data", default="data/demo", help="folder for the demo data (default: data/demo)")
    d.add_argument("--questionnaire", help="questionnaire YAML (default: the one shipped with surveykit)")
    d.add_argument("--years", type=int, nargs="+", default=[2025, 2026])
    d.add_argument("--seed", type=int, default=20251123)
    d.add_argument("--lang", default="zh", choices=["zh", "en"])
    d.add_argument("--jobs", type=int, default=2)
    d.set_defaults(fn=cmd_demo)


def _add_init(sub) -> None:
    i = sub.add_parser("init", help="write a new study folder (example data) to start your own evaluation")
    i.add_argument("folder", help="the new folder (must not exist, or be empty)")
    i.set_defaults(fn=cmd_init)


def _add_validate(sub) -> None:
    v = sub.add_parser("validate", help="check a response file: summary, row-level log; exit 1 if rows are excluded")
    _quality_options(v, required=False)
    v.add_argument("--study", help="study file: check a year's responses as `surveykit report` reads them (its "
                                   "questionnaire for the year, rules, mapping, aliases, columns and units)")
    v.add_argument("--year", type=int, help="with --study: the year whose responses are checked")
    v.add_argument("--log", metavar="LOG.csv", help="write the row-level log (CSV, or .xlsx)")
    v.set_defaults(fn=cmd_validate)


def _add_map(sub) -> None:
    m = sub.add_parser("map", help="show how a response file's columns and labels map to the questionnaire")
    _quality_options(m)
    m.add_argument("--out", metavar="MAPPING.yaml", help="write the proposed mapping as a YAML file to edit")
    m.add_argument("--force", action="store_true", help="overwrite --out")
    m.set_defaults(fn=cmd_map)


def _add_instrument(sub) -> None:
    i = sub.add_parser("instrument", help="the questionnaire for fieldwork: printable HTML (zh, en), codebook, "
                                          "blank response template (CSV, XLSX) and XLSForm (ODK/KoboToolbox)")
    i.add_argument("--questionnaire", help="questionnaire YAML")
    i.add_argument("--study", help="study file: its questionnaire, units (zh and en names) and their wording, unit "
                                   "and id columns, and the columns of its declared comparisons")
    i.add_argument("--out", required=True, metavar="DIR", help="folder for the six files (created if missing)")
    i.add_argument("--unit-column", default="district", help="name of the unit column (default: district)")
    i.add_argument("--id-column", default="respondent_id",
                   help="name of the respondent id column (default: respondent_id)")
    iu = i.add_mutually_exclusive_group()
    iu.add_argument("--aliases", metavar="ALIASES.yaml",
                    help="the units offered as answers: the canonical names of this alias file (default: the "
                         "study's units with --study, else a free-text answer)")
    iu.add_argument("--no-units", action="store_true", help="ask the unit as free text instead")
    i.set_defaults(fn=cmd_instrument)


def _add_plan(sub) -> None:
    pl = sub.add_parser("plan", help="next year's sample: interviews and first-stage units per unit and group for a "
                                     "target half-width of every unit's index, from a year's results")
    pl.add_argument("--study", required=True, help="study file (its `plan:` key gives the defaults)")
    pl.add_argument("--year", type=int, required=True, help="the year whose results the plan starts from")
    pl.add_argument("--half-width", type=float, metavar="H", help="target 95%% half-width of every unit's index")
    pl.add_argument("--allocation", choices=["equal", "proportional", "neyman", "power"],
                    help="how respondents are shared among units (default power)")
    pl.add_argument("--power-q", type=float, metavar="Q",
                    help="power allocation's exponent: 0 every unit alike .. 1 Neyman (default 0.5)")
    pl.add_argument("--group-half-width", type=float, metavar="G", help="target half-width of every group's score")
    pl.add_argument("--min-per-group", type=int, metavar="N", help="minimum valid respondents per group and unit")
    pl.add_argument("--budget", type=float, metavar="B", help="total budget (needs --costs)")
    pl.add_argument("--costs", metavar="COSTS.csv", help="cost per interview: columns unit, cost")
    pl.add_argument("--valid-rate", type=float, metavar="R", help="expected valid share of interviews (default 1)")
    pl.add_argument("--cluster-size", type=float, metavar="M",
                    help="valid respondents per first-stage unit (default: this year's, per unit)")
    pl.add_argument("--variance", choices=["model", "observed"],
                    help="plan from the variance model (default) or this year's SE of each unit")
    pl.add_argument("--out", required=True, metavar="PLAN.csv", help="the plan, .csv or .xlsx")
    pl.add_argument("--parameters", metavar="PARAMS.csv", help="also write the parameters the plan starts from")
    pl.set_defaults(fn=cmd_plan)


def _add_estimate(sub) -> None:
    e = sub.add_parser("estimate", help="design-based means, totals, proportions or quantiles with SEs")
    e.add_argument("data", help="CSV, XLSX or SAV file")
    e.add_argument("--var", required=True, action="append", help="variable (repeatable)")
    e.add_argument("--stat", default="mean", choices=["mean", "total", "proportion", "quantile"])
    e.add_argument("--method", default="logit", choices=["logit", "likelihood", "beta", "mean"],
                   help="interval of --stat proportion (as R's svyciprop; default logit)")
    e.add_argument("--success", metavar="CODE", action="append",
                   help="--stat proportion: a code counted as 1 (repeatable); default: the variable is 0/1")
    e.add_argument("--quantiles", metavar="P", type=float, nargs="+", default=[0.5],
                   help="--stat quantile: probabilities (default 0.5)")
    _design_options(e)
    e.set_defaults(fn=cmd_estimate)


def _add_crosstab(sub) -> None:
    x = sub.add_parser("crosstab", help="weighted table of two variables and the Rao-Scott test of independence")
    x.add_argument("data", help="CSV, XLSX or SAV file")
    x.add_argument("row", help="row variable")
    x.add_argument("col", help="column variable")
    x.add_argument("--statistic", default="F", choices=["F", "Chisq"],
                   help="Rao-Scott second-order F (default) or first-order chi-squared (as R's svychisq)")
    x.add_argument("--test-out", metavar="TEST.csv", default="-",
                   help="where the test goes ('-', the default: standard output, after the table and a blank line)")
    _design_options(x)
    x.set_defaults(fn=cmd_crosstab)


def _add_score(sub) -> None:
    s = sub.add_parser("score", help="scores of every item, indicator and the index with SEs")
    s.add_argument("--questionnaire", required=True)
    s.add_argument("--responses", required=True)
    s.add_argument("--rules", metavar="RULES.yaml", help="quality rules (default: the rules shipped with surveykit)")
    s.add_argument("--mapping", metavar="MAPPING.yaml", help="explicit column and label mapping")
    s.add_argument("--aliases", metavar="ALIASES.yaml", help="other spellings of the units (default: none)")
    s.add_argument("--on-invalid", choices=["refuse", "exclude"], default="refuse",
                   help="rows failing a quality rule whose action is exclude: refuse the file (default) or leave "
                        "them out, with a summary on stderr")
    _design_options(s)
    s.set_defaults(fn=cmd_score)


def _add_report(sub) -> None:
    r = sub.add_parser("report", help="render the HTML reports of a year")
    r.add_argument("--year", type=int, required=True)
    r.add_argument("--district", default="all", help="'all', a unit (slug, Chinese or English name) or a comma-separated list of units")
    r.add_argument("--lang", default="zh", choices=["zh", "en"])
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--out", default="reports")
    r.add_argument("--study", default=str(DEFAULT_STUDY), help="study file (default: data/demo/study.yaml)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--recompute", action="store_true",
                   help="recompute the results store even when no input changed")
    r.set_defaults(fn=cmd_report)


def _add_composite(sub) -> None:
    c = sub.add_parser("composite", help="the protection-level composite index of a year (contract 5)")
    c.add_argument("--framework", required=True, help="indicator framework YAML (questionnaires/protection_level.yaml)")
    c.add_argument("--indicators", required=True, action="append",
                   help="values file with columns unit, year, indicator, value (repeatable)")
    c.add_argument("--year", type=int, required=True)
    c.add_argument("--out", default="-", help="scores CSV: unit, node, value, score, rank ('-' for standard output)")
    c.add_argument("--steps", metavar="STEPS.csv", help="write the record of every step")
    c.add_argument("--changes", metavar="CHANGES.csv", help="write every imputed, treated or lost value")
    g = c.add_argument_group("method choices (default: the framework's)")
    for key, registry in REGISTRIES.items():  # --impute --treat --normalise --weights --aggregate
        g.add_argument(f"--{key}", choices=sorted(registry))
    u = c.add_argument_group("uncertainty and sensitivity")
    u.add_argument("--uncertainty", metavar="RANKS.csv", help="Monte Carlo rank bands per unit")
    u.add_argument("--sobol", metavar="SOBOL.csv", help="Sobol first-order and total indices per assumption")
    u.add_argument("--runs", type=int, default=1000, help="Monte Carlo runs (default 1000)")
    u.add_argument("--sobol-n", type=int, default=256, help="Sobol base sample size N (runs = N x (factors + 2))")
    u.add_argument("--seed", type=int, default=2025)
    t = c.add_argument_group("acceptance scorecard")
    t.add_argument("--targets", metavar="TARGETS.yaml", help="targets file (questionnaires/demo_zone_targets.yaml)")
    t.add_argument("--survey", metavar="SURVEY.csv", help="survey estimates: unit, estimate, ci_low, ci_high")
    t.add_argument("--scorecard", metavar="CARD.csv", help="write the scorecard")
    c.set_defaults(fn=cmd_composite)


def _add_cases(sub) -> None:
    k = sub.add_parser("cases", help="district case-statistics tables (行政保护案件统计表): validate, compile",
                       description=(_cases_doc.__doc__ or "").split("Checks (")[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    ksub = k.add_subparsers(dest="cases_command", required=True)
    kv = ksub.add_parser("validate", help="check case tables (XLSX/CSV, half-year and full-year)")
    kc = ksub.add_parser("compile", help="the city summary table and the derived indicators (long CSV)")
    for q in (kv, kc):
        q.add_argument("files", nargs="+", help="case tables, or folders of them")
        q.add_argument("--unit", help="the unit, when neither the title nor the file name says")
        q.add_argument("--study", help="study file: its units are recognised in titles and file names")
        q.add_argument("--year", type=int, help="the year, when neither the title nor the file name says")
    kv.add_argument("--period", choices=["H1", "FY"], help="H1 (half year) or FY (full year), when not in the file")
    kv.add_argument("--log", metavar="LOG.csv", help="write every finding (severity, file, row, column, message)")
    kv.set_defaults(fn=cmd_cases_validate)
    kc.add_argument("--period", choices=["H1", "FY"], default="FY", help="tables to compile (default FY)")
    kc.add_argument("--entities", metavar="VALUES.csv",
                    help="values file with market_entities (adds admin_cases_per_10k)")
    kc.add_argument("--summary", metavar="SUMMARY.csv", help="write the city summary table (UTF-8 with BOM)")
    kc.add_argument("--out", default="-", help="derived indicators, long CSV ('-' for standard output)")
    kc.set_defaults(fn=cmd_cases_compile)


#: The commands, in the order of ``surveykit --help``: each adds its parser to the subparsers.
COMMANDS = (_add_demo, _add_init, _add_validate, _add_map, _add_instrument, _add_plan, _add_estimate, _add_crosstab,
            _add_score, _add_report, _add_composite, _add_cases)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="surveykit", description="Design-based survey scores and evaluation reports.")
    sub = p.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return p


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that running work stops and cleans up (e.g. the report workers)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _exit_soon(code: int, seconds: float = 3.0) -> None:
    """After an interruption the work is stopped and cleaned up; should the interpreter's own shutdown then hang
    (joining a process pool's threads after its workers were killed can, on Python 3.11), end the process."""
    def hard_exit():
        sys.stderr.flush()
        os._exit(code)

    timer = threading.Timer(seconds, hard_exit)
    timer.daemon = True
    timer.start()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed one line of usage error; keep its status (2)
        return int(exc.code or 0)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        return args.fn(args)
    except InputError as exc:
        print(f"surveykit: error: {exc.one_line()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print("surveykit: interrupted", file=sys.stderr)
        code = 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
        if argv is None:  # the program itself (not a caller in Python): make sure it ends
            _exit_soon(code)
        return code
    except BrokenPipeError:
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
