"""Batch rendering: one papermill run per unit, converted in-process to a self-contained HTML file.

* Parameters are validated against allow-lists *before* papermill injects anything: the unit must be one of the
  study's units (its ASCII id is what is injected), the year one of the study's years, the language zh/en.
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

from .. import __version__
from ..errors import InputError
from ..io.writers import check_output_path
from ..resources import notebook as packaged_notebook
from ..results import load_plan, load_results, read_manifest
from ..spec.questionnaire import load_questionnaire
from ..spec.study import Study
from ..units import Unit, UnitSet
from .html import external_references, notebook_to_html, write_atomic
from .i18n import Phrases, fmt, words
from .safe import escape
from .suppression import previous_store
from .workbook import write_workbook

NOTEBOOK = packaged_notebook("district_report.ipynb")
CITY_NOTEBOOK = packaged_notebook("city_report.ipynb")
CITY = "overview"  # the region's overview among the outcomes (its file: <out>/<year>/overview.html)
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


def resolve_units(districts: str, units: UnitSet) -> list[Unit]:
    """``all``, one unit, or a comma-separated list of units (id / Chinese / English name) of the study; anything
    else is refused -- this allow-list is what protects the notebook from injected code."""
    if districts == "all":
        return list(units)
    out = []
    for name in str(districts).replace("，", ",").split(","):
        unit = units.find(name.strip())
        if unit is None:
            shown = str(districts)[:40] + ("…" if len(str(districts)) > 40 else "")
            listed = ", ".join(units.ids[:20]) + (", ..." if len(units) > 20 else "")
            raise InputError(f"unknown {units.kind.en} {shown!r}: expected 'all' or one or more (comma-separated) of "
                             f"the study's units: {listed} (or their names)")
        if unit not in out:
            out.append(unit)
    return out


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
    man = read_manifest(study.results_dir, year)
    if man is None:
        raise InputError(f"no results store for {year}; compute it first (surveykit report does)",
                         file=study.results_dir)
    return year, lang, resolve_units(districts, UnitSet.from_dict(man["setting"]))


def render_unit(notebook: str, params: dict, out_html: str, attempts: int = 2, name: str | None = None) -> Outcome:
    """Execute the report notebook for one unit and write its HTML; runs in a worker process."""
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
    """Render the reports of ``year`` for ``districts`` ('all' or one unit) into ``out/<year>/<unit id>.html``.

    Returns a :class:`RenderSummary`; raises :class:`InputError` for invalid parameters (nothing is run).
    """
    year, lang, units = validate_parameters(study, year, lang, districts)
    results = study.results_dir
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
        params = {"year": year, "district": u.id, "lang": lang, "results": str(results)}
        jobs_list.append((str(nb_path), params, str(out / str(year) / f"{u.id}.html")))
    _run_jobs(jobs_list, summary, executor, jobs, progress, study, out / str(year), t0)
    summary.index = str(write_index(study, year, lang, out, summary))
    plan = load_plan(study.results_dir, year)
    summary.workbook = str(write_workbook(load_results(study.results_dir, year),
                                          out / str(year) / f"surveykit_tables_{year}.xlsx",
                                          {"plan": plan[0]} if plan is not None else None,
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
            _sort_outcomes(summary, study)
            summary.seconds = time.perf_counter() - t0
            _write_run_manifest(folder / "manifest.json", study, summary)
        raise
    finally:
        if bar:
            bar.close()
        if own:  # (after workers were killed, joining the pool's threads can hang on Python 3.11: not waited for)
            executor.shutdown(wait=not summary.interrupted, cancel_futures=True)
            shutil.rmtree(tmp_root, ignore_errors=True)
    _sort_outcomes(summary, study)


def _sort_outcomes(summary: RenderSummary, study: Study) -> None:
    """The overview first, then the units in the study's order."""
    units = UnitSet.from_dict(read_manifest(study.results_dir, summary.year)["setting"])
    order = {CITY: -1, **{u.id: k for k, u in enumerate(units)}}
    summary.outcomes.sort(key=lambda o: order.get(o.unit, len(order)))


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
    rel += [study.units] if isinstance(study.units, str) else []
    if study.protection is not None:
        p = study.protection
        rel += [p.indicators, p.cases, p.framework, p.targets]
    if study.zones is not None:
        rel += [study.zones.register_file, study.zones.key_tasks, study.zones.task_areas]
    return [study.path(r) for r in rel if r]


