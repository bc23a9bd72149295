#!/usr/bin/env bash
# The targets of mrrun's local mode, measured side by side in one run on
# web logs from scripts/gen:
#
#   scripts/bench-run.sh [SIZE]     (SIZE default 1G; QUICK=1 skips scaling)
#
# (1) wall time of the top-URLs job
#       mrrun -mapper "mawk '{print \$7\"\t1\"}'" -combiner sum -reducer sum -numReduceTasks 2
#     against  mawk '{print $7}' | LC_ALL=C sort | uniq -c  on the same
#     SIZE log. Target: ratio <= 0.5.
# (2) framework CPU: mrrun's total CPU (user+sys, children included) minus
#     the mappers' own (the reducers are built-ins, so all their CPU is
#     the framework's). Target: <= 25% of the mappers' CPU. The mappers'
#     CPU is measured in the same run, each mapper wrapped in GNU time,
#     since this machine's speed drifts between runs; the same mawk alone
#     over the whole input to /dev/null is shown beside it.
# (3) peak RSS of mrrun with default settings. Target: <= 512 MiB.
# (4) a job over a 1 KiB input, median wall of 11 runs. Target: <= 100 ms.
# (5) scaling: 1G, 2G and 4G logs (skipped with QUICK=1), run in turns;
#     seconds per GiB should agree within 15%.
#
# Figures are medians of RUNS (default 3) runs. Outputs are checked once
# against the pipeline. Inputs live in $BENCH_DIR (default
# ${TMPDIR:-/tmp}/mrpipe-bench), kept between runs; job outputs go to a
# temporary directory removed at the end. Needs mawk and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1G}
RUNS=${RUNS:-3}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/mrpipe-bench}
export LC_ALL=C

for tool in mawk /usr/bin/time; do
	if ! command -v $tool >/dev/null; then
		echo "bench-run: $tool is missing (apt-get install -y mawk time)" >&2
		exit 2
	fi
done
mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mrpipe-bench-run.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
BIN=$WORK/bin
mkdir -p "$BIN"
go build -o "$BIN/" ./cmd/mrrun ./scripts/gen
MAPPER="mawk '{print \$7\"\t1\"}'"

# input size -> path of a web log of that size, read once so that the
# timed runs find it in the page cache: a machine may page out files
# unused for a minute (this one does, with proactive reclaim), and reading
# 4 GiB back from its disk took 7 s of system time, which would be timed
# as mrrun's. It is first written out and dropped from the cache (dd's
# nocache drops clean pages only), so that it is read back whole from the
# disk, as any file a job reads for the first time: the cache then holds
# it in large folios, filled by read-ahead. A file paged out in part and
# read back can be held in 4 KiB pages, and counting its records (the
# framework's second read of the input) then cost three times as much
# here: 0.14 s a GiB against 0.044.
input() {
	local f=$BENCH_DIR/logs-$1
	[ -s "$f" ] || { "$BIN/gen" -kind logs -size "$1" >"$f.tmp" && mv "$f.tmp" "$f"; } || exit
	sync "$f" && dd if="$f" iflag=nocache count=0 status=none
	cat "$f" >/dev/null
	echo "$f"
}

# timed CMD...: runs CMD once (stdout to /dev/null); prints
# "wall cpu maxrss_kib" (cpu = user+sys of CMD and its children)
timed() {
	local tf=$WORK/time.out
	/usr/bin/time -o "$tf" -f '%e %U %S %M' "$@" >/dev/null
	awk '{ printf "%.3f %.3f %d\n", $1, $2 + $3, $4 }' "$tf"
}

# median CMD...: RUNS runs; prints "median_wall median_cpu max_rss_kib"
median() {
	local walls=() cpus=() rss=0 w c m
	for ((i = 0; i < RUNS; i++)); do
		rm -rf "$WORK/out"
		read -r w c m < <(timed "$@")
		walls+=("$w")
		cpus+=("$c")
		rss=$((m > rss ? m : rss))
	done
	local mid=$(((RUNS + 1) / 2))
	printf '%s %s %s\n' "$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "${mid}p")" \
		"$(printf '%s\n' "${cpus[@]}" | sort -g | sed -n "${mid}p")" "$rss"
}

mrrun_job() { # input
	"$BIN/mrrun" -q -input "$1" -output "$WORK/out" -mapper "$MAPPER" -combiner sum -reducer sum -numReduceTasks 2
}
pipeline() { # input
	mawk '{print $7}' "$1" | LC_ALL=C sort | uniq -c
}
# mrrun_job_timed input file: mrrun_job with each mapper run under GNU
# time, which appends "user sys" for each to file
mrrun_job_timed() {
	"$BIN/mrrun" -q -input "$1" -output "$WORK/out" -mapper "/usr/bin/time -a -o $2 -f '%U %S' $MAPPER" \
		-combiner sum -reducer sum -numReduceTasks 2
}
mapper_alone() { # input
	mawk '{print $7"\t1"}' "$1"
}
export -f mrrun_job mrrun_job_timed pipeline mapper_alone
export BIN WORK MAPPER

