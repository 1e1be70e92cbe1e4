"""Deterministic synthetic survey data with a known truth, for demos, tests and coverage studies.

Nothing here is real: every number is drawn from the model below, so that estimates computed by the rest
of surveykit can be checked against the finite-population values a census would give.

The finite population of one year
---------------------------------
* **Strata** are the reporting units (by default the demo's 16 districts + 临港新片区, :data:`surveykit.demo.DEMO_UNITS`).
* **PSUs** are streets/towns: ``N_h`` per unit (:data:`UNIT_STREETS`, 12 for 黄浦区 and 临港新片区 up to 45
  for 浦东新区). Each street has a frame of ``M_hi`` persons, log-normal around a unit median
  (:data:`UNIT_FRAME_MEDIAN`, clipped to 150..2,500). Streets, their frame sizes and street effects do not
  change between years; the persons in the frames are drawn afresh every year.
* **Persons** get a respondent group with unit-specific shares (rights holders 35–55 %, professionals
  10–20 %, the rest the public; perturbed per street), and, for holders, ``ownership`` (state / private /
  foreign / jv; more foreign-funded firms in 浦东新区, 静安区, 临港新片区), ``firm_size`` and ``right_type``;
  for professionals ``profession`` (agent / lawyer / other). Groups are the questionnaire's group ids: ids
  other than ``holder`` / ``professional`` / ``public`` are supported with neutral parameters.

The answer model (all effects in points on the 0–100 item-score scale)
---------------------------------------------------------------------
For person *p* in street *s* of unit *u* and first-level indicator *k* (read from the questionnaire), the
latent satisfaction is::

    D[p,k] = MU + LEVEL[k] + unit[u] + unit_dim[u,k] + YEAR_CHANGE[u]*(year-2025) + street[s]
             + group[g] + ownership[o] (+ FOREIGN_GAP in "gap" units) + firm_size + right_type + profession
             + SD_PERSON * (sqrt(RHO) * general[p] + sqrt(1-RHO) * specific[p,k])

``unit ~ N(0, SD_UNIT)``, ``unit_dim ~ N(0, SD_UNIT_DIM)``, ``street ~ N(0, SD_STREET)``; ``general`` and
``specific`` are independent N(0, 1), so person effects of two indicators correlate at RHO. ``YEAR_CHANGE``
is up by 1.5–4 latent points in about two thirds of the units and down by 1–3 in the others (after rounding
to the answer scale a change is about 0.8 of its latent size). The *outcome* indicator (id ``outcome``,
otherwise the last first-level indicator) is not drawn independently: it is driven by the others with
unequal importance (:data:`OUTCOME_IMPORTANCE`, enforcement largest) plus a residual that keeps its person
variance equal to the others'::

    D[p,outcome] = MU + LEVEL[outcome] + sum_k beta_k * (D[p,k] - MU - LEVEL[k]) + resid[p]

An item *i* of indicator *k* is ``y = D[p,k] + difficulty[i] + N(0, SD_NOISE)``; the answer is ``y`` mapped
linearly onto the item's scale and rounded to the nearest code (clipped to min..max), mirrored for reverse
items so that the item *score* (contract 2 rule 1) always grows with satisfaction. Item difficulties are
fixed across years. With these parameters the city index is about 80–82, the awareness indicator is the
lowest, professionals score highest and the public lowest, units differ by a few points (about 76–86), and
items of one indicator correlate at about 0.5 (Cronbach's alpha of a first-level indicator 0.85–0.9).
A share AGGRIEVED_RATE of persons (a bad experience) is shifted by AGGRIEVED_SHIFT on every indicator, which
gives the thin tail of 1s and 2s seen in real surveys.

Don't know (the first ``missing`` code of the item's scale; none when the scale has no missing code) is
answered with probability ``logistic(DK_BASE + DK_SPECIAL*spec[i] + group offset + public extra*spec[i]
- DK_AWARE*z_awareness)``, where ``spec[i]`` in 0..1 measures how specialised an item is (asked of a subset of
groups, under enforcement or mechanisms, plus an item-specific draw) and ``z_awareness`` is the person's
standardised awareness latent. Rates per item and group are about 2–15 %. Items not asked of a group are
blank.

The sample and why its weights are exact design weights
-------------------------------------------------------
A stratified two-stage design: in each unit, an SRS of ``m_h`` of the ``N_h`` streets, then an SRS of
``n_hi = min(round(n_h/m_h), M_hi)`` of the ``M_hi`` persons of each sampled street. Unit sample sizes
``n_h`` are proportional to the square root of the unit's population, clipped to 3–10 % of ``target_n``
(about 600–2,000 for 20,000); ``m_h = min(round(n_h/80), round(0.75*N_h))``, at least 2 (9 of 12 streets
in 黄浦区, 25 of 45 in 浦东新区), so about 80–150 interviews per sampled street. Every sampled person
answers (no nonresponse), so the inclusion probability is exactly ``(m_h/N_h) * (n_hi/M_hi)`` and
``weight = (N_h/m_h) * (M_hi/n_hi)``, with the fpc columns ``n_streets = N_h`` and ``n_frame = M_hi``.
No nonresponse adjustment, trimming or calibration perturbs the weights, so the Horvitz–Thompson and
ratio estimators are (approximately) unbiased for the finite-population truth, and Taylor-linearised
intervals with the two-stage fpc cover it at close to the nominal rate -- which is what a coverage
study of the design engine needs. (An independent check, 300 replicate samples of one population,
district means of four items in 黄浦区, 浦东新区 and 临港新片区: normal 95 % intervals covered 94 %;
with only 9–25 sampled streets per unit a normal interval cannot do much better.)

Determinism
-----------
Every random stream is ``numpy.random.default_rng(SeedSequence([seed, year or 0, crc32(purpose)]))``: the
same seed gives identical frames and byte-identical files; different years differ; the population does
not depend on ``target_n``.

Example
-------
>>> from surveykit.spec import load_questionnaire                                   # doctest: +SKIP
>>> q = load_questionnaire("questionnaires/ip_protection_satisfaction.yaml")        # doctest: +SKIP
>>> s = generate_year(q, 2026)                                                     # doctest: +SKIP
>>> s.responses.shape, s.truth_items.columns.tolist()                              # doctest: +SKIP
((19969, 45), ['year', 'district', 'group', 'item', 'value', 'n_pop'])
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .io.writers import write_csv
from .scoring import item_applies, rollup
from .spec.questionnaire import Questionnaire
from .demo import UNITS as DEMO_UNITS  # the demo's reporting units (default strata)
from .units import Unit

# --- population frame -----------------------------------------------------------------------------
#: Number of streets/towns (PSUs) per unit.
UNIT_STREETS: dict[str, int] = {
    "huangpu": 12, "xuhui": 18, "changning": 14, "jingan": 18, "putuo": 15, "hongkou": 13, "yangpu": 16,
    "minhang": 26, "baoshan": 22, "jiading": 22, "pudong": 45, "jinshan": 16, "songjiang": 28,
    "qingpu": 18, "fengxian": 20, "chongming": 24, "lingang": 12,
}
#: Median frame size (persons) of a street per unit; central districts have denser frames.
UNIT_FRAME_MEDIAN: dict[str, int] = {
    "huangpu": 950, "xuhui": 900, "changning": 850, "jingan": 950, "putuo": 700, "hongkou": 700,
    "yangpu": 750, "minhang": 750, "baoshan": 600, "jiading": 650, "pudong": 1000, "jinshan": 400,
    "songjiang": 600, "qingpu": 500, "fengxian": 450, "chongming": 300, "lingang": 500,
}
DEFAULT_STREETS, DEFAULT_FRAME_MEDIAN = 18, 600
FRAME_SDLOG, FRAME_MIN, FRAME_MAX = 0.55, 150, 2500
#: Units with more foreign-funded firms.
FOREIGN_HEAVY = frozenset({"pudong", "jingan", "lingang"})
OWNERSHIP = ("state", "private", "foreign", "jv")
OWNERSHIP_SHARES = (0.12, 0.68, 0.12, 0.08)
OWNERSHIP_SHARES_FOREIGN_HEAVY = (0.10, 0.50, 0.28, 0.12)
FIRM_SIZE = ("large", "medium", "small", "micro")
FIRM_SIZE_SHARES = (0.12, 0.23, 0.35, 0.30)
RIGHT_TYPE = ("patent", "trademark", "copyright")
RIGHT_TYPE_SHARES = (0.45, 0.38, 0.17)
PROFESSION = ("agent", "lawyer", "other")
PROFESSION_SHARES = (0.45, 0.35, 0.20)
HOLDER_SHARE_RANGE = (0.35, 0.55)
PROFESSIONAL_SHARE_RANGE = (0.10, 0.20)
STREET_SHARE_CONCENTRATION = 80.0  # Dirichlet concentration of street group shares around the unit's

# --- answer model (points on the 0-100 scale) ------------------------------------------------------
MU = 84.3
LEVEL: dict[str, float] = {"law": 2.0, "enforcement": 0.0, "mechanism": -0.5, "awareness": -4.0,
                           "outcome": -0.5}
GROUP_EFFECT: dict[str, float] = {"holder": 0.0, "professional": 2.0, "public": -4.0}
OWNERSHIP_EFFECT: dict[str, float] = {"state": 1.5, "private": 0.0, "foreign": -1.5, "jv": -0.5}
FOREIGN_GAP = -5.0          # extra effect for foreign-funded firms in "gap" units
FOREIGN_GAP_UNITS = 7       # how many units have the gap (drawn from the seed)
FIRM_SIZE_EFFECT: dict[str, float] = {"large": 1.5, "medium": 0.5, "small": 0.0, "micro": -1.5}
RIGHT_TYPE_EFFECT: dict[str, float] = {"patent": 0.0, "trademark": 0.5, "copyright": -1.5}
PROFESSION_EFFECT: dict[str, float] = {"agent": 1.0, "lawyer": -1.5, "other": 0.0}
SD_UNIT, SD_UNIT_DIM, SD_STREET = 2.0, 1.2, 1.0
SD_PERSON, RHO = 15.0, 0.6
AGGRIEVED_RATE, AGGRIEVED_SHIFT = 0.04, -35.0   # persons with a bad experience: a tail of low answers
SD_ITEM_DIFFICULTY, SD_NOISE = 3.0, 12.0
OUTCOME_IMPORTANCE: dict[str, float] = {"law": 0.20, "enforcement": 0.40, "mechanism": 0.25, "awareness": 0.15}
BASE_YEAR = 2025
YEAR_UP, YEAR_DOWN = (1.5, 4.0), (-3.0, -1.0)   # latent change per year, per unit
YEAR_DOWN_UNITS = 6
# don't know
DK_BASE, DK_SPECIAL, DK_AWARE = -3.5, 1.2, 0.5
DK_GROUP: dict[str, tuple[float, float]] = {"holder": (0.0, 0.0), "professional": (-0.3, 0.0),
                                            "public": (0.2, 0.4)}   # (offset, extra x specialisation)
# interview duration and comments (sample only)
INTRO_SEC, SEC_PER_ITEM, SEC_SDLOG = 45.0, 11.0, 0.35
SPEEDER_RATE, SPEEDER_SEC_PER_ITEM = 0.02, (0.8, 2.5)
COMMENT_RATE = 0.05
COMMENTS = (
    "希望进一步加大对电商平台侵权行为的打击力度。",
    "维权周期太长，成本偏高，希望简化程序。",
    "知识产权保护中心的快速预审服务很好，效率高。",
    "建议多开展面向中小企业的知识产权培训。",
    "对海外维权的指导还不够，希望提供更多案例和渠道。",
    "总体满意，执法人员态度很好。",
    "赔偿额度偏低，难以弥补损失。",
    "不太了解相关政策，宣传可以再多一些。",
    "调解效率高，节省了很多时间。",
    "希望加强跨区域协作，侵权者经常换地方。",
    "“一网通办”很方便，但部分事项仍需线下办理。",
    "建议公开更多典型案例，起到警示作用。",
    "外资企业希望得到同等保护, 个别案件处理标准不一。",
    "直播带货中的假冒商品问题依然突出。",
    "对本区的工作比去年更满意了。",
    "希望审判更快一点，\"周期\"太长影响经营。",
    "社区里关于知识产权的宣传很少见到。",
    "专利侵权纠纷行政裁决很专业。",
)

FIXED_COLUMNS = ("respondent_id", "year", "district", "street", "group", "ownership", "firm_size", "right_type",
                 "profession", "weight", "n_streets", "n_frame", "duration_sec", "comment")
ALL_POOLED = "all_pooled"


@dataclass(frozen=True)
class SynthYear:
    """One synthetic year.

    responses : the sample, columns :data:`FIXED_COLUMNS` (``group`` named after the questionnaire's group
        column) then the items in questionnaire order as nullable integers.
    truth_items : finite-population item means on 0-100, columns ``year, district, group, item, value,
        n_pop`` (``n_pop``: persons with a non-missing answer); ``group`` is a group id or ``all_pooled``.
        Cells where an item is not asked of a group are absent.
    population_counts : persons per ``year, district, group`` (``count``).
    population : the full frame with answers (only with ``keep_population=True``): the columns of
        ``responses`` except weight, duration and comment, plus ``respondent_id`` (NA when not sampled).
    """

    responses: pd.DataFrame
    truth_items: pd.DataFrame
    population_counts: pd.DataFrame
    population: pd.DataFrame | None = None


# --- random streams -------------------------------------------------------------------------------
def _rng(seed: int, year: int, purpose: str) -> np.random.Generator:
    """A stream for (seed, year, purpose); year 0 for year-independent streams."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(year), zlib.crc32(purpose.encode())]))


