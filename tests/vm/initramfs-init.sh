#!/bin/busybox sh
# shellcheck shell=dash
# /init of the guest's initramfs, built by run-in-vm.sh at every run from
# busybox-static and the few modules listed in /modules/order (9p and virtio,
# which Debian's kernel has as modules). It mounts the host's root
# filesystem, shared read-only over 9p (tag "root"), gives it a private tmpfs
# /run holding the results share (tag "out") and the guest's own scripts, and
# hands over to /run/np-vm/bin/init.sh. Never the host's init.
/bin/busybox mkdir -p /proc /sys /dev /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev

fail() {
  echo "vm-initramfs: $*" >/dev/console
  # reboot with -no-reboot ends QEMU at once.
  /bin/busybox reboot -f
}

while read -r module; do
  /bin/busybox insmod "/modules/$module" || fail "cannot load $module"
done </modules/order

# cache=loose: the root is read-only and the run short, so the guest may keep
# what it read (every exec would otherwise go back to the host over 9p).
options=trans=virtio,version=9p2000.L,msize=524288
/bin/busybox mount -t 9p -o "ro,cache=loose,$options" root /newroot ||
  fail "cannot mount the host's root filesystem (9p tag root)"
/bin/busybox mount -t tmpfs -o mode=755 tmpfs /newroot/run || fail "cannot mount tmpfs on /run"
/bin/busybox mkdir -p /newroot/run/np-vm/bin /newroot/run/np-vm/out
/bin/busybox mount -t 9p -o "$options" out /newroot/run/np-vm/out ||
  fail "cannot mount the results directory (9p tag out)"
/bin/busybox cp /guest/* /newroot/run/np-vm/bin/ || fail "cannot copy the guest scripts"
/bin/busybox mount --move /dev /newroot/dev || fail "cannot move /dev"
/bin/busybox umount /proc
exec /bin/busybox switch_root /newroot /run/np-vm/bin/init.sh
