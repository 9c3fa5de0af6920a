#!/usr/bin/env bash
# Every golden nft file (tests/unit/data/golden/*.nft) is real nft syntax:
# `nft -f` loads it, and `nft list table` then shows the same sets, maps and
# chains, with the same elements and the same rules (counted, and by
# comment). Each file runs in a fresh network namespace of our own; nft
# never runs in the host's namespace.
set -euo pipefail

source_dir=${NETPOLICY_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
golden_dir=$source_dir/tests/unit/data/golden
ns=np-golden-$$
work=$(mktemp -d)

cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[[ $(id -u) -eq 0 ]] || fail "needs root (network namespaces, nft)"
command -v nft >/dev/null || fail "nft is not installed"

shopt -s nullglob
goldens=("$golden_dir"/*.nft)
((${#goldens[@]} > 0)) || fail "no golden files in $golden_dir"

in_ns() { ip netns exec "$ns" "$@"; }

# "set NAME", "map NAME", "chain NAME" for every object of the table text.
objects() { sed -nE 's/^\t(set|map|chain) ([^ ]+) \{$/\1 \2/p' "$1" | sort; }

# "NAME: ELEMENT" per element of every set and map, joining the
# continuation lines `nft list` wraps long element lists onto. Sorted: the
# kernel lists a map's (hash) elements in its own order. A trailing literal
# '*' of an interface name is written "\*" but nft 1.0.6 lists map keys
# unescaped: compare the listed form.
elements() {
  awk '
    /^\t(set|map) / { name = $2; next }
    /^\t\telements = \{/ { collecting = 1; text = "" }
    collecting {
      line = $0; sub(/^[ \t]+/, "", line); text = text " " line
      if (line ~ /\}$/) {
        collecting = 0
        sub(/^ *elements = \{ */, "", text); sub(/ *\} *$/, "", text)
        n = split(text, parts, /, */)
        for (i = 1; i <= n; i++) print name ": " parts[i]
      }
    }' "$1" | sed 's/\\\*" :/*" :/g' | sort
}

# "CHAIN: COMMENT" per rule (an empty comment for rules without one), in
# chain order: the kernel's rules must be ours, in our order.
rules() {
  awk '
    /^\tchain / { chain = $2; next }
    /^\t\}/ { chain = ""; next }
    chain != "" && /^\t\t/ && !/^\t\ttype filter hook/ {
      comment = ""
      if (match($0, /comment "[^"]*"$/)) comment = substr($0, RSTART + 9, RLENGTH - 10)
      print chain ": " comment
    }' "$1"
}

compare() {  # what, golden listing, kernel listing
  if ! diff -u "$2" "$3" >"$work/diff"; then
    cat "$work/diff" >&2
    fail "$1 differ for $(basename "$golden")"
  fi
}

for golden in "${goldens[@]}"; do
  name=$(basename "$golden" .nft)
  table=$(sed -nE 's/^table inet ([^ ]+) \{$/\1/p' "$golden")
  [[ -n $table ]] || fail "$name: no 'table inet NAME {' line"

  ip netns add "$ns"
  in_ns nft -f "$golden" || fail "nft -f rejected $golden"
  # A replace script must also swap a table that already exists.
  if grep -q '^delete table' "$golden"; then
    in_ns nft -f "$golden" || fail "nft -f of $golden failed on an existing table"
  fi
  in_ns nft list table inet "$table" >"$work/listed" || fail "$name: table inet $table missing"

  objects "$golden" >"$work/want_objects"
  objects "$work/listed" >"$work/got_objects"
  [[ -s $work/want_objects ]] || [[ $name == nft_text_replace ]] || fail "$name: no objects parsed"
  compare "sets, maps and chains" "$work/want_objects" "$work/got_objects"

  elements "$golden" >"$work/want_elements"
  elements "$work/listed" >"$work/got_elements"
  compare "set and map elements" "$work/want_elements" "$work/got_elements"

  rules "$golden" >"$work/want_rules"
  rules "$work/listed" >"$work/got_rules"
  compare "rules" "$work/want_rules" "$work/got_rules"

  echo "ok: $name ($(wc -l <"$work/want_objects") objects, $(wc -l <"$work/want_elements") elements, $(wc -l <"$work/want_rules") rules)"
  ip netns del "$ns"
done
echo "PASS: ${#goldens[@]} golden files load with nft -f"
