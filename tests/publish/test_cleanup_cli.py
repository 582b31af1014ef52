"""``hayakoe cleanup URL``: what a crashed publish left behind is listed, then removed; live
speakers are never touched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hayakoe_core.registry import get_registry
from hayakoe_core.testing import read_tree, write_tree
from hayakoe_core.types import new_staging_id


def hayakoe(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hayakoe", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_cleanup_lists_then_removes_a_crashed_staging(tmp_path: Path) -> None:
    root = tmp_path / "voices"
    store = get_registry().open(str(root))
    store.upload(write_tree(tmp_path / "live", {"onnx/speakers/a/config.json": b"live"}))
    new = write_tree(tmp_path / "new", {"onnx/speakers/a/config.json": b"new"})
    crashed = store.stage(new, new_staging_id())  # the publisher dies here

    fresh = hayakoe("cleanup", str(root))
    assert fresh.returncode == 0 and "nothing older than 1 day" in fresh.stdout

    listed = hayakoe("cleanup", str(root), "--older-than", "0", "--dry-run")
    assert listed.returncode == 0 and f"would remove: staging {crashed.id}" in listed.stdout
    assert (root / ".hayakoe" / "staging" / crashed.id).is_dir()

    removed = hayakoe("cleanup", str(root), "--older-than", "0s", "--force-unlock")
    assert removed.returncode == 0, removed.stderr
    assert f"removed: staging {crashed.id}" in removed.stdout
    assert "needs no unlocking" in removed.stdout
    assert not (root / ".hayakoe" / "staging").exists()
    assert read_tree(root) == {"onnx/speakers/a/config.json": b"live"}
