"""Bringing a destination's shared BERT into the cache: what the runtime and publishing share."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hayakoe_core.bert.layout import CPU_PREFIXES, TORCH_FP32_DIR
from hayakoe_core.errors import HayakoeError, NotFoundError
from hayakoe_core.fetching import Fetcher
from hayakoe_core.registry import Store


def fetch_bert_root(fetcher: Fetcher, store: Store, *, with_fp32: bool) -> Path:
    """The local folder laid out as a BERT source root (see :mod:`hayakoe_core.bert.layout`)
    holding ``store``'s BERT, fetched if needed; ``pytorch/bert/fp32/`` too when ``with_fp32`` and
    the store has it. :class:`NotFoundError` when the store holds no (CPU) BERT."""
    roots = {_root_of(fetcher.fetch(store, prefix).path, prefix) for prefix in CPU_PREFIXES}
    if len(roots) != 1:
        raise HayakoeError(f"{store.url}: BERT files came back in different folders: {roots}")
    if with_fp32:
        with contextlib.suppress(NotFoundError):  # torch falls back to the ONNX BERT
            fetcher.fetch(store, TORCH_FP32_DIR)
    return roots.pop()


def _root_of(path: Path, prefix: str) -> Path:
    for _ in prefix.split("/"):
        path = path.parent
    return path
