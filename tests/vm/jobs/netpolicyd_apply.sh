#!/bin/bash
# netpolicyd itself runs in this kernel: started in a namespace with a small
# policy (an allowed port, the inbound default block, a protect rule), it
# reports service-started, its `inet netpolicy` table is in the kernel and
# filters real packets, the protect rule's XFRM policies are installed, and
# it stops cleanly on SIGTERM.
source "$(dirname "$0")/../job-lib.sh"
require_daemon

new_netns host; HOST=$REPLY
new_netns peer; PEER=$REPLY
link_netns "$HOST" vh-apply0 "$PEER" vp-apply0 42
H4=10.200.42.1 H6=fd00:200:42::1 P4=10.200.42.2

CONFIG=$NP_TMP/policy.yaml
cat >"$CONFIG" <<YAML
version: 1
settings:
  default: {inbound: block, outbound: allow, forward: block}
zones:
  - {name: lab, interfaces: ["vh-apply*"]}
ipsec:
  - {name: db, reqid: 100, keying: ike}
rules:
  - {name: web-in, direction: in, zones: [lab], protocol: tcp, ports: [8080], action: allow}
  - {name: db-out, direction: out, to: [$P4], protocol: tcp, ports: [5432], action: protect, ipsec: db}
YAML

step "netpolicyd in $HOST"
start_netpolicyd "$HOST" "$CONFIG"
wait_daemon_event service-started
ok "netpolicyd started: $(daemon_events service-started)"

table=$(nft_table "$HOST")
echo "$table"
[[ $table == *'tcp dport 8080'* ]] || fail "the web-in rule is not in table inet $NP_TABLE"
xfrm=$(ip -n "$HOST" xfrm policy)
echo "$xfrm"
[[ $xfrm == *"dst $P4/32 proto tcp dport 5432 "* && $xfrm == *"proto esp reqid 100 mode transport"* ]] ||
  fail "the protect rule's XFRM policy is missing"
ok "table inet $NP_TABLE and the protect rule's XFRM policies are in the kernel"

listen_tcp "$HOST" $H4 8080
listen_tcp "$HOST" $H6 8080
listen_tcp "$HOST" $H4 8081
tcp_connects "$PEER" $H4 8080 || fail "allowed TCP to $H4:8080 failed"
tcp_connects "$PEER" $H6 8080 || fail "allowed TCP to [$H6]:8080 failed"
ok "allowed port 8080 passes (IPv4, IPv6)"
if tcp_connects "$PEER" $H4 8081; then fail "TCP to $H4:8081 passed the inbound default block"; fi
ok "port 8081 is blocked by the inbound default"
stop_daemon TERM
((DAEMON_STATUS == 0)) || fail "netpolicyd exited with status $DAEMON_STATUS on SIGTERM"
step "PASS: netpolicyd applied its policy in kernel $(uname -r)"
