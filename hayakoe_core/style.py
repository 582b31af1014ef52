"""Style vectors: a speaker's ``style_vectors.npy`` rows mixed by style weight."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import overload

import numpy as np

from hayakoe_core.errors import ArgumentError, ConfigError
from hayakoe_core.speaker_config import SpeakerConfig
from hayakoe_core.synthesis import STYLE_DIM


def load_style_vectors(path: Path, config: SpeakerConfig) -> np.ndarray:
    """float32 [num_styles, 256]; :class:`ConfigError` if the file disagrees with the config.

    Read with ``allow_pickle=False``: a file holding pickled objects is refused, never executed.
    The array must be float32 or float64, two-dimensional and finite."""
    try:
        vectors = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ConfigError(f"{path}: style_vectors.npy not found") from None
    except (OSError, ValueError, EOFError) as exc:
        raise ConfigError(f"{path}: cannot read style vectors ({exc})") from None
    if not isinstance(vectors, np.ndarray):  # an .npz archive
        vectors.close()
        raise ConfigError(f"{path}: an .npz archive, not a single .npy array of style vectors")
    if vectors.dtype not in (np.float32, np.float64):
        raise ConfigError(f"{path}: style vectors are {vectors.dtype}, expected float32 or float64")
    if vectors.ndim != 2 or vectors.shape[1] != STYLE_DIM:
        raise ConfigError(f"{path}: style vectors have shape {vectors.shape}, expected [n, {STYLE_DIM}]")
    if vectors.shape[0] != config.data.num_styles:
        raise ConfigError(
            f"{path}: {vectors.shape[0]} style vectors but config.json says num_styles "
            f"{config.data.num_styles}"
        )
    if not np.isfinite(vectors).all():
        raise ConfigError(f"{path}: style vectors contain NaN or infinite values")
    return vectors.astype(np.float32, copy=False)


def style_vector(vectors: np.ndarray, config: SpeakerConfig, style: str, weight: float) -> np.ndarray:
    """``V[0] + (V[style] - V[0]) * weight``; an unknown style names the ones there are."""
    style2id = style_ids(config)
    if style not in style2id:
        raise UnknownStyleError(style, list(style2id))
    mean = vectors[0]
    return (mean + (vectors[style2id[style]] - mean) * weight).astype(np.float32)


def style_ids(config: SpeakerConfig) -> dict[str, int]:
    """Style name -> row of the style vectors (a config without styles has ``Neutral`` only)."""
    return config.data.style2id or {"Neutral": 0}


class UnknownStyleError(ArgumentError, ValueError, AttributeError):
    """A style the speaker does not have. A ``ValueError`` too, as upstream raises for an unknown
    ``generate(style=...)``, so code catching that keeps working; an ``AttributeError`` too, as
    upstream raises for ``speaker.styles.<unknown>``, so that ``hasattr`` on :class:`Styles` works."""

    def __init__(self, style: str, known: list[str]) -> None:
        super().__init__(f"unknown style {style!r}; this speaker has: {', '.join(known)}")


class Styles(Sequence[str]):
    """A speaker's style names in order, also reachable as attributes: ``speaker.styles.Happy``
    is ``"Happy"``; an unknown one is an :class:`UnknownStyleError` listing the known ones.
    Compares equal to a list or tuple of the same names."""

    def __init__(self, names: Sequence[str]) -> None:
        self._names = tuple(names)

    def __getattr__(self, name: str) -> str:
        if name.startswith("__") or name == "_names":
            raise AttributeError(name)
        if name not in self._names:
            raise UnknownStyleError(name, list(self._names))
        return name

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._names[index]

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Styles, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._names)

    def __repr__(self) -> str:
        return f"Styles({list(self._names)})"
