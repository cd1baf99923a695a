#!/usr/bin/env bash
# The report on a large trace: `memtrace-bpf report` over a synthetic
# 10-million-row CSV (tools/gentrace.c): its time, peak memory and the
# page's size, then the page opened in headless chromium: when its first
# view was on screen (the page's data-first-view-ms: the frame after the
# first draw, from navigation start) and the browser's whole run. Targets
# (issue 13): a page of 10 MB or less, a first view within 2 s.
# ROWS=N changes the size, RUNS=N the browser's runs. Part of `make bench`.
set -euo pipefail
rows=${ROWS:-10000000}
runs=${RUNS:-5}
bin=${MEMTRACE_BPF:-.output/memtrace-bpf}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/memtrace-bench-report.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
.output/tools/gentrace "$rows" > "$tmp/big.csv" 2>/dev/null
echo "trace: $rows rows, $(du -h "$tmp/big.csv" | cut -f1)"
for run in 1 2 3; do
	/usr/bin/env time -f "%e s %M KiB" -o "$tmp/time" "$bin" report "$tmp/big.csv" -o "$tmp/big.html" 2>/dev/null
	echo "report run $run: $(cat "$tmp/time") (wall time, peak RSS of memtrace-bpf report)"
done
size=$(stat -c %s "$tmp/big.html")
echo "page: $size bytes ($(du -h "$tmp/big.html" | cut -f1))"
chromium=$(command -v chromium || true)
if [ -z "$chromium" ]; then
	echo "no chromium: the browser part is skipped (tools/install-deps.sh installs it)"
	exit 0
fi
firsts=()
for run in $(seq "$runs"); do
	start=$(date +%s%N)
	dom=$("$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$tmp/profile" --window-size=1400,1000 --dump-dom \
		"file://$tmp/big.html" 2>/dev/null)
	wall=$(( ($(date +%s%N) - start) / 1000000 ))
	first=$(grep -o 'data-first-view-ms="[0-9.]*"' <<<"$dom" | grep -o '[0-9.]*' || echo "?")
	script=$(grep -o 'data-script-ms="[0-9.]*"' <<<"$dom" | grep -o '[0-9.]*' || echo "?")
	echo "browser run $run: first view at $first ms (its script $script ms); chromium's whole run $wall ms"
	[ "$first" != "?" ] && firsts+=("$first")
done
median=$(printf '%s\n' "${firsts[@]}" | sort -n | awk '{v[NR]=$1} END {print NR ? v[int((NR+1)/2)] : "?"}')
echo "median first view: $median ms (target 2000 ms); page $size bytes (target 10,000,000)"
status=0
if [ "$size" -gt 10000000 ]; then
	echo "OVER TARGET: the page is larger than 10 MB" >&2
	status=1
fi
if [ "$median" = "?" ] || awk -v m="$median" 'BEGIN { exit !(m > 2000) }'; then
	echo "OVER TARGET: the first view took more than 2 s (a loaded machine?)" >&2
	status=1
fi
exit $status
