#!/usr/bin/env bash
# `cmake --install` puts binaries, unit, catalog, tmpfiles entry, example
# policy, man pages and bash completion in the standard places, both with
# `--prefix DIR` (everything under DIR) and with DESTDIR; an existing policy
# is never overwritten; what it installs works where it lands (systemd finds
# the unit, man the pages, bash the completion).
source "$(dirname "$0")/lib.sh"

command -v cmake >/dev/null || fail "cmake missing"
prefix_configured=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$NP_BUILD/CMakeCache.txt")
[[ -n $prefix_configured ]] || fail "no CMAKE_INSTALL_PREFIX in $NP_BUILD/CMakeCache.txt"

# What belongs where, relative to an install prefix (GNUInstallDirs, and the
# directories systemd.pc and bash-completion.pc name under /usr).
expected=(
  sbin/netpolicyd
  sbin/netpolicyctl
  lib/systemd/system/netpolicyd.service
  lib/systemd/catalog/netpolicyd.catalog
  lib/tmpfiles.d/netpolicyd.conf
  share/man/man8/netpolicyd.8
  share/man/man8/netpolicyctl.8
  share/man/man5/netpolicy.yaml.5
  share/bash-completion/completions/netpolicyctl
  share/doc/netpolicyd/examples/central-url.conf
)

# install LOG ARGS...: cmake --install with the manifest it writes checked.
install_into() {
  local log=$1
  shift
  cmake --install "$NP_BUILD" "$@" >"$log" 2>&1 || fail "cmake --install $* failed:
$(cat "$log")"
}

# --- 1. --prefix DIR: everything under DIR, nothing elsewhere -------------------
P=$NP_TMP/prefix
install_into "$NP_TMP/prefix.log" --prefix "$P"
for f in "${expected[@]}" etc/netpolicy/policy.yaml; do
  [[ -f $P/$f ]] || fail "--prefix install: $P/$f missing; installed:
$(cd "$P" && find . -type f | sort)"
done
ok "--prefix install: all ${#expected[@]} files and etc/netpolicy/policy.yaml under $P"
# From this run's own log: install_manifest.txt in the build directory is
# shared with any other install running at the same time.
installed=$(sed -n 's/^-- \(Installing\|Up-to-date\): //p' "$NP_TMP/prefix.log")
assert_eq "files the --prefix install reported" "$((${#expected[@]} + 1))" \
  "$(grep -c . <<<"$installed")"
assert_eq "files installed outside $P" "" "$(grep -v "^$P/" <<<"$installed" || true)"
assert_eq "installed policy is examples/policy.yaml" \
  "$(sha256sum <"$NP_SOURCE/examples/policy.yaml")" "$(sha256sum <"$P/etc/netpolicy/policy.yaml")"
assert_eq "installed netpolicyd is the built one" "$(sha256sum <"$NP_DAEMON")" \
  "$(sha256sum <"$P/sbin/netpolicyd")"

# --- 2. DESTDIR with the configured prefix -------------------------------------------
D=$NP_TMP/destdir
DESTDIR=$D install_into "$NP_TMP/destdir.log"
# GNUInstallDirs keeps the configuration of the /usr prefix in /etc.
if [[ $prefix_configured == /usr ]]; then etc=/etc; else etc=$prefix_configured/etc; fi
for f in "${expected[@]}"; do
  [[ -f $D$prefix_configured/$f ]] || fail "DESTDIR install: $D$prefix_configured/$f missing"
done
[[ -f $D$etc/netpolicy/policy.yaml ]] || fail "DESTDIR install: $D$etc/netpolicy/policy.yaml missing"
ok "DESTDIR install: all files under $D$prefix_configured, policy in $D$etc/netpolicy"

# The unit starts the binary where it was installed.
assert_match "installed unit's ExecStart" \
  "^ExecStart=$prefix_configured/sbin/netpolicyd( --config $etc/netpolicy/policy.yaml)?\$" \
  "$(grep '^ExecStart=' "$D$prefix_configured/lib/systemd/system/netpolicyd.service")"

# --- 3. an administrator's policy survives a reinstall --------------------------------
printf 'version: 1\n# the administrator'\''s own policy\n' >"$D$etc/netpolicy/policy.yaml"
DESTDIR=$D install_into "$NP_TMP/reinstall.log"
assert_eq "policy after reinstall" "version: 1
# the administrator's own policy" "$(cat "$D$etc/netpolicy/policy.yaml")"
assert_contains "reinstall log" "Keeping existing policy: $D$etc/netpolicy/policy.yaml" \
  "$(cat "$NP_TMP/reinstall.log")"

# --- 4. installed files work where they are -----------------------------------------
# systemd looks for units in <prefix>/lib/systemd/system: found by name
# under the installed tree as root.
if [[ $prefix_configured == /usr || $prefix_configured == /usr/local ]]; then
  out=$(systemd-analyze security --offline=yes --root="$D" netpolicyd.service 2>&1) ||
    fail "systemd-analyze does not find netpolicyd.service under $D:
$out"
  assert_match "unit found by name in the installed tree" \
    'Overall exposure level for netpolicyd.service: [0-9.]+' "$out"
fi

# The tmpfiles.d entry, applied to an empty root as systemd-tmpfiles would
# at boot: the directories netpolicyd uses, private to root where they hold
# state.
T=$NP_TMP/tmpfiles-root
mkdir -p "$T"
systemd-tmpfiles --create --root="$T" "$P/lib/tmpfiles.d/netpolicyd.conf" ||
  fail "systemd-tmpfiles rejects $P/lib/tmpfiles.d/netpolicyd.conf"
assert_eq "directories systemd-tmpfiles creates" \
  "755 root /etc/netpolicy
700 root /var/lib/netpolicy" \
  "$(cd "$T" && find etc/netpolicy var/lib/netpolicy -printf '%m %u /%p\n' | sort -k3)"

for page in netpolicyd.8 netpolicyctl.8 netpolicy.yaml.5; do
  name=${page%.*}
  where=$(MANPATH=$P/share/man man -w "$name" 2>&1) || fail "man -w $name: $where"
  assert_eq "man finds $name" "$P/share/man/man${page##*.}/$page" "$where"
  text=$(MANPATH=$P/share/man MANWIDTH=80 man -P cat "$name" 2>&1)
  assert_match "man $name renders its NAME section" "NAME.*$name" "$(tr '\n' ' ' <<<"$text")"
done

# bash completion, as bash-completion loads it: the installed file, sourced.
mkdir -p "$NP_TMP/cwd"
touch "$NP_TMP/cwd/site.yaml" "$NP_TMP/cwd/notes.txt"
completions=$(cd "$NP_TMP/cwd" && bash -c '
  source /usr/share/bash-completion/bash_completion
  source "$1"
  complete_words() {
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
    _netpolicyctl netpolicyctl "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
    if ((${#COMPREPLY[@]})); then
      printf "%s\n" "${COMPREPLY[@]}" | sort | paste -sd " "
    else
      echo "<none>"
    fi
  }
  complete_words netpolicyctl ""
  complete_words netpolicyctl ch
  complete_words netpolicyctl check ""
  complete_words netpolicyctl --json export ""
  complete_words netpolicyctl rules ""
  complete_words netpolicyctl check site.yaml ""
' _ "$P/share/bash-completion/completions/netpolicyctl")
assert_same_text "netpolicyctl completions" "check diff export interfaces reload rules status
check
site.yaml
site.yaml
<none>
<none>" "$completions"
