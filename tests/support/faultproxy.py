"""A TCP proxy on 127.0.0.1 that misbehaves on request: the network faults the runtime must survive.

Put it in front of a real server (the Hub test server, SeaweedFS) and point the client at
:attr:`FaultProxy.url`; then choose what the next connections suffer::

    with FaultProxy(("127.0.0.1", s3_port)) as proxy:
        env["AWS_ENDPOINT_URL_S3"] = proxy.url
        proxy.set_fault(Fault.stall())                 # accept, then never answer
        proxy.set_fault(Fault.drop_after(1000))        # close cleanly after 1000 response bytes
        proxy.set_fault(Fault.trickle(64, 0.05))       # 64 response bytes every 50 ms
        proxy.set_fault(Fault.trickle(4096, 0.05, requests=True))  # uploads trickle too
        proxy.set_fault(Fault.reset(after=0))          # TCP RST (after N response bytes)
        proxy.set_fault(Fault.stall(), skip=2)         # the first two connections pass, later ones stall
        proxy.set_fault(Fault.drop_after(0), count=1)  # only the next connection is dropped
        proxy.set_fault(Fault.rewrite(b"_x_", b"../"))  # a hostile server: same-length edits

A fault applies to connections accepted after it is set; ``skip`` lets that many through first
and ``count`` limits how many suffer it (then traffic passes again). Clients keep connections
alive between requests, so a stall can also freeze the open ones (``existing=True``: no further
response byte on them), and :meth:`FaultProxy.close_connections` closes them. Faults act on the response
direction (server → client); requests are always forwarded whole, so the server sees them (a
trickle with ``requests=True`` slows them too: an upload stays in flight as long as a test needs).

Every socket operation has a timeout and every loop checks the stop flag, so :meth:`stop` (or
leaving the ``with`` block) ends all threads within about a second, stalled clients included.
:attr:`connections` counts accepted connections and :attr:`faulted` those that met a fault
(an open connection frozen by a stall counts once it sends a request).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass
from types import TracebackType

_TICK = 0.1  # seconds between stop-flag checks in every blocking loop
_CHUNK = 64 * 1024
_UPSTREAM_CONNECT_S = 5.0
_JOIN_S = 2.0


@dataclass(frozen=True)
class Fault:
    """What a connection suffers. Build with the class methods."""

    kind: str = "pass"  # pass | stall | drop | trickle | reset | rewrite
    after: int = 0  # drop/reset: response bytes forwarded first
    chunk: int = 0  # trickle: bytes per step
    interval: float = 0.0  # trickle: seconds between steps
    requests: bool = False  # trickle: the request direction (client → server) too
    old: bytes = b""  # rewrite: what to replace in each response chunk ...
    new: bytes = b""  # ... and by what (the same length, so Content-Length stays true)

    @classmethod
    def passthrough(cls) -> Fault:
        return cls()

    @classmethod
    def stall(cls) -> Fault:
        """Accept the connection, read the request, never answer (and never reach the server)."""
        return cls("stall")

    @classmethod
    def drop_after(cls, n: int) -> Fault:
        """Forward ``n`` response bytes, then close both sides cleanly (FIN)."""
        return cls("drop", after=n)

    @classmethod
    def trickle(cls, chunk: int, interval: float, *, requests: bool = False) -> Fault:
        """Forward the response (and with ``requests`` the request too) ``chunk`` bytes at a
        time, ``interval`` seconds apart."""
        return cls("trickle", chunk=max(1, chunk), interval=interval, requests=requests)

    @classmethod
    def reset(cls, after: int = 0) -> Fault:
        """Forward ``after`` response bytes, then abort the connection with a TCP RST."""
        return cls("reset", after=after)

    @classmethod
    def rewrite(cls, old: bytes, new: bytes) -> Fault:
        """Replace ``old`` by ``new`` in every response chunk: a server that answers what the
        real one never would (e.g. a listing with ``../`` keys). Both must have the same length;
        a pattern split between two chunks is missed, so keep the response it is in small."""
        if len(old) != len(new) or not old:
            raise ValueError("rewrite needs a non-empty pattern and a replacement of the same length")
        return cls("rewrite", old=old, new=new)


class FaultProxy:
    """A threaded TCP proxy from :attr:`url` to ``upstream`` (see the module docstring).

    ``upstream`` may be ``None`` when only ``stall`` faults are used (nothing is forwarded).
    ``port`` is the port to listen on (0: a free one), for clients configured before it starts.
    """

    def __init__(
        self, upstream: tuple[str, int] | None, fault: Fault | None = None, *, port: int = 0
    ) -> None:
        self.upstream = upstream
        self._lock = threading.Lock()
        self._fault = fault or Fault()
        self._skip = 0
        self._count: int | None = None
        self._stop = threading.Event()
        self._frozen = threading.Event()  # open connections forward no more responses
        self._threads: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.connections = 0
        self.faulted = 0
        self.port = port

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(_TICK)
        self._listener, self.port = listener, listener.getsockname()[1]
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        """Close everything and join the threads (bounded)."""
        self._stop.set()
        self.close_connections()
        deadline = time.monotonic() + _JOIN_S
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the address clients should use instead of the server's."""
        return f"http://127.0.0.1:{self.port}"

    def set_fault(
        self, fault: Fault, *, skip: int = 0, count: int | None = None, existing: bool = False
    ) -> None:
        """Apply ``fault`` to new connections after letting ``skip`` through, to ``count`` of them;
        with ``existing`` (stalls only) the open connections stop answering too."""
        if existing and fault.kind != "stall":
            raise ValueError("only a stall can be applied to open connections")
        with self._lock:
            self._fault, self._skip, self._count = fault, skip, count
        if existing:
            self._frozen.set()
        else:
            self._frozen.clear()

    def close_connections(self) -> None:
        """Close every open connection (both sides, cleanly); the listener keeps accepting."""
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            self._release(sock)

    # --- internals --------------------------------------------------------------------------------

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> socket.socket:
        sock.settimeout(_TICK)
        with self._lock:
            self._sockets.add(sock)
        return sock

    def _next_fault(self) -> Fault:
        with self._lock:
            self.connections += 1
            if self._skip > 0:
                self._skip -= 1
                return Fault()
            if self._count is not None:
                if self._count <= 0:
                    return Fault()
                self._count -= 1
            if self._fault.kind != "pass":
                self.faulted += 1
            return self._fault

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._spawn(self._serve, self._track(client), self._next_fault())

    def _serve(self, client: socket.socket, fault: Fault) -> None:
        if fault.kind == "stall" or self.upstream is None:
            self._drain(client)
            self._release(client)
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=_UPSTREAM_CONNECT_S)
        except OSError:
            self._release(client, abort=True)
            return
        self._track(upstream)
        self._spawn(self._pump_requests, client, upstream, fault if fault.requests else Fault())
        self._pump_responses(upstream, client, fault)

    def _drain(self, sock: socket.socket) -> None:
        """Read and discard until the peer closes or the proxy stops; never send."""
        while not self._stop.is_set():
            try:
                if not sock.recv(_CHUNK):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def _pump_requests(self, client: socket.socket, upstream: socket.socket, fault: Fault) -> None:
        counted = False
        while not self._stop.is_set():
            try:
                data = client.recv(_CHUNK)
            except TimeoutError:
                continue
            except OSError:
                break
            if data and self._frozen.is_set() and not counted:
                with self._lock:
                    self.faulted += 1
                counted = True
            if not data or not self._deliver(upstream, data, fault):
                break
        _shutdown_write(upstream)

    def _pump_responses(self, upstream: socket.socket, client: socket.socket, fault: Fault) -> None:
        sent = 0
        while not self._stop.is_set():
            if fault.kind in ("drop", "reset") and sent >= fault.after:
                break
            try:
                data = upstream.recv(_CHUNK)
            except TimeoutError:
                continue
            except OSError:
                break
            while self._frozen.is_set() and not self._stop.is_set():  # hold it back while frozen
                self._stop.wait(_TICK)
            if not data:
                _shutdown_write(client)
                self._drain(client)
                break
            if fault.kind in ("drop", "reset"):
                data = data[: fault.after - sent]
            if fault.kind == "rewrite":
                data = data.replace(fault.old, fault.new)
            if not self._deliver(client, data, fault):
                break
            sent += len(data)
        self._release(client, abort=fault.kind == "reset")
        self._release(upstream)

    def _deliver(self, to: socket.socket, data: bytes, fault: Fault) -> bool:
        if fault.kind != "trickle":
            return self._send(to, data)
        for start in range(0, len(data), fault.chunk):
            if self._stop.wait(fault.interval) or not self._send(to, data[start : start + fault.chunk]):
                return False
        return True

    def _release(self, sock: socket.socket, *, abort: bool = False) -> None:
        """Close ``sock`` (with a TCP RST when ``abort``) and stop tracking it."""
        with self._lock:
            self._sockets.discard(sock)
        try:
            if abort:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        except OSError:
            pass

    def _send(self, sock: socket.socket, data: bytes) -> bool:
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                view = view[sock.send(view) :]
            except TimeoutError:
                continue
            except OSError:
                return False
        return not view


def _shutdown_write(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)

