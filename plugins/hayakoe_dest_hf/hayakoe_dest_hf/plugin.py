"""HuggingFace Hub model repos: ``org/repo``, ``hf://org/repo@rev``, ``https://huggingface.co/org/repo``.

The URL grammar is core's (:mod:`hayakoe_core.hf_url`). The storage hooks delegate to
:mod:`hayakoe_dest_hf.hub` (reading, upload, delete), :mod:`hayakoe_dest_hf.publish` (stage,
promote, discard, cleanup: see its docstring for the branches and the compare-and-swap commit)
and :mod:`hayakoe_dest_hf.account` (probe, credentials), imported on first use so that listing
plugins or parsing URLs never imports ``huggingface_hub``. There is no ``unlock`` hook: promotes
are made exclusive by the Hub itself (one commit at a time per repo, ``parent_commit``), so a
publisher that dies holds nothing.

``HF_ENDPOINT`` (a Hub other than huggingface.co) is not a declared setting: huggingface_hub reads
it once, when it is imported, so a value typed at a prompt could be silently ignored. Set it in
the environment before starting.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from hayakoe_core.errors import redact
from hayakoe_core.hf_url import SCHEME, parse_hf_url
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.progress import Progress
from hayakoe_core.types import DestinationInfo, DestinationState, Setting, Staging, Target

NAME = "hf"
_DEFAULT_ENDPOINT = "https://huggingface.co"


@hookimpl
def hayakoe_destination() -> DestinationInfo:
    return DestinationInfo(
        name=NAME,
        schemes=(SCHEME,),
        description="HuggingFace Hub model repo (org/repo, hf://org/repo@rev, https://huggingface.co/org/repo)",
        extra="hf",
        settings=(
            Setting("HAYAKOE_HF_REPO", "Hub repo (org/repo[@branch])", role="address", required=True),
            Setting("HF_TOKEN", "HuggingFace write token", secret=True, role="credential", required=True),
        ),
        url_template=f"{SCHEME}://{{HAYAKOE_HF_REPO}}",
    )


@hookimpl
def hayakoe_parse_url(url: str) -> Target | None:
    parsed = parse_hf_url(url)
    if parsed is None:
        return None
    return Target(
        plugin=NAME,
        scheme=SCHEME,
        url=parsed.url,
        location=parsed.repo,
        revision=parsed.revision,
        endpoint=endpoint(),
    )


def endpoint() -> str:
    """The Hub the client talks to (``HF_ENDPOINT``, read as the client reads it), without user-info."""
    return redact(os.environ.get("HF_ENDPOINT", "").rstrip("/") or _DEFAULT_ENDPOINT)


# --- reading and writing ------------------------------------------------------------------------


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
def hayakoe_upload(target: Target, local_dir: Path, prefix: str, progress: Progress) -> None:
    from hayakoe_dest_hf import hub

    hub.upload(target, local_dir, prefix, progress)


@hookimpl
def hayakoe_delete_speaker(target: Target, repo_folder: str, name: str) -> bool:
    from hayakoe_dest_hf import hub

    return hub.delete_speaker(target, repo_folder, name)


# --- publishing ---------------------------------------------------------------------------------


@hookimpl
def hayakoe_read_state(target: Target) -> DestinationState:
    from hayakoe_dest_hf import publish

    return publish.read_state(target)


@hookimpl
def hayakoe_stage(target: Target, local_dir: Path, staging_id: str, progress: Progress) -> Staging:
    from hayakoe_dest_hf import publish

    return publish.stage(target, local_dir, staging_id, progress)


@hookimpl
def hayakoe_promote(
    target: Target, staging: Staging, expected: DestinationState, progress: Progress
) -> DestinationState:
    from hayakoe_dest_hf import publish

    return publish.promote(target, staging, expected, progress)


@hookimpl
def hayakoe_discard(target: Target, staging: Staging) -> None:
    from hayakoe_dest_hf import publish

    publish.discard(target, staging)


@hookimpl
def hayakoe_cleanup(target: Target, older_than: timedelta, dry_run: bool) -> list[str]:
    from hayakoe_dest_hf import publish

    return publish.cleanup(target, older_than, dry_run)


@hookimpl
def hayakoe_probe(target: Target) -> None:
    from hayakoe_dest_hf import account

    account.probe(target)


@hookimpl
def hayakoe_find_credentials(target: Target) -> str | None:
    from hayakoe_dest_hf import account

    return account.find_credentials(target)
