"""Crash recovery: a publisher SIGKILLed while it holds a destination's exclusive state (the S3
lease in state.json, the local flock) does not block the next one for ever: the next publish
goes through after the documented expiry (``HAYAKOE_S3_LEASE_SECONDS``; a flock is released by
the operating system at once), or at once after ``hayakoe cleanup URL --force-unlock``. And
``hayakoe cleanup`` finds what crashed publishes left elsewhere: S3 staging areas and a real
incomplete multipart upload on SeaweedFS, Hub staging branches.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

from hayakoe_core.registry import get_registry
from hayakoe_core.testing import write_tree
from hayakoe_core.types import new_staging_id
from tests.publish.faults.scene import Scene, destination_url, make_scene
from tests.support.publisher import run_publish

# A process that takes the destination's exclusive state the way a promote does, says "held",
# and waits to be killed. ``hayakoe_dest_s3.state.exclusive`` is the very code a promote runs.
_HOLD_S3_LEASE = """
    import sys, time
    from hayakoe_core.registry import get_registry
    from hayakoe_core.types import new_staging_id
    from hayakoe_dest_s3 import state
    from hayakoe_dest_s3.client import make_client
    target = get_registry().open(sys.argv[1]).target
    client = make_client()
    seen = state.read(client, target)
    lease = state.new_lease("dead-publisher", staging=new_staging_id())
    state.exclusive(client, target, seen, lease, lambda held: (print("held", flush=True), time.sleep(600)))
"""
_HOLD_LOCAL_LOCK = """
    import sys, time
    from pathlib import Path
    from hayakoe_dest_local import publish
    with publish.locked(Path(sys.argv[1])):
        print("held", flush=True)
        time.sleep(600)
"""


def _kill_while_holding(code: str, where: str, env: dict[str, str]) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), where],
        stdout=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)


def hayakoe(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hayakoe", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture
def s3_scene(request: pytest.FixtureRequest, tmp_path: Path) -> Scene:
    return make_scene("s3", request, tmp_path)


@pytest.mark.slow
def test_a_dead_s3_lease_holder_blocks_only_until_the_lease_lapses(s3_scene: Scene, tmp_path: Path) -> None:
    env = s3_scene.env(HAYAKOE_S3_LEASE_SECONDS="3")
    _kill_while_holding(_HOLD_S3_LEASE, s3_scene.store.url, env)

    started = time.monotonic()
    run = run_publish(s3_scene.args(), env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "changed meanwhile; re-reading it" in " ".join(run.stderr.split()), "it met the lease"
    s3_scene.assert_published()
    assert time.monotonic() - started < 240


@pytest.mark.slow
def test_force_unlock_breaks_a_dead_s3_lease_at_once(s3_scene: Scene, tmp_path: Path) -> None:
    env = s3_scene.env()  # the default lease: 120 s, longer than the publish retries for
    _kill_while_holding(_HOLD_S3_LEASE, s3_scene.store.url, env)

    unlocked = hayakoe("cleanup", s3_scene.store.url, "--force-unlock", env=env)
    assert unlocked.returncode == 0, unlocked.stderr
    assert "unlocked: broke the publish lease of pid" in unlocked.stdout

    run = run_publish(s3_scene.args(), env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    s3_scene.assert_published()


@pytest.mark.slow
def test_a_dead_local_lock_holder_blocks_nothing(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    scene = make_scene("local", request, tmp_path)
    _kill_while_holding(_HOLD_LOCAL_LOCK, scene.store.target.location, scene.env())

    run = run_publish(scene.args(), env=scene.env(), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    scene.assert_published()
    unlock = hayakoe("cleanup", scene.store.url, "--force-unlock", env=scene.env())
    assert "needs no unlocking" in unlock.stdout


@pytest.mark.parametrize("kind", ["s3", "hf"])
def test_cleanup_lists_then_removes_what_a_crash_left(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = destination_url(kind, request, tmp_path)
    store = get_registry().open(url)
    store.upload(write_tree(tmp_path / "live", {"onnx/speakers/a/config.json": b"live"}))
    new = write_tree(tmp_path / "new", {"onnx/speakers/a/config.json": b"new"})
    crashed = store.stage(new, new_staging_id())  # the publisher dies here
    if kind == "s3":  # a multipart upload the crashed publisher started and never completed
        admin = request.getfixturevalue("s3_admin")
        bucket, key = store.target.location, store.target.join(f".hayakoe/staging/{crashed.id}/big.onnx")
        upload = admin.create_multipart_upload(Bucket=bucket, Key=key)
        admin.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024)
    env = dict(os.environ)

    listed = hayakoe("cleanup", url, "--older-than", "0", "--dry-run", env=env)
    assert listed.returncode == 0, listed.stderr
    assert f"would remove: staging {crashed.id}" in listed.stdout
    if kind == "s3":
        assert f"would remove: incomplete multipart upload of s3://{bucket}/{key}" in listed.stdout

    removed = hayakoe("cleanup", url, "--older-than", "0", env=env)
    assert removed.returncode == 0, removed.stderr
    assert f"removed: staging {crashed.id}" in removed.stdout
    assert store.cleanup(timedelta(0), dry_run=True) == []
    if kind == "s3":
        assert admin.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert store.read_file("onnx/speakers/a/config.json") == b"live"
