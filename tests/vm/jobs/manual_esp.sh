#!/bin/bash
# keying: manual end to end on a kernel with ESP and nftables: two
# namespaces, each running netpolicyd with the mirror image of the other's
# manual SAs (rfc4106(gcm(aes)), one key per direction). TCP over the
# protected flow works; the capture on the link shows only ESP for it; the
# SAs' byte counters (ip -s xfrm state) grow; a wrong key on one side
# breaks the flow (and the right one, reloaded, mends it); clear text from
# the peer to the protected port is dropped. netpolicyd's SAs carry no key
# in its output, and an administrator's SA elsewhere is never touched.
source "$(dirname "$0")/../job-lib.sh"
require_daemon

new_netns a; A=$REPLY
new_netns b; B=$REPLY
link_netns "$A" va-esp0 "$B" vb-esp0 43
A4=10.200.43.1 B4=10.200.43.2
PORT=5432 OPEN=8080

KEYS=$NP_TMP/keys
mkdir -p "$KEYS"
umask 077
AB=1111111111111111111111111111111100000001  # A -> B: AES-128 key + salt
BA=2222222222222222222222222222222200000002  # B -> A
WRONG=3333333333333333333333333333333300000003
echo "$AB" >"$KEYS/ab.key"
echo "$BA" >"$KEYS/ba.key"
mkdir -p "$KEYS/b"
echo "$AB" >"$KEYS/b/ab.key"  # B's own copy, which the wrong-key step spoils
umask 022

# write_policy FILE ZONE_GLOB LOCAL REMOTE OUT_SPI OUT_KEY IN_SPI IN_KEY RULE
write_policy() {
  cat >"$1" <<YAML
version: 1
settings:
  default: {inbound: block, outbound: allow, forward: block}
zones:
  - {name: lab, interfaces: ["$2"]}
ipsec:
  - name: link
    local: $3
    remote: $4
    reqid: 243
    keying: manual
    manual:
      algorithm: rfc4106(gcm(aes))
      out: {spi: $5, key_file: $6}
      in: {spi: $7, key_file: $8}
rules:
  - {name: esp-in, direction: in, from: [$4], protocol: esp, action: allow}
  - {name: open-in, direction: in, from: [$4], protocol: tcp, ports: [$OPEN], action: allow}
  - $9
YAML
}
write_policy "$NP_TMP/a.yaml" "va-esp*" $A4 $B4 0x1001 "$KEYS/ab.key" 0x1002 "$KEYS/ba.key" \
  "{name: db-out, direction: out, to: [$B4], protocol: tcp, ports: [$PORT], action: protect, ipsec: link}"
write_policy "$NP_TMP/b.yaml" "vb-esp*" $B4 $A4 0x1002 "$KEYS/ba.key" 0x1001 "$KEYS/b/ab.key" \
  "{name: db-in, direction: in, from: [$A4], protocol: tcp, ports: [$PORT], action: protect, ipsec: link}"

# An administrator's SA in B on another SPI: never touched.
ip -n "$B" xfrm state add src 10.200.43.9 dst $B4 proto esp spi 0x4242 reqid 7 mode transport \
  aead 'rfc4106(gcm(aes))' 0x4444444444444444444444444444444400000004 128

step "netpolicyd in both namespaces"
start_daemon "$A" "$NP_TMP/a.yaml"
A_PID=$DAEMON_PID A_DIR=$DAEMON_DIR A_NOTIFY=$NOTIFY_LOG
wait_notify READY=1 1 120
start_daemon "$B" "$NP_TMP/b.yaml"
B_PID=$DAEMON_PID B_DIR=$DAEMON_DIR B_NOTIFY=$NOTIFY_LOG
wait_notify READY=1 1 120
use_a() { DAEMON_PID=$A_PID DAEMON_DIR=$A_DIR NOTIFY_LOG=$A_NOTIFY; }
use_b() { DAEMON_PID=$B_PID DAEMON_DIR=$B_DIR NOTIFY_LOG=$B_NOTIFY; }

