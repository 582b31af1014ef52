"""pytest fixtures for the Hub test server (see tests/support/hubserver.py).

``huggingface_hub`` reads ``HF_ENDPOINT``, ``HF_HOME``, ``HF_HUB_DISABLE_XET`` … once, when it is
first imported. This module is loaded by ``pytest_plugins`` in tests/conftest.py, before any test
module imports the client, so it points the whole test process (and any subprocess it starts) at
a test server on a port chosen now, with an empty ``HF_HOME`` and no token from the user's
environment. Each xdist worker imports it separately and so gets its own server.

* ``hub_server`` (session): the running :class:`HubServer` on that port.
* ``hub`` (function): the same server with a fresh request log and no faults, ``HF_TOKEN`` set to
  :data:`WRITE_TOKEN` and an empty ``HF_HUB_CACHE``.
* ``hub_repo``: a fresh repo id under :data:`USER` (not created).
* ``hub_proxy``: ``hub`` reached through a :class:`FaultProxy` (``HF_ENDPOINT`` and the client's
  endpoint point at the proxy, which passes traffic until told otherwise).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator

import pytest

from tests.support.faultproxy import FaultProxy
from tests.support.hubserver import HubServer

USER = "alice"
WRITE_TOKEN = "hf_test_alice_write"
READ_TOKEN = "hf_test_alice_read"
OTHER_TOKEN = "hf_test_bob_write"
TOKENS = {WRITE_TOKEN: (USER, "write"), READ_TOKEN: (USER, "read"), OTHER_TOKEN: ("bob", "write")}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _configure_environment() -> int:
    """Point huggingface_hub at the test server before it is imported; returns the port."""
    port = _free_port()
    hf_home = tempfile.mkdtemp(prefix="hayakoe-hf-home-")
    atexit.register(shutil.rmtree, hf_home, True)
    for key in ("HF_TOKEN", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_HUB_DISABLE_IMPLICIT_TOKEN"):
        os.environ.pop(key, None)
    os.environ.update(
        HF_ENDPOINT=f"http://127.0.0.1:{port}",
        HF_HOME=hf_home,
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
    )
    return port


HUB_PORT = _configure_environment()


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    from huggingface_hub import constants

    with HubServer(tmp_path_factory.mktemp("hub"), TOKENS, port=HUB_PORT) as server:
        assert server.url == constants.ENDPOINT, (
            "huggingface_hub was imported before tests/support/hub_fixtures.py set HF_ENDPOINT"
        )
        yield server


@pytest.fixture
def hub(
    hub_server: HubServer, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> HubServer:
    from huggingface_hub import constants

    cache = str(tmp_path_factory.mktemp("hf-cache"))
    monkeypatch.setenv("HF_TOKEN", WRITE_TOKEN)
    monkeypatch.setenv("HF_HUB_CACHE", cache)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", cache)
    hub_server.clear_log()
    hub_server.set_faults([])
    return hub_server


@pytest.fixture
def hub_repo() -> str:
    return f"{USER}/voices-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def hub_proxy(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    from huggingface_hub import constants

    with FaultProxy(("127.0.0.1", HUB_PORT)) as proxy:
        monkeypatch.setenv("HF_ENDPOINT", proxy.url)
        monkeypatch.setattr(constants, "ENDPOINT", proxy.url)
        yield proxy
