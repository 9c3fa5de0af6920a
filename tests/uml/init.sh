#!/bin/bash
# PID 1 of the User-Mode-Linux guest started by run-in-uml.sh. Never the
# host's init: it prepares a throwaway view of the host's (read-only) root,
# runs the queued test scripts one after another, stores each one's status
# and output in the host directory given as np_uml_out= on the kernel
# command line, and powers the guest off.
#
# The kernel passes unknown key=value command-line words to init as
# environment variables; that is how np_uml_out arrives.
#
# Every fork/exec in UML costs tens of ms (hundreds on a loaded host), so
# this script uses bash builtins where it can and one `mount -a` for all
# mounts.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
here=${0%/*} # the kernel starts init with its absolute path
out=${np_uml_out:-}

power_off() {
  sync
  # sysrq 'o' halts UML at once; if it is unavailable, PID 1 exiting makes
  # the guest kernel panic, which also ends the UML process.
  echo o >/proc/sysrq-trigger 2>/dev/null
  sleep 30
  exit 1
}

fail() {
  echo "uml-init: $*" >&2
  if mountpoint -q /run/np-uml/out 2>/dev/null; then echo "$*" >/run/np-uml/out/init-error; fi
  power_off
}

mount -t proc proc /proc || fail "cannot mount /proc"
read -r uptime_at_init _ </proc/uptime
read -r kver </proc/sys/kernel/osrelease
moddir=/usr/lib/uml/modules/$kver
[[ -n $out ]] || fail "np_uml_out= missing from the kernel command line"
[[ -f $moddir/modules.dep ]] || fail "no modules for guest kernel $kver in $moddir"

# Private scratch space: the root is hostfs mounted read-only; everything a
# test may write goes to tmpfs that dies with the guest, so the host's /tmp,
# /run and /var are never touched. The host directories this script's
# helpers (modprobe.sh) and the results live in are mounted through hostfs,
# the helpers read-only, before the guest's /tmp hides the host's.
#
# Modules: the guest kernel's modules are on the host under
# /usr/lib/uml/modules/<version>, not in /lib/modules (which the host may
# lack, and which is read-only here). modprobe.sh runs `modprobe -d` over
# /run/np-uml/modroot, laid out as lib/modules/<version>; it is the kernel's
# helper for on-demand loading and, first in PATH, the `modprobe` scripts call.
mount -t tmpfs -o mode=755 tmpfs /run || fail "cannot mount tmpfs on /run"
mkdir -p /run/lock /run/np-uml/out /run/np-uml/bin "/run/np-uml/modroot/lib/modules/$kver" \
  /dev/pts /dev/shm || fail "cannot create mount points"
printf '%s\n' \
  "sysfs /sys sysfs defaults 0 0" \
  "devpts /dev/pts devpts defaults 0 0" \
  "tmpfs /dev/shm tmpfs mode=1777 0 0" \
  "tmpfs /tmp tmpfs mode=1777 0 0" \
  "tmpfs /var/tmp tmpfs mode=1777 0 0" \
  "tmpfs /var/log tmpfs mode=755 0 0" \
  "none /run/np-uml/bin hostfs ro,$here 0 0" \
  "none /run/np-uml/out hostfs $out 0 0" \
  "$moddir /run/np-uml/modroot/lib/modules/$kver none bind 0 0" >/run/np-uml/fstab
mount -a -T /run/np-uml/fstab || fail "cannot mount the guest's filesystems"
echo "$uptime_at_init" >/run/np-uml/out/boot-uptime

ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
export PATH=/run/np-uml/bin:$PATH
[[ -x /run/np-uml/bin/modprobe ]] || fail "modprobe wrapper missing from $here"
echo /run/np-uml/bin/modprobe >/proc/sys/kernel/modprobe || fail "cannot set kernel.modprobe"
echo np-uml >/proc/sys/kernel/hostname
ip link set lo up

# Environment chosen by the host (NETPOLICY_* and --env), as `export` lines.
if [[ -f /run/np-uml/out/env ]]; then
  # shellcheck disable=SC1091
  source /run/np-uml/out/env
fi
export NP_UML_GUEST=1 HOME=/root

# Jobs: out/jobs/<n>/argv holds the script and its arguments, NUL-separated,
# out/jobs/<n>/cwd the directory to run in. Each job runs in its own session
# with a fresh TMPDIR; whatever it leaves running is killed before the next
# job starts.
read -r ready _ </proc/uptime
echo "$ready" >/run/np-uml/out/ready-uptime
job_index=0
while [[ -f /run/np-uml/out/jobs/$job_index/argv ]]; do
  job=/run/np-uml/out/jobs/$job_index
  mapfile -d '' -t argv <"$job/argv"
  read -r cwd <"$job/cwd"
  export TMPDIR=/tmp/job.$job_index
  mkdir -p "$TMPDIR"
  read -r start _ </proc/uptime
  (
    cd "$cwd" || exit 126
    if [[ -x ${argv[0]} ]]; then
      exec setsid "${argv[@]}"
    else
      exec setsid bash "${argv[@]}"
    fi
  ) </dev/null >"$job/output" 2>&1 &
  pid=$!
  wait "$pid"
  status=$?
  read -r end _ </proc/uptime
  # setsid made the job leader of session $pid: end what it left behind.
  pkill -KILL -s "$pid" 2>/dev/null
  echo "$start $end" >"$job/times"
  echo "$status" >"$job/status"
  job_index=$((job_index + 1))
done

read -r done_at _ </proc/uptime
echo "$done_at" >/run/np-uml/out/done-uptime
umount /run/np-uml/out
power_off
