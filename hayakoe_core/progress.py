"""Progress reporting for long work (upload, download, export).

Hooks receive a :class:`Progress`; they open one bar per unit of work and advance it. The CLI passes
:class:`RichProgress`; library callers and tests get :class:`NullProgress` unless they ask.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Bar(Protocol):
    """One progress bar; ``advance`` may be called from worker threads."""

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
            rp.TextColumn("{task.description}"),
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
