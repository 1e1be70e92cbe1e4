"""The design-based engine, like R's ``survey``: it knows nothing of questionnaires.

Modules, leaves first: ``common`` (column reading, coding, grouped sums), ``stages`` (the sampling stages as
arrays), ``variance`` (the one variance function, with calibration residuals), ``weighting`` (post-stratification,
raking, trimming), ``estimates`` (the result type :class:`Estimates` and the tidy table), ``replicates``
(bootstrap and jackknife), ``design`` (:class:`Design`, which composes them).
"""
from .design import Design
from .estimates import Estimates

__all__ = ["Design", "Estimates"]
