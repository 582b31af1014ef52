"""The plan a publish carries out and the receipt it returns, as typed, JSON-ready data.

The interactive layer (or the flags, or a Python caller) fills in a :class:`Plan`; the pipeline
carries it out without asking anything and records what happened in a :class:`Receipt`. A
``--dry-run`` prints the receipt of a plan nothing was done for (every ``transfer`` ``None``).
Neither ever holds a secret: destination URLs carry none (see ``Target``), credentials stay in
the environment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hayakoe_core.manifest import BertRef
from hayakoe_core.publish.readme import ReadmePolicy
from hayakoe_core.publish.verify import DEFAULT_VERIFY_DIR, Verification
from hayakoe_core.types import TRANSFERS


@dataclass(frozen=True)
class Plan:
    """What to publish where, every question answered.

    ``folder`` holds config.json and style_vectors.npy; ``checkpoint`` is the chosen
    ``*.safetensors`` and ``checkpoint_sha256`` its hash; ``name`` the speaker name; ``backends``
    the backend names (``("onnx", "torch")``); ``destination`` the canonical URL. ``bert_source``
    is where the shared BERT comes from (``None``: the default); ``license`` the README's license
    (``None``: keep the existing one, else ``other``); ``readme`` the ``--readme`` answer.
    """

    folder: Path
    checkpoint: Path
    checkpoint_sha256: str
    name: str
    backends: tuple[str, ...]
    destination: str
    bert_source: str | None = None
    license: str | None = None
    readme: ReadmePolicy | None = None
    overwrite: bool = False
    verify: bool = True
    verify_dir: Path = DEFAULT_VERIFY_DIR

    def to_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Plan:
        return cls(
            **{
                **doc,
                "folder": Path(doc["folder"]),
                "checkpoint": Path(doc["checkpoint"]),
                "backends": tuple(doc["backends"]),
                "verify_dir": Path(doc["verify_dir"]),
            }
        )


@dataclass(frozen=True)
class FileRecord:
    """One file of the published tree: repo path, size, sha256, and how it reached the
    destination (one of :data:`hayakoe_core.types.TRANSFERS`; ``None`` when nothing was sent)."""

    path: str
    size: int
    sha256: str
    transfer: str | None = None

    def __post_init__(self) -> None:
        if self.transfer is not None and self.transfer not in TRANSFERS:
            raise ValueError(f"transfer must be one of {TRANSFERS}, not {self.transfer!r}")


@dataclass
class Receipt:
    """What a publish did (or, for a dry run, would do).

    ``state`` is the destination's state after promoting (e.g. ``"commit 1a2b3c4"``; ``None``
    before); ``bert`` the BERT the speaker was verified with; ``verification`` one result per
    backend; ``phases`` wall seconds per phase in the order they ran (``precopy``: the store's
    work ahead of the promote, which ran in a thread alongside ``verify``; any wait for it is
    counted in ``promote``); ``unverified`` is true when the speaker was made visible without
    verification (``--no-verify``, or a destination that can only upload).
    """

    plan: Plan
    files: list[FileRecord] = field(default_factory=list)
    bert: BertRef | None = None
    verification: list[Verification] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    state: str | None = None
    unverified: bool = False

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as phase ``name`` (added to any earlier time of that phase)."""
        start = time.monotonic()
        try:
            yield
        finally:
            self.add_time(name, time.monotonic() - start)

    def add_time(self, name: str, seconds: float) -> None:
        """Count ``seconds`` to phase ``name`` (work timed elsewhere, e.g. in another thread)."""
        self.phases[name] = self.phases.get(name, 0.0) + seconds

    def to_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))

    def to_json(self) -> str:
        """The receipt as ``--json`` prints it."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Receipt:
        return cls(
            plan=Plan.from_dict(doc["plan"]),
            files=[FileRecord(**f) for f in doc["files"]],
            bert=None if doc["bert"] is None else BertRef(**doc["bert"]),
            verification=[
                Verification(**{**v, "wav": None if v["wav"] is None else Path(v["wav"])})
                for v in doc["verification"]
            ],
            phases=dict(doc["phases"]),
            state=doc["state"],
            unverified=doc["unverified"],
        )


def _plain(value: Any) -> Any:
    """``value`` with paths as strings and tuples as lists, ready for :func:`json.dumps`."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
