"""Quality rules (issue 4, acceptance 3, 4, 6): rules in YAML, the prepare() API, the log, the invariant
rows read = kept + excluded (hypothesis), `surveykit validate`, `surveykit score --on-invalid`, the appendix counts."""

import io
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveykit import Design, load_questionnaire, score
from surveykit.cli import main
from surveykit.errors import InputError, SpecError
from surveykit.scoring import item_score_matrix
from surveykit.quality import (COUNT_COLUMNS, DEFAULT_RULES, LOG_COLUMNS, RULE_INFO, QualityConfig, load_rules,
                               refusal, validate)
from surveykit.quality import prepare as _prepare
from surveykit.report.quality_text import appendix_table

from .broken.catalogue import HEADER, ROWS, csv_text
from .conftest import FIXTURES, demo_aliases_path


def prepare(*args, **kwargs):
    """prepare() with the demo study's unit spellings (the test data name Shanghai's districts)."""
    kwargs.setdefault("aliases", demo_aliases_path())
    return _prepare(*args, **kwargs)

QPATH = FIXTURES / "score" / "questionnaire.yaml"
Q = load_questionnaire(QPATH)


def _csv(tmp_path, rows, header=HEADER, name="d.csv"):
    p = tmp_path / name
    p.write_text(csv_text(rows, header), encoding="utf-8")
    return p


# --- rules files -----------------------------------------------------------------------------------------------
def test_shipped_rules_file_is_the_documented_default():
    assert DEFAULT_RULES.exists()
    assert load_rules(DEFAULT_RULES) == QualityConfig() == load_rules(None)
    assert set(QualityConfig().rules.model_dump()) == set(RULE_INFO)


