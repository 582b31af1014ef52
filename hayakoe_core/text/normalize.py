"""Text normalisation before G2P (the ``normalized`` field of a TextUnit)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from hayakoe_core.text.numbers import read_numbers
from hayakoe_core.text.punctuation import map_punctuation

_TILDES = re.compile("[~～〜]")
_COMBINING_VOICE_MARKS = re.compile("[\u3099\u309a]")


def normalize(text: str, english_to_katakana: Callable[[str], str]) -> str:
    """Normalise ``text`` for OpenJTalk, in this order:

    1. Unicode NFKC (full-width ASCII -> ASCII, half-width kana -> full-width, ``…`` -> ``...``);
    2. ``english_to_katakana`` on the whole string (it replaces the ``[A-Za-z]+`` runs);
    3. numbers read in kanji, currency signs moved behind them as words;
    4. ``~ ～ 〜`` -> ``ー``;
    5. punctuation mapped to ``!?…,.'-`` and everything unreadable deleted (ASCII ``:`` and ``;``
       included: the full-width entries of the map never fire after NFKC);
    6. combining (han)dakuten U+3099/U+309A deleted.

    The result holds only kana, kanji (+ ``々〇``), Latin/Greek letters and ``!?,.'-``; it may be
    empty.
    """
    text = unicodedata.normalize("NFKC", text)
    text = english_to_katakana(text)
    text = read_numbers(text)
    text = _TILDES.sub("ー", text)
    text = map_punctuation(text)
    return _COMBINING_VOICE_MARKS.sub("", text)
