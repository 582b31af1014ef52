"""Install hints name a command that installs this project's plugin, never upstream's ``hayakoe``.

The fast tests ask pip, in this environment, what the hint's command would install (``--dry-run
--report``). The slow test makes a scratch venv with core and the local destination only, runs
``hayakoe list s3://…``, runs the hint it prints, and lists plugins again (``pytest -m slow``).
"""

import json
import os
import shlex
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from hayakoe_core.install_hint import install_command

CHECKOUT = Path(__file__).resolve().parent.parent


def dry_run(command: str) -> list[dict]:
    """What pip would install for ``command`` (a hint), as pip's installation report entries."""
    args = shlex.split(command)
    assert args[:4] == [sys.executable, "-m", "pip", "install"], command
    out = subprocess.run(
        [*args[:4], "--dry-run", "--quiet", "--report", "-", *args[4:]],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["install"]


def test_the_hint_installs_the_plugin_from_this_checkout():
    command = install_command("hayakoe-dest-s3")
    assert command == f"{sys.executable} -m pip install -e {CHECKOUT}/plugins/hayakoe_dest_s3"
    installs = {e["metadata"]["name"]: e["download_info"]["url"] for e in dry_run(command)}
    assert installs == {"hayakoe-dest-s3": (CHECKOUT / "plugins/hayakoe_dest_s3").as_uri()}


def test_an_extra_brings_this_projects_own_dependencies_from_the_checkout():
    command = install_command("hayakoe-backend-onnx[export]")
    assert f"{CHECKOUT}/plugins/hayakoe_backend_onnx[export]" in command
    assert f"{CHECKOUT}/plugins/hayakoe_backend_torch" in command
    names = {e["metadata"]["name"]: e["download_info"]["url"] for e in dry_run(command)}
    assert "hayakoe" not in names  # never upstream's package from the index
    assert all(url.startswith("file://") for name, url in names.items() if name.startswith("hayakoe"))


@pytest.mark.slow
def test_the_hint_works_in_a_fresh_environment(tmp_path):
    """~2 minutes: builds core and the local destination from this checkout into a scratch venv."""
    venv.EnvBuilder(with_pip=True).create(tmp_path / "venv")
    python = str(tmp_path / "venv/bin/python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", str(CHECKOUT), str(CHECKOUT / "plugins/hayakoe_dest_local")],
        check=True, timeout=900, cwd=tmp_path,
    )
    env = {**os.environ, "PATH": f"{tmp_path / 'venv/bin'}:{os.environ['PATH']}"}
    missing = subprocess.run([python, "-m", "hayakoe", "list", "s3://voices"], capture_output=True,
                             text=True, env=env, cwd=tmp_path, timeout=120)
    line = missing.stderr.strip()
    assert missing.returncode == 1 and "s3:// needs the S3 destination: " in line
    hint = line.split("destination: ", 1)[1]
    assert hint == f"{python} -m pip install {CHECKOUT}/plugins/hayakoe_dest_s3"
    subprocess.run(shlex.split(hint), check=True, timeout=900, cwd=tmp_path)
    listed = subprocess.run([python, "-m", "hayakoe", "plugins", "--json"], capture_output=True,
                            text=True, env=env, cwd=tmp_path, check=True, timeout=120)
    plugins = {p["name"]: p for p in json.loads(listed.stdout)["plugins"]}
    assert plugins["s3"]["error"] is None and plugins["s3"]["version"] == plugins["local"]["version"]
