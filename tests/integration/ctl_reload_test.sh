#!/usr/bin/env bash
# netpolicyctl reload: asks the daemon, waits for the outcome and prints it;
# exit 0 when applied, 1 when the policy was refused (the previous one stays)
# and a clear refusal for a caller that is not root.
source "$(dirname "$0")/lib.sh"

new_netns host; HOST=$REPLY
CONFIG=$NP_TMP/policy.yaml
write_policy() {
  cat >"$CONFIG" <<EOF
version: 1
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
rules:
  - {name: $1, direction: in, protocol: tcp, ports: [2222], action: allow}
EOF
}
ctl() { ip netns exec "$HOST" "$NP_CTL" --runtime-dir "$NP_TMP/$HOST/run" "$@"; }

write_policy first-rule
start_daemon "$HOST" "$CONFIG"
wait_notify READY=1

np_note "reload as root with a changed policy"
write_policy second-rule
status=0; out=$(ctl reload 2>&1) || status=$?
assert_eq "exit status of a successful reload" 0 "$status"
assert_match "its output" '^reloaded: policy ' "$out"
assert_contains "the table after reload" 'comment "second-rule"' "$(nft_table "$HOST")"
assert_eq "reload-requested events" 1 "$(journal_count 5465)"
assert_match "5465 REASON" '^netpolicyctl reload from pid [0-9]+ uid 0$' "$(event_field 5465 REASON)"

np_note "reload as root with a broken policy"
before=$(nft_table "$HOST")
printf 'version: 1\nrules: [\n' >"$CONFIG"
status=0; out=$(ctl reload 2>&1) || status=$?
assert_eq "exit status of a failed reload" 1 "$status"
assert_match "its output" "^reload failed: Policy $CONFIG is invalid: $CONFIG:3:1: " "$out"
assert_same_text "table after a failed reload" "$before" "$(nft_table "$HOST")"

np_note "reload as a user other than root"
write_policy third-rule
status=0
out=$(ip netns exec "$HOST" setpriv --reuid=65534 --regid=65534 --clear-groups \
  "$NP_CTL" --runtime-dir "$NP_TMP/$HOST/run" reload 2>&1) || status=$?
assert_eq "exit status for uid 65534" 1 "$status"
assert_contains "refusal" "only root may ask netpolicyd to reload (you are uid 65534)" "$out"
assert_eq "no reload for uid 65534" 2 "$(journal_count 5465)"
assert_same_text "table after the refused reload" "$before" "$(nft_table "$HOST")"
