"""A random FP32 BERT in the tiny BERT's shape, as a source publishes it under pytorch/bert/fp32/."""

from __future__ import annotations

from pathlib import Path

# The tiny model's shape (tests/fixtures/bert/tiny/MANIFEST.json), with fresh random weights.
TINY_CONFIG = {
    "vocab_size": 512,
    "hidden_size": 1024,
    "num_hidden_layers": 3,
    "num_attention_heads": 16,
    "intermediate_size": 64,
    "max_position_embeddings": 512,
    "type_vocab_size": 0,
    "layer_norm_eps": 1e-7,
    "relative_attention": True,
    "max_relative_positions": -1,
    "position_buckets": 256,
    "norm_rel_ebd": "layer_norm",
    "share_att_key": True,
    "pos_att_type": ["p2c", "c2p"],
    "position_biased_input": False,
    "conv_kernel_size": 3,
    "conv_act": "gelu",
    "conv_groups": 64,
    "pad_token_id": 0,
}


def save_random_fp32_bert(folder: Path) -> Path:
    """Write a seeded random DeBERTa-v2 masked LM (transformers format) to ``folder``; returns it.
    Needs torch and transformers."""
    import torch
    import transformers

    torch.manual_seed(0)
    model = transformers.DebertaV2ForMaskedLM(transformers.DebertaV2Config(**TINY_CONFIG))
    model.save_pretrained(folder)
    return folder
