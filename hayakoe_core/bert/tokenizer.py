"""Character-level BERT tokenizer read from a BERT source's ``bert/tokenizer/`` folder.

Reproduces, without ``transformers``, the token ids that ``BertJapaneseTokenizer`` gives with
``word_tokenizer_type="basic"`` and ``subword_tokenizer_type="character"`` (the configuration of
``ku-nlp/deberta-v2-large-japanese-char-wwm`` and of hayakoe's published BERT):

1. special-token strings in the text (``[MASK]`` …) are kept whole;
2. basic word split: control characters, U+0000 and U+FFFD dropped, whitespace separates words,
   NFC, optional lower-casing with accent stripping, every punctuation character its own word;
3. each word is NFKC-normalised and becomes one token per character (``Ｔ`` → ``T``); characters
   missing from ``vocab.txt`` become ``[UNK]``;
4. ``[CLS]`` … ``[SEP]`` around the text; batches are right-padded with ``[PAD]`` (mask 0).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hayakoe_core.bert.layout import SPECIAL_TOKENS_MAP, TOKENIZER_CONFIG, VOCAB_FILE, require_file
from hayakoe_core.errors import ConfigError

_SPECIAL_KEYS = ("unk_token", "cls_token", "sep_token", "pad_token", "mask_token")
_SPECIAL_DEFAULTS = {
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "mask_token": "[MASK]",
}


@dataclass(frozen=True)
class TokenBatch:
    """Tokenizer output for a batch: int64 ``input_ids`` and ``attention_mask``, both ``[B, T]``."""

    input_ids: np.ndarray
    attention_mask: np.ndarray

    def lengths(self) -> list[int]:
        """Number of real (unpadded) tokens of each row."""
        return [int(n) for n in self.attention_mask.sum(axis=1)]


def _is_punctuation(char: str) -> bool:
    """ASCII non-alphanumerics and every Unicode ``P*`` character (BERT's definition)."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_whitespace(char: str) -> bool:
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _is_dropped(char: str) -> bool:
    """Characters BERT's text cleaning removes: NUL, U+FFFD and controls other than tab/newlines."""
    if char in "\t\n\r":
        return False
    return char in "\x00\ufffd" or unicodedata.category(char).startswith("C")


def _strip_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")


def _split_punctuation(word: str) -> list[str]:
    pieces: list[str] = []
    run = ""
    for char in word:
        if _is_punctuation(char):
            if run:
                pieces.append(run)
                run = ""
            pieces.append(char)
        else:
            run += char
    if run:
        pieces.append(run)
    return pieces


class CharTokenizer:
    """Maps text to BERT token ids, one token per (NFKC-normalised) character.

    ``vocab`` maps token strings to ids (line numbers of ``vocab.txt``). ``special`` holds the
    strings of ``unk_token``, ``cls_token``, ``sep_token``, ``pad_token`` and ``mask_token``; each
    must be in ``vocab``.
    """

    def __init__(
        self,
        vocab: dict[str, int],
        special: dict[str, str],
        *,
        do_lower_case: bool = False,
        strip_accents: bool | None = None,
        do_word_tokenize: bool = True,
    ) -> None:
        missing = [special[k] for k in _SPECIAL_KEYS if special[k] not in vocab]
        if missing:
            raise ConfigError(f"BERT vocabulary lacks special tokens {missing}")
        self.vocab = vocab
        self.unk_token = special["unk_token"]
        self.unk_id = vocab[special["unk_token"]]
        self.cls_id = vocab[special["cls_token"]]
        self.sep_id = vocab[special["sep_token"]]
        self.pad_id = vocab[special["pad_token"]]
        self.do_lower_case = do_lower_case
        self.strip_accents = do_lower_case if strip_accents is None else strip_accents
        self.do_word_tokenize = do_word_tokenize
        specials = sorted({special[k] for k in _SPECIAL_KEYS}, key=len, reverse=True)
        self._special_re = re.compile("(" + "|".join(map(re.escape, specials)) + ")")
        self._specials = frozenset(specials)

    @classmethod
    def from_dir(cls, folder: Path) -> CharTokenizer:
        """Read ``vocab.txt``, ``tokenizer_config.json`` and (if present) ``special_tokens_map.json``.

        Raises :class:`ConfigError` when a required file is missing or the configuration asks for
        a tokenizer this class does not implement (anything but basic words + character subwords).
        """
        vocab_path = require_file(folder / VOCAB_FILE, "BERT tokenizer vocabulary")
        config_path = require_file(folder / TOKENIZER_CONFIG, "BERT tokenizer config")
        config = _read_json(config_path)
        special = {k: _token_text(config.get(k, _SPECIAL_DEFAULTS[k])) for k in _SPECIAL_KEYS}
        if (folder / SPECIAL_TOKENS_MAP).is_file():
            mapping = _read_json(folder / SPECIAL_TOKENS_MAP)
            special.update({k: _token_text(mapping[k]) for k in _SPECIAL_KEYS if k in mapping})
        _check_supported(config, config_path)
        # Ids are line numbers; a repeated line keeps its last number, as transformers does.
        lines = vocab_path.read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        vocab = {token: index for index, token in enumerate(lines)}
        return cls(
            vocab,
            special,
            do_lower_case=bool(config.get("do_lower_case", False)),
            strip_accents=config.get("strip_accents"),
            do_word_tokenize=bool(config.get("do_word_tokenize", True)),
        )

    def tokenize(self, text: str) -> list[str]:
        """Token strings of ``text`` without ``[CLS]``/``[SEP]`` (unknown characters → ``[UNK]``)."""
        tokens: list[str] = []
        for part in self._special_re.split(text):
            if part in self._specials:
                tokens.append(part)
                continue
            words = self._words(part) if self.do_word_tokenize else [part]
            for word in words:
                tokens.extend(
                    c if c in self.vocab else self.unk_token for c in unicodedata.normalize("NFKC", word)
                )
        return tokens

    def encode(self, text: str) -> list[int]:
        """Ids of ``[CLS]`` + ``tokenize(text)`` + ``[SEP]``."""
        return [self.cls_id, *(self.vocab[token] for token in self.tokenize(text)), self.sep_id]

    def batch(self, texts: Sequence[str]) -> TokenBatch:
        """Encode ``texts`` into one right-padded batch (``[PAD]`` ids, attention mask 0)."""
        rows = [self.encode(text) for text in texts]
        width = max((len(row) for row in rows), default=0)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return TokenBatch(ids, mask)

    def _words(self, text: str) -> list[str]:
        cleaned = "".join(" " if _is_whitespace(c) else c for c in text if not _is_dropped(c))
        words: list[str] = []
        for word in unicodedata.normalize("NFC", cleaned).split():
            if self.do_lower_case:
                word = word.lower()
            if self.strip_accents:
                word = _strip_accents(word)
            words.extend(_split_punctuation(word))
        return words


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"unreadable BERT tokenizer file {path}: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"BERT tokenizer file {path} is not a JSON object")
    return data


def _token_text(value: Any) -> str:
    """A special token as written in tokenizer files: a string or ``{"content": string, ...}``."""
    return value["content"] if isinstance(value, dict) else str(value)


def _check_supported(config: dict[str, Any], path: Path) -> None:
    word = config.get("word_tokenizer_type", "basic")
    sub = config.get("subword_tokenizer_type", "wordpiece")
    if word != "basic" or sub != "character" or not config.get("do_subword_tokenize", True):
        raise ConfigError(
            f"unsupported BERT tokenizer in {path}: hayakoe reads character-level tokenizers "
            f"(word_tokenizer_type 'basic', subword_tokenizer_type 'character'), got {word!r}/{sub!r}"
        )
