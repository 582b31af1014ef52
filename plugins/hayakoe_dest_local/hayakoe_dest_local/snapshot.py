"""Loading a folder someone may be publishing to: a snapshot of hard links, taken whole.

A publish replaces a speaker folder whole, by renames (:mod:`hayakoe_dest_local.swap`). A loader
that opened the live folder's files by path, one after another, could still straddle a swap:
the old ``config.json`` with the new ``synthesizer.onnx``. So a fetch hands out a snapshot
instead: every file hard-linked into the caller's cache folder (no byte is copied, and a link
keeps the version it was made from after a publish removes it), kept only when the folder was
the same, unchanged directory from before the first link to after the last, still found at the
same place afterwards; else it is taken again. The loader then checks the snapshot against its
manifest like any download. A snapshot that still links every file of the folder as it is now is
kept as it is, never replaced: another loader (or publisher) of this cache may be reading it, and
a replacement would pull its files away mid-read.

Where no hard link can be made (the cache on another filesystem, a filesystem without them,
files another user owns under ``fs.protected_hardlinks``), the folder is read in place as
before: nothing is copied, and a publish in the middle of a load can then mix two versions.

Reading one small file (a manifest, the README) and listing a folder's files meet the same swaps:
they read through the old folder's trash while a swap is between its renames, and look again
when what they read moved away mid-read, so a swap never makes a file that exists look missing.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hayakoe_core.errors import HayakoeError, NotFoundError
from hayakoe_core.layout import local_files
from hayakoe_dest_local import swap

#: How often a snapshot, a read or a listing is tried again when the folder changed meanwhile,
#: and the pause between snapshots.
ATTEMPTS = 50
_PAUSE = 0.02
T = TypeVar("T")
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
        if not list_files(folder):
            raise NotFoundError(f"nothing at {folder}")
        source = swap.readable(folder)
        held = _hold(source)
        if source is None or held is None:
            continue  # swapped away since it was listed
        try:
            if (_current(source, into) or _take(source, into)) and _is(source, swap.readable(folder), held):
                return into
        except FileNotFoundError:  # swapped out and removed meanwhile
            pass
        except _CannotLink:
            return folder
        finally:
            os.close(held)
        time.sleep(_PAUSE)
    raise HayakoeError(
        f"{folder} kept changing while it was being loaded (publishes in a row): load it again"
    )


def read_file(root: Path, relpath: str) -> bytes | None:
    """The bytes of the file ``root/relpath``, ``None`` if it is not there (see :func:`_settled`)."""
    *folders, name = relpath.split("/")
    return _settled(lambda: _locate(root, folders), lambda found: _bytes(found / name), root / relpath)


def list_files(folder: Path) -> list[str]:
    """The paths of the files below ``folder`` relative to it (see :func:`_settled`)."""
    return _settled(
        lambda: swap.readable(folder), lambda found: [f.relpath for f in local_files(found)] or None, folder
    ) or []


def _bytes(file: Path) -> bytes | None:
    try:
        return file.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _settled(locate: Callable[[], Path | None], read: Callable[[Path], T | None], what: Path) -> T | None:
    """What ``read`` finds in the folder ``locate`` finds, while publishes may swap any folder on
    the way: read through a swapped-out folder's trash while a swap is between its renames, and
    looked up again when the read finds nothing and the folder has moved meanwhile.

    ``None`` only when two looks in a row find no folder (a listing racing a swap's renames can
    miss both names once), or when the next look finds the folder read at the same place: held
    open, its inode cannot be reused, and a folder moved out of its place never comes back, so
    it was there all along; a trash is emptied only after the new folder is in place, so a look
    that still finds the trash proves it was whole. :class:`HayakoeError` if they never settle.
    """
    nowhere = False
    for _ in range(ATTEMPTS):
        folder = locate()
        held = _hold(folder)
        if held is None:
            if nowhere:
                return None
            nowhere = True
            continue
        nowhere = False
        try:
            found = read(folder)
            if found is not None or _is(folder, locate(), held):
                return found
        except FileNotFoundError:  # moved away, or emptied, mid-read
            pass
        finally:
            os.close(held)
    raise HayakoeError(f"{what} kept changing while it was being read (publishes in a row): try again")


def _hold(folder: Path | None) -> int | None:
    """An open descriptor of the directory ``folder``, or ``None`` if there is none."""
    try:
        return None if folder is None else os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _is(folder: Path, now: Path | None, held: int) -> bool:
    """Whether ``folder``, found again as ``now``, is still the directory ``held`` open."""
    try:
        return now == folder and os.path.samestat(os.stat(folder), os.fstat(held))
    except (FileNotFoundError, NotADirectoryError):
        return False


def _locate(root: Path, folders: list[str]) -> Path | None:
    """Where ``root/<folders>`` can be read now, each folder as :func:`swap.readable` finds it."""
    found: Path | None = root
    for part in folders:
        found = swap.readable(found / part)
        if found is None:
            break
    return found


def _identity(folder: Path) -> tuple[int, int, int, int]:
    """Which directory ``folder`` is, and how it is now: an inode freed by a swap can be reused by
    the next one's copy, with its mtime copied too, but its ctime is new (renames set it as well)."""
    st = os.stat(folder)
    return st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns


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
