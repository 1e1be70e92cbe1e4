"""What a worksheet's XML says before any engine reads it: formula cells, merged ranges and how far it reaches.

One streaming pass over the sheet's XML inside the .xlsx (never the whole grid in memory):

* **formulas** ``{(row, col): '=...'}`` and **merged ranges** ``(r1, c1, r2, c2)`` (0-based): openpyxl's read-only
  mode does not give merged ranges, and neither engine says which values come from formulas;
* the **extent**: the largest row and column any cell reaches (and the ``<dimension>`` the sheet declares), checked
  against :class:`~surveykit.io.limits.Limits` as the pass goes, so that a sheet reaching ``XFD1048576`` is refused
  in milliseconds instead of asking the engine for a grid of 17 billion cells.

The extent comes from every ``r="..."`` reference inside a tag, found with vectorised byte comparisons (numpy), so
it costs a fraction of the engine's own reading. A sheet whose cells are not all addressed that way (cells
without ``r``, an attribute written ``r = '...'``) is measured again exactly with expat, following calamine's rule
(a cell without ``r`` comes after the previous cell of its row; a row without ``r`` after the previous row).
"""

from __future__ import annotations

import html
import posixpath
import re
import xml.etree.ElementTree as ET
import xml.parsers.expat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np

from ..errors import InputError

CHUNK = 1 << 23
KEEP, GUARD = 16384, 8192  # bytes carried into the next chunk / bytes after a chunk's end an element may use
HUGE = 1 << 40             # a reference too long to be real: beyond every limit

_REF = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_FORMULA = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?f(?=[\s>/])([^>]*?)(/>|>(.*?)</(?:[A-Za-z_][\w.-]*:)?f>)', re.S)
_MERGE = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?mergeCell\s[^>]*?ref="([A-Z]{1,3})(\d+)(?::([A-Z]{1,3})(\d+))?"')
_DIMENSION = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?dimension\b[^>]*?\bref\s*=\s*["\']([^"\']*)["\']')
_R_ATTR = re.compile(rb'\sr\s*=\s*(["\'])([^"\']*)\1')
_WS = (32, 9, 10, 13)
_NAME_END = np.zeros(256, dtype=bool)  # after an element's name: white space, '>' or '/'
_NAME_END[[32, 9, 10, 13, 62, 47]] = True
_PREFIX = re.compile(rb"[A-Za-z_][\w.-]*")


def col_index(letters: str | bytes) -> int:
    """0-based column index of Excel column letters (``A`` -> 0, ``AA`` -> 26)."""
    if isinstance(letters, bytes):
        letters = letters.decode()
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def col_letters(index: int) -> str:
    """Excel column letters of a 0-based column index (``0`` -> ``A``, ``26`` -> ``AA``)."""
    head, last = divmod(index, 26)
    return (col_letters(head - 1) if head else "") + chr(65 + last)


@dataclass(frozen=True)
class SheetScan:
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)
    rows: int = 0      # the largest row number a cell (or the declared dimension) reaches
    columns: int = 0   # the largest column number (1-based)


def sheet_xml_path(zf: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip member holding a sheet's XML (through ``xl/workbook.xml`` and its relationships)."""
    try:
        wb = ET.fromstring(zf.read("xl/workbook.xml"))
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ET.ParseError):
        return None
    rid = None
    for el in wb.iter():
        if el.tag.endswith("}sheet") and el.get("name") == sheet_name:
            rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), None)
    for el in rels.iter():
        if el.tag.endswith("}Relationship") and el.get("Id") == rid:
            target = el.get("Target", "")
            return posixpath.normpath(target.lstrip("/") if target.startswith("/") else "xl/" + target)
    return None


