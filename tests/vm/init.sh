#!/bin/bash
# PID 1 of the QEMU guest started by run-in-vm.sh, after the initramfs
# (initramfs-init.sh) mounted the host's root read-only over 9p, a tmpfs on
# /run, the results share on /run/np-vm/out and copied this script to
# /run/np-vm/bin. Never the host's init: it prepares a throwaway view of the
# host's root, runs the queued test scripts one after another, stores each
# one's status and output in the results share, and ends the guest.
#
# The kernel passes unknown key=value command-line words to init as
# environment variables: np_vm_moddir (the guest kernel's modules on the
# host, from tests/vm/fetch-kernel.sh) arrives that way.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
out=/run/np-vm/out
moddir=${np_vm_moddir:-}

power_off() {
  sync
  # QEMU runs with -no-reboot: a reboot ends it at once. If sysrq is
  # unavailable, PID 1 exiting panics the kernel, and panic=-1 reboots.
  echo b >/proc/sysrq-trigger 2>/dev/null
  sleep 30
  exit 1
}

fail() {
  echo "vm-init: $*" >&2
  echo "$*" >"$out/init-error"
  power_off
}

mount -t proc proc /proc || fail "cannot mount /proc"
read -r uptime_at_init _ </proc/uptime
read -r kver </proc/sys/kernel/osrelease
[[ -n $moddir && -f $moddir/$kver/modules.dep ]] ||
  fail "no modules for guest kernel $kver in '$moddir' (np_vm_moddir=; run tests/vm/fetch-kernel.sh)"

# Private scratch space: the root is the host's, read-only; everything a test
# may write goes to tmpfs that dies with the guest. The guest kernel's
# modules are not in the host's /lib/modules (which may not even exist, and
# is read-only here): they are bound under /run/np-vm/modroot/lib/modules,
# where modprobe.sh (`modprobe -d`) finds them for the kernel's on-demand
# loading and for scripts calling `modprobe`. Directories the guest hides under its tmpfs
# but a test needs (a checkout or build under /tmp) come as extra read-only
# 9p shares, listed by the host in out/shares as "TAG PATH" lines.
mkdir -p /run/lock /dev/pts /dev/shm /run/np-vm/modroot/lib/modules || fail "cannot create mount points"
{
  echo "sysfs /sys sysfs defaults 0 0"
  echo "devpts /dev/pts devpts defaults 0 0"
  echo "tmpfs /dev/shm tmpfs mode=1777 0 0"
  echo "tmpfs /tmp tmpfs mode=1777 0 0"
  echo "tmpfs /var/tmp tmpfs mode=1777 0 0"
  echo "tmpfs /var/log tmpfs mode=755 0 0"
  echo "$moddir /run/np-vm/modroot/lib/modules none bind 0 0"
} >/run/np-vm/fstab
mount -a -T /run/np-vm/fstab || fail "cannot mount the guest's filesystems"
if [[ -f $out/shares ]]; then
  while read -r tag path; do
    if ! mkdir -p "$path" ||
      ! mount -t 9p -o ro,cache=loose,trans=virtio,version=9p2000.L,msize=524288 "$tag" "$path"; then
      fail "cannot mount share $tag on $path"
    fi
  done <"$out/shares"
fi
echo "$uptime_at_init" >"$out/boot-uptime"

ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
export PATH=/run/np-vm/bin:$PATH
echo /run/np-vm/bin/modprobe >/proc/sys/kernel/modprobe || fail "cannot set kernel.modprobe"
echo np-vm >/proc/sys/kernel/hostname
ip link set lo up

# Environment chosen by the host (NETPOLICY_* and --env), as `export` lines.
if [[ -f $out/env ]]; then
  # shellcheck disable=SC1091
  source "$out/env"
fi
export NP_VM_GUEST=1 HOME=/root

# Jobs: out/jobs/<n>/argv holds the script and its arguments, NUL-separated,
# out/jobs/<n>/cwd the directory to run in. Each job runs in its own session
# with a fresh TMPDIR; whatever it leaves running is killed before the next
# job starts.
read -r ready _ </proc/uptime
echo "$ready" >"$out/ready-uptime"
job_index=0
while [[ -f $out/jobs/$job_index/argv ]]; do
  job=$out/jobs/$job_index
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
echo "$done_at" >"$out/done-uptime"
umount "$out"
power_off
