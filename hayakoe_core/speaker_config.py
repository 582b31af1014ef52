"""Typed view of a speaker's ``config.json`` (Style-Bert-VITS2 JP-Extra hyper-parameters).

Unknown keys are ignored and missing keys take upstream's defaults, as upstream's loader does.
Only what inference needs is modelled; training-only settings are left in ``raw``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hayakoe_core.errors import ConfigError

# Upstream configs are a few KiB (a few hundred speakers in spk2id stay far below this); anything
# larger is not a speaker config and is refused before it is read into memory.
MAX_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True)
class ModelParams:
    """The ``model`` section: sizes of the synthesizer's parts."""

    inter_channels: int = 192
    hidden_channels: int = 192
    filter_channels: int = 768
    n_heads: int = 2
    n_layers: int = 6
    kernel_size: int = 3
    p_dropout: float = 0.1
    resblock: str = "1"
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2, 2)
    upsample_initial_channel: int = 512
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 8, 2, 2)
    gin_channels: int = 512
    n_layers_q: int = 3
    use_spectral_norm: bool = False


@dataclass(frozen=True)
class DataParams:
    """The ``data`` section: what inference reads about audio, speakers and styles."""

    sampling_rate: int = 44100
    filter_length: int = 2048
    hop_length: int = 512
    win_length: int = 2048
    add_blank: bool = True
    use_jp_extra: bool = True
    n_speakers: int = 1
    spk2id: dict[str, int] = field(default_factory=dict)
    num_styles: int = 1
    style2id: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SpeakerConfig:
    """A parsed ``config.json``. Build with :meth:`from_file` or :meth:`from_dict`."""

    model_name: str
    version: str
    model: ModelParams
    data: DataParams
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def samples_per_frame(self) -> int:
        """Audio samples each latent frame becomes: the product of the upsample rates."""
        n = 1
        for rate in self.model.upsample_rates:
            n *= rate
        return n

    @classmethod
    def from_file(cls, path: str | Path) -> SpeakerConfig:
        """Read and validate ``path``; raises :class:`ConfigError` with the file named."""
        path = Path(path)
        try:
            size = path.stat().st_size
            if size > MAX_CONFIG_BYTES:
                raise ConfigError(
                    f"{path}: {size} bytes is too large for a speaker config.json "
                    f"(at most {MAX_CONFIG_BYTES}); is it the right file?"
                )
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config.json not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from None
        except RecursionError:
            raise ConfigError(f"{path}: not a speaker config (nested too deeply to read)") from None
        try:
            return cls.from_dict(raw)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SpeakerConfig:
        """Validate a decoded ``config.json``; raises :class:`ConfigError` naming the bad key."""
        if not isinstance(raw, dict):
            raise ConfigError("config must be a JSON object")
        version = str(raw.get("version", "2.0-JP-Extra"))
        if not version.endswith("JP-Extra"):
            raise ConfigError(
                f"version {version!r} is not a JP-Extra model; only Style-Bert-VITS2 JP-Extra "
                "speakers are supported"
            )
        model = _section(raw, "model", ModelParams)
        data = _section(raw, "data", DataParams)
        if model.n_layers < 3:
            raise ConfigError("model.n_layers must be at least 3 (speaker conditioning enters at 2)")
        if model.hidden_channels % model.n_heads:
            raise ConfigError("model.hidden_channels must be divisible by model.n_heads")
        if len(model.upsample_rates) != len(model.upsample_kernel_sizes):
            raise ConfigError("model.upsample_rates and upsample_kernel_sizes differ in length")
        if len(model.resblock_kernel_sizes) != len(model.resblock_dilation_sizes):
            raise ConfigError("model.resblock_kernel_sizes and resblock_dilation_sizes differ")
        if data.n_speakers < 1:
            raise ConfigError("data.n_speakers must be at least 1")
        if data.style2id and any(not 0 <= i < data.num_styles for i in data.style2id.values()):
            raise ConfigError("data.style2id has an index outside 0..num_styles-1")
        return cls(
            model_name=str(raw.get("model_name", "")),
            version=version,
            model=model,
            data=data,
            raw=raw,
        )


def _section(raw: dict[str, Any], name: str, kind: type) -> Any:
    section = raw.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{name!r} must be a JSON object")
    values: dict[str, Any] = {}
    for key, default in kind.__dataclass_fields__.items():
        if key not in section:
            continue
        values[key] = _coerce(f"{name}.{key}", section[key], default.type)
    return kind(**values)


def _coerce(key: str, value: Any, annotation: str) -> Any:
    try:
        if annotation == "int":
            if isinstance(value, bool) or int(value) != value:
                raise ValueError
            return int(value)
        if annotation == "float":
            return float(value)
        if annotation == "bool":
            if not isinstance(value, bool):
                raise ValueError
            return value
        if annotation == "str":
            return str(value)
        if annotation == "tuple[int, ...]":
            return tuple(_coerce(key, v, "int") for v in value)
        if annotation == "tuple[tuple[int, ...], ...]":
            return tuple(_coerce(key, v, "tuple[int, ...]") for v in value)
        if annotation == "dict[str, int]":
            return {str(k): _coerce(key, v, "int") for k, v in dict(value).items()}
    except (TypeError, ValueError):
        raise ConfigError(f"{key} has an invalid value {value!r}") from None
    raise AssertionError(f"no coercion for {annotation}")
