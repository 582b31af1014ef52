"""Small typed objects that cross the plugin boundary.

Plugins return these from hooks; the registry checks their types at registration, so a plugin's
mistake shows up when it loads rather than three calls later.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DestinationInfo:
    """What a destination plugin declares about itself.

    ``name`` is the plugin's short name (``"s3"``); ``schemes`` the URL schemes it owns
    (``("s3",)``); ``extra`` the root-distribution extra that installs it (``"s3"`` for
    ``pip install 'hayakoe[s3]'``), or ``None`` for third-party plugins. ``network`` is false for
    stores that need no network (local files): offline loads still read those directly.
    """

    name: str
    schemes: tuple[str, ...]
    description: str = ""
    extra: str | None = None
    network: bool = True


@dataclass(frozen=True)
class BackendInfo:
    """What a backend plugin declares about itself.

    ``name`` is the backend name users pass (``"onnx"``, ``"torch"``); ``repo_folder`` the top-level
    folder of the repo layout it owns (``"onnx"``, ``"pytorch"``); ``devices`` the devices it runs on,
    the first being its default (``("cpu",)``, ``("cuda", "cpu")``).
    """

    name: str
    repo_folder: str
    devices: tuple[str, ...]
    description: str = ""
    extra: str | None = None


@dataclass(frozen=True)
class Target:
    """A parsed destination URL, owned by the destination plugin named ``plugin``.

    ``url`` is the canonical form the plugin writes back to users (it parses to an equal
    Target). ``location`` identifies the store (a bucket, a repo id, an absolute folder path);
    ``prefix`` is a ``/``-separated path inside it (no leading or trailing ``/``; empty for the
    root); ``revision`` is set only by stores with revisions (HF). ``options`` holds anything else
    the plugin parsed from the URL (never a secret: targets are printed). ``credential`` is a
    secret the caller supplied for this target (e.g. ``TTS(hf_token=...)``); it is left out of
    ``repr`` and comparisons, and a plugin that has no use for it ignores it.
    """

    plugin: str
    scheme: str
    url: str
    location: str
    prefix: str = ""
    revision: str | None = None
    options: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    credential: str | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return self.url

    def join(self, *parts: str) -> str:
        """``prefix`` and ``parts`` joined with ``/`` (empty parts skipped)."""
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))
