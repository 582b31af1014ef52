"""Checks on paths and names that come from users or from remote stores.

Anything a store lists back is untrusted: a remote path with ``..``, an absolute part or a
backslash is refused before anything is written, everywhere.
"""

from __future__ import annotations

import re

from hayakoe_core.errors import HayakoeError, UnsafePathError

SPEAKER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MAX_SEGMENT_BYTES = 255  # the longest file or folder name common file systems (and S3 tools) allow


def safe_relpath(path: str, *, allow_empty: bool = False) -> str:
    """``path`` normalised to ``a/b/c`` if it is a safe relative path, else :class:`UnsafePathError`.

    Refused: ``..`` segments, absolute paths (``/x``, ``C:x``, ``//host``), backslashes, NUL,
    and (unless ``allow_empty``) the empty path. ``.`` and empty segments are dropped.
    """
    if "\\" in path or "\x00" in path:
        raise UnsafePathError(f"refusing unsafe remote path {path!r} (backslash or NUL)")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise UnsafePathError(f"refusing unsafe remote path {path!r} (absolute)")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePathError(f"refusing unsafe remote path {path!r} (contains '..')")
    if not parts and not allow_empty:
        raise UnsafePathError("refusing an empty remote path")
    return "/".join(parts)


def safe_name(name: str) -> str:
    """A speaker name as loading accepts it: one safe path segment (any name upstream allows)."""
    if len(name.encode()) > MAX_SEGMENT_BYTES:
        raise HayakoeError(
            f"refusing speaker name {name[:24]!r}… ({len(name)} characters): no folder name can be "
            f"longer than {MAX_SEGMENT_BYTES} bytes, so no store holds such a speaker"
        )
    clean = safe_relpath(name)
    if "/" in clean or clean != name:
        raise UnsafePathError(f"refusing speaker name {name!r}: it must be a single path segment")
    return clean


def check_publish_name(name: str) -> str:
    """A speaker name for publishing: lowercase letters, digits and hyphens, 1-63 characters."""
    if not SPEAKER_NAME_RE.match(name):
        raise HayakoeError(
            f"invalid speaker name {name!r}: use lowercase letters, digits and hyphens "
            "(start with a letter or digit, at most 63 characters)"
        )
    return name


def speaker_prefix(repo_folder: str, name: str) -> str:
    """The repo path of a speaker folder: ``<repo_folder>/speakers/<name>``."""
    return f"{safe_relpath(repo_folder)}/speakers/{safe_name(name)}"
