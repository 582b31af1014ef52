"""From answers (flags, prompts, keyword arguments) to a :class:`~hayakoe_core.publish.plan.Plan`.

The CLI, the interactive flow and ``hayakoe.publish(...)`` all fill in :class:`Answers` and call
:func:`make_plan`; a missing answer that has no default is a one-line error naming the flag
(the interactive flow asks instead, before it gets here).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hayakoe_core.errors import HayakoeError
from hayakoe_core.manifest import sha256_file
from hayakoe_core.paths import check_publish_name
from hayakoe_core.publish.plan import Plan
from hayakoe_core.publish.readme import ReadmePolicy
from hayakoe_core.publish.source import (
    SpeakerSource,
    choose_checkpoint,
    default_name,
    find_datasets,
    open_folder,
)
from hayakoe_core.publish.verify import DEFAULT_VERIFY_DIR
from hayakoe_core.registry import Registry, get_registry
from hayakoe_core.tts import DEFAULT_BACKENDS

BackendChoice = Literal["cpu", "gpu", "both"]
#: The devices each ``--backend`` answer publishes for, in order.
BACKEND_DEVICES: dict[str, tuple[str, ...]] = {"both": ("cpu", "cuda"), "cpu": ("cpu",), "gpu": ("cuda",)}


@dataclass(frozen=True)
class Answers:
    """Everything a user can say about a publish; ``None`` means "not said"."""

    folder: str | Path | None = None
    dataset: str | None = None
    data_root: str | Path | None = None
    checkpoint: str | Path | None = None
    name: str | None = None
    backend: BackendChoice | None = None
    to: str | None = None
    bert_source: str | None = None
    license: str | None = None
    readme: ReadmePolicy | None = None
    overwrite: bool = False
    verify: bool = True
    verify_dir: str | Path = DEFAULT_VERIFY_DIR


def backends_for(choice: str, registry: Registry) -> tuple[str, ...]:
    """Backend names whose files a ``--backend`` answer publishes (``both`` → onnx, torch)."""
    if choice not in BACKEND_DEVICES:
        raise HayakoeError(f"--backend {choice!r}: use cpu, gpu or both")
    return tuple(registry.files_owner(DEFAULT_BACKENDS[device]).name for device in BACKEND_DEVICES[choice])


def find_source(answers: Answers) -> SpeakerSource:
    """The speaker folder the answers name (``--folder``, or ``--dataset`` under the data root)."""
    if answers.folder is not None and answers.dataset is not None:
        raise HayakoeError("give either --folder or --dataset, not both")
    if answers.folder is not None:
        return open_folder(answers.folder)
    datasets = find_datasets(answers.data_root)
    if answers.dataset is None:
        found = ", ".join(d.label for d in datasets) or "none found"
        raise HayakoeError(f"nothing to publish: pass --folder PATH or --dataset NAME (datasets: {found})")
    for source in datasets:
        if source.label == answers.dataset:
            return source
    found = ", ".join(d.label for d in datasets) or "none"
    raise HayakoeError(f"--dataset {answers.dataset!r} not found (datasets: {found}; root: --data-root)")


def destination_from_env(registry: Registry, env: Mapping[str, str] | None = None) -> str | None:
    """The destination URL the seed's variables give (``HAYAKOE_HF_REPO``, ``HAYAKOE_S3_BUCKET``
    + ``HAYAKOE_S3_PREFIX``, ``HAYAKOE_LOCAL_PATH``, or what a plugin declares); ``None`` if none
    is set; an error if several are, since only ``--to`` can choose."""
    values = dict(os.environ if env is None else env)
    found = {info.name: url for info in registry.destinations() if (url := info.url_from(values))}
    if len(found) > 1:
        raise HayakoeError(
            f"several destinations are set in the environment or .env ({', '.join(sorted(found.values()))}): "
            "choose one with --to"
        )
    return next(iter(found.values()), None)


def make_plan(answers: Answers, registry: Registry | None = None) -> Plan:
    """The plan the answers describe; a one-line :class:`HayakoeError` naming the flag when an
    answer is missing or wrong. Reads the source folder and hashes the checkpoint; writes nothing."""
    registry = registry or get_registry()
    source = find_source(answers)
    checkpoint = choose_checkpoint(source, answers.checkpoint).path
    name = check_publish_name(answers.name) if answers.name is not None else default_name(source)
    to = answers.to or destination_from_env(registry)
    if not to:
        address = [s.env for info in registry.destinations() for s in info.settings if s.role == "address"]
        names = ", ".join(address)
        raise HayakoeError(f"no destination: pass --to URL (or set one of {names})")
    return Plan(
        folder=source.folder,
        checkpoint=checkpoint,
        checkpoint_sha256=sha256_file(checkpoint),
        name=name,
        backends=backends_for(answers.backend or "both", registry),
        destination=registry.parse_url(to).url,
        bert_source=answers.bert_source,
        license=answers.license,
        readme=answers.readme,
        overwrite=answers.overwrite,
        verify=answers.verify,
        verify_dir=Path(answers.verify_dir),
    )
