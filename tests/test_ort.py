"""hayakoe_core.ort: the cache of ORT-optimised graphs behind ``cpu_session(optimized_cache=...)``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from hayakoe_core.ort import cpu_session

TINY = Path(__file__).resolve().parent / "fixtures" / "model" / "tiny" / "onnx"
CASE = TINY / "golden" / "case2_T61.npz"


@pytest.fixture
def graph(tmp_path: Path) -> Path:
    folder = tmp_path / "speaker"
    folder.mkdir()
    return Path(shutil.copy2(TINY / "synthesizer.onnx", folder / "synthesizer.onnx"))


def _audio(session) -> np.ndarray:
    """Audio of the golden case with every noise off, so that runs are comparable exactly."""
    with np.load(CASE) as npz:
        feeds = {i.name: npz[i.name] for i in session.get_inputs()}
    for name in ("noise_scale", "noise_scale_w", "sdp_ratio"):
        feeds[name] = np.zeros(1, dtype=np.float32)
    return session.run(["audio"], feeds)[0]


def _cached(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir())


def test_first_load_fills_the_cache_and_later_loads_read_it(graph: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    reference = _audio(cpu_session(graph))
    first = cpu_session(graph, optimized_cache=cache)
    names = _cached(cache)
    assert len(names) == 2 and names[0].startswith("synthesizer-") and names[1] == names[0] + ".key"
    copy = cache / names[0]
    stamp = copy.stat().st_mtime_ns
    second = cpu_session(graph, optimized_cache=cache)
    assert copy.stat().st_mtime_ns == stamp  # read, not rewritten
    np.testing.assert_array_equal(_audio(first), reference)
    np.testing.assert_allclose(_audio(second), reference, rtol=0, atol=1e-6)


def test_a_changed_source_or_key_replaces_the_copy(graph: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cpu_session(graph, optimized_cache=cache)
    key_file = next(cache.glob("*.key"))
    old_key = key_file.read_text()
    st = graph.stat()
    os.utime(graph, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # "re-downloaded"
    cpu_session(graph, optimized_cache=cache)
    assert key_file.read_text() != old_key
    assert len(_cached(cache)) == 2  # one copy per source path, not one per version
    key_file.write_text("garbage")
    cpu_session(graph, optimized_cache=cache)
    assert key_file.read_text() != "garbage"


def test_graphs_with_external_data_are_not_cached(graph: Path, tmp_path: Path) -> None:
    graph.with_name(graph.name + ".data").write_bytes(b"")  # unused by this graph; marks it
    cache = tmp_path / "cache"
    cpu_session(graph, optimized_cache=cache)
    assert not cache.exists()
