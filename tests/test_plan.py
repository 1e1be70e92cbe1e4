"""surveykit.plan: allocations worked by hand, the two-stage model by hand, infeasible targets, the parameters of a
sample by hand, and `surveykit plan` on a small study.

Hand calculations: Z = 1.959964 (the normal 97.5% point, from scipy here), ``T2 = (H / Z)^2`` the target variance.
Without clusters and finite-population corrections a unit's index has variance ``S2 / n``, so it needs
``ceil(S2 / T2)`` valid respondents; an allocation gives unit ``h`` the share ``pi_h``, and the unit whose need is
largest relative to its share decides the total: the others get ``ceil(pi_h / pi_binding * n_binding)``.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import surveykit as sk
from surveykit import plan as sp
from surveykit.cli import main
from surveykit.errors import InputError

Z = float(norm.ppf(0.975))
ROOT = Path(__file__).resolve().parents[1]


def params(units, groups=()):
    """A parameters table by hand: ``units`` = [(unit, S2, population), ...] without clusters or fpc (``V = S2/n``),
    the region row without an SE (so the region's variance is ``sum a_h^2 V_h``)."""
    base = dict(n=100, se=np.nan, share=1.0, first_stage_units=100, first_stage_frame=np.nan, frame_size=np.nan,
                stages=0, cluster_size=1.0, weighting_effect=1.0, icc=0.0, icc_se=0.0, variance_observed=np.nan,
                variance_model=np.nan)
    rows = [dict(base, unit=u, group="all", element_variance=s2, population=x) for u, s2, x in units]
    rows += [dict(base, unit=u, group=g, element_variance=s2, population=x * share, share=share)
             for u, g, s2, x, share in groups]
    rows.append(dict(base, unit="all", group="all", element_variance=np.nan,
                     population=float(sum(x for _, _, x in units))))
    return pd.DataFrame(rows)[sp.PARAMETER_COLUMNS]


THREE = params([("a", 400.0, 10000.0), ("b", 100.0, 41000.0), ("c", 225.0, 50000.0)])


def unit_rows(plan):
    t = plan.table
    return t[(t.group == "all") & (t.unit != "all")].set_index("unit")


def region_hw(n, s2=(400.0, 100.0, 225.0), x=(10000.0, 41000.0, 50000.0)):
    a = np.array(x) / sum(x)
    return Z * math.sqrt(float(np.sum(a ** 2 * np.array(s2) / np.array(n, dtype=float))))


# --- allocations, worked by hand --------------------------------------------------------------------------------
def test_the_needs_worked_by_hand():
    t2 = (2 / Z) ** 2
    assert [math.ceil(s2 / t2) for s2 in (400, 100, 225)] == [385, 97, 217]   # a binds every allocation below


@pytest.mark.parametrize("allocation, q, expected", [
    ("equal", 0.5, [385, 385, 385]),                  # pi = 1/3 each
    ("proportional", 0.5, [385, 1579, 1925]),         # pi ∝ X: 385 * 41/10 = 1578.5, 385 * 5 = 1925
    ("neyman", 0.5, [385, 790, 1444]),                # pi ∝ X S = 200000, 410000, 750000: 789.25, 1443.75
    ("power", 0.5, [385, 390, 646]),                  # pi ∝ sqrt(X) S = 2000, 2024.85, 3354.10: 389.78, 645.67
    ("power", 0.0, [385, 193, 289]),                  # pi ∝ S = 20, 10, 15: 192.5, 288.75
    ("power", 1.0, [385, 790, 1444]),                 # q = 1 is Neyman
])
def test_allocations_by_hand(allocation, q, expected):
    plan = sp.plan_sample(THREE, half_width=2.0, allocation=allocation, power_q=q)
    u = unit_rows(plan)
    assert u.loc[["a", "b", "c"], "n"].tolist() == expected
    assert u.loc[["a", "b", "c"], "first_stage_units"].tolist() == expected   # no clusters: every respondent
    hw = [Z * math.sqrt(s2 / n) for s2, n in zip((400, 100, 225), expected)]
    assert u.loc[["a", "b", "c"], "half_width"].to_numpy() == pytest.approx(hw, rel=1e-12)
    assert u.half_width.max() <= 2.0
    region = plan.table.iloc[-1]
    assert (region.unit, region.group, region.n, region.first_stage_units) == ("all", "all", sum(expected),
                                                                               sum(expected))
    assert plan.region_half_width == pytest.approx(region_hw(expected), rel=1e-12)
    assert list(plan.table.columns) == ["unit", "group", "n", "first_stage_units", "half_width", "cost"]
    assert plan.table.cost.isna().all()                                     # no costs given


def test_valid_rate_by_hand():
    # 385 valid respondents at a valid rate of 0.8: ceil(385 / 0.8) = 482 interviews, 385.6 valid expected
    plan = sp.plan_sample(THREE, half_width=2.0, allocation="equal", valid_rate=0.8)
    u = unit_rows(plan)
    assert u.n.tolist() == [482, 482, 482]
    assert u.loc["a", "half_width"] == pytest.approx(Z * math.sqrt(400 / 385.6), rel=1e-12)


def test_neyman_with_costs_by_hand():
    # c = 100, 25, 64 (sqrt 10, 5, 8): pi ∝ X S / sqrt(c) = 20000, 82000, 93750; a binds
    costs = {"a": 100.0, "b": 25.0, "c": 64.0}
    plan = sp.plan_sample(THREE, half_width=2.0, allocation="neyman", costs=costs)
    u = unit_rows(plan)
    assert u.n.tolist() == [385, 1579, 1805]                  # 385 * 4.1 = 1578.5, 385 * 4.6875 = 1804.69
    assert u.cost.tolist() == [38500.0, 39475.0, 115520.0]
    assert plan.table.cost.iloc[-1] == 193495.0
    # equal allocation ignores costs in the shares but prices them
    eq = unit_rows(sp.plan_sample(THREE, half_width=2.0, allocation="equal", costs=costs))
    assert eq.n.tolist() == [385, 385, 385] and eq.cost.tolist() == [38500.0, 9625.0, 24640.0]


def test_two_stage_model_by_hand():
    # S2 = 200, D_w = 1.2, rho = 0.01, N = 20 streets of M = 500, cluster size 50, H = 2 (T2 = 1.041271):
    # n = 288: k = ceil(288/50) = 6, m = 48, f1 = 0.3, f2 = 0.096:
    #   D = 1.2 * 0.7 * 48 * 0.01 + (1.2 - 0.096) * 0.99 = 0.4032 + 1.09296 = 1.49616, V = 200 * D / 288 = 1.038999
    # n = 287: m = 47.833: D = 0.40180 + 1.09329 = 1.49509, V = 1.041875 > T2
    one = params([("a", 200.0, 10000.0)])
    one.loc[0, ["stages", "weighting_effect", "icc", "first_stage_frame", "frame_size", "cluster_size"]] = \
        [2, 1.2, 0.01, 20.0, 500.0, 50.0]
    plan = sp.plan_sample(one, half_width=2.0, allocation="equal")
    u = unit_rows(plan)
    assert (u.loc["a", "n"], u.loc["a", "first_stage_units"]) == (288, 6)
    assert u.loc["a", "half_width"] == pytest.approx(Z * math.sqrt(200 * 1.49616 / 288), rel=1e-12)
    # only N = 4 streets: all four, clusters grow (f1 = 1): V = 200 * 0.99 * (1.2 - n/2000) / n <= T2
    # -> n >= 237.6 / (T2 + 0.099) = 208.37 -> 209 in 4 streets
    one.loc[0, "first_stage_frame"] = 4.0
    u = unit_rows(sp.plan_sample(one, half_width=2.0, allocation="equal"))
    assert (u.loc["a", "n"], u.loc["a", "first_stage_units"]) == (209, 4)
    assert u.loc["a", "half_width"] == pytest.approx(Z * math.sqrt(200 * 0.99 * (1.2 - 209 / 2000) / 209), rel=1e-12)
    # a chosen cluster size of 25 (N = 20 again): the smallest n whose V, by the same formula, is within T2
    one.loc[0, "first_stage_frame"] = 20.0
    u = unit_rows(sp.plan_sample(one, half_width=2.0, allocation="equal", cluster_size=25))

    def v(n):
        k = math.ceil(n / 25)
        return 200 / n * (1.2 * (1 - k / 20) * (n / k) * 0.01 + (1.2 - n / k / 500) * 0.99)

    n = int(u.loc["a", "n"])
    assert u.loc["a", "first_stage_units"] == math.ceil(n / 25)
    assert v(n) <= (2 / Z) ** 2 < v(n - 1)
    assert n < 288                                  # smaller clusters: less clustering, fewer respondents


def test_groups_minimum_and_target_by_hand():
    # one unit: index S2 150; groups g1 (share 0.25, S2 300) and g2 (0.75, S2 100); H = 3: ceil(150/2.342862) = 65
    p = params([("a", 150.0, 10000.0)], [("a", "g1", 300.0, 10000.0, 0.25), ("a", "g2", 100.0, 10000.0, 0.75)])
    t = sp.plan_sample(p, half_width=3.0, allocation="equal").table
    assert t[t.unit == "a"].set_index("group").loc["all", "n"] == 65
    # at least 30 of each group: g1 needs 30 / 0.25 = 120 in the unit
    t = sp.plan_sample(p, half_width=3.0, allocation="equal", min_per_group=30).table
    t = t[t.unit == "a"].set_index("group")
    assert t.n.tolist() == [120, 30, 90]
    assert t.half_width.tolist() == pytest.approx([Z * math.sqrt(150 / 120), Z * math.sqrt(300 / 30),
                                                   Z * math.sqrt(100 / 90)], rel=1e-12)
    # every group within ±4 (T2 = 4.16508): g1 needs n >= 300 / (0.25 T2) = 288.11 -> 289; g2 33
    t = sp.plan_sample(p, half_width=3.0, allocation="equal", group_half_width=4.0).table
    t = t[t.unit == "a"].set_index("group")
    assert t.n.tolist() == [289, 72, 217]          # 72.25 and 216.75 -> 72 and 217 (largest remainder)
    assert t.loc["g1", "half_width"] == pytest.approx(Z * math.sqrt(300 / 72.25), rel=1e-12)
    assert t.loc["g1", "half_width"] <= 4.0


# --- budgets and infeasible targets -------------------------------------------------------------------------------
COSTS = {"a": 100.0, "b": 25.0, "c": 64.0}


def cheapest_best(budget):
    """By hand: the largest n_a whose cheapest Neyman plan (b, c at their smallest for that n_a: just above
    (n_a - 1) / pi_a of the total) fits the budget, and a's half-width there (a is the widest)."""
    best = 0
    for n_a in range(1, 2000):
        cost = 100 * n_a + 25 * (math.floor(4.1 * (n_a - 1)) + 1) + 64 * (math.floor(4.6875 * (n_a - 1)) + 1)
        if cost <= budget:
            best = n_a
    return best, Z * math.sqrt(400 / best)


def test_budget_too_small_gives_the_best_half_width():
    n_a, best = cheapest_best(150000)
    with pytest.raises(InputError) as err:
        sp.plan_sample(THREE, half_width=2.0, allocation="neyman", budget=150000, costs=COSTS)
    msg = str(err.value)
    assert "193,495, more than the budget 150,000" in msg
    assert float(re.search(r"best achievable half-width is ±([0-9.]+)", msg).group(1)) == round(best, 2)
    # spending the budget without a target gives that plan; a target just above it is met within the budget
    spend = sp.plan_sample(THREE, allocation="neyman", budget=150000, costs=COSTS)
    assert unit_rows(spend).loc["a", "n"] == n_a and spend.table.cost.iloc[-1] <= 150000
    assert spend.settings["max_unit_half_width"] == pytest.approx(best, rel=1e-12)
    ok = sp.plan_sample(THREE, half_width=best + 0.005, allocation="neyman", budget=150000, costs=COSTS)
    assert ok.table.cost.iloc[-1] <= 150000


def test_target_beyond_the_whole_population():
    small = params([("a", 400.0, 500.0)])
    with pytest.raises(InputError, match=re.escape("unit 'a' cannot reach ±1 even interviewing its whole "
                                                   "population (500, valid rate 1); the best achievable "
                                                   f"half-width there is ±{Z * math.sqrt(400 / 500):.2f}")):
        sp.plan_sample(small, half_width=1.0)


def test_allocation_that_overfills_a_unit():
    # equal allocation: b (S2 400) needs 385, so a gets 385 too -- more than its 300 persons; the most that fits
    # is 300 each, where b's half-width is Z sqrt(400 / 300) = 2.26
    p = params([("a", 100.0, 300.0), ("b", 400.0, 5000.0)])
    with pytest.raises(InputError, match=re.escape("±2 in every unit needs 385 interviews in unit 'a', more than "
                                                   "its population (300) (equal allocation); the best achievable "
                                                   f"half-width is ±{Z * math.sqrt(400 / 300):.2f}")):
        sp.plan_sample(p, half_width=2.0, allocation="equal")


@pytest.mark.parametrize("kwargs, message", [
    (dict(half_width=-1), "half_width must be a positive number"),
    (dict(half_width=1, allocation="optimal"), "allocation must be one of"),
    (dict(half_width=1, valid_rate=0), "valid rate must be in (0, 1]"),
    (dict(half_width=1, valid_rate=1.5), "valid rate must be in (0, 1]"),
    (dict(half_width=1, power_q=2), "power_q must be between 0 and 1"),
    (dict(budget=1000), "a budget needs the cost per interview"),
    (dict(), "give a target half-width, or a budget"),
    (dict(half_width=2, costs={"a": 1.0, "b": 1.0}), "no cost per interview for unit 'c'"),
    (dict(half_width=2, costs={"a": 1.0, "b": 0.0, "c": 1.0}), "cost per interview of unit 'b' must be a positive number"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(InputError, match=re.escape(message)):
        sp.plan_sample(THREE, **kwargs)


def test_costs_file(tmp_path):
    from surveykit.units import Unit, UnitSet, Words

    units = UnitSet((Unit("east", "东区", "East District"), Unit("west", "西区", "West District")), Words("区", "district"))
    f = tmp_path / "costs.csv"
    f.write_text("unit,cost\n东区,120\nWest District,80.5\n", encoding="utf-8")
    assert sp.read_costs(f, units) == {"east": 120.0, "west": 80.5}
    for body, where in (("unit,cost\n东区,120\n南区,80\n", "row 3, column 'unit'"),
                        ("unit,cost\n东区,120\neast,80\n", "row 3, column 'unit'"),
                        ("unit,cost\n东区,free\n", "row 2, column 'cost'"),
                        ("unit,price\n东区,1\n", "column 'cost'")):
        f.write_text(body, encoding="utf-8")
        with pytest.raises(InputError, match=re.escape(where)):
            sp.read_costs(f, units)


# --- the parameters of a sample, by hand ---------------------------------------------------------------------------
TINY = """\
id: tiny
version: "1"
title: {zh: 小, en: Tiny}
scale: {min: 1, max: 5, missing: [9], labels: {1: {zh: 差, en: Bad}, 5: {zh: 好, en: Good}}}
groups:
  column: group
  levels:
    - {id: public, label: {zh: 公众, en: Public}}
indicators:
  - id: ind
    label: {zh: 指标, en: Indicator}
    items:
      - {id: q1, text: {zh: 题, en: Q}}
"""

CODES = {"a": [5, 4, 4], "b": [3, 3, 2], "c": [5, 5, 4], "d": [1, 2, 2], "e": [4, 3, 3], "f": [2, 2, 1]}
UNIT_OF = {"a": "u1", "b": "u1", "c": "u1", "d": "u2", "e": "u2", "f": "u2"}
WEIGHT = {"a": 2.0, "b": 2.0, "c": 4.0, "d": 1.0, "e": 1.0, "f": 1.0}
FRAME = {"a": 10, "b": 20, "c": 30, "d": 9, "e": 9, "f": 12}


def test_design_parameters_by_hand(tmp_path):
    (tmp_path / "q.yaml").write_text(TINY, encoding="utf-8")
    q = sk.load_questionnaire(tmp_path / "q.yaml")
    rows = [dict(district=UNIT_OF[s], street=s, rid=f"{s}{i}", group="public", q1=c, weight=WEIGHT[s],
                 n_streets=5 if UNIT_OF[s] == "u1" else 4, n_frame=FRAME[s])
            for s, codes in CODES.items() for i, c in enumerate(codes)]
    df = pd.DataFrame(rows)
    d = sk.Design(df, weights="weight", strata="district", psu=["street", "rid"], fpc=["n_streets", "n_frame"])
    got = sp.design_parameters(q, d, "district").set_index(["unit", "group"]).loc[(slice(None), "all"), :]
    got = got.droplevel("group")
    y = {s: 25.0 * (np.array(c) - 1) for s, c in CODES.items()}       # item scores 0..100
    for u, streets in (("u1", "abc"), ("u2", "def")):
        vals = np.concatenate([y[s] for s in streets])
        w = np.concatenate([[WEIGHT[s]] * 3 for s in streets])
        mean = np.sum(w * vals) / w.sum()
        s2 = np.sum(w * (vals - mean) ** 2) / w.sum() * 9 / 8        # e = y - weighted mean
        assert got.loc[u, "element_variance"] == pytest.approx(s2, rel=1e-12)
        assert got.loc[u, "weighting_effect"] == pytest.approx(9 * np.sum(w ** 2) / w.sum() ** 2, rel=1e-12)
        assert got.loc[u, "frame_size"] == pytest.approx(np.mean([FRAME[s] for s in streets]))
    assert got.loc["u1", "weighting_effect"] == pytest.approx(1.125)    # 9 * 72 / 24^2
    assert got.first_stage_frame.tolist() == [5.0, 4.0] and got.first_stage_units.tolist() == [3, 3]
    assert got.cluster_size.tolist() == [3.0, 3.0] and got.stages.tolist() == [2, 2]
    # pooled one-way ANOVA over streets within units (the ICC is the same for y and for y minus a unit constant)
    ssb = ssw = 0.0
    for streets in ("abc", "def"):
        unit_mean = np.mean(np.concatenate([y[s] for s in streets]))
        ssb += sum(3 * (y[s].mean() - unit_mean) ** 2 for s in streets)
        ssw += sum(np.sum((y[s] - y[s].mean()) ** 2) for s in streets)
    msb, msw, m0 = ssb / (6 - 2), ssw / (18 - 6), (18 - (27 / 9 + 27 / 9)) / (6 - 2)   # m0 = 3
    rho = (msb - msw) / (msb + (m0 - 1) * msw)
    assert got.icc.tolist() == pytest.approx([rho, rho], rel=1e-12)
    var = 2 * (1 - rho) ** 2 * (1 + (m0 - 1) * rho) ** 2 * (18 - 2) / (m0 ** 2 * (18 - 6) * (6 - 2))
    assert got.icc_se.iloc[0] == pytest.approx(math.sqrt(var), rel=1e-12)
    # one stage of clusters (streets, their fpc): the same ICC, stage 1 only; no clusters: every respondent, no ICC
    one = sp.design_parameters(q, sk.Design(df, weights="weight", strata="district", psu="street", fpc="n_streets"),
                               "district").query("group == 'all'").set_index("unit")
    assert one.stages.tolist() == [1, 1] and one.icc.tolist() == pytest.approx([rho, rho], rel=1e-12)
    assert one.frame_size.isna().all() and one.first_stage_frame.tolist() == [5.0, 4.0]
    none = sp.design_parameters(q, sk.Design(df, weights="weight", strata="district"), "district")
    none = none.query("group == 'all'").set_index("unit")
    assert none.stages.tolist() == [0, 0] and none.icc.tolist() == [0.0, 0.0]
    assert none.first_stage_units.tolist() == [9, 9] and none.cluster_size.tolist() == [1.0, 1.0]


# --- on a study: parameters from its store, `surveykit plan`, the `plan:` key --------------------------------------
STUDY = """\
questionnaire: questionnaire.yaml
units: units.csv
unit_column: district
design: {weights: weight, strata: district, psu: [street, respondent_id], fpc: [n_streets, n_frame]}
years:
  2026: {responses: responses_2026.csv, rake: margins_2026.csv}
quality: {rules: rules.yaml}
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A small study (three units, 1,500 synthetic respondents in two-stage samples) and its 2026 results."""
    from surveykit.demo.study import write_margins
    from surveykit.spec.study import load_study
    from surveykit.synth import write_demo
    from surveykit.units import Unit
    from surveykit.workflow import ensure_results

    d = tmp_path_factory.mktemp("plan_study")
    shutil.copyfile(ROOT / "questionnaires" / "ip_protection_satisfaction.yaml", d / "questionnaire.yaml")
    shutil.copyfile(ROOT / "questionnaires" / "quality_rules.yaml", d / "rules.yaml")
    units = (Unit("east", "东区", "East District"), Unit("west", "西区", "West District"),
             Unit("north", "北区", "North District"))
    write_demo(sk.load_questionnaire(d / "questionnaire.yaml"), d, years=(2026,), target_n=1500, units=units)
    write_margins(d / "population_2026.csv", d / "margins_2026.csv")
    (d / "units.csv").write_text("id,zh,en\n" + "".join(f"{u.id},{u.zh},{u.en}\n" for u in units), encoding="utf-8")
    (d / "study.yaml").write_text(STUDY, encoding="utf-8")
    (d / "costs.csv").write_text("unit,cost\n东区,100\n西区,150\n北区,80\n", encoding="utf-8")
    ensure_results(load_study(d / "study.yaml"), [2026])
    return d


def test_parameters_from_the_store(study):
    from surveykit.results import load_results

    par = sk.plan_parameters(study / "study.yaml", 2026)
    assert list(par.columns) == sp.PARAMETER_COLUMNS
    res = load_results(study / "results", 2026)
    su = res.scores_unit[res.scores_unit.node == "index"].set_index(["unit", "group"])
    mine = par[par.unit != "all"].set_index(["unit", "group"])
    assert mine.n.tolist() == su.loc[mine.index, "n"].tolist()
    assert mine.variance_observed.to_numpy() == pytest.approx((su.loc[mine.index, "se"] ** 2 *
                                                               su.loc[mine.index, "n"]).to_numpy(), rel=1e-12)
    responses = pd.read_csv(study / "responses_2026.csv")
    k = responses.groupby("district").street.nunique()
    allrows = mine.xs("all", level="group")
    assert allrows.loc[["east", "west", "north"], "first_stage_units"].tolist() == k.loc[["东区", "西区", "北区"]].tolist()
    assert allrows.first_stage_frame.tolist() == [18.0, 18.0, 18.0]   # the synthetic frame's 18 streets per unit
    shares = mine.xs("holder", level="group").share
    assert ((shares > 0.2) & (shares < 0.8)).all()
    assert (par.icc.dropna() >= 0).all() and par.iloc[-1].unit == "all"


def test_cli_plan_csv_and_xlsx(study, capsys):
    out = study / "plan.csv"
    rc = main(["plan", "--study", str(study / "study.yaml"), "--year", "2026", "--half-width", "4",
               "--allocation", "equal", "--valid-rate", "0.9", "--min-per-group", "10",
               "--costs", str(study / "costs.csv"), "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    t = pd.read_csv(out, encoding="utf-8-sig")
    assert list(t.columns) == ["unit", "group", "n", "first_stage_units", "half_width", "cost"]
    assert t.iloc[-1][["unit", "group"]].tolist() == ["all", "all"]
    units = t[(t.group == "all") & (t.unit != "all")]
    assert sorted(units.unit) == ["east", "north", "west"] and (units.half_width <= 4).all()
    assert units.n.nunique() <= 3 and t.iloc[-1].n == units.n.sum()
    assert units.set_index("unit").cost.to_dict() == {u: n * c for u, n, c in zip(
        units.unit, units.n, [{"east": 100, "west": 150, "north": 80}[u] for u in units.unit])}
    assert "interviews in" in capsys.readouterr().err
    rc = main(["plan", "--study", str(study / "study.yaml"), "--year", "2026", "--half-width", "4",
               "--out", str(study / "plan.xlsx")])
    assert rc == 0
    x = pd.read_excel(study / "plan.xlsx", sheet_name="plan", engine="openpyxl")
    assert list(x.columns) == list(t.columns)


def test_cli_infeasible_is_one_line_exit_2(study, capsys):
    rc = main(["plan", "--study", str(study / "study.yaml"), "--year", "2026", "--half-width", "2",
               "--budget", "1000", "--costs", str(study / "costs.csv"), "--out", str(study / "p.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "more than the budget 1,000" in err and "best achievable half-width is ±" in err
    assert not (study / "p.csv").exists()
    rc = main(["plan", "--study", str(study / "study.yaml"), "--year", "2026", "--half-width", "2",
               "--out", str(study / "costs.csv"), "--costs", str(study / "costs.csv")])
    assert rc == 2 and "the output is an input file" in capsys.readouterr().err


def test_study_plan_key_store_and_display(study, tmp_path):
    from surveykit.report.city import CityReport
    from surveykit.results import load_plan, read_manifest
    from surveykit.spec.study import load_study
    from surveykit.workflow import ensure_results

    text = (study / "study.yaml").read_text(encoding="utf-8")
    (study / "study_plan.yaml").write_text(
        text + "plan: {half_width: 4, allocation: equal, valid_rate: 0.9, costs: costs.csv}\n", encoding="utf-8")
    s = load_study(study / "study_plan.yaml")
    direct = sp.plan_sample(sk.plan_parameters(s, 2026), half_width=4, allocation="equal", valid_rate=0.9,
                            costs={"east": 100.0, "west": 150.0, "north": 80.0})
    key = read_manifest(study / "results", 2026)["key"]
    ensure_results(s, [2026])                       # the key keeps the plan beside the year's results ...
    assert read_manifest(study / "results", 2026)["key"] == key      # ... without recomputing the year
    table, settings = load_plan(study / "results", 2026)
    pd.testing.assert_frame_equal(table, direct.table)
    assert settings["interviews"] == direct.settings["interviews"] and settings["allocation"] == "equal"
    view = CityReport(study / "results", 2026, "en")
    shown = view.plan_table()
    assert shown.iloc[:, 0].tolist()[:3] == ["East District", "West District", "North District"]
    assert shown.columns.tolist()[1:] == ["Interviews", "First-stage units", "Expected half-width of the index (95%)",
                                          "Rights holders: interviews", "Professionals: interviews",
                                          "General public: interviews", "Cost"]
    assert shown.iloc[-1, 1] == f"{direct.settings['interviews']:,}"
    assert "±4" in view.plan_lead()
    # every phrase of the section, in both languages
    for lang in ("zh", "en"):
        v = CityReport(study / "results", 2026, lang)
        assert v.plan_table().shape == shown.shape
        for allocation in sp.ALLOCATIONS:
            v._plan = (table, {**settings, "allocation": allocation})
            lead = v.plan_lead()
            assert f"{settings['interviews']:,}" in lead and "{" not in lead
        v._plan = (table, {**settings, "half_width": None, "budget": 123456.0})
        spend = v.plan_lead()
        assert "123,456" in spend and "{" not in spend
        assert v.p.t("h.city.plan")
    # the CLI takes the key's settings as defaults
    assert main(["plan", "--study", str(study / "study_plan.yaml"), "--year", "2026",
                 "--out", str(tmp_path / "p.csv")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "p.csv", encoding="utf-8-sig"), direct.table,
                                  check_dtype=False)
    # without the key nothing is kept
    ensure_results(load_study(study / "study.yaml"), [2026])
    assert load_plan(study / "results", 2026) is None and CityReport(study / "results", 2026).plan is None


def test_plan_key_is_checked(tmp_path):
    from surveykit.spec.study import load_study

    for plan, message in (("{allocation: equal}", "a target half_width, or a budget"),
                          ("{half_width: 1, budget: 100}", "needs the costs file"),
                          ("{half_width: 1, valid_rate: 1.5}", "valid_rate"),
                          ("{half_width: 1, allocate: equal}", "allocate")):
        (tmp_path / "s.yaml").write_text(STUDY + f"plan: {plan}\n", encoding="utf-8")
        with pytest.raises(InputError, match=re.escape(message)):
            load_study(tmp_path / "s.yaml")


# --- user-test defects: rounding in the refusal, single-stage wording, the study's unit order ----------------------
def test_the_best_half_width_is_shown_above_the_target():
    """Two decimals would print the target twice ("cannot reach ±1.75 ... the best achievable is ±1.75")."""
    best = Z * math.sqrt(400 / 500)                 # 1.7530 persons' variance 400, whole population 500
    with pytest.raises(InputError) as err:
        sp.plan_sample(params([("a", 400.0, 500.0)]), half_width=1.75)
    shown = re.search(r"cannot reach ±([0-9.]+) .* half-width there is ±([0-9.]+)$", str(err.value))
    assert shown.groups() == ("1.75", f"{best:.3f}") and float(shown.group(2)) > 1.75
    group_best = Z * math.sqrt(401 / 250)           # 2.4823: half the unit's 500 persons, variance 401
    with pytest.raises(InputError) as err:
        sp.plan_sample(params([("a", 100.0, 500.0)], groups=[("a", "g", 401.0, 500.0, 0.5)]), half_width=5.0,
                       group_half_width=2.48)
    shown = re.search(r"cannot reach ±([0-9.]+) .* half-width there is ±([0-9.]+)$", str(err.value))
    assert shown.groups() == ("2.48", f"{group_best:.3f}")


def test_plan_follows_the_study_unit_order(study, tmp_path):
    """plan.csv and the parameters list the units as the study's units file does (east, west, north), not
    alphabetically; the region last."""
    par = sk.plan_parameters(study / "study.yaml", 2026)
    assert list(dict.fromkeys(par.unit)) == ["east", "west", "north", "all"]
    assert main(["plan", "--study", str(study / "study.yaml"), "--year", "2026", "--half-width", "4",
                 "--out", str(tmp_path / "p.csv")]) == 0
    t = pd.read_csv(tmp_path / "p.csv", encoding="utf-8-sig")
    assert t.loc[t.group == "all", "unit"].tolist() == ["east", "west", "north", "all"]
    assert list(dict.fromkeys(t.unit)) == ["east", "west", "north", "all"]   # each unit's groups under it


def test_single_stage_plan_speaks_of_no_clusters(study):
    """Without clusters (the respondents are the only stage) the overview's plan names no first-stage units and no
    intra-cluster correlation, in either language; with clusters it does."""
    from surveykit.report.city import CityReport

    single = sp.plan_sample(params([("east", 400.0, 10000.0), ("west", 100.0, 41000.0),
                                    ("north", 225.0, 50000.0)]), half_width=2.0, allocation="neyman")
    clustered = sp.plan_sample(sk.plan_parameters(study / "study.yaml", 2026), half_width=4.0)
    assert single.settings["clustered"] is False and clustered.settings["clustered"] is True
    words = {"zh": ("一级抽样单元", "群内相关"), "en": ("first-stage", "intra-cluster")}
    for lang in ("zh", "en"):
        v = CityReport(study / "results", 2026, lang)
        v._plan = (clustered.table, clustered.settings)
        assert all(w in v.plan_lead().lower() for w in words[lang])
        assert any(words[lang][0] in c.lower() for c in v.plan_table().columns)
        for budget in (None, 123456.0):
            v._plan = (single.table, {**single.settings, **({"half_width": None, "budget": budget} if budget else {})})
            lead = v.plan_lead()
            assert not any(w in lead.lower() for w in words[lang]), lead
            assert f"{single.settings['interviews']:,}" in lead and "{" not in lead
            assert ("123,456" in lead) is bool(budget)
        table = v.plan_table()
        assert not any(w in c.lower() for w in words[lang] for c in table.columns)
        assert table.iloc[-1, 1] == f"{single.settings['interviews']:,}" and len(table.columns) == 3  # unit, n, ±
