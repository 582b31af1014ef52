"""The FastAPI example (examples/fastapi_server): under FastAPI's test client, and on a real uvicorn
server on 127.0.0.1 for a client that goes away mid-stream."""

from __future__ import annotations

import io
import socket
import threading
import time
import wave
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from examples.fastapi_server.app import create_app
from hayakoe import TTS
from tests.support.repo import make_repo

LONG = "今日はいい天気ですね。" * 40


@pytest.fixture(scope="module")
def tts(tmp_path_factory) -> TTS:
    repo = make_repo(tmp_path_factory.mktemp("repo"))
    return TTS("cpu", cache_dir=tmp_path_factory.mktemp("cache")).load("tiny", source=str(repo)).prepare()


@pytest.fixture(scope="module")
def client(tts: TTS) -> Iterator[TestClient]:
    with TestClient(create_app(tts)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def server(tts: TTS) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(tts), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=60)


def _frames(wav_bytes: bytes) -> bytes:
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        return wav.readframes(10**9)


def test_one_wav_per_request(client: TestClient) -> None:
    assert client.get("/speakers").json() == {"tiny": ["Neutral", "Happy", "Sad", "Angry"]}
    response = client.post("/tts", json={"speaker": "tiny", "text": "こんにちは。"})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    assert len(_frames(response.content)) > 0


def test_caller_errors_are_4xx_with_the_message(client: TestClient) -> None:
    response = client.post("/tts", json={"speaker": "nobody", "text": "はい。"})
    assert response.status_code == 404 and "no speaker 'nobody'" in response.json()["detail"]
    response = client.post("/stream", json={"speaker": "tiny", "text": "はい。", "speed": 0})
    assert response.status_code == 422 and "speed must be" in response.json()["detail"]
    response = client.post("/tts", json={"speaker": "tiny", "text": "はい。", "style": "Joy"})
    assert response.status_code == 422 and "unknown style 'Joy'" in response.json()["detail"]


def test_stream_is_one_wav(client: TestClient) -> None:
    response = client.post("/stream", json={"speaker": "tiny", "text": "こんにちは。さようなら。"})
    assert response.status_code == 200
    assert len(_frames(response.content)) > 0


def test_a_client_leaving_mid_stream_frees_the_speaker(server: str, tts: TTS) -> None:
    speaker = tts.speakers["tiny"]
    with httpx.Client(base_url=server, timeout=120) as http:
        with http.stream("POST", "/stream", json={"speaker": "tiny", "text": LONG}) as response:
            received = 0
            for chunk in response.iter_raw():
                received += len(chunk)
                if received > 44:
                    break  # header and some audio, then hang up
        assert speaker._lock.locked()  # the stream was still making audio
        started = time.monotonic()
        after = http.post("/tts", json={"speaker": "tiny", "text": "はい。"})  # must not hang
        assert after.status_code == 200 and len(_frames(after.content)) > 0
        assert time.monotonic() - started < 120
    deadline = time.monotonic() + 60
    while speaker._lock.locked() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not speaker._lock.locked()
