"""Speaker manifest v1 (``manifest.json``, ARCHITECTURE §5): what a speaker folder must contain.

Written last into each published speaker folder. Readers ignore unknown keys and refuse a higher
version. A loader checks every file against it (size + sha256); a folder without one is a legacy
upstream folder and loads unchecked.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hayakoe_core import __version__
from hayakoe_core.atomic import write_text
from hayakoe_core.errors import ConfigError, HayakoeError
from hayakoe_core.layout import MANIFEST, local_files
from hayakoe_core.paths import safe_relpath

FORMAT = "hayakoe-speaker"
VERSION = 1
MAX_MANIFEST_BYTES = 1 << 20  # a manifest lists a handful of files: a few KiB
_CHUNK = 1 << 20
# sha256_file's memory: digests by file stamp, the most recent few hundred files.
_DIGESTS: dict[tuple[int, ...], str] = {}
_DIGESTS_LOCK = threading.Lock()
_DIGESTS_KEPT = 512
_SETTLED_NS = 2_000_000_000  # FAT's 2 s: the coarsest timestamps a cache folder may sit on


class IntegrityError(HayakoeError):
    """A downloaded file does not match its manifest entry."""


@dataclass(frozen=True)
class FileEntry:
    size: int
    sha256: str


@dataclass(frozen=True)
class BertRef:
    source: str
    revision: str | None
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest. ``files`` maps a path relative to the speaker folder to its entry."""

    speaker: str
    backend: str
    files: dict[str, FileEntry]
    checkpoint_sha256: str
    bert: BertRef | None = None
    tool: str = f"hayakoe {__version__}"
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_json(self) -> str:
        doc: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "speaker": self.speaker,
            "backend": self.backend,
            "files": {k: {"size": v.size, "sha256": v.sha256} for k, v in sorted(self.files.items())},
            "checkpoint_sha256": self.checkpoint_sha256,
            "bert": None
            if self.bert is None
            else {"source": self.bert.source, "revision": self.bert.revision, "sha256": self.bert.sha256},
            "tool": self.tool,
            "created": self.created,
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def parse(cls, text: str | bytes, where: str = MANIFEST) -> Manifest:
        """Parse manifest text; :class:`ConfigError` naming ``where`` if it is not a valid v1."""
        if len(text) > MAX_MANIFEST_BYTES:
            raise ConfigError(f"{where}: {len(text)} bytes is too large for a speaker manifest")
        try:
            doc = json.loads(text)
            if doc.get("format") != FORMAT:
                raise ValueError(f"format is {doc.get('format')!r}, not {FORMAT!r}")
            version = doc.get("version")
            if not isinstance(version, int):
                raise ValueError("version is missing")
            if version > VERSION:
                raise ConfigError(
                    f"{where}: manifest version {version} is newer than this hayakoe understands "
                    f"({VERSION}); upgrade hayakoe"
                )
            files = {
                safe_relpath(path): FileEntry(int(e["size"]), str(e["sha256"]).lower())
                for path, e in doc["files"].items()
            }
            bert = doc.get("bert")
            return cls(
                speaker=str(doc["speaker"]),
                backend=str(doc["backend"]),
                files=files,
                checkpoint_sha256=str(doc.get("checkpoint_sha256", "")),
                bert=None
                if bert is None
                else BertRef(str(bert["source"]), bert.get("revision"), str(bert["sha256"])),
                tool=str(doc.get("tool", "")),
                created=str(doc.get("created", "")),
            )
        except ConfigError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{where}: not a valid speaker manifest ({exc})") from None
        except RecursionError:
            raise ConfigError(f"{where}: not a valid speaker manifest (nested too deeply)") from None

    @classmethod
    def read(cls, folder: Path) -> Manifest | None:
        """The manifest in ``folder``, or ``None`` for a legacy folder without one."""
        path = folder / MANIFEST
        return cls.parse(path.read_bytes(), str(path)) if path.is_file() else None

    def missing(self, patterns: Iterable[str]) -> list[str]:
        """The glob ``patterns`` (e.g. a backend's ``speaker_files``) that no listed file matches."""
        return [p for p in patterns if not any(fnmatch.fnmatchcase(rel, p) for rel in self.files)]

    def inspect(
        self, folder: Path, known: Mapping[str, Sequence[object]] | None = None, *, hashes: bool = True
    ) -> Inspection:
        """Check every listed file in ``folder``: right size always, right sha256 when needed.

        ``hashes=False`` checks sizes only (folders read in place, where hashing on each load
        would read every byte of someone else's files). ``known`` maps a path to the stamp it had
        when last hashed (from an earlier :class:`Inspection`); a file whose stamp is unchanged
        and whose hash was this manifest's is not read again. The stamp holds size, mtime,
        **ctime** and inode: any write to the file, even one that restores its size and mtime,
        changes ctime, and nothing a user can call sets ctime back, so an unchanged stamp means
        unchanged bytes.
        """
        known = known or {}
        problems: dict[str, str] = {}
        stamps: dict[str, list[object]] = {}
        for rel, entry in sorted(self.files.items()):
            try:
                st = (folder / rel).stat()
            except OSError:
                problems[rel] = "is missing"
                continue
            stamp: list[object] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, entry.sha256]
            if st.st_size != entry.size:
                problems[rel] = f"has {st.st_size} bytes, manifest says {entry.size}"
            elif hashes and list(known.get(rel, ())) != stamp and sha256_file(folder / rel) != entry.sha256:
                problems[rel] = "does not match its sha256 in the manifest"
            else:
                stamps[rel] = stamp
        return Inspection(problems, stamps)

    def verify(self, folder: Path, *, remove_bad: bool = True) -> None:
        """Check every listed file in ``folder``; on a mismatch remove it and raise naming it."""
        problems = self.inspect(folder).problems
        for rel, problem in problems.items():
            if remove_bad:
                (folder / rel).unlink(missing_ok=True)
            raise IntegrityError(f"{self.speaker}: {rel} {problem}; it was not kept, load again")


