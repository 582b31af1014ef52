"""A loaded speaker: text in, audio out (ARCHITECTURE §7, §8)."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from hayakoe_core.audio import Audio
from hayakoe_core.errors import ArgumentError, HayakoeError
from hayakoe_core.style import load_style_vectors, style_vector
from hayakoe_core.synthesis import BertFeatures, SpeakerModel, SynthesisParams
from hayakoe_core.text.frontend import TextFrontend
from hayakoe_core.utterance import Piece, Utterance

STYLE_VECTORS = "style_vectors.npy"


class Speaker:
    """One speaker's model with the shared text frontend and BERT. Made by ``TTS.prepare()``."""

    def __init__(
        self,
        name: str,
        model: SpeakerModel,
        folder: Path,
        frontend: TextFrontend,
        bert: BertFeatures,
    ) -> None:
        self.name = name
        self.model = model
        self.config = model.config
        self.folder = folder
        self._frontend = frontend
        self._bert = bert
        self._styles = load_style_vectors(folder / STYLE_VECTORS, self.config)

    @property
    def styles(self) -> list[str]:
        """Style names this speaker knows."""
        return list(self.config.data.style2id or {"Neutral": 0})

    @property
    def sample_rate(self) -> int:
        return self.config.data.sampling_rate

    def generate(
        self,
        text: str,
        style: str = "Neutral",
        style_weight: float = 1.0,
        speed: float = 1.0,
        sdp_ratio: float = 0.2,
        noise: float = 0.6,
        noise_w: float = 0.8,
    ) -> Audio:
        """Synthesise ``text``. ``speed`` scales durations (bigger = slower, upstream's
        ``length_scale``; finite and above 0); ``sdp_ratio`` (0..1) mixes the stochastic duration
        predictor in; ``noise`` and ``noise_w`` (finite, 0 or more) scale the prior and duration
        noise. A bad value is an :class:`ArgumentError`.

        Text is synthesised in segments (sentences; a sentence over 120 characters is cut after
        commas, then at a hard length: :func:`~hayakoe_core.text.sentences.split_segments`)
        joined with pauses predicted by the duration model (80 ms at least; none at a hard cut),
        so any length works in bounded memory. Text with nothing to
        read (empty, whitespace, only symbols that are not read) gives an empty Audio.
        """
        params = SynthesisParams(
            style_vec=style_vector(self._styles, self.config, style, _finite("style_weight", style_weight)),
            length_scale=_checked_speed(speed),
            sdp_ratio=_in_range("sdp_ratio", sdp_ratio, 0.0, 1.0),
            noise_scale=_in_range("noise", noise, 0.0),
            noise_scale_w=_in_range("noise_w", noise_w, 0.0),
        )
        utterance = Utterance(text, frontend=self._frontend, bert=self._bert, model=self.model, params=params)
        audio = _join(utterance.pieces())
        return Audio(np.clip(audio, -1.0, 1.0, out=audio), self.sample_rate)


def _join(pieces: Iterable[Piece]) -> np.ndarray:
    """The pieces' audio, each after its gap of silence, in one float32 array. Pieces are let go
    as they are copied, so the peak is about one copy of the audio."""
    held = [(piece.gap, piece.audio) for piece in pieces]
    out = np.zeros(sum(gap + len(audio) for gap, audio in held), dtype=np.float32)
    at = 0
    held.reverse()
    while held:
        gap, audio = held.pop()
        out[at + gap : at + gap + len(audio)] = audio
        at += gap + len(audio)
    return out


def _checked_speed(speed: float) -> float:
    if not (math.isfinite(speed) and speed > 0):
        raise ArgumentError(
            f"speed must be a finite number above 0 (1.0 normal, 2.0 twice as slow), got {speed!r}"
        )
    return float(speed)


def _in_range(name: str, value: float, low: float, high: float | None = None) -> float:
    if not (math.isfinite(value) and low <= value and (high is None or value <= high)):
        bounds = f"a finite number, {low:g} or more" if high is None else f"from {low:g} to {high:g}"
        raise ArgumentError(f"{name} must be {bounds}, got {value!r}")
    return float(value)


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ArgumentError(f"{name} must be a finite number, got {value!r}")
    return float(value)


class SpeakerNotReadyError(HayakoeError, KeyError):
    """``tts.speakers[name]`` for a speaker that is not prepared. A :class:`KeyError` too, so code
    that catches upstream's ``KeyError`` keeps working."""

    def __str__(self) -> str:
        return str(self.args[0])


class Speakers(Mapping[str, Speaker]):
    """``TTS.speakers``: the prepared speakers by name, read-only.

    Asking for a name that is not prepared raises :class:`SpeakerNotReadyError` saying what to do
    (call ``prepare()``, or ``load()`` first); ``in``, ``get`` and iteration see prepared speakers
    only, as with a dict.
    """

    def __init__(self, loaded: Callable[[], Collection[str]]) -> None:
        self._loaded = loaded
        self._ready: dict[str, Speaker] = {}

    def __getitem__(self, name: str) -> Speaker:
        try:
            return self._ready[name]
        except KeyError:
            pass
        if name in self._loaded():
            raise SpeakerNotReadyError(
                f"speaker {name!r} is loaded but not prepared: call tts.prepare() first"
            )
        prepared = f" (prepared: {', '.join(self._ready)})" if self._ready else ""
        raise SpeakerNotReadyError(
            f"no speaker {name!r}{prepared}: call tts.load({name!r}, source=...) and then tts.prepare()"
        )

    def __contains__(self, name: object) -> bool:
        return name in self._ready

    def __iter__(self) -> Iterator[str]:
        return iter(self._ready)

    def __len__(self) -> int:
        return len(self._ready)

    def __repr__(self) -> str:
        return f"Speakers({list(self._ready)})"

    def add(self, speaker: Speaker) -> None:
        """Make ``speaker`` available under its name."""
        self._ready[speaker.name] = speaker
