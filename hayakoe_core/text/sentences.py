"""Splitting raw input text into sentences, each synthesised separately."""

from __future__ import annotations

import re

_SPLIT_AFTER = re.compile(r"(?<=[。！？!?\n])")
_SPEECH = re.compile(
    "[ぁ-ゖァ-ヶ一-鿿々〆〇A-Za-z0-9０-９Ａ-Ｚａ-ｚｦ-ﾟ]"  # kana, kanji, letters, digits, half-width kana
)


def split_sentences(text: str) -> list[str]:
    """Sentences of the raw ``text``: split after every ``。！？!?`` and newline, each piece stripped,
    empty pieces dropped.

    A piece with nothing to say (no kana, kanji, ``々〆〇``, letter or digit; ``ー`` does not
    count) is appended to the previous sentence, or prepended to the next one when it comes
    first; a text made only of such pieces stays one sentence. ASCII ``.`` and ``…`` do not split.
    ``"えっ!?本当に？"`` -> ``["えっ!?", "本当に？"]``; blank text -> ``[]``.
    """
    sentences: list[str] = []
    pending = ""  # speechless pieces seen before the first sentence
    for piece in (p.strip() for p in _SPLIT_AFTER.split(text)):
        if not piece:
            continue
        if _SPEECH.search(piece):
            sentences.append(pending + piece)
            pending = ""
        elif sentences:
            sentences[-1] += piece
        else:
            pending += piece
    if pending:
        sentences.append(pending)
    return sentences
