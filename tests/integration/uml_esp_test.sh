#!/bin/bash
# Root test: ESP carries IPv4 and IPv6 traffic between two namespaces, run
# inside Debian's User-Mode-Linux kernel because the host kernel may lack ESP
# (see tests/uml/README.md). It fails, never skips, when UML cannot boot:
# run-in-uml.sh exits 125 then.
set -euo pipefail
source_dir=${NETPOLICY_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
# Below ctest's 300 s so the harness, not ctest, ends a stuck guest and
# shows its console.
exec bash "$source_dir/tests/uml/run-in-uml.sh" --timeout 280 "$source_dir/tests/uml/esp_probe.sh"