def test_partial_rules_file_overrides_only_what_it_says(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("rules:\n  straight_lining: {action: exclude, min_run: 4}\n  speeder: {min_seconds: 120}\n"
                 "required: [respondent_id]\n", encoding="utf-8")
    r = load_rules(p)
    assert r.rules.straight_lining.action == "exclude" and r.rules.straight_lining.min_run == 4
    assert r.rules.speeder.min_seconds == 120 and r.rules.speeder.action == "flag"
    assert r.rules.empty_row.action == "exclude" and r.required == ("respondent_id",)


@pytest.mark.parametrize("text, pattern", [
    ("rules:\n  straightlining: {min_run: 4}\n", r"key 'rules.straightlining': unknown rule"),
    ("rules:\n  out_of_scale: {enabled: false}\n", r"key 'rules.out_of_scale': this rule cannot be switched off"),
    ("rules:\n  whitespace: {action: flag}\n", r"key 'rules.whitespace': action 'flag' is not allowed for this rule "
                                               r"\(allowed: fix, exclude\)"),
    ("rules:\n  speeder: {min_seconds: -1}\n", r"key 'rules.speeder.min_seconds'"),
    ("rules:\n  dont_know: {action: delete}\n", r"key 'rules.dont_know.action'"),
    ("version: 2\n", r"key 'version'"),
    ("rule: {}\n", r"key 'rule': unknown key"),
])
def test_bad_rules_files(tmp_path, text, pattern):
    p = tmp_path / "r.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=pattern):
        load_rules(p)


def test_a_rule_can_be_switched_off(tmp_path):
    rows = ROWS + [ROWS[1]]
    r = tmp_path / "r.yaml"
    r.write_text("rules:\n  duplicate_identical: {enabled: false}\n", encoding="utf-8")
    assert prepare(Q, _csv(tmp_path, rows), rules=r).rows_excluded == 0
    assert prepare(Q, _csv(tmp_path, rows)).rows_excluded == 1


def test_required_columns(tmp_path):
    p = _csv(tmp_path, [r[1:] for r in ROWS], header=HEADER[1:])
    rules = QualityConfig(required=("respondent_id",))
    with pytest.raises(InputError, match=r"d.csv, column 'respondent_id': no column 'respondent_id' in the data "
                                         r"\(a required column \(rules: required\)\)"):
        prepare(Q, p, rules=rules)
    assert prepare(Q, p).rows_kept == 6


# --- prepare(): data, log, counts ------------------------------------------------------------------------------
def _messy(tmp_path):
    rows = [list(r) for r in ROWS]
    rows[0][1] = "Pudong"                    # alias
    rows[1][2] = "专业人士"                    # group label
    rows[2][3] = "非常满意"                    # answer label
    rows[3][4] = "很好"                       # text: excluded
    rows[4][0] = " R05"                      # whitespace: fixed
    rows.append([""] * 12)                   # empty row: excluded
    rows.append(["R07", "浦西", "public"] + ["3"] * 4 + [""] * 3 + ["3", "3"])  # unknown unit: excluded
    return _csv(tmp_path, rows)


def test_prepare_data_log_and_counts(tmp_path):
    p = prepare(Q, _messy(tmp_path))
    assert (p.rows_read, p.rows_kept, p.rows_excluded, p.rows_flagged, p.rows_fixed) == (8, 5, 3, 0, 1)
    d = p.data
    assert d["respondent_id"].tolist() == ["R01", "R02", "R03", "R05", "R06"]
    assert d.attrs["file_rows"].tolist() == [2, 3, 4, 6, 7]  # provenance of the kept rows
    assert d.attrs["source"].endswith("d.csv") and d.attrs["rows_read"] == 8
    assert d["district"].tolist() == ["浦东新区", "浦东新区", "徐汇区", "临港新片区", "黄浦区"]
    assert d["group"].tolist() == ["holder", "professional", "public", "public", "professional"]
    assert d["q01"].tolist() == [4.0, 5.0, 5.0, 4.0, 1.0] and d["q01"].dtype == np.float64
    assert list(p.log.columns) == LOG_COLUMNS
    assert [tuple(r) for r in p.log.itertuples(index=False)] == [
        (5, "R04", "not_a_number", "q02", "很好", "exclude"),
        (6, "R05", "whitespace", "respondent_id", "' R05' -> 'R05'", "fix"),
        (8, "", "empty_row", "", "", "exclude"),
        (9, "R07", "unknown_unit", "district", "浦西", "exclude"),
    ]
    c = p.counts()
    assert list(c.columns) == COUNT_COLUMNS
    assert [tuple(r) for r in c.itertuples(index=False)] == [
        ("empty_row", "unknown", "exclude", 1), ("unknown_unit", "public", "exclude", 1),
        ("not_a_number", "holder", "exclude", 1), ("whitespace", "public", "fix", 1)]
    t = p.totals()
    assert t.set_index("group").loc["holder"].tolist() == [2, 1, 1, 0]
    assert t["read"].sum() == 8 and t["kept"].sum() == 5
    cu = p.counts(by_unit=True)
    assert list(cu.columns) == ["unit"] + COUNT_COLUMNS


def test_summary_text(tmp_path):
    s = prepare(Q, _messy(tmp_path)).summary()
    assert re.search(r"rows read\s+8\n\s+rows kept\s+5\n\s+rows excluded\s+3\n\s+rows flagged\s+0", s)
    assert re.search(r"unknown_unit\s+Unknown unit\s+exclude\s+1", s)
    assert "encoding utf-8" in s


def test_appendix_has_counts_only(tmp_path):
    p = prepare(Q, _messy(tmp_path))
    t = appendix_table(p.counts(), Q, "zh")
    assert list(t.columns) == ["规则", "处理", "权利人", "社会公众", "未识别", "合计"]
    assert t["合计"].sum() == 4
    assert not any("R0" in str(v) for v in t.to_numpy().ravel())  # no respondent ids, no values
    e = appendix_table(p.counts(), Q, "en")
    assert "Text where an answer code belongs" in e["Rule"].tolist()
    assert appendix_table(prepare(Q, _csv(tmp_path, ROWS)).counts(), Q).empty


def test_unit_check_modes(tmp_path):
    rows = [[r[0], "A"] + r[2:] for r in ROWS]
    p = prepare(Q, _csv(tmp_path, rows))
    assert p.ok and p.rows_excluded == 0
    assert [n for n in p.notes if "unit check" in n] == [
        "unit check skipped: no value of column 'district' is a known unit ('A'); add the spellings to the unit alias "
        "list or set rules.unknown_unit.check: always"]
    strict = prepare(Q, _csv(tmp_path, rows), rules=QualityConfig.model_validate(
        {"rules": {"unknown_unit": {"action": "exclude", "check": "always"}}}))
    assert strict.rows_excluded == 6
    flag = prepare(Q, _csv(tmp_path, rows), rules=QualityConfig.model_validate(
        {"rules": {"unknown_unit": {"action": "flag", "check": "always"}}}))
    assert flag.rows_excluded == 0 and flag.rows_flagged == 6


def test_flag_action_blanks_an_invalid_answer(tmp_path):
    rules = QualityConfig.model_validate({"rules": {"out_of_scale": {"action": "flag"},
                                                    "not_a_number": {"action": "flag"}}})
    rows = [list(r) for r in ROWS]
    rows[0][3] = "8"
    rows[1][4] = "很好"
    p = prepare(Q, _csv(tmp_path, rows), rules=rules)
    assert p.rows_kept == 6 and p.rows_flagged == 2
    assert np.isnan(p.data["q01"].iloc[0]) and np.isnan(p.data["q02"].iloc[1])
    score(Q, Design(p.data))  # scoring accepts it


def test_prepare_takes_a_dataframe_and_keeps_names_on_request():
    df = pd.DataFrame(ROWS, columns=HEADER).rename(columns={"respondent_id": "id", "district": "区"})
    p = prepare(Q, df, rename_standard=False)
    assert "id" in p.data.columns and "区" in p.data.columns and p.data.attrs["file_rows"].tolist() == [2, 3, 4, 5, 6, 7]
    p2 = prepare(Q, df)
    assert "respondent_id" in p2.data.columns and "district" in p2.data.columns
    assert validate(Q, df).rows_kept == 6


# --- the invariant, for any input -------------------------------------------------------------------------------
CELL = st.sampled_from(["", "1", "2", "3", "4", "5", "6", "9", "0", "8", "3.5", "很好", " 4", "５", "满意", "非常满意",
                        "(跳过)", "-1", "NA"])
ROW = st.tuples(
    st.sampled_from(["R1", "R2", "R3", "", " R1", "007"]),
    st.sampled_from(["浦东", "Pudong", "浦东新区", "黄浦区", "浦西", "", "Xuhui"]),
    st.sampled_from(["holder", "professional", "public", "权利人", "firms", "", "Professionals"]),
    st.lists(CELL, min_size=9, max_size=9),
    st.sampled_from(["", "25秒", "300", "abc", "2分"]),
)


def _check_invariant(p, n_rows: int | None = None):
    assert p.rows_read == p.rows_kept + p.rows_excluded
    if n_rows is not None:
        assert p.rows_read == n_rows
    assert len(p.data) == p.rows_kept
    excluded_rows = set(p.log.loc[p.log.action == "exclude", "row"])
    assert len(excluded_rows) == p.rows_excluded
    kept_rows = set(p.data.attrs["file_rows"].tolist())
    assert not kept_rows & excluded_rows
    assert p.log["action"].isin(["exclude", "flag", "fix"]).all()
    assert p.log["rule"].isin(list(RULE_INFO)).all()
    c = p.counts()
    if not c.empty:
        assert set(c["rule"]) == set(p.log["rule"])
    t = p.totals()
    assert t["read"].sum() == p.rows_read and t["excluded"].sum() == p.rows_excluded


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROW, min_size=1, max_size=25))
def test_rows_read_equal_kept_plus_excluded(rows):
    data = [[a, b, c, *items, d] for a, b, c, items, d in rows]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        path.write_text(csv_text(data, HEADER + ["duration"]), encoding="utf-8")
        try:
            p = prepare(Q, path)
        except InputError as exc:  # only when no row holds a value: refused with that message, never a crash
            assert all(str(v).strip() in ("", "NA") for row in data for v in row), exc
            assert exc.one_line() == (f"{path}: the file has a header (row 1) but no data rows (only blank rows below "
                                      "it)"), exc
            return
    n_data = len(data)
    # trailing blank rows are not data (the reader says so); every other row is read
    while n_data and all(str(v).strip() in ("", "NA") for v in data[n_data - 1]):
        n_data -= 1
    _check_invariant(p, n_data)
    # what is kept passes scoring's own checks (groups declared, answers on the scale or missing codes)
    if p.rows_kept:
        item_score_matrix(Q, p.data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_bytes_give_a_result_or_one_input_error(raw):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        path.write_bytes(b"respondent_id,district,group,q01,q02,q03,q04,q05,q06,q07,q08,q09\n" + raw)
        try:
            p = prepare(Q, path)
        except InputError as exc:  # one line naming the file (and the row or column where there is one)
            assert "\n" not in exc.one_line()
            assert exc.file and Path(exc.file).name == "d.csv" and exc.one_line().startswith(f"{exc.file}"), exc
            return
    _check_invariant(p)


# --- the command line ---------------------------------------------------------------------------------------------
def run(capsys, *argv):
    if argv and argv[0] in ("validate", "map", "score") and "--aliases" not in argv:
        argv = (*argv, "--aliases", demo_aliases_path())
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_prints_summary_and_writes_log(tmp_path, capsys):
    log = tmp_path / "log.csv"
    code, out, err = run(capsys, "validate", "--questionnaire", QPATH, "--responses", _messy(tmp_path), "--log", log)
    assert code == 1  # rows excluded
    assert "rows excluded  3" in out and f"wrote 4 log rows to {log}" in err
    raw = log.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: Excel shows the Chinese text
    got = pd.read_csv(log, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(got.columns) == LOG_COLUMNS and len(got) == 4
    xl = tmp_path / "log.xlsx"
    assert run(capsys, "validate", "--questionnaire", QPATH, "--responses", _messy(tmp_path), "--log", xl)[0] == 1
    assert len(pd.read_excel(xl, engine="openpyxl")) == 4
    assert run(capsys, "validate", "--questionnaire", QPATH, "--responses", _csv(tmp_path, ROWS))[0] == 0


def _score_args(path, *extra):
    return ("score", "--questionnaire", QPATH, "--responses", path, "--by", "district", *extra)


def test_score_refuses_invalid_rows_unless_told_to_exclude(tmp_path, capsys):
    fixture = pd.read_csv(FIXTURES / "score" / "data.csv", dtype=str, keep_default_na=False)
    bad = fixture.copy()
    bad.loc[4, "q02"] = "很好"
    bad.loc[9, "group"] = "firms"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    design = ("--weights", "w", "--strata", "stratum", "--psu", "psu", "--fpc", "fpc")
    code, out, err = run(capsys, *_score_args(path, *design))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert re.search(r"bad.csv, row 6, column 'q02': '很好' is not an answer code; 2 of 633 rows fail rules whose "
                     r"action is exclude \(not_a_number 1, unknown_group 1\) -- see `surveykit validate --log`, or "
                     r"score with --on-invalid exclude", err), err
    code, out, err = run(capsys, *_score_args(path, *design, "--on-invalid", "exclude"))
    assert code == 0, err
    assert re.search(r"rows excluded\s+2\n", err) and "scoring the 631 kept rows" in err  # nothing dropped silently
    got = pd.read_csv(io.StringIO(out))
    # the same as scoring a file without those two rows
    clean = tmp_path / "clean.csv"
    fixture.drop(index=[4, 9]).to_csv(clean, index=False)
    code, out2, err2 = run(capsys, *_score_args(clean, *design))
    assert code == 0, err2
    pd.testing.assert_frame_equal(got, pd.read_csv(io.StringIO(out2)))


def test_score_reads_a_platform_export_with_labels(tmp_path, capsys):
    """Labels, short unit names and a question-text header score exactly like the coded file."""
    fixture = pd.read_csv(FIXTURES / "score" / "data.csv", dtype=str, keep_default_na=False)
    fixture["district"] = fixture["district"].map({"A": "黄浦区", "B": "浦东新区", "C": "临港新片区"})
    coded = tmp_path / "coded.csv"
    fixture.to_csv(coded, index=False)
    labels = {k: v.zh for k, v in Q.scale.labels.items()}
    export = fixture.copy()
    for item in Q.items:
        export[item.id] = export[item.id].map(lambda v: labels.get(int(v), v) if v else v)
    export["district"] = export["district"].map({"黄浦区": "黄浦", "浦东新区": "Pudong", "临港新片区": "临港"})
    export["group"] = export["group"].map({g.id: g.label.zh for g in Q.groups.levels})
    export = export.rename(columns={"q01": "3、知识产权法律法规的完备程度", "id": "序号"})
    xlsx = tmp_path / "export.xlsx"
    export.to_excel(xlsx, index=False, engine="openpyxl")
    design = ("--weights", "w", "--strata", "stratum", "--psu", "psu", "--fpc", "fpc")
    c1, o1, e1 = run(capsys, *_score_args(coded, *design))
    c2, o2, e2 = run(capsys, *_score_args(xlsx, *design))
    assert c1 == 0 and c2 == 0, (e1, e2)
    a, b = pd.read_csv(io.StringIO(o1)), pd.read_csv(io.StringIO(o2))
    pd.testing.assert_frame_equal(a, b)


def test_refusal_is_none_for_clean_data(tmp_path):
    assert refusal(prepare(Q, _csv(tmp_path, ROWS))) is None
