#!/usr/bin/env bash
# The monitor: `netpolicyctl status` and `interfaces` (tables and --json)
# report what the daemon has in force — the policy file's SHA-256 and rule
# count, each interface with its zone and state. The control socket is 0600
# and refuses other users through the file system; malformed, oversized and
# stuck clients get error replies or are dropped while the daemon keeps
# serving, without leaving READY. A stale socket from a killed daemon does
# not stop the next one.
source "$(dirname "$0")/lib.sh"

command -v runuser >/dev/null || fail "runuser missing (util-linux)"

new_netns host; HOST=$REPLY
new_netns peer; PEER=$REPLY          # on vh-lab0: zone "lab"
new_netns stranger; STRANGER=$REPLY  # on vx-other0: no zone
link_netns "$HOST" vh-lab0 "$PEER" vp-lab0 1
link_netns "$HOST" vx-other0 "$STRANGER" vs-0 2

RUN=$NP_TMP/$HOST/run
SOCK=$RUN/control.sock
ctl() { ip netns exec "$HOST" "$NP_CTL" --runtime-dir "$RUN" "$@"; }
# raw TEXT: TEXT sent as it is over the control socket; prints the reply.
raw() { printf '%s' "$1" | timeout 10 socat -t 5 - "UNIX-CONNECT:$SOCK"; }

CONFIG=$NP_TMP/policy.yaml
cat >"$CONFIG" <<'EOF'
version: 1
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
rules:
  - name: ssh
    direction: in
    zones: [lab]
    protocol: tcp
    ports: [2222]
    action: allow
  - name: web
    direction: in
    protocol: tcp
    ports: [80, 443]
    action: allow
EOF
SHA=$(sha256sum "$CONFIG" | cut -d' ' -f1)

np_note "before the daemon runs"
status=0
err=$(ctl status 2>&1 >/dev/null) || status=$?
assert_eq "exit status without a daemon" 1 "$status"
assert_eq "message without a daemon" "netpolicyctl: netpolicyd is not running (no $SOCK)" "$err"

started=$(date -u +%s)
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1

np_note "the socket"
assert_eq "control.sock type, mode and owner" "socket 600 root:root" \
  "$(stat -c '%F %a %U:%G' "$SOCK")"

np_note "status --json"
JSON=$(ctl status --json)
echo "$JSON" | sed 's/^/    /'
assert_eq "policy.path" "$CONFIG" "$(jq -r .policy.path <<<"$JSON")"
assert_eq "policy.sha256 = sha256sum of the file" "$SHA" "$(jq -r .policy.sha256 <<<"$JSON")"
assert_eq "policy.rules" 2 "$(jq -r .policy.rules <<<"$JSON")"
assert_eq "policy.zones" 1 "$(jq -r .policy.zones <<<"$JSON")"
assert_eq "policy.source" local "$(jq -r .policy.source <<<"$JSON")"
applied=$(jq -r .policy.applied_at <<<"$JSON")
assert_match "policy.applied_at is ISO 8601 UTC" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' "$applied"
applied_s=$(date -u -d "$applied" +%s)
((applied_s >= started - 1 && applied_s <= $(date -u +%s))) ||
  fail "applied_at $applied is not between the start ($started) and now"
ok "applied_at lies between the daemon's start and now"
assert_eq "interfaces.count (lo, vh-lab0, vx-other0)" 3 "$(jq -r .interfaces.count <<<"$JSON")"
assert_eq "interfaces.complete" true "$(jq -r .interfaces.complete <<<"$JSON")"
assert_match "interfaces.since" '^[0-9-]{10}T[0-9:]{8}Z$' "$(jq -r .interfaces.since <<<"$JSON")"
assert_eq "last_error" null "$(jq -c .last_error <<<"$JSON")"
assert_eq "daemon.pid" "$DAEMON_PID" "$(jq -r .daemon.pid <<<"$JSON")"
assert_eq "daemon.version" "$("$NP_DAEMON" --version)" "$(jq -r .daemon.version <<<"$JSON")"

