"""Loading a folder someone may be publishing to: a snapshot of hard links, taken whole.

A publish replaces a speaker folder whole, by renames (:mod:`hayakoe_dest_local.swap`). A loader
that opened the live folder's files by path, one after another, could still straddle a swap:
the old ``config.json`` with the new ``synthesizer.onnx``. So a fetch hands out a snapshot
instead: every file hard-linked into the caller's cache folder (no byte is copied, and a link
keeps the version it was made from after a publish removes it), kept only when the folder was
the same, unchanged directory from before the first link to after the last; else it is taken
again. The loader then checks the snapshot against its manifest like any download. A snapshot
that still links every file of the folder as it is now is kept as it is, never replaced: another
loader (or publisher) of this cache may be reading it, and a replacement would pull its files
away mid-read.

Where no hard link can be made (the cache on another filesystem, a filesystem without them,
files another user owns under ``fs.protected_hardlinks``), the folder is read in place as
before: nothing is copied, and a publish in the middle of a load can then mix two versions.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
import uuid
from pathlib import Path

from hayakoe_core.errors import HayakoeError, NotFoundError
from hayakoe_core.layout import local_files
from hayakoe_dest_local import swap

#: How often a snapshot is tried again when the folder changed while it was taken, and the pause.
ATTEMPTS = 50
_PAUSE = 0.02
_NO_LINKS = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


class _CannotLink(Exception):
    """Hard links cannot be made from the folder into the cache."""


def fetch(folder: Path, into: Path) -> Path:
    """A folder holding the files of ``folder`` as they were at one moment: ``into`` (a
    snapshot, replacing whatever was there), or ``folder`` itself where links cannot be made.
    :class:`NotFoundError` if ``folder`` holds nothing. The caller holds the lock of ``into``'s
    cache (it may remove what killed snapshots left)."""
    for leftover in into.parent.glob(f".{into.name}.snapshot-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for _ in range(ATTEMPTS):
        source = swap.readable(folder)
        if source is None:
            raise NotFoundError(f"nothing at {folder}")
        try:
            if not any(source.iterdir()):
                if source == folder:
                    raise NotFoundError(f"nothing at {folder}")
                # the old folder's trash, emptied as a swap removes it: the new one is in place
            elif _current(source, into) or _take(source, into):
                return into
        except FileNotFoundError:  # swapped out and removed meanwhile
            pass
        except _CannotLink:
            return folder
        time.sleep(_PAUSE)
    raise HayakoeError(
        f"{folder} kept changing while it was being loaded (publishes in a row): load it again"
    )


def _identity(folder: Path) -> tuple[int, int, int]:
    st = os.stat(folder)
    return st.st_dev, st.st_ino, st.st_mtime_ns


def _current(source: Path, into: Path) -> bool:
    """Whether ``into`` is a snapshot of ``source`` as it is now: the same files, each a hard
    link of the source's, with ``source`` unchanged while they were compared."""
    if not into.is_dir():
        return False
    before = _identity(source)
    theirs = {f.relpath: f.path for f in local_files(source)}
    ours = {f.relpath: f.path for f in local_files(into)}
    if theirs.keys() != ours.keys() or not all(ours[rel].samefile(theirs[rel]) for rel in theirs):
        return False
    return _identity(source) == before


def _take(source: Path, into: Path) -> bool:
    """Link every file of ``source`` into a scratch folder and swap it in as ``into``; False
    (nothing kept) if ``source`` changed meanwhile."""
    before = _identity(source)
    into.parent.mkdir(parents=True, exist_ok=True)
    scratch = into.parent / f".{into.name}.snapshot-{uuid.uuid4().hex}"
    try:
        for f in local_files(source):
            link = scratch / f.relpath
            link.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(f.path, link)
            except OSError as exc:
                if exc.errno in _NO_LINKS:
                    raise _CannotLink from None
                raise
        if _identity(source) != before:
            return False
        swap.swap_in(scratch, into)
        return True
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
