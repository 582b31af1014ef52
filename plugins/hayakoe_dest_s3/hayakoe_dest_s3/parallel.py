"""Running one piece of work per item in a few threads."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

from hayakoe_core.interrupts import interrupts_held
from hayakoe_dest_s3.client import FILE_WORKERS

_T = TypeVar("_T")


def run_all(work: Callable[[_T], object], items: Iterable[_T]) -> None:
    """Run ``work`` on every item in a few threads; after the first failure start no more, let
    the running ones finish, and raise that failure.

    A Ctrl-C is held while the work is handed out: one landing inside ``submit`` while it starts a
    thread leaves that thread running outside the pool, which then waits for nothing, and the
    interpreter hangs at exit joining it. Held, it lands in ``wait``; the pool then joins every
    worker, each of which stops at its next progress report.
    """
    with ThreadPoolExecutor(max_workers=FILE_WORKERS) as pool:
        with interrupts_held():
            futures = [pool.submit(work, item) for item in items]
        for pending in wait(futures, return_when=FIRST_EXCEPTION).not_done:
            pending.cancel()
    for future in futures:
        if not future.cancelled():
            future.result()
