#!/usr/bin/env bash
# Real TCP, UDP and ICMP, IPv4 and IPv6, allowed and blocked as the policy says:
# source groups, zones, first match wins, port ranges, the inbound default,
# the unknown-interface posture, and stateful replies to outbound traffic.
source "$(dirname "$0")/lib.sh"

new_netns host; HOST=$REPLY
new_netns peer; PEER=$REPLY          # on vh-lab0, in zone "lab"
new_netns stranger; STRANGER=$REPLY  # on vx-other0, in no zone
link_netns "$HOST" vh-lab0 "$PEER" vp-lab0 1
link_netns "$HOST" vx-other0 "$STRANGER" vs-0 2
# A second peer address that the policy's group does not hold. The peer
# picks its IPv6 source among both by its own rules, so every check from the
# peer names its source address.
add_address "$PEER" vp-lab0 10.200.1.3/24
add_address "$PEER" vp-lab0 fd00:200:1::3/64

H4=10.200.1.1 H6=fd00:200:1::1
P4=10.200.1.2 P6=fd00:200:1::2
O4=10.200.1.3 O6=fd00:200:1::3       # "outsider" source on the peer
S4=10.200.2.1 S6=fd00:200:2::1       # the host as the stranger sees it

CONFIG=$NP_TMP/policy.yaml
cat >"$CONFIG" <<'EOF'
version: 1
settings:
  table: netpolicy
  default: {inbound: block, outbound: allow, forward: block}
  unknown_interfaces: block
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
addresses:
  peers: [10.200.1.2, "fd00:200:1::2"]
rules:
  - name: ssh-from-peers
    direction: in
    zones: [lab]
    from: [peers]
    protocol: tcp
    ports: [2222]
    action: allow
  - name: db-blocked
    direction: in
    protocol: tcp
    ports: [5432]
    action: block
  - name: db-from-peers          # never reached: db-blocked matches first
    direction: in
    from: [peers]
    protocol: tcp
    ports: [5432]
    action: allow
  - name: web-range
    direction: in
    zones: [lab]
    protocol: tcp
    ports: ["8000-8100"]
    action: allow
  - name: dns-from-peers
    direction: in
    zones: [lab]
    from: [peers]
    protocol: udp
    ports: [53]
    action: allow
  - name: ping-from-peers
    direction: in
    from: [peers]
    protocol: icmp
    action: allow
  - name: ping6-from-peers
    direction: in
    from: [peers]
    protocol: icmpv6
    action: allow
EOF

for a in $H4 $H6; do
  for port in 2222 2223 5432 8080; do listen "$HOST" "$a" "$port"; done
  listen_u "$HOST" "$a" 53
done
for a in $S4 $S6; do listen "$HOST" "$a" 8080; done
listen "$PEER" "$P4" 9000   # for the host's outbound connections
listen "$PEER" "$P6" 9000

np_note "baseline without netpolicyd: everything passes"
for a in $H4 $H6; do
  expect_tcp_ok "$PEER" "$a" 2223
  expect_udp_ok "$PEER" "$a" 53
  expect_ping_ok "$PEER" "$a"
done
expect_tcp_ok "$PEER" "$H4" 2222 "$O4"
expect_ping_ok "$PEER" "$H6" "$O6"
expect_tcp_ok "$STRANGER" "$S4" 8080
expect_ping_ok "$STRANGER" "$S6"

np_note "netpolicyd applies the policy"
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
assert_table_exists "$HOST"

for fam in 4 6; do
  h=H$fam p=P$fam o=O$fam s=S$fam
  h=${!h} p=${!p} o=${!o} s=${!s}
  np_note "IPv$fam"
  expect_tcp_ok "$PEER" "$h" 2222 "$p"            # ssh-from-peers
  expect_tcp_blocked "$PEER" "$h" 2222 "$o"       # source not in the group
  expect_tcp_blocked "$PEER" "$h" 2223 "$p"       # default inbound: block
  expect_tcp_blocked "$PEER" "$h" 5432 "$p"       # first match wins
  expect_tcp_ok "$PEER" "$h" 8080 "$o"            # range, any source
  expect_udp_ok "$PEER" "$h" 53 "$p"              # dns-from-peers
  expect_udp_blocked "$PEER" "$h" 53 "$o"
  expect_ping_ok "$PEER" "$h" "$p"                # ping(6)-from-peers
  expect_ping_blocked "$PEER" "$h" "$o"
  expect_tcp_blocked "$STRANGER" "$s" 8080        # interface in no zone
  expect_ping_blocked "$STRANGER" "$s"
  expect_tcp_ok "$HOST" "$p" 9000                 # outbound + its replies
done

np_note "the ruleset names the policy's rules"
listing=$(ip netns exec "$HOST" nft list table inet netpolicy)
for rule in ssh-from-peers db-blocked db-from-peers web-range dns-from-peers ping-from-peers \
            ping6-from-peers; do
  assert_contains "nft list table inet netpolicy" "comment \"$rule\"" "$listing"
done
assert_contains "nft list table inet netpolicy" '"vh-lab0" : jump' "$listing"
if [[ $listing == *'"vx-other0"'* ]]; then
  fail "vx-other0 is in no zone but appears in the table:
$listing"
fi
ok "vx-other0 (no zone) has no map element"
