"""Bridges from ``huggingface_hub``'s own progress reporting to hayakoe's :class:`Progress` bars."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from huggingface_hub.utils import tqdm as hf_tqdm

from hayakoe_core.progress import Bar

# The byte-counting bar snapshot_download feeds from every file download (see its source).
_SNAPSHOT_BYTES_BAR = "huggingface_hub.snapshot_download"
# Where the client looks up, when an upload starts, what it reports upload progress to.
_LFS_BARS = "huggingface_hub.utils.tqdm"  # module global `tqdm`, used by tqdm_stream_file
_XET_REPORTS = "huggingface_hub.utils._xet_progress_reporting"  # XetUploadProgressReporter
_HOOKED = threading.Lock()


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


def forwarding_tqdm(counter: ByteCounter, **match: str) -> type[hf_tqdm]:
    """A silent ``huggingface_hub`` bar class: the updates of bars created with the keyword
    arguments in ``match`` (e.g. ``unit="B"``) advance ``counter``."""

    class _Forwarding(hf_tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._forward = all(kwargs.get(key) == value for key, value in match.items())
            super().__init__(*args, **{**kwargs, "disable": True})

        def update(self, n: float | None = 1) -> bool | None:
            if self._forward and n:
                counter.advance(int(n))
            return super().update(n)

    return _Forwarding


def download_tqdm(counter: ByteCounter) -> type[hf_tqdm]:
    """The ``tqdm_class`` for ``snapshot_download``: downloaded bytes advance ``counter``."""
    return forwarding_tqdm(counter, name=_SNAPSHOT_BYTES_BAR)


@contextmanager
def upload_progress(counter: ByteCounter) -> Iterator[None]:
    """While the block runs, the client's own upload progress advances ``counter``.

    ``create_commit`` takes no progress argument (huggingface_hub 2.4). The client reports each
    LFS upload on a ``huggingface_hub.utils.tqdm.tqdm`` byte bar as it streams the file
    (``tqdm_stream_file``; other bars of that class count files), and Xet uploads to an
    ``XetUploadProgressReporter`` (only while its progress bars are enabled; otherwise the bar
    catches up when the commit is done). Both are looked up by name when an upload starts, so
    for the block they are silent stand-ins that advance ``counter`` (which also keeps the
    client's console bars from drawing over ours). One upload per process hooks them at a time;
    another huggingface_hub transfer running meanwhile in this process would be counted too.
    """
    lfs_bars, xet_reports = importlib.import_module(_LFS_BARS), importlib.import_module(_XET_REPORTS)

    class _XetReporter:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._seen = 0

        def update_progress(self, group_report: Any, item_reports: Any) -> None:
            done = int(group_report.total_bytes_completed)
            if done > self._seen:
                counter.advance(done - self._seen)
                self._seen = done

        def close(self) -> None:
            pass

    with _HOOKED:
        saved = lfs_bars.tqdm, xet_reports.XetUploadProgressReporter
        lfs_bars.tqdm = forwarding_tqdm(counter, unit="B")
        xet_reports.XetUploadProgressReporter = _XetReporter
        try:
            yield
        finally:
            lfs_bars.tqdm, xet_reports.XetUploadProgressReporter = saved
