"""The satisfaction rate (issue 16, item 5): who counts as satisfied, re-derived here from the questionnaire read as
plain YAML (effective item weights walked down the tree by hand), and the logit interval of the proportion verb
(itself checked against R's svyciprop in test_survey_verbs.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

import surveykit as sk
from surveykit.analysis import satisfaction_rates
from surveykit.errors import SpecError

from .conftest import FIXTURES

SCORE = FIXTURES / "score"


def item_weights(node: dict, group: str, share: float = 1.0) -> dict[str, float]:
    """Effective weight of every item under ``node`` for ``group``: the product of the weights on the path,
    each renormalised over the siblings that apply to the group (contract 2, rule 3) -- written from the YAML."""
    def applies(n):
        if "items" in n or "children" in n:
            return any(applies(c) for c in n.get("children", []) + n.get("items", []))
        return group in n.get("groups", [group])
    kids = [c for c in node.get("children", []) + node.get("items", []) if applies(c)]
    total = sum(c.get("weight", 1) for c in kids)
    out = {}
    for c in kids:
        w = share * c.get("weight", 1) / total
        out.update(item_weights(c, group, w) if ("items" in c or "children" in c) else {c["id"]: w})
    return out


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    doc = yaml.safe_load((SCORE / "questionnaire.yaml").read_text(encoding="utf-8"))
    doc["top_box"] = [4, 5]
    p = tmp_path_factory.mktemp("rates") / "q.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    df = pd.read_csv(SCORE / "data.csv")
    return doc, sk.load_questionnaire(p), df, sk.Design(df, weights="w", strata="stratum", psu="psu", fpc="fpc")


def test_satisfied_respondents_and_rates_match_a_hand_derivation(fx):
    doc, q, df, d = fx
    got = satisfaction_rates(q, d, by="district").set_index(["district", "node"])
    reverse = {i["id"] for n in doc["indicators"] for c in n["children"] for i in c["items"] if i.get("reverse")}
    for node in [None, *doc["indicators"]]:
        name = "index" if node is None else node["id"]
        tree = {"children": doc["indicators"]} if node is None else node
        sat = pd.Series(np.nan, index=df.index)
        for g in ("holder", "professional", "public"):
            w = item_weights(tree, g)
            rows = df.index[df.group == g]
            codes = df.loc[rows, list(w)].where(df.loc[rows, list(w)].isin([1, 2, 3, 4, 5]))
            scores = codes.apply(lambda c: 100 * ((5 - c) if c.name in reverse else (c - 1)) / 4)
            wts = pd.Series(w)
            num = (scores.fillna(0) * wts).sum(axis=1)
            den = scores.notna().mul(wts).sum(axis=1)
            sat.loc[rows] = np.where(den > 0, (num / den >= 75 - 1e-9).astype(float), np.nan)
        for district, t in df.assign(sat=sat).dropna(subset=["sat"]).groupby("district"):
            expected = (t.w * t.sat).sum() / t.w.sum()
            assert got.loc[(district, name), "estimate"] == pytest.approx(expected, rel=1e-12), (district, name)
            assert got.loc[(district, name), "n"] == len(t)
        # the interval is the logit interval (svyciprop) of that hand-made 0/1 variable
        ci = d.assign(sat=sat.to_numpy()).proportion("sat", by="district", method="logit").set_index("district")
        mine = got.xs(name, level="node")
        np.testing.assert_allclose(mine.ci_low, ci.ci_low.reindex(mine.index), rtol=1e-10)
        np.testing.assert_allclose(mine.ci_high, ci.ci_high.reindex(mine.index), rtol=1e-10)
    lo, hi = got["ci_low"].to_numpy(), got["ci_high"].to_numpy()
    p = got["estimate"].to_numpy()
    inside = (p > 0) & (p < 1)
    assert ((lo[inside] < p[inside]) & (p[inside] < hi[inside]) & (lo[inside] > 0) & (hi[inside] < 1)).all()


def test_no_top_box_no_rates(fx):
    _, _, df, d = fx
    q = sk.load_questionnaire(SCORE / "questionnaire.yaml")
    assert satisfaction_rates(q, d, by="district").empty


@pytest.mark.parametrize("top, message", [([6], "on the scale"), ([3, 4], "top codes of the scale"),
                                          ([2, 5], "top codes of the scale")])
def test_top_box_must_be_the_top_codes(tmp_path, top, message):
    doc = yaml.safe_load((SCORE / "questionnaire.yaml").read_text(encoding="utf-8"))
    doc["top_box"] = top
    p = tmp_path / "q.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SpecError, match=message):
        sk.load_questionnaire(p)
