"""The CPU BERT path must never import torch or transformers (hayakoe[cpu] installs neither)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.bert.golden import TINY_ROOT

REPO = Path(__file__).resolve().parents[2]

SCRIPT = f"""
import sys
from pathlib import Path
from hayakoe_core.bert import BertFeatureExtractor
extractor = BertFeatureExtractor.from_source_root(Path({str(TINY_ROOT)!r}))
features = extractor.features_batch([("あい.", [3, 2, 2, 2, 2]), ("う", [3, 2, 2])])
assert [f.shape for f in features] == [(1024, 11), (1024, 7)], [f.shape for f in features]
heavy = sorted(m for m in ("torch", "transformers") if m in sys.modules)
print("heavy:", heavy)
"""


def test_cpu_bert_path_imports_neither_torch_nor_transformers() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "heavy: []"
