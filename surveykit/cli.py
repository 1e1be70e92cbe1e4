"""The command line (contract 3 of ARCHITECTURE.md). The only module that prints or exits.

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

from .errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_QUESTIONNAIRE = REPO_ROOT / "questionnaires" / "ip_protection_satisfaction.yaml"
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
    from .io import read_table
    from .survey import Design

    d = Design(data, weights=args.weights, strata=args.strata, psu=args.psu, fpc=args.fpc,
               lonely_psu=args.lonely_psu)
    if args.rake:
        d = d.rake(read_table(args.rake))
    return d


def _write(df: pd.DataFrame, out: str) -> None:
    """A result table as CSV (spreadsheet-safe, surveykit.io.writers) to a file or, for '-', standard output."""
    from .io.writers import write_csv

    path = write_csv(df, out)
    if path is not None:
        print(f"wrote {len(df)} rows to {path}", file=sys.stderr)


def _check_paths(outputs, inputs) -> None:
    """Before any work: no output overwrites an input or another output, and every output can be written."""
    from .io.writers import check_outputs

    check_outputs(outputs, inputs)


def cmd_estimate(args) -> int:
    from .io import read_table

    _check_paths([args.out], [args.data, args.rake])
    data = read_table(args.data)
    d = _design(args, data)
    fn = d.mean if args.stat == "mean" else d.total
    _write(fn(args.var, by=args.by), args.out)
    return 0


def cmd_score(args) -> int:
    from .io import read_table
    from .quality import prepare, refusal
    from .scoring import score
    from .spec import load_questionnaire

    _check_paths([args.out], [args.questionnaire, args.responses, args.rake])
    q = load_questionnaire(args.questionnaire)
    # the quality rules decide what is scored: rows failing an `exclude` rule are refused, or left out with a
    # summary on stderr (--on-invalid exclude); nothing is dropped silently
    # (strict=False: a missing item column is reported by scoring itself, after the design options are checked;
    # id/unit columns keep their names in the file, which the design options refer to)
    p = prepare(q, read_table(args.responses), strict=False, rename_standard=False)
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
    """The files `validate` and `map` read (the default rules and aliases included)."""
    from .mapping import DEFAULT_ALIASES
    from .quality import DEFAULT_RULES

    return [args.questionnaire, args.responses, args.mapping, args.rules or DEFAULT_RULES,
            args.aliases or DEFAULT_ALIASES]


def _write_log(log: pd.DataFrame, out: str, bom: bool = True) -> None:
    """A row-level log: CSV in UTF-8 with a BOM (Excel then shows Chinese correctly), or .xlsx; spreadsheet-safe."""
    from .io.writers import write_table

    path = write_table(log, out, sheet="log", bom=bom)
    print(f"wrote {len(log)} log rows to {path}", file=sys.stderr)


def cmd_validate(args) -> int:
    from .quality import prepare
    from .spec import load_questionnaire

    _check_paths([args.log], _quality_files(args))
    q = load_questionnaire(args.questionnaire)
    p = prepare(q, args.responses, **_quality_inputs(args))
    print(p.summary())
    if args.log:
        _write_log(p.public_log(), args.log)
    return 0 if p.ok else 1


def cmd_map(args) -> int:
    from .mapping import mapping_yaml
    from .quality import prepare
    from .spec import load_questionnaire

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
        from .io.atomic import write_atomic

        path = Path(args.out)
        try:
            write_atomic(path, mapping_yaml(p.mapping, _MappedFrame(p)))
        except OSError as exc:
            raise InputError(f"cannot write the file ({exc.strerror})", file=path) from None
        print(f"wrote the proposed mapping to {path}", file=sys.stderr)
    return 0 if complete else 1


class _MappedFrame:
    """The attrs that :func:`surveykit.mapping.mapping_yaml` reads."""

    def __init__(self, p):
        self.attrs = p.attrs


def cmd_demo(args) -> int:
    from .report.render import check_report_folder, render_reports
    from .results import ensure_results
    from .spec import load_questionnaire
    from .spec.study import load_study
    from .synth import write_demo

    data_dir = Path(args.data)
    data_dir.mkdir(parents=True, exist_ok=True)
    q = load_questionnaire(args.questionnaire)
    years = tuple(args.years)
    print(f"generating demo data for {', '.join(map(str, years))} in {data_dir}/ ...", file=sys.stderr)
    write_demo(q, data_dir, years=years, seed=args.seed)
    for y in years:
        write_margins(data_dir / f"population_{y}.csv", data_dir / f"margins_{y}.csv")
    from .protection.demo import write_protection_demo

    write_protection_demo(data_dir / "protection", years, args.seed)
    study_path = write_demo_study(data_dir, Path(args.questionnaire), years)
    study = load_study(study_path)
    check_report_folder(study, args.out, max(years))
    print("computing the results store ...", file=sys.stderr)
    ensure_results(study)
    summary = render_reports(study, year=max(years), districts="all", lang=args.lang, out=Path(args.out),
                             jobs=args.jobs, progress=True)
    print(summary.text(), file=sys.stderr)
    return 0 if summary.ok else 1


def write_margins(population_csv: Path, out: Path) -> Path:
    """Raking margins (variable, level, total) from the demo's population counts per unit and group."""
    pop = pd.read_csv(population_csv, encoding="utf-8-sig")
    parts = [pop.groupby(col, sort=False)["count"].sum().reset_index().rename(columns={col: "level", "count": "total"})
             .assign(variable=col) for col in ("district", "group")]
    from .io.writers import write_csv

    write_csv(pd.concat(parts)[["variable", "level", "total"]], out)
    return out


