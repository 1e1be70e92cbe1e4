"""Open a rendered report in headless Chromium, as a reader on the offline intranet would.

:func:`check_in_browser` loads an HTML file from ``file://`` in the system Chromium
(``/usr/bin/chromium``, or ``$SURVEYKIT_CHROMIUM``) driven by Playwright, with networking
features off, and reports what a test needs to judge the page:

* ``console_errors``: console messages of type error, and uncaught page errors;
* ``external_requests``: every request whose URL is not a local ``file:///`` or ``data:``
  URL (they are also aborted, so nothing leaves the machine); a protocol-relative
  ``//host/x`` in a ``file://`` page becomes ``file://host/x`` and counts too;
* ``screenshot``: path of a full-page PNG;
* ``cjk_fonts``: for elements holding Chinese text (the title, a paragraph, a table header),
  the platform fonts Chromium used to draw them, from the DevTools protocol
  (``CSS.getPlatformFontsForNode``): ``[{"selector", "text", "fonts": [{"familyName",
  "postScriptName", "isCustomFont", "glyphCount"}]}]``;
* ``pdf``: path of the printed PDF when ``pdf_path`` is given (print stylesheet, A4).

Chromium missing raises :class:`BrowserUnavailable` with the command that installs it; tests
let it propagate so that they fail (never skip) on a machine without a browser.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Sequence

CHROMIUM = os.environ.get("SURVEYKIT_CHROMIUM", "/usr/bin/chromium")

#: Headless, and nothing that talks to the network on its own (updates, sync, QUIC, ...).
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--metrics-recording-only",
    "--no-pings",
]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# Marks elements whose own text (not their children's) contains Chinese -- one each of the
# masthead title, a paragraph, a list item, a table header and cell, a heading, preformatted
# text (at most `limit`) -- plus the element showing each of `probeTexts`, with a
# data-sk-probe attribute, and returns (what, text) pairs in probe order.
_MARK_CJK_ELEMENTS = r"""
([limit, probeTexts]) => {
  const cjk = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/;
  const ownText = (el) => Array.from(el.childNodes)
      .filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join("").trim();
  const preferred = ["h1", "main p", "main li", "main th", "main td", "main h2", "main h3", "pre", "*"];
  const seen = new Set();
  const out = [];
  for (const selector of preferred) {
    for (const el of document.body.querySelectorAll(selector)) {
      if (out.length >= limit) return out;
      if (seen.has(el)) continue;
      const text = ownText(el);
      if (!cjk.test(text)) continue;
      const style = getComputedStyle(el);
      if (style.display === "none" || style.visibility === "hidden") continue;
      seen.add(el);
      el.setAttribute("data-sk-probe", String(out.length));
      out.push([selector, text.slice(0, 40)]);
      break;  // one element per kind
    }
  }
  for (const wanted of probeTexts) {  // plus the element showing each given text
    for (const el of document.body.querySelectorAll("*")) {
      if (!ownText(el).includes(wanted)) continue;
      el.setAttribute("data-sk-probe", String(out.length));
      out.push(["text:" + wanted, ownText(el).slice(0, 40)]);
      break;
    }
  }
  return out;
}
"""


class BrowserUnavailable(RuntimeError):
    """Chromium or Playwright is not installed."""


def chromium_path() -> str:
    """The Chromium executable; raises :class:`BrowserUnavailable` if it is not installed."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        raise BrowserUnavailable(
            f"Chromium not found at {CHROMIUM}: the browser tests need it. "
            "Install it with `apt-get install chromium` (Debian/Ubuntu), "
            "or set SURVEYKIT_CHROMIUM to a Chromium/Chrome executable."
        )
    return CHROMIUM


