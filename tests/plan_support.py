"""The simulation of the sampling-plan tests and benchmark: draw a stratified two-stage sample from the synthetic
population as a plan prescribes, and measure each unit's index half-width with ``sk.Design`` and ``sk.score``.

Nothing here uses :mod:`surveykit.plan`: the draws follow the design as the module docstring of
:mod:`surveykit.synth` describes it (an SRS of first-stage units in each unit, then an SRS of persons in each, here
followed by Bernoulli nonresponse at the valid rate), so the achieved half-widths are an independent check of the
planned ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

import surveykit as sk

DESIGN = dict(weights="weight", strata="district", psu=["street", "person"], fpc=["n_streets", "n_frame"])


@dataclass(frozen=True)
class Frame:
    """The population frame: rows of each street, streets of each unit."""

    population: pd.DataFrame
    street_rows: dict[str, np.ndarray]
    unit_streets: dict[str, list[str]]


def frame(population: pd.DataFrame, unit_of) -> Frame:
    """Index the population (``generate_year(..., keep_population=True).population``); ``unit_of`` maps its
    ``district`` value to the unit id the plan uses."""
    pop = population.reset_index(drop=True).assign(person=lambda t: np.arange(len(t)).astype(str))
    pop["district"] = [unit_of(v) for v in pop["district"]]
    rows = {s: np.asarray(ix) for s, ix in pop.groupby("street", sort=True).indices.items()}
    streets = {u: sorted(g["street"].unique()) for u, g in pop.groupby("district", sort=True)}
    return Frame(pop, rows, streets)


def draw(fr: Frame, streets: dict[str, int], interviews: dict[str, int], valid_rate: float,
         rng: np.random.Generator) -> pd.DataFrame:
    """One sample: in each unit an SRS of ``streets[u]`` streets, ``interviews[u]`` interviews spread as evenly as
    possible over them (an SRS of persons in each street), each interview valid with probability ``valid_rate``;
    weights ``(N_h / k_h) * (M_hi / valid_hi)``."""
    parts, weights = [], []
    for u, k in streets.items():
        chosen = rng.choice(fr.unit_streets[u], size=k, replace=False)
        per = np.full(k, interviews[u] // k) + (np.arange(k) < interviews[u] % k)
        for s, take in zip(chosen, per):
            rows = fr.street_rows[s]
            picked = rng.choice(rows, size=min(int(take), rows.size), replace=False)
            picked = picked[rng.uniform(size=picked.size) < valid_rate]
            if picked.size == 0:
                continue
            parts.append(picked)
            n_h = len(fr.unit_streets[u])
            weights.append(np.full(picked.size, (n_h / k) * (rows.size / picked.size)))
    idx = np.concatenate(parts)
    out = fr.population.iloc[idx].reset_index(drop=True)
    out["weight"] = np.concatenate(weights)
    return out


def margins(fr: Frame) -> pd.DataFrame:
    """The population's counts per unit and per group (the margins the study rakes to)."""
    pop = fr.population
    parts = [pop.groupby(c).size().rename("total").rename_axis("level").reset_index().assign(variable=c)
             for c in ("district", "group")]
    return pd.concat(parts, ignore_index=True)[["variable", "level", "total"]]


