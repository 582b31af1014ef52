"""The publish pipeline to a local folder: stage → verify → promote, overwrite, README, BERT, dry run.

The same flow against S3 and the Hub is in test_destinations.py; here each behaviour is proven
once on the real local destination, with the real backends, verification in a clean process
and the tiny fixture speaker.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hayakoe_core.errors import HayakoeError
from hayakoe_core.manifest import Manifest, sha256_file
from hayakoe_core.publish import pipeline as pipeline_module
from hayakoe_core.publish.pipeline import VerificationError, publish_plan
from hayakoe_core.publish.plan import Plan
from hayakoe_core.testing import read_tree
from hayakoe_core.tts import TTS
from tests.publish.speakers import save_tensors, speaker_folder, tiny_tensors
from tests.support.repo import CHECKPOINT, TINY_BERT

pytestmark = pytest.mark.usefixtures("isolated")


def plan_for(folder: Path, dest: Path, tmp: Path, **changes) -> Plan:
    checkpoint = folder / CHECKPOINT.name
    plan = Plan(
        folder=folder,
        checkpoint=checkpoint,
        checkpoint_sha256=sha256_file(checkpoint),
        name="tiny",
        backends=("onnx",),
        destination=str(dest),
        bert_source=str(TINY_BERT),
        verify_dir=tmp / "verify",
    )
    return dataclasses.replace(plan, **changes)


def retrain(folder: Path) -> None:
    """Replace the folder's checkpoint by another one of the same shape (another training step)."""
    tensors = tiny_tensors()
    tensors["dec.conv_pre.bias"] = tensors["dec.conv_pre.bias"] + np.float32(0.01)
    save_tensors(folder / CHECKPOINT.name, tensors)


def everything(root: Path) -> dict[str, bytes]:
    """Every file a reader of ``root`` can see (hidden state and staging excluded)."""
    return read_tree(root) if root.is_dir() else {}


def test_first_publish_is_verified_then_live_and_loads(tmp_path: Path) -> None:
    dest = tmp_path / "voices"
    plan = plan_for(speaker_folder(tmp_path / "spk"), dest, tmp_path, backends=("onnx", "torch"))
    notes: list[str] = []

    receipt = publish_plan(plan, note=notes.append)

    assert [(v.backend, v.device, v.ok) for v in receipt.verification] == [
        ("onnx", "cpu", True), ("torch", "cpu", True)
    ]  # fmt: skip
    assert all(v.wav.is_file() for v in receipt.verification)
    assert not receipt.unverified and receipt.state == "generation 1"
    paths = {f.path for f in receipt.files}
    assert {"onnx/speakers/tiny/synthesizer.onnx", "pytorch/speakers/tiny/tiny_e1_s10.safetensors",
            "onnx/bert/q8/bert_q8.onnx", "bert/manifest.json", "README.md"} <= paths  # fmt: skip
    live = everything(dest)
    assert set(live) == paths
    for path in paths:
        assert sha256_file(dest / path) == next(f.sha256 for f in receipt.files if f.path == path)
    manifest = Manifest.read(dest / "onnx/speakers/tiny")
    assert manifest.checkpoint_sha256 == plan.checkpoint_sha256
    assert manifest.bert is not None and manifest.bert == receipt.bert
    assert not (dest / ".hayakoe" / "staging").exists()
    order = [n.split(":")[0] for n in notes if n.split(":")[0] in ("parity", "verify", "promote")]
    assert order.index("parity") < order.index("verify") < order.index("promote")
    readme = (dest / "README.md").read_text()
    assert f'source="{dest.resolve().as_uri()}"' in readme
    speaker = TTS(cache_dir=tmp_path / "user-cache").load("tiny", source=str(dest)).prepare().speakers["tiny"]
    assert speaker.generate("テスト。").duration > 0


def test_an_existing_speaker_needs_overwrite_and_others_stay_byte_identical(tmp_path: Path) -> None:
    dest = tmp_path / "voices"
    folder = speaker_folder(tmp_path / "spk")
    publish_plan(plan_for(folder, dest, tmp_path, name="other", verify=False))
    publish_plan(plan_for(folder, dest, tmp_path, verify=False))
    before = everything(dest)

    with pytest.raises(HayakoeError, match=r"already published.*onnx/speakers/tiny.*--overwrite"):
        publish_plan(plan_for(folder, dest, tmp_path, verify=False))
    assert everything(dest) == before

    retrain(folder)
    receipt = publish_plan(plan_for(folder, dest, tmp_path, overwrite=True))

    after = everything(dest)
    others = {k: v for k, v in before.items() if not k.startswith("onnx/speakers/tiny/") and k != "README.md"}
    assert {k: after[k] for k in others} == others  # other speaker, BERT untouched
    assert after["onnx/speakers/tiny/manifest.json"] != before["onnx/speakers/tiny/manifest.json"]
    assert Manifest.read(dest / "onnx/speakers/tiny").checkpoint_sha256 == receipt.plan.checkpoint_sha256
    assert "bert/manifest.json" not in {f.path for f in receipt.files}, "an equal BERT is not staged again"


def test_the_other_backend_from_another_checkpoint_needs_overwrite(tmp_path: Path) -> None:
    dest = tmp_path / "voices"
    folder = speaker_folder(tmp_path / "spk")
    publish_plan(plan_for(folder, dest, tmp_path, backends=("torch",), verify=False))
    retrain(folder)
    with pytest.raises(HayakoeError, match=r"pytorch/speakers/tiny.*--overwrite"):
        publish_plan(plan_for(folder, dest, tmp_path, verify=False))
    assert not (dest / "onnx" / "speakers").exists()


