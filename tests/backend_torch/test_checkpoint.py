"""Checkpoint discovery, header validation and loading (both weight-norm key styles)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from hayakoe_backend_torch.checkpoint import (
    find_checkpoint,
    load_synthesizer,
    validate_checkpoint,
)
from hayakoe_backend_torch.runtime import TorchSpeaker
from hayakoe_core.errors import ConfigError
from hayakoe_core.speaker_config import SpeakerConfig
from tests.backend_torch.goldens import GOLDEN_CASES, TINY, golden_inputs
from tests.support.repo import LEGACY_CHECKPOINT as LEGACY

CHECKPOINT = TINY / "tiny_e1_s10.safetensors"


@pytest.fixture(scope="module")
def config() -> SpeakerConfig:
    return SpeakerConfig.from_file(TINY / "config.json")


@pytest.fixture(scope="module")
def tensors() -> dict[str, torch.Tensor]:
    return load_file(str(CHECKPOINT))


def _speaker_dir(tmp_path: Path, checkpoint: Path) -> Path:
    shutil.copy(TINY / "config.json", tmp_path / "config.json")
    shutil.copy(checkpoint, tmp_path / checkpoint.name)
    return tmp_path


def test_legacy_weight_norm_keys_load_to_identical_outputs(tmp_path: Path, config: SpeakerConfig) -> None:
    modern = load_synthesizer(config, CHECKPOINT).state_dict()
    legacy = load_synthesizer(config, LEGACY).state_dict()
    assert modern.keys() == legacy.keys()
    for key in modern:
        assert torch.equal(modern[key], legacy[key]), key

    inputs = golden_inputs(np.load(GOLDEN_CASES[0]))
    expected = TorchSpeaker.load(TINY).synthesize(inputs)
    got = TorchSpeaker.load(_speaker_dir(tmp_path, LEGACY)).synthesize(inputs)
    np.testing.assert_array_equal(got.audio, expected.audio)
    np.testing.assert_array_equal(got.durations, expected.durations)


@pytest.mark.parametrize("path", [CHECKPOINT, LEGACY], ids=["modern", "legacy"])
def test_validate_accepts_upstream_checkpoints(config: SpeakerConfig, path: Path) -> None:
    validate_checkpoint(config, path)


def _drop(key: str) -> Callable[[dict[str, torch.Tensor]], None]:
    return lambda t: t.pop(key)


def _add(key: str, value: torch.Tensor) -> Callable[[dict[str, torch.Tensor]], None]:
    return lambda t: t.__setitem__(key, value)


BROKEN = {
    "missing": (_drop("dec.conv_post.weight"), "dec.conv_post.weight"),
    "unexpected": (_add("dec.extra.weight", torch.zeros(3)), "dec.extra.weight"),
    "misshaped": (_add("emb_g.weight", torch.zeros(2, 16)), "emb_g.weight"),
    "integer": (_add("dp.proj.bias", torch.zeros(1, dtype=torch.int64)), "dp.proj.bias"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
@pytest.mark.parametrize("check", ["load", "validate"])
def test_broken_checkpoint_names_the_key_and_file(
    tmp_path: Path,
    config: SpeakerConfig,
    tensors: dict[str, torch.Tensor],
    case: str,
    check: str,
) -> None:
    edit, key = BROKEN[case]
    broken = dict(tensors)
    edit(broken)
    path = tmp_path / "broken.safetensors"
    save_file(broken, str(path))
    with pytest.raises(ConfigError) as err:
        if check == "load":
            load_synthesizer(config, path)
        else:
            validate_checkpoint(config, path)
    assert key in str(err.value)
    assert str(path) in str(err.value)


def test_enc_q_keys_and_iteration_are_ignored(
    tmp_path: Path, config: SpeakerConfig, tensors: dict[str, torch.Tensor]
) -> None:
    with_enc_q = {**tensors, "enc_q.proj.weight": torch.zeros(32, 16, 1)}
    path = tmp_path / "train.safetensors"
    save_file(with_enc_q, str(path))
    validate_checkpoint(config, path)
    load_synthesizer(config, path)


def test_both_key_styles_for_one_tensor_is_an_error(
    tmp_path: Path, config: SpeakerConfig, tensors: dict[str, torch.Tensor]
) -> None:
    key = "dec.ups.0.parametrizations.weight.original0"
    doubled = {**tensors, "dec.ups.0.weight_g": tensors[key].clone()}
    path = tmp_path / "doubled.safetensors"
    save_file(doubled, str(path))
    with pytest.raises(ConfigError, match=re.escape(key)):
        validate_checkpoint(config, path)


def test_not_a_safetensors_file(tmp_path: Path, config: SpeakerConfig) -> None:
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"\xff" * 64)
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        validate_checkpoint(config, path)
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_synthesizer(config, path)


def test_find_checkpoint_picks_the_newest_mtime_top_level_file(tmp_path: Path) -> None:
    later_name, newest = tmp_path / "G_200.safetensors", tmp_path / "G_100.safetensors"
    for path, mtime in [(later_name, 1_000_000), (newest, 2_000_000)]:
        path.write_bytes(b"x")
        os.utime(path, (mtime, mtime))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "G_999.safetensors").write_bytes(b"x")
    assert find_checkpoint(tmp_path) == newest


def test_find_checkpoint_without_any(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape("no *.safetensors")):
        find_checkpoint(tmp_path)
