"""Finding, validating and loading a speaker's ``*.safetensors`` checkpoint.

Accepted content: exactly the synthesizer's state-dict keys (both weight-norm naming styles),
plus ``iteration`` (ignored) and any ``enc_q.*`` keys (training-only posterior encoder, ignored;
upstream's inference checkpoints omit them). Anything else missing, unexpected or mis-shaped is
a :class:`ConfigError` naming the key and the file.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from hayakoe_core.errors import ConfigError
from hayakoe_core.speaker_config import SpeakerConfig

if TYPE_CHECKING:
    import torch

    from hayakoe_backend_torch.model import JPExtraSynthesizer

IGNORED_KEYS = frozenset({"iteration"})
IGNORED_PREFIX = "enc_q."
_LEGACY_SUFFIXES = {
    ".weight_g": ".parametrizations.weight.original0",
    ".weight_v": ".parametrizations.weight.original1",
}
_FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})
_MAX_HEADER_BYTES = 100 * 1024 * 1024
_V = TypeVar("_V")


def find_checkpoint(speaker_dir: Path) -> Path:
    """The newest-mtime ``*.safetensors`` directly inside ``speaker_dir`` (as upstream picks)."""
    candidates = [p for p in Path(speaker_dir).glob("*.safetensors") if p.is_file()]
    if not candidates:
        raise ConfigError(f"{speaker_dir}: no *.safetensors checkpoint in the speaker folder")
    return max(candidates, key=lambda p: (p.stat().st_mtime, p.name))


def canonical_key(key: str) -> str:
    """Map a legacy ``weight_g``/``weight_v`` name to torch's parametrization name."""
    for legacy, modern in _LEGACY_SUFFIXES.items():
        if key.endswith(legacy):
            return key[: -len(legacy)] + modern
    return key


