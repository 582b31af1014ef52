"""A small FastAPI server for hayakoe speakers: one WAV per request, or a WAV stream.

    HAYAKOE_SOURCE=s3://bucket/voices HAYAKOE_SPEAKERS=tsukuyomi \
        uvicorn --factory examples.fastapi_server.app:app_from_env

- ``GET /speakers``: the prepared speakers and their styles;
- ``POST /tts`` ``{"speaker", "text", "style"?, "speed"?}``: one ``audio/wav`` made with
  ``agenerate`` (off the event loop);
- ``POST /stream`` (same body): one WAV stream from ``astream_wav``: a header of unknown length,
  then PCM as each sentence is made. A client that goes away stops the synthesis after the
  sentence being made, and the speaker is free for the next request.

Errors the caller can cause (an unknown speaker or style, a bad value) are a 4xx with the one-line
message. FastAPI and uvicorn are not dependencies of hayakoe: install them to run this.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, HTTPException
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from hayakoe import TTS, HayakoeError, Speaker


class Say(BaseModel):
    speaker: str
    text: str
    style: str = "Neutral"
    speed: float = 1.0


def create_app(tts: TTS) -> FastAPI:
    """The app, serving the speakers ``tts`` has prepared."""
    app = FastAPI(title="hayakoe")

    def speaker_of(request: Say) -> Speaker:
        if request.speaker not in tts.speakers:
            raise HTTPException(404, f"no speaker {request.speaker!r}; there are: {', '.join(tts.speakers)}")
        return tts.speakers[request.speaker]

    @app.get("/speakers")
    def speakers() -> dict[str, list[str]]:
        return {name: list(speaker.styles) for name, speaker in tts.speakers.items()}

    @app.post("/tts")
    async def tts_one(request: Say) -> Response:
        speaker = speaker_of(request)
        try:
            audio = await speaker.agenerate(request.text, style=request.style, speed=request.speed)
        except HayakoeError as exc:
            raise HTTPException(422, str(exc)) from None
        return Response(audio.to_bytes(), media_type="audio/wav")

    @app.post("/stream")
    def tts_stream(request: Say) -> StreamingResponse:
        speaker = speaker_of(request)
        try:  # arguments are checked here, before the response starts
            chunks = speaker.astream_wav(request.text, style=request.style, speed=request.speed)
        except HayakoeError as exc:
            raise HTTPException(422, str(exc)) from None
        return StreamingResponse(chunks, media_type="audio/wav")

    return app


def app_from_env() -> FastAPI:
    """``create_app`` for the comma-separated ``$HAYAKOE_SPEAKERS`` from ``$HAYAKOE_SOURCE``."""
    tts = TTS(device=os.environ.get("HAYAKOE_DEVICE", "cpu"))
    for name in os.environ.get("HAYAKOE_SPEAKERS", "").split(","):
        if name.strip():
            tts.load(name.strip())
    return create_app(tts.prepare(warmup=True))
