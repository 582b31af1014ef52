"""The contract between core and a backend's speaker runtime.

Core (text frontend, runtime API, conformance runner) builds :class:`SynthesisInputs` and calls a
:class:`SpeakerModel` that a backend plugin returned from ``hayakoe_load_runtime``. Arrays are
numpy, batch axis omitted (B = 1 is implied); backends add it themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hayakoe_core.errors import ConfigError
from hayakoe_core.speaker_config import SpeakerConfig

BERT_DIM = 1024
STYLE_DIM = 256

#: Inputs of ``synthesizer.onnx`` in upstream's positional order; scalars are float32 [1].
SYNTHESIZER_INPUTS = (
    "x", "x_lengths", "sid", "tone", "language", "bert", "style_vec",
    "noise_scale", "length_scale", "noise_scale_w", "sdp_ratio",
)  # fmt: skip
#: Inputs of ``duration_predictor.onnx``: the same without ``noise_scale``.
DURATION_PREDICTOR_INPUTS = tuple(n for n in SYNTHESIZER_INPUTS if n != "noise_scale")


@dataclass(frozen=True)
class SynthesisParams:
    """Everything a synthesis takes besides the text: the style vector (float32 [256]), the
    speaker id and the four scalars, with upstream's speaker-API defaults."""

    style_vec: np.ndarray
    sid: int = 0
    noise_scale: float = 0.6
    length_scale: float = 1.0
    noise_scale_w: float = 0.8
    sdp_ratio: float = 0.2


@dataclass(frozen=True)
class SynthesisInputs:
    """Everything the synthesizer consumes for one utterance (T = phone count incl. blanks).

    ``x``, ``tone``, ``language``: int64 [T]; ``bert``: float32 [1024, T]; ``style_vec``:
    float32 [256]. Scalars default to upstream's speaker-API defaults.
    """

    x: np.ndarray
    tone: np.ndarray
    language: np.ndarray
    bert: np.ndarray
    style_vec: np.ndarray
    sid: int = 0
    noise_scale: float = 0.6
    length_scale: float = 1.0
    noise_scale_w: float = 0.8
    sdp_ratio: float = 0.2

    @classmethod
    def build(
        cls,
        x: Sequence[int],
        tone: Sequence[int],
        language: Sequence[int],
        bert: np.ndarray,
        params: SynthesisParams,
    ) -> SynthesisInputs:
        """Inputs for the id sequences of one text (int64 arrays are made here) with ``params``."""
        return cls(
            x=np.asarray(x, dtype=np.int64),
            tone=np.asarray(tone, dtype=np.int64),
            language=np.asarray(language, dtype=np.int64),
            bert=bert,
            **vars(params),
        )


@dataclass(frozen=True)
class SynthesisResult:
    """``audio``: float32 [L] in [-1, 1]; ``durations``: float32 [T], frames per phone."""

    audio: np.ndarray
    durations: np.ndarray


@runtime_checkable
class SpeakerModel(Protocol):
    """A loaded speaker that synthesises. Returned by a backend's ``hayakoe_load_runtime``.

    ``trace`` exists for the conformance runner: it runs the same computation as ``synthesize``
    and returns named tensors using the golden files' names (``audio``, ``durations`` always;
    a backend that can see inside the model adds intermediates such as ``enc_x``, ``w``,
    ``flow_steps``). Names a backend cannot produce are simply absent.
    """

    config: SpeakerConfig

    def synthesize(self, inputs: SynthesisInputs) -> SynthesisResult:
        """Run the whole synthesizer once."""
        ...

    def predict_durations(self, inputs: SynthesisInputs) -> np.ndarray | None:
        """Frames per phone, float32 [T], without decoding audio; ``None`` when the speaker
        has no duration predictor (an upstream ONNX folder without duration_predictor.onnx)."""
        ...

    def trace(self, inputs: SynthesisInputs) -> dict[str, np.ndarray]:
        """Named tensors of one run, for conformance checks (see the class docstring)."""
        ...


@dataclass(frozen=True)
class Latent:
    """A synthesis stopped before its decoder: ``frames`` latent frames (each becomes
    ``config.samples_per_frame`` samples), ``durations`` float32 [T] as in
    :class:`SynthesisResult`, and ``state``, whatever the backend's decoder needs (opaque to
    core)."""

    frames: int
    durations: np.ndarray
    state: Any


@runtime_checkable
class WindowedDecoding(Protocol):
    """What a :class:`SpeakerModel` offers, optionally, to decode one synthesis in windows (a
    stream's first audio comes sooner). ``decode`` of consecutive windows covering
    ``0..frames`` gives the same samples, within float tolerance, as ``synthesize``; each
    window is decoded with :func:`decoder_context_frames` frames of context either side.
    """

    def encode(self, inputs: SynthesisInputs) -> Latent | None:
        """Everything ``synthesize`` does before its decoder (the same random draws); ``None``
        when this speaker cannot decode in windows after all (the caller synthesises whole)."""
        ...

    def decode(self, latent: Latent, start: int, end: int) -> np.ndarray:
        """float32 audio of latent frames ``start..end`` (``(end - start) * samples_per_frame``
        samples)."""
        ...


