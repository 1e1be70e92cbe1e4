"""Executed notebook -> one self-contained HTML report file.

The reports are read on an intranet without internet access and printed. So a report is a
single HTML file that references nothing outside itself: no script, stylesheet, font or image
is fetched (images are ``data:`` URLs, the CJK font is embedded as a WOFF2 subset, the
stylesheet is inline) and it contains no JavaScript at all.

:func:`notebook_to_html` converts in-process with nbconvert's ``HTMLExporter`` and the
``surveykit`` template (``templates/surveykit``: JupyterLab's markup, every CDN block emptied,
a print-ready stylesheet). It takes ~0.05-0.3 s per report, most of it subsetting the font.
What the reader sees:

* no code, no prompts; cells tagged ``parameters``, ``injected-parameters`` or ``remove`` are
  dropped, as are stderr output (warnings) and code cells left without output;
* a notebook with an error output is refused (:class:`ReportError`): a report must not show a
  traceback;
* a masthead with the title; a first Markdown ``# heading`` equal to the title (or used as the
  title when none is given) is not repeated below it;
* tables with numbers right-aligned and text left-aligned (the cells and columns holding text
  are marked ``sk-text``);
* the result is checked with :func:`external_references` and for ``<script>``: anything found
  raises :class:`ReportError`.
"""

from __future__ import annotations

import copy
import functools
import html as html_lib
import os
import re
import threading
from pathlib import Path
from typing import Any

from . import fonts
from ..io.atomic import write_atomic  # noqa: F401  (part of this module's API)

__all__ = [
    "TEMPLATE_DIR",
    "TEMPLATE_NAME",
    "DROP_TAGS",
    "ReportError",
    "notebook_to_html",
    "convert_notebook_file",
    "write_atomic",
    "external_references",
]

#: Directory holding the nbconvert template(s) shipped with surveykit.
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
#: Name of the nbconvert template (``templates/surveykit``).
TEMPLATE_NAME = "surveykit"
#: Cells carrying one of these tags are not part of the report.
DROP_TAGS = frozenset({"parameters", "injected-parameters", "remove"})
#: CSS family name of the embedded CJK font (first in the stylesheet's font-family).
FONT_FAMILY = "SurveykitCJK"

_LANGS = {"zh": "zh-CN", "en": "en"}
_LABELS = {
    "zh": {"title": "评估报告", "figure": "图表"},
    "en": {"title": "Evaluation report", "figure": "Figure"},
}
# Output types a report can show, best first: no JavaScript, widgets, LaTeX (needs MathJax) or
# mermaid (needs its script); plain text is the fallback.
_DISPLAY_PRIORITY = ["text/html", "text/markdown", "image/svg+xml", "image/png", "image/jpeg",
                     "text/plain"]
_FONT_PLACEHOLDER = "/*@surveykit-font-face@*/"

_export_lock = threading.Lock()


class ReportError(RuntimeError):
    """A notebook cannot become a correct, self-contained report."""


