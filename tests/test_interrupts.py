"""Ctrl-C for the command line (hayakoe_core/interrupts.py), in child processes that send
themselves SIGINT: held until a native library's import is done, and remembered."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# ``slowlib`` stands in for torch: its import is interrupted halfway unless the guard holds it.
_CHILD = """
import os, signal, sys
from hayakoe_core import interrupts
interrupts.NATIVE = frozenset({{"slowlib"}})
if {guard}:
    interrupts.install()
try:
    import slowlib
except KeyboardInterrupt:
    whole = getattr(sys.modules.get("slowlib"), "DONE", False)
    print("interrupted;", "imported whole" if whole else "import cut")
else:
    print("not interrupted")
"""

_SLOWLIB = """
import os, signal, time
os.kill(os.getpid(), signal.SIGINT)
time.sleep(0.3)
DONE = True
"""


def _run(tmp_path: Path, *, guard: bool, prelude: str = "") -> list[str]:
    """What the child prints, one line each; ``prelude`` runs first (e.g. setting a handler)."""
    (tmp_path / "slowlib.py").write_text(textwrap.dedent(_SLOWLIB))
    child = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(_CHILD.format(guard=guard))],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    return child.stdout.splitlines()


def test_without_the_guard_ctrl_c_cuts_the_import(tmp_path: Path) -> None:
    assert _run(tmp_path, guard=False) == ["interrupted; import cut"]


def test_with_the_guard_ctrl_c_comes_once_the_import_is_whole(tmp_path: Path) -> None:
    assert _run(tmp_path, guard=True) == ["interrupted; imported whole"]


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        ("signal.SIG_IGN", ["not interrupted"]),
        ("lambda s, f: print('custom handler ran')", ["custom handler ran", "not interrupted"]),
    ],
)
def test_the_handler_in_place_decides_what_a_held_ctrl_c_does(
    tmp_path: Path, handler: str, expected: list[str]
) -> None:
    prelude = f"import signal\nsignal.signal(signal.SIGINT, {handler})\n"
    assert _run(tmp_path, guard=True, prelude=prelude) == expected


def test_a_ctrl_c_a_library_turned_into_another_error_is_remembered() -> None:
    code = textwrap.dedent("""
        import os, signal, time
        from hayakoe_core import interrupts
        interrupts.install()
        print(interrupts.interrupt_came())
        try:
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
            except KeyboardInterrupt:
                raise ValueError("could not determine the shape") from None  # as torch does
        except ValueError:
            print(interrupts.interrupt_came())
    """)
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["False", "True"]
