"""Bring a remote folder (a speaker, the shared BERT) into the cache, current and verified.

All sources share one cache root (``cache_dir``, else ``HAYAKOE_CACHE``, else ``./hayakoe_cache``);
each target gets its own folder below it, which its destination plugin manages. On top of the
plugins' own incremental downloads this module adds:

* **freshness with one request**: a speaker with ``manifest.json`` is fetched only when the
  remote manifest differs from the one last verified here;
* **integrity**: after a fetch, every file is checked against the manifest (size + sha256); a bad
  file is removed and the load fails naming it;
* **offline**: the folder last fetched for a target and prefix is used without asking anyone,
  when asked to (``offline=True``; stores that need no network are still read when nothing is
  cached) or when the store cannot be reached.

An index (``<cache root>/index.json``) remembers, per target URL and prefix, where the plugin put
the folder and which manifest it was verified against.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from hayakoe_core.atomic import write_text
from hayakoe_core.errors import HayakoeError, NotFoundError, UnreachableError
from hayakoe_core.layout import MANIFEST
from hayakoe_core.manifest import Manifest
from hayakoe_core.progress import NullProgress, Progress
from hayakoe_core.registry import Capability, Store
from hayakoe_core.types import Target

CACHE_ENV = "HAYAKOE_CACHE"
DEFAULT_CACHE = "hayakoe_cache"
_INDEX = "index.json"


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$HAYAKOE_CACHE``, else ``./hayakoe_cache`` (absolute)."""
    root = cache_dir or os.environ.get(CACHE_ENV) or DEFAULT_CACHE
    return Path(root).expanduser().resolve()


def target_cache(root: Path, target: Target) -> Path:
    """The folder reserved for one target's files: ``<root>/<scheme>/<location>``."""
    return root / target.scheme / quote(target.location, safe="")


@dataclass(frozen=True)
class Fetched:
    """A folder ready to load, and the manifest it was checked against (``None``: legacy)."""

    path: Path
    manifest: Manifest | None


class Fetcher:
    """Fetches folders of targets into one cache root (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        *,
        offline: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.root = root
        self.offline = offline
        self.progress = progress or NullProgress()

    def fetch(self, store: Store, prefix: str) -> Fetched:
        """The local folder holding ``<store>/<prefix>/``, fetched if needed and verified.

        Raises :class:`NotFoundError` when nothing is there (or, offline, nothing is cached).
        """
        key = f"{store.url}|{prefix}"
        if self.offline and (self._index().get(key) or store.info.network):
            return self._cached(key)
        try:
            return self._fetch(store, prefix, key)
        except UnreachableError:
            if self._index().get(key) is None:
                raise
            return self._cached(key)

    def _fetch(self, store: Store, prefix: str, key: str) -> Fetched:
        remote = self._remote_manifest(store, prefix)
        known = self._index().get(key)
        if remote is not None and known and known.get("manifest_sha256") == _sha(remote):
            path = Path(known["path"])
            if (path / MANIFEST).is_file() and (path / MANIFEST).read_bytes() == remote:
                return Fetched(path, Manifest.parse(remote, f"{store.url}/{prefix}/{MANIFEST}"))
        path = Path(store.fetch(prefix, target_cache(self.root, store.target), self.progress))
        manifest = Manifest.read(path)
        if manifest is not None and not _is_inside(path, self.root):
            _check_sizes(manifest, path)  # read in place (local folder): nothing was downloaded
        elif manifest is not None:
            manifest.verify(path)
        self._remember(key, path, (path / MANIFEST).read_bytes() if manifest else None)
        return Fetched(path, manifest)

    def _remote_manifest(self, store: Store, prefix: str) -> bytes | None:
        if not store.supports(Capability.READ_FILE):
            return None
        return store.read_file(f"{prefix}/{MANIFEST}")

    def _cached(self, key: str) -> Fetched:
        known = self._index().get(key)
        path = Path(known["path"]) if known else None
        if path is None or not path.is_dir():
            raise NotFoundError(
                f"offline: {key.replace('|', '/')} is not in the cache {self.root}; "
                "load it once online (or run pre_download) first"
            )
        manifest = Manifest.read(path)
        if manifest is not None:
            _check_sizes(manifest, path)
        return Fetched(path, manifest)

    def _index(self) -> dict[str, dict[str, str | None]]:
        try:
            return json.loads((self.root / _INDEX).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _remember(self, key: str, path: Path, manifest: bytes | None) -> None:
        index = self._index()
        index[key] = {"path": str(path), "manifest_sha256": _sha(manifest) if manifest else None}
        write_text(self.root / _INDEX, json.dumps(index, indent=1))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _check_sizes(manifest: Manifest, folder: Path) -> None:
    """The cheap check for folders read in place or already verified: every file, right size."""
    for rel, entry in manifest.files.items():
        file = folder / rel
        if not file.is_file() or file.stat().st_size != entry.size:
            raise HayakoeError(
                f"{manifest.speaker}: {folder / rel} is missing or has the wrong size "
                "(the folder changed since it was published)"
            )
