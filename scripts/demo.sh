#!/usr/bin/env bash
# The main job on its embedded default: lay the tiny demo speaker out as a voice repo in
# ./demo/voices (ONNX exported by hayakoe itself), then load it back and synthesise with both
# backends on the CPU. Needs the venv from scripts/install.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${HAYAKOE_VENV:-.venv}"
export HAYAKOE_CACHE="${HAYAKOE_CACHE:-$PWD/demo/cache}"
"$VENV/bin/python" scripts/make_demo_repo.py demo/voices
"$VENV/bin/hayakoe" list ./demo/voices
for backend in onnx torch; do
    "$VENV/bin/hayakoe" say "テスト音声です。" --source ./demo/voices --speaker tiny \
        --backend "$backend" -o "demo/tiny_$backend.wav"
done
