"""Speaker configs unlike the tiny fixture's, with random checkpoints: for tests that must work
for any valid config (sizes, layer counts, upsample rates, several speakers, resblock 2)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from hayakoe_backend_torch.model import JPExtraSynthesizer
from hayakoe_core.speaker_config import SpeakerConfig
from tests.support.repo import TINY

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


def variant_dir(folder: Path, changes: dict) -> Path:
    """``folder`` holding the tiny config with ``changes`` and a random checkpoint for it."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = json.loads((TINY / "config.json").read_text())
    for section, values in changes.items():
        raw[section].update(values)
    (folder / "config.json").write_text(json.dumps(raw))
    torch.manual_seed(0)
    model = JPExtraSynthesizer(SpeakerConfig.from_dict(raw))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state["iteration"] = torch.tensor([1], dtype=torch.int64)
    save_file(state, str(folder / "random.safetensors"))
    return folder
