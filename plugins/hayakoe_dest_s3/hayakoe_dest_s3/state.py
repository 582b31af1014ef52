"""The state object ``<prefix>/.hayakoe/state.json``: the destination's version and its lease.

One small JSON object holds both:

* ``token`` (random hex, new with every change of the live content) and ``generation`` (a
  counter, for people): the :class:`~hayakoe_core.types.DestinationState` promotes compare against.
  No object means nothing was ever promoted (``DestinationState("")``).
* ``lease``, present while someone changes the live content: who (``holder``), what (the
  ``staging`` area being promoted, or the speaker folder being ``deleting``), the ``token`` that
  change will set, and for how many ``seconds`` it lasts without renewal.

Every write of the object is conditional on the ETag read just before (``If-Match``, or
``If-None-Match: *`` when there is no object yet), so of two writers that read the same version
exactly one succeeds: the store refuses the other (412, or 409 ``ConditionalRequestConflict``
on AWS under races). Every write also carries a fresh random ``write`` field, so two writes never
have the same bytes and hence never the same ETag.

A lease is **held** while it is not ``broken`` and the store's clock (the ``Date`` of the GET that
read it) is before the object's ``LastModified`` plus ``seconds``: both times come from the store,
so publishers' clocks do not matter. The holder rewrites the object every ``seconds / 4``
(:class:`Held`), so only a holder that died or stalled lets it lapse. A lapsed or broken lease is
**abandoned**: the next writer takes it over (conditionally, so only one does) and first finishes
the abandoned work (:mod:`hayakoe_dest_s3.promote`).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from hayakoe_core.errors import ConflictError, HayakoeError
from hayakoe_core.types import DestinationState, Target
from hayakoe_dest_s3.hidden import STATE

FORMAT = "hayakoe-s3-state"
VERSION = 1
LEASE_ENV = "HAYAKOE_S3_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 120
_ATTEMPTS = 4
_SETTLE_POLL = 0.25
# LastModified and Date are whole seconds: a lease is judged lapsed a second late, never early.
_CLOCK_RESOLUTION = timedelta(seconds=1)


@dataclass(frozen=True)
class Lease:
    """Who is changing the live content, what they are doing, and the token they will set."""

    holder: str
    token: str
    seconds: float
    since: str
    staging: str | None = None
    deleting: str | None = None
    broken: bool = False


@dataclass(frozen=True)
class StateDoc:
    """The content of the state object."""

    token: str = ""
    generation: int = 0
    lease: Lease | None = None

    def state(self) -> DestinationState:
        return DestinationState(self.token, f"generation {self.generation}" if self.token else "")

    def to_json(self) -> bytes:
        doc: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "token": self.token,
            "generation": self.generation,
            "lease": asdict(self.lease) if self.lease else None,
            "written": _now().isoformat(timespec="seconds"),
            "write": uuid.uuid4().hex,  # no two writes share bytes, hence an ETag
        }
        return json.dumps(doc, indent=1).encode()

    @classmethod
    def parse(cls, data: bytes, where: str) -> StateDoc:
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT or int(doc["version"]) > VERSION:
                raise ValueError(f"not a {FORMAT} version {VERSION} document")
            lease = doc.get("lease")
            return cls(str(doc["token"]), int(doc["generation"]), Lease(**lease) if lease else None)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise HayakoeError(
                f"{where} is unreadable ({exc}); restore it, or delete it to start the "
                "destination's history over"
            ) from None


@dataclass(frozen=True)
class Seen:
    """The state object as one GET saw it: its content, its ETag (``None``: no object), when its
    lease lapses and the time then, both by the store's clock."""

    doc: StateDoc
    etag: str | None
    now: datetime
    lapses: datetime | None = None

    @property
    def held(self) -> bool:
        """Someone is changing the live content right now."""
        lease = self.doc.lease
        return lease is not None and not lease.broken and self.lapses is not None and self.now < self.lapses

    @property
    def abandoned(self) -> bool:
        """A lease whose holder died, stalled or was unlocked: its work is unfinished."""
        return self.doc.lease is not None and not self.held


