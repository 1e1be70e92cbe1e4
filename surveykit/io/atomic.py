"""Atomic file writes: readers (a browser, a parallel worker, a second run) never see a half-written file.

Everything surveykit writes as output -- results-store tables and manifests, reports, workbooks, the font cache --
goes through :func:`atomic_path`: the content is written to a temporary file in the target's directory, then
renamed over the target with ``os.replace`` (atomic on POSIX and Windows). An existing file's permissions are kept;
a new file gets ``rw-r--r--``. On any error the temporary file is removed and the target is untouched.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path (same folder, same suffix) to write; on success it replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix or ".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes, encoding: str = "utf-8") -> Path:
    """Write text or bytes to ``path`` atomically (flushed to disk before the rename); returns the path."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data.encode(encoding) if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
    return Path(path)
