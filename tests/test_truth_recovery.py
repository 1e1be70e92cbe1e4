"""Estimates recover the synthetic population's true scores within their CIs at about the nominal rate.

The demo data are a two-stage sample from a finite population whose item means are known (surveykit.synth);
node and index truths are the same roll-up (rule 3) of the true item means. With 9-25 sampled streets per
district, normal 95% intervals cover slightly less than 95% (the helper's 300-replicate study found ~94%), so
the band is [0.90, 0.98] for each year's ~1,400 item cells and ~850 node cells; the standardised errors must be
centred (|mean| < 0.15) with spread near 1.
"""

import pytest

import surveykit as sk
from surveykit.scoring import rollup
from surveykit.synth import generate_year, truth_scores

from .conftest import ROOT


@pytest.fixture(scope="module")
def q():
    return sk.load_questionnaire(ROOT / "questionnaires" / "ip_protection_satisfaction.yaml")


@pytest.mark.parametrize("year", [2025, 2026])
def test_confidence_intervals_cover_the_truth(q, year):
    s = generate_year(q, year)
    d = sk.Design(s.responses, weights="weight", strata="district", psu=["street", "respondent_id"],
                  fpc=["n_streets", "n_frame"])
    est = sk.score(q, d, by="district")
    truth = s.truth_items[s.truth_items.group != "all_pooled"]
    items = est.merge(truth.rename(columns={"item": "node"}), on=["district", "group", "node"])
    # node and index truths, written by the demo (truth_scores), checked here against an independent roll-up
    scores = truth_scores(q, s.truth_items, s.population_counts)
    ru = rollup(q)
    col = {e: k for k, e in enumerate(ru.elements)}
    for (dist, g), t in truth.groupby(["district", "group"]):
        v = t.set_index("item").value.reindex(list(ru.items)).fillna(0.0).to_numpy()
        mine = scores[(scores.district == dist) & (scores.group == g)].set_index("node").value
        assert mine["index"] == pytest.approx(v @ ru.coef[g][:, col["index"]], rel=1e-12)
    nodes = est[~est.node.isin(list(ru.items))].merge(scores, on=["district", "group", "node"])
    assert len(items) > 1300 and len(nodes) > 1100  # group and "all" rows
    for m in (items, nodes):
        covered = ((m.ci_low <= m.value) & (m.value <= m.ci_high)).mean()
        assert 0.90 <= covered <= 0.98, covered
        zs = (m.estimate - m.value) / m.se
        assert abs(zs.mean()) < 0.15 and 0.85 < zs.std() < 1.2, (zs.mean(), zs.std())
