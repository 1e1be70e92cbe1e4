"""The one escaping rule of the reports: every string that comes from a user file is data, never markup.

Labels, item texts, unit and region names, target and framework labels, recommendation texts and data values reach
a report through sentences (Markdown), headings, tables (HTML), chart labels and the index page. Each is escaped
once, where it meets HTML or Markdown, by :func:`escape`: the characters that HTML or Markdown would read as markup
(``& < > " '``, and ``\\ ` * _ [ ] ( ) { } ! # | ~ : $``) become numeric character references, which both display
as the character itself; line breaks become spaces (a label cannot start a new Markdown block). So
``<img src=x onerror=alert(1)>`` is shown as that text, and ``[x](javascript:...)`` is no link.

A second layer, not a substitute: every report carries a Content-Security-Policy that forbids scripts and inline
event handlers (``surveykit/report/templates/surveykit/index.html.j2``). Charts are images (matplotlib with mathtext
off, :mod:`surveykit.report.charts`), so a label cannot act there either.
"""

from __future__ import annotations

import re

_MARKUP = {ord(c): f"&#{ord(c)};" for c in "&<>\"'`\\*_[](){}!#|~:$"}
_BREAKS = re.compile(r"[\r\n\u0085\u2028\u2029]+")


def escape(value) -> str:
    """``value`` as text that HTML and Markdown show literally (see the module docstring)."""
    if value is None:
        return ""
    return _BREAKS.sub(" ", str(value)).translate(_MARKUP)
