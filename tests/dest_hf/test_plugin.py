"""The HF destination against the test Hub: revisions, auth errors, offline, what is downloaded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from huggingface_hub import HfApi, constants

from hayakoe_core.errors import (
    ConflictError,
    HayakoeError,
    NotFoundError,
    UnreachableError,
    UnsafePathError,
)
from hayakoe_core.progress import NullProgress
from hayakoe_core.registry import get_registry
from hayakoe_core.types import Target
from tests.support.hub_fixtures import OTHER_TOKEN, READ_TOKEN
from tests.support.hubserver import FaultRule, HubServer

SPEAKER_V1 = {"config.json": b'{"v": 1}', "synthesizer.onnx": bytes(range(256)) * 8}
SPEAKER_V2 = {"config.json": b'{"v": 2}', "synthesizer.onnx": bytes(range(255, -1, -1)) * 8}
OTHER = {"config.json": b'{"other": true}', "duration_predictor.onnx": b"\x00" * 3000}


def stage(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def in_speaker(name: str, files: dict[str, bytes], folder: str = "onnx") -> dict[str, bytes]:
    return {f"{folder}/speakers/{name}/{rel}": data for rel, data in files.items()}


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class RecordingProgress:
    """Records each bar's total and the bytes it advanced."""

    def __init__(self) -> None:
        self.bars: list[list] = []

    @contextmanager
    def bar(self, description: str, total: int | None, unit: str = "bytes") -> Iterator:
        record = [total, 0]
        self.bars.append(record)

        class _Bar:
            def advance(self, amount: int) -> None:
                record[1] += amount

        yield _Bar()


def call(target: Target, method: str, **kwargs):
    return getattr(get_registry().open(target), method)(**kwargs)


def publish(url: str, files: dict[str, bytes], tmp: Path, progress=None) -> Target:
    target = get_registry().parse_url(url)
    call(target, "upload", local_dir=stage(tmp, files), prefix="",
         progress=progress or NullProgress())  # fmt: skip
    return target


def fetch(target: Target, prefix: str, cache: Path, progress=None) -> dict[str, bytes]:
    folder = call(target, "fetch", prefix=prefix, cache_dir=cache,
                  progress=progress or NullProgress())  # fmt: skip
    return read_tree(Path(folder))


def downloads(hub: HubServer) -> list[str]:
    return [path for method, path in hub.requests if method == "GET" and "/resolve/" in path]


@pytest.fixture
def published(hub: HubServer, hub_repo: str, tmp_path: Path) -> Target:
    files = {**in_speaker("a", SPEAKER_V1), **in_speaker("b", OTHER), "README.md": b"# r\n"}
    return publish(f"hf://{hub_repo}", files, tmp_path / "stage")


def test_new_repo_is_private_and_upload_is_one_commit(
    hub: HubServer, published: Target, tmp_path: Path
) -> None:
    api = HfApi()
    assert api.repo_info(published.location).private
    before = len(api.list_repo_commits(published.location))
    publish(published.url, in_speaker("a", SPEAKER_V2), tmp_path / "v2")
    assert len(api.list_repo_commits(published.location)) == before + 1
    assert fetch(published, "onnx/speakers/a", tmp_path / "c") == SPEAKER_V2


def test_revision_pinning(hub: HubServer, published: Target, tmp_path: Path) -> None:
    dev = publish(f"{published.url}@dev", in_speaker("a", SPEAKER_V2), tmp_path / "dev")
    assert dev.revision == "dev"
    assert fetch(published, "onnx/speakers/a", tmp_path / "c") == SPEAKER_V1
    assert fetch(dev, "onnx/speakers/a", tmp_path / "c") == SPEAKER_V2
    publish(f"{published.url}@dev", in_speaker("c", OTHER), tmp_path / "dev2")
    assert call(dev, "list_speakers") == {"onnx": ["a", "b", "c"]}
    assert call(published, "list_speakers") == {"onnx": ["a", "b"]}


def test_missing_revision_is_named(hub: HubServer, published: Target, tmp_path: Path) -> None:
    target = get_registry().parse_url(f"{published.url}@nope")
    with pytest.raises(NotFoundError, match="'nope'"):
        fetch(target, "onnx/speakers/a", tmp_path / "c")
    assert call(target, "list_speakers") == {}


