# shellcheck shell=bash
# Prometheus for infra/stack.sh: 127.0.0.1:9090, config infra/prometheus/prometheus.yml, TSDB in
# $DATA_DIR/prometheus. Comes from Debian's `prometheus` package, which also ships promtool.

PROMETHEUS_BIN=/usr/bin/prometheus
PROMTOOL_BIN=/usr/bin/promtool
PROMETHEUS_CONFIG=$ROOT/infra/prometheus/prometheus.yml
PROMETHEUS_INSTALL_LOG=$LOG_DIR/prometheus-install.log

prometheus_port() { echo 9090; }

prometheus_install() {
  if [ ! -x "$PROMETHEUS_BIN" ] || [ ! -x "$PROMTOOL_BIN" ]; then
    prometheus_apt_install
  fi
  # Checked on every `up`: a broken config would otherwise only show up as a crash in the log.
  local out
  if ! out=$("$PROMTOOL_BIN" check config "$PROMETHEUS_CONFIG" 2>&1); then
    printf '%s\n' "$out" >&2
    die "prometheus: promtool check config $PROMETHEUS_CONFIG failed"
  fi
}

# Debian's maintainer scripts start (and under systemd enable) a system-wide prometheus on :9090,
# which would take our port. A policy-rc.d that exits 101 ("action forbidden") makes invoke-rc.d
# and deb-systemd-invoke skip that; ours is in place only for the duration of the install.
prometheus_apt_install() {
  log_step "prometheus: installing the Debian package with apt-get (log: $PROMETHEUS_INSTALL_LOG)"
  # errexit does not apply inside a `( ... ) || ...` subshell, hence the && chain.
  (
    policy=/usr/sbin/policy-rc.d
    backup=$(mktemp)
    if [ -e "$policy" ]; then as_root cp -p "$policy" "$backup"; else rm -f "$backup"; fi
    # Put back whatever policy the machine had, also when apt-get fails or is interrupted.
    # shellcheck disable=SC2064
    trap "if [ -e '$backup' ]; then as_root mv '$backup' '$policy'; else as_root rm -f '$policy'; fi" EXIT
    printf '#!/bin/sh\n# Temporary, from twinwear infra/prometheus/component.sh\nexit 101\n' |
      as_root tee "$policy" >/dev/null &&
      as_root chmod 0755 "$policy" &&
      as_root apt-get update -q >>"$PROMETHEUS_INSTALL_LOG" 2>&1 &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        prometheus >>"$PROMETHEUS_INSTALL_LOG" 2>&1
  ) || {
    tail -n 20 "$PROMETHEUS_INSTALL_LOG" >&2
    die "prometheus: apt-get install prometheus failed"
  }
  # Should a system prometheus be running anyway, stop it (and under systemd keep it from
  # starting at boot) so that :9090 is free for ours.
  if [ -d /run/systemd/system ]; then
    as_root systemctl disable --now prometheus.service >>"$PROMETHEUS_INSTALL_LOG" 2>&1 || true
  elif pgrep -u prometheus -x prometheus >/dev/null 2>&1; then
    as_root service prometheus stop >>"$PROMETHEUS_INSTALL_LOG" 2>&1 || true
  fi
}

prometheus_start() {
  mkdir -p "$DATA_DIR/prometheus"
  # --web.enable-lifecycle: allows `curl -X POST 127.0.0.1:9090/-/reload` after editing the config.
  start_daemon prometheus "$PROMETHEUS_BIN" --config.file="$PROMETHEUS_CONFIG" \
    --storage.tsdb.path="$DATA_DIR/prometheus" --web.listen-address=127.0.0.1:9090 \
    --web.enable-lifecycle
}

prometheus_ready() { http_ok http://127.0.0.1:9090/-/ready; }
