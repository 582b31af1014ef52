"""The OpenVINO backend: the ``onnx/`` speaker files compiled by OpenVINO for the CPU.

It has no files of its own: it loads what the ONNX backend publishes (``files_from="onnx"``), so
nothing is re-published and either backend loads any ``onnx/`` speaker. The shared BERT stays on
core's onnxruntime runner: OpenVINO is not faster on the int8 BERT (see the README).
"""

from __future__ import annotations

from pathlib import Path

from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.synthesis import SpeakerModel
from hayakoe_core.types import BackendInfo

NAME = "openvino"


@hookimpl
def hayakoe_backend() -> BackendInfo:
    return BackendInfo(
        name=NAME,
        repo_folder="onnx",
        devices=("cpu",),
        description="OpenVINO on CPU (the onnx/ graphs, compiled; FP32)",
        extra="openvino",
        files_from="onnx",
    )


@hookimpl
def hayakoe_load_runtime(speaker_dir: Path, device: str, cache_dir: Path | None) -> SpeakerModel:
    from hayakoe_backend_openvino.runtime import OpenVinoSpeaker

    return OpenVinoSpeaker.load(speaker_dir, model_cache=cache_dir / "compiled" if cache_dir else None)
