"""HuggingFace Hub model repos: ``org/repo``, ``hf://org/repo@rev``, ``https://huggingface.co/org/repo``.

URL parsing is here; the storage hooks delegate to :mod:`hayakoe_dest_hf.hub`, imported on first
use so that listing plugins or parsing URLs never imports ``huggingface_hub``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from hayakoe_core.errors import UrlError
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.progress import Progress
from hayakoe_core.types import DestinationInfo, Target

NAME = "hf"
DEFAULT_REVISION = "main"
_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")
_BARE_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@\S+)?$")
_WEB_PREFIXES = ("https://huggingface.co/", "https://hf.co/")


@hookimpl
def hayakoe_destination() -> DestinationInfo:
    return DestinationInfo(
        name=NAME,
        schemes=("hf",),
        description="HuggingFace Hub model repo (org/repo, hf://org/repo@rev, https://huggingface.co/org/repo)",
        extra="hf",
    )


@hookimpl
def hayakoe_parse_url(url: str) -> Target | None:
    if url.startswith("hf://"):
        repo, revision = _split_revision(url[len("hf://") :], url)
    elif url.startswith(_WEB_PREFIXES):
        rest = url.split("/", 3)[3].rstrip("/")
        parts = rest.split("/", 3)
        if len(parts) == 2:
            repo, revision = rest, None
        elif len(parts) == 4 and parts[2] == "tree" and parts[3]:
            repo, revision = "/".join(parts[:2]), unquote(parts[3])
        else:
            raise UrlError(f"{url!r}: expected https://huggingface.co/org/repo or …/org/repo/tree/<revision>")
    elif _BARE_RE.match(url) and not url.startswith("."):
        repo, revision = _split_revision(url, url)
    else:
        return None
    if not _REPO_RE.match(repo) or ".." in repo or "--" in repo:
        raise UrlError(f"{url!r}: {repo!r} is not a HuggingFace repo id (expected org/repo)")
    revision = revision or DEFAULT_REVISION
    shown = f"hf://{repo}" + ("" if revision == DEFAULT_REVISION else f"@{revision}")
    return Target(plugin=NAME, scheme="hf", url=shown, location=repo, revision=revision)


def _split_revision(text: str, url: str) -> tuple[str, str | None]:
    repo, sep, revision = text.partition("@")
    if sep and not revision:
        raise UrlError(f"{url!r}: empty revision after '@' (write hf://org/repo@branch)")
    return repo.rstrip("/"), revision or None


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
