"""What to publish: a trained speaker's folder, its checkpoints and its default name.

Two kinds of source (ARCHITECTURE §6, step 1):

* **datasets**, found under ``<data root>/<dataset>/exports/<model>/`` (the data root is an
  argument, else ``$HAYAKOE_DATA_ROOT``, else ``./data/dataset``);
* **another folder** in HayaKoe format, named by the user.

Either way the folder holds ``config.json``, ``style_vectors.npy`` and at least one
``*.safetensors`` at its top level, and may hold anything else (training logs, subfolders):
only what a backend needs is ever used. Top-level ``synthesizer.onnx`` and
``duration_predictor.onnx`` are noted as graphs that may be reused instead of exporting, which
publishing does only after the parity check shows they belong to the chosen checkpoint.

Nothing here reads more than file names and sizes; :mod:`.validate` looks inside the files.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hayakoe_core.errors import ConfigError, HayakoeError
from hayakoe_core.paths import check_publish_name

DATA_ROOT_ENV = "HAYAKOE_DATA_ROOT"
DEFAULT_DATA_ROOT = Path("data") / "dataset"
CONFIG = "config.json"
STYLE_VECTORS = "style_vectors.npy"
CHECKPOINT_GLOB = "*.safetensors"
#: Graphs an upstream export leaves beside the checkpoint; reusable only as a complete pair.
ONNX_GRAPHS = ("synthesizer.onnx", "duration_predictor.onnx")
#: External weights of a synthesizer over 2 GB, kept beside its graph.
ONNX_EXTERNAL_DATA = "synthesizer.onnx.data"
# Upstream's trainer saves ``<model>_e<epoch>_s<step>.safetensors``.
_CHECKPOINT_NAME = re.compile(r"_e(?P<epoch>\d+)_s(?P<step>\d+)$")


@dataclass(frozen=True)
class Checkpoint:
    """One ``*.safetensors`` file: ``epoch``/``step`` from upstream's file name when it follows
    ``<model>_e<epoch>_s<step>``, else ``None``; ``modified`` is its mtime (local time)."""

    path: Path
    size: int
    modified: datetime
    epoch: int | None = None
    step: int | None = None

    @property
    def name(self) -> str:
        return self.path.name

    def describe(self) -> str:
        """One line for a menu: ``name  step 2000  2025-01-31 12:00  251.2 MB``."""
        step = f"step {self.step}" if self.step is not None else "step ?"
        when = self.modified.strftime("%Y-%m-%d %H:%M")
        return f"{self.name}  {step}  {when}  {self.size / 1e6:.1f} MB"


@dataclass(frozen=True)
class SpeakerSource:
    """A folder to publish from.

    ``label`` is what the default speaker name is made from (the dataset's name, or the folder's);
    ``dataset_dir`` is ``<data root>/<dataset>`` for datasets, ``None`` for other folders.
    ``checkpoints`` are sorted oldest first (by step where the names carry one, then by mtime).
    ``onnx_graphs`` are the top-level graph files that may be reused (the pair of
    :data:`ONNX_GRAPHS`, plus :data:`ONNX_EXTERNAL_DATA` when present), empty when the folder
    lacks either graph.
    """

    folder: Path
    label: str
    checkpoints: tuple[Checkpoint, ...]
    dataset_dir: Path | None = None
    onnx_graphs: tuple[Path, ...] = ()

    @property
    def config(self) -> Path:
        return self.folder / CONFIG

    @property
    def style_vectors(self) -> Path:
        return self.folder / STYLE_VECTORS

    def export_cache(self, cache_root: Path) -> Path:
        """Where ONNX exports of this source are cached (the ``cache_dir`` given to
        ``prepare_files``): ``<dataset>/onnx/`` for a dataset; for any other folder
        ``<cache root>/exports/``, never inside the user's folder."""
        if self.dataset_dir is not None:
            return self.dataset_dir / "onnx"
        return Path(cache_root) / "exports"


def data_root(root: str | Path | None = None) -> Path:
    """The datasets' root: ``root``, else ``$HAYAKOE_DATA_ROOT``, else ``./data/dataset``."""
    return Path(root or os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT)


def find_datasets(root: str | Path | None = None) -> list[SpeakerSource]:
    """Every publishable ``<root>/<dataset>/exports/<model>/`` (see :func:`data_root`), sorted by
    dataset then model. Export folders that are not (yet) in HayaKoe format are left out; a
    missing root gives ``[]``. When a dataset has several models, each is labelled
    ``<dataset>-<model>`` so their default names differ."""
    base = data_root(root)
    found: list[SpeakerSource] = []
    for exports in sorted(p for p in base.glob("*/exports") if p.is_dir()):
        models = sorted(p for p in exports.iterdir() if p.is_dir() and _is_speaker_folder(p))
        for model in models:
            dataset = exports.parent
            label = dataset.name if len(models) == 1 else f"{dataset.name}-{model.name}"
            found.append(_source(model, label, dataset))
    return found


