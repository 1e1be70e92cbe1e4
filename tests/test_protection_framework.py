"""The indicator framework (contract 5): the shipped file, the contract's own example, and located errors."""

import textwrap

import pytest

from surveykit.cli import main
from surveykit.errors import SpecError
from surveykit.protection import load_framework, load_targets
from surveykit.protection.framework import CR_LIMIT

from .conftest import ROOT

SHIPPED = ROOT / "questionnaires" / "protection_level.yaml"
TARGETS = ROOT / "questionnaires" / "demo_zone_targets.yaml"

CONTRACT_EXAMPLE = """\
id: ip-protection-level
version: "2025.1"
normalise: {method: minmax}
aggregate: {method: arithmetic}
dimensions:
  - id: admin
    label: {zh: 行政保护, en: Administrative protection}
    weight: 0.3
    indicators:
      - id: ruling_closing_rate
        label: {zh: 专利侵权纠纷行政裁决结案率, en: Closing rate of patent-dispute rulings}
        unit: "%"
        direction: 1
        weight: 1
        goalposts: [0, 100]
"""


def write(tmp_path, text, name="fw.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_shipped_framework_is_documented():
    fw = load_framework(SHIPPED)
    assert [d.id for d in fw.dimensions] == ["admin", "dispute", "judicial", "source", "services", "outcome"]
    assert "satisfaction_index" in [i.id for i in fw.dimension("outcome").indicators]
    for ind in fw.indicators:
        assert ind.definition and ind.definition.zh and ind.definition.en, ind.id
        assert ind.source and ind.source.zh and ind.source.en, ind.id
        assert ind.unit, ind.id
    for a in fw.auxiliary:
        assert a.definition and a.source, a.id
    assert sum(d.weight for d in fw.dimensions) == pytest.approx(1)
    assert fw.ahp["index"].result[3] < CR_LIMIT
    assert len(load_targets(TARGETS).targets) >= 4


def test_contract_example_loads_with_defaults(tmp_path):
    fw = load_framework(write(tmp_path, CONTRACT_EXAMPLE))
    ind = fw.indicator("ruling_closing_rate")
    assert ind.goalposts == (0, 100) and ind.direction == 1 and ind.weight == 1
    assert fw.normalise.method == "minmax" and fw.aggregate.method == "arithmetic"
    assert fw.weights.method == "expert" and fw.impute.method == "refuse" and fw.treat.method == "none"


@pytest.mark.parametrize("old, new, key, message", [
    ("        weight: 1\n", "        wieght: 1\n", "dimensions[admin].indicators[ruling_closing_rate].wieght",
     "unknown key"),
    ("        direction: 1\n", "        direction: 2\n", "dimensions[admin].indicators[ruling_closing_rate].direction",
     "direction must be 1"),
    ("goalposts: [0, 100]", "goalposts: [100, 0]", "dimensions[admin].indicators[ruling_closing_rate].goalposts",
     "lower < upper"),
    ("    weight: 0.3\n", "    weight: 0\n", "dimensions[admin].weight", "greater than 0"),
    ('version: "2025.1"', "version: 2025.10", "version", "in quotes"),
    ("{method: minmax}", "{method: minimax}", "normalise.method", "minmax"),
])
def test_errors_name_file_and_key(tmp_path, old, new, key, message):
    p = write(tmp_path, CONTRACT_EXAMPLE.replace(old, new))
    with pytest.raises(SpecError) as e:
        load_framework(p)
    assert e.value.file == str(p) and e.value.key == key
    assert message in e.value.message


def test_structural_errors(tmp_path):
    dup = CONTRACT_EXAMPLE + """\
  - id: other
    label: {zh: 其他}
    indicators:
      - {id: ruling_closing_rate, label: {zh: 重复}}
"""
    with pytest.raises(SpecError, match="duplicate id 'ruling_closing_rate'"):
        load_framework(write(tmp_path, dup))
    den = CONTRACT_EXAMPLE.replace("        goalposts: [0, 100]\n", "        denominator: market_entities\n")
    with pytest.raises(SpecError, match="denominator 'market_entities' is neither an auxiliary"):
        load_framework(write(tmp_path, den))
    reserved = CONTRACT_EXAMPLE.replace("  - id: admin", "  - id: index")
    with pytest.raises(SpecError, match="'index' is reserved"):
        load_framework(write(tmp_path, reserved))
    twice = CONTRACT_EXAMPLE.replace("        unit: \"%\"\n", "        unit: \"%\"\n        unit: \"件\"\n")
    with pytest.raises(SpecError, match="duplicate key 'unit'"):
        load_framework(write(tmp_path, twice))


AHP = CONTRACT_EXAMPLE + """\
  - id: b
    label: {zh: 乙}
    indicators: [{id: y, label: {zh: y}}]
  - id: c
    label: {zh: 丙}
    indicators: [{id: z, label: {zh: z}}]
ahp:
  index:
    compare: [admin, b, c]
    matrix:
"""


def test_ahp_refuses_inconsistent_judgements(tmp_path):
    # a > b (9), b > c (9), but c > a (9): maximally contradictory
    bad = AHP + "      - [1, 9, 1/9]\n      - [1/9, 1, 9]\n      - [9, 1/9, 1]\n"
    with pytest.raises(SpecError) as e:
        load_framework(write(tmp_path, bad))
    assert e.value.key == "ahp.index"
    # by hand (tests/test_protection_methods.py): t = (9 * 9 / (1/9))^(1/3) = 9, lambda_max = 1 + 9 + 1/9 = 10.111,
    # CR = (lambda_max - 3)/2 / 0.58 = 6.130
    assert "consistency ratio CR = 6.130 (lambda_max = 10.111, n = 3)" in e.value.message
    assert "Saaty's rule requires CR < 0.1" in e.value.message
    ok = AHP + "      - [1, 3, 5]\n      - [1/3, 1, 2]\n      - [1/5, 1/2, 1]\n"
    fw = load_framework(write(tmp_path, ok))
    w, lam, ci, cr = fw.ahp["index"].result
    assert cr < 0.1 and w["admin"] > w["b"] > w["c"]


def test_ahp_matrix_shape_and_reciprocity(tmp_path):
    notrec = AHP + "      - [1, 3, 5]\n      - [3, 1, 2]\n      - [1/5, 1/2, 1]\n"
    with pytest.raises(SpecError, match="not reciprocal: row 1, column 2"):
        load_framework(write(tmp_path, notrec))
    wrong = AHP.replace("compare: [admin, b, c]", "compare: [admin, b, d]") + \
        "      - [1, 3, 5]\n      - [1/3, 1, 2]\n      - [1/5, 1/2, 1]\n"
    with pytest.raises(SpecError, match="exactly the children of 'index'"):
        load_framework(write(tmp_path, wrong))
    text = AHP + "      - [1, three, 5]\n      - [1/3, 1, 2]\n      - [1/5, 1/2, 1]\n"
    with pytest.raises(SpecError, match="'three' is not a number"):
        load_framework(write(tmp_path, text))


def test_cli_bad_framework_is_one_line_exit_2(tmp_path, capsys):
    p = write(tmp_path, CONTRACT_EXAMPLE.replace("        weight: 1\n", "        wieght: 1\n"))
    v = tmp_path / "v.csv"
    v.write_text("unit,year,indicator,value\n黄浦区,2025,ruling_closing_rate,90\n", encoding="utf-8")
    code = main(["composite", "--framework", str(p), "--indicators", str(v), "--year", "2025"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert str(p) in err and "wieght" in err and "Traceback" not in err
