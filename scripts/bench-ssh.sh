#!/usr/bin/env bash
# Shuffle throughput of mrrun's SSH mode, in one short run (a few
# minutes; needs root and sshd for the lab, see scripts/sshlab.sh):
#
#   scripts/bench-ssh.sh
#
# streaming/remote's BenchmarkShuffleRelay: 64 MiB of records are mapped
# into one partition kept on one host, whose part file is then relayed
# through the driver to another host, RUNS times (default 3); "random" is
# hardly compressible lines (the part file is as big as its data), "logs"
# web-log lines (the part file is S2, as in a job's shuffle):
#   pipes/*       two workers that are child processes: the protocol's cost
#   lab/relay/*   two lab hosts over ssh. Target: >= 200 MB/s.
# MB/s counts the partition's data, wire MB/s the part file's bytes.
# BenchmarkRelayLab/maponly: a map-only job on one lab host (relay:
# every byte to the host and back), beside the same job in local mode.
#
# The lab's hosts share this machine's cores with the driver and with
# ssh's encryption, so the figures move with the machine's load (printed).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
echo "SSH shuffle relay; $RUNS runs each, $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
go test -count=1 -run '^$' -bench 'ShuffleRelay|RelayLab/maponly|pipes|lab/random|logs|relay/random|logs' -benchtime "${RUNS}x" -timeout 30m ./streaming/remote/ |
	awk '/^Benchmark/ {
		name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
		mb = wire = ""
		for (i = 2; i < NF; i++) {
			if ($(i+1) == "MB/s") mb = $i
			if ($(i+1) == "wire-MB/s") wire = $i
		}
		printf "%-32s %8.1f MB/s", name, mb
		if (wire != "") printf " (wire %7.1f MB/s)", wire
		printf " %7.2f s/op\n", $3 / 1e9
	}'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
