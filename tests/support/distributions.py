"""Installed distributions made by hand, to test what the registry finds by entry point."""

from __future__ import annotations

import textwrap
from pathlib import Path


def fake_distribution(site: Path, name: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """Install a distribution by writing its dist-info and modules into ``site`` (a folder on
    ``sys.path`` or ``PYTHONPATH``); ``entry_points`` go in the ``hayakoe`` group."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[hayakoe]\n{lines}\n")
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
