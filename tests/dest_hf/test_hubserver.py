"""The test Hub speaks the protocol the real huggingface_hub client expects (spec hf-hub-http.md)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import CommitOperationCopy, HfApi, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile

from tests.support.hub_fixtures import TOKENS, WRITE_TOKEN
from tests.support.hubserver import FaultRule, HubServer

BINARY = bytes(range(256)) * 16


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "folder"
    (root / "sub dir").mkdir(parents=True)
    (root / "README.md").write_text("---\nlicense: mit\n---\n# hi\n")
    (root / "sub dir" / "weights.bin").write_bytes(BINARY)
    (root / "notes.txt").write_text("テキスト\n")
    return root


@pytest.fixture
def repo(hub: HubServer, hub_repo: str, folder: Path) -> str:
    api = HfApi()
    url = api.create_repo(hub_repo, private=True)
    assert url == f"{hub.url}/{hub_repo}"
    api.upload_folder(repo_id=hub_repo, folder_path=folder, commit_message="add")
    return hub_repo


def test_upload_list_download_round_trip(hub: HubServer, repo: str, folder: Path, tmp_path: Path) -> None:
    api = HfApi()
    assert sorted(api.list_repo_files(repo)) == [
        ".gitattributes", "README.md", "notes.txt", "sub dir/weights.bin",
    ]  # fmt: skip
    tree = {e.path: e for e in api.list_repo_tree(repo, recursive=True)}
    assert tree["sub dir/weights.bin"].lfs is not None  # binary → LFS
    assert tree["notes.txt"].lfs is None
    for name in ("sub dir/weights.bin", "notes.txt"):
        local = hf_hub_download(repo, name, cache_dir=tmp_path / "c")
        assert Path(local).read_bytes() == (folder / name).read_bytes()
    assert any(m == "PUT" and p.startswith("/_lfs/") for m, p in hub.requests)


def test_error_codes(hub: HubServer, repo: str, tmp_path: Path, monkeypatch) -> None:
    api = HfApi()
    with pytest.raises(RepositoryNotFoundError) as info:
        api.repo_info("alice/missing")
    assert info.value.response.status_code == 404
    with pytest.raises(RevisionNotFoundError):
        api.repo_info(repo, revision="nope")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo, "absent.txt", cache_dir=tmp_path / "c")
    with pytest.raises(HfHubHTTPError) as info:
        api.create_repo(repo)
    assert info.value.response.status_code == 409
    assert api.create_repo(repo, exist_ok=True) == f"{hub.url}/{repo}"
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(RepositoryNotFoundError) as info:
        api.repo_info(repo, token=False)
    assert info.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError, match="Invalid credentials") as info:
        api.repo_info(repo, token="hf_unknown")
    assert info.value.response.status_code == 401


def test_branches_refs_commits(hub: HubServer, repo: str) -> None:
    api = HfApi()
    api.create_branch(repo, branch="dev")
    api.upload_file(path_or_fileobj=b"dev only", path_in_repo="dev.txt", repo_id=repo,
                    revision="dev")  # fmt: skip
    assert "dev.txt" in api.list_repo_files(repo, revision="dev")
    assert "dev.txt" not in api.list_repo_files(repo)
    refs = api.list_repo_refs(repo)
    assert sorted(b.name for b in refs.branches) == ["dev", "main"]
    titles = [c.title for c in api.list_repo_commits(repo, revision="dev")]
    assert titles[-1] == "initial commit" and len(titles) == 3
    api.delete_branch(repo, branch="dev")
    with pytest.raises(RevisionNotFoundError):
        api.list_repo_files(repo, revision="dev")


def test_commit_is_atomic(hub: HubServer, repo: str) -> None:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    api = HfApi()
    head = api.repo_info(repo).sha
    ops = [
        CommitOperationAdd(path_in_repo="new.txt", path_or_fileobj=b"new"),
        CommitOperationDelete(path_in_repo="no/such/folder/", is_folder=True),
    ]
    with pytest.raises(EntryNotFoundError):
        api.create_commit(repo, ops, commit_message="bad")
    assert api.repo_info(repo).sha == head
    with pytest.raises(HfHubHTTPError, match="A commit has happened since") as info:
        api.create_commit(repo, ops[:1], commit_message="stale", parent_commit="0" * 40)
    assert info.value.response.status_code == 412


def test_copies_reference_lfs_objects_and_re_add_regular_files(hub: HubServer, repo: str) -> None:
    api = HfApi()
    api.create_branch(repo, branch="src")
    api.upload_file(path_or_fileobj=BINARY[1:], path_in_repo="d/w.bin", repo_id=repo, revision="src")
    hub.clear_log()
    ops = [
        CommitOperationCopy("d/w.bin", "copied/w.bin", src_revision="src"),
        CommitOperationCopy("notes.txt", "copied/notes.txt", src_revision="src"),
    ]
    api.create_commit(repo, ops, commit_message="copy")
    assert not [p for m, p in hub.requests if m == "PUT" or p.endswith("/objects/batch")]
    for path, source in (("copied/w.bin", "d/w.bin"), ("copied/notes.txt", "notes.txt")):
        copied = Path(hf_hub_download(repo, path)).read_bytes()
        assert copied == Path(hf_hub_download(repo, source, revision="src")).read_bytes()


def test_one_commit_at_a_time_per_repo(hub: HubServer, repo: str) -> None:
    api = HfApi()
    hub.clear_log()
    hub.set_faults([FaultRule("commit", "hold:2.5")])
    first = threading.Thread(target=api.upload_file, kwargs={
        "path_or_fileobj": b"first", "path_in_repo": "first.txt", "repo_id": repo})  # fmt: skip
    first.start()
    for _ in range(200):
        if [p for m, p in hub.requests if m == "POST" and "/commit/" in p]:
            break
        time.sleep(0.02)
    with pytest.raises(HfHubHTTPError, match="Another commit operation is in progress") as info:
        api.upload_file(path_or_fileobj=b"second", path_in_repo="second.txt", repo_id=repo)
    assert info.value.response.status_code == 409
    first.join(30)
    assert "first.txt" in api.list_repo_files(repo)
    hub.set_faults([FaultRule("commit", "busy")])
    with pytest.raises(HfHubHTTPError, match="Another commit operation is in progress"):
        api.upload_file(path_or_fileobj=b"second", path_in_repo="second.txt", repo_id=repo)


def test_pagination_and_ranges(tmp_path: Path) -> None:
    with HubServer(tmp_path / "root", TOKENS, page_size=2) as server:
        api = HfApi(endpoint=server.url, token=WRITE_TOKEN)
        api.create_repo("alice/paged")
        api.upload_folder(repo_id="alice/paged", folder_path=_folder(tmp_path, 5))
        server.clear_log()
        assert len(api.list_repo_files("alice/paged")) == 6
        assert len([p for _, p in server.requests if "/tree/" in p]) == 3
        url = f"{server.url}/alice/paged/resolve/main/f3.txt"
        auth = {"authorization": f"Bearer {WRITE_TOKEN}"}
        part = httpx2.get(url, headers={**auth, "Range": "bytes=2-4"})
        assert (part.status_code, part.content) == (206, b"le ")
        assert part.headers["Content-Range"] == "bytes 2-4/7"
        assert httpx2.get(url, headers={**auth, "Range": "bytes=50-"}).status_code == 416
        xet = httpx2.get(f"{server.url}/api/models/alice/paged/xet-write-token/main", headers=auth)
        assert xet.status_code == 501 and "HF_HUB_DISABLE_XET" in xet.headers["X-Error-Message"]


def _folder(tmp_path: Path, n: int) -> Path:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(n):
        (root / f"f{i}.txt").write_text(f"file {i}\n")
    return root


def test_faults_and_restart(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with HubServer(root, TOKENS) as server:
        api = HfApi(endpoint=server.url, token=WRITE_TOKEN)
        api.create_repo("alice/f")
        api.upload_file(path_or_fileobj=BINARY, path_in_repo="w.bin", repo_id="alice/f")
        server.set_faults([FaultRule("commit", "drop")])
        with pytest.raises(httpx2.RemoteProtocolError):
            api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/f")
        server.set_faults([FaultRule("tree", "503")])  # retried by the client
        assert "w.bin" in api.list_repo_files("alice/f")
    with HubServer(root, TOKENS) as again:  # state survives a restart
        api = HfApi(endpoint=again.url, token=WRITE_TOKEN)
        files = [e for e in api.list_repo_tree("alice/f") if isinstance(e, RepoFile)]
        assert {f.path for f in files} == {".gitattributes", "w.bin"}


def test_command_line(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.hubserver", "--port", "0", "--root",
         str(tmp_path), "--token", "tok=carol:write"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    try:
        url = proc.stdout.readline().strip()
        assert HfApi(endpoint=url, token="tok").whoami()["name"] == "carol"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
