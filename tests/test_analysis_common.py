"""Shared fixtures of the tests of surveykit.analysis (no tests here): the full-size synthetic demo year."""

import functools

import pytest

import surveykit as sk
from surveykit.synth import generate_year

from .conftest import ROOT

Q_DEMO = ROOT / "questionnaires" / "ip_protection_satisfaction.yaml"


def demo_design(df):
    """The demo's stratified two-stage design (as data/demo/study.yaml)."""
    return sk.Design(df, weights="weight", strata="district", psu=["street", "respondent_id"],
                     fpc=["n_streets", "n_frame"])


@functools.lru_cache(maxsize=4)
def demo_year(year: int = 2026, seed: int = 20251123, target_n: int = 20000):
    q = sk.load_questionnaire(Q_DEMO)
    s = generate_year(q, year, seed=seed, target_n=target_n)
    return q, s


@pytest.fixture(scope="session")
def demo():
    """(questionnaire, responses, design) of the demo's 2026 sample: 20,000 respondents in 17 units."""
    q, s = demo_year()
    return q, s.responses, demo_design(s.responses)


def true_scores(q, truth_items, nodes=("index",)):
    """Finite-population scores (contract 2 rules 3-4 applied to the generator's true item means) per district:
    DataFrame with ``district``, ``node``, ``value`` for the "all" group (group-weighted)."""
    import numpy as np
    import pandas as pd

    from surveykit.scoring import rollup

    ru = rollup(q)
    el = {e: k for k, e in enumerate(ru.elements)}
    gw = q.group_weights
    items = list(ru.items)
    rows = []
    for district, t in truth_items[truth_items["group"] != "all_pooled"].groupby("district"):
        means = t.pivot(index="item", columns="group", values="value")
        for node in nodes:
            col = el[node]
            app = [g for g in q.group_ids if ru.applies[g][col]]
            wsum = sum(gw[g] for g in app)
            v = 0.0
            for g in app:
                m = means[g].reindex(items).to_numpy()
                c = ru.coef[g][:, col]
                v += gw[g] / wsum * float(np.nansum(np.where(c != 0, m, 0.0) * c))
            rows.append({"district": district, "node": node, "value": v})
    return pd.DataFrame(rows)
