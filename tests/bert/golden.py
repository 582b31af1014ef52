"""Shared access to the BERT goldens in tests/fixtures/bert (see its README)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "bert"
TINY_ROOT = GOLDEN_DIR / "tiny"


@cache
def arrays() -> dict[str, np.ndarray]:
    with np.load(GOLDEN_DIR / "golden.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@cache
def index() -> dict[str, Any]:
    return json.loads((GOLDEN_DIR / "golden_index.json").read_text(encoding="utf-8"))["cases"]


def single_cases() -> list[tuple[str, str]]:
    """(npz prefix, bert_text) of every single-text case: whole texts and per-sentence units."""
    found = []
    for cid, record in index().items():
        found.append((cid, record["whole"]["bert_text"]))
        found += [(f"{cid}_u{k}", u["bert_text"]) for k, u in enumerate(record.get("units_single", []))]
    return found
