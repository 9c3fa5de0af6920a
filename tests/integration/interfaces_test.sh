#!/usr/bin/env bash
# Live interface tracking: interfaces created after READY are classified and
# their traffic follows their zone; an interface in no zone gets the
# unknown_interfaces posture; a rename moves an interface between zones; a
# deletion removes it from the maps; `me` and `zone:NAME` follow addresses
# added and removed at runtime. Every change is an element update only: the
# rules keep their handles throughout.
source "$(dirname "$0")/lib.sh"

new_netns host; HOST=$REPLY
new_netns peer; PEER=$REPLY
new_netns other; OTHER=$REPLY

CONFIG=$NP_TMP/policy.yaml
cat >"$CONFIG" <<'EOF'
version: 1
settings:
  default: {inbound: block, outbound: allow, forward: block}
  unknown_interfaces: block
zones:
  - {name: lab, interfaces: ["vl-*"]}
  - {name: dmz, interfaces: ["vd-*"]}
rules:
  - {name: lab-ssh, direction: in, zones: [lab], protocol: tcp, ports: [2222], action: allow}
  - {name: dmz-web, direction: in, zones: [dmz], protocol: tcp, ports: [8080], action: allow}
  - {name: to-me, direction: in, zones: [lab], to: [me], protocol: tcp, ports: [9000], action: allow}
  - {name: lab-sources, direction: forward, from: ["zone:lab"], protocol: udp, ports: [7], action: allow}
EOF

# map_target IF: the chain zone_in jumps to for IF, or "none".
map_target() {
  ip netns exec "$HOST" nft -j list map inet netpolicy zone_in |
    jq -r --arg i "$1" '[.nftables[] | select(.map) | .map.elem[]? | select(.[0] == $i) | .[1].jump.target] | .[0] // "none"'
}

# wait_map IF TARGET: until zone_in maps IF to TARGET ("none": no element);
# prints how long it took.
wait_map() {
  local start=$EPOCHREALTIME seen
  for _ in $(seq 1 200); do
    seen=$(map_target "$1")
    if [[ $seen == "$2" ]]; then
      ok "zone_in: $1 -> $2 after $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f ms", (b - a) * 1000}')"
      return 0
    fi
    sleep 0.01
  done
  fail "zone_in: expected $1 -> $2, seen $1 -> $seen"
}

# in_set SET ADDR: the address is an element of (an interval of) SET.
in_set() { ip netns exec "$HOST" nft get element inet netpolicy "$1" "{ $2 }" >/dev/null 2>&1; }

# wait_set SET ADDR yes|no
wait_set() {
  for _ in $(seq 1 200); do
    if in_set "$1" "$2"; then [[ $3 == yes ]] && { ok "$2 in set $1"; return 0; }
    else [[ $3 == no ]] && { ok "$2 not in set $1"; return 0; }
    fi
    sleep 0.01
  done
  fail "set $1: expected $2 in it: $3; the set: $(ip netns exec "$HOST" nft list set inet netpolicy "$1")"
}

# The rule lines with their handles (-s: no counter values).
rule_handles() { ip netns exec "$HOST" nft -a -s list table inet netpolicy | grep -P '^\t\t.*# handle \d+$'; }

start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
assert_contains "STATUS at READY" "interface view complete" "$(notify_message READY=1)"
RULES_AT_START=$(rule_handles)
[[ -n $RULES_AT_START ]] || fail "no rules listed"

np_note "an interface created after READY is classified (lab)"
link_netns "$HOST" vl-a "$PEER" vp-a 1
wait_map vl-a in_lab
for a in 10.200.1.1 fd00:200:1::1; do
  listen "$HOST" "$a" 2222
  listen "$HOST" "$a" 8080
  expect_tcp_ok "$PEER" "$a" 2222
  expect_tcp_blocked "$PEER" "$a" 8080
done

