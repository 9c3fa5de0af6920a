#!/usr/bin/env bash
# `netpolicyd --check`: exit 0 on a valid policy, exit 1 with every error as
# PATH:LINE:COL: error: MESSAGE on a broken one, and never a kernel change.
# Starting the daemon on a broken policy: exit 1, event 5461, no table.
source "$(dirname "$0")/lib.sh"

new_netns check; NS=$REPLY
new_netns peer; PEER=$REPLY
link_netns "$NS" vh-lab0 "$PEER" vp-lab0 1   # interfaces for zones to match

D=$NP_TMP/policies
mkdir -p "$D"

# check POLICY: runs --check inside NS; sets CHECK_STATUS, CHECK_ERR.
check() {
  CHECK_STATUS=0
  CHECK_ERR=$(ip netns exec "$NS" timeout 20 "$NP_DAEMON" --check --config "$1" \
    2>&1 >/dev/null) || CHECK_STATUS=$?
}

# expect_invalid POLICY LOCATION...: exit 1; every stderr line is
# "POLICY:LINE:COL: error: MESSAGE"; the Nth line is at the Nth LOCATION.
expect_invalid() {
  local f=$1 line i=0
  shift
  check "$f"
  assert_eq "--check exit status for ${f##*/}" 1 "$CHECK_STATUS"
  [[ -n $CHECK_ERR ]] || fail "--check printed nothing for ${f##*/}"
  while IFS= read -r line; do
    [[ $line =~ ^(.+):([0-9]+):([0-9]+):\ error:\ .+$ && ${BASH_REMATCH[1]} == "$f" ]] ||
      fail "--check stderr line for ${f##*/} is not '$f:LINE:COL: error: MESSAGE':
  seen: '$line'
  all:
$CHECK_ERR"
    echo "   $line"
  done <<<"$CHECK_ERR"
  mapfile -t lines <<<"$CHECK_ERR"
  assert_eq "number of errors for ${f##*/}" "$#" "${#lines[@]}"
  for loc in "$@"; do
    assert_eq "error $((i + 1)) location for ${f##*/}" "$f:$loc" \
      "$(cut -d: -f1-3 <<<"${lines[$i]}")"
    i=$((i + 1))
  done
  assert_no_tables "$NS"
}

np_note "valid policies"
cat >"$D/valid.yaml" <<'EOF'
version: 1
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
addresses:
  admins: [10.200.1.0/24, "fd00:200:1::/64"]
rules:
  - name: ssh-from-admins
    direction: in
    zones: [lab]
    from: [admins]
    protocol: tcp
    ports: [22, "8000-8100"]
    action: allow
EOF
for f in "$D/valid.yaml" "$NP_SOURCE/examples/policy.yaml"; do
  check "$f"
  assert_eq "--check exit status for $f (stderr: $CHECK_ERR)" 0 "$CHECK_STATUS"
  assert_no_tables "$NS"
done

np_note "broken policies"
# An unknown key: the key itself, line 3 column 3.
printf 'version: 1\nsettings:\n  tabel: netpolicy\n' >"$D/unknown-key.yaml"
expect_invalid "$D/unknown-key.yaml" 3:3

# A port out of range: the value, line 6 column 19.
cat >"$D/port.yaml" <<'EOF'
version: 1
rules:
  - name: web
    direction: in
    protocol: tcp
    ports: [2222, 70000]
    action: allow
EOF
expect_invalid "$D/port.yaml" 6:19

# An undefined zone and a bad address in one file: both reported, in order.
cat >"$D/two-errors.yaml" <<'EOF'
version: 1
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
rules:
  - name: ssh
    direction: in
    zones: [dmz]
    from: [10.300.0.1]
    protocol: tcp
    ports: [22]
    action: allow
EOF
expect_invalid "$D/two-errors.yaml" 7:13 8:12

# A YAML syntax error: where the parser stopped, the second ':' of line 4.
printf 'version: 1\nrules:\n  - name: ssh\n    direction: in: out\n' >"$D/syntax.yaml"
expect_invalid "$D/syntax.yaml" 4:18

# An empty file and a missing one: located at 1:1.
: >"$D/empty.yaml"
expect_invalid "$D/empty.yaml" 1:1
expect_invalid "$D/missing.yaml" 1:1

np_note "starting on a broken policy"
run_daemon_foreground "$NS" "$D/port.yaml"
assert_eq "netpolicyd exit status on a broken policy" 1 "$DAEMON_STATUS"
assert_eq "READY=1 sent" 0 "$(notify_count READY=1)"
wait_event 5461
assert_eq "5461 ERROR_LOCATION" "$D/port.yaml:6:19" "$(event_field 5461 ERROR_LOCATION)"
assert_eq "5461 POLICY_PATH" "$D/port.yaml" "$(event_field 5461 POLICY_PATH)"
assert_eq "5461 NETPOLICY_EVENT" policy-failed "$(event_field 5461 NETPOLICY_EVENT)"
assert_no_tables "$NS"
