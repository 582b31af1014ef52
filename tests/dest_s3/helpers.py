"""Helpers for the S3 destination tests: hook calls through the registry, a recording Progress."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from hayakoe_core.progress import Bar
from hayakoe_core.registry import get_registry
from hayakoe_core.types import Target


def call(target: Target, method: str, **kwargs: object) -> object:
    """Call a :class:`~hayakoe_core.registry.Store` method for ``target``, as the CLI and the
    runtime do (e.g. ``call(target, "fetch", prefix=…, cache_dir=…, progress=…)``)."""
    return getattr(get_registry().open(target), method)(**kwargs)


class RecordingProgress:
    """A Progress that keeps each bar's total and the sum of its advances."""

    def __init__(self) -> None:
        self.bars: list[dict[str, object]] = []
        self._lock = threading.Lock()

    @contextmanager
    def bar(self, description: str, total: int | None, unit: str = "bytes") -> Iterator[Bar]:
        record = {"description": description, "total": total, "unit": unit, "done": 0}
        self.bars.append(record)
        lock = self._lock

        class _Bar:
            def advance(self, amount: int) -> None:
                with lock:
                    record["done"] += amount  # type: ignore[operator]

        yield _Bar()
