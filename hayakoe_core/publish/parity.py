"""ONNX graphs and the PyTorch checkpoint agree before anything leaves the machine.

Publishing an ONNX speaker ships graphs that were exported (or found beside the checkpoint and
reused) from a checkpoint; this check runs both on the same fixed inputs with deterministic noise
(``noise_scale = noise_scale_w = 0``) and demands what the model conformance suite demands of
any backend (:mod:`hayakoe_core.conformance.tolerances`): durations exactly equal, audio within
its absolute tolerance. It catches a bad export and, above all, graphs that belong to another
checkpoint. Both sides are loaded through the registry's backends, as the runtime loads them, on
the CPU.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hayakoe_core.conformance.tolerances import tolerance_for
from hayakoe_core.errors import HayakoeError
from hayakoe_core.publish.source import CONFIG, STYLE_VECTORS
from hayakoe_core.registry import Registry, get_registry
from hayakoe_core.speaker_config import SpeakerConfig
from hayakoe_core.style import load_style_vectors
from hayakoe_core.synthesis import BERT_DIM, SpeakerModel, SynthesisInputs
from hayakoe_core.text.symbols import symbol_table

#: (phones, blanks included; sdp_ratio) per case: a short and a longer utterance, once with the
#: deterministic duration predictor alone and once mixed with the stochastic one.
CASES = ((9, 0.0), (41, 0.5))
_SEED = 20_240_917
_AUDIO_TOLERANCE = tolerance_for("audio", np.zeros(1, dtype=np.float32))


class ParityError(HayakoeError):
    """The ONNX graphs do not reproduce the checkpoint: a bad export, or another checkpoint's."""


@dataclass(frozen=True)
class ParityReport:
    """What was compared: ``cases`` runs, the largest audio difference seen and the tolerance."""

    cases: int
    max_audio_diff: float
    tolerance: str


def parity_inputs(config: SpeakerConfig, style_vectors: np.ndarray) -> list[SynthesisInputs]:
    """The fixed inputs, one per :data:`CASES` entry: seeded random Japanese phones interleaved
    with blanks, seeded random BERT features, the speaker's neutral style, no noise."""
    table = symbol_table()
    rng = np.random.default_rng(_SEED)
    inputs = []
    for length, sdp_ratio in CASES:
        phones = rng.integers(1, len(table.symbols), length)
        blank = np.arange(length) % 2 == 0
        inputs.append(
            SynthesisInputs(
                x=np.where(blank, 0, phones).astype(np.int64),
                tone=np.where(blank, 0, table.tone_start + rng.integers(0, 2, length)).astype(np.int64),
                language=np.full(length, table.language_id, dtype=np.int64),
                bert=(rng.standard_normal((BERT_DIM, length)) * 0.1).astype(np.float32),
                style_vec=style_vectors[0].astype(np.float32),
                sid=0,
                noise_scale=0.0,
                noise_scale_w=0.0,
                length_scale=1.0,
                sdp_ratio=sdp_ratio,
            )
        )
    return inputs


def check_parity(
    speaker_source: Path,
    checkpoint: Path,
    graphs: Sequence[Path],
    *,
    registry: Registry | None = None,
) -> ParityReport:
    """Run the ONNX ``graphs`` (``synthesizer.onnx``, ``duration_predictor.onnx`` and any
    external data file) and ``checkpoint`` with ``speaker_source``'s config.json and style vectors
    on :func:`parity_inputs`; :class:`ParityError` naming the case and the numbers when they
    disagree. Nothing is copied: both backends read the files through links in a temporary folder.
    """
    registry = registry or get_registry()
    config = SpeakerConfig.from_file(speaker_source / CONFIG)
    inputs = parity_inputs(config, load_style_vectors(speaker_source / STYLE_VECTORS, config))
    shared = [speaker_source / CONFIG, speaker_source / STYLE_VECTORS]
    with tempfile.TemporaryDirectory(prefix="hayakoe-parity-") as tmp:
        torch_dir = _linked(Path(tmp) / "torch", [*shared, checkpoint])
        onnx_dir = _linked(Path(tmp) / "onnx", [*shared, *graphs])
        reference = registry.load_runtime("torch", torch_dir, "cpu")
        exported = registry.load_runtime("onnx", onnx_dir, "cpu")
        what = f"the ONNX graphs ({', '.join(g.name for g in graphs)}) and {checkpoint.name}"
        worst = 0.0
        for number, case in enumerate(inputs, 1):
            worst = max(worst, _compare(reference, exported, case, f"{what} disagree on case {number}"))
    return ParityReport(len(inputs), worst, str(_AUDIO_TOLERANCE))


def _compare(reference: SpeakerModel, exported: SpeakerModel, case: SynthesisInputs, where: str) -> float:
    """The largest audio difference of one case; :class:`ParityError` past the tolerances.

    duration_predictor.onnx is run on its own (the synthesizer does not use it, so a stray one
    would go unnoticed); the synthesizer's own durations show in its audio length."""
    want = reference.synthesize(case)
    predicted = exported.predict_durations(case)
    if predicted is None:
        raise ParityError(f"{where}: the ONNX set has no duration_predictor.onnx")
    _same_durations(want.durations, predicted, f"{where}: duration_predictor.onnx durations")
    got = exported.synthesize(case)
    if got.audio.shape != want.audio.shape:
        frame = reference.config.samples_per_frame
        raise ParityError(
            f"{where}: synthesizer.onnx made {got.audio.size // frame} frames of audio, the "
            f"checkpoint {want.audio.size // frame}"
        )
    diff = np.abs(got.audio.astype(np.float64) - want.audio.astype(np.float64))
    worst = float(np.nan_to_num(diff.max(), nan=np.inf)) if diff.size else 0.0
    if not _AUDIO_TOLERANCE.accepts(want.audio, got.audio):
        raise ParityError(f"{where}: audio differs by up to {worst:.3g} (tolerance {_AUDIO_TOLERANCE})")
    return worst


def _same_durations(want: np.ndarray, got: np.ndarray, what: str) -> None:
    want, got = np.asarray(want).reshape(-1), np.asarray(got).reshape(-1)
    if want.shape != got.shape:
        raise ParityError(f"{what} cover {got.size} phones, the checkpoint's {want.size}")
    if not np.array_equal(want, got):
        raise ParityError(
            f"{what} differ at {int(np.count_nonzero(want != got))} of {want.size} phones "
            f"({float(got.sum()):g} frames in all, the checkpoint's {float(want.sum()):g})"
        )


def _linked(folder: Path, files: Sequence[Path]) -> Path:
    folder.mkdir()
    for path in files:
        os.symlink(Path(path).resolve(), folder / Path(path).name)
    return folder
