"""Key tasks: the task areas (package data), the key-task files and their errors, completion by area."""

import math

import openpyxl
import pytest

from surveykit.errors import InputError, SpecError
from surveykit.zones import key_task_completion, load_task_areas
from surveykit.zones import load_key_tasks as _load_key_tasks

HEAD = "unit,year,area,task,status,evidence\n"
from surveykit.demo import DEMO_UNITS


def load_key_tasks(*args, **kwargs):
    """With the demo study's units (the tests name Shanghai's districts by id or name)."""
    if len(args) < 2:
        kwargs.setdefault("units", DEMO_UNITS)
    return _load_key_tasks(*args, **kwargs)


def write(tmp_path, text, name="k.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_default_areas_are_the_plans_six():
    areas = load_task_areas()
    assert [a.id for a in areas] == ["deployment", "rule_of_law", "whole_chain", "reform", "cooperation",
                                     "international"]
    assert areas[1].zh == "法治保障" and areas[4].en == "Cross-region and cross-agency cooperation"


def test_areas_from_another_file(tmp_path):
    p = write(tmp_path, 'id: a\nversion: "1"\nareas:\n  - {id: x, label: {zh: 甲}}\n  - {id: y, label: {zh: 乙, en: Y}}\n',
              "a.yaml")
    areas = load_task_areas(p)
    assert [(a.id, a.zh, a.en) for a in areas] == [("x", "甲", "甲"), ("y", "乙", "Y")]
    dup = write(tmp_path, 'id: a\nversion: "1"\nareas:\n  - {id: x, label: {zh: 甲}}\n  - {id: x, label: {zh: 乙}}\n',
                "d.yaml")
    with pytest.raises(InputError, match="duplicate area id"):
        load_task_areas(dup)
    bad = write(tmp_path, 'id: a\nversion: "1"\nareas:\n  - {id: x, lable: {zh: 甲}}\n', "b.yaml")
    with pytest.raises(SpecError) as e:
        load_task_areas(bad)
    assert e.value.key == "areas[x].label" and "required key is missing" in e.value.message


def test_read_tasks(tmp_path):
    p = write(tmp_path, HEAD + "pudong,2026,reform,改革一,done,文件1\n"
                              ",,,,,\n"
                              "浦东新区,2026,reform,改革二,in_progress,\n"
                              "Minhang,2025,deployment,,not_started,\n")
    t = load_key_tasks(p)
    assert t.unit.tolist() == ["pudong", "pudong", "minhang"] and t.row.tolist() == [2, 4, 5]
    assert t.year.tolist() == [2026, 2026, 2025] and t.status.tolist() == ["done", "in_progress", "not_started"]
    assert t.evidence.tolist() == ["文件1", "", ""] and t.task.tolist() == ["改革一", "改革二", ""]
    assert (t.file == str(p)).all() and list(t.columns) == ["unit", "year", "area", "task", "status", "evidence",
                                                             "file", "row"]
    only_needed = write(tmp_path, "unit,year,area,status\npudong,2026,reform,in_progress\n", "m.csv")
    assert load_key_tasks(only_needed).evidence.tolist() == [""]


def test_xlsx_and_folders(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in [["unit", "year", "area", "status", "evidence"], ["pudong", 2026, "reform", "done", 12],
                ["pudong", 2026, "cooperation", "not_started", None]]:
        ws.append(row)
    (tmp_path / "d").mkdir()
    wb.save(tmp_path / "d" / "b.xlsx")
    write(tmp_path / "d", HEAD + "minhang,2026,reform,x,done,e\n", "a.csv")
    t = load_key_tasks(tmp_path / "d")
    assert t.unit.tolist() == ["minhang", "pudong", "pudong"] and t.evidence.tolist() == ["e", "12", ""]
    assert t.row.tolist() == [2, 2, 3] and t.file.str.endswith(("a.csv", "b.xlsx", "b.xlsx")).all()
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no key-task file"):
        load_key_tasks(tmp_path / "empty")
    assert len(load_key_tasks([tmp_path / "d" / "a.csv", tmp_path / "d" / "b.xlsx"])) == 3


ERRORS = {
    # (rows, row, column, message part)
    "unknown_area": ("pudong,2026,tax,x,done,e\n", 2, "area", "unknown area 'tax'"),
    "unknown_status": ("pudong,2026,reform,x,finished,e\n", 2, "status", "unknown status 'finished'"),
    "unknown_unit": ("atlantis,2026,reform,x,done,e\n", 2, "unit", "unknown unit 'atlantis'"),
    "blank_unit": (",2026,reform,x,done,e\n", 2, "unit", "blank"),
    "bad_year": ("pudong,26,reform,x,done,e\n", 2, "year", "not a year"),
    "done_without_evidence": ("pudong,2026,reform,x,in_progress,\npudong,2026,reform,y,done,\n", 3, "evidence",
                              "needs an evidence reference"),
    "same_task_twice": ("pudong,2026,reform,x,done,e\npudong,2026,reform,x,in_progress,\n", 3, "task",
                        "listed twice (first in row 2)"),
}


@pytest.mark.parametrize("name", ERRORS)
def test_task_errors_name_file_row_and_column(tmp_path, name):
    rows, row, column, msg = ERRORS[name]
    p = write(tmp_path, HEAD + rows)
    with pytest.raises(InputError) as e:
        load_key_tasks(p)
    assert (e.value.file, e.value.row, e.value.column) == (str(p), row, column) and msg in e.value.message


def test_column_and_file_errors(tmp_path):
    for text, column, msg in [("unit,year,area,status,remark\npudong,2026,reform,done,e\n", "remark", "unknown"),
                              ("unit,year,status\npudong,2026,done\n", "area", "required column is missing")]:
        with pytest.raises(InputError) as e:
            load_key_tasks(write(tmp_path, text))
        assert (e.value.row, e.value.column) == (1, column) and msg in e.value.message
    with pytest.raises(InputError, match="unknown unit 'minhang'"):
        load_key_tasks(write(tmp_path, HEAD + "minhang,2026,reform,x,done,e\n"), units=["pudong"])
    with pytest.raises(InputError, match="file not found"):
        load_key_tasks(tmp_path / "none.csv")
    with pytest.raises(InputError, match="expected .csv or .xlsx"):
        load_key_tasks(write(tmp_path, "x", "k.sav"))


def test_completion_by_area(tmp_path):
    p = write(tmp_path, HEAD + "pudong,2026,reform,a,done,e\n"
                              "pudong,2026,reform,b,in_progress,\n"
                              "pudong,2026,reform,c,done,e\n"
                              "pudong,2026,deployment,d,done,e\n"
                              "pudong,2026,cooperation,e,not_started,\n"
                              "pudong,2026,cooperation,f,not_started,\n"
                              "minhang,2026,rule_of_law,g,in_progress,\n")
    c = key_task_completion(load_key_tasks(p))
    assert len(c) == 12 and list(c.area[:6]) == ["deployment", "rule_of_law", "whole_chain", "reform", "cooperation",
                                                  "international"]
    pud = c[c.unit == "pudong"].set_index("area")
    assert pud.loc["reform", ["tasks", "done", "in_progress", "not_started"]].tolist() == [3, 2, 1, 0]
    assert math.isclose(pud.loc["reform", "share_done"], 2 / 3)
    assert pud.area_status.to_dict() == {"deployment": "done", "rule_of_law": "not_reported",
                                         "whole_chain": "not_reported", "reform": "in_progress",
                                         "cooperation": "not_started", "international": "not_reported"}
    assert math.isnan(pud.loc["whole_chain", "share_done"]) and pud.loc["whole_chain", "tasks"] == 0
    mh = c[c.unit == "minhang"].set_index("area")
    assert mh.loc["rule_of_law", "area_status"] == "in_progress" and mh.loc["rule_of_law", "share_done"] == 0
    assert mh.label_zh["whole_chain"] == "全链条保护" and (c.year == 2026).all()
    assert key_task_completion(load_key_tasks(p).iloc[:0]).empty
