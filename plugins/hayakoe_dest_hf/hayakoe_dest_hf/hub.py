"""The HF destination's storage operations, on top of ``huggingface_hub``.

Conventions, all the client's own: the endpoint is ``huggingface_hub.constants.ENDPOINT``
(``HF_ENDPOINT``) read at call time; the token is the target's credential when the caller gave
one, else the client's resolution (``HF_TOKEN``, else the saved token file); ``HF_HUB_OFFLINE``
serves fetches from the client's cache.

* Upload is **one commit** on the target revision (:func:`hayakoe_dest_hf.commits.commit_tree`:
  each speaker folder of the tree replaces the remote one whole, files are handed to the client
  by path), with ``parent_commit`` set to the head read just before, so readers never see a mix
  and a concurrent writer makes the upload fail rather than interleave. A missing repo is
  created **private** (speakers are published deliberately; switch visibility on the Hub); a
  missing branch is created from ``main``. Publishing with verification in between is
  :mod:`hayakoe_dest_hf.publish`.
* Fetch resolves the revision to a commit, lists the prefix (every path checked with
  ``safe_relpath``), then ``snapshot_download`` s only that prefix into ``cache_dir``, which
  downloads atomically and skips files already cached. ``.incomplete`` files a killed download
  left there are removed first (the caller holds the folder's lock).
* Every call goes through :func:`hayakoe_dest_hf.session.hub_call`: bounded waits, no client
  chatter, one-line errors.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import httpx2
from huggingface_hub import (
    CommitOperationDelete,
    HfApi,
    constants,
    snapshot_download,
)
from huggingface_hub.errors import EntryNotFoundError, OfflineModeIsEnabled
from huggingface_hub.hf_api import RepoFile, RepoFolder
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from hayakoe_core.errors import HayakoeError, NotFoundError
from hayakoe_core.hf_url import DEFAULT_REVISION
from hayakoe_core.layout import (
    LocalFile,
    local_files,
    relpath_under,
    speaker_dirs,
    speakers_from_paths,
)
from hayakoe_core.paths import safe_relpath, speaker_prefix
from hayakoe_core.progress import Progress
from hayakoe_core.types import Target
from hayakoe_dest_hf.commits import commit_tree, listing
from hayakoe_dest_hf.errors import is_missing
from hayakoe_dest_hf.progress import ByteCounter, download_tqdm
from hayakoe_dest_hf.session import hub_call

_COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")
def _api(target: Target) -> HfApi:
    """A client for ``target``: the caller's credential (``TTS(hf_token=...)``) when it gave one,
    else the client's own token resolution."""
    return HfApi(endpoint=constants.ENDPOINT, token=target.credential)


def _revision(target: Target) -> str:
    return target.revision or DEFAULT_REVISION


def branch_to_write(target: Target) -> str:
    """The branch writes go to; HayakoeError if the URL pins a commit."""
    revision = _revision(target)
    if _COMMIT_SHA.match(revision):
        raise HayakoeError(f"{target.url} names a commit: publish to a branch (hf://repo@branch)")
    return revision


def upload(target: Target, local_dir: Path, prefix: str, progress: Progress) -> None:
    """One commit that replaces each staged speaker folder and writes every staged file."""
    revision = branch_to_write(target)
    files = local_files(local_dir)
    api, repo = _api(target), target.location
    with hub_call(target):
        api.create_repo(repo, private=True, exist_ok=True)
        if revision != DEFAULT_REVISION:
            api.create_branch(repo, branch=revision, exist_ok=True)
        head = api.repo_info(repo, revision=revision).sha
        remote = listing(api, repo, head)
        commit_tree(
            api, repo, revision, head, files,
            base=target.join(safe_relpath(prefix, allow_empty=True)),
            remote=remote, live=remote, progress=progress,
            label=f"upload → {target.url}", message=commit_message("upload", files),
        )  # fmt: skip


def commit_message(verb: str, files: list[LocalFile]) -> str:
    folders = speaker_dirs(f.relpath for f in files)
    what = ", ".join(folders) if folders else ", ".join(f.relpath for f in files[:3])
    return f"hayakoe: {verb} {what or 'nothing'}"


