"""S3 and S3-compatible storage: ``s3://bucket`` or ``s3://bucket/prefix``.

The endpoint comes from ``AWS_ENDPOINT_URL_S3`` (empty or unset = AWS), credentials from boto3's
standard chain, the region from ``AWS_REGION`` (passed to the client: botocore itself reads only
``AWS_DEFAULT_REGION``); see :mod:`hayakoe_dest_s3.client`.

S3 has no atomic folder swap, so an upload writes each speaker's files, then its
``manifest.json``, then removes the speaker's stale objects, and only then the loose files
(README, BERT): a reader that trusts the manifest never sees a mix. Fetch mirrors one prefix into
the cache, downloading only objects whose ETag or size changed (:mod:`hayakoe_dest_s3.fetch_state`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, TypeVar

from hayakoe_core.atomic import replacing
from hayakoe_core.errors import NotFoundError, UrlError
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.layout import (
    MANIFEST,
    LocalFile,
    local_files,
    speaker_dirs,
    speakers_from_paths,
)
from hayakoe_core.paths import safe_relpath, speaker_prefix
from hayakoe_core.progress import Bar, Progress
from hayakoe_core.types import DestinationInfo, Target
from hayakoe_dest_s3.client import FILE_WORKERS, connect, transfer_config
from hayakoe_dest_s3.fetch_state import FetchState
from hayakoe_dest_s3.remote import RemoteFile, delete_keys, list_objects, remote_files

NAME = "s3"
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_T = TypeVar("_T")


@hookimpl
def hayakoe_destination() -> DestinationInfo:
    return DestinationInfo(
        name=NAME,
        schemes=("s3",),
        description="S3 or S3-compatible storage (s3://bucket/prefix; AWS_ENDPOINT_URL_S3)",
        extra="s3",
    )


@hookimpl
def hayakoe_parse_url(url: str) -> Target | None:
    if not url.startswith("s3://"):
        return None
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise UrlError(
            f"{url!r}: {bucket!r} is not a valid bucket name (3-63 lowercase letters, digits, dots, hyphens)"
        )
    prefix = safe_relpath(prefix, allow_empty=True)
    shown = f"s3://{bucket}" + (f"/{prefix}" if prefix else "")
    return Target(plugin=NAME, scheme="s3", url=shown, location=bucket, prefix=prefix)


def _run_all(work: Callable[[_T], object], items: Iterable[_T]) -> None:
    """Run ``work`` on every item in a few threads; after the first failure start no more, let
    the running ones finish, and raise that failure."""
    with ThreadPoolExecutor(max_workers=FILE_WORKERS) as pool:
        futures = [pool.submit(work, item) for item in items]
        for pending in wait(futures, return_when=FIRST_EXCEPTION).not_done:
            pending.cancel()
    for future in futures:
        if not future.cancelled():
            future.result()


# --- upload -------------------------------------------------------------------------------------


@hookimpl
def hayakoe_upload(target: Target, local_dir: Path, prefix: str, progress: Progress) -> None:
    rel = safe_relpath(prefix, allow_empty=True)
    files = local_files(local_dir)
    speakers = set(speaker_dirs(f.relpath for f in files))

    def in_speaker(f: LocalFile) -> bool:
        return "/".join(f.relpath.split("/")[:3]) in speakers

    contents = [f for f in files if in_speaker(f) and f.path.name != MANIFEST]
    manifests = [f for f in files if in_speaker(f) and f.path.name == MANIFEST]
    loose = [f for f in files if not in_speaker(f)]
    keys = {f.relpath: target.join(rel, f.relpath) for f in files}
    with connect(target) as client, progress.bar(f"upload → {target}", sum(f.size for f in files)) as bar:
        bucket = target.location
        before = [
            obj["Key"]
            for speaker in sorted(speakers)
            for obj in list_objects(client, bucket, target.join(rel, speaker))
        ]

        def send(f: LocalFile) -> None:
            client.upload_file(
                str(f.path), bucket, keys[f.relpath], Config=transfer_config(), Callback=bar.advance
            )

        _run_all(send, contents)
        _run_all(send, manifests)
        uploaded = set(keys.values())
        delete_keys(client, bucket, [key for key in before if key not in uploaded])
        _run_all(send, loose)


# --- fetch --------------------------------------------------------------------------------------


def _download(client: Any, bucket: str, remote: RemoteFile, folder: Path, bar: Bar) -> None:
    """Download one object to ``folder/<relpath>`` by temporary name and rename."""
    with replacing(folder / remote.relpath) as tmp, tmp.open("wb") as fh:
        client.download_fileobj(bucket, remote.key, fh, Config=transfer_config(), Callback=bar.advance)


@hookimpl
def hayakoe_fetch(target: Target, prefix: str, cache_dir: Path, progress: Progress) -> Path:
    rel = safe_relpath(prefix, allow_empty=True)
    folder = cache_dir / rel
    remote_folder = target.join(rel)
    source = f"s3://{target.location}/{remote_folder}".rstrip("/")
    with connect(target) as client:
        remote = remote_files(list_objects(client, target.location, remote_folder), remote_folder)
        if not remote:
            raise NotFoundError(f"nothing at {source}")
        state = FetchState.load(cache_dir, rel)
        todo = [f for f in remote if not state.is_current(folder, f)]

        def fetch_one(f: RemoteFile) -> None:
            _download(client, target.location, f, folder, bar)
            state.record(folder, f)

        try:
            with progress.bar(f"download {source}", sum(f.size for f in todo)) as bar:
                _run_all(fetch_one, todo)
            state.drop_missing(folder, remote)
        finally:
            state.save()
    return folder


# --- reading, listing, delete ------------------------------------------------------------------


@hookimpl
def hayakoe_list_speakers(target: Target) -> dict[str, list[str]]:
    with connect(target) as client:
        remote = remote_files(list_objects(client, target.location, target.prefix), target.prefix)
    return speakers_from_paths(f.relpath for f in remote)


@hookimpl
def hayakoe_read_file(target: Target, path: str) -> bytes | None:
    key = target.join(safe_relpath(path))
    with connect(target) as client:
        try:
            return client.get_object(Bucket=target.location, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return None



@hookimpl
def hayakoe_delete_speaker(target: Target, repo_folder: str, name: str) -> bool:
    folder = target.join(speaker_prefix(repo_folder, name))
    with connect(target) as client:
        keys = [obj["Key"] for obj in list_objects(client, target.location, folder)]
        delete_keys(client, target.location, keys)
    return bool(keys)