def check_in_browser(html_path: str | os.PathLike, *, screenshot_path: str | os.PathLike | None = None,
                     pdf_path: str | os.PathLike | None = None, probe_texts: Sequence[str] = (),
                     width: int = 1100, height: int = 900, timeout_ms: int = 30_000) -> dict:
    """Load ``html_path`` in headless Chromium and report what happened (see module doc).

    ``probe_texts``: texts whose elements are also probed for fonts (e.g. rare characters).
    """
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BrowserUnavailable("the Python package 'playwright' is needed: "
                                 "pip install playwright (its browser download is not needed)") from exc

    html_path = Path(html_path).resolve()
    if screenshot_path is None:
        screenshot_path = Path(tempfile.mkdtemp(prefix="surveykit-browser-")) / f"{html_path.stem}.png"
    screenshot_path = Path(screenshot_path)
    screenshot_path.parent.mkdir(parents=True, exist_ok=True)

    console_errors: list[str] = []
    external_requests: list[str] = []
    failed_requests: list[str] = []

    def on_request(request) -> None:
        url = request.url
        # file://host/... is what a protocol-relative //host/... becomes in a file:// page
        if not url.startswith(("file:///", "data:")):
            external_requests.append(url)

    def on_console(message) -> None:
        if message.type == "error":
            location = message.location or {}
            console_errors.append(f"{message.text} ({location.get('url', '')}:{location.get('lineNumber', '')})")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=LAUNCH_ARGS, timeout=timeout_ms)
        try:
            context = browser.new_context(viewport={"width": width, "height": height},
                                          device_scale_factor=1, java_script_enabled=True,
                                          service_workers="block")
            # Abort anything that would leave the machine (and record it via on_request).
            context.route(re.compile(r"^(?!file:|data:)"), lambda route: route.abort())
            page = context.new_page()
            page.set_default_timeout(timeout_ms)
            page.on("request", on_request)
            page.on("requestfailed", lambda request: failed_requests.append(request.url))
            page.on("console", on_console)
            page.on("pageerror", lambda error: console_errors.append(f"page error: {error}"))

            page.goto(html_path.as_uri(), wait_until="load")
            page.wait_for_function("document.fonts.status === 'loaded'")
            font_faces = page.evaluate(
                "Array.from(document.fonts).map(f => [f.family, f.status])")

            probes = page.evaluate(_MARK_CJK_ELEMENTS, [8, list(probe_texts)])
            cdp = context.new_cdp_session(page)
            cdp.send("DOM.enable")
            cdp.send("CSS.enable")
            root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
            cjk_fonts = []
            for index, (selector, text) in enumerate(probes):
                node = cdp.send("DOM.querySelector",
                                {"nodeId": root, "selector": f'[data-sk-probe="{index}"]'})["nodeId"]
                fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
                cjk_fonts.append({"selector": selector, "text": text, "fonts": fonts})
            cdp.detach()

            page.screenshot(path=str(screenshot_path), full_page=True)
            pdf = None
            if pdf_path is not None:
                page.emulate_media(media="print")
                pdf = Path(pdf_path)
                page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=False)
            context.close()
        finally:
            browser.close()

    return {
        "console_errors": console_errors,
        "external_requests": external_requests,
        "failed_requests": failed_requests,
        "screenshot": screenshot_path,
        "pdf": pdf,
        "font_faces": font_faces,
        "cjk_fonts": cjk_fonts,
    }


def cjk_font_problems(result: dict, *, require_embedded: bool = True) -> list[str]:
    """Why the Chinese text in a :func:`check_in_browser` result was not drawn with a CJK font
    (empty list: it was). Each probed element must have glyphs drawn by a CJK font -- the
    embedded web font (``isCustomFont``) or a font whose name says CJK -- and, with
    ``require_embedded``, by the embedded font itself rather than one installed on this machine."""
    if not result["cjk_fonts"]:
        return ["no element with Chinese text was found on the page"]
    problems = []
    for probe in result["cjk_fonts"]:
        used = [f for f in probe["fonts"] if f.get("glyphCount", 0) > 0]
        cjk = [f for f in used if _is_cjk_font(f)]
        where = f"{probe['selector']} {probe['text']!r}"
        if not cjk:
            problems.append(f"{where}: no CJK font drew it (fonts used: {probe['fonts']})")
        elif require_embedded and not any(f.get("isCustomFont") for f in cjk):
            problems.append(f"{where}: drawn with installed fonts, not the embedded one ({used})")
    return problems


def _is_cjk_font(font: dict) -> bool:
    if font.get("isCustomFont"):
        return True
    name = f"{font.get('familyName', '')} {font.get('postScriptName', '')}".lower()
    return any(word in name for word in ("cjk", "han sans", "hansans", "yahei", "pingfang", "hei",
                                         "song", "kai", "wenquanyi", "source han", "noto sans sc",
                                         "noto serif sc", "hiragino"))


# ------------------------------------------------------------------------------------------------
# A small report notebook, shared by tests/test_html_export.py and tests/test_browser.py
# ------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
REPORT_TITLE = "浦东新区知识产权保护满意度评估报告"
PARAMETER_MARKER = "PARAM-MARKER-NOT-IN-REPORT"
INJECTED_MARKER = "INJECTED-MARKER-NOT-IN-REPORT"
STDERR_TEXT = "内部调试信息，不应出现在报告中"
WARNING_TEXT = "这条警告不应出现在报告中"
STDOUT_TEXT = "注：得分为加权平均值，满分100分。"
RARE_TEXT = "张喆、王堃"  # 喆 and 堃 are outside GB2312: they come from the second font face
CODE_FRAGMENTS = ("import pandas", "sns.barplot", "use_cjk_font", "print(", "sys.stderr",
                  "warnings.warn", "set_index", PARAMETER_MARKER, INJECTED_MARKER)


