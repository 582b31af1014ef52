"""The ONNX backend: onnxruntime on CPU, repo folder ``onnx/``.

Loading needs only onnxruntime. Preparing files (exporting a checkpoint to ONNX) needs torch and
onnx, which the ``[export]`` extra installs; they are imported only then.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from hayakoe_core.errors import PluginError
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.install_hint import install_command
from hayakoe_core.progress import Progress
from hayakoe_core.synthesis import SpeakerModel
from hayakoe_core.types import BackendInfo

NAME = "onnx"
SPEAKER_FILES = ("config.json", "style_vectors.npy")


@hookimpl
def hayakoe_backend() -> BackendInfo:
    return BackendInfo(
        name=NAME,
        repo_folder="onnx",
        devices=("cpu",),
        description="ONNX Runtime on CPU (synthesizer.onnx + duration_predictor.onnx)",
        extra="cpu",
        speaker_files=(*SPEAKER_FILES, "synthesizer.onnx"),
    )


@hookimpl
def hayakoe_load_runtime(speaker_dir: Path, device: str, cache_dir: Path | None) -> SpeakerModel:
    from hayakoe_backend_onnx.runtime import OnnxSpeaker

    return OnnxSpeaker.load(speaker_dir, optimized_cache=cache_dir / "ort-optimized" if cache_dir else None)


def _missing_export_extra(exc: ImportError) -> PluginError:
    how = install_command("hayakoe-backend-onnx[export]")
    return PluginError(f"exporting ONNX needs torch and onnx ({exc.name} is missing): {how}")


@hookimpl
def hayakoe_check_files(speaker_source: Path, checkpoint: Path) -> None:
    # The graphs are exported from the torch model, so its checkpoint check is exactly ours.
    try:
        from hayakoe_backend_torch.checkpoint import check_source
    except ImportError as exc:
        raise _missing_export_extra(exc) from None
    check_source(speaker_source, checkpoint)


@hookimpl
def hayakoe_prepare_files(
    speaker_source: Path, checkpoint: Path, out_dir: Path, cache_dir: Path, progress: Progress
) -> list[Path]:
    try:
        from hayakoe_backend_onnx.export import EXPORTER_VERSION, export_onnx
    except ImportError as exc:
        raise _missing_export_extra(exc) from None
    from hayakoe_backend_onnx.export_cache import cached_export

    def export(folder: Path) -> list[Path]:  # a bar only when there is work: none for a cached export
        with progress.bar(f"export ONNX ({checkpoint.name})", total=3, unit="files") as bar:
            return export_onnx(
                speaker_source, folder, checkpoint=checkpoint, progress=lambda _message: bar.advance(1)
            )

    graphs = cached_export(cache_dir, speaker_source, checkpoint, EXPORTER_VERSION, export)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        Path(shutil.copy2(f, out_dir / f.name))
        for f in (*(speaker_source / n for n in SPEAKER_FILES), *graphs)
    ]
