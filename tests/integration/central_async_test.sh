#!/usr/bin/env bash
# The central policy's HTTP fetch runs in the daemon's loop without blocking
# it, and its validators survive a restart. A server on loopback inside the
# daemon's namespace that logs every request and can be told to stall:
# - a stalled GET (8 s, source timeout 10 s): netpolicyctl status answers
#   within 1 s, WATCHDOG=1 keeps coming, a new interface is seen; a
#   `netpolicyctl reload` sent meanwhile is queued behind the running fetch
#   (its GET starts only after the stalled one ended) and prints its outcome;
# - SIGTERM during a stalled GET: the daemon stops at once (status 0, 5479);
# - restart: the first GET carries If-None-Match with the stored ETag, the
#   server answers 304 and the cached copy is the policy in force (5456,
#   same POLICY_SHA256 as before); a corrupt cache or validators file while
#   stopped -> the first GET is unconditional (200) and the cache is
#   repaired.
source "$(dirname "$0")/lib.sh"

new_netns host; HOST=$REPLY
PORT=8766
WWW=$NP_TMP/www
LOG=$NP_TMP/requests.log
mkdir -p "$WWW" "$NP_TMP/etc"
chmod 0755 "$NP_TMP/etc"
CONFIG=$NP_TMP/etc/policy.yaml
STATE=$NP_TMP/$HOST/state
CACHE=$STATE/central-policy.cache
VALIDATORS=$STATE/central-policy.validators

# The interval is long: every GET in this test is one we asked for.
cat >"$CONFIG" <<EOF
version: 1
sources:
  central: {url: "http://127.0.0.1:$PORT/central.yaml", interval: 600s, timeout: 10s}
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
rules:
  - {name: local-open, direction: in, zones: [lab], protocol: tcp, ports: [2224], action: allow}
EOF
printf 'version: 1\nrules:\n  - {name: central-a, direction: in, protocol: tcp, ports: [2222], action: allow}\n' \
  >"$WWW/central.yaml"

# Serves WWW with a strong ETag (content digest) and Last-Modified, answers
# 304 to a matching If-None-Match, sleeps WWW/stall seconds first when that
# file exists, and logs each request as one JSON line when it arrives
# ("start") and when it was answered ("end").
cat >"$NP_TMP/server.py" <<'EOF'
import email.utils, hashlib, http.server, json, os, sys, threading, time

www, log_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
lock = threading.Lock()

def log(**entry):
    with lock, open(log_path, "a") as f:
        f.write(json.dumps(entry) + "\n")

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        log(event="start", t=time.time(), path=self.path, inm=inm, ims=ims)
        try:
            stall = float(open(os.path.join(www, "stall")).read())
        except OSError:
            stall = 0
        time.sleep(stall)
        path = os.path.join(www, self.path.lstrip("/"))
        try:
            body = open(path, "rb").read()
        except OSError:
            self.send_error(404)
            log(event="end", t=time.time(), path=self.path, status=404)
            return
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        modified = email.utils.formatdate(os.stat(path).st_mtime, usegmt=True)
        status = 304 if inm == etag else 200
        self.send_response(status)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", modified)
        if status == 200:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status == 200:
            self.wfile.write(body)
        log(event="end", t=time.time(), path=self.path, status=status, etag=etag)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
EOF

ip netns exec "$HOST" "$NP_PYTHON" "$NP_TMP/server.py" "$WWW" "$LOG" "$PORT" \
  >>"$NP_TMP/server.err" 2>&1 &
NP_PIDS+=($!)
for ((i = 0; i < 100; i++)); do
  ip netns exec "$HOST" "$NP_PYTHON" -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" \
    2>/dev/null && break
  sleep 0.05
done
((i < 100)) || fail "the test http server did not start: $(cat "$NP_TMP/server.err")"
: >"$LOG"  # the readiness probes were no requests

ctl() { ip netns exec "$HOST" "$NP_CTL" --runtime-dir "$NP_TMP/$HOST/run" "$@"; }
rule_names() { nft_table "$HOST" | grep -o 'comment "[a-z-]*"' | cut -d'"' -f2 | tr '\n' ' '; }
# requests EVENT: the logged requests of that kind, one JSON object a line.
requests() { jq -c --arg e "$1" 'select(.event == $e)' "$LOG"; }
request_count() { requests "$1" | grep -c . || true; }
# wait_requests EVENT COUNT [TIMEOUT_S]
wait_requests() {
  local deadline=$((SECONDS + ${3:-15}))
  while (($(request_count "$1") < $2)); do
    ((SECONDS < deadline)) || fail "timed out waiting for $2 '$1' request(s); log:
$(cat "$LOG")"
    sleep 0.05
  done
}
# request_field EVENT INDEX FIELD
request_field() { requests "$1" | jq -rs --argjson i "$2" --arg f "$3" '.[$i][$f] // "<absent>"'; }
# status_ms: netpolicyctl status --json (to NP_TMP/status.json) run in the
# namespace; prints its wall time in ms.
status_ms() {
  ip netns exec "$HOST" bash -c 't0=$EPOCHREALTIME
    "$0" --runtime-dir "$1" status --json >"$2" || exit 1
    t1=$EPOCHREALTIME; echo $(((${t1/./} - ${t0/./}) / 1000))' \
    "$NP_CTL" "$NP_TMP/$HOST/run" "$NP_TMP/status.json"
}
# ms_since START: milliseconds since START (an EPOCHREALTIME value).
ms_since() { echo $(((${EPOCHREALTIME/./} - ${1/./}) / 1000)); }

