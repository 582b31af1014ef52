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
- with that cache, the synthesizer is cut into an encoder and a frame-masked decoder
  (:mod:`hayakoe_backend_openvino.split`, IR kept in the synthesizer's folder there) and the
  decoder only ever runs on the lengths in :data:`DECODER_LENGTHS`: OpenVINO keeps memory for
  every distinct shape it has run, so this bounds what a long-running process grows by. Longer
  latents are decoded in windows of at most the largest length, with
  :func:`hayakoe_core.synthesis.decoder_context_frames` frames of context either side (the
  windowed decoding streams use). Without a cache the synthesizer runs whole.

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

from hayakoe_backend_openvino.split import FRAMES_INPUT, split_graphs
from hayakoe_core.errors import ConfigError, HayakoeError
from hayakoe_core.synthesis import (
    SYNTHESIZER_FILE,
    GraphSpeaker,
    Latent,
    SynthesisInputs,
    SynthesisResult,
    check_graph,
    decoder_context_frames,
    graph_feeds,
)

THREADS_ENV = "HAYAKOE_OPENVINO_THREADS"
PRECISION = "f32"
#: Shortest input OpenVINO runs (window 4 of the text encoder's relative attention, plus one).
MIN_PHONES = 5
#: The latent lengths (frames) the cut decoder runs on: a latent is padded up to the next one,
#: longer ones go in windows of the last. Steps of about 2^(1/3): at most ~26% (mean ~11%) padding
#: for a short utterance, 13 shapes in all (~0.2 MiB per frame each on the full-size speaker, so
#: an estimated ~0.7 GiB if a process meets every one).
DECODER_LENGTHS = (32, 40, 48, 64, 80, 104, 128, 160, 208, 256, 320, 408, 512)


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
    _short: _OnnxRuntimeGraph | None = None

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = {name: feeds[name] for name in self.inputs}
        if feeds["x"].shape[-1] < MIN_PHONES:
            self._short = self._short or _OnnxRuntimeGraph(self.path)
            return self._short.run(feeds)
        return _infer(self.request, feeds)


class _OnnxRuntimeGraph:
    """An ONNX graph run by onnxruntime, for inputs OpenVINO refuses (see :class:`_Graph`)."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [o.name for o in self.session.get_outputs()]
        given = {i.name: feeds[i.name] for i in self.session.get_inputs()}
        return dict(zip(names, self.session.run(names, given), strict=True))


@dataclass
class _PaddedDecoder:
    """The cut decoder: a latent of up to ``DECODER_LENGTHS[-1]`` frames, run padded to the next
    of :data:`DECODER_LENGTHS` with ``frames`` telling the masks where it really ends; the audio
    of the real frames comes back. Declares the inputs core feeds a decoder (``z``, ``g``)."""

    request: Any
    inputs: frozenset[str]
    outputs: tuple[str, ...]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        z = feeds["z"]
        frames = z.shape[2]
        length = next(n for n in DECODER_LENGTHS if n >= frames)
        padded = {name: feeds[name] for name in self.inputs}
        padded["z"] = np.pad(z, ((0, 0), (0, 0), (0, length - frames)))
        padded[FRAMES_INPUT] = np.array(frames, dtype=np.int64)
        audio = _infer(self.request, padded)["audio"]
        return {"audio": audio[..., : audio.shape[-1] * frames // length]}


def _infer(request: Any, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    result = request.infer(feeds)
    # copies: the request reuses its output buffers on the next call
    return {name: np.array(value) for port, value in result.items() for name in port.get_names()}


class OpenVinoSpeaker(GraphSpeaker):
    """A :class:`hayakoe_core.synthesis.SpeakerModel` running upstream's ONNX graphs on OpenVINO."""

    @classmethod
    def load(cls, speaker_dir: str | Path, model_cache: Path | None = None) -> OpenVinoSpeaker:
        """Open the ONNX speaker folder ``speaker_dir`` (errors: see :class:`GraphSpeaker`);
        ``model_cache``: where compiled models and the cut graphs are kept between loads
        (``None``: nowhere, and the synthesizer runs whole)."""
        synthesizer = Path(speaker_dir) / SYNTHESIZER_FILE
        split = None
        if model_cache is not None and synthesizer.is_file():
            import openvino as ov

            found = split_graphs(synthesizer, _cache_folder(synthesizer, model_cache, ov.__version__))
            split = None if found is None else (found.encoder, found.decoder)
        speaker = cls(speaker_dir, partial(_open_graph, model_cache=model_cache), split=split)
        speaker._synthesizer_file = synthesizer
        return speaker

    _synthesizer_file: Path
    _whole: _OnnxRuntimeGraph | None = None

    def synthesize(self, inputs: SynthesisInputs) -> SynthesisResult:
        """As :meth:`GraphSpeaker.synthesize`; with the synthesizer cut, inputs under
        :data:`MIN_PHONES` phones run it whole on onnxruntime (see :class:`_Graph`)."""
        if self._decoder is None or len(inputs.x) >= MIN_PHONES:
            return super().synthesize(inputs)
        self._whole = self._whole or _OnnxRuntimeGraph(self._synthesizer_file)
        out = self._whole.run(graph_feeds(inputs))
        durations = out.get("durations", np.zeros(0))
        return SynthesisResult(
            audio=np.asarray(out["audio"], dtype=np.float32).reshape(-1),
            durations=np.asarray(durations, dtype=np.float32).reshape(-1),
        )

    def encode(self, inputs: SynthesisInputs) -> Latent | None:
        """As :meth:`GraphSpeaker.encode`; ``None`` (synthesise whole) under :data:`MIN_PHONES`."""
        return None if len(inputs.x) < MIN_PHONES else super().encode(inputs)

    def decode(self, latent: Latent, start: int, end: int) -> np.ndarray:
        """As :meth:`GraphSpeaker.decode`, in pieces whose decoder input (context included) is
        at most the largest of :data:`DECODER_LENGTHS` frames."""
        context, longest = decoder_context_frames(self.config), DECODER_LENGTHS[-1]
        pieces, a = [], start
        while a < end:
            first = max(0, a - context)
            b = end if min(latent.frames, end + context) - first <= longest else first + longest - context
            pieces.append(super().decode(latent, a, b))
            a = b
        return np.concatenate(pieces) if len(pieces) != 1 else pieces[0]


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


def _open_graph(path: Path, required_output: str, model_cache: Path | None) -> _Graph | _PaddedDecoder:
    """The graph at ``path`` compiled for the CPU, checked against what the runtime feeds and reads."""
    import openvino as ov

    cache = None
    if model_cache is not None:
        # graphs cut by split_graphs already sit in their source's identity folder
        derived = path.resolve().is_relative_to(model_cache.resolve())
        cache = path.parent if derived else _cache_folder(path, model_cache, ov.__version__)
    try:
        compiled = ov.Core().compile_model(str(path), "CPU", compile_config(cache))
    except RuntimeError as exc:
        lines = str(exc).strip().splitlines()
        reason = next((line for line in lines if "rror" in line), lines[0] if lines else type(exc).__name__)
        raise ConfigError(f"{path}: not a graph OpenVINO can load ({reason.strip()})") from None
    inputs = frozenset(port.get_any_name() for port in compiled.inputs)
    outputs = tuple(sorted(name for port in compiled.outputs for name in port.get_names()))
    fed = inputs - {FRAMES_INPUT}
    check_graph(path, fed, outputs, required_output)
    if FRAMES_INPUT in inputs:
        return _PaddedDecoder(compiled.create_infer_request(), fed, outputs)
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
