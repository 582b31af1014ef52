"""The JP-Extra symbol table, punctuation set and katakana mora table (package data, loaded once)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class SymbolTable:
    """Facts from ``symbols.json``.

    ``symbols[i]`` is the phone with id ``i`` (``_`` = pad = blank, id 0); ``punctuations`` are the
    seven punctuation phones ``! ? … , . ' -``; ``mora`` maps a katakana mora to its optional
    consonant and its vowel (``ン`` -> ``(None, "N")``).
    """

    symbols: tuple[str, ...]
    ids: dict[str, int]
    pad: str
    punctuations: frozenset[str]
    tone_start: int
    language_id: int
    mora: dict[str, tuple[str | None, str]]


@cache
def symbol_table() -> SymbolTable:
    """The JP-Extra symbol table, read from package data on first call."""
    raw = json.loads(resources.files(__package__).joinpath("symbols.json").read_text("utf-8"))
    symbols = tuple(raw["symbols"])
    return SymbolTable(
        symbols=symbols,
        ids={s: i for i, s in enumerate(symbols)},
        pad=raw["pad"],
        punctuations=frozenset(raw["punctuations"]),
        tone_start=raw["tone_start_jp"],
        language_id=raw["language_id_jp"],
        mora={k: (c, v) for k, (c, v) in raw["mora_kata_to_phonemes"].items()},
    )
