"""Export a speaker's PyTorch synthesizer to upstream-compatible ONNX graphs.

Writes ``synthesizer.onnx`` (plus ``synthesizer.onnx.data`` for large or forced external
weights) and ``duration_predictor.onnx``: opset 17, legacy TorchScript exporter, constant
folding, decoder weight norm baked into plain weights, initializers named ``net_g.<key>``.
Input names, dtypes and dynamic axes are upstream's; the synthesizer has a second output
``durations`` [1, phone_len] (frames per phone), which upstream's runtime reads when present.

Imports torch (through the torch backend): only the publish path may import this module.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import onnx
import torch
from torch import nn

from hayakoe_backend_torch.checkpoint import find_checkpoint, load_synthesizer
from hayakoe_backend_torch.model import JPExtraSynthesizer
from hayakoe_core.speaker_config import SpeakerConfig
from hayakoe_core.synthesis import (
    BERT_DIM,
    DURATION_PREDICTOR_FILE,
    DURATION_PREDICTOR_INPUTS,
    STYLE_DIM,
    SYNTHESIZER_FILE,
    SYNTHESIZER_INPUTS,
)

# Part of the export cache key: bump whenever the produced graphs could change.
EXPORTER_VERSION = "hayakoe-onnx-export-1"

OPSET = 17
# Protobuf caps a model at 2 GiB; weights beyond this go to an external data file.
EXTERNAL_DATA_THRESHOLD = 2_000_000_000
_TRACE_PHONES = 20
_TRACE_SEED = 0

_SYNTH_INPUTS = list(SYNTHESIZER_INPUTS)
_DP_INPUTS = list(DURATION_PREDICTOR_INPUTS)
_PHONE_AXES = {
    "x": {1: "phone_len"},
    "tone": {1: "phone_len"},
    "language": {1: "phone_len"},
    "bert": {2: "phone_len"},
    "durations": {1: "phone_len"},
}


class _SynthesizerGraph(nn.Module):
    """Traced wrapper: upstream's synthesizer inputs -> (audio [1, 1, L], durations [1, T])."""

    def __init__(self, net_g: JPExtraSynthesizer) -> None:
        super().__init__()
        self.net_g = net_g

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        result = self.net_g.infer(*inputs)
        return result.audio, result.durations.w_ceil[:, 0, :]


class _DurationGraph(nn.Module):
    """Traced wrapper: duration-predictor inputs -> durations [1, T]."""

    def __init__(self, net_g: JPExtraSynthesizer) -> None:
        super().__init__()
        self.net_g = net_g

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.net_g.predict_durations(*inputs).w_ceil[:, 0, :]


def export_onnx(
    speaker_dir: Path,
    out_dir: Path,
    *,
    checkpoint: Path | None = None,
    external_data: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Export the speaker in ``speaker_dir`` (config.json + ``checkpoint``, default the
    folder's newest ``*.safetensors``) into ``out_dir``; return the written paths.

    ``external_data``: True forces ``synthesizer.onnx.data``; None chooses it when the weights
    exceed :data:`EXTERNAL_DATA_THRESHOLD`. Files are built in a temporary folder inside
    ``out_dir``, checked with ``onnx.checker``, then moved into place, so ``out_dir`` never
    holds half-written graphs. Raises :class:`ConfigError` for a bad speaker folder.
    """
    report = progress or (lambda _message: None)
    speaker_dir, out_dir = Path(speaker_dir), Path(out_dir)
    config = SpeakerConfig.from_file(speaker_dir / "config.json")
    ckpt = checkpoint if checkpoint is not None else find_checkpoint(speaker_dir)
    report(f"loading {ckpt.name}")
    model = load_synthesizer(config, ckpt, "cpu")
    model.dec.bake_weight_norm()
    if external_data is None:
        weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
        external_data = weight_bytes > EXTERNAL_DATA_THRESHOLD

    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        report(f"exporting {SYNTHESIZER_FILE}")
        written = _export_graph(
            _SynthesizerGraph(model),
            _trace_inputs(_SYNTH_INPUTS),
            _SYNTH_INPUTS,
            ["audio", "durations"],
            {**_PHONE_AXES, "audio": {2: "audio_len"}},
            staging / SYNTHESIZER_FILE,
            external_data,
        )
        report(f"exporting {DURATION_PREDICTOR_FILE}")
        written += _export_graph(
            _DurationGraph(model),
            _trace_inputs(_DP_INPUTS),
            _DP_INPUTS,
            ["durations"],
            _PHONE_AXES,
            staging / DURATION_PREDICTOR_FILE,
            external_data=False,
        )
        return _move_into_place(written, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _trace_inputs(names: list[str]) -> tuple[torch.Tensor, ...]:
    """Seeded dummy batch-1 inputs for tracing (the values do not shape the graph)."""
    gen = torch.Generator().manual_seed(_TRACE_SEED)
    t = _TRACE_PHONES
    scalar = {"noise_scale": 0.667, "length_scale": 1.0, "noise_scale_w": 0.8, "sdp_ratio": 0.5}
    values = {
        "x": torch.randint(0, 100, (1, t), generator=gen),
        "x_lengths": torch.tensor([t], dtype=torch.int64),
        "sid": torch.zeros(1, dtype=torch.int64),
        "tone": torch.randint(0, 12, (1, t), generator=gen),
        "language": torch.randint(0, 3, (1, t), generator=gen),
        "bert": torch.randn(1, BERT_DIM, t, generator=gen),
        "style_vec": torch.randn(1, STYLE_DIM, generator=gen),
        **{k: torch.tensor([v], dtype=torch.float32) for k, v in scalar.items()},
    }
    return tuple(values[name] for name in names)


def _export_graph(
    module: nn.Module,
    args: tuple[torch.Tensor, ...],
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, dict[int, str]],
    path: Path,
    external_data: bool,
) -> list[Path]:
    """Trace ``module`` to ``path``, re-save with external data when asked, and check it."""
    raw = path.with_name(path.name + ".trace")
    raw.mkdir()
    traced = raw / path.name
    # The TorchScript exporter (what upstream's graphs came from) warns that it is deprecated and
    # that it cannot fold some Slice ops; neither is actionable for users publishing a speaker.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(
            module,
            args,
            str(traced),
            input_names=input_names,
            output_names=output_names,
            dynamic_axes={k: v for k, v in dynamic_axes.items() if k in input_names + output_names},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    proto = onnx.load(str(traced))
    written = [path]
    if external_data:
        data_name = path.name + ".data"
        onnx.save_model(
            proto,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data_name,
        )
        # onnx writes the data file owner-only; give it the graph's ordinary permissions.
        shutil.copymode(path, path.with_name(data_name))
        written.insert(0, path.with_name(data_name))
    else:
        onnx.save_model(proto, str(path))
    shutil.rmtree(raw)
    onnx.checker.check_model(str(path), full_check=True)
    return written


def _move_into_place(files: list[Path], out_dir: Path) -> list[Path]:
    """Replace files in ``out_dir`` (data files before the graphs that name them) and drop a
    stale ``.data`` file that no longer belongs to a graph."""
    placed = []
    for src in files:
        dest = out_dir / src.name
        os.replace(src, dest)
        placed.append(dest)
    for graph in (SYNTHESIZER_FILE, DURATION_PREDICTOR_FILE):
        stale = out_dir / (graph + ".data")
        if stale not in placed and stale.exists():
            stale.unlink()
    return placed
