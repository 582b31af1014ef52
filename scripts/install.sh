#!/usr/bin/env bash
# Create (or update) the project's virtual environment with every package installed from this
# checkout: core, all plugins (editable), the example third-party plugin, and test tools.
# The name `hayakoe` on PyPI belongs to the upstream project: never install it from the index.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${HAYAKOE_VENV:-.venv}"
PY="${PYTHON:-python3}"

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# Exactly this torch: the CPU wheel lies on local disk; any other spec downloads a CUDA build.
"$VENV/bin/python" -m pip install -q torch==2.13.0
"$VENV/bin/python" -m pip install -q \
    -e ".[all,test]" \
    -e plugins/hayakoe_dest_local \
    -e plugins/hayakoe_dest_hf \
    -e plugins/hayakoe_dest_s3 \
    -e "plugins/hayakoe_backend_onnx[export]" \
    -e plugins/hayakoe_backend_torch \
    -e plugins/hayakoe_backend_openvino \
    -e examples/hayakoe_dest_zip
echo "installed into $VENV"
