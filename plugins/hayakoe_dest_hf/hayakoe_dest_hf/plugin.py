"""HuggingFace Hub model repos: ``org/repo``, ``hf://org/repo@rev``, ``https://huggingface.co/org/repo``.

The URL grammar is core's (:mod:`hayakoe_core.hf_url`); the storage hooks delegate to
:mod:`hayakoe_dest_hf.hub`, imported on first use so that listing plugins or parsing URLs never
imports ``huggingface_hub``.
"""

from __future__ import annotations

from pathlib import Path

from hayakoe_core.hf_url import SCHEME, parse_hf_url
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.progress import Progress
from hayakoe_core.types import DestinationInfo, Target

NAME = "hf"


@hookimpl
def hayakoe_destination() -> DestinationInfo:
    return DestinationInfo(
        name=NAME,
        schemes=(SCHEME,),
        description="HuggingFace Hub model repo (org/repo, hf://org/repo@rev, https://huggingface.co/org/repo)",
        extra="hf",
    )


@hookimpl
def hayakoe_parse_url(url: str) -> Target | None:
    parsed = parse_hf_url(url)
    if parsed is None:
        return None
    return Target(
        plugin=NAME, scheme=SCHEME, url=parsed.url, location=parsed.repo, revision=parsed.revision
    )


@hookimpl
def hayakoe_upload(target: Target, local_dir: Path, prefix: str, progress: Progress) -> None:
    from hayakoe_dest_hf import hub

    hub.upload(target, local_dir, prefix, progress)


@hookimpl
def hayakoe_fetch(target: Target, prefix: str, cache_dir: Path, progress: Progress) -> Path:
    from hayakoe_dest_hf import hub

    return hub.fetch(target, prefix, cache_dir, progress)


@hookimpl
def hayakoe_list_speakers(target: Target) -> dict[str, list[str]]:
    from hayakoe_dest_hf import hub

    return hub.list_speakers(target)


@hookimpl
def hayakoe_read_file(target: Target, path: str) -> bytes | None:
    from hayakoe_dest_hf import hub

    return hub.read_file(target, path)


@hookimpl
def hayakoe_delete_speaker(target: Target, repo_folder: str, name: str) -> bool:
    from hayakoe_dest_hf import hub

    return hub.delete_speaker(target, repo_folder, name)
