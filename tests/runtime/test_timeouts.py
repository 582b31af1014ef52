"""Stalled stores: an endpoint that accepts connections and never answers costs one timeout.

The store sits behind a fault proxy (tests/support/faultproxy.py) that stalls every connection;
timeouts are set to 1 s. With a warm cache the load falls back to it; with an empty cache it
fails in one line naming the source and the setting. Every wait here is bounded by a thread join,
so a regression fails instead of hanging the suite.
"""

import os
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest

from hayakoe import TTS
from hayakoe_core.errors import HayakoeError, UnreachableError
from hayakoe_core.network import timeouts
from tests.runtime.conftest import PROXIES
from tests.support.faultproxy import Fault

LIMIT_S = 60  # far above 1 s timeouts times the few requests a load makes


SHORT = {"HAYAKOE_CONNECT_TIMEOUT": "1", "HAYAKOE_READ_TIMEOUT": "1", "HAYAKOE_ATTEMPTS": "1"}


def shorten(monkeypatch) -> None:
    """1 s timeouts, one attempt. Set after warming the cache: the S3 client is shared per
    setting, so new settings also mean new connections, which meet the proxy's fault."""
    for name, value in SHORT.items():
        monkeypatch.setenv(name, value)


def within(seconds: float, work: Callable[[], object]) -> object:
    """``work()``'s result, or its exception; fails the test if it has not ended in ``seconds``."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]


def prepare(source: str, cache) -> TTS:
    """Bring the speaker and the BERT into the cache as prepare() does (models are not the point)."""
    return TTS("cpu", cache_dir=cache).load("tiny", source=source).pre_download()


def stalled(request, store: str, *, existing: bool = False) -> tuple[str, object]:
    """The source of ``store`` (a fixture name) and its proxy, now stalling."""
    source = request.getfixturevalue(store)
    proxy = request.getfixturevalue(PROXIES[store])
    proxy.set_fault(Fault.stall(), existing=existing)
    return source, proxy


@pytest.mark.parametrize("store", PROXIES)
def test_a_stalled_store_with_a_warm_cache_serves_the_cache(request, store, monkeypatch, tmp_path):
    source = request.getfixturevalue(store)
    request.getfixturevalue(PROXIES[store])
    prepare(source, tmp_path / "cache")
    _, proxy = stalled(request, store, existing=True)
    shorten(monkeypatch)
    within(LIMIT_S, lambda: prepare(source, tmp_path / "cache"))
    assert proxy.faulted >= 1


@pytest.mark.parametrize("store", PROXIES)
def test_a_stalled_store_with_an_empty_cache_fails_naming_it(request, store, monkeypatch, tmp_path):
    source, _ = stalled(request, store)
    shorten(monkeypatch)
    with pytest.raises(UnreachableError) as info:
        within(LIMIT_S, lambda: prepare(source, tmp_path / "cache"))
    message = str(info.value)
    assert source in message and "HAYAKOE_READ_TIMEOUT" in message and "\n" not in message


def test_hayakoe_say_against_a_stalled_store_is_one_line(request, tmp_path):
    s3_source, _ = stalled(request, "s3_source")
    env = {**os.environ, **SHORT}
    out = subprocess.run(
        [sys.executable, "-m", "hayakoe", "say", "はい。", "--source", s3_source, "--speaker", "tiny",
         "--cache-dir", str(tmp_path / "cache"), "-o", str(tmp_path / "out.wav")],
        capture_output=True, text=True, env=env, timeout=LIMIT_S,
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and s3_source in lines[0] and "HAYAKOE_READ_TIMEOUT" in lines[0]


def test_defaults_and_bad_settings(monkeypatch):
    for name in ("HAYAKOE_CONNECT_TIMEOUT", "HAYAKOE_READ_TIMEOUT", "HAYAKOE_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    assert (timeouts().connect, timeouts().read, timeouts().attempts) == (10, 30, 2)
    monkeypatch.setenv("HAYAKOE_READ_TIMEOUT", "2.5")
    assert timeouts().read == 2.5
    for bad in ("0", "-1", "nan", "inf", "soon"):
        monkeypatch.setenv("HAYAKOE_READ_TIMEOUT", bad)
        with pytest.raises(HayakoeError, match="HAYAKOE_READ_TIMEOUT"):
            timeouts()
    monkeypatch.setenv("HAYAKOE_READ_TIMEOUT", "5")
    monkeypatch.setenv("HAYAKOE_ATTEMPTS", "1.5")
    with pytest.raises(HayakoeError, match="HAYAKOE_ATTEMPTS"):
        timeouts()
