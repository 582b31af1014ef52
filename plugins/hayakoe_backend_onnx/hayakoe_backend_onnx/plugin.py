"""The ONNX backend: onnxruntime on CPU, repo folder ``onnx/``."""

from __future__ import annotations

from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.types import BackendInfo

NAME = "onnx"


@hookimpl
def hayakoe_backend() -> BackendInfo:
    return BackendInfo(
        name=NAME,
        repo_folder="onnx",
        devices=("cpu",),
        description="ONNX Runtime on CPU (synthesizer.onnx + duration_predictor.onnx)",
        extra="cpu",
    )
