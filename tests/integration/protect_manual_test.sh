#!/usr/bin/env bash
# keying: manual on this kernel, which has XFRM but no ESP: the kernel
# refuses every SA, so a policy with a manual profile must be refused fail
# closed — the failure event (filter-add-failed, 5477) names the SA and the
# errno, and the nft table, the XFRM policies and the SAs in the namespace
# are exactly as before, whether nothing was in force (start-up) or a good
# policy was (reload). Also: `netpolicyd --check` refuses key files with
# unsafe modes at their file:line:col, and neither --check nor
# `netpolicyctl export` shows key bytes. (ESP itself: tests/vm jobs.)
# Measured on 6.18 without ESP: an rfc4106(gcm(aes)) SA is refused with
# ENOSYS ("Requested AEAD algorithm not found"), cbc(aes)+hmac(sha256) with
# EPROTONOSUPPORT ("Requested type not found").
source "$(dirname "$0")/lib.sh"

new_netns host; HOST=$REPLY
new_netns peer; PEER=$REPLY
link_netns "$HOST" vh-lab0 "$PEER" vp-lab0 1
H4=10.200.1.1 P4=10.200.1.2

# Probe rather than assume: if this kernel can add an ESP SA, this test's
# premise is gone (run the tests/vm job instead).
if ip -n "$PEER" xfrm state add src $P4 dst $H4 proto esp spi 0x999 mode transport \
  aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128 2>/dev/null; then
  fail "this kernel accepts ESP SAs; this test checks the refusal path of a kernel without ESP"
fi

# The administrator's own XFRM policy, outside netpolicyd's band.
ip -n "$HOST" xfrm policy add src $H4/32 dst 10.200.9.9/32 dir out priority 100 \
  tmpl proto esp reqid 77 mode transport

KEYS=$NP_TMP/keys
mkdir -p "$KEYS"
OUT_KEY=4f7574476f696e674b65793132333435deadbeef
IN_KEY=496e436f6d696e674b65793132333435cafef00d
umask 077
echo "$OUT_KEY" >"$KEYS/out.key"
printf '0x%s\n' "$IN_KEY" >"$KEYS/in.key"
umask 022

GOOD=$NP_TMP/good.yaml MANUAL=$NP_TMP/manual.yaml
cat >"$GOOD" <<EOF2
version: 1
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
ipsec:
  - {name: db, reqid: 100}
rules:
  - {name: ssh-in, direction: in, from: [$P4], protocol: tcp, ports: [2222], action: allow}
  - {name: db-out, direction: out, to: [$P4], protocol: tcp, ports: [5432], action: protect, ipsec: db}
EOF2
cat >"$MANUAL" <<EOF2
version: 1
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
ipsec:
  - name: db
    local: $H4
    remote: $P4
    reqid: 100
    keying: manual
    manual:
      algorithm: rfc4106(gcm(aes))
      out: {spi: 0x1001, key_file: $KEYS/out.key}
      in: {spi: 0x1002, key_file: $KEYS/in.key}
rules:
  - {name: ssh-in, direction: in, from: [$P4], protocol: tcp, ports: [2222], action: allow}
  - {name: db-out, direction: out, to: [$P4], protocol: tcp, ports: [5433], action: protect, ipsec: db}
EOF2

kernel_state() {
  echo "## nft"; ip netns exec "$HOST" nft -s list ruleset
  echo "## xfrm policy"; ip -n "$HOST" xfrm policy
  echo "## xfrm state"; ip -n "$HOST" xfrm state
}
no_key_bytes() {  # WHAT TEXT
  local k
  for k in "$OUT_KEY" "$IN_KEY" "${OUT_KEY^^}" "${IN_KEY^^}" "${OUT_KEY:8:16}" "${IN_KEY:8:16}"; do
    [[ $2 != *"$k"* ]] || fail "$1 shows key bytes ($k)"
  done
  ok "$1 shows no key bytes"
}

np_note "--check accepts the manual policy and shows no key"
out=$(ip netns exec "$HOST" "$NP_DAEMON" --check --config "$MANUAL" 2>&1) ||
  fail "--check refused the manual policy: $out"
no_key_bytes "--check" "$out"
out=$(ip netns exec "$HOST" "$NP_CTL" export "$MANUAL" 2>&1) || fail "export failed: $out"
no_key_bytes "netpolicyctl export" "$out"
out=$(ip netns exec "$HOST" "$NP_CTL" export --json "$MANUAL" 2>&1) || fail "export --json failed: $out"
no_key_bytes "netpolicyctl export --json" "$out"

