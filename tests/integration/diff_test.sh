#!/usr/bin/env bash
# netpolicyctl diff FILE: nothing to show for the policy in force ("no
# change", exit 0); for a changed policy exactly the change, object by
# object; the kernel is not touched.
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
  admins: [10.200.1.0/24]
rules:
  - {name: ssh, direction: in, zones: [lab], from: [admins], protocol: tcp, ports: [22], action: allow}
  - {name: web, direction: in, zones: [lab], protocol: tcp, ports: [80, 443], action: allow}
EOF
ctl() { ip netns exec "$HOST" "$NP_CTL" --runtime-dir "$NP_TMP/$HOST/run" "$@"; }

start_daemon "$HOST" "$CONFIG"
wait_notify READY=1

status=0; out=$(ctl diff "$CONFIG" 2>&1) || status=$?
assert_eq "diff of the policy in force: exit status" 0 "$status"
assert_eq "diff of the policy in force" "no change" "$out"

# The change: admins gains a prefix, ssh moves to port 2222, web loses 80,
# a new rule dns-out.
NEW=$NP_TMP/new.yaml
cat >"$NEW" <<'EOF'
version: 1
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
addresses:
  admins: [10.200.1.0/24, 10.200.9.0/24]
rules:
  - {name: ssh, direction: in, zones: [lab], from: [admins], protocol: tcp, ports: [2222], action: allow}
  - {name: web, direction: in, zones: [lab], protocol: tcp, ports: [443], action: allow}
  - {name: dns-out, direction: out, zones: [lab], protocol: udp, ports: [53], action: allow}
EOF
before=$(nft_table "$HOST")
status=0; out=$(ctl diff "$NEW" 2>&1) || status=$?
assert_eq "diff of a changed policy: exit status" 0 "$status"
# web's two ports were a set; one port is written inline, so the set goes.
expected=$(cat <<'EOF'
~ set g4_admins: + element 10.200.9.0/24
- set r_web_ports
~ chain in_lab: rule 'ssh': ip saddr @g4_admins meta l4proto tcp tcp dport 22 counter accept comment "ssh" -> ip saddr @g4_admins meta l4proto tcp tcp dport 2222 counter accept comment "ssh"
~ chain in_lab: rule 'web': meta l4proto tcp tcp dport @r_web_ports counter accept comment "web" -> meta l4proto tcp tcp dport 443 counter accept comment "web"
~ chain out_lab: + rule meta l4proto udp udp dport 53 counter accept comment "dns-out"
EOF
)
assert_same_text "diff of a changed policy" "$expected" "$out"
assert_same_text "the kernel after diff" "$before" "$(nft_table "$HOST")"

# XFRM too: a protect rule adds two XFRM policies (out, and in for the
# replies); the nft lines come first, then the XFRM ones, and neither the
# table nor the XFRM policies change.
PROTECT=$NP_TMP/protect.yaml
cp "$CONFIG" "$PROTECT"
cat >>"$PROTECT" <<'EOF'
  - {name: db, direction: out, zones: [lab], to: [10.200.1.2], protocol: tcp, ports: [5432], action: protect, ipsec: db-link}
ipsec:
  - {name: db-link, reqid: 100}
EOF
xfrm_before=$(ip -n "$HOST" xfrm policy list)
status=0; out=$(ctl diff "$PROTECT" 2>&1) || status=$?
assert_eq "diff adding a protect rule: exit status" 0 "$status"
expected_xfrm=$(cat <<'EOF'
+ xfrm policy dir in src 10.200.1.2/32 dst 0.0.0.0/0 proto tcp sport 5432
+ xfrm policy dir out src 0.0.0.0/0 dst 10.200.1.2/32 proto tcp dport 5432
EOF
)
assert_same_text "diff adding a protect rule: the XFRM lines" "$expected_xfrm" \
  "$(grep 'xfrm' <<<"$out")"
assert_match "diff adding a protect rule: nft first" '^~ chain out_lab: \+ rule .*comment "db"' \
  "$(head -n 1 <<<"$out")"
assert_same_text "the kernel's XFRM policies after diff" "$xfrm_before" \
  "$(ip -n "$HOST" xfrm policy list)"
assert_same_text "the table after the second diff" "$before" "$(nft_table "$HOST")"
