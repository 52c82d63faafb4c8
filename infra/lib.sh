# shellcheck shell=bash
# Shared helpers for infra/stack.sh and infra/<component>/component.sh. Sourced, never executed.
# Expects stack.sh to have exported ROOT, STACK_DIR, CACHE_DIR, DATA_DIR, LOG_DIR, RUN_DIR and VENV.

log_step() { printf 'stack: %s\n' "$*"; }

die() {
  printf 'stack: ERROR: %s\n' "$*" >&2
  exit 1
}

# Runs a command as root: CI runners and dev boxes differ in whether we already are root.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

pid_file() { printf '%s/%s.pid' "$RUN_DIR" "$1"; }

# Prints the recorded pid of daemon NAME; fails when there is none.
daemon_pid() {
  local f
  f=$(pid_file "$1")
  [ -s "$f" ] && cat "$f"
}

# A zombie still answers kill -0, so look at its state too.
pid_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) } # drop "pid (comm) ": comm may contain spaces
  [ "${stat%% *}" != Z ]
}

# Prints when process PID started, in seconds since the epoch (Linux /proc).
pid_started_at() {
  local stat btime
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  btime=$(awk '$1 == "btime" {print $2}' /proc/stat)
  # shellcheck disable=SC2086 # word-split the remaining fields; starttime is field 22 of stat.
  set -- $stat
  echo $((btime + ${20} / $(getconf CLK_TCK)))
}

# Our daemon started just before its pid file was written. A live process that started well after
# that is not ours: its pid was reused (after a reboot or a container restart, .stack/ survives) and
# it must be neither reported nor stopped as our daemon. The 10 s slack absorbs clock adjustments.
daemon_running() {
  local pid started
  pid=$(daemon_pid "$1") || return 1
  pid_alive "$pid" || return 1
  started=$(pid_started_at "$pid") || return 0
  [ "$started" -le $(($(stat -c %Y "$(pid_file "$1")") + 10)) ]
}

# The environment variable that marks every process of daemon NAME, the daemon's helpers included
# (children inherit it), so stop_daemon can find them after the daemon itself is gone.
daemon_marker() { printf 'TWINWEAR_STACK_DAEMON=%s/%s' "$RUN_DIR" "$1"; }

# start_daemon NAME CMD [ARGS...]: runs CMD detached in its own session (so it outlives this shell
# and a terminal hang-up), output appended to $LOG_DIR/NAME.log, pid in $RUN_DIR/NAME.pid.
# CMD must exec the server itself (no wrapper that forks), so the pid is the server's.
start_daemon() {
  local name=$1 log
  shift
  log=$LOG_DIR/$name.log
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  printf '\n==== %s stack: starting %s\n' "$(date -Is)" "$*" >>"$log"
  # The subshell has no job control, so the background child is never a process-group leader and
  # setsid(1) can call setsid() in place instead of forking: $! stays the server's pid.
  (
    export "$(daemon_marker "$name")"
    setsid nohup "$@" >>"$log" 2>&1 </dev/null &
    echo $! >"$(pid_file "$name")"
  )
}

# daemon_processes NAME [SID]: prints the pids of live processes that carry daemon NAME's marker
# (see daemon_marker), i.e. the daemon and whatever it started, even if they left its session or
# were reparented, plus, given SID, the members of session SID (for a daemon started before the
# marker existed). A recycled pid cannot match the marker, which names this stack's run directory;
# processes of other users cannot be read and are skipped.
daemon_processes() {
  local sid=${2:-} f pid stat marked
  # One grep over every environ (no fork per process): the files that hold the marker line.
  marked=" $(grep -lzxF -- "$(daemon_marker "$1")" /proc/[0-9]*/environ 2>/dev/null | tr '\n' ' ' || true) "
  for f in /proc/[0-9]*/stat; do
    pid=${f#/proc/}
    pid=${pid%/stat}
    { read -r stat <"$f"; } 2>/dev/null || continue
    stat=${stat##*) } # "state ppid pgrp session ..."
    [ "${stat%% *}" != Z ] || continue
    # shellcheck disable=SC2086 # word-split the fields
    set -- $stat
    if [ "$4" = "$sid" ] || [[ $marked == *" /proc/$pid/environ "* ]]; then
      echo "$pid"
    fi
  done
}

# stop_daemon NAME: SIGTERM, wait up to 20 s for a clean shutdown, then SIGKILL the whole session
# (process group). Then the helpers the daemon leaves behind: Triton's python backend stubs, for
# one, ignore SIGTERM and outlive the server. They get SIGTERM, 2 s, then SIGKILL.
stop_daemon() {
  local name=$1 pid="" i
  if daemon_running "$name"; then
    pid=$(daemon_pid "$name")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do
      pid_alive "$pid" || break
      sleep 0.5
    done
    if pid_alive "$pid"; then
      log_step "$name (pid $pid) still running after 20 s; sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 10; i++)); do
        pid_alive "$pid" || break
        sleep 0.5
      done
    fi
  fi
  stop_leftovers "$name" "$pid"
  rm -f "$(pid_file "$name")"
}

# stop_leftovers NAME [SID]: stops what daemon_processes NAME [SID] prints.
stop_leftovers() {
  local name=$1 sid=${2:-} pids i
  pids=$(daemon_processes "$name" "$sid")
  [ -n "$pids" ] || return 0
  log_step "$name: stopping processes it left behind: $(echo $pids)"
  # shellcheck disable=SC2086 # one pid per word
  kill -TERM $pids 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    pids=$(daemon_processes "$name" "$sid")
    [ -n "$pids" ] || return 0
    sleep 0.1
  done
  log_step "$name: sending SIGKILL to $(echo $pids)"
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    [ -n "$(daemon_processes "$name" "$sid")" ] || return 0
    sleep 0.1
  done
  log_step "$name: WARNING: still running: $(echo $(daemon_processes "$name" "$sid"))" >&2
}

# wait_until TIMEOUT_S NAME CMD [ARGS...]: polls CMD every 0.5 s until it succeeds. Gives up early
# if daemon NAME has a pid file but died. On failure prints the tail of $LOG_DIR/NAME.log.
wait_until() {
  local timeout=$1 name=$2 deadline reason=""
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ -s "$(pid_file "$name")" ] && ! daemon_running "$name"; then
      reason="process exited"
    elif ((SECONDS >= deadline)); then
      reason="timed out after ${timeout}s"
    fi
    if [ -n "$reason" ]; then
      log_step "$name: $* did not succeed ($reason); last 40 lines of $LOG_DIR/$name.log:" >&2
      tail -n 40 "$LOG_DIR/$name.log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.5
  done
}

# http_ok URL: 0 when URL answers HTTP 200. Proxies are bypassed: everything we probe is local.
http_ok() {
  if command -v curl >/dev/null 2>&1; then
    local code
    code=$(curl -sS --noproxy '*' --max-time 5 -o /dev/null -w '%{http_code}' "$1" 2>/dev/null) || return 1
    [ "$code" = 200 ]
  else
    "$VENV/bin/python" - "$1" <<'EOF'
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(sys.argv[1], timeout=5) as resp:
        sys.exit(0 if resp.status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
  fi
}

# port_open PORT: 0 when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
