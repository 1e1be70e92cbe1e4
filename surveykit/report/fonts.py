"""Chinese (CJK) fonts for charts and for the self-contained HTML reports.

The reports are read on an intranet without internet access and printed, on machines whose
installed fonts we do not know. So every report carries its own font, and every chart is drawn
with a font that has Chinese glyphs.

The font
--------
Noto Sans CJK SC (Simplified Chinese), licensed under the SIL Open Font License 1.1, as shipped
by the pip package ``mplfonts`` (``mplfonts/fonts/NotoSansCJKsc-Regular.otf``). Nothing is
downloaded at run time. Another OFL font file (OTF/TTF, one face) can be chosen with the
environment variable ``SURVEYKIT_CJK_FONT``. The font's own licence record (``name`` ID 13) must
name the Open Font License: non-free fonts such as SimHei (which ``mplfonts`` also ships) are
refused. The licence and copyright records are kept in every subset we embed, as the OFL asks.

Charts
------
:func:`use_cjk_font` registers the font with matplotlib (``fontManager.addfont``; installing
``mplfonts`` or calling ``mplfonts.use_font`` alone renders empty boxes) and puts its family first
in ``rcParams``. ``sns.set_theme()`` resets the font settings, so call it *before*
:func:`use_cjk_font`, or pass ``rc=cjk_rc()`` to it.

HTML
----
:func:`font_face_css` returns an ``@font-face`` rule whose ``src`` is a ``data:`` URL holding a
WOFF2 subset of the font with exactly the characters of a report (plus ASCII and common
full-width punctuation), ~100-300 KB instead of 16 MB.

Subsetting the 16 MB CFF-flavoured OTF directly with fontTools takes 1-3 s per report (CFF
charstrings are interpreted in Python for the closure, hint removal and bounds) and fontTools'
WOFF2 writer always compresses with Brotli quality 11 (another 0.8-4 s). So:

1. Once per machine (~5 s) a *base font* is built into the user's cache directory
   (``$SURVEYKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/surveykit``, else ``~/.cache/surveykit``):
   the GB2312 repertoire (7,445 characters, which covers ordinary Simplified-Chinese text) plus
   ASCII, Latin-1, general and CJK punctuation, arrows, maths, enclosed numerals and full-width
   forms, with OpenType layout and vertical tables dropped, converted from cubic CFF outlines to
   quadratic TrueType ``glyf`` outlines (cu2qu, error < 1/1000 em: invisible). TrueType glyphs
   are subset by copying bytes, which is fast.
2. Per report, that base is subset to the report's characters and wrapped in WOFF2 by
   :func:`woff2_encode` (null transforms, Brotli quality 9, ~10 % larger than quality 11,
   which alone would cost ~0.8 s): 0.09 s and 86 KB for 400 distinct CJK characters, 0.10 s
   and 160 KB for 800, 0.22 s and 530 KB for 3,000 (base64 in the page adds a third).
3. Characters outside the base that the full font has (rare characters in names) are drawn
   from the full font (~0.3 s, only when such characters occur; cached per set of such
   characters) into a second face of the same CSS family restricted by ``unicode-range``; the
   browser composes the two faces.

Results are cached in memory per character set.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import io
import logging
import os
import struct
import tempfile
import threading
import importlib.util

from ..io.atomic import write_atomic
from pathlib import Path

__all__ = [
    "FONT_ENV",
    "CACHE_ENV",
    "COMMON_CHARS",
    "FontError",
    "cjk_font_path",
    "cjk_font_family",
    "use_cjk_font",
    "cjk_rc",
    "cache_dir",
    "ensure_base_font",
    "font_subset_woff2",
    "font_face_css",
    "woff2_encode",
]

log = logging.getLogger(__name__)

#: Environment variable naming an OFL-licensed CJK font file to use instead of the default.
FONT_ENV = "SURVEYKIT_CJK_FONT"
#: Environment variable naming the cache directory (default: ``~/.cache/surveykit``).
CACHE_ENV = "SURVEYKIT_CACHE_DIR"

# Font files looked for inside installed packages, best first. Only OFL fonts may be listed.
_PACKAGED_FONTS = (
    ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf"),
)

#: Characters always embedded: printable ASCII and common full-width punctuation and symbols.
COMMON_CHARS = (
    "".join(chr(c) for c in range(0x20, 0x7F))
    + "，。、；：？！“”‘’（）《》〈〉【】〔〕「」『』—–…·～￥％＋－×÷±≤≥≈≠℃°‰"
    + "①②③④⑤⑥⑦⑧⑨⑩　"
)

# Unicode blocks put into the base font besides GB2312.
_BASE_RANGES = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x017F),  # Latin-1 supplement, Latin Extended-A
    (0x02C6, 0x02DD),  # spacing modifier letters (accents)
    (0x0391, 0x03C9),  # Greek (alpha, beta, chi, sigma ...)
    (0x2000, 0x206F),  # general punctuation
    (0x2070, 0x209F),  # superscripts and subscripts
    (0x20AC, 0x20AC),  # euro sign
    (0x2100, 0x218F),  # letterlike symbols, number forms (roman numerals)
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators
    (0x2460, 0x24FF),  # enclosed alphanumerics (circled numbers)
    (0x25A0, 0x25FF),  # geometric shapes
    (0x2600, 0x26FF),  # miscellaneous symbols (stars, check marks)
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0xFF00, 0xFFEF),  # half-width and full-width forms
)

# Bump when the way the base font is built changes: old cache files are then ignored.
_BASE_FORMAT = 1
# Name records kept in subsets: copyright, family, subfamily, unique id, full name, version,
# PostScript name, licence description, licence URL, typographic family and subfamily.
_NAME_IDS = [0, 1, 2, 3, 4, 5, 6, 13, 14, 16, 17]
_DROP_TABLES = ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH", "VORG", "vhea", "vmtx", "DSIG", "kern"]
# Brotli quality of the WOFF2 data: 9 takes ~0.05 s for a report, 11 (fontTools' fixed choice) ~1 s.
_WOFF2_QUALITY = 9

_lock = threading.RLock()


class FontError(RuntimeError):
    """The CJK font is missing, unreadable or not freely licensed."""


# --------------------------------------------------------------------------------------------
# Locating the font
# --------------------------------------------------------------------------------------------

def cjk_font_path() -> Path:
    """Path of the OFL-licensed Simplified-Chinese font file used for charts and reports.

    ``$SURVEYKIT_CJK_FONT`` if set, else Noto Sans CJK SC from the ``mplfonts`` package.
    Raises :class:`FontError` naming what to install when no font is found.
    """
    override = os.environ.get(FONT_ENV)
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise FontError(f"{FONT_ENV}={override!r}: no such font file")
        return path
    for package, relative in _PACKAGED_FONTS:
        # located without importing the package (importing mplfonts imports matplotlib)
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            path = Path(location) / relative
            if path.is_file():
                return path
    raise FontError(
        "No Simplified-Chinese font found: surveykit uses Noto Sans CJK SC (SIL OFL) from the "
        "'mplfonts' package. Install it with `pip install mplfonts`, or set "
        f"{FONT_ENV} to an OFL-licensed CJK font file (.otf or .ttf)."
    )


@functools.lru_cache(maxsize=8)
def _font_info(path: Path, stamp: tuple[int, int]) -> tuple[str, frozenset[int]]:
    """(family name, code points) of a font file, checking that it is OFL-licensed."""
    from fontTools.ttLib import TTFont, TTLibError

    try:
        font = TTFont(path, lazy=True, fontNumber=0)
    except (OSError, TTLibError, AssertionError) as exc:
        raise FontError(f"{path}: cannot read font: {exc}") from exc
    with font:
        name = font["name"]
        licence = " ".join(
            str(rec) for rec in name.names if rec.nameID in (13, 14) and _decodable(rec)
        )
        if "open font license" not in licence.lower() and "scripts.sil.org/ofl" not in licence.lower():
            raise FontError(
                f"{path}: the font does not declare the SIL Open Font License (name ID 13); "
                "surveykit embeds fonts in reports and only uses freely licensed fonts "
                "(e.g. Noto Sans CJK SC)."
            )
        family = (name.getDebugName(16) or name.getDebugName(1) or path.stem).strip()
        codepoints = frozenset(font.getBestCmap())
    return family, codepoints


def _decodable(record) -> bool:
    try:
        str(record)
    except UnicodeDecodeError:
        return False
    return True


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def cjk_font_family() -> str:
    """The family name inside the font file, e.g. ``"Noto Sans CJK SC"``."""
    path = cjk_font_path()
    return _font_info(path, _stamp(path))[0]


# --------------------------------------------------------------------------------------------
# matplotlib
# --------------------------------------------------------------------------------------------

def use_cjk_font() -> str:
    """Make matplotlib (and so seaborn) draw Chinese text with Noto Sans CJK SC.

    Registers the font file with ``matplotlib.font_manager.fontManager.addfont`` (once per
    process) and updates ``rcParams`` (see :func:`cjk_rc`). Safe to call repeatedly. Returns the
    family name. Charts saved as PNG, or as SVG with ``svg.fonttype='path'`` (set here), then
    need no font on the reader's machine.
    """
    import matplotlib as mpl

    family = _register_with_matplotlib()
    mpl.rcParams.update(cjk_rc())
    return family


def cjk_rc() -> dict:
    """rcParams that select the CJK font; for ``sns.set_theme(..., rc=cjk_rc())``.

    ``font.family`` is sans-serif with the CJK family first in ``font.sans-serif`` (the
    remaining entries are kept as fallbacks), ``axes.unicode_minus`` is off (negative tick
    labels use the ASCII hyphen-minus, as the report's tables do, and as fonts without U+2212
    need) and SVG text is drawn as paths, so that SVG charts need no font on the reader's side.
    """
    import matplotlib as mpl

    family = _register_with_matplotlib()
    rest = [f for f in mpl.rcParams["font.sans-serif"] if f != family]
    return {
        "font.family": ["sans-serif"],
        "font.sans-serif": [family, *rest],
        "axes.unicode_minus": False,
        "svg.fonttype": "path",
    }


def _register_with_matplotlib() -> str:
    from matplotlib import font_manager

    path = cjk_font_path()
    _font_info(path, _stamp(path))  # licence check
    with _lock:
        registered = {Path(entry.fname).resolve() for entry in font_manager.fontManager.ttflist}
        if path.resolve() not in registered:
            font_manager.fontManager.addfont(str(path))
        # the name matplotlib itself reads from the file is the one rcParams must use
        return font_manager.FontProperties(fname=str(path)).get_name()


# --------------------------------------------------------------------------------------------
# The cached base font
# --------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    """surveykit's per-user cache directory (created if needed)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        base = Path(configured).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "surveykit"
    try:
        base.mkdir(parents=True, exist_ok=True)
        if os.access(base, os.W_OK):
            return base
    except OSError:
        pass
    fallback = Path(tempfile.gettempdir()) / f"surveykit-cache-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    fallback.mkdir(parents=True, exist_ok=True)
    log.warning("cache directory %s is not writable; using %s", base, fallback)
    return fallback


