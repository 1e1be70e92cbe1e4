"""Batch rendering: one papermill run per unit, converted in-process to a self-contained HTML file.

* Parameters are validated against allow-lists *before* papermill injects anything: the unit must be one of the
  17 known units (its ASCII slug is what is injected), the year one of the study's years, the language zh/en.
  Text carrying code is refused with an :class:`~surveykit.errors.InputError` (exit status 2) and no kernel starts.
* Units run in parallel in worker processes (``jobs``), each with its own kernel; any
  :class:`concurrent.futures.Executor` can be passed instead (e.g. a ``dask.distributed`` client's executor).
* A failing unit does not stop the others; it is retried once (kernels occasionally fail to start), then
  reported in the summary and the run's exit status.
* Every file is written atomically (temporary file, then rename); each run writes ``<out>/<year>/manifest.json``.
* Each notebook runs in its own kernel, stopped as soon as the notebook is done; its connection file and sockets
  live in a temporary folder of the run, removed at the end.
* Interrupted (Ctrl-C, or SIGTERM through the command line), the run stops every worker and kernel at once,
  removes their half-written files and temporary folder, and writes the run manifest with ``"interrupted": true``
  and the units it rendered; then the interruption goes on (:class:`KeyboardInterrupt`).
* The report folder must not be the results store's folder or inside it (it would overwrite the store), nor hold
  an input file where a report goes; ``<out>/index.html`` links the reports of every year in the folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

from ..errors import InputError
from ..spec.study import Study
from ..units import UNITS, Unit, find_unit

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "district_report.ipynb"
CITY_NOTEBOOK = NOTEBOOK.with_name("city_report.ipynb")
CITY = "city"  # the name of the city overview among the outcomes (its file: <out>/<year>/city.html)
LANGS = ("zh", "en")


@dataclass(frozen=True)
class Outcome:
    unit: str
    ok: bool
    path: str | None
    seconds: float
    attempts: int
    error: str | None = None


@dataclass
class RenderSummary:
    year: int
    lang: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    index: str | None = None
    workbook: str | None = None
    interrupted: bool = False
    not_rendered: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(o.ok for o in self.outcomes)

    def text(self) -> str:
        good = [o for o in self.outcomes if o.ok]
        bad = [o for o in self.outcomes if not o.ok]
        lines = [f"rendered {len(good)} of {len(self.outcomes)} report(s) for {self.year} ({self.lang}) "
                 f"in {self.seconds:.1f} s" + (f"; index: {self.index}" if self.index else "")
                 + (f"; tables: {self.workbook}" if self.workbook else "")]
        for o in bad:
            lines.append(f"  FAILED {o.unit} after {o.attempts} attempt(s): {o.error}")
        if self.interrupted:
            lines.append(f"  INTERRUPTED: not rendered: {', '.join(self.not_rendered) or '-'}")
        return "\n".join(lines)


def resolve_units(districts: str) -> list[Unit]:
    """``all``, one unit, or a comma-separated list of units (slug / Chinese / English name); anything else is
    refused -- this allow-list is what protects the notebook from injected code."""
    if districts == "all":
        return list(UNITS)
    units = []
    for name in str(districts).replace("，", ",").split(","):
        unit = find_unit(name.strip())
        if unit is None:
            shown = str(districts)[:40] + ("…" if len(str(districts)) > 40 else "")
            raise InputError(f"unknown district {shown!r}: expected 'all' or one or more (comma-separated) of "
                             f"{', '.join(u.slug for u in UNITS)} (or their Chinese names)")
        if unit not in units:
            units.append(unit)
    return units


def validate_parameters(study: Study, year, lang, districts) -> tuple[int, str, list[Unit]]:
    """Check every report parameter against its allow-list before anything is injected into a notebook."""
    if isinstance(year, bool) or not isinstance(year, int):
        try:
            year = int(str(year))
        except ValueError:
            raise InputError(f"year must be a number, not {str(year)[:20]!r}") from None
    if year not in study.years:
        raise InputError(f"year {year} is not in the study (years: {', '.join(map(str, study.years))})")
    if lang not in LANGS:
        raise InputError(f"language must be one of {', '.join(LANGS)}, not {str(lang)[:20]!r}")
    return year, lang, resolve_units(districts)


def render_unit(notebook: str, params: dict, out_html: str, attempts: int = 2, name: str | None = None) -> Outcome:
    """Execute the report notebook for one unit and write its HTML; runs in a worker process."""
    from .html import external_references, notebook_to_html, write_atomic

    t0 = time.perf_counter()
    error = None
    for attempt in range(1, attempts + 1):
        try:
            nb = _execute(notebook, params)
            html = notebook_to_html(nb, lang=params["lang"])
            ext = external_references(html)
            if ext:
                raise RuntimeError(f"the report would reference outside resources: {ext[:3]}")
            write_atomic(out_html, html)
            return Outcome(name or params["district"], True, out_html, time.perf_counter() - t0, attempt)
        except Exception as exc:  # a failing unit must not stop the others: record and retry once
            if hasattr(exc, "ename"):  # papermill: the notebook's own exception, e.g. "KeyError: 'x' (cell 5)"
                error = f"{exc.ename}: {exc.evalue} (cell {getattr(exc, 'exec_count', '?')})"[:300]
            else:
                lines = [ln for ln in traceback.format_exception_only(type(exc), exc)[-1].splitlines() if ln.strip()]
                error = (lines[-1] if lines else type(exc).__name__)[:300]
    return Outcome(name or params["district"], False, None, time.perf_counter() - t0, attempts, error)


def _execute(notebook: str, params: dict):
    """Run ``notebook`` in a private kernel over Unix sockets (parallel kernels cannot collide on ports, nothing
    listens on the network) whose connection file and sockets are in a temporary folder; the kernel is stopped
    and the folder removed when the notebook ends, however it ends."""
    import papermill as pm
    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory(prefix="k") as tmp:
        # a Unix socket path has at most 107 bytes: under a very deep temporary folder, use loopback TCP instead
        ipc = len(os.fsencode(tmp)) + len("/k-1") < 104
        km = KernelManager(kernel_name="python3", transport="ipc" if ipc else "tcp",
                           ip=str(Path(tmp) / "k") if ipc else "127.0.0.1",
                           connection_file=str(Path(tmp) / "kernel.json"))
        try:
            return pm.execute_notebook(notebook, None, parameters=params, kernel_name="python3", progress_bar=False,
                                       log_output=False, report_mode=True, cwd=str(Path(notebook).parent), km=km,
                                       extra_arguments=["--IPKernelApp.log_level=ERROR",
                                                        "--HistoryManager.enabled=False"])
        finally:  # papermill leaves a kernel it did not create running: stop it here
            try:
                if km.has_kernel:
                    km.shutdown_kernel(now=True)
            finally:
                km.cleanup_resources()


def _worker_init(tmp_root: str) -> None:
    """In each worker process: temporary files (and the kernels') go to the run's folder; Ctrl-C is left to the
    main process, which stops the workers; a worker whose main process died stops itself."""
    os.environ["TMPDIR"] = tmp_root
    tempfile.tempdir = tmp_root
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        _kill(_descendants(os.getpid()))
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="sk-parent-watch").start()


def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _kill(procs: list, timeout: float = 3.0) -> list:
    """SIGKILL ``procs`` and wait until they are gone (a zombie left to be reaped counts as gone); returns those
    still running after ``timeout`` seconds."""
    import psutil

    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    deadline = time.monotonic() + timeout
    alive = list(procs)
    while alive and time.monotonic() < deadline:
        alive = [p for p in psutil.wait_procs(alive, timeout=0.05)[1] if _running(p)]
    return alive


def _running(p) -> bool:
    import psutil

    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def render_reports(study: Study, *, year, districts="all", lang="zh", out: Path | str = "reports", jobs: int = 2,
                   executor: Executor | None = None, progress: bool = False, notebook: Path | None = None,
                   city_notebook: Path | None = None) -> RenderSummary:
    """Render the reports of ``year`` for ``districts`` ('all' or one unit) into ``out/<year>/<slug>.html``.

    Returns a :class:`RenderSummary`; raises :class:`InputError` for invalid parameters (nothing is run).
    """
    year, lang, units = validate_parameters(study, year, lang, districts)
    results = study.results_dir
    if not (results / str(year) / "manifest.json").exists():
        raise InputError(f"no results store for {year}; compute it first (surveykit report does)", file=results)
    nb_path = Path(notebook or NOTEBOOK)
    if not nb_path.exists():
        raise InputError("report notebook not found", file=nb_path)
    out = check_report_folder(study, out, year)
    try:
        (out / str(year)).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the report folder ({exc.strerror})", file=out / str(year)) from None
    summary = RenderSummary(year=year, lang=lang)
    t0 = time.perf_counter()
    jobs_list = []
    if districts == "all":  # the city overview goes first: it is the longest
        jobs_list.append((str(city_notebook or CITY_NOTEBOOK), {"year": year, "lang": lang, "results": str(results)},
                          str(out / str(year) / f"{CITY}.html"), 2, CITY))
    for u in units:
        params = {"year": year, "district": u.slug, "lang": lang, "results": str(results)}
        jobs_list.append((str(nb_path), params, str(out / str(year) / f"{u.slug}.html")))
    _run_jobs(jobs_list, summary, executor, jobs, progress, study, out / str(year), t0)
    summary.index = str(write_index(study, year, lang, out, summary))
    from ..results import load_results
    from .suppression import previous_store
    from .workbook import write_workbook

    summary.workbook = str(write_workbook(load_results(study.results_dir, year),
                                          out / str(year) / f"surveykit_tables_{year}.xlsx",
                                          previous=previous_store(study.results_dir, year)))
    summary.seconds = time.perf_counter() - t0
    _write_run_manifest(out / str(year) / "manifest.json", study, summary)
    return summary


def _job_name(job: tuple) -> str:
    return job[4] if len(job) > 4 else job[1]["district"]


def _run_jobs(jobs_list: list, summary: RenderSummary, executor: Executor | None, jobs: int, progress: bool,
              study: Study, folder: Path, t0: float) -> None:
    """Run the notebooks (outcomes into ``summary``). Interrupted: stop the workers and kernels, remove their
    half-written files, write the run manifest (``interrupted``, what was rendered), then re-raise."""
    own = executor is None
    tmp_root = tempfile.mkdtemp(prefix="skr") if own else None  # short: kernels' socket paths are inside
    before = {p.pid for p in _descendants(os.getpid())}
    if own:
        executor = ProcessPoolExecutor(max_workers=max(1, min(jobs, len(jobs_list))), mp_context=get_context("spawn"),
                                       initializer=_worker_init, initargs=(tmp_root,))
    bar = None
    try:
        futures = [executor.submit(render_unit, *j) for j in jobs_list]
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(futures), desc=f"reports {summary.year}", unit="report", file=sys.stderr)
        for f in as_completed(futures):
            summary.outcomes.append(f.result())
            if bar:
                bar.update(1)
    except KeyboardInterrupt:
        with _signals_held():
            if own:
                _stop_workers(executor, before, tmp_root)
            _remove_partials(jobs_list)
            done = {o.unit for o in summary.outcomes}
            summary.interrupted = True
            summary.not_rendered = [_job_name(j) for j in jobs_list if _job_name(j) not in done]
            _sort_outcomes(summary)
            summary.seconds = time.perf_counter() - t0
            _write_run_manifest(folder / "manifest.json", study, summary)
        raise
    finally:
        if bar:
            bar.close()
        if own:  # (after workers were killed, joining the pool's threads can hang on Python 3.11: not waited for)
            executor.shutdown(wait=not summary.interrupted, cancel_futures=True)
            shutil.rmtree(tmp_root, ignore_errors=True)
    _sort_outcomes(summary)


def _sort_outcomes(summary: RenderSummary) -> None:
    order = {CITY: -1, **{u.slug: k for k, u in enumerate(UNITS)}}
    summary.outcomes.sort(key=lambda o: order.get(o.unit, 99))


def _stop_workers(executor: Executor, before: set[int], tmp_root: str) -> None:
    """Stop every worker process of this run and every kernel they started, at once (SIGKILL: a kernel holds
    nothing to save, and the half-written files are removed by the caller)."""
    import psutil

    executor.shutdown(wait=False, cancel_futures=True)
    _kill([p for p in _descendants(os.getpid()) if p.pid not in before and "resource_tracker" not in _cmdline(p)])
    # a kernel started in the instant its worker was stopped is no longer our descendant: find it by its files
    _kill([p for p in psutil.process_iter() if tmp_root in _cmdline(p)])


def _cmdline(p) -> str:
    import psutil

    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def _remove_partials(jobs_list: list) -> None:
    """The temporary files of the reports being written when the run stopped (see surveykit.io.atomic)."""
    for j in jobs_list:
        target = Path(j[2])
        for tmp in target.parent.glob(f".{target.stem}.*{target.suffix}"):
            tmp.unlink(missing_ok=True)


@contextmanager
def _signals_held():
    """Ignore a second Ctrl-C / SIGTERM while an interruption is cleaned up (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def study_inputs(study: Study) -> list[Path]:
    """Every input file (or folder) a study reads."""
    rel = [study.questionnaire]
    for ys in study.years.values():
        rel += [ys.responses, ys.rake]
    rel += [study.quality.rules, study.quality.mapping, study.quality.aliases]
    if study.protection is not None:
        p = study.protection
        rel += [p.indicators, p.cases, p.framework, p.targets]
    return [study.path(r) for r in rel if r]


def check_report_folder(study: Study, out, year: int) -> Path:
    """``out``, resolved; refused (:class:`InputError`) when it is the results store's folder or inside it, is a
    file, lies under a file, cannot be written, or holds an input file where this run writes."""
    from ..io.writers import check_output_path

    out = check_output_path(out, folder=True)
    res = study.results_dir.resolve()
    if out == res or out.is_relative_to(res):
        where = "the results store's folder" if out == res else "inside the results store's folder"
        raise InputError(f"the report folder is {where} ({res}): the reports would overwrite the store; choose "
                         "another --out", file=out)
    for f in study_inputs(study):
        r = f.resolve()
        if r == out / "index.html" or r.parent == out / str(year):
            raise InputError(f"the report folder holds an input file ({f}) where reports are written; choose "
                             "another --out", file=out)
    return out


def _write_run_manifest(path: Path, study: Study, summary: RenderSummary) -> None:
    from .. import __version__
    from .html import write_atomic

    man = {
        "year": summary.year, "lang": summary.lang, "surveykit_version": __version__,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "seconds": round(summary.seconds, 2),
        "results": str(study.results_dir / str(summary.year)),
        "reports": [asdict(o) for o in summary.outcomes], "index": summary.index, "workbook": summary.workbook,
        "ok": summary.ok, "interrupted": summary.interrupted, "not_rendered": summary.not_rendered,
    }
    write_atomic(str(path), json.dumps(man, ensure_ascii=False, indent=2))


def write_index(study: Study, year: int, lang: str, out: Path, summary: RenderSummary) -> Path:
    """``<out>/index.html``: for every year with reports in ``out`` (newest first; earlier runs too), the city
    index and a link to every unit's report, in the report theme."""
    import nbformat as nbf

    from .html import notebook_to_html, write_atomic
    from .i18n import t

    years = sorted({year} | report_years(out), reverse=True)
    title = t("index.title", lang, year=years[0])
    cells = [nbf.v4.new_markdown_cell(f"# {title}\n\n{t('index.lead', lang)}")]
    for y in years:
        cells += _index_year(_year_store(study, y, out), y, lang, out, summary.outcomes if y == year else [])
    nb = nbf.v4.new_notebook()
    nb.cells = cells
    html = notebook_to_html(nb, lang=lang, title=title)
    path = out / "index.html"
    write_atomic(str(path), html)
    return path


def report_years(out: Path) -> set[int]:
    """The years that have reports in the folder ``out`` (sub-folders ``<year>`` holding HTML files)."""
    if not out.is_dir():
        return set()
    return {int(p.name) for p in out.iterdir() if p.is_dir() and p.name.isdigit() and any(p.glob("[!.]*.html"))}


def _year_store(study: Study, year: int, out: Path):
    """The results store a year's reports in ``out`` were rendered from (its run manifest says), or None."""
    from ..results import load_results

    results = study.results_dir
    try:
        results = Path(json.loads((out / str(year) / "manifest.json").read_text(encoding="utf-8"))["results"]).parent
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if not (results / str(year) / "manifest.json").exists():
        return None
    return load_results(results, year)


def _index_year(store, year: int, lang: str, out: Path, outcomes: list[Outcome]) -> list:
    """The index cells of one year: heading, city index, table of units (linked when their report exists)."""
    import nbformat as nbf

    from ..spec.questionnaire import load_questionnaire
    from .i18n import fmt, t

    idx, c, q = None, None, None
    if store is not None:
        q = load_questionnaire(store.manifest["inputs"]["questionnaire"]["path"])
        su, city = store.scores_unit, store.scores_city
        idx = su[(su.node == "index") & (su.group == "all")].set_index(store.manifest["unit_column"])
        c = city[(city.node == "index") & (city.group == "all")].iloc[0]
    done = {o.unit: o for o in outcomes}

    def esc(s: str) -> str:
        return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    rows = []
    for u in UNITS:
        name = esc(u.name(lang))
        o = done.get(u.slug)
        # link every report of the year that exists (earlier runs too), unless this run failed to render it
        exists = (out / str(year) / f"{u.slug}.html").exists()
        link = (f"{name} ({esc(t('index.failed', lang))})" if o and not o.ok else
                f'<a href="{year}/{u.slug}.html">{name}</a>' if exists else name)
        if idx is not None and u.zh in idx.index:
            r = idx.loc[u.zh]
            sup = bool(r["suppressed"])
            score = esc(t("suppressed", lang)) if sup else fmt(r["estimate"])
            ci = "" if sup else f"{fmt(r['ci_low'])}–{fmt(r['ci_high'])}"
            band = "" if sup else esc(q.band(r["estimate"]).label.get(lang))
            n = int(r["n"])
        else:
            score, ci, band, n = "–", "", "", 0
        rows.append(f"<tr><td>{link}</td><td class='num'>{score}</td><td class='num'>{ci}</td><td>{band}</td>"
                    f"<td class='num'>{n}</td></tr>")
    head = "".join(f"<th>{esc(t(k, lang))}</th>" for k in ("col.unit", "col.index", "col.ci", "col.band", "col.n"))
    table = f'<table class="sk-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    city_link = (f"\n\n[{t('index.city_report', lang)}]({year}/{CITY}.html)"
                 if (out / str(year) / f"{CITY}.html").exists() and not (CITY in done and not done[CITY].ok) else "")
    lead = "" if c is None else t("index.city", lang, score=fmt(c["estimate"]), low=fmt(c["ci_low"]),
                                  high=fmt(c["ci_high"]))
    return [nbf.v4.new_markdown_cell(f"## {year}\n\n{lead}{city_link}"),
            nbf.v4.new_code_cell("", outputs=[nbf.v4.new_output("display_data", data={"text/html": table})])]
