"""The reporting units of an evaluation and the words that name them -- read from the study file, never coded.

A study declares its units (districts, counties, county-level cities, special areas, parks ...) as an ordered list
of ``{id, zh, en}`` (optionally with their own ``kind``), or leaves them to be found in the data. ``id`` is the ASCII
name of the unit's report file and the key of every results-store table; ``zh``/``en`` are what readers see. The
response data may name a unit by its id, its Chinese or English name, or a spelling listed in the study's aliases
(:func:`surveykit.mapping` normalises case, blanks and punctuation first).

:class:`UnitSet` is the one allow-list used everywhere: by the intake (which rows belong to which unit), the results
store (ids), the report parameters (``--district``) and the file names of the reports.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .errors import InputError

#: Unit ids that name something else: the whole region in store tables (``all``, as the all-groups score), the
#: overview report and the index page.
RESERVED_IDS = frozenset({"all", "index", "overview"})
_SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Words:
    """A noun in both languages; ``en_plural`` defaults to a regular English plural."""

    zh: str
    en: str
    en_plural: str | None = None

    def get(self, lang: str = "zh", *, plural: bool = False) -> str:
        if lang != "en":
            return self.zh
        return (self.en_plural or _plural(self.en)) if plural else self.en


def _plural(word: str) -> str:
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    return word + ("es" if re.search(r"(s|x|z|ch|sh)$", word) else "s")


@dataclass(frozen=True)
class Unit:
    id: str
    zh: str
    en: str
    kind: Words | None = None

    def name(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh

    @property
    def slug(self) -> str:  # the file name of the unit's report (kept for readers of older code)
        return self.id


def check_unit_id(uid: str, *, file=None) -> str:
    """``uid`` if it is a safe, non-reserved file name (lower-case ASCII letters, digits, ``-`` and ``_``)."""
    if not isinstance(uid, str) or not _SAFE_ID.match(uid):
        raise InputError(f"unit id {str(uid)[:40]!r} is not a safe file name: use lower-case ASCII letters, digits, "
                         "'-' and '_' (at most 64, starting with a letter or digit)", file=file, key="units")
    if uid in RESERVED_IDS:
        raise InputError(f"unit id '{uid}' is reserved ({', '.join(sorted(RESERVED_IDS))}); choose another",
                         file=file, key="units")
    return uid


def stable_id(name: str) -> str:
    """A safe id for a unit known only by its name: the name itself when it is already a safe ASCII id (lower-cased,
    blanks to ``-``), else ``u-`` and the first 10 hex digits of its SHA-256 (the same name always gives the same id,
    whatever the year or the order of the data)."""
    text = unicodedata.normalize("NFKC", str(name)).strip()
    simple = re.sub(r"\s+", "-", text.lower())
    if _SAFE_ID.match(simple) and simple not in RESERVED_IDS:
        return simple
    return "u-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True)
class UnitSet:
    """The ordered units of a study: look-up by id, Chinese or English name."""

    units: tuple[Unit, ...]
    kind: Words = Words("单位", "unit")
    _by_key: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        by_key: dict[str, Unit] = {}
        ids = set()
        for u in self.units:
            if u.id in ids:
                raise InputError(f"unit id '{u.id}' is listed twice", key="units")
            ids.add(u.id)
            for k in (u.id, u.zh, u.en):
                other = by_key.get(k)
                if other is not None and other.id != u.id:
                    raise InputError(f"the name '{k}' names two units ({other.id}, {u.id})", key="units")
                by_key[k] = u
        object.__setattr__(self, "_by_key", by_key)

    def __iter__(self) -> Iterator[Unit]:
        return iter(self.units)

    def __len__(self) -> int:
        return len(self.units)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(u.id for u in self.units)

    def find(self, name) -> Unit | None:
        """The unit whose id, Chinese or English name is exactly ``name`` (surrounding blanks ignored)."""
        return self._by_key.get(str(name).strip()) if name is not None else None

    def get(self, uid: str) -> Unit:
        u = self._by_key.get(uid)
        if u is None or u.id != uid:
            raise KeyError(uid)
        return u

    def kind_of(self, unit: Unit) -> Words:
        """The unit's own kind (e.g. 县 in a study of 区), else the study's."""
        return unit.kind or self.kind

    def to_dict(self) -> dict:
        """A JSON-ready description (the results-store manifest records it; reports read it back)."""
        def words(w: Words | None):
            return None if w is None else {"zh": w.zh, "en": w.en, "en_plural": w.en_plural}
        return {"kind": words(self.kind),
                "units": [{"id": u.id, "zh": u.zh, "en": u.en, "kind": words(u.kind)} for u in self.units]}

    @classmethod
    def from_dict(cls, d: dict) -> "UnitSet":
        def words(x):
            return None if not x else Words(x["zh"], x["en"], x.get("en_plural"))
        return cls(tuple(Unit(u["id"], u["zh"], u["en"], words(u.get("kind"))) for u in d["units"]),
                   words(d.get("kind")) or Words("单位", "unit"))

    @classmethod
    def from_names(cls, names: Iterable, kind: Words | None = None) -> "UnitSet":
        """Units found in the data (no ``units`` in the study): one per distinct name, in sorted order, with
        :func:`stable_id` ids."""
        distinct = sorted({str(n).strip() for n in names if n is not None and str(n).strip()})
        units = tuple(Unit(stable_id(n), n, n) for n in distinct)
        return cls(units, kind or Words("单位", "unit"))


__all__ = ["RESERVED_IDS", "Unit", "UnitSet", "Words", "check_unit_id", "stable_id"]
