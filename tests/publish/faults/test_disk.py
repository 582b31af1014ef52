"""A full disk at the destination while staging: nothing visible changes, the command says so
in one line, and once there is room the same command finishes. Needs ``mount`` (a small tmpfs);
skipped with the reason where the machine refuses it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.publish.faults.scene import make_scene, one_line_saying_rerun_is_safe, rerun_finishes
from tests.support.mounts import resize, small_disk
from tests.support.publisher import run_publish


@pytest.mark.slow
def test_a_full_destination_disk_changes_nothing(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "64m") as disk:
        scene = make_scene("local", request, tmp_path, url=str(disk / "voices"))
        resize(disk, str(shutil.disk_usage(disk).used + 64 * 1024))  # no room for a second tiny

        failed = run_publish(scene.args(), env=scene.env(), cwd=tmp_path)
        line = one_line_saying_rerun_is_safe(failed)
        assert "No space left" in line, line
        assert scene.assert_old_or_new() == "old"

        resize(disk, "64m")
        rerun_finishes(scene, tmp_path)
