"""Bridges from ``huggingface_hub``'s transfer loops to hayakoe's :class:`Progress` bars."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

from huggingface_hub.utils import tqdm as hf_tqdm

from hayakoe_core.progress import Bar

# The byte-counting bar snapshot_download feeds from every file download (see its source).
_SNAPSHOT_BYTES_BAR = "huggingface_hub.snapshot_download"


class ByteCounter:
    """Advances a :class:`Bar`; ``finish`` tops it up to ``total`` (bytes that needed no transfer)."""

    def __init__(self, bar: Bar, total: int) -> None:
        self._bar, self._total, self._done = bar, total, 0
        self._lock = threading.Lock()

    def advance(self, amount: int) -> None:
        with self._lock:
            self._done += amount
        self._bar.advance(amount)

    def finish(self) -> None:
        with self._lock:
            rest, self._done = self._total - self._done, self._total
        if rest > 0:
            self._bar.advance(rest)


def download_tqdm(counter: ByteCounter) -> type[hf_tqdm]:
    """A silent ``tqdm_class`` for ``snapshot_download`` that reports downloaded bytes."""

    class _Forwarding(hf_tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._forward = kwargs.get("name") == _SNAPSHOT_BYTES_BAR
            super().__init__(*args, **{**kwargs, "disable": True})

        def update(self, n: float | None = 1) -> bool | None:
            if self._forward and n:
                counter.advance(int(n))
            return super().update(n)

    return _Forwarding


class CountingFile(io.BufferedReader):
    """A local file for ``CommitOperationAdd`` that reports bytes as the client sends them.

    Reads before :meth:`arm` (the client hashing the file) are not counted. After it, progress
    is the furthest position read, so the client's 512-byte sample, rewinds and retries never
    count a byte twice.
    """

    def __init__(self, path: Path, counter: ByteCounter) -> None:
        super().__init__(io.FileIO(path, "rb"))
        self._counter, self._armed, self._high = counter, False, 0

    def arm(self) -> None:
        self._armed = True

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if self._armed and self.tell() > self._high:
            self._counter.advance(self.tell() - self._high)
            self._high = self.tell()
        return data
