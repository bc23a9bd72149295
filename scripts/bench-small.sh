#!/usr/bin/env bash
# mrrun over many small files: one map task per file, so what a task costs
# besides its command's work decides the time.
#
#   scripts/bench-small.sh [FILES]      (FILES default 2000)
#
# Runs the word count
#   mrrun -input DIR -mapper "tr ' ' '\n'" -reducer count -numReduceTasks 2
# over FILES one-line files, side by side (alternating, RUNS times, default
# 3) with the same job whose mapper needs a shell ("tr ' ' '\n'; :"), which
# mrrun runs in sh -c, as every command was run before plain ones were
# started directly. Prints the medians of wall time, CPU (mrrun and its
# children) and peak RSS, and checks that both outputs are the same.
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-2000}
RUNS=${RUNS:-3}
export LC_ALL=C
if ! command -v /usr/bin/time >/dev/null; then
	echo "bench-small: GNU time is missing (apt-get install -y time)" >&2
	exit 2
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mrpipe-bench-small.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
go build -o "$WORK/" ./cmd/mrrun
mkdir "$WORK/in"
for ((i = 1; i <= FILES; i++)); do
	echo "w$((i % 50)) x$((i % 7)) y" >"$WORK/in/f$i"
done

# run NAME MAPPER: one timed job; appends "wall cpu maxrss_kib" to NAME.times
run() {
	rm -rf "$WORK/out-$1"
	/usr/bin/time -o "$WORK/t" -f '%e %U %S %M' "$WORK/mrrun" -q -input "$WORK/in" -output "$WORK/out-$1" \
		-mapper "$2" -reducer count -numReduceTasks 2
	awk '{ printf "%.2f %.2f %d\n", $1, $2 + $3, $4 }' "$WORK/t" >>"$WORK/$1.times"
}
for ((r = 0; r < RUNS; r++)); do
	run direct "tr ' ' '\n'"
	run shell "tr ' ' '\n'; :"
done
if ! cmp -s <(cat "$WORK"/out-direct/part-* | sort) <(cat "$WORK"/out-shell/part-* | sort); then
	echo "bench-small: the two jobs' outputs differ" >&2
	exit 1
fi
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
col() { cut -d' ' -f"$2" "$WORK/$1.times" | median; }
echo "mrrun over $FILES one-line files; medians of $RUNS; $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in direct shell; do
	printf '%-7s wall %s s, CPU %s s, peak RSS %d MiB\n' "$n" "$(col $n 1)" "$(col $n 2)" $(($(col $n 3) / 1024))
done
awk -v d="$(col direct 1)" -v s="$(col shell 1)" -v dc="$(col direct 2)" -v sc="$(col shell 2)" \
	'BEGIN { printf "direct / shell: wall %.2f, CPU %.2f\n", d / s, dc / sc }'
