"""The S3 pre-copy (``prepare_promote``) beyond the conformance suite, on a real S3 server: what
it sends, that promote then moves no bytes, and every way it can be cut short or overtaken."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from hayakoe_core.errors import ConflictError
from hayakoe_core.layout import README
from hayakoe_core.testing import write_tree
from hayakoe_core.types import DestinationState, Staging, Target
from hayakoe_dest_s3 import live_uploads, transfer
from hayakoe_dest_s3.hidden import PRECOPY
from tests.dest_s3.helpers import RecordingProgress, objects, plugin_requests
from tests.dest_s3.test_publish import (
    _MIB,
    V1,
    V2,
    Publisher,
    _die,
    _half_promoted,
    _sha,
    _writes,
    inside,
    model,
    publisher,
    speaker,
    store,
)

__all__ = ["publisher", "store"]  # fixtures


def open_uploads(s3_admin: Any, target: Target) -> list[str]:
    """The keys of the multipart uploads under the target neither completed nor aborted."""
    listed = s3_admin.list_multipart_uploads(Bucket=target.location, Prefix=target.prefix + "/")
    return sorted(upload["Key"] for upload in listed.get("Uploads", []))


def test_promote_completes_the_precopied_uploads_and_copies_nothing(
    publisher: Publisher, target: Target, s3_admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "COPY_PART_BYTES", 5 * _MIB)  # the store's smallest part size
    publisher.publish({**speaker("a", V1), README: b"# v1\n"})
    big = model(8, 11 * _MIB)
    files = {**speaker("a", {**V2, "synthesizer.onnx": big}), README: b"# v2\n"}
    staging = publisher.stage(files)
    live_before = objects(s3_admin, target)

    progress = RecordingProgress()
    with plugin_requests() as calls:
        assert publisher.store.prepare_promote(staging, progress)
    changed = sorted(target.join(rel) for rel in files if rel != README)  # README: copied by promote
    assert sorted(_writes(calls, "CreateMultipartUpload")) == changed
    copies = _writes(calls, "UploadPartCopy")
    assert sorted(set(copies)) == changed
    assert copies.count(target.join("onnx/speakers/a/synthesizer.onnx")) == 3, "11 MiB in 5 MiB parts"
    assert progress.done("pre-copy") == sum(len(data) for rel, data in files.items() if rel != README)
    assert objects(s3_admin, target) == live_before, "a reader sees nothing of the pre-copy"

    with plugin_requests() as calls:
        publisher.store.promote(staging, staging.base, RecordingProgress())
    assert sorted(_writes(calls, "CompleteMultipartUpload")) == changed
    assert _writes(calls, "CopyObject") == [target.join(README)]
    assert _writes(calls, "UploadPartCopy", "UploadPart", "CreateMultipartUpload") == []
    key = target.join("onnx/speakers/a/synthesizer.onnx")
    assert s3_admin.head_object(Bucket=target.location, Key=key)["Metadata"]["sha256"] == _sha(big)
    assert objects(s3_admin, target) == files
    publisher.store.discard(staging)
    assert open_uploads(s3_admin, target) == []


def test_an_upload_gone_before_the_promote_is_copied_instead(
    publisher: Publisher, target: Target, s3_admin: Any
) -> None:
    """An upload the store no longer has (aborted by someone's cleanup, or completed by a
    promote that died) makes the promote copy that file."""
    publisher.publish(speaker("a", V1))
    staging = publisher.stage(speaker("a", V2))
    publisher.store.prepare_promote(staging)
    x = target.join("onnx/speakers/a/x.bin")
    (upload_id,) = [
        u["UploadId"]
        for u in s3_admin.list_multipart_uploads(Bucket=target.location, Prefix=x).get("Uploads", [])
    ]
    s3_admin.abort_multipart_upload(Bucket=target.location, Key=x, UploadId=upload_id)
    with plugin_requests() as calls:
        publisher.store.promote(staging, staging.base)
    assert x in _writes(calls, "CompleteMultipartUpload"), "the record named it"
    assert _writes(calls, "CopyObject") == [x], "the store no longer had it"
    assert publisher.live("onnx", "a") == inside(speaker("a", V2))


def test_a_precopy_cut_short_before_it_recorded_its_uploads_is_undone_by_discard(
    publisher: Publisher, target: Target, s3_admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The publisher dies after opening the uploads, before writing their ids: discard finds
    them by the keys recorded first. An upload at another key is left alone."""
    elsewhere = s3_admin.create_multipart_upload(Bucket=target.location, Key=target.join("other/big.bin"))
    staging = publisher.stage(speaker("a", V1))
    writes, calls = live_uploads.write, []

    def die_at_the_second_write(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        if len(calls) == 2:  # the uploads are open: stop before their ids are written
            raise KeyboardInterrupt
        writes(*args, **kwargs)

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(live_uploads, "write", die_at_the_second_write)
        publisher.store.prepare_promote(staging)
    assert len(open_uploads(s3_admin, target)) == 1 + len(speaker("a", V1))
    publisher.store.discard(staging)
    assert open_uploads(s3_admin, target) == [target.join("other/big.bin")]
    s3_admin.abort_multipart_upload(
        Bucket=target.location, Key=target.join("other/big.bin"), UploadId=elsewhere["UploadId"]
    )


def test_a_promote_that_died_after_a_precopy_is_finished_by_the_next_one(
    publisher: Publisher, target: Target, tmp_path: Path, s3_admin: Any
) -> None:
    """The dead promote completed an upload; the roll-forward completes the same ones again or
    copies, and ends with the new version whole; discarding leaves no upload open."""
    publisher.publish(speaker("a", V1))
    other = publisher.stage(speaker("c", {"config.json": b"{}"}))
    tree = write_tree(tmp_path / "dying", speaker("a", V2))
    dead = _die(target, tree, "prepared-promote", 0, lease_seconds="1")
    _half_promoted(s3_admin, target)
    record = target.join(f".hayakoe/staging/{dead}/{PRECOPY}")
    assert s3_admin.head_object(Bucket=target.location, Key=record), "the pre-copy finished"
    deadline = time.monotonic() + 60
    while True:  # the dead publisher's lease lapses a second after its last renewal
        with pytest.raises(ConflictError) as raised:
            publisher.store.promote(other, other.base)
        if not raised.value.busy or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert not raised.value.busy and "interrupted" in str(raised.value)
    assert publisher.live("onnx", "a") == inside(speaker("a", V2))
    for staging_id in (dead, other.id):
        publisher.store.discard(Staging(staging_id, "", DestinationState("")))
    assert open_uploads(s3_admin, target) == []


def test_preparing_again_replaces_the_earlier_precopy(
    publisher: Publisher, target: Target, s3_admin: Any
) -> None:
    publisher.publish(speaker("a", V1))
    staging = publisher.stage(speaker("a", V2))
    publisher.store.prepare_promote(staging)
    publisher.store.prepare_promote(staging)
    assert len(open_uploads(s3_admin, target)) == len(speaker("a", V2)), "the first ones were aborted"
    publisher.store.promote(staging, staging.base)
    publisher.store.discard(staging)
    assert open_uploads(s3_admin, target) == []
    assert publisher.live("onnx", "a") == inside(speaker("a", V2))
