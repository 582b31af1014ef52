"""The synthesizer's parameter table equals upstream's for any config, and variants run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hayakoe_backend_torch.model import JPExtraSynthesizer
from hayakoe_backend_torch.runtime import TorchSpeaker
from hayakoe_core.speaker_config import SpeakerConfig
from hayakoe_core.synthesis import SynthesisInputs
from tests.backend_torch.goldens import MODEL_FIXTURES
from tests.support.variants import VARIANTS, variant_dir


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


@pytest.mark.parametrize("name", VARIANTS, ids=list(VARIANTS))
def test_config_variant_loads_and_runs(tmp_path: Path, name: str) -> None:
    speaker = TorchSpeaker.load(variant_dir(tmp_path, VARIANTS[name]))
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
