#!/usr/bin/env bash
# The main job on its embedded default: publish the tiny demo speaker (random weights: it proves
# the pipeline, not a voice) unattended to the local folder ./demo/voices with both backends —
# ONNX export, parity check, staging, verification from the staged copy in a clean process,
# promote — then load it back from that folder and synthesise. Needs the venv from
# scripts/install.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${HAYAKOE_VENV:-.venv}"
export HAYAKOE_CACHE="${HAYAKOE_CACHE:-$PWD/demo/cache}"
"$VENV/bin/hayakoe" publish --yes --overwrite \
    --folder tests/fixtures/model/tiny --name tiny --backend both \
    --to ./demo/voices --bert-source ./tests/fixtures/bert/tiny --verify-dir demo/verify_audio
"$VENV/bin/hayakoe" list ./demo/voices
"$VENV/bin/python" - <<'PY'
from hayakoe import TTS

tts = TTS(device="cpu").load("tiny", source="./demo/voices").prepare()
audio = tts.speakers["tiny"].generate("テスト音声です。")
print(f"loaded back from ./demo/voices: demo/tiny_loaded.wav, {audio.duration:.2f} s at {audio.sr} Hz")
audio.save("demo/tiny_loaded.wav")
PY
