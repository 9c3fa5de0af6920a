#!/bin/bash
# Interop with a real IKE daemon (issue #4): two namespaces, each running
# netpolicyd, which owns the XFRM policies of a protect rule (profile
# `keying: ike`, reqid 100), and its own strongSwan charon (charon-systemd,
# configured through swanctl/vici) in a private mount namespace whose
# /etc/swanctl, /etc/strongswan.conf and /run are this test's. charon's
# CHILD_SA has `policies = no`, a fixed reqid 100 and `start_action = trap`:
# it installs no policy of its own, and negotiates when the kernel raises an
# ACQUIRE for netpolicyd's policies. Checks:
#   - TCP over the protected flow works, data intact;
#   - charon installed SAs with reqid 100 on both sides, their byte counters
#     grow by at least the payload;
#   - a capture on the link shows only ESP (and IKE) between the two
#     addresses, no clear-text TCP;
#   - netpolicyd's XFRM policies are byte for byte what they were before
#     charon started (same index and add time: not replaced), and charon
#     added none to the policy database (its per-socket bypass policies
#     aside);
#   - ipsec-sa-missing (5492) does not fire for reqid 100 once the SA
#     exists, while it does fire for a second protected flow (reqid 101)
#     that no IKE daemon negotiates: the watcher was alive all along.
source "$(dirname "$0")/../job-lib.sh"
require_daemon
for tool in charon-systemd swanctl tcpdump; do
  command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] ||
    fail "$tool missing (scripts/setup installs charon-systemd, strongswan-swanctl, tcpdump)"
done
[[ -d /etc/swanctl ]] || fail "/etc/swanctl missing (package strongswan-swanctl)"
PATH=$PATH:/usr/sbin

new_netns a; A=$REPLY
new_netns b; B=$REPLY
link_netns "$A" vs-a "$B" vs-b 31
A4=10.200.31.1 B4=10.200.31.2
SA_MISSING_AFTER=5
payload=262144

# write_policy PEER: the same policy on both sides, naming the other end.
write_policy() {
  cat <<YAML
version: 1
settings:
  default: {inbound: block, outbound: allow, forward: block}
  sa_missing_after: $SA_MISSING_AFTER
zones:
  - {name: link, interfaces: ["vs-*"]}
ipsec:
  - {name: ike-link, reqid: 100, keying: ike}
  - {name: unnegotiated, reqid: 101, keying: ike}
rules:
  - {name: ike, direction: in, from: [$1], protocol: udp, ports: [500, 4500], action: allow}
  - {name: esp, direction: in, from: [$1], protocol: esp, action: allow}
  - {name: db-out, direction: out, to: [$1], protocol: tcp, ports: [5001, 5002], action: protect, ipsec: ike-link}
  - {name: db-in, direction: in, from: [$1], protocol: tcp, ports: [5001, 5002], action: protect, ipsec: ike-link}
  - {name: orphan-out, direction: out, to: [$1], protocol: tcp, ports: [5009], action: protect, ipsec: unnegotiated}
YAML
}

# our_policies NS: the namespace's XFRM policy database as `ip -s xfrm
# policy` prints it (index and add time included: a replaced policy
# differs), without use counters and times, and without per-socket policies.
our_policies() {
  ip -n "$1" -s xfrm policy | awk '
    /^[^ \t]/ { if (block != "" && !sock) printf "%s", block; block = ""; sock = 0 }
    /^[ \t]+[0-9]+\(bytes\), / { next }
    /^[ \t]+add .* use / { sub(/ use .*/, "") }
    /^[ \t]+socket (in|out|fwd) / { sock = 1 }
    { block = block $0 "\n" }
    END { if (block != "" && !sock) printf "%s", block }'
}

