"""Sentence splitting on raw input (README §7)."""

from __future__ import annotations

from typing import Any

import pytest

from hayakoe_core.text.sentences import split_sentences


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
    assert [split_sentences(c["input"]) for c in golden_cases] == [
        c["sentences"] for c in golden_cases
    ]
