"""Writing files so that readers see the old content or the new, never a half-written file."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