f=$(input "$SIZE")
echo "mrrun local mode on $SIZE of web log; median of $RUNS; $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"

# outputs agree
rm -rf "$WORK/out"
mrrun_job "$f"
cat "$WORK"/out/part-* | sort >"$WORK/ours"
pipeline "$f" | awk '{print $2 "\t" $1}' | sort >"$WORK/theirs"
if ! cmp -s "$WORK/ours" "$WORK/theirs"; then
	echo "OUTPUT DIFFERS from the pipeline" >&2
	exit 1
fi

read -r pw pc _ < <(median bash -c 'pipeline "$0"' "$f")
read -r mw mc mrss < <(median bash -c 'mrrun_job "$0"' "$f")
read -r aw ac _ < <(median bash -c 'mapper_alone "$0"' "$f")
printf '(1) wall: mrrun %.2f s, pipeline %.2f s: ratio %.2f (target <= 0.5)\n' "$mw" "$pw" "$(echo "$mw / $pw" | bc -l)"
# framework share per run, from the same run's total and mappers' CPU
shares=()
for ((i = 0; i < RUNS; i++)); do
	rm -rf "$WORK/out" "$WORK/mapcpu"
	read -r _ jc _ < <(timed bash -c 'mrrun_job_timed "$0" "$1"' "$f" "$WORK/mapcpu")
	mapc=$(awk '{ s += $1 + $2 } END { printf "%.3f", s }' "$WORK/mapcpu")
	shares+=("$(echo "$jc - $mapc" | bc -l) $mapc")
done
read -r fw mapc < <(printf '%s\n' "${shares[@]}" | awk '{ print $1 / $2, $1, $2 }' | sort -g | sed -n "$(((RUNS + 1) / 2))p" | cut -d' ' -f2-)
printf '(2) CPU: framework %.2f s = %.0f%% of the mappers'"'"' %.2f s in the same run (target <= 25%%);\n' \
	"$fw" "$(echo "100 * $fw / $mapc" | bc -l)" "$mapc"
printf '    mrrun %.2f s in all, against %.2f s for the mapper alone: %.0f%%\n' \
	"$mc" "$ac" "$(echo "100 * ($mc - $ac) / $ac" | bc -l)"
printf '(3) peak RSS of mrrun: %d MiB (target <= 512)\n' $((mrss / 1024))

head -c 1024 "$f" >"$WORK/1k.log"
read -r tw _ _ < <(RUNS=11 median bash -c 'mrrun_job "$0"' "$WORK/1k.log")
printf '(4) 1 KiB job: %.0f ms (target <= 100)\n' "$(echo "$tw * 1000" | bc -l)"

if [ "${QUICK:-}" != 1 ]; then
	echo "(5) scaling: seconds per GiB"
	# The sizes take turns, RUNS rounds of the three, so that the
	# machine's drift over minutes falls on all of them alike.
	sizes=(1G 2G 4G)
	files=() walls=() rss=()
	for s in "${sizes[@]}"; do
		files+=("$(input "$s")")
		walls+=("") rss+=(0)
	done
	for ((i = 0; i < RUNS; i++)); do
		for k in "${!sizes[@]}"; do
			rm -rf "$WORK/out"
			read -r w _ m < <(timed bash -c 'mrrun_job "$0"' "${files[k]}")
			walls[k]+=" $w"
			rss[k]=$((m > rss[k] ? m : rss[k]))
		done
	done
	pers=()
	for k in "${!sizes[@]}"; do
		w=$(printf '%s\n' ${walls[k]} | sort -g | sed -n "$(((RUNS + 1) / 2))p")
		gib=$(echo "$(stat -c %s "${files[k]}") / 1073741824" | bc -l)
		per=$(echo "$w / $gib" | bc -l)
		pers+=("$per")
		printf '    %-4s %7.2f s %6.2f s/GiB %5d MiB RSS\n' "${sizes[k]}" "$w" "$per" $((rss[k] / 1024))
	done
	lo=$(printf '%s\n' "${pers[@]}" | sort -g | head -1)
	hi=$(printf '%s\n' "${pers[@]}" | sort -g | tail -1)
	printf '    spread: slowest/fastest s/GiB = %.2f (target <= 1.15)\n' "$(echo "$hi / $lo" | bc -l)"
fi
