"""Publishing to S3 beyond the shared conformance suite (real S3 server): nothing sent twice,
multipart copies, exclusive promotes, dead publishers, readers during a promote, cleanup."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hayakoe_core.errors import ConflictError
from hayakoe_core.layout import MANIFEST, README
from hayakoe_core.manifest import FileEntry, Manifest
from hayakoe_core.progress import Bar, NullProgress
from hayakoe_core.registry import Store, get_registry
from hayakoe_core.testing import read_tree, write_tree
from hayakoe_core.testing.destination import in_layout
from hayakoe_core.types import Staging, Target, new_staging_id
from hayakoe_dest_s3 import transfer
from tests.dest_s3.dying_publisher import DIED
from tests.dest_s3.helpers import RecordingProgress, objects, plugin_requests, watching
from tests.support.repo import make_repo

_MIB = 1 << 20
_ROOT = Path(__file__).resolve().parents[2]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def speaker(
    name: str, files: dict[str, bytes], folder: str = "onnx", created: str = "t0"
) -> dict[str, bytes]:
    """A speaker folder in repo layout with a real manifest listing ``files``."""
    entries = {rel: FileEntry(len(data), _sha(data)) for rel, data in files.items()}
    manifest = Manifest(name, folder, entries, "0" * 64, created=created).to_json().encode()
    return in_layout(folder, name, {**files, MANIFEST: manifest})


def inside(files: dict[str, bytes]) -> dict[str, bytes]:
    """The files of a one-speaker tree, by path inside the speaker folder."""
    return {rel.split("/", 3)[3]: data for rel, data in files.items()}


def model(seed: int, size: int = 300_000) -> bytes:
    """Distinct, incompressible-looking bytes of ``size``."""
    block = hashlib.sha256(str(seed).encode()).digest()
    return (block * (size // len(block) + 1))[:size]


V1 = {"config.json": b'{"v": 1}', "x.bin": model(1), "y.bin": model(2), "old.bin": b"only in v1"}
V2 = {"config.json": b'{"v": 2}', "x.bin": model(3), "y.bin": model(4), "new.bin": b"only in v2"}
C = {"config.json": b'{"c": 1}', "model.safetensors": model(5)}


@pytest.fixture
def store(target: Target) -> Store:
    return get_registry().open(target)


class Publisher:
    """Stages trees written under ``tmp`` and promotes them, as the publish flow does."""

    def __init__(self, store: Store, tmp: Path) -> None:
        self.store, self.tmp, self._n = store, tmp, 0

    def stage(self, files: dict[str, bytes], staging_id: str = "", progress: Any = None) -> Staging:
        self._n += 1
        tree = write_tree(self.tmp / f"tree{self._n}", files)
        return self.store.stage(tree, staging_id or new_staging_id(), progress or NullProgress())

    def publish(self, files: dict[str, bytes]) -> None:
        staging = self.stage(files)
        self.store.promote(staging, staging.base)
        self.store.discard(staging)

    def live(self, folder: str, name: str) -> dict[str, bytes]:
        self._n += 1
        return read_tree(self.store.fetch(f"{folder}/speakers/{name}", self.tmp / f"cache{self._n}"))


@pytest.fixture
def publisher(store: Store, tmp_path: Path) -> Publisher:
    return Publisher(store, tmp_path)


def _writes(calls: list[tuple[str, dict[str, Any]]], *ops: str) -> list[str]:
    return [params["Key"] for op, params in calls if op in ops]


# --- nothing sent twice ---------------------------------------------------------------------------


def test_republishing_an_unchanged_speaker_sends_no_model_bytes(publisher: Publisher, target: Target) -> None:
    publisher.publish({**speaker("a", V1), README: b"# voices\n"})
    again = speaker("a", V1, created="t1")  # a new manifest, the same model files
    progress = RecordingProgress()
    with plugin_requests() as calls:
        staging = publisher.stage(again, progress=progress)
    transfers = dict(staging.transfers)
    assert transfers.pop(f"onnx/speakers/a/{MANIFEST}") == "sent"
    assert set(transfers.values()) == {"unchanged"}
    manifest_size = len(again[f"onnx/speakers/a/{MANIFEST}"])
    assert progress.done("upload") == manifest_size, "only the manifest's bytes were sent"
    sent = _writes(calls, "PutObject", "CreateMultipartUpload", "UploadPart")
    assert sorted(key.rsplit("/", 1)[-1] for key in sent) == [".staged.json", MANIFEST]

    with plugin_requests() as calls:
        publisher.store.promote(staging, staging.base, progress)
    copied = _writes(calls, "CopyObject", "UploadPartCopy", "CompleteMultipartUpload")
    assert copied == [target.join(f"onnx/speakers/a/{MANIFEST}")], "promote touches only what changed"
    assert set(_writes(calls, "PutObject", "UploadPart")) == {target.join(".hayakoe/state.json")}
    assert publisher.live("onnx", "a") == inside(again)


def test_content_held_elsewhere_is_copied_inside_the_store(publisher: Publisher) -> None:
    publisher.publish(speaker("a", V1))
    # The torch files of the same speaker share config.json; speaker b has a file twice.
    torch_a = {"config.json": V1["config.json"], "model.safetensors": model(6)}
    twice = {"p": model(7), "q": model(7)}
    tree = {**speaker("a", torch_a, folder="pytorch"), **in_layout("onnx", "b", twice)}
    progress = RecordingProgress()
    staging = publisher.stage(tree, progress=progress)
    how = dict(staging.transfers)
    assert how["pytorch/speakers/a/config.json"] == "reused"
    assert how["pytorch/speakers/a/model.safetensors"] == "sent"
    assert sorted([how["onnx/speakers/b/p"], how["onnx/speakers/b/q"]]) == ["reused", "sent"]
    sent = sum(len(tree[rel]) for rel, h in staging.transfers if h == "sent")
    assert progress.done("upload") == sent < sum(len(data) for data in tree.values())
    publisher.store.promote(staging, staging.base)
    assert publisher.live("pytorch", "a") == inside(speaker("a", torch_a, folder="pytorch"))
    assert publisher.live("onnx", "b") == twice


def test_restaging_a_speaker_replaces_its_staged_folder(publisher: Publisher) -> None:
    first = publisher.stage(in_layout("onnx", "a", {"x": model(10), "y": model(11)}))
    again = publisher.stage(in_layout("onnx", "a", {"x": model(10)}), first.id)
    assert dict(again.transfers) == {"onnx/speakers/a/x": "reused"}, "already staged: nothing sent"
    staged = Publisher(get_registry().open(first.url), publisher.tmp / "staged")
    assert staged.live("onnx", "a") == {"x": model(10)}


def test_sha256_is_read_from_a_live_manifest(
    publisher: Publisher, target: Target, s3_admin: Any
) -> None:
    """Files another tool wrote (no sha256 metadata) are recognised through their manifest."""
    files = speaker("a", V1)
    for rel, data in files.items():
        s3_admin.put_object(Bucket=target.location, Key=target.join(rel), Body=data)
    transfers = dict(publisher.stage(files).transfers)
    assert transfers.pop(f"onnx/speakers/a/{MANIFEST}") == "sent"  # it lists no sha256 of its own
    assert set(transfers.values()) == {"unchanged"}


def test_big_objects_are_copied_in_parts(
    publisher: Publisher, target: Target, s3_admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "COPY_PART_BYTES", 5 * _MIB)  # the store's smallest part size
    big = model(8, 11 * _MIB)
    files = speaker("a", {"config.json": b"{}", "synthesizer.onnx": big})
    staging = publisher.stage(files)
    progress = RecordingProgress()
    with plugin_requests() as calls:
        publisher.store.promote(staging, staging.base, progress)
    key = target.join("onnx/speakers/a/synthesizer.onnx")
    assert _writes(calls, "UploadPartCopy") == [key] * 3
    assert key in _writes(calls, "CompleteMultipartUpload")
    assert key not in _writes(calls, "CopyObject", "PutObject", "UploadPart")
    assert progress.done("promote") == sum(len(data) for data in files.values())
    head = s3_admin.head_object(Bucket=target.location, Key=key)
    assert head["Metadata"]["sha256"] == _sha(big), "the copy keeps the sha256 metadata"
    assert s3_admin.get_object(Bucket=target.location, Key=key)["Body"].read() == big


# --- exclusive promotes ---------------------------------------------------------------------------


def _race(store: Store, stagings: dict[str, Staging]) -> dict[str, object]:
    """Promote every staging at the same moment, one thread each: name → "promoted" or the error."""
    start = threading.Barrier(len(stagings))
    outcome: dict[str, object] = {}

    def promote(name: str) -> None:
        start.wait()
        try:
            store.promote(stagings[name], stagings[name].base)
            outcome[name] = "promoted"
        except ConflictError as exc:
            outcome[name] = exc

    threads = [threading.Thread(target=promote, args=(name,)) for name in stagings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return outcome


def test_two_concurrent_promotes_one_wins_whole(publisher: Publisher) -> None:
    publisher.publish(speaker("a", V1))
    for round_ in range(3):
        versions = {
            "x": speaker("a", {**V2, "round": str(round_).encode()}, created="x"),
            "y": speaker("a", {**V1, "round": str(round_).encode()}, created="y"),
        }
        stagings = {name: publisher.stage(files) for name, files in versions.items()}
        outcome = _race(publisher.store, stagings)
        winners = [name for name, result in outcome.items() if result == "promoted"]
        assert len(winners) == 1 and len(outcome) == 2, outcome
        (loser,) = set(versions) - set(winners)
        assert isinstance(outcome[loser], ConflictError)
        assert publisher.live("onnx", "a") == inside(versions[winners[0]]), "one version whole, no mix"
        for staging in stagings.values():
            publisher.store.discard(staging)


def test_deleting_a_speaker_moves_the_state(publisher: Publisher) -> None:
    publisher.publish({**speaker("a", V1), **speaker("b", V2)})
    staging = publisher.stage(speaker("c", C))
    assert publisher.store.delete_speaker("onnx", "b")
    with pytest.raises(ConflictError) as raised:
        publisher.store.promote(staging, staging.base)
    assert not raised.value.busy
    assert publisher.store.list_speakers() == {"onnx": ["a"]}


class _StallingProgress:
    """A Progress whose first advance stalls ``seconds`` (a slow network), or raises."""

    def __init__(self, seconds: float = 0.0, fail: bool = False) -> None:
        self.seconds, self.fail, self.stalled = seconds, fail, threading.Event()

    @contextmanager
    def bar(self, description: str, total: int | None, unit: str = "bytes") -> Iterator[Bar]:
        progress = self

        class _Bar:
            def advance(self, amount: int) -> None:
                if not progress.stalled.is_set():
                    progress.stalled.set()
                    if progress.fail:
                        raise ConnectionResetError("simulated network failure")
                    time.sleep(progress.seconds)

        yield _Bar()


def test_a_slow_promote_keeps_its_lease(publisher: Publisher, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAYAKOE_S3_LEASE_SECONDS", "1")
    publisher.publish(speaker("a", V1))
    slow, other = publisher.stage(speaker("a", V2)), publisher.stage(speaker("c", C))
    stalling = _StallingProgress(seconds=3.5)  # three and a half lease lengths
    done = threading.Event()

    def promote_slowly() -> None:
        publisher.store.promote(slow, slow.base, stalling)
        done.set()

    thread = threading.Thread(target=promote_slowly)
    thread.start()
    assert stalling.stalled.wait(60)
    attempts = 0
    while not done.is_set():
        with pytest.raises(ConflictError) as raised:
            publisher.store.promote(other, other.base)
        if not done.is_set():
            assert raised.value.busy, "the slow publisher's lease was taken over"
        attempts += 1
        time.sleep(0.25)
    thread.join(60)
    assert attempts >= 5
    assert publisher.live("onnx", "a") == inside(speaker("a", V2))


def test_a_failed_promote_is_finished_by_the_next_one(publisher: Publisher, s3_admin: Any) -> None:
    publisher.publish(speaker("a", V1))
    before = publisher.store.read_state()
    failing, other = publisher.stage(speaker("a", V2)), publisher.stage(speaker("c", C))
    with pytest.raises(ConnectionResetError):
        publisher.store.promote(failing, failing.base, _StallingProgress(fail=True))
    publisher.store.discard(failing)  # kept: the next promote needs it
    assert publisher.store.read_state() == before
    with pytest.raises(ConflictError) as raised:  # at once: no lease to wait for
        publisher.store.promote(other, other.base)
    assert not raised.value.busy and "interrupted" in str(raised.value)
    assert publisher.live("onnx", "a") == inside(speaker("a", V2))
    assert any(failing.id in line for line in publisher.store.cleanup(timedelta(0), dry_run=True))


# --- publishers that die ----------------------------------------------------------------------------


def _die(target: Target, tree: Path, phase: str, after: int, lease_seconds: str = "120") -> str:
    """Run a publisher in another process that dies (``os._exit``) in ``phase`` once more than
    ``after`` bytes were reported on its progress; returns its staging id."""
    command = [sys.executable, "-m", "tests.dest_s3.dying_publisher", target.url, str(tree), phase]
    command.append(str(after))
    env = {**os.environ, "HAYAKOE_S3_LEASE_SECONDS": lease_seconds}
    run = subprocess.run(command, cwd=_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == DIED, run.stderr
    return run.stdout.split()[0]


def _half_promoted(s3_admin: Any, target: Target) -> None:
    """The live speaker's objects hold some v2 files but still the v1 manifest: a promote cut
    short (looked at in the bucket: a load would wait for the lease to lapse)."""
    live = objects(s3_admin, target)
    assert live[f"onnx/speakers/a/{MANIFEST}"] == speaker("a", V1)[f"onnx/speakers/a/{MANIFEST}"]
    changed = ("config.json", "x.bin", "y.bin", "new.bin")
    assert any(live.get(f"onnx/speakers/a/{name}") == V2[name] for name in changed)


def test_a_dead_publishers_lease_lapses_and_its_promote_is_finished(
    publisher: Publisher, target: Target, tmp_path: Path, s3_admin: Any
) -> None:
    publisher.publish(speaker("a", V1))
    before = publisher.store.read_state()
    other = publisher.stage(speaker("c", C))
    _die(target, write_tree(tmp_path / "dying", speaker("a", V2)), "promote", 0, lease_seconds="4")
    _half_promoted(s3_admin, target)
    assert publisher.store.read_state() == before
    with pytest.raises(ConflictError) as raised:
        publisher.store.promote(other, other.base)
    assert raised.value.busy, "the lease is still held: the dead publisher renewed it a moment ago"
    deadline = time.monotonic() + 60
    while raised.value.busy and time.monotonic() < deadline:
        time.sleep(0.5)
        with pytest.raises(ConflictError) as raised:
            publisher.store.promote(other, other.base)
    assert not raised.value.busy and "interrupted" in str(raised.value)
    assert publisher.live("onnx", "a") == inside(speaker("a", V2))
    refreshed = publisher.stage({README: b"# a and c\n"}, other.id)
    publisher.store.promote(refreshed, refreshed.base)
    assert publisher.store.list_speakers() == {"onnx": ["a", "c"]}
    assert publisher.store.read_readme() == "# a and c\n"


def test_unlock_breaks_a_dead_publishers_lease(publisher: Publisher, target: Target, tmp_path: Path) -> None:
    publisher.publish(speaker("a", V1))
    other = publisher.stage(speaker("c", C))
    _die(target, write_tree(tmp_path / "dying", speaker("a", V2)), "promote", 0, lease_seconds="600")
    with pytest.raises(ConflictError) as raised:
        publisher.store.promote(other, other.base)
    assert raised.value.busy and "pid" in str(raised.value)
    broken = publisher.store.unlock()
    assert broken is not None and "pid" in broken and "\n" not in broken
    assert publisher.store.unlock() is None
    with pytest.raises(ConflictError) as raised:
        publisher.store.promote(other, other.base)
    assert not raised.value.busy
    assert publisher.live("onnx", "a") == inside(speaker("a", V2))
    refreshed = publisher.stage({}, other.id)
    publisher.store.promote(refreshed, refreshed.base)
    assert publisher.store.list_speakers() == {"onnx": ["a", "c"]}


def test_cleanup_aborts_a_dead_publishers_multipart_upload(
    publisher: Publisher, target: Target, s3_admin: Any, tmp_path: Path
) -> None:
    bucket = target.location
    elsewhere = s3_admin.create_multipart_upload(Bucket=bucket, Key="elsewhere/big.bin")
    tree = write_tree(tmp_path / "dying", speaker("a", {"synthesizer.onnx": model(9, 17 * _MIB)}))
    staging_id = _die(target, tree, "stage", 9 * _MIB)

    def open_uploads(prefix: str) -> list[str]:
        listed = s3_admin.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
        return [upload["Key"] for upload in listed.get("Uploads", [])]

    (left,) = open_uploads(target.prefix + "/")
    assert staging_id in left
    assert not any(left in line for line in publisher.store.cleanup(timedelta(days=1)))
    found = publisher.store.cleanup(timedelta(0), dry_run=True)
    assert any("incomplete multipart upload" in line and left in line for line in found)
    assert open_uploads(target.prefix + "/") == [left], "a dry run aborts nothing"
    assert publisher.store.cleanup(timedelta(0)) == found
    assert open_uploads(target.prefix + "/") == []
    assert open_uploads("elsewhere/") == ["elsewhere/big.bin"], "outside the target: untouched"
    assert publisher.store.cleanup(timedelta(0)) == []
    s3_admin.abort_multipart_upload(Bucket=bucket, Key="elsewhere/big.bin", UploadId=elsewhere["UploadId"])


# --- readers during a promote ---------------------------------------------------------------------


def test_readers_never_see_a_manifest_whose_files_are_not_in_place(
    publisher: Publisher, target: Target, s3_admin: Any
) -> None:
    """After every write the promote makes, a reader lists the live speaker and reads its
    manifest: every file the manifest names is there, with its bytes when it is the new one."""
    publisher.publish(speaker("a", V1))
    staging = publisher.stage(speaker("a", V2))
    new_manifest = Manifest.parse(speaker("a", V2)[f"onnx/speakers/a/{MANIFEST}"])
    folder = target.join("onnx/speakers/a")
    seen: list[str] = []
    problems: list[str] = []

    def read_like_a_loader(**kwargs: Any) -> None:
        if kwargs["model"].name not in ("CopyObject", "CompleteMultipartUpload", "DeleteObjects"):
            return
        listing = s3_admin.list_objects_v2(Bucket=target.location, Prefix=folder + "/")
        listed = {obj["Key"][len(folder) + 1 :] for obj in listing.get("Contents", [])}
        body = s3_admin.get_object(Bucket=target.location, Key=f"{folder}/{MANIFEST}")["Body"].read()
        manifest = Manifest.parse(body)
        is_new = manifest == new_manifest
        seen.append("new" if is_new else "old")
        for rel, entry in manifest.files.items():
            if rel not in listed:
                problems.append(f"{rel} missing under the {seen[-1]} manifest")
            elif is_new:
                data = s3_admin.get_object(Bucket=target.location, Key=f"{folder}/{rel}")["Body"].read()
                if _sha(data) != entry.sha256:
                    problems.append(f"{rel} not yet in place under the new manifest")

    with watching("after-call.s3", read_like_a_loader):
        publisher.store.promote(staging, staging.base)
    assert problems == []
    assert "old" in seen and seen[-1] == "new" and len(seen) >= 5
    assert objects(s3_admin, target) == speaker("a", V2)


# --- the whole flow with a real speaker ----------------------------------------------------------


def test_a_staged_speaker_loads_and_speaks_before_it_is_live(
    store: Store, target: Target, tmp_path: Path
) -> None:
    from hayakoe import TTS

    repo = make_repo(tmp_path / "repo", manifest=True)
    staging = store.stage(repo, new_staging_id())
    tts = TTS("cpu", cache_dir=tmp_path / "cache").load("tiny", source=staging.url).prepare()
    audio = tts.speakers["tiny"].generate("テスト音声です。", noise=0.0, noise_w=0.0)
    assert audio.sr == 44100 and len(audio.data) > 0
    assert store.list_speakers() == {}, "nothing is live before the promote"
    store.promote(staging, staging.base)
    store.discard(staging)
    assert store.list_speakers() == {"onnx": ["tiny"], "pytorch": ["tiny"]}

    # Publishing the same speaker again (new manifests) sends the manifests and nothing else.
    again = make_repo(tmp_path / "again", manifest=True)
    progress = RecordingProgress()
    restaged = store.stage(again, new_staging_id(), progress)
    sent = sorted(rel for rel, how in restaged.transfers if how == "sent")
    assert all(rel.endswith(MANIFEST) for rel in sent)
    assert progress.done("upload") == sum((again / rel).stat().st_size for rel in sent)


def test_digests_the_caller_gives_are_not_computed_again(
    publisher: Publisher, target: Target, s3_admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hayakoe_dest_s3 import staging as staging_module

    files = in_layout("onnx", "a", {"x": model(20), "y": model(21)})
    tree = write_tree(publisher.tmp / "given", files)
    hashed: list[str] = []
    real = staging_module.sha256_file
    monkeypatch.setattr(staging_module, "sha256_file", lambda p: hashed.append(p.name) or real(p))
    given = {"onnx/speakers/a/x": _sha(files["onnx/speakers/a/x"])}
    publisher.store.stage(tree, new_staging_id(), NullProgress(), given)
    assert hashed == ["y"], "only the file without a given digest is read again"
    staged = s3_admin.list_objects_v2(Bucket=target.location, Prefix=target.join(".hayakoe/staging/"))
    metas = {
        obj["Key"].rsplit("/", 1)[1]: s3_admin.head_object(Bucket=target.location, Key=obj["Key"])
        for obj in staged["Contents"]
    }
    assert metas["x"]["Metadata"]["sha256"] == given["onnx/speakers/a/x"]
    assert metas["y"]["Metadata"]["sha256"] == _sha(files["onnx/speakers/a/y"])