def write_demo_study(data_dir: Path, questionnaire: Path, years) -> Path:
    """The study file for the demo data: the design the synthetic sample was drawn with."""
    import os

    rel_q = os.path.relpath(questionnaire.resolve(), data_dir.resolve())
    lines = [
        "# Study file written by `surveykit demo` (see surveykit/spec/study.py for the format).",
        f"questionnaire: {rel_q}",
        "unit_column: district",
        "design:",
        "  weights: weight",
        "  strata: district",
        "  psu: [street, respondent_id]   # stage 1: streets/towns; stage 2: respondents",
        "  fpc: [n_streets, n_frame]      # population sizes per stage",
        "years:",
        *[f"  {y}: {{responses: responses_{y}.csv, rake: margins_{y}.csv}}" for y in years],
        "results: results",
        "min_n: 30",
    ]
    if (data_dir / "protection" / "indicators.csv").exists():
        lines += ["protection:                      # the protection-level composite (contract 5)",
                  "  indicators: protection/indicators.csv",
                  "  cases: protection/cases"]
    path = data_dir / "study.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cmd_report(args) -> int:
    from .report.render import check_report_folder, render_reports
    from .results import ensure_results
    from .spec.study import load_study

    study = load_study(args.study)
    if args.year not in study.years:
        raise InputError(f"year {args.year} is not in the study (years: {', '.join(map(str, study.years))})",
                         file=args.study)
    check_report_folder(study, args.out, args.year)
    ensure_results(study)
    summary = render_reports(study, year=args.year, districts=args.district, lang=args.lang, out=Path(args.out),
                             jobs=args.jobs, progress=not args.quiet)
    print(summary.text(), file=sys.stderr)
    return 0 if summary.ok else 1


def _read_values(paths):
    """One or more values files (unit, year, indicator, value) as one checked table."""
    from .protection.values import read_indicator_values

    parts = [read_indicator_values(p) for p in paths]
    if len(parts) == 1:
        return parts[0]
    allv = pd.concat(parts, ignore_index=True)
    allv.attrs["source"] = ", ".join(map(str, paths))
    allv.attrs["file_rows"] = pd.concat([pd.Series(t.attrs["file_rows"]) for t in parts], ignore_index=True).to_numpy()
    return read_indicator_values(allv)


