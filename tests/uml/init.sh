#!/bin/bash
# PID 1 of the User-Mode-Linux guest started by run-in-uml.sh. Never the
# host's init: it prepares a throwaway view of the host's (read-only) root,
# runs the queued test scripts one after another, stores each one's status
# and output in the host directory given as np_uml_out= on the kernel
# command line, and powers the guest off.
#
# The kernel passes unknown key=value command-line words to init as
# environment variables; that is how np_uml_out arrives.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
here=$(dirname "$(readlink -f "$0")")

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
  [[ -d /run/np-uml/out ]] && echo "$*" >/run/np-uml/out/init-error
  power_off
}

# Kernel filesystems and private scratch space. The root is hostfs mounted
# read-only; everything a test may write goes to tmpfs that dies with the
# guest, so the host's /tmp, /run and /var are never touched.
mount -t proc proc /proc || fail "cannot mount /proc"
read -r uptime_at_init _ </proc/uptime
# /run first, and copy our helper into it: this script may live under the
# host's /tmp, which the guest's own /tmp is about to hide.
mount -t tmpfs -o mode=755 tmpfs /run || fail "cannot mount tmpfs on /run"
mkdir -p /run/np-uml/out /run/np-uml/bin /run/lock
cp "$here/modprobe.sh" /run/np-uml/bin/modprobe || fail "cannot copy modprobe.sh"
mount -t sysfs sysfs /sys || fail "cannot mount /sys"
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev || fail "cannot mount /dev"
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
for dir in /tmp /var/tmp; do
  mount -t tmpfs -o mode=1777 tmpfs "$dir" || fail "cannot mount tmpfs on $dir"
done
mount -t tmpfs -o mode=755 tmpfs /var/log || fail "cannot mount tmpfs on /var/log"

out=${np_uml_out:-}
[[ -n $out ]] || fail "np_uml_out= missing from the kernel command line"
mount -t hostfs -o "$out" hostfs /run/np-uml/out || fail "cannot mount hostfs '$out'"
echo "$uptime_at_init" >/run/np-uml/out/boot-uptime

# Modules: the guest kernel's modules live on the host under
# /usr/lib/uml/modules/<version>, not in /lib/modules (which the host may
# not even have, and which is read-only here). modprobe.sh runs
# `modprobe -d` over a directory laid out as lib/modules/<version>; it is the
# kernel's helper for on-demand loading and, first in PATH, the `modprobe`
# that scripts call.
kver=$(uname -r)
moddir=/usr/lib/uml/modules/$kver
[[ -f $moddir/modules.dep ]] || fail "no modules for guest kernel $kver in $moddir"
mkdir -p "/run/np-uml/modroot/lib/modules/$kver"
mount --bind "$moddir" "/run/np-uml/modroot/lib/modules/$kver" || fail "cannot bind $moddir"
export PATH=/run/np-uml/bin:$PATH
echo /run/np-uml/bin/modprobe >/proc/sys/kernel/modprobe || fail "cannot set kernel.modprobe"

hostname np-uml
ip link set lo up

# Environment chosen by the host (NETPOLICY_* and --env), as `export` lines.
if [[ -f /run/np-uml/out/env ]]; then
  # shellcheck disable=SC1091
  source /run/np-uml/out/env
fi
export NP_UML_GUEST=1 HOME=/root

# Jobs: out/jobs/<n>/argv holds the script and its arguments, NUL-separated,
# out/jobs/<n>/cwd the directory to run in. Each job runs in its own process
# group and session, with a fresh TMPDIR; whatever it leaves running is
# killed before the next job starts.
job_index=0
while [[ -f /run/np-uml/out/jobs/$job_index/argv ]]; do
  job=/run/np-uml/out/jobs/$job_index
  mapfile -d '' -t argv <"$job/argv"
  cwd=$(<"$job/cwd")
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

umount /run/np-uml/out
power_off
