"""The PyTorch backend: CUDA by default, CPU when asked; repo folder ``pytorch/``."""

from __future__ import annotations

from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.types import BackendInfo

NAME = "torch"


@hookimpl
def hayakoe_backend() -> BackendInfo:
    return BackendInfo(
        name=NAME,
        repo_folder="pytorch",
        devices=("cuda", "cpu"),
        description="PyTorch (config.json + style_vectors.npy + *.safetensors)",
        extra="gpu",
    )
