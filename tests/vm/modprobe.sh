#!/bin/busybox sh
# shellcheck shell=dash
# The guest's kernel.modprobe helper (set by init.sh), also first in PATH as
# `modprobe`. The kernel runs it as `modprobe -q -- <alias>` with a bare
# environment whenever it needs a module (xfrm_user, esp4, gcm, nf_tables,
# veth, ...). The guest kernel's modules are not in the host's /lib/modules
# but in tests/vm/fetch-kernel.sh's cache, which init.sh binds under
# /run/np-vm/modroot/lib/modules. Each request is logged so a test can tell
# what was loaded on demand.
#
# Static busybox runs this, not a dynamically linked shell: under emulation
# every exec of a dynamic program costs ~0.3-0.7 s, and the first IPsec SA
# makes the kernel ask for ~30 names. Names with parentheses are crypto
# instances ("crypto-rfc4106(gcm(aes))", "crypto-gcm(aes)-all"): no module
# carries such an alias in Debian's 6.1 kernel (checked in modules.alias),
# so they are answered "not found" at once; the kernel then asks for the
# templates by plain name ("crypto-gcm"), which modprobe loads.
for name; do :; done
echo "$*" >>/run/np-vm/modprobe.log 2>/dev/null
case $name in
  crypto-*\(*) exit 1 ;;
esac
exec /sbin/modprobe -d /run/np-vm/modroot "$@"
