"""Local and NFS folders: ``file:///abs/path``, ``/abs/path``, ``./rel/path``.

A fetch hard-links the folder's files into the cache, a snapshot taken whole, so that a publish
meanwhile never mixes two versions in one load; where links cannot be made it reads the folder in
place (:mod:`hayakoe_dest_local.snapshot`). Publishing stages in a hidden folder beside the
live ones and promotes by renames under an exclusive lock (:mod:`hayakoe_dest_local.publish`);
``upload`` is a stage and a promote in one. A crash at any point leaves every speaker folder old or
new, never mixed (:mod:`hayakoe_dest_local.swap`).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from hayakoe_core.errors import NotFoundError, UrlError
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.layout import speakers_from_paths
from hayakoe_core.paths import safe_relpath, speaker_prefix
from hayakoe_core.progress import Progress
from hayakoe_core.types import DestinationInfo, DestinationState, Setting, Staging, Target, new_staging_id
from hayakoe_dest_local import publish, snapshot, swap

NAME = "local"


@hookimpl
def hayakoe_destination() -> DestinationInfo:
    return DestinationInfo(
        name=NAME,
        schemes=("file",),
        description="a local or network folder (file:///abs/path, /abs/path, ./rel/path)",
        extra=None,
        network=False,
        settings=(Setting("HAYAKOE_LOCAL_PATH", "folder to publish to", role="address", required=True),),
        url_template="{HAYAKOE_LOCAL_PATH}",
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


# --- reading ------------------------------------------------------------------------------------


@hookimpl
def hayakoe_fetch(target: Target, prefix: str, cache_dir: Path, progress: Progress) -> Path:
    folder = _path(target, prefix)
    if not prefix:  # the whole store: the cache folder itself holds the caller's own state
        if not folder.is_dir() or not any(folder.iterdir()):
            raise NotFoundError(f"nothing at {folder}")
        return folder
    return snapshot.fetch(folder, cache_dir / safe_relpath(prefix))


@hookimpl
def hayakoe_read_file(target: Target, path: str) -> bytes | None:
    return snapshot.read_file(_path(target), path)


@hookimpl
def hayakoe_list_speakers(target: Target) -> dict[str, list[str]]:
    root = _path(target)
    if not root.is_dir():
        return {}
    paths = [
        f"{speakers.parent.name}/speakers/{name}/{rel}"
        for speakers in root.glob("*/speakers")
        for name in swap.names(speakers)
        for rel in snapshot.list_files(speakers / name)
    ]
    return speakers_from_paths(paths)


# --- writing ------------------------------------------------------------------------------------


@hookimpl
def hayakoe_upload(target: Target, local_dir: Path, prefix: str, progress: Progress) -> None:
    root = _path(target, prefix)
    staging_id = new_staging_id()
    try:
        publish.stage(root, local_dir, staging_id, progress)
        publish.promote(root, staging_id, None, progress)
    finally:
        publish.discard(root, staging_id)


@hookimpl
def hayakoe_delete_speaker(target: Target, repo_folder: str, name: str) -> bool:
    return swap.remove(_path(target, speaker_prefix(repo_folder, name)))


# --- publishing ---------------------------------------------------------------------------------


@hookimpl
def hayakoe_read_state(target: Target) -> DestinationState:
    return publish.read_state(_path(target))


@hookimpl
def hayakoe_stage(target: Target, local_dir: Path, staging_id: str, progress: Progress) -> Staging:
    return publish.stage(_path(target), local_dir, staging_id, progress)


@hookimpl
def hayakoe_promote(
    target: Target, staging: Staging, expected: DestinationState, progress: Progress
) -> DestinationState:
    return publish.promote(_path(target), staging.id, expected, progress)


@hookimpl
def hayakoe_discard(target: Target, staging: Staging) -> None:
    publish.discard(_path(target), staging.id)


@hookimpl
def hayakoe_cleanup(target: Target, older_than: timedelta, dry_run: bool) -> list[str]:
    return publish.cleanup(_path(target), older_than, dry_run)


@hookimpl
def hayakoe_probe(target: Target) -> None:
    publish.probe(_path(target))
