#!/bin/bash
# The root gtests of the manual-SA backend (tests/integration/
# xfrm_sa_backend_test.cpp) on a kernel with ESP: key readback, an
# administrator's SA refused and untouched, re-keying, deletion of ours
# only, and a refused reqid change undone (disabled on the host, whose
# kernel has no ESP). Here every one of them must run and pass.
source "$(dirname "$0")/../job-lib.sh"

binary=$NETPOLICY_BUILD/tests/integration/root_tests
[[ -x $binary ]] || fail "no $binary (build the root tests first)"
step "root_tests --gtest_filter='XfrmSaBackend.*' --gtest_also_run_disabled_tests"
out=$("$binary" --gtest_filter='XfrmSaBackend.*' --gtest_also_run_disabled_tests 2>&1) ||
  fail "XfrmSaBackend tests failed:
$out"
echo "$out" | grep -E '^\[ +(OK|SKIPPED|FAILED|PASSED) +\]|this kernel'
[[ $out != *"[  SKIPPED ]"* ]] || fail "a test was skipped on a kernel with ESP"
[[ $out == *"[  PASSED  ] 2 tests."* ]] || fail "expected both XfrmSaBackend tests to run and pass"
[[ $out == *"this kernel takes ESP SAs"* ]] || fail "the guest's kernel refused ESP SAs"
ok "XfrmSaBackend tests passed on a kernel with ESP"
