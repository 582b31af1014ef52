"""The OpenVINO speaker runtime: the ONNX backend's speaker folder compiled by OpenVINO for the CPU.

The same ``synthesizer.onnx`` / ``duration_predictor.onnx`` files, read by OpenVINO's ONNX
frontend; the folder's layout, feeds and durations are core's
(:class:`hayakoe_core.synthesis.GraphSpeaker`). Compile settings, chosen for the latency of one
utterance at a time on a small CPU:

- ``INFERENCE_PRECISION_HINT=f32``: OpenVINO's CPU plugin otherwise computes in bf16 on CPUs that
  have it (AVX512-BF16, AMX), which moves durations and audio beyond the conformance tolerance.
  In f32 the graphs reproduce the goldens within it.
- ``PERFORMANCE_HINT=LATENCY`` with ``NUM_STREAMS=1``: one inference at a time using every
  physical core of one socket (OpenVINO's latency choice; hyper-threads are left out). A caller
  who wants fewer threads sets ``HAYAKOE_OPENVINO_THREADS``.
- a model cache (``CACHE_DIR``) under the folder the runtime gives this backend: compiling the
  full-size synthesizer takes several seconds, importing the cached blob about a second.
  OpenVINO keys a blob by the graph's *path*, not its content, so each graph gets a folder of
  its own named by the file's identity (path, size, mtime), the OpenVINO version and the
  precision; a changed file or another OpenVINO compiles afresh and older folders of the same
  graph are removed.

Only openvino and numpy are imported: this path never imports torch.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from hayakoe_core.errors import ConfigError, HayakoeError
from hayakoe_core.synthesis import GraphSpeaker, check_graph

THREADS_ENV = "HAYAKOE_OPENVINO_THREADS"
PRECISION = "f32"
#: Shortest input OpenVINO runs (window 4 of the text encoder's relative attention, plus one).
MIN_PHONES = 5


@dataclass
class _Graph:
    """A compiled OpenVINO model with one infer request and the names it declares (an output
    port may carry several tensor names, e.g. ``durations`` and an internal one: all count).

    Inputs of fewer than :data:`MIN_PHONES` phones run on onnxruntime instead: OpenVINO's shape
    inference gives the relative-attention ``Pad`` (whose pads go negative there) a lower bound of
    ``2 * window + 1`` and the CPU plugin then refuses the call. The text frontend never makes such
    inputs (it always adds start/end blanks), but the model goldens and direct callers do.
    """

    path: Path
    request: Any
    inputs: frozenset[str]
    outputs: tuple[str, ...]
    _short: Any = None

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = {name: feeds[name] for name in self.inputs}
        if feeds["x"].shape[-1] < MIN_PHONES:
            return self._run_short(feeds)
        result = self.request.infer(feeds)
        # copies: the request reuses its output buffers on the next call
        return {name: np.array(value) for port, value in result.items() for name in port.get_names()}

    def _run_short(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self._short is None:
            import onnxruntime as ort

            self._short = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        names = [o.name for o in self._short.get_outputs()]
        return dict(zip(names, self._short.run(names, feeds), strict=True))


class OpenVinoSpeaker(GraphSpeaker):
    """A :class:`hayakoe_core.synthesis.SpeakerModel` running upstream's ONNX graphs on OpenVINO."""

    @classmethod
    def load(cls, speaker_dir: str | Path, model_cache: Path | None = None) -> OpenVinoSpeaker:
        """Open the ONNX speaker folder ``speaker_dir`` (errors: see :class:`GraphSpeaker`);
        ``model_cache``: where compiled models are kept between loads (``None``: nowhere)."""
        return cls(speaker_dir, partial(_open_graph, model_cache=model_cache))


def compile_config(model_cache: Path | None = None) -> dict[str, str]:
    """The properties every graph is compiled with (see the module docstring)."""
    config = {
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": "1",
        "INFERENCE_PRECISION_HINT": PRECISION,
    }
    threads = os.environ.get(THREADS_ENV, "").strip()
    if threads:
        if not threads.isdigit() or int(threads) < 1:
            raise HayakoeError(f"{THREADS_ENV}={threads!r}: give a positive number of threads")
        config["INFERENCE_NUM_THREADS"] = threads
    if model_cache is not None:
        config["CACHE_DIR"] = str(model_cache)
    return config


def _open_graph(path: Path, required_output: str, model_cache: Path | None) -> _Graph:
    """The graph at ``path`` compiled for the CPU, checked against what the runtime feeds and reads."""
    import openvino as ov

    cache = _cache_folder(path, model_cache, ov.__version__) if model_cache is not None else None
    try:
        compiled = ov.Core().compile_model(str(path), "CPU", compile_config(cache))
    except RuntimeError as exc:
        lines = str(exc).strip().splitlines()
        reason = next((line for line in lines if "rror" in line), lines[0] if lines else type(exc).__name__)
        raise ConfigError(f"{path}: not a graph OpenVINO can load ({reason.strip()})") from None
    inputs = frozenset(port.get_any_name() for port in compiled.inputs)
    outputs = tuple(sorted(name for port in compiled.outputs for name in port.get_names()))
    check_graph(path, inputs, outputs, required_output)
    return _Graph(path, compiled.create_infer_request(), inputs, outputs)


def _cache_folder(path: Path, model_cache: Path, ov_version: str) -> Path:
    """``model_cache/<graph>-<path hash>/<identity hash>/``; other identities of the graph go."""
    source = path.resolve()
    stat = source.stat()
    identity = "\n".join(map(str, (source, stat.st_size, stat.st_mtime_ns, ov_version, PRECISION)))
    graph = model_cache / f"{path.stem}-{_digest(str(source))}"
    folder = graph / _digest(identity)
    if graph.is_dir():
        for stale in graph.iterdir():
            if stale != folder:
                shutil.rmtree(stale, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