def cmd_composite(args) -> int:
    from .protection.framework import load_framework
    from .protection.pipeline import build_composite

    _check_paths([args.out, args.steps, args.changes, args.uncertainty,
                  args.sobol, args.scorecard], [args.framework, *args.indicators, args.targets, args.survey])
    fw = load_framework(args.framework)
    if args.scorecard and not args.targets:
        raise InputError("--scorecard needs --targets TARGETS.yaml")
    from .protection.scorecard import evaluate_targets, load_targets

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
        from .protection.uncertainty import uncertainty_analysis

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
        from .io import read_table

        survey = None
        if args.survey:
            survey = read_table(args.survey)
            for c in ("unit", "estimate", "ci_low", "ci_high"):
                if c not in survey.columns:
                    raise InputError(f"no column '{c}' (the survey table has unit, estimate, ci_low, ci_high)",
                                     file=args.survey, column=c)
            from .units import find_unit

            survey["unit"] = [find_unit(str(u).strip()).zh if find_unit(str(u).strip()) else str(u) for u in survey.unit]
        if survey is None and any(t.source == "survey" for t in tg.targets):
            print("note: no --survey table: the survey targets are 'insufficient data'", file=sys.stderr)
        card = evaluate_targets(tg, values, args.year, survey=survey, units=list(r.units))
        if args.scorecard:
            _write(card, args.scorecard)
        else:
            print(card.status.value_counts().to_string(), file=sys.stderr)
    return 0


def cmd_cases_validate(args) -> int:
    from .protection.cases import check_case_tables, read_case_tables

    _check_paths([args.log], args.files)
    tables = read_case_tables(args.files, unit=args.unit, year=args.year, period=args.period)
    check = check_case_tables(tables)
    print(check.summary(), file=sys.stderr)
    if args.log:
        _write_log(check.log, args.log, bom=False)
    return 0 if check.ok else 1


