"""Per-token BERT rows → per-phone feature matrix, the synthesizer's ``bert`` input."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def expand_to_phones(token_hidden: np.ndarray, word2ph: Sequence[int] | np.ndarray) -> np.ndarray:
    """float32 ``[hidden, sum(word2ph)]``: row ``i`` of ``token_hidden`` repeated ``word2ph[i]`` times.

    ``token_hidden`` is ``[T, hidden]`` with ``T >= len(word2ph)``; rows past ``len(word2ph)`` (batch
    padding) are ignored. With ``word2ph_blank`` (the text frontend's blank-adjusted counts) the
    result has one column per entry of ``phone_ids``.
    """
    counts = np.asarray(word2ph, dtype=np.int64)
    if counts.ndim != 1 or len(counts) > len(token_hidden):
        raise ValueError(
            f"word2ph has {len(counts)} entries but there are only {len(token_hidden)} token rows"
        )
    if (counts < 0).any():
        raise ValueError("word2ph counts must be non-negative")
    rows = np.asarray(token_hidden[: len(counts)], dtype=np.float32)
    return np.repeat(rows.T, counts, axis=1)
