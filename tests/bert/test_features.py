"""BERT features on the CPU (int8 ONNX) against upstream's goldens, single and batched."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from hayakoe_core.bert import BertFeatureExtractor
from hayakoe_core.errors import ConfigError
from tests.bert.golden import TINY_ROOT, arrays, index, single_cases

ATOL = 1e-4


@pytest.fixture(scope="module")
def extractor() -> BertFeatureExtractor:
    return BertFeatureExtractor.from_source_root(TINY_ROOT)


@pytest.mark.parametrize(("prefix", "bert_text"), single_cases())
def test_single_text_matches_goldens(extractor: BertFeatureExtractor, prefix: str, bert_text: str) -> None:
    golden = arrays()
    encoded = extractor.encode([bert_text])
    np.testing.assert_array_equal(encoded.tokens.input_ids, golden[f"{prefix}__input_ids"])
    np.testing.assert_allclose(encoded.hidden_states[0], golden[f"{prefix}__token_hidden"], atol=ATOL, rtol=0)
    features = extractor.features(bert_text, golden[f"{prefix}__word2ph_blank"].tolist())
    assert features.dtype == np.float32
    assert features.shape == (1024, len(golden[f"{prefix}__phone_ids"]))
    np.testing.assert_allclose(features, golden[f"{prefix}__bert"], atol=ATOL, rtol=0)


def test_batched_sentences_match_goldens(extractor: BertFeatureExtractor) -> None:
    golden = arrays()
    texts = index()["s36"]["batch"]["bert_texts"]
    items = [(text, golden[f"s36_u{k}__word2ph_blank"]) for k, text in enumerate(texts)]
    encoded = extractor.encode(texts)
    np.testing.assert_array_equal(encoded.tokens.input_ids, golden["s36_batch__input_ids"])
    np.testing.assert_array_equal(encoded.tokens.attention_mask, golden["s36_batch__attention_mask"])
    np.testing.assert_allclose(encoded.hidden_states, golden["s36_batch__token_hidden"], atol=ATOL, rtol=0)
    for k, features in enumerate(extractor.features_batch(items)):
        np.testing.assert_allclose(features, golden[f"s36_batch__bert_{k}"], atol=ATOL, rtol=0)
        # Batch-wide activation quantisation makes batched features differ from single ones.
        assert np.abs(features - golden[f"s36_u{k}__bert"]).max() > ATOL


def test_empty_batch(extractor: BertFeatureExtractor) -> None:
    assert extractor.features_batch([]) == []


def test_word2ph_must_have_one_entry_per_token(extractor: BertFeatureExtractor) -> None:
    with pytest.raises(ValueError, match="3 entries for 4 tokens"):
        extractor.features("あい", [3, 2, 2])


@pytest.mark.parametrize(
    ("drop", "named"),
    [("onnx", "bert_q8.onnx"), ("bert/tokenizer/vocab.txt", "vocab.txt")],
)
def test_missing_files_are_config_errors(tmp_path: Path, drop: str, named: str) -> None:
    root = tmp_path / "root"
    shutil.copytree(TINY_ROOT, root)
    target = root / drop
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(ConfigError, match=named):
        BertFeatureExtractor.from_source_root(root)


def test_optimized_graph_cache_gives_the_same_features(tmp_path: Path) -> None:
    golden = arrays()
    word2ph = golden["s36__word2ph_blank"]
    text = index()["s36"]["whole"]["bert_text"]
    for _ in range(2):  # first builds the cache, second loads from it
        extractor = BertFeatureExtractor.from_source_root(TINY_ROOT, optimized_cache=tmp_path)
        np.testing.assert_allclose(extractor.features(text, word2ph), golden["s36__bert"], atol=ATOL, rtol=0)
    cached, key = sorted(tmp_path.iterdir())
    assert cached.name.startswith("bert_q8-") and cached.suffix == ".onnx"
    assert key.name == cached.name + ".key"
