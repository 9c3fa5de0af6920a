#!/bin/bash
# Runs test scripts inside Debian's User-Mode-Linux kernel (package
# user-mode-linux), for tests that need kernel features the host kernel
# lacks (ESP, AH, GCM). One boot runs every script given, in order:
#
#   run-in-uml.sh [options] SCRIPT [ARGS...] [--- SCRIPT [ARGS...]]...
#
# Options (before the first SCRIPT):
#   --timeout SEC   kill the guest after SEC seconds (default 240, env NP_UML_TIMEOUT)
#   --mem SIZE      guest memory (default 512M, env NP_UML_MEM)
#   --env NAME[=VALUE]  pass a variable to the scripts (NETPOLICY_* always pass)
#   --keep          keep the work directory (console log, outputs) and print its path
# Environment: NP_UML_KERNEL (default linux.uml), NP_UML_APPEND (extra
# kernel arguments), NP_UML_HOST_USER (see below).
#
# Exit status: the script's own status for one script; for several, 0 if all
# passed, else the first failing status. 124: the guest timed out. 125: the
# harness failed (UML missing or did not boot, results missing) — never a skip.
#
# The guest sees the host's root filesystem through hostfs, read-only, with
# tmpfs on /tmp, /run, /var/tmp and /var/log; init.sh (never the host's init)
# runs the scripts. When started as root, the UML process itself runs as an
# unprivileged host user (SUDO_USER, else nobody; env NP_UML_HOST_USER), so
# even a guest that remounted its root read-write could not change host files.
set -euo pipefail

here=$(dirname "$(readlink -f "$0")")
timeout=${NP_UML_TIMEOUT:-240}
mem=${NP_UML_MEM:-512M}
keep=0
passed_env=()

