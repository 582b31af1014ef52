"""``run_all`` under Ctrl-C: it raises only once every work item it started has ended.

A Ctrl-C landing inside ``ThreadPoolExecutor.submit`` while it starts a thread used to leave that
thread outside the pool: ``run_all`` raised at once, the thread ran on, and a download it ran
then hung the interpreter's exit (s3transfer could no longer start its own threads). The rounds
run in a process of their own, whose main thread receives the signal.
"""

import subprocess
import sys
import textwrap

ROUNDS = 10

SCRIPT = textwrap.dedent(
    f"""
    import os, signal, time
    from hayakoe_dest_s3.parallel import run_all

    running, outlived = set(), 0
    def work(i):
        running.add(i)
        if i == 0:
            os.kill(os.getpid(), signal.SIGINT)  # lands while the main thread hands out the rest
        time.sleep(0.1)
        running.discard(i)

    for _ in range({ROUNDS}):
        try:
            run_all(work, range(8))
        except KeyboardInterrupt:
            pass
        else:
            raise SystemExit("the Ctrl-C was lost")
        outlived += bool(running)
        time.sleep(0.3)  # let an outliving thread end before the next round
    print(outlived)
    """
)


def test_a_ctrl_c_while_handing_out_work_leaves_no_thread_running():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0"], f"rounds where work outlived run_all: {done.stdout}"
