#!/usr/bin/env bash
# Overflow: a storm of thousands of link creations while the daemon is not
# reading (SIGSTOP, and a deliberately tiny settings.netlink_receive_buffer)
# loses events. The daemon says so (5480, crit), keeps what is not
# positively classified at the unknown_interfaces posture, re-reads the
# interface list by itself and says when it is whole again (5490). Then
# every interface is classified correctly — checked in the kernel's maps
# and through `netpolicyctl interfaces --json` — and traffic works on an
# interface created during the storm. No restart, no manual step.
source "$(dirname "$0")/lib.sh"

STORM=${NP_STORM_LINKS:-3000}  # ifb links, half in zone "storm", half in none

new_netns host; HOST=$REPLY
new_netns peer; PEER=$REPLY

CONFIG=$NP_TMP/policy.yaml
cat >"$CONFIG" <<'EOF'
version: 1
settings:
  unknown_interfaces: block
  netlink_receive_buffer: 4096
zones:
  - {name: lab, interfaces: ["vl-*"]}
  - {name: storm, interfaces: ["st*"]}
rules:
  - {name: lab-ssh, direction: in, zones: [lab], protocol: tcp, ports: [2222], action: allow}
EOF

# The interface names zone_in maps to TARGET, sorted.
map_names() {
  ip netns exec "$HOST" nft -j list map inet netpolicy zone_in |
    jq -r --arg t "$1" '.nftables[] | select(.map) | .map.elem[]? | select(.[1].jump.target == $t) | .[0]' |
    sort
}
# The host's interface names matching the extended regex, sorted.
link_names() { ip -n "$HOST" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "$1" | sort || true; }

start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
RULES_AT_START=$(ip netns exec "$HOST" nft -a -s list table inet netpolicy | grep -P '^\t\t.*# handle \d+$')

np_note "storm of $STORM ifb links and one veth pair while netpolicyd is stopped"
BATCH=$NP_TMP/storm.batch
for ((i = 0; i < STORM / 2; i++)); do
  echo "link add st$i group 7 type ifb"
  echo "link add sx$i group 7 type ifb"
done >"$BATCH"
kill -STOP "$DAEMON_PID"
STORM_START=$EPOCHREALTIME
ip -n "$HOST" -batch "$BATCH"
link_netns "$HOST" vl-s "$PEER" vp-s 1  # created during the storm
listen "$HOST" 10.200.1.1 2222
listen "$HOST" 10.200.1.1 2223
STORM_END=$EPOCHREALTIME
assert_eq "zone_in while the daemon is stopped" "" "$(map_names in_storm | head -3)"
CONT=$EPOCHREALTIME
kill -CONT "$DAEMON_PID"

wait_event 5490 1 30
RECOVERED=$EPOCHREALTIME
awk -v a="$STORM_START" -v b="$STORM_END" -v c="$CONT" -v d="$RECOVERED" \
  'BEGIN {printf "--- storm took %.0f ms; recovered %.0f ms after SIGCONT\n", (b-a)*1000, (d-c)*1000}'

np_note "the journal: 5480 (crit) then 5490 (notice)"
assert_eq "interfaces-incomplete events" 1 "$(journal_count 5480)"
assert_eq "5480 PRIORITY (crit)" 2 "$(event_field 5480 PRIORITY)"
assert_eq "5480 ERROR_CODE (ENOBUFS)" 105 "$(event_field 5480 ERROR_CODE)"
assert_contains "5480 ERROR" "No buffer space available" "$(event_field 5480 ERROR)"
assert_contains "5480 REASON" "overflowed" "$(event_field 5480 REASON)"
assert_contains "5480 ACTION_TAKEN" "unknown_interfaces posture (block)" "$(event_field 5480 ACTION_TAKEN)"
assert_contains "5480 ACTION_TAKEN" "re-reading" "$(event_field 5480 ACTION_TAKEN)"
assert_eq "5490 PRIORITY (notice)" 5 "$(event_field 5490 PRIORITY)"
T5480=$(event_field 5480 __MONOTONIC_TIMESTAMP)
T5490=$(event_field 5490 __MONOTONIC_TIMESTAMP)
((T5480 < T5490)) || fail "5490 ($T5490) is not after 5480 ($T5480)"
ok "5480 before 5490"
HOST_LINKS=$(ip -n "$HOST" -o link show | wc -l)
assert_eq "5490 INTERFACES (the host's links)" "$HOST_LINKS" "$(event_field 5490 INTERFACES)"
assert_match "5490 MESSAGE says for how long" 'complete again after [0-9]+\.[0-9]{3} s' \
  "$(event_field 5490 MESSAGE)"
