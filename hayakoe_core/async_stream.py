"""Iterating a blocking generator from asyncio, on a thread of its own.

Each stream gets its own thread, started on the first item asked for, because a stream holds its
speaker's lock while it lives: streams that borrowed threads from a shared pool would take every
thread while waiting for the lock, and the stream holding it could then never get one to finish.

The thread makes one item per request (nothing runs ahead of the consumer). Closing the async
iterator asks the thread to close the generator (which lets go of the lock) and waits until it
has; if the consumer is cancelled instead, the thread still closes the generator as soon as the
item it is making is done, without needing the event loop.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_NEXT, _STOP = "next", "stop"


class _End:
    """Marks the end of the stream."""


class ThreadedStream(Generic[T]):
    """``iterate()`` yields what ``source`` yields, each item made on this stream's thread."""

    def __init__(self, source: Iterator[T]) -> None:
        self._source = source
        self._requests: queue.SimpleQueue[tuple[str, asyncio.Future | None]] = queue.SimpleQueue()
        self._closed: asyncio.Future | None = None

    async def iterate(self) -> AsyncIterator[T]:
        """The items of ``source``; see the module docstring for closing and cancelling."""
        loop = asyncio.get_running_loop()
        self._closed = loop.create_future()
        threading.Thread(target=self._run, name="hayakoe-stream", daemon=True).start()
        try:
            while True:
                answer: asyncio.Future = loop.create_future()
                self._requests.put((_NEXT, answer))
                item = await answer
                if isinstance(item, _End):
                    return
                yield item
        finally:
            self._requests.put((_STOP, None))
            await self._closed

    def _run(self) -> None:
        try:
            while True:
                command, answer = self._requests.get()
                if command == _STOP or answer is None:
                    return
                try:
                    result: object = next(self._source)
                except StopIteration:
                    result = _End()
                except BaseException as exc:  # handed to the consumer, which raises it
                    _answer(answer, exc=exc)
                    return
                if not _answer(answer, result=result) or isinstance(result, _End):
                    return
        finally:
            if isinstance(self._source, Generator):
                self._source.close()
            assert self._closed is not None
            _answer(self._closed)


def _answer(answer: asyncio.Future, *, result: object = None, exc: BaseException | None = None) -> bool:
    """Settle ``answer`` from this thread; False when its event loop is gone."""

    def settle() -> None:
        if answer.done():  # the consumer was cancelled meanwhile
            return
        if exc is not None:
            answer.set_exception(exc)
        else:
            answer.set_result(result)

    try:
        answer.get_loop().call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed
        return False
    return True
