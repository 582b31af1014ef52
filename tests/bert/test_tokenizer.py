"""The character tokenizer against the golden ids and against transformers' BertJapaneseTokenizer."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from hayakoe_core.bert import CharTokenizer
from hayakoe_core.errors import ConfigError
from tests.bert.golden import TINY_ROOT, arrays, index, single_cases

TOKENIZER_DIR = TINY_ROOT / "bert" / "tokenizer"


@pytest.fixture(scope="module")
def tokenizer() -> CharTokenizer:
    return CharTokenizer.from_dir(TOKENIZER_DIR)


@pytest.mark.parametrize(("prefix", "bert_text"), single_cases())
def test_ids_match_goldens(tokenizer: CharTokenizer, prefix: str, bert_text: str) -> None:
    batch = tokenizer.batch([bert_text])
    np.testing.assert_array_equal(batch.input_ids, arrays()[f"{prefix}__input_ids"])
    np.testing.assert_array_equal(batch.attention_mask, arrays()[f"{prefix}__attention_mask"])


def test_tokens_match_golden_index(tokenizer: CharTokenizer) -> None:
    for record in index().values():
        whole = record["whole"]
        assert ["[CLS]", *tokenizer.tokenize(whole["bert_text"]), "[SEP]"] == whole["tokens"]


def test_unknown_character_and_full_width_latin(tokenizer: CharTokenizer) -> None:
    assert tokenizer.tokenize("吾輩") == ["吾", "[UNK]"]
    assert tokenizer.encode("Ｔｈｉｓ") == tokenizer.encode("This")
    assert tokenizer.encode("")[0] == tokenizer.cls_id
    assert tokenizer.encode("") == [1, 2]


def test_batch_is_right_padded(tokenizer: CharTokenizer) -> None:
    batch = tokenizer.batch(["あいう", "あ"])
    assert batch.input_ids.dtype == np.int64
    assert batch.input_ids.shape == (2, 5)
    np.testing.assert_array_equal(batch.input_ids[1], [1, tokenizer.vocab["あ"], 2, 0, 0])
    np.testing.assert_array_equal(batch.attention_mask, [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    assert batch.lengths() == [5, 3]


def test_whitespace_controls_and_special_strings(tokenizer: CharTokenizer) -> None:
    assert tokenizer.tokenize("a b\tc\n\u3000d\x00\u200be") == ["a", "b", "c", "d", "e"]
    assert tokenizer.tokenize("x[MASK]y") == ["x", "[MASK]", "y"]


def _copy_tokenizer(tmp_path: Path, **config_changes: object) -> Path:
    folder = tmp_path / "tok"
    shutil.copytree(TOKENIZER_DIR, folder)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.update(config_changes)
    config_path.write_text(json.dumps(config))
    return folder


def test_lower_case_config_is_honoured(tmp_path: Path) -> None:
    lower = CharTokenizer.from_dir(_copy_tokenizer(tmp_path, do_lower_case=True))
    assert lower.tokenize("ABÉ") == ["a", "b", "e"]


@pytest.mark.parametrize(
    "change",
    [{"subword_tokenizer_type": "wordpiece"}, {"word_tokenizer_type": "mecab"}],
)
def test_unsupported_tokenizer_is_a_config_error(tmp_path: Path, change: dict) -> None:
    with pytest.raises(ConfigError, match="unsupported BERT tokenizer"):
        CharTokenizer.from_dir(_copy_tokenizer(tmp_path, **change))


@pytest.mark.parametrize("name", ["vocab.txt", "tokenizer_config.json"])
def test_missing_file_is_a_config_error(tmp_path: Path, name: str) -> None:
    folder = _copy_tokenizer(tmp_path)
    (folder / name).unlink()
    with pytest.raises(ConfigError, match=name):
        CharTokenizer.from_dir(folder)


def test_special_token_missing_from_vocab(tmp_path: Path) -> None:
    folder = _copy_tokenizer(tmp_path)
    (folder / "special_tokens_map.json").write_text(json.dumps({"unk_token": "<unk>"}))
    with pytest.raises(ConfigError, match="<unk>"):
        CharTokenizer.from_dir(folder)


def _tricky_texts() -> list[str]:
    rng = random.Random(7)
    alphabet = "今日はいい天気ですね吾輩猫Ｔｈｉｓａｂ ,.!?'-…「」ｶﾀｶﾅ㍉ﬁ\u3099\t\n\u3000\x00\u200bÉé[]MASK"
    fuzz = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20))) for _ in range(200)]
    return ["か\u3099き", "ÀÉ café", "[MASK]です[UNK]x", "A[CLS]B", "ΐΰ", "\x85a\u2028b", *fuzz]


@pytest.mark.parametrize("lower", [False, True])
def test_same_ids_as_transformers(tmp_path: Path, lower: bool) -> None:
    transformers = pytest.importorskip("transformers")
    folder = _copy_tokenizer(tmp_path, do_lower_case=lower)
    reference = transformers.AutoTokenizer.from_pretrained(str(folder))
    mine = CharTokenizer.from_dir(folder)
    texts = _tricky_texts()
    for text in texts:
        assert mine.encode(text) == reference(text)["input_ids"], repr(text)
    padded = reference(texts[:8], padding=True, return_tensors="np")
    batch = mine.batch(texts[:8])
    np.testing.assert_array_equal(batch.input_ids, padded["input_ids"])
    np.testing.assert_array_equal(batch.attention_mask, padded["attention_mask"])
