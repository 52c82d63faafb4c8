#!/usr/bin/env bash
# Local dev stack: Kafka, MinIO, Triton and Prometheus as plain processes on 127.0.0.1.
#
#   infra/stack.sh up|down|status [component ...]     (no component = all)
#
# up      installs what is missing (cached under $STACK_DIR/cache), starts each server unless it is
#         already running, and waits until it is healthy; a server that does not become healthy
#         fails the command with the tail of its log.
# down    stops the servers in reverse order (SIGTERM, then SIGKILL after 20 s), then the processes
#         each left behind (e.g. Triton's python backend stubs; see stop_daemon in infra/lib.sh).
# status  prints one line per component; exits non-zero unless all of them are running and healthy.
#
# Everything lives in $TWINWEAR_STACK_DIR (default .stack/): cache/ (binaries, jars), data/,
# logs/ (one <component>.log per server), run/ (pid files).
# Each infra/<c>/component.sh defines <c>_install, <c>_start, <c>_ready and <c>_port, and may
# define <c>_ready_timeout (seconds, default $TWINWEAR_READY_TIMEOUT_S or 180). The daemon it starts
# must be named <c> (start_daemon <c> ...).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_DIR=${TWINWEAR_STACK_DIR:-$ROOT/.stack}
CACHE_DIR=$STACK_DIR/cache
DATA_DIR=$STACK_DIR/data
LOG_DIR=$STACK_DIR/logs
RUN_DIR=$STACK_DIR/run
VENV=$ROOT/.venv
export ROOT STACK_DIR CACHE_DIR DATA_DIR LOG_DIR RUN_DIR VENV

# shellcheck source=infra/lib.sh
source "$ROOT/infra/lib.sh"

# Start order; down uses the reverse.
ALL_COMPONENTS=(kafka minio triton prometheus)

usage() {
  echo "usage: $0 up|down|status [${ALL_COMPONENTS[*]}]" >&2
  exit 2
}

# Sources infra/<c>/component.sh for each requested component into COMPONENTS, in stack order
# whatever order they were named in. A component whose script does not exist (yet) is skipped with
# a warning rather than failing the whole stack.
load_components() {
  local c
  for c in "$@"; do
    [[ " ${ALL_COMPONENTS[*]} " == *" $c "* ]] || usage
  done
  COMPONENTS=()
  for c in "${ALL_COMPONENTS[@]}"; do
    [[ " $* " == *" $c "* ]] || continue
    if [ ! -f "$ROOT/infra/$c/component.sh" ]; then
      log_step "WARNING: infra/$c/component.sh does not exist; skipping $c" >&2
      continue
    fi
    # shellcheck source=/dev/null
    source "$ROOT/infra/$c/component.sh"
    COMPONENTS+=("$c")
  done
}

ready_timeout() {
  if declare -F "${1}_ready_timeout" >/dev/null; then
    "${1}_ready_timeout"
  else
    echo "${TWINWEAR_READY_TIMEOUT_S:-180}"
  fi
}

cmd_up() {
  local c port
  for c in "${COMPONENTS[@]}"; do
    "${c}_install"
    port=$("${c}_port")
    if daemon_running "$c"; then
      log_step "$c: already running (pid $(daemon_pid "$c"))"
    else
      # Someone else's server on our port would make the health check pass for the wrong process.
      port_open "$port" && die "$c: port $port is already in use by a process this stack did not start"
      log_step "$c: starting"
      "${c}_start"
    fi
    wait_until "$(ready_timeout "$c")" "$c" "${c}_ready" || die "$c: not healthy (log: $LOG_DIR/$c.log)"
    log_step "$c: ready on 127.0.0.1:$port"
  done
}

cmd_down() {
  local i c
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c=${COMPONENTS[i]}
    if daemon_running "$c"; then
      log_step "$c: stopping (pid $(daemon_pid "$c"))"
    else
      log_step "$c: not running"
    fi
    stop_daemon "$c" # also clears a stale pid file
  done
}

cmd_status() {
  local c port state pid health rc=0
  for c in "${COMPONENTS[@]}"; do
    port=$("${c}_port")
    health=-
    if daemon_running "$c"; then
      state=running pid=$(daemon_pid "$c") health=unhealthy
      "${c}_ready" >/dev/null 2>&1 && health=ok
    else
      state=stopped pid=-
      port_open "$port" && health="port in use by another process"
    fi
    printf '%-10s %-8s pid=%-8s port=%-5s health=%s\n' "$c" "$state" "$pid" "$port" "$health"
    [ "$health" = ok ] || rc=1
  done
  return "$rc"
}

main() {
  [ $# -ge 1 ] || usage
  local cmd=$1
  shift
  case $cmd in
  up | down | status) ;;
  *) usage ;;
  esac
  mkdir -p "$CACHE_DIR" "$DATA_DIR" "$LOG_DIR" "$RUN_DIR"
  # Health checks (and component helpers) use the project venv; stopping needs nothing.
  if [ "$cmd" != down ] && [ ! -x "$VENV/bin/python" ]; then
    log_step "no $VENV yet; running infra/bootstrap.sh"
    "$ROOT/infra/bootstrap.sh"
  fi
  if [ $# -eq 0 ]; then set -- "${ALL_COMPONENTS[@]}"; fi
  load_components "$@"
  "cmd_$cmd"
}

main "$@"
