"""The synthesizer's parameter table equals upstream's for any config, and variants run."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from hayakoe_backend_torch.model import JPExtraSynthesizer
from hayakoe_backend_torch.runtime import TorchSpeaker
from hayakoe_core.speaker_config import SpeakerConfig
from hayakoe_core.synthesis import SynthesisInputs
from tests.backend_torch.goldens import MODEL_FIXTURES, TINY


@pytest.mark.parametrize("table", ["statedict-jp-extra-default.json", "statedict-tiny.json"])
def test_state_dict_equals_upstream_checkpoint_table(table: str) -> None:
    spec = json.loads((MODEL_FIXTURES / table).read_text())
    with torch.device("meta"):
        model = JPExtraSynthesizer(SpeakerConfig.from_dict(spec["config_used"]))
    mine = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    upstream = [(e["key"], e["shape"]) for e in spec["state_dict"] if e["in_checkpoint"]]
    assert mine == upstream
    n_params = sum(v.numel() for v in model.state_dict().values())
    assert n_params == spec["total_params_in_checkpoint"]


VARIANTS = {
    "two_speakers_deeper": {
        "data": {"n_speakers": 2, "spk2id": {"a": 0, "b": 1}},
        "model": {"n_layers": 4, "n_heads": 4, "kernel_size": 5},
    },
    "other_upsampling": {
        "data": {"hop_length": 24},
        "model": {
            "upsample_rates": [3, 2, 2, 2],
            "upsample_kernel_sizes": [7, 4, 4, 4],
            "upsample_initial_channel": 64,
            "resblock_kernel_sizes": [3, 5],
            "resblock_dilation_sizes": [[1, 2], [2, 6]],
        },
    },
    "resblock_2": {
        "model": {"resblock": "2", "resblock_dilation_sizes": [[1, 3], [1, 3], [1, 3]]},
    },
}


def _variant_dir(tmp_path: Path, changes: dict) -> Path:
    raw = json.loads((TINY / "config.json").read_text())
    raw = copy.deepcopy(raw)
    for section, values in changes.items():
        raw[section].update(values)
    (tmp_path / "config.json").write_text(json.dumps(raw))
    torch.manual_seed(0)
    model = JPExtraSynthesizer(SpeakerConfig.from_dict(raw))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state["iteration"] = torch.tensor([1], dtype=torch.int64)
    save_file(state, str(tmp_path / "random.safetensors"))
    return tmp_path


@pytest.mark.parametrize("name", VARIANTS, ids=list(VARIANTS))
def test_config_variant_loads_and_runs(tmp_path: Path, name: str) -> None:
    speaker = TorchSpeaker.load(_variant_dir(tmp_path, VARIANTS[name]))
    n_speakers = speaker.config.data.n_speakers
    rng = np.random.default_rng(0)
    t = 9
    for sid in range(n_speakers):
        inputs = SynthesisInputs(
            x=rng.integers(0, 112, t),
            tone=rng.integers(0, 12, t),
            language=rng.integers(0, 3, t),
            bert=rng.standard_normal((1024, t)).astype(np.float32),
            style_vec=rng.standard_normal(256).astype(np.float32),
            sid=sid,
        )
        result = speaker.synthesize(inputs)
        assert result.durations.shape == (t,)
        assert result.audio.shape == (result.durations.sum() * speaker.config.samples_per_frame,)
        assert np.isfinite(result.audio).all() and np.abs(result.audio).max() <= 1.0
