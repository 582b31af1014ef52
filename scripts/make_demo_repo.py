"""Lay the tiny test speaker out as a voice repo in a local folder, the way publishing will.

Each backend plugin prepares its own file set (torch copies the checkpoint, onnx exports the
graphs), every speaker folder gets its manifest, the tiny BERT is added, and the staged tree is
placed with the local destination's upload hook. The tiny speaker has random weights: it proves
the pipeline, not the voice.

usage: python scripts/make_demo_repo.py DEST_FOLDER
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from hayakoe_core.fetching import cache_root
from hayakoe_core.manifest import build_manifest, sha256_file, write_manifest
from hayakoe_core.paths import speaker_prefix
from hayakoe_core.progress import RichProgress
from hayakoe_core.registry import get_registry

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SPEAKER = FIXTURES / "model" / "tiny"
CHECKPOINT = SPEAKER / "tiny_e1_s10.safetensors"
BERT = FIXTURES / "bert" / "tiny"
NAME = "tiny"


def main(dest: str) -> None:
    registry = get_registry()
    progress = RichProgress()
    store = registry.open(str(Path(dest).resolve()))
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp)
        for backend in registry.backends():
            out = staged / speaker_prefix(backend.repo_folder, NAME)
            registry.prepare_files(
                backend.name,
                speaker_source=SPEAKER,
                checkpoint=CHECKPOINT,
                out_dir=out,
                cache_dir=cache_root() / "exports",
                progress=progress,
            )
            write_manifest(out, build_manifest(out, NAME, backend.name, sha256_file(CHECKPOINT)))
        for part in ("bert", "onnx/bert"):
            shutil.copytree(BERT / part, staged / part, dirs_exist_ok=True)
        store.upload(staged, progress=progress)
    print(f"demo repo ready at {store.url}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(sys.argv[1])
