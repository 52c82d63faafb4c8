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

# buf lints protos/ (tests/unit/test_protos.py); the npm package ships its static binary.
BUF_VERSION=1.75.0
BUF_DIR=${TWINWEAR_STACK_DIR:-$ROOT/.stack}/cache/buf-$BUF_VERSION
if [ ! -x "$BUF_DIR/node_modules/.bin/buf" ]; then
  echo "bootstrap: installing buf $BUF_VERSION (npm)"
  npm install --prefix "$BUF_DIR" --no-audit --no-fund --silent "@bufbuild/buf@$BUF_VERSION" >/dev/null
fi

# Generated code lives only in gen/, made from protos/ here; no service keeps a copy.
echo "bootstrap: generating protobuf code into gen/"
infra/gen-protos.sh .venv/bin/python "$ROOT"

# Make the repo root (services/, twinwear_runtime/) and gen/ importable from the venv.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf '%s\n%s\n' "$ROOT" "$ROOT/gen" > "$site/twinwear.pth"
# anny builds its model cache on first load (~1 min, 1-2 GB): once here, never in a test or a service start.
ANNY_CACHE_DIR=${ANNY_CACHE_DIR:-${TWINWEAR_STACK_DIR:-$ROOT/.stack}/cache/anny} .venv/bin/python -m twinwear_body.warm_cache
echo "bootstrap: ready (.venv, gen/, anny cache)"
