"""How long any network call may wait: one setting for every destination plugin.

Every request a plugin makes has a **connect** timeout (seconds to open the connection) and a
**read** timeout (seconds without a byte from the server, however large the transfer). A store
that accepts a connection and never answers therefore costs at most the read timeout per
attempt; the runtime then serves its cache (or fails naming the source when nothing is cached).

* ``HAYAKOE_CONNECT_TIMEOUT`` — default :data:`DEFAULT_CONNECT` (10 s);
* ``HAYAKOE_READ_TIMEOUT`` — default :data:`DEFAULT_READ` (30 s);
* ``HAYAKOE_ATTEMPTS`` — tries per request for clients that retry on their own (S3), default
  :data:`DEFAULT_ATTEMPTS` (2: one retry).

They are read at each call, so a long-running process picks up a change on its next request.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from hayakoe_core.errors import HayakoeError

CONNECT_ENV = "HAYAKOE_CONNECT_TIMEOUT"
READ_ENV = "HAYAKOE_READ_TIMEOUT"
ATTEMPTS_ENV = "HAYAKOE_ATTEMPTS"
DEFAULT_CONNECT = 10.0
DEFAULT_READ = 30.0
DEFAULT_ATTEMPTS = 2


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect, seconds to wait for the next byte, and tries per request."""

    connect: float = DEFAULT_CONNECT
    read: float = DEFAULT_READ
    attempts: int = DEFAULT_ATTEMPTS

    def describe(self) -> str:
        """How this limit is set, for messages: ``read timeout 30 s (HAYAKOE_READ_TIMEOUT)``."""
        read, connect = f"{self.read:g} s ({READ_ENV})", f"{self.connect:g} s ({CONNECT_ENV})"
        return f"read timeout {read}, connect timeout {connect}"


def timeouts() -> Timeouts:
    """The timeouts now in force (environment, else the defaults); a bad value is a HayakoeError."""
    return Timeouts(
        connect=_number(CONNECT_ENV, DEFAULT_CONNECT, whole=False),
        read=_number(READ_ENV, DEFAULT_READ, whole=False),
        attempts=int(_number(ATTEMPTS_ENV, DEFAULT_ATTEMPTS, whole=True)),
    )


def _number(name: str, default: float, *, whole: bool) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0 or (whole and value != int(value)):
        kind = "a whole number ≥ 1" if whole else "a number of seconds > 0"
        raise HayakoeError(f"{name}={raw!r} is not {kind}: fix or unset it")
    return value
