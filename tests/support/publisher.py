"""A real ``hayakoe publish`` in a subprocess, watched phase by phase so a test can signal it there.

Without a terminal the command prints one plain line to stderr as each phase begins (the lines a
user reads in a CI log); :data:`PHASES` maps each phase to the start of its line::

    with Publisher(["--folder", str(folder), "--to", url, ...], env=env, cwd=tmp) as pub:
        pub.wait_for("staging")          # the staging line was printed
        pub.kill(signal.SIGKILL)
        result = pub.finish()            # exit code and everything printed

The child runs in its own session (a process group), so :meth:`kill` can signal it alone and
:meth:`close` can be sure nothing it started (the verification process) outlives the test.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

#: The line each phase of a publish starts with (hayakoe_core/publish/pipeline.py notes).
PHASES = {
    "export": "export: ",
    "hashing": "hashing: ",
    "staging": "staging at ",
    "verification": "verify: loading ",
    "promote": "promote: making ",
}

#: The line saying the staged speaker spoke: the last before the promote's.
VERIFIED = r"verify: (?!loading)"

#: ``python -m hayakoe``, with every thread's stack printed to stderr on SIGUSR1 (:meth:`Publisher.stacks`).
_BOOT = (
    "import faulthandler, runpy, signal; faulthandler.register(signal.SIGUSR1, all_threads=True); "
    "runpy.run_module('hayakoe', run_name='__main__', alter_sys=True)"
)


@dataclass(frozen=True)
class Finished:
    """A finished publish: exit code, stdout and stderr."""

    returncode: int
    stdout: str
    stderr: str

    def last_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""


class Publisher:
    """``python -m hayakoe publish ARGS`` started now (see the module docstring)."""

    def __init__(self, args: list[str], *, env: dict[str, str], cwd: Path) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, "publish", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, cwd=cwd, text=True, start_new_session=True,
        )  # fmt: skip
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        self._printed: list[tuple[float, str]] = []  # (time.monotonic() it was read, stderr line)
        self._stdout: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self._proc.stderr, self._stderr, True), daemon=True),
            threading.Thread(target=self._read, args=(self._proc.stdout, self._stdout, False), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: object, into: list[str], watch: bool) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)
            if watch:
                self._printed.append((time.monotonic(), line))
                self._lines.put(line)
        if watch:
            self._lines.put(None)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def wait_for(self, phase: str, timeout: float = 120.0) -> str:
        """Block until the line that starts ``phase`` (a key of :data:`PHASES`, or a regular
        expression) is printed; that line. AssertionError if the process ends first or time runs out."""
        pattern = re.compile(re.escape(PHASES[phase]) if phase in PHASES else phase)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {phase!r} line within {timeout:g} s:\n{''.join(self._stderr)}")
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self._proc.wait(10)
                raise AssertionError(
                    f"publish ended (exit {self._proc.returncode}) before {phase!r}:\n{''.join(self._stderr)}"
                )
            if pattern.match(line):
                return line

    def printed_at(self, pattern: str, since: float) -> float | None:
        """When (``time.monotonic()``) the first stderr line matching the regular expression
        ``pattern`` was read, among those read at or after ``since``; None if none was."""
        compiled = re.compile(pattern)
        return next((t for t, line in list(self._printed) if t >= since and compiled.search(line)), None)

    def running(self) -> bool:
        """Whether the publisher has not ended yet."""
        return self._proc.poll() is None

    def stacks(self) -> str:
        """Every thread's stack in the publisher now (printed to its stderr on SIGUSR1), for the
        message of a test whose publisher is late; empty if the process has ended."""
        before = len(self._stderr)
        try:
            os.kill(self._proc.pid, signal.SIGUSR1)
        except ProcessLookupError:
            return ""
        time.sleep(1.0)
        return "".join(self._stderr[before:])

    def kill(self, sig: int) -> None:
        """Send ``sig`` to the publisher alone (a child it started is not signalled)."""
        os.kill(self._proc.pid, sig)

    def finish(self, timeout: float = 300.0) -> Finished:
        """Wait for the process to end; its exit code and output."""
        self._proc.wait(timeout)
        for reader in self._readers:
            reader.join(10)
        return Finished(self._proc.returncode, "".join(self._stdout), "".join(self._stderr))

    def group_gone(self, timeout: float) -> bool:
        """Whether every process of the publisher's group (the verification process included)
        has ended within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self._proc.pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.2)
        return False

    def close(self) -> None:
        """Kill the process group if anything of it is left, and reap."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait(30)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def run_publish(args: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 300.0) -> Finished:
    """Run a publish to its end."""
    with Publisher(args, env=env, cwd=cwd) as pub:
        return pub.finish(timeout)
