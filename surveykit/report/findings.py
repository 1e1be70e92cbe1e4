"""Strengths, weaknesses and recommendations of a unit, found by explicit rules on the stored statistics.

The rules (stated in every report, "problem-oriented" as the city's plans ask):

* **W1 lowest items** -- the ``n_items`` items with the lowest score (all groups, not suppressed);
* **W2 significant drops** -- indicators (first and second level) whose change on last year is significantly
  negative (independent samples, Holm-adjusted within the unit, alpha 0.05), largest drops first;
* **W3 below the rest of the city** -- indicators significantly below the pooled rest of the city (design-based
  contrast, Holm-adjusted within the unit), largest gaps first;
* **S1-S3** the mirror images: highest items, significant rises, significantly above the rest of the city.

Recommendations: each weakness points to an indicator -- W3 and W2 to the indicator itself, W1 to the item's
second-level indicator; the report recommends that indicator's text from the questionnaire's recommendations file
(its ``recommendations`` key; a second-level indicator without text falls back to its first-level one). Order: W3 (largest gap), then W2
(largest drop), then W1 (lowest item); duplicates dropped; at most ``max_recommendations``.
Nothing here computes a statistic: it selects and orders what the results store holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import SpecError
from ..spec.questionnaire import Questionnaire
from ..spec.yamlio import read_yaml


@dataclass(frozen=True)
class Finding:
    kind: str       # "strength" or "weakness"
    rule: str       # S1..S3, W1..W3
    node: str
    value: float    # the score, the change, or the gap
    reference: float | None = None  # last year's score, or the rest of the city


def _tested(table: pd.DataFrame | None, levels: dict, n: int, rules: tuple[str, str, str, str], value: str,
            reference: str) -> list[Finding]:
    """Findings from a tested comparison (all respondents, first- and second-level indicators): the ``n`` largest
    significant falls as weaknesses, the ``n`` largest significant rises as strengths."""
    if table is None or not len(table):
        return []
    t = table[(table.group == "all") & table.node.map(lambda x: levels.get(x, 0) in (1, 2))]
    weak_rule, weak, strong_rule, strong = rules
    low = t[t.verdict == weak].sort_values(value).head(n)
    high = t[t.verdict == strong].sort_values(value, ascending=False).head(n)
    return ([Finding("weakness", weak_rule, r.node, getattr(r, value), getattr(r, reference)) for r in low.itertuples()]
            + [Finding("strength", strong_rule, r.node, getattr(r, value), getattr(r, reference))
               for r in high.itertuples()])


def find(q: Questionnaire, unit_scores: pd.DataFrame, *, changes: pd.DataFrame | None = None,
         versus_rest: pd.DataFrame | None = None, n_items: int = 3, n_nodes: int = 3) -> pd.DataFrame:
    """Apply the rules to one unit's tables (all-groups rows). Returns a tidy DataFrame with ``kind``, ``rule``,
    ``node``, ``value``, ``reference`` in rule order.

    Example (``q``: the questionnaire of ``tests/fixtures/store``, which ``tests/test_analysis_docs.py`` provides;
    a suppressed score never becomes a finding, an indicator below the rest of the city only when its verdict says
    so)

    >>> import pandas as pd
    >>> scores = pd.DataFrame({"group": "all", "node": ["q01", "q02", "q03", "q05", "law"],
    ...                        "estimate": [70.0, 55.0, 62.0, 40.0, 61.0],
    ...                        "suppressed": [False, False, False, True, False]})
    >>> rest = pd.DataFrame({"group": "all", "node": ["index", "law", "enforce", "law.rules"],
    ...                      "difference": [-1.0, -6.5, 4.2, -3.1], "estimate_rest": [66.0, 67.5, 60.1, 64.0],
    ...                      "verdict": ["no_clear_difference", "lower", "higher", "lower"]})
    >>> find(q, scores, versus_rest=rest, n_items=2)
           kind rule       node  value  reference
    0  weakness   W1        q02   55.0        NaN
    1  weakness   W1        q03   62.0        NaN
    2  strength   S1        q01   70.0        NaN
    3  strength   S1        q03   62.0        NaN
    4  weakness   W3        law   -6.5       67.5
    5  weakness   W3  law.rules   -3.1       64.0
    6  strength   S3    enforce    4.2       60.1
    """
    items = {i.id for i in q.items}
    levels = q.level_of()
    s = unit_scores[(unit_scores.group == "all") & ~unit_scores.suppressed.astype(bool)]
    it = s[s.node.isin(items)].sort_values("estimate", kind="stable")
    out = [Finding("weakness", "W1", r.node, r.estimate) for r in it.head(n_items).itertuples()]
    out += [Finding("strength", "S1", r.node, r.estimate) for r in it.iloc[::-1].head(n_items).itertuples()]
    out += _tested(changes, levels, n_nodes, ("W2", "down", "S2", "up"), "change", "estimate_previous")
    out += _tested(versus_rest, levels, n_nodes, ("W3", "lower", "S3", "higher"), "difference", "estimate_rest")
    return pd.DataFrame([f.__dict__ for f in out], columns=["kind", "rule", "node", "value", "reference"])


def load_recommendations(path: str | Path) -> dict[str, dict[str, str]]:
    """A recommendations file: ``recommendations: {<node id>: {zh: ..., en: ...}}``."""
    data = read_yaml(path)
    recs = data.get("recommendations") if isinstance(data, dict) else None
    if not isinstance(recs, dict):
        raise SpecError("expected a mapping 'recommendations: {<node id>: {zh: ..., en: ...}}'", file=path)
    out = {}
    for k, v in recs.items():
        if not isinstance(v, dict) or not isinstance(v.get("zh"), str):
            raise SpecError("a recommendation needs a text 'zh' (and optionally 'en')", file=path,
                            key=f"recommendations.{k}")
        out[str(k)] = {lang: str(x) for lang, x in v.items() if lang in ("zh", "en")}
    return out


def recommend(q: Questionnaire, findings: pd.DataFrame, texts: dict[str, dict[str, str]], lang: str = "zh", *,
              max_recommendations: int = 5) -> pd.DataFrame:
    """Recommendations from the weaknesses (see module docstring): ``priority``, ``node``, ``text``, ``rule``,
    ``because`` (the finding's node).

    Example (the findings of :func:`find`'s example): ``law`` (W3) comes first; ``law.rules`` has no text, so it
    falls back to ``law``, already recommended; the item ``q02`` (W1) leads to ``law.rules`` and then ``law`` again;
    ``q03`` leads to its indicator ``law.policy``.

    >>> import pandas as pd
    >>> findings = pd.DataFrame({"kind": ["weakness", "weakness", "weakness", "weakness", "strength"],
    ...                          "rule": ["W1", "W1", "W3", "W3", "S3"],
    ...                          "node": ["q02", "q03", "law", "law.rules", "enforce"]})
    >>> texts = {"law": {"zh": "完善地方立法", "en": "Improve local rules"},
    ...          "law.policy": {"zh": "加强政策解读", "en": "Explain policies"}}
    >>> recommend(q, findings, texts, lang="en")
       priority        node                 text rule because
    0         1         law  Improve local rules   W3     law
    1         2  law.policy     Explain policies   W1     q03
    """
    parents = q.parent_of()
    levels = q.level_of()

    def target(node: str) -> str | None:
        # an item -> its second-level indicator; then fall back up the tree to a node that has a text
        x = node
        while x != "index" and (levels.get(x, 0) > 2 or x not in texts):
            x = parents.get(x, "index")
        return None if x == "index" else x

    order = {"W3": 0, "W2": 1, "W1": 2}
    w = findings[findings.kind == "weakness"].copy()
    w["_o"] = w.rule.map(order)
    rows, seen = [], set()
    for r in w.sort_values(["_o"], kind="stable").itertuples():
        node = target(r.node)
        if node is None or node in seen:
            continue
        seen.add(node)
        rows.append({"priority": len(rows) + 1, "node": node, "text": texts[node].get(lang) or texts[node]["zh"],
                     "rule": r.rule, "because": r.node})
        if len(rows) == max_recommendations:
            break
    return pd.DataFrame(rows, columns=["priority", "node", "text", "rule", "because"])
