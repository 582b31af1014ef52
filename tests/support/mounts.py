"""Real file-system conditions for tests: a full disk (a small tmpfs) and a read-only folder.

Both need ``mount`` (root, or CAP_SYS_ADMIN in a container). Where it is refused the test is
skipped with the reason; permission bits are no substitute, since root ignores them.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(*args: str) -> None:
    out = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        pytest.skip(f"cannot mount here ({out.stderr.strip() or out.returncode}): needs root")


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """``path`` as an empty tmpfs of ``size`` (e.g. ``"64k"``): writes beyond it fail with ENOSPC."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    try:
        yield path
    finally:
        _umount(path)


def resize(path: Path, size: str) -> None:
    """Give the tmpfs at ``path`` (from :func:`small_disk`) a new size; its files stay."""
    _mount("-o", f"remount,size={size}", str(path))


@contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """``path`` (an existing folder) made read-only in place by a read-only bind mount over it."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    _mount("--bind", str(path), str(path))
    try:
        _mount("-o", "remount,bind,ro", str(path))
        yield path
    finally:
        _umount(path)
