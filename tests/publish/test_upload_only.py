"""Publishing to a destination that can only upload (a simple third-party plugin): core uploads,
then verifies what is live, and says so — and a failed verification says the speaker IS visible.

The plugin (tests/support/upload_only.py) keeps a real folder. This process registers it in its
own registry; the verification child, a clean process, finds it the way it finds any installed
plugin: by its entry point (a dist-info on ``PYTHONPATH``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from hayakoe_core.manifest import Manifest, sha256_file
from hayakoe_core.publish.pipeline import VerificationError, publish_plan
from hayakoe_core.publish.plan import Plan
from hayakoe_core.registry import Capability, Registry
from hayakoe_core.tts import TTS
from tests.publish.speakers import save_tensors, speaker_folder, tiny_tensors
from tests.publish.test_pipeline import plan_for as pipeline_plan
from tests.support import upload_only
from tests.support.distributions import fake_distribution
from tests.support.repo import CHECKPOINT

pytestmark = pytest.mark.usefixtures("isolated")

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def registry() -> Registry:
    """The installed plugins, and the upload-only one registered in this process."""
    registry = Registry()
    registry.load_entry_points()
    registry.register(upload_only, name=upload_only.NAME)
    return registry


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The upload-only plugin installed for child processes (the verification), by entry point."""
    site = tmp_path / "site"
    fake_distribution(site, "hayakoe-upfolder", {upload_only.NAME: upload_only.__name__}, {})
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), str(REPO_ROOT), *sys.path]))


def plan_for(folder: Path, dest: Path, tmp: Path, **changes) -> Plan:
    """The pipeline tests' plan, publishing to ``dest`` through the upload-only plugin."""
    return pipeline_plan(folder, dest, tmp, destination=f"{upload_only.SCHEME}://{dest}", **changes)


def test_the_plugin_can_upload_but_not_stage(registry: Registry, tmp_path: Path) -> None:
    store = registry.open(f"{upload_only.SCHEME}://{tmp_path}")
    assert store.supports(Capability.UPLOAD) and store.supports(Capability.FETCH)
    assert not store.supports(Capability.PUBLISH)


@pytest.mark.usefixtures("installed")
def test_upload_only_publish_uploads_then_verifies_and_says_so(registry: Registry, tmp_path: Path) -> None:
    dest = tmp_path / "voices"
    plan = plan_for(speaker_folder(tmp_path / "spk", graphs=True), dest, tmp_path)
    notes: list[str] = []

    receipt = publish_plan(plan, registry=registry, note=notes.append)

    url = f"{upload_only.SCHEME}://{dest}"
    assert f"{url} cannot stage: uploading first, verifying afterwards" in notes
    upload_note = notes.index(f"{url} cannot stage: uploading first, verifying afterwards")
    assert upload_note < min(i for i, n in enumerate(notes) if n.startswith("verify:"))
    assert receipt.unverified, "the speaker was visible before it was verified: the receipt says so"
    assert receipt.state == "uploaded (this destination cannot stage)"
    assert [(v.backend, v.device, v.ok) for v in receipt.verification] == [("onnx", "cpu", True)]
    assert receipt.verification[0].wav.is_file()
    assert {f.transfer for f in receipt.files} == {"sent"}
    for record in receipt.files:  # live, every byte as built
        assert sha256_file(dest / record.path) == record.sha256
    assert Manifest.read(dest / "onnx/speakers/tiny").checkpoint_sha256 == plan.checkpoint_sha256
    assert not (dest / ".hayakoe").exists(), "nothing was staged"
    tts = TTS(cache_dir=tmp_path / "user-cache", bert_source=str(dest)).load("tiny", source=str(dest))
    assert tts.prepare().speakers["tiny"].generate("テスト。").duration > 0


@pytest.mark.usefixtures("installed")
def test_a_failed_verification_says_the_speaker_is_already_visible(
    registry: Registry, tmp_path: Path
) -> None:
    """A checkpoint whose decoder gives NaN loads but cannot speak: the torch backend's check
    fails after the upload, and the error says the speaker is live, not that nothing was shown."""
    dest = tmp_path / "voices"
    folder = speaker_folder(tmp_path / "spk")
    tensors = tiny_tensors()
    tensors["dec.conv_post.weight"] = np.full_like(tensors["dec.conv_post.weight"], np.nan)
    save_tensors(folder / CHECKPOINT.name, tensors)

    with pytest.raises(VerificationError) as failed:
        publish_plan(plan_for(folder, dest, tmp_path, backends=("torch",)), registry=registry)

    message = str(failed.value)
    assert "NaN" in message and "nothing was made visible" not in message
    assert f"so it IS live at {upload_only.SCHEME}://{dest}" in message and "\n" not in message
    assert (dest / "pytorch/speakers/tiny" / CHECKPOINT.name).read_bytes() == (
        folder / CHECKPOINT.name
    ).read_bytes()
    assert not (tmp_path / "verify" / "tiny_torch-cpu.wav").exists()
