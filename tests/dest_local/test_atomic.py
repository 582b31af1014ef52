"""The local destination's renames, lock and journal: a crash at any point leaves every speaker
folder old or new, never mixed, and never blocks the next publisher."""

import collections
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from hayakoe_core.errors import ConflictError, HayakoeError
from hayakoe_core.registry import get_registry
from hayakoe_core.testing import read_tree, write_tree
from hayakoe_core.types import new_staging_id
from hayakoe_dest_local import publish, snapshot, swap
from tests.support.mounts import small_disk

OLD = {"config.json": b"old", "a.bin": b"A" * 1000}
NEW = {"config.json": b"new", "b.bin": b"B" * 1000}
OTHER = {"config.json": b"other"}


def tree(root: Path, name: str, files: dict[str, bytes]) -> Path:
    return write_tree(root, {f"onnx/speakers/{name}/{rel}": data for rel, data in files.items()})


class Crash(Exception):
    pass


@pytest.fixture
def repo(tmp_path):
    store = get_registry().open(str(tmp_path / "repo"))
    store.upload(tree(tmp_path / "old", "spk", OLD))
    store.upload(tree(tmp_path / "other", "other", OTHER))
    return store, tmp_path / "repo"


def test_crash_between_renames_restores_old(repo, tmp_path, monkeypatch):
    store, root = repo
    real_rename = os.rename
    calls = []

    def rename(src, dst):
        calls.append(src)
        if len(calls) == 2:  # the live folder moved to trash; the new one never arrives
            raise Crash
        real_rename(src, dst)

    staging = store.stage(tree(tmp_path / "new", "spk", NEW), new_staging_id())
    monkeypatch.setattr(swap.os, "rename", rename)
    with pytest.raises(Crash):
        store.promote(staging, staging.base)
    monkeypatch.setattr(swap.os, "rename", real_rename)
    folder = root / "onnx/speakers/spk"
    assert not folder.exists()
    assert read_tree(store.fetch("onnx/speakers/spk", tmp_path / "cache")) == OLD  # from the trash
    assert store.list_speakers() == {"onnx": ["other", "spk"]}
    assert not folder.exists(), "readers rename nothing: only a writer, holding the lock, recovers"
    swap.recover(folder)  # what the next promote or delete does first
    assert sorted(p.name for p in folder.parent.iterdir()) == ["other", "spk"]


def test_crash_mid_promote_is_rolled_forward_by_the_next(repo, tmp_path, monkeypatch):
    store, root = repo
    two = write_tree(tmp_path / "two", {
        **{f"onnx/speakers/spk/{k}": v for k, v in NEW.items()},
        "onnx/speakers/third/config.json": b"third",
    })
    staging = store.stage(two, new_staging_id())
    real_swap = swap.swap_in

    def swap_once(new, folder):
        if folder.name == "third":
            raise Crash  # dies after the first speaker moved
        real_swap(new, folder)

    monkeypatch.setattr(swap, "swap_in", swap_once)
    with pytest.raises(Crash):
        store.promote(staging, staging.base)
    monkeypatch.setattr(swap, "swap_in", real_swap)
    assert read_tree(root / "onnx/speakers/spk") == NEW  # each folder is old or new, whole
    assert not (root / "onnx/speakers/third").exists()
    assert store.cleanup(timedelta(0)) == []  # the journal protects its staging area
    late = store.stage(tree(tmp_path / "late", "late", OTHER), new_staging_id())
    with pytest.raises(ConflictError):  # the roll-forward moved the state on
        store.promote(late, late.base)
    assert read_tree(root / "onnx/speakers/third") == {"config.json": b"third"}
    again = store.stage(tree(tmp_path / "late", "late", OTHER), late.id)
    store.promote(again, again.base)
    assert store.list_speakers() == {"onnx": ["late", "other", "spk", "third"]}


