"""prepare_files of the ONNX backend: exports through a cache that is reused and never stale."""

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from hayakoe_backend_onnx import export
from hayakoe_backend_onnx.export_cache import export_key
from hayakoe_backend_onnx.runtime import OnnxSpeaker
from hayakoe_core.progress import NullProgress
from hayakoe_core.registry import get_registry
from hayakoe_core.synthesis import SynthesisInputs
from tests.support.repo import CHECKPOINT, TINY
from tests.support.repo import LEGACY_CHECKPOINT as LEGACY


def prepare(out, checkpoint=CHECKPOINT):
    return get_registry().prepare_files(
        "onnx",
        speaker_source=TINY,
        checkpoint=checkpoint,
        out_dir=out,
        cache_dir=Path(os.environ["HAYAKOE_CACHE"]) / "exports",
        progress=NullProgress(),
    )


def graphs_in(cache):
    return sorted(cache.glob("exports/*/*/synthesizer.onnx"))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def cache_env(cache, monkeypatch):
    monkeypatch.setenv("HAYAKOE_CACHE", str(cache))


def test_writes_the_onnx_file_set_matching_the_goldens(tmp_path):
    written = prepare(tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == ["config.json", "duration_predictor.onnx", "style_vectors.npy", "synthesizer.onnx"]
    golden = np.load(TINY / "onnx/golden/case1_T23.npz")
    speaker = OnnxSpeaker.load(tmp_path / "out")
    inputs = SynthesisInputs(
        x=golden["x"][0], tone=golden["tone"][0], language=golden["language"][0],
        bert=golden["bert"][0], style_vec=golden["style_vec"][0],
        noise_scale=0.0, noise_scale_w=0.0, sdp_ratio=0.0,
        length_scale=float(golden["length_scale"].reshape(-1)[0]),
    )
    np.testing.assert_allclose(speaker.synthesize(inputs).audio, golden["audio"].reshape(-1), atol=1e-5)


def test_second_prepare_reuses_the_export(cache, tmp_path):
    prepare(tmp_path / "a")
    (graph,) = graphs_in(cache)
    before = graph.stat().st_mtime_ns, graph.stat().st_ino
    prepare(tmp_path / "b")
    assert graphs_in(cache) == [graph]
    assert (graph.stat().st_mtime_ns, graph.stat().st_ino) == before


def test_another_checkpoint_gets_its_own_export(cache, tmp_path):
    prepare(tmp_path / "a")
    prepare(tmp_path / "legacy", checkpoint=LEGACY)
    assert len({p.parent.parent.name for p in graphs_in(cache)}) == 2


def test_a_new_exporter_version_does_not_reuse_old_graphs(cache, tmp_path, monkeypatch):
    prepare(tmp_path / "a")
    count = len(graphs_in(cache))
    monkeypatch.setattr(export, "EXPORTER_VERSION", export.EXPORTER_VERSION + "-next")
    prepare(tmp_path / "b")
    assert len(graphs_in(cache)) == count + 1


def test_an_interrupted_export_is_redone(cache, tmp_path):
    prepare(tmp_path / "a")
    ckpt, key = export_key(CHECKPOINT, TINY / "config.json", export.EXPORTER_VERSION)
    folder = cache / "exports" / ckpt / key
    (folder / ".complete").unlink()
    (folder / "synthesizer.onnx").write_bytes(b"half-written")
    prepare(tmp_path / "b")
    assert (folder / ".complete").read_text() == key
    exported = (folder / "synthesizer.onnx").read_bytes()
    assert exported != b"half-written"
    assert (tmp_path / "b/synthesizer.onnx").read_bytes() == exported


class RecordingProgress:
    """Every bar opened, as ``[description, total, advanced]``."""

    def __init__(self):
        self.bars = []

    @contextmanager
    def bar(self, description, total, unit="bytes"):
        record = [description, total, 0]
        self.bars.append(record)

        class Bar:
            def advance(self, amount):
                record[2] += amount

        yield Bar()


def test_a_cached_export_shows_no_bar(cache, tmp_path):
    prepare(tmp_path / "first")  # exported now or by an earlier test
    progress = RecordingProgress()
    get_registry().prepare_files(
        "onnx", speaker_source=TINY, checkpoint=CHECKPOINT, out_dir=tmp_path / "again",
        cache_dir=cache / "exports", progress=progress,
    )
    assert progress.bars == []
