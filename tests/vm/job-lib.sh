# shellcheck shell=bash
# Sourced first by tests/vm/jobs/*.sh, the scripts the VM test runs inside
# the guest (run-in-vm.sh). It brings in the namespace/daemon/traffic
# helpers the root integration tests use (scripts/lib/harness.sh: new_netns,
# link_netns, start_daemon, wait_notify, listen_tcp, tcp_connects, ...),
# without their private journald and PID namespace: the guest is already a
# throwaway machine, events are read from netpolicyd's stderr (it echoes them
# there when stderr is not the journal), and every process a job leaves
# behind is killed by the guest's init. Namespaces are named with the PID
# (np-<job>-<pid>-<role>), addresses come from 10.200.0.0/16 and
# fd00:200::/32.
set -Eeuo pipefail

NP_NAME=${NP_NAME:-$(basename "$0" .sh)}
NP_NAME=${NP_NAME//_/-}
# shellcheck source=../../scripts/lib/harness.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib/harness.sh"

np_require_root
# require_daemon: for jobs that run netpolicyd.
require_daemon() {
  [[ -x $NP_DAEMON ]] || np_fail "no daemon at $NP_DAEMON (set NETPOLICY_BUILD to a build directory)"
}
NP_ID=$$
NP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/np-$NP_NAME-$NP_ID.XXXXXX")
chmod 0755 "$NP_TMP"
trap np_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'echo "FAIL: command failed (status $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR

fail() { np_fail "$@"; }
ok() { echo "ok: $*"; }

# step MESSAGE: a progress line with the guest's uptime (where time goes).
step() {
  local now _
  read -r now _ </proc/uptime
  echo "--- [$now] $*"
}

# nap SECONDS: sleep without a process (each exec costs under emulation).
exec {np_nap_fd}<> <(:)
nap() { read -r -t "$1" -u "$np_nap_fd" _ || true; }

# daemon_events NAME [DIR]: the events netpolicyd echoed to its stderr
# ("netpolicyd[NAME]: message"), one per line, from DIR (default DAEMON_DIR).
daemon_events() { grep -F "netpolicyd[$1]: " "${2:-$DAEMON_DIR}/stderr" || true; }

# start_netpolicyd NS CONFIG [ARGS...]: like the harness's start_daemon
# (DAEMON_PID, DAEMON_DIR with stdout/stderr, diagnostics on failure) but
# without a notify socket: the harness reads that with a Python helper, whose
# start-up alone takes seconds under emulation. Wait with wait_daemon_event.
start_netpolicyd() {
  local ns=$1 config=$2
  shift 2
  NP_DAEMON_SEQ=$((NP_DAEMON_SEQ + 1))
  DAEMON_DIR=$NP_TMP/daemon-$NP_DAEMON_SEQ
  mkdir -p "$DAEMON_DIR" "$NP_TMP/$ns/run" "$NP_TMP/$ns/state"
  NP_DAEMON_DIRS+=("$DAEMON_DIR")
  echo "$ns $config $*" >"$DAEMON_DIR/cmdline"
  # Created here: the background job may open them after the first read.
  : >"$DAEMON_DIR/stdout"
  : >"$DAEMON_DIR/stderr"
  ip netns exec "$ns" "$NP_DAEMON" --config "$config" --runtime-dir "$NP_TMP/$ns/run" \
    --state-dir "$NP_TMP/$ns/state" "$@" >>"$DAEMON_DIR/stdout" 2>>"$DAEMON_DIR/stderr" &
  DAEMON_PID=$!
  NP_PIDS+=("$DAEMON_PID")
}

# wait_daemon_event NAME [TIMEOUT_S]: until the current daemon has echoed
# event NAME (e.g. service-started, sent once its first policy is in the
# kernel); fails at once if it exits. Bash builtins only.
wait_daemon_event() {
  local name=$1 deadline=$((SECONDS + ${2:-60})) line
  while :; do
    while IFS= read -r line; do
      if [[ $line == "netpolicyd[$name]: "* ]]; then return 0; fi
    done <"$DAEMON_DIR/stderr"
    np_alive "$DAEMON_PID" || np_fail "netpolicyd exited before reporting $name; stderr:
$(tail -n 30 "$DAEMON_DIR/stderr")"
    ((SECONDS < deadline)) || np_fail "netpolicyd did not report $name within ${2:-60}s; stderr:
$(tail -n 30 "$DAEMON_DIR/stderr")"
    nap 0.2
  done
}