def cmd_cases_compile(args) -> int:
    from .protection.cases import compile_cases, read_case_tables

    _check_paths([args.summary, args.out], [*args.files, args.entities])
    tables = read_case_tables(args.files, unit=args.unit, year=args.year, period=None)
    entities = _read_values([args.entities]) if args.entities else None
    summary, indicators = compile_cases(tables, entities, period=args.period)
    if args.summary:
        from .io.writers import write_table

        path = write_table(summary, args.summary, sheet="summary")  # opened in Excel by people: BOM for Chinese
        print(f"wrote the city summary ({len(summary)} rows) to {path}", file=sys.stderr)
    _write(indicators, args.out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="surveykit", description="Design-based survey scores and evaluation reports.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="generate demo data and render every report")
    d.add_argument("--out", default="reports", help="folder for the reports (default: reports)")
    d.add_argument("--data", default="data/demo", help="folder for the demo data (default: data/demo)")
    d.add_argument("--questionnaire", default=str(DEFAULT_QUESTIONNAIRE))
    d.add_argument("--years", type=int, nargs="+", default=[2025, 2026])
    d.add_argument("--seed", type=int, default=20251123)
    d.add_argument("--lang", default="zh", choices=["zh", "en"])
    d.add_argument("--jobs", type=int, default=2)
    d.set_defaults(fn=cmd_demo)

    def quality_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--questionnaire", required=True)
        p.add_argument("--responses", required=True, help="CSV, XLSX or SAV export")
        p.add_argument("--mapping", metavar="MAPPING.yaml", help="explicit column and label mapping")
        p.add_argument("--rules", metavar="RULES.yaml",
                       help="quality rules (default: questionnaires/quality_rules.yaml; partial files override it)")
        p.add_argument("--aliases", metavar="ALIASES.yaml",
                       help="unit spellings (default: questionnaires/unit_aliases.yaml)")
        p.add_argument("--sheet", help="XLSX sheet (default: the first)")
        p.add_argument("--header-rows", type=int, metavar="N",
                       help="header rows (default: 1, more when merged header cells span rows)")
        p.add_argument("--unit-column", default="district", help="name of the unit column (default: district)")
        p.add_argument("--id-column", default="respondent_id",
                       help="name of the respondent id column (default: respondent_id)")

    v = sub.add_parser("validate", help="check a response file: summary, row-level log; exit 1 if rows are excluded")
    quality_options(v)
    v.add_argument("--log", metavar="LOG.csv", help="write the row-level log (CSV, or .xlsx)")
    v.set_defaults(fn=cmd_validate)

    m = sub.add_parser("map", help="show how a response file's columns and labels map to the questionnaire")
    quality_options(m)
    m.add_argument("--out", metavar="MAPPING.yaml", help="write the proposed mapping as a YAML file to edit")
    m.add_argument("--force", action="store_true", help="overwrite --out")
    m.set_defaults(fn=cmd_map)

    e = sub.add_parser("estimate", help="design-based means or totals with SEs")
    e.add_argument("data", help="CSV, XLSX or SAV file")
    e.add_argument("--var", required=True, action="append", help="variable (repeatable)")
    e.add_argument("--stat", default="mean", choices=["mean", "total"])
    _design_options(e)
    e.set_defaults(fn=cmd_estimate)

    s = sub.add_parser("score", help="scores of every item, indicator and the index with SEs")
    s.add_argument("--questionnaire", required=True)
    s.add_argument("--responses", required=True)
    s.add_argument("--on-invalid", choices=["refuse", "exclude"], default="refuse",
                   help="rows failing a quality rule whose action is exclude: refuse the file (default) or leave "
                        "them out, with a summary on stderr")
    _design_options(s)
    s.set_defaults(fn=cmd_score)

    r = sub.add_parser("report", help="render the HTML reports of a year")
    r.add_argument("--year", type=int, required=True)
    r.add_argument("--district", default="all", help="'all', a unit (slug, Chinese or English name) or a comma-separated list of units")
    r.add_argument("--lang", default="zh", choices=["zh", "en"])
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--out", default="reports")
    r.add_argument("--study", default=str(DEFAULT_STUDY), help="study file (default: data/demo/study.yaml)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(fn=cmd_report)

    c = sub.add_parser("composite", help="the protection-level composite index of a year (contract 5)")
    c.add_argument("--framework", required=True, help="indicator framework YAML (questionnaires/protection_level.yaml)")
    c.add_argument("--indicators", required=True, action="append",
                   help="values file with columns unit, year, indicator, value (repeatable)")
    c.add_argument("--year", type=int, required=True)
    c.add_argument("--out", default="-", help="scores CSV: unit, node, value, score, rank ('-' for standard output)")
    c.add_argument("--steps", metavar="STEPS.csv", help="write the record of every step")
    c.add_argument("--changes", metavar="CHANGES.csv", help="write every imputed, treated or lost value")
    g = c.add_argument_group("method choices (default: the framework's)")
    g.add_argument("--impute", choices=["refuse", "none", "mean", "previous"])
    g.add_argument("--treat", choices=["none", "winsorise"])
    g.add_argument("--normalise", choices=["minmax", "goalposts", "zscore", "rank", "distance"])
    g.add_argument("--weights", choices=["expert", "equal", "ahp", "entropy"])
    g.add_argument("--aggregate", choices=["arithmetic", "geometric"])
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

    from .protection import cases as _cases_doc

    k = sub.add_parser("cases", help="district case-statistics tables (行政保护案件统计表): validate, compile",
                       description=(_cases_doc.__doc__ or "").split("Checks (")[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    ksub = k.add_subparsers(dest="cases_command", required=True)
    kv = ksub.add_parser("validate", help="check case tables (XLSX/CSV, half-year and full-year)")
    kc = ksub.add_parser("compile", help="the city summary table and the derived indicators (long CSV)")
    for q in (kv, kc):
        q.add_argument("files", nargs="+", help="case tables, or folders of them")
        q.add_argument("--unit", help="the district, when neither the title nor the file name says")
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
