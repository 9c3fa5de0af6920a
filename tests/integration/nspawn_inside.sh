#!/usr/bin/env bash
# Runs INSIDE the container that nspawn_test.sh boots (systemd 252 as PID 1,
# private network, every write in a tmpfs overlay), as the boot's
# systemd.run= command. Installs what `cmake --install` staged in /np/stage,
# then drives the real unit with systemctl and checks the kernel, traffic and
# the journal. Writes its log to /np/results/log and exits 0 only when every
# check passed (nspawn passes the status on).
set -Eeuo pipefail
exec >/np/results/log 2>&1

fail() {
  echo "FAIL: $*"
  echo "--- systemctl status netpolicyd:"
  systemctl status --no-pager -l netpolicyd || true
  echo "--- journalctl -u netpolicyd:"
  journalctl -q --no-pager -u netpolicyd -o short-monotonic || true
  echo "--- nft list ruleset:"
  nft list ruleset || true
  exit 1
}
ok() { echo "ok: $*"; }
trap 'fail "command failed (status $?) at line $LINENO: $BASH_COMMAND"' ERR
expect_eq() { [[ $2 == "$3" ]] || fail "$1: expected '$2', seen '$3'"; ok "$1 = '$3'"; }
expect_contains() {
  [[ $3 == *"$2"* ]] || fail "$1: expected to contain '$2', seen:
$3"
  ok "$1 contains '$2'"
}

echo "pid 1: $(cat /proc/1/comm); $(systemctl --version | head -n 1)"
[[ $(cat /proc/1/comm) == systemd ]] || fail "PID 1 is not systemd"

# --- install, as an administrator would ---------------------------------------------
cp -a /np/stage/. /
systemctl daemon-reload
journalctl --update-catalog
unit_file=$(systemctl show -P FragmentPath netpolicyd)
[[ -n $unit_file ]] || fail "systemd does not find netpolicyd.service after installation"
ok "systemd loads the installed unit from $unit_file"
config=$(sed -n 's/^ExecStart=.* --config \([^ ]*\).*/\1/p' "$unit_file")
config=${config:-/etc/netpolicy/policy.yaml}
[[ -f $config ]] || fail "the installed example policy $config is missing"

# --- a peer to send traffic from, through a veth the policy classifies ---------------
ip link add vt-lab0 type veth peer name vp-lab0
ip netns add peer
ip link set vp-lab0 netns peer
ip addr add 10.200.7.1/24 dev vt-lab0
ip link set vt-lab0 up
ip -n peer addr add 10.200.7.2/24 dev vp-lab0
ip -n peer link set vp-lab0 up
ip -n peer link set lo up
# A TCP service on this side that answers every connection with a banner.
socat TCP4-LISTEN:8080,bind=10.200.7.1,reuseaddr,fork SYSTEM:'echo netpolicy-ok' &
for _ in $(seq 50); do ss -Hltn 'sport = :8080' | grep -q . && break; sleep 0.1; done

pings() { ip netns exec peer ping -n -q -c1 -W1 10.200.7.1 >/dev/null 2>&1; }
tcp_connects() {
  [[ $(timeout 5 ip netns exec peer socat -T2 -u TCP4:10.200.7.1:8080,connect-timeout=1 \
    STDOUT 2>/dev/null) == netpolicy-ok ]]
}
expect_traffic() {  # WHAT PING(ok|blocked) TCP(ok|blocked)
  local ping=blocked tcp=blocked
  pings && ping=ok
  tcp_connects && tcp=ok
  expect_eq "$1: ping from the peer" "$2" "$ping"
  expect_eq "$1: TCP 8080 from the peer" "$3" "$tcp"
}
expect_traffic "before netpolicyd (no filter)" ok ok