def fetch(target: Target, prefix: str, cache_dir: Path, progress: Progress) -> Path:
    """Download ``<target>/<prefix>/`` (only that) into the client cache under ``cache_dir``."""
    path = target.join(safe_relpath(prefix))
    api, repo = _api(target), target.location
    for leftover in cache_dir.rglob("*.incomplete") if cache_dir.is_dir() else ():
        leftover.unlink(missing_ok=True)
    with hub_call(target, path):
        revision = api.resolve_revision(repo, revision=_revision(target), cache_dir=cache_dir)
        try:
            sizes = _listing(api, repo, revision.resolved, path)
        except (OfflineModeIsEnabled, httpx2.TransportError):
            sizes = None  # unreachable: serve only what an earlier, checked fetch cached
        if sizes == {}:
            raise NotFoundError(f"nothing at {target.url}/{path}")
        total = sum(sizes.values()) if sizes is not None else None
        with progress.bar(f"download {target.url}/{path}", total) as bar:
            counter = ByteCounter(bar, total or 0)
            snapshot = snapshot_download(
                repo,
                revision=revision,
                allow_patterns=[f"{path}/*"],
                cache_dir=cache_dir,
                endpoint=api.endpoint,
                token=target.credential,
                local_files_only=sizes is None,
                tqdm_class=download_tqdm(counter),
            )
            counter.finish()
    folder = Path(snapshot, *path.split("/"))
    if not folder.is_dir():
        raise NotFoundError(f"nothing at {target.url}/{path}")
    return folder


def _listing(api: HfApi, repo: str, commit: str, path: str) -> dict[str, int]:
    """Sizes of the files under ``path`` at ``commit`` (``{}``: none); UnsafePathError for ``..``."""
    try:
        entries = api.list_repo_tree(repo, path_in_repo=path, recursive=True, revision=commit)
        sizes = {e.path: e.size for e in entries if isinstance(e, RepoFile)}
    except EntryNotFoundError:
        sizes = {}
    for remote in sizes:
        if relpath_under(remote, path) is None:
            raise HayakoeError(f"the Hub listed {remote!r} outside {path!r}")
    return sizes


def list_speakers(target: Target) -> dict[str, list[str]]:
    """Speakers at the target's revision; ``{}`` for a missing repo or revision.

    The revision is resolved first, in one request without retries, so an unreachable Hub fails
    at once instead of in the listing's retry loop.
    """
    api = _api(target)
    with hub_call(target):
        try:
            commit = api.repo_info(target.location, revision=_revision(target)).sha
        except Exception as exc:
            if is_missing(exc):
                return {}
            raise
        paths = api.list_repo_files(target.location, revision=commit)
    return speakers_from_paths(paths)


def read_file(target: Target, path: str) -> bytes | None:
    """``<target>/<path>`` at the target's revision in one GET, uncached; None if absent."""
    remote = target.join(safe_relpath(path))
    # Built here rather than by hf_hub_url, whose template is fixed when the client is imported.
    revision = quote(_revision(target), safe="")
    url = f"{constants.ENDPOINT}/{target.location}/resolve/{revision}/{quote(remote)}"
    with hub_call(target, remote):
        headers = build_hf_headers(token=target.credential)
        response = get_session().get(url, headers=headers, follow_redirects=True)
        try:
            hf_raise_for_status(response)
        except Exception as exc:
            if is_missing(exc) or isinstance(exc, EntryNotFoundError):
                return None
            raise
        return response.content


def delete_speaker(target: Target, repo_folder: str, name: str) -> bool:
    """One commit deleting ``<repo_folder>/speakers/<name>/``; False if it is not there."""
    folder = target.join(speaker_prefix(repo_folder, name))
    api, repo, revision = _api(target), target.location, _revision(target)
    with hub_call(target, folder):
        try:
            head = api.repo_info(repo, revision=revision).sha
        except Exception as exc:
            if is_missing(exc):
                return False
            raise
        entries = api.get_paths_info(repo, [folder], revision=head)
        if not any(isinstance(e, RepoFolder) for e in entries):
            return False
        api.create_commit(
            repo,
            [CommitOperationDelete(path_in_repo=f"{folder}/", is_folder=True)],
            commit_message=f"hayakoe: delete {folder}",
            revision=revision,
            parent_commit=head,
        )
    return True
