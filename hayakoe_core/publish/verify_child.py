"""The process :func:`hayakoe_core.publish.verify.verify_speaker` starts: load, speak, check.

Reads one JSON request on standard input (source, name, backend, device, bert_source,
cache_dir, wav, result, and the parent's pid), loads the speaker with the public ``TTS`` API, synthesises
:data:`~hayakoe_core.publish.verify.VERIFY_TEXT` and writes ``{"ok": true, "duration": s,
"sample_rate": hz}`` or ``{"ok": false, "reason": one line, "unreachable": whether the store
could not be reached}`` to the ``result`` file; the audio
goes to ``wav`` when it passes. A programming error leaves no result and its traceback on
standard error. The process ends by itself within a second of its parent's death.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from hayakoe_core.publish.verify import VERIFY_TEXT

# Plausible length of VERIFY_TEXT (about 16 phones): at least ~1 frame per phone, at most what
# a very slow speaker would need; a collapsed duration predictor gives 1 frame in all, a runaway
# one thousands. In frames, so that models with any hop length are judged alike.
MIN_FRAMES = 12
MAX_FRAMES = 1200
# Peak below which the audio counts as silence (-60 dBFS).
SILENCE_PEAK = 1e-3


def check_audio(samples: np.ndarray, sample_rate: int, hop_length: int) -> str | None:
    """Why ``samples`` (mono, float in [-1, 1]) cannot be VERIFY_TEXT spoken, or ``None``."""
    if samples.size == 0:
        return "the speaker produced no audio"
    if not np.isfinite(samples).all():
        bad = int(np.count_nonzero(~np.isfinite(samples)))
        return f"the audio holds {bad} NaN or infinite samples of {samples.size}"
    peak = float(np.abs(samples).max())
    if peak < SILENCE_PEAK:
        return f"the audio is silent (peak {peak:.1e}, below {SILENCE_PEAK:g})"
    frames = samples.size / hop_length
    if not MIN_FRAMES <= frames <= MAX_FRAMES:
        return (
            f"the audio is {samples.size / sample_rate:.3f} s ({frames:.0f} frames), not a plausible "
            f"length for {VERIFY_TEXT} ({MIN_FRAMES}..{MAX_FRAMES} frames)"
        )
    return None


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Carry out one request; the result document (see the module docstring)."""
    from hayakoe import TTS, HayakoeError
    from hayakoe_core.errors import UnreachableError

    try:
        tts = TTS(
            device=request["device"],
            backend=request["backend"],
            cache_dir=request["cache_dir"],
            bert_source=request["bert_source"],
        )
        speaker = tts.load(request["name"], source=request["source"]).prepare().speakers[request["name"]]
        audio = speaker.generate(VERIFY_TEXT)
    except HayakoeError as exc:
        return {"ok": False, "reason": str(exc), "unreachable": isinstance(exc, UnreachableError)}
    samples = np.asarray(audio.data)
    if np.issubdtype(samples.dtype, np.integer):  # 16-bit PCM: back to [-1, 1]
        samples = samples / 32768.0
    reason = check_audio(samples, audio.sr, speaker.config.data.hop_length)
    if reason is not None:
        return {"ok": False, "reason": reason}
    audio.save(request["wav"])
    return {"ok": True, "duration": audio.duration, "sample_rate": audio.sr}


def _exit_with_parent(parent: int, every: float = 1.0) -> None:
    """End this process soon after the publisher ``parent`` that started it dies (SIGKILL leaves
    it no chance to kill its children): nobody would read the result, and its staging area is
    going away."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="hayakoe-verify-parent", daemon=True).start()


def main() -> None:
    request = json.loads(sys.stdin.read())
    _exit_with_parent(request["parent"])
    result = run(request)
    Path(request["result"]).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