def expected_shapes(config: SpeakerConfig) -> dict[str, tuple[int, ...]]:
    """Every checkpoint key the synthesizer for ``config`` needs, with its shape (no
    allocation: the model is built on torch's meta device)."""
    import torch

    from hayakoe_backend_torch.model import JPExtraSynthesizer

    with torch.device("meta"):
        model = JPExtraSynthesizer(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def validate_checkpoint(config: SpeakerConfig, path: Path) -> None:
    """Check a checkpoint's keys, shapes and dtypes against ``config`` from its header only
    (no tensor is read). Raises :class:`ConfigError` naming the first problem and the file."""
    entries = _canonical_entries(read_header(Path(path)), path)
    for key, (dtype, _shape) in entries.items():
        if dtype not in _FLOAT_DTYPES:
            raise ConfigError(f"{path}: tensor {key!r} is {dtype}, not a floating-point tensor")
    found = {k: shape for k, (_dtype, shape) in entries.items()}
    check_keys(expected_shapes(config), found, path)


def check_source(speaker_source: Path, checkpoint: Path) -> None:
    """``hayakoe_check_files`` of both backends: ``speaker_source/config.json`` parses and
    ``checkpoint``'s header matches the model it describes."""
    validate_checkpoint(SpeakerConfig.from_file(Path(speaker_source) / "config.json"), checkpoint)


def read_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{key: (dtype, shape)}`` of every tensor in ``path``, read with safetensors' own
    ``safe_open`` (memory-mapped: no tensor is read). Safetensors checks that the header covers
    the file exactly and that every tensor's byte range fits its shape and dtype; when it refuses
    the file, :class:`ConfigError` names the file and, where the header shows one, the tensor."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise ConfigError(f"{path}: checkpoint not found")
    try:
        with safe_open(str(path), framework="numpy") as f:
            return {
                key: (f.get_slice(key).get_dtype(), tuple(f.get_slice(key).get_shape()))
                for key in f.keys()  # noqa: SIM118 (a safe_open handle is not a mapping)
            }
    except (SafetensorError, OSError) as exc:
        raise ConfigError(f"{path}: {_diagnose(path) or f'not a safetensors file ({exc})'}") from None


def check_keys(
    expected: Mapping[str, tuple[int, ...]], found: Mapping[str, tuple[int, ...]], path: Path
) -> None:
    """Raise :class:`ConfigError` unless ``found`` has exactly ``expected``'s keys and shapes."""
    missing = [k for k in expected if k not in found]
    if missing:
        raise ConfigError(f"{path}: checkpoint is missing {_listing(missing)}")
    unexpected = [k for k in found if k not in expected]
    if unexpected:
        raise ConfigError(
            f"{path}: checkpoint has unexpected {_listing(unexpected)} (does config.json match?)"
        )
    for key, shape in expected.items():
        if tuple(found[key]) != tuple(shape):
            raise ConfigError(
                f"{path}: checkpoint tensor {key!r} has shape {list(found[key])}, the config "
                f"needs {list(shape)} (does config.json match?)"
            )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of ``path`` under canonical names, minus ignored keys."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        raw = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise ConfigError(f"{path}: cannot read checkpoint ({exc})") from None
    state = _canonical_entries(raw, path)
    for key, tensor in state.items():
        if not tensor.is_floating_point():
            raise ConfigError(f"{path}: tensor {key!r} is not a floating-point tensor")
    return state


def load_synthesizer(
    config: SpeakerConfig, path: Path, device: str | torch.device = "cpu"
) -> JPExtraSynthesizer:
    """Build the synthesizer for ``config`` and load ``path`` into it, in eval mode on
    ``device``. Raises :class:`ConfigError` for any key/shape mismatch."""
    import torch

    from hayakoe_backend_torch.model import JPExtraSynthesizer

    state = read_state_dict(Path(path))
    with torch.device("meta"):
        model = JPExtraSynthesizer(config)
    check_keys(
        {k: tuple(v.shape) for k, v in model.state_dict().items()},
        {k: tuple(v.shape) for k, v in state.items()},
        path,
    )
    model = model.to_empty(device=device)
    model.load_state_dict(state, strict=True)
    return model.eval()


def _canonical_entries(entries: Mapping[str, _V], path: Path) -> dict[str, _V]:
    """Drop ignored keys and rename legacy ones; two names for one tensor is an error."""
    out: dict[str, _V] = {}
    for key, value in entries.items():
        if key in IGNORED_KEYS or key.startswith(IGNORED_PREFIX):
            continue
        name = canonical_key(key)
        if name in out:
            raise ConfigError(f"{path}: checkpoint holds {name!r} twice (legacy and new names)")
        out[name] = value
    return out


def _listing(keys: list[str]) -> str:
    shown = ", ".join(repr(k) for k in keys[:3])
    more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
    noun = "key" if len(keys) == 1 else "keys"
    return f"{noun} {shown}{more}"


_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
    "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip


def _diagnose(path: Path) -> str | None:
    """Why safetensors refused ``path``, naming the tensor, from a plain reading of its header;
    ``None`` when the header itself cannot be read or shows nothing specific."""
    try:
        with path.open("rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > _MAX_HEADER_BYTES:
                return None
            header = json.loads(f.read(size))
        data_bytes = path.stat().st_size - 8 - size
    except (OSError, struct.error, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(header, dict):
        return None
    header.pop("__metadata__", None)
    end = 0
    for key, info in sorted(header.items(), key=lambda kv: _offsets(kv[1])):
        start, stop = _offsets(info)
        shape, dtype = info.get("shape"), info.get("dtype")
        if start < 0 or dtype not in _DTYPE_BYTES or not isinstance(shape, list):
            return f"tensor {key!r} has an unreadable header entry ({info!r})"
        need = _DTYPE_BYTES[dtype] * math.prod(shape)
        if start != end or stop - start != need:
            return (
                f"tensor {key!r} header says {dtype} {shape} ({need} bytes) but its byte range is "
                f"{start}..{stop} (the header is corrupt: save or copy the checkpoint again)"
            )
        if stop > data_bytes:
            return (
                f"tensor {key!r} ends at byte {stop} of the data but the file holds {data_bytes} "
                "(truncated: copy the checkpoint again)"
            )
        end = stop
    if end != data_bytes:
        return f"{data_bytes - end} bytes after the last tensor (not a checkpoint as saved)"
    return None


def _offsets(info: object) -> tuple[int, int]:
    offsets = info.get("data_offsets") if isinstance(info, dict) else None
    if isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets):
        return offsets[0], offsets[1]
    return -1, -1