def unchanged_between(before: Seen, after: Seen) -> bool:
    """Whether no change of the live content can have happened between two reads: the same
    version, and no lease held at either (a change holds the lease from before its first write
    until it releases it with a new token)."""
    return not (before.held or after.held) and before.doc.token == after.doc.token


def settled(client: Any, target: Target, wait: float) -> Seen:
    """The state object once no lease is held, polling for at most ``wait`` seconds (a reader
    waiting out a promote); as it is then, held or not."""
    deadline = time.monotonic() + wait
    seen = read(client, target)
    while seen.held and time.monotonic() < deadline:
        time.sleep(_SETTLE_POLL)
        seen = read(client, target)
    return seen


class ConditionFailed(Exception):
    """A conditional write of the state object was refused; ``transient`` for AWS's 409
    ConditionalRequestConflict (retry), else the object changed since it was read (412)."""

    def __init__(self, transient: bool) -> None:
        super().__init__("transient" if transient else "changed")
        self.transient = transient


def _now() -> datetime:
    return datetime.now(UTC)


def _server_time(response: dict[str, Any]) -> datetime:
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        return parsedate_to_datetime(date).astimezone(UTC)
    except (TypeError, ValueError):
        return _now()


def _where(target: Target) -> str:
    return f"s3://{target.location}/{target.join(STATE)}"


def read(client: Any, target: Target) -> Seen:
    """The state object now (one GET)."""
    try:
        response = client.get_object(Bucket=target.location, Key=target.join(STATE))
    except client.exceptions.NoSuchKey as exc:
        return Seen(StateDoc(), None, _server_time(exc.response))
    doc = StateDoc.parse(response["Body"].read(), _where(target))
    lapses = None
    if doc.lease is not None:
        lapses = response["LastModified"].astimezone(UTC) + timedelta(seconds=doc.lease.seconds)
        lapses += _CLOCK_RESOLUTION
    return Seen(doc, response["ETag"], _server_time(response), lapses)


def write(client: Any, target: Target, doc: StateDoc, etag: str | None) -> str:
    """Replace the state object with ``doc`` if its ETag is still ``etag`` (``None``: if there is
    none); returns the new ETag, or raises :class:`ConditionFailed`."""
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    try:
        response = client.put_object(
            Bucket=target.location,
            Key=target.join(STATE),
            Body=doc.to_json(),
            ContentType="application/json",
            **condition,
        )
    except client.exceptions.ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = exc.response.get("Error", {}).get("Code")
        if status == 409 or code == "ConditionalRequestConflict":
            raise ConditionFailed(transient=True) from None
        if status in (404, 412) or code in ("PreconditionFailed", "NoSuchKey"):
            raise ConditionFailed(transient=False) from None
        raise
    return response["ETag"]


def lease_seconds() -> float:
    """How long a lease lasts without renewal: ``HAYAKOE_S3_LEASE_SECONDS``, default 120."""
    raw = os.environ.get(LEASE_ENV, "").strip()
    try:
        seconds = float(raw) if raw else DEFAULT_LEASE_SECONDS
    except ValueError:
        seconds = -1
    if not 0 < seconds <= 86400:
        raise HayakoeError(f"{LEASE_ENV} must be a number of seconds between 1 and 86400, not {raw!r}")
    return seconds


def new_lease(token: str, *, staging: str | None = None, deleting: str | None = None) -> Lease:
    """A lease for this process, to set ``token`` by promoting ``staging`` or deleting a folder."""
    holder = f"pid {os.getpid()} on {socket.gethostname()}"
    since = _now().isoformat(timespec="seconds")
    return Lease(holder, token, lease_seconds(), since, staging=staging, deleting=deleting)


def describe(lease: Lease) -> str:
    """The lease for people: who, doing what, since when."""
    what = f"promoting staging {lease.staging}" if lease.staging else f"deleting {lease.deleting}"
    return f"{lease.holder}, {what}, since {lease.since}"


def busy(target: Target, seen: Seen) -> ConflictError:
    """The error for a destination whose lease someone holds."""
    lease = seen.doc.lease
    who = describe(lease) if lease else "another publisher"
    seconds = f"{lease.seconds:g}" if lease else "?"
    return ConflictError(
        f"another publish to {target} is in progress ({who}); run again when it has finished "
        f"(a publisher that died lets go after {seconds} s without renewal; unlocking breaks it now)",
        busy=True,
    )


