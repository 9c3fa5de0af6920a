#!/usr/bin/env bash
# 10k protect selectors: XfrmBackend alone, the whole apply (compile + XFRM
# + nft) and `ip -batch` with the same policies, same run, each in a fresh
# network namespace of the bench process (never the host's XFRM state).
# Usage: tests/bench/xfrm_apply_bench.sh [BUILD_DIR] [COUNT (policies = 2 x COUNT)]
# Two shapes: COUNT peers with one port (hosts) and one peer with COUNT ports
# (ports: the kernel's own cost is quadratic there, see the .cpp).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
count=${2:-5000}
[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces)" >&2; exit 1; }
bin=$(mktemp /tmp/np-xfrm-bench.XXXXXX)
trap 'rm -f "$bin"' EXIT
g++ -std=c++20 -O2 -I"$src" -o "$bin" "$src/tests/bench/xfrm_apply_bench.cpp" \
  "$build/policy/libnetpolicy_policy.a" "$build/filter/libnetpolicy_filter.a" \
  "$build/filter/libnetpolicy_filter_model.a" "$build/base/libnetpolicy_base.a" \
  -lnftnl -lmnl -lyaml-cpp -lcrypto
for run in 1 2 3; do
  for shape in hosts ports; do echo "# run $run"; "$bin" "$count" "$shape"; done
done
