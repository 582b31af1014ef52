"""Words added by the user (``TTS.add_word``), compiled into an OpenJTalk user dictionary."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hayakoe_core.errors import HayakoeError
from hayakoe_core.text.kana import hiragana_to_katakana, split_morae


class UserDictionaryError(HayakoeError):
    """A user dictionary word with an empty surface, a reading that is not kana, or a bad accent."""


@dataclass(frozen=True)
class UserWord:
    """One entry: surface as written, katakana reading, accent nucleus (0 = flat), mora count,
    MeCab cost and noun subcategories."""

    surface: str
    reading: str
    accent: int
    morae: int
    cost: int
    part_of_speech: tuple[str, str, str]

    def csv_row(self) -> str:
        """The entry as an OpenJTalk (NAIST-JDIC) dictionary CSV row; ids are left to MeCab."""
        surface = _to_fullwidth(self.surface)
        return ",".join(
            [surface, "", "", str(self.cost), "名詞", *self.part_of_speech, "*", "*", surface,
             self.reading, self.reading, f"{self.accent}/{self.morae}", "*"]
        )  # fmt: skip


class UserDictionary:
    """Surfaces with a fixed reading and accent, applied to OpenJTalk by every frontend using it.

    Changing the dictionary (``add_word``/``remove_word``) bumps :attr:`version`; frontends compile
    it again before their next call. English surfaces registered here are not converted to
    katakana during normalisation, so OpenJTalk reads them with the registered reading.
    """

    def __init__(self) -> None:
        self._words: dict[str, UserWord] = {}
        self._version = 0
        self._lock = threading.Lock()

    def add_word(
        self,
        surface: str,
        reading: str,
        accent: int = 0,
        *,
        cost: int = 1000,
        part_of_speech: tuple[str, str, str] = ("固有名詞", "一般", "*"),
    ) -> None:
        """Register (or replace) ``surface`` read as ``reading`` (katakana or hiragana).

        ``accent`` is the mora after which the pitch falls (0 = flat, at most the mora count);
        ``cost`` is the MeCab word cost (lower wins more often against the system dictionary);
        ``part_of_speech`` is the noun subcategory triple (``名詞`` is implied).
        Raises :class:`UserDictionaryError` for an empty surface, a reading that is not made of
        kana morae, or an accent out of range.
        """
        if not surface or any(c in surface for c in ",\n\r"):
            raise UserDictionaryError(
                f"user dictionary: surface {surface!r} must be non-empty, without commas or newlines"
            )
        katakana = hiragana_to_katakana(reading)
        morae = split_morae(katakana)
        if not morae or morae[0] == "ー":
            raise UserDictionaryError(
                f"user dictionary: reading {reading!r} of {surface!r} must be katakana or hiragana"
            )
        if not 0 <= accent <= len(morae):
            raise UserDictionaryError(
                f"user dictionary: accent {accent} of {surface!r} must be 0..{len(morae)} "
                f"(the number of morae in {katakana})"
            )
        word = UserWord(surface, katakana, accent, len(morae), cost, part_of_speech)
        with self._lock:
            self._words[surface] = word
            self._version += 1

    def remove_word(self, surface: str) -> None:
        """Forget ``surface``; raises ``KeyError`` if it was not registered."""
        with self._lock:
            del self._words[surface]
            self._version += 1

    @property
    def version(self) -> int:
        """Increases on every change; compiled dictionaries remember the version they hold."""
        return self._version

    @property
    def surfaces(self) -> frozenset[str]:
        """The registered surfaces, as given to :meth:`add_word`."""
        return frozenset(self._words)

    def __len__(self) -> int:
        return len(self._words)

    def compile(self, directory: Path) -> Path:
        """Write the words as CSV into ``directory`` and compile them; returns the ``.dic`` path."""
        import pyopenjtalk

        with self._lock:
            version, rows = self._version, [w.csv_row() + "\n" for w in self._words.values()]
        csv_path = directory / f"user-{version}.csv"
        dic_path = directory / f"user-{version}.dic"
        csv_path.write_text("".join(rows), "utf-8")
        with _stdout_silenced():  # MeCab's compiler prints progress bars to the C stdout
            pyopenjtalk.mecab_dict_index(str(csv_path), str(dic_path))
        return dic_path


def _to_fullwidth(text: str) -> str:
    """ASCII to full-width forms, as OpenJTalk does to its input before the dictionary lookup."""
    return "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text
    )


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
