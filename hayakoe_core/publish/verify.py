"""Verification: load a published speaker in a clean process and check that it speaks.

:func:`verify_speaker` starts ``python -m hayakoe_core.publish.verify_child`` with an empty
temporary cache, which loads the speaker from a source URL (the staged URL, when publishing)
through the public ``TTS`` API with the given backend and device, synthesises
:data:`VERIFY_TEXT` and checks the audio: finite, not silent, of plausible length. A pass saves
the audio as ``<verify dir>/<wav_name(...)>``. Nothing the user has cached is used or touched.

The request reaches the child on its standard input, so no argument shows it in a process
listing; credentials reach it the way they reach any loader, through the environment. Whatever
the child reports is scrubbed of secret values before it is returned.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hayakoe_core.atomic import replacing
from hayakoe_core.errors import redact, secret_values
from hayakoe_core.tts import DEFAULT_BACKENDS

VERIFY_TEXT = "テスト音声です。"
DEFAULT_VERIFY_DIR = Path(".verify_audio")
DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True)
class Verification:
    """The outcome for one backend: on success ``wav``, ``duration`` (s) and ``sample_rate``;
    on failure ``reason``, one line, and ``unreachable`` when the cause was the store (it could
    not be reached), not the speaker. ``seconds`` is the wall time the check took."""

    backend: str
    device: str
    ok: bool
    wav: Path | None = None
    duration: float | None = None
    sample_rate: int | None = None
    reason: str | None = None
    unreachable: bool = False
    seconds: float = 0.0


def wav_name(name: str, backend: str, device: str) -> str:
    """``<name>_<device>.wav`` when ``backend`` is the one the device uses by default
    (``tiny_cpu.wav`` for onnx, ``tiny_cuda.wav`` for torch on CUDA), else
    ``<name>_<backend>-<device>.wav`` (``tiny_torch-cpu.wav``), so no two checks share a file."""
    kind = device.split(":", 1)[0]
    label = kind if DEFAULT_BACKENDS.get(kind) == backend else f"{backend}-{kind}"
    return f"{name}_{label}.wav"


def verify_speaker(
    source: str,
    name: str,
    *,
    backend: str,
    device: str,
    verify_dir: Path = DEFAULT_VERIFY_DIR,
    bert_source: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    secrets: Iterable[str] = (),
) -> Verification:
    """Load speaker ``name`` from ``source`` with ``backend`` on ``device`` in a fresh process
    with an empty cache and check its audio (see the module docstring).

    ``bert_source`` is passed to ``TTS(bert_source=...)`` as is (``None``: the runtime's own
    choice). The child is killed after ``timeout`` seconds. ``secrets`` are extra values to keep
    out of the reason (values of environment variables named like tokens, secrets, passwords
    and keys are always kept out). Never raises for a failed check: the result says why.
    """
    started = time.monotonic()
    hidden = secret_values(secrets)

    def outcome(ok: bool, **fields: Any) -> Verification:
        if fields.get("reason"):
            fields["reason"] = " ".join(redact(fields["reason"], hidden).split())
        return Verification(backend, device, ok, seconds=time.monotonic() - started, **fields)

    with tempfile.TemporaryDirectory(prefix="hayakoe-verify-") as tmp:
        work = Path(tmp)
        request = {
            "source": source,
            "name": name,
            "backend": backend,
            "device": device,
            "bert_source": bert_source,
            "cache_dir": str(work / "cache"),
            "wav": str(work / "audio.wav"),
            "result": str(work / "result.json"),
            "parent": os.getpid(),
        }
        env = {**os.environ, "HAYAKOE_CACHE": request["cache_dir"]}
        try:
            run = subprocess.run(
                [sys.executable, "-m", "hayakoe_core.publish.verify_child"],
                input=json.dumps(request),
                capture_output=True,
                text=True,
                env=env,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return outcome(False, reason=f"verification timed out after {timeout:g} s")
        result_file = work / "result.json"
        if not result_file.is_file():
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            return outcome(False, reason=f"verification process failed (exit {run.returncode}): {last}")
        result = json.loads(result_file.read_text())
        if not result["ok"]:
            return outcome(False, reason=result["reason"], unreachable=result.get("unreachable", False))
        wav = Path(verify_dir) / wav_name(name, backend, device)
        with replacing(wav) as part:
            shutil.copyfile(work / "audio.wav", part)
        return outcome(True, wav=wav, duration=result["duration"], sample_rate=result["sample_rate"])
