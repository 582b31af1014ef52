"""The repo layout (ARCHITECTURE §5), as pure functions shared by every destination plugin.

``<root>/<repo folder>/speakers/<name>/…`` per backend, the shared BERT under ``pytorch/bert/``,
``onnx/bert/`` and ``bert/tokenizer/``, and ``README.md`` at the root.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hayakoe_core.paths import safe_relpath

README = "README.md"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class LocalFile:
    """A file to send: its path relative to the folder being uploaded, its location and size."""

    relpath: str
    path: Path
    size: int


def local_files(folder: Path) -> list[LocalFile]:
    """Every regular file below ``folder``, sorted, with ``manifest.json`` files last.

    Uploaders send files in this order so that a speaker's manifest lands after its contents.
    Symbolic links are followed; anything that is not a regular file is skipped.
    """
    found: list[LocalFile] = []
    for dirpath, _dirs, files in os.walk(folder, followlinks=True):
        for fname in files:
            path = Path(dirpath) / fname
            if path.is_file():
                rel = path.relative_to(folder).as_posix()
                found.append(LocalFile(rel, path, path.stat().st_size))
    return sorted(found, key=lambda f: (f.relpath.rsplit("/", 1)[-1] == MANIFEST, f.relpath))


def speakers_from_paths(paths: Iterable[str]) -> dict[str, list[str]]:
    """Speakers by repo folder, from file paths relative to a repo root.

    ``["onnx/speakers/a/config.json", "pytorch/speakers/a/x.safetensors"]`` →
    ``{"onnx": ["a"], "pytorch": ["a"]}``. Paths that are not inside a speaker folder, and names
    starting with ``.`` (staging or trash folders), are ignored. The paths usually come from a
    store's listing, so each is checked first: one with ``..``, an absolute part or a backslash
    raises :class:`~hayakoe_core.errors.UnsafePathError`.
    """
    found: dict[str, set[str]] = {}
    for path in paths:
        parts = safe_relpath(path).split("/")
        if _in_speaker(parts):
            found.setdefault(parts[0], set()).add(parts[2])
    return {folder: sorted(names) for folder, names in sorted(found.items())}


def speaker_dirs(relpaths: Iterable[str]) -> list[str]:
    """The speaker folders (``<repo folder>/speakers/<name>``) that the given file paths fill."""
    dirs = {"/".join(p.split("/")[:3]) for p in relpaths if _in_speaker(p.split("/"))}
    return sorted(dirs)


def is_repo_root(folder: Path) -> bool:
    """Whether the local ``folder`` holds the repo layout (some ``<folder>/<x>/speakers/<name>/``)."""
    try:
        return any(s.is_dir() and not s.name.startswith(".") for s in folder.glob("*/speakers/*"))
    except OSError:
        return False


def speaker_of(prefix: str) -> tuple[str, str] | None:
    """``(repo folder, name)`` when ``prefix`` is a speaker folder (``onnx/speakers/a``), else ``None``."""
    parts = prefix.strip("/").split("/")
    if len(parts) == 3 and parts[1] == "speakers" and parts[0] and parts[2]:
        return parts[0], parts[2]
    return None


def _in_speaker(parts: list[str]) -> bool:
    return len(parts) >= 4 and parts[1] == "speakers" and not parts[2].startswith(".")


def relpath_under(key: str, prefix: str) -> str | None:
    """``key`` relative to ``prefix`` (both ``/``-separated), checked safe; ``None`` if outside."""
    if prefix:
        if not key.startswith(prefix + "/"):
            return None
        key = key[len(prefix) + 1 :]
    return safe_relpath(key)
