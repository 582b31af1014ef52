"""Ctrl-C during a download stops it at once; a killed download's temporary files are removed by
the next run; without a terminal a long download reports plain progress lines.

The store sits behind a fault proxy that trickles responses, so a download of the tiny speaker
takes seconds and can be interrupted in the middle: about 1 MB/s, and 0.3 MB/s where Ctrl-C must
beat the files in flight (its 4 MB graph then takes ~13 s; before, Ctrl-C waited for it).
"""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hayakoe import TTS
from tests.support.faultproxy import Fault

TRICKLE = Fault.trickle(16 * 1024, 0.015)
CRAWL = Fault.trickle(16 * 1024, 0.05)
STOP_WITHIN_S = 3  # the requirement is 1-2 s (measured 0.6-1.2 s); the margin is for a busy machine


def downloading(source: str, cache: Path) -> subprocess.Popen:
    """A child process fetching ``source``'s speaker (no model loaded), stderr captured; SIGUSR1
    makes it print every thread's stack."""
    code = (
        "import faulthandler, signal\n"
        "faulthandler.register(signal.SIGUSR1, all_threads=True)\n"
        "from hayakoe import TTS\n"
        f"TTS('cpu', cache_dir={str(cache)!r}).load('tiny', source={source!r}).pre_download()\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)


def temporaries(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.name.endswith((".tmp", ".incomplete"))]


def wait_for_temporaries(child: subprocess.Popen, cache: Path, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not temporaries(cache):
        assert child.poll() is None, child.stderr.read()
        assert time.monotonic() < deadline, "the download never started"
        time.sleep(0.05)


@pytest.mark.parametrize("store", ["s3", "hf"])
def test_ctrl_c_stops_a_download_at_once_and_leaves_no_temporaries(request, store, tmp_path):
    source = request.getfixturevalue(f"{store}_source")
    request.getfixturevalue(f"{'s3' if store == 's3' else 'hub'}_proxy").set_fault(CRAWL)
    cache = tmp_path / "cache"
    child = downloading(source, cache)
    wait_for_temporaries(child, cache)
    start = time.monotonic()
    child.send_signal(signal.SIGINT)
    try:
        child.wait(STOP_WITHIN_S)
    except subprocess.TimeoutExpired:  # what was it doing? (its threads' stacks, then its stderr)
        child.send_signal(signal.SIGUSR1)
        time.sleep(1)
        child.kill()
        raise AssertionError(f"still running after Ctrl-C:\n{child.stderr.read()}") from None
    finally:
        child.kill()
    elapsed = time.monotonic() - start
    print(f"{store}: stopped {elapsed:.2f} s after Ctrl-C; left {temporaries(cache)}")
    assert child.returncode != 0 and "KeyboardInterrupt" in child.stderr.read()
    assert elapsed < STOP_WITHIN_S
    if store == "s3":  # the workers stopped and cleaned up after themselves
        assert temporaries(cache) == []


@pytest.mark.parametrize("store", ["s3", "hf"])
def test_the_next_run_removes_a_killed_downloads_temporaries(request, store, tmp_path):
    source = request.getfixturevalue(f"{store}_source")
    proxy = request.getfixturevalue(f"{'s3' if store == 's3' else 'hub'}_proxy")
    proxy.set_fault(TRICKLE)
    cache = tmp_path / "cache"
    child = downloading(source, cache)
    wait_for_temporaries(child, cache)
    child.kill()
    child.wait(30)
    print(f"{store}: killed, left {[p.name for p in temporaries(cache)]}")
    assert temporaries(cache)
    proxy.set_fault(Fault.passthrough())
    TTS("cpu", cache_dir=cache).load("tiny", source=source).pre_download()
    assert temporaries(cache) == []


def test_a_long_download_without_a_terminal_prints_plain_lines(s3_source, s3_proxy, tmp_path):
    s3_proxy.set_fault(TRICKLE)
    child = downloading(s3_source, tmp_path / "cache")
    _, stderr = child.communicate(timeout=300)
    assert child.returncode == 0, stderr
    lines = stderr.strip().splitlines()
    assert lines and all(line.startswith(f"download {s3_source}/") for line in lines), stderr
    assert any("%)" in line for line in lines) and lines[-1].endswith(" s")
    assert "\x1b[" not in stderr  # no terminal control codes
