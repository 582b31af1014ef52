"""``zip:///abs/path/voices.zip``: a voice repo stored as one zip archive.

Every write builds a new archive beside the old one and renames it over, so readers see the old
archive or the new one, never a mix. Fetch extracts one prefix into the caller's cache folder and
reuses it while the archive is unchanged.
"""

from __future__ import annotations

import os
import shutil
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from hayakoe_core.atomic import replacing
from hayakoe_core.errors import NotFoundError, UrlError
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.layout import README, local_files, relpath_under, speaker_dirs, speakers_from_paths
from hayakoe_core.paths import speaker_prefix
from hayakoe_core.progress import NullProgress, Progress
from hayakoe_core.types import DestinationInfo, Target

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


def _rewrite(
    target: Target, keep: Callable[[str], bool], add: list[tuple[str, Path]], progress: Progress
) -> None:
    """Write a new archive holding the old entries ``keep`` accepts plus ``add``, then swap it in."""
    archive = Path(target.location)
    with replacing(archive) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as out:
        if archive.is_file():
            with zipfile.ZipFile(archive) as old:
                for info in old.infolist():
                    if keep(info.filename):
                        out.writestr(info, old.read(info))
        with progress.bar(f"zip → {archive.name}", sum(p.stat().st_size for _, p in add)) as bar:
            for name, path in add:
                out.write(path, name)
                bar.advance(path.stat().st_size)


@hookimpl
def hayakoe_upload(target: Target, local_dir: Path, prefix: str, progress: Progress) -> None:
    files = local_files(local_dir)
    root = target.join(prefix)
    full = [(f"{root}/{f.relpath}" if root else f.relpath, f.path) for f in files]
    replaced = [f"{root}/{d}/" if root else f"{d}/" for d in speaker_dirs(f.relpath for f in files)]
    written = {name for name, _ in full}
    _rewrite(
        target,
        lambda name: name not in written and not name.startswith(tuple(replaced)),
        full,
        progress,
    )


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
def hayakoe_read_readme(target: Target) -> str | None:
    data = hayakoe_read_file(target, README)
    return None if data is None else data.decode("utf-8")


@hookimpl
def hayakoe_delete_speaker(target: Target, repo_folder: str, name: str) -> bool:
    folder = target.join(speaker_prefix(repo_folder, name)) + "/"
    archive = Path(target.location)
    if not archive.is_file():
        return False
    with zipfile.ZipFile(archive) as zf:
        if not any(n.startswith(folder) for n in zf.namelist()):
            return False
    _rewrite(target, lambda n: not n.startswith(folder), [], NullProgress())
    return True
