"""Resources bounded before reading (issue 10, item 6): a sheet's extent and a file's columns are checked against
limits with one clear line; column matching is linear in the number of columns.

Every hostile file is generated here. The sheet XML of the crafted workbooks is written by hand (the cases an
attacker would try: a lying ``<dimension>``, references in another case, quoting or place, cells without ``r``,
namespace prefixes); each is refused with a small limit, so that a miss would only read a small grid.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from surveykit import load_questionnaire
from surveykit.cli import main
from surveykit.errors import InputError
from surveykit.io import Limits, Provenance, read_source, read_table, read_xlsx, sheetxml
from surveykit.mapping import (MappingSpec, MatchContext, Roles, match_columns, norm_text, question_keys,
                               strip_numbering, suggestions)

from .broken.catalogue import HEADER, ROWS
from .conftest import FIXTURES

QPATH = FIXTURES / "score" / "questionnaire.yaml"
Q = load_questionnaire(QPATH)
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SMALL = Limits(max_cells=1000, max_columns=100)


# --- crafted workbooks ------------------------------------------------------------------------------------------
def _workbook(path: Path, sheet_data: str, *, dimension: str | None = None, prefix: str = "") -> Path:
    """An .xlsx whose first sheet's XML is ``sheet_data`` inside ``<sheetData>`` (openpyxl writes the rest)."""
    tmp = path.with_suffix(".base.xlsx")
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"
    wb.active["A1"] = "x"
    wb.save(tmp)
    p = f"{prefix}:" if prefix else ""
    ns = f'xmlns:{prefix}="{MAIN}"' if prefix else f'xmlns="{MAIN}"'
    dim = f'<{p}dimension ref="{dimension}"/>' if dimension else ""
    xml = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<{p}worksheet {ns}>{dim}'
           f"<{p}sheetData>{sheet_data}</{p}sheetData></{p}worksheet>")
    with zipfile.ZipFile(tmp) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = xml.encode() if info.filename == "xl/worksheets/sheet1.xml" else src.read(info.filename)
            dst.writestr(info.filename, data)
    tmp.unlink()
    return path


def _text(ref: str, value: str, p: str = "") -> str:
    return f'<{p}c r="{ref}" t="inlineStr"><{p}is><{p}t>{value}</{p}t></{p}is></{p}c>'


def _header(p: str = "") -> str:
    return f'<{p}row r="1">' + "".join(_text(f"{c}1", f"h{c}", p) for c in "ABC") + f"</{p}row>"


def _rows(n_rows: int, n_cols: int) -> str:
    """A header row and ``n_rows - 1`` rows of numbers, ``n_cols`` wide, written as Excel writes them."""
    out = ['<row r="1">' + "".join(_text(f"{sheetxml.col_letters(j)}1", f"c{j}") for j in range(n_cols)) + "</row>"]
    for i in range(2, n_rows + 1):
        out.append(f'<row r="{i}">' + "".join(f'<c r="{sheetxml.col_letters(j)}{i}"><v>{i * j}</v></c>'
                                               for j in range(n_cols)) + "</row>")
    return "".join(out)


