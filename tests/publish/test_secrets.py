"""No secret anywhere a person or a log can read it, for every command and the Python API.

Sentinel values sit in ``HF_TOKEN``, ``AWS_SECRET_ACCESS_KEY`` and the user-info of the
endpoint URLs (``http://user:secret@host``), on runs that succeed and runs that fail, against
a local folder, SeaweedFS and the Hub test server. Everything is collected and searched for the
sentinels: stdout and stderr (in-process and of real processes), ``--json`` receipts, the
names of the files under ``.verify_audio`` and the rest of the working folder, every log record
at DEBUG (with its traceback), and for each exception the API raised its traceback with every
chained cause and context, its ``repr`` and its ``args``.

Each test publishes and verifies for real (a minute or two on a busy machine), so they are
marked slow: ``pytest -m slow tests/publish/test_secrets.py``. tests/test_redaction.py keeps
the quick checks of the same promises in the default run.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hayakoe_core.cli import cli
from hayakoe_core.errors import HayakoeError
from hayakoe_core.publish.api import publish
from hayakoe_core.tts import TTS
from tests.publish.speakers import speaker_folder
from tests.support.hub_fixtures import USER
from tests.support.repo import TINY_BERT

pytestmark = pytest.mark.slow

HUB_TOKEN = "SentinelHubToken_4f1e9a77"  # not token-shaped: only its variable's name marks it
WRONG_SECRET = "SentinelWrongSecret_5d2b90"
USERINFO = "SentinelUserinfo_82c3b1"


class Sightings:
    """Everything that could show a secret, by where it was seen."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = secrets
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def exception(self, where: str, exc: BaseException) -> None:
        self.add(where, "".join(traceback.format_exception(exc)))
        seen: set[int] = set()
        stack: list[BaseException | None] = [exc]
        while stack:
            current = stack.pop()
            if current is None or id(current) in seen:
                continue
            seen.add(id(current))
            self.add(f"{where} ({type(current).__name__})", f"{current!r} {current.args!r}")
            stack += [current.__cause__, current.__context__]

    def folder(self, where: str, root: Path) -> None:
        """File names under ``root``, and the content of its small text files (receipts, .env)."""
        for path in sorted(root.rglob("*")):
            self.add(where, str(path.relative_to(root)))
            small = path.is_file() and path.stat().st_size < 1 << 20
            if small and path.suffix in (".json", ".txt", ".md", ""):
                self.add(f"{where}/{path.name}", path.read_text(errors="replace"))

    def leaks(self) -> list[str]:
        return [f"{s!r} in {where}" for where, text in self.texts for s in self.secrets if s in text]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


