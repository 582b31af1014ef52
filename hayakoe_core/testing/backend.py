"""A conformance suite that any backend plugin runs against itself (pytest).

Subclass :class:`BackendConformance` in a test module, name the backend and provide the
``speaker_source`` fixture (a trained speaker folder and its checkpoint)::

    import pytest
    from hayakoe_core.testing import BackendConformance

    class TestTpuBackend(BackendConformance):
        backend = "tpu"

        @pytest.fixture(scope="class")
        @classmethod
        def speaker_source(cls):
            return Path("tests/fixtures/tiny"), Path("tests/fixtures/tiny/tiny_e1_s10.safetensors")

The suite goes through the registry, as publishing and the runtime do: ``prepare_files`` (by the
backend itself, or by the backend it names in ``BackendInfo.files_from``) → ``load_runtime`` →
synthesis, on the CPU. It checks the declaration, the prepared file set, synthesis, the cache
folder, that a missing or damaged file is a clear :class:`HayakoeError`, that ``check_files``
accepts the source without writing and refuses a damaged checkpoint, and that ``load_bert`` on the
CPU gives ``None`` or a working extractor. Optional fixtures add the model goldens
(:mod:`hayakoe_core.conformance.model`, tolerances in :mod:`hayakoe_core.conformance.tolerances`):
``prepared_goldens`` (``case*.npz`` the prepared files must reproduce) and ``ready_speakers``
(folders already in the backend's layout, each with its own ``golden/``, e.g. graphs exported by
upstream, or a checkpoint folder upstream published); and ``bert_root`` (a BERT source root, for
``load_bert``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from hayakoe_core.conformance.model import compare_case, golden_cases, read_case
from hayakoe_core.errors import ConfigError, HayakoeError
from hayakoe_core.paths import safe_relpath
from hayakoe_core.progress import NullProgress
from hayakoe_core.registry import BackendCapability, Registry, get_registry
from hayakoe_core.speaker_config import SpeakerConfig
from hayakoe_core.synthesis import SpeakerModel, SynthesisInputs
from hayakoe_core.types import BackendInfo


def fixed_inputs(config: SpeakerConfig, phones: int = 23, seed: int = 0) -> SynthesisInputs:
    """Deterministic inputs (noise off) for ``config``: add_blank layout, random ids and BERT."""
    rng = np.random.default_rng(seed)
    blank = np.arange(phones) % 2 == 0
    return SynthesisInputs(
        x=np.where(blank, 0, rng.integers(1, 100, phones)).astype(np.int64),
        tone=np.where(blank, 0, rng.integers(0, 12, phones)).astype(np.int64),
        language=np.where(blank, 0, 1).astype(np.int64),
        bert=rng.standard_normal((1024, phones)).astype(np.float32),
        style_vec=rng.standard_normal(256).astype(np.float32) * 0.1,
        noise_scale=0.0,
        noise_scale_w=0.0,
        sdp_ratio=0.0,
    )


class BackendConformance:
    """Behaviour every backend plugin shares. Subclasses set ``backend`` and ``speaker_source``."""

    backend: str

    @pytest.fixture(scope="class")
    @classmethod
    def registry(cls) -> Registry:
        """The registry the suite uses; override to register a plugin without installing it."""
        return get_registry()

    @pytest.fixture(scope="class")
    @classmethod
    def prepared_goldens(cls) -> Path | None:
        """A folder of ``case*.npz`` the prepared speaker must reproduce (``None``: skip)."""
        return None

    @pytest.fixture(scope="class")
    @classmethod
    def ready_speakers(cls) -> list[Path]:
        """Speaker folders in this backend's layout, each with a ``golden/`` of its own."""
        return []

    @pytest.fixture(scope="class")
    @classmethod
    def bert_root(cls) -> Path | None:
        """A BERT source root (``bert/tokenizer/``, ``onnx/bert/q8/``) for ``load_bert`` (``None``: skip)."""
        return None

    @pytest.fixture(scope="class")
    @classmethod
    def info(cls, registry: Registry) -> BackendInfo:
        return registry.backend(cls.backend)

    @pytest.fixture(scope="class")
    @classmethod
    def prepared(
        cls, registry: Registry, speaker_source: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
    ) -> Path:
        """The speaker folder ``prepare_files`` wrote (its return value checked on the way)."""
        source, checkpoint = speaker_source
        tmp = tmp_path_factory.mktemp(f"prepared-{cls.backend}")
        out = tmp / "speaker"
        written = cls._prepare(registry, source, checkpoint, out, tmp / "cache")
        assert written, "prepare_files returned no files"
        for path in written:
            assert path.is_file() and path.resolve().parent == out.resolve(), path
        assert sorted(p.name for p in written) == sorted(p.name for p in out.iterdir())
        return out

    @classmethod
    def _prepare(
        cls, registry: Registry, source: Path, checkpoint: Path, out: Path, cache: Path
    ) -> list[Path]:
        return registry.prepare_files(
            cls.backend,
            speaker_source=source,
            checkpoint=checkpoint,
            out_dir=out,
            cache_dir=cache,
            progress=NullProgress(),
        )

    def load(self, registry: Registry, folder: Path, cache: Path | None = None) -> SpeakerModel:
        return registry.load_runtime(self.backend, folder, "cpu", cache_dir=cache)

    # --- declaration ----------------------------------------------------------------------------

    def test_declaration(self, registry: Registry, info: BackendInfo) -> None:
        assert info.name == self.backend
        assert safe_relpath(info.repo_folder) == info.repo_folder and "/" not in info.repo_folder
        assert info.devices and all(isinstance(d, str) and d for d in info.devices)
        assert "cpu" in info.devices, (
            "the suite runs on the CPU; a backend for other devices only needs its own"
        )
        assert registry.files_owner(self.backend).repo_folder == info.repo_folder

    def test_hooks(self, registry: Registry, info: BackendInfo) -> None:
        assert registry.backend_supports(self.backend, BackendCapability.LOAD_RUNTIME)
        # a backend loading another's files prepares nothing itself: the registry routes to the owner
        prepares = registry.backend_supports(self.backend, BackendCapability.PREPARE_FILES)
        assert prepares == (info.files_from is None)

    # --- prepare + load + synthesise ----------------------------------------------------------

    def test_prepared_folder_loads_and_synthesises(
        self, registry: Registry, prepared: Path, tmp_path: Path
    ) -> None:
        model = self.load(registry, prepared, tmp_path / "derived")
        assert isinstance(model, SpeakerModel)
        config = SpeakerConfig.from_file(prepared / "config.json")
        assert model.config == config
        inputs = fixed_inputs(config)
        result = model.synthesize(inputs)
        audio = result.audio
        assert audio.dtype == np.float32 and audio.ndim == 1
        assert audio.size > 0 and audio.size % config.data.hop_length == 0
        assert np.isfinite(audio).all() and np.abs(audio).max() > 0
        assert result.durations.dtype == np.float32
        assert result.durations.shape in {(inputs.x.size,), (0,)}
        if result.durations.size:
            assert result.durations.sum() * config.data.hop_length == audio.size
            predicted = model.predict_durations(inputs)
            assert predicted is not None
            np.testing.assert_array_equal(predicted, result.durations)
        again = model.synthesize(inputs).audio
        np.testing.assert_allclose(again, audio, rtol=0, atol=1e-5)
        traced = model.trace(inputs)
        assert "audio" in traced
        np.testing.assert_allclose(traced["audio"].reshape(-1), audio, rtol=0, atol=1e-5)

    def test_cache_folder_gives_the_same_audio(
        self, registry: Registry, prepared: Path, tmp_path: Path
    ) -> None:
        inputs = fixed_inputs(SpeakerConfig.from_file(prepared / "config.json"), phones=31, seed=1)
        without = self.load(registry, prepared, None).synthesize(inputs).audio
        for _ in range(2):  # the first load may fill the cache, the second reads it
            cached = self.load(registry, prepared, tmp_path / "derived").synthesize(inputs).audio
            np.testing.assert_allclose(cached, without, rtol=0, atol=1e-5)

    def test_prepare_again_gives_the_same_files(
        self, registry: Registry, speaker_source: tuple[Path, Path], prepared: Path, tmp_path: Path
    ) -> None:
        source, checkpoint = speaker_source
        cache = prepared.parent / "cache"  # the cache the first prepare filled
        self._prepare(registry, source, checkpoint, tmp_path / "again", cache)
        first = {p.name: p.read_bytes() for p in prepared.iterdir()}
        assert {p.name: p.read_bytes() for p in (tmp_path / "again").iterdir()} == first

    # --- goldens ------------------------------------------------------------------------------

    def test_prepared_files_reproduce_goldens(
        self, registry: Registry, prepared: Path, prepared_goldens: Path | None
    ) -> None:
        if prepared_goldens is None:
            pytest.skip("no goldens for the prepared speaker")
        model = self.load(registry, prepared)
        self._check_goldens(model, sorted(prepared_goldens.glob("case*.npz")))

    def test_ready_speakers_reproduce_goldens(self, registry: Registry, ready_speakers: list[Path]) -> None:
        if not ready_speakers:
            pytest.skip("no ready speaker folders with goldens")
        for folder in ready_speakers:
            self._check_goldens(self.load(registry, folder), golden_cases(folder))

    def _check_goldens(self, model: SpeakerModel, cases: list[Path]) -> None:
        assert cases, "no golden case*.npz"
        failed = []
        for path in cases:
            inputs, golden = read_case(path)
            checks = compare_case(path.stem, golden, model.trace(inputs))
            assert any(c.name == "audio" for c in checks)
            failed += [c.line() for c in checks if not c.passed]
        assert not failed, "\n".join(failed)

    # --- checking a source before preparing, the BERT -----------------------------------------

    def test_check_files_accepts_the_source_and_writes_nothing(
        self, registry: Registry, speaker_source: tuple[Path, Path], tmp_path: Path
    ) -> None:
        source, checkpoint = _copied_source(speaker_source, tmp_path)
        before = _snapshot(tmp_path)
        checked = registry.check_files(self.backend, speaker_source=source, checkpoint=checkpoint)
        owner = registry.files_owner(self.backend).name
        assert checked is registry.backend_supports(owner, BackendCapability.CHECK_FILES)
        assert _snapshot(tmp_path) == before, "check_files wrote or changed files"

    def test_check_files_refuses_a_damaged_checkpoint_naming_it(
        self, registry: Registry, speaker_source: tuple[Path, Path], tmp_path: Path
    ) -> None:
        source, checkpoint = _copied_source(speaker_source, tmp_path)
        checkpoint.write_bytes(b"\x00not a checkpoint\xff" * 3)
        try:
            checked = registry.check_files(self.backend, speaker_source=source, checkpoint=checkpoint)
        except ConfigError as exc:
            assert checkpoint.name in str(exc) and "\n" not in str(exc), exc
        else:
            assert not checked, "check_files passed a damaged checkpoint"
            pytest.skip("this backend has no check_files: it is checked when it prepares files")

    def test_load_bert_on_the_cpu_gives_none_or_working_features(
        self, registry: Registry, bert_root: Path | None
    ) -> None:
        """``None`` (core's int8 ONNX BERT serves this backend) or an extractor of its own."""
        if bert_root is None:
            pytest.skip("no bert_root to load a BERT from")
        own = registry.load_bert(self.backend, bert_root, "cpu")
        if own is None:
            return
        items = [("テストです", [2, 2, 2, 2, 2, 2, 2]), ("はい", [3, 2, 2, 1])]  # [CLS] chars [SEP]
        for (text, word2ph), batched in zip(items, own.features_batch(items), strict=True):
            for features in (own.features(text, word2ph), batched):
                assert features.dtype == np.float32 and features.shape == (1024, sum(word2ph))
                assert np.isfinite(features).all() and np.abs(features).max() > 0

    # --- bad file sets ------------------------------------------------------------------------

    def test_empty_folder_is_a_config_error(self, registry: Registry, tmp_path: Path) -> None:
        with pytest.raises(ConfigError) as err:
            self.load(registry, tmp_path)
        assert "\n" not in str(err.value)

    def test_missing_config_is_a_config_error_naming_it(
        self, registry: Registry, prepared: Path, tmp_path: Path
    ) -> None:
        folder = shutil.copytree(prepared, tmp_path / "speaker")
        (folder / "config.json").unlink()
        with pytest.raises(ConfigError, match=r"config\.json"):
            self.load(registry, folder)

    def test_each_missing_or_damaged_file_is_clear(
        self, registry: Registry, prepared: Path, tmp_path: Path
    ) -> None:
        """Without any one file, or with it damaged, the speaker either still loads and
        synthesises (an optional file) or fails with a one-line HayakoeError naming the file."""
        inputs = fixed_inputs(SpeakerConfig.from_file(prepared / "config.json"))
        for name in sorted(p.name for p in prepared.iterdir()):
            for damage in ("missing", "damaged"):
                folder = tmp_path / f"{name}-{damage}"
                shutil.copytree(prepared, folder)
                if damage == "missing":
                    (folder / name).unlink()
                else:
                    (folder / name).write_bytes(b"\x00not what it should be\xff" * 3)
                try:
                    model = self.load(registry, folder)
                    model.synthesize(inputs)
                    model.predict_durations(inputs)
                except HayakoeError as exc:
                    assert name in str(exc) and "\n" not in str(exc), f"{name} {damage}: {exc}"


def _copied_source(speaker_source: tuple[Path, Path], into: Path) -> tuple[Path, Path]:
    """A copy of the speaker source's config, style vectors and checkpoint under ``into``."""
    source, checkpoint = speaker_source
    folder = into / "source"
    folder.mkdir()
    for name in ("config.json", "style_vectors.npy"):
        shutil.copy2(source / name, folder / name)
    return folder, Path(shutil.copy2(checkpoint, folder / checkpoint.name))


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and modification time."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}
