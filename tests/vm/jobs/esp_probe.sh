#!/bin/bash
# Proves that the running kernel carries ESP end to end (meant for the test
# VM, see tests/vm/README.md; runs on any kernel with ESP and network
# namespaces). Two namespaces joined by a veth pair get static transport-mode
# SAs (rfc4106(gcm(aes)), 128-bit key + 32-bit salt, reqid 100) and policies
# for IPv4 and IPv6. Then:
#   - ping and a TCP transfer (socat) pass, the data arrives intact;
#   - every SA's byte counter grows, by at least the payload on the sending SA;
#   - a capture on the veth holds ESP and no clear-text unicast IP;
#   - with a wrong key on the receiver, ping and TCP fail and the SA counts
#     integrity failures; with the right key back, traffic passes again.
# Exits non-zero with a reason on the first failed check.
set -euo pipefail

a=np-espa-$$
b=np-espb-$$
a4=10.200.77.1 b4=10.200.77.2
a6=fd00:200:77::1 b6=fd00:200:77::2
payload=262144
work=$(mktemp -d)
pids=()

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "esp_probe: FAIL: $*" >&2; exit 1; }
step() {
  local now _
  read -r now _ </proc/uptime
  echo "esp_probe: [$now] $*"
}

# Process start-up is slow in the emulated guest (a fork/exec costs hundreds
# of ms, more on a loaded host), so set-up goes through `ip -batch` and the
# waits below use bash builtins.
exec {nap_fd}<> <(:)
nap() { read -r -t "$1" -u "$nap_fd" _ || true; }

# IPv6 is a module in some kernels (Debian's UML kernel) and nothing requests
# it before `ip -6 addr` needs it. The rest (veth, xfrm_user, esp4/6, gcm) is
# left to the kernel's on-demand loading, which exercises the modprobe helper.
if [[ ! -e /proc/net/if_inet6 ]]; then
  modprobe ipv6 || fail "cannot load ipv6"
fi

