#!/usr/bin/env bash
# Generates the Python protobuf and gRPC code from protos/ into gen/ (replacing it).
# Used by infra/bootstrap.sh and the Dockerfile, so both generate exactly the same way.
#   infra/gen-protos.sh PYTHON [ROOT]     (PYTHON must have grpcio-tools)
set -euo pipefail
python=$1
root=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$root"
rm -rf gen && mkdir -p gen
mapfile -t protos < <(cd protos && find twinwear -name '*.proto' | sort)
"$python" -m grpc_tools.protoc -Iprotos --python_out=gen --pyi_out=gen --grpc_python_out=gen "${protos[@]}"
find gen -type d -exec touch {}/__init__.py \;