# --------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _stylesheet() -> str:
    """The report stylesheet without comments (they are for maintainers, not readers)."""
    css = (TEMPLATE_DIR / TEMPLATE_NAME / "static" / "report.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    return re.sub(r"\n\s*\n+", "\n", css).strip()


@functools.lru_cache(maxsize=1)
def _exporter():
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    # display_data_priority is read by the data-type filter nbconvert creates per conversion,
    # so it is given as configuration of every nbconvert object, not set on the exporter.
    config = Config({"NbConvertBase": {"display_data_priority": list(_DISPLAY_PRIORITY)}})
    return HTMLExporter(
        config=config,
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        exclude_anchor_links=True,   # no "¶" links: printed reports, and no heading text copied into a URL
    )


def notebook_to_html(nb: Any, *, lang: str = "zh", title: str | None = None,
                     subtitle: str | None = None, kicker: str | None = None,
                     footer: str | None = None, chapter_breaks: bool | None = None) -> str:
    """Render an executed notebook as a self-contained HTML report and return the HTML text.

    Parameters
    ----------
    nb : an ``nbformat.NotebookNode`` (or a notebook dict, or a path to an ``.ipynb``); it is
        not modified.
    lang : ``"zh"`` (``<html lang="zh-CN">``, the default) or ``"en"``.
    title : the report title; default ``nb.metadata["title"]``, else the ``# heading`` the
        report starts with (a Markdown cell, or Markdown displayed by the first code cell with
        output), else a generic title. That heading is not repeated under the masthead.
    subtitle, kicker, footer : optional lines under the title, above it, and at the page foot
        (default ``nb.metadata["subtitle"|"kicker"|"footer"]``; the subtitle also defaults to
        a wholly emphasised line, ``*...*``, right under the starting heading).
    chapter_breaks : when printed, start every chapter (``##`` heading) after the first on a
        new page; for long reports (default ``nb.metadata["chapter_breaks"]``, else False:
        chapters flow on, only an appendix chapter -- 附录/附件/Appendix/Annex -- and cells
        tagged ``page-break`` start a new page).

    Raises :class:`ReportError` if a cell holds an error output or the result would reference
    anything outside the file or contain JavaScript; :class:`fonts.FontError` if the CJK font
    is missing.
    """
    if lang not in _LANGS:
        raise ValueError(f"lang must be one of {sorted(_LANGS)}, not {lang!r}")
    nb = _load(nb)
    meta = nb.get("metadata", {})
    cells = _report_cells(nb)
    subtitle = subtitle if subtitle is not None else meta.get("subtitle")
    heading, found_subtitle, cells = _take_title_heading(
        cells, title if title is not None else meta.get("title"), want_subtitle=subtitle is None)
    title = title or meta.get("title") or heading or _LABELS[lang]["title"]
    nb["cells"] = cells

    resources = {
        "surveykit_lang": _LANGS[lang],
        "surveykit_title": str(title),
        "surveykit_subtitle": _opt(subtitle if subtitle is not None else found_subtitle),
        "surveykit_kicker": _opt(kicker if kicker is not None else meta.get("kicker")),
        "surveykit_footer": _opt(footer if footer is not None else meta.get("footer")),
        "surveykit_figure_alt": _LABELS[lang]["figure"],
        "surveykit_font_css": _FONT_PLACEHOLDER,
        "surveykit_css": _stylesheet(),
        "surveykit_body_class": "sk-chapter-breaks" if (
            chapter_breaks if chapter_breaks is not None else meta.get("chapter_breaks")) else "",
    }
    with _export_lock:
        body, _ = _exporter().from_notebook_node(nb, resources=resources)

    body = _strip_pandas_styles(body)
    body = _align_tables(body)
    body = _mark_chapters(body)
    if body.count(_FONT_PLACEHOLDER) != 1:
        raise ReportError("the surveykit template did not place the font CSS exactly once")
    font_css = fonts.font_face_css(html_lib.unescape(body), family=FONT_FAMILY)
    document = body.replace(_FONT_PLACEHOLDER, font_css)

    problems = external_references(document)
    if problems:
        shown = ", ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
        raise ReportError(f"the report would reference {len(problems)} thing(s) outside the file: "
                          f"{shown}")
    if re.search(r"<script\b", document, re.IGNORECASE):
        raise ReportError("the report would contain JavaScript (an HTML output with <script>); "
                          "reports must work offline and on paper: show a static image instead")
    return document


def convert_notebook_file(source: str | os.PathLike, target: str | os.PathLike, **options) -> Path:
    """Convert the notebook file ``source`` and write the report to ``target`` atomically.

    ``options`` are passed to :func:`notebook_to_html`. Returns the target path.
    """
    target = Path(target)
    write_atomic(target, notebook_to_html(Path(source), **options))
    return target


def _opt(value: Any) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value)


