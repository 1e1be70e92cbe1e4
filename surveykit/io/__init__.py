"""Readers that return a table and where each row came from (:class:`Provenance`; ``attrs`` on
:func:`read_table`'s frame), within :class:`Limits` checked before reading."""
from .limits import Limits
from .provenance import Provenance
from .readers import blank_rows, read_csv, read_sav, read_source, read_table, read_xlsx

__all__ = ["Limits", "Provenance", "blank_rows", "read_csv", "read_sav", "read_source", "read_table", "read_xlsx"]
