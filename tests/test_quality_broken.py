"""Issue 4, acceptance 5: every broken input of tests/broken/catalogue.py gives its exact outcome, never a traceback."""

import re

import pandas as pd
import pytest

from surveykit.cli import main

from .broken.catalogue import CASES, LOG_COLUMNS, QUESTIONNAIRE
from .conftest import demo_aliases_path


def test_catalogue_is_large_enough():
    assert len(CASES) >= 30
    assert sum(c.error is not None for c in CASES.values()) >= 15


@pytest.mark.parametrize("name", list(CASES))
def test_broken_input(name, tmp_path, capsys):
    case = CASES[name]
    path = case.build(tmp_path)
    for fname, text in case.files.items():
        (tmp_path / fname).write_text(text, encoding="utf-8")
    log = tmp_path / "log.csv"
    args = ["validate", "--questionnaire", str(QUESTIONNAIRE), "--responses", str(path), "--log", str(log),
            *[a.replace("{dir}", str(tmp_path)) for a in case.args]]
    if "--aliases" not in args:   # the cases name Shanghai's districts: the demo study's spellings
        args += ["--aliases", str(demo_aliases_path())]
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out
    if case.error is not None:
        assert code == 2, (out, err)
        assert out == ""
        assert err.count("\n") == 1 and err.startswith("surveykit: error: "), err
        assert re.search(case.error, err.strip()), err
        assert not log.exists()
        return
    assert code == case.exit, (out, err)
    got = pd.read_csv(log, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(got.columns) == LOG_COLUMNS
    assert [tuple(r) for r in got.itertuples(index=False)] == list(case.log), got.to_string()
    m = re.search(r"rows read\s+(\d+)\n\s+rows kept\s+(\d+)\n\s+rows excluded\s+(\d+)", out)
    assert m, out
    read, kept, excluded = map(int, m.groups())
    assert read == kept + excluded
    if case.kept is not None:
        assert kept == case.kept, out


def test_readme_lists_every_case():
    from pathlib import Path

    text = (Path(__file__).parent / "broken" / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in text for name in CASES)
