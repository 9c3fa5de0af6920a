#!/usr/bin/env bash
# Policy from several places: a central policy over http from a server on
# loopback inside the daemon's namespace, the main file and its drop-ins.
# Central rules come first (5456); the server stopped -> the cached copy
# (5466 + 5458); back with a change -> applied (5456); an unchanged poll ->
# 5463 and no kernel change; a broken central policy keeps the previous one
# (5457); a corrupt cache is detected (5459) and nothing is used from it;
# local_rules: false drops the local rules (LOCAL_RULES=ignored); a
# duplicate name in a drop-in and a group-writable drop-in are refused with
# their file:line:col.
source "$(dirname "$0")/lib.sh"

new_netns host; HOST=$REPLY
PORT=8765
WWW=$NP_TMP/www
mkdir -p "$WWW" "$NP_TMP/etc/policy.d"
chmod 0755 "$NP_TMP/etc" "$NP_TMP/etc/policy.d"
CONFIG=$NP_TMP/etc/policy.yaml
CACHE=$NP_TMP/$HOST/state/central-policy.cache

cat >"$CONFIG" <<EOF
version: 1
sources:
  central: {url: "http://127.0.0.1:$PORT/central.yaml", interval: 5s, timeout: 2s}
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
rules:
  - {name: local-open, direction: in, zones: [lab], protocol: tcp, ports: [2224], action: allow}
EOF
cat >"$NP_TMP/etc/policy.d/10-extra.yaml" <<EOF
version: 1
rules:
  - {name: local-extra, direction: in, zones: [lab], protocol: tcp, ports: [2225], action: allow}
EOF
# http.server's Last-Modified has one-second resolution: a change written in
# the same second as the copy fetched last would get a correct 304. Every
# version the server serves gets its own, later, mtime.
MTIME=$(date +%s)
next_mtime() {
  MTIME=$((MTIME + 10))
  touch -d "@$MTIME" "$1"
}
# central_policy NAME PORT [SETTINGS]: what the server serves.
central_policy() {
  {
    echo "version: 1"
    [[ -z ${3:-} ]] || echo "settings: $3"
    echo "rules:"
    echo "  - {name: $1, direction: in, protocol: tcp, ports: [$2], action: allow}"
  } >"$WWW/central.yaml.new"
  next_mtime "$WWW/central.yaml.new"
  mv "$WWW/central.yaml.new" "$WWW/central.yaml"
}

SERVER_PID=
server_start() {
  ip netns exec "$HOST" "$NP_PYTHON" -m http.server --bind 127.0.0.1 --directory "$WWW" "$PORT" \
    >>"$NP_TMP/http.log" 2>&1 &
  SERVER_PID=$!
  NP_PIDS+=("$SERVER_PID")
  local i
  for ((i = 0; i < 100; i++)); do
    ip netns exec "$HOST" "$NP_PYTHON" -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" \
      2>/dev/null && return 0
    sleep 0.05
  done
  fail "the test http server did not start: $(cat "$NP_TMP/http.log")"
}
server_stop() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; }

# rule_names: the rule comments of the table, in chain order, on one line.
rule_names() { nft_table "$HOST" | grep -o 'comment "[a-z-]*"' | cut -d'"' -f2 | tr '\n' ' '; }

np_note "start: central over http, main file and one drop-in"
central_policy central-a 2222
server_start
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
wait_event 5456
assert_eq "5456 POLICY_SOURCE" central "$(event_field 5456 POLICY_SOURCE)"
assert_eq "5456 LOCAL_RULES" applied "$(event_field 5456 LOCAL_RULES)"
wait_event 5478
assert_eq "5478 (started) POLICY_SOURCE" central "$(event_field 5478 POLICY_SOURCE)"
assert_match "rules: central first, then main, then drop-in" \
  '^central-a( central-a)* local-open( local-open)* local-extra' "$(rule_names)"
[[ -f $CACHE ]] || fail "no cached central policy at $CACHE"
assert_eq "cache body" "$(cat "$WWW/central.yaml")" "$(tail -n +2 "$CACHE")"
assert_match "cache header" '^netpolicy-central-cache 1 sha256=[0-9a-f]{64} bytes=[0-9]+$' \
  "$(head -n 1 "$CACHE")"
