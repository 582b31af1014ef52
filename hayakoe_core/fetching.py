"""Bring a remote folder (a speaker, the shared BERT) into the cache, current and verified.

**One folder per source.** All sources share one cache root (``cache_dir``, else
``HAYAKOE_CACHE``, else ``./hayakoe_cache``). Each source — everything that identifies where
files come from: scheme, endpoint, bucket or repo, prefix, revision — gets its own folder,
``<root>/<scheme>/<readable name>-<hash of the identity>``, which its destination plugin fills.
Two sources never share a folder, so one is never served for the other. Beside the plugin's files,
``<source folder>/.hayakoe/`` holds ``state-<prefix hash>.json`` per fetched prefix (the identity
and prefix it belongs to, where the plugin put the folder, the manifest it was verified against,
the stamp of each file when it was last hashed) and ``lock``, held while the plugin writes: loads
of one source in several threads or processes take turns, and whoever holds it may remove the
leftovers of a killed download.

**Freshness with one request**: a speaker with ``manifest.json`` is fetched only when the remote
manifest differs from the one last verified here. The remote manifest is checked *before*
anything is downloaded: it must be valid, of a version this code reads, name the speaker asked
for and the backend whose folder it is in, and list every file that backend needs.

**Integrity and repair.** Every file a manifest lists is checked on every load, cheaply: its size
always, and its sha256 whenever its stamp (size, mtime, ctime, inode) differs from the one
recorded when it was last hashed. Why this check: hashing everything on every load is exact but
costs a full read of each speaker (~0.3 s per 250 MB); size and mtime alone miss an edit that
restores both. ctime closes that gap for the price of one ``stat``: every write and every
``utime`` updates it and nothing a user can call sets it back. A bad file is removed (with the
blob it links to, when it is a link into the cache) and the folder is fetched again, once; only a
second failure is an error. Folders a plugin reads in place get the size check.

**Offline and unreachable stores**: the folder last verified for a source and prefix is used
without asking anyone when asked to (``offline=True``; stores that need no network are still read
when nothing is cached), or when the store cannot be reached; then the source is not asked again
by this fetcher, so one stalled endpoint costs one timeout, not one per file. Nothing in the
cache is written on a load that changes nothing, so a warm read-only cache loads fine.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hayakoe_core.atomic import remove_leftovers, write_text
from hayakoe_core.errors import CacheError, ConfigError, HayakoeError, NotFoundError, UnreachableError
from hayakoe_core.layout import MANIFEST, speaker_of
from hayakoe_core.manifest import Inspection, IntegrityError, Manifest
from hayakoe_core.progress import NullProgress, Progress, interruptible
from hayakoe_core.registry import Capability, Store
from hayakoe_core.types import BackendInfo, Target

CACHE_ENV = "HAYAKOE_CACHE"
DEFAULT_CACHE = "hayakoe_cache"
META_DIR = ".hayakoe"
_STATE_VERSION = 1
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$HAYAKOE_CACHE``, else ``./hayakoe_cache`` (absolute)."""
    root = cache_dir or os.environ.get(CACHE_ENV) or DEFAULT_CACHE
    return Path(root).expanduser().resolve()


def source_identity(target: Target) -> dict[str, str | None]:
    """What identifies a source: two targets share cached files only when these are equal."""
    return {
        "scheme": target.scheme,
        "endpoint": target.endpoint,
        "location": target.location,
        "prefix": target.prefix,
        "revision": target.revision,
    }


def target_cache(root: Path, target: Target) -> Path:
    """The folder reserved for one source: ``<root>/<scheme>/<readable name>-<identity hash>``."""
    identity = json.dumps(source_identity(target), sort_keys=True)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    readable = "_".join(p for p in (target.location, target.prefix, target.revision) if p)
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", readable).strip("._-")[:48]
    return root / target.scheme / f"{slug or 'root'}-{digest}"


@dataclass(frozen=True)
class Fetched:
    """A folder ready to load, and the manifest it was checked against (``None``: legacy)."""

    path: Path
    manifest: Manifest | None


@dataclass(frozen=True)
class _State:
    """What the last verified fetch of one prefix left (see the module docstring)."""

    path: Path
    manifest_sha256: str | None
    stamps: dict[str, list[Any]]


