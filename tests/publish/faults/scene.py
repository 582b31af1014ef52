"""One fault-matrix scene: a destination holding two live speakers, and a new checkpoint of one.

:func:`make_scene` publishes ``other`` and ``tiny`` (ONNX files) to a local folder, S3
(SeaweedFS) or the Hub test server, records every file a reader sees, then retrains ``tiny``;
:meth:`Scene.args` is the ``hayakoe publish`` command that replaces it. After a fault,
:meth:`Scene.assert_old_or_new` checks what readers see: everything but ``tiny`` byte-identical,
and ``tiny`` the old one byte for byte or the new one whole (its files match its manifest, which
names the new checkpoint) — never a mix. :meth:`Scene.assert_published` checks a finished
re-run: the new ``tiny`` is live, nothing else changed, no staging area, lease or ledger record
is left.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest

from hayakoe_core.layout import MANIFEST
from hayakoe_core.manifest import Manifest, sha256_file
from hayakoe_core.publish.pipeline import publish_plan
from hayakoe_core.registry import Capability, Store, get_registry
from tests.publish.speakers import speaker_folder
from tests.publish.test_destinations import snapshot
from tests.publish.test_pipeline import plan_for, retrain
from tests.support.publisher import Finished, run_publish
from tests.support.repo import CHECKPOINT, TINY_BERT

TINY = "onnx/speakers/tiny/"


def destination_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty destination of ``kind`` (local, s3, hf), its fixtures started."""
    if kind == "local":
        return str(tmp_path / "voices")
    if kind == "s3":
        request.getfixturevalue("s3_env")
        return f"s3://{request.getfixturevalue('s3_bucket')}/team/voices"
    request.getfixturevalue("hub")
    return f"hf://{request.getfixturevalue('hub_repo')}"


@dataclasses.dataclass
class Scene:
    store: Store
    folder: Path
    tmp: Path
    before: dict[str, bytes]
    new_sha: str

    def args(self) -> list[str]:
        """The unattended command that publishes the retrained ``tiny`` over the live one."""
        return [
            "--folder", str(self.folder), "--name", "tiny", "--backend", "cpu", "--to", self.store.url,
            "--bert-source", str(TINY_BERT), "--overwrite", "--yes",
            "--verify-dir", str(self.tmp / "verify"),
        ]  # fmt: skip

    def env(self, **extra: str) -> dict[str, str]:
        """The environment the command runs with: this test's (destination settings, cache)."""
        return {**os.environ, **extra}

    def seen(self) -> dict[str, bytes]:
        where = self.tmp / f"seen-{os.urandom(4).hex()}"
        return snapshot(self.store, where)

    def assert_old_or_new(self) -> str:
        """Everything a reader sees is the old state, or the old state with ``tiny`` replaced
        whole by the new one; returns ``"old"`` or ``"new"``."""
        now = self.seen()
        rest = {k: v for k, v in now.items() if not k.startswith(TINY)}
        assert rest == {k: v for k, v in self.before.items() if not k.startswith(TINY)}
        tiny = {k: v for k, v in now.items() if k.startswith(TINY)}
        manifest = Manifest.parse(tiny[TINY + MANIFEST])
        if manifest.checkpoint_sha256 != self.new_sha:
            assert tiny == {k: v for k, v in self.before.items() if k.startswith(TINY)}, (
                "tiny is neither the old nor the new one"
            )
            return "old"
        files = {k[len(TINY) :]: v for k, v in tiny.items() if k != TINY + MANIFEST}
        assert set(files) == set(manifest.files), "tiny's files are not its manifest's: a mix"
        for rel, data in files.items():
            assert hashlib.sha256(data).hexdigest() == manifest.files[rel].sha256, f"{rel} is mixed"
        return "new"

    def assert_published(self) -> None:
        """The new ``tiny`` is live, the rest untouched, and nothing of any publish is left over."""
        assert self.assert_old_or_new() == "new"
        left = leftovers(self.store)
        assert left == [], f"left behind: {left}"


def leftovers(store: Store) -> list[str]:
    """Staging areas, multipart uploads, leases and ledger records any publish left behind."""
    found = store.cleanup(timedelta(0), dry_run=True) if store.supports(Capability.CLEANUP) else []
    if store.target.scheme == "s3":
        from hayakoe_dest_s3 import state
        from hayakoe_dest_s3.client import make_client

        lease = state.read(make_client(), store.target).doc.lease
        found += [f"lease {state.describe(lease)}"] if lease else []
    records = Path(os.environ["HAYAKOE_CACHE"], "publish", "staging")
    found += [f"ledger {p.name}" for p in records.glob("*")] if records.is_dir() else []
    return found


def make_scene(kind: str, request: pytest.FixtureRequest, tmp_path: Path, *, url: str | None = None) -> Scene:
    """Publish ``other`` and ``tiny`` to a fresh destination of ``kind`` (or to ``url``), then
    retrain ``tiny``."""
    store = get_registry().open(url or destination_url(kind, request, tmp_path))
    folder = speaker_folder(tmp_path / "spk")
    plan = dataclasses.replace(plan_for(folder, tmp_path / "unused", tmp_path), destination=store.url)
    for name in ("other", "tiny"):
        publish_plan(dataclasses.replace(plan, name=name, verify=False))
    before = snapshot(store, tmp_path / "before")
    assert {k for k in before if k.startswith(TINY)}, before.keys()
    retrain(folder)
    return Scene(store, folder, tmp_path, before, sha256_file(folder / CHECKPOINT.name))


def one_line_saying_rerun_is_safe(run: Finished) -> str:
    """A failed publish: exit 1, no traceback, a last line saying what happened and that running
    the command again is safe; that line."""
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    line = run.last_line()
    assert line.startswith("Error: ") and "running the same command again is safe" in line, run.stderr
    return line


def rerun_finishes(scene: Scene, cwd: Path, env: dict[str, str] | None = None) -> None:
    """The same command, run again without the fault (and with ``env`` added to the
    environment), publishes and leaves nothing behind."""
    rerun = run_publish(scene.args(), env=scene.env(**(env or {})), cwd=cwd)
    assert rerun.returncode == 0, rerun.stderr
    scene.assert_published()
