"""The command line (contract 3): outputs, and one clear line + exit 2 for bad input, never a traceback."""

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from surveykit.cli import main

from .conftest import FIXTURES

SCORE = FIXTURES / "score"
API = FIXTURES / "api"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_estimate_matches_r_and_has_contract_columns(capsys):
    code, out, err = run(capsys, "estimate", API / "apiclus1.csv", "--var", "api00", "--var", "api99",
                         "--weights", "pw", "--psu", "dnum", "--fpc", "fpc")
    assert code == 0, err
    df = pd.read_csv(io.StringIO(out))
    assert list(df.columns) == ["variable", "estimate", "se", "ci_low", "ci_high", "n"]
    exp = pd.read_csv(API / "api_expected.csv", keep_default_na=False)
    e = exp[(exp.design == "dclus1") & (exp.stat == "mean") & (exp.by == "")].set_index("variable")
    got = df.set_index("variable")
    for v in ("api00", "api99"):
        assert got.loc[v, "estimate"] == pytest.approx(e.loc[v, "estimate"], rel=1e-12)
        assert got.loc[v, "se"] == pytest.approx(e.loc[v, "se"], rel=1e-12)


def test_estimate_total_two_stage_by(capsys, tmp_path):
    out_csv = tmp_path / "t.csv"
    code, _, err = run(capsys, "estimate", API / "apiclus2.csv", "--var", "enroll", "--stat", "total",
                       "--psu", "dnum", "--psu", "snum", "--fpc", "fpc1", "--fpc", "fpc2", "--out", out_csv)
    assert code == 0, err
    df = pd.read_csv(out_csv)
    exp = pd.read_csv(API / "api_expected.csv", keep_default_na=False)
    e = exp[(exp.design == "dclus2") & (exp.stat == "total")].iloc[0]
    assert df.estimate[0] == pytest.approx(e.estimate, rel=1e-12) and df.se[0] == pytest.approx(e.se, rel=1e-12)


def test_score_cli_matches_fixture(capsys):
    code, out, err = run(capsys, "score", "--questionnaire", SCORE / "questionnaire.yaml", "--responses",
                         SCORE / "data.csv", "--weights", "w", "--strata", "stratum", "--psu", "psu", "--fpc", "fpc",
                         "--by", "district")
    assert code == 0, err
    got = pd.read_csv(io.StringIO(out))
    assert list(got.columns) == ["district", "group", "node", "estimate", "se", "ci_low", "ci_high", "n"]
    exp = pd.read_csv(SCORE / "expected_by_district.csv")
    m = exp.merge(got, on=["district", "group", "node"])
    assert len(m) == len(exp) == len(got)
    np.testing.assert_allclose(m.estimate_y, m.estimate_x, rtol=1e-8)
    np.testing.assert_allclose(m.se_y, m.se_x, rtol=1e-8)
    assert (m.n_y == m.n_x).all()
    np.testing.assert_allclose(m.ci_low, m.estimate_x - 1.959963984540054 * m.se_x, rtol=1e-8)
    np.testing.assert_allclose(m.ci_high, m.estimate_x + 1.959963984540054 * m.se_x, rtol=1e-8)


def _scored(capsys, path, *extra):
    return run(capsys, "score", "--questionnaire", SCORE / "questionnaire.yaml", "--responses", path,
               "--weights", "w", "--strata", "stratum", "--psu", "psu", "--fpc", "fpc", *extra)


@pytest.mark.parametrize("encoding, newline", [("utf-8", "\n"), ("utf-8-sig", "\r\n"), ("gbk", "\r\n"),
                                               ("gb18030", "\n")])
def test_encodings_and_line_ends_are_read(capsys, tmp_path, encoding, newline):
    df = pd.read_csv(SCORE / "data.csv")
    df["district"] = df["district"].map({"A": "黄浦区", "B": "浦东新区", "C": "临港新片区"})
    path = tmp_path / f"data_{encoding}.csv"
    path.write_bytes(df.to_csv(index=False, lineterminator=newline).encode(encoding))
    code, out, err = _scored(capsys, path, "--by", "district")
    assert code == 0, err
    got = pd.read_csv(io.StringIO(out))
    assert set(got.district) == {"黄浦区", "浦东新区", "临港新片区"}
    base = pd.read_csv(SCORE / "expected_by_district.csv")
    a = got[(got.district == "浦东新区") & (got.node == "index") & (got.group == "all")].estimate.iloc[0]
    b = base[(base.district == "B") & (base.node == "index") & (base.group == "all")].estimate.iloc[0]
    assert a == pytest.approx(b, rel=1e-12)


def _broken(tmp_path, mutate, name="data.csv"):
    import csv
    with open(SCORE / "data.csv", encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    mutate(header, rows)
    path = tmp_path / name
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header] + rows)
    return path


def col(header, name):
    return header.index(name)


