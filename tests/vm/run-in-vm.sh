#!/bin/bash
# Runs test scripts inside a QEMU guest booting Debian 12's own kernel (ESP,
# AH, GCM, nf_tables inet/ip/ip6, veth: everything the host kernel may lack),
# for tests that need IPsec SAs and nftables together. One boot runs every
# script given, in order:
#
#   run-in-vm.sh [options] SCRIPT [ARGS...] [--- SCRIPT [ARGS...]]...
#
# Options (before the first SCRIPT):
#   --timeout SEC   kill the guest after SEC seconds (default 240, env NP_VM_TIMEOUT)
#   --mem SIZE      guest memory in MiB or with a suffix (default 1G, env NP_VM_MEM)
#   --env NAME[=VALUE]  pass a variable to the scripts (NETPOLICY_* always pass)
#   --keep          keep the work directory (console log, outputs) and print its path
# Environment: NP_VM_CACHE (kernel cache, default /var/cache/netpolicy-vm,
# filled by tests/vm/fetch-kernel.sh from scripts/setup), NP_VM_SMP (vCPUs,
# default 2), NP_VM_MACHINE (default q35), NP_VM_APPEND (extra kernel
# arguments), NP_VM_QEMU (default qemu-system-x86_64), NP_VM_QEMU_ARGS
# (extra QEMU arguments).
#
# Exit status: the script's own status for one script; for several, 0 if all
# passed, else the first failing status. 124: the guest timed out. 125: the
# harness failed (QEMU or the kernel missing, no boot, results missing) —
# never a skip.
#
# The guest sees the host's root filesystem through 9p, read-only (QEMU
# refuses every write: readonly=on), with tmpfs on /tmp, /run, /var/tmp and
# /var/log; init.sh (never the host's init) runs the scripts. No network
# device: the guest's traffic never leaves it. Software emulation (TCG)
# unless /dev/kvm is usable.
set -euo pipefail

here=$(dirname "$(readlink -f "$0")")
timeout=${NP_VM_TIMEOUT:-240}
mem=${NP_VM_MEM:-1G}
smp=${NP_VM_SMP:-2}
machine=${NP_VM_MACHINE:-q35}
cache=${NP_VM_CACHE:-/var/cache/netpolicy-vm}
qemu=${NP_VM_QEMU:-qemu-system-x86_64}
qemu_args=()
read -r -a qemu_args <<<"${NP_VM_QEMU_ARGS:-}"
busybox=/bin/busybox
keep=0
passed_env=()

die() { echo "run-in-vm: $*" >&2; exit 125; }

while (($#)); do
  case $1 in
    --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
    --mem) mem=${2:?--mem needs a size}; shift 2 ;;
    --env) passed_env+=("${2:?--env needs NAME[=VALUE]}"); shift 2 ;;
    --keep) keep=1; shift ;;
    --) shift; break ;;
    -*) die "unknown option '$1'" ;;
    *) break ;;
  esac
