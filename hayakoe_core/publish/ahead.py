"""The store's work ahead of a promote (``Store.prepare_promote``: S3 pre-copies the staged files
into uploads at their live keys), run in a thread of its own while the pipeline verifies the
staging area, and stopped when the publish does not go on to promote."""

from __future__ import annotations

import threading
import time

from hayakoe_core.errors import HayakoeError
from hayakoe_core.progress import NullProgress, cancellable
from hayakoe_core.registry import Store
from hayakoe_core.types import Staging


class Ahead:
    """``store.prepare_promote(staging)`` in a thread, shown no bar (it runs under the
    verification's notes): :meth:`wait` before promoting, :meth:`cancel` when not promoting.
    ``seconds`` is how long it ran."""

    def __init__(self, store: Store, staging: Staging) -> None:
        self._store, self._staging = store, staging
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="hayakoe-prepare-promote", daemon=True)
        self.seconds = 0.0
        self._thread.start()

    def _run(self) -> None:
        start = time.monotonic()
        try:
            self._store.prepare_promote(self._staging, cancellable(NullProgress(), self._stop))
        except BaseException as exc:  # handed to the pipeline's thread by wait()
            self._failure = exc
        finally:
            self.seconds = time.monotonic() - start

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self) -> str | None:
        """Wait for it to end. Returns the one-line reason it failed (``None``: it did not), which
        costs nothing but time: the promote does what it left. A programming error is raised
        here, with its traceback."""
        self._thread.join()
        if self._failure is None or isinstance(self._failure, HayakoeError):
            return None if self._failure is None else str(self._failure)
        raise self._failure

    def cancel(self) -> None:
        """Stop it at its next progress report and wait for that (nothing if it has ended)."""
        self._stop.set()
        self._thread.join()