BAD = {
    "missing column": (lambda h, r: [x.pop(col(h, "q03")) for x in r] and h.remove("q03"), r"data.csv.*column 'q03'.*no column"),
    "text for a number": (lambda h, r: r[4].__setitem__(col(h, "q02"), "很好"), r"data.csv, row 6, column 'q02': '很好' is not an answer code"),
    "outside the scale": (lambda h, r: r[9].__setitem__(col(h, "q01"), "8"), r"data.csv, row 11, column 'q01': answer 8 is outside the scale"),
    "negative weight": (lambda h, r: r[2].__setitem__(col(h, "w"), "-3"), r"data.csv, row 4, column 'w': weight -3 is not allowed"),
    "blank weight": (lambda h, r: r[7].__setitem__(col(h, "w"), ""), r"data.csv, row 9, column 'w': blank weight"),
    "unknown group": (lambda h, r: r[0].__setitem__(col(h, "group"), "firms"), r"data.csv, row 2, column 'group': unknown group 'firms'"),
    "ragged row": (lambda h, r: r[5].append("1"), r"data.csv, row 7: .* fields where the header has"),
    "duplicate column": (lambda h, r: h.__setitem__(col(h, "q09"), "q08"), r"data.csv, row 1, column 'q08': duplicate column name"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_responses_one_clear_line_exit_2(capsys, tmp_path, case):
    mutate, pattern = BAD[case]
    path = _broken(tmp_path, mutate)
    code, out, err = _scored(capsys, path)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("surveykit: error: "), err
    assert "Traceback" not in err
    import re
    assert re.search(pattern, err), err


@pytest.mark.parametrize("content, pattern", [
    (None, r"missing.csv: file not found"),
    (b"", r"empty.csv: the file is empty \(0 bytes\)"),
    (b"\n\n  \n", r"blank.csv: the file holds no data"),
])
def test_missing_and_empty_files(capsys, tmp_path, content, pattern):
    name = {None: "missing.csv", b"": "empty.csv"}.get(content, "blank.csv")
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, out, err = _scored(capsys, path)
    assert code == 2 and err.count("\n") == 1
    import re
    assert re.search(pattern, err), err


@pytest.mark.parametrize("text, pattern", [
    ("id: x\nversion: '1'\ntitle: {zh: a\n", r"q.yaml: invalid YAML \(line \d+, column \d+\)"),
    ("- just\n- a list\n", r"q.yaml: expected a mapping"),
    ("id: x\nversion: '1'\ntitle: {zh: a}\nscale: {min: 5, max: 1}\ngroups: {column: g, levels: [{id: a, label: {zh: a}}]}\n"
     "indicators: [{id: n, label: {zh: n}, items: [{id: q, text: {zh: q}}]}]\n", r"q.yaml, key 'scale': scale min \(5\) must be below max"),
    ("\xff\xfe", r"q.yaml: not UTF-8 text"),
])
def test_bad_questionnaire(capsys, tmp_path, text, pattern):
    q = tmp_path / "q.yaml"
    q.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode("utf-8"))
    code, out, err = run(capsys, "score", "--questionnaire", q, "--responses", SCORE / "data.csv")
    assert code == 2 and err.count("\n") == 1
    import re
    assert re.search(pattern, err), err


def test_usage_error_exit_2(capsys):
    code, out, err = run(capsys, "estimate")
    assert code == 2 and "usage:" in err


def test_console_script_has_no_traceback_for_bad_input(tmp_path):
    """Through the installed entry point, as an evaluator runs it."""
    exe = [sys.executable, "-m", "surveykit.cli"]
    p = subprocess.run(exe + ["score", "--questionnaire", str(SCORE / "questionnaire.yaml"), "--responses",
                              str(tmp_path / "nope.csv")], capture_output=True, text=True)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and p.stderr.strip().endswith("file not found")


# --- --rake (issue 3) -------------------------------------------------------------------------------------------
def _margins(tmp_path, rows):
    path = tmp_path / "margins.csv"
    path.write_text("variable,level,total\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


GOOD_MARGINS = ["stype,E,4421", "stype,H,755", "stype,M,1018", "sch.wide,No,1072", "sch.wide,Yes,5122"]


def test_estimate_with_rake_matches_r(capsys, tmp_path):
    code, out, err = run(capsys, "estimate", API / "apiclus1.csv", "--var", "api00", "--weights", "pw", "--psu", "dnum",
                         "--fpc", "fpc", "--rake", _margins(tmp_path, GOOD_MARGINS))
    assert code == 0, err
    got = pd.read_csv(io.StringIO(out)).iloc[0]
    exp = pd.read_csv(API / "api_expected.csv", keep_default_na=False)
    e = exp[(exp.design == "dclus1_raked_stype_schwide") & (exp.stat == "mean") & (exp.by == "")].iloc[0]
    assert got.estimate == pytest.approx(e.estimate, rel=1e-8) and got.se == pytest.approx(e.se, rel=1e-8)


@pytest.mark.parametrize("rows, pattern", [
    (GOOD_MARGINS[:2] + GOOD_MARGINS[3:], r"margins.csv, column 'stype': level\(s\) 'M' of 'stype' occur in the data"),
    (GOOD_MARGINS + ["stype,K,3"], r"level\(s\) 'K' of 'stype' have a population total but no respondent"),
    (GOOD_MARGINS[:3] + ["sch.wide,No,1072", "sch.wide,Yes,5000"], r"grand totals disagree"),
    (GOOD_MARGINS + ["schooltype,E,1"], r"column 'schooltype': margin on a column that does not exist"),
    (["stype,E,4421", "stype,H,-5", "stype,M,1018"], r"population total of 'stype' = 'H' must be a positive number"),
    (["stype,E,lots", "stype,H,755", "stype,M,1018"], r"margins.csv, row 2, column 'total': total 'lots' is not a number"),
])
def test_rake_errors_exit_2(capsys, tmp_path, rows, pattern):
    code, out, err = run(capsys, "score", "--questionnaire", SCORE / "questionnaire.yaml", "--responses",
                         API / "apiclus1.csv", "--weights", "pw", "--psu", "dnum", "--rake", _margins(tmp_path, rows))
    import re
    assert code == 2 and err.count("\n") == 1 and re.search(pattern, err), err
