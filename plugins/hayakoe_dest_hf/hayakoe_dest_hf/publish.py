"""Publishing to a Hub repo: stage on a branch, promote with one compare-and-swap commit.

* **State** is the head commit of the target revision. ``""`` (nothing promoted there) when the
  repo or the branch does not exist, or the branch holds nothing but ``.gitattributes`` (the
  Hub's initial commit of a new repo).
* **Stage** works on the branch ``hayakoe-staging-<id>`` of the target repo, created from the
  target's head (from ``main`` when the target branch does not exist yet; a missing repo is
  created **private**: speakers are published deliberately, switch visibility on the Hub). One
  commit puts the tree there (see :mod:`hayakoe_dest_hf.commits`: files given by path, so the
  client uses Xet and skips what the repo already holds), together with
  ``.hayakoe/staging.json``, the record of what was staged under this id (speaker folders and
  files) that promote reads. Staging again under the same id commits onto the same branch and
  extends the record. The staged URL is ``hf://org/repo@hayakoe-staging-<id>``.
* **Promote** is one commit on the target branch with ``parent_commit`` = the expected head:
  each staged file is a ``CommitOperationCopy`` from the staging branch's head (LFS objects are
  referenced by oid, no byte is sent again; small regular files are re-added by the client), and
  the files of each replaced speaker folder that the staged folder lacks are deleted in the same
  commit. The Hub refuses the commit when the branch moved (412) or while another commit to the
  repo is running (409): both raise :class:`ConflictError` with nothing changed. The Hub
  serialises commits itself and a commit is all-or-nothing, so there is no lock to hold, no
  lease to expire and nothing to unlock after a publisher dies: its staging branch is all it
  leaves, and :func:`cleanup` removes it. A target branch that does not exist yet is created
  pointing at the promote commit, made on a short-lived ``hayakoe-promote-<id>`` branch from
  the staging's start; creating a branch that exists fails (409), so this too is
  compare-and-swap.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from huggingface_hub import CommitOperationAdd, CommitOperationCopy, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError

from hayakoe_core.errors import ConflictError, HayakoeError, NotFoundError
from hayakoe_core.hf_url import DEFAULT_REVISION, hf_url
from hayakoe_core.layout import local_files, speaker_dirs
from hayakoe_core.paths import safe_relpath
from hayakoe_core.progress import Progress
from hayakoe_core.types import DestinationState, Staging, Target, staging_created
from hayakoe_dest_hf import hub
from hayakoe_dest_hf.commits import commit_tree, listing, stale_files
from hayakoe_dest_hf.errors import is_missing
from hayakoe_dest_hf.session import hub_call

STAGING_PREFIX = "hayakoe-staging-"
PROMOTE_PREFIX = "hayakoe-promote-"
RECORD = ".hayakoe/staging.json"
_EMPTY_TREE = {".gitattributes"}


def staging_branch(staging_id: str) -> str:
    return STAGING_PREFIX + staging_id


def _head(api: HfApi, repo: str, revision: str) -> str | None:
    """The head commit of ``revision``; ``None`` if the repo or the revision does not exist."""
    return _info(api, repo, revision)[0]


def _info(api: HfApi, repo: str, revision: str) -> tuple[str | None, DestinationState]:
    """``(head, state)`` of ``revision``: the head is ``None`` when it does not exist."""
    try:
        info = api.repo_info(repo, revision=revision)
    except Exception as exc:
        if is_missing(exc):
            return None, DestinationState("")
        raise
    files = {s.rfilename for s in info.siblings or ()}
    if files <= _EMPTY_TREE:
        return info.sha, DestinationState("")
    return info.sha, DestinationState(info.sha, f"commit {info.sha[:7]}")


def read_state(target: Target) -> DestinationState:
    """The target's state now: one ``repo_info`` request."""
    with hub_call(target):
        return _info(hub._api(target), target.location, hub._revision(target))[1]


# --- staging ------------------------------------------------------------------------------------


def _read_record(target: Target, commit: str) -> dict[str, Any] | None:
    data = hub.read_file(replace(target, revision=commit, prefix=""), RECORD)
    return None if data is None else json.loads(data)


def stage(target: Target, local_dir: Path, staging_id: str, progress: Progress) -> Staging:
    """Commit the tree onto the staging branch (made from the target's head if new)."""
    revision, repo = hub.branch_to_write(target), target.location
    branch, api = staging_branch(staging_id), hub._api(target)
    files = local_files(local_dir)
    with hub_call(target):
        head, base = _info(api, repo, revision)
        if head is None:
            api.create_repo(repo, private=True, exist_ok=True)
        parent, record, fresh = _open_staging(api, target, branch, staging_id, head)
        try:
            remote = listing(api, repo, parent)
            live = remote if parent == head else listing(api, repo, head) if head else {}
            record = _extend(record, [f.relpath for f in files])
            commit = commit_tree(
                api, repo, branch, parent, files,
                base="", remote=remote, live=live, progress=progress,
                label=f"stage → {hf_url(repo, branch)}", message=hub.commit_message("stage", files),
                extra=[CommitOperationAdd(RECORD, json.dumps(record, indent=1).encode())],
            )  # fmt: skip
        except BaseException:
            if fresh:  # this call made the branch: take it away again
                with suppress(Exception):
                    _delete_branch(api, repo, branch)
            raise
    return Staging(staging_id, hf_url(repo, branch), base, commit.transfers)


