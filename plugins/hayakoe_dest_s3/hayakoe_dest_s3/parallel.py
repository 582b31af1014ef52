"""Running one piece of work per item in a few threads."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

from hayakoe_dest_s3.client import FILE_WORKERS

_T = TypeVar("_T")


def run_all(work: Callable[[_T], object], items: Iterable[_T]) -> None:
    """Run ``work`` on every item in a few threads; after the first failure start no more, let
    the running ones finish, and raise that failure."""
    with ThreadPoolExecutor(max_workers=FILE_WORKERS) as pool:
        futures = [pool.submit(work, item) for item in items]
        for pending in wait(futures, return_when=FIRST_EXCEPTION).not_done:
            pending.cancel()
    for future in futures:
        if not future.cancelled():
            future.result()
