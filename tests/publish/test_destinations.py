"""The whole unattended publish to each built-in destination: local, S3 (SeaweedFS on loopback)
and the Hub (the real huggingface_hub client against the project's Hub test server).

One story per destination: a first speaker, then a second one verified on both backends, then
the second overwritten from another checkpoint — every other speaker, the BERT and anything not
replaced byte-identical — then a speaker that cannot speak, which never becomes visible.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from hayakoe_core.manifest import Manifest, sha256_file
from hayakoe_core.publish.pipeline import VerificationError, publish_plan
from hayakoe_core.registry import Capability, Store, get_registry
from hayakoe_core.testing import read_tree
from tests.publish.speakers import save_tensors, speaker_folder, tiny_tensors
from tests.publish.test_pipeline import plan_for, retrain
from tests.support.repo import CHECKPOINT

pytestmark = pytest.mark.usefixtures("isolated")


def snapshot(store: Store, tmp: Path) -> dict[str, bytes]:
    """Every file a reader of the destination sees, by repo path (speakers, BERT, README)."""
    seen: dict[str, bytes] = {}
    for folder, names in store.list_speakers().items():
        for name in names:
            prefix = f"{folder}/speakers/{name}"
            for rel, data in read_tree(store.fetch(prefix, tmp / prefix)).items():
                seen[f"{prefix}/{rel}"] = data
    for prefix in ("bert/tokenizer", "onnx/bert/q8"):
        for rel, data in read_tree(store.fetch(prefix, tmp / prefix)).items():
            seen[f"{prefix}/{rel}"] = data
    for loose in ("README.md", "bert/manifest.json"):
        if (data := store.read_file(loose)) is not None:
            seen[loose] = data
    return seen


def test_publish_overwrite_and_a_failed_verification(destination: str, tmp_path: Path) -> None:
    store = get_registry().open(destination)
    folder = speaker_folder(tmp_path / "spk")
    plan = dataclasses.replace(plan_for(folder, tmp_path / "unused", tmp_path), destination=store.url)

    first = publish_plan(dataclasses.replace(plan, name="other", verify=False))
    assert first.unverified and {"bert/manifest.json", "README.md"} <= {f.path for f in first.files}

    second = publish_plan(dataclasses.replace(plan, backends=("onnx", "torch")))
    assert [v.ok for v in second.verification] == [True, True]
    sent = {f.path for f in second.files if f.transfer == "sent"}
    assert not any(p.startswith(("bert/", "onnx/bert/")) for p in sent), "an equal BERT is not sent again"
    assert store.list_speakers() == {"onnx": ["other", "tiny"], "pytorch": ["tiny"]}
    before = snapshot(store, tmp_path / "before")

    retrain(folder)
    third = publish_plan(dataclasses.replace(plan, backends=("onnx", "torch"), overwrite=True,
                                             checkpoint_sha256=_sha(folder)))  # fmt: skip
    after = snapshot(store, tmp_path / "after")
    untouched = {k: v for k, v in before.items() if "/speakers/tiny/" not in k and k != "README.md"}
    assert {k: after[k] for k in untouched} == untouched
    for repo_folder in ("onnx", "pytorch"):
        raw = store.read_file(f"{repo_folder}/speakers/tiny/manifest.json")
        assert Manifest.parse(raw).checkpoint_sha256 == third.plan.checkpoint_sha256
    if store.supports(Capability.CLEANUP):
        assert store.cleanup(timedelta(0), dry_run=True) == [], "no staging area is left behind"

    poisoned = tiny_tensors()
    poisoned["dec.conv_post.weight"] = np.full_like(poisoned["dec.conv_post.weight"], np.nan)
    save_tensors(folder / CHECKPOINT.name, poisoned)
    with pytest.raises(VerificationError, match="nothing was made visible"):
        broken = dataclasses.replace(plan, name="broken", backends=("torch",), checkpoint_sha256=_sha(folder))
        publish_plan(broken)
    assert snapshot(store, tmp_path / "final") == after
    assert "broken" not in str(store.list_speakers())


def _sha(folder: Path) -> str:
    return sha256_file(folder / CHECKPOINT.name)
