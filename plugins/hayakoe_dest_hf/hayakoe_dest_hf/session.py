"""Every call this plugin makes to the Hub goes through :func:`hub_call`.

Bounded waits: the client's shared HTTP session gets hayakoe's connect and read timeouts
(:mod:`hayakoe_core.network`; its default has none) before every operation, and so does every
session the client makes anew in the middle of one (it drops its session after a connection
error and builds another from its factory); a request the client sends with an explicit
``timeout=None`` (``repo_info``, paginated listings) gets them too; file bodies are read with the client's own
``HF_HUB_DOWNLOAD_TIMEOUT``. The client retries a request that timed out or failed on the
network up to 5 times, waiting 1, 2, 4, 8 and 8 s, so a Hub that accepts connections and never
answers fails a request after about 6 × ``HAYAKOE_READ_TIMEOUT`` + 23 s. The client's retry and fallback
warnings are kept off stderr during these calls: the outcome is reported as one error, or not
at all when the cache serves.

Ctrl-C: a download hears of it at its next progress report, which the client makes once per
read chunk; the client's 10 MiB chunks are made 256 KiB (:data:`_CHUNK`), so a download stops
within a fraction of a second even on a slow link, not after the next 10 MB.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
from huggingface_hub import constants
from huggingface_hub.utils import get_session, set_client_factory
from huggingface_hub.utils._http import default_client_factory

from hayakoe_core.errors import redact_logs
from hayakoe_core.network import timeouts
from hayakoe_core.types import Target
from hayakoe_dest_hf.errors import hub_errors

_quiet = threading.local()


class _QuietInOurCalls(logging.Filter):
    """Drops the client's warnings (retries, cache fallbacks) raised by a thread inside :func:`hub_call`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or not getattr(_quiet, "active", False)


_QUIET = _QuietInOurCalls()
_CHUNK = 256 * 1024
if constants.DOWNLOAD_CHUNK_SIZE == 10 * 1024 * 1024:  # the client's default, not someone's choice
    constants.DOWNLOAD_CHUNK_SIZE = _CHUNK
# The client warns from its worker threads before a download that will not fit; the download
# then fails with ENOSPC, which the runtime reports as one line. The warning would only repeat it.
warnings.filterwarnings("ignore", "Not enough free disk space", UserWarning, r"huggingface_hub\.")


def _quieten_client_loggers() -> None:
    """Put the filter on every logger of the client (filters do not apply to children's records)."""
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] == "huggingface_hub":
            logger = logging.getLogger(name)
            if _QUIET not in logger.filters:
                logger.addFilter(_QUIET)


def _bounded(request: httpx2.Request) -> None:
    """Give a request sent with ``timeout=None`` hayakoe's timeouts (``repo_info`` and the
    paginated listings pass None explicitly, which overrides the session's default)."""
    if all(value is None for value in request.extensions.get("timeout", {}).values()):
        limits = timeouts()
        request.extensions["timeout"] = httpx2.Timeout(limits.read, connect=limits.connect).as_dict()


def _client_with_timeouts() -> httpx2.Client:
    """The client's own default session, with hayakoe's timeouts on every request."""
    client = default_client_factory()
    limits = timeouts()
    client.timeout = httpx2.Timeout(limits.read, connect=limits.connect)
    client.event_hooks["request"].append(_bounded)
    return client


set_client_factory(_client_with_timeouts)


@contextmanager
def hub_call(target: Target, path: str = "") -> Iterator[None]:
    """Around every operation: bounded waits, no client chatter, no secret in its logs (the
    endpoint's user-info is in every URL the HTTP client logs), failures as one-line errors."""
    _quieten_client_loggers()
    redact_logs("huggingface_hub", "httpx2", "httpcore2", "httpx", "httpcore")
    limits = timeouts()
    get_session().timeout = httpx2.Timeout(limits.read, connect=limits.connect)
    _quiet.active = True
    try:
        with hub_errors(target, path):
            yield
    finally:
        _quiet.active = False