states_a=$(ip -n "$A" xfrm state)
echo "$states_a"
[[ $states_a == *"src $A4 dst $B4"*"proto esp spi 0x00001001 reqid 243 mode transport"* &&
   $states_a == *"src $B4 dst $A4"*"proto esp spi 0x00001002 reqid 243 mode transport"* ]] ||
  fail "A's two manual SAs are not in the kernel as the profile says"
[[ $states_a == *"aead rfc4106(gcm(aes)) 0x$AB 128"* ]] || fail "A's out SA does not carry key ab"
[[ $(ip -n "$B" xfrm state) == *"spi 0x00001001"*"aead rfc4106(gcm(aes)) 0x$AB 128"* ]] ||
  fail "B's in SA does not carry key ab"
ok "both daemons installed their SAs with the keys of their key files"
for d in "$A_DIR" "$B_DIR"; do
  for k in "$AB" "$BA"; do
    if grep -q "$k" "$d/stderr"; then fail "netpolicyd's output shows a key"; fi
  done
done
ok "no key in either daemon's output"

listen_tcp "$B" $B4 $PORT
listen_tcp "$B" $B4 $OPEN

out_bytes() {  # NS SPI: the current byte count of that SA
  ip -n "$1" -s xfrm state | awk -v spi="$2" '
    $0 ~ "spi " spi { found = 1 }
    found && /lifetime current:/ { getline; sub(/\(bytes\).*/, ""); gsub(/[ \t]/, ""); print; exit }'
}

step "TCP over the protected flow, captured on the link"
capture=$NP_TMP/link.pcap
ip netns exec "$B" tcpdump -i vb-esp0 -nn -U -w "$capture" "host $A4 and host $B4" 2>"$NP_TMP/tcpdump.err" &
TCPDUMP=$!
NP_PIDS+=("$TCPDUMP")
nap 2
before_a=$(out_bytes "$A" 0x00001001) before_b=$(out_bytes "$B" 0x00001001)
tcp_connects "$A" $B4 $PORT || fail "TCP $A4 -> $B4:$PORT over ESP failed"
tcp_connects "$A" $B4 $PORT || fail "second TCP $A4 -> $B4:$PORT over ESP failed"
ok "TCP over the protected flow works"
after_a=$(out_bytes "$A" 0x00001001) after_b=$(out_bytes "$B" 0x00001001)
((after_a > before_a)) || fail "A's out SA byte counter did not grow ($before_a -> $after_a)"
((after_b > before_b)) || fail "B's in SA byte counter did not grow ($before_b -> $after_b)"
ok "SA byte counters grew: A out $before_a -> $after_a, B in $before_b -> $after_b"
tcp_connects "$A" $B4 $OPEN || fail "unprotected TCP to the allowed port $OPEN failed"
nap 1
kill "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true
text=$(tcpdump -r "$capture" -nn 2>/dev/null)
echo "$text" | head -n 12
esp=$(grep -c 'ESP(spi=0x0000100[12]' <<<"$text" || true)
clear=$(grep -c "\.${PORT}[: ]" <<<"$text" || true)
open=$(grep -c "\.${OPEN}[: ]" <<<"$text" || true)
((esp >= 10)) || fail "only $esp ESP packets on the link for two TCP connections"
((clear == 0)) || fail "$clear clear-text packets of port $PORT on the link"
((open > 0)) || fail "the capture saw none of the clear port-$OPEN connection (capture broken?)"
ok "the link carried port $PORT only as ESP ($esp packets; $open clear packets of port $OPEN)"

