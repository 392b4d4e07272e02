#!/usr/bin/env bash
# Set up a virtualenv with the dev extra (the tests' packages and the linters), fetch the
# real-graph corpus (cached outside the repository), and run the whole test suite.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
VENV="${MIGFIX_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# The dev extra: the test extra plus the linters and release checks .ci/run runs after.
"$VENV/bin/python" -m pip install -q -e '.[dev]'

# Real projects' migration folders (never committed): downloaded once into a cache.
FETCH="../shared/corpus/fetch.sh"
export MIGFIX_CORPUS="${MIGFIX_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/migfix-corpus}"
if [ -f "$FETCH" ] && [ ! -f "$MIGFIX_CORPUS/index.json" ]; then
  mkdir -p "$MIGFIX_CORPUS"
  PIP="$VENV/bin/python -m pip" bash "$FETCH" "$MIGFIX_CORPUS" \
    || echo "warning: corpus download failed; corpus tests will report it" >&2
fi
[ -f "$MIGFIX_CORPUS/index.json" ] || unset MIGFIX_CORPUS

exec "$VENV/bin/python" -m pytest "$@"
