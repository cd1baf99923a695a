#!/usr/bin/env bash
# The analysis on a large trace: `memtrace-bpf spikes` over a synthetic
# 10-million-row CSV (tools/gentrace.c), wall time and peak memory.
# ROWS=N changes the size. Part of `make bench`.
set -euo pipefail
rows=${ROWS:-10000000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/memtrace-bench-spikes.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
.output/tools/gentrace "$rows" > "$tmp/big.csv"
echo "trace: $rows rows, $(du -h "$tmp/big.csv" | cut -f1)"
for run in 1 2 3; do
	/usr/bin/env time -f "%e s %M KiB" -o "$tmp/time" \
		.output/memtrace-bpf spikes "$tmp/big.csv" --format json > "$tmp/out.json"
	echo "run $run: $(cat "$tmp/time") (wall time, peak RSS of memtrace-bpf spikes)"
done
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('spikes found:', d['spike_count'])" "$tmp/out.json"
