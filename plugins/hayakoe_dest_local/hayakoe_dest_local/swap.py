"""Replacing a folder by another with renames only, so a crash leaves the old or the new one whole.

The old folder is renamed to a hidden trash sibling (``.<name>.trash-<hex>``), the new one is
renamed into place, the trash is removed. A crash between the two renames leaves no folder and a
trash sibling: :func:`recover` (called before every change of the folder) renames the trash
back. Readers never rename anything (a reader putting the trash back while a publisher is between
its two renames would make the publisher's second rename fail): :func:`readable` gives them the
trash, which holds the old folder whole, for as long as the new one is not in place.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def _trash(folder: Path) -> list[Path]:
    return sorted(folder.parent.glob(f".{folder.name}.trash-*")) if folder.parent.is_dir() else []


def readable(folder: Path) -> Path | None:
    """Where ``folder`` can be read now, renaming nothing: itself, or while a swap is between its
    renames (or a crash left it there) the old folder in its trash; ``None`` if neither exists."""
    if folder.is_dir():
        return folder
    trash = _trash(folder)
    if trash:
        return trash[-1]
    return folder if folder.is_dir() else None  # the swap may have finished meanwhile


def names(parent: Path) -> list[str]:
    """The names of the folders in ``parent``, live or in a swap's trash (other hidden ones are
    left out), sorted; read each through :func:`readable`."""
    if not parent.is_dir():
        return []
    found: set[str] = set()
    for _ in range(2):  # a scan between a swap's renames sees neither name; the next sees the new
        found |= {p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")}
        found |= {p.name[1:].split(".trash-", 1)[0] for p in parent.glob(".*.trash-*")}
    return sorted(found)


def recover(folder: Path) -> None:
    """Finish or undo a swap a crash interrupted: restore the old folder if the new never came.
    Only for writers, which hold the destination's lock (see the module docstring)."""
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