assert_contains "5490 ACTION_TAKEN" "reconciled" "$(event_field 5490 ACTION_TAKEN)"
assert_match "STATUS while incomplete" 'interface view INCOMPLETE since [0-9T:-]+Z' \
  "$(grep -F 'STATUS=' "$NOTIFY_LOG" | grep INCOMPLETE | tail -1)"
assert_contains "STATUS after recovery" "interface view complete ($HOST_LINKS interfaces)" \
  "$(grep -F 'STATUS=' "$NOTIFY_LOG" | tail -1)"

np_note "every interface classified correctly, in the kernel's maps"
assert_same_text "zone_in -> in_storm: exactly the st* links" "$(link_names '^st[0-9]+$')" "$(map_names in_storm)"
assert_eq "zone_in -> in_lab" "vl-s" "$(map_names in_lab)"
for m in zone_out zone_fwd; do
  assert_eq "$m elements" "$(((STORM / 2) + 1))" \
    "$(ip netns exec "$HOST" nft -j list map inet netpolicy "$m" | jq '[.nftables[] | select(.map) | .map.elem[]?] | length')"
done

np_note "and through netpolicyctl interfaces --json"
JSON=$(ip netns exec "$HOST" "$NP_CTL" --runtime-dir "$NP_TMP/$HOST/run" interfaces --json)
assert_eq "view complete" true "$(jq -r '.. | objects | select(has("complete")) | .complete' <<<"$JSON" | head -1)"
STATES=$(jq -r '[.. | objects | select(has("ifindex"))] | group_by(.state) | map("\(.[0].state)=\(length)") | join(" ")' <<<"$JSON")
assert_eq "states of all interfaces" "loopback=1 protected=$(((STORM / 2) + 1)) unknown-posture=$((STORM / 2))" "$STATES"
assert_eq "st0 in zone storm, protected" "storm protected" \
  "$(jq -r '.. | objects | select(.name? == "st0") | "\(.zone) \(.state)"' <<<"$JSON")"
assert_eq "sx0 in no zone, unknown-posture" "null unknown-posture" \
  "$(jq -r '.. | objects | select(.name? == "sx0") | "\(.zone) \(.state)"' <<<"$JSON")"

np_note "traffic on the interface created during the storm follows its zone"
expect_tcp_ok "$PEER" 10.200.1.1 2222
expect_tcp_blocked "$PEER" 10.200.1.1 2223

np_note "a second storm while netpolicyd runs and reads through its 8 KiB buffer"
for ((i = 0; i < STORM / 2; i++)); do echo "link add sy$i group 7 type ifb"; done >"$BATCH"
ip -n "$HOST" -batch "$BATCH"
ip -n "$HOST" link add st-run type ifb
for _ in $(seq 1 300); do
  (($(journal_count 5490) == $(journal_count 5480))) && map_names in_storm | grep -qx st-run && break
  sleep 0.05
done
INCOMPLETE=$(journal_count 5480)
assert_eq "every incomplete period (5480) ended by a recovery (5490)" "$INCOMPLETE" "$(journal_count 5490)"
echo "--- incomplete periods so far: $INCOMPLETE; last recovery: $(event_field 5490 REASON)"
assert_same_text "zone_in -> in_storm after the second storm" "$(link_names '^st[0-9]+$|^st-run$')" "$(map_names in_storm)"

np_note "complete again: a new interface is classified at once, rules never re-sent"
ip -n "$HOST" link add st-late type ifb
for _ in $(seq 1 200); do
  map_names in_storm | grep -qx st-late && break
  sleep 0.01
done
map_names in_storm | grep -qx st-late || fail "st-late not classified after the recovery"
ok "st-late classified"
ip -n "$HOST" link del group 7
for _ in $(seq 1 300); do
  [[ -z $(map_names in_storm | grep -v -e st-late -e st-run) ]] && break
  sleep 0.02
done
for _ in $(seq 1 300); do
  (($(journal_count 5490) == $(journal_count 5480))) && break
  sleep 0.05
done
assert_eq "zone_in -> in_storm after deleting the storm" "st-late st-run" "$(map_names in_storm | paste -sd ' ')"
assert_eq "every incomplete period ended by a recovery" "$(journal_count 5480)" "$(journal_count 5490)"
assert_same_text "rules with handles" "$RULES_AT_START" \
  "$(ip netns exec "$HOST" nft -a -s list table inet netpolicy | grep -P '^\t\t.*# handle \d+$')"
assert_eq "interface-update-failed events" 0 "$(journal_count 5485)"
stop_daemon TERM
assert_eq "exit status after SIGTERM" 0 "$DAEMON_STATUS"