@pytest.fixture
def work(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HAYAKOE_CACHE", str(cache))
    monkeypatch.setenv("HAYAKOE_ENV_FILE", str(tmp_path / ".env"))
    for name in ("HAYAKOE_HF_REPO", "HAYAKOE_S3_BUCKET", "HAYAKOE_LOCAL_PATH", "HAYAKOE_BERT_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    speaker_folder(tmp_path / "spk", graphs=True)  # graphs to reuse: no export, only the parity check
    return tmp_path


def _userinfo(url: str) -> str:
    return url.replace("://", f"://user:{USERINFO}@", 1)


def _closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://user:{USERINFO}@127.0.0.1:{sock.getsockname()[1]}"


class Runs:
    """Runs commands and API calls, recording everything they show in ``seen``."""

    def __init__(self, seen: Sightings, work: Path) -> None:
        self.seen, self.work = seen, work

    def cli(self, *args: str, ok: bool) -> None:
        result = CliRunner().invoke(cli, list(args))
        self.seen.add(f"hayakoe {args[0]} stdout", result.stdout)
        self.seen.add(f"hayakoe {args[0]} stderr", result.stderr)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            self.seen.exception(f"hayakoe {args[0]} escaped", result.exception)
        assert (result.exit_code == 0) == ok, (args, result.exit_code, result.stderr, result.exception)

    def process(self, *args: str, ok: bool, env: dict[str, str] | None = None) -> None:
        import os

        run = subprocess.run(
            [sys.executable, "-m", "hayakoe", *args], capture_output=True, text=True, cwd=self.work,
            env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, timeout=300,
        )  # fmt: skip
        self.seen.add(f"process hayakoe {args[0]} stdout", run.stdout)
        self.seen.add(f"process hayakoe {args[0]} stderr", run.stderr)
        assert (run.returncode == 0) == ok, (args, run.returncode, run.stderr)

    def api(self, what: str, call: Any, *, ok: bool) -> Any:
        try:
            result = call()
        except HayakoeError as exc:
            self.seen.exception(f"API {what}", exc)
            assert not ok, f"{what}: {exc}"
            return None
        assert ok, f"{what} should have failed"
        return result


def _every_command(runs: Runs, url: str, *, verify: bool) -> None:
    """Publish (CLI, then the API), list, say, cleanup, plugins: all expected to succeed."""
    folder, bert = str(runs.work / "spk"), str(TINY_BERT)
    common = ["--folder", folder, "--backend", "cpu", "--bert-source", str(TINY_BERT), "--to", url]
    runs.cli("publish", *common, "--name", "first", "--json", *([] if verify else ["--no-verify"]), ok=True)
    receipt = runs.api(
        "publish",
        lambda: publish(folder, to=url, name="second", backend="cpu", bert_source=bert, verify=False),
        ok=True,
    )
    runs.seen.add("API receipt", receipt.to_json())
    runs.cli("list", url, ok=True)
    runs.cli("say", "はい。", "--source", url, "--speaker", "first", "-o", "say.wav", ok=True)
    speaker = runs.api(
        "TTS", lambda: TTS("cpu", cache_dir=runs.work / "tts").load("second", source=url).prepare(), ok=True
    )
    assert speaker.speakers["second"].generate("はい。").duration > 0
    runs.cli("cleanup", url, "--older-than", "0s", ok=True)
    runs.cli("plugins", ok=True)
    runs.cli("plugins", "--json", ok=True)


def _every_failure(runs: Runs, url: str, *, cleanup: bool = True) -> None:
    """The same commands where the store refuses or cannot be reached: all fail, one line each."""
    folder = str(runs.work / "spk")
    runs.cli("publish", "--folder", folder, "--backend", "cpu", "--to", url, "--json", ok=False)
    runs.api("publish", lambda: publish(folder, to=url, backend="cpu", bert_source=str(TINY_BERT)), ok=False)
    runs.cli("list", url, ok=False)
    runs.cli("say", "はい。", "--source", url, "--speaker", "first", "-o", "fail.wav", ok=False)
    tts = TTS("cpu", cache_dir=runs.work / "tts-fail")
    runs.api("TTS", lambda: tts.load("x", source=url).prepare(), ok=False)
    if cleanup:
        runs.cli("cleanup", url, ok=False)


def _finish(seen: Sightings, runs: Runs, logs: pytest.LogCaptureFixture) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in logs.records:
        seen.add(f"log {record.name}", formatter.format(record))
    seen.folder("working folder", runs.work)
    assert any(".verify_audio/" in text for _, text in seen.texts), "nothing was verified"
    assert logs.records or runs.work.joinpath("voices").is_dir(), "the store's client logged nothing"
    assert seen.leaks() == []


def test_local_folder(work: Path, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", HUB_TOKEN)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", WRONG_SECRET)
    seen = Sightings([HUB_TOKEN, WRONG_SECRET])
    runs = Runs(seen, work)
    _every_command(runs, str(work / "voices"), verify=True)
    (work / "afile").write_text("x")
    _every_failure(runs, str(work / "afile" / "sub"), cleanup=False)
    runs.process("publish", "--folder", "spk", "--to", "./afile", ok=False)
    _finish(seen, runs, logs)


def test_s3(
    work: Path, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, s3_env: Any, s3_bucket: str
) -> None:
    monkeypatch.setenv("HF_TOKEN", HUB_TOKEN)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", _userinfo(s3_env.url))
    seen = Sightings([s3_env.secret_key, HUB_TOKEN, WRONG_SECRET, USERINFO])
    runs = Runs(seen, work)
    url = f"s3://{s3_bucket}/team"
    _every_command(runs, url, verify=True)
    runs.process("plugins", "--json", ok=True)

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", WRONG_SECRET)  # the server refuses the signature
    _every_failure(runs, url)
    runs.process("list", url, ok=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", _closed_port_url())  # nobody answers
    monkeypatch.setenv("HAYAKOE_ATTEMPTS", "1")
    _every_failure(runs, url)
    runs.process("publish", "--folder", "spk", "--backend", "cpu", "--to", url, ok=False)
    _finish(seen, runs, logs)


def test_hub(work: Path, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, hub: Any) -> None:
    from huggingface_hub import constants

    monkeypatch.setitem(hub.tokens, HUB_TOKEN, (USER, "write"))
    monkeypatch.setenv("HF_TOKEN", HUB_TOKEN)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", WRONG_SECRET)
    seen = Sightings([HUB_TOKEN, WRONG_SECRET, USERINFO])
    runs = Runs(seen, work)
    url = f"hf://{USER}/voices-secrets"
    _every_command(runs, url, verify=True)

    monkeypatch.setitem(hub.tokens, HUB_TOKEN, (USER, "read"))  # the token may no longer write
    runs.cli("publish", "--folder", "spk", "--backend", "cpu", "--to", url, "--name", "third", ok=False)
    monkeypatch.delitem(hub.tokens, HUB_TOKEN)  # nor read
    _every_failure(runs, url)
    for endpoint in (_userinfo(hub.url), _closed_port_url()):  # user-info the client would send
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.setenv("HAYAKOE_ATTEMPTS", "1")
        _every_failure(runs, url)
        runs.process("list", url, ok=False)
        runs.process("publish", "--folder", "spk", "--backend", "cpu", "--to", url, ok=False)
    _finish(seen, runs, logs)