def test_crash_while_staging_keeps_live_and_leaves_no_staging(repo, tmp_path, monkeypatch):
    store, root = repo

    def fail(*args):
        raise Crash

    monkeypatch.setattr(publish, "_copy", fail)
    with pytest.raises(Crash):
        store.stage(tree(tmp_path / "new", "spk", NEW), new_staging_id())
    assert read_tree(root / "onnx/speakers/spk") == OLD
    assert not (root / ".hayakoe" / "staging").exists()


def test_upload_replaces_and_fetch_links_a_snapshot(repo, tmp_path):
    store, root = repo
    before = store.read_state()
    store.upload(tree(tmp_path / "new", "spk", NEW))
    fetched = store.fetch("onnx/speakers/spk", tmp_path / "cache")
    assert fetched == tmp_path / "cache/onnx/speakers/spk"
    assert read_tree(fetched) == NEW
    live = root / "onnx/speakers/spk"
    assert all((fetched / rel).samefile(live / rel) for rel in NEW), "hard links: no byte copied"
    assert store.read_state() != before  # an upload moves the state too: promotes notice it
    assert sorted(p.name for p in (root / ".hayakoe").iterdir()) == ["lock", "state.json"]


def test_fetching_an_unchanged_folder_again_keeps_the_snapshot_others_may_be_reading(repo, tmp_path):
    store, _ = repo
    first = store.fetch("onnx/speakers/spk", tmp_path / "cache")
    held = {rel: (first / rel).stat().st_ino for rel in OLD}
    folder = first.stat().st_ino
    again = store.fetch("onnx/speakers/spk", tmp_path / "cache")
    assert again == first and again.stat().st_ino == folder, "the snapshot was replaced"
    assert {rel: (again / rel).stat().st_ino for rel in OLD} == held
    store.upload(tree(tmp_path / "new", "spk", NEW))
    changed = store.fetch("onnx/speakers/spk", tmp_path / "cache")
    assert read_tree(changed) == NEW, "a changed folder is snapshotted again"


def test_a_fetch_meeting_the_old_folders_trash_being_emptied_reads_the_live_one(repo, tmp_path, monkeypatch):
    store, root = repo
    live = root / "onnx/speakers/spk"
    emptied = live.parent / ".spk.trash-0"  # what a reader meets mid-swap: the old one, being removed
    emptied.mkdir()
    answers, real = iter([emptied]), snapshot.swap.readable
    monkeypatch.setattr(snapshot.swap, "readable", lambda folder: next(answers, None) or real(folder))
    assert read_tree(store.fetch("onnx/speakers/spk", tmp_path / "cache")) == OLD


def test_read_file_meeting_a_swap_between_its_renames_reads_the_old_folder(repo):
    store, root = repo
    live = root / "onnx/speakers/spk"
    os.rename(live, live.parent / ".spk.trash-0")  # the old one moved aside, the new not yet in
    assert store.read_file("onnx/speakers/spk/config.json") == b"old"
    assert store.read_file("onnx/speakers/spk/missing.json") is None
    assert store.read_file("onnx/speakers/gone/config.json") is None


PADDED = {f"pad/{i}.bin": b"p" for i in range(30)}  # so that removing an old folder takes a while


@contextlib.contextmanager
def publishes_in_a_loop(root: Path, tmp_path: Path):
    """A thread swapping the speaker folder ``spk`` between OLD and NEW (each with PADDED) until
    the block ends (at most 2,000 swaps); yields a list holding how many swaps happened."""
    live = root / "onnx/speakers/spk"
    versions = [tree(tmp_path / f"v{i}", "spk", {**(NEW if i % 2 else OLD), **PADDED}) for i in range(2)]
    stop, swaps = threading.Event(), [0]

    def publish(round_: int) -> None:
        new = root / f"onnx/speakers/.incoming-{round_}"
        shutil.copytree(versions[round_ % 2] / "onnx/speakers/spk", new)
        swap.swap_in(new, live)

    def publisher():
        for round_ in range(1, 2001):
            if stop.is_set():
                return
            publish(round_)
            swaps[0] += 1

    publish(0)  # OLD padded, before any reader looks
    thread = threading.Thread(target=publisher)
    thread.start()
    try:
        yield swaps
    finally:
        stop.set()
        thread.join(60)
    assert swaps[0] >= 20, f"the reads overlapped too few swaps ({swaps[0]})"


