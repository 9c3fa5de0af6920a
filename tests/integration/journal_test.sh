#!/usr/bin/env bash
# After start, reload and stop, the journal holds service-started 5478,
# policy-applied 5460, reload-requested 5465 and service-stopped 5479 with
# the MESSAGE_IDs of DESIGN.md's event table and their fields, read back with
# `journalctl EVENT_ID=... -o json` from a private journald.
source "$(dirname "$0")/lib.sh"

new_netns host; HOST=$REPLY
new_netns peer; PEER=$REPLY
link_netns "$HOST" vh-lab0 "$PEER" vp-lab0 1

CONFIG=$NP_TMP/policy.yaml
cat >"$CONFIG" <<'EOF'
version: 1
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
addresses:
  admins: [10.200.1.0/24, "fd00:200:1::/64"]
rules:
  - name: ssh-from-admins
    direction: in
    zones: [lab]
    from: [admins]
    protocol: tcp
    ports: [22]
    action: allow
  - name: dns-out
    direction: out
    protocol: udp
    ports: [53]
    action: allow
  - name: ping-in
    direction: in
    protocol: icmp
    action: allow
EOF
# policy_facts: the rule count (entries under rules:) and the file's SHA-256.
policy_facts() {
  RULES+=("$(grep -c '^  - name: ' "$CONFIG")")
  SHA+=("$(sha256sum "$CONFIG" | cut -d' ' -f1)")
}
RULES=() SHA=()
policy_facts

start_daemon "$HOST" "$CONFIG"
PID=$DAEMON_PID
wait_notify READY=1
# A changed policy, so the reload is a real one (an identical file could
# legitimately be reported as policy-unchanged instead).
cat >>"$CONFIG" <<'EOF'
  - name: ntp-out
    direction: out
    protocol: udp
    ports: [123]
    action: allow
EOF
policy_facts
kill -HUP "$DAEMON_PID"
wait_notify READY=1 2
stop_daemon TERM
assert_eq "exit status after SIGTERM" 0 "$DAEMON_STATUS"
wait_event 5479

# expect_event EVENT_ID NETPOLICY_EVENT MESSAGE_ID PRIORITY COUNT: every
# such event carries these; exactly COUNT of them.
expect_event() {
  local id=$1 name=$2 mid=$3 prio=$4 count=$5 json n i
  json=$(journal_events "$id")
  n=$(grep -c . <<<"$json" || true)
  assert_eq "number of EVENT_ID=$id events" "$count" "$n"
  for ((i = 0; i < n; i++)); do
    assert_eq "${id}[$i] MESSAGE_ID" "$mid" "$(json_field "$json" MESSAGE_ID "$i")"
    assert_eq "${id}[$i] NETPOLICY_EVENT" "$name" "$(json_field "$json" NETPOLICY_EVENT "$i")"
    assert_eq "${id}[$i] PRIORITY" "$prio" "$(json_field "$json" PRIORITY "$i")"
    assert_eq "${id}[$i] _PID" "$PID" "$(json_field "$json" _PID "$i")"
    assert_match "${id}[$i] MESSAGE" '.{10,}' "$(json_field "$json" MESSAGE "$i")"
  done
}

# Values from DESIGN.md ("Audit events"); MESSAGE_IDs never change.
expect_event 5478 service-started a29dbac7ffa141369e77a954c6de4104 6 1
expect_event 5460 policy-applied 02c7fb1e39604aa28535d3498340d333 6 2
expect_event 5465 reload-requested 75dbaf015c1e45cb9f78b26c402aad31 6 1
expect_event 5479 service-stopped cc8a7de14b624c98a08ade3ccba6759b 6 1

applied=$(journal_events 5460)
for i in 0 1; do
  assert_eq "5460[$i] POLICY_PATH" "$CONFIG" "$(json_field "$applied" POLICY_PATH "$i")"
  assert_eq "5460[$i] POLICY_SOURCE" local "$(json_field "$applied" POLICY_SOURCE "$i")"
  assert_eq "5460[$i] POLICY_SHA256" "${SHA[$i]}" "$(json_field "$applied" POLICY_SHA256 "$i")"
  assert_eq "5460[$i] RULES" "${RULES[$i]}" "$(json_field "$applied" RULES "$i")"
done

# Order: started and the first policy (either first), then reload requested,
# applied, stopped.
order=$(journalctl -q --no-pager -o json _PID="$PID" |
  jq -r 'select(.EVENT_ID != null) | .EVENT_ID' | paste -sd ' ')
assert_match "event order" '^(5460 5478|5478 5460) 5465 5460 5479$' "$order"