def _gb2312_codepoints() -> set[int]:
    chars = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes((hi, lo)).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return chars


def _base_codepoints(available: frozenset[int]) -> set[int]:
    wanted = _gb2312_codepoints()
    for lo, hi in _BASE_RANGES:
        wanted.update(range(lo, hi + 1))
    wanted.update(ord(c) for c in COMMON_CHARS)
    return wanted & available


def _subset_options():
    from fontTools import subset

    options = subset.Options()
    options.layout_features = []
    options.drop_tables = list(options.drop_tables) + _DROP_TABLES
    options.name_IDs = list(_NAME_IDS)
    options.hinting = False
    options.glyph_names = False
    options.notdef_outline = True
    options.recalc_bounds = False
    options.recalc_timestamp = False
    return options


def _build_base_truetype(source: Path, codepoints: set[int]) -> bytes:
    """A TrueType font with the glyphs of ``codepoints`` from ``source`` (any outline format).

    Cubic outlines are converted to quadratic ones (cu2qu, max error 1/1000 em); hints,
    OpenType layout and vertical metrics are not carried over. Copyright and licence name
    records, OS/2 and the line metrics (ascent, descent, line gap) are kept.
    """
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    with TTFont(source, lazy=True, fontNumber=0) as src:
        cmap = {c: g for c, g in src.getBestCmap().items() if c in codepoints}
        order = [".notdef"] + sorted(set(cmap.values()) - {".notdef"}, key=src.getGlyphID)
        glyph_set = src.getGlyphSet()
        source_metrics = src["hmtx"].metrics
        cubic = "glyf" not in src
        glyphs, metrics = {}, {}
        for name in order:
            pen = TTGlyphPen(None)
            # CFF contours run counter-clockwise, TrueType ones clockwise.
            target = Cu2QuPen(pen, max_err=1.0, reverse_direction=True) if cubic else pen
            glyph_set[name].draw(target)
            glyph = pen.glyph()
            glyph.recalcBounds(None)
            glyphs[name] = glyph
            metrics[name] = (source_metrics[name][0], glyph.xMin if glyph.numberOfContours else 0)
        head, hhea = src["head"], src["hhea"]
        builder = FontBuilder(head.unitsPerEm, isTTF=True)
        builder.setupGlyphOrder(order)
        builder.setupCharacterMap(cmap)
        builder.setupGlyf(glyphs)
        builder.setupHorizontalMetrics(metrics)
        builder.setupHorizontalHeader(ascent=hhea.ascent, descent=hhea.descent, lineGap=hhea.lineGap)
        builder.setupHead(
            unitsPerEm=head.unitsPerEm, fontRevision=head.fontRevision, created=head.created,
            modified=head.modified, macStyle=head.macStyle, lowestRecPPEM=head.lowestRecPPEM,
        )
        builder.setupPost(keepGlyphNames=False, underlinePosition=src["post"].underlinePosition,
                          underlineThickness=src["post"].underlineThickness)
        builder.setupMaxp()
        name = newTable("name")
        name.names = [rec for rec in src["name"].names if rec.nameID in _NAME_IDS]
        builder.font["name"] = name
        builder.font["OS/2"] = src["OS/2"]
        buffer = io.BytesIO()
        builder.font.save(buffer)
    return buffer.getvalue()