@dataclass(frozen=True)
class Inspection:
    """What :meth:`Manifest.inspect` found: ``problems`` by path, and ``stamps`` of the good files."""

    problems: dict[str, str]
    stamps: dict[str, list[object]]


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes.

    A file this process hashed already is not read again while its stamp (device, inode, size,
    mtime, ctime: see :meth:`Manifest.inspect`) is unchanged — a publish names the same files
    to the manifest, the receipt and the destination plugin. Only a file last changed at least
    :data:`_SETTLED_NS` before it was hashed is remembered: a write within the filesystem's
    timestamp granularity of the hashing could leave the stamp as it was.
    """
    before = path.stat()
    stamp = (before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns, before.st_ctime_ns)
    known = _DIGESTS.get(stamp)
    if known is not None:
        return known
    started = time.time_ns()
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    hexdigest = digest.hexdigest()
    if started - max(before.st_mtime_ns, before.st_ctime_ns) >= _SETTLED_NS:
        with _DIGESTS_LOCK:
            _DIGESTS[stamp] = hexdigest
            while len(_DIGESTS) > _DIGESTS_KEPT:
                del _DIGESTS[next(iter(_DIGESTS))]
    return hexdigest


def build_manifest(
    folder: Path,
    speaker: str,
    backend: str,
    checkpoint_sha256: str,
    bert: BertRef | None = None,
) -> Manifest:
    """A manifest describing every file now in ``folder`` (except a manifest already there)."""
    files = {
        f.relpath: FileEntry(f.size, sha256_file(f.path))
        for f in local_files(folder)
        if f.relpath != MANIFEST
    }
    return Manifest(speaker, backend, files, checkpoint_sha256, bert)


def write_manifest(folder: Path, manifest: Manifest) -> Path:
    """Write ``manifest.json`` into ``folder`` (by temporary name and rename)."""
    return write_text(folder / MANIFEST, manifest.to_json())
