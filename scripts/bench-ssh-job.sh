#!/usr/bin/env bash
# The same top-URLs job in local mode and on 3 SSH lab hosts, side by
# side (needs root, sshd and mawk; starts a lab of its own and removes it):
#
#   scripts/bench-ssh-job.sh [SIZE]     (SIZE default 1G)
#
# mrrun -mapper "mawk '{print \$7\"\t1\"}'" -combiner sum -reducer sum
# -numReduceTasks 2 over a SIZE web log from scripts/gen, first locally
# (-j 2), then with -hosts h1,h2,h3 (2 task slots per host, as each sees
# 2 cores) and -hosts 1/h1,1/h2,1/h3 (1 slot each): input streamed from
# the driver through ssh, with --shuffle relay and --shuffle direct, and
# input read by the hosts themselves (--shared-input: the lab's hosts see
# this machine's files but for /tmp, so inputs live in $BENCH_DIR, default
# /var/tmp/mrpipe-bench). The hosts share this machine's 2 cores, so the
# ratio bounds SSH mode's overhead, not its speed-up. Target: hosts/local
# <= 1.5. Outputs are compared once. Each configuration runs RUNS (3)
# times in turn with local mode; the ratio is the median of the pairs'.
# HOSTS and MODES (see below) run a part of the table.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1G}
RUNS=${RUNS:-3}
BENCH_DIR=${BENCH_DIR:-/var/tmp/mrpipe-bench}
export LC_ALL=C
for tool in mawk /usr/bin/time sshd; do
	if ! command -v $tool >/dev/null && [ ! -x /usr/sbin/$tool ]; then
		echo "bench-ssh-job: $tool is missing" >&2
		exit 2
	fi
done
mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d /var/tmp/mrpipe-bench-ssh.XXXXXX)
export SSHLAB_NAME=${SSHLAB_NAME:-mrbench}
trap 'scripts/sshlab.sh down >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
BIN=$WORK/bin
mkdir -p "$BIN"
go build -o "$BIN/" ./cmd/mrrun ./scripts/gen
eval "$(scripts/sshlab.sh up 3)"
f=$BENCH_DIR/logs-$SIZE
[ -s "$f" ] || "$BIN/gen" -kind logs -size "$SIZE" >"$f"
MAPPER="mawk '{print \$7\"\t1\"}'"

job() { # out extra-args...
	local out=$1
	shift
	rm -rf "$out"
	"$BIN/mrrun" -q -input "$f" -output "$out" -mapper "$MAPPER" -combiner sum -reducer sum -numReduceTasks 2 "$@"
}
# pair OUT ARGS...: runs the job in local mode and then with ARGS, RUNS
# times in turn, so that both see the machine in the same state; prints
# the median local time, the median time with ARGS and the median of the
# per-pair ratios.
pair() {
	local out=$1 l=() h=() r=() s a b
	shift
	for ((i = 0; i < RUNS; i++)); do
		s=$(date +%s.%N)
		job "$WORK/local" -j 2 >/dev/null
		a=$(echo "$(date +%s.%N) - $s" | bc -l)
		s=$(date +%s.%N)
		job "$out" "$@" >/dev/null
		b=$(echo "$(date +%s.%N) - $s" | bc -l)
		l+=("$a") h+=("$b") r+=("$(echo "$b / $a" | bc -l)")
	done
	local mid=$(((RUNS + 1) / 2))
	printf '%s %s %s\n' "$(printf '%s\n' "${l[@]}" | sort -g | sed -n "${mid}p")" \
		"$(printf '%s\n' "${h[@]}" | sort -g | sed -n "${mid}p")" \
		"$(printf '%s\n' "${r[@]}" | sort -g | sed -n "${mid}p")"
}
ssh=(-ssh "ssh -F $LAB_DIR/ssh_config")
echo "top-URLs job on $SIZE: local vs 3 lab hosts, run in turn; median of $RUNS; $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
job "$WORK/local" -j 2
same() { # name out: the job's output is the local one
	cmp -s <(cat "$WORK"/local/part-* | sort) <(cat "$2"/part-* | sort) || {
		echo "$1: output differs from local mode" >&2
		exit 1
	}
}
# Each lab host sees the machine's 2 cores, so by default it runs 2 tasks
# at once: 6 on 2 cores. With 1/HOST (GNU parallel's slot syntax) each
# runs 1: 3 on 2 cores, closer to local mode's 2. HOSTS and MODES choose
# among them (MODES is a list of shuffle modes separated by commas, each
# relay or direct, with --shared-input or not).
IFS=' ' read -r -a hostsets <<<"${HOSTS:-h1,h2,h3 1/h1,1/h2,1/h3}"
IFS=',' read -r -a modes <<<"${MODES:-relay,direct,relay --shared-input,direct --shared-input}"
for hs in "${hostsets[@]}"; do
	for mode in "${modes[@]}"; do
		# shellcheck disable=SC2086 # mode is words
		args=(-hosts "$hs" "${ssh[@]}" --shuffle $mode)
		name="-hosts $hs --shuffle $mode"
		if ! job "$WORK/hosts" "${args[@]}" 2>"$WORK/err"; then
			printf '%-52s %s\n' "$name" "failed: $(head -1 "$WORK/err")"
			continue
		fi
		same "$mode" "$WORK/hosts"
		read -r lt t ratio < <(pair "$WORK/hosts" "${args[@]}")
		printf '%-52s %6.2f s, local %5.2f s: ratio %.2f (target <= 1.5)\n' "$name" "$t" "$lt" "$ratio"
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
