#!/usr/bin/env bash
# protect rules on this kernel (XFRM policies, no ESP): netpolicyd installs
# the XFRM policies of its rules in its priority band; without an SA a
# protected flow does not pass in clear text (XfrmOutNoStates grows) while
# unprotected traffic to the same peer passes and ipsec-sa-missing (5492)
# names its rule, profile and peer; `level: request` falls back
# to clear text; inbound clear text of a protected flow is dropped; an
# administrator's own XFRM policy (outside the band) survives apply, reload
# and stop; a broken reload leaves nft and XFRM as they were; on stop
# netpolicyd's XFRM policies stay. Everything inside this test's namespaces.
source "$(dirname "$0")/lib.sh"

new_netns host; HOST=$REPLY
new_netns peer; PEER=$REPLY
link_netns "$HOST" vh-lab0 "$PEER" vp-lab0 1
H4=10.200.1.1 P4=10.200.1.2

# The administrator's own policy, outside netpolicyd's band (priority 100).
ip -n "$HOST" xfrm policy add src $H4/32 dst 10.200.9.9/32 dir out priority 100 \
  tmpl proto esp reqid 77 mode transport

CONFIG=$NP_TMP/policy.yaml
write_policy() {  # $1: an extra protected port on the peer (reload changes it)
  cat >"$CONFIG" <<EOF2
version: 1
settings:
  default: {inbound: block, outbound: allow, forward: block}
  sa_missing_after: 1
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
ipsec:
  - {name: db, reqid: 100}
  - {name: opt, reqid: 101, level: request}
  - {name: adm, reqid: 102}
rules:
  - {name: ssh-in, direction: in, from: [$P4], protocol: tcp, ports: [2222], action: allow}
  - {name: db-out, direction: out, to: [$P4], protocol: tcp, ports: [5432, $1], action: protect, ipsec: db}
  - {name: web-out, direction: out, to: [$P4], protocol: tcp, ports: [8080], action: protect, ipsec: opt}
  - {name: admin-in, direction: in, from: [$P4], protocol: tcp, ports: [2223], action: protect, ipsec: adm}
EOF2
}

xfrm_text() { ip -n "$HOST" xfrm policy; }
# ours: policies in the band [0x7a000, 0x7a000 + 2^18).
our_count() { xfrm_text | awk '/priority/ { for (i = 1; i <= NF; i++) if ($i == "priority" && $(i+1) >= 499712 && $(i+1) < 499712 + 262144) n++ } END { print n + 0 }'; }
admin_present() { xfrm_text | grep -q "reqid 77 "; }
out_no_states() { ip netns exec "$HOST" awk '$1 == "XfrmOutNoStates" { print $2 }' /proc/net/xfrm_stat; }

for port in 5432 5433 5434 8080 9000; do listen "$PEER" $P4 $port; done
for port in 2222 2223; do listen "$HOST" $H4 $port; done

write_policy 5433
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1

np_note "the XFRM policies of the protect rules"
# db-out: 2 ports x (out + in); web-out: 1 x 2; admin-in: 1 x 2.
assert_eq "netpolicyd's XFRM policies" 8 "$(our_count)"
text=$(xfrm_text)
assert_contains "ip xfrm policy" "src 0.0.0.0/0 dst $P4/32 proto tcp dport 5432 " "$text"
assert_contains "ip xfrm policy" "src $P4/32 dst 0.0.0.0/0 proto tcp sport 5432 " "$text"
assert_contains "ip xfrm policy" "src $P4/32 dst 0.0.0.0/0 proto tcp dport 2223 " "$text"
assert_contains "ip xfrm policy" "proto esp reqid 101 mode transport
		level use" "$text"
admin_present || fail "the administrator's XFRM policy is gone after apply"
ok "the administrator's XFRM policy survived apply"
assert_contains "nft list table" "ipsec in reqid 102 counter" "$(nft_table "$HOST")"

np_note "traffic without SAs"
before=$(out_no_states)
expect_tcp_blocked "$HOST" $P4 5432          # protected, no SA: not in clear
after=$(out_no_states)
(( after > before )) || fail "XfrmOutNoStates did not grow ($before -> $after)"
ok "XfrmOutNoStates grew ($before -> $after)"
np_note "ipsec-sa-missing (5492) for the flow left without SA"
wait_event 5492 1 20
assert_eq "5492 RULE" db-out "$(event_field 5492 RULE)"
assert_eq "5492 IPSEC_PROFILE" db "$(event_field 5492 IPSEC_PROFILE)"
assert_eq "5492 PEER" $P4 "$(event_field 5492 PEER)"
expect_tcp_ok "$HOST" $P4 9000               # same peer, unprotected
expect_tcp_ok "$HOST" $P4 8080               # level: request falls back to clear text
expect_tcp_blocked "$PEER" $H4 2223          # inbound protected flow in clear: dropped
expect_tcp_ok "$PEER" $H4 2222               # inbound unprotected

np_note "reload changes only the XFRM difference"
write_policy 5434
kill -HUP "$DAEMON_PID"
wait_notify READY=1 2
wait_event 5460 2
text=$(xfrm_text)
assert_contains "ip xfrm policy after reload" "dport 5434 " "$text"
[[ $text != *"dport 5433 "* ]] || fail "the policy of the removed port 5433 is still there"
assert_eq "netpolicyd's XFRM policies after reload" 8 "$(our_count)"
admin_present || fail "the administrator's XFRM policy is gone after reload"
ok "the administrator's XFRM policy survived reload"

np_note "a broken reload changes neither nft nor XFRM"
nft_before=$(nft_table "$HOST") xfrm_before=$(xfrm_text)
echo "bogus: 1" >>"$CONFIG"
kill -HUP "$DAEMON_PID"
wait_event 5461 1
wait_notify READY=1 3
assert_same_text "nft table after a broken reload" "$nft_before" "$(nft_table "$HOST")"
assert_same_text "XFRM policies after a broken reload" "$xfrm_before" "$(xfrm_text)"

np_note "stop: XFRM policies stay"
stop_daemon TERM
assert_eq "netpolicyd's XFRM policies after stop" 8 "$(our_count)"
admin_present || fail "the administrator's XFRM policy is gone after stop"
ok "the administrator's XFRM policy survived stop"
expect_tcp_blocked "$HOST" $P4 5432          # still not in clear after stop
