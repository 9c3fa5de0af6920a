#!/usr/bin/env bash
# `journalctl -x` explains each event the real daemon emits with its entry
# from systemd/netpolicyd.catalog, every @FIELD@ replaced by the event's
# field: start (5460, 5478), a SIGHUP reload with a broken policy (5465,
# 5461) and SIGTERM (5479), in a private journald. The catalog database is
# built from our catalog alone, in directories bind-mounted over the
# system's inside this test's mount namespace, so the host's database is
# never rewritten (checked at the end).
source "$(dirname "$0")/lib.sh"

CATALOG=$NP_SOURCE/systemd/netpolicyd.catalog
[[ -f $CATALOG ]] || fail "no catalog at $CATALOG"

# --- a private catalog database -----------------------------------------------------
# A read-only handle on the host's database directory, taken before it is
# covered, proves at the end that it stayed untouched. (Never a bind mount
# under $NP_TMP: the cleanup's rm -rf would delete through it.)
exec {host_catalog}</var/lib/systemd/catalog
host_db() { sha256sum <"/proc/self/fd/$host_catalog/database" 2>/dev/null || echo "no database"; }
host_before=$(host_db)
mkdir -p "$NP_TMP/catalog-src" "$NP_TMP/catalog-db"
# journalctl --update-catalog reads these two and writes
# /var/lib/systemd/catalog/database (systemd 252).
mount --bind "$NP_TMP/catalog-src" /usr/lib/systemd/catalog
if [[ -d /usr/local/lib/systemd/catalog ]]; then
  mkdir -p "$NP_TMP/catalog-src-local"
  mount --bind "$NP_TMP/catalog-src-local" /usr/local/lib/systemd/catalog
fi
mount --bind "$NP_TMP/catalog-db" /var/lib/systemd/catalog
cp "$CATALOG" /usr/lib/systemd/catalog/
journalctl --update-catalog || fail "journalctl --update-catalog failed"
listed=$(journalctl --list-catalog)
assert_eq "catalog entries, all defined by netpolicyd" 18 \
  "$(grep -c ' netpolicyd: ' <<<"$listed" || true)"
assert_eq "catalog entries in the private database" 18 "$(grep -c . <<<"$listed")"

# --- the daemon: start, reload with a broken policy, stop ----------------------------
new_netns host; HOST=$REPLY
new_netns peer; PEER=$REPLY
link_netns "$HOST" vh-cat0 "$PEER" vp-cat0 1

CONFIG=$NP_TMP/policy.yaml
cat >"$CONFIG" <<'EOF'
version: 1
zones:
  - {name: lab, interfaces: ["vh-cat*"]}
rules:
  - name: ssh-in
    direction: in
    zones: [lab]
    protocol: tcp
    ports: [22]
    action: allow
EOF
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1
sed -i 's/protocol: tcp/protocol: tpc/' "$CONFIG"   # invalid: policy-failed, previous kept
kill -HUP "$DAEMON_PID"
wait_notify READY=1 2
stop_daemon TERM
assert_eq "exit status after SIGTERM" 0 "$DAEMON_STATUS"
wait_event 5479

# --- each emitted event, explained ------------------------------------------------------
# entry_text MESSAGE_ID: the entry's lines as the catalog parser keeps them
# (no comments; blank lines dropped here, as journalctl collapses them).
entry_text() {
  awk -v id="-- $1" '
    /^-- [0-9a-f]/ { inside = ($0 == id); next }
    inside && !/^#/ && NF' "$CATALOG"
}

for id in 5460 5478 5465 5461 5479; do
  event=$(journal_events "$id" | tail -n 1)
  [[ -n $event ]] || fail "the daemon emitted no EVENT_ID=$id"
  mid=$(jq -r .MESSAGE_ID <<<"$event")
  template=$(entry_text "$mid")
  [[ -n $template ]] || fail "no catalog entry for EVENT_ID=$id MESSAGE_ID=$mid"
  # What journalctl must show: the entry with @NAME@ replaced by the event's
  # field NAME. A field the event lacks would show as its bare name.
  expected=$(jq -r --arg t "$template" '. as $e | $t |
      gsub("@(?<n>[A-Za-z0-9_]+)@"; ($e[.n] // "<event has no field \(.n)>"))' <<<"$event")
  if [[ $expected == *"<event has no field"* ]]; then
    fail "EVENT_ID=$id lacks fields its catalog entry substitutes:
$(grep -o '<event has no field [A-Z0-9_]*>' <<<"$expected" | sort -u)"
  fi
  # journalctl -x prints the explanation under the entry, each line
  # prefixed with "░░ ".
  shown=$(journalctl -x -q --no-pager -n 1 "MESSAGE_ID=$mid" |
    sed -n 's/^░░ \{0,1\}//p' | grep -v '^[[:space:]]*$' || true)
  assert_same_text "journalctl -x explanation of EVENT_ID=$id" "$expected" "$shown"
  assert_contains "explanation of EVENT_ID=$id names the policy path" "$CONFIG" "$shown"
done

# The failed reload: where the error is, and what the daemon did.
shown=$(journalctl -x -q --no-pager -n 1 EVENT_ID=5461)
assert_contains "5461 subject" "Subject: Local policy $CONFIG not applied (error at $CONFIG:" \
  "$shown"
assert_contains "5461 action" "What netpolicyd did: kept the previous policy" "$shown"
np_note "what an administrator sees for the failed reload:"
echo "$shown"

assert_eq "host's catalog database" "$host_before" "$(host_db)"
