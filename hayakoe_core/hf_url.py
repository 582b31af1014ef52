"""The HuggingFace Hub URL grammar (ARCHITECTURE §4), in one place.

A contract module: the registry uses it to recognise HF URLs (and name the extra to install when
the HF plugin is missing), the HF destination plugin to parse them. The forms, revision default
``main``::

    org/repo   org/repo@rev   hf://org/repo   hf://org/repo@rev
    https://huggingface.co/org/repo   https://huggingface.co/org/repo/tree/<rev>   (also hf.co)

A bare ``org/repo`` is exactly one slash, no scheme, starting with a letter or digit (so
``./x/y`` and ``/x/y`` stay local paths); one that names an existing local folder is refused, with
how to write either (it looks at the file system, nothing else). The canonical form is ``hf://org/repo``, with
``@rev`` only when the revision is not ``main``. Nothing here touches the network.

>>> parse_hf_url("https://huggingface.co/org/voices/tree/dev")
HfUrl(repo='org/voices', revision='dev')
>>> hf_url("org/voices", "main")
'hf://org/voices'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from hayakoe_core.errors import UrlError

SCHEME = "hf"
DEFAULT_REVISION = "main"
WEB_PREFIXES = ("https://huggingface.co/", "https://hf.co/")
_BARE_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@\S+)?$")
_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class HfUrl:
    """A parsed HF URL: the repo id ``org/repo`` and the revision (never empty)."""

    repo: str
    revision: str = DEFAULT_REVISION

    @property
    def url(self) -> str:
        return hf_url(self.repo, self.revision)


def hf_url(repo: str, revision: str = DEFAULT_REVISION) -> str:
    """The canonical URL of ``repo`` at ``revision``: ``hf://org/repo`` or ``hf://org/repo@rev``."""
    return f"{SCHEME}://{repo}" + ("" if revision == DEFAULT_REVISION else f"@{revision}")


def is_hf_url(url: str) -> bool:
    """Whether ``url`` is written in one of the HF forms (well-formed or not)."""
    return url.startswith((f"{SCHEME}://", *WEB_PREFIXES)) or bool(_BARE_RE.match(url))


def parse_hf_url(url: str) -> HfUrl | None:
    """The repo and revision ``url`` names; ``None`` if it is not an HF form; :class:`UrlError`
    for an HF form that is malformed (the message says the right form)."""
    if url.startswith(f"{SCHEME}://"):
        repo, revision = _split_revision(url[len(SCHEME) + 3 :], url)
    elif url.startswith(WEB_PREFIXES):
        rest = url.split("/", 3)[3].rstrip("/")
        parts = rest.split("/", 3)
        if len(parts) == 2:
            repo, revision = rest, None
        elif len(parts) == 4 and parts[2] == "tree" and parts[3]:
            repo, revision = "/".join(parts[:2]), unquote(parts[3])
        else:
            raise UrlError(f"{url!r}: expected https://huggingface.co/org/repo or …/org/repo/tree/<revision>")
    elif _BARE_RE.match(url):
        repo, revision = _split_revision(url, url)
        if Path(url).exists():
            raise UrlError(
                f"{url!r} reads as the Hugging Face repo hf://{url}, but a local folder of that name "
                f"exists: write ./{url} for the folder (or hf://{url} for the Hub)"
            )
    else:
        return None
    if not _REPO_RE.match(repo) or ".." in repo or "--" in repo:
        raise UrlError(f"{url!r}: {repo!r} is not a HuggingFace repo id (expected org/repo)")
    return HfUrl(repo, revision or DEFAULT_REVISION)


def _split_revision(text: str, url: str) -> tuple[str, str | None]:
    repo, sep, revision = text.partition("@")
    if sep and not revision:
        raise UrlError(f"{url!r}: empty revision after '@' (write hf://org/repo@branch)")
    return repo.rstrip("/"), revision or None
