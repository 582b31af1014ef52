"""Errors a user can cause, and keeping secrets out of every message.

Each error carries a one-line message saying what is wrong and how to fix it; the CLI prints that
line and exits non-zero without a traceback. Programming errors are ordinary exceptions and keep
theirs.

No message may show a secret, not even one in a chained cause that a traceback would print:
:func:`redact` removes them from a text and :func:`scrub` from an exception and its whole chain.
Plugins call ``scrub`` on what they raise; the registry and the CLI do it again for everything.
The store clients' own loggers (which at DEBUG show URLs with their user-info) get a filter
that redacts every record: :func:`redact_logs`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable

# Environment variables whose values are secrets, by name (HF_TOKEN, AWS_SECRET_ACCESS_KEY,
# AWS_SESSION_TOKEN, a plugin's own FOO_PASSWORD, ...): their values are redacted wherever they appear.
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|_KEY$", re.IGNORECASE)
_SHORTEST_SECRET = 6  # shorter values would redact ordinary words
# "scheme://user:password@host" (and "scheme://token@host"): everything before the "@".
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@'\"<>]+@")
# Tokens by shape: Hugging Face tokens, AWS access keys, bearer credentials in header dumps.
_SHAPES = re.compile(
    r"\bhf_[A-Za-z0-9]{20,}\b|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|(?i:\bbearer\s+)[\w.~+/=-]{8,}"
)
HIDDEN = "***"


class HayakoeError(Exception):
    """Base of every user-facing error: ``str(err)`` is the whole message, one line."""


class ConfigError(HayakoeError):
    """A speaker's config.json, style vectors or checkpoint is missing, unreadable or inconsistent."""


class PluginError(HayakoeError):
    """A plugin is missing, broken, or two plugins claim the same scheme or backend."""


class UrlError(HayakoeError):
    """A destination or source URL that no installed plugin accepts, or one that is malformed."""


class UnsafePathError(HayakoeError):
    """A remote-supplied path with ``..``, an absolute part or a backslash."""


class NotFoundError(HayakoeError):
    """A destination, speaker or file that does not exist where it was asked for."""


class SourceNotFoundError(NotFoundError):
    """The store itself is missing (bucket, repo, revision or folder), not just a path inside it.

    Callers that turn "nothing at this path" into "no such speaker" let this one through as is.
    """


class UnreachableError(HayakoeError):
    """The store could not be reached (connection refused, DNS, timeout): not a refusal by it.

    Destination plugins raise this so the runtime can fall back to its cache.
    """


class ConflictError(HayakoeError):
    """The destination changed since the state a promote expected (someone else published
    meanwhile), or another publisher holds it right now. Nothing a reader can see was changed.

    ``busy`` is true when another promote is in progress (waiting and retrying may succeed
    without re-reading anything); false when the destination moved (re-read, then retry).
    """

    def __init__(self, message: str, *, busy: bool = False) -> None:
        super().__init__(message)
        self.busy = busy


class ArgumentError(HayakoeError):
    """A bad argument to a runtime call: a value out of range, an unknown style or language."""


class CacheError(HayakoeError):
    """The cache folder cannot be written (read-only, no permission, disk full)."""


class Interrupted(HayakoeError):
    """Work was stopped on request (Ctrl-C) while worker threads were still running.

    Raised inside workers (from :meth:`hayakoe_core.progress.Bar.advance`) so they stop at their
    next step; the main thread sees the ``KeyboardInterrupt`` itself.
    """


def secret_values(extra: Iterable[str | None] = ()) -> list[str]:
    """The secrets to hide, longest first (so none is left half-replaced): values of
    secret-looking environment variables (short ones excepted, such as a flag's ``1``), plus
    every non-empty value in ``extra``, which the caller names as secret whatever its length."""
    found = {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= _SHORTEST_SECRET}
    found |= {v for v in extra if v}
    return sorted(found, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without URL user-info, token-shaped strings, secret environment values or ``secrets``.

    >>> redact("cannot reach http://user:hunter22@hub.local/api")
    'cannot reach http://***@hub.local/api'
    """
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{HIDDEN}@", text)
    text = _SHAPES.sub(HIDDEN, text)
    for value in secret_values(secrets):
        text = text.replace(value, HIDDEN)
    return text


def scrub(exc: BaseException, secrets: Iterable[str | None] = ()) -> BaseException:
    """Redact ``exc`` and every exception chained to it, in place; returns ``exc``.

    Each exception's ``args`` are redacted. One whose text still shows a secret afterwards
    (its ``__str__`` does not come from ``args``) is cut from the chain with everything behind
    it, so a traceback ends at the last clean exception.
    """
    hidden = secret_values(secrets)
    seen: set[int] = set()
    previous: BaseException | None = None
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(redact(a, hidden) if isinstance(a, str) else a for a in current.args)
        if previous is not None and _shows_secret(current, hidden):
            previous.__cause__ = previous.__context__ = None
            previous.__suppress_context__ = True
            break
        previous = current
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return exc


def _shows_secret(exc: BaseException, secrets: list[str]) -> bool:
    try:
        text = str(exc)
    except Exception:  # a broken __str__ shows nothing
        return False
    return redact(text, secrets) != text


class _Redacting(logging.Filter):
    """Redacts a record's message, and the exception it carries, before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted shows nothing of its arguments
            record.msg, record.args = f"(unformattable {record.levelname} record)", None
            message = record.msg
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            scrub(record.exc_info[1])
            record.exc_text = None
        return True


_REDACTING = _Redacting()


def redact_logs(*packages: str) -> None:
    """Put the redacting filter on every logger that exists now under ``packages`` (top-level
    names, e.g. ``"botocore"``). A logger's filters do not see its children's records, so each
    logger gets its own; call this when a client is made, after its modules created theirs."""
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] in packages:
            logger = logging.getLogger(name)
            if _REDACTING not in logger.filters:
                logger.addFilter(_REDACTING)
