"""Ctrl-C (SIGINT) and SIGKILL of a real ``hayakoe publish`` at each phase, on each destination.

The signal is sent once the phase's line is printed (tests/support/publisher.py); on network
destinations the link is slowed to a trickle from the phase on (a fault proxy), so the signal
lands inside it: mid-upload at staging (uploads trickle too, and the signal comes a second into
them), inside the promote's requests at promote. Whatever happens, readers see the old ``tiny`` or
the new one whole, every other file byte-identical; Ctrl-C is answered within
:data:`STOP_WITHIN_S` by a line saying the publish was interrupted, and ends the command with
exit 130 and a last line saying re-running is safe; then the same command succeeds and leaves
no staging area, lease or ledger record behind.

One representative case runs by default; the whole matrix is ``-m slow``.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.publish.faults.scene import make_scene
from tests.support.faultproxy import Fault, FaultProxy
from tests.support.publisher import PHASES, VERIFIED, Publisher, run_publish

FAST = {("local", "promote", "SIGKILL")}
#: From Ctrl-C to the publisher's first "interrupted: " line (its transfers stopped; after
#: staging it says it is removing the staging area, then ends with "... again is safe"): the
#: requirement is a second or two; the margin is for the shared, busy machine running the suite.
STOP_WITHIN_S = 3.0
#: From Ctrl-C to the end of the process, the removal of the staging area over a trickling link
#: and the exit included.
EXIT_WITHIN_S = 30.0
INTERRUPTED = r"^interrupted: "
#: The link while staging: 80 kB/s each way, so an upload of the tiny model takes a minute.
SLOW_UPLOAD = Fault.trickle(4096, 0.05, requests=True)


def _marks(case: tuple[str, str, str]) -> list[pytest.MarkDecorator]:
    return [] if case in FAST else [pytest.mark.slow]


def _cases() -> list[object]:
    return [
        pytest.param(kind, phase, sig, marks=_marks((kind, phase, sig)))
        for kind in ("local", "s3", "hf")
        for phase in PHASES
        for sig in ("SIGINT", "SIGKILL")
    ]


@pytest.mark.parametrize(("kind", "phase", "sig"), _cases())
def test_a_signal_at_each_phase_loses_nothing_and_a_rerun_finishes(
    kind: str, phase: str, sig: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    proxy: FaultProxy | None = None
    if kind != "local":
        proxy = request.getfixturevalue("s3_proxy" if kind == "s3" else "hub_proxy")
    scene = make_scene(kind, request, tmp_path)
    # An S3 publisher SIGKILLed while promoting holds the lease until it lapses (test_recovery.py).
    env = scene.env(HAYAKOE_S3_LEASE_SECONDS="5")

    if proxy is not None and phase == "staging":
        # from the publisher's first request on: closing kept-alive connections instead could cut
        # a request in flight, a network error of its own (seen on the Hub: exit 1, not 130)
        proxy.set_fault(SLOW_UPLOAD)
    with Publisher(scene.args(), env=env, cwd=tmp_path) as pub:
        if proxy is not None and phase == "promote":
            pub.wait_for(VERIFIED)
            proxy.set_fault(Fault.trickle(64, 0.05))
            proxy.close_connections()  # kept-alive connections meet the trickle too
        pub.wait_for(phase)
        if proxy is not None and phase == "staging":
            time.sleep(1.0)  # the upload is under way
        sent = time.monotonic()
        pub.kill(getattr(signal, sig))
        stopped = _answered(pub, sent) if sig == "SIGINT" else None
        killed = pub.finish(EXIT_WITHIN_S)
        took = time.monotonic() - sent
        assert pub.group_gone(30), "a process the publisher started outlived it"
    if proxy is not None:
        proxy.set_fault(Fault.passthrough())

    finished_first = killed.returncode == 0 and phase == "promote"  # the signal came too late
    if sig == "SIGKILL":
        assert killed.returncode in (-signal.SIGKILL, *((0,) if finished_first else ())), killed.stderr
    elif not finished_first:
        assert killed.returncode == 130, killed.stderr
        assert "interrupted" in killed.last_line() and "again is safe" in killed.last_line()
        assert "Traceback" not in killed.stderr
        assert stopped is not None, killed.stderr
        print(f"Ctrl-C {kind} {phase}: answered in {stopped:.2f} s, exited in {took:.2f} s")
        assert took < EXIT_WITHIN_S, f"Ctrl-C took {took:.1f} s to end the command"
    scene.assert_old_or_new()

    rerun = run_publish(scene.args(), env=env, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    scene.assert_published()


def _answered(pub: Publisher, sent: float) -> float | None:
    """Seconds from Ctrl-C (sent at ``sent``) to the publisher's line saying it was interrupted;
    None if it ended without one (it finished first). Fails, showing where every thread of the
    publisher was, if the line is not printed within :data:`STOP_WITHIN_S`."""
    while (at := pub.printed_at(INTERRUPTED, sent)) is None and pub.running():
        if time.monotonic() - sent > STOP_WITHIN_S:
            threads = pub.stacks()
            pytest.fail(f"Ctrl-C not answered within {STOP_WITHIN_S:g} s; its threads:\n{threads}")
        time.sleep(0.02)
    if at is None:
        pub.finish(EXIT_WITHIN_S)  # every line it printed read
        at = pub.printed_at(INTERRUPTED, sent)
    if at is None:
        return None
    assert at - sent < STOP_WITHIN_S, f"Ctrl-C answered after {at - sent:.1f} s"
    return at - sent
