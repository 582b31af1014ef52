"""The contract between core and a backend's speaker runtime.

Core (text frontend, runtime API, conformance runner) builds :class:`SynthesisInputs` and calls a
:class:`SpeakerModel` that a backend plugin returned from ``hayakoe_load_runtime``. Arrays are
numpy, batch axis omitted (B = 1 is implied); backends add it themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

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


@runtime_checkable
class BertFeatures(Protocol):
    """Phone-level BERT features: what the runtime needs from a BERT, whichever backend runs it."""

    def features(self, bert_text: str, word2ph_blank: Sequence[int]) -> np.ndarray:
        """float32 [1024, sum(word2ph_blank)] for one text."""
        ...

    def features_batch(self, items: Sequence[tuple[str, Sequence[int]]]) -> list[np.ndarray]:
        """The same for several texts in one padded batch (multi-sentence generate)."""
        ...
