"""Katakana helpers: splitting a reading into morae and mapping morae to phonemes."""

from __future__ import annotations

from hayakoe_core.text.symbols import symbol_table

LONG_MARK = "ー"


def split_morae(reading: str) -> list[str] | None:
    """Split a katakana reading greedily (longest match first) into morae and ``ー`` marks.

    Returns ``None`` if some character is neither ``ー`` nor part of a mora in the mora table.
    ``キャット`` -> ``["キャ", "ッ", "ト"]``; ``ソー`` -> ``["ソ", "ー"]``.
    """
    mora = symbol_table().mora
    longest = max(map(len, mora))
    out: list[str] = []
    i = 0
    while i < len(reading):
        if reading[i] == LONG_MARK:
            out.append(LONG_MARK)
            i += 1
            continue
        for size in range(min(longest, len(reading) - i), 0, -1):
            if reading[i : i + size] in mora:
                out.append(reading[i : i + size])
                i += size
                break
        else:
            return None
    return out


def hiragana_to_katakana(text: str) -> str:
    """Shift hiragana ぁ-ゖ to the katakana block; everything else is unchanged."""
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)
