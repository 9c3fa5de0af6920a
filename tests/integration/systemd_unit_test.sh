#!/usr/bin/env bash
# The configured unit (build/systemd/netpolicyd.service) passes
# `systemd-analyze verify` with no output at all (it exits 0 even on unknown
# keys, so the output is what counts) and `systemd-analyze security
# --offline=yes` rates it at or below 1.5. Runs without systemd as PID 1.
source "$(dirname "$0")/lib.sh"

UNIT=$NP_BUILD/systemd/netpolicyd.service
MANPAGES=$NP_BUILD/docs/man
[[ -f $UNIT ]] || fail "no configured unit at $UNIT (configure the build first)"
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (package systemd)"

# ExecStart names the installed binary (CMAKE_INSTALL_FULL_SBINDIR), which
# need not exist here; verify checks that it does, so point it at the built
# one. Everything else is checked as configured.
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
assert_match "ExecStart of the configured unit" '^/[^ ]*/sbin/netpolicyd( --config /[^ ]+)?$' \
  "$exec_start"
mkdir -p "$NP_TMP/unit"
TESTED=$NP_TMP/unit/netpolicyd.service
sed "s|^ExecStart=[^ ]*|ExecStart=$NP_DAEMON|" "$UNIT" >"$TESTED"

# verify also runs `man` for each Documentation= page: give it the built ones.
[[ -f $MANPAGES/man8/netpolicyd.8 ]] || fail "man pages not built in $MANPAGES"
verify() { MANPATH=$MANPAGES systemd-analyze verify "$1" 2>&1; }

# A control: verify does report a defect in this setting (an unknown key),
# so an empty output below means something.
sed 's/^\[Service\]$/[Service]\nNoSuchSetting=yes/' "$TESTED" >"$NP_TMP/unit/control.service"
assert_match "verify on a unit with an unknown key" 'Unknown key .NoSuchSetting.' \
  "$(verify "$NP_TMP/unit/control.service" || true)"

status=0
out=$(verify "$TESTED") || status=$?
assert_eq "systemd-analyze verify output" "" "$out"
assert_eq "systemd-analyze verify exit status" 0 "$status"

# Netlink needs CAP_NET_ADMIN in the host's user namespace, so no
# PrivateUsers=; and no capability beyond CAP_NET_ADMIN.
assert_eq "PrivateUsers= lines" "" "$(grep '^PrivateUsers=' "$UNIT" || true)"
assert_eq "CapabilityBoundingSet" "CAP_NET_ADMIN" \
  "$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")"
assert_eq "Type" "notify" "$(sed -n 's/^Type=//p' "$UNIT")"
assert_eq "ExecReload" '/bin/kill -HUP $MAINPID' "$(sed -n 's/^ExecReload=//p' "$UNIT")"

# Exposure on systemd's 0-10 scale; --threshold is in tenths.
status=0
security=$(systemd-analyze security --offline=yes --threshold=15 "$TESTED" 2>&1) || status=$?
exposure=$(sed -n 's/^→ Overall exposure level for netpolicyd.service: \([0-9.]*\) .*/\1/p' \
  <<<"$security")
[[ -n $exposure ]] || fail "no exposure level in systemd-analyze security output:
$security"
awk -v e="$exposure" 'BEGIN { exit !(e <= 1.5) }' || fail "exposure $exposure > 1.5:
$(grep '✗' <<<"$security")"
ok "exposure level $exposure <= 1.5"
assert_eq "systemd-analyze security --threshold=15 exit status" 0 "$status"
