"""Punctuation mapping and deletion of unreadable characters (normalisation step 5).

Also applied to every OpenJTalk surface during G2P, which returns full-width forms (``．``,
``！``, ``−``); the mapping turns those back into ASCII punctuation.
"""

from __future__ import annotations

import re

PUNCTUATIONS = "!?…,.'-"
"""The seven punctuation phones; a word made only of these is read as itself."""

_MULTI_CHAR = {"···": "...", "・・・": "..."}
_SINGLE_CHAR = {
    **dict.fromkeys("。．\n$", "."),
    **dict.fromkeys("、，：；·・", ","),
    "！": "!",
    "？": "?",
    "…": "...",
    **dict.fromkeys("“”\"‘’（）()《》【】[]「」", "'"),
    **dict.fromkeys(
        "\u02d7\u2010\u2012\u2013\u2014\u2015\u2043\u2212\u23af\u23e4\u2500\u2501\u2e3a\u2e3b", "-"
    ),
}
# Longer keys first, so ``・・・`` becomes ``...`` rather than ``,,,``.
_MAP_PATTERN = re.compile(
    "|".join(re.escape(k) for k in sorted({**_MULTI_CHAR, **_SINGLE_CHAR}, key=len, reverse=True))
)
_REPLACEMENTS = {**_MULTI_CHAR, **_SINGLE_CHAR}

_UNREADABLE = re.compile(
    "[^"
    "\u3040-\u309f"  # hiragana block
    "\u30a0-\u30ff"  # katakana block
    "\u4e00-\u9fff\u3400-\u4dbf"  # CJK
    "\u3005\u3007"  # 々 〇
    "A-Za-z\uff21-\uff3a\uff41-\uff5a"  # ASCII and full-width letters
    "\u0370-\u03ff\u1f00-\u1fff"  # Greek
    + re.escape(PUNCTUATIONS)
    + "]+"
)


def map_punctuation(text: str) -> str:
    """Map punctuation to the seven punctuation phones and delete every unreadable character.

    What survives: kana, kanji (+ ``々〇``), Latin and Greek letters, and ``!?…,.'-``.
    """
    mapped = _MAP_PATTERN.sub(lambda m: _REPLACEMENTS[m.group()], text)
    return _UNREADABLE.sub("", mapped)


def is_punctuation(text: str) -> bool:
    """True for a non-empty string made only of the seven punctuation phones."""
    return bool(text) and all(ch in PUNCTUATIONS for ch in text)
