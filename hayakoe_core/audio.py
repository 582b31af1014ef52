"""Synthesised audio as the runtime returns it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples in [-1, 1] at ``sr`` Hz."""

    data: np.ndarray
    sr: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.data) / self.sr

    def save(self, path: str | Path, subtype: str = "PCM_16", format: str | None = None) -> Path:
        """Write the audio with soundfile: 16-bit PCM WAV unless ``subtype``/``format`` say otherwise."""
        import soundfile

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), self.data, self.sr, subtype=subtype, format=format)
        return path