@runtime_checkable
class Compilable(Protocol):
    """What a speaker model or a BERT offers, optionally, to ``torch.compile`` what it runs
    (slow first calls, faster ones after). ``TTS.prepare(compile=True)`` calls it on CUDA only;
    calling it again does nothing more."""

    def compile(self) -> None: ...


def decoder_context_frames(config: SpeakerConfig) -> int:
    """Latent frames either side of a window that reach its samples through the HiFi-GAN
    decoder (conv_pre, each upsampling stage's transposed conv and residual blocks, conv_post),
    rounded up, plus two for safety."""
    m = config.model
    reach = 3.0  # conv_pre, kernel 7, at the frame rate
    rate = 1
    for up_rate, up_kernel in zip(m.upsample_rates, m.upsample_kernel_sizes, strict=True):
        reach += (up_kernel / up_rate) / 2  # the transposed conv, in input samples
        rate *= up_rate
        per_block = [
            sum((k - 1) * d // 2 + ((k - 1) // 2 if m.resblock == "1" else 0) for d in dilations)
            for k, dilations in zip(m.resblock_kernel_sizes, m.resblock_dilation_sizes, strict=True)
        ]
        reach += max(per_block) / rate
    reach += 3 / rate  # conv_post, kernel 7, at the sample rate
    return math.ceil(reach) + 2


@runtime_checkable
class BertFeatures(Protocol):
    """Phone-level BERT features: what the runtime needs from a BERT, whichever backend runs it."""

    def features(self, bert_text: str, word2ph_blank: Sequence[int]) -> np.ndarray:
        """float32 [1024, sum(word2ph_blank)] for one text."""
        ...

    def features_batch(self, items: Sequence[tuple[str, Sequence[int]]]) -> list[np.ndarray]:
        """The same for several texts in one padded batch (multi-sentence generate)."""
        ...


# --- upstream's ONNX graphs, whichever runtime executes them ---------------------------------------

SYNTHESIZER_FILE = "synthesizer.onnx"
DURATION_PREDICTOR_FILE = "duration_predictor.onnx"


class Graph(Protocol):
    """One loaded graph of an ONNX speaker folder, as a runtime (onnxruntime, OpenVINO) runs it."""

    inputs: frozenset[str]
    outputs: tuple[str, ...]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run with the feeds this graph declares (a superset may be passed); every output by name."""
        ...


#: Opens the graph file at a path, checked with :func:`check_graph` for the output it must have.
GraphOpener = Callable[[Path, str], Graph]


#: Inputs of a decoder graph cut from the synthesizer (see :class:`GraphSpeaker`).
LATENT_INPUTS = ("z", "g")


def check_graph(path: Path, inputs: frozenset[str], outputs: Sequence[str], required_output: str) -> None:
    """:class:`ConfigError` naming ``path`` unless the graph takes only inputs we can feed and has
    ``required_output`` (``audio`` for the synthesizer or a decoder, ``durations`` for the
    duration predictor, ``z`` for an encoder)."""
    unknown = sorted(inputs - frozenset(SYNTHESIZER_INPUTS) - frozenset(LATENT_INPUTS))
    if unknown:
        raise ConfigError(f"{path}: unexpected graph inputs {unknown}; not an SBV2 JP-Extra graph")
    if required_output not in outputs:
        raise ConfigError(f"{path}: the graph has no {required_output!r} output")


def graph_feeds(inputs: SynthesisInputs) -> dict[str, np.ndarray]:
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


class GraphSpeaker:
    """A :class:`SpeakerModel` over an upstream ONNX speaker folder, for any graph runtime.

    The folder holds ``config.json``, ``synthesizer.onnx`` and, optionally,
    ``duration_predictor.onnx``; ``open_graph`` loads one graph with the backend's runtime.
    Durations (frames per phone):

    - ``synthesize`` reports the synthesizer's optional second output ``durations``, the same
      draw as the audio (what per-phoneme timings need); a graph without that output reports an
      empty array and costs nothing more;
    - ``predict_durations`` runs ``duration_predictor.onnx`` (sentence pauses). When
      ``noise_scale_w`` and ``sdp_ratio`` are both non-zero the stochastic duration predictor
      draws its own noise, so these are a separate draw from any synthesis;
    - ``trace`` (conformance) reports the first, else the second, else leaves ``durations`` out.

    ``split``: an encoder and a decoder graph cut from the synthesizer (the encoder's outputs
    ``z`` [1, C, F] and ``g``, and ``durations`` when the synthesizer has it; the decoder's inputs
    ``z`` and ``g``, output ``audio``). They are then run instead of it, the same computation, and
    the speaker offers :class:`WindowedDecoding`. Thread-compatible, not thread-safe: one call at
    a time per speaker.
    """

    def __init__(
        self, speaker_dir: str | Path, open_graph: GraphOpener, split: tuple[Path, Path] | None = None
    ) -> None:
        """Open ``speaker_dir``. :class:`ConfigError` naming the file when config.json or
        synthesizer.onnx is missing or unusable. duration_predictor.onnx is opened here when the
        synthesizer has no ``durations`` output (then sentence pauses need it, so a broken file
        should fail the load); otherwise on the first :meth:`predict_durations`, which then
        raises those errors: that keeps its weights (about 30 MiB at full size) out of speakers
        that never ask for it."""
        speaker_dir = Path(speaker_dir)
        self.config = SpeakerConfig.from_file(speaker_dir / "config.json")
        self._open_graph = open_graph
        self._decoder: Graph | None = None
        if split is None:
            self._synthesizer = self._open(speaker_dir / SYNTHESIZER_FILE, "audio")
        else:
            self._synthesizer = self._open(split[0], "z")
            self._decoder = self._open(split[1], "audio")
        self._context = decoder_context_frames(self.config)
        dp_path = speaker_dir / DURATION_PREDICTOR_FILE
        self._dp_path = dp_path if dp_path.exists() else None
        self._dp_graph: Graph | None = None
        if "durations" not in self._synthesizer.outputs:
            self._duration_predictor()

    def _open(self, path: Path, required_output: str) -> Graph:
        if not path.is_file():
            raise ConfigError(f"{path.parent}: {path.name} not found")
        return self._open_graph(path, required_output)

    @property
    def has_durations(self) -> bool:
        """Whether :meth:`synthesize` reports the durations it used (see the class docstring)."""
        return "durations" in self._synthesizer.outputs

    def _duration_predictor(self) -> Graph | None:
        """The duration predictor, opened on first use; ``None`` without the file."""
        if self._dp_graph is None and self._dp_path is not None:
            self._dp_graph = self._open(self._dp_path, "durations")
        return self._dp_graph

    def synthesize(self, inputs: SynthesisInputs) -> SynthesisResult:
        """Audio float32 [L]; durations float32 [T], empty when :attr:`has_durations` is false."""
        latent = self.encode(inputs)
        if latent is not None:
            return SynthesisResult(audio=self.decode(latent, 0, latent.frames), durations=latent.durations)
        out = self._synthesizer.run(graph_feeds(inputs))
        return SynthesisResult(audio=_flat(out["audio"]), durations=_durations(out))

    def encode(self, inputs: SynthesisInputs) -> Latent | None:
        """The encoder's ``z``, ``g`` and durations; ``None`` when the synthesizer is whole."""
        if self._decoder is None:
            return None
        out = self._synthesizer.run(graph_feeds(inputs))
        return Latent(frames=out["z"].shape[2], durations=_durations(out), state=out)

    def decode(self, latent: Latent, start: int, end: int) -> np.ndarray:
        """Audio float32 of frames ``start..end``, decoded with enough context either side."""
        assert self._decoder is not None
        first, last = max(0, start - self._context), min(latent.frames, end + self._context)
        feeds = {name: latent.state[name] for name in LATENT_INPUTS if name in latent.state}
        feeds["z"] = feeds["z"][:, :, first:last]
        audio = _flat(self._decoder.run(feeds)["audio"])
        spf = self.config.samples_per_frame
        return audio[(start - first) * spf : (end - first) * spf]

    def predict_durations(self, inputs: SynthesisInputs) -> np.ndarray | None:
        """Frames per phone, float32 [T], from duration_predictor.onnx; ``None`` without one."""
        graph = self._duration_predictor()
        return None if graph is None else _flat(graph.run(graph_feeds(inputs))["durations"])

    def trace(self, inputs: SynthesisInputs) -> dict[str, np.ndarray]:
        """``audio`` float32 [L] and, when available, ``durations`` float32 [T].

        The graphs are opaque, so no intermediate tensors are reported.
        """
        result = self.synthesize(inputs)
        traced = {"audio": result.audio}
        if len(result.durations):
            traced["durations"] = result.durations
        elif (graph := self._duration_predictor()) is not None:
            traced["durations"] = _flat(graph.run(graph_feeds(inputs))["durations"])
        return traced


def _durations(out: dict[str, np.ndarray]) -> np.ndarray:
    """A graph's ``durations`` output, or an empty array when it has none."""
    return _flat(out["durations"]) if "durations" in out else np.zeros(0, dtype=np.float32)


def _flat(array: np.ndarray) -> np.ndarray:
    """A graph output with its size-1 batch/channel axes dropped: audio [L], durations [T]."""
    return np.ascontiguousarray(array, dtype=np.float32).reshape(-1)
