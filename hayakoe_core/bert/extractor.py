"""BERT features for the synthesizer: tokenizer + token encoder + per-phone expansion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from hayakoe_core.bert.expand import expand_to_phones
from hayakoe_core.bert.layout import ONNX_Q8, TOKENIZER_DIR, require_file
from hayakoe_core.bert.tokenizer import CharTokenizer, TokenBatch
from hayakoe_core.synthesis import Compilable


class TokenEncoder(Protocol):
    """Anything that maps int64 ``input_ids``/``attention_mask`` ``[B, T]`` to float32
    ``[B, T, hidden]`` hidden states (the ONNX session on CPU, a torch model on CUDA)."""

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class EncodedBatch:
    """One encoder call: the padded tokens and the hidden states ``[B, T, hidden]`` they gave."""

    tokens: TokenBatch
    hidden_states: np.ndarray


class BertFeatureExtractor:
    """``bert_text`` + ``word2ph_blank`` → float32 ``[hidden, n_phones]`` features.

    Contract (matching upstream hayakoe): the tokenizer gives exactly one token per character of
    ``bert_text`` plus ``[CLS]``/``[SEP]``, so ``len(word2ph_blank)`` must equal the token count;
    a mismatch is a :class:`ValueError` (the text frontend and the tokenizer disagree).
    """

    def __init__(self, tokenizer: CharTokenizer, encoder: TokenEncoder) -> None:
        self.tokenizer = tokenizer
        self.encoder = encoder

    @classmethod
    def from_source_root(
        cls, root: Path, threads: int | None = None, optimized_cache: Path | None = None
    ) -> BertFeatureExtractor:
        """The CPU extractor of a BERT source root: its character tokenizer and int8 ONNX graph.

        ``optimized_cache``: folder where ORT's optimised graph is kept between runs (loads ~4x
        faster; see :mod:`hayakoe_core.bert.onnx_encoder`); ``None`` optimises on every load.
        Raises :class:`~hayakoe_core.errors.ConfigError` naming the first missing file.
        """
        from hayakoe_core.bert.onnx_encoder import OnnxBertEncoder

        tokenizer = CharTokenizer.from_dir(root / TOKENIZER_DIR)
        graph = require_file(root / ONNX_Q8, "int8 ONNX BERT")
        return cls(tokenizer, OnnxBertEncoder(graph, threads, optimized_cache))

    def compile(self) -> None:
        """Compile the encoder when it can be (a torch encoder: :class:`Compilable`); the int8
        ONNX one has nothing to compile."""
        if isinstance(self.encoder, Compilable):
            self.encoder.compile()

    def encode(self, texts: Sequence[str]) -> EncodedBatch:
        """Tokenize ``texts`` into one padded batch and run the encoder once on it."""
        tokens = self.tokenizer.batch(texts)
        return EncodedBatch(tokens, self.encoder(tokens.input_ids, tokens.attention_mask))

    def features(self, bert_text: str, word2ph_blank: Sequence[int]) -> np.ndarray:
        """Features of one text from a batch-of-one encoder call (upstream's single-text path)."""
        return self.features_batch([(bert_text, word2ph_blank)])[0]

    def features_batch(self, items: Sequence[tuple[str, Sequence[int]]]) -> list[np.ndarray]:
        """Features of several texts from ONE padded encoder call (upstream's batched path).

        Row ``b`` uses the first ``len(word2ph_b)`` token rows of output ``b``. Results differ
        slightly from :meth:`features` on each text alone with a dynamically quantised graph (one
        activation scale per batch), as upstream's do.
        """
        if not items:
            return []
        encoded = self.encode([text for text, _ in items])
        return self.expand(encoded, [word2ph for _, word2ph in items])

    @staticmethod
    def expand(encoded: EncodedBatch, word2ph: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """Per-phone features of each row of ``encoded``, expanded by its ``word2ph[b]``.

        Raises :class:`ValueError` when a row's token count differs from ``len(word2ph[b])``.
        """
        return [
            _expand_checked(hidden, n_tokens, counts)
            for hidden, n_tokens, counts in zip(
                encoded.hidden_states, encoded.tokens.lengths(), word2ph, strict=True
            )
        ]


def _expand_checked(hidden: np.ndarray, n_tokens: int, word2ph: Sequence[int]) -> np.ndarray:
    if len(word2ph) != n_tokens:
        raise ValueError(
            f"word2ph_blank has {len(word2ph)} entries for {n_tokens} tokens "
            "(expected one per character of bert_text plus [CLS] and [SEP])"
        )
    return expand_to_phones(hidden, word2ph)
