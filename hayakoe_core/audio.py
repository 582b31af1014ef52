"""Synthesised audio as the runtime returns it (upstream hayakoe 1.3.1's ``AudioResult``).

``data`` holds 16-bit samples made as upstream makes them: the synthesizer's float output divided
by its peak ``|sample|`` and scaled by 32767, truncated towards zero (``(x / peak * 32767)
.astype(int16)``, in the float's own precision); silence stays silence. Streams keep one running
peak across their sentences, so sentences keep their relative loudness (a stream's early first
window is the one exception: ``Speaker._stream``).
"""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hayakoe_core.atomic import replacing

PCM_MAX = 32767
#: Size fields of a WAV header whose length is not known yet (the live-streaming convention).
_UNKNOWN_SIZE = 0xFFFFFFFF
_BLOCK = 1 << 20


@dataclass(frozen=True)
class PhonemeTiming:
    """One phone id of the synthesizer's input (``_`` for blanks and pads), where it sounds:
    ``start`` and ``duration`` in seconds from the start of the result."""

    phoneme: str
    start: float
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class AudioResult:
    """Mono 16-bit audio: ``data`` int16 [n] at ``sr`` Hz; ``timings`` per phoneme when asked for
    (``generate(with_timing=True)``), else ``None``."""

    sr: int
    data: np.ndarray
    timings: list[PhonemeTiming] | None = None

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.data) / self.sr

    def as_float32(self) -> np.ndarray:
        """The samples as float32 in [-1, 1): ``data / 32768``, what a WAV reader returns."""
        return self.data.astype(np.float32) / 32768.0

    def pcm_bytes(self) -> bytes:
        """The samples as headerless 16-bit little-endian mono PCM."""
        return self.data.astype("<i2", copy=False).tobytes()

    def to_bytes(self) -> bytes:
        """One complete WAV file (16-bit PCM, mono) holding the samples."""
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(self.sr)
            wav.writeframes(self.pcm_bytes())
        return out.getvalue()

    def save(self, path: str | Path, subtype: str | None = None, format: str | None = None) -> Path:
        """Write the samples to ``path`` (folders made, the file replaced whole); returns the path.

        A WAV file (:meth:`to_bytes`, as upstream's ``save`` always writes) unless the file name's
        suffix names another format soundfile writes (``.flac``, ``.ogg``, ``.mp3``…) or
        ``format`` names one; ``save("out")`` and ``save("x.tmp")`` write WAV. ``subtype``:
        soundfile's sample format, default 16-bit PCM where the format takes it, else the
        format's own default (Vorbis for OGG)."""
        path = Path(path)
        format = (format or _known_format(path.suffix) or "WAV").upper()
        with replacing(path) as tmp:
            if format == "WAV" and subtype in (None, "PCM_16"):
                tmp.write_bytes(self.to_bytes())
            else:
                import soundfile

                if subtype is None:
                    subtype = "PCM_16" if soundfile.check_format(format, "PCM_16") else None
                soundfile.write(str(tmp), self.data, self.sr, subtype=subtype, format=format)
        return path


def _known_format(suffix: str) -> str | None:
    """The soundfile format a file suffix names (``".flac"`` → ``"FLAC"``), else ``None``."""
    if not suffix:
        return None
    import soundfile

    name = suffix[1:].upper()
    return name if name in soundfile.available_formats() else None


def streaming_wav_header(sample_rate: int, *, channels: int = 1, sampwidth: int = 2) -> bytes:
    """A 44-byte WAV header for a stream of unknown length (RIFF and data sizes 0xFFFFFFFF).

    Send it once, then raw PCM (:meth:`AudioResult.pcm_bytes`): players such as ffmpeg and
    browsers play such a stream to its end.
    """
    block = channels * sampwidth
    return (
        b"RIFF"
        + struct.pack("<I", _UNKNOWN_SIZE)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block, block, 8 * sampwidth)
        + b"data"
        + struct.pack("<I", _UNKNOWN_SIZE)
    )


def to_pcm16(audio: np.ndarray, peak: float) -> np.ndarray:
    """``audio`` (float32 or float64) as int16 scaled so that ``peak`` maps to 32767, computed in
    the audio's own precision as upstream does; all zeros when ``peak`` is 0."""
    out = np.zeros(len(audio), dtype=np.int16)
    if peak > 0:
        scale = audio.dtype.type(peak)
        for at in range(0, len(audio), _BLOCK):  # blocks: no full-length float temporaries
            out[at : at + _BLOCK] = audio[at : at + _BLOCK] / scale * PCM_MAX
    return out


def peak_of(audio: np.ndarray) -> float:
    """The largest ``|sample|`` of ``audio`` (0 for no samples)."""
    return float(np.abs(audio).max()) if len(audio) else 0.0
