"""Running one piece of work per item in a few threads."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from hayakoe_core.interrupts import interrupts_held
from hayakoe_dest_s3.client import FILE_WORKERS

_T = TypeVar("_T")

#: After a Ctrl-C, how long running work gets to stop before ``run_all`` leaves it running.
STOP_GRACE_S = 1.0


def run_all(work: Callable[[_T], object], items: Iterable[_T]) -> None:
    """Run ``work`` on every item in a few threads; after the first failure start no more, let
    the running ones finish, and raise that failure.

    Ctrl-C: work not yet started is dropped, running work gets :data:`STOP_GRACE_S` to stop (a
    transfer stops at its next progress report), then the interrupt is raised whether or not it
    has: an upload whose last bytes sit in the socket's buffers reports nothing more until the
    store answers, which on a slow link can take up to the read timeout. Whoever gets the
    interrupt decides whether to wait for such work (the command line does not: a publish's next
    run discards what it staged). The interrupt is held while the work is handed out: one landing
    inside ``submit`` while it starts a thread would leave that thread outside every future.
    """
    pool = ThreadPoolExecutor(max_workers=FILE_WORKERS)
    futures: list[Future] = []
    try:
        with interrupts_held():
            futures = [pool.submit(work, item) for item in items]
        for pending in wait(futures, return_when=FIRST_EXCEPTION).not_done:
            pending.cancel()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        wait(futures, timeout=STOP_GRACE_S)
        raise
    pool.shutdown()
    for future in futures:
        if not future.cancelled():
            future.result()