class _Source:
    """One source's store, identity and cache folder, with the state file of each prefix."""

    def __init__(self, root: Path, store: Store) -> None:
        self.store = store
        self.identity = source_identity(store.target)
        self.folder = target_cache(root, store.target)
        self.meta = self.folder / META_DIR

    def _state_file(self, prefix: str) -> Path:
        return self.meta / f"state-{hashlib.sha256(prefix.encode()).hexdigest()[:16]}.json"

    def state(self, prefix: str) -> _State | None:
        """The state of ``prefix``, or ``None`` when there is none for this exact source and prefix."""
        try:
            doc = json.loads(self._state_file(prefix).read_text(encoding="utf-8"))
            if (doc["version"], doc["source"], doc["prefix"]) != (_STATE_VERSION, self.identity, prefix):
                return None
            path = Path(doc["path"])
            return _State(self.folder / path if not path.is_absolute() else path, doc["sha"], doc["stamps"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, prefix: str, state: _State) -> None:
        """Record ``state`` unless it is already what is recorded (a warm load writes nothing)."""
        if self.state(prefix) == state:
            return
        inside = state.path.is_relative_to(self.folder)
        doc = {
            "version": _STATE_VERSION,
            "source": self.identity,
            "prefix": prefix,
            "path": str(state.path.relative_to(self.folder) if inside else state.path),
            "sha": state.manifest_sha256,
            "stamps": state.stamps,
        }
        write_text(self._state_file(prefix), json.dumps(doc, indent=1, sort_keys=True))

    def where(self, prefix: str) -> str:
        return f"{self.store.url}/{prefix}" if prefix else self.store.url


class Fetcher:
    """Fetches folders of stores into one cache root (see the module docstring).

    ``backends``: the installed backends, whose ``speaker_files`` a speaker's manifest must list
    (without them only the speaker name is checked).
    """

    def __init__(
        self,
        root: Path,
        *,
        offline: bool = False,
        progress: Progress | None = None,
        backends: Iterable[BackendInfo] = (),
    ) -> None:
        self.root = root
        self.offline = offline
        self.progress = progress or NullProgress()
        # A repo folder's manifests name the backend that prepared them, not one that runs its files.
        self.backends = {b.repo_folder: b for b in backends if b.files_from is None}
        self._unreachable: dict[Path, UnreachableError] = {}

    def fetch(self, store: Store, prefix: str) -> Fetched:
        """The local folder holding ``<store>/<prefix>/``, fetched if needed and verified.

        Raises :class:`NotFoundError` when nothing is there (or, offline, nothing is cached),
        :class:`UnreachableError` when the store cannot be reached and nothing is cached,
        :class:`ConfigError` for a manifest that must not be loaded, :class:`IntegrityError` when a
        file is still bad after fetching it again, :class:`CacheError` when the cache cannot be
        written.
        """
        source = _Source(self.root, store)
        state = source.state(prefix)
        if self.offline and (state or store.info.network):
            return self._cached(source, prefix, state, "offline")
        if source.folder in self._unreachable:
            if state is None:
                raise self._unreachable[source.folder]
            return self._cached(source, prefix, state, "unreachable")
        try:
            return self._fetch(source, prefix, state)
        except UnreachableError as exc:
            self._unreachable[source.folder] = exc
            if state is None:
                raise
            return self._cached(source, prefix, state, "unreachable")

    # --- online -------------------------------------------------------------------------------

    def _fetch(self, source: _Source, prefix: str, state: _State | None) -> Fetched:
        remote = self._remote_manifest(source, prefix)
        if remote is not None and state and state.manifest_sha256 == _sha(remote):
            with suppress(OSError):
                if (state.path / MANIFEST).read_bytes() == remote:
                    fetched = self._check_cached(source, prefix, state)
                    if fetched is not None:
                        return fetched
        return self._download(source, prefix, state)

    def _remote_manifest(self, source: _Source, prefix: str) -> bytes | None:
        """The store's manifest for ``prefix``, refused here if it must not be loaded."""
        if not source.store.supports(Capability.READ_FILE):
            return None
        data = source.store.read_file(f"{prefix}/{MANIFEST}")
        if data is not None:
            self._check_manifest(Manifest.parse(data, f"{source.where(prefix)}/{MANIFEST}"), source, prefix)
        return data

    def _check_cached(self, source: _Source, prefix: str, state: _State) -> Fetched | None:
        """The cached folder if every file passes the cheap check; bad files are removed."""
        manifest = Manifest.read(state.path)
        assert manifest is not None  # its bytes were just compared with the remote manifest
        found = self._inspect(manifest, state.path, state.stamps)
        if found.problems:
            if self._in_cache(state.path):  # read in place: fetching again reports what is wrong
                self._remove(state.path, found.problems)
            return None
        with suppress(OSError):  # recording fresh stamps only saves hashing next time
            source.save(prefix, _State(state.path, state.manifest_sha256, found.stamps))
        return Fetched(state.path, manifest)

    def _download(self, source: _Source, prefix: str, state: _State | None) -> Fetched:
        """Fetch through the plugin and verify, fetching once more if a file is bad."""
        first: tuple[str, str] | None = None
        with self._writing(source):
            while True:
                path = self._plugin_fetch(source, prefix)
                manifest = Manifest.read(path)
                if manifest is None:  # a legacy folder: nothing to check it against
                    source.save(prefix, _State(path, None, {}))
                    return Fetched(path, None)
                self._check_manifest(manifest, source, prefix)
                found = self._inspect(manifest, path, state.stamps if state and state.path == path else {})
                if not found.problems:
                    sha = _sha((path / MANIFEST).read_bytes())
                    source.save(prefix, _State(path, sha, found.stamps))
                    return Fetched(path, manifest)
                if not self._in_cache(path):
                    rel, problem = next(iter(found.problems.items()))
                    raise HayakoeError(
                        f"{manifest.speaker}: {path / rel} {problem} (the folder changed since it "
                        "was published): publish it again"
                    )
                self._remove(path, found.problems)
                if first is not None:
                    rel, problem = first
                    raise IntegrityError(
                        f"{manifest.speaker}: {rel} {problem}, and again after fetching it anew: "
                        f"the copy at {source.where(prefix)} is damaged; publish the speaker again"
                    )
                first = next(iter(found.problems.items()))

    def _plugin_fetch(self, source: _Source, prefix: str) -> Path:
        with interruptible(self.progress) as progress:
            return Path(source.store.fetch(prefix, source.folder, progress))

    @contextmanager
    def _writing(self, source: _Source) -> Iterator[None]:
        """Hold the source's lock; remove leftovers of killed downloads; explain a cache that
        cannot be written."""
        try:
            if not source.meta.is_dir():
                source.meta.mkdir(parents=True)
            with _locked(source.meta / "lock"):
                remove_leftovers(source.folder)
                yield
        except OSError as exc:
            mapped = self._cache_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def _cache_error(self, exc: OSError) -> HayakoeError | None:
        """The one-line error for a failed write into the cache (``None``: not the user's)."""
        where = Path(exc.filename) if isinstance(exc.filename, str) else None
        in_cache = where is None or where.is_relative_to(self.root)
        how = "set HAYAKOE_CACHE (or cache_dir=) to another folder"
        if exc.errno in _NO_SPACE:
            return CacheError(f"no space left on the disk holding the cache {self.root}: free some or {how}")
        if exc.errno in _NOT_WRITABLE and in_cache:
            return CacheError(f"the cache {self.root} is not writable ({exc.strerror}): fix that or {how}")
        if exc.errno in _NOT_WRITABLE:
            return HayakoeError(f"cannot read {where} ({exc.strerror})")
        return None

    def _in_cache(self, path: Path) -> bool:
        return path.is_relative_to(self.root)

    def _inspect(self, manifest: Manifest, folder: Path, stamps: dict[str, list[Any]]) -> Inspection:
        """The cheap check (module docstring); sizes only for folders read in place."""
        return manifest.inspect(folder, stamps, hashes=self._in_cache(folder))

    def _remove(self, folder: Path, problems: dict[str, str]) -> None:
        """Remove bad files, and a file a bad link points to when it lies in the cache."""
        for rel in problems:
            path = folder / rel
            with suppress(OSError):
                if path.is_symlink():
                    blob = path.resolve()
                    if blob.is_relative_to(self.root):
                        blob.unlink(missing_ok=True)
                path.unlink(missing_ok=True)

    def _check_manifest(self, manifest: Manifest, source: _Source, prefix: str) -> None:
        """Refuse a speaker manifest that names another speaker or backend, or lacks a file the
        backend needs (a prefix that is not a speaker folder is not checked)."""
        speaker = speaker_of(prefix)
        if speaker is None:
            return
        folder, name = speaker
        where = f"{source.where(prefix)}/{MANIFEST}"
        if manifest.speaker != name:
            raise ConfigError(f"{where} names speaker {manifest.speaker!r}, not {name!r}: not loading it")
        backend = self.backends.get(folder)
        if backend is None:
            return
        if manifest.backend != backend.name:
            raise ConfigError(
                f"{where} is for the {manifest.backend!r} backend, not {backend.name!r}: not loading it"
            )
        if missing := manifest.missing(backend.speaker_files):
            raise ConfigError(
                f"{where} lists no {' or '.join(missing)}, which the {backend.name} backend needs: "
                "publish the speaker again"
            )

    # --- from the cache alone -------------------------------------------------------------------

    def _cached(self, source: _Source, prefix: str, state: _State | None, why: str) -> Fetched:
        where = source.where(prefix)
        if state is None or not state.path.is_dir():
            if why == "offline":
                raise NotFoundError(
                    f"offline: {where} is not in the cache {self.root}; load it once online "
                    "(or run pre_download) first"
                )
            raise NotFoundError(f"{where} is not in the cache {self.root}")
        manifest = Manifest.read(state.path)
        if manifest is None:
            return Fetched(state.path, None)
        self._check_manifest(manifest, source, prefix)
        found = self._inspect(manifest, state.path, state.stamps)
        if found.problems:
            rel, problem = next(iter(found.problems.items()))
            reason = "offline" if why == "offline" else "the source cannot be reached"
            raise IntegrityError(
                f"{manifest.speaker}: the cached {rel} {problem} and cannot be fetched again "
                f"({reason}): load it online to repair the cache"
            )
        return Fetched(state.path, manifest)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (across threads and processes; released if we die).

    In a read-only cache an existing lock file is opened for reading (``flock`` needs no write
    access), so a fetch that changes nothing still runs there.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock
        yield
        return
    try:
        handle = path.open("a")
    except OSError as exc:
        if exc.errno not in _NOT_WRITABLE or not path.exists():
            raise
        handle = path.open("r")
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