np_note "status as a table"
TEXT=$(ctl status)
echo "$TEXT" | sed 's/^/    /'
assert_contains "status table" "Policy:      $CONFIG (local)" "$TEXT"
assert_contains "status table" "SHA-256:     $SHA" "$TEXT"
assert_contains "status table" "Rules:       2 in 1 zones" "$TEXT"
assert_contains "status table" "Last error:  none" "$TEXT"

np_note "interfaces --json"
JSON=$(ctl interfaces --json)
iface() { jq -c --arg n "$1" '.interfaces[] | select(.name == $n) | {zone, state}' <<<"$JSON"; }
assert_eq "vh-lab0" '{"zone":"lab","state":"protected"}' "$(iface vh-lab0)"
assert_eq "vx-other0" '{"zone":null,"state":"unknown-posture"}' "$(iface vx-other0)"
assert_eq "lo" '{"zone":null,"state":"loopback"}' "$(iface lo)"
assert_eq "vh-lab0 ifindex" "$(ip -n "$HOST" -j link show vh-lab0 | jq '.[0].ifindex')" \
  "$(jq '.interfaces[] | select(.name == "vh-lab0") | .ifindex' <<<"$JSON")"
assert_eq "vh-lab0 IPv4 address" 1 \
  "$(jq '[.interfaces[] | select(.name == "vh-lab0") | .addresses[] | select(startswith("10.200.1.1"))] | length' <<<"$JSON")"
assert_eq "view complete" true "$(jq -r .complete <<<"$JSON")"
# What the daemon calls protected is what the kernel holds.
assert_contains "zone_in in the kernel" '"vh-lab0" : jump in_lab' \
  "$(ip netns exec "$HOST" nft list map inet "$NP_TABLE" zone_in)"
if ip netns exec "$HOST" nft list map inet "$NP_TABLE" zone_in | grep -q vx-other0; then
  fail "vx-other0 is in zone_in although the daemon says unknown-posture"
fi

np_note "interfaces as a table"
TEXT=$(ctl interfaces)
echo "$TEXT" | sed 's/^/    /'
assert_match "table header" '^NAME +INDEX +ZONE +STATE +ADDRESSES' "$TEXT"
assert_match "vh-lab0 row" $'(^|\n)vh-lab0 +[0-9]+ +lab +protected +10\\.200\\.1\\.1' "$TEXT"
assert_match "vx-other0 row" $'(^|\n)vx-other0 +[0-9]+ +- +unknown-posture ' "$TEXT"

np_note "bad requests sent raw"
code() { jq -r '.error.code // "<ok>"' <<<"$1"; }
assert_eq "raw valid request" true "$(jq -r .ok <<<"$(raw $'{"version":1,"command":"status"}\n')")"
assert_eq "garbage" malformed-request "$(code "$(raw $'garbage\n')")"
assert_eq "truncated JSON" malformed-request "$(code "$(raw $'{"version":1,"command":\n')")"
assert_eq "a JSON array" invalid-request "$(code "$(raw $'[1,2]\n')")"
assert_eq "version as a string" invalid-request "$(code "$(raw $'{"version":"1","command":"status"}\n')")"
assert_eq "version 2" unsupported-version "$(code "$(raw $'{"version":2,"command":"status"}\n')")"
assert_eq "unknown command" unknown-command "$(code "$(raw $'{"version":1,"command":"reboot"}\n')")"
assert_eq "NUL bytes" malformed-request "$(code "$(printf '\0\0\0\n' | timeout 10 socat -t 5 - "UNIX-CONNECT:$SOCK")")"
big=$(head -c 100000 /dev/zero | tr '\0' 'a')
reply=$(raw "$big")
assert_eq "100000 bytes without a newline" request-too-large "$(code "$reply")"
assert_contains "its message" "65536" "$reply"
reply=$(raw "{\"version\":1,\"command\":\"status\",\"pad\":\"${big}\"}"$'\n')
assert_eq "a 100 kB JSON request" request-too-large "$(code "$reply")"
# One connection: a bad line, then a good one; both answered in order.
replies=$(raw $'nonsense\n{"version":1,"command":"interfaces"}\n')
assert_eq "two requests on one connection" "malformed-request true" \
  "$(jq -rs '"\(.[0].error.code) \(.[1].ok)"' <<<"$replies")"

