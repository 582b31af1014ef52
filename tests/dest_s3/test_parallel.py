"""``run_all`` under Ctrl-C: running work gets a moment to stop, work that cannot is left.

A Ctrl-C landing inside ``ThreadPoolExecutor.submit`` while it starts a thread used to leave that
thread outside every future: ``run_all`` raised at once, the thread ran on, and a download it ran
then hung the interpreter's exit (s3transfer could no longer start its own threads). An upload
waiting for the store's answer reports no progress and used to hold the interrupt until the read
timeout. The rounds run in a process of their own, whose main thread receives the signal.
"""

import subprocess
import sys
import textwrap

from hayakoe_dest_s3.parallel import STOP_GRACE_S


def _run(work_seconds: float, rounds: int) -> list[str]:
    """For each round: whether work outlived ``run_all``'s raise, and how long the raise took."""
    script = textwrap.dedent(
        f"""
        import os, signal, time
        from hayakoe_dest_s3.parallel import run_all

        running = set()
        def work(i):
            running.add(i)
            if i == 0:
                os.kill(os.getpid(), signal.SIGINT)  # lands while the main thread hands out the rest
            time.sleep({work_seconds})
            running.discard(i)

        for _ in range({rounds}):
            start = time.monotonic()
            try:
                run_all(work, range(8))
            except KeyboardInterrupt:
                pass
            else:
                raise SystemExit("the Ctrl-C was lost")
            print(bool(running), round(time.monotonic() - start, 2))
            while running:  # let the work left running end before the next round
                time.sleep(0.05)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_work_that_stops_at_once_has_ended_when_the_interrupt_is_raised():
    rounds = _run(0.1, 10)
    assert len(rounds) == 10 and all(r.startswith("False ") for r in rounds), rounds


def test_work_that_does_not_stop_is_left_after_the_grace():
    rounds = _run(3 * STOP_GRACE_S, 3)
    outlived = [float(r.split()[1]) for r in rounds if r.startswith("True ")]
    assert len(outlived) == 3 and max(outlived) < STOP_GRACE_S + 1.0, rounds
