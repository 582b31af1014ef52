"""Normalisation quirks listed in tests/fixtures/text/README.md §2."""

from __future__ import annotations

import pytest

from hayakoe_core.text.frontend import TextFrontend


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # NFKC: full-width ASCII, half-width katakana with voiced marks
        ("ＡＢＣ１２３", "エイビーシー百二十三"),
        ("ｶﾞｷﾞｸﾞ", "ガギグ"),
        ("ゟとヿ", "よりとコト"),
        # full-width ： ； become ASCII under NFKC and are then deleted (no pause)
        ("どうぞ：ありがとう；", "どうぞありがとう"),
        ("どうぞ:ありがとう;", "どうぞありがとう"),
        # numbers
        ("1,980円", "千九百八十円"),
        ("12,34", "十二,三十四"),
        ("$100と¥500と£3と€30", "百ドルと五百円と三ポンドと三十ユーロ"),
        ("3.14と0.5と0.05", "三点一四と零点五と零点零五"),
        ("01と10000と1000000", "一と一万と百万"),
        ("-5と+5", "-五と五"),
        ("10:30と1/2と50%", "十三十と一二と五十"),
        ("1" + "0" * 60, "一" + "零" * 60),  # beyond num2words: digit by digit
        # a leftover $ is a full stop
        ("あ$い", "あ.い"),
        # tildes
        ("ワンツー～スリー〜フォー~", "ワンツーースリーーフォーー"),
        # punctuation map
        ("あ、い。う！え？", "あ,い.う!え?"),
        ("あ・い·う", "あ,い,う"),
        ("なるほど……。", "なるほど......."),
        ("あ・・・い", "あ...い"),
        ("「あ」『い』（う）【え】《お》“か”‘き’[く]", "'あ'い'う''え''お''か''き''く'"),
        ("あ―い‐う−え─お", "あ-い-う-え-お"),
        ("あ\nい", "あ.い"),
        # deletion of everything unreadable, runs preserved
        ("😀あ♪い〆う@#&*", "あいう"),
        ("！！！", "!!!"),
        ("人々と〇", "人々と〇"),
        ("α線とἀρχή", "α線とἀρχή"),
        ("@#&*", ""),
        # combining and spacing (han)dakuten removed
        ("あ゛い゜", "あい"),
        ("か\u3099あ\u3099", "があ"),  # NFKC composes が; the lone mark on あ is deleted
    ],
)
def test_normalize(frontend: TextFrontend, text: str, expected: str) -> None:
    assert frontend.normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AIとNetflix", "エーアイとネットフリックス"),  # OpenJTalk's own reading
        ("I love", "アイラブ"),
        ("abc", "エイビーシー"),  # acronym read in capitals by OpenJTalk
        ("COVID", "コビッド"),  # e2k transliteration (upstream: spelled out)
        ("nhk", "エヌエイチケイ"),
        ("Let's", "レット'エス"),  # runs split at any non-letter
        ("test_01.txt", "テスト一.ティーエックスティー"),
    ],
)
def test_english_words(frontend: TextFrontend, text: str, expected: str) -> None:
    assert frontend.normalize(text) == expected


def test_unpronounceable_unknown_word_is_left_as_written(frontend: TextFrontend) -> None:
    # e2k rejects it as a word and OpenJTalk knows no reading of XQZV: left for spelling out
    unit = frontend.preprocess("xqzv")
    assert unit.normalized == "xqzv"
    assert unit.bert_text == "ｘｑｚｖ"


def test_loanword_overrides_replace_the_loanword_answer_only() -> None:
    frontend = TextFrontend(loanword_overrides={"Breakfast": "ブレックファースト", "covid": None})
    assert frontend.normalize("breakfastとCOVID") == "ブレックファーストとCOVID"
    # OpenJTalk's own reading still comes first
    assert TextFrontend(loanword_overrides={"ai": "アイ"}).normalize("AI") == "エーアイ"
