"""A publisher that dies part-way, as a killed process does: no ``finally``, no clean-up.

Run as ``python -m tests.dest_s3.dying_publisher URL TREE {stage,promote,prepared-promote} BYTES``:
stages the repo tree ``TREE`` at ``URL`` (printing the staging id), then, in the phase named,
exits with status 3 through ``os._exit`` as soon as more than ``BYTES`` bytes were reported on
progress (``prepared-promote``: the promote, after a pre-copy that finished). Exits 0 if it got
through.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hayakoe_core.progress import Bar, NullProgress
from hayakoe_core.registry import get_registry
from hayakoe_core.types import new_staging_id

DIED = 3


class DyingProgress:
    """Ends the process once more than ``limit`` bytes were reported."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.done = 0

    @contextmanager
    def bar(self, description: str, total: int | None, unit: str = "bytes") -> Iterator[Bar]:
        progress = self

        class _Bar:
            def advance(self, amount: int) -> None:
                progress.done += amount
                if progress.done > progress.limit:
                    os._exit(DIED)

        yield _Bar()


def main(url: str, tree: str, phase: str, limit: str) -> None:
    store = get_registry().open(url)
    staging_id = new_staging_id()
    print(staging_id, flush=True)
    dying = DyingProgress(int(limit))
    staging = store.stage(Path(tree), staging_id, dying if phase == "stage" else NullProgress())
    if phase == "prepared-promote":
        store.prepare_promote(staging)
    store.promote(staging, staging.base, dying)


if __name__ == "__main__":
    main(*sys.argv[1:])
