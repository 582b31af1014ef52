"""scripts/install.sh: the interpreter is checked first, torch's source is announced, and an
editable install cannot be shadowed by a clone folder named ``hayakoe``."""

import io
import os
import subprocess
import sys
import threading
import venv
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent
INSTALL = CHECKOUT / "scripts/install.sh"


def test_an_old_python_is_refused_before_anything_is_created(tmp_path):
    fake = tmp_path / "python3.10"
    fake.write_text("#!/bin/sh\necho 3.10\n")
    fake.chmod(0o755)
    out = subprocess.run(
        ["bash", str(INSTALL)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHON": str(fake), "HAYAKOE_VENV": str(tmp_path / "venv")},
    )
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f"scripts/install.sh: hayakoe needs Python >= 3.11, but '{fake}' is 3.10: "
        "set PYTHON (e.g. PYTHON=python3.11)"
    )
    assert not (tmp_path / "venv").exists()


def test_a_clone_folder_named_hayakoe_does_not_shadow_the_install(tmp_path):
    (tmp_path / "hayakoe").symlink_to(CHECKOUT)  # as if the clone were called hayakoe, here
    out = subprocess.run(
        [sys.executable, "-c", "from hayakoe import TTS; print(TTS.__module__)"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hayakoe_core.tts"


def _wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A minimal valid wheel (metadata only) named like the real one."""
    dist = f"{name.replace('-', '_')}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    meta = "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{meta}",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}.dist-info/RECORD"] = "".join(f"{f},,\n" for f in files) + f"{dist}.dist-info/RECORD,,\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for member, text in files.items():
            zf.writestr(member, text)
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def remote_index(tmp_path):
    """A PEP 503 index on loopback serving a CUDA-style torch that needs an NVIDIA library."""
    root = tmp_path / "index"
    (root / "files").mkdir(parents=True)
    wheels = [
        _wheel(root / "files", "torch", "2.13.0", ("nvidia-cublas-cu12",)),
        _wheel(root / "files", "nvidia-cublas-cu12", "12.9.1"),
    ]
    for wheel, project in zip(wheels, ("torch", "nvidia-cublas-cu12"), strict=True):
        (root / "simple" / project).mkdir(parents=True)
        (root / "simple" / project / "index.html").write_text(
            f'<html><body><a href="../../files/{wheel.name}">{wheel.name}</a></body></html>'
        )
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", sum(w.stat().st_size for w in wheels)
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_torch_from_elsewhere_is_announced_with_its_build_and_size(remote_index, tmp_path):
    """~1 minute on a busy machine (a scratch venv with pip)."""
    url, size = remote_index
    venv.EnvBuilder(with_pip=True).create(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}  # no local wheels
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=f"{url}/simple", PIP_DISABLE_PIP_VERSION_CHECK="1")
    out = subprocess.run(
        [str(tmp_path / "venv/bin/python"), str(CHECKOUT / "scripts/torch_plan.py"), "torch==2.13.0"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "torch==2.13.0 is not on this machine's disk: pip will download torch-2.13.0-py3-none-any.whl "
        f"(with CUDA build) plus 1 NVIDIA CUDA package from {url.removeprefix('http://')}, 2 file(s), "
        f"{round(size / 1e3)} kB"
    )


@pytest.mark.slow
def test_install_script_end_to_end(tmp_path):
    """~1-2 minutes: the real script into a scratch venv; no setuptools warnings; not shadowed."""
    out = subprocess.run(
        ["bash", str(INSTALL)], capture_output=True, text=True, timeout=1200,
        env={**os.environ, "HAYAKOE_VENV": str(tmp_path / "venv")},
    )
    assert out.returncode == 0, out.stderr
    assert "torch==2.13.0: installed from this machine's disk (torch-2.13.0" in out.stdout
    assert "Warning" not in out.stderr and "Please be careful" not in out.stderr, out.stderr
    (tmp_path / "hayakoe").symlink_to(CHECKOUT)
    imported = subprocess.run(
        [str(tmp_path / "venv/bin/python"), "-c", "from hayakoe import TTS"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
