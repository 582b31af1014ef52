"""The command line: version, module entry point, one-line user errors without tracebacks."""

import subprocess
import sys

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
