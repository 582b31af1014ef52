"""Ctrl-C (SIGINT) and SIGKILL of a real ``hayakoe publish`` at each phase, on each destination.

The signal is sent once the phase's line is printed (tests/support/publisher.py); on network
destinations the link is slowed to a trickle from the phase on (a fault proxy), so the signal
lands inside it. Whatever happens, readers see the old ``tiny`` or the new one whole, every other
file byte-identical; Ctrl-C ends the command with exit 130 and a line saying re-running is safe;
then the same command succeeds and leaves no staging area, lease or ledger record behind.

One representative case runs by default; the whole matrix is ``-m slow``.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.publish.faults.scene import make_scene
from tests.support.faultproxy import Fault, FaultProxy
from tests.support.publisher import PHASES, Publisher, run_publish

FAST = {("local", "promote", "SIGKILL")}
#: The longest a Ctrl-C may take to end the command here, discarding the staging area through a
#: trickling link included (the machine running the suite is shared and busy).
CTRL_C_BOUND_S = 30.0
#: The line saying the staged speaker spoke (the last before the promote's).
VERIFIED = r"verify: (?!loading)"


def _cases() -> list[object]:
    return [
        pytest.param(kind, phase, sig, marks=() if (kind, phase, sig) in FAST else pytest.mark.slow)
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

    with Publisher(scene.args(), env=env, cwd=tmp_path) as pub:
        if proxy is not None and phase in ("staging", "promote"):
            pub.wait_for("hashing" if phase == "staging" else VERIFIED)
            proxy.set_fault(Fault.trickle(64, 0.05))
        pub.wait_for(phase)
        sent = time.monotonic()
        pub.kill(getattr(signal, sig))
        killed = pub.finish()
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
        assert took < CTRL_C_BOUND_S, f"Ctrl-C took {took:.1f} s"
    scene.assert_old_or_new()

    rerun = run_publish(scene.args(), env=env, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    scene.assert_published()
