#!/usr/bin/env bash
# fuzz.sh — run every Go fuzz target of Kargo, one after the other, each for FUZZTIME
# (default 10s, what CI runs through scripts/test.sh). For a longer hunt:
#   FUZZTIME=10m bash scripts/fuzz.sh
# New failing inputs are saved under <package>/testdata/fuzz/<target>/ and then replayed by
# every plain `go test` run: commit them with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
fuzztime="${FUZZTIME:-10s}"
# One worker per target: the machine's cores are shared with the rest of the suite.
parallel="${FUZZPARALLEL:-1}"
found=0
while IFS=: read -r file target; do
  pkg="./$(dirname "$file")/"
  echo "fuzz.sh: $target in $pkg for $fuzztime"
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -parallel "$parallel" "$pkg"
  found=$((found + 1))
done < <(grep -r -o -E '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' . | sed -E 's#^\./##; s#:func #:#' | sort)
[ "$found" -gt 0 ] || { echo "fuzz.sh: no fuzz target found" >&2; exit 1; }
