# shellcheck shell=bash
# NVIDIA Triton Inference Server (CPU, python backend only) for infra/stack.sh.
# HTTP 127.0.0.1:8000, gRPC 127.0.0.1:8001, metrics 127.0.0.1:8002; models from infra/triton/models.
#
# The server is the tritonserver 2.51 build bundled in the nvidia-pytriton wheel (in the venv), so
# nothing is downloaded here. It is copied to $CACHE_DIR/tritonserver with the python backend stub
# built for the venv's Python version. Its bundled RPATHs are relative to the wheel, so the copy
# needs LD_LIBRARY_PATH: the wheel's nvidia_pytriton.libs, plus the interpreter's LIBDIR for the
# stub's libpython3.X.so. The stub embeds Python and, like `python3` typed in a shell, finds its
# prefix by looking up `python3` on PATH, so the venv's bin goes first on PATH: that is how the
# model sees the venv's numpy and pillow (the model logs the prefix it got at load time).

TRITON_HOME=$CACHE_DIR/tritonserver
TRITON_MODEL_REPO=$ROOT/infra/triton/models

triton_port() { echo 8001; }

# Prints "KEY=VALUE" lines about the venv's Python and the pytriton wheel (without importing pytriton).
_triton_env_info() {
  "$VENV/bin/python" - <<'EOF'
import importlib.metadata, importlib.util, os, sys, sysconfig
spec = importlib.util.find_spec("pytriton")
pkg = spec.submodule_search_locations[0]
print(f"PYTRITON_VERSION={importlib.metadata.version('nvidia-pytriton')}")
print(f"PYTHON_VERSION={sys.version_info.major}.{sys.version_info.minor}")
print(f"PYTRITON_DIR={pkg}")
print(f"PYTRITON_LIBS={os.path.join(os.path.dirname(pkg), 'nvidia_pytriton.libs')}")
print(f"PYTHON_LIBDIR={sysconfig.get_config_var('LIBDIR')}")
print(f"PYTHON_BASE_PREFIX={sys.base_prefix}")
EOF
}

# Loads _triton_env_info into TRITON_INFO_* shell variables.
_triton_load_info() {
  local line
  while IFS= read -r line; do
    printf -v "TRITON_INFO_${line%%=*}" '%s' "${line#*=}"
  done < <(_triton_env_info)
  [ -n "${TRITON_INFO_PYTRITON_DIR:-}" ] || die "triton: cannot find nvidia-pytriton in $VENV (run infra/bootstrap.sh)"
}

_triton_ld_library_path() {
  echo "$TRITON_INFO_PYTRITON_LIBS:$TRITON_INFO_PYTHON_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

triton_install() {
  _triton_load_info
  # The stamp names the wheel and Python it was copied for; it is written last, so a copy that
  # was interrupted (or a venv rebuilt for another Python) is redone.
  local stamp=$TRITON_HOME/.installed want tmp stub
  want="nvidia-pytriton=$TRITON_INFO_PYTRITON_VERSION python=$TRITON_INFO_PYTHON_VERSION src=$TRITON_INFO_PYTRITON_DIR"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    stub=$TRITON_INFO_PYTRITON_DIR/tritonserver/python_backend_stubs/$TRITON_INFO_PYTHON_VERSION/triton_python_backend_stub
    [ -f "$stub" ] || die "triton: nvidia-pytriton has no python backend stub for Python $TRITON_INFO_PYTHON_VERSION"
    log_step "triton: copying tritonserver $TRITON_INFO_PYTRITON_VERSION (pytriton wheel) to $TRITON_HOME"
    tmp=$TRITON_HOME.tmp.$$
    rm -rf "$tmp"
    mkdir -p "$CACHE_DIR"
    cp -a "$TRITON_INFO_PYTRITON_DIR/tritonserver" "$tmp"
    rm -rf "$tmp/python_backend_stubs"
    cp "$stub" "$tmp/backends/python/triton_python_backend_stub"
    chmod +x "$tmp/backends/python/triton_python_backend_stub" "$tmp/bin/tritonserver"
    echo "$want" >"$tmp/.installed"
    rm -rf "$TRITON_HOME"
    mv "$tmp" "$TRITON_HOME"
  fi
  # Fail here rather than with a model that never loads. A Debian python3.11 needs the separate
  # libpython3.11 package for the stub; other Pythons must have been built with a shared libpython.
  local missing
  missing=$(_triton_missing_libs)
  if [[ $missing == *libpython* ]] && [ "$TRITON_INFO_PYTHON_BASE_PREFIX" = /usr ] && command -v apt-get >/dev/null; then
    log_step "triton: installing Debian's libpython$TRITON_INFO_PYTHON_VERSION for the python backend stub"
    { as_root apt-get update -q &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "libpython$TRITON_INFO_PYTHON_VERSION"; } >>"$LOG_DIR/triton-install.log" 2>&1 ||
      die "triton: apt-get install libpython$TRITON_INFO_PYTHON_VERSION failed (log: $LOG_DIR/triton-install.log)"
    missing=$(_triton_missing_libs)
  fi
  [ -z "$missing" ] || die "triton: tritonserver or its python backend stub is missing shared libraries:
$missing"
}

# Prints the shared libraries the server or the stub cannot find (nothing when all are there).
_triton_missing_libs() {
  command -v ldd >/dev/null 2>&1 || return 0
  LD_LIBRARY_PATH=$(_triton_ld_library_path) ldd "$TRITON_HOME/bin/tritonserver" \
    "$TRITON_HOME/backends/python/triton_python_backend_stub" 2>&1 | grep 'not found' || true
}

triton_start() {
  _triton_load_info
  # env execs tritonserver, so the recorded pid is the server's. PYTHONHOME/PYTHONPATH from the
  # caller's shell would point the stub's Python elsewhere; bytecode is not written into the repo.
  # In-flight requests get 10 s on shutdown, inside stop_daemon's 20 s before SIGKILL.
  start_daemon triton env -u PYTHONHOME -u PYTHONPATH \
    LD_LIBRARY_PATH="$(_triton_ld_library_path)" \
    PATH="$VENV/bin:$PATH" \
    PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1 \
    "$TRITON_HOME/bin/tritonserver" \
    --model-repository="$TRITON_MODEL_REPO" \
    --backend-directory="$TRITON_HOME/backends" \
    --cache-directory="$TRITON_HOME/caches" \
    --http-address=127.0.0.1 --http-port=8000 \
    --grpc-address=127.0.0.1 --grpc-port=8001 \
    --metrics-address=127.0.0.1 --metrics-port=8002 \
    --allow-gpu-metrics=false \
    --pinned-memory-pool-byte-size=0 \
    --exit-on-error=true --strict-readiness=true \
    --exit-timeout-secs=10
}

# Ready = the server says so (with strict readiness that includes every model being loaded).
triton_ready() {
  http_ok http://127.0.0.1:8000/v2/health/ready
}
