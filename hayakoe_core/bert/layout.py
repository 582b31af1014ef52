"""Where the shared BERT's files live inside a BERT source root (the repo layout, ARCHITECTURE §5).

A source root is any folder laid out like a published repo: ``bert/tokenizer/`` (character
vocabulary), ``onnx/bert/q8/bert_q8.onnx`` (the int8 graph the CPU path runs) and, optionally,
``pytorch/bert/fp32/`` (a transformers checkpoint the torch backend prefers on CUDA).
"""

from __future__ import annotations

from pathlib import Path

from hayakoe_core.errors import ConfigError

TOKENIZER_DIR = "bert/tokenizer"
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
ONNX_Q8 = "onnx/bert/q8/bert_q8.onnx"
TORCH_FP32_DIR = "pytorch/bert/fp32"

#: Repo prefixes a CPU runtime needs from a BERT source (what ``pre_download(device="cpu")`` fetches).
CPU_PREFIXES = ("onnx/bert/q8", TOKENIZER_DIR)


def require_file(path: Path, what: str) -> Path:
    """``path`` if it is an existing file, else a :class:`ConfigError` naming it and ``what`` it is."""
    if not path.is_file():
        raise ConfigError(f"missing {what}: {path} (is this a hayakoe BERT source root?)")
    return path