def _load(nb: Any):
    import nbformat

    if isinstance(nb, (str, os.PathLike)):
        return nbformat.read(os.fspath(nb), as_version=4)
    # deep copy: the caller's notebook is not modified
    return nbformat.from_dict(copy.deepcopy(dict(nb)))


def _report_cells(nb) -> list:
    """The cells a report shows, with stderr removed; raises on error outputs."""
    kept = []
    for index, cell in enumerate(nb.get("cells", [])):
        tags = set(cell.get("metadata", {}).get("tags", []) or [])
        if tags & DROP_TAGS:
            continue
        kind = cell.get("cell_type")
        if kind == "markdown":
            if str(cell.get("source", "")).strip():
                kept.append(cell)
            continue
        if kind != "code":
            continue  # raw cells are not part of a report
        outputs = []
        for output in cell.get("outputs", []):
            kind_out = output.get("output_type")
            if kind_out == "error":
                raise ReportError(
                    f"cell {index} raised {output.get('ename', 'an error')}: "
                    f"{output.get('evalue', '')}".rstrip(": ")
                )
            if kind_out == "stream" and output.get("name") == "stderr":
                continue
            if kind_out in ("display_data", "execute_result") and not output.get("data"):
                continue
            outputs.append(output)
        if outputs:
            cell["outputs"] = outputs
            kept.append(cell)
    return kept


_ATX_H1 = re.compile(r"^ {0,3}#(?!#)[ \t]+(?P<text>.*?)(?:[ \t]+#+)?[ \t]*$")
_EMPHASIS_LINE = re.compile(r"^\s*(?P<mark>\*|_)(?!\s)(?P<text>[^*_]+?)(?<!\s)(?P=mark)\s*$")


def _plain(markdown_text: str) -> str:
    """The text of a Markdown heading: our emphasis marks removed, then character references (how user strings
    are escaped, :mod:`surveykit.report.safe`) decoded -- the template escapes the title once more for HTML."""
    return html_lib.unescape(re.sub(r"[*_`]", "", markdown_text)).strip()


def _take_title_heading(cells: list, title: str | None,
                        want_subtitle: bool) -> tuple[str | None, str | None, list]:
    """Find the title heading at the very start of the report.

    The first thing a report shows -- a Markdown cell, or the first output of a code cell if
    it is Markdown (``display(Markdown("# ..."))``) -- may start with a level-1 heading. If no
    title is given, or the heading equals it, the heading is returned and removed (the
    masthead shows the title). With ``want_subtitle``, a line right after it that is wholly
    emphasised (``*...*``) is returned as the subtitle and removed too. Returns (heading,
    subtitle, cells); the cells are modified in place (they belong to a copy).
    """
    position, output = None, None
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "markdown":
            position = index
        else:
            first = cell["outputs"][0]
            if first.get("output_type") in ("display_data", "execute_result") and \
                    "text/markdown" in first.get("data", {}):
                position, output = index, first
        break
    if position is None:
        return None, None, cells
    source = str(output["data"]["text/markdown"] if output is not None else cells[position]["source"])
    lines = source.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    match = _ATX_H1.match(lines[start]) if start is not None else None
    if not match:
        return None, None, cells
    heading = _plain(match.group("text"))
    if title is not None and str(title).strip() != heading:   # the title is plain text already
        return None, None, cells
    remove = {start}
    subtitle = None
    following = next((i for i in range(start + 1, len(lines)) if lines[i].strip()), None)
    if want_subtitle and following is not None:
        emphasis = _EMPHASIS_LINE.match(lines[following])
        paragraph_ends = following + 1 >= len(lines) or not lines[following + 1].strip()
        if emphasis and paragraph_ends:
            subtitle = html_lib.unescape(emphasis.group("text")).strip()
            remove.add(following)
    rest = "\n".join(line for i, line in enumerate(lines) if i not in remove).strip("\n")
    if output is not None:
        if rest.strip():
            output["data"] = dict(output["data"], **{"text/markdown": rest})
        else:
            cells[position]["outputs"] = cells[position]["outputs"][1:]
            if not cells[position]["outputs"]:
                del cells[position]
    elif rest.strip():
        cells[position]["source"] = rest
    else:
        del cells[position]
    return heading, subtitle, cells


