"""The user dictionary changes OpenJTalk's readings and protects English surfaces."""

from __future__ import annotations

import pytest

from hayakoe_core.errors import HayakoeError
from hayakoe_core.text.frontend import TextFrontend
from hayakoe_core.text.user_dict import UserDictionary


def test_added_word_changes_reading_phones_and_ids() -> None:
    user_dict = UserDictionary()
    frontend = TextFrontend(user_dict)
    before = frontend.preprocess("東京へ行く")
    assert before.word_readings[0] == "トーキョー"

    user_dict.add_word("東京", "ひがしきょう", accent=1)
    after = frontend.preprocess("東京へ行く")
    assert after.words[0] == "東京"
    assert after.word_readings[0] == "ヒガシキョウ"
    assert after.phones[1:10] == ["h", "i", "g", "a", "sh", "i", "ky", "o", "u"]
    assert after.tones[1:4] == [1, 1, 0]  # accent 1: high first mora, then low
    assert after.phone_ids != before.phone_ids
    assert sum(after.word2ph) == len(after.phones)

    user_dict.remove_word("東京")
    assert frontend.preprocess("東京へ行く") == before


def test_english_surface_is_not_converted_to_katakana() -> None:
    user_dict = UserDictionary()
    user_dict.add_word("hayakoe", "ハヤコエ")
    unit = TextFrontend(user_dict).preprocess("hayakoeです")
    assert unit.normalized == "hayakoeです"
    assert unit.word_readings[0] == "ハヤコエ"
    # without the dictionary e2k transliterates it
    assert TextFrontend().normalize("hayakoeです") != "hayakoeです"


def test_dictionary_does_not_leak_into_other_frontends() -> None:
    user_dict = UserDictionary()
    user_dict.add_word("猫", "ワンワン")
    assert TextFrontend(user_dict).preprocess("猫").word_readings == ["ワンワン"]
    assert TextFrontend().preprocess("猫").word_readings == ["ネコ"]


@pytest.mark.parametrize(
    ("surface", "reading", "accent", "message"),
    [
        ("", "ア", 0, "non-empty"),
        ("a,b", "ア", 0, "commas"),
        ("x", "abc", 0, "katakana or hiragana"),
        ("x", "ーア", 0, "katakana or hiragana"),
        ("x", "アイ", 3, "0..2"),
        ("x", "アイ", -1, "0..2"),
    ],
)
def test_invalid_words_are_refused(surface: str, reading: str, accent: int, message: str) -> None:
    with pytest.raises(HayakoeError, match=message):
        UserDictionary().add_word(surface, reading, accent)