def open_folder(folder: str | Path) -> SpeakerSource:
    """The HayaKoe-format folder ``folder``; :class:`ConfigError` naming what is missing.

    A folder at ``<dataset>/exports/<model>`` is taken as that dataset's export (labelled and
    cached as :func:`find_datasets` would)."""
    path = Path(folder).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path} is a file, not a folder (give the speaker folder with --folder)")
    if not path.is_dir():
        raise ConfigError(f"{path}: no such folder (give a speaker folder with --folder)")
    for required in (CONFIG, STYLE_VECTORS):
        if not (path / required).is_file():
            raise ConfigError(
                f"{path}: {required} is missing; a speaker folder holds {CONFIG}, "
                f"{STYLE_VECTORS} and at least one {CHECKPOINT_GLOB}"
            )
    if not any(path.glob(CHECKPOINT_GLOB)):
        raise ConfigError(f"{path}: no {CHECKPOINT_GLOB} checkpoint at the top of the folder")
    resolved = path.resolve()
    if resolved.parent.name == "exports":  # a dataset's export, named by path
        return _source(path, resolved.parent.parent.name, resolved.parent.parent)
    return _source(path, resolved.name, None)


def choose_checkpoint(source: SpeakerSource, wanted: str | Path | None = None) -> Checkpoint:
    """The checkpoint to publish.

    ``wanted`` (the ``--checkpoint`` answer) is a file name, a stem or a path to a file in the
    source folder. Without it, the only checkpoint there is; with several, a
    :class:`HayakoeError` listing them and naming ``--checkpoint``.
    """
    names = ", ".join(c.name for c in source.checkpoints)
    if wanted is None:
        if len(source.checkpoints) == 1:
            return source.checkpoints[0]
        raise HayakoeError(
            f"{source.folder} holds {len(source.checkpoints)} checkpoints ({names}): "
            "choose one with --checkpoint"
        )
    wanted_path = Path(wanted)
    for checkpoint in source.checkpoints:
        if str(wanted) in (checkpoint.name, checkpoint.path.stem) or (
            wanted_path.parent != Path(".") and _same_file(wanted_path, checkpoint.path)
        ):
            return checkpoint
    raise HayakoeError(f"--checkpoint {wanted} is not in {source.folder} (checkpoints there: {names})")


def default_name(source: SpeakerSource) -> str:
    """The source's label lower-cased and hyphenated (``"Tsukuyomi Chan_v2"`` →
    ``"tsukuyomi-chan-v2"``), checked as a publish name; :class:`HayakoeError` naming ``--name``
    when nothing usable is left (e.g. a label in kana)."""
    ascii_label = unicodedata.normalize("NFKD", source.label).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "-", ascii_label.lower()).strip("-")[:63].rstrip("-")
    if not name:
        raise HayakoeError(
            f"cannot make a speaker name from {source.label!r}: give one with --name "
            "(lowercase letters, digits and hyphens)"
        )
    return check_publish_name(name)


def _is_speaker_folder(path: Path) -> bool:
    return (
        (path / CONFIG).is_file()
        and (path / STYLE_VECTORS).is_file()
        and any(p.is_file() for p in path.glob(CHECKPOINT_GLOB))
    )


def _source(folder: Path, label: str, dataset_dir: Path | None) -> SpeakerSource:
    graphs: tuple[Path, ...] = ()
    if all((folder / g).is_file() for g in ONNX_GRAPHS):
        extra = (folder / ONNX_EXTERNAL_DATA,) if (folder / ONNX_EXTERNAL_DATA).is_file() else ()
        graphs = (*(folder / g for g in ONNX_GRAPHS), *extra)
    return SpeakerSource(
        folder=folder,
        label=label,
        checkpoints=tuple(sorted(_checkpoints(folder), key=_age)),
        dataset_dir=dataset_dir,
        onnx_graphs=graphs,
    )


def _checkpoints(folder: Path) -> list[Checkpoint]:
    found = []
    for path in folder.glob(CHECKPOINT_GLOB):
        if not path.is_file():
            continue
        st = path.stat()
        match = _CHECKPOINT_NAME.search(path.stem)
        found.append(
            Checkpoint(
                path=path,
                size=st.st_size,
                modified=datetime.fromtimestamp(st.st_mtime).astimezone(),
                epoch=int(match["epoch"]) if match else None,
                step=int(match["step"]) if match else None,
            )
        )
    return found


def _age(checkpoint: Checkpoint) -> tuple[bool, int, datetime, str]:
    return (checkpoint.step is not None, checkpoint.step or 0, checkpoint.modified, checkpoint.name)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.expanduser().resolve() == b.resolve()
    except OSError:
        return False