np_note "--check refuses key files with unsafe modes, at file:line:col"
key_line=$(grep -n 'out: {spi' "$MANUAL" | cut -d: -f1)
key_col=$(($(grep 'out: {spi' "$MANUAL" | awk -v s="$KEYS/out.key" '{ print index($0, s) }')))
for mode in 0644 0640 0604 0660; do
  chmod "$mode" "$KEYS/out.key"
  status=0
  out=$("$NP_DAEMON" --check --config "$MANUAL" 2>&1) || status=$?
  assert_eq "--check exit status with a $mode key file" 1 "$status"
  assert_contains "--check with a $mode key file" \
    "$MANUAL:$key_line:$key_col: error: ipsec[0].manual.out.key_file: refusing key file '$KEYS/out.key': it is accessible by group or others (mode $mode)" "$out"
  no_key_bytes "--check of a $mode key file" "$out"
done
chmod 0600 "$KEYS/out.key"
chown 65534 "$KEYS/out.key"
status=0
out=$("$NP_DAEMON" --check --config "$MANUAL" 2>&1) || status=$?
assert_eq "--check exit status with a key file owned by uid 65534" 1 "$status"
assert_contains "--check with a key file owned by uid 65534" \
  "$MANUAL:$key_line:$key_col: error: ipsec[0].manual.out.key_file: refusing key file '$KEYS/out.key': it is owned by uid 65534, not root" "$out"
chown 0 "$KEYS/out.key"

for port in 5432 5433; do listen "$PEER" $P4 $port; done

np_note "at start-up: the manual policy is refused, nothing changes"
before=$(kernel_state)
start_daemon "$HOST" "$MANUAL"
np_reap_daemon 20 "(a refused first policy ends the daemon)"
assert_eq "exit status after a refused first policy" 1 "$DAEMON_STATUS"
wait_event 5477 1
sa="xfrm state src $H4 dst $P4 proto esp spi 0x00001001"
assert_eq "5477 REASON" "$sa" "$(event_field 5477 REASON)"
code=$(event_field 5477 ERROR_CODE)
[[ $code =~ ^[0-9]+$ && $code -gt 0 ]] || fail "5477 ERROR_CODE is '$code', not an errno"
message=$(event_field 5477 MESSAGE)
assert_contains "5477 MESSAGE" "Failed to add $sa (profile db, out)" "$message"
ok "5477 names the SA and errno $code ($(event_field 5477 ERROR))"
no_key_bytes "the 5477 event" "$(journal_events 5477)"
no_key_bytes "netpolicyd's stderr" "$(cat "$DAEMON_DIR/stderr")"
assert_same_text "kernel state after the refused first policy" "$before" "$(kernel_state)"

np_note "with a good policy in force: the manual policy is refused, nothing changes"
start_daemon "$HOST" "$GOOD"
wait_notify READY=1
good=$(kernel_state)
assert_contains "XFRM policies of the good policy" "dport 5432 " "$good"
# The daemon reads its --config path again on SIGHUP: swap the contents.
cp "$MANUAL" "$GOOD"
kill -HUP "$DAEMON_PID"
wait_event 5477 2
wait_notify READY=1 2
assert_eq "second 5477 REASON" "$sa" "$(event_field 5477 REASON)"
assert_contains "second 5477 ACTION_TAKEN" "kept the previous policy" "$(event_field 5477 ACTION_TAKEN)"
assert_same_text "kernel state after the refused reload" "$good" "$(kernel_state)"
expect_tcp_blocked "$HOST" $P4 5432   # the good policy's protect rule still holds
expect_tcp_ok "$HOST" $P4 5433        # the refused policy's rule never came in

np_note "stop: the good policy's XFRM policies stay"
good_policies=$(ip -n "$HOST" xfrm policy)
stop_daemon TERM
assert_same_text "XFRM policies after stop" "$good_policies" "$(ip -n "$HOST" xfrm policy)"
# Only the kernel's larval ACQUIRE state (spi 0) of the blocked attempt.
states=$(ip -n "$HOST" xfrm state | grep -c ' spi 0x' || true)
larval=$(ip -n "$HOST" xfrm state | grep -c ' spi 0x00000000 ' || true)
assert_eq "SAs other than larval ACQUIRE states" 0 $((states - larval))
no_key_bytes "the whole journal" "$(journalctl -q --no-pager -o json)"