def _open_staging(
    api: HfApi, target: Target, branch: str, staging_id: str, head: str | None
) -> tuple[str, dict[str, Any], bool]:
    """The staging branch's head, its record, and whether this call created it (from ``head``,
    else from ``main``, with an empty record)."""
    repo = target.location
    parent = _head(api, repo, branch)
    if parent is not None:
        record = _read_record(target, parent) or {}
        if record.get("id") != staging_id:
            raise HayakoeError(f"branch {branch} of {repo} is not a hayakoe staging area: delete it")
        return parent, record, False
    start = head or _head(api, repo, DEFAULT_REVISION)
    if start is None:
        raise NotFoundError(f"{repo} has no branch {DEFAULT_REVISION} to start {target.revision} from")
    api.create_branch(repo, branch=branch, revision=start)
    return start, {"id": staging_id, "target": target.revision, "start": start}, True


def _extend(record: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """``record`` after staging ``paths``: their speaker folders replace the ones staged before."""
    speakers = speaker_dirs(paths)
    kept = [p for p in record.get("files", []) if not any(p.startswith(s + "/") for s in speakers)]
    return {
        "format": "hayakoe-staging",
        "version": 1,
        **record,
        "speakers": sorted({*record.get("speakers", []), *speakers}),
        "files": sorted({*kept, *paths}),
    }


def discard(target: Target, staging: Staging) -> None:
    """Delete the staging branch (fine if it is gone)."""
    with hub_call(target):
        _delete_branch(hub._api(target), target.location, staging_branch(staging.id))


def _delete_branch(api: HfApi, repo: str, branch: str) -> None:
    try:
        api.delete_branch(repo, branch=branch)
    except Exception as exc:
        if not is_missing(exc):
            raise


# --- promote ------------------------------------------------------------------------------------


def promote(
    target: Target, staging: Staging, expected: DestinationState, progress: Progress
) -> DestinationState:
    revision, repo, api = hub.branch_to_write(target), target.location, hub._api(target)
    with hub_call(target):
        source = _head(api, repo, staging_branch(staging.id))
        record = _read_record(target, source) if source else None
        if record is None:
            raise NotFoundError(
                f"staging {staging.id} is gone from {repo} (discarded or cleaned up): stage again"
            )
        head, current = _info(api, repo, revision)
        if current != expected:
            raise ConflictError(
                f"{target.url} changed since staging (it is at {current}, expected {expected}): "
                "someone published meanwhile"
            )
        with progress.bar(f"promote → {target.url}", None, unit="files"):
            if head is not None:
                sha = _commit_copies(api, target, revision, head, record, source)
            else:
                sha = _create_branch_at_copies(api, target, revision, record, source, staging.id)
    return DestinationState(sha, f"commit {sha[:7]}")


def _commit_copies(
    api: HfApi, target: Target, branch: str, parent: str, record: dict[str, Any], source: str
) -> str:
    """One commit on ``branch`` at ``parent`` making the staged files live; its sha."""
    staged = [safe_relpath(p) for p in record["files"]]  # read back from the Hub: check
    speakers = [safe_relpath(p) for p in record["speakers"]]
    deletions = [
        CommitOperationDelete(path)
        for path in stale_files(speakers, set(staged), listing(api, target.location, parent))
    ]
    copies = [CommitOperationCopy(path, path, src_revision=source) for path in staged]
    info = api.create_commit(
        target.location,
        [*deletions, *copies],
        commit_message=f"hayakoe: publish {', '.join(speakers) or ', '.join(staged[:3])}",
        revision=branch,
        parent_commit=parent,
    )
    return info.oid


def _create_branch_at_copies(
    api: HfApi, target: Target, branch: str, record: dict[str, Any], source: str, staging_id: str
) -> str:
    """Create the missing ``branch`` at a promote commit made on a short-lived branch."""
    repo = target.location
    with _short_lived_branch(api, repo, PROMOTE_PREFIX + staging_id, record["start"]) as scratch:
        sha = _commit_copies(api, target, scratch, record["start"], record, source)
        try:
            api.create_branch(repo, branch=branch, revision=sha)
        except HfHubHTTPError as exc:
            if exc.response.status_code == 409:
                raise ConflictError(
                    f"{target.url} was created by someone else since staging: run the command again"
                ) from None
            raise
    return sha


@contextmanager
def _short_lived_branch(api: HfApi, repo: str, branch: str, start: str) -> Iterator[str]:
    _delete_branch(api, repo, branch)  # left by a promote that died
    api.create_branch(repo, branch=branch, revision=start)
    try:
        yield branch
    finally:
        with suppress(Exception):
            _delete_branch(api, repo, branch)


# --- maintenance --------------------------------------------------------------------------------


def cleanup(target: Target, older_than: timedelta, dry_run: bool) -> list[str]:
    """Staging (and promote scratch) branches of the repo whose id is older than ``older_than``."""
    api, repo = hub._api(target), target.location
    cutoff = datetime.now(UTC) - older_than
    found = []
    with hub_call(target):
        try:
            refs = api.list_repo_refs(repo)
        except Exception as exc:
            if is_missing(exc):
                return []
            raise
        for ref in refs.branches:
            prefix = next((p for p in (STAGING_PREFIX, PROMOTE_PREFIX) if ref.name.startswith(p)), None)
            created = staging_created(ref.name[len(prefix) :]) if prefix else None
            if created is None or created > cutoff:
                continue
            what = "staging" if prefix == STAGING_PREFIX else "unfinished promote"
            found.append(f"{what} {ref.name[len(prefix) :]} (branch {ref.name} of {repo})")
            if not dry_run:
                _delete_branch(api, repo, ref.name)
    return found
