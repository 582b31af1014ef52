"""``upfolder:///abs/path``: a destination plugin that can only upload, as a simple third-party
plugin would be: no state, no staging, no promote, files written in place in a real folder.

Publishing to it takes the upload-then-verify path (tests/publish/test_upload_only.py). Its
entry-point name is :data:`NAME`; the module is importable as ``tests.support.upload_only``
from the repository root.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from hayakoe_core.errors import NotFoundError, UrlError
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.layout import local_files, speaker_dirs, speakers_from_paths
from hayakoe_core.progress import Progress
from hayakoe_core.types import DestinationInfo, Target

NAME = SCHEME = "upfolder"


def _root(target: Target, *parts: str) -> Path:
    return Path(target.location).joinpath(*target.join(*parts).split("/"))


@hookimpl
def hayakoe_destination() -> DestinationInfo:
    return DestinationInfo(
        name=NAME, schemes=(SCHEME,), description="a folder written in place (upload only)", network=False
    )


@hookimpl
def hayakoe_parse_url(url: str) -> Target | None:
    if not url.startswith(f"{SCHEME}://"):
        return None
    path = url[len(f"{SCHEME}://") :]
    if not path.startswith("/"):
        raise UrlError(f"{url!r}: write {SCHEME}:///absolute/path")
    root = Path(path).resolve()
    return Target(plugin=NAME, scheme=SCHEME, url=f"{SCHEME}://{root}", location=str(root))


@hookimpl
def hayakoe_upload(target: Target, local_dir: Path, prefix: str, progress: Progress) -> None:
    """Each speaker folder of the tree replaces the live one (removed, then written: readers may
    see it half-written, which is why this destination cannot stage); other files are written over."""
    root = _root(target, prefix)
    files = local_files(local_dir)  # manifests last
    for folder in speaker_dirs(f.relpath for f in files):
        shutil.rmtree(root / folder, ignore_errors=True)
    with progress.bar(f"upload → {root}", sum(f.size for f in files)) as bar:
        for file in files:
            dest = root / file.relpath
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file.path, dest)
            bar.advance(file.size)


@hookimpl
def hayakoe_fetch(target: Target, prefix: str, cache_dir: Path, progress: Progress) -> Path:
    """The files are read in place: ``cache_dir`` is not used."""
    folder = _root(target, prefix)
    if not folder.is_dir():
        raise NotFoundError(f"{target.url}: nothing under {prefix or '/'}")
    return folder


@hookimpl
def hayakoe_read_file(target: Target, path: str) -> bytes | None:
    file = _root(target, path)
    return file.read_bytes() if file.is_file() else None


@hookimpl
def hayakoe_list_speakers(target: Target) -> dict[str, list[str]]:
    root = _root(target)
    return speakers_from_paths(f.relpath for f in local_files(root)) if root.is_dir() else {}