done
(($#)) || die "usage: run-in-vm.sh [--timeout SEC] [--mem SIZE] [--env NAME[=VALUE]] [--keep] SCRIPT [ARGS...] [--- SCRIPT [ARGS...]]..."
[[ $timeout =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds, not '$timeout'"
((EUID == 0)) || die "must run as root: the guest reads the host's files through QEMU's 9p server"

command -v "$qemu" >/dev/null || die "no $qemu; install Debian's qemu-system-x86 (scripts/setup does)"
kdir=$(readlink -f "$cache/current" 2>/dev/null) || true
[[ -n $kdir && -d $kdir ]] || die "no guest kernel in $cache (run tests/vm/fetch-kernel.sh, or scripts/setup)"
kver=${kdir##*/}
vmlinux=$kdir/boot/vmlinux-$kver
moddir=$kdir/lib/modules
[[ -f $vmlinux && -f $moddir/$kver/modules.dep ]] ||
  die "incomplete guest kernel $kver in $kdir (run tests/vm/fetch-kernel.sh again)"
[[ $moddir =~ ^[A-Za-z0-9_./-]+$ ]] || die "kernel cache path '$moddir' has unusual characters"
if [[ ! -x $busybox ]] || ldd "$busybox" >/dev/null 2>&1; then
  die "$busybox is missing or not static; install busybox-static (scripts/setup does)"
fi
command -v modprobe >/dev/null || [[ -x /sbin/modprobe ]] ||
  die "modprobe missing: install kmod (scripts/setup does)"
PATH=$PATH:/sbin:/usr/sbin

work=$(mktemp -d "${TMPDIR:-/tmp}/np-vm.XXXXXX")
mkdir -p "$work/out/jobs" "$work/initramfs"

qemu_pid=
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  if [[ -n $qemu_pid ]]; then
    kill -KILL "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  if ((keep)); then
    echo "run-in-vm: kept $work (console.log, out/jobs/*/output)" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The initramfs: static busybox, the 9p/virtio modules in load order, the
# stage-one /init and the guest's own scripts (copied to /run/np-vm/bin).
build_initramfs() {
  local root=$work/initramfs line path module
  mkdir -p "$root/bin" "$root/modules" "$root/guest"
  cp "$busybox" "$root/bin/busybox"
  cp "$here/initramfs-init.sh" "$root/init"
  cp "$here/init.sh" "$root/guest/init.sh"
  cp "$here/modprobe.sh" "$root/guest/modprobe" # the name scripts call
  chmod 755 "$root/init" "$root/guest/"*
  : >"$root/modules/order"
  for module in virtio_mmio virtio_pci 9pnet_virtio 9p; do
    while read -r line; do
      [[ $line == insmod\ * ]] || continue
      path=${line#insmod }
      path=${path%% *}
      [[ -f $root/modules/${path##*/} ]] && continue
      cp "$path" "$root/modules/"
      echo "${path##*/}" >>"$root/modules/order"
    done < <(modprobe -d "$kdir" -S "$kver" --show-depends "$module") ||
      die "cannot resolve module $module of $kver"
  done
  [[ -s $root/modules/order ]] || die "no 9p/virtio modules found for $kver"
  (cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null) >"$work/initrd.cpio" ||
    die "cannot build the initramfs"
}
build_initramfs

# The guest mounts fresh tmpfs over these (init.sh): host files there are
# invisible inside unless shared again.
hidden_in_guest() {
  local path
  path=$(readlink -m "$1")
  [[ $path =~ ^/(tmp|run|var/tmp|var/log|var/run|dev|proc|sys)(/|$) ]]
}
# Extra read-only 9p shares for directories the tests need that the guest
# would hide (a CI clone or build under /tmp): the directory of each job
# script, its cwd, NETPOLICY_SOURCE and NETPOLICY_BUILD. Mounted at the same
# path inside.
shares=()
share_dir() {
  local dir s
  dir=$(readlink -f "$1") || return 0
  [[ -d $dir ]] && hidden_in_guest "$dir" || return 0
  [[ $dir =~ ^[A-Za-z0-9_./-]+$ ]] || die "cannot share '$dir' with the guest: unusual characters"
  for s in "${shares[@]}"; do
    [[ $dir == "$s" || $dir == "$s"/* ]] && return 0
  done
  shares+=("$dir")
}

# Jobs: each SCRIPT and its ARGS, NUL-separated, with the directory to run in.
n=0
job=()
names=()
add_job() {
  ((${#job[@]})) || die "empty job between '---' separators"
  local script
  script=$(readlink -f "${job[0]}") || die "no such script '${job[0]}'"
  [[ -f $script ]] || die "no such script '${job[0]}'"
  share_dir "${script%/*}"
  share_dir "$PWD"
  mkdir -p "$work/out/jobs/$n"
  printf '%s\0' "$script" "${job[@]:1}" >"$work/out/jobs/$n/argv"
  echo "$PWD" >"$work/out/jobs/$n/cwd"
  names[n]=${job[0]}
  n=$((n + 1))
  job=()
}
for arg in "$@"; do
  if [[ $arg == --- ]]; then add_job; else job+=("$arg"); fi
done
add_job
[[ -n ${NETPOLICY_SOURCE:-} ]] && share_dir "$NETPOLICY_SOURCE"
[[ -n ${NETPOLICY_BUILD:-} ]] && share_dir "$NETPOLICY_BUILD"

{
  for var in $(compgen -e); do
    if [[ $var == NETPOLICY_* ]]; then printf 'export %s=%q\n' "$var" "${!var}"; fi
  done
  for spec in "${passed_env[@]}"; do
    if [[ $spec == *=* ]]; then
      printf 'export %s=%q\n' "${spec%%=*}" "${spec#*=}"
    else
      printf 'export %s=%q\n' "$spec" "${!spec-}"
    fi
  done
} >"$work/out/env"

# q35 (default) and pc use virtio-9p-pci. microvm (virtio over MMIO) would
# skip the firmware, but Debian's 6.1 hangs there under TCG calibrating its
# timers ("tsc: Unable to calibrate against PIT"), even with pit=on.
if [[ $machine == microvm* ]]; then bus=device; else bus=pci; fi
fs=(security_model=none multidevs=remap)
devices=(
  -fsdev "local,id=root,path=/,readonly=on,$(IFS=,; echo "${fs[*]}")"
  -device "virtio-9p-$bus,fsdev=root,mount_tag=root"
  -fsdev "local,id=out,path=$work/out,$(IFS=,; echo "${fs[*]}")"
  -device "virtio-9p-$bus,fsdev=out,mount_tag=out"
  -device "virtio-rng-$bus"
)
: >"$work/out/shares"
for ((i = 0; i < ${#shares[@]}; i++)); do
  devices+=(-fsdev "local,id=share$i,path=${shares[i]},readonly=on,$(IFS=,; echo "${fs[*]}")"
            -device "virtio-9p-$bus,fsdev=share$i,mount_tag=share$i")
  echo "share$i ${shares[i]}" >>"$work/out/shares"
done

accel=(-accel tcg)
if [[ -r /dev/kvm && -w /dev/kvm ]]; then accel=(-accel kvm -accel tcg); fi

cmdline=(
  console=ttyS0 panic=-1 reboot=t
  # Quiet console, fewer cycles under emulation; the log level still shows
  # warnings. No hardware to probe: skip what costs boot time.
  loglevel=4 i8042.noaux i8042.nokbd tsc=reliable
  # A throwaway guest: no zeroing of every allocation, no speculation
  # mitigations (both cost emulated cycles), no address randomisation.
  init_on_alloc=0 mitigations=off nokaslr
  "np_vm_moddir=$moddir"
)
read -r -a extra <<<"${NP_VM_APPEND:-}"
cmdline+=("${extra[@]}")

started=$(date +%s.%N)
"$qemu" -M "$machine" "${accel[@]}" -cpu max -smp "$smp" -m "$mem" "${qemu_args[@]}" \
  -nodefaults -no-user-config -nographic -no-reboot \
  -serial "file:$work/console.log" -monitor none \
  -kernel "$vmlinux" -initrd "$work/initrd.cpio" -append "${cmdline[*]}" \
  "${devices[@]}" </dev/null >"$work/qemu.log" 2>&1 &
qemu_pid=$!

# Watchdog: poll rather than sleep in a helper process, so nothing outlives us.
deadline=$(($(date +%s) + timeout))
timed_out=0
while kill -0 "$qemu_pid" 2>/dev/null; do
  if (($(date +%s) >= deadline)); then
    timed_out=1
    kill -KILL "$qemu_pid" 2>/dev/null || true
    break
  fi
  [[ $(ps -o stat= -p "$qemu_pid" 2>/dev/null) == Z* ]] && break
  sleep 0.1
done
qemu_status=0
wait "$qemu_pid" 2>/dev/null || qemu_status=$?
qemu_pid=
ended=$(date +%s.%N)

show_console() {
  echo "run-in-vm: --- QEMU's messages ($work/qemu.log) ---" >&2
  tail -n 10 "$work/qemu.log" >&2
  echo "run-in-vm: --- last lines of the guest console ($work/console.log) ---" >&2
  tail -n 40 "$work/console.log" >&2
  keep=1
}

if [[ ! -f $work/out/boot-uptime ]]; then
  show_console
  if ((timed_out)); then
    echo "run-in-vm: the guest did not reach init within ${timeout}s" >&2
    exit 124
  fi
  die "the guest did not boot (kernel $kver, QEMU status $qemu_status)"
fi
if [[ -f $work/out/init-error ]]; then
  show_console
  die "guest init failed: $(cat "$work/out/init-error")"
fi

read -r boot_s <"$work/out/boot-uptime"
result=0
for ((i = 0; i < n; i++)); do
  dir=$work/out/jobs/$i
  if [[ -f $dir/output ]]; then
    echo "run-in-vm: ===== output of ${names[i]} ====="
    cat "$dir/output"
  fi
  if [[ -f $dir/status ]]; then
    status=$(<"$dir/status")
    read -r t0 t1 <"$dir/times"
    verdict=PASS
    ((status == 0)) || verdict=FAIL
    printf 'run-in-vm: [%s] %s (status %s, %.1f s)\n' "$verdict" "${names[i]}" "$status" \
      "$(awk "BEGIN{print $t1 - $t0}")"
    if ((status != 0 && result == 0)); then result=$status; fi
  else
    printf 'run-in-vm: [%s] %s\n' "$( ((timed_out)) && echo TIMEOUT || echo 'NOT RUN')" "${names[i]}"
    if ((result == 0)); then
      if ((timed_out)); then result=124; else result=125; fi
    fi
  fi
done
ready_s=$(cat "$work/out/ready-uptime" 2>/dev/null || echo "$boot_s")
done_s=$(cat "$work/out/done-uptime" 2>/dev/null || echo "$ready_s")
printf 'run-in-vm: %s %s (%s): kernel boot %.2f s, init set-up %.2f s, %d script(s) %.2f s (guest clock); %.2f s wall in all\n' \
  "$machine" "$kver" "${accel[1]}" "$boot_s" "$(awk "BEGIN{print $ready_s - $boot_s}")" "$n" \
  "$(awk "BEGIN{print $done_s - $ready_s}")" "$(awk "BEGIN{print $ended - $started}")"
if ((timed_out)); then
  echo "run-in-vm: killed the guest after ${timeout}s" >&2
  show_console
elif ((result == 125)); then
  show_console
fi
exit "$result"