np_note "start: unconditional GET, applied, validators stored with the cache"
# WATCHDOG_USEC as systemd would set it with WatchdogSec=2s: sd-event pings
# at least once a second from the loop.
WATCHDOG_USEC=2000000 start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
wait_event 5456
assert_eq "first GET is unconditional" "<absent>" "$(request_field start 0 inm)"
assert_eq "first GET answered 200" 200 "$(request_field end 0 status)"
ETAG=$(request_field end 0 etag)
[[ -f $VALIDATORS ]] || fail "no validators file at $VALIDATORS"
assert_match "validators header" \
  '^netpolicy-central-validators 1 sha256=[0-9a-f]{64} bytes=[0-9]+$' "$(head -n 1 "$VALIDATORS")"
assert_eq "validators header checksum" "$(tail -n +2 "$VALIDATORS" | sha256sum | cut -d' ' -f1)" \
  "$(head -n 1 "$VALIDATORS" | sed -E 's/.*sha256=([0-9a-f]+).*/\1/')"
assert_eq "stored ETag" "$ETAG" "$(tail -n +2 "$VALIDATORS" | jq -r .etag)"
assert_eq "stored for the cache copy" "$(tail -n +2 "$CACHE" | sha256sum | cut -d' ' -f1)" \
  "$(tail -n +2 "$VALIDATORS" | jq -r .cache_sha256)"
SHA_BEFORE=$(event_field 5456 POLICY_SHA256)

np_note "a GET that stalls 8 s: the loop keeps serving"
echo 8 >"$WWW/stall"
pings_before=$(notify_count WATCHDOG=1)
kill -HUP "$DAEMON_PID"
wait_requests start 2
stall_start=$EPOCHREALTIME
assert_eq "the reload's GET is conditional" "$ETAG" "$(request_field start 1 inm)"
# A reload asked for during the stalled fetch: held, queued behind it.
rm "$WWW/stall"  # the queued GET is answered at once
(ctl reload >"$NP_TMP/reload.out" 2>&1; echo "exit=$?" >>"$NP_TMP/reload.out") &
RELOAD_PID=$!
NP_PIDS+=("$RELOAD_PID")
ip -n "$HOST" link add vh-lab7 type veth peer name vp7
seen_link=0
for round in 1 2 3; do
  # Best of three tries, each timed inside the namespace (netpolicyctl's own
  # start-up included): the machine may be busy. A blocked loop would fail
  # every try, and the stalled GET must still be running afterwards.
  best=
  for try in 1 2 3; do
    ms=$(status_ms) || fail "netpolicyctl status failed during the stalled fetch (round $round)"
    [[ -n $best ]] && ((best <= ms)) || best=$ms
    ((best < 1000)) && break
  done
  ((best < 1000)) || fail "netpolicyctl status took ${best} ms (best of 3) during the stalled fetch (round $round)"
  ok "round $round: netpolicyctl status answered in ${best} ms during the stalled fetch"
  assert_eq "policy in force meanwhile (round $round)" "$SHA_BEFORE" \
    "$(jq -r .policy.sha256 "$NP_TMP/status.json")"
  if ctl interfaces --json | jq -e '.interfaces[] | select(.name == "vh-lab7")' >/dev/null; then
    seen_link=1
  fi
  sleep 0.5
done
((seen_link)) || fail "an interface made during the stalled fetch was not seen: $(ctl interfaces)"
ok "the interface made during the stalled fetch is tracked"
(($(request_count end) == 1)) || fail "the stalled GET ended too early (after $(ms_since "$stall_start") ms): $(cat "$LOG")"
pings=$(($(notify_count WATCHDOG=1) - pings_before))
((pings >= 2)) || fail "only $pings WATCHDOG=1 during $(ms_since "$stall_start") ms of stalled fetch"
ok "$pings WATCHDOG=1 during the stalled fetch"

