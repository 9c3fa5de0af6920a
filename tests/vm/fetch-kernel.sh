#!/bin/bash
# Puts Debian 12's own amd64 kernel (linux-image-<version>-amd64: ESP/AH/GCM,
# nf_tables with inet/ip/ip6, veth, 9p over virtio, all as modules) into a
# cache directory for run-in-vm.sh, WITHOUT installing it on the host: the
# package is fetched with `apt-get download` and unpacked with `dpkg-deb -x`,
# then `depmod -b` writes its modules.dep there. Called by scripts/setup.
#
#   fetch-kernel.sh [CACHE_DIR]   (default $NP_VM_CACHE or /var/cache/netpolicy-vm)
#
# Layout: CACHE_DIR/<version>/{boot/vmlinux-<version>,lib/modules/<version>}
# and CACHE_DIR/current -> <version>. Idempotent: a version already unpacked
# is not fetched again. Needs apt's package lists (setup runs apt-get update).
set -euo pipefail

cache=${1:-${NP_VM_CACHE:-/var/cache/netpolicy-vm}}
die() { echo "fetch-kernel: $*" >&2; exit 1; }

# The generic flavour, not -cloud-: the cloud kernel has no 9p, which the
# guest needs for its root filesystem.
meta=linux-image-amd64
package=$(apt-cache depends "$meta" 2>/dev/null |
  awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }')
[[ -n $package ]] || die "cannot resolve $meta to a kernel package (run apt-get update first)"
version=${package#linux-image-}

if [[ -f $cache/$version/lib/modules/$version/modules.dep &&
      -f $cache/$version/boot/vmlinux-$version ]]; then
  ln -sfn "$version" "$cache/current"
  exit 0
fi

mkdir -p "$cache"
download=$(mktemp -d "$cache/.download.XXXXXX")
trap 'rm -rf "$download"' EXIT
# Downloaded as root: apt's sandbox user (_apt) may not write in the cache.
fetch() { (cd "$download" && apt-get download -q -o APT::Sandbox::User=root "$package" >/dev/null); }
# Stale package lists name a version the archive may have dropped: refresh
# them once and retry.
fetch || { apt-get update -qq && fetch; } || die "apt-get download $package failed"
deb=$(echo "$download"/*.deb)
[[ -f $deb ]] || die "no .deb for $package after apt-get download"
mkdir "$download/tree"
dpkg-deb -x "$deb" "$download/tree"
[[ -f $download/tree/boot/vmlinuz-$version ]] || die "$deb has no boot/vmlinuz-$version"
# Only the kernel and its modules are needed; the rest (firmware hooks, docs)
# is dropped.
mkdir -p "$download/keep/boot" "$download/keep/lib/modules"
mv "$download/tree/boot/config-$version" "$download/keep/boot/"
# The guest boots the uncompressed ELF kernel through its PVH entry point
# (CONFIG_PVH=y): under software emulation, the bzImage's own xz
# decompressor took ~20 s of a 45 s boot on a loaded host, `xz -d` here
# takes ~1 s. The xz stream starts at its magic inside the bzImage; xz
# complains about the trailer after it, hence only the ELF check counts.
vmlinuz=$download/tree/boot/vmlinuz-$version
offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n1 | cut -d: -f1)
[[ -n $offset ]] || die "no xz stream in $vmlinuz (has Debian changed CONFIG_KERNEL_XZ?)"
tail -c "+$((offset + 1))" "$vmlinuz" | xz -dcq >"$download/keep/boot/vmlinux-$version" 2>/dev/null || true
[[ $(head -c 4 "$download/keep/boot/vmlinux-$version" | od -An -tx1 | tr -d ' ') == 7f454c46 ]] ||
  die "could not extract an ELF kernel from $vmlinuz"
mv "$download/tree/lib/modules/$version" "$download/keep/lib/modules/"
depmod -b "$download/keep" "$version" || die "depmod for $version failed"
rm -rf "${cache:?}/$version"
mv "$download/keep" "$cache/$version"
chmod -R a+rX "$cache/$version"
ln -sfn "$version" "$cache/current"
# Older kernels are no longer used (a guest boots only `current`).
for old in "$cache"/*/; do
  old=${old%/}
  [[ ${old##*/} == "$version" || -L $old ]] || rm -rf "$old"
done
echo "fetch-kernel: $package unpacked in $cache/$version"
