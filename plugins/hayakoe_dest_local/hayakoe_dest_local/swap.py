"""Replacing a folder by another with renames only, so a crash leaves the old or the new one whole.

The old folder is renamed to a hidden trash sibling (``.<name>.trash-<hex>``), the new one is
renamed into place, the trash is removed. A crash between the two renames leaves no folder and a
trash sibling: :func:`recover` (called before every read and write of the folder) renames the
trash back.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def _trash(folder: Path) -> list[Path]:
    return sorted(folder.parent.glob(f".{folder.name}.trash-*")) if folder.parent.is_dir() else []


def recover(folder: Path) -> None:
    """Finish or undo a swap a crash interrupted: restore the old folder if the new never came."""
    trash = _trash(folder)
    if trash and not folder.exists():
        os.rename(trash[-1], folder)
        trash = trash[:-1]
    for leftover in trash:
        shutil.rmtree(leftover, ignore_errors=True)


def swap_in(new: Path, folder: Path) -> None:
    """Replace ``folder`` (if any) by ``new``, which must be on the same filesystem."""
    recover(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    if folder.exists():
        trash = folder.parent / f".{folder.name}.trash-{uuid.uuid4().hex}"
        os.rename(folder, trash)
        os.rename(new, folder)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(new, folder)


def remove(folder: Path) -> bool:
    """Remove ``folder`` with one rename first (readers never see it half-deleted)."""
    recover(folder)
    if not folder.exists():
        return False
    trash = folder.parent / f".{folder.name}.trash-{uuid.uuid4().hex}"
    os.rename(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)
    return True
