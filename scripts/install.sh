#!/usr/bin/env bash
# Create (or update) the project's virtual environment with every package installed from this
# checkout: core, all plugins (editable), the example third-party plugin, and test tools.
# The name `hayakoe` on PyPI belongs to the upstream project: never install it from the index.
#
#   PYTHON=python3.12 HAYAKOE_VENV=/path/venv bash scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${HAYAKOE_VENV:-.venv}"
PY="${PYTHON:-python3}"
NEEDED="3.11"
# Exactly this torch: the CPU wheel lies on local disk here; elsewhere the plan below says what
# the same pin would download (on Linux x86-64, PyPI's build bundles CUDA: several GB).
TORCH="torch==2.13.0"

fail() { echo "scripts/install.sh: $*" >&2; exit 1; }

# The interpreter first: nothing is created or downloaded for one that cannot run hayakoe.
python_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
at_least() { [ "$(printf '%s\n' "$NEEDED" "$1" | sort -V | head -n1)" = "$NEEDED" ]; }
version="$(python_version "$PY")" || fail "cannot run '$PY': set PYTHON to a Python $NEEDED or newer"
at_least "$version" || fail "hayakoe needs Python >= $NEEDED, but '$PY' is $version: set PYTHON (e.g. PYTHON=python$NEEDED)"
if [ -x "$VENV/bin/python" ]; then
    existing="$(python_version "$VENV/bin/python")" || existing="unknown"
    at_least "$existing" || fail "$VENV holds Python $existing (< $NEEDED): remove it, or set HAYAKOE_VENV elsewhere"
else
    "$PY" -m venv "$VENV"
fi

"$VENV/bin/python" -m pip install -q --upgrade pip
plan="$("$VENV/bin/python" scripts/torch_plan.py "$TORCH")"
echo "$plan"
if [[ "$plan" == *"not on this machine's disk"* ]] && [ -t 0 ]; then
    read -r -p "download it? [y/N] " answer
    [ "$answer" = "y" ] || [ "$answer" = "Y" ] || fail "stopped before downloading torch"
fi
"$VENV/bin/python" -m pip install -q "$TORCH"

# Editable installs put each package's folder on sys.path (package-dir in each pyproject.toml),
# so `import hayakoe` finds this package even when run from a folder holding a clone named
# `hayakoe`, which would otherwise win as a namespace package.
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
