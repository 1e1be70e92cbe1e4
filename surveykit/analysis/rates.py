"""The satisfaction rate (满意率): the share of respondents satisfied, beside the 0-100 score.

A respondent is *satisfied* with an indicator when their own score on it -- the mean of their item scores under the
indicator, weighted and renormalised as the tree does for their group (contract 2, rule 3) -- reaches the score of
the lowest ``top_box`` code (e.g. 75 for ``top_box: [4, 5]`` on 1..5: on average "satisfied" or "very satisfied";
reverse-keyed items count in their scored direction). Respondents who answered none of the indicator's items are
outside the domain. The rate is the design-weighted share of satisfied respondents (all groups pooled: a head
count, not the group-weighted score), with R's ``svyciprop(method = "logit")`` interval on the domain's degrees of
freedom (:meth:`surveykit.Design.proportion`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..spec.questionnaire import Questionnaire
from ..survey.common import as_list
from ..survey.design import Design
from .drivers import respondent_scores

RATE_COLUMNS = ["group", "node", "estimate", "se", "ci_low", "ci_high", "n"]


def satisfaction_rates(q: Questionnaire, design: Design, by: str | Sequence[str] | None = None, *,
                       nodes: Sequence[str] | None = None) -> pd.DataFrame:
    """The satisfaction rate of the index and the first-level indicators (or ``nodes``) per domain (module
    docstring): ``sum w s / sum w`` over the respondents of the domain with a score on the node, ``s`` = 1 when their
    own score reaches the lowest top-box code's score.

    Returns
    -------
    DataFrame: the ``by`` columns, ``group`` (``all``), ``node``, ``estimate`` (a share), ``se`` (linearised),
    ``ci_low``, ``ci_high`` (logit interval on the domain's degrees of freedom), ``n``. Empty when the
    questionnaire declares no ``top_box``.

    Source: R ``svyciprop(~s, subset(design, domain), method = "logit")`` (Lumley 2010, *Complex Surveys*, 2.4).

    Example
    -------
    >>> q5 = q.model_copy(update={"top_box": (4, 5)})          # codes 4 and 5 count as satisfied
    >>> t = satisfaction_rates(q5, design, by="district").query("node == 'index'")
    >>> t[["district", "estimate", "ci_low", "ci_high", "n"]].round(3).head(2)
      district  estimate  ci_low  ci_high   n
    0       丁区     0.314   0.113    0.623  83
    1       丙区     0.214   0.075    0.479  91
    """
    by_cols = as_list(by)
    if q.top_box is None:
        return pd.DataFrame(columns=[*by_cols, *RATE_COLUMNS])
    nodes = list(nodes or ["index", *[n.id for n in q.indicators]])
    threshold = q.scale.score(min(q.top_box))
    # each respondent's own score (weights renormalised over the items they answered; at least one answered)
    scores = respondent_scores(q, design.data, nodes, min_share=1e-9).to_numpy()
    flags = {f"_satisfied_{k}": np.where(np.isnan(scores[:, k]), np.nan, (scores[:, k] >= threshold - 1e-9) * 1.0)
             for k in range(len(nodes))}
    out = design.assign(**flags).proportion(list(flags), by=by_cols or None, method="logit")
    out["node"] = out.pop("variable").map({f"_satisfied_{k}": n for k, n in enumerate(nodes)})
    out["group"] = "all"
    return out[[*by_cols, *RATE_COLUMNS]]
