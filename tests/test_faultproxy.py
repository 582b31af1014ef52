"""The fault proxy itself (tests/support/faultproxy.py), in front of a real HTTP server on loopback."""

import http.server
import socket
import threading
import time

import pytest

from tests.support.faultproxy import Fault, FaultProxy

BODY = bytes(range(256)) * 40  # 10 KiB


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps connections alive, as real clients and servers do
    def do_GET(self) -> None:
        self.server.hits += 1  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.hits = 0
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream):
    with FaultProxy(("127.0.0.1", upstream.server_address[1])) as p:
        yield p


def fetch(proxy: FaultProxy, timeout: float = 5.0) -> bytes:
    """One GET through the proxy; everything received until the server or proxy closes."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def body_of(response: bytes) -> bytes:
    return response.partition(b"\r\n\r\n")[2]


def one_response(sock: socket.socket) -> bytes:
    """Read one whole response (headers and ``Content-Length`` bytes) from a kept-alive socket."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    while len(body_of(received)) < len(BODY):
        received += sock.recv(65536)
    return body_of(received)


def test_passes_traffic_through(proxy, upstream):
    assert body_of(fetch(proxy)) == BODY
    assert upstream.hits == 1 and proxy.connections == 1 and proxy.faulted == 0


def test_stall_accepts_and_never_answers(proxy, upstream):
    proxy.set_fault(Fault.stall())
    with pytest.raises(TimeoutError):
        fetch(proxy, timeout=0.5)
    assert upstream.hits == 0 and proxy.faulted == 1


def test_drop_after_n_bytes_closes_cleanly(proxy):
    proxy.set_fault(Fault.drop_after(1000))
    assert len(fetch(proxy)) == 1000


def test_reset_aborts_the_connection(proxy):
    proxy.set_fault(Fault.reset(after=100))
    with pytest.raises(ConnectionResetError):
        fetch(proxy)


def test_trickle_delivers_everything_slowly(proxy):
    proxy.set_fault(Fault.trickle(4096, 0.1))
    start = time.monotonic()
    assert body_of(fetch(proxy)) == BODY
    assert time.monotonic() - start >= 0.2  # at least three steps of 4 KiB, 0.1 s apart


def test_a_trickle_with_requests_slows_what_the_client_sends_too(proxy, upstream):
    proxy.set_fault(Fault.trickle(4096, 0.1, requests=True))
    padding = b"X-Pad: " + b"p" * 9000 + b"\r\n"  # the request takes three steps of 4 KiB
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + padding + b"Connection: close\r\n\r\n")
        time.sleep(0.15)
        assert upstream.hits == 0  # the request is still on its way
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert body_of(received) == BODY and upstream.hits == 1


def test_skip_and_count_choose_which_connections_suffer(proxy):
    proxy.set_fault(Fault.drop_after(10), skip=1, count=1)
    lengths = [len(fetch(proxy)) for _ in range(3)]
    assert lengths[0] > len(BODY) and lengths[1] == 10 and lengths[2] > len(BODY)
    assert proxy.connections == 3 and proxy.faulted == 1


def test_close_connections_makes_kept_alive_clients_meet_a_new_fault(proxy):
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as kept:
        proxy.set_fault(Fault.stall())
        for _ in range(50):
            if proxy.connections:
                break
            time.sleep(0.02)
        proxy.close_connections()
        assert kept.recv(10) == b""
    with pytest.raises(TimeoutError):
        fetch(proxy, timeout=0.5)


def test_a_stall_can_freeze_open_connections(proxy):
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=0.5) as kept:
        kept.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert one_response(kept) == BODY  # answered while passing
        proxy.set_fault(Fault.stall(), existing=True)
        kept.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(TimeoutError):
            kept.recv(65536)
    assert proxy.faulted == 1


def test_stop_ends_promptly_with_a_stalled_client_connected(upstream):
    proxy = FaultProxy(("127.0.0.1", upstream.server_address[1]), Fault.stall()).start()
    client = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    client.sendall(b"GET / HTTP/1.0\r\n\r\n")
    for _ in range(50):
        if proxy.connections:
            break
        time.sleep(0.02)
    start = time.monotonic()
    proxy.stop()
    assert time.monotonic() - start < 3
    with client, pytest.raises((ConnectionResetError, EOFError)):  # the proxy let go of it
        if client.recv(10) == b"":
            raise EOFError
