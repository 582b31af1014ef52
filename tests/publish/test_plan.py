"""Plan and receipt: typed, JSON round-trip, phase timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hayakoe_core.manifest import BertRef
from hayakoe_core.publish.plan import FileRecord, Plan, Receipt
from hayakoe_core.publish.verify import Verification

PLAN = Plan(
    folder=Path("/data/dataset/amitaro/exports/amitaro"),
    checkpoint=Path("/data/dataset/amitaro/exports/amitaro/amitaro_e100_s5000.safetensors"),
    checkpoint_sha256="ab" * 32,
    name="amitaro",
    backends=("onnx", "torch"),
    destination="s3://bucket/voices",
    license="cc-by-nc-4.0",
    readme="update",
)


def _receipt() -> Receipt:
    receipt = Receipt(
        plan=PLAN,
        files=[
            FileRecord("onnx/speakers/amitaro/synthesizer.onnx", 250_644_697, "cd" * 32, "sent"),
            FileRecord("onnx/bert/q8/bert_q8.onnx", 123, "ef" * 32, "unchanged"),
        ],
        bert=BertRef(source="hf://lemondouble/hayakoe", revision="main", sha256="01" * 32),
        verification=[
            Verification(
                "onnx", "cpu", True, Path(".verify_audio/amitaro_cpu.wav"), 1.25, 44100, seconds=3.5
            ),
            Verification("torch", "cuda", False, reason="device 'cuda' was asked for but …", seconds=0.4),
        ],
        state="generation 7",
    )
    receipt.phases["stage"] = 1.5
    return receipt


def test_a_receipt_survives_json_unchanged() -> None:
    receipt = _receipt()
    text = receipt.to_json()
    doc = json.loads(text)
    assert doc["plan"]["backends"] == ["onnx", "torch"]
    assert doc["plan"]["verify_dir"] == ".verify_audio"
    assert doc["files"][0] == {
        "path": "onnx/speakers/amitaro/synthesizer.onnx",
        "size": 250_644_697,
        "sha256": "cd" * 32,
        "transfer": "sent",
    }
    assert doc["verification"][0]["wav"] == ".verify_audio/amitaro_cpu.wav"
    assert doc["verification"][1]["reason"].startswith("device 'cuda'")
    assert Receipt.from_dict(doc) == receipt


def test_a_dry_run_receipt_has_files_that_were_not_sent() -> None:
    receipt = Receipt(plan=PLAN, files=[FileRecord("pytorch/speakers/amitaro/config.json", 10, "00" * 32)])
    assert json.loads(receipt.to_json())["files"][0]["transfer"] is None
    assert receipt.verification == [] and not receipt.unverified


def test_a_transfer_is_one_the_destinations_report() -> None:
    with pytest.raises(ValueError, match="transfer must be one of"):
        FileRecord("a", 1, "00", "uploaded")


def test_phases_add_up_in_the_order_they_ran() -> None:
    receipt = Receipt(plan=PLAN)
    with receipt.phase("validate"):
        pass
    with pytest.raises(RuntimeError), receipt.phase("export"):
        raise RuntimeError("a failed phase is timed too")
    with receipt.phase("validate"):
        pass
    assert list(receipt.phases) == ["validate", "export"]
    assert all(seconds >= 0 for seconds in receipt.phases.values())
