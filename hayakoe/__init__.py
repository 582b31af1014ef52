"""hayakoe: publish Style-Bert-VITS2 JP-Extra speakers and load them back with one line.

    from hayakoe import TTS
    tts = TTS(device="cpu").load("tsukuyomi", source="s3://bucket/voices").prepare()
    tts.speakers["tsukuyomi"].generate("こんにちは。").save("out.wav")

This package is the public facade; the implementation lives in ``hayakoe_core`` and the plugins.
Names are imported on first use so that ``python -m hayakoe`` stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hayakoe_core import __version__

if TYPE_CHECKING:
    from hayakoe_core.audio import AudioResult, PhonemeTiming, streaming_wav_header
    from hayakoe_core.errors import HayakoeError
    from hayakoe_core.publish.api import publish
    from hayakoe_core.speaker import Lang, Speaker
    from hayakoe_core.tts import TTS

# the names upstream hayakoe 1.3.1 exports, plus HayakoeError
_EXPORTS = {
    "TTS": "hayakoe_core.tts",
    "Speaker": "hayakoe_core.speaker",
    "Lang": "hayakoe_core.speaker",
    "AudioResult": "hayakoe_core.audio",
    "PhonemeTiming": "hayakoe_core.audio",
    "streaming_wav_header": "hayakoe_core.audio",
    "HayakoeError": "hayakoe_core.errors",
    "publish": "hayakoe_core.publish.api",
}
__all__ = [
    "TTS",
    "AudioResult",
    "HayakoeError",
    "Lang",
    "PhonemeTiming",
    "Speaker",
    "__version__",
    "publish",
    "streaming_wav_header",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hayakoe' has no attribute {name!r}")
