"""Say where ``pip install <torch spec>`` would take torch from, which build, and how large.

Used by scripts/install.sh before it installs torch: a pinned CPU wheel may lie on this
machine's disk; anywhere else the same pin downloads whatever build the index serves (on Linux
x86-64, PyPI's torch bundles CUDA and pulls several GB of NVIDIA libraries). Asks pip for its
plan (``--dry-run --report``, metadata only), then the size of each file to download (one HEAD
request each, 10 s timeout). Prints one line; exits 0 unless pip cannot resolve the spec.

    python scripts/torch_plan.py torch==2.13.0
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from urllib.parse import unquote, urlsplit

_TIMEOUT_S = 10


def plan(spec: str) -> list[dict]:
    """pip's installation report for ``spec`` in this interpreter's environment."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-", spec],
        capture_output=True, text=True, timeout=600,
    )
    if out.returncode != 0:
        raise SystemExit(f"pip cannot resolve {spec}: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout)["install"]


def size_of(url: str) -> int | None:
    """The Content-Length of ``url`` (one HEAD request), or ``None`` when it cannot be had."""
    try:
        request = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            return int(length) if length else None
    except (OSError, ValueError):
        return None


def human_size(n: int) -> str:
    """``2.1 GB``, ``850 MB``, ``12 kB``."""
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} kB"


def describe(spec: str, entries: list[dict]) -> str:
    """One line for the user (see the module docstring)."""
    torch = next((e for e in entries if e["metadata"]["name"].lower() == "torch"), None)
    if torch is None:
        return f"{spec}: already installed"
    url = torch["download_info"]["url"]
    wheel = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    remote = [e for e in entries if not e["download_info"]["url"].startswith("file:")]
    sizes = [size_of(e["download_info"]["url"]) for e in remote]
    amount = human_size(sum(s for s in sizes if s)) + (" or more" if None in sizes else "")
    if url.startswith("file:"):
        rest = f"; its dependencies download {len(remote)} file(s), {amount}" if remote else ""
        return f"{spec}: installed from this machine's disk ({wheel}){rest}"
    cuda = [e["metadata"]["name"] for e in entries if e["metadata"]["name"].lower().startswith("nvidia-")]
    build = "CPU-only" if "+cpu" in wheel else "with CUDA" if cuda else "the index's default"
    extra = f" plus {len(cuda)} NVIDIA CUDA package{'s' if len(cuda) != 1 else ''}" if cuda else ""
    host = urlsplit(url).netloc or url
    return (
        f"{spec} is not on this machine's disk: pip will download {wheel} ({build} build){extra} "
        f"from {host}, {len(remote)} file(s), {amount}"
    )


def main() -> None:
    spec = sys.argv[1] if len(sys.argv) > 1 else "torch"
    print(describe(spec, plan(spec)))


if __name__ == "__main__":
    main()