np_note "the queued reload: one more GET, after the stalled one, and its outcome printed"
wait $RELOAD_PID || true
assert_contains "netpolicyctl reload output" "reloaded:" "$(cat "$NP_TMP/reload.out")"
assert_contains "netpolicyctl reload exit" "exit=0" "$(cat "$NP_TMP/reload.out")"
wait_requests end 3
assert_eq "GETs in all" 3 "$(request_count start)"
stalled_end=$(request_field end 1 t)
queued_start=$(request_field start 2 t)
jq -ne --argjson a "$stalled_end" --argjson b "$queued_start" '$b >= $a' >/dev/null ||
  fail "the queued GET started ($queued_start) before the stalled one ended ($stalled_end): concurrent fetches"
ok "no concurrent fetch: the queued GET started after the stalled one ended"
assert_eq "stalled GET: 304" 304 "$(request_field end 1 status)"
assert_eq "queued GET: 304" 304 "$(request_field end 2 status)"
wait_event 5456 3
assert_eq "5465 (SIGHUP and netpolicyctl)" 2 "$(journal_count 5465)"
assert_eq "policy unchanged through both reloads" "$SHA_BEFORE" "$(event_field 5456 POLICY_SHA256)"
assert_eq "READY=1 after each reload" "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1" \
  "$(notify_states)"

np_note "SIGTERM during a stalled GET: stops at once"
echo 5 >"$WWW/stall"
kill -HUP "$DAEMON_PID"
wait_requests start 4
stalled_at=$SECONDS
t0=$EPOCHREALTIME
stop_daemon TERM 3
assert_eq "exit status after SIGTERM during a fetch" 0 "$DAEMON_STATUS"
ms=$(ms_since "$t0")
((ms < 1000)) || fail "netpolicyd took ${ms} ms to stop during a fetch"
ok "stopped ${ms} ms after SIGTERM, the GET still stalled"
wait_event 5479
rm "$WWW/stall"
# Events only ("netpolicyd[EVENT]: ..."): no diagnostic line (a failed
# cache or validators write, a curl error) on the way.
[[ -z $(grep -v '^netpolicyd\[[a-z-]*\]: ' "$DAEMON_DIR/stderr" || true) ]] ||
  fail "unexpected stderr: $(cat "$DAEMON_DIR/stderr")"
ok "stderr holds events only"

np_note "restart: the first GET is conditional, 304, the cached copy in force"
# The stopped daemon's stalled GET ends in the server before the log restarts.
sleep $((stalled_at + 6 - SECONDS))
: >"$LOG"
n56=$(journal_count 5456)
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
wait_event 5456 $((n56 + 1))
wait_requests end 1
assert_eq "first GET after restart: If-None-Match" "$ETAG" "$(request_field start 0 inm)"
assert_match "first GET after restart: If-Modified-Since" 'GMT$' "$(request_field start 0 ims)"
assert_eq "first GET after restart: 304" 304 "$(request_field end 0 status)"
assert_eq "5456 after a 304: POLICY_SOURCE" central "$(event_field 5456 POLICY_SOURCE)"
assert_eq "5456 after a 304: the policy of before" "$SHA_BEFORE" "$(event_field 5456 POLICY_SHA256)"
assert_match "rules from the cached copy" '^central-a( central-a)* local-open' "$(rule_names)"
assert_eq "no 5466/5458" "0 0" "$(journal_count 5466) $(journal_count 5458)"
stop_daemon TERM

np_note "restart with a corrupt cache: unconditional GET, cache repaired"
sed -i 's/ports: \[2222\]/ports: [2229]/' "$CACHE"
: >"$LOG"
n56=$(journal_count 5456)
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
wait_event 5456 $((n56 + 1))
assert_eq "GET with a corrupt cache is unconditional" "<absent>" "$(request_field start 0 inm)"
assert_eq "and answered 200" 200 "$(request_field end 0 status)"
assert_eq "cache repaired" "$(cat "$WWW/central.yaml")" "$(tail -n +2 "$CACHE")"
assert_eq "cache header verifies" "$(tail -n +2 "$CACHE" | sha256sum | cut -d' ' -f1)" \
  "$(head -n 1 "$CACHE" | sed -E 's/.*sha256=([0-9a-f]+).*/\1/')"
assert_eq "5456 POLICY_SHA256" "$SHA_BEFORE" "$(event_field 5456 POLICY_SHA256)"
assert_eq "no 5459 for a cache we did not need" 0 "$(journal_count 5459)"
stop_daemon TERM

np_note "restart with a corrupt validators file: unconditional GET"
sed -i 's/"etag"/"etAg"/' "$VALIDATORS"
: >"$LOG"
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
wait_requests end 1
assert_eq "GET with corrupt validators is unconditional" "<absent>" "$(request_field start 0 inm)"
assert_eq "and answered 200" 200 "$(request_field end 0 status)"
assert_eq "validators rewritten" "$ETAG" "$(tail -n +2 "$VALIDATORS" | jq -r .etag)"
stop_daemon TERM
