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
    interpreter hangs at exit joining it. Held, it lands in ``wait``, and ``run_all`` raises it at
    once, abandoning the running work rather than joining it: an upload whose last bytes sit in
    the socket's buffers makes no more progress reports and would hold Ctrl-C until the store
    answers or the read timeout (times the attempts) runs out, a minute on a slow link. The
    command line exits without joining such threads (hayakoe_core/cli.py).
    """
    pool = ThreadPoolExecutor(max_workers=FILE_WORKERS)
    try:
        with interrupts_held():
            futures = [pool.submit(work, item) for item in items]
        for pending in wait(futures, return_when=FIRST_EXCEPTION).not_done:
            pending.cancel()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    for future in futures:
        if not future.cancelled():
            future.result()
