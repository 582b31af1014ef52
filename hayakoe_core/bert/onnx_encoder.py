"""The int8 ONNX BERT (``onnx/bert/q8/bert_q8.onnx``) run on the CPU with onnxruntime.

Graph contract: int64 ``input_ids`` and ``attention_mask`` ``[batch, seq_len]`` in, float32
``hidden_states`` ``[batch, seq_len, hidden]`` out (DeBERTa's ``hidden_states[-3]``).

Building the session is the slow part of loading (full-size graph: ~2.2 s on 2 cores, mostly
graph optimisation). With ``optimized_cache`` the optimised graph is saved once and later loads
read it (~0.5 s, same outputs); see :func:`hayakoe_core.ort.cpu_session`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hayakoe_core.ort import cpu_session


class OnnxBertEncoder:
    """Token ids → per-token hidden states through one onnxruntime CPU session.

    The session is built once, in the constructor; each call is one ``session.run``.
    ``optimized_cache``: a folder for ORT-optimised copies of the graph (``None``: no cache).
    """

    def __init__(self, path: Path, threads: int | None = None, optimized_cache: Path | None = None) -> None:
        self.path = path
        self._session = cpu_session(path, threads, optimized_cache)

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """float32 ``[B, T, hidden]`` for int64 ``input_ids``/``attention_mask`` ``[B, T]``."""
        feed = {
            "input_ids": np.ascontiguousarray(input_ids, dtype=np.int64),
            "attention_mask": np.ascontiguousarray(attention_mask, dtype=np.int64),
        }
        (hidden,) = self._session.run(["hidden_states"], feed)
        return hidden
