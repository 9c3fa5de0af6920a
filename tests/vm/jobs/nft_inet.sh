#!/bin/bash
# nftables of family inet works in this kernel (Debian's UML kernel has no
# inet/ip/ip6 families; the VM's has): `nft -f` loads an inet table in a
# namespace, with the IPsec matches netpolicyd's protect rules use
# (`meta ipsec`, `ipsec in reqid`), and its rules act on real IPv4 and IPv6
# packets: a dropped port is unreachable and counted, another passes.
source "$(dirname "$0")/../job-lib.sh"

new_netns a; A=$REPLY
new_netns b; B=$REPLY
link_netns "$A" va-nft "$B" vb-nft 41
B4=10.200.41.2 B6=fd00:200:41::2

step "nft -f an inet table in $B"
cat >"$NP_TMP/table.nft" <<'NFT'
table inet np_vm_probe {
  chain input {
    type filter hook input priority filter; policy accept;
    meta ipsec exists ipsec in reqid 100 accept
    tcp dport 7001 counter drop comment "dropped-port"
  }
}
NFT
ip netns exec "$B" nft -f "$NP_TMP/table.nft" || fail "nft -f of an inet table failed"
listing=$(ip netns exec "$B" nft list table inet np_vm_probe)
echo "$listing"
[[ $listing == *"ipsec in reqid 100"* ]] || fail "the ipsec match did not survive the round trip"
[[ $listing == *'tcp dport 7001 counter packets 0 bytes 0 drop comment "dropped-port"'* ]] ||
  fail "the drop rule is not listed as loaded"

listen_tcp "$B" $B4 7000
listen_tcp "$B" $B4 7001
listen_tcp "$B" $B6 7001
tcp_connects "$A" $B4 7000 || fail "TCP to an accepted port ($B4:7000) failed"
ok "IPv4 to port 7000 passes"
if tcp_connects "$A" $B4 7001; then fail "TCP to $B4:7001 passed the drop rule"; fi
if tcp_connects "$A" $B6 7001; then fail "TCP to [$B6]:7001 passed the drop rule"; fi
ok "IPv4 and IPv6 to port 7001 are dropped"
counter=$(ip netns exec "$B" nft list table inet np_vm_probe | grep -o 'dport 7001 counter packets [0-9]*')
[[ ${counter##* } -ge 2 ]] || fail "the drop rule counted ${counter##* } packets, expected SYNs of both families"
ok "the drop rule counted ${counter##* } packets"
step "PASS: nftables inet in kernel $(uname -r)"
