#!/usr/bin/env bash
# netpolicyctl rules: each rule in force with its source (central from a
# path source, the main file, drop-ins), zones, action and the kernel's
# counters. Real traffic hits an allow rule and a block rule of the local
# policy and a central block rule; an untouched rule stays at zero; a rule
# that compiles to nothing says so. The counters agree with what
# `nft -j list table` shows for the same comments (two readers agreeing).
source "$(dirname "$0")/lib.sh"

new_netns host; HOST=$REPLY
new_netns peer; PEER=$REPLY     # on vh-lab0, zone lab
link_netns "$HOST" vh-lab0 "$PEER" vp-lab0 1
H4=10.200.1.1 P4=10.200.1.2

ETC=$NP_TMP/etc
mkdir -p "$ETC/policy.d" "$NP_TMP/central"
chmod 0755 "$ETC" "$ETC/policy.d" "$NP_TMP/central"
CONFIG=$ETC/policy.yaml
CENTRAL=$NP_TMP/central/policy.yaml
cat >"$CONFIG" <<EOF
version: 1
sources:
  central: {path: "$CENTRAL", interval: 300s}
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
  - {name: wan, interfaces: ["vh-wan*"]}
rules:
  - {name: ping-in, direction: in, zones: [lab], protocol: icmp, action: allow}
  - {name: ssh-wan, direction: in, zones: [wan], protocol: tcp, ports: [22], action: allow}
EOF
cat >"$ETC/policy.d/10-web.yaml" <<'EOF'
version: 1
rules:
  - {name: web-in, direction: in, protocol: tcp, ports: [8080], action: allow}
EOF
cat >"$ETC/policy.d/20-db.yaml" <<'EOF'
version: 1
rules:
  - {name: db-block, direction: in, zones: [lab], protocol: tcp, ports: [5432], action: block}
EOF
cat >"$CENTRAL" <<'EOF'
version: 1
rules:
  - {name: corp-smtp-block, direction: out, protocol: tcp, ports: [25], action: block}