def scan_sheet(path: Path, sheet_name: str, check: Callable[[int, int], None]) -> SheetScan:
    """Formulas, merged ranges and extent of a sheet; ``check(rows, columns)`` is called as the extent grows and
    raises to stop reading (the limits). A file that is not a zip is left to the engine to report."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return SheetScan()
    with zf:
        member = sheet_xml_path(zf, sheet_name)
        if member is None or member not in zf.namelist():
            raise InputError(f"not a readable Excel workbook (the XML of sheet '{sheet_name}' is missing)", file=path)
        scan = _Scan(check)
        with zf.open(member) as f:
            for buf, start, end, eof in _chunks(f):
                scan.feed(buf, start, end, eof)
        rows, cols = scan.rows, scan.cols
        if scan.unaddressed:
            with zf.open(member) as f:
                rows, cols = _exact_extent(f, check, path)
            rows, cols = max(rows, scan.declared[0]), max(cols, scan.declared[1])
    return SheetScan(scan.formulas, scan.merged, rows, cols)


def _chunks(f: BinaryIO) -> Iterator[tuple[bytes, int, int, bool]]:
    """``(buf, start, end, eof)``: bytes ``[start, end)`` of ``buf`` are new; up to ``GUARD`` bytes after ``end``
    are there to finish an element that starts before it (they come again, as new, in the next chunk)."""
    tail, start = b"", 0
    while True:
        chunk = f.read(CHUNK)
        eof = not chunk
        buf = tail + chunk
        end = len(buf) if eof else max(len(buf) - GUARD, 0)
        yield buf, start, end, eof
        if eof:
            return
        tail = buf[-KEEP:] if len(buf) > KEEP else buf
        start = end - (len(buf) - len(tail))


class _Scan:
    """The state of one pass: formulas, merges, extent so far."""

    def __init__(self, check: Callable[[int, int], None]):
        self.check = check
        self.formulas: dict[tuple[int, int], str] = {}
        self.merged: list[tuple[int, int, int, int]] = []
        self.rows = self.cols = 0
        self.declared = (0, 0)
        self.unaddressed = False  # a cell whose position the fast pass cannot read: measure exactly
        self.prefixed: bool | None = None  # elements written with a namespace prefix (<x:c>, <x:f>): rare

    def feed(self, buf: bytes, start: int, end: int, eof: bool) -> None:
        if self.prefixed is None:
            self.prefixed = re.search(rb"<[A-Za-z_][\w.-]*:worksheet\b", buf[:4096]) is not None
            m = _DIMENSION.search(buf, 0, 1 << 16)
            if m:
                self.declared = _corner(m.group(1))
                self._grow(*self.declared)
        self._formulas_and_merges(buf, start, end, eof)
        rows, cols, unaddressed = _extent(buf, start, end)
        self.unaddressed |= unaddressed
        self._grow(rows, cols)

    def _grow(self, rows: int, cols: int) -> None:
        if rows > self.rows or cols > self.cols:
            self.rows, self.cols = max(rows, self.rows), max(cols, self.cols)
            self.check(self.rows, self.cols)

    def _formulas_and_merges(self, buf: bytes, start: int, end: int, eof: bool) -> None:
        stop = len(buf) if eof else end + GUARD
        if not (buf.find(b"<f", start, stop) >= 0 or (self.prefixed and buf.find(b":f", start, stop) >= 0)
                or buf.find(b"mergeCell", start, stop) >= 0):
            return  # most chunks: no formula, no merge
        for m in _FORMULA.finditer(buf, start, stop):
            if m.start() >= end:
                break
            cstart = max(buf.rfind(b"<c ", 0, m.start()), buf.rfind(b":c ", 0, m.start()))
            ref = _REF.search(buf, cstart, m.start()) if cstart >= 0 else None
            if ref is None:
                continue
            text = m.group(3)
            formula = ("=" + html.unescape(text.decode("utf-8", "replace"))) if text else "=(shared formula)"
            self.formulas[(int(ref.group(2)) - 1, col_index(ref.group(1)))] = formula
        for m in _MERGE.finditer(buf, start, stop):
            if m.start() >= end:
                break
            c1, r1 = col_index(m.group(1)), int(m.group(2)) - 1
            c2, r2 = (col_index(m.group(3)), int(m.group(4)) - 1) if m.group(3) else (c1, r1)
            self.merged.append((r1, c1, r2, c2))


def _corner(ref: bytes) -> tuple[int, int]:
    """(rows, columns) reached by a reference or the last cell of a range (``AL50001``, ``A1:AL50001``); ``HUGE``
    for a part too long to be real, (0, 0) for what is not a reference (the engines refuse it)."""
    m = re.fullmatch(rb"\$?([A-Za-z]*)\$?(\d*)", ref.rsplit(b":", 1)[-1].strip())
    if not m:
        return 0, 0
    letters, digits = m.groups()
    rows = HUGE if len(digits) > 10 else int(digits or 0)
    cols = HUGE if len(letters) > 3 else (col_index(letters) + 1 if letters else 0)
    return rows, cols


def _extent(buf: bytes, start: int, end: int) -> tuple[int, int, bool]:
    """(rows, columns, unaddressed) of the cell and row tags that start in ``[start, end)``; ``unaddressed``: a cell
    without an ``r`` attribute (its place depends on the cells before it: measured exactly afterwards).

    Fast path, vectorised: tags written ``<c r="...`` / ``<row r="...`` (every common writer puts ``r`` first).
    Any other cell or row tag (``r`` later, a namespace prefix, unusual spacing) is read one by one."""
    a = np.frombuffer(buf + bytes(48), np.uint8)
    lt = np.flatnonzero(a[start:end] == 60) + start
    name = a[lt + 1]
    cell = lt[(name == 99) & _NAME_END[a[lt + 2]]]
    row = lt[name == 114]
    row = row[(a[row + 2] == 111) & (a[row + 3] == 119) & _NAME_END[a[row + 4]]]
    fast_c, fast_r = _r_first(a, cell, 2), _r_first(a, row, 4)
    rows, cols = _max_ref(a, cell[fast_c] + 6)
    rows = max(rows, _max_ref(a, row[fast_r] + 8)[0])
    pre_c, pre_r = _prefixed(buf, a, start, end)
    unaddressed = False
    for kind, tags in (("c", cell[~fast_c].tolist() + pre_c), ("row", row[~fast_r].tolist() + pre_r)):
        for p in tags:  # rare: one regular expression per tag
            close = buf.find(b">", p)
            m = _R_ATTR.search(buf, p, close if close >= 0 else len(buf))
            if m is None:
                unaddressed |= kind == "c"
                continue
            r_, c_ = _corner(m.group(2))
            rows, cols = max(rows, r_), max(cols, c_)
    return rows, cols, unaddressed


def _r_first(a: np.ndarray, tags: np.ndarray, name_len: int) -> np.ndarray:
    """Which tags continue after their name with `` r="`` or `` r='``."""
    p = tags + name_len
    return (a[p] == 32) & (a[p + 1] == 114) & (a[p + 2] == 61) & ((a[p + 3] == 34) | (a[p + 3] == 39))


