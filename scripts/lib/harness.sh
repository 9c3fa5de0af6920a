# shellcheck shell=bash
# Shared by scripts/demo and tests/integration/lib.sh: throwaway network
# namespaces joined by veth pairs, a private journald, netpolicyd run under a
# stand-in for systemd's notify socket, and real-packet probes.
#
# Isolation: np_isolate re-executes the caller in new mount and PID
# namespaces. There it mounts tmpfs over /run/systemd, /run/log, /var/log and
# /run/netns, so the journald it starts, its journal files and the named
# network namespaces are private to this run and cannot collide with a
# parallel run. Being PID 1 of its own PID namespace, the script takes every
# process it started down with it, even when it is killed with SIGKILL (ctest
# timeout): nothing is left running and no namespace is left behind. Nothing
# here touches the host's own network namespace.
#
# Callers set NP_NAME (a short word: the test or "demo") before sourcing, and
# may define np_on_failure (more diagnostics, printed on failure) and
# np_on_cleanup (their own teardown, run first at exit).

NP_SOURCE=${NETPOLICY_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NP_BUILD=${NETPOLICY_BUILD:-$NP_SOURCE/build}
NP_LIB=$NP_SOURCE/scripts/lib
NP_DAEMON=$NP_BUILD/daemon/netpolicyd
# shellcheck disable=SC2034 # used by callers (tests, demo)
NP_CTL=$NP_BUILD/daemon/netpolicyctl
NP_TABLE=${NP_TABLE:-netpolicy}
NP_JOURNALD=/lib/systemd/systemd-journald
NP_PYTHON=/usr/bin/python3   # Debian's, not whatever python3 a user's PATH holds

# (Set here: bash running as root does not take PS4 from the environment.)
[[ ${NP_TRACE:-} == 1 ]] && PS4='+ $EPOCHREALTIME ${BASH_SOURCE[0]##*/}:$LINENO: '

NP_PIDS=()        # background processes to stop at exit
NP_NAMESPACES=()  # network namespaces to delete at exit
NP_DAEMON_DIRS=() # one directory per daemon start (stderr, notify log)
NP_DAEMON_SEQ=0
NP_JOURNALD_PID=

np_fail() {
  echo "FAIL: $*" >&2
  exit 1
}

np_note() { echo "--- $*"; }

# np_lines FILE: its number of non-empty lines; 0 when it does not exist.
np_lines() {
  local n
  n=$(grep -c . "$1" 2>/dev/null) || true
  echo "${n:-0}"
}

# np_alive PID: running (a process that exited but was not reaped yet is not).
np_alive() {
  local state
  state=$(awk '$1 == "State:" {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# --- preconditions: missing root or tools is a failure, never a skip --------

np_require_root() {
  [[ $(id -u) -eq 0 ]] ||
    np_fail "must run as root: it creates network namespaces and runs a private journald"
}

np_require_tools() {
  local missing=() t
  for t in ip nft socat jq journalctl ping ss unshare sha256sum timeout mount \
           "$NP_PYTHON" "$NP_JOURNALD"; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  ((${#missing[@]} == 0)) ||
    np_fail "missing tools: ${missing[*]} (run ./scripts/setup as root)"
  [[ -x $NP_DAEMON ]] ||
    np_fail "no daemon at $NP_DAEMON (build first: ./scripts/setup, or set NETPOLICY_BUILD)"
}

# --- isolation ----------------------------------------------------------------

# np_isolate "$0" "$@": re-exec the calling script in private mount + PID
# namespaces (see the header). Returns only inside them.
np_isolate() {
  if [[ ${NP_ISOLATED:-} != 1 ]]; then
    export NP_ISOLATED=1 NP_ID=$$
    # NP_TRACE=1: trace every command with a timestamp (debugging).
    exec unshare --mount --propagation private --pid --fork --kill-child \
      --mount-proc -- bash ${NP_TRACE:+-x} "$@"
  fi
  # As PID 1 the shell ignores signals it has no handler for.
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap np_cleanup EXIT
  local d
  for d in /run/systemd /run/log /var/log /run/netns; do
    mkdir -p "$d"
    mount -t tmpfs -o mode=0755 "np-$NP_NAME" "$d" || np_fail "cannot mount tmpfs on $d"
  done
  NP_TMP=$(mktemp -d "/tmp/np-$NP_NAME-$NP_ID.XXXXXX")
  chmod 0755 "$NP_TMP"
}

# --- private journald -----------------------------------------------------------

np_journald_start() {
  mkdir -p /run/systemd/journald.conf.d
  # Volatile storage in the private /run/log; no kernel log import (every
  # parallel run would copy the whole kmsg); no rate limit (a test may emit
  # many events quickly).
  cat >/run/systemd/journald.conf.d/netpolicy-harness.conf <<'EOF'
[Journal]
Storage=volatile
ReadKMsg=no
RateLimitBurst=0
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
EOF
  "$NP_JOURNALD" >"$NP_TMP/journald.log" 2>&1 &
  NP_JOURNALD_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -S /run/systemd/journal/socket ]] && return 0
    np_alive "$NP_JOURNALD_PID" || break
    sleep 0.05
  done
  cat "$NP_TMP/journald.log" >&2
  np_fail "private journald did not create /run/systemd/journal/socket"
}

journal_sync() { journalctl --sync; }

# journal_events EVENT_ID [journalctl args...]: the events with that EVENT_ID
# as JSON, one object per line.
journal_events() {
  journal_sync
  journalctl -q --no-pager -o json "EVENT_ID=$1" "${@:2}"
}

# journal_count EVENT_ID [journalctl args...]
journal_count() { journal_events "$@" | grep -c . || true; }

# wait_event EVENT_ID [COUNT [TIMEOUT_S]]: until at least COUNT such events.
wait_event() {
  local id=$1 count=${2:-1} timeout=${3:-10} deadline
  deadline=$((SECONDS + timeout))
  while (($(journal_count "$id") < count)); do
    ((SECONDS < deadline)) ||
      np_fail "timed out after ${timeout}s waiting for $count journal event(s) EVENT_ID=$id (saw $(journal_count "$id"))"
    sleep 0.1
  done
}

# --- network namespaces ----------------------------------------------------------

# new_netns ROLE: creates np-<name>-<pid>-ROLE with lo up; name in REPLY.
new_netns() {
  local name="np-$NP_NAME-$NP_ID-$1"
  ip netns add "$name" || np_fail "cannot create network namespace $name"
  NP_NAMESPACES+=("$name")
  ip -n "$name" link set lo up
  # No duplicate address detection: addresses are usable at once.
  ip netns exec "$name" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
    net.ipv6.conf.default.accept_dad=0 >/dev/null
  REPLY=$name
}

# link_netns HOST_NS HOST_IF PEER_NS PEER_IF X: a veth pair; the host end gets
# 10.200.X.1/24 and fd00:200:X::1/64, the peer end .2 and ::2.
link_netns() {
  local hns=$1 hif=$2 pns=$3 pif=$4 x=$5
  ip -n "$hns" link add "$hif" type veth peer name "$pif" netns "$pns" ||
    np_fail "cannot create veth $hif ($hns) <-> $pif ($pns)"
  ip -n "$hns" addr add "10.200.$x.1/24" dev "$hif"
  ip -n "$hns" -6 addr add "fd00:200:$x::1/64" dev "$hif" nodad
  ip -n "$pns" addr add "10.200.$x.2/24" dev "$pif"
  ip -n "$pns" -6 addr add "fd00:200:$x::2/64" dev "$pif" nodad
  ip -n "$hns" link set "$hif" up
  ip -n "$pns" link set "$pif" up
}

# add_address NS IF ADDR/LEN: one more address (v4 or v6) on an interface.
add_address() {
  if [[ $3 == *:* ]]; then
    ip -n "$1" -6 addr add "$3" dev "$2" nodad
  else
    ip -n "$1" addr add "$3" dev "$2"
  fi
}

# --- nftables views (inside a namespace) -------------------------------------------

# nft_table NS: the daemon's table without counters (stable across time).
nft_table() { ip netns exec "$1" nft -s list table inet "$NP_TABLE"; }
table_exists() { ip netns exec "$1" nft list table inet "$NP_TABLE" >/dev/null 2>&1; }
nft_tables() { ip netns exec "$1" nft list tables; }

# --- the daemon ----------------------------------------------------------------------

# start_daemon NS CONFIG [ARGS...]: netpolicyd in the background inside NS,
# its sd_notify messages going to a private socket read into a log. Sets
# DAEMON_PID, DAEMON_DIR (stdout, stderr, notify.log), NOTIFY_LOG and
# DAEMON_RUNTIME_DIR (its --runtime-dir: control.sock).
# Restarts in the same namespace reuse its runtime and state directories,
# as a real restart would.
start_daemon() {
  local ns=$1 config=$2
  shift 2
  NP_DAEMON_SEQ=$((NP_DAEMON_SEQ + 1))
  DAEMON_DIR=$NP_TMP/daemon-$NP_DAEMON_SEQ
  NOTIFY_LOG=$DAEMON_DIR/notify.log
  DAEMON_RUNTIME_DIR=$NP_TMP/$ns/run
  mkdir -p "$DAEMON_DIR" "$DAEMON_RUNTIME_DIR" "$NP_TMP/$ns/state"
  NP_DAEMON_DIRS+=("$DAEMON_DIR")
  local sock=$DAEMON_DIR/notify.sock i
  "$NP_PYTHON" "$NP_LIB/notify_reader.py" "$sock" "$NOTIFY_LOG" \
    2>"$DAEMON_DIR/notify_reader.err" &
  NP_PIDS+=($!)
  for ((i = 0; i < 100; i++)); do
    [[ -S $sock && -e $NOTIFY_LOG ]] && break
    sleep 0.02
  done
  [[ -S $sock ]] || np_fail "notify reader did not bind $sock"
  echo "$ns $config $*" >"$DAEMON_DIR/cmdline"
  # ip netns exec execs the command: $! is netpolicyd itself.
  NOTIFY_SOCKET=$sock ip netns exec "$ns" "$NP_DAEMON" --config "$config" \
    --runtime-dir "$DAEMON_RUNTIME_DIR" --state-dir "$NP_TMP/$ns/state" "$@" \
    >"$DAEMON_DIR/stdout" 2>"$DAEMON_DIR/stderr" &
  DAEMON_PID=$!
  NP_PIDS+=("$DAEMON_PID")
}

# notify_count LINE [LOG]: how many notify messages had exactly this line.
notify_count() { grep -cxF -- "$1" "${2:-$NOTIFY_LOG}" || true; }

# notify_states [LOG]: the state changes sent, in order, e.g.
# "READY=1 RELOADING=1 READY=1 STOPPING=1".
notify_states() {
  grep -xE 'READY=1|RELOADING=1|STOPPING=1' "${1:-$NOTIFY_LOG}" | paste -sd ' ' || true
}

# notify_message LINE [LOG]: the last whole message (its fields, one per
# line) that contained exactly LINE.
notify_message() {
  awk -v want="$1" '
    $0 == "--" { if (has) last = msg; msg = ""; has = 0; next }
    { msg = msg $0 "\n"; if ($0 == want) has = 1 }
    END { printf "%s", last }' "${2:-$NOTIFY_LOG}"
}

# wait_notify LINE [COUNT [TIMEOUT_S]]: until the current daemon has sent
# LINE (e.g. READY=1) at least COUNT times; fails at once if it exits.
wait_notify() {
  local line=$1 count=${2:-1} timeout=${3:-15} deadline
  deadline=$((SECONDS + timeout))
  while (($(notify_count "$line") < count)); do
    if ! np_alive "$DAEMON_PID"; then
      local status=0
      wait "$DAEMON_PID" || status=$?
      np_fail "netpolicyd (pid $DAEMON_PID) exited with status $status before sending '$line' x$count; stderr:
$(tail -n 30 "$DAEMON_DIR/stderr")"
    fi
    ((SECONDS < deadline)) ||
      np_fail "timed out after ${timeout}s waiting for '$line' x$count from netpolicyd; notify log:
$(cat "$NOTIFY_LOG")
stderr:
$(tail -n 30 "$DAEMON_DIR/stderr")"
    sleep 0.05
  done
}

# np_reap_daemon TIMEOUT_S WHAT: waits for the current daemon to exit; its
# exit status goes to DAEMON_STATUS (128+N when killed by signal N).
np_reap_daemon() {
  local deadline=$((SECONDS + $1))
  while np_alive "$DAEMON_PID"; do
    ((SECONDS < deadline)) || np_fail "netpolicyd did not exit within ${1}s $2"
    sleep 0.05
  done
  DAEMON_STATUS=0
  # 2>/dev/null: no "Killed" line from the shell after SIGKILL.
  wait "$DAEMON_PID" 2>/dev/null || DAEMON_STATUS=$?
}

# stop_daemon SIGNAL [TIMEOUT_S]: signal the current daemon and wait for it
# to exit (DAEMON_STATUS).
stop_daemon() {
  kill "-$1" "$DAEMON_PID" || np_fail "cannot send SIG$1 to netpolicyd ($DAEMON_PID)"
  np_reap_daemon "${2:-15}" "of SIG$1"
}

# run_daemon_foreground NS CONFIG [ARGS...]: runs netpolicyd to completion
# (at most 20 s; DAEMON_STATUS).
run_daemon_foreground() {
  start_daemon "$@"
  np_reap_daemon 20 "(it was expected to exit by itself)"
}

# --- traffic --------------------------------------------------------------------------

NP_BANNER=netpolicy-ok

# listen_tcp NS ADDR PORT: a TCP server on ADDR:PORT inside NS that sends a
# banner to every client; returns once it listens.
listen_tcp() {
  local ns=$1 addr=$2 port=$3 spec i
  if [[ $addr == *:* ]]; then
    spec="TCP6-LISTEN:$port,bind=[$addr],ipv6only=1"
  else
    spec="TCP4-LISTEN:$port,bind=$addr"
  fi
  ip netns exec "$ns" socat "$spec,reuseaddr,fork" "SYSTEM:echo $NP_BANNER" \
    2>>"$NP_TMP/listeners.err" &
  NP_PIDS+=($!)
  for ((i = 0; i < 100; i++)); do
    ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . && return 0
    sleep 0.02
  done
  np_fail "TCP listener on $addr port $port in $ns did not start"
}

# tcp_connects NS ADDR PORT [SRC]: true when a connection from NS (from SRC
# if given) to ADDR:PORT is established and the banner arrives; a dropped SYN
# fails after the 1 s connect timeout.
tcp_connects() {
  local ns=$1 addr=$2 port=$3 src=${4:-} target opts=connect-timeout=1 out
  if [[ $addr == *:* ]]; then
    target="TCP6:[$addr]:$port"
    [[ -n $src ]] && opts+=",bind=[$src]"
  else
    target="TCP4:$addr:$port"
    [[ -n $src ]] && opts+=",bind=$src"
  fi
  out=$(timeout 5 ip netns exec "$ns" socat -T2 -u "$target,$opts" STDOUT 2>/dev/null) || true
  [[ $out == "$NP_BANNER" ]]
}

# listen_udp NS ADDR PORT: a UDP server on ADDR:PORT inside NS that answers
# every datagram with the banner; returns once it is bound.
listen_udp() {
  local ns=$1 addr=$2 port=$3 spec i
  if [[ $addr == *:* ]]; then
    spec="UDP6-RECVFROM:$port,bind=[$addr],ipv6only=1"
  else
    spec="UDP4-RECVFROM:$port,bind=$addr"
  fi
  ip netns exec "$ns" socat "$spec,reuseaddr,fork" "SYSTEM:echo $NP_BANNER" \
    2>>"$NP_TMP/listeners.err" &
  NP_PIDS+=($!)
  for ((i = 0; i < 100; i++)); do
    ip netns exec "$ns" ss -Hlun "sport = :$port" | grep -q . && return 0
    sleep 0.02
  done
  np_fail "UDP listener on $addr port $port in $ns did not start"
}

# udp_answers NS ADDR PORT [SRC]: true when a datagram from NS (from SRC if
# given) to ADDR:PORT gets the banner back within 1 s.
udp_answers() {
  local ns=$1 addr=$2 port=$3 src=${4:-} target out
  if [[ $addr == *:* ]]; then
    target="UDP6:[$addr]:$port${src:+,bind=[$src]}"
  else
    target="UDP4:$addr:$port${src:+,bind=$src}"
  fi
  out=$(echo probe | timeout 5 ip netns exec "$ns" socat -T1 -t1 - "$target" 2>/dev/null) || true
  [[ $out == "$NP_BANNER" ]]
}

# pings NS ADDR [SRC]: true when one echo request gets its reply within 1 s.
pings() {
  local ns=$1 addr=$2 src=${3:-}
  timeout 5 ip netns exec "$ns" ping -n -q -c1 -W1 ${src:+-I "$src"} "$addr" >/dev/null 2>&1
}

# start_probe_loop NS ADDR PORT: from NS, try ADDR:PORT every 50 ms until
# stop_probe_loop; PROBE_LOG gets a line per attempt.
start_probe_loop() {
  PROBE_LOG=$NP_TMP/probe-$2-$3.log
  PROBE_STOP=$NP_TMP/probe-$2-$3.stop
  rm -f "$PROBE_LOG" "$PROBE_STOP"
  ip netns exec "$1" "$NP_PYTHON" "$NP_LIB/tcp_probe_loop.py" "$2" "$3" 0.05 \
    "$PROBE_LOG" "$PROBE_STOP" &
  PROBE_PID=$!
  NP_PIDS+=("$PROBE_PID")
}

# wait_probe_attempts N [TIMEOUT_S]: until the probe loop has made N attempts
# (on a loaded machine its start-up alone can take a while).
wait_probe_attempts() {
  local deadline=$((SECONDS + ${2:-20}))
  while (($(np_lines "$PROBE_LOG") < $1)); do
    np_alive "$PROBE_PID" || np_fail "probe loop exited early"
    ((SECONDS < deadline)) || np_fail "probe loop made fewer than $1 attempts in ${2:-20}s"
    sleep 0.05
  done
}

# stop_probe_loop: sets PROBE_ATTEMPTS and PROBE_OPENS.
stop_probe_loop() {
  touch "$PROBE_STOP"
  wait "$PROBE_PID" || np_fail "probe loop failed"
  PROBE_ATTEMPTS=$(np_lines "$PROBE_LOG")
  PROBE_OPENS=$(grep -c '^open' "$PROBE_LOG" || true)
}

# --- teardown -------------------------------------------------------------------------

np_diagnostics() {
  local d
  echo "===== diagnostics ($NP_NAME) =====" >&2
  declare -F np_on_failure >/dev/null && np_on_failure >&2
  for d in "${NP_DAEMON_DIRS[@]}"; do
    echo "--- netpolicyd $(cat "$d/cmdline" 2>/dev/null)" >&2
    echo "    stderr (last 30 lines):" >&2
    tail -n 30 "$d/stderr" 2>/dev/null | sed 's/^/      /' >&2
    echo "    notify messages:" >&2
    sed 's/^/      /' "$d/notify.log" >&2 2>/dev/null
  done
  if [[ -n $NP_JOURNALD_PID ]]; then
    echo "--- journal (last 40 entries):" >&2
    journalctl --sync 2>/dev/null
    journalctl -q --no-pager -n 40 -o short-monotonic 2>/dev/null | sed 's/^/      /' >&2
  fi
}

np_cleanup() {
  local status=$? pid ns
  set +e
  trap - ERR
  ((status != 0)) && np_diagnostics
  # A caller's own teardown (containers, mounts), before the processes and
  # namespaces go.
  declare -F np_on_cleanup >/dev/null && np_on_cleanup
  for pid in "${NP_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${NP_PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      np_alive "$pid" || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for ns in "${NP_NAMESPACES[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  if [[ -n $NP_JOURNALD_PID ]]; then
    kill -TERM "$NP_JOURNALD_PID" 2>/dev/null
    wait "$NP_JOURNALD_PID" 2>/dev/null
  fi
  # --one-file-system: never delete through a mount point under NP_TMP.
  [[ -n ${NP_TMP:-} && ${NP_KEEP_TMP:-0} != 1 ]] && rm -rf --one-file-system "$NP_TMP"
  exit "$status"
}