EOF
chmod 0644 "$CONFIG" "$ETC"/policy.d/*.yaml "$CENTRAL"

ctl() { ip netns exec "$HOST" "$NP_CTL" --runtime-dir "$NP_TMP/$HOST/run" "$@"; }

listen "$HOST" "$H4" 8080
listen "$HOST" "$H4" 5432
listen "$PEER" "$P4" 25

start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
assert_table_exists "$HOST"

np_note "before any traffic every policy rule is at zero"
json=$(ctl rules --json)
assert_eq "sum of all policy rules' packets before traffic" 0 \
  "$(jq '[.rules[].packets] | add' <<<"$json")"

np_note "traffic: ping and TCP 8080 allowed, TCP 5432 in and TCP 25 out blocked"
expect_ping_ok "$PEER" "$H4"
expect_tcp_ok "$PEER" "$H4" 8080
expect_tcp_blocked "$PEER" "$H4" 5432
expect_tcp_blocked "$HOST" "$P4" 25

# Two readers: the kernel's counters per comment through nft(8), before and
# after netpolicyctl's read. No traffic hits the policy rules in between
# (the test sends none), so both nft reads must agree and equal ours.
nft_json() { ip netns exec "$HOST" nft -j list table inet netpolicy; }
# nft_sum JSON COMMENT FIELD: FIELD (packets|bytes) summed over the counters
# of the rules with that comment.
nft_sum() {
  jq --arg c "$2" --arg f "$3" \
    '[.nftables[] | .rule? // empty | select(.comment == $c) | .expr[] | .counter? // empty
      | .[$f]] | add // 0' <<<"$1"
}
# nft_handles JSON COMMENT: "chain:handle" of those rules, sorted.
nft_handles() {
  jq -r --arg c "$2" '.nftables[] | .rule? // empty | select(.comment == $c)
    | "\(.chain):\(.handle)"' <<<"$1" | sort | paste -sd ' '
}
before=$(nft_json)
json=$(ctl rules --json)
after=$(nft_json)

# rule NAME FIELD: a field of one rule of netpolicyctl's answer.
rule() { jq -c --arg n "$1" ".rules[] | select(.name == \$n) | .$2" <<<"$json"; }
packets() { rule "$1" packets; }

np_note "what each rule is and where it came from"
assert_eq "rule order (central first, then the main file, then drop-ins)" \
  "corp-smtp-block ping-in ssh-wan web-in db-block" "$(jq -r '[.rules[].name] | join(" ")' <<<"$json")"
assert_eq "corp-smtp-block source" '"central"' "$(rule corp-smtp-block source)"
assert_eq "corp-smtp-block file" "\"$CENTRAL\"" "$(rule corp-smtp-block file)"
assert_eq "ping-in source" '"local"' "$(rule ping-in source)"
assert_eq "ping-in file:line" "\"$CONFIG\":8" "$(rule ping-in file):$(rule ping-in line)"
assert_eq "web-in file" "\"$ETC/policy.d/10-web.yaml\"" "$(rule web-in file)"
assert_eq "db-block file:line" "\"$ETC/policy.d/20-db.yaml\":3" \
  "$(rule db-block file):$(rule db-block line)"
assert_eq "ping-in zones" '["lab"]' "$(rule ping-in zones)"
assert_eq "web-in zones (names none: every zone)" '["lab","wan"]true' \
  "$(rule web-in zones)$(rule web-in every_zone)"
assert_eq "db-block action/direction" '"block""in"' "$(rule db-block action)$(rule db-block direction)"
assert_eq "corp-smtp-block action/direction" '"block""out"' \
  "$(rule corp-smtp-block action)$(rule corp-smtp-block direction)"
assert_eq "policy source" '"central"' "$(jq -c .policy.source <<<"$json")"

np_note "counters: packets on exactly the rules the traffic hit"
for name in ping-in web-in db-block corp-smtp-block; do
  p=$(packets "$name")
  [[ $p =~ ^[0-9]+$ && $p -gt 0 ]] || fail "$name: expected packets > 0, saw '$p'"
  ok "$name: $p packets, $(rule "$name" bytes) bytes"
done
assert_eq "ssh-wan (untouched) packets" 0 "$(packets ssh-wan)"
assert_eq "ssh-wan (untouched) bytes" 0 "$(rule ssh-wan bytes)"
assert_eq "ssh-wan note (it has its nft rule)" null "$(rule ssh-wan note)"
# Conntrack accepts the rest of an allowed connection before the zone
# chains: web-in counts the SYN of each connection (np_retry may make
# more than one), never the data.
p=$(packets web-in)
((p >= 1 && p <= 3)) || fail "web-in: expected 1-3 packets (one SYN per connection), saw $p"
ok "web-in counts new connections only: $p"

np_note "two readers agree: netpolicyctl's counters = nft -j list table"
for name in corp-smtp-block ping-in ssh-wan web-in db-block; do
  for field in packets bytes; do
    b=$(nft_sum "$before" "$name" "$field") a=$(nft_sum "$after" "$name" "$field")
    assert_eq "nft's $field of '$name' before and after netpolicyctl's read" "$b" "$a"
    assert_eq "netpolicyctl's $field of '$name' = nft's" "$b" "$(rule "$name" "$field")"
  done
  assert_eq "nft rules (chain:handle) carrying '$name'" "$(nft_handles "$before" "$name")" \
    "$(jq -r --arg n "$name" '.rules[] | select(.name == $n) | .nft_rules[]
        | "\(.chain):\(.handle)"' <<<"$json" | sort | paste -sd ' ')"
done
assert_eq "web-in's nft rules: one per zone chain" "in_lab in_wan" \
  "$(jq -r '.rules[] | select(.name == "web-in") | [.nft_rules[].chain] | join(" ")' <<<"$json")"
assert_eq "corp-smtp-block's nft rules: one per zone's out chain" "out_lab out_wan" \
  "$(jq -r '.rules[] | select(.name == "corp-smtp-block") | [.nft_rules[].chain] | join(" ")' <<<"$json")"

np_note "built-ins"
# builtin NAME FILTER: jq FILTER applied to one built-in of the answer.
builtin() { jq -c --arg n "$1" ".builtin[] | select(.name == \$n) | $2" <<<"$json"; }
assert_eq "ct-invalid: one drop per base chain" '["forward","input","output"]' \
  "$(builtin ct-invalid '[.nft_rules[].chain] | sort')"
assert_eq "default-inbound: block, in every zone's in chain" '"block"["in_lab","in_wan"]' \
  "$(builtin default-inbound .action)$(builtin default-inbound '[.nft_rules[].chain]')"
# Between the two nft reads only background packets (IPv6 MLD/ND) can move
# the defaults: ours lies between them.
for name in default-inbound default-outbound; do
  comment=${name/-/ }
  b=$(nft_sum "$before" "$comment" packets) a=$(nft_sum "$after" "$comment" packets)
  ours=$(builtin "$name" .packets)
  ((b <= ours && ours <= a)) || fail "$name: netpolicyctl says $ours packets, nft said $b then $a"
  ok "$name: $b <= $ours <= $a"
done
assert_eq "unknown-interfaces: a chain policy, not counted" 'falsenull' \
  "$(builtin unknown-interfaces .counted)$(builtin unknown-interfaces .packets)"

np_note "the human table"
text=$(ctl rules)
assert_match "db-block row" "db-block +local policy.d/20-db.yaml:3 +in +lab +block +[1-9][0-9]* +[1-9]" \
  "$text"
assert_match "ssh-wan row" "ssh-wan +local policy.yaml:9 +in +wan +allow +0 +0" "$text"
assert_match "corp-smtp-block row" "corp-smtp-block +central $CENTRAL:3 +out +all +block" "$text"
assert_match "ct-invalid row" "ct-invalid +block +[0-9]+ +[0-9]+ +ct state invalid" "$text"
assert_match "unknown-interfaces row" "unknown-interfaces +block +- +- +settings.unknown_interfaces" "$text"

np_note "log_blocked: a block rule's zone-chain rules jump to drop_<rule>, which counts"
cat >"$CONFIG" <<'EOF'
version: 1
settings: {log_blocked: true}
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
  - {name: wan, interfaces: ["vh-wan*"]}
rules:
  - {name: db-block, direction: in, protocol: tcp, ports: [5432], action: block}
EOF
rm "$ETC"/policy.d/*.yaml
status=0; out=$(ctl reload 2>&1) || status=$?
assert_eq "reload to a logged block rule: exit status ($out)" 0 "$status"
expect_tcp_blocked "$PEER" "$H4" 5432
before=$(nft_json)
json=$(ctl rules --json)
p=$(packets db-block)
[[ $p =~ ^[0-9]+$ && $p -gt 0 ]] || fail "db-block (logged): expected packets > 0, saw '$p'"
assert_eq "db-block (logged) packets = nft's" "$(nft_sum "$before" db-block packets)" "$p"
assert_eq "db-block (logged): a jump per zone chain, then its chain's log and drop" \
  "drop_db-block drop_db-block in_lab in_wan" \
  "$(jq -r '.rules[] | select(.name == "db-block") | [.nft_rules[].chain] | sort | join(" ")' \
    <<<"$json")"
assert_eq "db-block (logged): only the drop in drop_db-block counts" "drop" \
  "$(jq -r '.rules[] | select(.name == "db-block") | .nft_rules[] | select(.packets > 0)
    | .verdict' <<<"$json" | sort -u | paste -sd ' ')"

np_note "a rule with no nft rule shows zero and says so"
# Without zones there is no zone chain to hold any rule.
cat >"$CONFIG" <<'EOF'
version: 1
rules:
  - {name: lonely, direction: in, protocol: tcp, ports: [22], action: allow}
EOF
status=0; out=$(ctl reload 2>&1) || status=$?
assert_eq "reload to a policy without zones: exit status ($out)" 0 "$status"
json=$(ctl rules --json)
assert_eq "lonely: packets, compiled, nft rules" '0,0,[]' \
  "$(rule lonely packets),$(rule lonely compiled),$(rule lonely nft_rules)"
assert_match "lonely: note" "no nft rule: the policy has no zones" "$(rule lonely note)"
assert_match "human table says it too" "Note: lonely: no nft rule" "$(ctl rules)"

if grep -q '^netpolicyd: rules:' "$DAEMON_DIR/stderr"; then
  fail "netpolicyd logged a readback failure: $(cat "$DAEMON_DIR/stderr")"
fi
ok "netpolicyd logged no readback failure"
