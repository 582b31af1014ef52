"""A loaded speaker: text in, audio out; upstream hayakoe 1.3.1's ``Speaker`` API (ARCHITECTURE §7).

``generate`` returns one :class:`~hayakoe_core.audio.AudioResult`; ``stream`` yields one per
segment (the first sentence sooner, in decoded windows, where the backend can); ``stream_wav``
yields one WAV stream as bytes; ``agenerate`` / ``astream`` / ``astream_wav`` are the same for
asyncio code. One lock per speaker serialises its calls (different speakers run in parallel); a
stream holds it until it is exhausted or closed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import threading
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from hayakoe_core.async_stream import ThreadedStream
from hayakoe_core.audio import AudioResult, PhonemeTiming, peak_of, streaming_wav_header, to_pcm16
from hayakoe_core.errors import ArgumentError, ConfigError, HayakoeError
from hayakoe_core.pitch import reshape_pitch
from hayakoe_core.style import Styles, load_style_vectors, style_ids, style_vector
from hayakoe_core.synthesis import BertFeatures, SpeakerModel, SynthesisParams
from hayakoe_core.text.frontend import TextFrontend
from hayakoe_core.text.symbols import symbol_table
from hayakoe_core.utterance import Piece, Utterance

STYLE_VECTORS = "style_vectors.npy"
#: The float level a stream's early window maps to 32767 (the decoder's tanh output stays within
#: ±1): its segment's peak, which upstream scales by, is not known until the segment is decoded.
FULL_SCALE = 1.0


class Lang(StrEnum):
    """Languages ``generate(lang=...)`` accepts: Japanese only (upstream's value ``"JP"``)."""

    JA = "JP"


@dataclass(frozen=True)
class _Request:
    """One call's checked arguments."""

    params: SynthesisParams
    pitch_scale: float
    intonation_scale: float

    @property
    def reshapes_pitch(self) -> bool:
        return self.pitch_scale != 1.0 or self.intonation_scale != 1.0


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
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Speaker({self.name!r})"

    @property
    def styles(self) -> Styles:
        """Style names this speaker knows; ``speaker.styles.Happy`` is ``"Happy"``."""
        return Styles(list(style_ids(self.config)))

    @property
    def sampling_rate(self) -> int:
        """Samples per second of the audio this speaker makes."""
        return self.config.data.sampling_rate

    sample_rate = sampling_rate

    def generate(
        self,
        text: str,
        *,
        lang: str | Lang = Lang.JA,
        style: str = "Neutral",
        speaker_id: int = 0,
        speed: float = 1.0,
        sdp_ratio: float = 0.2,
        noise: float = 0.6,
        noise_w: float = 0.8,
        pitch_scale: float = 1.0,
        intonation_scale: float = 1.0,
        style_weight: float = 1.0,
        batch_bert: bool = True,
        with_timing: bool = False,
    ) -> AudioResult:
        """Synthesise ``text`` (thread-safe; calls on one speaker run one at a time).

        - ``lang``: ``"JP"`` (:attr:`Lang.JA`) only; ``style``: one of :attr:`styles`, mixed in
          by ``style_weight``; ``speaker_id``: the speaker of a multi-speaker model
          (``0 .. n_speakers - 1``);
        - ``speed``: the length scale, finite and above 0 (2.0 is twice as slow);
          ``sdp_ratio`` (0..1) mixes the stochastic duration predictor in; ``noise`` and
          ``noise_w`` (finite, 0 or more) scale the prior and duration noise;
        - ``pitch_scale`` / ``intonation_scale`` (finite, above 0): F0 multiplied, and spread
          around its mean, through the WORLD vocoder (:mod:`hayakoe_core.pitch`), per segment;
        - ``batch_bert``: BERT over several segments in one padded call (``False``: one call per
          segment; results differ very slightly);
        - ``with_timing``: ``timings`` per phone id, from the durations the synthesizer used.

        A bad value is an :class:`ArgumentError`. Text is synthesised in segments (sentences; a
        sentence over 120 characters is cut after commas, then at a hard length) joined with
        pauses the duration model predicts (80 ms at least; none at a hard cut), so any length
        works in bounded memory. Text with nothing to read (empty, whitespace, only symbols that
        are not read) gives an empty result. ``data`` is peak-normalised 16-bit, as upstream's.
        """
        request = self._request(
            lang,
            style,
            speaker_id,
            speed,
            sdp_ratio,
            noise,
            noise_w,
            pitch_scale,
            intonation_scale,
            style_weight,
        )
        utterance = self._utterance(text, request, batch_bert)
        with self._lock:
            held = [self._finish(piece, request) for piece in utterance.pieces()]
        if with_timing and any(len(p.durations) == 0 for p in held):
            raise TimingsUnavailableError(
                f"speaker {self.name!r} cannot report timings: its model does not give the durations it "
                "used (an ONNX graph exported without a 'durations' output); re-export it with "
                "hayakoe's exporter (hayakoe publish) to use with_timing"
            )
        timings = self._timings(held) if with_timing else None
        audio = _join(held)
        return AudioResult(self.sampling_rate, to_pcm16(audio, peak_of(audio)), timings)

    async def agenerate(self, text: str, **kwargs: Any) -> AudioResult:
        """:meth:`generate` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.generate, text, **kwargs)

    def stream(
        self,
        text: str,
        *,
        lang: str | Lang = Lang.JA,
        style: str = "Neutral",
        speaker_id: int = 0,
        speed: float = 1.0,
        sdp_ratio: float = 0.2,
        noise: float = 0.6,
        noise_w: float = 0.8,
        pitch_scale: float = 1.0,
        intonation_scale: float = 1.0,
        style_weight: float = 1.0,
    ) -> Iterator[AudioResult]:
        """Results as they are made, one per segment, each after the first starting with its
        pause (arguments as :meth:`generate`, checked now; BERT runs per segment).

        The first sentence comes sooner: where the backend can, its audio is decoded and yielded
        in windows (the same samples, within float tolerance). Samples are scaled by one running
        peak, so segments keep their relative loudness, as upstream's; only the first window,
        made before its sentence's peak is known, is at the decoder's level instead (see
        :meth:`_stream`). The speaker's lock is held from the first
        ``next()`` until the stream is exhausted or closed: iterate it in a ``for`` loop or close
        it. Blank text yields nothing.
        """
        request = self._request(
            lang,
            style,
            speaker_id,
            speed,
            sdp_ratio,
            noise,
            noise_w,
            pitch_scale,
            intonation_scale,
            style_weight,
        )
        return self._stream(self._utterance(text, request, batch_bert=False), request)

    def astream(self, text: str, **kwargs: Any) -> AsyncIterator[AudioResult]:
        """:meth:`stream` for asyncio, run by a thread of its own (never a shared pool, where
        waiting streams could take every thread). Closing it (``aclose()``) returns once the
        stream has let go of the speaker's lock; a cancelled consumer's stream lets go as soon as
        the segment being made is done."""
        return ThreadedStream(self.stream(text, **kwargs)).iterate()

    def stream_wav(self, text: str, **kwargs: Any) -> Iterator[bytes]:
        """One WAV stream: a header of unknown length, then each result of :meth:`stream` as raw
        PCM. Concatenated, the chunks are a WAV file that plays to its end."""
        chunks = self.stream(text, **kwargs)
        return _wav_stream(streaming_wav_header(self.sampling_rate), chunks)

    def astream_wav(self, text: str, **kwargs: Any) -> AsyncIterator[bytes]:
        """:meth:`stream_wav` for asyncio (as :meth:`astream`)."""
        return ThreadedStream(self.stream_wav(text, **kwargs)).iterate()

    # --- internals ------------------------------------------------------------------------------

    def _request(
        self,
        lang: str | Lang,
        style: str,
        speaker_id: int,
        speed: float,
        sdp_ratio: float,
        noise: float,
        noise_w: float,
        pitch_scale: float,
        intonation_scale: float,
        style_weight: float,
    ) -> _Request:
        _check_lang(lang)
        n_speakers = self.config.data.n_speakers
        if isinstance(speaker_id, bool) or not isinstance(speaker_id, (int, np.integer)):
            raise ArgumentError(f"speaker_id must be an integer, got {speaker_id!r}")
        if not 0 <= speaker_id < n_speakers:
            raise ArgumentError(
                f"speaker_id {speaker_id} is out of range: {self.name!r} has {n_speakers} "
                f"speaker{'s' if n_speakers != 1 else ''} (0..{n_speakers - 1})"
            )
        params = SynthesisParams(
            style_vec=style_vector(self._styles, self.config, style, _finite("style_weight", style_weight)),
            sid=int(speaker_id),
            length_scale=check_speed(speed),
            sdp_ratio=_in_range("sdp_ratio", sdp_ratio, 0.0, 1.0),
            noise_scale=_in_range("noise", noise, 0.0),
            noise_scale_w=_in_range("noise_w", noise_w, 0.0),
        )
        return _Request(
            params,
            pitch_scale=_positive("pitch_scale", pitch_scale, "(1.0 leaves the pitch as it is)"),
            intonation_scale=_positive("intonation_scale", intonation_scale, "(1.0 leaves it as it is)"),
        )

    def _utterance(self, text: str, request: _Request, batch_bert: bool) -> Utterance:
        if not isinstance(text, str):
            raise ArgumentError(f"text must be a str, got {type(text).__name__}")
        return Utterance(
            text,
            frontend=self._frontend,
            bert=self._bert,
            model=self.model,
            params=request.params,
            batch_bert=batch_bert,
        )

    def _finish(self, piece: Piece, request: _Request) -> Piece:
        """``piece`` with its pitch reshaped when the request asks for it. A piece with NaN or
        infinite samples (broken weights) is a :class:`ConfigError`: no 16-bit form of it
        would mean anything."""
        finite = np.isfinite(piece.audio)
        if not finite.all():
            raise ConfigError(
                f"the audio holds {int(finite.size - finite.sum())} NaN or infinite samples of "
                f"{finite.size}: speaker {self.name!r}'s model is broken (check its weights)"
            )
        if not request.reshapes_pitch:
            return piece
        audio = reshape_pitch(piece.audio, self.sampling_rate, request.pitch_scale, request.intonation_scale)
        return dataclasses.replace(piece, audio=audio)

    def _stream(self, utterance: Utterance, request: _Request) -> Iterator[AudioResult]:
        """Upstream's scaling: each segment by the running peak of the segments so far (the
        first by its own). A window yielded before its segment is complete cannot know that
        segment's peak yet; it is scaled by :data:`FULL_SCALE` (or the peak so far, if higher):
        the decoder's level, never louder than upstream's (README, "Loading speakers")."""
        with self._lock:
            peak = 0.0
            for piece in utterance.pieces(first_in_windows=not request.reshapes_pitch):
                piece = self._finish(piece, request)
                peak = max(peak, peak_of(piece.audio))
                audio = np.concatenate([np.zeros(piece.gap, dtype=piece.audio.dtype), piece.audio])
                yield AudioResult(
                    self.sampling_rate, to_pcm16(audio, peak if piece.last else max(peak, FULL_SCALE))
                )

    def _timings(self, pieces: list[Piece]) -> list[PhonemeTiming]:
        """Per phone id of every piece: its symbol, start and length in seconds, from the
        durations the synthesizer used, each piece's shifted to where it starts."""
        symbols = symbol_table().symbols
        seconds_per_frame = self.config.data.hop_length / self.sampling_rate
        timings: list[PhonemeTiming] = []
        at = 0  # samples before the current piece
        for piece in pieces:
            at += piece.gap
            frames = np.asarray(piece.durations, dtype=np.float64)
            starts = (
                at / self.sampling_rate + np.concatenate([[0.0], np.cumsum(frames)[:-1]]) * seconds_per_frame
            )
            timings += [
                PhonemeTiming(symbols[pid], float(start), float(n * seconds_per_frame))
                for pid, start, n in zip(piece.unit.phone_ids, starts, frames, strict=True)
            ]
            at += len(piece.audio)
        return timings


