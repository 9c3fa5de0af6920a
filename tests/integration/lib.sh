# shellcheck shell=bash
# Sourced first by every tests/integration/*_test.sh. Each test runs in
# private mount + PID namespaces with its own journald, builds its own
# network namespaces (np-<test>-<pid>-<role>) and tears everything down on
# exit (scripts/lib/harness.sh). A test that cannot run — not root, a tool
# missing, no daemon built — fails; it never skips.
set -Eeuo pipefail

NP_NAME=$(basename "$0" _test.sh)
# shellcheck source=../../scripts/lib/harness.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib/harness.sh"

np_require_root
np_isolate "$0" "$@"
np_require_tools
trap 'echo "FAIL: command failed (status $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR
np_journald_start

fail() { np_fail "$@"; }
ok() { echo "ok: $*"; }

# --- assertions: each prints what it expected and what it saw ---------------------

# assert_eq WHAT EXPECTED SEEN
assert_eq() {
  [[ $2 == "$3" ]] || fail "$1
  expected: '$2'
  seen:     '$3'"
  ok "$1 = '$3'"
}

# assert_match WHAT EXTENDED_REGEX SEEN
assert_match() {
  [[ $3 =~ $2 ]] || fail "$1
  expected to match: $2
  seen:              '$3'"
  ok "$1 matches $2"
}

# assert_contains WHAT NEEDLE HAYSTACK
assert_contains() {
  [[ $3 == *"$2"* ]] || fail "$1
  expected to contain: '$2'
  seen:
$3"
  ok "$1 contains '$2'"
}

# assert_same_text WHAT EXPECTED_TEXT SEEN_TEXT: byte for byte, with a diff.
assert_same_text() {
  if [[ $2 != "$3" ]]; then
    fail "$1: texts differ (- expected, + seen):
$({ diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") || true; } | tail -n +3)"
  fi
  ok "$1: identical ($(printf '%s\n' "$2" | wc -l) lines)"
}

assert_table_exists() {
  table_exists "$1" || fail "table inet $NP_TABLE missing in $1; tables there:
$(nft_tables "$1")"
  ok "table inet $NP_TABLE exists in $1"
}

assert_no_tables() {
  local tables
  tables=$(nft_tables "$1")
  [[ -z $tables ]] || fail "expected no nftables tables in $1, seen:
$tables"
  ok "no nftables table in $1"
}

# --- traffic expectations ---------------------------------------------------------

declare -A NP_LISTENER_NS=()

# listen NS ADDR PORT: listen_tcp that remembers where the listener runs.
listen() {
  listen_tcp "$@"
  NP_LISTENER_NS["tcp $2 $3"]=$1
}

# listen_u NS ADDR PORT: the same for UDP.
listen_u() {
  listen_udp "$@"
  NP_LISTENER_NS["udp $2 $3"]=$1
}

# np_listener_answers PROTO ADDR PORT: the listener answers inside its own
# namespace (over lo, which the policy always accepts), so a refusal seen
# from elsewhere can only come from the filter.
np_listener_answers() {
  local lns=${NP_LISTENER_NS["$1 $2 $3"]:-}
  [[ -n $lns ]] || fail "no $1 listener registered for $2 port $3 (use listen/listen_u)"
  if [[ $1 == tcp ]]; then
    np_retry tcp_connects "$lns" "$2" "$3"
  else
    np_retry udp_answers "$lns" "$2" "$3"
  fi || fail "$1 listener $2 port $3 does not answer inside $lns: a blocked check would prove nothing"
}

# np_retry CMD...: CMD succeeds within three tries. Only checks that expect
# traffic to pass retry (a loaded machine can miss a 1 s timeout); a check
# that expects a block never does: one packet through is a failure.
np_retry() { "$@" || "$@" || "$@"; }

# expect_tcp_ok NS ADDR PORT [SRC]
expect_tcp_ok() {
  np_retry tcp_connects "$@" || fail "TCP ${4:-$1} -> $2 port $3: expected to connect, it did not"
  ok "TCP ${4:-$1} -> $2 port $3 connects"
}

# expect_tcp_blocked NS ADDR PORT [SRC]
expect_tcp_blocked() {
  np_listener_answers tcp "$2" "$3"
  if tcp_connects "$@"; then
    fail "TCP ${4:-$1} -> $2 port $3: expected to be blocked, it connected"
  fi
  ok "TCP ${4:-$1} -> $2 port $3 blocked"
}

# expect_udp_ok NS ADDR PORT [SRC]
expect_udp_ok() {
  np_retry udp_answers "$@" || fail "UDP ${4:-$1} -> $2 port $3: expected an answer, none came"
  ok "UDP ${4:-$1} -> $2 port $3 answered"
}

# expect_udp_blocked NS ADDR PORT [SRC]
expect_udp_blocked() {
  np_listener_answers udp "$2" "$3"
  if udp_answers "$@"; then
    fail "UDP ${4:-$1} -> $2 port $3: expected to be blocked, it was answered"
  fi
  ok "UDP ${4:-$1} -> $2 port $3 blocked"
}

# expect_ping_ok NS ADDR [SRC]
expect_ping_ok() {
  np_retry pings "$@" || fail "ping ${3:-$1} -> $2: expected a reply, none came"
  ok "ping ${3:-$1} -> $2 answered"
}

# expect_ping_blocked NS ADDR [SRC]
expect_ping_blocked() {
  if pings "$@"; then
    fail "ping ${3:-$1} -> $2: expected to be blocked, it was answered"
  fi
  ok "ping ${3:-$1} -> $2 blocked"
}

# --- journal -----------------------------------------------------------------------

# json_field JSON_LINES FIELD [INDEX]: FIELD of the INDEX-th (0-based,
# default the last) JSON object, "<absent>" when it has no such field.
json_field() {
  jq -rs --arg f "$2" --argjson i "${3:--1}" '.[$i][$f] // "<absent>"' <<<"$1"
}

# event_field EVENT_ID FIELD [INDEX]: the same from the journal's events with
# that EVENT_ID; fails when there is none.
event_field() {
  local json
  json=$(journal_events "$1")
  [[ -n $json ]] || fail "no journal event EVENT_ID=$1"
  json_field "$json" "$2" "${3:--1}"
}

# On failure, the diagnostics also show every namespace's ruleset.
np_on_failure() {
  local ns
  for ns in "${NP_NAMESPACES[@]}"; do
    echo "--- nft list ruleset in $ns:"
    ip netns exec "$ns" nft list ruleset 2>&1 | sed 's/^/      /'
  done
}
