"""The command line: version, module entry point, one-line user errors without tracebacks."""

import os
import socket
import subprocess
import sys
import time

import pytest

from hayakoe_core import __version__


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hayakoe", *args], capture_output=True, text=True, **kw)


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_plugins_lists_the_built_ins():
    result = run("plugins", env=None)
    assert result.returncode == 0
    for name in ("local", "hf", "s3", "onnx", "torch"):
        assert name in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["list", "gs://bucket"], "no installed destination accepts 'gs://bucket'"),
        (["list", "s3://Bad_Bucket"], "not a valid bucket name"),
        (["list", "s3://bucket/../x"], "refusing unsafe remote path"),
    ],
)
def test_user_errors_are_one_line_without_traceback(args, fragment):
    result = run(*args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]


def test_list_local_folder(tmp_path):
    (tmp_path / "onnx/speakers/amitaro").mkdir(parents=True)
    (tmp_path / "onnx/speakers/amitaro/config.json").write_text("{}")
    (tmp_path / "pytorch/speakers/amitaro").mkdir(parents=True)
    (tmp_path / "pytorch/speakers/amitaro/x.safetensors").write_text("x")
    result = run("list", str(tmp_path))
    assert result.returncode == 0
    assert "onnx/ (onnx backend): amitaro" in result.stdout
    assert "pytorch/ (torch backend): amitaro" in result.stdout


@pytest.mark.parametrize("args", [["-h"], ["say", "-h"], ["list", "-h"]])
def test_dash_h_is_help(args):
    result = run(*args)
    assert result.returncode == 0 and result.stdout.startswith("Usage: ")


def test_plugins_table_shows_extras_and_is_not_cut_without_a_terminal():
    result = run("plugins")
    assert result.returncode == 0
    for extra in ("hayakoe[hf]", "hayakoe[s3]", "hayakoe[cpu]", "hayakoe[gpu]"):
        assert extra in result.stdout
    assert "…" not in result.stdout and "hayakoe-backend-torch" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) > 80


def one_line_error(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_list_a_missing_folder(tmp_path):
    assert f"{tmp_path}/nothing does not exist" in one_line_error(run("list", str(tmp_path / "nothing")))


def test_list_a_folder_one_level_too_deep_points_at_the_repo(tmp_path):
    (tmp_path / "voices/onnx/speakers/amitaro").mkdir(parents=True)
    (tmp_path / "voices/onnx/speakers/amitaro/config.json").write_text("{}")
    line = one_line_error(run("list", str(tmp_path / "voices/onnx")))
    assert "holds no repo layout" in line and f"hayakoe list {tmp_path / 'voices'}" in line
    line = one_line_error(run("list", str(tmp_path)))
    assert f"hayakoe list {tmp_path / 'voices'}" in line


def test_list_a_relative_folder_written_like_a_hub_repo(tmp_path):
    (tmp_path / "demo/voices/onnx/speakers/a").mkdir(parents=True)
    line = one_line_error(run("list", "demo/voices", cwd=tmp_path))
    assert "write ./demo/voices" in line


def test_list_the_hub_without_network_is_one_quick_line(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    start = time.monotonic()
    result = run("list", "hf://org/voices", env={**os.environ, "HF_ENDPOINT": dead})
    assert "cannot reach the Hub" in one_line_error(result)
    assert time.monotonic() - start < 20  # no retry loop (it took 23 s of retries before)