def _draw_categories(u: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Category index for uniforms ``u`` (n,) given cumulative shares ``cum`` (n, k) or (k,)."""
    cum = np.broadcast_to(cum, (u.shape[0], cum.shape[-1]))
    return np.minimum((u[:, None] >= cum).sum(axis=1), cum.shape[1] - 1)


# --- the year-independent frame -------------------------------------------------------------------
@dataclass(frozen=True)
class _Frame:
    street_unit: np.ndarray        # (S,) unit index of each street
    street_no: np.ndarray          # (S,) 1-based street number within the unit
    street_size: np.ndarray        # (S,) M_hi
    street_effect: np.ndarray      # (S,)
    unit_streets: np.ndarray       # (U,) N_h
    unit_effect: np.ndarray        # (U,)
    unit_dim_effect: np.ndarray    # (U, K)
    year_change: np.ndarray        # (U,)
    foreign_gap: np.ndarray        # (U,) bool
    group_share: np.ndarray        # (S, G) street group shares
    ownership_cum: np.ndarray      # (U, 4)
    item_difficulty: np.ndarray    # (I,)
    item_special: np.ndarray       # (I,) 0..1
    units: tuple[Unit, ...] = ()   # the reporting units (strata), in order


def _role_shares(group_ids: tuple[str, ...], holder: float, professional: float) -> np.ndarray:
    """Shares of the questionnaire's groups; unknown ids share what the known roles leave."""
    known = {"holder": holder, "professional": professional, "public": 1.0 - holder - professional}
    unknown = [g for g in group_ids if g not in known]
    rest = 1.0 - sum(known[g] for g in group_ids if g in known)
    each = (rest if rest > 0 else 0.3) / len(unknown) if unknown else 0.0
    shares = np.array([known.get(g, each) for g in group_ids], dtype=float)
    return shares / shares.sum()


def _first_level(q: Questionnaire) -> tuple[list[str], np.ndarray]:
    """First-level indicator ids and, for each item, the index of its first-level ancestor."""
    dims = [n.id for n in q.indicators]
    parent = q.parent_of()
    item_dim = []
    for item in q.items:
        x = item.id
        while parent[x] != "index":
            x = parent[x]
        item_dim.append(dims.index(x))
    return dims, np.array(item_dim, dtype=int)


def _outcome_index(dims: list[str]) -> int | None:
    if "outcome" in dims:
        return dims.index("outcome")
    return len(dims) - 1 if len(dims) >= 2 else None


def _build_frame(q: Questionnaire, seed: int, units: tuple[Unit, ...] = DEMO_UNITS) -> _Frame:
    rng = _rng(seed, 0, "frame")
    n_units = len(units)
    dims, item_dim = _first_level(q)
    unit_streets = np.array([UNIT_STREETS.get(u.slug, DEFAULT_STREETS) for u in units])
    street_unit = np.repeat(np.arange(n_units), unit_streets)
    street_no = np.concatenate([np.arange(1, n + 1) for n in unit_streets])
    medians = np.array([UNIT_FRAME_MEDIAN.get(u.slug, DEFAULT_FRAME_MEDIAN) for u in units], dtype=float)
    sizes = np.exp(np.log(medians[street_unit]) + FRAME_SDLOG * rng.standard_normal(street_unit.size))
    street_size = np.clip(np.rint(sizes), FRAME_MIN, FRAME_MAX).astype(np.int64)
    street_effect = SD_STREET * rng.standard_normal(street_unit.size)
    unit_effect = SD_UNIT * rng.standard_normal(n_units)
    unit_dim_effect = SD_UNIT_DIM * rng.standard_normal((n_units, len(dims)))
    # year change: most units improve, YEAR_DOWN_UNITS of them decline
    down = np.zeros(n_units, dtype=bool)
    down[rng.choice(n_units, size=min(YEAR_DOWN_UNITS, n_units), replace=False)] = True
    year_change = np.where(down, rng.uniform(*YEAR_DOWN, n_units), rng.uniform(*YEAR_UP, n_units))
    foreign_gap = np.zeros(n_units, dtype=bool)
    foreign_gap[rng.choice(n_units, size=min(FOREIGN_GAP_UNITS, n_units), replace=False)] = True
    # group shares: per unit, then perturbed per street
    group_ids = q.group_ids
    holder = rng.uniform(*HOLDER_SHARE_RANGE, n_units)
    prof = rng.uniform(*PROFESSIONAL_SHARE_RANGE, n_units)
    unit_share = np.vstack([_role_shares(group_ids, holder[u], prof[u]) for u in range(n_units)])
    alpha = STREET_SHARE_CONCENTRATION * unit_share[street_unit]
    gamma = rng.standard_gamma(alpha)
    group_share = gamma / gamma.sum(axis=1, keepdims=True)
    own = np.array([OWNERSHIP_SHARES_FOREIGN_HEAVY if u.slug in FOREIGN_HEAVY else OWNERSHIP_SHARES
                    for u in units])
    ownership_cum = np.cumsum(own / own.sum(axis=1, keepdims=True), axis=1)
    # items: fixed difficulty; specialisation drives don't-know
    n_items = len(q.items)
    item_difficulty = SD_ITEM_DIFFICULTY * rng.standard_normal(n_items)
    restricted = np.array([len(q.item_groups(i)) < len(group_ids) for i in q.items], dtype=float)
    technical = np.array([dims[d] in ("enforcement", "mechanism") for d in item_dim], dtype=float)
    item_special = np.clip(0.5 * rng.uniform(size=n_items) + 0.4 * restricted + 0.3 * technical, 0.0, 1.0)
    return _Frame(street_unit, street_no, street_size, street_effect, unit_streets, unit_effect,
                  unit_dim_effect, year_change, foreign_gap, group_share, ownership_cum, item_difficulty,
                  item_special, tuple(units))


# --- the population of one year ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Population:
    street: np.ndarray       # (N,) street index
    unit: np.ndarray         # (N,) unit index
    group: np.ndarray        # (N,) group index into q.group_ids
    ownership: np.ndarray    # (N,) index into OWNERSHIP, -1 when not a holder
    firm_size: np.ndarray
    right_type: np.ndarray
    profession: np.ndarray   # (N,) index into PROFESSION, -1 when not a professional
    codes: np.ndarray        # (N, I) int32 answer codes (0 where not asked)
    answered: np.ndarray     # (N, I) bool: asked (not blank)
    valid: np.ndarray        # (N, I) bool: answered on the scale (not blank, not a missing code)


def _effect_lookup(table: dict[str, float], names: tuple[str, ...], idx: np.ndarray) -> np.ndarray:
    values = np.array([table.get(n, 0.0) for n in names] + [0.0])  # index -1 -> 0
    return values[idx]


def _build_population(q: Questionnaire, year: int, seed: int, fr: _Frame) -> _Population:
    rng = _rng(seed, year, "population")
    dims, item_dim = _first_level(q)
    group_ids = q.group_ids
    n_dims, n_items = len(dims), len(q.items)
    street = np.repeat(np.arange(fr.street_size.size), fr.street_size)
    n = street.size
    unit = fr.street_unit[street]

    # who they are
    group = _draw_categories(rng.uniform(size=n), np.cumsum(fr.group_share, axis=1)[street])
    gid = np.array(group_ids)[group]
    is_holder = gid == "holder"
    is_prof = gid == "professional"
    ownership = np.where(is_holder, _draw_categories(rng.uniform(size=n), fr.ownership_cum[unit]), -1)
    firm_size = np.where(is_holder, _draw_categories(rng.uniform(size=n), np.cumsum(FIRM_SIZE_SHARES)), -1)
    right_type = np.where(is_holder, _draw_categories(rng.uniform(size=n), np.cumsum(RIGHT_TYPE_SHARES)), -1)
    profession = np.where(is_prof, _draw_categories(rng.uniform(size=n), np.cumsum(PROFESSION_SHARES)), -1)

    # latent satisfaction per first-level indicator
    shift = (fr.unit_effect[unit] + fr.year_change[unit] * (year - BASE_YEAR) + fr.street_effect[street]
             + np.array([GROUP_EFFECT.get(g, 0.0) for g in group_ids])[group]
             + _effect_lookup(OWNERSHIP_EFFECT, OWNERSHIP, ownership)
             + np.where((ownership == OWNERSHIP.index("foreign")) & fr.foreign_gap[unit], FOREIGN_GAP, 0.0)
             + _effect_lookup(FIRM_SIZE_EFFECT, FIRM_SIZE, firm_size)
             + _effect_lookup(RIGHT_TYPE_EFFECT, RIGHT_TYPE, right_type)
             + _effect_lookup(PROFESSION_EFFECT, PROFESSION, profession))
    general = rng.standard_normal(n)
    specific = rng.standard_normal((n, n_dims))
    person = SD_PERSON * (np.sqrt(RHO) * general[:, None] + np.sqrt(1.0 - RHO) * specific)
    person += np.where(rng.uniform(size=n) < AGGRIEVED_RATE, AGGRIEVED_SHIFT, 0.0)[:, None]
    dev = shift[:, None] + fr.unit_dim_effect[unit] + person       # deviation from MU + LEVEL[k]
    out = _outcome_index(dims)
    if out is not None:
        drivers = [k for k in range(n_dims) if k != out]
        raw = np.array([OUTCOME_IMPORTANCE.get(dims[k], 1.0 / (1 + j)) for j, k in enumerate(drivers)])
        beta = raw / raw.sum()
        # keep the outcome's person variance equal to SD_PERSON**2: var(sum beta*person) + resid var
        driven_var = SD_PERSON ** 2 * (RHO * beta.sum() ** 2 + (1 - RHO) * (beta ** 2).sum())
        resid_sd = np.sqrt(max(SD_PERSON ** 2 - driven_var, 0.0))
        dev[:, out] = (dev[:, drivers] @ beta + fr.unit_dim_effect[unit, out]
                       + resid_sd * rng.standard_normal(n))
    level = MU + np.array([LEVEL.get(d, 0.0) for d in dims])
    latent = level[None, :] + dev                                   # (N, K)

    # items: float32 and in-place operations keep this (N x I) stage fast and light on memory
    f32 = np.float32
    y = rng.standard_normal((n, n_items), dtype=f32)
    y *= f32(SD_NOISE)
    y += latent.astype(f32)[:, item_dim]
    y += fr.item_difficulty.astype(f32)
    scales = [q.item_scale(i) for i in q.items]
    lo = np.array([s.min for s in scales], dtype=f32)
    hi = np.array([s.max for s in scales], dtype=f32)
    y *= (hi - lo) / f32(100.0)
    y += lo + f32(0.5)
    np.floor(y, out=y)
    np.clip(y, lo, hi, out=y)
    rev = np.array([i.reverse for i in q.items])
    if rev.any():
        y[:, rev] = (lo + hi)[rev] - y[:, rev]
    codes = y.astype(np.int32)

    # who is asked what
    asked_by_group = item_applies(q)  # (G, I)
    answered = asked_by_group[group]

    is_dk = _dont_know(q, fr, rng, group, latent, level, general, dims, answered)
    dk_code = np.array([s.missing[0] if s.missing else 0 for s in scales], dtype=np.int32)
    codes = np.where(is_dk, dk_code[None, :], codes)
    codes[~answered] = 0
    return _Population(street, unit, group, ownership, firm_size, right_type, profession, codes, answered,
                       answered & ~is_dk)


def _dont_know(q: Questionnaire, fr: _Frame, rng: np.random.Generator, group: np.ndarray, latent: np.ndarray,
               level: np.ndarray, general: np.ndarray, dims: list[str], answered: np.ndarray) -> np.ndarray:
    """Who answers "don't know" (rows x items): ``P = logistic(A[group, item] - DK_AWARE * z_awareness)``; only
    items whose scale has a missing code, only where the item is asked."""
    f32, n, group_ids = np.float32, len(group), q.group_ids
    aw = dims.index("awareness") if "awareness" in dims else None
    z_aw = ((latent[:, aw] - level[aw]) / SD_PERSON) if aw is not None else general
    dk_off = np.array([DK_GROUP.get(g, (0.0, 0.0))[0] for g in group_ids])
    dk_extra = np.array([DK_GROUP.get(g, (0.0, 0.0))[1] for g in group_ids])
    a = DK_BASE + dk_off[:, None] + (DK_SPECIAL + dk_extra[:, None]) * fr.item_special[None, :]   # (G, I)
    t = a.astype(f32)[group]
    t -= (DK_AWARE * z_aw).astype(f32)[:, None]
    np.negative(t, out=t)
    np.exp(t, out=t)
    t += f32(1.0)
    np.reciprocal(t, out=t)                                       # P(don't know)
    is_dk = rng.random((n, len(q.items)), dtype=f32) < t
    has_dk = np.array([bool(q.item_scale(i).missing) for i in q.items])
    return is_dk & has_dk[None, :] & answered


# --- the sample -------------------------------------------------------------------------------------
def _allocate(fr: _Frame, target_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit sample sizes ``n_h`` (sqrt of the unit's population, clipped to 3-10 % of target_n, rescaled
    to target_n) and numbers of sampled streets ``m_h`` (about 80 interviews per street, at most 75 % of
    the unit's streets, at least 2)."""
    pop = np.bincount(fr.street_unit, weights=fr.street_size)
    lo, hi = 0.03 * target_n, max(0.10, 1.5 / len(fr.unit_streets)) * target_n
    n_h = np.sqrt(pop)
    for _ in range(50):  # rescale then clip until the total settles
        n_h = np.clip(n_h * target_n / n_h.sum(), lo, hi)
    n_h = np.maximum(np.rint(n_h).astype(np.int64), 2)
    m_h = np.minimum(np.rint(n_h / 80.0).astype(np.int64), np.rint(0.75 * fr.unit_streets).astype(np.int64))
    m_h = np.minimum(np.maximum(m_h, 2), fr.unit_streets)
    return n_h, m_h


def _select_streets(fr: _Frame, m_h: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stage 1: SRS without replacement of ``m_h`` streets in each unit; boolean mask over streets."""
    key = rng.uniform(size=fr.street_unit.size)
    order = np.lexsort((key, fr.street_unit))
    first = np.concatenate([[0], np.cumsum(fr.unit_streets)[:-1]])
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size) - first[fr.street_unit[order]]
    return rank < m_h[fr.street_unit]


def _select_persons(street: np.ndarray, take: np.ndarray, sizes: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """Stage 2: SRS without replacement of ``take[s]`` of the ``sizes[s]`` persons of each street; persons
    are stored street by street (``street`` sorted)."""
    key = rng.uniform(size=street.size)
    order = np.lexsort((key, street))
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size) - first[street[order]]
    return rank < take[street]


def _sample(fr: _Frame, pop: _Population, year: int, seed: int, target_n: int):
    n_h, m_h = _allocate(fr, target_n)
    rng = _rng(seed, year, "sample")
    chosen_street = _select_streets(fr, m_h, rng)
    per_street = np.rint(n_h / m_h).astype(np.int64)[fr.street_unit]
    take = np.where(chosen_street, np.minimum(per_street, fr.street_size), 0)
    chosen = _select_persons(pop.street, take, fr.street_size, rng)
    idx = np.flatnonzero(chosen)                                   # already ordered by unit, street
    s = pop.street[idx]
    u = pop.unit[idx]
    weight = (fr.unit_streets[u] / m_h[u]) * (fr.street_size[s] / take[s])
    return idx, weight


# --- data frames -----------------------------------------------------------------------------------
def _labels(names: tuple[str, ...], idx: np.ndarray) -> pd.Series:
    arr = np.array(list(names) + [None], dtype=object)[idx]
    return pd.Series(arr, dtype="str")


def _describe(q: Questionnaire, fr: _Frame, pop: _Population, idx: np.ndarray, year: int) -> dict:
    """The design and person columns for persons ``idx`` (before weight and extras)."""
    s, u = pop.street[idx], pop.unit[idx]
    slugs = np.array([x.id for x in fr.units], dtype=object)
    zh = np.array([x.zh for x in fr.units], dtype=object)
    street_ids = np.char.add(np.char.add(slugs[fr.street_unit].astype(str), "-s"),
                             np.char.zfill(fr.street_no.astype(str), 2))
    return {
        "year": np.full(idx.size, year, dtype=np.int64),
        "district": pd.Series(zh[u], dtype="str"),
        "street": pd.Series(street_ids[s], dtype="str"),
        q.groups.column: pd.Series(np.array(q.group_ids, dtype=object)[pop.group[idx]], dtype="str"),
        "ownership": _labels(OWNERSHIP, pop.ownership[idx]),
        "firm_size": _labels(FIRM_SIZE, pop.firm_size[idx]),
        "right_type": _labels(RIGHT_TYPE, pop.right_type[idx]),
        "profession": _labels(PROFESSION, pop.profession[idx]),
    }


def _item_columns(q: Questionnaire, pop: _Population, idx: np.ndarray | slice) -> dict:
    codes, answered = pop.codes[idx], pop.answered[idx]
    return {item.id: pd.array(pd.arrays.IntegerArray(codes[:, j].copy(), ~answered[:, j]), dtype="Int64")
            for j, item in enumerate(q.items)}


def _truth(q: Questionnaire, pop: _Population, year: int,
           units: tuple[Unit, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_units, n_groups = len(units), len(q.group_ids)
    cell = pop.unit * n_groups + pop.group
    size = n_units * n_groups
    valid = pop.valid
    n_items = len(q.items)
    # sums of codes per (unit, group) cell; the mean score is the linear rescaling of the mean code
    sums = np.stack([np.bincount(cell, weights=np.where(valid[:, j], pop.codes[:, j], 0), minlength=size)
                     for j in range(n_items)], 1)
    cnts = np.stack([np.bincount(cell, weights=valid[:, j], minlength=size) for j in range(n_items)], 1)
    sums = sums.reshape(n_units, n_groups, -1)
    cnts = cnts.reshape(n_units, n_groups, -1)
    sums = np.concatenate([sums, sums.sum(axis=1, keepdims=True)], axis=1)   # + all_pooled
    cnts = np.concatenate([cnts, cnts.sum(axis=1, keepdims=True)], axis=1)
    groups = list(q.group_ids) + [ALL_POOLED]
    uu, gg, ii = np.meshgrid(np.arange(n_units), np.arange(len(groups)), np.arange(len(q.items)), indexing="ij")
    keep = cnts.ravel() > 0
    scales = [q.item_scale(i) for i in q.items]
    lo = np.array([sc.min for sc in scales], dtype=float)
    hi = np.array([sc.max for sc in scales], dtype=float)
    rev = np.array([i.reverse for i in q.items])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_code = sums / cnts
    value = (100.0 * np.where(rev, hi - mean_code, mean_code - lo) / (hi - lo)).ravel()
    truth = pd.DataFrame({
        "year": np.full(int(keep.sum()), year, dtype=np.int64),
        "district": pd.Series(np.array([x.zh for x in units], dtype=object)[uu.ravel()[keep]], dtype="str"),
        "group": pd.Series(np.array(groups, dtype=object)[gg.ravel()[keep]], dtype="str"),
        "item": pd.Series(np.array([i.id for i in q.items], dtype=object)[ii.ravel()[keep]], dtype="str"),
        "value": value[keep],
        "n_pop": cnts.ravel()[keep].astype(np.int64),
    })
    counts = np.bincount(cell, minlength=size).reshape(n_units, n_groups)
    u2, g2 = np.meshgrid(np.arange(n_units), np.arange(n_groups), indexing="ij")
    population_counts = pd.DataFrame({
        "year": np.full(size, year, dtype=np.int64),
        "district": pd.Series(np.array([x.zh for x in units], dtype=object)[u2.ravel()], dtype="str"),
        "group": pd.Series(np.array(q.group_ids, dtype=object)[g2.ravel()], dtype="str"),
        "count": counts.ravel().astype(np.int64),
    })
    return truth, population_counts


def _respondent_ids(year: int, k: int) -> np.ndarray:
    return np.char.add(f"{year}-", np.char.zfill(np.arange(1, k + 1).astype(str), 6)).astype(object)


def _check_columns(q: Questionnaire) -> None:
    fixed = [c if c != "group" else q.groups.column for c in FIXED_COLUMNS]
    clash = sorted(set(fixed) & {i.id for i in q.items})
    if clash or len(set(fixed)) < len(fixed):
        raise ValueError(f"item or group column name(s) clash with synthetic data columns: {clash or fixed}")


# --- public API --------------------------------------------------------------------------------------
def generate_year(q: Questionnaire, year: int, *, seed: int = 20251123, target_n: int = 20000,
                  keep_population: bool = False, units: tuple[Unit, ...] = DEMO_UNITS) -> SynthYear:
    """Generate the finite population of ``year``, its truth, and a stratified two-stage sample.

    See the module docstring for the model. Deterministic in ``(q, year, seed, target_n, units)``; ``units`` are
    the strata (default: the demo's 17 units; other units get the default street counts and frame sizes).

    Example
    -------
    >>> s = generate_year(q, 2026, target_n=5000)                                  # doctest: +SKIP
    >>> s.responses.groupby("district")["weight"].sum()   # HT estimate of persons per unit  # doctest: +SKIP
    """
    _check_columns(q)
    fr = _build_frame(q, seed, tuple(units))
    pop = _build_population(q, year, seed, fr)
    idx, weight = _sample(fr, pop, year, seed, target_n)
    k = idx.size
    extra = _rng(seed, year, "extras")
    n_asked = pop.answered[idx].sum(axis=1)
    per_item = SEC_PER_ITEM * np.exp(SEC_SDLOG * extra.standard_normal(k) - SEC_SDLOG ** 2 / 2)
    speeder = extra.uniform(size=k) < SPEEDER_RATE
    per_item = np.where(speeder, extra.uniform(*SPEEDER_SEC_PER_ITEM, k), per_item)
    intro = np.where(speeder, 5.0, INTRO_SEC)
    duration = np.rint(intro + n_asked * per_item).astype(np.int64)
    has_comment = extra.uniform(size=k) < COMMENT_RATE
    pick = extra.integers(0, len(COMMENTS), size=k)
    comment = np.where(has_comment, np.array(COMMENTS, dtype=object)[pick], None)

    s, u = pop.street[idx], pop.unit[idx]
    ids = _respondent_ids(year, k)
    cols = {"respondent_id": pd.Series(ids, dtype="str")}
    cols.update(_describe(q, fr, pop, idx, year))
    cols.update({
        "weight": weight.astype(float),
        "n_streets": fr.unit_streets[u].astype(np.int64),
        "n_frame": fr.street_size[s].astype(np.int64),
        "duration_sec": duration,
        "comment": pd.Series(comment, dtype="str"),
    })
    cols.update(_item_columns(q, pop, idx))
    responses = pd.DataFrame(cols)
    truth, counts = _truth(q, pop, year, fr.units)

    population = None
    if keep_population:
        everyone = np.arange(pop.street.size)
        rid = np.full(everyone.size, None, dtype=object)
        rid[idx] = ids
        pcols = {"respondent_id": pd.array(rid, dtype="str")}
        pcols.update(_describe(q, fr, pop, everyone, year))
        pcols.update({"n_streets": fr.unit_streets[pop.unit].astype(np.int64),
                      "n_frame": fr.street_size[pop.street].astype(np.int64)})
        pcols.update(_item_columns(q, pop, slice(None)))
        population = pd.DataFrame(pcols)
    return SynthYear(responses=responses, truth_items=truth, population_counts=counts, population=population)


def truth_scores(q: Questionnaire, truth_items: pd.DataFrame, population_counts: pd.DataFrame) -> pd.DataFrame:
    """The true population score of every item, node and the index, per district and group and for "all".

    Rule 3 (the roll-up) applied to the true item means; "all" is the group-weighted sum (rule 4) when the
    questionnaire has group weights, else the roll-up of the pooled item means. Columns: year, district, group,
    node, value -- what a census would give for each row of ``sk.score(q, d, by="district")``.
    """
    ru = rollup(q)
    col = {e: k for k, e in enumerate(ru.elements)}
    gw = q.group_weights
    rows = []
    for (year, dist), t in truth_items.groupby(["year", "district"], sort=False):
        per_group = {}
        for g in (*q.group_ids, None):
            key = ALL_POOLED if g is None else g
            tg = t[t.group == key].set_index("item")
            if tg.empty:
                continue
            v = tg["value"].reindex(list(ru.items)).fillna(0.0).to_numpy() @ ru.coef[g]
            per_group[g] = v
            if g is not None:
                rows += [(year, dist, g, e, v[col[e]]) for e in ru.elements if ru.applies[g][col[e]]]
        for e in ru.elements:
            if gw is not None:
                live = [g for g in q.group_ids if ru.applies[g][col[e]] and g in per_group]
                tot = sum(gw[g] for g in live)
                value = sum(gw[g] / tot * per_group[g][col[e]] for g in live)
            else:
                value = per_group[None][col[e]]
            rows.append((year, dist, "all", e, value))
    return pd.DataFrame(rows, columns=["year", "district", "group", "node", "value"])


def write_demo(q: Questionnaire, out_dir: Path, *, years=(2025, 2026), seed: int = 20251123,
               target_n: int = 20000, units: tuple[Unit, ...] = DEMO_UNITS) -> dict[str, Path]:
    """Write ``responses_<year>.csv``, ``truth_items_<year>.csv``, ``truth_scores_<year>.csv`` (every item, node
    and index, per district and group and "all") and ``population_<year>.csv`` (the population counts per district
    and group) for each year, UTF-8 with BOM; return the paths keyed by file stem (e.g. ``"responses_2026"``).
    Byte-identical for the same arguments."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for year in years:
        s = generate_year(q, year, seed=seed, target_n=target_n, units=units)
        truth = truth_scores(q, s.truth_items, s.population_counts)
        for stem, frame in ((f"responses_{year}", s.responses), (f"truth_items_{year}", s.truth_items),
                            (f"truth_scores_{year}", truth), (f"population_{year}", s.population_counts)):
            path = out_dir / f"{stem}.csv"
            write_csv(frame, path, bom=True)
            paths[stem] = path
    return paths


__all__ = ["SynthYear", "generate_year", "truth_scores", "write_demo", "ALL_POOLED", "FIXED_COLUMNS"]
