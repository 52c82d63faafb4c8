#!/usr/bin/env bash
# All checks: install what is missing, lint, start the local stack (real Kafka, MinIO, Triton,
# Prometheus) and run every test: unit, integration, end to end and the chart. Arguments go to
# pytest (e.g. `infra/test.sh tests/unit`). A stack this script started is stopped at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
infra/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .

if infra/stack.sh status >/dev/null 2>&1; then
  echo "test: using the stack that is already running"
else
  trap 'infra/stack.sh down' EXIT
  infra/stack.sh up
fi
.venv/bin/python -m pytest -ra "$@"
