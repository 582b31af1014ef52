"""Changing the live content: promoting a staging area, deleting a speaker folder.

Every change runs under the lease of the state object (:mod:`hayakoe_dest_s3.state`):

1. read the state object; a lease someone holds → :class:`ConflictError` (busy), nothing done;
2. an abandoned lease (its holder died, stalled or was unlocked) → take it over and finish that
   work first (**roll forward**: the staging area it names is still there, since discard and
   cleanup keep it), which moves the state; a caller expecting a particular state then gets a
   :class:`ConflictError`, as if that publish had finished before it began;
3. the state is not the expected one → :class:`ConflictError`, nothing done;
4. claim the lease (conditional write; losing the race → busy), do the work, release the lease
   writing the new token.

Promoting a staging area writes live objects inside the store only, in an order that never shows
a reader a manifest whose files are not in place: every changed file of the staged speaker
folders, then their ``manifest.json`` files, then removal of the live files those folders no
longer have, then the loose files (the shared BERT, ``README.md`` last). A file staged as
identical to the live one is left alone when the live object still has the ETag it had then.
Each other file is made live by completing the multipart upload a pre-copy filled with its bytes
(:mod:`hayakoe_dest_s3.precopy`; no bytes move) when the pre-copy finished and the staged object
still has the ETag it copied, else by a server-side copy (in parts for big objects). Redoing a
promote (roll forward) is harmless: it completes the same uploads again or, the store having
forgotten them, copies the same staged bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from hayakoe_core.errors import ConflictError, NotFoundError
from hayakoe_core.layout import MANIFEST, README, speaker_dirs
from hayakoe_core.progress import NullProgress, Progress
from hayakoe_core.types import DestinationState, Target
from hayakoe_dest_s3 import live_uploads, state, transfer
from hayakoe_dest_s3.hidden import staging_folder, staging_target
from hayakoe_dest_s3.holdings import head
from hayakoe_dest_s3.parallel import run_all
from hayakoe_dest_s3.remote import delete_keys, list_objects, remote_files
from hayakoe_dest_s3.staging import read_index, staged_files


def _new_token() -> str:
    return uuid.uuid4().hex


def _step(held: state.Held, items: list[str], work: Callable[[list[str]], object]) -> None:
    """One change readers may see, made only while the lease is still ours."""
    held.check()
    if items:
        held.touch()
        work(items)


def apply(client: Any, target: Target, staging_id: str, held: state.Held, progress: Progress) -> None:
    """Make the staging area ``staging_id`` live (see the module docstring). A staging area that
    is gone leaves nothing to do."""
    bucket = target.location
    folder = staging_folder(target, staging_id)
    staged = staged_files(client, bucket, folder)
    index = read_index(client, bucket, folder)
    speakers = speaker_dirs(staged)

    def in_speaker(rel: str) -> bool:
        return any(rel.startswith(s + "/") for s in speakers)

    live: dict[str, str] = {}  # repo path → ETag
    for speaker in speakers:
        listing = list_objects(client, bucket, target.join(speaker))
        live |= {f.relpath: f.etag for f in remote_files(listing, target.prefix)}
    for rel in staged:
        if not in_speaker(rel) and index.get(rel, {}).get("live_etag"):
            response = head(client, bucket, target.join(rel))
            if response is not None:
                live[rel] = response["ETag"]

    def unchanged(rel: str) -> bool:
        recorded = index.get(rel, {}).get("live_etag")
        return recorded is not None and live.get(rel) == recorded

    todo = [rel for rel in sorted(staged) if not unchanged(rel)]
    stale = [target.join(rel) for rel in sorted(live) if in_speaker(rel) and rel not in staged]
    files = [rel for rel in todo if in_speaker(rel) and rel.rsplit("/", 1)[-1] != MANIFEST]
    manifests = [rel for rel in todo if in_speaker(rel) and rel.rsplit("/", 1)[-1] == MANIFEST]
    loose = [rel for rel in todo if not in_speaker(rel) and rel != README]
    readme = [rel for rel in todo if rel == README]
    total = sum(staged[rel].size for rel in todo)
    precopied = {  # uploads that hold the very object now staged at each path
        rel: upload
        for rel, upload in live_uploads.completed(client, bucket, folder).items()
        if rel in staged and upload.key == target.join(rel) and upload.source_etag == staged[rel].etag
    }
    with progress.bar(f"promote (inside the store) → {target}", total) as bar:

        def make_live(rel: str) -> None:
            upload = precopied.get(rel)
            if upload is not None and live_uploads.complete(client, bucket, upload):
                bar.advance(staged[rel].size)
            else:
                transfer.copy(client, bucket, staged[rel].key, target.join(rel), bar)

        def make_all_live(rels: list[str]) -> None:
            run_all(make_live, rels)

        _step(held, files, make_all_live)
        _step(held, manifests, make_all_live)
        _step(held, stale, lambda keys: delete_keys(client, bucket, keys))
        _step(held, loose, make_all_live)
        _step(held, readme, make_all_live)


def _delete_folder(client: Any, target: Target, folder: str, held: state.Held) -> None:
    """Remove a speaker folder, its manifest first (a reader never sees it without its files)."""
    bucket = target.location
    keys = [obj["Key"] for obj in list_objects(client, bucket, target.join(folder))]
    manifest = target.join(folder, MANIFEST)
    for batch in ([k for k in keys if k == manifest], [k for k in keys if k != manifest]):
        _step(held, batch, lambda keys: delete_keys(client, bucket, keys))


def _perform(
    client: Any, target: Target, lease: state.Lease, progress: Progress
) -> Callable[[state.Held], None]:
    """The work ``lease`` describes, as run by its holder or by whoever finishes it."""

    def work(held: state.Held) -> None:
        if lease.staging is not None:
            apply(client, target, lease.staging, held, progress)
        if lease.deleting is not None:
            _delete_folder(client, target, lease.deleting, held)

    return work


def _change(
    client: Any, target: Target, expected: DestinationState | None, lease: state.Lease, progress: Progress
) -> DestinationState:
    """Do what ``lease`` describes if the destination is in state ``expected`` (``None``:
    whatever it is); see the module docstring."""
    seen = state.read(client, target)
    if seen.held:
        raise state.busy(target, seen)
    if seen.abandoned:
        dead = seen.doc.lease
        assert dead is not None
        takeover = state.new_lease(dead.token, staging=dead.staging, deleting=dead.deleting)
        finish = _perform(client, target, takeover, progress)
        finished = state.exclusive(client, target, seen, takeover, finish)
        if expected is not None:
            raise ConflictError(
                f"{target} changed since staging: an interrupted publish ({state.describe(dead)}) "
                f"was finished first, making it {finished.state()}; stage again"
            )
        seen = state.read(client, target)
        if seen.held:
            raise state.busy(target, seen)
    if expected is not None and seen.doc.state() != expected:
        raise ConflictError(
            f"{target} changed since staging (it is at {seen.doc.state()}, expected {expected}): "
            "someone published meanwhile; stage again"
        )
    return state.exclusive(client, target, seen, lease, _perform(client, target, lease, progress)).state()


def promote(
    client: Any, target: Target, staging_id: str, expected: DestinationState | None, progress: Progress
) -> DestinationState:
    """Make the staging area ``staging_id`` live if the destination is still ``expected``."""
    if not staged_files(client, target.location, staging_folder(target, staging_id)):
        raise NotFoundError(
            f"staging area {staging_target(target, staging_id).url} is gone (discarded or cleaned "
            "up): stage again"
        )
    lease = state.new_lease(_new_token(), staging=staging_id)
    return _change(client, target, expected, lease, progress)


def delete_folder(client: Any, target: Target, folder: str) -> bool:
    """Remove the live folder ``folder`` (a speaker's), moving the state; whether it was there."""
    if next(list_objects(client, target.location, target.join(folder)), None) is None:
        return False
    _change(client, target, None, state.new_lease(_new_token(), deleting=folder), NullProgress())
    return True
