#!/usr/bin/env bash
# Throughput of the direct shuffle between two SSH lab hosts:
#
#   scripts/bench-direct.sh [SIZE]     (SIZE default 1G)
#
# A web log of SIZE from scripts/gen is cut into 4 map outputs of 4
# partitions by the shuffle's writer, S2-compressed (the default) and
# plain. A worker's listener serves them in lab host h1's network
# namespace and every partition is fetched, verified, into a directory from
# h2's, 2 fetches at once (J). Printed: MB/s on the wire and MB/s of
# (uncompressed) data, best of RUNS (default 3). Target: >= 400 MB/s.
#
# Needs root (scripts/sshlab.sh brings up a lab named mrbench for the
# run and removes it at the end). Inputs are kept in $BENCH_DIR (default
# ${TMPDIR:-/tmp}/mrpipe-bench); map outputs and fetched files go to a
# temporary directory removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1G}
RUNS=${RUNS:-3}
J=${J:-2}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/mrpipe-bench}
export SSHLAB_NAME=mrbench
mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mrpipe-bench-direct.XXXXXX")
cleanup() {
	[ -z "${SRV_PID:-}" ] || kill "$SRV_PID" 2>/dev/null || true
	scripts/sshlab.sh down || true
	rm -rf "$WORK"
}
trap cleanup EXIT
go build -o "$WORK/" ./scripts/benchdirect ./scripts/gen
in=$BENCH_DIR/logs-$SIZE
[ -s "$in" ] || "$WORK/gen" -kind logs -size "$SIZE" >"$in"
for c in s2 none; do
	"$WORK/benchdirect" gen -root "$WORK/$c" -maps 4 -parts 4 -compress $c <"$in"
done

eval "$(scripts/sshlab.sh up 2)"
h1=10.213.$SSHLAB_NET.11
token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "direct shuffle, lab $SSHLAB_NAME h1 -> h2, $SIZE of logs in 16 partitions, $J fetches at once; best of $RUNS; $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for c in s2 none; do
	coproc SRV { exec ip netns exec "$SSHLAB_NAME-h1" "$WORK/benchdirect" serve -root "$WORK/$c" -listen "$h1:0" -token "$token"; }
	read -r addr <&"${SRV[0]}"
	best=
	for ((i = 0; i < RUNS; i++)); do
		rm -rf "$WORK/dst"
		line=$(ip netns exec "$SSHLAB_NAME-h2" "$WORK/benchdirect" fetch -addr "$addr" -token "$token" -maps 4 -parts 4 -dst "$WORK/dst" -j "$J")
		mbs=$(sed -E 's/.*s: ([0-9]+) MB\/s on the wire.*/\1/' <<<"$line")
		if [ -z "$best" ] || [ "$mbs" -gt "${best%% *}" ]; then
			best="$mbs $line"
		fi
	done
	printf '%-4s %s\n' "$c" "${best#* }"
	eval "exec ${SRV[1]}>&-"
	wait "$SRV_PID" || true
	SRV_PID=
done
