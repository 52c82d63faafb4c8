#!/usr/bin/env bash
# Creates .venv with the pinned Python dependencies and generates the protobuf/gRPC code from
# protos/ into gen/ (git-ignored). Idempotent: re-running only redoes what changed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing Python dependencies (requirements.txt)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
fi

# Generated code lives only in gen/, made from protos/ here; no service keeps a copy.
echo "bootstrap: generating protobuf code into gen/"
rm -rf gen && mkdir -p gen
protos=$(cd protos && find twinwear -name '*.proto' | sort)
# shellcheck disable=SC2086
.venv/bin/python -m grpc_tools.protoc -Iprotos --python_out=gen --pyi_out=gen --grpc_python_out=gen $protos
find gen -type d -exec touch {}/__init__.py \;

# Make the repo root (services/, twinwear_runtime/) and gen/ importable from the venv.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf '%s\n%s\n' "$ROOT" "$ROOT/gen" > "$site/twinwear.pth"
echo "bootstrap: ready (.venv, gen/)"