np_note "a client that sends nothing does not stall the daemon"
sleep 30 | socat -t 30 - "UNIX-CONNECT:$SOCK" >"$NP_TMP/silent.out" 2>&1 &
SILENT=$!
NP_PIDS+=("$SILENT")
sleep 0.3
t0=$EPOCHREALTIME
ctl status --json >/dev/null
elapsed_ms=$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))
((elapsed_ms < 1000)) || fail "status took ${elapsed_ms} ms while a silent client was connected"
ok "status answered in ${elapsed_ms} ms beside a silent client"
deadline=$((SECONDS + 10))
until grep -q '"timeout"' "$NP_TMP/silent.out"; do
  ((SECONDS < deadline)) || fail "the silent client got no timeout reply; it got: $(cat "$NP_TMP/silent.out")"
  sleep 0.1
done
ok "the silent client was told: $(cat "$NP_TMP/silent.out")"

np_note "the daemon kept serving and stayed READY"
np_alive "$DAEMON_PID" || fail "netpolicyd died"
assert_eq "notify states" "READY=1" "$(notify_states)"
assert_eq "status.policy.sha256 after the bad requests" "$SHA" "$(ctl status --json | jq -r .policy.sha256)"
assert_eq "critical-failure events" 0 "$(journal_count 5484)"
# Each refusal is logged with the peer's credentials (SO_PEERCRED).
assert_match "a refusal in stderr" 'control client \(pid [0-9]+, uid 0\): refused request: malformed-request' \
  "$(cat "$DAEMON_DIR/stderr")"

np_note "other users are refused by the socket's mode"
status=0
err=$(runuser -u nobody -- "$NP_CTL" --runtime-dir "$RUN" status 2>&1 >/dev/null) || status=$?
assert_eq "netpolicyctl status as nobody: exit status" 1 "$status"
assert_eq "netpolicyctl status as nobody" \
  "netpolicyctl: Permission denied: '$SOCK' (only root may talk to netpolicyd)" "$err"
status=0
out=$(printf '{"version":1,"command":"status"}\n' |
  runuser -u nobody -- socat -t 2 - "UNIX-CONNECT:$SOCK" 2>&1) || status=$?
((status != 0)) || fail "socat as nobody connected; it read: $out"
assert_contains "raw connect as nobody" "Permission denied" "$out"

np_note "usage errors exit 2"
status=0; ctl status extra >/dev/null 2>&1 || status=$?
assert_eq "status with an extra argument" 2 "$status"
status=0; ctl bogus >/dev/null 2>&1 || status=$?
assert_eq "an unknown command" 2 "$status"

np_note "stop: the socket goes with the daemon"
stop_daemon TERM
assert_eq "exit status after SIGTERM" 0 "$DAEMON_STATUS"
[[ ! -e $SOCK ]] || fail "$SOCK still exists after a clean stop"
ok "control.sock removed at stop"

np_note "a killed daemon's stale socket does not stop the next one"
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
stop_daemon KILL
[[ -S $SOCK ]] || fail "expected the killed daemon's socket to stay behind"
status=0
err=$(ctl status 2>&1 >/dev/null) || status=$?
assert_eq "status against a stale socket: exit status" 1 "$status"
assert_eq "status against a stale socket" \
  "netpolicyctl: netpolicyd is not running ($SOCK exists, but nothing answers on it)" "$err"
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
assert_eq "status from the restarted daemon" "$DAEMON_PID" "$(ctl status --json | jq -r .daemon.pid)"
