"""Katakana readings of English words that OpenJTalk cannot read, from the ``e2k`` models.

Provenance and licences: see ``LOANWORDS.md`` beside this module.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

_MAX_OUTPUT = 32  # katakana symbols; e2k's default (16) truncates long words


class LoanwordModel:
    """Decides whether an English word is pronounceable and, if so, transliterates it.

    e2k's n-gram classifier rejects acronyms and letter salad (``nhk``, ``json``); those are left
    for OpenJTalk to spell letter by letter. Accepted words go through e2k's character-to-katakana
    model (greedy decoding, deterministic). Models load on first use.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: tuple[Any, Any] | None = None

    def reading(self, word: str) -> str | None:
        """Katakana for ``word`` (case-insensitive), or ``None`` to leave it as written."""
        return self._cached_reading(word.lower())

    @lru_cache(maxsize=4096)  # noqa: B019 - one instance per process; the cache is the point
    def _cached_reading(self, word: str) -> str | None:
        pronounceable, transliterate = self._load()
        if not pronounceable(word):
            return None
        return transliterate(word) or None

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._models is None:
                from e2k import C2K, NGram

                self._models = (NGram(), C2K(max_len=_MAX_OUTPUT))
            return self._models


@lru_cache(maxsize=1)
def default_loanword_model() -> LoanwordModel:
    """The process-wide model (loading e2k takes a third of a second)."""
    return LoanwordModel()
