"""English words in Japanese text -> katakana (normalisation step 2)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping

from hayakoe_core.text.openjtalk import OpenJTalk

_LATIN_RUN = re.compile(r"[A-Za-z]+")
_FILLER = "フィラー"  # OpenJTalk's part of speech for words it only spells out
_ACCENT_MARK = "’"

LoanwordReader = Callable[[str], "str | None"]
"""English word -> katakana, or ``None`` to leave the word as written."""


class EnglishConverter:
    """Replaces every maximal ``[A-Za-z]+`` run by a katakana reading.

    For each run, in order: a surface in ``keep`` (user-dictionary words) stays as is; OpenJTalk's
    own reading if none of its morphemes is a ``フィラー`` (``AI`` -> ``エーアイ``); else the
    loanword reader's answer (``overrides``, keyed by the lower-cased word, replace that answer);
    else, for a word not already all upper case, OpenJTalk's reading of its upper-case form (its
    dictionary knows acronyms in capitals: ``abc`` -> ``エイビーシー``); else the run is left as
    written (OpenJTalk later spells it letter by letter).
    """

    def __init__(
        self,
        jtalk: OpenJTalk,
        loanwords: LoanwordReader,
        keep: Callable[[], Collection[str]],
        overrides: Mapping[str, str | None] | None = None,
    ) -> None:
        self._jtalk = jtalk
        self._loanwords = loanwords
        self._keep = keep
        self._overrides = {k.lower(): v for k, v in (overrides or {}).items()}

    def convert(self, text: str) -> str:
        """``text`` with its English runs replaced (see the class docstring)."""
        keep = self._keep()
        return _LATIN_RUN.sub(
            lambda m: m.group() if m.group() in keep else self.read(m.group()), text
        )

    def read(self, word: str) -> str:
        """The katakana for one English word, or the word itself if nothing reads it."""
        reading = self._openjtalk_reading(word)
        if reading is None:
            key = word.lower()
            reading = self._overrides[key] if key in self._overrides else self._loanwords(word)
        if reading is None and not word.isupper():
            reading = self._openjtalk_reading(word.upper())
        return word if reading is None else reading

    def _openjtalk_reading(self, word: str) -> str | None:
        morphemes = self._jtalk.run_frontend(word)
        if not morphemes or any(m["pos"] == _FILLER for m in morphemes):
            return None
        return "".join(m["pron"] for m in morphemes).replace(_ACCENT_MARK, "")
