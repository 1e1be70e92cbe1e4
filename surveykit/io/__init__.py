"""Readers that return a DataFrame plus where each row came from (``attrs['source']``, ``attrs['file_rows']``)."""
from .readers import blank_rows, read_csv, read_sav, read_table, read_xlsx

__all__ = ["blank_rows", "read_csv", "read_sav", "read_table", "read_xlsx"]
