"""The demo study: Shanghai's 16 districts and 临港新片区, synthetic responses and protection-level inputs.

This is the only place where one city lives: its units and their spellings are data files here
(``shanghai/units.csv``, ``shanghai/unit_aliases.yaml``), the synthetic generators use them, and
:func:`surveykit.demo.study.write_demo_study` writes a study folder like any evaluator's.
"""

from __future__ import annotations

from ..resources import demo_file
from ..spec.study import _units_csv
from ..units import Unit, UnitSet, Words

#: The demo's reporting units, in report order.
DEMO_UNITS: UnitSet = _units_csv(demo_file("shanghai/units.csv"), Words("区", "district"))
DEMO_REGION = {"zh": "上海市", "en": "Shanghai", "kind": {"zh": "市", "en": "city"}}

# the demo's units as a tuple and a look-up by id or name (the synthetic generators use them)
UNITS: tuple[Unit, ...] = DEMO_UNITS.units


def find_unit(name: str) -> Unit | None:
    """The demo unit whose id, Chinese or English name is ``name``."""
    return DEMO_UNITS.find(name)