def _prefixed(buf: bytes, a: np.ndarray, start: int, end: int) -> tuple[list[int], list[int]]:
    """Start positions of the tags named ``prefix:c`` / ``prefix:row`` (colons are rare in a sheet)."""
    q = np.flatnonzero(a[start:end] == 58) + start
    c = (a[q + 1] == 99) & _NAME_END[a[q + 2]]
    r = (a[q + 1] == 114) & (a[q + 2] == 111) & (a[q + 3] == 119) & _NAME_END[a[q + 4]]
    out: tuple[list[int], list[int]] = ([], [])
    for k, is_c in zip(q[c | r].tolist(), c[c | r].tolist()):
        p = buf.rfind(b"<", max(k - 40, 0), k)
        if p >= 0 and _PREFIX.fullmatch(buf, p + 1, k):
            out[0 if is_c else 1].append(p)
    return out


_W = np.arange(24)


def _max_ref(a: np.ndarray, v: np.ndarray) -> tuple[int, int]:
    """(largest row, largest column), 1-based, of the references whose values start at ``v`` in ``a`` (which ends
    with 48 zero bytes): letters (either case, as calamine reads them) then digits up to the closing quote. Only
    the candidates for the largest are decoded, one character at a time; a value that is not letters then digits
    counts for nothing (the engines refuse the file), one longer than the window counts as ``HUGE``."""
    if not len(v):
        return 0, 0
    win = np.lib.stride_tricks.sliding_window_view(a, len(_W))[v]  # the 24 bytes from each value
    up = win[:, :4] & 0xDF
    run = (up[:, 0] >= 65) & (up[:, 0] <= 90)
    n_let = run.astype(np.int64)
    for k in (1, 2, 3):
        run &= (up[:, k] >= 65) & (up[:, k] <= 90)
        n_let += run
    quote = (win == 34) | (win == 39)
    n_dig = np.where(quote.any(axis=1), quote.argmax(axis=1) - n_let, len(_W))  # the value ends at a quote
    return _largest(win, n_let, n_dig, 10), _largest(up, np.zeros_like(n_let), n_let, 3, letters=True)


