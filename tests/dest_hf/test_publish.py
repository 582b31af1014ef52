"""HF publishing against the test Hub, beyond the conformance suite: what goes over the wire.

Stage → promote on a branch and one compare-and-swap commit: promote sends no model bytes, makes
one commit, and the Hub's own refusals (412 moved, 409 busy) become ConflictErrors with nothing
changed; re-publishing what is live sends nothing; uploads hand the client file paths, so it
takes its Xet path when Xet is available.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from huggingface_hub import CommitOperationAdd, HfApi, constants

from hayakoe_core.errors import ConflictError, HayakoeError
from hayakoe_core.registry import Store, get_registry
from hayakoe_core.testing.destination import in_layout, read_tree, write_tree
from hayakoe_core.types import Staging, new_staging_id
from hayakoe_dest_hf.progress import ByteCounter, upload_progress
from tests.support.hub_fixtures import OTHER_TOKEN, READ_TOKEN
from tests.support.hubserver import FaultRule, HubServer

BINARY = bytes(range(256)) * 64  # binary: the Hub stores it with LFS
V1 = {"config.json": b'{"v": 1}', "synthesizer.onnx": BINARY, "duration_predictor.onnx": BINARY[::-1]}
V2 = {"config.json": b'{"v": 2}', "synthesizer.onnx": BINARY[5:] + BINARY[:5]}
OTHER = {"config.json": b'{"other": 1}', "synthesizer.onnx": BINARY[9:] + BINARY[:9]}


@pytest.fixture
def store(hub: HubServer, hub_repo: str) -> Store:
    return get_registry().open(f"hf://{hub_repo}")


@pytest.fixture
def live(store: Store, tmp_path: Path) -> Store:
    """The repo with speakers a (V1) and b (OTHER), published through stage → promote."""
    tree = {**in_layout("onnx", "a", V1), **in_layout("onnx", "b", OTHER), "README.md": b"# r\n"}
    publish(store, tree, tmp_path / "live")
    return store


def stage(store: Store, files: dict[str, bytes], tmp: Path, staging_id: str = "") -> Staging:
    return store.stage(write_tree(tmp, files), staging_id or new_staging_id())


def publish(store: Store, files: dict[str, bytes], tmp: Path) -> None:
    staging = stage(store, files, tmp)
    store.promote(staging, staging.base)
    store.discard(staging)


def fetch(store: Store, prefix: str, cache: Path) -> dict[str, bytes]:
    return read_tree(store.fetch(prefix, cache))


def calls(hub: HubServer, method: str, fragment: str) -> list[str]:
    return [path for m, path in hub.requests if m == method and fragment in path]


def lfs_puts(hub: HubServer) -> list[str]:
    return calls(hub, "PUT", "/_lfs/")


def commits(store: Store) -> int:
    return len(HfApi().list_repo_commits(store.target.location, revision=store.target.revision))


def test_promote_copies_from_the_staging_branch_in_one_commit(
    hub: HubServer, live: Store, tmp_path: Path
) -> None:
    staging = stage(live, {**in_layout("onnx", "a", V2), **in_layout("onnx", "c", OTHER)}, tmp_path / "t")
    assert lfs_puts(hub), "staging sends the new model bytes"
    before = commits(live)
    hub.clear_log()
    live.promote(staging, staging.base)
    assert lfs_puts(hub) == [] and calls(hub, "POST", "/objects/batch") == []
    assert len(calls(hub, "POST", "/commit/main")) == 1
    assert commits(live) == before + 1
    assert fetch(live, "onnx/speakers/a", tmp_path / "c") == V2  # duration_predictor.onnx removed
    assert fetch(live, "onnx/speakers/c", tmp_path / "c") == OTHER
    assert fetch(live, "onnx/speakers/b", tmp_path / "c") == OTHER


def test_staging_the_same_tree_again_sends_nothing(hub: HubServer, live: Store, tmp_path: Path) -> None:
    tree = {**in_layout("onnx", "a", V1), **in_layout("onnx", "b", OTHER), "README.md": b"# r\n"}
    hub.clear_log()
    staging = stage(live, tree, tmp_path / "same")
    assert dict(staging.transfers) == dict.fromkeys(tree, "unchanged")
    assert lfs_puts(hub) == []
    head = live.read_state()
    hub.clear_log()
    assert live.promote(staging, staging.base) == head
    assert calls(hub, "POST", "/commit/") == [], "nothing changed, so no commit"


def test_transfers_say_what_was_sent(hub: HubServer, live: Store, tmp_path: Path) -> None:
    new = {"config.json": b'{"v": 3}', "synthesizer.onnx": OTHER["synthesizer.onnx"], "x.onnx": BINARY[1:]}
    hub.clear_log()
    staging = stage(live, {**in_layout("onnx", "a", new), "README.md": b"# r\n"}, tmp_path / "t")
    assert dict(staging.transfers) == {
        "onnx/speakers/a/config.json": "sent",
        "onnx/speakers/a/synthesizer.onnx": "reused",  # speaker b's model: the repo holds it
        "onnx/speakers/a/x.onnx": "sent",
        "README.md": "unchanged",
    }
    assert len(lfs_puts(hub)) == 1


def test_a_stale_parent_commit_conflicts_and_changes_nothing(
    hub: HubServer, live: Store, tmp_path: Path
) -> None:
    staging = stage(live, in_layout("onnx", "a", V2), tmp_path / "t")
    # Another publisher commits after promote has checked the head but before its commit lands:
    # the Hub itself refuses the commit (412), not just promote's own check.
    with promoting(hub, live, staging, FaultRule("paths_info", "sleep:2"), "/paths-info/") as outcome:
        moved = hub.add_commit(live.target.location, {"elsewhere.txt": b"someone else"})
    assert isinstance(outcome[0], ConflictError) and not outcome[0].busy
    assert live.read_state().token == moved
    assert fetch(live, "onnx/speakers/a", tmp_path / "c") == V1


def test_a_commit_in_progress_makes_promote_busy(hub: HubServer, live: Store, tmp_path: Path) -> None:
    first = stage(live, in_layout("onnx", "a", V2), tmp_path / "t1")
    second = stage(live, in_layout("onnx", "c", OTHER), tmp_path / "t2")
    hold = FaultRule("commit", "hold:2.5")
    with (
        promoting(hub, live, first, hold, "/commit/main") as outcome,
        pytest.raises(ConflictError, match="in progress") as raised,
    ):
        live.promote(second, second.base)
    assert raised.value.busy
    assert outcome == [None]
    assert fetch(live, "onnx/speakers/a", tmp_path / "c") == V2
    assert live.list_speakers() == {"onnx": ["a", "b"]}


def test_busy_fault_rule(hub: HubServer, live: Store, tmp_path: Path) -> None:
    staging = stage(live, in_layout("onnx", "c", OTHER), tmp_path / "t")
    state = live.read_state()
    hub.set_faults([FaultRule("commit", "busy")])
    with pytest.raises(ConflictError) as raised:
        live.promote(staging, staging.base)
    assert raised.value.busy and "\n" not in str(raised.value)
    assert live.read_state() == state
    live.promote(staging, staging.base)  # the next try goes through
    assert live.list_speakers() == {"onnx": ["a", "b", "c"]}


def test_promote_creates_a_missing_branch_at_the_promote_commit(
    hub: HubServer, live: Store, tmp_path: Path
) -> None:
    dev = get_registry().open(f"{live.url}@dev")
    staging = stage(dev, in_layout("onnx", "c", OTHER), tmp_path / "t")
    assert staging.base.token == "" and dev.read_state().token == ""
    main = live.read_state()
    state = dev.promote(staging, staging.base)
    dev.discard(staging)
    assert dev.read_state() == state != main
    assert dev.list_speakers() == {"onnx": ["a", "b", "c"]}
    assert live.list_speakers() == {"onnx": ["a", "b"]} and live.read_state() == main
    branches = {b.name for b in HfApi().list_repo_refs(live.target.location).branches}
    assert branches == {"main", "dev"}, "no staging or scratch branch is left behind"


def test_a_branch_created_meanwhile_conflicts(hub: HubServer, live: Store, tmp_path: Path) -> None:
    dev = get_registry().open(f"{live.url}@dev")
    staging = stage(dev, in_layout("onnx", "c", OTHER), tmp_path / "t")
    HfApi().create_branch(live.target.location, branch="dev")
    with pytest.raises(ConflictError):
        dev.promote(staging, staging.base)
    assert dev.list_speakers() == {"onnx": ["a", "b"]}


def test_a_new_repo_is_private_and_its_state_is_empty_until_promoted(
    hub: HubServer, store: Store, tmp_path: Path
) -> None:
    assert store.read_state().token == ""
    staging = stage(store, in_layout("onnx", "a", V1), tmp_path / "t")
    assert HfApi().repo_info(store.target.location).private
    assert store.read_state().token == "" == staging.base.token, "the created repo holds nothing yet"
    assert store.list_speakers() == {}
    assert fetch(get_registry().open(staging.url), "onnx/speakers/a", tmp_path / "c") == V1
    store.promote(staging, staging.base)
    assert store.read_state().token != ""


def test_progress_comes_from_the_clients_upload_bars(hub: HubServer, store: Store, tmp_path: Path) -> None:
    files = {"onnx/speakers/a/synthesizer.onnx": BINARY, "onnx/speakers/a/d.onnx": BINARY[1:]}
    advances: list[int] = []

    class Recording:
        @contextmanager
        def bar(self, description: str, total: int | None, unit: str = "bytes") -> Iterator:
            class _Bar:
                def advance(self, amount: int) -> None:
                    advances.append(amount)

            yield _Bar()

    store.stage(write_tree(tmp_path / "t", files), new_staging_id(), Recording())
    # One advance per file as the client streams it: nothing is left for the final top-up.
    assert sorted(advances) == sorted(len(data) for data in files.values())


def test_a_readme_the_hub_refuses_is_a_one_line_error(hub: HubServer, store: Store, tmp_path: Path) -> None:
    with pytest.raises(HayakoeError, match=r"refused README\.md's metadata block .*not closed") as raised:
        stage(store, {"README.md": b"---\nlicense: other\n# no closing line\n"}, tmp_path / "t")
    assert "\n" not in str(raised.value)
    branches = {b.name for b in HfApi().list_repo_refs(store.target.location).branches}
    assert branches == {"main"}, "the staging branch this stage made is gone again"


def test_xet_progress_reaches_the_bar() -> None:
    # hf_xet calls the client's reporter with cumulative group reports (its GroupProgressReport
    # cannot be built from Python, hence the stand-in with the one field the bridge reads).
    advances: list[int] = []
    bar = type("Bar", (), {"advance": lambda self, n: advances.append(n)})()
    reporting = importlib.import_module("huggingface_hub.utils._xet_progress_reporting")
    with upload_progress(ByteCounter(bar, 100)):
        reporter = reporting.XetUploadProgressReporter()
        for done in (10, 10, 60, 100):
            reporter.update_progress(SimpleNamespace(total_bytes_completed=done), {})
        reporter.close()
    assert advances == [10, 50, 40]
    assert reporting.XetUploadProgressReporter.__module__ == reporting.__name__, "restored"


def test_uploads_take_the_xet_path_when_xet_is_available(
    hub: HubServer, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    pytest.importorskip("hf_xet")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
    caplog.set_level(logging.WARNING, logger="huggingface_hub")
    with pytest.raises(HayakoeError, match=r"Xet upload .* failed .*501.*HF_HUB_DISABLE_XET=1") as raised:
        stage(store, in_layout("onnx", "a", V1), tmp_path / "t")
    assert "\n" not in str(raised.value)
    assert calls(hub, "GET", "/xet-write-token/"), "the client asked for a Xet write token"
    assert lfs_puts(hub) == [] and calls(hub, "POST", "/objects/batch") == []
    assert "Falling back to HTTP upload" not in caplog.text
    assert {b.name for b in HfApi().list_repo_refs(store.target.location).branches} == {"main"}
    # The check above can fail: a file object makes the client fall back (and the upload works,
    # through LFS, which the test Hub speaks).
    with (tmp_path / "t" / "onnx/speakers/a/synthesizer.onnx").open("rb") as file:
        op = CommitOperationAdd("x.onnx", file)
        HfApi().create_commit(store.target.location, [op], commit_message="file object")
    assert "Falling back to HTTP upload" in caplog.text


def test_cleanup_finds_old_staging_branches_only(hub: HubServer, live: Store, tmp_path: Path) -> None:
    old = stage(live, in_layout("onnx", "c", OTHER), tmp_path / "old", "20200101T000000Z-0123456789ab")
    fresh = stage(live, in_layout("onnx", "d", OTHER), tmp_path / "new")
    found = live.cleanup(timedelta(days=1), dry_run=True)
    assert len(found) == 1 and old.id in found[0] and "hayakoe-staging-" in found[0]
    assert live.cleanup(timedelta(days=1)) == found
    branches = {b.name for b in HfApi().list_repo_refs(live.target.location).branches}
    assert branches == {"main", f"hayakoe-staging-{fresh.id}"}


def test_probe_names_what_to_fix(hub: HubServer, live: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    live.probe()
    monkeypatch.setenv("HF_TOKEN", READ_TOKEN)
    with pytest.raises(HayakoeError, match="from HF_TOKEN can only read"):
        live.probe()
    monkeypatch.setenv("HF_TOKEN", OTHER_TOKEN)
    with pytest.raises(HayakoeError, match="belongs to 'bob', who cannot write to 'alice'"):
        live.probe()
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token_at_all")
    with pytest.raises(HayakoeError, match="rejected the token") as raised:
        live.probe()
    assert "hf_not_a_real_token_at_all" not in str(raised.value)
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(HayakoeError, match=r"no Hugging Face token .*HF_TOKEN"):
        live.probe()


def test_find_credentials_names_the_source_without_network(
    hub: HubServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.clear_log()
    assert store.find_credentials() == "HF_TOKEN"
    monkeypatch.delenv("HF_TOKEN")
    assert store.find_credentials() is None
    saved = Path(constants.HF_TOKEN_PATH)
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text("hf_saved_login_token\n")
    try:
        found = store.find_credentials()
        assert found == f"saved login ({saved})" and "hf_saved_login_token" not in found
    finally:
        saved.unlink()
    assert hub.requests == []


@contextmanager
def promoting(
    hub: HubServer, store: Store, staging: Staging, fault: FaultRule, reached: str
) -> Iterator[list[BaseException | None]]:
    """Promote ``staging`` in another thread with ``fault`` set; the block runs once a POST to
    ``reached`` got to the Hub. Yields the list that holds the promote's exception (or None)
    after the block."""
    hub.clear_log()
    hub.set_faults([fault])
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            store.promote(staging, staging.base)
        except BaseException as exc:  # reported to the test thread
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        for _ in range(200):
            if calls(hub, "POST", reached):
                break
            time.sleep(0.02)
        else:
            raise AssertionError(f"no POST …{reached}… within 4 s")
        yield outcome
    finally:
        thread.join(30)
