"""The torch backend's FP32 BERT path and its fallback to the int8 ONNX extractor."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from hayakoe_backend_torch.bert_fp32 import TorchBertEncoder, open_bert_for_torch  # noqa: E402
from hayakoe_core.bert.onnx_encoder import OnnxBertEncoder  # noqa: E402
from hayakoe_core.errors import PluginError  # noqa: E402
from tests.bert.golden import TINY_ROOT, arrays  # noqa: E402
from tests.support.bert_fp32 import save_random_fp32_bert  # noqa: E402

TEXTS = [
    ("今日はいい天気ですね.", arrays()["s02__word2ph_blank"]),
    ("二千二十四年", arrays()["s20__word2ph_blank"]),
]


@pytest.fixture(scope="module")
def fp32_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BERT source root with the tokenizer and a random FP32 DeBERTa-v2 under pytorch/bert/fp32."""
    root = tmp_path_factory.mktemp("bert-source")
    shutil.copytree(TINY_ROOT / "bert", root / "bert")
    save_random_fp32_bert(root / "pytorch" / "bert" / "fp32")
    return root


def test_without_fp32_bert_falls_back_to_onnx() -> None:
    extractor = open_bert_for_torch(TINY_ROOT, "cpu")
    assert isinstance(extractor.encoder, OnnxBertEncoder)
    features = extractor.features("今日はいい天気ですね.", arrays()["s02__word2ph_blank"])
    np.testing.assert_allclose(features, arrays()["s02__bert"], atol=1e-4, rtol=0)


def test_fp32_bert_gives_hidden_states_minus_3(fp32_root: Path) -> None:
    import torch

    extractor = open_bert_for_torch(fp32_root, "cpu")
    assert isinstance(extractor.encoder, TorchBertEncoder)
    text, word2ph = TEXTS[0]
    features = extractor.features(text, word2ph)
    assert features.dtype == np.float32
    assert features.shape == (1024, int(word2ph.sum()))

    reference = transformers.AutoModelForMaskedLM.from_pretrained(fp32_root / "pytorch/bert/fp32")
    ids = torch.as_tensor([extractor.tokenizer.encode(text)])
    with torch.inference_mode():
        hidden = reference.eval()(input_ids=ids, output_hidden_states=True).hidden_states
    expected = np.repeat(hidden[-3][0].numpy().T, word2ph, axis=1)
    np.testing.assert_allclose(features, expected, atol=1e-5, rtol=0)
    assert not np.allclose(hidden[-3], hidden[0], atol=1e-3)


def test_fp32_batch_equals_single_texts(fp32_root: Path) -> None:
    extractor = open_bert_for_torch(fp32_root, "cpu")
    batched = extractor.features_batch(TEXTS)
    for (text, word2ph), features in zip(TEXTS, batched, strict=True):
        np.testing.assert_allclose(features, extractor.features(text, word2ph), atol=1e-4, rtol=0)


def test_fp32_bert_without_transformers_is_a_plugin_error(
    fp32_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(PluginError, match="pip install transformers"):
        open_bert_for_torch(fp32_root, "cpu")
