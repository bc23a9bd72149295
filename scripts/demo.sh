#!/usr/bin/env bash
# The demo job: generate a sample web log with the project's own generator,
# then find its top 5 URLs — first as an mrrun job (map, combine, shuffle,
# reduce on every core) beside the equivalent shell pipeline, then with
# mrsort in place of sort in that pipeline — and show that all agree.
#
#   scripts/demo.sh [SIZE]      (default 256M)
set -eu
cd "$(dirname "$0")/.."
SIZE=${1:-256M}
dir=$(mktemp -d "${TMPDIR:-/tmp}/mrpipe-demo.XXXXXX")
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/" ./cmd/mrrun ./cmd/mrsort ./scripts/gen
PATH=$dir:$PATH
export LC_ALL=C
awk=awk
command -v mawk >/dev/null && awk=mawk

elapsed() { echo "$(date +%s.%N) - $1" | bc; }

echo "# generating a $SIZE nginx access log"
gen -kind logs -size "$SIZE" >"$dir/access.log"

echo "# top 5 URLs as an mrrun job:"
echo "#   mrrun -input access.log -output top -mapper \"$awk '{print \\\$7\\\"\\t1\\\"}'\" -combiner sum -reducer sum -numReduceTasks 2"
echo "#   sort -t\$'\\t' -k2,2nr -k1,1 top/part-* | head -5"
start=$(date +%s.%N)
mrrun -q -input "$dir/access.log" -output "$dir/top" -mapper "$awk '{print \$7\"\t1\"}'" -combiner sum -reducer sum -numReduceTasks 2
sort -t"$(printf '\t')" -k2,2nr -k1,1 "$dir"/top/part-* | head -5 | awk -F'\t' '{printf "%7d %s\n", $2, $1}' | tee "$dir/job"
job=$(elapsed "$start")

echo "# the same with the shell pipeline:"
echo "#   $awk '{print \$7}' access.log | sort | uniq -c | sort -k1,1nr -k2,2 | head -5"
start=$(date +%s.%N)
$awk '{print $7}' "$dir/access.log" | sort | uniq -c | sort -k1,1nr -k2,2 | head -5 >"$dir/gnu"
gnu=$(elapsed "$start")

echo "# and the pipeline with mrsort in place of sort:"
echo "#   $awk '{print \$7}' access.log | mrsort | uniq -c | mrsort -k1,1nr -k2,2 | head -5"
start=$(date +%s.%N)
$awk '{print $7}' "$dir/access.log" | mrsort | uniq -c | mrsort -k1,1nr -k2,2 | head -5 >"$dir/ours"
ours=$(elapsed "$start")

if cmp -s "$dir/job" "$dir/gnu" && cmp -s "$dir/ours" "$dir/gnu"; then
	printf '# identical results: mrrun job %.2f s, shell pipeline %.2f s, pipeline with mrsort %.2f s\n' "$job" "$gnu" "$ours"
else
	echo "# results differ:" >&2
	diff "$dir/job" "$dir/gnu" >&2 || true
	diff "$dir/ours" "$dir/gnu" >&2 || true
	exit 1
fi
