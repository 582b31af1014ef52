"""BERT features for the torch backend: the published FP32 model when there is one, else int8 ONNX.

A BERT source root may publish ``pytorch/bert/fp32/`` (a transformers DeBERTa-v2 masked-LM
checkpoint). The torch backend runs it on its device (CUDA by default) with the same character
tokenizer and the same ``hidden_states[-3]`` as the ONNX graph, so both paths feed the synthesizer
identical-shaped features; without it the CPU extractor (onnxruntime) is used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hayakoe_core.bert import BertFeatureExtractor, CharTokenizer
from hayakoe_core.bert.layout import TOKENIZER_DIR, TORCH_FP32_DIR
from hayakoe_core.errors import ConfigError, PluginError

#: Which entry of transformers' ``hidden_states`` (embeddings first, then one per layer) is used.
HIDDEN_LAYER = -3


class TorchBertEncoder:
    """Token ids → float32 hidden states ``[B, T, hidden]`` from a transformers FP32 checkpoint.

    ``folder`` holds ``config.json`` and the weights (``AutoModelForMaskedLM`` format); the model is
    loaded in float32 onto ``device`` in eval mode. Only the encoder runs (the masked-LM head
    does not affect ``hidden_states``).
    """

    def __init__(self, folder: Path, device: str = "cuda") -> None:
        try:
            from transformers import AutoModelForMaskedLM
        except ImportError:
            raise PluginError(
                f"the FP32 BERT in {folder} needs transformers: pip install transformers"
            ) from None
        try:
            model = AutoModelForMaskedLM.from_pretrained(folder, dtype=torch.float32)
        except (OSError, ValueError) as err:
            raise ConfigError(f"unreadable FP32 BERT in {folder}: {err}") from None
        self.device = torch.device(device)
        self._encoder = model.base_model.to(self.device).eval()
        self._compiled = False

    def compile(self) -> None:
        """``torch.compile`` the encoder (once), as upstream compiles its shared BERT on CUDA."""
        if not self._compiled:
            self._encoder = torch.compile(self._encoder)
            self._compiled = True

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """float32 ``[B, T, hidden]``: the encoder's ``hidden_states[-3]`` for ``[B, T]`` int64 ids."""
        with torch.inference_mode():
            out = self._encoder(
                input_ids=torch.as_tensor(input_ids, dtype=torch.long, device=self.device),
                attention_mask=torch.as_tensor(attention_mask, dtype=torch.long, device=self.device),
                output_hidden_states=True,
            )
            return out.hidden_states[HIDDEN_LAYER].float().cpu().numpy()


def has_fp32_bert(root: Path) -> bool:
    """Whether the BERT source ``root`` publishes an FP32 transformers checkpoint."""
    return (root / TORCH_FP32_DIR / "config.json").is_file()


def open_bert_for_torch(root: Path, device: str) -> BertFeatureExtractor:
    """The torch backend's BERT extractor for ``root``.

    FP32 on ``device`` when ``pytorch/bert/fp32/`` is published; otherwise the int8 ONNX extractor
    on the CPU (``BertFeatureExtractor.from_source_root``). Missing files raise ``ConfigError``.
    """
    if not has_fp32_bert(root):
        return BertFeatureExtractor.from_source_root(root)
    tokenizer = CharTokenizer.from_dir(root / TOKENIZER_DIR)
    return BertFeatureExtractor(tokenizer, TorchBertEncoder(root / TORCH_FP32_DIR, device))
