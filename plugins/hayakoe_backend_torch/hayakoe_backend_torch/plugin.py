"""The PyTorch backend: CUDA by default, CPU when asked; repo folder ``pytorch/``."""

from __future__ import annotations

import shutil
from pathlib import Path

from hayakoe_core.errors import HayakoeError
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.progress import Progress
from hayakoe_core.synthesis import BertFeatures, SpeakerModel
from hayakoe_core.types import BackendInfo

NAME = "torch"
SPEAKER_FILES = ("config.json", "style_vectors.npy")


@hookimpl
def hayakoe_backend() -> BackendInfo:
    return BackendInfo(
        name=NAME,
        repo_folder="pytorch",
        devices=("cuda", "cpu"),
        description="PyTorch (config.json + style_vectors.npy + *.safetensors)",
        extra="gpu",
        speaker_files=(*SPEAKER_FILES, "*.safetensors"),
    )


def _check_device(device: str) -> None:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise HayakoeError(
            "device 'cuda' was asked for but this torch has no CUDA device; "
            "use TTS(device='cpu') or install a CUDA build of torch"
        )


@hookimpl
def hayakoe_load_runtime(speaker_dir: Path, device: str) -> SpeakerModel:
    from hayakoe_backend_torch.runtime import TorchSpeaker

    _check_device(device)
    return TorchSpeaker.load(speaker_dir, device)


@hookimpl
def hayakoe_load_bert(bert_root: Path, device: str) -> BertFeatures | None:
    if not device.startswith("cuda"):
        return None
    from hayakoe_backend_torch.bert_fp32 import open_bert_for_torch

    _check_device(device)
    return open_bert_for_torch(bert_root, device)


@hookimpl
def hayakoe_check_files(speaker_source: Path, checkpoint: Path) -> None:
    from hayakoe_backend_torch.checkpoint import check_source

    check_source(speaker_source, checkpoint)


@hookimpl
def hayakoe_prepare_files(
    speaker_source: Path, checkpoint: Path, out_dir: Path, cache_dir: Path, progress: Progress
) -> list[Path]:
    sources = [*(speaker_source / n for n in SPEAKER_FILES), checkpoint]
    out_dir.mkdir(parents=True, exist_ok=True)
    with progress.bar("copy PyTorch files", sum(p.stat().st_size for p in sources)) as bar:
        written = []
        for src in sources:
            written.append(Path(shutil.copy2(src, out_dir / src.name)))
            bar.advance(src.stat().st_size)
    return written
