"""A conformance suite that any destination plugin runs against itself (pytest).

Subclass :class:`DestinationConformance` in a test module and provide a function-scoped fixture
``destination_url`` that returns the URL of a fresh, empty destination::

    import pytest
    from hayakoe_core.testing import DestinationConformance

    class TestZipDestination(DestinationConformance):
        @pytest.fixture
        def destination_url(self, tmp_path):
            return f"zip://{tmp_path}/voices.zip"

The suite goes through the registry, as the CLI and the runtime do, so the plugin must be
installed (entry point) or registered by an overridden ``registry`` fixture. It checks only what
the plugin implements: a plugin without ``hayakoe_upload`` skips the write tests and must override
:meth:`DestinationConformance.seed` to put files in place by its own means for the read tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hayakoe_core.errors import NotFoundError, UnsafePathError
from hayakoe_core.layout import README
from hayakoe_core.progress import NullProgress
from hayakoe_core.registry import Registry, get_registry
from hayakoe_core.types import Target

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


def _in_layout(folder: str, name: str, files: dict[str, bytes]) -> dict[str, bytes]:
    return {f"{folder}/speakers/{name}/{rel}": data for rel, data in files.items()}


class DestinationConformance:
    """Behaviour every destination plugin shares. Subclasses provide ``destination_url``."""

    @pytest.fixture
    def registry(self) -> Registry:
        """The registry the suite uses; override to register a plugin without installing it."""
        return get_registry()

    @pytest.fixture
    def target(self, registry: Registry, destination_url: str) -> Target:
        return registry.parse_url(destination_url)

    def seed(self, url: str, files: dict[str, bytes]) -> None:
        """Put ``files`` (repo-relative path → bytes) at ``url`` without the plugin's upload.

        Only called for plugins that do not implement ``hayakoe_upload``.
        """
        raise NotImplementedError("a plugin without hayakoe_upload must override seed()")

    # --- helpers ------------------------------------------------------------------------------

    def put(self, registry: Registry, target: Target, files: dict[str, bytes], tmp: Path) -> None:
        """Place ``files`` at the target: by its upload hook, else by :meth:`seed`."""
        if registry.has(target, "hayakoe_upload"):
            staged = write_tree(tmp, files)
            registry.call(
                target, "hayakoe_upload", local_dir=staged, prefix="", progress=NullProgress()
            )
        else:
            self.seed(target.url, files)

    def fetch(self, registry: Registry, target: Target, prefix: str, cache: Path) -> dict[str, bytes]:
        folder = registry.call(
            target, "hayakoe_fetch", prefix=prefix, cache_dir=cache, progress=NullProgress()
        )
        return read_tree(Path(folder))

    def require(self, registry: Registry, target: Target, *hooks: str) -> None:
        missing = [h for h in hooks if not registry.has(target, h)]
        if missing:
            pytest.skip(f"plugin does not implement {', '.join(missing)}")

    @pytest.fixture
    def populated(self, registry: Registry, target: Target, tmp_path: Path) -> Target:
        """The destination holding speakers onnx/a, pytorch/a, onnx/b and a README."""
        files = {
            **_in_layout("onnx", "a", SPEAKER_A),
            **_in_layout("pytorch", "a", SPEAKER_B),
            **_in_layout("onnx", "b", SPEAKER_B),
            README: README_TEXT.encode(),
        }
        self.put(registry, target, files, tmp_path / "staged")
        return target

    # --- URL ----------------------------------------------------------------------------------

    def test_canonical_url_parses_back(self, registry: Registry, target: Target) -> None:
        assert registry.parse_url(target.url) == target

    # --- reading ------------------------------------------------------------------------------

    def test_empty_destination(self, registry: Registry, target: Target, tmp_path: Path) -> None:
        if registry.has(target, "hayakoe_list_speakers"):
            assert registry.call(target, "hayakoe_list_speakers") == {}
        if registry.has(target, "hayakoe_read_readme"):
            assert registry.call(target, "hayakoe_read_readme") is None
        if registry.has(target, "hayakoe_fetch"):
            with pytest.raises(NotFoundError):
                self.fetch(registry, target, "onnx/speakers/nobody", tmp_path / "cache")

    def test_list_speakers(self, registry: Registry, populated: Target) -> None:
        self.require(registry, populated, "hayakoe_list_speakers")
        speakers = registry.call(populated, "hayakoe_list_speakers")
        assert speakers == {"onnx": ["a", "b"], "pytorch": ["a"]}

    def test_fetch_round_trip(self, registry: Registry, populated: Target, tmp_path: Path) -> None:
        self.require(registry, populated, "hayakoe_fetch")
        got = self.fetch(registry, populated, "onnx/speakers/a", tmp_path / "cache")
        assert got == SPEAKER_A
        other = self.fetch(registry, populated, "pytorch/speakers/a", tmp_path / "cache")
        assert other == SPEAKER_B

    def test_fetch_again_gives_same_files(
        self, registry: Registry, populated: Target, tmp_path: Path
    ) -> None:
        self.require(registry, populated, "hayakoe_fetch")
        first = self.fetch(registry, populated, "onnx/speakers/b", tmp_path / "cache")
        second = self.fetch(registry, populated, "onnx/speakers/b", tmp_path / "cache")
        assert first == second == SPEAKER_B

    def test_read_readme(self, registry: Registry, populated: Target) -> None:
        self.require(registry, populated, "hayakoe_read_readme")
        assert registry.call(populated, "hayakoe_read_readme") == README_TEXT

    def test_read_file(self, registry: Registry, populated: Target) -> None:
        self.require(registry, populated, "hayakoe_read_file")
        manifest = registry.call(populated, "hayakoe_read_file", path="onnx/speakers/a/manifest.json")
        assert manifest == SPEAKER_A["manifest.json"]
        assert registry.call(populated, "hayakoe_read_file", path="onnx/speakers/a/nope.json") is None
        for bad in ("../README.md", "onnx/../../x", "/etc/passwd"):
            with pytest.raises(UnsafePathError):
                registry.call(populated, "hayakoe_read_file", path=bad)

    def test_fetch_refuses_traversal(
        self, registry: Registry, populated: Target, tmp_path: Path
    ) -> None:
        self.require(registry, populated, "hayakoe_fetch")
        for bad in ("../outside", "onnx/speakers/../../x", "/etc", "onnx\\speakers\\a"):
            with pytest.raises(UnsafePathError):
                self.fetch(registry, populated, bad, tmp_path / "cache")

    # --- writing ------------------------------------------------------------------------------

    def test_upload_replaces_speaker_and_keeps_others(
        self, registry: Registry, populated: Target, tmp_path: Path
    ) -> None:
        self.require(registry, populated, "hayakoe_upload", "hayakoe_fetch")
        new_a = {"config.json": b'{"model_name": "a2"}', "new.bin": b"\x00\x01"}
        self.put(registry, populated, _in_layout("onnx", "a", new_a), tmp_path / "v2")
        assert self.fetch(registry, populated, "onnx/speakers/a", tmp_path / "c") == new_a
        assert self.fetch(registry, populated, "onnx/speakers/b", tmp_path / "c") == SPEAKER_B
        assert self.fetch(registry, populated, "pytorch/speakers/a", tmp_path / "c") == SPEAKER_B
        if registry.has(populated, "hayakoe_read_readme"):
            assert registry.call(populated, "hayakoe_read_readme") == README_TEXT

    def test_upload_loose_file_overwrites(
        self, registry: Registry, populated: Target, tmp_path: Path
    ) -> None:
        self.require(registry, populated, "hayakoe_upload", "hayakoe_read_readme")
        self.put(registry, populated, {README: b"# new\n"}, tmp_path / "readme")
        assert registry.call(populated, "hayakoe_read_readme") == "# new\n"
        if registry.has(populated, "hayakoe_list_speakers"):
            speakers = registry.call(populated, "hayakoe_list_speakers")
            assert speakers == {"onnx": ["a", "b"], "pytorch": ["a"]}

    def test_delete_speaker_leaves_others(
        self, registry: Registry, populated: Target, tmp_path: Path
    ) -> None:
        self.require(registry, populated, "hayakoe_delete_speaker")
        assert registry.call(populated, "hayakoe_delete_speaker", repo_folder="onnx", name="a")
        assert not registry.call(populated, "hayakoe_delete_speaker", repo_folder="onnx", name="a")
        if registry.has(populated, "hayakoe_list_speakers"):
            speakers = registry.call(populated, "hayakoe_list_speakers")
            assert speakers == {"onnx": ["b"], "pytorch": ["a"]}
        if registry.has(populated, "hayakoe_fetch"):
            got = self.fetch(registry, populated, "pytorch/speakers/a", tmp_path / "c")
            assert got == SPEAKER_B
            with pytest.raises(NotFoundError):
                self.fetch(registry, populated, "onnx/speakers/a", tmp_path / "c2")
        if registry.has(populated, "hayakoe_read_readme"):
            assert registry.call(populated, "hayakoe_read_readme") == README_TEXT

    def test_delete_speaker_refuses_traversal(self, registry: Registry, populated: Target) -> None:
        self.require(registry, populated, "hayakoe_delete_speaker")
        for folder, name in (("onnx", ".."), ("onnx", "../b"), ("..", "a"), ("onnx", "a\\b")):
            with pytest.raises(UnsafePathError):
                registry.call(populated, "hayakoe_delete_speaker", repo_folder=folder, name=name)
