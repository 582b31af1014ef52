"""OpenJTalk morphemes -> words, readings and phones."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hayakoe_core.text.kana import LONG_MARK, split_morae
from hayakoe_core.text.openjtalk import Morpheme
from hayakoe_core.text.punctuation import is_punctuation, map_punctuation
from hayakoe_core.text.symbols import symbol_table

logger = logging.getLogger(__name__)

_PUNCTUATION_READING = "、"  # OpenJTalk's reading of punctuation and of what it cannot read
_QUESTION_READING = "？"
_ACCENT_MARK = "’"
_UNREADABLE_PHONE = "'"
_LEADING_LONG_MARK_PHONE = "-"
_LONG_MARK_CARRIERS = frozenset("aiueoNq")


@dataclass(frozen=True)
class Word:
    """One OpenJTalk morpheme: its surface after punctuation mapping, its reading (katakana, or
    punctuation for punctuation and unreadable words) and its phones."""

    text: str
    reading: str
    phones: tuple[str, ...]


def words_from_morphemes(morphemes: list[Morpheme], source: str = "") -> list[Word]:
    """Words with readings and phones for OpenJTalk's ``morphemes`` of the normalised text.

    Surfaces go through the punctuation mapping (morphemes left empty by it are dropped).
    Punctuation words are read as themselves; characters OpenJTalk cannot read are read as ``'``
    each (logged as a warning mentioning ``source``). A ``ー`` that starts a reading continues
    the previous word's last phone if that is a vowel, ``N`` or ``q``, else it becomes ``-``.
    """
    words: list[Word] = []
    for morpheme in morphemes:
        text = map_punctuation(morpheme["string"])
        if not text:
            continue
        reading = _reading(text, morpheme["pron"].replace(_ACCENT_MARK, ""), source)
        previous = words[-1].phones[-1] if words and words[-1].phones else None
        words.append(Word(text, reading, _phones(reading, previous)))
    return words


def _reading(text: str, pron: str, source: str) -> str:
    if pron == _QUESTION_READING:
        return "?"
    if pron == _PUNCTUATION_READING and is_punctuation(text):
        return text
    if pron == _PUNCTUATION_READING or split_morae(pron) is None:
        for ch in text:
            logger.warning("Cannot read: %s in:\n%s, replaced with %r", ch, source, _UNREADABLE_PHONE)
        return _UNREADABLE_PHONE * len(text)
    return pron


def _phones(reading: str, previous: str | None) -> tuple[str, ...]:
    if is_punctuation(reading):
        return tuple(reading)
    mora = symbol_table().mora
    phones: list[str] = []
    for unit in split_morae(reading) or ():
        if unit != LONG_MARK:
            consonant, vowel = mora[unit]
            phones.extend((vowel,) if consonant is None else (consonant, vowel))
        elif phones:
            phones.append(phones[-1])
        else:
            carries = previous in _LONG_MARK_CARRIERS
            phones.append(previous if carries else _LEADING_LONG_MARK_PHONE)
    return tuple(phones)
