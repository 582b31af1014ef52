"""The ONNX speaker runtime: an upstream ONNX speaker folder run with onnxruntime on the CPU.

A speaker folder holds ``config.json``, ``synthesizer.onnx`` (weights over 2 GB in
``synthesizer.onnx.data`` beside it) and, optionally, ``duration_predictor.onnx``. The graphs have
batch fixed at 1 and take their inputs by name (see tests/fixtures/model/tiny/onnx/README.md).

Only onnxruntime and numpy are imported: the CPU path never imports torch.

Durations (frames per phone):

- ``synthesize`` reports the synthesizer's optional second output ``durations``, the same draw as
  the audio (what per-phoneme timings need); a graph without that output reports an empty array
  and costs nothing more;
- ``predict_durations`` runs ``duration_predictor.onnx`` (sentence pauses). When
  ``noise_scale_w`` and ``sdp_ratio`` are both non-zero the stochastic duration predictor draws
  its own noise, so these are a separate draw from any synthesis;
- ``trace`` (conformance) reports the first, else the second, else leaves ``durations`` out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hayakoe_core.errors import ConfigError
from hayakoe_core.ort import cpu_session
from hayakoe_core.speaker_config import SpeakerConfig
from hayakoe_core.synthesis import SYNTHESIZER_INPUTS, SynthesisInputs, SynthesisResult

SYNTHESIZER_FILE = "synthesizer.onnx"
DURATION_PREDICTOR_FILE = "duration_predictor.onnx"
CONFIG_FILE = "config.json"

# Every input either graph may declare; a graph asking for anything else is not one we can feed.
_FEED_NAMES = frozenset(SYNTHESIZER_INPUTS)


@dataclass(frozen=True)
class _Graph:
    """An onnxruntime session with the input and output names it declares."""

    session: Any
    inputs: frozenset[str]
    outputs: tuple[str, ...]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run with the feeds this graph declares; returns every output by name."""
        values = self.session.run(None, {name: feeds[name] for name in self.inputs})
        return dict(zip(self.outputs, values, strict=True))


class OnnxSpeaker:
    """A :class:`hayakoe_core.synthesis.SpeakerModel` backed by upstream-format ONNX graphs.

    Build with :meth:`load`. Thread-compatible, not thread-safe: one call at a time per speaker.
    """

    def __init__(
        self,
        config: SpeakerConfig,
        synthesizer: _Graph,
        duration_predictor: Path | None,
        optimized_cache: Path | None = None,
    ) -> None:
        self.config = config
        self._optimized_cache = optimized_cache
        self._synthesizer = synthesizer
        self._dp_path = duration_predictor
        self._dp_graph: _Graph | None = None

    @classmethod
    def load(cls, speaker_dir: str | Path, optimized_cache: Path | None = None) -> OnnxSpeaker:
        """Open the speaker folder ``speaker_dir``.

        Raises :class:`ConfigError` naming the file when config.json or synthesizer.onnx is
        missing or unreadable, when a graph cannot be loaded, or when a graph lacks the outputs
        or wants inputs this runtime does not know (``audio`` / ``durations`` respectively).
        duration_predictor.onnx is opened here when the synthesizer has no ``durations`` output
        (then sentence pauses need it, so a broken file should fail the load); otherwise on the
        first :meth:`predict_durations`, which then raises those errors. That keeps its session
        (about 30 MiB and 0.3 s at full size) out of speakers that never ask for it.
        """
        speaker_dir = Path(speaker_dir)
        config = SpeakerConfig.from_file(speaker_dir / CONFIG_FILE)
        synthesizer = _open_graph(speaker_dir / SYNTHESIZER_FILE, "audio", optimized_cache)
        dp_path = speaker_dir / DURATION_PREDICTOR_FILE
        speaker = cls(config, synthesizer, dp_path if dp_path.exists() else None, optimized_cache)
        if "durations" not in synthesizer.outputs:
            speaker._duration_predictor()
        return speaker

    @property
    def has_durations(self) -> bool:
        """Whether :meth:`synthesize` reports the durations it used (see the module docstring)."""
        return "durations" in self._synthesizer.outputs

    def _duration_predictor(self) -> _Graph | None:
        """The duration predictor's session, opened on first use; ``None`` without the file."""
        if self._dp_graph is None and self._dp_path is not None:
            self._dp_graph = _open_graph(self._dp_path, "durations", self._optimized_cache)
        return self._dp_graph

    def synthesize(self, inputs: SynthesisInputs) -> SynthesisResult:
        """Audio float32 [L]; durations float32 [T], empty when :attr:`has_durations` is false."""
        out = self._synthesizer.run(_feeds(inputs))
        durations = _flat(out["durations"]) if "durations" in out else np.zeros(0, dtype=np.float32)
        return SynthesisResult(audio=_flat(out["audio"]), durations=durations)

    def predict_durations(self, inputs: SynthesisInputs) -> np.ndarray | None:
        """Frames per phone, float32 [T], from duration_predictor.onnx; ``None`` without one."""
        graph = self._duration_predictor()
        return None if graph is None else _flat(graph.run(_feeds(inputs))["durations"])

    def trace(self, inputs: SynthesisInputs) -> dict[str, np.ndarray]:
        """``audio`` float32 [L] and, when available, ``durations`` float32 [T].

        The graphs are opaque, so no intermediate tensors are reported.
        """
        feeds = _feeds(inputs)
        out = self._synthesizer.run(feeds)
        traced = {"audio": _flat(out["audio"])}
        if "durations" in out:
            traced["durations"] = _flat(out["durations"])
        elif (graph := self._duration_predictor()) is not None:
            traced["durations"] = _flat(graph.run(feeds)["durations"])
        return traced