def index_half_widths(q, sample: pd.DataFrame, rake: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each unit's index (group ``all``) and the region's: estimate and 95% half-width (1.96 SE), by sk.score.

    With ``rake`` the region's comes from the weights raked to those margins, as the study does; the units' come
    from the design weights, which gives the same numbers: raking to unit and group margins multiplies the weights
    by a factor per unit and one per group, which leaves every within-cell mean -- and so a unit's index -- as it
    was, and a unit's index has cell-centred influence values, which the calibration residuals leave unchanged."""
    d = sk.Design(sample, **DESIGN)
    by_unit = sk.score(q, d, by="district")
    by_unit = by_unit[(by_unit.node == "index") & (by_unit.group == "all")]
    region = sk.score(q, d.rake(rake) if rake is not None else d)
    region = region[(region.node == "index") & (region.group == "all")]
    return pd.DataFrame({"unit": [*by_unit["district"], "all"],
                         "estimate": [*by_unit["estimate"], *region["estimate"]],
                         "half_width": 1.959963984540054 * np.array([*by_unit["se"], *region["se"]])})


def population_parameters(q, fr: Frame, cluster_size: float) -> pd.DataFrame:
    """The plan's parameters (group ``all`` rows and the region) computed from the whole population, so that the
    plan's variance model is Cochran's two-stage variance of this population (1977, eq. 11.25 with an equal take
    ``m`` per street and the ratio estimator's linearised values ``e``: the census influence of each person on its
    unit's index, ``surveykit.plan.index_influence`` with every weight 1, times the unit's population)::

        V n = (1 - f1) m S_T^2 / Mbar^2  +  A - (m / Mbar) B
        A = mean_s(M_s^2 S_s^2) / Mbar^2,  B = mean_s(M_s S_s^2) / Mbar

    (``S_T^2`` the variance of the streets' totals of ``e``, ``S_s^2`` the variance of ``e`` within street ``s``),
    which is the model's ``S2 [D_w (1 - f1) m rho + (D_w - m / Mbar)(1 - rho)]`` with ``(1 - rho) S2 = B``,
    ``D_w = A / B`` and ``D_w rho S2 = S_T^2 / Mbar^2``."""
    from surveykit.plan import index_influence
    from surveykit.scoring import score_estimates

    pop = fr.population.assign(w=1.0)
    d = sk.Design(pop, weights="w", strata="district", psu=["street", "person"])
    z = index_influence(score_estimates(q, d, by="district"), "district")
    unit = pop["district"].to_numpy()
    size = pop.groupby("district").size()
    e = z * size.reindex(unit).to_numpy()
    streets = pd.DataFrame({"e": e, "h": unit, "s": pop["street"].to_numpy()}).groupby(["h", "s"])["e"].agg(
        ["size", "sum", "var"])
    rows = []
    for h, st in streets.groupby(level="h"):
        m_bar = float(st["size"].mean())
        a = float((st["size"] ** 2 * st["var"]).mean()) / m_bar ** 2
        b = float((st["size"] * st["var"]).mean()) / m_bar
        between = float(st["sum"].var(ddof=1)) / m_bar ** 2
        d_w = a / b
        s2 = b + between / d_w
        rows.append({"unit": h, "group": "all", "n": 1000, "se": np.nan, "share": 1.0, "population": float(size[h]),
                     "first_stage_units": 10, "first_stage_frame": float(len(st)), "frame_size": m_bar, "stages": 2,
                     "cluster_size": cluster_size, "element_variance": s2, "weighting_effect": d_w,
                     "icc": between / d_w / s2, "icc_se": 0.0, "variance_observed": np.nan, "variance_model": np.nan})
    rows.append({"unit": "all", "group": "all", "n": np.nan, "se": np.nan, "share": 1.0,
                 "population": float(len(pop))})
    return pd.DataFrame(rows)


def simulate(q, fr: Frame, plan_table: pd.DataFrame, valid_rate: float, reps: int, seed: int,
             rake: pd.DataFrame | None = None) -> pd.DataFrame:
    """Draw the planned sample ``reps`` times; per unit (and ``all``, the region) the planned half-width, the
    root-mean-square of the achieved (estimated) half-widths, 1.96 x the SD of the estimates, and their ratios."""
    rows = plan_table[plan_table.group == "all"]
    rows = rows[rows.unit != "all"]
    streets = dict(zip(rows.unit, rows.first_stage_units.astype(int)))
    interviews = dict(zip(rows.unit, rows.n.astype(int)))
    rng = np.random.default_rng(seed)
    res = pd.concat([index_half_widths(q, draw(fr, streets, interviews, valid_rate, rng), rake).assign(rep=i)
                     for i in range(reps)], ignore_index=True)
    out = res.groupby("unit").agg(achieved=("half_width", lambda x: float(np.sqrt(np.mean(x ** 2)))),
                                  empirical=("estimate", lambda x: 1.959963984540054 * float(np.std(x, ddof=1))))
    planned = plan_table[plan_table.group == "all"].set_index("unit")["half_width"]
    out["planned"] = planned.reindex(out.index)
    out["achieved_ratio"] = out["achieved"] / out["planned"]
    out["empirical_ratio"] = out["empirical"] / out["planned"]
    return out.reset_index()
