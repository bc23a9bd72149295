#!/usr/bin/env bash
# The streaming-stage targets of issue #4, measured side by side in one run
# on inputs from scripts/gen:
#
#   scripts/bench-stream.sh [SIZE]        (SIZE default 1G; e.g. 64M to try it)
#
# (a) mrmap -R 8 -o DIR --combiner sum -- mawk '{print $7"\t1"}' on a SIZE web
#     log: total CPU (user+sys, children included) against the same mawk
#     alone writing to /dev/null. Target: ratio <= 1.25.
# (b) mrpart -R 8 -o DIR (no sort) on SIZE of key/value lines: throughput
#     in MB/s (10^6 bytes) of wall time. Target: >= 800 MB/s.
# (c) mrmerge -p 0 MAP... | mrreduce sum against sort -m PART... | awk doing
#     the same per-key sum, on partition 0 of 4 map outputs of word-count
#     mapper output (SIZE of word<TAB>1 lines, cut in 4, each partitioned
#     with mrpart -R 8 --sort; S2 part files for mrmerge, the same lines as
#     plain files for sort -m). Target: speedup >= 2.
#
# Every figure is the median of RUNS (default 3) runs; for (a) the runs
# of mrmap and of mawk alternate, and the ratio is the median of each
# pair's ratio, so that the machine's drift over the minutes of the
# benchmark weighs on both sides alike. The work directory
# lives under ${TMPDIR:-/tmp} and is removed at the end. Needs mawk
# (apt-get install -y mawk); GNU time at /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1G}
RUNS=${RUNS:-3}
A_RUNS=$RUNS # (a) sets RUNS=1 for each of its pairs
export LC_ALL=C

if ! command -v mawk >/dev/null; then
	echo "bench-stream: mawk is missing (apt-get install -y mawk); the targets are defined against mawk, not gawk" >&2
	exit 2
fi
if [ ! -x /usr/bin/time ]; then
	echo "bench-stream: GNU time (/usr/bin/time) is missing (apt-get install -y time)" >&2
	exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mrpipe-bench-stream.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
BIN=$WORK/bin
mkdir -p "$BIN"
go build -o "$BIN/" ./cmd/... ./scripts/gen

# timed CMD...: runs CMD once (stdin from $STDIN, default /dev/null;
# stdout to /dev/null); prints "wall cpu" where cpu is user+sys of CMD
# and its children.
timed() {
	local tf=$WORK/time.out
	/usr/bin/time -o "$tf" -f '%e %U %S' "$@" <"${STDIN:-/dev/null}" >/dev/null
	awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$tf"
}

