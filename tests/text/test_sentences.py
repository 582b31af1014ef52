"""Sentence splitting on raw input (README §7)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from hayakoe_core.text.sentences import Join, Segment, split_segments, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("えっ!?本当に？", ["えっ!?", "本当に？"]),
        ("こんにちは。\nさようなら。", ["こんにちは。", "さようなら。"]),
        ("ーー。あ", ["ーー。あ"]),  # a speechless first piece goes to the next sentence
        ("はい。いいえ！どうして？", ["はい。", "いいえ！", "どうして？"]),
        ("あ.い…う", ["あ.い…う"]),  # . and … do not split
        ("一行目\n二行目", ["一行目", "二行目"]),
        ("  あ。  い。  ", ["あ。", "い。"]),
        ("あ。！？", ["あ。！？"]),
        ("１。Ａ。ｱ。〆。", ["１。", "Ａ。", "ｱ。", "〆。"]),  # digits, letters, half-width kana, 〆
        ("!?", ["!?"]),  # only speechless pieces: one sentence
        ("", []),
        (" \n\t ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_golden_sentences(golden_cases: list[dict[str, Any]]) -> None:
    assert [split_sentences(c["input"]) for c in golden_cases] == [c["sentences"] for c in golden_cases]


def _spans_hold_their_text(text: str, segments: list[Segment]) -> None:
    for seg in segments:
        raw = text[seg.start : seg.end]
        assert raw.startswith(seg.text[:1]) and raw.endswith(seg.text[-1:])
        assert "".join(raw.split()) == "".join(seg.text.split())
    assert all(a.end <= b.start for a, b in itertools.pairwise(segments))


@pytest.mark.parametrize(
    "text",
    ["えっ!?本当に？", "こんにちは。\nさようなら。", "ーー。あ", "  あ。  い。  ", "!?", "あ。 。い。"],
)
def test_short_sentences_are_the_segments(text: str) -> None:
    segments = split_segments(text)
    assert [s.text for s in segments] == split_sentences(text)
    assert all(s.join is Join.SENTENCE for s in segments)
    _spans_hold_their_text(text, segments)


def test_long_sentence_is_cut_after_commas_into_packed_clauses() -> None:
    clause = "今日はとても良い天気なので、"  # 14 characters
    text = clause * 20 + "終わり。次の文。"
    segments = split_segments(text, max_chars=60)
    assert [s.text for s in segments] == [clause * 4] * 4 + [clause * 4 + "終わり。", "次の文。"]
    assert [s.join for s in segments] == [Join.CLAUSE] * 4 + [Join.SENTENCE, Join.SENTENCE]
    _spans_hold_their_text(text, segments)


def test_clause_longer_than_the_limit_is_cut_into_near_equal_parts() -> None:
    text = "あ" * 250
    segments = split_segments(text, max_chars=100)
    assert [len(s.text) for s in segments] == [84, 83, 83]
    assert [s.join for s in segments] == [Join.CUT, Join.CUT, Join.SENTENCE]
    assert "".join(s.text for s in segments) == text


def test_hard_cut_prefers_whitespace_then_avoids_words_and_numbers() -> None:
    text = "あ" * 70 + " " + "あ" * 70
    assert [s.text for s in split_segments(text, max_chars=100)] == ["あ" * 70, "あ" * 70]
    words = "あ" * 60 + "Hayakoe2026" + "い" * 60
    first = split_segments(words, max_chars=100)[0].text
    assert first == "あ" * 60  # the cut moved back before the word rather than into it


def test_every_segment_is_bounded_whatever_the_text() -> None:
    texts = ["あ" * 5000, "、" * 3000, "W" * 3000, ("長い文、" * 400 + "。") * 3, " \n" * 1000 + "あ"]
    for text in texts:
        segments = split_segments(text, max_chars=120)
        assert segments
        assert max(len(s.text) for s in segments) <= 120
        _spans_hold_their_text(text, segments)


def test_blank_text_has_no_segments() -> None:
    assert split_segments("") == []
    assert split_segments(" \n\u3000\t") == []