class Held:
    """A lease this process holds: renewed in a background thread until released.

    ``touch()`` marks the first change a reader can see; from then on a failure leaves the lease
    ``broken`` (the next writer finishes the work) instead of giving it back unused.
    """

    def __init__(self, client: Any, target: Target, doc: StateDoc, etag: str) -> None:
        self._client, self._target, self._doc, self._etag = client, target, doc, etag
        self._stop = threading.Event()
        self.lost = False
        self.touched = False
        assert doc.lease is not None
        self._thread = threading.Thread(
            target=self._renew_loop, args=(doc.lease.seconds / 4,), name="hayakoe-s3-lease", daemon=True
        )
        self._thread.start()

    def _renew_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self._etag = write(self._client, self._target, self._doc, self._etag)
            except ConditionFailed as exc:
                self.lost = not exc.transient
            except Exception:  # the network: try again next time, the lease outlasts 3 misses
                pass
            if self.lost:
                return

    def touch(self) -> None:
        self.touched = True

    def check(self) -> None:
        """Raise if the lease was taken over (unlocked, or lapsed while this process stalled)."""
        if self.lost:
            raise HayakoeError(
                f"lost the publish lease on {self._target} (it was unlocked, or lapsed while this "
                "process stalled): the next publish finishes this one; run it again to be sure"
            )

    def _stop_renewing(self) -> None:
        self._stop.set()
        self._thread.join()

    def release(self, done: StateDoc) -> None:
        """Write ``done`` (the new state, no lease) in place of the lease."""
        self._stop_renewing()
        self.check()
        for attempt in range(_ATTEMPTS):
            try:
                write(self._client, self._target, done, self._etag)
                return
            except ConditionFailed as exc:
                if exc.transient:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                # Taken over at the last moment: whoever took it finished this very work.
                if read(self._client, self._target).doc.token == done.token:
                    return
                self.lost = True
                self.check()
        raise ConflictError(f"{self._target}: the store kept refusing to release the lease", busy=True)

    def abandon(self, before: StateDoc) -> None:
        """After a failure: give the lease back (state ``before``) if nothing visible changed,
        else mark it broken so that the next writer finishes the work. Best effort: if this
        fails too, the lease lapses."""
        self._stop_renewing()
        if self.lost:
            return
        assert self._doc.lease is not None
        doc = replace(self._doc, lease=replace(self._doc.lease, broken=True)) if self.touched else before
        with suppress(Exception):  # already failing: the original error is the one to report
            write(self._client, self._target, doc, self._etag)


def exclusive(
    client: Any, target: Target, seen: Seen, lease: Lease, work: Callable[[Held], None]
) -> StateDoc:
    """Claim ``lease`` over the state ``seen``, run ``work``, and release it with the lease's
    token as the new state; returns that state. :class:`ConflictError` (busy) if another writer
    claimed first."""
    try:
        etag = write(client, target, replace(seen.doc, lease=lease), seen.etag)
    except ConditionFailed:
        now = read(client, target)
        if now.held:
            raise busy(target, now) from None
        raise ConflictError(
            f"another publisher changed {target} at the same moment; run again", busy=True
        ) from None
    held = Held(client, target, replace(seen.doc, lease=lease), etag)
    try:
        work(held)
        held.check()
    except BaseException:
        held.abandon(seen.doc)
        raise
    done = StateDoc(lease.token, seen.doc.generation + 1)
    held.release(done)
    return done


def unlock(client: Any, target: Target) -> str | None:
    """Break the lease someone holds (its work is finished by the next writer); what was broken,
    or ``None`` if nobody held it."""
    for _ in range(_ATTEMPTS):
        seen = read(client, target)
        lease = seen.doc.lease
        if lease is None or not seen.held:
            return None
        try:
            write(client, target, replace(seen.doc, lease=replace(lease, broken=True)), seen.etag)
        except ConditionFailed:
            continue
        return f"broke the publish lease of {describe(lease)}; the next publish to {target} finishes its work"
    raise ConflictError(f"the publish lease on {target} kept changing while unlocking; run again", busy=True)