def _largest(win: np.ndarray, at: np.ndarray, n: np.ndarray, most_allowed: int, *, letters: bool = False) -> int:
    """The largest of the runs ``win[i, at[i]:at[i] + n[i]]`` (digits, or letters as a column number): the longest
    runs, then the largest first character, and so on; ``HUGE`` beyond ``most_allowed`` characters."""
    most = int(n.max())
    if most == 0:
        return 0
    if most > most_allowed:
        return HUGE
    sel = np.flatnonzero(n == most)
    for k in range(most):
        ch = win[sel, at[sel] + k]
        sel = sel[ch == ch.max()]
    i = int(sel[0])
    text = win[i, at[i]:at[i] + most].tobytes()
    if letters:
        return col_index(text) + 1
    return int(text) if text.isdigit() else 0


def _exact_extent(f: BinaryIO, check: Callable[[int, int], None], path: Path) -> tuple[int, int]:
    """The extent by a real XML parse (expat), placing cells as calamine does; ``check`` as the extent grows."""
    state = {"row": 0, "col": 0, "rows": 0, "cols": 0}

    def start(name: str, attrs: dict) -> None:
        local = name.rpartition(":")[2]
        if local == "row" and attrs.get("r"):
            state["row"] = _corner(attrs["r"].encode())[0] - 1
            grow(state["row"] + 1, 0)
        elif local == "c":
            row, col = state["row"], state["col"]
            if attrs.get("r"):
                rr, cc = _corner(attrs["r"].encode())
                row, col = rr - 1, cc - 1
            state["col"] = col + 1
            grow(row + 1, col + 1)

    def grow(rows: int, cols: int) -> None:
        if rows > state["rows"] or cols > state["cols"]:
            state["rows"], state["cols"] = max(rows, state["rows"]), max(cols, state["cols"])
            check(state["rows"], state["cols"])

    def end(name: str) -> None:
        if name.rpartition(":")[2] == "row":
            state["row"] += 1
            state["col"] = 0

    def no_dtd(*_) -> None:
        raise InputError("not a readable Excel workbook (a sheet declares a DTD)", file=path)

    p = xml.parsers.expat.ParserCreate()
    p.StartElementHandler, p.EndElementHandler, p.StartDoctypeDeclHandler = start, end, no_dtd
    try:
        while block := f.read(CHUNK):
            p.Parse(block, False)
        p.Parse(b"", True)
    except xml.parsers.expat.ExpatError as exc:
        raise InputError(f"not a readable Excel workbook (sheet XML: {exc})", file=path) from None
    return state["rows"], state["cols"]
