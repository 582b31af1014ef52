"""Publishing to a folder: stage in a hidden folder, promote by renames under an exclusive lock.

Everything lives in ``<root>/.hayakoe/``, on the same filesystem as the live folders:

* ``staging/<id>/`` — a staged repo tree. Its URL (``file://…/.hayakoe/staging/<id>``) loads
  like any folder.
* ``state.json`` — the state promotes compare against: a random token and a generation number,
  replaced (temporary file + rename) by every promote. No file: never promoted to.
* ``lock`` — held with ``flock`` for the length of a promote, so promotes never interleave. The
  operating system releases it when its holder exits, however it exits (also over NFS, where the
  server's lock lease ends it), so a publisher that dies never blocks the next one and nothing
  needs to be unlocked by hand. The file records who holds it, for the "busy" message.
* ``promoting.json`` — a journal written before a promote's first rename and removed after its
  last. Each speaker folder moves with one rename (see :mod:`hayakoe_dest_local.swap`), each loose
  file with one ``os.replace``, so a crash leaves every folder old or new, never mixed; the next
  promote (holding the lock) finds the journal and **rolls the crashed promote forward** from its
  staging area, which cleanup never removes while a journal names it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hayakoe_core.atomic import replacing, write_text
from hayakoe_core.errors import ConflictError, HayakoeError, NotFoundError
from hayakoe_core.layout import LocalFile, local_files, speaker_dirs
from hayakoe_core.progress import Bar, Progress
from hayakoe_core.types import DestinationState, Staging, staging_created
from hayakoe_dest_local import swap

HIDDEN = ".hayakoe"
_STATE = "state.json"
_LOCK = "lock"
_JOURNAL = "promoting.json"
_CHUNK = 1 << 20


def staging_dir(root: Path, staging_id: str) -> Path:
    return root / HIDDEN / "staging" / staging_id


def _generation(root: Path) -> tuple[str, int]:
    """``(token, generation)`` of the last promote; ``("", 0)`` if there was none."""
    try:
        doc = json.loads((root / HIDDEN / _STATE).read_text(encoding="utf-8"))
        return str(doc["token"]), int(doc["generation"])
    except FileNotFoundError:
        return "", 0
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HayakoeError(
            f"{root / HIDDEN / _STATE} is unreadable ({exc}); restore it or remove it to start over"
        ) from None


def _state(token: str, generation: int) -> DestinationState:
    return DestinationState(token, f"generation {generation}" if token else "")


def read_state(root: Path) -> DestinationState:
    return _state(*_generation(root))


def _write_state(root: Path, token: str, generation: int) -> None:
    doc = {"token": token, "generation": generation, "promoted": _now().isoformat()}
    write_text(root / HIDDEN / _STATE, json.dumps(doc) + "\n")


def _now() -> datetime:
    return datetime.now(UTC)


# --- staging ------------------------------------------------------------------------------------


def _copy(src: Path, out: Path, bar: Bar) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with src.open("rb") as fin, out.open("wb") as fout:
        while chunk := fin.read(_CHUNK):
            fout.write(chunk)
            bar.advance(len(chunk))
        fout.flush()
        os.fsync(fout.fileno())


def _copy_speaker(files: list[LocalFile], speaker: str, dest: Path, bar: Bar) -> None:
    """Copy one speaker folder beside ``dest`` and swap it in whole."""
    new = dest.parent / f".{dest.name}.new-{uuid.uuid4().hex}"
    try:
        new.mkdir(parents=True)
        for f in files:
            _copy(f.path, new / f.relpath[len(speaker) + 1 :], bar)
        swap.swap_in(new, dest)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise


def copy_tree(local_dir: Path, dest: Path, progress: Progress, label: str) -> list[str]:
    """Copy the repo tree ``local_dir`` into ``dest``: speaker folders replace those there whole,
    loose files are written over (temporary name + rename). Returns the repo paths copied."""
    files = local_files(local_dir)
    speakers = speaker_dirs(f.relpath for f in files)
    with progress.bar(label, sum(f.size for f in files)) as bar:
        for speaker in speakers:
            inside = [f for f in files if f.relpath.startswith(speaker + "/")]
            _copy_speaker(inside, speaker, dest / speaker, bar)
        for f in files:
            if not any(f.relpath.startswith(s + "/") for s in speakers):
                with replacing(dest / f.relpath) as tmp:
                    _copy(f.path, tmp, bar)
    return [f.relpath for f in files]


#: What a full, read-only or failing disk raises: the user's to fix, reported in one line.
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


@contextmanager
def disk_errors(root: Path) -> Iterator[None]:
    """Re-raise a full, read-only or failing disk under ``root`` as a one-line HayakoeError."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _DISK_ERRNOS:
            raise
        raise HayakoeError(
            f"cannot write to {root}: {exc.strerror}; free space there or fix its permissions"
        ) from None


