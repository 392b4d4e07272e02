#!/usr/bin/env bash
# Install migfix and run its main job on the example project, in a temporary copy
# (the repository is never modified): two git branches each added a migration, so
# the project has two heads; migfix finds them and merges them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PY="${PYTHON:-python3}"
VENV="${MIGFIX_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -e .
MIGFIX="$ROOT/$VENV/bin/migfix"
ALEMBIC="$ROOT/$VENV/bin/alembic"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp -r "$ROOT/fixtures/two_heads/." "$WORK/"
cd "$WORK"
run() { echo; echo "\$ $*"; "$@" || echo "(exit $?)"; }
run "$MIGFIX" heads
run "$MIGFIX" check
run "$MIGFIX" graph
run "$MIGFIX" merge --dry-run
run "$MIGFIX" merge
run "$MIGFIX" check
run "$ALEMBIC" heads
run "$ALEMBIC" upgrade head