policy() {  # ALLOWED_RULE: icmp-in or tcp-8080-in
  cat >"$config" <<EOF
version: 1
settings:
  default: {inbound: block, outbound: allow, forward: block}
  unknown_interfaces: block
zones:
  - {name: lab, interfaces: ["vt-lab*"]}
rules:
EOF
  if [[ $1 == icmp-in ]]; then
    printf '  - {name: icmp-in, direction: in, zones: [lab], protocol: icmp, action: allow}\n'
  else
    printf '  - {name: tcp-8080-in, direction: in, zones: [lab], protocol: tcp, ports: [8080], action: allow}\n'
  fi >>"$config"
}
events() {  # EVENT_ID: how many the unit logged
  journalctl --sync
  journalctl -q --no-pager -u netpolicyd -o json "EVENT_ID=$1" | grep -c . || true
}
wait_events() {  # EVENT_ID COUNT
  for _ in $(seq 100); do (($(events "$1") >= $2)) && return 0; sleep 0.05; done
  fail "fewer than $2 events EVENT_ID=$1 after 5 s"
}

# --- start: returns once READY=1, i.e. once the policy is in the kernel ---------------
# A short watchdog, to see the daemon's pings arrive within the test (the
# unit's own WatchdogSec= is longer).
mkdir -p /run/systemd/system/netpolicyd.service.d
printf '[Service]\nWatchdogSec=2s\n' >/run/systemd/system/netpolicyd.service.d/watchdog.conf
systemctl daemon-reload
policy icmp-in
timeout 30 systemctl start netpolicyd || fail "systemctl start netpolicyd failed"
expect_eq "state after systemctl start" active "$(systemctl show -P ActiveState netpolicyd)"
# The daemon commits its table (the kernel ACKs) before it sends READY=1,
# and systemctl start returns only after READY=1: the table must be there
# at once. (Journal timestamps cannot show this order: journald stamps an
# entry when it reads it, which may be after systemd read READY=1.)
nft list table inet netpolicy >/dev/null || fail "no table inet netpolicy when start returned"
ok "table inet netpolicy exists when systemctl start returns"
active=$(systemctl show -P ActiveEnterTimestampMonotonic netpolicyd)
main_pid=$(systemctl show -P MainPID netpolicyd)
((main_pid > 0)) || fail "no MainPID"
expect_contains "StatusText" "$config" "$(systemctl show -P StatusText netpolicyd)"
expect_traffic "policy icmp-in" ok blocked

# --- reload with a changed policy: same process, new behaviour ------------------------
policy tcp-8080-in
timeout 30 systemctl reload netpolicyd || fail "systemctl reload netpolicyd failed"
# For the record (not a check): whether the new rules were in already when
# systemctl reload returned.
if nft list table inet netpolicy | grep -q 'comment "tcp-8080-in"'; then
  echo "note: the new rules were in the kernel when systemctl reload returned"
else
  echo "note: systemctl reload returned before the new rules were in the kernel"
fi
wait_events 5460 2
expect_eq "MainPID after reload" "$main_pid" "$(systemctl show -P MainPID netpolicyd)"
expect_eq "state after reload" active "$(systemctl show -P ActiveState netpolicyd)"
expect_contains "ruleset after reload" 'comment "tcp-8080-in"' "$(nft list table inet netpolicy)"
expect_traffic "policy tcp-8080-in" blocked ok

# --- the watchdog: pings keep arriving (systemd would kill a silent daemon) ----------
for _ in $(seq 50); do
  (($(systemctl show -P WatchdogTimestampMonotonic netpolicyd) > active)) && break
  sleep 0.1
done
pinged=$(systemctl show -P WatchdogTimestampMonotonic netpolicyd)
((pinged > active)) || fail "no watchdog ping since the unit became active (WatchdogSec=2s)"
ok "watchdog ping $((pinged - active)) us after start (WatchdogSec=2s)"
expect_eq "MainPID with the watchdog running" "$main_pid" "$(systemctl show -P MainPID netpolicyd)"

