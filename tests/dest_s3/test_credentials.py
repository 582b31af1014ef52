"""find_credentials names where boto3's chain finds credentials: never the secret, no network."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from hayakoe_core.registry import get_registry

pytestmark = pytest.mark.usefixtures("aws_isolated", "no_network")
SECRET = "wJalrXUtnFEMI-never-shown-K7MDENG"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network used: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _found() -> str | None:
    found = get_registry().open("s3://voices/jp").find_credentials()
    assert found is None or (SECRET not in found and "\n" not in found)
    return found


def test_nothing_found() -> None:
    assert _found() is None


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    assert _found() == "environment (AWS_ACCESS_KEY_ID)"


def test_profile_in_the_shared_credentials_file(monkeypatch: pytest.MonkeyPatch) -> None:
    path = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    path.write_text(f"[work]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = {SECRET}\n")
    assert _found() is None  # the default profile has none
    monkeypatch.setenv("AWS_PROFILE", "work")
    assert _found() == "AWS profile work (shared credentials file)"


def test_a_missing_profile_finds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nobody-has-this")
    assert _found() is None


def test_container_credentials_are_named_not_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x")
    assert _found() == "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)"
