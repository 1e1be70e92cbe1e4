"""Package data: the report notebooks executed by papermill (read with importlib.resources)."""
