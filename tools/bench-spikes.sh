#!/usr/bin/env bash
# The analysis on a large trace: `memtrace-bpf spikes` over a synthetic
# 10-million-row CSV (tools/gentrace.c), wall time and peak memory; then
# the same trace compressed (zstd -1 --check, as the tracer writes a
# .csv.zst), plain and .zst in turn, 3 pairs: the read of a compressed
# trace against the plain one, and the same result from both.
# ROWS=N changes the size. Part of `make bench`.
set -euo pipefail
rows=${ROWS:-10000000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/memtrace-bench-spikes.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
.output/tools/gentrace "$rows" > "$tmp/big.csv"
echo "trace: $rows rows, $(du -h "$tmp/big.csv" | cut -f1)"
zstd -1 -q --check "$tmp/big.csv" -o "$tmp/big.csv.zst"
echo "compressed: $(du -h "$tmp/big.csv.zst" | cut -f1) (zstd -1)"
for run in 1 2 3; do
	for f in big.csv big.csv.zst; do
		/usr/bin/env time -f "%e %M" -o "$tmp/time" \
			.output/memtrace-bpf spikes "$tmp/$f" --format json > "$tmp/$f.json"
		read -r s kb < "$tmp/time"
		echo "$s" >> "$tmp/$f.times"
		echo "run $run $f: $s s $kb KiB (wall time, peak RSS of memtrace-bpf spikes)"
	done
done
python3 - "$tmp" <<'PY'
import json, statistics, sys
d = sys.argv[1]
def result(f):
    """The analysis, without the file's name."""
    j = json.load(open(f"{d}/{f}.json"))
    return {k: v for k, v in j.items() if not (isinstance(v, str) and v.endswith(f))}
if result("big.csv") != result("big.csv.zst"):
    sys.exit("bench-spikes: .zst and plain gave different results")
t = {f: [float(x) for x in open(f"{d}/{f}.times")] for f in ("big.csv", "big.csv.zst")}
p, z = statistics.median(t["big.csv"]), statistics.median(t["big.csv.zst"])
print("spikes found:", json.load(open(f"{d}/big.csv.json"))["spike_count"], "(the same from both)")
print(f"median: plain {p:.2f} s, .zst {z:.2f} s: .zst / plain {z / p:.2f}x")
PY