def test_read_file_never_fails_or_misses_while_publishes_swap_the_folder(repo, tmp_path):
    store, root = repo
    seen = collections.Counter()
    with publishes_in_a_loop(root, tmp_path) as swaps:
        while swaps[0] < 300 and seen.total() < 20000:
            seen[store.read_file("onnx/speakers/spk/config.json")] += 1
    assert set(seen) <= {b"old", b"new"}, seen


def test_listing_never_fails_or_misses_while_publishes_swap_the_folder(repo, tmp_path):
    store, root = repo
    seen = collections.Counter()
    with publishes_in_a_loop(root, tmp_path) as swaps:
        for _ in range(5000):
            if swaps[0] >= 300:
                break
            seen[repr(store.list_speakers())] += 1
    assert set(seen) == {repr({"onnx": ["other", "spk"]})}, seen


def test_fetch_gets_one_version_whole_while_publishes_swap_the_folder(repo, tmp_path):
    store, root = repo
    seen = collections.Counter()
    with publishes_in_a_loop(root, tmp_path) as swaps:
        deadline = time.monotonic() + 30
        while swaps[0] < 60 and time.monotonic() < deadline:
            fetched = read_tree(store.fetch("onnx/speakers/spk", tmp_path / "cache"))
            names = {"old": OLD, "new": NEW}
            seen[next((n for n, v in names.items() if fetched == {**v, **PADDED}), repr(fetched))] += 1
    assert set(seen) <= {"old", "new"}, seen


def test_read_file_of_a_folder_that_never_settles_says_so_in_one_line(repo, monkeypatch):
    store, root = repo
    trashes = [root / f"onnx/speakers/.spk.trash-{i}" for i in range(2)]  # each emptied as it is read
    for trash in trashes:
        trash.mkdir()
    trashes = itertools.cycle(trashes)
    real = snapshot.swap.readable

    def readable(folder):
        return next(trashes) if folder.name == "spk" else real(folder)

    monkeypatch.setattr(snapshot.swap, "readable", readable)
    with pytest.raises(HayakoeError, match="kept changing while it was being read") as err:
        store.read_file("onnx/speakers/spk/config.json")
    assert "\n" not in str(err.value)


def test_fetch_reads_in_place_where_no_link_can_be_made(repo, tmp_path):
    store, root = repo
    with small_disk(tmp_path / "disk", "64k") as disk:  # another filesystem
        fetched = store.fetch("onnx/speakers/spk", disk / "cache")
        assert fetched == root / "onnx/speakers/spk" and read_tree(fetched) == OLD
        assert not any((disk / "cache").rglob("*.bin")), "nothing is copied"


HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from hayakoe_dest_local import publish
    with publish.locked(Path(sys.argv[1])):
        print("held", flush=True)
        time.sleep(60)
""")


def test_a_promote_in_progress_makes_others_busy_and_a_killed_holder_frees_the_lock(repo, tmp_path):
    store, root = repo
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        staging = store.stage(tree(tmp_path / "new", "spk", NEW), new_staging_id())
        with pytest.raises(ConflictError, match=f"pid {holder.pid}") as busy:
            store.promote(staging, staging.base)
        assert busy.value.busy
        assert read_tree(root / "onnx/speakers/spk") == OLD
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    store.promote(staging, staging.base)
    assert read_tree(root / "onnx/speakers/spk") == NEW


def test_probe_names_what_is_wrong(tmp_path):
    registry = get_registry()
    registry.open(str(tmp_path / "new" / "deeper")).probe()  # a folder that does not exist yet
    assert not (tmp_path / "new").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(HayakoeError, match="is a file, not a folder"):
        registry.open(str(tmp_path / "file")).probe()
    if os.geteuid() != 0:
        readonly = tmp_path / "ro"
        readonly.mkdir(mode=0o555)
        with pytest.raises(HayakoeError, match="cannot write to"):
            registry.open(str(readonly / "voices")).probe()
