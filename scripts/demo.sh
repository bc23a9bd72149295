#!/usr/bin/env bash
# The demo job: generate a sample web log with the project's own generator,
# then count requests per URL and print the top 5 — once with mrsort in
# place of sort, once with GNU sort — and show that both agree.
#
#   scripts/demo.sh [SIZE]      (default 256M)
set -eu
cd "$(dirname "$0")/.."
SIZE=${1:-256M}
dir=$(mktemp -d "${TMPDIR:-/tmp}/mrpipe-demo.XXXXXX")
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/" ./cmd/mrsort ./scripts/gen
PATH=$dir:$PATH
export LC_ALL=C

echo "# generating a $SIZE nginx access log"
gen -kind logs -size "$SIZE" >"$dir/access.log"

echo "# top 5 URLs with mrsort:"
echo "#   awk '{print \$7}' access.log | mrsort | uniq -c | mrsort -k1,1nr -k2,2 | head -5"
start=$(date +%s.%N)
awk '{print $7}' "$dir/access.log" | mrsort | uniq -c | mrsort -k1,1nr -k2,2 | head -5 | tee "$dir/ours"
ours=$(echo "$(date +%s.%N) - $start" | bc)

echo "# the same with GNU sort:"
start=$(date +%s.%N)
awk '{print $7}' "$dir/access.log" | sort | uniq -c | sort -k1,1nr -k2,2 | head -5 >"$dir/gnu"
gnu=$(echo "$(date +%s.%N) - $start" | bc)

if cmp -s "$dir/ours" "$dir/gnu"; then
	printf '# identical results; mrsort pipeline %.2f s, GNU sort pipeline %.2f s\n' "$ours" "$gnu"
else
	echo "# results differ:" >&2
	diff "$dir/ours" "$dir/gnu" >&2
	exit 1
fi
