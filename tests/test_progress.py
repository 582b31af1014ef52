"""Progress: plain lines for long steps without a terminal, and bars that stop workers on Ctrl-C."""

import io
import subprocess
import sys

from hayakoe_core.progress import PlainProgress


def test_plain_lines_for_a_long_step():
    out = io.StringIO()
    with PlainProgress(out, after=0, every=0).bar("download s3://b/x", 2_000_000) as bar:
        bar.advance(500_000)
        bar.advance(1_500_000)
    lines = out.getvalue().splitlines()
    assert lines[0] == "download s3://b/x: 0.5 MB of 2.0 MB (25%)"
    assert lines[-1].startswith("download s3://b/x: 2.0 MB of 2.0 MB (100%), done in ")


def test_a_quick_step_prints_nothing():
    out = io.StringIO()
    with PlainProgress(out).bar("download s3://b/x", 10) as bar:
        bar.advance(10)
    assert out.getvalue() == ""


_CTRL_C_SCRIPT = """
import os, signal, threading, time
from hayakoe_core.errors import Interrupted
from hayakoe_core.progress import NullProgress, interruptible

seen = []

def worker(bar):
    try:
        for _ in range(500):  # bounded: 5 s at most
            bar.advance(1)
            time.sleep(0.01)
    except Interrupted as exc:
        seen.append(exc)

try:
    with interruptible(NullProgress()) as wrapped, wrapped.bar("download", 100) as bar:
        thread = threading.Thread(target=worker, args=(bar,))
        thread.start()
        time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # the handler raises here, in the main thread
    print("no KeyboardInterrupt")
except KeyboardInterrupt:
    thread.join(5)
    restored = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    print(f"alive={thread.is_alive()} seen={len(seen)} restored={restored}")
"""


def test_ctrl_c_reaches_worker_threads_through_their_bars():
    # In a process of its own: SIGINT goes to the main thread, which a pytest worker may not run
    # tests in, and a stray one would kill the worker.
    out = subprocess.run([sys.executable, "-c", _CTRL_C_SCRIPT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "alive=False seen=1 restored=True"


_IGNORED_SCRIPT = """
import os, signal, time
from hayakoe_core.progress import NullProgress, interruptible

signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a background job
with interruptible(NullProgress()) as wrapped, wrapped.bar("download", 100) as bar:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.2)
    bar.advance(1)  # raises Interrupted if the ignored signal stopped the bars
print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
"""


def test_a_ctrl_c_the_process_ignores_stops_nothing():
    out = subprocess.run([sys.executable, "-c", _IGNORED_SCRIPT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
