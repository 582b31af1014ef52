"""What an earlier fetch of one prefix left in the cache, so unchanged files are not downloaded again.

Per prefix, a small JSON file under ``<cache_dir>/.s3-state/`` records for each downloaded file the
object's ETag and size and the local copy's size and modification time. A file is current when
the listing still shows that ETag and size and the local copy was not touched since.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hayakoe_core.atomic import write_text
from hayakoe_dest_s3.remote import RemoteFile

STATE_DIR = ".s3-state"
_VERSION = 1


class FetchState:
    """The record of one prefix's local copy; :meth:`record` may be called from worker threads."""

    def __init__(self, path: Path, entries: dict[str, dict[str, Any]]) -> None:
        self.path = path
        self._entries = entries
        self._lock = threading.Lock()
        self._changed = False

    @classmethod
    def load(cls, cache_dir: Path, prefix: str) -> FetchState:
        """The state of ``prefix`` in ``cache_dir``; empty if none was saved or it is unreadable."""
        path = cache_dir / STATE_DIR / f"{quote(prefix, safe='')}.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            entries = raw["files"] if raw.get("version") == _VERSION else {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            entries = {}
        return cls(path, entries if isinstance(entries, dict) else {})

    def is_current(self, folder: Path, remote: RemoteFile) -> bool:
        """Whether ``folder/<relpath>`` already holds this exact object."""
        entry = self._entries.get(remote.relpath)
        if not isinstance(entry, dict):
            return False
        try:
            stat = (folder / remote.relpath).stat()
        except OSError:
            return False
        return (entry.get("etag"), entry.get("size"), entry.get("mtime_ns")) == (
            remote.etag,
            remote.size,
            stat.st_mtime_ns,
        ) and stat.st_size == remote.size

    def record(self, folder: Path, remote: RemoteFile) -> None:
        """Remember that ``folder/<relpath>`` now holds ``remote``."""
        mtime_ns = (folder / remote.relpath).stat().st_mtime_ns
        entry = {"etag": remote.etag, "size": remote.size, "mtime_ns": mtime_ns}
        with self._lock:
            self._changed |= self._entries.get(remote.relpath) != entry
            self._entries[remote.relpath] = entry

    def drop_missing(self, folder: Path, remote: list[RemoteFile]) -> None:
        """Delete local copies this state recorded whose objects are no longer listed."""
        listed = {f.relpath for f in remote}
        for relpath in [r for r in self._entries if r not in listed]:
            (folder / relpath).unlink(missing_ok=True)
            del self._entries[relpath]
            self._changed = True

    def save(self) -> None:
        """Write the state atomically (temporary file, then rename), if it changed: a fetch that
        downloads nothing writes nothing (a warm read-only cache works)."""
        with self._lock:
            if not self._changed:
                return
            text = json.dumps({"version": _VERSION, "files": self._entries}, sort_keys=True)
        write_text(self.path, text)
