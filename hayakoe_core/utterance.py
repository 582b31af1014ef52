"""One text's way to audio: segments → text units → BERT features → synthesis, with pauses.

Everything here works on bounded pieces, so that memory stays flat however long the text is:

- the text is cut by :func:`~hayakoe_core.text.sentences.split_segments` (sentences, long ones cut
  at clause marks and then at a hard length); each segment goes through the frontend, BERT and
  the synthesizer on its own and is released once its audio is out;
- batched BERT calls take consecutive segments up to :data:`BERT_BATCH_CHARS` characters;
- the pause after a segment is predicted by the duration predictor over a window of consecutive
  segments of at most :data:`WINDOW_CHARS` characters, starting at that segment (a text that
  fits in one window is predicted as a whole). The boundary's mark is looked for in the window's
  phone ids where the segments' own phone counts put it.

Pieces are produced lazily, in order: the first comes before any pause has been predicted, and a
stream can ask for the first segment's audio in two decoded windows (the first
:data:`FIRST_WINDOW_FRAMES` latent frames, then the rest) when the model offers
:class:`WindowedDecoding`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from hayakoe_core.pauses import MIN_PAUSE_S, boundary_marks, gap_samples, pause_at
from hayakoe_core.synthesis import (
    BertFeatures,
    SpeakerModel,
    SynthesisInputs,
    SynthesisParams,
    WindowedDecoding,
)
from hayakoe_core.text.frontend import TextFrontend, TextTooLongError, TextUnit
from hayakoe_core.text.sentences import Join, Segment, split_segments

#: The most raw text one pause prediction (frontend + BERT + duration predictor) reads, when it
#: covers more than two segments. The duration predictor attends over phones, not frames, so a
#: window can be several segments long; a text that fits is predicted whole, as before.
WINDOW_CHARS = 400
#: The most raw text one batched BERT call reads, when it covers more than one segment.
BERT_BATCH_CHARS = 400
#: Latent frames in the first decoded window of a stream's first segment (about 0.37 s of audio
#: at 44.1 kHz with 512 samples per frame); the rest of the segment is decoded in one more window,
#: so the decoder's context is paid at one boundary only.
FIRST_WINDOW_FRAMES = 32


@dataclass(frozen=True)
class Piece:
    """One segment's audio: ``audio`` float32 as the synthesizer made it, to be preceded by
    ``gap`` samples of silence (0 for the first piece); ``unit`` is the segment's text unit and
    ``durations`` the frames per phone id the synthesizer reported (empty when it cannot). A
    segment decoded in windows comes as several pieces; only its last one is ``last`` and
    carries the durations."""

    audio: np.ndarray
    gap: int
    unit: TextUnit
    durations: np.ndarray
    last: bool = True


class Utterance:
    """The synthesis of one text with one set of :class:`SynthesisParams`; iterate :meth:`pieces`.

    Not thread-safe: the caller holds the speaker's lock while it iterates.
    """

    def __init__(
        self,
        text: str,
        *,
        frontend: TextFrontend,
        bert: BertFeatures,
        model: SpeakerModel,
        params: SynthesisParams,
        batch_bert: bool = True,
    ) -> None:
        self._text = text
        self._segments = split_segments(text)
        self._frontend = frontend
        self._bert = bert
        self._model = model
        self._params = params
        self._batch_bert = batch_bert
        self._sampling_rate = model.config.data.sampling_rate
        self._hop_length = model.config.data.hop_length
        self._units: dict[int, TextUnit] = {}
        self._features: dict[int, np.ndarray] = {}
        self._pauses: dict[int, float] = {}
        self._has_predictor = True

    @property
    def segments(self) -> list[Segment]:
        """The segments this text is synthesised in."""
        return self._segments

    def pieces(self, first_in_windows: bool = False) -> Iterator[Piece]:
        """The audio of every segment that has something to read, in order.

        A segment whose normalised text is empty (only whitespace or symbols that are not read)
        gives no piece. ``first_in_windows``: decode the first segment in windows, yielding each
        as it is done, when the model can (see the module docstring).
        """
        previous: tuple[int, np.ndarray] | None = None  # (segment index, audio) of the last piece
        for k in range(len(self._segments)):
            unit = self._unit(k)
            if not unit.normalized:
                self._release_before(k + 1)
                continue
            inputs = SynthesisInputs.build(
                unit.phone_ids, unit.tone_ids, unit.language_ids, self._features_of(k), self._params
            )
            latent = None
            if first_in_windows and previous is None and isinstance(self._model, WindowedDecoding):
                latent = self._model.encode(inputs)
            if latent is not None:
                parts = []
                for start, end in _windows(latent.frames):
                    parts.append(self._model.decode(latent, start, end))
                    last = end == latent.frames
                    yield Piece(parts[-1], 0, unit, latent.durations if last else _NO_DURATIONS, last)
                previous = (k, np.concatenate(parts))
                self._release_before(k)
                continue
            result = self._model.synthesize(inputs)
            gap = 0
            if previous is not None:
                gap = gap_samples(previous[1], self._pause_after(previous[0]), self._sampling_rate)
            yield Piece(result.audio, gap, unit, result.durations)
            previous = (k, result.audio)
            self._release_before(k)

    # --- text units and BERT features, computed on demand and released once used ------------

    def _unit(self, k: int) -> TextUnit:
        if k not in self._units:
            self._units[k] = self._frontend.preprocess(self._segments[k].text)
        return self._units[k]

    def _features_of(self, k: int) -> np.ndarray:
        if k not in self._features:
            if self._batch_bert:
                group = [m for m in self._run_from(k, BERT_BATCH_CHARS) if self._unit(m).normalized]
                items = [(self._unit(m).bert_text, self._unit(m).word2ph_blank) for m in group]
                self._features.update(zip(group, self._bert.features_batch(items), strict=True))
            else:
                unit = self._unit(k)
                self._features[k] = self._bert.features(unit.bert_text, unit.word2ph_blank)
        return self._features.pop(k)

    def _run_from(self, k: int, max_chars: int) -> range:
        """Segments ``k..j``: as many as fit, whole, in ``max_chars`` characters of raw text (at
        least ``k`` itself)."""
        end = k + 1
        start = self._segments[k].start
        while end < len(self._segments) and self._segments[end].end - start <= max_chars:
            end += 1
        return range(k, end)

    def _release_before(self, k: int) -> None:
        for m in [m for m in self._units if m < k]:
            del self._units[m]

    # --- pauses ----------------------------------------------------------------------------------

    def _pause_after(self, k: int) -> float:
        """Target seconds of silence between segment ``k`` and the next one."""
        if self._segments[k].join is Join.CUT:
            return 0.0
        if k not in self._pauses:
            self._predict_window(k)
        return self._pauses.pop(k)

    def _predict_window(self, k: int) -> None:
        """Pauses after segments ``k..j-1`` from one duration-predictor run over segments
        ``k..j`` (at least ``k..k+1``, at most :data:`WINDOW_CHARS` characters when more fit)."""
        window = self._run_from(k, WINDOW_CHARS)
        if len(window) < 2:
            window = range(k, k + 2)
        boundaries = window[:-1]
        self._pauses.update((m, MIN_PAUSE_S) for m in boundaries if self._segments[m].join is not Join.CUT)
        if not self._has_predictor:
            return
        try:
            whole = self._frontend.preprocess(
                self._text[self._segments[window[0]].start : self._segments[window[-1]].end]
            )
        except TextTooLongError:  # only text that normalisation lengthens a lot: keep the floor
            return
        bert = self._bert.features(whole.bert_text, whole.word2ph_blank)
        durations = self._model.predict_durations(
            SynthesisInputs.build(whole.phone_ids, whole.tone_ids, whole.language_ids, bert, self._params)
        )
        if durations is None:
            self._has_predictor = False
            return
        counts = [len(self._unit(m).phones) - 2 for m in boundaries]
        marks = boundary_marks(whole.phone_ids, counts, [m in self._pauses for m in boundaries])
        for m, mark in zip(boundaries, marks, strict=True):
            if mark is not None:
                self._pauses[m] = pause_at(
                    whole.phone_ids, durations, mark, self._hop_length, self._sampling_rate
                )


_NO_DURATIONS = np.zeros(0, dtype=np.float32)


def _windows(frames: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` windows covering ``0..frames``: the first :data:`FIRST_WINDOW_FRAMES`,
    then the rest. Every boundary makes the decoder run its context frames twice (a doubling
    series of windows cost ~15% more decoding on a 60-character sentence, bench/stream.py), and
    upstream gives no audio before the whole segment, so one early window is enough."""
    first = min(frames, FIRST_WINDOW_FRAMES)
    if first > 0:
        yield 0, first
    if first < frames:
        yield first, frames
