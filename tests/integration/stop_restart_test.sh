#!/usr/bin/env bash
# Fail closed: SIGTERM (exit 0, STOPPING=1, event 5479) and kill -9 leave the
# table and its rules enforcing; a restart adopts the table as it is, and
# through the whole stop/start/kill/start sequence a blocked port never opens
# (a probe tries it every 50 ms).
source "$(dirname "$0")/lib.sh"

new_netns host; HOST=$REPLY
new_netns peer; PEER=$REPLY
link_netns "$HOST" vh-lab0 "$PEER" vp-lab0 1
H4=10.200.1.1 H6=fd00:200:1::1

CONFIG=$NP_TMP/policy.yaml
cat >"$CONFIG" <<'EOF'
version: 1
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
rules:
  - name: ssh-in
    direction: in
    zones: [lab]
    protocol: tcp
    ports: [2222]
    action: allow
EOF
for a in $H4 $H6; do listen "$HOST" "$a" 2222; listen "$HOST" "$a" 2223; done

expect_enforced() {
  local a
  for a in $H4 $H6; do
    expect_tcp_ok "$PEER" "$a" 2222
    expect_tcp_blocked "$PEER" "$a" 2223
  done
}

# Who owns the table (nft prints "# progname netpolicyd" and "flags owner")
# legitimately changes when its owner exits; sets, maps, chains and rules
# must not.
without_table_flags() { sed -e '/^\tflags /d' -e 's/^\(table .*{\) # progname .*$/\1/' <<<"$1"; }

np_note "the probe sees an open port (no filter yet), so its silence later means something"
start_probe_loop "$PEER" "$H4" 2223
wait_probe_attempts 3
stop_probe_loop
((PROBE_OPENS > 0)) || fail "probe never connected to an unfiltered port ($PROBE_ATTEMPTS attempts)"
ok "probe connected $PROBE_OPENS of $PROBE_ATTEMPTS times without a filter"

np_note "first start"
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
before=$(nft_table "$HOST")
expect_enforced

start_probe_loop "$PEER" "$H4" 2223
wait_probe_attempts 1

np_note "SIGTERM"
stop_daemon TERM
assert_eq "exit status after SIGTERM" 0 "$DAEMON_STATUS"
assert_eq "notify states" "READY=1 STOPPING=1" "$(notify_states)"
wait_event 5479
assert_eq "service-stopped NETPOLICY_EVENT" service-stopped "$(event_field 5479 NETPOLICY_EVENT)"
assert_table_exists "$HOST"
assert_same_text "ruleset after SIGTERM" "$(without_table_flags "$before")" \
  "$(without_table_flags "$(nft_table "$HOST")")"
expect_enforced

np_note "restart after SIGTERM adopts the table"
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
assert_same_text "ruleset after restart" "$before" "$(nft_table "$HOST")"
expect_enforced

np_note "kill -9"
stop_daemon KILL
assert_eq "exit status after SIGKILL" 137 "$DAEMON_STATUS"
assert_table_exists "$HOST"
assert_same_text "ruleset after kill -9" "$(without_table_flags "$before")" \
  "$(without_table_flags "$(nft_table "$HOST")")"
expect_enforced

np_note "restart after kill -9 adopts the table"
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
assert_same_text "ruleset after restart" "$before" "$(nft_table "$HOST")"
expect_enforced
wait_probe_attempts $(($(np_lines "$PROBE_LOG") + 10))

stop_probe_loop
((PROBE_OPENS == 0)) || fail "blocked port 2223 opened $PROBE_OPENS times during stop/restart:
$(grep '^open' "$PROBE_LOG")"
((PROBE_ATTEMPTS >= 20)) || fail "probe made only $PROBE_ATTEMPTS attempts: not evidence"
ok "blocked port stayed closed for all $PROBE_ATTEMPTS probes across stop, kill and restarts"

assert_eq "service-started events" 3 "$(journal_count 5478)"
assert_eq "service-stopped events (SIGKILL leaves none)" 1 "$(journal_count 5479)"
