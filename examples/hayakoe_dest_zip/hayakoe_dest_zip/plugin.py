"""``zip:///abs/path/voices.zip``: a voice repo stored as one zip archive.

Every write builds a new archive beside the old one and renames it over, so readers see the old
archive or the new one, never a mix. Fetch extracts one prefix into the caller's cache folder and
reuses it while the archive is unchanged.

Publishing: staging writes the staged tree into a hidden archive beside the live one
(``.voices.zip.staging-<id>.zip``, loadable as ``zip://…/.voices.zip.staging-<id>.zip``). Promote
takes an exclusive ``flock`` on ``.voices.zip.lock`` (released by the OS when its holder exits),
checks that the live archive is still the one staging saw (its inode, size and modification
time are the state), and renames a new archive — the live entries minus the replaced speaker
folders, plus the staged entries — over it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from urllib.parse import unquote

from hayakoe_core.atomic import replacing
from hayakoe_core.errors import ConflictError, NotFoundError, UrlError
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.layout import local_files, relpath_under, speaker_dirs, speakers_from_paths
from hayakoe_core.paths import speaker_prefix
from hayakoe_core.progress import NullProgress, Progress
from hayakoe_core.types import DestinationInfo, DestinationState, Staging, Target, staging_created

NAME = "zip"
_STAMP = ".zip-stamp"


@hookimpl
def hayakoe_destination() -> DestinationInfo:
    return DestinationInfo(
        name=NAME, schemes=("zip",), description="a voice repo in one zip archive", network=False
    )


@hookimpl
def hayakoe_parse_url(url: str) -> Target | None:
    if not url.startswith("zip://"):
        return None
    path = unquote(url[len("zip://") :])
    if not path.startswith("/") or not path.endswith(".zip"):
        raise UrlError(f"{url!r}: write zip:///absolute/path/to/archive.zip")
    archive = Path(path).resolve()
    return Target(plugin=NAME, scheme="zip", url=f"zip://{archive}", location=str(archive))


def _entries(target: Target) -> dict[str, zipfile.ZipInfo]:
    archive = Path(target.location)
    if not archive.is_file():
        return {}
    with zipfile.ZipFile(archive) as zf:
        found = {}
        for info in zf.infolist():
            rel = relpath_under(info.filename, target.prefix)
            if rel is not None and not info.is_dir():
                found[rel] = info
        return found


#: An entry to write: its name in the archive, its size, and how to read its bytes.
Entry = tuple[str, int, Callable[[], bytes]]


def _rewrite(target: Target, keep: Callable[[str], bool], add: list[Entry], progress: Progress) -> None:
    """Write a new archive holding the old entries ``keep`` accepts plus ``add``, then swap it in."""
    archive = Path(target.location)
    with replacing(archive) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as out:
        if archive.is_file():
            with zipfile.ZipFile(archive) as old:
                for info in old.infolist():
                    if keep(info.filename):
                        out.writestr(info, old.read(info))
        with progress.bar(f"zip → {archive.name}", sum(size for _, size, _ in add)) as bar:
            for name, size, read in add:
                out.writestr(name, read())
                bar.advance(size)


def _write_tree(target: Target, prefix: str, entries: list[Entry], progress: Progress) -> None:
    """Add a repo tree (entries named by repo path) under ``prefix``: each of its speaker folders
    replaces the archived one whole, other entries are written over."""
    root = target.join(prefix)
    full = [(f"{root}/{name}" if root else name, size, read) for name, size, read in entries]
    replaced = tuple(f"{root}/{d}/" if root else f"{d}/" for d in speaker_dirs(n for n, _, _ in entries))
    written = {name for name, _, _ in full}
    _rewrite(target, lambda name: name not in written and not name.startswith(replaced), full, progress)


@hookimpl
def hayakoe_upload(target: Target, local_dir: Path, prefix: str, progress: Progress) -> None:
    entries = [(f.relpath, f.size, f.path.read_bytes) for f in local_files(local_dir)]
    _write_tree(target, prefix, entries, progress)


@hookimpl
def hayakoe_fetch(target: Target, prefix: str, cache_dir: Path, progress: Progress) -> Path:
    archive = Path(target.location)
    wanted = {rel: info for rel, info in _entries(target).items() if rel.startswith(prefix + "/")}
    if not wanted:
        raise NotFoundError(f"nothing under {prefix!r} in {archive}")
    dest = cache_dir / prefix
    stat = archive.stat()
    stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
    if (dest / _STAMP).is_file() and (dest / _STAMP).read_text() == stamp:
        return dest
    staged = dest.parent / f".{dest.name}.staging-{uuid.uuid4().hex}"
    try:
        with (
            zipfile.ZipFile(archive) as zf,
            progress.bar(f"unzip {prefix}", sum(i.file_size for i in wanted.values())) as bar,
        ):
            for rel, info in wanted.items():
                out = staged / rel[len(prefix) + 1 :]
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, out.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
                bar.advance(info.file_size)
        staged.mkdir(parents=True, exist_ok=True)
        (staged / _STAMP).write_text(stamp)
        if dest.exists():
            shutil.rmtree(dest)
        os.rename(staged, dest)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return dest


@hookimpl
def hayakoe_list_speakers(target: Target) -> dict[str, list[str]]:
    return speakers_from_paths(_entries(target))


@hookimpl
def hayakoe_read_file(target: Target, path: str) -> bytes | None:
    info = _entries(target).get(path)
    if info is None:
        return None
    with zipfile.ZipFile(target.location) as zf:
        return zf.read(info)



@hookimpl
def hayakoe_delete_speaker(target: Target, repo_folder: str, name: str) -> bool:
    folder = target.join(speaker_prefix(repo_folder, name)) + "/"
    archive = Path(target.location)
    if not archive.is_file():
        return False
    with zipfile.ZipFile(archive) as zf:
        if not any(n.startswith(folder) for n in zf.namelist()):
            return False
    _rewrite(target, lambda name: not name.startswith(folder), [], NullProgress())
    return True


# --- publishing ---------------------------------------------------------------------------------


def _staging_archive(target: Target, staging_id: str) -> Path:
    archive = Path(target.location)
    return archive.with_name(f".{archive.name}.staging-{staging_id}.zip")


@hookimpl
def hayakoe_read_state(target: Target) -> DestinationState:
    try:
        stat = Path(target.location).stat()
    except FileNotFoundError:
        return DestinationState("")
    return DestinationState(f"{stat.st_ino}-{stat.st_size}-{stat.st_mtime_ns}", f"{stat.st_size} bytes")


def _staged_target(target: Target, staging_id: str) -> Target:
    staged = _staging_archive(target, staging_id)
    return Target(plugin=NAME, scheme="zip", url=f"zip://{staged}", location=str(staged))


@hookimpl
def hayakoe_stage(target: Target, local_dir: Path, staging_id: str, progress: Progress) -> Staging:
    base = hayakoe_read_state(target)
    staged = _staged_target(target, staging_id)
    hayakoe_upload(staged, local_dir, "", progress)
    transfers = tuple((f.relpath, "sent") for f in local_files(local_dir))
    return Staging(staging_id, staged.url, base, transfers)


@hookimpl
def hayakoe_promote(
    target: Target, staging: Staging, expected: DestinationState, progress: Progress
) -> DestinationState:
    archive, staged = Path(target.location), _staging_archive(target, staging.id)
    with archive.with_name(f".{archive.name}.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConflictError(f"another publish to {archive} is in progress", busy=True) from None
        if hayakoe_read_state(target) != expected:
            raise ConflictError(f"{archive} changed since staging: someone published meanwhile")
        if not staged.is_file():
            raise NotFoundError(f"staging archive {staged} is gone: stage again")
        with zipfile.ZipFile(staged) as zf:
            entries = [
                (info.filename, info.file_size, partial(zf.read, info))
                for info in zf.infolist()
                if not info.is_dir()
            ]
            _write_tree(target, "", entries, progress)
    return hayakoe_read_state(target)


@hookimpl
def hayakoe_discard(target: Target, staging: Staging) -> None:
    _staging_archive(target, staging.id).unlink(missing_ok=True)


@hookimpl
def hayakoe_cleanup(target: Target, older_than: timedelta, dry_run: bool) -> list[str]:
    archive = Path(target.location)
    found = []
    for staged in sorted(archive.parent.glob(f".{archive.name}.staging-*.zip")):
        staging_id = staged.name[len(f".{archive.name}.staging-") : -len(".zip")]
        created = staging_created(staging_id)
        if created is not None and created <= datetime.now(UTC) - older_than:
            found.append(f"staging {staging_id} ({staged.stat().st_size} bytes) at {staged}")
            if not dry_run:
                staged.unlink(missing_ok=True)
    return found
