"""Cached ONNX exports, keyed by what determines the graphs.

An export depends on the checkpoint's bytes, the speaker's config.json and the exporter itself,
so the key is ``sha256(checkpoint) + sha256(config.json) + EXPORTER_VERSION``. Exports live under
``<cache_dir>/<checkpoint sha256>/<key>/``, ``cache_dir`` being the folder the caller reserves for
exports (see ``hayakoe_prepare_files``). A folder is complete only once its ``.complete`` marker
holds the key, so an interrupted export is redone, and a different checkpoint or exporter never
reuses stale graphs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from hayakoe_core.manifest import sha256_file

_MARKER = ".complete"


def export_key(checkpoint: Path, config: Path, exporter_version: str) -> tuple[str, str]:
    """``(checkpoint sha256, full key)`` for an export of ``checkpoint`` with ``config``."""
    ckpt = sha256_file(checkpoint)
    cfg = hashlib.sha256(config.read_bytes()).hexdigest()
    key = hashlib.sha256(f"{ckpt}:{cfg}:{exporter_version}".encode()).hexdigest()[:32]
    return ckpt, key


def cached_export(
    cache_dir: Path,
    speaker_source: Path,
    checkpoint: Path,
    exporter_version: str,
    export: Callable[[Path], list[Path]],
) -> list[Path]:
    """The graphs for this checkpoint: from the cache, or made by ``export(folder)`` and kept."""
    ckpt, key = export_key(checkpoint, speaker_source / "config.json", exporter_version)
    folder = cache_dir / ckpt / key
    marker = folder / _MARKER
    if marker.is_file() and marker.read_text() == key:
        return sorted(p for p in folder.iterdir() if p.name != _MARKER)
    marker.unlink(missing_ok=True)
    written = export(folder)
    marker.write_text(key)
    return written