assert_eq "5456 POLICY_SHA256 covers the three files" \
  "$(printf '%s\n' "$(sha256sum <"$WWW/central.yaml" | cut -d' ' -f1)" \
    "$(sha256sum <"$CONFIG" | cut -d' ' -f1)" \
    "$(sha256sum <"$NP_TMP/etc/policy.d/10-extra.yaml" | cut -d' ' -f1)" | sha256sum | cut -d' ' -f1)" \
  "$(event_field 5456 POLICY_SHA256)"

np_note "an unchanged poll: 5463, nothing applied"
wait_event 5463 1 15
assert_eq "5456 count after an unchanged poll" 1 "$(journal_count 5456)"

np_note "server stopped: the cached copy"
server_stop
kill -HUP "$DAEMON_PID"
wait_event 5466
wait_event 5458
assert_eq "5458 POLICY_SOURCE" cache "$(event_field 5458 POLICY_SOURCE)"
assert_match "rules from the cache" '^central-a( central-a)* local-open' "$(rule_names)"

np_note "server back with a changed policy"
central_policy central-b 2223
server_start
kill -HUP "$DAEMON_PID"
wait_event 5456 2
assert_match "rules after the change" '^central-b( central-b)* local-open' "$(rule_names)"
assert_eq "cache follows" "$(cat "$WWW/central.yaml")" "$(tail -n +2 "$CACHE")"

np_note "server serving a broken policy: previous kept"
before=$(nft_table "$HOST")
printf 'version: 1\nrules:\n  - {name: bad, action: maybe}\n' >"$WWW/central.yaml"
next_mtime "$WWW/central.yaml"
kill -HUP "$DAEMON_PID"
wait_event 5457
assert_same_text "table after a broken central policy" "$before" "$(nft_table "$HOST")"
assert_match "5457 ERROR_LOCATION" "^http://127.0.0.1:$PORT/central.yaml:3:" \
  "$(event_field 5457 ERROR_LOCATION)"
assert_eq "cache kept the last good policy" "central-b" \
  "$(grep -o 'central-[ab]' "$CACHE")"

np_note "server down and the cache corrupt: nothing applied from it"
server_stop
sed -i 's/ports: \[2223\]/ports: [2229]/' "$CACHE"
grep -q 'ports: \[2229\]' "$CACHE" || fail "the cache was not changed"
n58=$(journal_count 5458)
kill -HUP "$DAEMON_PID"
wait_event 5459
assert_same_text "table after a corrupt cache" "$before" "$(nft_table "$HOST")"
assert_eq "no cached-policy-applied from a corrupt cache" "$n58" "$(journal_count 5458)"
assert_match "5459 REASON" 'checksum mismatch' "$(event_field 5459 REASON)"

np_note "local_rules: false in the central policy"
central_policy central-c 2226 '{local_rules: false}'
server_start
kill -HUP "$DAEMON_PID"
wait_event 5456 3
assert_eq "5456 LOCAL_RULES" ignored "$(event_field 5456 LOCAL_RULES)"
names=$(rule_names)
assert_match "central rule in" 'central-c' "$names"
[[ $names != *local-* ]] || fail "local rules applied despite local_rules: false: $names"
ok "no local rule in the table"

np_note "a duplicate rule name in a later drop-in"
cat >"$NP_TMP/etc/policy.d/20-dup.yaml" <<EOF
version: 1
rules:
  - {name: local-extra, direction: in, protocol: tcp, ports: [2227], action: allow}
EOF
before=$(nft_table "$HOST")
kill -HUP "$DAEMON_PID"
wait_event 5461
assert_eq "5461 ERROR_LOCATION" "$NP_TMP/etc/policy.d/20-dup.yaml:3:5" \
  "$(event_field 5461 ERROR_LOCATION)"
assert_contains "5461 REASON" \
  "rule 'local-extra' already defined at $NP_TMP/etc/policy.d/10-extra.yaml:3:5" \
  "$(event_field 5461 REASON)"
assert_same_text "table after a duplicate" "$before" "$(nft_table "$HOST")"

np_note "a group-writable drop-in is refused"
rm "$NP_TMP/etc/policy.d/20-dup.yaml"
chmod g+w "$NP_TMP/etc/policy.d/10-extra.yaml"
kill -HUP "$DAEMON_PID"
wait_event 5461 2
assert_contains "5461 REASON (mode)" \
  "$NP_TMP/etc/policy.d/10-extra.yaml:1:1: error: refusing to read policy: file is writable by group" \
  "$(event_field 5461 REASON)"
assert_same_text "table after an unsafe drop-in" "$before" "$(nft_table "$HOST")"
