#!/usr/bin/env bash
# The main job: install what is missing, start the local stack, then run the demo pipeline
# (python -m demo): the sample catalogue through all four services into a contact sheet.
# The stack stays up afterwards for a look around; `infra/stack.sh down` stops it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
infra/bootstrap.sh
infra/stack.sh up
exec .venv/bin/python -m demo "$@"
