#!/bin/bash
# Root test: one boot of the test VM (QEMU with Debian 12's own kernel: ESP,
# AH, GCM and nftables inet together; see tests/vm/README.md) runs every job
# in tests/vm/jobs/*.sh, in name order: ESP between two namespaces, nftables
# inet, netpolicyd applying its policy, the strongSwan interop, and whatever
# job is added there. It fails, never skips, when the VM cannot run:
# run-in-vm.sh exits 125 then (124 on timeout).
# NP_VM_JOBS="esp_probe nft_inet" runs only the jobs named (without .sh).
set -euo pipefail
source_dir=${NETPOLICY_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
args=()
if [[ -n ${NP_VM_JOBS:-} ]]; then
  for name in $NP_VM_JOBS; do args+=("$source_dir/tests/vm/jobs/$name.sh" ---); done
else
  for job in "$source_dir"/tests/vm/jobs/*.sh; do args+=("$job" ---); done
fi
((${#args[@]})) || { echo "vm_test: no job in $source_dir/tests/vm/jobs" >&2; exit 1; }
unset 'args[-1]'
# Below ctest's limit for this test (tests/integration/CMakeLists.txt) so the
# harness, not ctest, ends a stuck guest and shows its console.
exec bash "$source_dir/tests/vm/run-in-vm.sh" --timeout "${NP_VM_TIMEOUT:-540}" "${args[@]}"
