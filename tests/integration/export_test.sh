#!/usr/bin/env bash
# Two implementations agreeing: `netpolicyctl export` (nft text) loaded
# with `nft -f` into a fresh namespace gives the same `nft -s list table`
# as netpolicyd applying the same policy (main file + a drop-in) through
# libnftnl in a namespace with the same interfaces. Only the table's
# header line differs (the daemon's table is owned: "# progname
# netpolicyd", "flags owner") and is normalised.
source "$(dirname "$0")/lib.sh"

new_netns daemon; DNS=$REPLY
new_netns nft; NNS=$REPLY
new_netns peer; PEER=$REPLY
new_netns peer2; PEER2=$REPLY
# Same interface names and addresses in both namespaces.
link_netns "$DNS" vh-lab0 "$PEER" vp-lab0 1
link_netns "$NNS" vh-lab0 "$PEER2" vp-lab0 1

mkdir -p "$NP_TMP/etc/policy.d"
CONFIG=$NP_TMP/etc/policy.yaml
cat >"$CONFIG" <<'EOF'
version: 1
settings: {log_blocked: true}
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
addresses:
  admins: [10.200.1.0/24, "fd00:200:1::/64"]
rules:
  - {name: ssh-admins, direction: in, zones: [lab], from: [admins], protocol: tcp, ports: [22, "8000-8100"], action: allow}
  - {name: dns-out, direction: out, protocol: udp, ports: [53], action: allow}
EOF
cat >"$NP_TMP/etc/policy.d/50-web.yaml" <<'EOF'
version: 1
rules:
  - {name: web-in, direction: in, zones: [lab], protocol: tcp, ports: [80, 443], action: allow}
  - {name: block-one, direction: in, from: [10.200.1.99], action: block}
EOF

ip netns exec "$NNS" "$NP_CTL" export "$CONFIG" >"$NP_TMP/export.nft"
assert_contains "export has the drop-in's rule" 'comment "web-in"' "$(cat "$NP_TMP/export.nft")"
ip netns exec "$NNS" nft -f "$NP_TMP/export.nft"

start_daemon "$DNS" "$CONFIG"
wait_notify READY=1

# normalise: the header line and the owner flag (and the blank line after it)
# the daemon's table carries.
normalise() { sed -E '1s/ # progname .*$//; /^\tflags owner$/{N;d}'; }
assert_same_text "nft -s list table: netpolicyd vs nft -f of the export" \
  "$(nft_table "$NNS" | normalise)" "$(nft_table "$DNS" | normalise)"
