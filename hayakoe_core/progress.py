"""Progress reporting for long work (upload, download, export), and stopping it on Ctrl-C.

Hooks receive a :class:`Progress`; they open one bar per unit of work and advance it. Callers
pick one with :func:`default_progress`: rich bars on a terminal, plain lines otherwise (logs, CI,
pipes); tests get :class:`NullProgress`.

A bar's ``advance`` is also where worker threads learn that the user pressed Ctrl-C: inside
:func:`interruptible`, every bar of the wrapped progress raises
:class:`~hayakoe_core.errors.Interrupted` once SIGINT has arrived, so a download pool stops at
its workers' next chunk instead of finishing every file in flight. A plugin needs nothing more
than to report progress from the loop that moves the bytes.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import IO, Any, Protocol

from hayakoe_core.errors import Interrupted


class Bar(Protocol):
    """One progress bar; ``advance`` may be called from worker threads.

    ``advance`` raises :class:`~hayakoe_core.errors.Interrupted` when the work was interrupted;
    let it propagate (it is an ordinary ``Exception``, so thread pools deliver it).
    """

    def advance(self, amount: int) -> None: ...


class Progress(Protocol):
    """Opens bars: ``with progress.bar("upload", total_bytes) as bar: bar.advance(n)``.

    ``total`` is in ``unit`` (``"bytes"`` or ``"files"``), or ``None`` when unknown.
    """

    def bar(
        self, description: str, total: int | None, unit: str = "bytes"
    ) -> AbstractContextManager[Bar]: ...


class _NullBar:
    def advance(self, amount: int) -> None:
        pass


class NullProgress:
    """Shows nothing."""

    @contextmanager
    def bar(self, description: str, total: int | None, unit: str = "bytes") -> Iterator[Bar]:
        yield _NullBar()


class RichProgress:
    """Rich progress bars on stderr (transfer speed for bytes, counts for files)."""

    def __init__(self) -> None:
        from rich.console import Console

        self._console = Console(stderr=True)

    @contextmanager
    def bar(self, description: str, total: int | None, unit: str = "bytes") -> Iterator[Bar]:
        from rich import progress as rp

        columns: list[rp.ProgressColumn] = [
            rp.TextColumn("{task.description}", markup=False),
            rp.BarColumn(),
            rp.DownloadColumn() if unit == "bytes" else rp.MofNCompleteColumn(),
        ]
        if unit == "bytes":
            columns.append(rp.TransferSpeedColumn())
        columns.append(rp.TimeRemainingColumn())
        with rp.Progress(*columns, console=self._console, transient=False) as prog:
            task = prog.add_task(description, total=total)

            class _RichBar:
                def advance(self, amount: int) -> None:
                    prog.advance(task, amount)

            yield _RichBar()


class PlainProgress:
    """Plain lines on a stream (stderr by default) for output that is not a terminal (logs, CI).

    Only long steps speak: a bar prints its first line once it has run ``after`` seconds, then
    one at most every ``every`` seconds, and a last one when it ends if it printed any. Quick
    steps (a warm load, a small download) print nothing.
    """

    def __init__(self, stream: IO[str] | None = None, *, after: float = 2.0, every: float = 10.0) -> None:
        self._stream = stream
        self._after, self._every = after, every

    @contextmanager
    def bar(self, description: str, total: int | None, unit: str = "bytes") -> Iterator[Bar]:
        line = _PlainBar(self._stream or sys.stderr, description, total, unit, self._after, self._every)
        yield line
        if line.spoke:
            line.say(f"done in {time.monotonic() - line.start:.1f} s")


class _PlainBar:
    def __init__(
        self, stream: IO[str], description: str, total: int | None, unit: str, after: float, every: float
    ) -> None:
        self._stream, self._description, self._total, self._unit = stream, description, total, unit
        self._every, self._lock = every, threading.Lock()
        self.start = time.monotonic()
        self._next = self.start + after
        self.done = 0
        self.spoke = False

    def advance(self, amount: int) -> None:
        with self._lock:
            self.done += amount
            now = time.monotonic()
            if now < self._next:
                return
            self._next = now + self._every
            self.spoke = True
        self.say("")

    def say(self, what: str) -> None:
        amount = _amount(self.done, self._unit)
        if self._total:
            amount += f" of {_amount(self._total, self._unit)} ({100 * self.done // self._total}%)"
        text = f"{self._description}: {amount}" + (f", {what}" if what else "")
        print(text, file=self._stream, flush=True)


def _amount(n: int, unit: str) -> str:
    if unit != "bytes":
        return f"{n} {unit}"
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} B"


def default_progress() -> Progress:
    """Rich bars when stderr is a terminal, plain lines otherwise."""
    return RichProgress() if sys.stderr.isatty() else PlainProgress()


class _InterruptibleProgress:
    def __init__(self, inner: Progress, stop: threading.Event) -> None:
        self._inner, self._stop = inner, stop

    @contextmanager
    def bar(self, description: str, total: int | None, unit: str = "bytes") -> Iterator[Bar]:
        with self._inner.bar(description, total, unit) as bar:
            yield _InterruptibleBar(bar, self._stop)


class _InterruptibleBar:
    def __init__(self, inner: Bar, stop: threading.Event) -> None:
        self._inner, self._stop = inner, stop

    def advance(self, amount: int) -> None:
        if self._stop.is_set():
            raise Interrupted("interrupted")
        self._inner.advance(amount)


def cancellable(progress: Progress, stop: threading.Event) -> Progress:
    """``progress`` whose bars raise :class:`~hayakoe_core.errors.Interrupted` once ``stop`` is
    set: how a caller stops work it runs in another thread at that work's next report."""
    return _InterruptibleProgress(progress, stop)


@contextmanager
def interruptible(progress: Progress) -> Iterator[Progress]:
    """``progress`` wrapped so that Ctrl-C stops worker threads too (see the module docstring).

    In the main thread, SIGINT's handler is wrapped for the duration of the block: it flags the
    bars, then does what it did before (by default, raise ``KeyboardInterrupt`` in the main
    thread). Elsewhere the block only wraps the bars (signals reach only the main thread).
    """
    stop = threading.Event()
    wrapped = cancellable(progress, stop)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if in_main else None
    if previous in (None, signal.SIG_IGN):  # not the main thread, a handler installed outside
        yield wrapped  # Python, or Ctrl-C ignored (a background job): leave it be
        return

    def on_interrupt(signum: int, frame: Any) -> None:
        stop.set()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield wrapped
    finally:
        signal.signal(signal.SIGINT, previous)
