"""Turn ``huggingface_hub`` / transport failures into one-line :class:`HayakoeError` messages.

Every message says what is wrong and which setting fixes it (``HF_TOKEN``, the URL's
``@revision``, ``HF_ENDPOINT``, ``HF_HUB_OFFLINE``, the timeouts); none contains a token or the
endpoint's user-info, and neither does any exception chained to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
from huggingface_hub import constants, get_token
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    LocalTokenNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
    RevisionResolutionError,
)

from hayakoe_core.errors import (
    ConflictError,
    HayakoeError,
    NotFoundError,
    SourceNotFoundError,
    UnreachableError,
    redact,
    scrub,
)
from hayakoe_core.network import timeouts
from hayakoe_core.types import Target

TOKEN_HINT = "set HF_TOKEN to a token from https://huggingface.co/settings/tokens"


def _token(target: Target) -> str | None:
    return target.credential or get_token()


def is_missing(exc: BaseException) -> bool:
    """Whether ``exc`` says the repo or revision does not exist (as seen with a valid token)."""
    if isinstance(exc, RevisionNotFoundError):
        return True
    return (
        isinstance(exc, RepositoryNotFoundError)
        and not isinstance(exc, GatedRepoError)
        and exc.response.status_code == 404
    )


def translate(exc: BaseException, target: Target, path: str = "") -> HayakoeError | None:
    """The user-facing error for ``exc`` raised while working on ``target`` (``None``: a bug)."""
    repo, where = target.location, f"{target.url}/{path}" if path else target.url
    if isinstance(exc, RuntimeError) and exc.__cause__ is not None:  # an LFS upload that failed
        return translate(exc.__cause__, target, path)
    if isinstance(exc, LocalTokenNotFoundError):
        return HayakoeError(f"no Hugging Face token for {repo}: {TOKEN_HINT}")
    if isinstance(exc, OfflineModeIsEnabled) or (
        constants.is_offline_mode() and isinstance(exc, (FileNotFoundError, RevisionResolutionError))
    ):
        return UnreachableError(
            f"offline (HF_HUB_OFFLINE is set): {where} is not in the local cache; unset it to download"
        )
    hub = redact(constants.ENDPOINT)
    if isinstance(exc, httpx2.TimeoutException) or isinstance(exc.__cause__, httpx2.TimeoutException):
        return UnreachableError(
            f"no answer from the Hub at {hub} for {target.url} within the {timeouts().describe()}: "
            "check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use cached files"
        )
    if isinstance(exc, (httpx2.TransportError, RevisionResolutionError, LocalEntryNotFoundError)):
        return UnreachableError(
            f"cannot reach the Hub at {hub} for {target.url} ({type(exc).__name__}): check the "
            "network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use cached files"
        )
    if isinstance(exc, ConnectionError):  # how hf_xet reports a failed Xet upload
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return HayakoeError(
            f"the Xet upload to {repo} failed ({detail}): check the network and HF_ENDPOINT "
            "(a Hub without Xet storage needs HF_HUB_DISABLE_XET=1)"
        )
    if isinstance(exc, ValueError) and str(exc).startswith("Invalid metadata in README.md"):
        problems = " ".join(line.lstrip("- ") for line in str(exc).splitlines()[1:])
        return HayakoeError(f"the Hub refused README.md's metadata block ({problems}): fix its front matter")
    if isinstance(exc, RevisionNotFoundError):
        return SourceNotFoundError(
            f"revision {target.revision!r} not found in {repo}: fix the @revision in the URL"
        )
    if isinstance(exc, GatedRepoError):
        return HayakoeError(f"{repo} is gated: request access on the Hub, then {TOKEN_HINT}")
    if isinstance(exc, RepositoryNotFoundError):
        if _token(target) is None:
            return SourceNotFoundError(f"{repo} not found or private: {TOKEN_HINT}")
        return SourceNotFoundError(f"{repo} not found (or not visible to the token in HF_TOKEN)")
    if isinstance(exc, EntryNotFoundError):
        return NotFoundError(f"nothing at {where}")
    if isinstance(exc, HfHubHTTPError):
        return _http_error(exc, target)
    return None


def _http_error(exc: HfHubHTTPError, target: Target) -> HayakoeError:
    status, repo = exc.response.status_code, target.location
    if status == 401 and _token(target) is None:
        return HayakoeError(f"{repo} needs a Hugging Face token: {TOKEN_HINT}")
    if status == 401:
        return HayakoeError(f"the Hub rejected the token in HF_TOKEN (invalid or expired): {TOKEN_HINT}")
    if status == 403:
        return HayakoeError(
            f"permission denied on {repo}: HF_TOKEN must be a write token of its owner or org"
        )
    if status == 412:  # parent_commit is no longer the head
        return ConflictError(f"{target.url} changed meanwhile (someone published): run the command again")
    if status == 409 and "in progress" in (exc.server_message or ""):
        return ConflictError(f"another commit to {repo} is in progress: try again in a moment", busy=True)
    message = (exc.server_message or str(exc)).strip().splitlines()
    return HayakoeError(f"the Hub answered {status} for {repo}: {message[0] if message else ''}")


@contextmanager
def hub_errors(target: Target, path: str = "") -> Iterator[None]:
    """Re-raise Hub failures inside the block as their :func:`translate` d HayakoeError, with
    every secret (the caller's token, ``HF_TOKEN``, endpoint user-info) scrubbed from the chain."""
    try:
        yield
    except Exception as exc:
        scrub(exc, [target.credential])
        mapped = None if isinstance(exc, HayakoeError) else translate(exc, target, path)
        if mapped is None:
            raise
        raise scrub(mapped, [target.credential]) from exc
