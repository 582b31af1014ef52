"""Silence between the sentences of a long text (numpy only, no model code).

Multi-sentence text is synthesised one sentence at a time and the pieces are joined with a pause:

1. :func:`boundary_positions` finds the sentence-final marks in the WHOLE text's ``phone_ids``;
2. :func:`predicted_pauses` turns the duration predictor's frames at those marks into seconds;
3. :func:`pause_targets` picks one target per gap (predicted, else :data:`MIN_PAUSE_S`);
4. :func:`join_with_pauses` inserts ``target - trailing silence already in the piece`` of zeros.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Symbol ids (symbols.json) of the marks that end a sentence: ``!`` 103, ``?`` 104, ``.`` 107.
SENTENCE_END_IDS = frozenset({103, 104, 107})
BLANK_ID = 0
MIN_PAUSE_S = 0.08
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
    ids = np.asarray(phone_ids)
    frames_per_id = np.asarray(durations, dtype=np.float64).reshape(-1)
    if len(frames_per_id) != len(ids):
        raise ValueError(f"{len(frames_per_id)} durations for {len(ids)} phone ids")
    pauses = []
    for pos in boundary_positions(ids):
        frames = frames_per_id[pos]
        for side in (pos - 1, pos + 1):
            if 0 <= side < len(ids) and ids[side] == BLANK_ID:
                frames += frames_per_id[side]
        pauses.append(max(MIN_PAUSE_S, float(frames) * hop_length / sampling_rate))
    return pauses


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


def join_with_pauses(pieces: Sequence[np.ndarray], pauses: Sequence[float], sampling_rate: int) -> np.ndarray:
    """Concatenate float ``pieces`` with ``pauses[k]`` seconds between piece ``k`` and ``k + 1``.

    The zeros inserted after a piece are the target minus the trailing silence it already has
    (never negative). ``len(pauses)`` must be ``len(pieces) - 1``.
    """
    if len(pauses) != max(0, len(pieces) - 1):
        raise ValueError(f"{len(pauses)} pauses for {len(pieces)} pieces")
    out: list[np.ndarray] = []
    for k, piece in enumerate(pieces):
        piece = np.asarray(piece, dtype=np.float32).reshape(-1)
        out.append(piece)
        if k < len(pauses):
            gap = max(0.0, pauses[k] - trailing_silence(piece, sampling_rate))
            out.append(np.zeros(round(gap * sampling_rate), dtype=np.float32))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
