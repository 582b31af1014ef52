"""Writing files so that readers see the old content or the new, never a half-written file."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The temporary names :func:`replacing` uses: ``.<name>.<32 hex digits>.tmp``.
_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; it replaces ``path`` (one rename, same
    folder) when the block succeeds and is removed when it raises. The folder is created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> Path:
    """Replace ``path`` with ``text`` (UTF-8) atomically."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def remove_leftovers(folder: Path) -> int:
    """Remove the temporary files :func:`replacing` left below ``folder`` when a process was killed.

    Call it only while no one else can be writing there (e.g. holding the folder's lock).
    Returns how many were removed.
    """
    removed = 0
    if folder.is_dir():
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                if _TEMPORARY.match(name):
                    Path(dirpath, name).unlink(missing_ok=True)
                    removed += 1
    return removed
