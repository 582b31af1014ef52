"""Build voice repos from the tiny fixtures, laid out as ARCHITECTURE §5 says."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from hayakoe_core.manifest import build_manifest, sha256_file, write_manifest
from hayakoe_core.registry import get_registry

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TINY = FIXTURES / "model" / "tiny"
TINY_ONNX = TINY / "onnx"
TINY_BERT = FIXTURES / "bert" / "tiny"
CHECKPOINT = TINY / "tiny_e1_s10.safetensors"
LEGACY_CHECKPOINT = TINY / "variants" / "tiny_legacy_weightnorm_keys.safetensors"  # old weight-norm keys
ONNX_FILES = ("config.json", "style_vectors.npy", "synthesizer.onnx", "duration_predictor.onnx")
TORCH_FILES = ("config.json", "style_vectors.npy", CHECKPOINT.name)


def make_repo(
    root: Path,
    names: tuple[str, ...] = ("tiny",),
    *,
    manifest: bool = False,
    bert: bool = True,
    onnx_dir: Path = TINY_ONNX,
) -> Path:
    """A repo with each of ``names`` under ``onnx/`` (graphs from ``onnx_dir``) and ``pytorch/``,
    the tiny BERT when ``bert``, and a manifest in each speaker folder when ``manifest``."""
    for name in names:
        for folder, source, files in (("onnx", onnx_dir, ONNX_FILES), ("pytorch", TINY, TORCH_FILES)):
            dest = root / folder / "speakers" / name
            dest.mkdir(parents=True, exist_ok=True)
            for f in files:
                shutil.copy2(source / f, dest / f)
            if manifest:
                backend = "torch" if folder == "pytorch" else "onnx"
                write_manifest(dest, build_manifest(dest, name, backend, sha256_file(CHECKPOINT)))
    if bert:
        for part in ("bert", "onnx/bert"):
            shutil.copytree(TINY_BERT / part, root / part, dirs_exist_ok=True)
    return root


def alter_speaker(repo: Path, name: str = "tiny", folder: str = "onnx") -> np.ndarray:
    """Make ``name`` in ``repo`` a different speaker (style vectors reversed, manifest rewritten,
    when it has one); returns its new style vectors."""
    dest = repo / folder / "speakers" / name
    vectors = np.load(dest / "style_vectors.npy")[::-1].copy()
    np.save(dest / "style_vectors.npy", vectors)
    if (dest / "manifest.json").exists():
        backend = "torch" if folder == "pytorch" else "onnx"
        write_manifest(dest, build_manifest(dest, name, backend, sha256_file(CHECKPOINT)))
    return vectors


def publish(repo_dir: Path, url: str) -> None:
    """Upload the repo tree ``repo_dir`` to ``url`` with its destination plugin's upload hook."""
    get_registry().open(url).upload(repo_dir)