def sample_notebook():
    """A report-like notebook: parameters, Markdown with headings, a DataFrame with Chinese
    column names, a seaborn chart with Chinese labels, stdout, stderr and a warning."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        new_code_cell(f'district = "浦东新区"\nyear = 2025\nmarker = "{PARAMETER_MARKER}"',
                      metadata={"tags": ["parameters"]}),
        new_code_cell(f'district = "浦东新区"\nyear = 2025\nmarker = "{INJECTED_MARKER}"',
                      metadata={"tags": ["injected-parameters"]}),
        new_code_cell("import sys\nprint(sys.prefix)", metadata={"tags": ["remove"]}),
        new_markdown_cell(
            f"# {REPORT_TITLE}\n\n"
            "本报告依据 2025 年度问卷调查结果，对**浦东新区**知识产权保护工作的社会满意度进行综合评估，"
            "供区政府及相关部门参考。"
        ),
        new_code_cell(
            "import sys, warnings\n"
            "import pandas as pd\n"
            "import seaborn as sns\n"
            "import matplotlib.pyplot as plt\n"
            "from surveykit.report.fonts import use_cjk_font\n"
            "%config InlineBackend.figure_formats = ['retina']\n"
            "sns.set_theme(style='whitegrid')\n"
            "use_cjk_font()\n"
            f"print('{STDERR_TEXT}', file=sys.stderr)\n"
            f"warnings.warn('{WARNING_TEXT}')"
        ),
        new_markdown_cell(
            "## 一、总体情况\n\n"
            "本次调查共回收有效问卷 1,234 份，综合满意度得分为 **81.6 分**，较上年提高 2.3 分。\n\n"
            "- 权利人群体满意度最高；\n- 社会公众对维权渠道的认知度有待提升。"
        ),
        new_code_cell(
            "df = pd.DataFrame({\n"
            "    '一级指标': ['法律政策', '执法保护', '机制建设', '意识培养', '保护效果'],\n"
            "    '得分': [82.4, 78.1, 75.3, 71.9, 80.2],\n"
            "    '标准误': [1.21, 1.35, 1.18, 1.42, 1.09],\n"
            "    '样本量': [1234, 1234, 1180, 1234, 1201],\n"
            "    '等级': ['良好', '良好', '一般', '一般', '良好'],\n"
            "}).set_index('一级指标')\n"
            "df"
        ),
        new_markdown_cell("## 二、分项指标\n\n各一级指标得分见下图。"),
        new_code_cell(
            "fig, ax = plt.subplots(figsize=(7, 3.6))\n"
            "sns.barplot(x=df.index, y=df['得分'], color='#2b4c7e', ax=ax)\n"
            "ax.set_title('各一级指标得分')\n"
            "ax.set_xlabel('一级指标')\n"
            "ax.set_ylabel('得分（分）')\n"
            "fig.tight_layout()\n"
            "plt.show()"
        ),
        new_code_cell(f"print('{STDOUT_TEXT}')"),
        new_code_cell("_unused = 1"),
        new_markdown_cell(f"致谢：感谢{RARE_TEXT}等调查员的辛勤工作。"),
    ]
    return nb


def execute_notebook(nb, *, cwd: Path = ROOT, timeout: int = 300):
    """Execute ``nb`` in place with nbclient and the ``python3`` kernel of *this* interpreter.

    The ``python3`` kernelspec runs ``python -m ipykernel_launcher``; this interpreter's
    directory goes first on PATH so that ``python`` is this environment's. The kernel runs in
    ``cwd`` (the repository), so ``import surveykit`` works even without an install.
    """
    from nbclient import NotebookClient

    old_path = os.environ.get("PATH", "")
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + old_path
    try:
        NotebookClient(nb, kernel_name="python3", timeout=timeout,
                       resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        os.environ["PATH"] = old_path
    return nb


@functools.lru_cache(maxsize=1)
def _executed_sample():
    return execute_notebook(sample_notebook())


def executed_sample_notebook():
    """:func:`sample_notebook`, executed (once per test session); a fresh copy each call."""
    return copy.deepcopy(_executed_sample())
