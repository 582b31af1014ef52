"""The store's work ahead of a promote, in the publish pipeline, on S3 (SeaweedFS on loopback):
the pre-copy runs while the staged speaker is verified, the promote only completes its uploads,
and a failed verification, a Ctrl-C or a conflict leaves the destination as it should.

The pipeline is :class:`~tests.publish.test_concurrency.PreparedPipeline` (the real one, the tiny
ONNX graphs taken as they are) with verification on: a clean process loads the staged speaker.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hayakoe_core.publish.pipeline import VerificationError
from hayakoe_core.publish.plan import Receipt
from hayakoe_core.registry import Store, get_registry
from tests.dest_s3.helpers import plugin_requests, watching
from tests.publish import test_destinations
from tests.publish.faults.scene import leftovers
from tests.publish.speakers import speaker_folder
from tests.publish.test_concurrency import PreparedPipeline, live_speaker, publish, version_files
from tests.publish.test_pipeline import plan_for

pytestmark = pytest.mark.usefixtures("isolated")
#: The operations that move bytes into an object (a promote after a pre-copy makes none).
COPIES = ("CopyObject", "UploadPartCopy", "PutObject", "UploadPart")


@pytest.fixture
def url(s3_env: object, s3_bucket: str) -> str:
    return f"s3://{s3_bucket}/team/voices"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return speaker_folder(tmp_path / "spk", graphs=True)


def verified(
    folder: Path, url: str, tmp: Path, pipeline: type[PreparedPipeline] = PreparedPipeline, **kw: Any
) -> PreparedPipeline:
    """The pipeline of a verified publish of ``folder`` as speaker ``tiny`` to ``url`` (``note``
    and plan fields in ``kw``)."""
    note = kw.pop("note", None)
    plan = dataclasses.replace(plan_for(folder, tmp, tmp, **{"verify": True, **kw}), destination=url)
    return pipeline(plan, note=note)


def open_uploads(store: Store, s3_admin: Any) -> list[str]:
    target = store.target
    listed = s3_admin.list_multipart_uploads(Bucket=target.location, Prefix=target.prefix + "/")
    return [upload["Key"] for upload in listed.get("Uploads", [])]


def untouched(store: Store, before: dict[str, bytes], tmp: Path, s3_admin: Any) -> None:
    """Readers see ``before``, and nothing of the publish is left: no upload, staging area,
    lease or ledger record."""
    assert test_destinations.snapshot(store, tmp / "after") == before
    assert open_uploads(store, s3_admin) == []
    assert leftovers(store) == []


def test_the_promote_completes_what_was_precopied_during_verification(
    url: str, folder: Path, tmp_path: Path, s3_admin: Any
) -> None:
    publish(folder, url, "other", tmp_path)  # the destination holds the BERT and a README
    store = get_registry().open(url)
    with plugin_requests() as calls:

        def note(text: str) -> None:
            calls.append(("note", {"text": text}))

        receipt = verified(folder, url, tmp_path, note=note).run()
    notes = [params["text"] for op, params in calls if op == "note"]
    assert any(n.startswith("precopy: preparing") for n in notes)
    start = notes.index(next(n for n in notes if n.startswith("promote: making")))
    start = [i for i, (op, _) in enumerate(calls) if op == "note"][start]
    promoting = [(op, p.get("Key", "")) for op, p in calls[start:] if op != "note"]
    sent = {f.path for f in receipt.files if f.transfer != "unchanged"}
    completed = sorted(key for op, key in promoting if op == "CompleteMultipartUpload")
    assert completed == sorted(store.target.join(rel) for rel in sent if rel != "README.md")
    copied = [key for op, key in promoting if op in COPIES and ".hayakoe/" not in key]
    assert copied == [store.target.join("README.md")], "the promote copied what the pre-copy had"
    assert list(receipt.phases).index("precopy") == list(receipt.phases).index("verify") + 1
    assert receipt.phases["precopy"] > 0 and not receipt.unverified
    assert live_speaker(store, "tiny", tmp_path / "check") == version_files(folder)
    assert leftovers(store) == []


def test_a_failed_verification_stops_the_precopy_and_leaves_nothing(
    url: str, folder: Path, tmp_path: Path, s3_admin: Any
) -> None:
    publish(folder, url, "other", tmp_path)
    store = get_registry().open(url)
    before = test_destinations.snapshot(store, tmp_path / "before")

    class FailingVerification(PreparedPipeline):
        def _check(self, source: str, bert_source: str) -> None:
            raise VerificationError("the staged speaker was silent (a test's verdict)")

    with pytest.raises(VerificationError):
        verified(folder, url, tmp_path, FailingVerification).run()
    untouched(store, before, tmp_path, s3_admin)


def test_ctrl_c_during_the_precopy_leaves_nothing(
    url: str, folder: Path, tmp_path: Path, s3_admin: Any
) -> None:
    """Ctrl-C while verifying, the pre-copy part-way (each part copy slowed down): the pre-copy
    stops at its next part, the staging area and every upload it opened are gone."""
    publish(folder, url, "other", tmp_path)
    store = get_registry().open(url)
    before = test_destinations.snapshot(store, tmp_path / "before")
    copying, parts = threading.Event(), []

    def slow_part(**kwargs: Any) -> None:
        parts.append(kwargs["params"]["Key"])
        copying.set()
        time.sleep(0.5)

    class CtrlC(PreparedPipeline):
        def _check(self, source: str, bert_source: str) -> None:
            assert copying.wait(30)
            raise KeyboardInterrupt

    with watching("provide-client-params.s3.UploadPartCopy", slow_part), pytest.raises(KeyboardInterrupt):
        verified(folder, url, tmp_path, CtrlC).run()
    # Five files to pre-copy (four and the manifest), four at a time: the fifth never starts.
    assert 0 < len(parts) < len(version_files(folder)) + 1, "the pre-copy was cut short"
    untouched(store, before, tmp_path, s3_admin)


def test_a_conflict_after_the_precopy_restages_the_readme_and_completes_the_uploads(
    url: str, folder: Path, tmp_path: Path, s3_admin: Any
) -> None:
    """Someone publishes another speaker while this one is verified: the promote conflicts,
    re-reads, stages a README naming both and promotes, completing the pre-copied uploads."""
    publish(folder, url, "seed", tmp_path)
    store = get_registry().open(url)
    others = speaker_folder(tmp_path / "other", graphs=True)

    class Overtaken(PreparedPipeline):
        def _check(self, source: str, bert_source: str) -> None:
            super()._check(source, bert_source)
            publish(others, url, "meanwhile", tmp_path)

    notes: list[str] = []
    with plugin_requests() as calls:
        receipt: Receipt = verified(folder, url, tmp_path, Overtaken, note=notes.append).run()
    assert any("changed meanwhile" in n for n in notes)
    assert store.list_speakers() == {"onnx": ["meanwhile", "seed", "tiny"]}
    readme = store.read_readme() or ""
    assert all(f'"{name}"' in readme for name in ("meanwhile", "seed", "tiny"))
    completed = {p["Key"] for op, p in calls if op == "CompleteMultipartUpload"}
    tiny = {store.target.join(f.path) for f in receipt.files if f.path.startswith("onnx/speakers/tiny/")}
    assert tiny <= completed, "the tiny speaker's files were made live by completing their uploads"
    assert live_speaker(store, "tiny", tmp_path / "check") == version_files(folder)
    assert leftovers(store) == []


def test_a_failed_precopy_costs_the_promote_a_copy_and_nothing_else(
    url: str, folder: Path, tmp_path: Path
) -> None:
    from botocore.exceptions import ClientError

    def store_error(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "disk full"}}, "UploadPartCopy")

    notes: list[str] = []
    with watching("provide-client-params.s3.UploadPartCopy", store_error), plugin_requests() as calls:
        receipt = verified(folder, url, tmp_path, note=notes.append).run()
    (failed,) = [n for n in notes if n.startswith("precopy: not finished")]
    assert "InternalError" in failed and "\n" not in failed
    copied = {p["Key"] for op, p in calls if op == "CopyObject"}
    assert {url.split("/", 3)[3] + "/" + f.path for f in receipt.files} <= copied
    store = get_registry().open(url)
    assert live_speaker(store, "tiny", tmp_path / "check") == version_files(folder)
    assert leftovers(store) == []


def test_no_precopy_without_verification(url: str, folder: Path, tmp_path: Path) -> None:
    notes: list[str] = []
    with plugin_requests() as calls:
        receipt = verified(folder, url, tmp_path, verify=False, note=notes.append).run()
    assert receipt.unverified and "precopy" not in receipt.phases
    assert not any(n.startswith("precopy") for n in notes)
    opened = [p["Key"] for op, p in calls if op == "CreateMultipartUpload" and "/.hayakoe/" not in p["Key"]]
    assert opened == [], "an upload opened at a live key"
