"""The staging areas this machine's publishers opened and have not removed yet.

Before it stages, a publisher writes a record ``<cache root>/publish/staging/<id>.json``
(destination URL, staging id, pid) and holds an exclusive ``flock`` on it until its staging area
is discarded. The operating system drops that lock however the publisher ends (Ctrl-C, SIGKILL,
out of memory, a closed laptop lid that never reopens), so a record whose lock can be taken
belongs to a publisher that died without discarding: the next publish to the same destination
from this machine discards that staging area (see
:meth:`hayakoe_core.publish.pipeline.Pipeline.execute`) and removes the record. A crashed run
therefore leaves nothing behind once the command is run again. Staging areas left by other
machines are found by their age with ``hayakoe cleanup``.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hayakoe_core.fetching import cache_root


def _folder() -> Path:
    return cache_root() / "publish" / "staging"


@dataclass
class Record:
    """One record with its lock held by this process; :meth:`close` releases it (the record
    stays), :meth:`remove` deletes it."""

    path: Path
    url: str
    staging_id: str
    _fd: int

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = -1

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.close()


def open_record(url: str, staging_id: str) -> Record:
    """Record that this process is about to stage ``staging_id`` at ``url``, and hold it."""
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{staging_id}.json"
    # Locked and written under a name sweepers ignore, then renamed: a record is never seen unlocked.
    part = folder / f".{staging_id}.{os.getpid()}.part"
    fd = os.open(part, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, json.dumps({"url": url, "staging": staging_id, "pid": os.getpid()}).encode())
    os.fsync(fd)
    os.replace(part, path)
    return Record(path, url, staging_id, fd)


def abandoned(url: str) -> Iterator[Record]:
    """Records of staging areas at ``url`` whose publisher is gone, each yielded with its lock
    held (closed when the caller moves on, unless it removed the record)."""
    folder = _folder()
    if not folder.is_dir():
        return
    _remove_cut_off_parts(folder)
    for path in sorted(folder.glob("*.json")):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue  # removed meanwhile by its publisher
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # its publisher is alive
            continue
        try:
            doc = json.loads(os.pread(fd, 4096, 0) or b"{}")
        except ValueError:
            doc = {}  # cut off while being written: nothing was staged under it yet
        if not doc:
            path.unlink(missing_ok=True)
            os.close(fd)
            continue
        record = Record(path, str(doc.get("url")), str(doc.get("staging")), fd)
        try:
            if record.url == url:
                yield record
        finally:
            record.close()


def _remove_cut_off_parts(folder: Path) -> None:
    """Remove the ``.part`` files of publishers that died before renaming them (unlocked: their
    writer is gone; nothing was staged under them yet)."""
    for part in folder.glob(".*.part"):
        try:
            fd = os.open(part, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            part.unlink(missing_ok=True)
        except BlockingIOError:
            pass  # its publisher is still writing it
        finally:
            os.close(fd)
