"""The shared BERT a publish stages and verifies with (ARCHITECTURE §6, step 8; issue: BERT).

The BERT comes from a BERT source (``--bert-source``, else ``$HAYAKOE_BERT_SOURCE``, else
upstream's public repo), fetched into the cache exactly as the runtime fetches it. A destination
records the BERT it holds in ``bert/manifest.json``: every file's size and sha256 and one digest
over them. A publish stages the BERT only when the destination lacks it or holds another (by
digest), and each speaker's manifest names the BERT it was verified with (source, revision,
digest).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from hayakoe_core.bert.layout import TOKENIZER_DIR, TORCH_FP32_DIR
from hayakoe_core.bert.source import fetch_bert_root
from hayakoe_core.errors import ConfigError
from hayakoe_core.fetching import Fetcher
from hayakoe_core.layout import local_files
from hayakoe_core.manifest import BertRef, FileEntry, sha256_file
from hayakoe_core.registry import Capability, Store

BERT_MANIFEST = "bert/manifest.json"
FORMAT = "hayakoe-bert"
VERSION = 1
#: Folders of a BERT source root that make up the shared BERT (the fp32 one is optional).
_FOLDERS = (TOKENIZER_DIR, "onnx/bert", TORCH_FP32_DIR)


@dataclass(frozen=True)
class BertBundle:
    """A BERT ready to stage: where it came from, its local root and its files' digests."""

    source: str
    revision: str | None
    root: Path
    files: dict[str, FileEntry]

    @property
    def sha256(self) -> str:
        """One digest over every file's path, size and sha256."""
        lines = "".join(f"{rel} {e.size} {e.sha256}\n" for rel, e in sorted(self.files.items()))
        return hashlib.sha256(lines.encode()).hexdigest()

    def ref(self) -> BertRef:
        """What a speaker manifest records about this BERT."""
        return BertRef(self.source, self.revision, self.sha256)

    def manifest_json(self) -> str:
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "source": self.source,
            "revision": self.revision,
            "sha256": self.sha256,
            "files": {rel: {"size": e.size, "sha256": e.sha256} for rel, e in sorted(self.files.items())},
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

    def size(self) -> int:
        return sum(e.size for e in self.files.values())

    def write_into(self, tree: Path) -> list[str]:
        """Put the BERT's files and ``bert/manifest.json`` into the repo tree ``tree`` (hard links
        where the filesystem allows, else copies); returns the repo paths written."""
        for rel in self.files:
            out = tree / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(self.root / rel, out)
            except OSError:
                shutil.copyfile(self.root / rel, out)
        (tree / BERT_MANIFEST).parent.mkdir(parents=True, exist_ok=True)
        (tree / BERT_MANIFEST).write_text(self.manifest_json(), encoding="utf-8")
        return [*self.files, BERT_MANIFEST]


def load_bundle(store: Store, fetcher: Fetcher, *, with_fp32: bool) -> BertBundle:
    """Fetch ``store``'s BERT (the fp32 one too when ``with_fp32``) and hash its files."""
    root = fetch_bert_root(fetcher, store, with_fp32=with_fp32)
    folders = _FOLDERS if with_fp32 else _FOLDERS[:2]
    files = {
        f"{folder}/{f.relpath}": FileEntry(f.size, sha256_file(f.path))
        for folder in folders
        if (root / folder).is_dir()
        for f in local_files(root / folder)
    }
    if not files:
        raise ConfigError(f"{store.url} holds no BERT files under {', '.join(folders)}")
    return BertBundle(store.url, store.target.revision, root, files)


def held_by(store: Store) -> str | None:
    """The digest of the BERT ``store`` holds per its ``bert/manifest.json`` (``None``: none, or
    one this hayakoe cannot read — then the BERT is staged again, which is always safe)."""
    if not store.supports(Capability.READ_FILE):
        return None
    raw = store.read_file(BERT_MANIFEST)
    try:
        doc = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
        return None
    digest = doc.get("sha256")
    return digest if isinstance(digest, str) else None