HOSTILE = {  # each reaches AX300: 300 rows x 50 columns = 15,000 cells
    "dimension that lies": dict(sheet_data=_header() + '<row r="300"><c r="AX300"><v>1</v></c></row>',
                                dimension="A1:C1"),
    "no dimension": dict(sheet_data=_header() + '<row r="300"><c r="AX300"><v>1</v></c></row>'),
    "r after other attributes": dict(sheet_data=_header() + '<row r="300"><c t="n" s="0" r="AX300"><v>1</v></c></row>'),
    "single quotes": dict(sheet_data=_header() + "<row r='300'><c r='AX300'><v>1</v></c></row>"),
    "lower case": dict(sheet_data=_header() + '<row r="300"><c r="ax300"><v>1</v></c></row>'),
    "blanks around =": dict(sheet_data=_header() + '<row r="300"><c r = "AX300"><v>1</v></c></row>'),
    "new line before r": dict(sheet_data=_header() + '<row r="300"><c\nr="AX300"><v>1</v></c></row>'),
    "namespace prefix": dict(sheet_data=_header("x") + '<x:row r="300"><x:c r="AX300"><x:v>1</x:v></x:c></x:row>',
                             prefix="x"),
    "cells without r": dict(sheet_data=_header() + '<row r="300">' + "<c><v>1</v></c>" * 50 + "</row>"),
    "rows and cells without r": dict(sheet_data=_header() + "<row><c><v>1</v></c></row>" * 298
                                     + "<row>" + "<c><v>1</v></c>" * 50 + "</row>"),
    "empty cell": dict(sheet_data=_header() + '<row r="300"><c r="AX300"/></row>'),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_sheet_reaching_beyond_the_limit_is_refused_before_reading(tmp_path, case):
    path = _workbook(tmp_path / "h.xlsx", **HOSTILE[case])
    with pytest.raises(InputError) as e:
        read_table(path, limits=SMALL)
    msg = e.value.one_line()
    assert "\n" not in msg and msg.startswith(str(path))
    m = re.search(r"sheet 'Sheet1' reaches cell ([A-Z]+)(\d+): ([\d,]+) rows x ([\d,]+) columns = ([\d,]+) cells", msg)
    rows, cols, cells = (int(m.group(k).replace(",", "")) for k in (3, 4, 5))
    assert rows * cols == cells > 1000 and sheetxml.col_index(m.group(1)) + 1 == cols and int(m.group(2)) == rows
    if "without r" in case:  # measured cell by cell, and stopped as soon as the limit was passed
        assert rows <= 300 and cols <= 50
    else:
        assert (rows, cols) == (300, 50), msg
    assert "the limit is 1,000 cells" in msg and "SURVEYKIT_MAX_CELLS" in msg and " KB)" in msg


@pytest.mark.parametrize("engine", ["calamine", "openpyxl"])
def test_the_limit_is_the_edge_of_what_is_read(tmp_path, engine):
    path = _workbook(tmp_path / "ok.xlsx", _rows(20, 5), dimension="A1:E20")
    df = read_xlsx(path, engine=engine, limits=Limits(max_cells=100, max_columns=5))  # 20 x 5 = 100: the limit
    assert df.shape == (19, 5) and df["c4"].tolist() == [4 * i for i in range(2, 21)]
    with pytest.raises(InputError, match=r"reaches cell E20: 20 rows x 5 columns = 100 cells .* limit is 99 cells"):
        read_xlsx(path, engine=engine, limits=Limits(max_cells=99))
    with pytest.raises(InputError, match=r"5 columns \(file of .*\); the limit is 4 columns -- set the environment "
                                         r"variable SURVEYKIT_MAX_COLUMNS"):
        read_xlsx(path, engine=engine, limits=Limits(max_columns=4))


def test_a_reference_in_a_cells_text_is_not_an_extent(tmp_path):
    data = _header() + '<row r="2">' + _text("A2", 'a r="XFD1048576" is text') + "</row>"
    df = read_table(_workbook(tmp_path / "t.xlsx", data, dimension="A1:C2"), limits=SMALL)
    assert df["hA"].tolist() == ['a r="XFD1048576" is text']


@pytest.mark.parametrize("cell", ['<c r="A99999999999999999999">', '<c t="n" r="A99999999999999999999">',
                                  '<c r="ABCDE2">', "<c r = 'A99999999999999999999'>"])
def test_an_absurd_reference_is_refused(tmp_path, cell):
    path = _workbook(tmp_path / "h.xlsx", _header() + f'<row r="2">{cell}<v>1</v></c></row>')
    with pytest.raises(InputError, match=r"h.xlsx: sheet 'Sheet1' has a cell reference beyond the size of any "
                                         r"worksheet \(file of 4\.\d KB\): the file is damaged"):
        read_table(path)


def test_the_scan_agrees_with_itself_across_chunk_boundaries(tmp_path, monkeypatch):
    """Tags cut by the end of a chunk: the extent, formulas and merged ranges do not depend on the chunk size."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for i in range(1, 121):
        ws.append([f"r{i}"] + [i * j for j in range(1, 12)])
    ws["M60"] = "=B60+C60"
    ws.merge_cells("A1:C1")
    ws["Q77"] = "far"
    path = tmp_path / "s.xlsx"
    wb.save(path)

    def scan():
        return sheetxml.scan_sheet(path, ws.title, lambda r, c: None)

    whole = scan()
    assert (whole.rows, whole.columns) == (120, 17) and whole.formulas == {(59, 12): "=B60+C60"}
    assert whole.merged == [(0, 0, 0, 2)]
    for chunk, keep, guard in ((997, 400, 200), (4096, 1024, 512), (257, 160, 80)):
        monkeypatch.setattr(sheetxml, "CHUNK", chunk)
        monkeypatch.setattr(sheetxml, "KEEP", keep)
        monkeypatch.setattr(sheetxml, "GUARD", guard)
        part = scan()
        assert (part.rows, part.columns, part.formulas, part.merged) == \
            (whole.rows, whole.columns, whole.formulas, whole.merged), chunk


def _limited_memory():  # the hostile files must not take the machine down, even on a version that reads them
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


@pytest.mark.parametrize("corner", ["XFD1048576", "ALL100000"])
def test_cli_refuses_a_tiny_workbook_reaching_far_with_one_line(tmp_path, corner):
    """4.8 KB on disk; 17 billion (or 100 million) cells for an engine that trusts it: exit 2 in well under a
    second, one line naming the file, its size, the limit and how to raise it."""
    wb = openpyxl.Workbook()
    wb.active.append(HEADER)
    wb.active[corner] = 1
    path = tmp_path / "tiny.xlsx"
    wb.save(path)
    assert path.stat().st_size < 6000
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "surveykit.cli", "validate", "--questionnaire", str(QPATH),
                        "--responses", str(path)], capture_output=True, text=True, timeout=120,
                       preexec_fn=_limited_memory)
    elapsed = time.perf_counter() - t
    assert p.returncode == 2, p.stderr[-2000:]
    assert p.stdout == "" and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert p.stderr.startswith(f"surveykit: error: {path}: sheet 'Sheet' reaches cell {corner}:")
    assert re.search(r"\(file of \d\.\d KB\); the limit is 10,000,000 cells", p.stderr)
    assert "set the environment variable SURVEYKIT_MAX_CELLS to a larger number" in p.stderr
    assert elapsed < 30  # the interpreter's start-up included; the check itself takes milliseconds


def test_the_limit_is_raised_through_the_environment(tmp_path, monkeypatch):
    path = _workbook(tmp_path / "ok.xlsx", _rows(20, 5), dimension="A1:E20")
    monkeypatch.setenv("SURVEYKIT_MAX_CELLS", "99")
    with pytest.raises(InputError, match="the limit is 99 cells"):
        read_table(path)
    monkeypatch.setenv("SURVEYKIT_MAX_CELLS", "100")
    assert read_table(path).shape == (19, 5)
    monkeypatch.setenv("SURVEYKIT_MAX_CELLS", "lots")
    with pytest.raises(InputError, match="SURVEYKIT_MAX_CELLS must be a whole number above 0"):
        read_table(path)


# --- CSV and .sav -----------------------------------------------------------------------------------------------
def _wide_csv(path: Path, n_columns: int) -> Path:
    """The broken catalogue's six good rows, widened with columns of numbers to ``n_columns`` in all."""
    rng = np.random.default_rng(7)
    extra = [f"x{k:05d}" for k in range(n_columns - len(HEADER))]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER + extra)
    for r in ROWS:
        w.writerow(r + rng.integers(0, 100, len(extra)).tolist())
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def test_cli_refuses_a_csv_wider_than_the_column_limit(tmp_path, capsys):
    path = _wide_csv(tmp_path / "wide.csv", 16_385)
    code = main(["validate", "--questionnaire", str(QPATH), "--responses", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"surveykit: error: {path}, row 1: 16,385 columns (file of ")
    assert "the limit is 16,384 columns -- set the environment variable SURVEYKIT_MAX_COLUMNS" in err


def test_a_sav_beyond_the_limits_is_refused_before_its_data_are_read(tmp_path, monkeypatch):
    import pyreadstat

    path = tmp_path / "d.sav"
    pyreadstat.write_sav(pd.DataFrame({f"v{k}": [1.0, 2.0, 3.0] for k in range(12)}), str(path))
    assert read_table(path).shape == (3, 12)
    monkeypatch.setenv("SURVEYKIT_MAX_COLUMNS", "11")
    with pytest.raises(InputError, match=r"d.sav: 12 columns .*the limit is 11 columns"):
        read_table(path)
    monkeypatch.delenv("SURVEYKIT_MAX_COLUMNS")
    monkeypatch.setenv("SURVEYKIT_MAX_CELLS", "35")
    with pytest.raises(InputError, match=r"3 rows x 12 columns = 36 cells .*the limit is 35 cells"):
        read_table(path)


# --- column matching: linear in the number of columns -----------------------------------------------------------
def _questions_csv(path: Path, n_columns: int) -> Path:
    """An export of another questionnaire: respondent id, district and group, then ``n_columns - 3`` numbered
    questions written with the characters of this questionnaire's items -- none of them an item, each one a
    candidate for the closest-column suggestions of all nine items."""
    rng = np.random.default_rng(3)
    chars = sorted(set("".join(i.text.zh for i in Q.items)))
    names = [f"{k}、" + "".join(rng.choice(chars, 36)) for k in range(1, n_columns - 2)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["respondent_id", "district", "group"] + names)
    for r in range(6):
        w.writerow([f"R{r}", "黄浦区", "holder"] + rng.integers(1, 6, len(names)).tolist())
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def test_twenty_thousand_columns_map_in_linear_time(tmp_path, monkeypatch, capsys):
    """The closest column to each missing item was searched with difflib over every column and every item text
    (issue 10: 34 s for 20,000 columns; 7.6 s CPU here with 28-character questions, more with these); now
    rapidfuzz's bound leaves difflib a handful of pairs (about 0.5 s CPU in all). CPU seconds, generous for a
    loaded machine."""
    monkeypatch.setenv("SURVEYKIT_MAX_COLUMNS", "20000")
    path = _questions_csv(tmp_path / "wide.csv", 20_000)
    df, prov = read_source(path)
    assert df.shape == (6, 20_000)
    t = time.process_time()
    cmap = match_columns(Q, df, provenance=prov, roles=Roles())
    assert time.process_time() - t < 5
    assert [m.target for m in cmap.matches] == ["respondent_id", "district", "group"]
    assert cmap.missing_items == tuple(i.id for i in Q.items) and len(cmap.unmatched) == 19_997
    t = time.process_time()
    code = main(["map", "--questionnaire", str(QPATH), "--responses", str(path)])
    assert time.process_time() - t < 20
    out = capsys.readouterr().out
    assert code == 1 and "NOT MATCHED (required):\n  q01 (" in out
    assert "Other columns, kept as they are (19997): '1、" in out


# --- the pruned search for suggestions finds what difflib's exhaustive search finds ------------------------------
WORDS = st.text(alphabet="知识产权法律规的完备程度如何保护满意abc ", min_size=1, max_size=24)


@settings(max_examples=60, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=12, unique=True))
def test_suggestions_equal_the_exhaustive_difflib_search(headers):
    """Independent re-derivation: every (column, key, text) pair through difflib, the first best kept."""
    df = pd.DataFrame({h: [1] for h in headers})
    ctx = MatchContext(Q, df, Provenance.of(df), MappingSpec(), Roles())
    missing = [i.id for i in Q.items]
    got = suggestions(ctx, missing, list(df.columns))
    want = {}
    for item in Q.items:
        texts = [norm_text(strip_numbering(t)) for t in (item.text.zh, item.text.en) if t]
        best = (None, 0.0)
        for c in df.columns:
            for k in question_keys(c):
                for t in texts:
                    r = difflib.SequenceMatcher(None, k, t).ratio()
                    if r > best[1]:
                        best = (c, r)
        if best[0] is not None and best[1] >= 0.6:
            want[item.id] = (best[0], round(best[1], 2))
    assert got == want


@settings(max_examples=300, deadline=None)
@given(WORDS, WORDS)
def test_rapidfuzz_indel_similarity_bounds_difflib_ratio(a, b):
    """The pruning's premise: difflib's matched characters form a common subsequence, so its ratio never exceeds
    2 x LCS / total length (rapidfuzz's ``fuzz.ratio`` / 100)."""
    assert difflib.SequenceMatcher(None, a, b).ratio() <= fuzz.ratio(a, b) / 100 + 1e-12
