"""word2ph: how many phones each BERT token (character) of the text gets."""

from __future__ import annotations

from collections.abc import Sequence


def token_count(word: str) -> int:
    """BERT tokens of ``word``: the shared BERT's tokenizer is character-level (punctuation and
    full-width letters included), so one per character."""
    return len(word)


def spread(n_phones: int, n_tokens: int) -> list[int]:
    """``n_phones`` spread over ``n_tokens`` left to right: each gets the floor share and the first
    ``n_phones % n_tokens`` one more (``spread(3, 2) == [2, 1]``)."""
    share, extra = divmod(n_phones, n_tokens)
    return [share + 1 if i < extra else share for i in range(n_tokens)]


def word2ph(words: Sequence[tuple[str, int]]) -> list[int]:
    """word2ph for ``(word, n_phones)`` pairs, with the leading and trailing 1 of the two pads.

    Invariants: ``len == sum(token counts) + 2`` and ``sum == sum(n_phones) + 2``.
    """
    counts = [c for word, n in words for c in spread(n, token_count(word))]
    return [1, *counts, 1]