def _wav_stream(header: bytes, chunks: Iterator[AudioResult]) -> Iterator[bytes]:
    """``header`` then each chunk's PCM; closing this closes ``chunks`` (releasing the lock)."""
    try:
        yield header
        for chunk in chunks:
            yield chunk.pcm_bytes()
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _join(pieces: Iterable[Piece]) -> np.ndarray:
    """The pieces' audio, each after its gap of silence, in one array (float64 if any piece is,
    else float32). Pieces are let go as they are copied, so the peak is about one copy."""
    held = [(piece.gap, piece.audio) for piece in pieces]
    dtype = np.result_type(np.float32, *(audio.dtype for _, audio in held))
    out = np.zeros(sum(gap + len(audio) for gap, audio in held), dtype=dtype)
    at = 0
    held.reverse()
    while held:
        gap, audio = held.pop()
        out[at + gap : at + gap + len(audio)] = audio
        at += gap + len(audio)
    return out


def _check_lang(lang: str | Lang) -> None:
    value = lang.value if isinstance(lang, Enum) else lang
    if value != Lang.JA.value:
        raise UnsupportedLanguageError(f"lang {value!r} is not supported: only Japanese ('JP', Lang.JA) is")


def check_speed(speed: float) -> float:
    """``speed`` as :meth:`Speaker.generate` takes it (the length scale); :class:`ArgumentError`
    unless it is finite and above 0. The CLI checks ``--speed`` with it before loading anything."""
    return _positive("speed", speed, "(1.0 normal, 2.0 twice as slow)")


def _positive(name: str, value: float, hint: str) -> float:
    if not (math.isfinite(value) and value > 0):
        raise ArgumentError(f"{name} must be a finite number above 0 {hint}, got {value!r}")
    return float(value)


def _in_range(name: str, value: float, low: float, high: float | None = None) -> float:
    if not (math.isfinite(value) and low <= value and (high is None or value <= high)):
        bounds = f"a finite number, {low:g} or more" if high is None else f"from {low:g} to {high:g}"
        raise ArgumentError(f"{name} must be {bounds}, got {value!r}")
    return float(value)


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ArgumentError(f"{name} must be a finite number, got {value!r}")
    return float(value)


class UnsupportedLanguageError(ArgumentError, NotImplementedError, ValueError):
    """``lang`` other than Japanese. Upstream raises ``NotImplementedError`` for the languages it
    names (``"EN"``, ``"ZH"``) and ``ValueError`` for any other value; this is both, so code
    catching either keeps working."""


class TimingsUnavailableError(HayakoeError, RuntimeError):
    """``with_timing=True`` on a model that does not report the durations it used. A
    ``RuntimeError`` too, as upstream raises, so code catching that keeps working."""


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
