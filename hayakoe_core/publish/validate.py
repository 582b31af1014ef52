"""Checks on a speaker source before anything is written anywhere (ARCHITECTURE §6, step 1).

Core checks what every backend shares (``config.json``, ``style_vectors.npy``, the name); what
the checkpoint must hold is architecture knowledge, so each chosen backend checks it through
``hayakoe_check_files`` (the torch backend compares the safetensors header with the model the
config describes, without reading a weight). Every failure is a one-line
:class:`~hayakoe_core.errors.HayakoeError` naming the file (and key) and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hayakoe_core.errors import ConfigError
from hayakoe_core.paths import check_publish_name
from hayakoe_core.publish.source import CONFIG, STYLE_VECTORS
from hayakoe_core.registry import Registry, get_registry
from hayakoe_core.speaker_config import SpeakerConfig
from hayakoe_core.style import load_style_vectors


@dataclass(frozen=True)
class Validation:
    """What passed: the parsed config, and the backends that checked the checkpoint
    (``checked``) or have no such check (``unchecked``: they find problems only when preparing
    files)."""

    config: SpeakerConfig
    checked: tuple[str, ...]
    unchecked: tuple[str, ...]


def validate_source(
    folder: Path,
    checkpoint: Path,
    backends: Sequence[str],
    *,
    name: str | None = None,
    registry: Registry | None = None,
) -> Validation:
    """Check the speaker in ``folder`` with ``checkpoint`` for publishing with ``backends``.

    In order: ``name`` (when given) is a valid publish name; ``config.json`` parses and describes
    a JP-Extra model; ``style_vectors.npy`` is a float array [num_styles, 256] of finite values,
    read without unpickling anything; each backend's ``hayakoe_check_files`` accepts the
    checkpoint. Reads headers and small files only; writes nothing. Raises the first problem.
    """
    if name is not None:
        check_publish_name(name)
    if not checkpoint.is_file():
        raise ConfigError(f"{checkpoint}: checkpoint not found")
    config = SpeakerConfig.from_file(folder / CONFIG)
    if not config.data.use_jp_extra:
        raise ConfigError(
            f"{folder / CONFIG}: data.use_jp_extra is false; only Style-Bert-VITS2 JP-Extra "
            "speakers can be published"
        )
    load_style_vectors(folder / STYLE_VECTORS, config)
    registry = registry or get_registry()
    checked, unchecked = [], []
    for backend in backends:
        ran = registry.check_files(backend, speaker_source=folder, checkpoint=checkpoint)
        (checked if ran else unchecked).append(backend)
    return Validation(config, tuple(checked), tuple(unchecked))
