#!/usr/bin/env bash
# SIGHUP reloads: a changed policy changes behaviour (RELOADING=1 with
# MONOTONIC_USEC, then READY=1; events 5465 and 5460). A broken policy (a
# YAML error, then a validation error) leaves the ruleset byte for byte and
# traffic as they were, and event 5461 names the error's file:line:col and
# says the previous policy stays in force.
source "$(dirname "$0")/lib.sh"

new_netns host; HOST=$REPLY
new_netns peer; PEER=$REPLY
link_netns "$HOST" vh-lab0 "$PEER" vp-lab0 1
H4=10.200.1.1 H6=fd00:200:1::1

CONFIG=$NP_TMP/policy.yaml
# write_policy PORT: a policy that lets the peer reach PORT only.
write_policy() {
  cat >"$CONFIG" <<EOF
version: 1
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
rules:
  - name: open-port
    direction: in
    zones: [lab]
    protocol: tcp
    ports: [$1]
    action: allow
EOF
}

for a in $H4 $H6; do listen "$HOST" "$a" 2222; listen "$HOST" "$a" 2223; done

# expect_open PORT: PORT reachable, the other one of 2222/2223 not.
expect_open() {
  local closed=$((2222 + 2223 - $1)) a
  for a in $H4 $H6; do
    expect_tcp_ok "$PEER" "$a" "$1"
    expect_tcp_blocked "$PEER" "$a" "$closed"
  done
}

np_note "start with port 2222 open"
write_policy 2222
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
expect_open 2222

np_note "SIGHUP with port 2223 open instead"
write_policy 2223
kill -HUP "$DAEMON_PID"
wait_notify READY=1 2
assert_eq "notify states" "READY=1 RELOADING=1 READY=1" "$(notify_states)"
assert_match "the RELOADING=1 message" $'(^|\n)MONOTONIC_USEC=[1-9][0-9]*(\n|$)' \
  "$(notify_message RELOADING=1)"
expect_open 2223
wait_event 5460 2
assert_eq "reload-requested events" 1 "$(journal_count 5465)"
assert_eq "POLICY_SHA256 of the reloaded policy" \
  "$(sha256sum "$CONFIG" | cut -d' ' -f1)" "$(event_field 5460 POLICY_SHA256)"

# reload_broken N WHAT EXPECTED_LOCATION: the config now holds a broken
# policy; SIGHUP must change nothing in the kernel and say so (event number
# N of 5461).
reload_broken() {
  local n=$1 what=$2 location=$3 before after
  np_note "SIGHUP with $what"
  before=$(nft_table "$HOST")
  kill -HUP "$DAEMON_PID"
  wait_event 5461 "$n"
  # systemd leaves the reloading state only on READY=1, failure or not.
  wait_notify READY=1 $((n + 2))
  after=$(nft_table "$HOST")
  assert_same_text "nft -s list table inet netpolicy after $what" "$before" "$after"
  expect_open 2223
  assert_eq "5461 ERROR_LOCATION ($what)" "$location" "$(event_field 5461 ERROR_LOCATION)"
  assert_eq "5461 POLICY_PATH ($what)" "$CONFIG" "$(event_field 5461 POLICY_PATH)"
  assert_match "5461 ACTION_TAKEN ($what)" '[Pp]revious' "$(event_field 5461 ACTION_TAKEN)"
  assert_eq "5461 PRIORITY ($what)" 3 "$(event_field 5461 PRIORITY)"
}

# Line 6: "    direction: in: out" — the second ':' (column 18) is illegal.
cat >"$CONFIG" <<'EOF'
version: 1
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
rules:
  - name: broken
    direction: in: out
EOF
reload_broken 1 "a YAML syntax error" "$CONFIG:6:18"

# Line 9, column 19: the port 70000.
cat >"$CONFIG" <<'EOF'
version: 1
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
rules:
  - name: out-of-range
    direction: in
    zones: [lab]
    protocol: tcp
    ports: [2222, 70000]
    action: allow
EOF
reload_broken 2 "a port out of range" "$CONFIG:9:19"

np_note "a good policy after the failures applies again"
write_policy 2222
kill -HUP "$DAEMON_PID"
wait_notify READY=1 5
expect_open 2222
assert_eq "notify states" \
  "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1" \
  "$(notify_states)"
assert_eq "reload-requested events" 4 "$(journal_count 5465)"
assert_eq "policy-applied events" 3 "$(journal_count 5460)"