# median [-clean DIR] CMD...: runs it RUNS times, removing DIR (an output
# directory) before each run and syncing, untimed, so a run does not pay
# for freeing the previous run's files or writing them back to disk;
# prints "median_wall median_cpu".
median() {
	local walls=() cpus=() w c clean=
	if [ "$1" = -clean ]; then
		clean=$2
		shift 2
	fi
	for ((i = 0; i < RUNS; i++)); do
		[ -z "$clean" ] || { rm -rf "$clean" && sync; }
		read -r w c < <(timed "$@")
		walls+=("$w")
		cpus+=("$c")
	done
	local mid=$(((RUNS + 1) / 2))
	printf '%s %s\n' "$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "${mid}p")" \
		"$(printf '%s\n' "${cpus[@]}" | sort -g | sed -n "${mid}p")"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo "bench-stream: SIZE=$SIZE, median of $RUNS, $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN/gen" -kind logs -size "$SIZE" >"$WORK/logs"
"$BIN/gen" -kind kv -size "$SIZE" >"$WORK/kv"
# gen cuts the last line to make the size exact: drop it, so every word
# line has its count.
"$BIN/gen" -kind words -size "$SIZE" | sed '$d' >"$WORK/words"

# warm FILE...: reads the files once, so that the timed runs find them in
# the page cache: a machine may page out files unused for a minute (this
# one does, with proactive reclaim), and reading them back from disk cost
# more system time than partitioning them.
warm() { cat "$@" >/dev/null; }

# (a) the map side of a job against its mapper alone.
warm "$WORK/logs"
MAPPER='{print $7"\t1"}'
read -r am_w am_c aw_w aw_c a_ratio < <(
	RUNS=1
	for ((j = 0; j < A_RUNS; j++)); do
		read -r mw mc < <(STDIN=$WORK/logs median -clean "$WORK/a.out" "$BIN/mrmap" -R 8 -o "$WORK/a.out" --combiner sum -- mawk "$MAPPER")
		read -r ww wc < <(STDIN=$WORK/logs median mawk "$MAPPER")
		echo "$mw $mc $ww $wc"
	done | awk '{ mw[NR] = $1; mc[NR] = $2; ww[NR] = $3; wc[NR] = $4; r[NR] = ($4 > 0 ? $2 / $4 : 0) }
		function med(a, n,   i, j, t, b) { for (i = 1; i <= n; i++) b[i] = a[i]
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
			return b[int((n + 1) / 2)] }
		END { printf "%.3f %.3f %.3f %.3f %.2f\n", med(mw, NR), med(mc, NR), med(ww, NR), med(wc, NR), med(r, NR) }')

# (b) partitioning throughput.
kvbytes=$(stat -c %s "$WORK/kv")
warm "$WORK/kv"
read -r b_w b_c < <(median -clean "$WORK/b.out" "$BIN/mrpart" -R 8 -o "$WORK/b.out" "$WORK/kv")
b_mbs=$(awk -v n="$kvbytes" -v t="$b_w" 'BEGIN { printf "%.0f", n / t / 1e6 }')

# (c) the reduce side: merge partition 0 of 4 map outputs and sum per key.
split -n l/4 -d "$WORK/words" "$WORK/chunk."
maps=() plain=()
for c in "$WORK"/chunk.*; do
	i=${c##*.}
	"$BIN/mrpart" -R 8 --sort -o "$WORK/map.$i" "$c"
	"$BIN/mrpart" -R 8 --sort --compress none -o "$WORK/plain.$i" "$c"
	maps+=("$WORK/map.$i")
	plain+=("$WORK/plain.$i/part-00000")
	rm "$c"
done
AWKSUM='BEGIN { FS = OFS = "\t" } NR > 1 && $1 != k { print k, s; s = 0 } { k = $1; s += $2 } END { if (NR > 0) print k, s }'
ours="\"$BIN/mrmerge\" -p 0 ${maps[*]} | \"$BIN/mrreduce\" sum"
theirs="sort -m ${plain[*]} | mawk '$AWKSUM'"
if ! cmp -s <(bash -c "$ours") <(bash -c "$theirs"); then
	echo "bench-stream: mrmerge | mrreduce sum and sort -m | mawk differ" >&2
	exit 1
fi
in_c=$(cat "${plain[@]}" | wc -c) # which reads them into the cache too
warm "${maps[@]/%//part-00000}"
read -r cm_w cm_c < <(median bash -c "$ours")
read -r cs_w cs_c < <(median bash -c "$theirs")

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%-44s %9s %9s %9s %s\n' "measure" "ours" "anchor" "ratio" "target"
printf '%-44s %8.2fs %8.2fs %9s %s\n' "(a) mrmap -R 8 --combiner sum, CPU user+sys" "$am_c" "$aw_c" "$a_ratio" "<= 1.25 (mrmap/mawk, median of pairs)"
printf '%-44s %8.2fs %8.2fs %9s %s\n' "    wall" "$am_w" "$aw_w" "$(ratio "$am_w" "$aw_w")" ""
printf '%-44s %7sMB/s %8.2fs %9s %s\n' "(b) mrpart -R 8 (no sort), $kvbytes bytes" "$b_mbs" "$b_w" "" ">= 800 MB/s (wall; CPU ${b_c}s)"
printf '%-44s %8.2fs %8.2fs %9s %s\n' "(c) mrmerge -p 0 | mrreduce sum, wall" "$cm_w" "$cs_w" "$(ratio "$cs_w" "$cm_w")x" ">= 2x faster than sort -m | mawk ($in_c bytes)"
printf '%-44s %8.2fs %8.2fs %9s %s\n' "    CPU user+sys" "$cm_c" "$cs_c" "$(ratio "$cs_c" "$cm_c")x" ""
