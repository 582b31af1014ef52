"""Helpers shared by the benchmarks: timing, peak memory of a child process, a baseline venv.

Standard library only: benchmark workers import this module inside the throwaway upstream venv,
where nothing of hayakoe's own is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[1]
UPSTREAM_REQUIREMENTS = ("hayakoe==1.3.1", "onnxruntime")


class BaselineUnavailable(RuntimeError):
    """The upstream baseline environment could not be created (e.g. no access to PyPI)."""


def load_average() -> str:
    """The 1/5/15-minute load averages as printed beside each figure (the machine is shared)."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def median_time(fn: Callable[[], object], n: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``n`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass(frozen=True)
class ChildRun:
    """A finished child process: its stdout and its own peak resident set size."""

    stdout: str
    peak_rss_bytes: int

    def json(self) -> object:
        """The last stdout line, decoded as JSON (workers print their result there)."""
        return json.loads(self.stdout.strip().splitlines()[-1])


def peak_rss_of(
    cmd: Sequence[str], env: Mapping[str, str] | None = None, stderr: IO[str] | None = None
) -> ChildRun:
    """Run ``cmd`` to completion; stderr passes through (or goes to the open file ``stderr``).
    Raises ``CalledProcessError`` on failure.

    The peak RSS is the child's alone (``wait4`` rusage), not the maximum over all children this
    process ever had, so several measurements can run one after another from one parent.
    """
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, list(cmd), stdout)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return ChildRun(stdout=stdout, peak_rss_bytes=usage.ru_maxrss * scale)


def upstream_venv(path: Path, requirements: Sequence[str] = UPSTREAM_REQUIREMENTS) -> Path:
    """A venv at ``path`` with ``requirements`` pip-installed; returns its Python interpreter.

    Reused when an earlier call installed the same requirements there. Raises
    :class:`BaselineUnavailable` with pip's last output lines when creation or install fails.
    """
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    marker = path / ".bench-requirements.json"
    wanted = json.dumps(sorted(requirements))
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    try:
        venv.create(path, with_pip=True, clear=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BaselineUnavailable(f"cannot create a venv at {path}: {exc}") from None
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    done = subprocess.run([*pip, *requirements], capture_output=True, text=True)
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise BaselineUnavailable(f"pip install {' '.join(requirements)} failed: {tail}")
    marker.write_text(wanted)
    return python


def installed_version(python: Path, distribution: str) -> str | None:
    """The version of ``distribution`` installed for interpreter ``python`` (None if absent)."""
    code = (
        "import importlib.metadata as m, sys\n"
        "try: print(m.version(sys.argv[1]))\n"
        "except m.PackageNotFoundError: print('')\n"
    )
    out = subprocess.run(  # -I: ignore PYTHONPATH and the working directory
        [str(python), "-I", "-c", code, distribution], capture_output=True, text=True, check=True
    ).stdout.strip()
    return out or None


def repo_pythonpath() -> str:
    """A ``PYTHONPATH`` that finds hayakoe_core and every plugin package from this checkout."""
    paths = [str(REPO), *(str(p) for p in sorted((REPO / "plugins").iterdir()) if p.is_dir())]
    existing = os.environ.get("PYTHONPATH")
    return os.pathsep.join([*paths, existing] if existing else paths)


def speaker_bench_parser(doc: str) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The command line of a bench that measures the full-size speaker ``bench/load.py`` builds
    (``--work``, reused), and its internal ``measure REPO CACHE …`` subcommand, which each side's
    child process runs: both parsers, for the bench to add its own arguments."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    measure = parser.add_subparsers(dest="cmd").add_parser("measure", help="(internal) one measurement")
    measure.add_argument("repo")
    measure.add_argument("cache")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "hayakoe-bench-load")
    return parser, measure
