#!/usr/bin/env bash
# Benchmarks of mrpipe against the tools users compare it with, measured
# side by side in one run on inputs from scripts/gen.
#
#   scripts/bench.sh [sort|split|stream|run|direct|ssh|all] [SIZE]
#
# sort   mrsort vs LC_ALL=C sort --parallel=2 on 3 shapes of SIZE (default
#        1G): with -S 256M and with default memory; then a scaling row with
#        -S 256M at 256M, 1G and 4G (skipped with QUICK=1). Median wall time
#        of RUNS (default 3) runs, peak RSS, and the ratio mrsort/GNU.
# split  scripts/bench-split.sh
# stream scripts/bench-stream.sh
# run    scripts/bench-run.sh (mrrun, local mode)
# direct scripts/bench-direct.sh (direct shuffle between two SSH lab
#        hosts; needs root; not part of all)
# ssh    scripts/bench-ssh.sh (mrrun's SSH mode shuffle; SIZE unused; not in all)
#
# Outputs go to /dev/null while timed; each shape is then checked once for
# byte-identical output. Inputs and temporary files live in $BENCH_DIR
# (default ${TMPDIR:-/tmp}/mrpipe-bench), kept between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-sort}
SIZE=${2:-1G}
RUNS=${RUNS:-3}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/mrpipe-bench}
mkdir -p "$BENCH_DIR/bin"
BIN=$BENCH_DIR/bin
go build -o "$BIN/" ./cmd/mrsort ./scripts/gen
export LC_ALL=C

# input kind size -> path, read once so that the timed runs find it in
# the page cache (a machine may page out files unused for a while).
input() {
	local f=$BENCH_DIR/$1-$2
	[ -s "$f" ] || { "$BIN/gen" -kind "$1" -size "$2" >"$f.tmp" && mv "$f.tmp" "$f"; } || exit
	cat "$f" >/dev/null
	echo "$f"
}

# measure CMD...: runs it RUNS times, prints "median_seconds peak_rss_mib"
measure() {
	local t=() m=0 out tf=$BENCH_DIR/time.out
	for ((i = 0; i < RUNS; i++)); do
		/usr/bin/time -o "$tf" -f '%e %M' "$@" >/dev/null 2>/dev/null
		out=$(tail -1 "$tf")
		t+=("${out% *}")
		m=$((${out#* } > m ? ${out#* } : m))
	done
	printf '%s %d\n' "$(printf '%s\n' "${t[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")" $((m / 1024))
}

row() { # label mrsort-args... -- sort-args... ; file is last of each
	local label=$1
	shift
	local ours=() gnu=()
	while [ "$1" != -- ]; do ours+=("$1"); shift; done
	shift
	gnu=("$@")
	read -r ot om < <(measure "$BIN/mrsort" "${ours[@]}")
	read -r gt gm < <(measure sort "${gnu[@]}")
	printf '%-28s %9.2f %8d %9.2f %8d %7.2f\n' "$label" "$ot" "$om" "$gt" "$gm" "$(echo "$ot / $gt" | bc -l)"
}

bench_sort() {
	echo "mrsort vs LC_ALL=C sort --parallel=2; median of $RUNS, $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%-28s %9s %8s %9s %8s %7s\n' "input, memory" "mrsort s" "RSS MiB" "GNU s" "RSS MiB" "ratio"
	for kind in logs kv words; do
		f=$(input $kind "$SIZE")
		row "$kind $SIZE, -S 256M" -S 256M "$f" -- -S 256M --parallel=2 "$f"
		row "$kind $SIZE, default" "$f" -- --parallel=2 "$f"
		if ! cmp -s <("$BIN/mrsort" -S 256M "$f") <(sort -S 256M --parallel=2 "$f"); then
			echo "OUTPUT DIFFERS for $kind $SIZE" >&2
			exit 1
		fi
	done
	if [ "${QUICK:-}" != 1 ]; then
		echo
		echo "scaling, logs, -S 256M: seconds per GiB"
		for s in 256M 1G 4G; do
			f=$(input logs $s)
			read -r ot om < <(RUNS=1 measure "$BIN/mrsort" -S 256M "$f")
			gib=$(echo "$(stat -c %s "$f") / 1073741824" | bc -l)
			printf '%-8s %8.2f s %8.2f s/GiB %6d MiB RSS\n' "$s" "$ot" "$(echo "$ot / $gib" | bc -l)" "$om"
		done
	fi
}

case $what in
sort) bench_sort ;;
split) exec scripts/bench-split.sh "$SIZE" ;;
stream) exec scripts/bench-stream.sh "$SIZE" ;;
run) exec scripts/bench-run.sh "$SIZE" ;;
direct) exec scripts/bench-direct.sh "$SIZE" ;;
ssh) exec scripts/bench-ssh.sh ;;
all)
	bench_sort
	scripts/bench-split.sh "$SIZE"
	scripts/bench-stream.sh "$SIZE"
	scripts/bench-run.sh "$SIZE"
	;;
*)
	echo "usage: scripts/bench.sh [sort|split|stream|run|direct|ssh|all] [SIZE]" >&2
	exit 2
	;;
esac