def ensure_base_font() -> Path:
    """Build (once per machine and font, ~5 s) and return the cached base font (module doc)."""
    source = cjk_font_path()
    stamp = _stamp(source)
    _family, available = _font_info(source, stamp)
    key = hashlib.sha256(f"{source.resolve()}|{stamp}|{_BASE_FORMAT}".encode()).hexdigest()[:16]
    target = cache_dir() / "fonts" / f"{source.stem}-base-{key}.ttf"
    with _lock:
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(target.with_name(target.name + ".lock")):  # parallel report workers
            if not target.is_file():
                log.info("building the CJK base font %s from %s (once per machine)", target, source)
                write_atomic(target, _build_base_truetype(source, _base_codepoints(available)))
        return target


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive lock between processes (POSIX ``flock``; elsewhere none: the atomic rename
    keeps concurrent builds safe, they only duplicate work)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@functools.lru_cache(maxsize=4)
def _base_font(path: Path, stamp: tuple[int, int]) -> tuple[bytes, frozenset[int]]:
    """(bytes, code points) of the base font file."""
    from fontTools.ttLib import TTFont

    data = path.read_bytes()
    with TTFont(io.BytesIO(data), lazy=True) as font:
        return data, frozenset(font.getBestCmap())


def _load_base() -> tuple[bytes, frozenset[int]]:
    path = ensure_base_font()
    try:
        return _base_font(path, _stamp(path))
    except Exception as exc:  # a damaged cache file: rebuild it once
        log.warning("damaged base font %s (%s); rebuilding", path, exc)
        path.unlink(missing_ok=True)
        _base_font.cache_clear()
        path = ensure_base_font()
        return _base_font(path, _stamp(path))