def test_a_speaker_that_cannot_speak_fails_verification_and_is_never_visible(tmp_path: Path) -> None:
    dest = tmp_path / "voices"
    folder = speaker_folder(tmp_path / "spk")
    publish_plan(plan_for(folder, dest, tmp_path, name="other", verify=False))
    before = everything(dest)
    tensors = tiny_tensors()
    tensors["dec.conv_post.weight"] = np.full_like(tensors["dec.conv_post.weight"], np.nan)
    save_tensors(folder / CHECKPOINT.name, tensors)

    with pytest.raises(VerificationError, match=r"NaN.*nothing was made visible"):
        publish_plan(plan_for(folder, dest, tmp_path, backends=("torch",)))

    assert everything(dest) == before
    assert not (dest / ".hayakoe" / "staging").exists()
    assert not (tmp_path / "verify" / "tiny_torch-cpu.wav").exists()


def test_dry_run_builds_everything_and_touches_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "voices"
    folder = speaker_folder(tmp_path / "spk")
    receipt = publish_plan(plan_for(folder, dest, tmp_path), dry_run=True)
    assert not dest.exists() and not (tmp_path / "verify").exists()
    assert {f.transfer for f in receipt.files} == {None}
    assert {"onnx/speakers/tiny/synthesizer.onnx", "onnx/speakers/tiny/manifest.json", "README.md"} <= {
        f.path for f in receipt.files
    }
    publish_plan(plan_for(folder, dest, tmp_path, name="other", verify=False))
    before = everything(dest)
    publish_plan(plan_for(folder, dest, tmp_path), dry_run=True)
    assert everything(dest) == before


def test_readme_of_the_user_is_kept_or_updated_only_as_asked(tmp_path: Path) -> None:
    dest = tmp_path / "voices"
    dest.mkdir()
    (dest / "README.md").write_text("# My voices\n\nHand-written notes.\n")
    folder = speaker_folder(tmp_path / "spk")

    with pytest.raises(HayakoeError, match="--readme update"):
        publish_plan(plan_for(folder, dest, tmp_path, verify=False))
    assert sorted(p.name for p in dest.iterdir()) == ["README.md"]

    publish_plan(plan_for(folder, dest, tmp_path, verify=False, readme="keep"))
    assert (dest / "README.md").read_text() == "# My voices\n\nHand-written notes.\n"

    publish_plan(plan_for(folder, dest, tmp_path, name="other", verify=False, readme="update"))
    text = (dest / "README.md").read_text()
    assert "Hand-written notes." in text and '"other"' in text and '"tiny"' in text
    publish_plan(plan_for(folder, dest, tmp_path, name="third", verify=False))  # ours now: updated
    assert '"third"' in (dest / "README.md").read_text() and "Hand-written notes." in text


def test_a_publish_meanwhile_is_merged_and_the_readme_lists_both(tmp_path: Path, monkeypatch) -> None:
    dest = tmp_path / "voices"
    folder = speaker_folder(tmp_path / "spk")
    publish_plan(plan_for(folder, dest, tmp_path, name="first", verify=False))
    real_verify = pipeline_module.verify_speaker
    sneaked: list[str] = []

    def verify_while_someone_publishes(*args, **kwargs):
        if not sneaked:  # another publisher promotes while this one verifies
            sneaked.append("x")
            publish_plan(plan_for(folder, dest, tmp_path, name="sneaky", verify=False))
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "verify_speaker", verify_while_someone_publishes)
    notes: list[str] = []
    publish_plan(plan_for(folder, dest, tmp_path), note=notes.append)

    assert any("changed meanwhile" in n for n in notes)
    assert sorted(p.name for p in (dest / "onnx/speakers").iterdir()) == ["first", "sneaky", "tiny"]
    readme = (dest / "README.md").read_text()
    assert all(f'"{name}"' in readme for name in ("first", "sneaky", "tiny"))


def test_the_same_speaker_published_meanwhile_is_a_conflict(tmp_path: Path, monkeypatch) -> None:
    dest = tmp_path / "voices"
    folder = speaker_folder(tmp_path / "spk")
    real_verify = pipeline_module.verify_speaker

    def verify_while_someone_publishes_the_same(*args, **kwargs):
        monkeypatch.setattr(pipeline_module, "verify_speaker", real_verify)
        publish_plan(plan_for(folder, dest, tmp_path, verify=False))
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "verify_speaker", verify_while_someone_publishes_the_same)
    with pytest.raises(HayakoeError, match="changed by someone else"):
        publish_plan(plan_for(folder, dest, tmp_path))
    assert not (dest / ".hayakoe" / "staging").exists()


def test_an_unchanged_republish_stages_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "voices"
    folder = speaker_folder(tmp_path / "spk")
    plan = plan_for(folder, dest, tmp_path, backends=("onnx", "torch"), verify=False)
    first = publish_plan(plan)
    before = everything(dest)
    notes: list[str] = []

    again = publish_plan(dataclasses.replace(plan, overwrite=True, verify=True), note=notes.append)

    assert {f.transfer for f in again.files} == {"unchanged"}
    assert again.state == first.state, "no promote happened"
    assert [v.ok for v in again.verification] == [True, True], "the live copy is still verified"
    assert everything(dest) == before
    assert not any(n.startswith("staging") for n in notes)