step "netpolicyd in both namespaces"
write_policy $B4 >"$NP_TMP/policy-a.yaml"
write_policy $A4 >"$NP_TMP/policy-b.yaml"
start_netpolicyd "$A" "$NP_TMP/policy-a.yaml"
DAEMON_A=$DAEMON_PID DIR_A=$DAEMON_DIR
start_netpolicyd "$B" "$NP_TMP/policy-b.yaml"
DAEMON_B=$DAEMON_PID DIR_B=$DAEMON_DIR
wait_daemon_event service-started
DAEMON_PID=$DAEMON_A DAEMON_DIR=$DIR_A
wait_daemon_event service-started
policies_a=$(our_policies "$A") policies_b=$(our_policies "$B")
[[ $policies_a == *"dst $B4/32 proto tcp dport 5001 "*"proto esp spi 0x00000000(0) reqid 100(0x00000064) mode transport"* ]] ||
  fail "netpolicyd's XFRM policy for $B4:5001 is missing in $A:
$policies_a"
ok "netpolicyd installed its XFRM policies ($(grep -c '^src' <<<"$policies_a") in $A, $(grep -c '^src' <<<"$policies_b") in $B)"

# start_charon NS ID PEER_ID LOCAL PEER: charon-systemd in NS, with this
# test's configuration bound over /etc/swanctl, /etc/strongswan.conf and
# /run in a private mount namespace; loads the connection through vici.
psk=$(od -An -tx1 -N 24 /dev/urandom | tr -d ' \n')
start_charon() {
  local ns=$1 id=$2 peer_id=$3 local=$4 peer=$5 dir=$NP_TMP/charon-$2
  mkdir -p "$dir/run" "$dir/swanctl"
  cat >"$dir/strongswan.conf" <<CONF
charon-systemd {
  load_modular = no
  load = random nonce aes sha1 sha2 hmac gmp kdf kernel-netlink socket-default vici
  install_routes = no
  install_virtual_ip = no
  filelog {
    test {
      path = /run/charon.log
      default = 1
      ike = 2
      knl = 2
      cfg = 2
      flush_line = yes
      time_format = %T
    }
  }
  plugins {
    vici {
      socket = unix:///run/charon.vici
    }
  }
}
CONF
  cat >"$dir/swanctl/swanctl.conf" <<CONF
connections {
  np {
    version = 2
    local_addrs = $local
    remote_addrs = $peer
    proposals = aes128-sha256-modp2048
    local {
      auth = psk
      id = $id
    }
    remote {
      auth = psk
      id = $peer_id
    }
    children {
      np {
        mode = transport
        policies = no
        reqid = 100
        esp_proposals = aes128gcm16
        start_action = trap
      }
    }
  }
}
secrets {
  ike-np {
    id-a = a.np.test
    id-b = b.np.test
    secret = 0x$psk
  }
}
CONF
  # unshare makes the mount namespace; ip netns exec the network one.
  # shellcheck disable=SC2016 # $1 is the inner shell's
  ip netns exec "$ns" unshare --mount --propagation private sh -c '
    mount --bind "$1/run" /run &&
    mount --bind "$1/swanctl" /etc/swanctl &&
    mount --bind "$1/strongswan.conf" /etc/strongswan.conf &&
    exec charon-systemd' charon "$dir" >"$dir/stdout" 2>&1 &
  NP_PIDS+=($!)
  local i
  for ((i = 0; i < 300; i++)); do
    [[ -S $dir/run/charon.vici ]] && break
    nap 0.1
  done
  [[ -S $dir/run/charon.vici ]] || fail "charon in $ns did not open its vici socket:
$(cat "$dir/stdout" "$dir/run/charon.log" 2>/dev/null | tail -n 20)"
  swanctl --load-all --noprompt --uri "unix://$dir/run/charon.vici" --file "$dir/swanctl/swanctl.conf" \
    >"$dir/swanctl.out" 2>&1 || fail "swanctl --load-all failed in $ns: $(cat "$dir/swanctl.out")"
}

step "charon in both namespaces (policies = no, reqid 100, start_action = trap)"
start_charon "$A" a.np.test b.np.test $A4 $B4
start_charon "$B" b.np.test a.np.test $B4 $A4
grep -h "^loaded connection" "$NP_TMP"/charon-*/swanctl.out
[[ $(our_policies "$A") == "$policies_a" && $(our_policies "$B") == "$policies_b" ]] ||
  fail "loading the trap changed the XFRM policies"