def _open_graph(path: Path, required_output: str, optimized_cache: Path | None) -> _Graph:
    """A session for the graph at ``path``, checked against what this runtime feeds and reads
    (``optimized_cache``: see :func:`hayakoe_core.ort.cpu_session`)."""
    if not path.is_file():
        raise ConfigError(f"{path.parent}: {path.name} not found")
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

    load_errors = (
        ort_state.Fail,
        ort_state.InvalidArgument,
        ort_state.InvalidGraph,
        ort_state.InvalidProtobuf,
        ort_state.NoSuchFile,
        ort_state.NoModel,
        ort_state.NotImplemented,
        ort_state.RuntimeException,
    )
    try:
        session = cpu_session(path, optimized_cache=optimized_cache)
    except load_errors as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: not a loadable ONNX graph ({first_line})") from None
    inputs = frozenset(i.name for i in session.get_inputs())
    outputs = tuple(o.name for o in session.get_outputs())
    unknown = sorted(inputs - _FEED_NAMES)
    if unknown:
        raise ConfigError(f"{path}: unexpected graph inputs {unknown}; not an SBV2 JP-Extra graph")
    if required_output not in outputs:
        raise ConfigError(f"{path}: the graph has no {required_output!r} output")
    return _Graph(session=session, inputs=inputs, outputs=outputs)


def _feeds(inputs: SynthesisInputs) -> dict[str, np.ndarray]:
    """Every graph input by name, with the batch axis added and scalars as float32 [1]."""
    x = np.asarray(inputs.x, dtype=np.int64)
    return {
        "x": x[None],
        "x_lengths": np.array([x.shape[0]], dtype=np.int64),
        "sid": np.array([inputs.sid], dtype=np.int64),
        "tone": np.asarray(inputs.tone, dtype=np.int64)[None],
        "language": np.asarray(inputs.language, dtype=np.int64)[None],
        "bert": np.asarray(inputs.bert, dtype=np.float32)[None],
        "style_vec": np.asarray(inputs.style_vec, dtype=np.float32)[None],
        "noise_scale": np.array([inputs.noise_scale], dtype=np.float32),
        "length_scale": np.array([inputs.length_scale], dtype=np.float32),
        "noise_scale_w": np.array([inputs.noise_scale_w], dtype=np.float32),
        "sdp_ratio": np.array([inputs.sdp_ratio], dtype=np.float32),
    }


def _flat(array: np.ndarray) -> np.ndarray:
    """A graph output with its size-1 batch/channel axes dropped: audio [L], durations [T]."""
    return np.ascontiguousarray(array, dtype=np.float32).reshape(-1)