def stage(root: Path, local_dir: Path, staging_id: str, progress: Progress) -> Staging:
    base = read_state(root)
    area = staging_dir(root, staging_id)
    fresh = not area.exists()
    try:
        with disk_errors(root):
            copied = copy_tree(local_dir, area, progress, f"stage → {area}")
    except BaseException:
        if fresh:
            discard(root, staging_id)
        raise
    return Staging(staging_id, area.as_uri(), base, tuple((rel, "sent") for rel in copied))


def _pending(root: Path) -> str | None:
    """The staging area a crashed promote's journal names (it is needed to roll forward)."""
    journal = root / HIDDEN / _JOURNAL
    return json.loads(journal.read_text(encoding="utf-8"))["staging"] if journal.is_file() else None


def discard(root: Path, staging_id: str) -> None:
    """Remove staging ``staging_id``. A crashed promote's journal that names it is rolled forward
    first (under the lock); while that cannot be done (another publish holds the lock, or the disk
    refuses), the area stays for the next promote to finish."""
    if _pending(root) == staging_id:
        try:
            with disk_errors(root), locked(root):
                _roll_forward(root)
        except HayakoeError:
            return
    shutil.rmtree(staging_dir(root, staging_id), ignore_errors=True)
    for empty in (root / HIDDEN / "staging", root / HIDDEN):
        try:
            empty.rmdir()
        except OSError:
            break  # not empty (or not there): leave it


# --- promote ------------------------------------------------------------------------------------


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold ``<root>/.hayakoe/lock`` (flock) for the block; ConflictError(busy) if another holds it."""
    path = root / HIDDEN / _LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip() or "another process"
            raise ConflictError(
                f"another publish to {root} is in progress ({holder}); run again when it has finished",
                busy=True,
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {_now():%H:%M:%S} UTC".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _apply(area: Path, root: Path) -> None:
    """Move everything staged in ``area`` live: speaker folders by swap, loose files by replace."""
    files = local_files(area)
    speakers = speaker_dirs(f.relpath for f in files)
    for speaker in speakers:
        swap.swap_in(area / speaker, root / speaker)
    for f in files:
        if not any(f.relpath.startswith(s + "/") for s in speakers):
            (root / f.relpath).parent.mkdir(parents=True, exist_ok=True)
            os.replace(f.path, root / f.relpath)


def _roll_forward(root: Path) -> None:
    """Finish a promote that crashed: its journal names the staging area and the state it made."""
    journal = root / HIDDEN / _JOURNAL
    if not journal.is_file():
        return
    doc = json.loads(journal.read_text(encoding="utf-8"))
    area = staging_dir(root, doc["staging"])
    if area.is_dir():
        _apply(area, root)
    _write_state(root, doc["token"], doc["generation"])
    journal.unlink()


def promote(
    root: Path, staging_id: str, expected: DestinationState | None, progress: Progress
) -> DestinationState:
    """Make staging ``staging_id`` live if the state is ``expected`` (``None``: whatever it is)."""
    area = staging_dir(root, staging_id)
    with locked(root):
        _roll_forward(root)
        token, generation = _generation(root)
        current = _state(token, generation)
        if expected is not None and current != expected:
            raise ConflictError(
                f"{root} changed since staging (it is at {current}, expected {expected}): "
                "someone published meanwhile"
            )
        if not area.is_dir():
            raise NotFoundError(f"staging area {area} is gone (discarded or cleaned up): stage again")
        new_token, new_generation = uuid.uuid4().hex, generation + 1
        journal = {"staging": staging_id, "token": new_token, "generation": new_generation}
        with disk_errors(root):
            write_text(root / HIDDEN / _JOURNAL, json.dumps(journal))
            with progress.bar(f"promote → {root}", None, unit="files"):
                _apply(area, root)
            _write_state(root, new_token, new_generation)
        (root / HIDDEN / _JOURNAL).unlink()
    return _state(new_token, new_generation)


# --- maintenance --------------------------------------------------------------------------------


def cleanup(root: Path, older_than: timedelta, dry_run: bool) -> list[str]:
    """Staging areas older than ``older_than`` (never one a crashed promote's journal names)."""
    staging_root = root / HIDDEN / "staging"
    if not staging_root.is_dir():
        return []
    pending = _pending(root)
    found = []
    for area in sorted(staging_root.iterdir()):
        created = staging_created(area.name)
        if created is None or area.name == pending or created > _now() - older_than:
            continue
        files = local_files(area)
        found.append(
            f"staging {area.name} ({len(files)} files, {sum(f.size for f in files)} bytes) at {area}"
        )
        if not dry_run:
            discard(root, area.name)
    return found


def probe(root: Path) -> None:
    """Raise unless files can be written at ``root`` (its nearest existing folder); writes nothing
    that stays."""
    if root.exists() and not root.is_dir():
        raise HayakoeError(f"{root} is a file, not a folder: publish to a folder path")
    existing = root
    while not existing.exists():
        existing = existing.parent
    try:
        fd, probe_file = tempfile.mkstemp(prefix=".hayakoe-probe-", dir=existing)
    except OSError as exc:
        raise HayakoeError(
            f"cannot write to {existing} ({exc.strerror}): choose another folder or fix its permissions"
        ) from None
    os.close(fd)
    os.unlink(probe_file)
