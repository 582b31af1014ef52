"""Mistakes a user can make with S3 become one-line HayakoeErrors naming what to fix, no secrets."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hayakoe_core.errors import HayakoeError, NotFoundError, UnreachableError
from hayakoe_core.progress import NullProgress
from hayakoe_core.registry import get_registry
from hayakoe_core.testing import write_tree
from hayakoe_core.types import Target
from tests.dest_s3.helpers import call
from tests.support.s3server import S3Endpoint


def _error(target: Target, hook: str = "list_speakers", **kwargs: object) -> HayakoeError:
    with pytest.raises(HayakoeError) as info:
        call(target, hook, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return info.value


def _assert_no_secret(message: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in message


def test_wrong_secret(target: Target, s3_env: S3Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-0123456789")
    message = str(_error(target))
    assert "AWS_SECRET_ACCESS_KEY" in message and "signature" in message
    _assert_no_secret(message, "not-the-secret-0123456789", s3_env.secret_key)


def test_unknown_access_key(
    target: Target, s3_env: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDNOTKNOWNHERE")
    message = str(_error(target, "read_file", path="README.md"))
    assert "check AWS_ACCESS_KEY_ID" in message
    _assert_no_secret(message, s3_env.secret_key)


def test_no_credentials(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    for hook in ("list_speakers", "probe"):
        message = str(_error(target, hook))
        assert "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)" in message


def test_missing_profile(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_PROFILE", "nobody-has-this")
    assert "AWS_PROFILE" in str(_error(target))


def test_missing_bucket(s3_env: S3Endpoint, tmp_path: Path) -> None:
    target = get_registry().parse_url("s3://hayakoe-no-such-bucket/x")
    for hook, kwargs in (
        ("list_speakers", {}),
        ("read_file", {"path": "README.md"}),
        ("fetch", {"prefix": "onnx", "cache_dir": tmp_path, "progress": NullProgress()}),
        ("read_state", {}),
        ("probe", {}),
    ):
        error = _error(target, hook, **kwargs)
        assert isinstance(error, NotFoundError)
        assert "'hayakoe-no-such-bucket' does not exist" in str(error)
    staged = write_tree(tmp_path / "staged", {"README.md": b"x"})
    error = _error(target, "upload", local_dir=staged, prefix="", progress=NullProgress())
    assert isinstance(error, NotFoundError)


def test_read_only_credentials(
    target: Target, s3_env: S3Endpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_env.reader_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_env.reader_secret)
    assert call(target, "list_speakers") == {}  # reading is allowed
    staged = write_tree(tmp_path / "staged", {"README.md": b"x"})
    for hook, kwargs in (
        ("upload", {"local_dir": staged, "prefix": "", "progress": NullProgress()}),
        ("probe", {}),
    ):
        message = str(_error(target, hook, **kwargs))
        assert message.startswith("access denied") and "AWS_ACCESS_KEY_ID" in message
        _assert_no_secret(message, s3_env.reader_secret, s3_env.secret_key)


def test_unreachable_endpoint(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    for hook in ("list_speakers", "read_state", "probe"):
        error = _error(target, hook)
        assert isinstance(error, UnreachableError), "the runtime falls back to its cache only on this"
        message = str(error)
        assert f"127.0.0.1:{port}" in message and "AWS_ENDPOINT_URL_S3" in message
