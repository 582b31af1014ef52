"""Phones and tones -> the integer sequences the synthesizer takes (JP, add_blank)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hayakoe_core.text.symbols import symbol_table

BLANK = 0


@dataclass(frozen=True)
class IdSequences:
    """Ids before (``*_no_blank``) and after interspersing blanks, plus the blank-aware word2ph."""

    phone_ids_no_blank: list[int]
    tone_ids_no_blank: list[int]
    phone_ids: list[int]
    tone_ids: list[int]
    language_ids: list[int]
    word2ph_blank: list[int]


def to_ids(phones: Sequence[str], tones: Sequence[int], word2ph: Sequence[int]) -> IdSequences:
    """Symbol ids, tone ids (tone + JP offset 6) and language ids (JP = 1), each interspersed
    with blanks (``[0, v0, 0, v1, ..., 0]``, length 2n+1); ``word2ph_blank`` doubles every entry
    and adds 1 to the first, so it sums to 2n+1. Raises ``KeyError`` for a phone outside the table.
    """
    table = symbol_table()
    phone_ids = [table.ids[p] for p in phones]
    tone_ids = [t + table.tone_start for t in tones]
    word2ph_blank = [2 * n for n in word2ph]
    if word2ph_blank:
        word2ph_blank[0] += 1
    return IdSequences(
        phone_ids_no_blank=phone_ids,
        tone_ids_no_blank=tone_ids,
        phone_ids=intersperse(phone_ids),
        tone_ids=intersperse(tone_ids),
        language_ids=intersperse([table.language_id] * len(phones)),
        word2ph_blank=word2ph_blank,
    )


def intersperse(values: Sequence[int]) -> list[int]:
    """``[BLANK, v0, BLANK, v1, ..., BLANK]`` (length ``2 * len(values) + 1``)."""
    out = [BLANK] * (2 * len(values) + 1)
    out[1::2] = values
    return out
