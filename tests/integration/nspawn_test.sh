#!/usr/bin/env bash
# Real systemd as PID 1 managing the real unit. systemd-nspawn boots the
# host's own systemd 252 in a container whose root is a non-recursive bind of
# the host's / under a tmpfs overlay (--volatile=overlay: every write of the
# booted system lands in tmpfs, so its boot-time cleanups cannot touch the
# host), with a private network, no registration with machined, and a cgroup
# of its own. The boot runs tests/integration/nspawn_inside.sh as its
# systemd.run= command: it installs what `cmake --install` staged, then
# `systemctl start/reload/stop netpolicyd` with traffic, kernel and journal
# checks (see that file). Its status is the container's exit status.
source "$(dirname "$0")/lib.sh"

command -v systemd-nspawn >/dev/null || fail "systemd-nspawn missing (package systemd-container)"
command -v cmake >/dev/null || fail "cmake missing"
# lib.sh already put tmpfs on /run/systemd in this test's own mount
# namespace: nspawn keeps its runtime state there, not in the host's.
findmnt -n -o FSTYPE /run/systemd | grep -qx tmpfs || fail "/run/systemd is not a private tmpfs"

# --- what the container installs: the real install rules, staged --------------------
STAGE=$NP_TMP/stage
DESTDIR=$STAGE cmake --install "$NP_BUILD" >"$NP_TMP/install.log" 2>&1 ||
  fail "cmake --install failed: $(cat "$NP_TMP/install.log")"
mkdir -p "$NP_TMP/results"
cp "$NP_SOURCE/tests/integration/nspawn_inside.sh" "$NP_TMP/inside.sh"
chmod 0755 "$NP_TMP/inside.sh"

# --- the container's root: the host's / alone, never its other mounts ----------------
# Outside $NP_TMP, whose cleanup is an rm -rf; and read-only, so nothing can
# write to the host through it even by mistake (the overlay's upper layer
# takes every write of the container).
ROOT=$(mktemp -d "/tmp/np-nspawn-root-$NP_ID.XXXXXX")
mount --bind / "$ROOT"   # not --rbind: /proc, /sys, /dev, /run/netns... stay out
mount -o remount,bind,ro "$ROOT"

# --- a cgroup of its own (hybrid hierarchy here: name=systemd v1 + cgroup2) -----------
CGROUP=np-nspawn-$NP_ID-$RANDOM
fs_type() { stat -f -c %T "$1" 2>/dev/null || true; }
if [[ $(fs_type /sys/fs/cgroup) == cgroup2fs ]]; then
  hierarchies=(/sys/fs/cgroup)
else
  hierarchies=()
  [[ $(fs_type /sys/fs/cgroup/unified) == cgroup2fs ]] && hierarchies+=(/sys/fs/cgroup/unified)
  [[ $(fs_type /sys/fs/cgroup/systemd) == cgroupfs ]] && hierarchies+=(/sys/fs/cgroup/systemd)
fi
cgroup_dirs=()
for hierarchy in "${hierarchies[@]}"; do
  mkdir "$hierarchy/$CGROUP"
  cgroup_dirs+=("$hierarchy/$CGROUP")
done
((${#cgroup_dirs[@]} > 0)) || fail "no cgroup hierarchy to give the container a cgroup in"

nspawn_cleanup() {
  local d
  mountpoint -q "$ROOT" && umount "$ROOT"
  mountpoint -q "$ROOT" || rmdir "$ROOT"
  # Depth first: nspawn and the container's systemd made cgroups inside ours.
  for d in "${cgroup_dirs[@]}"; do
    [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}
# Then lib.sh's own cleanup, with the test's status in $? as it expects
# (no ERR trap or errexit here: `(exit 1)` would end the shell before it).
trap 'status=$?; trap - ERR; set +e; nspawn_cleanup; (exit $status); np_cleanup' EXIT

np_note "booting systemd in a container (root overlay on $ROOT, cgroup $CGROUP)"
start=$SECONDS
status=0
(
  for d in "${cgroup_dirs[@]}"; do echo 0 >"$d/cgroup.procs"; done
  exec timeout --kill-after=10 180 systemd-nspawn --quiet \
    --directory="$ROOT" --volatile=overlay --private-network \
    --register=no --keep-unit --setenv=SYSTEMD_COLORS=0 \
    --bind-ro="$STAGE:/np/stage" --bind-ro="$NP_TMP/inside.sh:/np/inside.sh" \
    --bind="$NP_TMP/results:/np/results" \
    --boot systemd.run=/np/inside.sh
) >"$NP_TMP/console.log" 2>&1 || status=$?
np_note "container exited with status $status after $((SECONDS - start)) s"

np_on_failure() {
  echo "--- container console (last 60 lines):"
  tail -n 60 "$NP_TMP/console.log"
}
[[ -s $NP_TMP/results/log ]] || fail "the test inside the container wrote no log (status $status)"
sed 's/^/    /' "$NP_TMP/results/log"
assert_eq "status of the test inside the container" 0 "$status"
assert_contains "log of the test inside the container" "ALL CHECKS PASSED" \
  "$(cat "$NP_TMP/results/log")"