np_note "an interface in no zone gets the posture (block)"
ip -n "$HOST" link add vx-b type veth peer name vp-b netns "$OTHER"
ip -n "$HOST" addr add 10.200.2.1/24 dev vx-b
ip -n "$OTHER" addr add 10.200.2.2/24 dev vp-b
ip -n "$HOST" link set vx-b up
ip -n "$OTHER" link set vp-b up
listen "$HOST" 10.200.2.1 2222
listen "$HOST" 10.200.2.1 8080
# Give the daemon time to (wrongly) add it; then it must still be absent.
sleep 0.3
assert_eq "zone_in element of vx-b" none "$(map_target vx-b)"
expect_tcp_blocked "$OTHER" 10.200.2.1 2222
expect_tcp_blocked "$OTHER" 10.200.2.1 8080
expect_ping_blocked "$OTHER" 10.200.2.1

np_note "rename into a zone: vx-b -> vd-b (dmz)"
ip -n "$HOST" link set vx-b down
ip -n "$HOST" link set vx-b name vd-b
ip -n "$HOST" link set vd-b up
wait_map vd-b in_dmz
assert_eq "zone_in element of the old name" none "$(map_target vx-b)"
expect_tcp_ok "$OTHER" 10.200.2.1 8080
expect_tcp_blocked "$OTHER" 10.200.2.1 2222

np_note "rename between zones: vd-b (dmz) -> vl-b (lab)"
ip -n "$HOST" link set vd-b down
ip -n "$HOST" link set vd-b name vl-b
ip -n "$HOST" link set vl-b up
wait_map vl-b in_lab
assert_eq "zone_in element of vd-b" none "$(map_target vd-b)"
expect_tcp_ok "$OTHER" 10.200.2.1 2222
expect_tcp_blocked "$OTHER" 10.200.2.1 8080

np_note "delete removes the interface from every map"
ip -n "$HOST" link del vl-b
wait_map vl-b none
for m in zone_out zone_fwd; do
  assert_eq "$m has no vl-b" "" \
    "$(ip netns exec "$HOST" nft -j list map inet netpolicy "$m" | jq -r '.nftables[] | select(.map) | .map.elem[]? | select(.[0] == "vl-b") | .[0]')"
done

np_note "me and zone:lab follow an address added and removed at runtime"
ME=10.200.9.50
wait_set me4 10.200.1.1 yes
wait_set z4_lab 10.200.1.1 yes
assert_eq "me4 before the address exists" no "$(in_set me4 $ME && echo yes || echo no)"
ip -n "$HOST" addr add "$ME/32" dev vl-a
ip -n "$PEER" route add "$ME/32" dev vp-a
wait_set me4 "$ME" yes
wait_set z4_lab "$ME" yes
listen "$HOST" "$ME" 9000
listen "$HOST" "$ME" 9001
expect_tcp_ok "$PEER" "$ME" 9000
expect_tcp_blocked "$PEER" "$ME" 9001
ip -n "$HOST" -6 addr add fd00:200:9::50/128 dev vl-a nodad
wait_set me6 fd00:200:9::50 yes
ip -n "$HOST" addr del "$ME/32" dev vl-a
wait_set me4 "$ME" no
wait_set z4_lab "$ME" no
wait_set me4 10.200.1.1 yes
ip -n "$HOST" -6 addr del fd00:200:9::50/128 dev vl-a
wait_set me6 fd00:200:9::50 no

np_note "no rule was re-sent: every rule kept its handle"
assert_same_text "rules with handles after the interface events" "$RULES_AT_START" "$(rule_handles)"

assert_eq "interfaces-incomplete events" 0 "$(journal_count 5480)"
assert_eq "interface-update-failed events" 0 "$(journal_count 5485)"
assert_eq "policy-applied events (one full apply)" 1 "$(journal_count 5460)"
stop_daemon TERM
assert_eq "exit status after SIGTERM" 0 "$DAEMON_STATUS"
