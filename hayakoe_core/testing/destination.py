"""A conformance suite that any destination plugin runs against itself (pytest).

Subclass :class:`DestinationConformance` in a test module and provide a function-scoped fixture
``destination_url`` that returns the URL of a fresh, empty destination::

    import pytest
    from hayakoe_core.testing import DestinationConformance

    class TestZipDestination(DestinationConformance):
        @pytest.fixture
        def destination_url(self, tmp_path):
            return f"zip://{tmp_path}/voices.zip"

The suite goes through the registry's :class:`~hayakoe_core.registry.Store` handle, as the CLI,
the publish flow and the runtime do, so the plugin must be installed (entry point) or registered
by an overridden ``registry`` fixture. It checks only what the plugin implements:

* reading (fetch, read_file, list_speakers) — a plugin without a way to write must override
  :meth:`DestinationConformance.seed` to put files in place by its own means;
* writing (upload, delete_speaker);
* the publishing contract (read_state, stage, promote, discard; cleanup and unlock when present):
  staging is invisible to readers of the live location, the staged URL loads, a promote replaces
  each staged speaker whole and leaves everything else byte-identical, a promote from a stale
  state raises :class:`~hayakoe_core.errors.ConflictError` and changes nothing, a staging area
  refreshed after a conflict promotes, a crash between stage and promote leaves the live
  location as it was and the stale staging is found and removed, and a network store sends no
  byte twice;
* work done ahead of a promote (prepare_promote, when present): invisible to readers, and the
  promote is right after it, after a cancelled one and after the staging area was refreshed
  since; discard leaves nothing of it (nothing ``cleanup`` would find).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from hayakoe_core.errors import ConflictError, Interrupted, NotFoundError, UnsafePathError
from hayakoe_core.layout import README
from hayakoe_core.progress import Bar
from hayakoe_core.registry import Capability, Registry, Store, get_registry
from hayakoe_core.types import TRANSFERS, DestinationState, Staging, new_staging_id

# Contents chosen to catch text-mode, truncation and encoding mistakes.
_BINARY = bytes(range(256)) * 64
SPEAKER_A = {
    "config.json": b'{"model_name": "a"}\n',
    "style_vectors.npy": _BINARY,
    "empty.bin": b"",
    "sub dir/nested あ.txt": "ネスト\n".encode(),
    "manifest.json": b'{"format": "hayakoe-speaker"}',
}
SPEAKER_B = {"config.json": b'{"model_name": "b"}\n', "model.safetensors": _BINARY[::-1]}
SPEAKER_A2 = {"config.json": b'{"model_name": "a2"}', "new.bin": b"\x00\x01" * 3000}
SPEAKER_C = {"config.json": b'{"model_name": "c"}', "model.safetensors": _BINARY[7:] + _BINARY[:7]}
BERT = {"bert/tokenizer/vocab.txt": b"[PAD]\n[UNK]\n", "onnx/bert/q8/bert_q8.onnx": _BINARY[3:]}
README_TEXT = "# voices\n\n日本語の説明\n"


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (relative path → bytes) under ``root``; returns ``root``."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path → bytes), skipping hidden files and folders."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    }


def in_layout(folder: str, name: str, files: dict[str, bytes]) -> dict[str, bytes]:
    """``files`` of one speaker folder as repo paths under ``<folder>/speakers/<name>/``."""
    return {f"{folder}/speakers/{name}/{rel}": data for rel, data in files.items()}


LIVE = {
    **in_layout("onnx", "a", SPEAKER_A),
    **in_layout("pytorch", "a", SPEAKER_B),
    **in_layout("onnx", "b", SPEAKER_B),
    **BERT,
    README: README_TEXT.encode(),
}


class CancellingProgress:
    """A Progress whose bars raise :class:`~hayakoe_core.errors.Interrupted` at the first
    ``advance``: how a caller cancels ``prepare_promote`` once it has begun moving bytes."""

    @contextmanager
    def bar(self, description: str, total: int | None, unit: str = "bytes") -> Iterator[Bar]:
        class _Bar:
            def advance(self, amount: int) -> None:
                raise Interrupted("cancelled")

        yield _Bar()


class DestinationConformance:
    """Behaviour every destination plugin shares. Subclasses provide ``destination_url``."""

    @pytest.fixture
    def registry(self) -> Registry:
        """The registry the suite uses; override to register a plugin without installing it."""
        return get_registry()

    @pytest.fixture
    def store(self, registry: Registry, destination_url: str) -> Store:
        return registry.open(destination_url)

    def seed(self, url: str, files: dict[str, bytes]) -> None:
        """Put ``files`` (repo-relative path → bytes) at ``url`` without the plugin's writes.

        Only called for plugins that can neither upload nor publish.
        """
        raise NotImplementedError("a plugin that cannot upload or publish must override seed()")

    # --- helpers ------------------------------------------------------------------------------

    def put(self, store: Store, files: dict[str, bytes], tmp: Path) -> None:
        """Place ``files`` at the destination: by upload, else by publishing, else by :meth:`seed`."""
        if store.supports(Capability.UPLOAD):
            store.upload(write_tree(tmp, files))
        elif store.supports(Capability.PUBLISH):
            staging = store.stage(write_tree(tmp, files), new_staging_id())
            store.promote(staging, staging.base)
            store.discard(staging)
        else:
            self.seed(store.url, files)

    def fetch(self, store: Store, prefix: str, cache: Path) -> dict[str, bytes]:
        return read_tree(Path(store.fetch(prefix, cache)))

    def require(self, store: Store, *capabilities: Capability) -> None:
        missing = [c.name.lower() for c in capabilities if not store.supports(c)]
        if missing:
            pytest.skip(f"plugin does not support {', '.join(missing)}")

    def snapshot(self, store: Store, tmp: Path) -> dict[str, bytes]:
        """Everything a reader of the live location can see (speakers, BERT, README)."""
        seen: dict[str, bytes] = {}
        for folder, names in store.list_speakers().items():
            for name in names:
                prefix = f"{folder}/speakers/{name}"
                for rel, data in self.fetch(store, prefix, tmp / "snapshot" / prefix).items():
                    seen[f"{prefix}/{rel}"] = data
        for path in (*BERT, README):
            data = store.read_file(path)
            if data is not None:
                seen[path] = data
        return seen

    @pytest.fixture
    def populated(self, store: Store, tmp_path: Path) -> Store:
        """The destination holding speakers onnx/a, pytorch/a, onnx/b, the BERT and a README."""
        self.put(store, LIVE, tmp_path / "live")
        return store

    @pytest.fixture
    def publishable(self, populated: Store) -> Store:
        """The populated destination, for plugins that implement the publishing contract."""
        self.require(populated, Capability.PUBLISH, Capability.FETCH, Capability.LIST, Capability.READ_FILE)
        return populated

    def stage(self, store: Store, files: dict[str, bytes], tmp: Path, staging_id: str = "") -> Staging:
        staging = store.stage(write_tree(tmp, files), staging_id or new_staging_id())
        assert isinstance(staging, Staging) and isinstance(staging.base, DestinationState)
        transfers = dict(staging.transfers)
        assert set(transfers) >= set(files), "every staged file has a transfer status"
        assert set(transfers.values()) <= set(TRANSFERS)
        return staging

    # --- URL ----------------------------------------------------------------------------------

    def test_canonical_url_parses_back(self, registry: Registry, store: Store) -> None:
        assert registry.parse_url(store.url) == store.target

    # --- reading ------------------------------------------------------------------------------

    def test_empty_destination(self, store: Store, tmp_path: Path) -> None:
        if store.supports(Capability.LIST):
            assert store.list_speakers() == {}
        if store.supports(Capability.READ_FILE):
            assert store.read_readme() is None
        if store.supports(Capability.FETCH):
            with pytest.raises(NotFoundError):
                self.fetch(store, "onnx/speakers/nobody", tmp_path / "cache")
        if store.supports(Capability.PUBLISH):
            assert store.read_state().token == ""

    def test_list_speakers(self, populated: Store) -> None:
        self.require(populated, Capability.LIST)
        assert populated.list_speakers() == {"onnx": ["a", "b"], "pytorch": ["a"]}

    def test_fetch_round_trip(self, populated: Store, tmp_path: Path) -> None:
        self.require(populated, Capability.FETCH)
        assert self.fetch(populated, "onnx/speakers/a", tmp_path / "cache") == SPEAKER_A
        assert self.fetch(populated, "pytorch/speakers/a", tmp_path / "cache") == SPEAKER_B

    def test_fetch_again_gives_same_files(self, populated: Store, tmp_path: Path) -> None:
        self.require(populated, Capability.FETCH)
        first = self.fetch(populated, "onnx/speakers/b", tmp_path / "cache")
        second = self.fetch(populated, "onnx/speakers/b", tmp_path / "cache")
        assert first == second == SPEAKER_B

    def test_read_file(self, populated: Store) -> None:
        self.require(populated, Capability.READ_FILE)
        assert populated.read_file("onnx/speakers/a/manifest.json") == SPEAKER_A["manifest.json"]
        assert populated.read_file("onnx/speakers/a/nope.json") is None
        assert populated.read_readme() == README_TEXT
        for bad in ("../README.md", "onnx/../../x", "/etc/passwd"):
            with pytest.raises(UnsafePathError):
                populated.read_file(bad)

    def test_fetch_refuses_traversal(self, populated: Store, tmp_path: Path) -> None:
        self.require(populated, Capability.FETCH)
        for bad in ("../outside", "onnx/speakers/../../x", "/etc", "onnx\\speakers\\a"):
            with pytest.raises(UnsafePathError):
                self.fetch(populated, bad, tmp_path / "cache")

    # --- writing ------------------------------------------------------------------------------

    def test_upload_replaces_speaker_and_keeps_others(self, populated: Store, tmp_path: Path) -> None:
        self.require(populated, Capability.UPLOAD, Capability.FETCH)
        self.put(populated, in_layout("onnx", "a", SPEAKER_A2), tmp_path / "v2")
        assert self.fetch(populated, "onnx/speakers/a", tmp_path / "c") == SPEAKER_A2
        assert self.fetch(populated, "onnx/speakers/b", tmp_path / "c") == SPEAKER_B
        assert self.fetch(populated, "pytorch/speakers/a", tmp_path / "c") == SPEAKER_B
        if populated.supports(Capability.READ_FILE):
            assert populated.read_readme() == README_TEXT

    def test_upload_loose_file_overwrites(self, populated: Store, tmp_path: Path) -> None:
        self.require(populated, Capability.UPLOAD, Capability.READ_FILE)
        self.put(populated, {README: b"# new\n"}, tmp_path / "readme")
        assert populated.read_readme() == "# new\n"
        if populated.supports(Capability.LIST):
            assert populated.list_speakers() == {"onnx": ["a", "b"], "pytorch": ["a"]}

    def test_delete_speaker_leaves_others(self, populated: Store, tmp_path: Path) -> None:
        self.require(populated, Capability.DELETE)
        assert populated.delete_speaker("onnx", "a")
        assert not populated.delete_speaker("onnx", "a")
        if populated.supports(Capability.LIST):
            assert populated.list_speakers() == {"onnx": ["b"], "pytorch": ["a"]}
        if populated.supports(Capability.FETCH):
            assert self.fetch(populated, "pytorch/speakers/a", tmp_path / "c") == SPEAKER_B
            with pytest.raises(NotFoundError):
                self.fetch(populated, "onnx/speakers/a", tmp_path / "c2")
        if populated.supports(Capability.READ_FILE):
            assert populated.read_readme() == README_TEXT

    def test_delete_speaker_refuses_traversal(self, populated: Store) -> None:
        self.require(populated, Capability.DELETE)
        for folder, name in (("onnx", ".."), ("onnx", "../b"), ("..", "a"), ("onnx", "a\\b")):
            with pytest.raises(UnsafePathError):
                populated.delete_speaker(folder, name)

    # --- publishing: stage → promote → discard ---------------------------------------------------

    def test_staging_is_invisible_to_readers(self, publishable: Store, tmp_path: Path) -> None:
        before, state = self.snapshot(publishable, tmp_path / "before"), publishable.read_state()
        new = {**in_layout("onnx", "a", SPEAKER_A2), **in_layout("onnx", "c", SPEAKER_C)}
        staging = self.stage(publishable, {**new, README: b"# staged\n"}, tmp_path / "tree")
        assert staging.base == state
        assert publishable.read_state() == state
        assert publishable.list_speakers() == {"onnx": ["a", "b"], "pytorch": ["a"]}
        assert self.snapshot(publishable, tmp_path / "after") == before

    def test_staged_url_loads(self, registry: Registry, publishable: Store, tmp_path: Path) -> None:
        new = {**in_layout("onnx", "a", SPEAKER_A2), **in_layout("pytorch", "c", SPEAKER_C)}
        staging = self.stage(publishable, new, tmp_path / "tree")
        staged = registry.open(staging.url)
        assert staged.url != publishable.url
        assert self.fetch(staged, "onnx/speakers/a", tmp_path / "c1") == SPEAKER_A2
        assert self.fetch(staged, "pytorch/speakers/c", tmp_path / "c2") == SPEAKER_C

    def test_promote_replaces_speakers_whole_and_keeps_the_rest(
        self, publishable: Store, tmp_path: Path
    ) -> None:
        before = self.snapshot(publishable, tmp_path / "before")
        new = {**in_layout("onnx", "a", SPEAKER_A2), **in_layout("pytorch", "c", SPEAKER_C)}
        staging = self.stage(publishable, {**new, README: b"# v2\n"}, tmp_path / "tree")
        state = publishable.promote(staging, staging.base)
        assert isinstance(state, DestinationState) and state != staging.base
        assert publishable.read_state() == state
        publishable.discard(staging)
        after = self.snapshot(publishable, tmp_path / "after")
        expected = {k: v for k, v in before.items() if not k.startswith("onnx/speakers/a/")}
        assert after == {**expected, **new, README: b"# v2\n"}
        assert publishable.list_speakers() == {"onnx": ["a", "b"], "pytorch": ["a", "c"]}

    def test_promote_from_a_stale_state_conflicts_and_changes_nothing(
        self, publishable: Store, tmp_path: Path
    ) -> None:
        first = self.stage(publishable, in_layout("onnx", "a", SPEAKER_A2), tmp_path / "t1")
        second = self.stage(publishable, in_layout("onnx", "c", SPEAKER_C), tmp_path / "t2")
        assert first.base == second.base
        publishable.promote(first, first.base)
        after_first, state = self.snapshot(publishable, tmp_path / "s1"), publishable.read_state()
        with pytest.raises(ConflictError) as raised:
            publishable.promote(second, second.base)
        assert not raised.value.busy
        assert publishable.read_state() == state
        assert self.snapshot(publishable, tmp_path / "s2") == after_first
        publishable.discard(first)
        publishable.discard(second)

    def test_refreshed_staging_promotes_after_a_conflict(self, publishable: Store, tmp_path: Path) -> None:
        first = self.stage(publishable, in_layout("onnx", "a", SPEAKER_A2), tmp_path / "t1")
        second = self.stage(publishable, in_layout("onnx", "c", SPEAKER_C), tmp_path / "t2")
        publishable.promote(first, first.base)
        with pytest.raises(ConflictError):
            publishable.promote(second, second.base)
        refreshed = self.stage(publishable, {README: b"# a2 and c\n"}, tmp_path / "t3", second.id)
        assert refreshed.id == second.id and refreshed.url == second.url
        assert refreshed.base == publishable.read_state() != second.base
        publishable.promote(refreshed, refreshed.base)
        for staging in (first, refreshed):
            publishable.discard(staging)
        seen = self.snapshot(publishable, tmp_path / "after")
        assert {k: v for k, v in seen.items() if k.startswith("onnx/speakers/")} == {
            **in_layout("onnx", "a", SPEAKER_A2),
            **in_layout("onnx", "b", SPEAKER_B),
            **in_layout("onnx", "c", SPEAKER_C),
        }
        assert seen[README] == b"# a2 and c\n"

    def test_discard_removes_the_staging_area(
        self, registry: Registry, publishable: Store, tmp_path: Path
    ) -> None:
        before = self.snapshot(publishable, tmp_path / "before")
        staging = self.stage(publishable, in_layout("onnx", "c", SPEAKER_C), tmp_path / "tree")
        publishable.discard(staging)
        publishable.discard(staging)  # idempotent
        with pytest.raises(NotFoundError):
            self.fetch(registry.open(staging.url), "onnx/speakers/c", tmp_path / "gone")
        assert self.snapshot(publishable, tmp_path / "after") == before

    def test_crash_between_stage_and_promote_leaves_live_as_it_was(
        self, registry: Registry, publishable: Store, tmp_path: Path
    ) -> None:
        before, state = self.snapshot(publishable, tmp_path / "before"), publishable.read_state()
        # The publisher dies after staging: nobody promotes or discards this staging area.
        crashed = self.stage(publishable, in_layout("onnx", "a", SPEAKER_A2), tmp_path / "crashed")
        reopened = registry.open(publishable.url)
        assert reopened.read_state() == state
        assert self.snapshot(reopened, tmp_path / "after") == before
        # The next publish goes through, and the stale staging area is found and removed.
        staging = self.stage(reopened, in_layout("onnx", "c", SPEAKER_C), tmp_path / "next")
        reopened.promote(staging, staging.base)
        reopened.discard(staging)
        assert self.fetch(reopened, "onnx/speakers/a", tmp_path / "a") == SPEAKER_A
        if reopened.supports(Capability.CLEANUP):
            assert not any(crashed.id in line for line in reopened.cleanup(timedelta(days=1)))
            found = reopened.cleanup(timedelta(0), dry_run=True)
            assert any(crashed.id in line for line in found)
            assert self.fetch(registry.open(crashed.url), "onnx/speakers/a", tmp_path / "c1") == SPEAKER_A2
            assert any(crashed.id in line for line in reopened.cleanup(timedelta(0)))
            with pytest.raises(NotFoundError):
                self.fetch(registry.open(crashed.url), "onnx/speakers/a", tmp_path / "c2")
            assert reopened.cleanup(timedelta(0)) == []
        assert self.fetch(reopened, "onnx/speakers/c", tmp_path / "c") == SPEAKER_C

    def test_nothing_sent_twice(self, publishable: Store, tmp_path: Path) -> None:
        tree = {**in_layout("onnx", "a", SPEAKER_A), **in_layout("onnx", "b", SPEAKER_B), **BERT}
        staging = self.stage(publishable, tree, tmp_path / "same")
        if publishable.info.network:
            sent = [path for path, how in staging.transfers if how == "sent"]
            assert sent == [], f"content already live was sent again: {sent}"
        before = self.snapshot(publishable, tmp_path / "before")
        publishable.promote(staging, staging.base)
        publishable.discard(staging)
        assert self.snapshot(publishable, tmp_path / "after") == before

    # --- publishing: work done ahead of a promote --------------------------------------------------

    @pytest.fixture
    def preparable(self, publishable: Store) -> Store:
        """The populated destination, for plugins that do work ahead of a promote."""
        self.require(publishable, Capability.PREPARE_PROMOTE)
        return publishable

    def nothing_left(self, store: Store) -> None:
        """No staging area or store-specific debris (incomplete uploads…) is left."""
        if store.supports(Capability.CLEANUP):
            assert store.cleanup(timedelta(0), dry_run=True) == []

    def test_prepared_promote_replaces_speakers_whole(self, preparable: Store, tmp_path: Path) -> None:
        before, state = self.snapshot(preparable, tmp_path / "before"), preparable.read_state()
        new = {**in_layout("onnx", "a", SPEAKER_A2), **in_layout("pytorch", "c", SPEAKER_C)}
        staging = self.stage(preparable, {**new, README: b"# v2\n"}, tmp_path / "tree")
        assert preparable.prepare_promote(staging) is True
        assert preparable.read_state() == state
        assert self.snapshot(preparable, tmp_path / "prepared") == before, "readers saw prepared work"
        preparable.promote(staging, staging.base)
        preparable.discard(staging)
        expected = {k: v for k, v in before.items() if not k.startswith("onnx/speakers/a/")}
        assert self.snapshot(preparable, tmp_path / "after") == {**expected, **new, README: b"# v2\n"}
        self.nothing_left(preparable)

    def test_promote_after_a_cancelled_prepare(self, preparable: Store, tmp_path: Path) -> None:
        before = self.snapshot(preparable, tmp_path / "before")
        new = {**in_layout("onnx", "a", SPEAKER_A2), **in_layout("onnx", "c", SPEAKER_C)}
        staging = self.stage(preparable, new, tmp_path / "tree")
        with pytest.raises(Interrupted):
            preparable.prepare_promote(staging, CancellingProgress())
        assert self.snapshot(preparable, tmp_path / "cancelled") == before
        preparable.promote(staging, staging.base)
        preparable.discard(staging)
        expected = {k: v for k, v in before.items() if not k.startswith("onnx/speakers/a/")}
        assert self.snapshot(preparable, tmp_path / "after") == {**expected, **new}
        self.nothing_left(preparable)

    def test_promote_after_a_prepare_uses_what_was_staged_since(
        self, preparable: Store, tmp_path: Path
    ) -> None:
        first = {**in_layout("onnx", "c", SPEAKER_C), README: b"# c\n"}
        staging = self.stage(preparable, first, tmp_path / "t1")
        preparable.prepare_promote(staging)
        changed = {**SPEAKER_C, "model.safetensors": SPEAKER_C["model.safetensors"][::-1]}
        again = {**in_layout("onnx", "c", changed), README: b"# c again\n"}
        refreshed = self.stage(preparable, again, tmp_path / "t2", staging.id)
        preparable.promote(refreshed, refreshed.base)
        preparable.discard(refreshed)
        assert self.fetch(preparable, "onnx/speakers/c", tmp_path / "c") == changed
        assert preparable.read_readme() == "# c again\n"
        self.nothing_left(preparable)

    def test_discard_after_prepare_leaves_nothing(
        self, registry: Registry, preparable: Store, tmp_path: Path
    ) -> None:
        before, state = self.snapshot(preparable, tmp_path / "before"), preparable.read_state()
        staging = self.stage(preparable, in_layout("onnx", "a", SPEAKER_A2), tmp_path / "tree")
        preparable.prepare_promote(staging)
        preparable.discard(staging)
        with pytest.raises(NotFoundError):
            self.fetch(registry.open(staging.url), "onnx/speakers/a", tmp_path / "gone")
        assert preparable.read_state() == state
        assert self.snapshot(preparable, tmp_path / "after") == before
        self.nothing_left(preparable)

    def test_unlock_with_nothing_held(self, publishable: Store) -> None:
        self.require(publishable, Capability.UNLOCK)
        assert publishable.unlock() is None

    # --- publishing helpers -----------------------------------------------------------------------

    def test_probe_passes_and_changes_nothing(self, populated: Store, tmp_path: Path) -> None:
        self.require(populated, Capability.PROBE)
        before = self.snapshot(populated, tmp_path / "before") if populated.supports(Capability.LIST) else {}
        state = populated.read_state() if populated.supports(Capability.PUBLISH) else None
        populated.probe()
        if populated.supports(Capability.LIST):
            assert self.snapshot(populated, tmp_path / "after") == before
        if state is not None:
            assert populated.read_state() == state

    def test_find_credentials_names_a_source_not_a_secret(self, store: Store) -> None:
        self.require(store, Capability.FIND_CREDENTIALS)
        found = store.find_credentials()
        assert found is None or (isinstance(found, str) and "\n" not in found and len(found) < 200)
