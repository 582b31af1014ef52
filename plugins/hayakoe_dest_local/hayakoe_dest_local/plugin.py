"""Local and NFS folders: ``file:///abs/path``, ``/abs/path``, ``./rel/path``.

Speakers are read in place (fetch copies nothing). Each uploaded speaker folder is staged beside
its destination and swapped in by renames, so a crash at any point leaves the old or the new folder
whole; loose files (README.md, BERT files) are written by temporary name and rename.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from hayakoe_core.atomic import replacing
from hayakoe_core.errors import NotFoundError, UrlError
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.layout import README, LocalFile, local_files, speaker_dirs, speakers_from_paths
from hayakoe_core.paths import safe_relpath, speaker_prefix
from hayakoe_core.progress import Bar, Progress
from hayakoe_core.types import DestinationInfo, Target

NAME = "local"
_CHUNK = 1 << 20


@hookimpl
def hayakoe_destination() -> DestinationInfo:
    return DestinationInfo(
        name=NAME,
        schemes=("file",),
        description="a local or network folder (file:///abs/path, /abs/path, ./rel/path)",
        extra=None,
        network=False,
    )


@hookimpl
def hayakoe_parse_url(url: str) -> Target | None:
    if url.startswith("file://"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise UrlError(f"{url!r}: file:// URLs take no host; write file:///abs/path")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise UrlError(f"{url!r}: write file:///abs/path")
    elif url.startswith(("/", "./", "../", "~")) or url in (".", ".."):
        path = url
    else:
        return None
    root = Path(path).expanduser().resolve()
    return Target(plugin=NAME, scheme="file", url=root.as_uri(), location=str(root))


def _path(target: Target, *parts: str) -> Path:
    rel = target.join(*(safe_relpath(p) for p in parts if p))
    return Path(target.location, *rel.split("/")) if rel else Path(target.location)


def _siblings(folder: Path, kind: str) -> list[Path]:
    return sorted(folder.parent.glob(f".{folder.name}.{kind}-*"))


def _recover(folder: Path) -> None:
    """Finish or undo a swap a crash interrupted: restore the old folder if the new never came."""
    trash = _siblings(folder, "trash") if folder.parent.is_dir() else []
    if trash and not folder.exists():
        os.rename(trash[-1], folder)
        trash = trash[:-1]
    for leftover in trash:
        shutil.rmtree(leftover, ignore_errors=True)


def _swap_in(staged: Path, folder: Path) -> None:
    """Replace ``folder`` by ``staged`` with renames only; removes the old one afterwards."""
    if folder.exists():
        trash = folder.parent / f".{folder.name}.trash-{uuid.uuid4().hex}"
        os.rename(folder, trash)
        os.rename(staged, folder)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(staged, folder)


def _copy(src: Path, out: Path, bar: Bar) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with src.open("rb") as fin, out.open("wb") as fout:
        while chunk := fin.read(_CHUNK):
            fout.write(chunk)
            bar.advance(len(chunk))
        fout.flush()
        os.fsync(fout.fileno())


def _upload_speaker(files: list[LocalFile], speaker_dir: str, folder: Path, bar: Bar) -> None:
    """Stage one speaker folder beside ``folder`` and swap it in."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    _recover(folder)
    staged = folder.parent / f".{folder.name}.staging-{uuid.uuid4().hex}"
    try:
        staged.mkdir()
        for f in files:
            _copy(f.path, staged / f.relpath[len(speaker_dir) + 1 :], bar)
        _swap_in(staged, folder)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def _upload_file(f: LocalFile, out: Path, bar: Bar) -> None:
    """Write one loose file by temporary name and rename."""
    with replacing(out) as tmp:
        _copy(f.path, tmp, bar)


@hookimpl
def hayakoe_upload(target: Target, local_dir: Path, prefix: str, progress: Progress) -> None:
    root = _path(target, prefix)
    files = local_files(local_dir)
    speakers = speaker_dirs(f.relpath for f in files)
    with progress.bar(f"copy → {root}", sum(f.size for f in files)) as bar:
        for speaker in speakers:
            inside = [f for f in files if f.relpath.startswith(speaker + "/")]
            _upload_speaker(inside, speaker, root / speaker, bar)
        for f in files:
            if not any(f.relpath.startswith(s + "/") for s in speakers):
                _upload_file(f, root / f.relpath, bar)


@hookimpl
def hayakoe_fetch(target: Target, prefix: str, cache_dir: Path, progress: Progress) -> Path:
    folder = _path(target, prefix)
    _recover(folder)
    if not folder.is_dir() or not any(folder.iterdir()):
        raise NotFoundError(f"nothing at {folder}")
    return folder


@hookimpl
def hayakoe_read_file(target: Target, path: str) -> bytes | None:
    file = _path(target, path)
    return file.read_bytes() if file.is_file() else None


@hookimpl
def hayakoe_list_speakers(target: Target) -> dict[str, list[str]]:
    root = _path(target)
    if not root.is_dir():
        return {}
    paths = []
    for speakers in root.glob("*/speakers"):
        for speaker in speakers.iterdir():
            if speaker.is_dir() and not speaker.name.startswith("."):
                _recover(speaker)
        paths += [f"{speakers.parent.name}/speakers/{f.relpath}" for f in local_files(speakers)]
    return speakers_from_paths(paths)


@hookimpl
def hayakoe_read_readme(target: Target) -> str | None:
    data = hayakoe_read_file(target, README)
    return None if data is None else data.decode("utf-8")


@hookimpl
def hayakoe_delete_speaker(target: Target, repo_folder: str, name: str) -> bool:
    folder = _path(target, speaker_prefix(repo_folder, name))
    _recover(folder)
    if not folder.exists():
        return False
    trash = folder.parent / f".{folder.name}.trash-{uuid.uuid4().hex}"
    os.rename(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)
    return True
