"""Readers that return a DataFrame plus where each row came from (``attrs['source']``, ``attrs['file_rows']``)."""
from .readers import read_csv, read_sav, read_table, read_xlsx

__all__ = ["read_csv", "read_sav", "read_table", "read_xlsx"]
