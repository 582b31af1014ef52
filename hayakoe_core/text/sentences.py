"""Splitting raw input text into the pieces that are synthesised one at a time.

One splitter serves both long text and streaming: :func:`split_segments` cuts a text into
sentences (:func:`split_sentences`, upstream's rule) and cuts any sentence longer than
:data:`MAX_SEGMENT_CHARS` further, at clause marks and then at a hard length, so that no piece
that reaches the text frontend or the synthesizer grows with the input.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum

#: Longest segment, in characters of raw text. It bounds what one frontend call, one BERT row and
#: one synthesizer run see: OpenJTalk's frontend crashes the process on single inputs of a few
#: thousand characters (normalisation can lengthen text: an ASCII letter is read as up to five
#: kana), and the synthesizer's flow attends over every audio frame of its input, so its memory
#: grows with the square of a segment's length. Most sentences are shorter and stay whole.
MAX_SEGMENT_CHARS = 120

_SENTENCE_PIECE = re.compile(r"[^。！？!?\n]*[。！？!?\n]?")
#: Marks after which a long sentence may be cut: the ones normalisation turns into a pause
#: (``,`` or ``...``), so the cut falls where a reader pauses anyway.
_CLAUSE_PIECE = re.compile(r"[^、，,・·…‥]*[、，,・·…‥]*")
_SPEECH = re.compile(
    "[ぁ-ゖァ-ヶ一-鿿々〆〇A-Za-z0-9０-９Ａ-Ｚａ-ｚｦ-ﾟ]"  # kana, kanji, letters, digits, half-width kana
)
_WORD_CHAR = re.compile("[A-Za-z0-9Ａ-Ｚａ-ｚ０-９]")
_ANYTHING = re.compile(r"[\s\S]+")
#: How far back from the hard length a cut may move to avoid splitting a word or a number.
_CUT_SEARCH = 24


class Join(Enum):
    """How a segment meets the next one: what kind of silence goes between them."""

    SENTENCE = "sentence"  #: a sentence ends: a pause predicted at its final mark
    CLAUSE = "clause"  #: a long sentence was cut after a clause mark: a pause predicted at the mark
    CUT = "cut"  #: a clause too long to keep whole was cut: no pause


@dataclass(frozen=True)
class Segment:
    """One piece of the raw text, synthesised on its own.

    ``text`` is what is synthesised; ``text[start:end]`` of the raw input holds it (with any
    whitespace that was dropped between merged pieces); ``join`` says how it meets the next
    segment (for the last segment of a text it is :attr:`Join.SENTENCE`).
    """

    text: str
    start: int
    end: int
    join: Join


def split_sentences(text: str) -> list[str]:
    """Sentences of the raw ``text``: split after every ``。！？!?`` and newline, each piece stripped,
    empty pieces dropped.

    A piece with nothing to say (no kana, kanji, ``々〆〇``, letter or digit; ``ー`` does not
    count) is appended to the previous sentence, or prepended to the next one when it comes
    first; a text made only of such pieces stays one sentence. ASCII ``.`` and ``…`` do not split.
    ``"えっ!?本当に？"`` -> ``["えっ!?", "本当に？"]``; blank text -> ``[]``.
    """
    return [segment.text for segment in _sentences(text)]


def split_segments(text: str, max_chars: int = MAX_SEGMENT_CHARS) -> list[Segment]:
    """The segments of ``text``: its sentences (:func:`split_sentences`), each no longer than
    ``max_chars`` characters.

    A sentence of at most ``max_chars`` characters is one segment. A longer one is cut after
    clause marks (``、，,・…``), packing consecutive clauses into segments of at most ``max_chars``
    (:attr:`Join.CLAUSE`); a clause still longer is cut into near-equal parts of at most
    ``max_chars`` (:attr:`Join.CUT`), each cut moved back a little, where that helps, so that it
    falls on whitespace or at least not inside a run of ASCII letters or digits. Blank text gives
    ``[]``.
    """
    if max_chars < 2 * _CUT_SEARCH:
        raise ValueError(f"max_chars must be at least {2 * _CUT_SEARCH}, got {max_chars}")
    segments: list[Segment] = []
    for sentence in _sentences(text):
        if len(sentence.text) <= max_chars:
            segments.append(sentence)
        else:
            segments.extend(_cut_sentence(text, sentence, max_chars))
    return segments


def _sentences(text: str) -> list[Segment]:
    sentences: list[Segment] = []
    pending: Segment | None = None  # speechless pieces seen before the first sentence
    for piece in _pieces(text, _SENTENCE_PIECE, 0, len(text)):
        if _SPEECH.search(piece.text):
            sentences.append(piece if pending is None else _concat(pending, piece))
            pending = None
        elif sentences:
            sentences[-1] = _concat(sentences[-1], piece)
        else:
            pending = piece if pending is None else _concat(pending, piece)
    if pending is not None:
        sentences.append(pending)
    return sentences


def _pieces(text: str, pattern: re.Pattern[str], start: int, end: int) -> list[Segment]:
    """The non-blank matches of ``pattern`` in ``text[start:end]``, stripped, with their spans."""
    found = []
    for match in pattern.finditer(text, start, end):
        raw = match.group()
        stripped = raw.strip()
        if stripped:
            first = match.start() + len(raw) - len(raw.lstrip())
            found.append(Segment(stripped, first, first + len(stripped), Join.SENTENCE))
    return found


def _concat(a: Segment, b: Segment) -> Segment:
    """``a`` and ``b`` (in order) as one segment: their texts concatenated (as upstream merges
    sentences), their spans covered, joined like ``b``."""
    return Segment(a.text + b.text, a.start, b.end, b.join)


def _merge(text: str, a: Segment, b: Segment) -> Segment:
    """``a`` and ``b`` (in order) as one segment of the raw span they cover, joined like ``b``."""
    return Segment(text[a.start : b.end], a.start, b.end, b.join)


def _cut_sentence(text: str, sentence: Segment, max_chars: int) -> list[Segment]:
    """A sentence longer than ``max_chars`` as clause groups and hard cuts (see split_segments)."""
    groups: list[Segment] = []
    for clause in _pieces(text, _CLAUSE_PIECE, sentence.start, sentence.end):
        if groups and clause.end - groups[-1].start <= max_chars:
            groups[-1] = _merge(text, groups[-1], clause)
        else:
            groups.append(clause)
    out: list[Segment] = []
    for group in groups:
        out.extend(_hard_cut(text, group, max_chars))
        out[-1] = Segment(out[-1].text, out[-1].start, out[-1].end, Join.CLAUSE)
    out[-1] = Segment(out[-1].text, out[-1].start, out[-1].end, sentence.join)
    return out


def _hard_cut(text: str, group: Segment, max_chars: int) -> list[Segment]:
    """``group`` cut into near-equal parts of at most ``max_chars``, joined by :attr:`Join.CUT`."""
    parts: list[Segment] = []
    start = group.start
    while group.end - start > max_chars:
        remaining = group.end - start
        target = start + math.ceil(remaining / math.ceil(remaining / max_chars))
        cut = _cut_point(text, start, target)
        parts.extend(_pieces(text, _ANYTHING, start, cut))
        start = cut
    parts.extend(_pieces(text, _ANYTHING, start, group.end))
    return [Segment(p.text, p.start, p.end, Join.CUT) for p in parts]


def _cut_point(text: str, start: int, target: int) -> int:
    """Where to cut ``text`` at or a little before ``target`` (never at or before ``start``):
    after whitespace if there is some nearby, else not inside a word or number, else ``target``."""
    lowest = max(start + 1, target - _CUT_SEARCH)
    candidates = range(target, lowest - 1, -1)
    for cut in candidates:
        if text[cut - 1].isspace():
            return cut
    for cut in candidates:
        if not (_WORD_CHAR.match(text[cut - 1]) and _WORD_CHAR.match(text[cut])):
            return cut
    return target
