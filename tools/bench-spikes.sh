#!/usr/bin/env bash
# The analysis on a large trace: `memtrace-bpf spikes` over a synthetic
# 10-million-row CSV (tools/gentrace.c), wall time and peak memory; then
# the same trace compressed (zstd -1 --check, as the tracer writes a
# .csv.zst), plain and .zst in turn, 3 pairs: the read of a compressed
# trace against the plain one, and the same result from both; then the
# same 3 pairs with the page cache dropped before each read (as root).
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
# cold: the page cache dropped before each read (as a trace written by a
# long run and read later, or on another machine): the .zst reads 1/27 of
# the bytes from the disk
cold=0
if [ -w /proc/sys/vm/drop_caches ]; then
	cold=1
	for run in 1 2 3; do
		for f in big.csv big.csv.zst; do
			sync
			echo 3 > /proc/sys/vm/drop_caches
			/usr/bin/env time -f "%e %M" -o "$tmp/time" \
				.output/memtrace-bpf spikes "$tmp/$f" --format json > /dev/null
			read -r s kb < "$tmp/time"
			echo "$s" >> "$tmp/$f.cold"
			echo "cold run $run $f: $s s $kb KiB"
		done
	done
fi
python3 - "$tmp" "$cold" <<'PY'
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
if sys.argv[2] == "1":
    c = {f: statistics.median(float(x) for x in open(f"{d}/{f}.cold"))
         for f in ("big.csv", "big.csv.zst")}
    print(f"cold page cache: plain {c['big.csv']:.2f} s, .zst {c['big.csv.zst']:.2f} s: "
          f".zst / plain {c['big.csv.zst'] / c['big.csv']:.2f}x")
else:
    print("cold page cache: not measured (needs root: /proc/sys/vm/drop_caches)")
PY