# --------------------------------------------------------------------------------------------
# Subsetting and WOFF2
# --------------------------------------------------------------------------------------------

def _wanted(text: str) -> frozenset[int]:
    codepoints = {ord(c) for c in text} | {ord(c) for c in COMMON_CHARS}
    return frozenset(c for c in codepoints if c >= 0x20 and not 0xD800 <= c <= 0xDFFF)


def _subset_to_woff2(data: bytes, codepoints: frozenset[int]) -> bytes:
    """WOFF2 subset of the TrueType font ``data`` to ``codepoints``."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(data), lazy=True, recalcBBoxes=False, recalcTimestamp=False)
    subsetter = subset.Subsetter(_subset_options())
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    font["head"].flags |= 1 << 11  # "font data has been losslessly converted" (WOFF2 spec)
    buffer = io.BytesIO()
    font.save(buffer)
    font.close()
    return woff2_encode(buffer.getvalue())


@functools.lru_cache(maxsize=16)
def _base_face(codepoints: frozenset[int]) -> bytes:
    return _subset_to_woff2(_load_base()[0], codepoints)


@functools.lru_cache(maxsize=64)
def _extra_face(codepoints: frozenset[int]) -> bytes:
    """WOFF2 face with characters the base font lacks, drawn from the full font (slow path)."""
    return woff2_encode(_build_base_truetype(cjk_font_path(), set(codepoints)))


def _faces(codepoints: frozenset[int]) -> list[tuple[bytes, frozenset[int]]]:
    """WOFF2 faces covering ``codepoints``: the base-font subset, and if needed an extra face
    (with the code points it covers, for ``unicode-range``)."""
    _base_data, base_cmap = _load_base()
    faces = [(_base_face(codepoints & base_cmap), frozenset())]
    source = cjk_font_path()
    _family, full_cmap = _font_info(source, _stamp(source))
    extra = frozenset((codepoints - base_cmap) & full_cmap)
    if extra:
        faces.append((_extra_face(extra), extra))
    return faces


def font_subset_woff2(text: str) -> bytes:
    """WOFF2 subset of the CJK font covering ``text`` (plus :data:`COMMON_CHARS`) from the base
    font. Characters outside the base font are not included (see :func:`font_face_css`)."""
    return _faces(_wanted(text))[0][0]


def font_face_css(text: str, family: str = "SurveykitCJK") -> str:
    """``@font-face`` rule(s) embedding the CJK font subset to the characters of ``text``.

    ``text`` is any text that will be shown (it may contain markup: markup is ASCII, which is
    always included). The rule declares the family ``family`` (use it first in
    ``font-family``) with a base64 ``data:`` URL, so the page needs neither network nor
    installed fonts. Characters the font lacks (e.g. emoji) are left to the browser's fallback.
    Cached per character set; typically 0.1-0.2 s on first use for a report.
    """
    if not family or any(c in family for c in "\"'\\;{}<>\n"):
        raise ValueError(f"unsuitable CSS font family name: {family!r}")
    return _font_face_css(_wanted(text), family)


@functools.lru_cache(maxsize=16)
def _font_face_css(codepoints: frozenset[int], family: str) -> str:
    rules = []
    with _lock:
        faces = _faces(codepoints)
    for woff2, unicode_range in faces:
        data = base64.b64encode(woff2).decode("ascii")
        descriptors = [
            f'font-family:"{family}"',
            f'src:url(data:font/woff2;base64,{data}) format("woff2")',
            "font-weight:400",
            "font-style:normal",
            "font-display:block",
        ]
        if unicode_range:
            descriptors.append("unicode-range:" + ",".join(f"U+{c:X}" for c in sorted(unicode_range)))
        rules.append("@font-face{" + ";".join(descriptors) + "}")
    return "\n".join(rules)


# WOFF2 (https://www.w3.org/TR/WOFF2/) with null transforms. fontTools' writer always uses Brotli
# quality 11, which costs ~1 s per report; this encoder takes the quality as a parameter.

def _uint_base128(value: int) -> bytes:
    if value < 0 or value >= 1 << 32:
        raise ValueError(value)
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def woff2_encode(sfnt: bytes, quality: int = _WOFF2_QUALITY) -> bytes:
    """Wrap an OpenType/TrueType font (``sfnt`` bytes) as WOFF2.

    Tables are stored untransformed (``glyf``/``loca`` with the null transform, version 3) and
    sorted by tag (as the OpenType Sanitiser in browsers expects); ``DSIG`` is dropped.
    """
    import brotli
    from fontTools.ttLib.woff2 import woff2KnownTags

    flavor, num_tables = struct.unpack(">4sH", sfnt[:6])
    tables = {}
    for i in range(num_tables):
        tag, _checksum, offset, length = struct.unpack(">4sIII", sfnt[12 + 16 * i:28 + 16 * i])
        if tag != b"DSIG":
            tables[tag] = sfnt[offset:offset + length]
    known = {t.encode("latin-1"): i for i, t in enumerate(woff2KnownTags)}
    directory = bytearray()
    stream = bytearray()
    for tag in sorted(tables):
        data = tables[tag]
        index = known.get(tag, 63)
        flags = index | (0xC0 if tag in (b"glyf", b"loca") else 0)  # version 3 = null transform
        directory.append(flags)
        if index == 63:
            directory += tag
        directory += _uint_base128(len(data))
        stream += data
    compressed = brotli.compress(bytes(stream), mode=brotli.MODE_FONT, quality=quality)
    total_sfnt = 12 + 16 * len(tables) + sum((len(d) + 3) & ~3 for d in tables.values())
    revision = struct.unpack(">I", tables[b"head"][4:8])[0] if b"head" in tables else 0
    length = 48 + len(directory) + len(compressed)
    padding = (-length) % 4
    header = struct.pack(
        ">4s4sIHHIIHHIIIII",
        b"wOF2", flavor, length + padding, len(tables), 0, total_sfnt, len(compressed),
        (revision >> 16) & 0xFFFF, revision & 0xFFFF, 0, 0, 0, 0, 0,
    )
    return header + bytes(directory) + compressed + b"\0" * padding