step "a wrong key on B's side breaks the flow"
umask 077; echo "$WRONG" >"$KEYS/b/ab.key"; umask 022
use_b
kill -HUP "$B_PID"
wait_notify READY=1 2 60
[[ $(ip -n "$B" xfrm state) == *"spi 0x00001001"*"0x$WRONG 128"* ]] || fail "B did not re-key its in SA"
# shellcheck disable=SC2016
errors_before=$(ip netns exec "$B" awk '$1 == "XfrmInStateProtoError" { print $2 }' /proc/net/xfrm_stat)
if tcp_connects "$A" $B4 $PORT; then fail "TCP passed with a wrong key on B's in SA"; fi
# shellcheck disable=SC2016
errors_after=$(ip netns exec "$B" awk '$1 == "XfrmInStateProtoError" { print $2 }' /proc/net/xfrm_stat)
((errors_after > errors_before)) || fail "XfrmInStateProtoError did not grow ($errors_before -> $errors_after)"
ok "a wrong key breaks it (XfrmInStateProtoError $errors_before -> $errors_after)"
umask 077; echo "$AB" >"$KEYS/b/ab.key"; umask 022
kill -HUP "$B_PID"
wait_notify READY=1 3 60
tcp_connects "$A" $B4 $PORT || fail "TCP did not recover with the right key reloaded"
ok "the right key, reloaded, mends it"
[[ $(ip -n "$B" xfrm state) == *"spi 0x00004242 reqid 7"* ]] || fail "the administrator's SA in B is gone"
ok "the administrator's SA in B survived two re-keys"

step "clear text from A to B's protected port is dropped"
use_a
stop_daemon TERM
ip -n "$A" xfrm policy flush
ip -n "$A" xfrm state flush
# The packets counted by B's db-in drop rule (the one after its ipsec accept).
drop_counter='[.nftables[] | .rule? | select(.comment == "db-in" and any(.expr[]; has("drop"))) | .expr[] | .counter? | select(.) | .packets] | add // 0'
drops_before=$(ip netns exec "$B" nft -j list chain inet "$NP_TABLE" in_lab | jq "$drop_counter")
if tcp_connects "$A" $B4 $PORT; then fail "clear-text TCP to B's protected port $PORT passed"; fi
drops_after=$(ip netns exec "$B" nft -j list chain inet "$NP_TABLE" in_lab | jq "$drop_counter")
tcp_connects "$A" $B4 $OPEN || fail "clear TCP to the allowed port $OPEN failed"
echo "db-in counters in B: $drops_before -> $drops_after"
((drops_after > drops_before)) || fail "B's db-in rules counted no clear-text packet"
ok "clear text to the protected port is dropped (B's db-in counters $drops_before -> $drops_after)"

use_b
stop_daemon TERM
((DAEMON_STATUS == 0)) || fail "netpolicyd in B exited with status $DAEMON_STATUS on SIGTERM"
states_b=$(ip -n "$B" xfrm state)
[[ $states_b == *"spi 0x00001001"* && $states_b == *"spi 0x00001002"* ]] || fail "B's SAs were removed on stop"
ok "B's SAs stay after stop"

step "a restart adopts its SAs (same triple and reqid) and changes nothing"
start_daemon "$B" "$NP_TMP/b.yaml"
wait_notify READY=1 1 120
[[ $(ip -n "$B" xfrm state) == "$states_b" ]] || fail "B's SAs changed across a restart with the same policy"
ok "B's SAs are the same after a restart"
stop_daemon TERM

step "an administrator's SA on a wanted SPI is refused, named and left alone"
sed -i 's/in: {spi: 0x1001,/in: {spi: 0x4242,/' "$NP_TMP/b.yaml"
start_daemon "$B" "$NP_TMP/b.yaml"
np_reap_daemon 60 "(a refused first policy ends the daemon)"
((DAEMON_STATUS == 1)) || fail "netpolicyd exited with $DAEMON_STATUS, not 1, on a clashing SPI"
event=$(daemon_events filter-add-failed)
echo "$event"
[[ $event == *"Refusing to replace xfrm state src 10.200.43.9 dst $B4 proto esp spi 0x00004242 (reqid 7): it is not netpolicyd's"*"File exists"* ]] ||
  fail "the refusal does not name the administrator's SA and EEXIST"
[[ $(ip -n "$B" xfrm state) == "$states_b" ]] || fail "B's SAs changed after the refused policy"
ok "the clash is refused (EEXIST) naming the administrator's SA; every SA is as before"
step "PASS: manual keying in kernel $(uname -r)"