def check_report_folder(study: Study, out, year: int) -> Path:
    """``out``, resolved; refused (:class:`InputError`) when it is the results store's folder or inside it, is a
    file, lies under a file, cannot be written, or holds an input file where this run writes."""
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
    man = {
        "year": summary.year, "lang": summary.lang, "surveykit_version": __version__,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "seconds": round(summary.seconds, 2),
        "results": str(study.results_dir / str(summary.year)),
        "reports": [asdict(o) for o in summary.outcomes], "index": summary.index, "workbook": summary.workbook,
        "ok": summary.ok, "interrupted": summary.interrupted, "not_rendered": summary.not_rendered,
    }
    write_atomic(str(path), json.dumps(man, ensure_ascii=False, indent=2))


def write_index(study: Study, year: int, lang: str, out: Path, summary: RenderSummary) -> Path:
    """``<out>/index.html``: for every year with reports in ``out`` (newest first), the region's index and a link to
    every unit's report, in the report theme. Every name is escaped (:func:`surveykit.report.safe.escape`)."""
    import nbformat as nbf

    years = sorted({int(p.name) for p in out.iterdir() if p.is_dir() and p.name.isdigit()} | {year}, reverse=True)
    man = read_manifest(study.results_dir, year)
    q = load_questionnaire(man["inputs"]["questionnaire"]["path"])
    p = Phrases(lang, words(man["setting"], lang, subject=q.title.get(lang)))
    title = p.t("index.title")
    cells = [nbf.v4.new_markdown_cell(f"# {p.md('index.title')}\n\n{p.md('index.lead')}")]
    for y in years:
        if read_manifest(study.results_dir, y) is None:
            continue
        head, table = _index_year(study, y, lang, out, summary if y == year else None)
        cells += [nbf.v4.new_markdown_cell(head),
                  nbf.v4.new_code_cell("", outputs=[nbf.v4.new_output("display_data", data={"text/html": table})])]
    nb = nbf.v4.new_notebook()
    nb.cells = cells
    path = out / "index.html"
    write_atomic(str(path), notebook_to_html(nb, lang=lang, title=title))
    return path


def _index_year(study: Study, year: int, lang: str, out: Path, summary: RenderSummary | None) -> tuple[str, str]:
    """One year of the index: a heading with the region's index and the overview link, and the table of units."""
    store = load_results(study.results_dir, year)
    q = load_questionnaire(store.manifest["inputs"]["questionnaire"]["path"])
    p = Phrases(lang, words(store.setting, lang, subject=q.title.get(lang)))
    units = UnitSet.from_dict(store.setting)
    su = store.scores_unit
    idx = su[(su.node == "index") & (su.group == "all")].set_index("unit")
    c = store.scores_city
    c = c[(c.node == "index") & (c.group == "all")].iloc[0]
    failed = {o.unit for o in (summary.outcomes if summary else []) if not o.ok}
    zs = store.zones_status
    zones = {} if zs is None else {r.unit: p.t(f"zone.status.{r.status}") for r in zs.itertuples()
                                   if r.status != "not_zone"}
    rows = [_index_row(p, u, year, out, idx, failed, q, lang, zones.get(u.id)) for u in units]
    head = "".join(f"<th>{escape(p.t(k))}</th>" for k in ("col.unit", "col.index", "col.ci", "col.band", "col.n"))
    table = f'<table class="sk-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    overview = out / str(year) / f"{CITY}.html"
    link = (f"\n\n[{p.md('index.city_report')}]({year}/{CITY}.html)"
            if overview.exists() and CITY not in failed else "")
    text = (f"## {p.md('index.year', year=year)}\n\n"
            + p.md("index.city", score=fmt(c["estimate"]), low=fmt(c["ci_low"]), high=fmt(c["ci_high"])) + link)
    return text, table


def _index_row(p: Phrases, u: Unit, year: int, out: Path, idx, failed: set, q, lang: str,
               zone: str | None = None) -> str:
    name = escape(u.name(lang))
    left, right = ("【", "】") if lang == "zh" else ("[", "]")
    marker = f' <span class="sk-zone">{left}{escape(zone)}{right}</span>' if zone else ""
    exists = (out / str(year) / f"{u.id}.html").exists()
    link = (f"{name} ({escape(p.t('index.failed'))})" if u.id in failed else
            f'<a href="{year}/{u.id}.html">{name}</a>' if exists else name)
    score, ci, band, n = "–", "", "", 0
    if u.id in idx.index:
        r = idx.loc[u.id]
        sup = bool(r["suppressed"])
        score = escape(p.t("suppressed")) if sup else fmt(r["estimate"])
        ci = "" if sup else f"{fmt(r['ci_low'])}–{fmt(r['ci_high'])}"
        b = None if sup else q.band(r["estimate"])          # None: the index could not be computed
        band = "" if b is None else escape(b.label.get(lang))
        n = int(r["n"])
    return (f"<tr><td>{link}{marker}</td><td class='num'>{score}</td><td class='num'>{ci}</td><td>{band}</td>"
            f"<td class='num'>{n}</td></tr>")
