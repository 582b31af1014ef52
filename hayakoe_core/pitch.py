"""``pitch_scale`` and ``intonation_scale``: reshape F0 with the WORLD vocoder (pyworld).

The same round trip as upstream hayakoe 1.3.1, checked sample for sample against it: the audio
(as float64) is analysed with ``harvest`` (F0, 5 ms frames), ``cheaptrick`` (spectral envelope)
and ``d4c`` (aperiodicity); in voiced frames F0 is spread around its mean by
``intonation_scale`` and then multiplied by ``pitch_scale``; ``synthesize`` makes the audio again
(its length rounded to whole frames). A piece with no voiced frame comes back unchanged (as
float64). pyworld is imported on first use; the backend packages declare it.
"""

from __future__ import annotations

import numpy as np

FRAME_PERIOD_MS = 5.0


def reshape_pitch(
    audio: np.ndarray, sampling_rate: int, pitch_scale: float, intonation_scale: float
) -> np.ndarray:
    """``audio`` with its F0 reshaped (see the module docstring); float64."""
    import pyworld

    x = np.asarray(audio, dtype=np.float64)
    f0, times = pyworld.harvest(x, sampling_rate, frame_period=FRAME_PERIOD_MS)
    voiced = f0 > 0
    if not voiced.any():
        return x
    envelope = pyworld.cheaptrick(x, f0, times, sampling_rate)
    aperiodicity = pyworld.d4c(x, f0, times, sampling_rate)
    mean = f0[voiced].mean()
    f0[voiced] = mean + (f0[voiced] - mean) * intonation_scale
    f0 *= pitch_scale
    return pyworld.synthesize(f0, envelope, aperiodicity, sampling_rate, frame_period=FRAME_PERIOD_MS)