ok "charon's trap installed no XFRM policy"

step "capture on $B's link, traffic over the protected flow"
ip netns exec "$B" tcpdump -i vs-b -n -l "ip host $A4 and ip host $B4" \
  >"$NP_TMP/capture.txt" 2>"$NP_TMP/tcpdump.err" &
tcpdump_pid=$!
NP_PIDS+=("$tcpdump_pid")
for ((i = 0; i < 300; i++)); do
  [[ -s $NP_TMP/tcpdump.err ]] && break
  nap 0.1
done
[[ -s $NP_TMP/tcpdump.err ]] || fail "tcpdump did not start"

np_on_failure() {
  local c
  for c in "$NP_TMP"/charon-*; do
    echo "--- charon log $c:"
    tail -n 40 "$c/run/charon.log"
  done
}
listen_tcp "$B" $B4 5001
# The first SYN meets no SA: the kernel drops it and raises the ACQUIRE that
# makes charon negotiate; TCP's retransmissions of the SYN (1 s, 3 s, 7 s,
# ...) then pass over the new SA.
step "first connection"
banner=$(timeout 90 ip netns exec "$A" socat -T10 -u "TCP4:$B4:5001,connect-timeout=60" STDOUT 2>"$NP_TMP/connect.err") || true
[[ $banner == "$NP_BANNER" ]] || fail "TCP to $B4:5001 did not get through: $(cat "$NP_TMP/connect.err")"
step "TCP to $B4:5001 over the protected flow"

# sa_count NS: SAs with reqid 100.
sa_count() { ip -n "$1" xfrm state | grep -c "reqid 100 " || true; }
for ns in "$A" "$B"; do
  n=$(sa_count "$ns")
  ((n >= 2)) || fail "expected an inbound and an outbound SA with reqid 100 in $ns, found $n:
$(ip -n "$ns" xfrm state)"
done
ok "charon installed SAs with reqid 100 on both sides"
missing_at_sa_a=$(daemon_events ipsec-sa-missing "$DIR_A" | grep -c "(reqid 100)" || true)
missing_at_sa_b=$(daemon_events ipsec-sa-missing "$DIR_B" | grep -c "(reqid 100)" || true)
grep -hE "ACQUIRE|acquire job|CHILD_SA np\{[0-9]+\} established" "$NP_TMP"/charon-*/run/charon.log || true

