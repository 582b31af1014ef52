"""Staging areas under ``<prefix>/.hayakoe/staging/<id>/``: staging a tree, discarding, cleanup.

A staging area is a repo tree of its own (its URL loads like any destination) plus an index,
``.staged.json``, recording for each staged file its sha256, its size, how it got there and, for a
file identical to the live one, the live object's ETag: promote copies only what differs from that
ETag (:mod:`hayakoe_dest_s3.promote`). A pre-copy adds ``.precopy.json``, the multipart uploads it
opened at live keys (:mod:`hayakoe_dest_s3.live_uploads`), which discard and cleanup abort with
the staging area.

Nothing is sent twice. For each file of the tree, in this order of preference:

* the staging area holds it already (an earlier call with the same id): nothing to do, ``reused``;
* the live file at the same path has the same sha256: copied inside the store, ``unchanged``
  (promote then leaves the live file alone);
* some live or staged object has the same sha256 (see :mod:`hayakoe_dest_s3.holdings`), or a file
  earlier in the same tree does: copied inside the store, ``reused``;
* otherwise it is uploaded, ``sent``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hayakoe_core.layout import LocalFile, local_files, speaker_dirs
from hayakoe_core.manifest import sha256_file
from hayakoe_core.progress import Progress
from hayakoe_core.types import Staging, Target, staging_created
from hayakoe_dest_s3 import live_uploads, state, transfer
from hayakoe_dest_s3.hidden import INDEX, RECORDS, STAGING, staging_folder, staging_target
from hayakoe_dest_s3.holdings import live_holdings
from hayakoe_dest_s3.parallel import run_all
from hayakoe_dest_s3.remote import (
    RemoteFile,
    abort_upload,
    delete_keys,
    incomplete_uploads,
    list_folders,
    list_objects,
    remote_files,
)

_INDEX_FORMAT = "hayakoe-s3-staging"


@dataclass(frozen=True)
class _Step:
    """How one file of the tree gets into the staging area."""

    relpath: str
    path: Path
    size: int
    sha256: str
    transfer: str  # "sent", "reused" or "unchanged"
    source: str | None = None  # the key to copy from; None: upload (sent) or already there
    live_etag: str | None = None  # for "unchanged": the live object's ETag


def read_index(client: Any, bucket: str, folder: str) -> dict[str, dict[str, Any]]:
    """The index of the staging area at ``folder`` (repo path → entry); ``{}`` if it has none."""
    try:
        data = client.get_object(Bucket=bucket, Key=f"{folder}/{INDEX}")["Body"].read()
    except client.exceptions.NoSuchKey:
        return {}
    doc = json.loads(data)
    return doc["files"] if doc.get("format") == _INDEX_FORMAT else {}


def _write_index(client: Any, bucket: str, folder: str, files: dict[str, dict[str, Any]]) -> None:
    body = json.dumps({"format": _INDEX_FORMAT, "version": 1, "files": files}, indent=1, sort_keys=True)
    client.put_object(
        Bucket=bucket, Key=f"{folder}/{INDEX}", Body=body.encode(), ContentType="application/json"
    )


def staged_files(client: Any, bucket: str, folder: str) -> dict[str, RemoteFile]:
    """The files of the staging area at ``folder`` by repo path (its own records left out)."""
    listing = remote_files(list_objects(client, bucket, folder), folder)
    return {f.relpath: f for f in listing if f.relpath not in RECORDS}


def _plan(
    client: Any, target: Target, local_dir: Path, folder: str, digests: Mapping[str, str]
) -> tuple[list[_Step], dict[str, dict[str, Any]], list[str]]:
    """The steps for each file of the tree, the index as it was, and staged keys to remove (in
    speaker folders the tree replaces)."""
    bucket = target.location
    files = local_files(local_dir)
    shas = {f.relpath: digests[f.relpath] for f in files if f.relpath in digests}

    def hash_one(f: LocalFile) -> None:
        shas[f.relpath] = sha256_file(f.path)

    run_all(hash_one, [f for f in files if f.relpath not in shas])
    index = read_index(client, bucket, folder)
    staged = staged_files(client, bucket, folder)
    live = live_holdings(client, target, {f.relpath: f.size for f in files})
    sources = {h.sha256: h.key for h in live.values()}
    sources |= {e["sha256"]: f"{folder}/{rel}" for rel, e in index.items() if rel in staged}
    steps = []
    for f in files:
        sha, here = shas[f.relpath], live.get(f.relpath)
        live_etag = here.etag if here is not None and here.sha256 == sha else None
        how = "unchanged" if live_etag else "reused"
        if index.get(f.relpath, {}).get("sha256") == sha and f.relpath in staged:
            source = None  # staged already
        elif live_etag and here is not None:
            source = here.key
        elif sha in sources:
            source = sources[sha]
        else:
            how, source = "sent", None
            sources[sha] = f"{folder}/{f.relpath}"  # later duplicates in the tree copy this one
        steps.append(_Step(f.relpath, f.path, f.size, sha, how, source, live_etag))
    replaced = speaker_dirs(shas)
    stale = [
        rel for rel in staged if rel not in shas and any(rel.startswith(s + "/") for s in replaced)
    ]
    return steps, index, stale


def stage(
    client: Any,
    target: Target,
    local_dir: Path,
    staging_id: str,
    progress: Progress,
    digests: Mapping[str, str],
) -> Staging:
    """Stage the repo tree ``local_dir`` under ``staging_id`` (see the module docstring), taking
    the sha256 of the files ``digests`` names from it."""
    bucket = target.location
    base = state.read(client, target).doc.state()
    folder = staging_folder(target, staging_id)
    url = staging_target(target, staging_id).url
    fresh = next(list_objects(client, bucket, folder), None) is None

    def key(step: _Step) -> str:
        return f"{folder}/{step.relpath}"

    try:
        steps, index, stale = _plan(client, target, local_dir, folder, digests)
        uploads = [s for s in steps if s.transfer == "sent"]
        copies = [s for s in steps if s.source is not None]
        with progress.bar(f"upload → {url}", sum(s.size for s in uploads)) as bar:
            run_all(lambda s: transfer.upload(client, bucket, key(s), s.path, s.sha256, bar), uploads)
        if copies:
            with progress.bar(f"copy inside the store → {url}", sum(s.size for s in copies)) as bar:
                run_all(lambda s: transfer.copy(client, bucket, s.source, key(s), bar), copies)
        delete_keys(client, bucket, [f"{folder}/{rel}" for rel in stale])
        entries = {rel: e for rel, e in index.items() if rel not in stale}
        for s in steps:
            entries[s.relpath] = {
                "sha256": s.sha256, "size": s.size, "transfer": s.transfer, "live_etag": s.live_etag
            }
        _write_index(client, bucket, folder, entries)
    except BaseException:
        if fresh:
            with suppress(Exception):  # already failing: that error is the one to report
                _delete_folder(client, bucket, folder)
        raise
    return Staging(staging_id, url, base, tuple((s.relpath, s.transfer) for s in steps))


def _delete_folder(client: Any, bucket: str, folder: str) -> None:
    delete_keys(client, bucket, [obj["Key"] for obj in list_objects(client, bucket, folder)])


def _pending(client: Any, target: Target) -> str | None:
    """The staging area an unfinished promote still needs (cleanup and discard keep it)."""
    lease = state.read(client, target).doc.lease
    return lease.staging if lease else None


def _abort_all(client: Any, bucket: str, uploads: Iterable[dict[str, Any]]) -> None:
    for upload in uploads:
        abort_upload(client, bucket, upload["Key"], upload["UploadId"])


def discard(client: Any, target: Target, staging_id: str) -> None:
    """Remove the staging area ``staging_id`` (its objects, any multipart upload a stage cut
    short left under it, and the uploads a pre-copy opened at live keys) unless an unfinished
    promote still needs it."""
    if _pending(client, target) == staging_id:
        return
    bucket, folder = target.location, staging_folder(target, staging_id)
    _abort_all(client, bucket, incomplete_uploads(client, bucket, f"{folder}/"))
    live_uploads.abort(client, bucket, folder, target.prefix)
    _delete_folder(client, bucket, folder)


def cleanup(client: Any, target: Target, older_than: timedelta, dry_run: bool) -> list[str]:
    """Staging areas and incomplete multipart uploads under the target older than ``older_than``,
    removed (aborted, with the uploads a staging area's pre-copy opened) unless ``dry_run``; one
    line each."""
    bucket = target.location
    cutoff = datetime.now(UTC) - older_than
    pending = _pending(client, target)
    found = []
    # Listed first, so that a dry run names the same uploads as the real one.
    under = f"{target.prefix}/" if target.prefix else ""
    stale = [u for u in incomplete_uploads(client, bucket, under) if u["Initiated"] <= cutoff]
    for staging_id in list_folders(client, bucket, target.join(STAGING)):
        created = staging_created(staging_id)
        if created is None or created > cutoff or staging_id == pending:
            continue
        folder = staging_folder(target, staging_id)
        objects = list(list_objects(client, bucket, folder))
        if not objects:  # SeaweedFS lists a folder emptied by a discard until it is reused
            continue
        files = [f for f in remote_files(objects, folder) if f.relpath not in RECORDS]
        size = sum(f.size for f in files)
        found.append(f"staging {staging_id} ({len(files)} files, {size} bytes) at s3://{bucket}/{folder}")
        if not dry_run:
            live_uploads.abort(client, bucket, folder, target.prefix)
            delete_keys(client, bucket, [obj["Key"] for obj in objects])
    for upload in stale:
        started = upload["Initiated"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        found.append(f"incomplete multipart upload of s3://{bucket}/{upload['Key']} (started {started})")
    if not dry_run:
        _abort_all(client, bucket, stale)
    return found
