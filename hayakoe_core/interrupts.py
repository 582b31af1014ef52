"""Ctrl-C for the command line: held off while a native library imports, and remembered.

A ``KeyboardInterrupt`` raised inside the import of torch can kill the interpreter with SIGSEGV
(seen with torch 2.13: about one Ctrl-C in fifteen landing in ``import torch`` during a publish's
export), and a bare ``except:`` in a library's import code can swallow it, so the command carries
on as if no Ctrl-C came. Importing takes a second or two, so holding the interrupt until the
import is done costs the user nothing they would notice.

:func:`install` (the command line calls it once) makes every later ``import`` statement that
first loads one of :data:`NATIVE` run under :func:`interrupts_held` (``importlib.import_module``
is not covered; the libraries are imported with ``import``), and makes SIGINT's handler note that
a Ctrl-C came before raising ``KeyboardInterrupt``: :func:`interrupt_came` then tells a command
that an error it got is the interrupt in disguise (torch turns a ``KeyboardInterrupt`` landing in
its tensor code into ``ValueError: could not determine the shape of object type ...``).
"""

from __future__ import annotations

import builtins
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType, ModuleType
from typing import Any

#: Top-level packages whose import runs native initialisation a Ctrl-C must not cut into.
NATIVE = frozenset({"torch", "onnx", "onnxruntime", "openvino"})


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Run the block with SIGINT held: a Ctrl-C meanwhile is acted on (as SIGINT's handler from
    before the block says: by default, ``KeyboardInterrupt``) as soon as the block ends. Outside
    the main thread, or with a handler installed outside Python, the block just runs."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if in_main else None
    if previous is None:
        yield
        return
    came: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: came.append(signum))
    # Blocked in this thread too, so no system call of the library's is cut short (EINTR).
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a pending SIGINT lands in ``came`` now
        signal.signal(signal.SIGINT, previous)
    if not came:
        return
    if callable(previous):
        previous(signal.SIGINT, None)
    elif previous == signal.SIG_DFL:
        os.kill(os.getpid(), signal.SIGINT)


def _guarded(original: Callable[..., ModuleType]) -> Callable[..., ModuleType]:
    """``__import__`` that holds interrupts while a :data:`NATIVE` module first imports. The
    interrupt comes when the import statement has finished, never from inside the import system
    (which would leave the library's submodules half-initialised in ``sys.modules``)."""

    def guarded_import(
        name: str,
        globals: dict[str, Any] | None = None,
        locals: dict[str, Any] | None = None,
        fromlist: Sequence[str] = (),
        level: int = 0,
    ) -> ModuleType:
        if level == 0 and name.partition(".")[0] in NATIVE and name not in sys.modules:
            with interrupts_held():
                return original(name, globals, locals, fromlist, level)
        return original(name, globals, locals, fromlist, level)

    guarded_import.hayakoe_guard = True  # type: ignore[attr-defined]
    return guarded_import


_came = threading.Event()


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    _came.set()
    raise KeyboardInterrupt


def interrupt_came() -> bool:
    """Whether a Ctrl-C came since :func:`install`."""
    return _came.is_set()


def install() -> None:
    """From now on, ``import`` statements that first load one of :data:`NATIVE` hold Ctrl-C
    until they are done, and a Ctrl-C is remembered (see the module docstring). Idempotent;
    SIGINT's handler is replaced only where it is Python's default, in the main thread."""
    if not getattr(builtins.__import__, "hayakoe_guard", False):
        builtins.__import__ = _guarded(builtins.__import__)
    in_main = threading.current_thread() is threading.main_thread()
    if in_main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_interrupt)
