#!/usr/bin/env bash
# mrsplit benchmarks (issue targets), measured side by side in one run:
#
#   scripts/bench-split.sh [SIZE]
#
# 1. Planning 1000 splits of a 4 GiB file (a sparse file; planning reads no
#    data): BenchmarkPlan in split/, in ms per plan. Target <= 10 ms.
# 2. mrsplit -n 2 --filter 'cat >/dev/null' vs GNU split -n l/2 --filter
#    'cat >/dev/null' over a page-cached log of SIZE (default 1G) from
#    scripts/gen; also mrsplit -n l/2 and mrsplit -n 8 -j 2. Median wall
#    time of RUNS (default 5) rounds, the commands interleaved in each
#    round. Targets: mrsplit -n 2 <= 1.1 x GNU; -n 8 -j 2 <= -n 2.
#
# The input lives in $BENCH_DIR (default ${TMPDIR:-/tmp}/mrpipe-bench) and
# is kept between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1G}
RUNS=${RUNS:-5}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/mrpipe-bench}
mkdir -p "$BENCH_DIR/bin"
BIN=$BENCH_DIR/bin
go build -o "$BIN/" ./cmd/mrsplit ./scripts/gen
export LC_ALL=C

echo "== planning 1000 splits of a 4 GiB file"
ns=$(go test -run '^$' -bench '^BenchmarkPlan$' -benchtime 200x ./split/ | awk '/^BenchmarkPlan/ {print $3}')
awk -v ns="$ns" 'BEGIN { printf "Plan: %.3f ms (target <= 10 ms)\n", ns / 1e6 }'

in=$BENCH_DIR/logs-$SIZE
[ -s "$in" ] || "$BIN/gen" -kind logs -size "$SIZE" >"$in"
cat "$in" >/dev/null # into the page cache
echo "== --filter 'cat >/dev/null' over $in ($(stat -c %s "$in") bytes), median of $RUNS"

now() { date +%s.%N; }
names=(gnu_l2 mr_n2 mr_l2 mr_n8j2)
cmds=(
	"split -n l/2 --filter 'cat >/dev/null' '$in'"
	"'$BIN/mrsplit' -n 2 --filter 'cat >/dev/null' '$in'"
	"'$BIN/mrsplit' -n l/2 --filter 'cat >/dev/null' '$in'"
	"'$BIN/mrsplit' -n 8 -j 2 --filter 'cat >/dev/null' '$in'"
)
declare -A times
for ((r = 0; r < RUNS; r++)); do
	for i in "${!cmds[@]}"; do
		t0=$(now)
		(cd "$BENCH_DIR" && eval "${cmds[$i]}")
		t1=$(now)
		times[${names[$i]}]+="$(echo "$t1 - $t0" | bc) "
	done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A med
for n in "${names[@]}"; do
	med[$n]=$(echo "${times[$n]}" | median)
done
printf '%-44s %8s %8s\n' command "median s" "vs GNU"
for i in "${!cmds[@]}"; do
	n=${names[$i]}
	label=${cmds[$i]//$BIN\//}
	label=${label//$in/IN}
	printf '%-44s %8.3f %8.2f\n' "$label" "${med[$n]}" "$(echo "${med[$n]} / ${med[gnu_l2]}" | bc -l)"
done
printf 'mrsplit -n 2 / GNU -n l/2: %.2f (target <= 1.10)\n' "$(echo "${med[mr_n2]} / ${med[gnu_l2]}" | bc -l)"
printf 'mrsplit -n 8 -j 2 / mrsplit -n 2: %.2f (target <= 1.00)\n' "$(echo "${med[mr_n8j2]} / ${med[mr_n2]}" | bc -l)"