def test_private_repo_needs_a_token(
    hub: HubServer, published: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(NotFoundError, match=rf"{published.location} not found or private.*HF_TOKEN"):
        fetch(published, "onnx/speakers/a", tmp_path / "c")
    with pytest.raises(HayakoeError, match="HF_TOKEN"):
        publish(published.url, in_speaker("a", SPEAKER_V2), tmp_path / "v2")


def test_wrong_token(
    hub: HubServer, published: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    for action in (
        lambda: fetch(published, "onnx/speakers/a", tmp_path / "c"),
        lambda: publish(published.url, in_speaker("a", SPEAKER_V2), tmp_path / "v2"),
        lambda: call(published, "list_speakers"),
    ):
        with pytest.raises(HayakoeError, match="rejected the token in HF_TOKEN") as info:
            action()
        assert "hf_not_a_real_token" not in str(info.value)
        assert "\n" not in str(info.value)


def test_read_only_and_foreign_tokens(
    hub: HubServer, published: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", READ_TOKEN)
    assert fetch(published, "onnx/speakers/a", tmp_path / "c") == SPEAKER_V1
    with pytest.raises(HayakoeError, match="permission denied"):
        publish(published.url, in_speaker("a", SPEAKER_V2), tmp_path / "v2")
    monkeypatch.setenv("HF_TOKEN", OTHER_TOKEN)
    with pytest.raises(NotFoundError, match="not visible to the token in HF_TOKEN"):
        fetch(published, "onnx/speakers/a", tmp_path / "c2")


def test_fetch_downloads_only_the_prefix(hub: HubServer, published: Target, tmp_path: Path) -> None:
    hub.clear_log()
    assert fetch(published, "onnx/speakers/a", tmp_path / "c") == SPEAKER_V1
    got = downloads(hub)
    assert got and all("/onnx/speakers/a/" in path for path in got)


def test_second_fetch_downloads_nothing(hub: HubServer, published: Target, tmp_path: Path) -> None:
    fetch(published, "onnx/speakers/a", tmp_path / "c")
    hub.clear_log()
    assert fetch(published, "onnx/speakers/a", tmp_path / "c") == SPEAKER_V1
    assert downloads(hub) == []
    assert not [p for m, p in hub.requests if m == "HEAD"]


def test_offline_mode_serves_from_cache(
    hub: HubServer, published: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetch(published, "onnx/speakers/a", tmp_path / "c")
    hub.clear_log()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert fetch(published, "onnx/speakers/a", tmp_path / "c") == SPEAKER_V1
    with pytest.raises(UnreachableError, match="HF_HUB_OFFLINE"):
        fetch(published, "onnx/speakers/b", tmp_path / "c")
    assert hub.requests == []


def test_unreachable_hub(
    hub: HubServer, published: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = HubServer(tmp_path / "gone")
    closed.stop()
    monkeypatch.setattr(constants, "ENDPOINT", closed.url)
    with pytest.raises(HayakoeError, match=r"cannot reach the Hub.*HF_ENDPOINT"):
        fetch(published, "onnx/speakers/a", tmp_path / "c")


def test_hostile_listing_is_refused(hub: HubServer, published: Target, tmp_path: Path) -> None:
    hub.add_commit(published.location, {"onnx/speakers/a/../../../escaped": b"x"})
    with pytest.raises(UnsafePathError):
        fetch(published, "onnx/speakers/a", tmp_path / "c")
    assert not [p for p in tmp_path.rglob("escaped*")]
    assert downloads(hub) == []


def test_concurrent_writer_fails_the_commit(hub: HubServer, published: Target, tmp_path: Path) -> None:
    hub.set_faults([FaultRule("commit", "412")])
    with pytest.raises(ConflictError, match="changed meanwhile") as raised:
        publish(published.url, in_speaker("a", SPEAKER_V2), tmp_path / "v2")
    assert not raised.value.busy
    assert fetch(published, "onnx/speakers/a", tmp_path / "c") == SPEAKER_V1


def test_progress_counts_bytes(hub: HubServer, hub_repo: str, tmp_path: Path) -> None:
    files = in_speaker("a", SPEAKER_V1)
    total = sum(len(d) for d in files.values())
    up = RecordingProgress()
    target = publish(f"hf://{hub_repo}", files, tmp_path / "s", up)
    assert up.bars == [[total, total]]
    down = RecordingProgress()
    fetch(target, "onnx/speakers/a", tmp_path / "c", down)
    assert down.bars == [[total, total]]


def test_read_file_is_one_request(hub: HubServer, published: Target) -> None:
    hub.clear_log()
    assert call(published, "read_file", path="onnx/speakers/b/config.json") == OTHER["config.json"]
    assert len(hub.requests) == 1
