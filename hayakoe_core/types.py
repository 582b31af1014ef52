"""Small typed objects that cross the plugin boundary.

Plugins return these from hooks; the registry checks their types at registration, so a plugin's
mistake shows up when it loads rather than three calls later.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class Setting:
    """One environment variable a destination reads: declared so that prompts and ``.env``
    handling need no names hard-coded in core.

    ``env`` is the variable (``"HF_TOKEN"``); ``label`` what a prompt asks (``"HF write
    token"``); ``secret`` values are typed hidden, never printed and saved only when the user
    agrees; ``role`` is ``"address"`` (part of the destination URL, see
    :attr:`DestinationInfo.url_template`), ``"credential"`` (asked only when neither the
    environment, ``.env`` nor the client's own credential chain provides one) or ``"option"``
    (asked only when ``required``); ``required`` says the destination cannot work without it.
    """

    env: str
    label: str
    secret: bool = False
    role: str = "credential"
    required: bool = False

    def __post_init__(self) -> None:
        if self.role not in ("address", "credential", "option"):
            raise ValueError(f"Setting {self.env}: role must be address, credential or option")


@dataclass(frozen=True)
class DestinationInfo:
    """What a destination plugin declares about itself.

    ``name`` is the plugin's short name (``"s3"``); ``schemes`` the URL schemes it owns
    (``("s3",)``); ``extra`` the root-distribution extra that installs it (``"s3"``), or ``None``
    for third-party plugins. ``network`` is false for stores that need no network (local files):
    offline loads still read those directly. ``settings`` are the environment variables it reads
    (see :class:`Setting`); ``url_template`` builds a URL from the ``address`` settings, e.g.
    ``"s3://{HAYAKOE_S3_BUCKET}/{HAYAKOE_S3_PREFIX}"`` (empty values collapse; the result is
    parsed like any URL).
    """

    name: str
    schemes: tuple[str, ...]
    description: str = ""
    extra: str | None = None
    network: bool = True
    settings: tuple[Setting, ...] = ()
    url_template: str | None = None

    def url_from(self, values: dict[str, str]) -> str | None:
        """The destination URL the ``address`` settings in ``values`` give, or ``None`` when a
        required one is missing (or there is no template)."""
        if self.url_template is None:
            return None
        address = [s for s in self.settings if s.role == "address"]
        if any(s.required and not values.get(s.env, "").strip() for s in address):
            return None
        url = self.url_template.format(**{s.env: values.get(s.env, "").strip() for s in address})
        return re.sub(r"(?<!:)/{2,}", "/", url).rstrip("/") or None


@dataclass(frozen=True)
class BackendInfo:
    """What a backend plugin declares about itself.

    ``name`` is the backend name users pass (``"onnx"``, ``"torch"``); ``repo_folder`` the top-level
    folder of the repo layout it owns (``"onnx"``, ``"pytorch"``); ``devices`` the devices it runs on,
    the first being its default (``("cpu",)``, ``("cuda", "cpu")``). ``files_from`` names the backend
    whose prepared files this one loads (``"onnx"`` for a second runtime of the ``onnx/`` graphs):
    such a backend shares that backend's ``repo_folder``, has no prepare step of its own and is
    never a publishing choice; ``None`` (the usual case) means it prepares its own files.
    ``speaker_files``: the files a speaker folder of this backend cannot load without, as glob
    patterns (``("config.json", "*.safetensors")``); a speaker whose manifest lacks one is refused
    before anything is downloaded (a ``files_from`` backend's are those of the backend it names).
    """

    name: str
    repo_folder: str
    devices: tuple[str, ...]
    description: str = ""
    extra: str | None = None
    files_from: str | None = None
    speaker_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """A parsed destination URL, owned by the destination plugin named ``plugin``.

    ``url`` is the canonical form the plugin writes back to users (it parses to an equal
    Target). ``location`` identifies the store (a bucket, a repo id, an absolute folder path);
    ``prefix`` is a ``/``-separated path inside it (no leading or trailing ``/``; empty for the
    root); ``revision`` is set only by stores with revisions (HF). ``endpoint`` is the server the
    store is reached at when the scheme alone does not say (``AWS_ENDPOINT_URL_S3``, ``HF_ENDPOINT``),
    without credentials; with the other fields it identifies a source, e.g. its cache folder, so
    ``s3://voices`` on two servers never share one. ``options`` holds anything else
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
    endpoint: str | None = None
    options: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    credential: str | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return self.url

    def join(self, *parts: str) -> str:
        """``prefix`` and ``parts`` joined with ``/`` (empty parts skipped)."""
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))


@dataclass(frozen=True)
class DestinationState:
    """The version of a destination's content as its plugin sees it, for compare-and-swap.

    ``token`` is opaque to core and compared for equality only (HF: the head commit of the
    revision; S3: the ETag of the state object; local: the generation written by the last
    promote); ``""`` means nothing was ever promoted there. ``label`` is for people
    (``"commit 1a2b3c4"``).
    """

    token: str
    label: str = ""

    def __str__(self) -> str:
        return self.label or self.token or "empty"


#: How a staged file reached the destination: its bytes were sent, the store made it from bytes
#: it already held (server-side copy, deduplication: nothing sent), or it is live already with
#: exactly this content (nothing to do on promote either).
TRANSFERS = ("sent", "reused", "unchanged")
_STAGING_ID_RE = re.compile(r"^(\d{8}T\d{6}Z)-[0-9a-f]{8,32}$")


def new_staging_id(now: datetime | None = None) -> str:
    """A fresh staging id, ``<UTC yyyymmddThhmmssZ>-<random hex>``: sortable by age, and its
    age is readable from the id alone (stale-staging cleanup needs nothing else)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(6)}"


def staging_created(staging_id: str) -> datetime | None:
    """When a staging id was made; ``None`` if ``staging_id`` is not one."""
    match = _STAGING_ID_RE.match(staging_id)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Staging:
    """A staged repo tree at a destination, not yet visible to readers of the live location.

    ``id`` is the staging id (:func:`new_staging_id`); ``url`` a URL that
    ``TTS().load(name, source=url)`` loads the staged speakers from (a branch, a hidden prefix or
    folder); ``base`` the destination's state as read when this staging call began, the state a
    promote will normally expect; ``transfers`` maps each staged file's repo path to one of
    :data:`TRANSFERS`.
    """

    id: str
    url: str
    base: DestinationState
    transfers: tuple[tuple[str, str], ...] = ()

    def transfer(self, relpath: str) -> str | None:
        """How ``relpath`` was staged, or ``None`` if it was not part of this staging."""
        return dict(self.transfers).get(relpath)
