"""Reading ASCII numbers in Japanese (normalisation step 3)."""

from __future__ import annotations

import re

_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_CURRENCY_WORDS = {"$": "ドル", "¥": "円", "£": "ポンド", "€": "ユーロ"}
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_CURRENCY = re.compile(rf"([$¥£€])({_NUMBER})")
_NUMBER_PATTERN = re.compile(_NUMBER)


def read_numbers(text: str) -> str:
    """Spell every ASCII number in kanji, after moving a leading currency sign behind it as a word.

    ``1,980`` -> ``千九百八十``; ``$100`` -> ``百ドル``; ``3.14`` -> ``三点一四``; signs, ``/``, ``:``
    and ``%`` are not read here (``-5`` -> ``-五``, ``10:30`` -> ``十:三十``).
    """
    text = _GROUPED.sub(lambda m: m.group().replace(",", ""), text)
    text = _CURRENCY.sub(lambda m: m.group(2) + _CURRENCY_WORDS[m.group(1)], text)
    return _NUMBER_PATTERN.sub(lambda m: _number_to_kanji(m.group()), text)


def _number_to_kanji(number: str) -> str:
    from num2words import num2words

    try:
        return num2words(number, lang="ja")
    except OverflowError:
        # Beyond num2words' range (10**51 and up): read digit by digit, as one reads a serial
        # number, rather than failing on user text.
        return "".join(num2words(int(d), lang="ja") if d.isdigit() else "点" for d in number)
