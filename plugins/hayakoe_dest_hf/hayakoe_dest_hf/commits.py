"""One commit that puts a local repo tree onto a branch: what ``upload`` and ``stage`` send.

The commit holds, for each speaker folder in the tree, deletions of the branch's files in that
folder that the tree lacks (so the folder is replaced whole), and one ``CommitOperationAdd`` per
file **by path**: the client then uploads through Xet when it can (a file object would make it
fall back to LFS), skips files the branch already holds unchanged (its preupload check) and
sends no object the repo already stores (LFS batch / Xet deduplication). ``parent_commit`` makes
the commit fail, not interleave, when the branch moved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import EntryNotFoundError
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils.sha import git_hash

from hayakoe_core.layout import LocalFile, relpath_under, speaker_dirs
from hayakoe_core.progress import Progress
from hayakoe_dest_hf.progress import ByteCounter, upload_progress

Listing = dict[str, RepoFile]


def listing(api: HfApi, repo: str, commit: str) -> Listing:
    """Every file of ``repo`` at ``commit``, by path (with its git oid, size and LFS sha256)."""
    try:
        entries = api.list_repo_tree(repo, recursive=True, revision=commit)
        return {e.path: e for e in entries if isinstance(e, RepoFile)}
    except EntryNotFoundError:
        return {}


def stale_files(folders: Iterable[str], keep: set[str], remote: Listing) -> list[str]:
    """Files of ``remote`` inside ``folders`` that are not in ``keep``: what replacing each folder
    whole deletes. Remote paths are checked safe (UnsafePathError) before they are sent back."""
    return sorted(
        path
        for folder in folders
        for path in remote
        if relpath_under(path, folder) is not None and path not in keep
    )


@dataclass(frozen=True)
class Commit:
    """A commit made by :func:`commit_tree`: its sha and how each file got there (``TRANSFERS``)."""

    sha: str
    transfers: tuple[tuple[str, str], ...]


def commit_tree(
    api: HfApi,
    repo: str,
    branch: str,
    parent: str,
    files: list[LocalFile],
    *,
    base: str,
    remote: Listing,
    live: Listing,
    progress: Progress,
    label: str,
    message: str,
    extra: Iterable[CommitOperationAdd] = (),
) -> Commit:
    """Commit ``files`` (a repo tree, placed under ``base``) onto ``branch`` at ``parent``.

    ``remote`` lists the branch at ``parent``; ``live`` the destination readers see (the same
    listing unless staging), against which a file counts as ``"unchanged"``. ``extra`` operations
    go into the same commit. If nothing changes, the client makes no commit and ``sha`` is
    ``parent``'s branch head.
    """
    placed = {_join(base, f.relpath): f for f in files}
    folders = [_join(base, d) for d in speaker_dirs(f.relpath for f in files)]
    deletions = [CommitOperationDelete(path) for path in stale_files(folders, set(placed), remote)]
    additions = [CommitOperationAdd(path, str(f.path)) for path, f in placed.items()]
    total = sum(f.size for f in files)
    with progress.bar(label, total) as bar:
        counter = ByteCounter(bar, total)
        with upload_progress(counter):
            info = api.create_commit(
                repo,
                [*deletions, *additions, *extra],
                commit_message=message,
                revision=branch,
                parent_commit=parent,
            )
        counter.finish()
    known = {e.lfs.sha256 for e in (*remote.values(), *live.values()) if e.lfs}
    transfers = tuple(
        (op.path_in_repo, _transfer(op, placed[op.path_in_repo].path, remote, live, known))
        for op in additions
    )
    return Commit(info.oid, transfers)


def _transfer(op: CommitOperationAdd, local: Path, remote: Listing, live: Listing, known: set[str]) -> str:
    """How the client got ``op``'s content there, judged from the listings read before the commit:
    identical to the live file → ``unchanged``; to the branch's file or to an object the repo
    held → ``reused``; otherwise ``sent``."""
    sha256 = op.upload_info.sha256.hex()  # the client's hash (computed while uploading)

    def same(entry: RepoFile | None) -> bool:
        if entry is None or entry.size != op.upload_info.size:
            return False
        return entry.lfs.sha256 == sha256 if entry.lfs else entry.blob_id == git_hash(local.read_bytes())

    if same(live.get(op.path_in_repo)):
        return "unchanged"
    if same(remote.get(op.path_in_repo)) or sha256 in known:
        return "reused"
    return "sent"


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)
