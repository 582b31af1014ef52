"""Speaker folders for the publish tests, made from the tiny fixture, and ways to break them."""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from tests.support.repo import CHECKPOINT, TINY, TINY_ONNX

Header = dict[str, dict]


def speaker_folder(
    folder: Path,
    checkpoints: tuple[str, ...] = (CHECKPOINT.name,),
    *,
    graphs: bool = False,
) -> Path:
    """``folder`` in HayaKoe format: the tiny config, style vectors and a copy of the tiny
    checkpoint under each of ``checkpoints``; with ``graphs``, the tiny ONNX graphs at the top."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "style_vectors.npy"):
        shutil.copy2(TINY / name, folder / name)
    for name in checkpoints:
        shutil.copy2(CHECKPOINT, folder / name)
    if graphs:
        for name in ("synthesizer.onnx", "duration_predictor.onnx"):
            shutil.copy2(TINY_ONNX / name, folder / name)
    return folder


def tiny_tensors() -> dict[str, np.ndarray]:
    """The tiny checkpoint's tensors (numpy, no torch)."""
    return load_file(str(CHECKPOINT))


def save_tensors(path: Path, tensors: dict[str, np.ndarray]) -> Path:
    save_file(tensors, str(path))
    return path


def edit_config(folder: Path, edit: Callable[[dict], None]) -> None:
    raw = json.loads((folder / "config.json").read_text())
    edit(raw)
    (folder / "config.json").write_text(json.dumps(raw))


def read_raw(path: Path) -> tuple[Header, bytes]:
    """A safetensors file split into its JSON header and its data bytes."""
    blob = path.read_bytes()
    (size,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8 : 8 + size]), blob[8 + size :]


def write_raw(path: Path, header: Header, data: bytes) -> Path:
    """A safetensors file with exactly this header and data, whether or not they agree."""
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path
