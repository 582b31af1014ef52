"""``hayakoe publish`` as a user runs it: unattended (no terminal) and interactive, in a real
pseudo-terminal driven by pexpect (arrow keys, back, Ctrl-C, saving to .env)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from hayakoe_core.registry import get_registry
from tests.publish.speakers import speaker_folder
from tests.support.repo import TINY_BERT

DOWN, ENTER, CTRL_C = "\x1b[B", "\r", "\x03"


@pytest.fixture
def env(cache: Path) -> dict[str, str]:
    """The environment of a user with no hayakoe settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HAYAKOE_")}
    return {**clean, "HAYAKOE_CACHE": str(cache), "TERM": "xterm", "COLUMNS": "100"}


def hayakoe(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hayakoe", *args], capture_output=True, text=True, env=env, cwd=cwd,
        stdin=subprocess.DEVNULL, timeout=600,
    )  # fmt: skip


def one_line_error(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), run.stderr
    assert "Traceback" not in run.stderr
    return lines[0]


def test_unattended_publish_prints_the_receipt(tmp_path: Path, env: dict[str, str]) -> None:
    folder = speaker_folder(tmp_path / "Tiny Voice")
    run = hayakoe("publish", "--folder", str(folder), "--backend", "cpu", "--to", "./voices",
                  "--bert-source", str(TINY_BERT), "--json", env=env, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    receipt = json.loads(run.stdout)
    assert receipt["plan"]["name"] == "tiny-voice"
    assert receipt["plan"]["destination"] == (tmp_path / "voices").as_uri()
    assert [v["ok"] for v in receipt["verification"]] == [True]
    assert Path(tmp_path, receipt["verification"][0]["wav"]).is_file()
    assert (tmp_path / "voices/onnx/speakers/tiny-voice/manifest.json").is_file()
    assert {"stage", "verify", "promote"} <= set(receipt["phases"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--backend", "cpu"], "pass --to URL"),
        (["--to", "./voices", "--name", "Bad Name"], "invalid speaker name 'Bad Name'"),
        (["--to", "ftp://x/y"], "no installed destination accepts 'ftp://x/y'"),
        (["--to", "./voices", "--checkpoint", "nope.safetensors"], "--checkpoint nope.safetensors is not in"),
    ],
)
def test_a_missing_or_bad_answer_is_one_line_and_writes_nothing(
    tmp_path: Path, env: dict[str, str], args: list[str], needle: str
) -> None:
    folder = speaker_folder(tmp_path / "spk")
    before = sorted(p.name for p in tmp_path.iterdir())
    line = one_line_error(hayakoe("publish", "--folder", str(folder), *args, env=env, cwd=tmp_path))
    assert needle in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_dry_run_sends_nothing_and_leaves_no_wav(tmp_path: Path, env: dict[str, str]) -> None:
    folder = speaker_folder(tmp_path / "spk")
    run = hayakoe("publish", "--folder", str(folder), "--backend", "cpu", "--to", "./voices", "--dry-run",
                  "--bert-source", str(TINY_BERT), env=env, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "dry run: nothing was sent" in run.stderr
    assert not (tmp_path / "voices").exists() and not (tmp_path / ".verify_audio").exists()


# --- interactive, in a real pseudo-terminal ------------------------------------------------------------


def destination_index(description_start: str) -> int:
    labels = [info.description or info.name for info in get_registry().destinations() if info.url_template]
    return next(i for i, label in enumerate(labels) if label.startswith(description_start))


def spawn(tmp_path: Path, env: dict[str, str], *args: str) -> pexpect.spawn:
    data = tmp_path / "data" / "dataset" / "Tiny Voice" / "exports" / "model"
    speaker_folder(data)
    child = pexpect.spawn(
        sys.executable, ["-m", "hayakoe", "publish", "--data-root", str(tmp_path / "data" / "dataset"),
                         "--bert-source", str(TINY_BERT), "--no-verify", *args],
        cwd=str(tmp_path), env=env, encoding="utf-8", timeout=300, dimensions=(40, 120),
    )  # fmt: skip
    return child


def answer(child: pexpect.spawn, prompt: str, keys: str) -> None:
    child.expect(prompt)
    child.send(keys)


def test_interactive_publish_with_back_and_saving_to_env(tmp_path: Path, env: dict[str, str]) -> None:
    child = spawn(tmp_path, env)
    answer(child, "What to publish", ENTER)                      # the dataset
    answer(child, "Backends to publish", DOWN * 3 + ENTER)       # "back"
    answer(child, "What to publish", ENTER)                      # asked again
    answer(child, "Backends to publish", DOWN + ENTER)           # CPU: ONNX files
    answer(child, "Speaker name", ENTER)                         # default tiny-voice
    answer(child, "Where to publish", DOWN * destination_index("a local") + ENTER)
    answer(child, "folder to publish to", "./voices" + ENTER)
    answer(child, "Save what you typed", "y")
    answer(child, "Start publishing", ENTER)
    child.expect("load it with:")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert (tmp_path / "voices/onnx/speakers/tiny-voice/manifest.json").is_file()
    dotenv = tmp_path / ".env"
    assert dotenv.read_text().strip() == "HAYAKOE_LOCAL_PATH='./voices'"
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600


def test_interactive_no_to_saving_and_ctrl_c_leave_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    child = spawn(tmp_path, env, "--backend", "cpu", "--name", "tiny")
    answer(child, "What to publish", ENTER)
    answer(child, "Where to publish", DOWN * destination_index("a local") + ENTER)
    answer(child, "folder to publish to", "./voices" + ENTER)
    answer(child, "Save what you typed", "n")
    answer(child, "Start publishing", CTRL_C)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "interrupted" in child.before and "Traceback" not in child.before
    assert not (tmp_path / ".env").exists() and not (tmp_path / "voices").exists()
