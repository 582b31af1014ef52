"""G2P building blocks: morae, long marks, tones, word2ph, ids, invariants, lazy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hayakoe_core.text.frontend import MAX_FRONTEND_CHARS, TextFrontend, TextTooLongError
from hayakoe_core.text.g2p import words_from_morphemes
from hayakoe_core.text.ids import intersperse, to_ids
from hayakoe_core.text.kana import split_morae
from hayakoe_core.text.prosody import align_tones
from hayakoe_core.text.symbols import symbol_table
from hayakoe_core.text.word2ph import spread, word2ph

REPO = Path(__file__).resolve().parents[2]


def _morpheme(string: str, pron: str) -> dict[str, str]:
    return {"string": string, "pron": pron}


def test_symbol_table_facts() -> None:
    table = symbol_table()
    assert len(table.symbols) == 112 and table.ids["_"] == 0
    assert [table.ids[p] for p in ("N", "a", "ch", "k", "ky", "o", "q", "sh", "ts")] == [
        5, 8, 22, 57, 58, 65, 73, 77, 80,
    ]  # fmt: skip
    assert [table.ids[p] for p in "!?…,.'-"] == list(range(103, 110))
    assert "".join(sorted(table.punctuations)) == "".join(sorted("!?…,.'-"))


def test_split_morae_longest_match_first() -> None:
    assert split_morae("キャット") == ["キャ", "ッ", "ト"]
    assert split_morae("ヴァイオリン") == ["ヴァ", "イ", "オ", "リ", "ン"]
    assert split_morae("ソー") == ["ソ", "ー"]
    assert split_morae("ヷ") is None


def test_long_marks_inside_and_at_word_start() -> None:
    words = words_from_morphemes(
        [_morpheme("ワン", "ワン"), _morpheme("ーー", "ーー"), _morpheme("ッ", "ッ"),
         _morpheme("ー", "ー"), _morpheme("。", "、"), _morpheme("ー", "ー"),
         _morpheme("ソー", "ソー")]
    )  # fmt: skip
    assert [w.phones for w in words] == [
        ("w", "a", "N"), ("N", "N"), ("q",), ("q",), (".",), ("-",), ("s", "o", "o"),
    ]  # fmt: skip
    assert words_from_morphemes([_morpheme("ーー", "ーー")])[0].phones == ("-", "-")


def test_readings_of_punctuation_and_unreadable_characters() -> None:
    words = words_from_morphemes(
        [_morpheme("！", "、"), _morpheme("?", "？"), _morpheme("−−", "、"),
         _morpheme("ゝゞ", "、"), _morpheme("ヷ", "ヷ"), _morpheme("〆", "シメ")]
    )  # fmt: skip
    assert [(w.text, w.reading, w.phones) for w in words] == [
        ("!", "!", ("!",)),
        ("?", "?", ("?",)),
        ("--", "--", ("-", "-")),
        ("ゝゞ", "''", ("'", "'")),
        ("ヷ", "'", ("'",)),
    ]  # the 〆 morpheme is dropped: nothing of its surface survives the punctuation mapping


def test_align_tones_gives_punctuation_zero_and_rejects_strangers() -> None:
    assert align_tones(["a", "!", "i", "'", "u"], [("a", 1), ("i", 1)]) == [1, 0, 1, 0, 0]
    with pytest.raises(ValueError, match="does not match"):
        align_tones(["a", "k"], [("a", 1), ("i", 0)])


def test_word2ph_spread() -> None:
    assert spread(3, 2) == [2, 1]
    assert spread(8, 2) == [4, 4]
    assert spread(2, 3) == [1, 1, 0]
    assert word2ph([("今日", 3), (".", 1)]) == [1, 2, 1, 1, 1]


def test_ids_with_blanks() -> None:
    assert intersperse([5, 6]) == [0, 5, 0, 6, 0]
    ids = to_ids(["_", "a", "_"], [0, 1, 0], [1, 1, 1])
    assert ids.phone_ids_no_blank == [0, 8, 0]
    assert ids.tone_ids_no_blank == [6, 7, 6]
    assert ids.phone_ids == [0, 0, 0, 8, 0, 0, 0]
    assert ids.tone_ids == [0, 6, 0, 7, 0, 6, 0]
    assert ids.language_ids == [0, 1, 0, 1, 0, 1, 0]
    assert ids.word2ph_blank == [3, 2, 2]


@pytest.mark.parametrize(
    "text",
    ["", "@#&*", "ーー。", "!?", "ΑΒΓと㐀", "Hello, world! 2024年の計画です。", "吾輩は猫である" * 5],
)
def test_unit_invariants(frontend: TextFrontend, text: str) -> None:
    unit = frontend.preprocess(text)
    n = len(unit.phones)
    assert unit.phones[0] == unit.phones[-1] == "_"
    assert len(unit.tones) == n and set(unit.tones) <= {0, 1}
    assert len(unit.word2ph) == len(unit.bert_text) + 2
    assert sum(unit.word2ph) == n
    assert unit.bert_text == "".join(unit.words)
    assert len(unit.words) == len(unit.word_readings)
    assert len(unit.phone_ids) == len(unit.tone_ids) == len(unit.language_ids) == 2 * n + 1
    assert sum(unit.word2ph_blank) == 2 * n + 1


def test_empty_text_is_just_the_pads(frontend: TextFrontend) -> None:
    unit = frontend.preprocess("@#&*")
    assert (unit.normalized, unit.words, unit.phones, unit.word2ph) == ("", [], ["_", "_"], [1, 1])


def test_frontend_import_is_light() -> None:
    script = (
        "import sys, hayakoe_core.text.frontend, hayakoe_core.text.sentences;"
        "print(sorted(m for m in ('pyopenjtalk', 'num2words', 'e2k', 'torch') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_text_too_long_for_one_frontend_call_is_refused_not_a_crash(frontend: TextFrontend) -> None:
    """OpenJTalk crashes the process at about 2,700 characters; the frontend refuses before that."""
    with pytest.raises(TextTooLongError, match=r"reads as 2800 characters .*\(at most 2000\)"):
        frontend.preprocess("あ" * 2800)
    assert len(frontend.preprocess("あ" * MAX_FRONTEND_CHARS).phones) == MAX_FRONTEND_CHARS + 2
