#!/usr/bin/env bash
# Lint, then run the whole test suite (all packages) on 2 workers.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${HAYAKOE_VENV:-.venv}"
"$VENV/bin/ruff" check .
set +e
"$VENV/bin/python" -m pytest -n 2 "$@"
rc=$?
set -e
# pytest exits 5 when it collected no tests: that is a failure of this suite, not a pass.
if [ "$rc" -eq 5 ]; then
    echo "no tests were collected" >&2
    exit 1
fi
exit "$rc"
