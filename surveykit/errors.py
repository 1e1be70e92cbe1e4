"""User-facing errors.

Every problem caused by the user's input (a file, a parameter, a YAML key) is raised as an
:class:`InputError`. It carries where the problem is -- file, row, column or key -- so that the
command line can print one clear line and exit with status 2 instead of a traceback.
Programming errors stay ordinary exceptions.
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """A problem with the user's input, located as precisely as we know.

    Parameters
    ----------
    message : what is wrong, in plain words.
    file : the file concerned, if any.
    row : 1-based row number *in the file* (the header is row 1 for CSV/XLSX), if known.
    column : column name, if known.
    key : YAML key path (e.g. ``indicators[2].children[0].weight``) or item id, if known.
    """

    def __init__(self, message: str, *, file: str | Path | None = None, row: int | None = None,
                 column: str | None = None, key: str | None = None):
        self.message = message
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        self.key = key
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.key is not None:
            where.append(f"key '{self.key}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class SpecError(InputError):
    """An invalid questionnaire, framework or targets YAML file."""