# --- the journal explains each event with its catalog entry ---------------------------
journal=$(journalctl -q --no-pager -u netpolicyd -x)
expect_contains "journalctl -u netpolicyd -x (5478)" "Subject: netpolicyd started with policy $config" "$journal"
expect_contains "journalctl -u netpolicyd -x (5460)" "Subject: Local policy $config applied" "$journal"
expect_contains "journalctl -u netpolicyd -x (5465)" "Subject: Reload of policy $config requested" "$journal"
expect_contains "journalctl -u netpolicyd -x (5465 cause)" "again: SIGHUP from pid" "$journal"

# --- stop: the rules stay ---------------------------------------------------------------
# Chains, maps and rules; not the table's header and flags, which name the
# owning process while the daemon runs.
rules_only() { nft -s list table inet netpolicy | sed '1d; /^[[:space:]]*flags /d'; }
ruleset=$(rules_only)
timeout 30 systemctl stop netpolicyd || fail "systemctl stop netpolicyd failed"
expect_eq "state after stop" inactive "$(systemctl show -P ActiveState netpolicyd)"
expect_eq "exit status of the main process" 0 "$(systemctl show -P ExecMainStatus netpolicyd)"
wait_events 5479 1
expect_eq "chains, maps and rules after stop (unchanged)" "$ruleset" "$(rules_only)"
expect_traffic "after stop" blocked ok
expect_contains "journalctl -u netpolicyd -x (5479)" \
  "Subject: netpolicyd stopped; its rules stay in the kernel" \
  "$(journalctl -q --no-pager -u netpolicyd -x EVENT_ID=5479)"

# --- a central policy over HTTP: the unit allows no IP; the shipped drop-in does ------
mkdir -p /srv/np-central
printf 'version: 1\nrules:\n  - {name: central-icmp, direction: in, protocol: icmp, action: allow}\n' \
  >/srv/np-central/central.yaml
python3 -m http.server 8099 --bind 127.0.0.1 --directory /srv/np-central >/dev/null 2>&1 &
for _ in $(seq 50); do ss -Hltn 'sport = :8099' | grep -q . && break; sleep 0.1; done
policy tcp-8080-in
printf 'sources: {central: {url: "http://127.0.0.1:8099/central.yaml", timeout: 3s}}\n' >>"$config"
unreachable_before=$(events 5466)
timeout 30 systemctl start netpolicyd || fail "systemctl start with a url source failed"
wait_events 5466 $((unreachable_before + 1))
expect_contains "without the drop-in the fetch fails (5466)" "applying the local policy alone" \
  "$(journalctl -q --no-pager -u netpolicyd -n 1 -o cat EVENT_ID=5466)"
[[ $(nft list table inet netpolicy) != *central-icmp* ]] || fail "central rule applied without IP access"
dropin=$(find /usr/share/doc/netpolicyd /usr/local/share/doc/netpolicyd -name central-url.conf \
  2>/dev/null | head -n 1 || true)
[[ -f $dropin ]] || fail "the drop-in central-url.conf was not installed"
sed 's/^IPAddressAllow=.*/IPAddressAllow=127.0.0.1/' "$dropin" \
  >/run/systemd/system/netpolicyd.service.d/central-url.conf
systemctl daemon-reload
applied_before=$(events 5456)
timeout 30 systemctl restart netpolicyd || fail "systemctl restart with the drop-in failed"
wait_events 5456 $((applied_before + 1))
expect_contains "ruleset with the central policy" 'comment "central-icmp"' "$(nft list table inet netpolicy)"
expect_traffic "central icmp-in + local tcp-8080-in" ok ok
timeout 30 systemctl stop netpolicyd || fail "systemctl stop failed"

# What an administrator sees, for the record.
echo "--- journalctl -u netpolicyd -x:"
journalctl -q --no-pager -u netpolicyd -x
echo "--- systemd's view of the sandbox:"
systemctl show -p NoNewPrivileges -p CapabilityBoundingSet -p RestrictAddressFamilies \
  -p ProtectSystem -p PrivateDevices netpolicyd
echo "ALL CHECKS PASSED"
