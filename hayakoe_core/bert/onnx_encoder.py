"""The int8 ONNX BERT (``onnx/bert/q8/bert_q8.onnx``) run on the CPU with onnxruntime.

Graph contract: int64 ``input_ids`` and ``attention_mask`` ``[batch, seq_len]`` in, float32
``hidden_states`` ``[batch, seq_len, hidden]`` out (DeBERTa's ``hidden_states[-3]``).

Building the session is the slow part of loading (full-size graph: ~2.2 s on 2 cores, mostly
graph optimisation). With ``optimized_cache`` the optimised graph is saved once and later loads
read it (~0.5 s, same outputs). ORT's optimised graphs are specific to the ORT version and the
CPU, so the cache key includes both, and the source file's identity.
"""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from hayakoe_core.ort import cpu_session, session_options


class OnnxBertEncoder:
    """Token ids → per-token hidden states through one onnxruntime CPU session.

    The session is built once, in the constructor; each call is one ``session.run``.
    ``optimized_cache``: a folder for ORT-optimised copies of the graph (``None``: no cache).
    """

    def __init__(self, path: Path, threads: int | None = None, optimized_cache: Path | None = None) -> None:
        self.path = path
        if optimized_cache is None:
            self._session = cpu_session(path, threads)
        else:
            self._session = _cached_session(path, threads, optimized_cache)

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """float32 ``[B, T, hidden]`` for int64 ``input_ids``/``attention_mask`` ``[B, T]``."""
        feed = {
            "input_ids": np.ascontiguousarray(input_ids, dtype=np.int64),
            "attention_mask": np.ascontiguousarray(attention_mask, dtype=np.int64),
        }
        (hidden,) = self._session.run(["hidden_states"], feed)
        return hidden


def _cached_session(path: Path, threads: int | None, cache: Path) -> Any:
    """A session from the cached optimised graph, writing it (atomically) on a cache miss."""
    cached = cache / f"{path.stem}-{_cache_key(path)}.onnx"
    if cached.is_file():
        return cpu_session(cached, threads)
    import onnxruntime as ort

    cache.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f".{cached.name}.{os.getpid()}.partial")
    opts = session_options(threads)
    opts.optimized_model_filepath = str(partial)
    session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    os.replace(partial, cached)
    return session


def _cache_key(path: Path) -> str:
    import onnxruntime as ort

    stat = path.stat()
    identity = [str(path.resolve()), str(stat.st_size), str(stat.st_mtime_ns), ort.__version__]
    identity += [platform.machine(), _cpu_flags()]
    return hashlib.sha256("\n".join(identity).encode()).hexdigest()[:16]


def _cpu_flags() -> str:
    """The CPU's feature flags (Linux), else the processor name: kernels ORT picks depend on them."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
