"""The registries are the one list of the composite's methods: every registered method is documented (the table,
the contract, the step's docstring), accepted by the framework loader, offered and run by `surveykit composite`,
and sampled by the uncertainty analysis; a method registered once reaches all of them; an unknown name is refused
in one line."""

import io
import json
import re
import textwrap

import numpy as np
import pandas as pd
import pytest

from surveykit.cli import main
from surveykit.errors import InputError, SpecError
from surveykit.protection import Composite, build_composite, load_framework, read_indicator_values
from surveykit.protection import uncertainty_analysis
from surveykit.protection.registry import NORMALISE, REGISTRIES, Method, method_table

from .conftest import ROOT

FW = """\
id: t
version: "1"
impute: {method: none}
dimensions:
  - id: a
    label: {zh: 甲}
    indicators:
      - {id: x1, label: {zh: x1}}
      - {id: x2, label: {zh: x2}, direction: -1}
  - id: b
    label: {zh: 乙}
    indicators:
      - {id: y1, label: {zh: y1}, target: 90}
      - {id: y2, label: {zh: y2}, goalposts: [0, 100]}
ahp:
  index: {compare: [a, b], matrix: [[1, 2], ["1/2", 1]]}
"""
UNITS = ["黄浦区", "徐汇区", "长宁区", "静安区", "普陀区", "虹口区"]
X = {"x1": [3, 9, 4, 12, 7, 5], "x2": [20, 11, 35, 16, 28, 14], "y1": [60, 95, 72, 88, 81, 66],
     "y2": [40, 75, 55, 90, 62, 48]}


def values(missing=()):
    rows = [dict(unit=u, year=y, indicator=i, value=float(v[k] + (y - 2025)))
            for y in (2024, 2025) for i, v in X.items() for k, u in enumerate(UNITS)]
    t = pd.DataFrame(rows)
    for u, i in missing:
        t.loc[(t.unit == u) & (t.indicator == i) & (t.year == 2025), "value"] = np.nan
    return read_indicator_values(t)