# sa_bytes NS SRC DST: the byte counter of the SA with reqid 100 from SRC to DST.
sa_bytes() {
  ip -n "$1" -s xfrm state | awk -v src="$2" -v dst="$3" '
    /^src / { match_sa = ($2 == src && $4 == dst) }
    match_sa && /reqid 100[ (]/ { found = 1 }
    found && match_sa && /^[ \t]+[0-9]+\(bytes\), / { sub(/\(bytes\),.*/, ""); gsub(/[ \t]/, ""); print; exit }'
}
out_before=$(sa_bytes "$A" $A4 $B4) in_before=$(sa_bytes "$B" $A4 $B4)
[[ -n $out_before && -n $in_before ]] || fail "no byte counters for the SA $A4 -> $B4:
$(ip -n "$A" -s xfrm state)"

head -c "$payload" /dev/urandom >"$NP_TMP/payload"
ip netns exec "$B" socat -u "TCP4-LISTEN:5002,bind=$B4,reuseaddr" "CREATE:$NP_TMP/received" &
receiver=$!
NP_PIDS+=("$receiver")
for ((i = 0; i < 100; i++)); do
  [[ -n $(ip netns exec "$B" ss -Htln "sport = :5002") ]] && break
  nap 0.1
done
ip netns exec "$A" timeout 120 socat -u "FILE:$NP_TMP/payload" "TCP4:$B4:5002,connect-timeout=10" ||
  fail "the ${payload}-byte transfer to $B4:5002 failed"
wait "$receiver" || fail "the receiver on $B4:5002 failed"
cmp -s "$NP_TMP/payload" "$NP_TMP/received" || fail "the transfer arrived damaged"
ok "${payload}-byte transfer to $B4:5002 arrived intact"
out_after=$(sa_bytes "$A" $A4 $B4) in_after=$(sa_bytes "$B" $A4 $B4)
echo "SA $A4 -> $B4 bytes: sender $out_before -> $out_after, receiver $in_before -> $in_after"
((out_after - out_before >= payload)) || fail "the sender's SA counted $((out_after - out_before)) bytes for a ${payload}-byte payload"
((in_after - in_before >= payload)) || fail "the receiver's SA counted $((in_after - in_before)) bytes for a ${payload}-byte payload"
ok "SA byte counters grew by at least the payload on both sides"

step "control: a protected flow no IKE daemon negotiates (reqid 101)"
listen_tcp "$B" $B4 5009
if tcp_connects "$A" $B4 5009; then fail "TCP to $B4:5009 passed without an SA"; fi
for ((i = 0; i < (SA_MISSING_AFTER + 10) * 10; i++)); do
  daemon_events ipsec-sa-missing "$DIR_A" | grep -q "(reqid 101)" && break
  nap 0.1
done
daemon_events ipsec-sa-missing "$DIR_A" | grep "(reqid 101)" ||
  fail "no ipsec-sa-missing (5492) for the unnegotiated reqid 101 within $((SA_MISSING_AFTER + 10)) s; stderr:
$(tail -n 20 "$DIR_A/stderr")"
ok "5492 fired for reqid 101, which no IKE daemon negotiates"
# More than sa_missing_after has passed since the SA appeared: a 5492 for
# reqid 100 would have been reported by now.
missing_a=$(daemon_events ipsec-sa-missing "$DIR_A" | grep -c "(reqid 100)" || true)
missing_b=$(daemon_events ipsec-sa-missing "$DIR_B" | grep -c "(reqid 100)" || true)
((missing_a == missing_at_sa_a && missing_b == missing_at_sa_b)) ||
  fail "ipsec-sa-missing fired for reqid 100 after its SA existed: $(daemon_events ipsec-sa-missing "$DIR_A")"
ok "no 5492 for reqid 100 once its SA existed (before it: $missing_at_sa_a in $A, $missing_at_sa_b in $B)"

nap 0.3
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true
esp=0 ike=0 clear=()
while IFS= read -r packet; do
  case $packet in
    "") ;;
    *" ESP(spi="*) esp=$((esp + 1)) ;;
    *".500 > "*|*".4500 > "*) ike=$((ike + 1)) ;;
    *) clear+=("$packet") ;;
  esac
done <"$NP_TMP/capture.txt"
echo "capture on vs-b: $esp ESP, $ike IKE, ${#clear[@]} other packets between $A4 and $B4"
((${#clear[@]} == 0)) || fail "clear text on the link: $(printf '%s\n' "${clear[@]:0:5}")"
((esp >= 100)) || fail "only $esp ESP packets for a ${payload}-byte transfer"
((ike >= 4)) || fail "only $ike IKE packets: was the SA negotiated on this link?"
ok "the link carried only ESP and IKE"

[[ $(our_policies "$A") == "$policies_a" ]] || fail "netpolicyd's XFRM policies in $A changed:
$(diff <(echo "$policies_a") <(our_policies "$A") || true)"
[[ $(our_policies "$B") == "$policies_b" ]] || fail "netpolicyd's XFRM policies in $B changed:
$(diff <(echo "$policies_b") <(our_policies "$B") || true)"
ok "XFRM policies unchanged by charon in both namespaces (index and add time included)"
if ! np_alive "$DAEMON_A" || ! np_alive "$DAEMON_B"; then fail "a netpolicyd exited during the test"; fi
step "PASS: strongSwan negotiated SAs for netpolicyd's policies in kernel $(uname -r)"
