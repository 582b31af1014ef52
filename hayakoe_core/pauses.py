"""Silence between the segments of a long text (numpy only, no model code).

Text is synthesised one segment (a sentence, or part of a long one) at a time and the pieces are
joined with a pause:

1. the duration predictor runs over a window of the text around the boundaries (the caller's
   job, :mod:`hayakoe_core.utterance`); :func:`boundary_marks` finds each boundary's mark in the
   window's ``phone_ids`` near where the segments' own phone counts put it
   (:func:`boundary_positions` finds every sentence-final mark of a text);
2. :func:`pause_at` / :func:`predicted_pauses` turn the predictor's frames at a mark into seconds;
3. :func:`pause_targets` picks one target per gap (predicted, else :data:`MIN_PAUSE_S`);
4. :func:`join_with_pauses` inserts ``target - trailing silence already in the piece`` of zeros
   (:func:`gap_samples` for one gap).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Symbol ids (symbols.json) of the marks that end a sentence: ``!`` 103, ``?`` 104, ``.`` 107.
SENTENCE_END_IDS = frozenset({103, 104, 107})
#: Symbol ids of every mark that makes a pause: the sentence ends plus ``…`` 105 and ``,`` 106.
PAUSE_MARK_IDS = SENTENCE_END_IDS | {105, 106}
BLANK_ID = 0
MIN_PAUSE_S = 0.08
#: How many ids either side of its expected place a boundary's mark is looked for: the frontend
#: may read a segment slightly differently inside a longer text, and a newline that ended a
#: sentence becomes a ``.`` that the segment alone does not have.
MARK_SEARCH_RADIUS = 6
SILENCE_WINDOW_S = 0.01
SILENCE_RATIO = 0.02


def boundary_positions(phone_ids: Sequence[int] | np.ndarray) -> list[int]:
    """Indices of sentence-final marks in ``phone_ids`` (with blanks).

    A run of marks separated only by blanks (``!?``, ``...``) counts once, at its last mark.
    """
    ids = [int(i) for i in phone_ids]
    found: list[int] = []
    for pos, sym in enumerate(ids):
        if sym not in SENTENCE_END_IDS:
            continue
        nxt = pos + 1
        while nxt < len(ids) and ids[nxt] == BLANK_ID:
            nxt += 1
        if nxt == len(ids) or ids[nxt] not in SENTENCE_END_IDS:
            found.append(pos)
    return found


def predicted_pauses(
    phone_ids: Sequence[int] | np.ndarray,
    durations: Sequence[float] | np.ndarray,
    hop_length: int,
    sampling_rate: int,
) -> list[float]:
    """Seconds of pause at each of :func:`boundary_positions` (``phone_ids``), at least 80 ms.

    ``durations`` are the duration predictor's frames per id of the same ``phone_ids``. A boundary's
    frames are its mark's plus those of the blank directly before and after it.
    """
    return [
        pause_at(phone_ids, durations, pos, hop_length, sampling_rate)
        for pos in boundary_positions(phone_ids)
    ]


def pause_at(
    phone_ids: Sequence[int] | np.ndarray,
    durations: Sequence[float] | np.ndarray,
    pos: int,
    hop_length: int,
    sampling_rate: int,
) -> float:
    """Seconds of pause at the mark ``phone_ids[pos]``, at least 80 ms: its frames plus those of
    the blank directly before and after it (``durations``: frames per id of ``phone_ids``)."""
    ids = np.asarray(phone_ids)
    frames_per_id = np.asarray(durations, dtype=np.float64).reshape(-1)
    if len(frames_per_id) != len(ids):
        raise ValueError(f"{len(frames_per_id)} durations for {len(ids)} phone ids")
    frames = frames_per_id[pos]
    for side in (pos - 1, pos + 1):
        if 0 <= side < len(ids) and ids[side] == BLANK_ID:
            frames += frames_per_id[side]
    return max(MIN_PAUSE_S, float(frames) * hop_length / sampling_rate)


def mark_near(phone_ids: Sequence[int] | np.ndarray, expected: int, radius: int) -> int | None:
    """The pause mark (:data:`PAUSE_MARK_IDS`) that ends the run of marks nearest to index
    ``expected`` of ``phone_ids``, looking at most ``radius`` ids either side; ``None`` if there is
    none. A run is marks separated only by blanks (``!?``, ``...``); on a tie the later run wins.
    """
    ids = phone_ids
    best: tuple[int, int] | None = None  # (distance, -position)
    for pos in range(max(0, expected - radius), min(len(ids), expected + radius + 1)):
        if int(ids[pos]) in PAUSE_MARK_IDS:
            best = min(best or (abs(pos - expected), -pos), (abs(pos - expected), -pos))
    if best is None:
        return None
    end = -best[1]
    while end + 2 < len(ids) and int(ids[end + 1]) == BLANK_ID and int(ids[end + 2]) in PAUSE_MARK_IDS:
        end += 2
    return end


def boundary_marks(
    phone_ids: Sequence[int] | np.ndarray, phone_counts: Sequence[int], look: Sequence[bool]
) -> list[int | None]:
    """Where each boundary's mark is in ``phone_ids`` (with blanks), the ids of a text made of
    consecutive segments whose own phone counts (without the two pads) start ``phone_counts``.

    Boundary ``m`` follows segment ``m``; its mark is looked for only where ``look[m]``
    (:func:`mark_near`, around the index the counts so far put the segment's last phone), and is
    ``None`` when not looked for or not found. Each mark found re-anchors the count.
    """
    marks: list[int | None] = []
    cursor = 1  # the leading pad: each segment's phones follow it, one id and one blank apiece
    for count, wanted in zip(phone_counts, look, strict=False):
        expected = cursor + 2 * count
        mark = mark_near(phone_ids, expected, MARK_SEARCH_RADIUS) if wanted else None
        marks.append(mark)
        cursor = expected if mark is None else mark
    return marks


def pause_targets(n_pieces: int, predicted: Sequence[float] | None = None) -> list[float]:
    """Target pause in seconds after each of the first ``n_pieces - 1`` pieces.

    Gap ``k`` takes ``predicted[k]`` when there is one (no predictor, or fewer boundaries than
    gaps, fall back to :data:`MIN_PAUSE_S`); never less than :data:`MIN_PAUSE_S`.
    """
    known = list(predicted or [])
    return [
        max(MIN_PAUSE_S, known[k]) if k < len(known) else MIN_PAUSE_S for k in range(max(0, n_pieces - 1))
    ]


def trailing_silence(audio: np.ndarray, sampling_rate: int) -> float:
    """Seconds of silence at the end of ``audio``, in whole 10 ms windows counted from the end.

    A window is silent when its max ``|sample|`` is at most 2 % of the piece's peak ``|sample|``.
    """
    samples = np.abs(np.asarray(audio, dtype=np.float32).reshape(-1))
    window = max(1, round(SILENCE_WINDOW_S * sampling_rate))
    if len(samples) < window:
        return 0.0
    threshold = SILENCE_RATIO * float(samples.max())
    n_windows = len(samples) // window
    tail = samples[len(samples) - n_windows * window :].reshape(n_windows, window)
    loud = np.flatnonzero(tail.max(axis=1) > threshold)
    silent_windows = n_windows - (int(loud[-1]) + 1 if len(loud) else 0)
    return silent_windows * window / sampling_rate


def gap_samples(previous: np.ndarray, pause: float, sampling_rate: int) -> int:
    """Zeros to insert after the piece ``previous`` for a ``pause`` of that many seconds: the
    target minus the trailing silence the piece already has, never negative."""
    return round(max(0.0, pause - trailing_silence(previous, sampling_rate)) * sampling_rate)


def join_with_pauses(pieces: Sequence[np.ndarray], pauses: Sequence[float], sampling_rate: int) -> np.ndarray:
    """Concatenate float ``pieces`` with ``pauses[k]`` seconds between piece ``k`` and ``k + 1``
    (:func:`gap_samples` zeros). ``len(pauses)`` must be ``len(pieces) - 1``.
    """
    if len(pauses) != max(0, len(pieces) - 1):
        raise ValueError(f"{len(pauses)} pauses for {len(pieces)} pieces")
    out: list[np.ndarray] = []
    for k, piece in enumerate(pieces):
        piece = np.asarray(piece, dtype=np.float32).reshape(-1)
        out.append(piece)
        if k < len(pauses):
            out.append(np.zeros(gap_samples(piece, pauses[k], sampling_rate), dtype=np.float32))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