def framework(tmp_path, text=FW, name="fw.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def with_method(key: str, name: str) -> str:
    """The framework with ``key: {method: name}`` at the top level."""
    return FW.replace("impute: {method: none}\n", "") + f"{key}: {{method: {name}}}\n"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- documented ---------------------------------------------------------------------------------------------------

def contract_table() -> pd.DataFrame:
    text = (ROOT / "docs" / "CONTRACTS.md").read_text(encoding="utf-8")
    part = text.split("### Contract 5: the composite's methods", 1)[1]
    part = re.split(r"\n#", part, maxsplit=1)[0]              # up to the next heading
    rows = [ln.strip().strip("|").split("|") for ln in part.splitlines() if ln.startswith("| ")]
    t = pd.DataFrame([[c.strip() for c in r] for r in rows[1:]], columns=[c.strip() for c in rows[0]])
    return t


def test_every_method_is_documented():
    table = method_table()
    assert list(zip(table.choice, table.method)) == [(k, m) for k, r in REGISTRIES.items() for m in r]
    assert (table.description.str.len() >= 10).all() and (table.label_zh != "").all() and (table.label_en != "").all()
    # the contract's table is the registry's, row for row
    doc = contract_table()
    assert doc["choice"].tolist() == table.choice.tolist() and doc["method"].tolist() == table.method.tolist()
    assert doc["what it does"].tolist() == table.description.tolist()
    assert doc["reads"].tolist() == table.options.tolist()
    assert doc["sampled"].tolist() == ["yes" if s else "no" for s in table.sampled]
    # the contract's `key: {method: a|b|c}` lists name the same methods
    text = (ROOT / "docs" / "CONTRACTS.md").read_text(encoding="utf-8")
    lists = [(k, v) for k, v in re.findall(r"(\w+): \{method: (\w+(?:\|\w+)+)", text) if k in REGISTRIES]
    assert {k for k, _ in lists} == {"weights", "impute", "treat"}
    for key, names in lists:
        assert set(names.split("|")) == set(REGISTRIES[key]), key
    # each pipeline step's docstring lists its registry's methods
    steps = {"impute": Composite.impute, "treat": Composite.treat, "normalise": Composite.normalise,
             "weights": Composite.weight, "aggregate": Composite.aggregate}
    for key, registry in REGISTRIES.items():
        for m in registry.methods():
            assert f"* ``{m.name}``: {m.description}" in steps[key].__doc__, (key, m.name)


# --- accepted by the loader, run by the pipeline, offered and run by the command line ---------------------------

def step_method(result, key: str) -> str:
    """The method the step record says ran, for the registry ``key``."""
    steps = result.steps.set_index("step")
    if key == "impute":
        pols = set(json.loads(steps.loc["impute", "parameters"])["policies"].values())
        assert len(pols) == 1
        return pols.pop()
    if key == "aggregate":
        return json.loads(steps.loc["aggregate", "parameters"])["index"]
    return steps.loc[{"weights": "weight"}.get(key, key), "method"]


@pytest.mark.parametrize("key, name", [(k, m) for k, r in REGISTRIES.items() for m in r])
def test_every_method_is_accepted_and_run(tmp_path, key, name):
    fw = load_framework(framework(tmp_path, with_method(key, name)))
    assert getattr(fw, key).method == name
    r = build_composite(fw, values(), 2025)
    assert step_method(r, key) == name
    # the same method given as an override gives the same scores
    over = build_composite(load_framework(framework(tmp_path, FW, "plain.yaml")), values(), 2025, **{key: name})
    pd.testing.assert_frame_equal(over.scores, r.scores)


def test_indicator_overrides_accept_the_registries(tmp_path):
    for key in ("impute", "treat"):
        for name in REGISTRIES[key]:
            text = FW.replace("{id: x1, label: {zh: x1}}", f"{{id: x1, label: {{zh: x1}}, {key}: {name}}}")
            fw = load_framework(framework(tmp_path, text))
            assert getattr(fw.indicator("x1"), key) == name


def test_cli_offers_and_runs_every_method(capsys, tmp_path):
    code, out, _ = run(capsys, "composite", "--help")
    assert code == 0
    for key, registry in REGISTRIES.items():
        offered = re.search(rf"--{key} \{{([^}}]*)\}}", out).group(1).split(",")
        assert sorted(offered) == sorted(registry), key
    fw = framework(tmp_path, FW)
    v = tmp_path / "v.csv"
    values().to_csv(v, index=False)
    for key, registry in REGISTRIES.items():
        for name in registry:
            steps = tmp_path / "steps.csv"
            code, out, err = run(capsys, "composite", "--framework", fw, "--indicators", v, "--year", 2025,
                                 f"--{key}", name, "--steps", steps)
            assert code == 0, (key, name, err)
            expected = build_composite(load_framework(fw), values(), 2025, **{key: name}).scores
            got = pd.read_csv(io.StringIO(out))
            np.testing.assert_allclose(got.score, expected.score, rtol=1e-12)
            st = pd.read_csv(steps).set_index("step")
            if key in ("treat", "normalise", "weights"):
                assert st.loc[{"weights": "weight"}.get(key, key), "method"] == name


# --- sampled by the uncertainty analysis --------------------------------------------------------------------------

def test_uncertainty_samples_every_sampled_method(tmp_path):
    fw = load_framework(framework(tmp_path, FW))
    ua = uncertainty_analysis(fw, values(missing=[("徐汇区", "x1")]), 2025, runs=50, sobol_n=0, seed=1)
    opts = {r.factor: r.options.split(", ") for r in ua.factors.itertuples()}
    configured = {"weights": fw.weights.method, "aggregate": fw.aggregate.method, "impute": None}
    for key in ("weights", "normalise", "aggregate", "impute"):
        ran = {configured.get(key) if o == "configured" else o for o in opts[key]} - {None}
        assert ran == set(REGISTRIES[key].sampled()), key
        assert len(opts[key]) == len(set(opts[key]))
    # the methods not sampled are not options: goalposts is min-max, refuse stops, none is the framework's policy
    assert "goalposts" not in opts["normalise"] and not {"refuse", "none"} & set(opts["impute"])


def test_ahp_is_sampled_only_when_the_framework_has_matrices(tmp_path):
    text = FW.split("ahp:")[0]
    fw = load_framework(framework(tmp_path, text))
    ua = uncertainty_analysis(fw, values(), 2025, runs=20, sobol_n=0, seed=1)
    w = ua.factors.set_index("factor").options["weights"].split(", ")
    assert w == ["configured", "equal", "entropy"]             # expert is the framework's; no matrices, no AHP
    with pytest.raises(SpecError, match="weights.method is 'ahp' but no 'ahp' matrices are given"):
        load_framework(framework(tmp_path, text + "weights: {method: ahp}\n", "ahp.yaml"))


# --- one registration reaches every place -------------------------------------------------------------------------

def halved_minmax(x, direction=1, goalposts=None):
    """A test method: min-max halved (0-50)."""
    from surveykit.protection.methods import minmax

    return minmax(x, direction, goalposts) / 2


@pytest.fixture
def halved():
    m = NORMALISE.register(Method("halved", halved_minmax, "min-max halved, 0-50 (a test method)",
                                  ("减半", "halved"), ("goalposts",)))
    yield m
    NORMALISE.unregister("halved")


def test_a_registered_method_reaches_every_place(halved, tmp_path, capsys):
    assert "halved" in method_table().method.tolist()
    p = framework(tmp_path, with_method("normalise", "halved"))
    fw = load_framework(p)
    r = build_composite(fw, values(), 2025).scores.set_index(["unit", "node"]).score
    # x1 = 3, 9, 4, 12, 7, 5: min 3, max 12 -> 徐汇区 (9) scores 100 (9 - 3)/9 / 2
    assert r[("徐汇区", "x1")] == pytest.approx(100 * 6 / 9 / 2, abs=1e-12)
    assert r[("静安区", "x1")] == pytest.approx(50, abs=1e-12)
    v = tmp_path / "v.csv"
    values().to_csv(v, index=False)
    code, out, err = run(capsys, "composite", "--framework", framework(tmp_path, FW, "plain.yaml"), "--indicators",
                         v, "--year", 2025, "--normalise", "halved")
    assert code == 0, err
    got = pd.read_csv(io.StringIO(out)).set_index(["unit", "node"]).score
    assert got[("徐汇区", "x1")] == pytest.approx(100 * 6 / 9 / 2, abs=1e-12)
    ua = uncertainty_analysis(load_framework(framework(tmp_path, FW, "plain.yaml")), values(), 2025, runs=20,
                              sobol_n=0, seed=1)
    assert ua.factors.set_index("factor").options["normalise"].split(", ") == ["minmax", "zscore", "rank",
                                                                                "distance", "halved"]


# --- an unknown name is refused -----------------------------------------------------------------------------------

@pytest.mark.parametrize("key", list(REGISTRIES))
def test_unknown_name_in_a_framework_is_one_line_exit_2(capsys, tmp_path, key):
    p = framework(tmp_path, with_method(key, "nope"))
    v = tmp_path / "v.csv"
    values().to_csv(v, index=False)
    code, _, err = run(capsys, "composite", "--framework", p, "--indicators", v, "--year", 2025)
    names = ", ".join(REGISTRIES[key])
    assert code == 2 and err.splitlines() == [
        f"surveykit: error: {p}, key '{key}.method': unknown {key} method 'nope' (one of: {names})"]


@pytest.mark.parametrize("key", list(REGISTRIES))
def test_unknown_name_in_python_is_one_line(tmp_path, key):
    fw = load_framework(framework(tmp_path, FW))
    with pytest.raises(InputError) as e:
        build_composite(fw, values(), 2025, **{key: "nope"})
    assert str(e.value) == f"unknown {key} method 'nope' (one of: {', '.join(REGISTRIES[key])})"


def test_unknown_name_on_the_command_line_exits_2(capsys, tmp_path):
    v = tmp_path / "v.csv"
    values().to_csv(v, index=False)
    code, out, err = run(capsys, "composite", "--framework", framework(tmp_path, FW), "--indicators", v, "--year",
                         2025, "--aggregate", "median")
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == ("surveykit composite: error: argument --aggregate: invalid choice: 'median' "
                                    "(choose from 'arithmetic', 'geometric')")
