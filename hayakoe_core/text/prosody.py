"""Tones (0 low / 1 high) from OpenJTalk full-context labels, aligned to phones with punctuation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from hayakoe_core.text.punctuation import PUNCTUATIONS

_FIELDS = re.compile(
    r"-(?P<p3>[^+]+)\+.*?/A:(?P<a1>-?\d+|xx)\+(?P<a2>\d+|xx)\+(?P<a3>\d+|xx)/.*?/F:(?P<f1>\d+|xx)_"
)
_UNVOICED_VOWELS = frozenset("AIUEO")
_PHRASE_END_PHONES = frozenset("aiueoN") | _UNVOICED_VOWELS | {"cl"}


@dataclass(frozen=True)
class _Label:
    phoneme: str
    a1: int | None
    a2: int | None
    a3: int | None
    f1: int | None


def phoneme_tones(labels: Sequence[str]) -> list[tuple[str, int]]:
    """``(phoneme, tone)`` for every phoneme of the labels, pauses and silences excluded.

    Phonemes: unvoiced vowels lower-cased, ``cl`` -> ``q``. Tones follow ESPnet's prosody marks:
    within an accent phrase a counter rises after a pitch rise and falls after a pitch fall, and
    each phrase's values are mapped to 0/1 ({0}, {0,1} as is; {-1,0} shifted up by one).
    """
    parsed = [_parse(label) for label in labels]
    tones: list[tuple[str, int]] = []
    phrase: list[tuple[str, int]] = []
    level = 0

    def close_phrase() -> None:
        nonlocal level
        tones.extend(_to_binary(phrase))
        phrase.clear()
        level = 0

    for i, label in enumerate(parsed):
        if label.phoneme in ("sil", "pau"):
            close_phrase()
            continue
        phrase.append((_phone(label.phoneme), level))
        next_a2 = parsed[i + 1].a2 if i + 1 < len(parsed) else None
        if label.a3 == 1 and next_a2 == 1 and label.phoneme in _PHRASE_END_PHONES:
            close_phrase()
        elif (
            label.a1 == 0
            and label.a2 is not None
            and next_a2 == label.a2 + 1
            and label.a2 != label.f1
        ):
            level -= 1
        elif label.a2 == 1 and next_a2 == 2:
            level += 1
    close_phrase()
    return tones


def align_tones(phones: Sequence[str], tones: Sequence[tuple[str, int]]) -> list[int]:
    """Tones for ``phones`` (which include punctuation), taken in order from ``tones``.

    A phone equal to the next unused phoneme takes its tone; a punctuation phone takes 0; once
    ``tones`` is used up, the rest get 0. Raises ``ValueError`` on any other phone (G2P and the
    labels disagree, a bug rather than bad input).
    """
    out: list[int] = []
    k = 0
    for phone in phones:
        if k < len(tones) and phone == tones[k][0]:
            out.append(tones[k][1])
            k += 1
        elif phone in PUNCTUATIONS or k >= len(tones):
            out.append(0)
        else:
            raise ValueError(f"phone {phone!r} at {len(out)} does not match label {tones[k][0]!r}")
    return out


def _parse(label: str) -> _Label:
    m = _FIELDS.search(label)
    if m is None:
        raise ValueError(f"not an OpenJTalk full-context label: {label!r}")
    return _Label(m["p3"], *(None if m[k] == "xx" else int(m[k]) for k in ("a1", "a2", "a3", "f1")))


def _phone(phoneme: str) -> str:
    if phoneme == "cl":
        return "q"
    return phoneme.lower() if phoneme in _UNVOICED_VOWELS else phoneme


def _to_binary(phrase: list[tuple[str, int]]) -> list[tuple[str, int]]:
    levels = {level for _, level in phrase}
    if levels <= {0, 1}:
        return list(phrase)
    if levels <= {-1, 0}:
        return [(p, level + 1) for p, level in phrase]
    raise ValueError(f"accent phrase with pitch levels {sorted(levels)} cannot be made binary")
