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
RULES=$(grep -c '^  - name: ' "$CONFIG")   # the entries under rules:
SHA=$(sha256sum "$CONFIG" | cut -d' ' -f1)

start_daemon "$HOST" "$CONFIG"
PID=$DAEMON_PID
wait_notify READY=1
kill -HUP "$DAEMON_PID"
wait_notify READY=1 2
stop_daemon TERM
assert_eq "exit status after SIGTERM" 0 "$DAEMON_STATUS"
wait_event 5479

# expect_event EVENT_ID NETPOLICY_EVENT MESSAGE_ID PRIORITY COUNT: every
# such event carries these; exactly COUNT of them.
expect_event() {
  local id=$1 name=$2 mid=$3 prio=$4 count=$5 n i
  n=$(journal_count "$id")
  assert_eq "number of EVENT_ID=$id events" "$count" "$n"
  for ((i = 0; i < n; i++)); do
    assert_eq "${id}[$i] MESSAGE_ID" "$mid" "$(event_field "$id" MESSAGE_ID "$i")"
    assert_eq "${id}[$i] NETPOLICY_EVENT" "$name" "$(event_field "$id" NETPOLICY_EVENT "$i")"
    assert_eq "${id}[$i] PRIORITY" "$prio" "$(event_field "$id" PRIORITY "$i")"
    assert_eq "${id}[$i] _PID" "$PID" "$(event_field "$id" _PID "$i")"
    assert_match "${id}[$i] MESSAGE" '.{10,}' "$(event_field "$id" MESSAGE "$i")"
  done
}

# Values from DESIGN.md ("Audit events"); MESSAGE_IDs never change.
expect_event 5478 service-started a29dbac7ffa141369e77a954c6de4104 6 1
expect_event 5460 policy-applied 02c7fb1e39604aa28535d3498340d333 6 2
expect_event 5465 reload-requested 75dbaf015c1e45cb9f78b26c402aad31 6 1
expect_event 5479 service-stopped cc8a7de14b624c98a08ade3ccba6759b 6 1

for i in 0 1; do
  assert_eq "5460[$i] POLICY_PATH" "$CONFIG" "$(event_field 5460 POLICY_PATH "$i")"
  assert_eq "5460[$i] POLICY_SOURCE" local "$(event_field 5460 POLICY_SOURCE "$i")"
  assert_eq "5460[$i] POLICY_SHA256" "$SHA" "$(event_field 5460 POLICY_SHA256 "$i")"
  assert_eq "5460[$i] RULES" "$RULES" "$(event_field 5460 RULES "$i")"
done

# Order: started and the first policy (either first), then reload requested,
# applied, stopped.
order=$(journalctl -q --no-pager -o json _PID="$PID" |
  jq -r 'select(.EVENT_ID != null) | .EVENT_ID' | paste -sd ' ')
assert_match "event order" '^(5460 5478|5478 5460) 5465 5460 5479$' "$order"
