"""No secret is ever printed: not in a one-line error, not in any exception chained to it.

The stores are unreachable on purpose (a closed port on loopback), with credentials written into
the endpoint URLs the way a user might: the errors name the endpoint, and the clients' own
exceptions underneath carry the URL too.
"""

import logging
import os
import socket
import subprocess
import sys
import traceback

import pytest

from hayakoe import TTS
from hayakoe_core.errors import HayakoeError, UnreachableError, redact, redact_logs, scrub

SECRET = "SeKr3tValue_9f8e7d"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def everything_printed(exc: BaseException) -> str:
    """What a traceback of ``exc`` would show, chained causes included."""
    return "".join(traceback.format_exception(exc))


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
    )


def test_redact_userinfo_tokens_and_secret_variables(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_PASSWORD", SECRET)
    text = (
        f"http://user:{SECRET}@h/x https://{SECRET}@h hf_{'a' * 34} AKIAABCDEFGHIJKLMNOP "
        f"Authorization: Bearer {SECRET} and {SECRET} again"
    )
    shown = redact(text, ["extra-credential-1"]) + redact("extra-credential-1", ["extra-credential-1"])
    for hidden in (SECRET, "hf_" + "a" * 34, "AKIAABCDEFGHIJKLMNOP", "extra-credential-1"):
        assert hidden not in shown
    assert "http://***@h/x" in shown


def test_scrub_cleans_the_whole_chain_and_cuts_what_it_cannot_clean():
    class Stubborn(Exception):
        def __str__(self) -> str:
            return f"computed from state: {SECRET}"

    try:
        try:
            try:
                raise Stubborn()
            except Stubborn as low:
                raise OSError(f"connect to http://u:{SECRET}@host failed") from low
        except OSError as mid:
            raise HayakoeError("cannot reach the store") from mid
    except HayakoeError as top:
        scrub(top, [SECRET])
        printed = everything_printed(top)
    assert SECRET not in printed
    assert "http://***@host" in printed  # the cleanable cause is kept, redacted


def test_client_loggers_are_redacted_with_the_exceptions_they_carry(monkeypatch, caplog):
    monkeypatch.setenv("MY_SERVICE_TOKEN", SECRET)
    logger = logging.getLogger("hayakoe_test_client.transport")
    redact_logs("hayakoe_test_client")
    caplog.set_level(logging.DEBUG)
    try:
        raise OSError(f"connect to http://u:{SECRET}@host failed")
    except OSError:
        logger.debug("GET %s", f"http://u:{SECRET}@host/x", exc_info=True)
    logger.debug("token %s", SECRET)
    assert SECRET not in caplog.text
    assert "GET http://***@host/x" in caplog.text and "connect to http://***@host failed" in caplog.text


def test_s3_endpoint_with_credentials_api_and_cli(monkeypatch, tmp_path, caplog):
    endpoint = f"http://key:{SECRET}@127.0.0.1:{closed_port()}"
    env = {
        "AWS_ENDPOINT_URL_S3": endpoint, "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "x" * 20,
        "AWS_REGION": "us-east-1", "HAYAKOE_ATTEMPTS": "1", "AWS_EC2_METADATA_DISABLED": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UnreachableError) as info:
        TTS("cpu", cache_dir=tmp_path).load("tiny", source="s3://voices/x").prepare()
    assert SECRET not in everything_printed(info.value)
    assert caplog.records and SECRET not in caplog.text  # botocore logs every URL at DEBUG
    say = ["say", "はい。", "--source", "s3://voices/x", "--speaker", "tiny", "--cache-dir", str(tmp_path)]
    for args in (["list", "s3://voices/x"], [*say, "-o", str(tmp_path / "o.wav")]):
        out = run(["-m", "hayakoe", *args], **env)
        assert out.returncode == 1 and SECRET not in out.stderr + out.stdout
        assert len(out.stderr.strip().splitlines()) == 1


def test_hf_endpoint_with_a_token_api_and_cli(tmp_path):
    env = {"HF_ENDPOINT": f"http://user:{SECRET}@127.0.0.1:{closed_port()}"}
    code = (
        "import traceback\n"
        "from hayakoe import TTS\n"
        "try:\n"
        f"    TTS('cpu', cache_dir={str(tmp_path)!r}).load('tiny', source='hf://alice/voices').prepare()\n"
        "except Exception as exc:\n"
        "    print(''.join(traceback.format_exception(exc)))\n"
    )
    api = run(["-c", code], **env)
    assert "UnreachableError" in api.stdout and SECRET not in api.stdout + api.stderr
    for args in (["list", "hf://alice/voices"], ["say", "はい。", "--source", "hf://alice/voices",
                                                "--speaker", "tiny", "--cache-dir", str(tmp_path)]):
        out = run(["-m", "hayakoe", *args], **env)
        assert out.returncode == 1 and SECRET not in out.stderr + out.stdout
        assert len(out.stderr.strip().splitlines()) == 1 and "***@127.0.0.1" in out.stderr
