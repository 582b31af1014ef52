"""What the live destination already holds, by content, so that staging sends no byte twice.

The sha256 of a live file comes from its speaker folder's ``manifest.json`` (when the listed size
agrees with the manifest's) or from the object's own metadata (every object this plugin writes
records it: :mod:`hayakoe_dest_s3.transfer`). Only files that could match are looked at: the
speaker folders of the names being staged, in every repo folder (a speaker's config.json and
style vectors are the same for both backends), and the loose files being staged; a HEAD request
is spent only on an object whose size equals that of a file being staged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hayakoe_core.errors import HayakoeError
from hayakoe_core.layout import MANIFEST, speaker_dirs
from hayakoe_core.manifest import Manifest
from hayakoe_core.types import Target
from hayakoe_dest_s3.hidden import HIDDEN
from hayakoe_dest_s3.parallel import run_all
from hayakoe_dest_s3.remote import RemoteFile, list_folders, list_objects, remote_files
from hayakoe_dest_s3.transfer import stored_sha256


@dataclass(frozen=True)
class Holding:
    """A live object whose content is known: its key, its ETag and the sha256 of its bytes."""

    key: str
    etag: str
    sha256: str


def head(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The HEAD response for ``key``, ``None`` if there is no such object."""
    try:
        return client.head_object(Bucket=bucket, Key=key)
    except client.exceptions.ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise


def _manifest_entries(client: Any, bucket: str, key: str) -> dict[str, Any]:
    """The files a live manifest lists (path inside the speaker folder → entry); ``{}`` when it
    cannot be read as a manifest."""
    try:
        data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return dict(Manifest.parse(data, key).files)
    except (client.exceptions.NoSuchKey, HayakoeError):
        return {}


def live_holdings(client: Any, target: Target, sizes: Mapping[str, int]) -> dict[str, Holding]:
    """The live files (by repo path) whose content is known, among those that could match the
    files about to be staged (``sizes``: repo path → size)."""
    bucket = target.location
    wanted = set(sizes.values())
    staged_speakers = speaker_dirs(sizes)
    names = sorted({folder.split("/")[2] for folder in staged_speakers})
    repo_folders = [f for f in list_folders(client, bucket, target.prefix) if f != HIDDEN]
    candidates = [f"{repo}/speakers/{name}" for repo in repo_folders for name in names]
    loose = [rel for rel in sizes if not any(rel.startswith(s + "/") for s in staged_speakers)]
    found: list[tuple[str, Holding]] = []  # appended to from worker threads

    def known(remote: RemoteFile, sha256: str | None) -> None:
        if sha256:
            found.append((remote.relpath, Holding(remote.key, remote.etag, sha256)))

    def scan(folder: str) -> None:
        listing = remote_files(list_objects(client, bucket, target.join(folder)), target.prefix)
        manifest = f"{folder}/{MANIFEST}"
        entries = {}
        if any(f.relpath == manifest for f in listing):
            entries = _manifest_entries(client, bucket, target.join(manifest))
        for remote in listing:
            entry = entries.get(remote.relpath[len(folder) + 1 :])
            if entry is not None and entry.size == remote.size:
                known(remote, entry.sha256)
            elif remote.size in wanted:
                response = head(client, bucket, remote.key)
                known(remote, stored_sha256(response) if response else None)

    def scan_loose(rel: str) -> None:
        response = head(client, bucket, target.join(rel))
        if response is not None and response["ContentLength"] == sizes[rel]:
            remote = RemoteFile(target.join(rel), rel, response["ContentLength"], response["ETag"])
            known(remote, stored_sha256(response))

    run_all(scan, candidates)
    run_all(scan_loose, loose)
    return dict(found)
