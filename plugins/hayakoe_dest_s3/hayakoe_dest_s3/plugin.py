"""S3 and S3-compatible storage: ``s3://bucket`` or ``s3://bucket/prefix``.

The endpoint comes from ``AWS_ENDPOINT_URL_S3`` (empty or unset = AWS), credentials from boto3's
standard chain, the region from ``AWS_REGION`` (passed to the client: botocore itself reads only
``AWS_DEFAULT_REGION``), the checksum mode from ``AWS_REQUEST_CHECKSUM_CALCULATION`` (default
``when_required``, which R2 needs); see :mod:`hayakoe_dest_s3.client`. Fetch mirrors one prefix
into the cache, downloading only objects whose ETag or size changed
(:mod:`hayakoe_dest_s3.fetch_state`). A promote changes the live objects one by one, so a fetch
that downloaded anything mirrors the prefix again between two reads of the state object,
waiting while a lease is held (at most the lease's length) and repeating (bounded) when a change
overlapped it — the token moved, or a lease was held at either read — so a load gets one
version whole; the loader's manifest check remains the judge. A warm fetch (nothing to
download: the cache mirrors a listing that a finished fetch checked) costs one listing.

Publishing keeps its objects under ``<prefix>/.hayakoe/``, which readers never look at:

* ``staging/<id>/`` — a staged repo tree, loadable from its own URL, made without sending any
  byte the store already holds (server-side copies instead; :mod:`hayakoe_dest_s3.staging`).
* ``state.json`` — the state promotes compare against and the **lease** that makes them
  exclusive (:mod:`hayakoe_dest_s3.state`): a JSON object whose ``token`` is the
  ``DestinationState``, and which every change of the live content rewrites with conditional
  writes (``If-Match`` on the ETag just read, ``If-None-Match: *`` for the first), so of two
  publishers exactly one gets it. The lease names the holder, the staging area it promotes and
  the token it will set; the holder renews it every ``HAYAKOE_S3_LEASE_SECONDS / 4`` (default
  120 s / 4). A publisher that dies stops renewing: after ``HAYAKOE_S3_LEASE_SECONDS`` by the
  store's own clock (or at once after ``unlock``, or when its promote failed half-way), the next
  publisher takes the lease over and **rolls the dead promote forward** from its staging area,
  which discard and cleanup keep while a lease names it.

Promote (:mod:`hayakoe_dest_s3.promote`) writes inside the store: each staged speaker's changed
files, then its ``manifest.json``, then removes its stale live files, then the loose files,
``README.md`` last, so a reader never sees a manifest whose files are not in place. Each file
is a server-side copy (in parts for big objects) unless a **pre-copy** made while the publisher
verified (``hayakoe_prepare_promote``; :mod:`hayakoe_dest_s3.precopy`) already copied it into a
multipart upload at its live key, unseen by readers: then the promote only completes that
upload. ``upload`` is a stage and a promote in one; deleting a speaker also moves the state, so
a promote staged before either notices.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

from hayakoe_core.atomic import replacing
from hayakoe_core.errors import HayakoeError, NotFoundError
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.layout import speakers_from_paths
from hayakoe_core.paths import safe_relpath, speaker_prefix
from hayakoe_core.progress import Bar, Progress
from hayakoe_core.types import DestinationInfo, DestinationState, Setting, Staging, Target, new_staging_id
from hayakoe_dest_s3 import credentials, precopy, promote, state, urls
from hayakoe_dest_s3.client import connect, transfer_config
from hayakoe_dest_s3.fetch_state import FetchState
from hayakoe_dest_s3.hidden import HIDDEN, PROBE
from hayakoe_dest_s3.parallel import run_all
from hayakoe_dest_s3.remote import RemoteFile, list_objects, remote_files
from hayakoe_dest_s3.staging import cleanup as cleanup_staging
from hayakoe_dest_s3.staging import discard as discard_staging
from hayakoe_dest_s3.staging import stage as stage_tree


@hookimpl
def hayakoe_destination() -> DestinationInfo:
    return DestinationInfo(
        name=urls.NAME,
        schemes=("s3",),
        description="S3 or S3-compatible storage (s3://bucket/prefix; AWS_ENDPOINT_URL_S3)",
        extra="s3",
        settings=(
            Setting("HAYAKOE_S3_BUCKET", "S3 bucket", role="address", required=True),
            Setting("HAYAKOE_S3_PREFIX", "folder inside the bucket (empty: the bucket root)", role="address"),
            Setting("AWS_ACCESS_KEY_ID", "AWS access key ID"),
            Setting("AWS_SECRET_ACCESS_KEY", "AWS secret access key", secret=True),
            Setting("AWS_REGION", "region (empty: us-east-1 or the store's default)", role="option"),
            Setting(
                "AWS_ENDPOINT_URL_S3",
                "endpoint of an S3-compatible store (R2, MinIO, SeaweedFS; empty: AWS)",
                role="option",
            ),
            Setting(
                "AWS_REQUEST_CHECKSUM_CALCULATION",
                "upload checksums: when_required (default, works with R2) or when_supported",
                role="option",
            ),
            Setting(
                state.LEASE_ENV, "seconds before a dead publisher's lease lapses (default 120)", role="option"
            ),
        ),
        url_template="s3://{HAYAKOE_S3_BUCKET}/{HAYAKOE_S3_PREFIX}",
    )


@hookimpl
def hayakoe_parse_url(url: str) -> Target | None:
    return urls.parse(url)


# --- fetch --------------------------------------------------------------------------------------

#: How many times a fetch is made again when a change of the live content overlapped it.
FETCH_ATTEMPTS = 5


def _download(client: Any, bucket: str, remote: RemoteFile, folder: Path, bar: Bar) -> None:
    """Download one object to ``folder/<relpath>`` by temporary name and rename."""
    with replacing(folder / remote.relpath) as tmp, tmp.open("wb") as fh:
        client.download_fileobj(bucket, remote.key, fh, Config=transfer_config(), Callback=bar.advance)


@hookimpl
def hayakoe_fetch(target: Target, prefix: str, cache_dir: Path, progress: Progress) -> Path:
    rel = safe_relpath(prefix, allow_empty=True)
    with connect(target) as client:
        if _mirror(client, target, cache_dir, rel, progress):  # else it mirrored a finished state
            for _ in range(FETCH_ATTEMPTS):
                before = _version(client, target, wait=state.lease_seconds())
                _mirror(client, target, cache_dir, rel, progress, again=True)
                after = _version(client, target) if before is not None else None
                if before is None or after is None or state.unchanged_between(before, after):
                    break
    return cache_dir / rel


def _version(client: Any, target: Target, wait: float = 0.0) -> state.Seen | None:
    """The state object (once no lease is held, waiting at most ``wait`` s); ``None`` when this
    reader may not read it or it is unreadable: loading does not depend on it."""
    try:
        return state.settled(client, target, wait)
    except HayakoeError:
        return None
    except client.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("AccessDenied", "403"):
            return None
        raise


def _mirror(
    client: Any, target: Target, cache_dir: Path, rel: str, progress: Progress, *, again: bool = False
) -> int:
    """Download the objects under ``rel`` that the cache lacks or holds in another version;
    how many that was. ``again``: a check after a first mirror, which shows no bar for nothing."""
    folder = cache_dir / rel
    remote_folder = target.join(rel)
    source = f"s3://{target.location}/{remote_folder}".rstrip("/")
    remote = remote_files(list_objects(client, target.location, remote_folder), remote_folder)
    if not remote:
        raise NotFoundError(f"nothing at {source}")
    cached = FetchState.load(cache_dir, rel)
    todo = [f for f in remote if not cached.is_current(folder, f)]

    def fetch_one(f: RemoteFile) -> None:
        _download(client, target.location, f, folder, bar)
        cached.record(folder, f)

    try:
        if todo or not again:
            with progress.bar(f"download {source}", sum(f.size for f in todo)) as bar:
                run_all(fetch_one, todo)
        cached.drop_missing(folder, remote)
    finally:
        cached.save()
    return len(todo)


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
    with connect(target) as client:
        return promote.delete_folder(client, target, speaker_prefix(repo_folder, name))


@hookimpl
def hayakoe_upload(target: Target, local_dir: Path, prefix: str, progress: Progress) -> None:
    dest = urls.target_for(target.location, target.join(safe_relpath(prefix, allow_empty=True)))
    staging_id = new_staging_id()
    with connect(dest) as client:
        try:
            stage_tree(client, dest, local_dir, staging_id, progress, {})
            promote.promote(client, dest, staging_id, None, progress)
        except BaseException:
            with suppress(Exception):  # already failing: that error is the one to report
                discard_staging(client, dest, staging_id)
            raise
        discard_staging(client, dest, staging_id)


# --- publishing ---------------------------------------------------------------------------------


@hookimpl
def hayakoe_read_state(target: Target) -> DestinationState:
    with connect(target) as client:
        return state.read(client, target).doc.state()


@hookimpl
def hayakoe_stage(
    target: Target, local_dir: Path, staging_id: str, progress: Progress, digests: Mapping[str, str]
) -> Staging:
    with connect(target) as client:
        return stage_tree(client, target, local_dir, staging_id, progress, digests)


@hookimpl
def hayakoe_promote(
    target: Target, staging: Staging, expected: DestinationState, progress: Progress
) -> DestinationState:
    with connect(target) as client:
        return promote.promote(client, target, staging.id, expected, progress)


@hookimpl
def hayakoe_prepare_promote(target: Target, staging: Staging, progress: Progress) -> None:
    with connect(target) as client:
        precopy.prepare(client, target, staging.id, progress)


@hookimpl
def hayakoe_discard(target: Target, staging: Staging) -> None:
    with connect(target) as client:
        discard_staging(client, target, staging.id)


@hookimpl
def hayakoe_cleanup(target: Target, older_than: timedelta, dry_run: bool) -> list[str]:
    with connect(target) as client:
        return cleanup_staging(client, target, older_than, dry_run)


@hookimpl
def hayakoe_unlock(target: Target) -> str | None:
    with connect(target) as client:
        return state.unlock(client, target)


@hookimpl
def hayakoe_probe(target: Target) -> None:
    key = target.join(PROBE + uuid.uuid4().hex)
    with connect(target) as client:
        client.list_objects_v2(Bucket=target.location, Prefix=target.join(HIDDEN) + "/", MaxKeys=1)
        client.put_object(Bucket=target.location, Key=key, Body=b"probe", IfNoneMatch="*")
        client.delete_object(Bucket=target.location, Key=key)


@hookimpl
def hayakoe_find_credentials(target: Target) -> str | None:
    return credentials.find_credentials()