die() { echo "run-in-uml: $*" >&2; exit 125; }

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
(($#)) || die "usage: run-in-uml.sh [--timeout SEC] [--mem SIZE] [--env NAME[=VALUE]] [--keep] SCRIPT [ARGS...] [--- SCRIPT [ARGS...]]..."
[[ $timeout =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds, not '$timeout'"

kernel=${NP_UML_KERNEL:-$(command -v linux.uml || true)}
[[ -n $kernel && -x $kernel ]] ||
  die "no User-Mode-Linux kernel (linux.uml); install Debian's user-mode-linux (scripts/setup does)"
kver=$("$kernel" --version 2>/dev/null | head -n1) ||
  die "'$kernel --version' failed: is it a User-Mode-Linux kernel?"
[[ -f /usr/lib/uml/modules/$kver/modules.dep ]] ||
  die "no modules for UML $kver in /usr/lib/uml/modules/$kver"
command -v modprobe >/dev/null || [[ -x /sbin/modprobe ]] ||
  die "modprobe missing: the guest needs kmod to load ESP modules"

# The kernel command line splits on spaces, so the paths given on it (init,
# results) must be plain. mktemp under a TMPDIR with spaces would break it.
work=$(mktemp -d "${TMPDIR:-/tmp}/np-uml.XXXXXX")
[[ $work =~ ^[A-Za-z0-9_./-]+$ ]] || { rm -rf "$work"; die "work directory '$work' has unusual characters"; }
mkdir -p "$work/bin" "$work/out/jobs" "$work/uml"
cp "$here/init.sh" "$work/bin/init.sh"
cp "$here/modprobe.sh" "$work/bin/modprobe" # the name scripts call
chmod 755 "$work" "$work/bin" "$work/bin/"*

uml_pid=
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  if [[ -n $uml_pid ]]; then
    # The guest runs as a group of host processes led by $uml_pid.
    kill -KILL -- "-$uml_pid" 2>/dev/null || true
    wait "$uml_pid" 2>/dev/null || true
  fi
  if ((keep)); then
    echo "run-in-uml: kept $work (console.log, out/jobs/*/output)" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The guest mounts fresh tmpfs over these (init.sh): host files there are
# invisible inside.
hidden_in_guest() {
  local path
  path=$(readlink -m "$1")
  [[ $path =~ ^/(tmp|run|var/tmp|var/log|var/run|dev|proc|sys)(/|$) ]]
}

# Jobs: each SCRIPT and its ARGS, NUL-separated, with the directory to run in.
n=0
job=()
add_job() {
  ((${#job[@]})) || die "empty job between '---' separators"
  local script
  script=$(readlink -f "${job[0]}") || die "no such script '${job[0]}'"
  [[ -f $script ]] || die "no such script '${job[0]}'"
  # A clone under /tmp (CI's may be) is invisible inside: the guest sees
  # $work/bin (mounted at /run/np-uml/bin), so run a copy from there. Job
  # scripts are self-contained.
  if hidden_in_guest "$script"; then
    cp "$script" "$work/bin/job-$n.sh" && chmod +x "$work/bin/job-$n.sh"
    script=/run/np-uml/bin/job-$n.sh
  fi
  local cwd=$PWD
  hidden_in_guest "$cwd" && cwd=/
  mkdir -p "$work/out/jobs/$n"
  printf '%s\0' "$script" "${job[@]:1}" >"$work/out/jobs/$n/argv"
  echo "$cwd" >"$work/out/jobs/$n/cwd"
  names[n]=${job[0]}
  n=$((n + 1))
  job=()
}
names=()
for arg in "$@"; do
  if [[ $arg == --- ]]; then add_job; else job+=("$arg"); fi
done
add_job

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

# Who the UML process runs as on the host. hostfs performs the guest's file
# operations with this user's rights.
run_as=()
if ((EUID == 0)); then
  host_user=${NP_UML_HOST_USER:-}
  if [[ -z $host_user ]]; then
    if [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then host_user=$SUDO_USER; else host_user=nobody; fi
  fi
  if [[ $host_user != root ]]; then
    id "$host_user" >/dev/null 2>&1 || die "no host user '$host_user' (NP_UML_HOST_USER)"
    chown -R "$host_user" "$work/out" "$work/uml"
    run_as=(setpriv --reuid="$host_user" --regid="$(id -g "$host_user")" --clear-groups --)
    for ((i = 0; i < n; i++)); do
      IFS= read -r -d '' path <"$work/out/jobs/$i/argv"
      path=${path/#\/run\/np-uml\/bin\//$work/bin/}  # a copied job: check the host side
      "${run_as[@]}" test -r "$path" ||
        die "host user '$host_user' cannot read '$path'; set NP_UML_HOST_USER to a user that can (root disables this guard)"
      "${run_as[@]}" test -x "$(cat "$work/out/jobs/$i/cwd")" ||
        die "host user '$host_user' cannot enter '$(cat "$work/out/jobs/$i/cwd")'; set NP_UML_HOST_USER"
    done
  fi
fi

# Guest memory is a file UML maps from TMPDIR or /dev/shm; a small /dev/shm
# (64 MB in many containers) would fail the boot, so fall back to the work dir.
uml_env=()
mem_bytes=$(numfmt --from=iec "${mem%[bB]}" 2>/dev/null || echo 0)
shm_free=$(df --output=avail -B1 /dev/shm 2>/dev/null | tail -n1 || echo 0)
if [[ -z ${TMPDIR:-} ]] && ((shm_free < mem_bytes + (64 << 20))); then
  uml_env=(TMPDIR="$work/uml")
fi

# UML's console goes to console.log; stdin is /dev/null so a terminal is never
# put in raw mode. ubd0 would default to ./root_fs, hence the private cwd.
# uml_dir keeps the pid file and mconsole socket out of ~/.uml.
# shellcheck disable=SC2054 # con0=null,fd:1 is one argument
cmdline=(
  "mem=$mem" rootfstype=hostfs rootflags=/ ro
  "init=$work/bin/init.sh" "np_uml_out=$work/out"
  con=null con0=null,fd:1 ssl=null
  "uml_dir=$work/uml" "umid=np-uml-$$"
  # Boot time (initcall_debug, 6.1um4): creating the 256 legacy BSD ptys took
  # 1.8-11 s of a loaded host's boot; the guest only needs Unix98 ptys.
  pty.legacy_count=0
)
# Extra kernel arguments for debugging, e.g. NP_UML_APPEND=printk.time=1.
read -r -a extra <<<"${NP_UML_APPEND:-}"
cmdline+=("${extra[@]}")
started=$(date +%s.%N)
(
  cd "$work/uml"
  exec env "${uml_env[@]}" setsid "${run_as[@]}" "$kernel" "${cmdline[@]}"
) </dev/null >"$work/console.log" 2>&1 &
uml_pid=$!

# Watchdog: poll rather than sleep in a helper process, so nothing outlives us.
deadline=$(($(date +%s) + timeout))
timed_out=0
while kill -0 "$uml_pid" 2>/dev/null; do
  if (($(date +%s) >= deadline)); then
    timed_out=1
    kill -KILL -- "-$uml_pid" 2>/dev/null || true
    break
  fi
  # A guest that powered off leaves a zombie until waited for.
  [[ $(ps -o stat= -p "$uml_pid" 2>/dev/null) == Z* ]] && break
  sleep 0.1
done
wait "$uml_pid" 2>/dev/null || true
# Helper processes of the guest may linger briefly after its main process.
kill -KILL -- "-$uml_pid" 2>/dev/null || true
uml_pid=
ended=$(date +%s.%N)

show_console() {
  echo "run-in-uml: --- last lines of the UML console ($work/console.log) ---" >&2
  tail -n 40 "$work/console.log" >&2
  keep=1
}

if [[ ! -f $work/out/boot-uptime ]]; then
  show_console
  if ((timed_out)); then
    echo "run-in-uml: the guest did not reach init within ${timeout}s" >&2
    exit 124
  fi
  die "the UML guest did not boot (kernel $kernel $kver)"
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
    echo "run-in-uml: ===== output of ${names[i]} ====="
    cat "$dir/output"
  fi
  if [[ -f $dir/status ]]; then
    status=$(<"$dir/status")
    read -r t0 t1 <"$dir/times"
    verdict=PASS
    ((status == 0)) || verdict=FAIL
    printf 'run-in-uml: [%s] %s (status %s, %.1f s)\n' "$verdict" "${names[i]}" "$status" \
      "$(awk "BEGIN{print $t1 - $t0}")"
    if ((status != 0 && result == 0)); then result=$status; fi
  else
    printf 'run-in-uml: [%s] %s\n' "$( ((timed_out)) && echo TIMEOUT || echo 'NOT RUN')" "${names[i]}"
    if ((result == 0)); then
      if ((timed_out)); then result=124; else result=125; fi
    fi
  fi
done
ready_s=$(cat "$work/out/ready-uptime" 2>/dev/null || echo "$boot_s")
done_s=$(cat "$work/out/done-uptime" 2>/dev/null || echo "$ready_s")
printf 'run-in-uml: UML %s: kernel boot %.2f s, init set-up %.2f s, %d script(s) %.2f s (guest clock); %.2f s wall in all\n' \
  "$kver" "$boot_s" "$(awk "BEGIN{print $ready_s - $boot_s}")" "$n" \
  "$(awk "BEGIN{print $done_s - $ready_s}")" "$(awk "BEGIN{print $ended - $started}")"
if ((timed_out)); then
  echo "run-in-uml: killed the guest after ${timeout}s" >&2
  show_console
elif ((result == 125)); then
  show_console
fi
exit "$result"