# Six random 20-byte keys (128-bit AES key + 32-bit salt) from one read:
# four for the SAs, two wrong ones for the receiver later.
random_hex=$(od -An -tx1 -v -N 120 /dev/urandom)
random_hex=${random_hex//[[:space:]]/}
random_key() { echo "0x${random_hex:$(($1 * 40)):40}"; } # N: the Nth key
spis=(0x1001 0x1002 0x1003 0x1004)
declare -A key sa_src sa_dst
for i in 0 1 2 3; do key[${spis[i]}]=0x${random_hex:$((i * 40)):40}; done
sa_src=([0x1001]=$a4 [0x1002]=$b4 [0x1003]=$a6 [0x1004]=$b6)
sa_dst=([0x1001]=$b4 [0x1002]=$a4 [0x1003]=$b6 [0x1004]=$a6)

# sa_line SPI [KEY]: the `ip xfrm state add` line for one direction's SA.
sa_line() {
  echo "xfrm state add src ${sa_src[$1]} dst ${sa_dst[$1]} proto esp spi $1 reqid 100" \
    "mode transport aead rfc4106(gcm(aes)) ${2:-${key[$1]}} 128"
}
# policy_lines LOCAL PEER: require ESP both ways between LOCAL and PEER.
policy_lines() {
  echo "xfrm policy add src $1 dst $2 dir out tmpl src $1 dst $2 proto esp reqid 100 mode transport"
  echo "xfrm policy add src $2 dst $1 dir in tmpl src $2 dst $1 proto esp reqid 100 mode transport"
}

printf '%s\n' "netns add $a" "netns add $b" \
  "link add veth-a netns $a type veth peer name veth-b netns $b" |
  ip -batch - || fail "cannot create the namespaces and the veth pair"
printf '%s\n' "link set lo up" "addr add $a4/24 dev veth-a" "addr add $a6/64 dev veth-a nodad" \
  "link set veth-a up" | ip -n "$a" -batch - || fail "cannot address veth-a"
printf '%s\n' "link set lo up" "addr add $b4/24 dev veth-b" "addr add $b6/64 dev veth-b nodad" \
  "link set veth-b up" | ip -n "$b" -batch - || fail "cannot address veth-b"

step "installing SAs and policies (transport, rfc4106(gcm(aes)) 128, reqid 100)"
for ns in "$a" "$b"; do
  {
    for spi in "${spis[@]}"; do sa_line "$spi"; done
    if [[ $ns == "$a" ]]; then
      policy_lines "$a4" "$b4"
      policy_lines "$a6" "$b6"
    else
      policy_lines "$b4" "$a4"
      policy_lines "$b6" "$a6"
    fi
  } | ip -n "$ns" -batch - || fail "cannot install SAs and policies in $ns (is ESP available?)"
done

# read_counters NS: fills bytes[SPI] and failed[SPI] (integrity failures)
# from one `ip -s xfrm state` dump of NS.
declare -A bytes failed
read_counters() {
  local spi='' line
  bytes=() failed=()
  while IFS= read -r line; do
    if [[ $line =~ proto\ esp\ spi\ 0x0*([0-9a-f]+) ]]; then
      spi=0x${BASH_REMATCH[1]}
    elif [[ $line =~ ^[[:space:]]*([0-9]+)\(bytes\) ]]; then
      bytes[$spi]=${BASH_REMATCH[1]}
    elif [[ $line =~ replay-window\ [0-9]+\ replay\ [0-9]+\ failed\ ([0-9]+) ]]; then
      failed[$spi]=${BASH_REMATCH[1]}
    fi
  done < <(ip -n "$1" -s xfrm state)
  for spi in "${spis[@]}"; do
    [[ -n ${bytes[$spi]:-} && -n ${failed[$spi]:-} ]] || fail "no counters for SA $spi in $1"
  done
}
# show_counters NS: the bytes[] last read for NS, for the log.
show_counters() {
  local spi out=
  for spi in "${spis[@]}"; do out+=" $spi=${bytes[$spi]}"; done
  echo "$1:$out"
}
xfrm_stat() {
  local k v
  while read -r k v; do
    if [[ $k == "$2" ]]; then echo "$v"; fi
  done < <(ip netns exec "$1" cat /proc/net/xfrm_stat)
}

if [[ -n ${NP_VM_GUEST:-} ]]; then
  declare -A loaded
  while read -r m _; do loaded[$m]=1; done </proc/modules
  for m in xfrm_user esp4 esp6; do
    [[ -n ${loaded[$m]:-} ]] || fail "module $m not loaded after adding SAs"
  done
  declare -A requested
  while read -r line; do requested[${line#-q -- }]=1; done </run/np-vm/modprobe.log
  step "names the kernel asked modprobe.sh for: ${!requested[*]}"
fi

declare -A before_a before_b
read_counters "$a"
for spi in "${spis[@]}"; do before_a[$spi]=${bytes[$spi]}; done
step "SA bytes before traffic: $(show_counters "$a")"
read_counters "$b"
for spi in "${spis[@]}"; do before_b[$spi]=${bytes[$spi]}; done
step "SA bytes before traffic: $(show_counters "$b")"

capture=0
if command -v tcpdump >/dev/null; then
  # Every packet between the protected address pairs, as text (one process
  # fewer than writing a pcap and reading it back); ARP, multicast and
  # link-local neighbour discovery are not protected and not captured.
  ip netns exec "$b" tcpdump -i veth-b -n -l \
    "(ip host $a4 and ip host $b4) or (ip6 host $a6 and ip6 host $b6)" \
    >"$work/capture.txt" 2>"$work/tcpdump.err" &
  tcpdump_pid=$!
  pids+=("$tcpdump_pid")
  # tcpdump reports "listening on ..." once the capture runs.
  for _ in $(seq 150); do
    if [[ -s $work/tcpdump.err ]]; then break; fi
    nap 0.1
  done
  [[ -s $work/tcpdump.err ]] || fail "tcpdump did not start"
  capture=1
else
  step "tcpdump not installed: no capture check"
fi

ping_ok() { ip netns exec "$1" ping -c "${3:-3}" -i 0.2 -W 2 "$2" >"$work/ping.out" 2>&1; }
# listen PORT ADDR: a one-shot TCP listener in b that stores what it
# receives; returns once it listens.
listen() {
  rm -f "$work/received"
  local kind=TCP4-LISTEN
  if [[ $2 == *:* ]]; then kind=TCP6-LISTEN; fi
  ip netns exec "$b" socat -u "$kind:$1,bind=$2,reuseaddr" "CREATE:$work/received" &
  listener=$!
  pids+=("$listener")
  for _ in $(seq 150); do
    if [[ -n $(ip netns exec "$b" ss -Htln "sport = :$1") ]]; then return 0; fi
    nap 0.1
  done
  fail "the listener on port $1 did not start"
}
# tcp_transfer PORT ADDR: send the payload a -> b over TCP; fails unless it
# arrived intact.
tcp_transfer() {
  listen "$1" "$2"
  local target=$2
  if [[ $2 == *:* ]]; then target="[$2]"; fi
  if ! ip netns exec "$a" timeout 60 socat -u "FILE:$work/payload" "TCP:$target:$1,connect-timeout=4" \
    2>"$work/socat.err"; then
    kill "$listener" 2>/dev/null || true
    wait "$listener" 2>/dev/null || true
    return 1
  fi
  wait "$listener" || return 1
  cmp -s "$work/payload" "$work/received"
}

head -c "$payload" /dev/urandom >"$work/payload"

step "traffic with matching keys"
ping_ok "$a" "$b4" || fail "IPv4 ping over ESP failed: $(cat "$work/ping.out")"
ping_ok "$a" "$b6" || fail "IPv6 ping over ESP failed: $(cat "$work/ping.out")"
tcp_transfer 5001 "$b4" || fail "IPv4 TCP transfer over ESP failed: $(cat "$work/socat.err")"
tcp_transfer 5002 "$b6" || fail "IPv6 TCP transfer over ESP failed: $(cat "$work/socat.err")"
step "ping v4/v6 and ${payload}-byte TCP transfers v4/v6 passed, data intact"

read_counters "$a"
step "SA bytes after traffic: $(show_counters "$a")"
for spi in "${spis[@]}"; do
  ((bytes[$spi] > before_a[$spi])) || fail "SA $spi in $a did not count traffic (${before_a[$spi]} -> ${bytes[$spi]})"
done
for spi in 0x1001 0x1003; do # a -> b carried the payload
  ((bytes[$spi] - before_a[$spi] >= payload)) ||
    fail "SA $spi in $a counted $((bytes[$spi] - before_a[$spi])) bytes, less than the ${payload}-byte payload"
done
read_counters "$b"
step "SA bytes after traffic: $(show_counters "$b")"
for spi in "${spis[@]}"; do
  ((bytes[$spi] > before_b[$spi])) || fail "SA $spi in $b did not count traffic (${before_b[$spi]} -> ${bytes[$spi]})"
done

if ((capture)); then
  nap 0.3
  kill -INT "$tcpdump_pid"
  wait "$tcpdump_pid" 2>/dev/null || true
  esp=0 clear_packets=()
  while IFS= read -r packet; do
    if [[ -z $packet ]]; then continue; fi
    if [[ $packet == *" ESP(spi="* ]]; then esp=$((esp + 1)); else clear_packets+=("$packet"); fi
  done <"$work/capture.txt"
  clear=${#clear_packets[@]}
  step "capture on veth-b: $esp ESP packets, $clear clear-text packets between the protected addresses"
  ((clear == 0)) || fail "clear text on the link: ${clear_packets[*]:0:5}"
  ((esp >= 200)) || fail "only $esp ESP packets captured for pings and two ${payload}-byte transfers"
fi

step "wrong key on $b's inbound SAs"
proto_errors_before=$(xfrm_stat "$b" XfrmInStateProtoError)
read_counters "$b"
failed_before=${failed[0x1001]}
# replace_in_keys KEY4 KEY6: new keys for b's inbound SAs 0x1001 and 0x1003.
replace_in_keys() {
  {
    echo "xfrm state del src $a4 dst $b4 proto esp spi 0x1001"
    echo "xfrm state del src $a6 dst $b6 proto esp spi 0x1003"
    sa_line 0x1001 "$1"
    sa_line 0x1003 "$2"
  } | ip -n "$b" -batch - || fail "cannot replace the inbound SAs in $b"
}
replace_in_keys "$(random_key 4)" "$(random_key 5)"
if ping_ok "$a" "$b4" 1; then fail "IPv4 ping passed with a wrong key"; fi
if ping_ok "$a" "$b6" 1; then fail "IPv6 ping passed with a wrong key"; fi
if tcp_transfer 5003 "$b4"; then fail "IPv4 TCP passed with a wrong key"; fi
# A refused connection would mean the SYN got through: only a timeout counts.
socat_err=$(<"$work/socat.err")
[[ $socat_err == *"timed out"* ]] ||
  fail "TCP with a wrong key failed for another reason than a timeout: $(cat "$work/socat.err")"
proto_errors_after=$(xfrm_stat "$b" XfrmInStateProtoError)
read_counters "$b"
failed_after=${failed[0x1001]}
step "with the wrong key ping and TCP fail; XfrmInStateProtoError $proto_errors_before -> $proto_errors_after, SA 0x1001 integrity failures $failed_before -> $failed_after"
((proto_errors_after > proto_errors_before)) || fail "no ESP integrity errors counted with a wrong key"
((failed_after > failed_before)) || fail "SA 0x1001 counted no integrity failures with a wrong key"

step "right key back"
replace_in_keys "${key[0x1001]}" "${key[0x1003]}"
ping_ok "$a" "$b4" || fail "IPv4 ping failed after restoring the key: $(cat "$work/ping.out")"
ping_ok "$a" "$b6" || fail "IPv6 ping failed after restoring the key: $(cat "$work/ping.out")"
step "PASS: ESP carries IPv4 and IPv6 traffic in kernel $(uname -r)"