# --------------------------------------------------------------------------------------------
# Post-processing of the exported HTML
# --------------------------------------------------------------------------------------------

# The <style scoped> block pandas puts before every DataFrame table (alignment rules that
# fight the report stylesheet).
_PANDAS_STYLE = re.compile(
    r"<style(?:\s+scoped(?:=\"[^\"]*\")?)?>\s*(?:\.dataframe\b[^{}<]*\{[^{}<]*\}\s*)+</style>",
    re.IGNORECASE,
)
_TABLE = re.compile(r"<table\b[^>]*>.*?</table>", re.IGNORECASE | re.DOTALL)
_SECTION = re.compile(r"<(thead|tbody)\b[^>]*>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_ROW = re.compile(r"<tr\b[^>]*>.*?</tr>", re.IGNORECASE | re.DOTALL)
_CELL = re.compile(r"<(t[hd])\b([^>]*)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_MISSING = {"", "nan", "NaN", "<NA>", "NA", "N/A", "None", "NaT", "-", "—", "–", "…", "--"}
_NUMERIC_CHARS = set("0123456789.,+-−–—±%‰()[]*/ eE×^<>≤≥~\u00a0\u2009")


def _strip_pandas_styles(document: str) -> str:
    return _PANDAS_STYLE.sub("", document)


def _cell_text(inner: str) -> str:
    return html_lib.unescape(_TAG.sub("", inner)).strip()


def _is_number(text: str) -> bool | None:
    """True for a number-like cell (``12.5``, ``-3%``, ``72.1 (1.3)``, ``[70.2, 74.0]``),
    None for a missing-value marker, False for text."""
    if text in _MISSING:
        return None
    return any(ch.isdigit() for ch in text) and all(ch in _NUMERIC_CHARS for ch in text)


def _add_class(attrs: str, name: str) -> str:
    match = re.search(r"""\bclass\s*=\s*(["'])(.*?)\1""", attrs, re.IGNORECASE | re.DOTALL)
    if match:
        start, end = match.span(2)
        return attrs[:start] + (match.group(2) + " " + name).strip() + attrs[end:]
    return attrs + f' class="{name}"'


def _align_table(table: str) -> str:
    sections = {m.group(1).lower(): m for m in _SECTION.finditer(table)}
    body = sections.get("tbody")
    rows = _ROW.findall(body.group(2)) if body else _ROW.findall(table)
    # Data cells are the <td>s of a row; index labels are <th>s (which rowspan may omit).
    # Column j is text if any of its cells is text.
    text_columns: set[int] = set()
    width = 0
    for row in rows:
        tds = [m for m in _CELL.finditer(row) if m.group(1).lower() == "td"]
        width = max(width, len(tds))
        for j, match in enumerate(tds):
            if _is_number(_cell_text(match.group(3))) is False:
                text_columns.add(j)
    if not text_columns:
        return table

    def mark_row(row: str, from_right: bool) -> str:
        cells = list(_CELL.finditer(row))
        if from_right:  # header row: its last `width` cells head the data columns
            if any("colspan" in m.group(2).lower() for m in cells) or len(cells) < width:
                return row
            targets = {id(m): j for j, m in enumerate(cells[len(cells) - width:])}
        else:
            targets = {id(m): j for j, m in enumerate(m for m in cells if m.group(1).lower() == "td")}
        out, last = [], 0
        for match in cells:
            j = targets.get(id(match))
            if j is None or j not in text_columns:
                continue
            out.append(row[last:match.start(2)])
            out.append(_add_class(match.group(2), "sk-text"))
            last = match.end(2)
        out.append(row[last:])
        return "".join(out)

    def mark_section(section: str, from_right: bool) -> str:
        return _ROW.sub(lambda m: mark_row(m.group(0), from_right), section)

    result = []
    last = 0
    for match in _SECTION.finditer(table):
        result.append(table[last:match.start(2)])
        result.append(mark_section(match.group(2), match.group(1).lower() == "thead"))
        last = match.end(2)
    if not result:  # a table without thead/tbody
        return mark_section(table, False)
    result.append(table[last:])
    return "".join(result)


def _merge_index_names(table: str) -> str:
    """Move pandas' index-name header row into the empty top-left cells of the row above.

    For a DataFrame with a named index pandas writes two header rows: the column labels (with
    empty cells over the index) and then the index names followed by empty cells. Printed, the
    second row is a strange empty band; one row reads better.
    """
    thead = re.search(r"(<thead\b[^>]*>)(.*?)(</thead>)", table, re.IGNORECASE | re.DOTALL)
    if not thead:
        return table
    rows = _ROW.findall(thead.group(2))
    if len(rows) < 2:
        return table
    upper, lower = rows[-2], rows[-1]
    upper_cells, lower_cells = list(_CELL.finditer(upper)), list(_CELL.finditer(lower))
    if len(upper_cells) != len(lower_cells) or any(
            "colspan" in m.group(2).lower() or "rowspan" in m.group(2).lower()
            for m in upper_cells + lower_cells):
        return table
    names = [_cell_text(m.group(3)) for m in lower_cells]
    labels = [_cell_text(m.group(3)) for m in upper_cells]
    k = next((i for i, name in enumerate(names) if not name), len(names))
    if k == 0 or k == len(names) or any(names[k:]) or any(labels[:k]):
        return table
    merged, last = [], 0
    for match, name in zip(upper_cells[:k], names[:k]):
        merged.append(upper[last:match.start(2)])
        merged.append(_add_class(match.group(2), "sk-text sk-index"))
        merged.append(upper[match.end(2):match.start(3)] + html_lib.escape(name, quote=False))
        last = match.end(3)
    merged.append(upper[last:])
    new_thead = thead.group(2).replace(upper, "".join(merged), 1).replace(lower, "", 1)
    return table[:thead.start(2)] + new_thead + table[thead.end(2):]


def _align_tables(document: str) -> str:
    """Tidy every table: pandas' index-name row merged, text cells (and their column
    headers) marked ``sk-text``."""
    return _TABLE.sub(lambda m: _align_table(_merge_index_names(m.group(0))), document)


_H2 = re.compile(r"<h2\b([^>]*)>(.*?)</h2>", re.IGNORECASE | re.DOTALL)
_APPENDIX = re.compile(r"^\s*(附录|附件|附表|Appendix|Annex)", re.IGNORECASE)


def _mark_chapters(document: str) -> str:
    """Classes for page breaks in print: the first chapter heading ``sk-first-h2`` (it follows
    the title on the first page), appendix chapters ``sk-page-break`` (they start a page)."""
    first = True

    def mark(match: re.Match) -> str:
        nonlocal first
        attrs = match.group(1)
        if first:
            attrs, first = _add_class(attrs, "sk-first-h2"), False
        elif _APPENDIX.match(_cell_text(match.group(2))):
            attrs = _add_class(attrs, "sk-page-break")
        return f"<h2{attrs}>{match.group(2)}</h2>"

    return _H2.sub(mark, document)


# --------------------------------------------------------------------------------------------
# Files and guards
# --------------------------------------------------------------------------------------------

# A start tag with its attributes (quoted values may contain ">").
_START_TAG = re.compile(
    r"""<([a-zA-Z][\w:-]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*)\s*/?>"""
)
_ATTRIBUTE = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_URL_ATTRIBUTES = frozenset({
    "src", "href", "xlink:href", "action", "formaction", "poster", "background", "cite",
    "manifest", "data", "ping", "longdesc", "codebase", "archive", "profile", "usemap", "icon",
})
_SRCSET_ATTRIBUTES = frozenset({"srcset", "imagesrcset"})
_LINK_ELEMENTS = frozenset({"a", "area"})
# Hyperlinks that leave the set of report files: a scheme other than mailto:/tel:, or "//".
_LEAVES_THE_SITE = re.compile(r"^(?://|(?!(?:mailto|tel|data):)[a-zA-Z][a-zA-Z0-9+.-]*:)")
_EMBEDDING_ELEMENTS = frozenset({"iframe", "frame", "embed", "object", "portal", "applet"})
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.IGNORECASE | re.DOTALL)
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"]*))\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?["']?([^"')\s;]+)""", re.IGNORECASE)


def _is_outside(url: str) -> bool:
    url = url.strip()
    if not url or url.startswith("#"):
        return False
    return url[:5].lower() != "data:"


def external_references(html: str) -> list[str]:
    """Everything in ``html`` that points outside the file itself, in document order, unique.

    Looks at URL attributes of every tag (``src``, ``href``, ``srcset``, ``poster``, ``action``,
    ``data`` ...), CSS ``url(...)`` and ``@import`` in ``<style>`` blocks and ``style``
    attributes, ``<meta http-equiv="refresh">`` and embedding elements (``<iframe>``,
    ``<frame>``, ``<embed>``, ``<object>``: reported as ``"<iframe>"`` etc.).

    Anything the page would *load* counts unless it is a ``data:`` URL or an in-page
    ``#anchor``: an ``http(s)://`` or protocol-relative ``//`` URL, and also a relative path or
    a ``file:`` URL, which would break once the report is copied elsewhere. Hyperlinks
    (``<a href>``, ``<area href>``) count only when they leave the set of report files: an
    absolute URL (``https://``, ``//``, ``file:``, ``javascript:`` ...), not ``mailto:``/``tel:``;
    a relative link such as ``2026/huangpu.html`` from the index page is fine. Text content is
    not looked at (markup in text is escaped).
    """
    found: list[str] = []

    def add(value: str) -> None:
        value = html_lib.unescape(value).strip()
        if _is_outside(value) and value not in found:
            found.append(value)

    def css(text: str) -> None:
        for match in _CSS_URL.finditer(text):
            add(next(g for g in match.groups() if g is not None))
        for match in _CSS_IMPORT.finditer(text):
            add(match.group(1) or "@import")

    for tag in _START_TAG.finditer(html):
        name = tag.group(1).lower()
        if name in _EMBEDDING_ELEMENTS:
            add(f"<{name}>")
        attributes = {}
        for attribute in _ATTRIBUTE.finditer(tag.group(2)):
            key = attribute.group(1).lower()
            value = next((g for g in attribute.groups()[1:] if g is not None), "")
            attributes[key] = value
            if key == "href" and name in _LINK_ELEMENTS:
                if _LEAVES_THE_SITE.match(html_lib.unescape(value).strip()):
                    add(value)  # a hyperlink to another site (relative links are fine)
            elif key in _URL_ATTRIBUTES:
                add(value)
            elif key in _SRCSET_ATTRIBUTES:
                # "url 1x, url 2x": descriptors are skipped; a data: URL may contain commas
                for token in html_lib.unescape(value).split():
                    token = token.rstrip(",")
                    if token and not re.fullmatch(r"[0-9.]+[wxh]", token):
                        add(token)
            elif key == "style":
                css(html_lib.unescape(value))
        if name == "meta" and attributes.get("http-equiv", "").lower() == "refresh":
            target = re.search(r"url\s*=\s*['\"]?([^'\";]+)", attributes.get("content", ""), re.I)
            add(target.group(1) if target else "<meta http-equiv=refresh>")
    for block in _STYLE_BLOCK.finditer(html):
        css(block.group(1))
    return found
