#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make bench-check: the bench's reading and reporting, on inputs written by
# hand (no root, no BPF, a second or two). The summaries in tools/testdata/
# are a real faultstorm summary, trimmed, with and without the "cost"
# object of issue #14 (rss_events, full_sums, records, loader_user_s,
# loader_sys_s, loader_maxrss_kb) added by hand. From them this builds raw
# results as each bench script writes them, runs each script's report on
# them (BENCH_REPORT=, BENCH_PAIR_REPORT=, BENCH_REAL_REPORT=,
# progcost.py --report) and the table, and checks the figures against
# values worked out by hand below. Prints each check (-q: only failures and
# the last line); exits 1 if one fails.
set -u
export LC_ALL=C

cd "$(dirname "$0")/.." || exit 1
OUT=${OUTPUT:-.output}
die() { echo "bench-selftest: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/memtrace-bench-selftest.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
export BENCH_FIGURES=$tmp/figures.tsv
# shellcheck source=tools/bench-lib.sh
. tools/bench-lib.sh

WITH=tools/testdata/summary-cost.json
WITHOUT=tools/testdata/summary-nocost.json
failed=0
quiet=
[ "${1:-}" = -q ] && quiet=1
ok() { [ -n "$quiet" ] || echo "  ok    $1"; }
check() { # NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		echo "  FAIL  $1: expected '$2', got '$3'"
		failed=$((failed + 1))
	fi
}
# check that FILE has a line matching the extended regex RE
has_line() { # NAME RE FILE
	if grep -Eq -- "$2" "$3"; then
		ok "$1"
	else
		echo "  FAIL  $1: no line matching /$2/ in:"
		sed 's/^/        | /' "$3"
		failed=$((failed + 1))
	fi
}

[ -n "$quiet" ] || echo "bench self-test (hand-written summaries in tools/testdata/):"

# ---- the summary
check "cost_fields, with the cost object" \
	"$(printf '16720\t1045\t16755\t0.004189\t0.021317\t9216')" "$(cost_fields "$WITH")"
check "cost_fields, without" "$(printf 'NA\tNA\tNA\tNA\tNA\tNA')" "$(cost_fields "$WITHOUT")"
check "cost_fields, no file" "$(printf 'NA\tNA\tNA\tNA\tNA\tNA')" "$(cost_fields "$tmp/none.json")"
check "summary_fields, a list element and a missing one" "$(printf '68040\t0\tNA')" \
	"$(summary_fields "$WITH" 'processes[comm=faultstorm].peak_rss_kb' lost_events 'processes[comm=xz].peak_rss_kb')"

# ---- the storm (tools/bench.sh's raw columns; memtrace-bpf: rows storm_rows
# events lost duration_s csv_bytes, then the cost object)
storm() { # SUMMARY FILE
	local c
	c=$(cost_fields "$1")
	{
		printf 'round\tseq\ttool\tns_per_fault\tseconds\tfaults\twall_s\tratio\textra...\n'
		printf '0\t1\tuntraced\t2000.0\t0.5\t262144\t0.6\tNA\n'
		printf '0\t2\tmemtrace-bpf\t2600.0\t0.7\t262144\t1.0\t1.2000\t263000\t262144\t263000\t0\t1.0\t30000000\t%s\n' "$c"
		printf '0\t3\tuntraced\t2200.0\t0.5\t262144\t0.6\t1.1000\n'
		printf '0\t4\temptyprog\t2300.0\t0.6\t262144\t0.7\t1.1000\n'
		printf '0\t5\tuntraced\t2000.0\t0.5\t262144\t0.6\t0.9091\n'
		printf '0\t6\tperf-record\t3000.0\t0.8\t262144\t1.5\t1.5000\t262200\t0\n'
		printf '0\t7\tuntraced\t2000.0\t0.5\t262144\t0.6\t1.0000\n'
	} >"$2"
}
storm "$WITHOUT" "$tmp/storm-nocost.tsv"
BENCH_REPORT=$tmp/storm-nocost.tsv tools/bench.sh >"$tmp/out" 2>&1
check "storm report without the cost object: three n/a lines" 3 "$(grep -c "$NO_COST" "$tmp/out")"
storm "$WITH" "$tmp/storm-cost.tsv"
BENCH_REPORT=$tmp/storm-cost.tsv tools/bench.sh >"$tmp/out" 2>&1
# 1045 / 16720 = 0.0625; 0.004189 s / 16755 records = 250 ns; 9216 kB = 9.0 MiB
has_line "storm report: full-sum rate" 'full sums / rss events +0\.06250 = 1/16' "$tmp/out"
has_line "storm report: loader CPU per record" 'loader user CPU per record +250 ns' "$tmp/out"
has_line "storm report: loader maxrss" 'loader maxrss at the end +9\.0 MiB' "$tmp/out"
has_line "storm report: against perf-record" 'memtrace-bpf ratio / perf-record ratio, same round: median 0\.800' "$tmp/out"
has_line "storm report: against emptyprog" 'memtrace-bpf ratio / emptyprog ratio, same round: median 1\.091' "$tmp/out"

# ---- per-call costs and the model (progcost.py's raw columns)
c=$(cost_fields "$WITH")
nc=$(printf 'NA\t%.0s' $COST_KEYS)
nc=${nc%$'\t'}
{
	printf 'round\tseq\tvariant\tprog\trun_cnt\trun_time_ns\tns_per_call\tpossible_cpus\t%s\n' "$(echo "$COST_KEYS" | tr ' ' '\t')"
	printf '0\t1\tmemtrace-bpf\ton_rss_stat\t1000\t200000\t200.00\t2\t%s\n' "$c"
	printf '0\t1\tmemtrace-bpf\ton_page_fault_user\t1000\t60000\t60.00\t2\t%s\n' "$c"
	printf '0\t2\tempty\tempty_rss_stat\t1000\t40000\t40.00\t2\t%s\n' "$nc"
	printf '0\t2\tempty\tempty_fault\t1000\t40000\t40.00\t2\t%s\n' "$nc"
	printf '0\t3\tslots-0\tslots_rss_stat\t1000\t50000\t50.00\t2\t%s\n' "$nc"
	printf '0\t4\tslots-256\tslots_rss_stat\t1000\t1074000\t1074.00\t2\t%s\n' "$nc"
	printf '0\t5\tslots-256-keep\tslots_rss_stat\t1000\t2098000\t2098.00\t2\t%s\n' "$nc"
} >"$tmp/progcost.tsv"
tools/progcost.py --report "$tmp/progcost.tsv" >"$tmp/out" 2>&1
# read (1074 - 50) / 256 = 4 ns, keep (2098 - 50) / 256 = 8 ns, rate 0.0625;
# fixed = 200 - 8 x 2 x 0.0625 = 199; amortized(256) = 199 + 8 x 256 x
# 0.0625 = 327 (/ 200 = 1.635); always-full(256) = 199 + 4 x 256 = 1223
has_line "progcost: on_rss_stat / empty" 'on_rss_stat +/ empty_rss_stat +5\.00x' "$tmp/out"
has_line "progcost: on_page_fault_user / empty" 'on_page_fault_user / empty_fault +1\.50x' "$tmp/out"
has_line "progcost: slot read" '^  read +4\.00 ns' "$tmp/out"
has_line "progcost: slot read + keep" 'read \+ keep per CPU +8\.00 ns' "$tmp/out"
has_line "progcost: fixed part" 'fixed = 200\.0 - 8\.00 x 2 x 0\.06250 = 199\.0 ns' "$tmp/out"
has_line "progcost: model at 256 CPUs" '^ +256 +128\.0 +327\.0 +1024\.0 +1223\.0$' "$tmp/out"
has_line "progcost: 256 vs 2" 'amortized at 256 CPUs / at 2 CPUs: 1\.635' "$tmp/out"
sed "s/\t$(printf '%s' "$c" | sed 's/\./\\./g')\$/\t$nc/" "$tmp/progcost.tsv" >"$tmp/progcost-nocost.tsv"
tools/progcost.py --report "$tmp/progcost-nocost.tsv" >"$tmp/out" 2>&1
check "progcost without the cost object: the rate and the fixed part" 2 "$(grep -c "$NO_COST" "$tmp/out")"
has_line "progcost without the cost object: the model" '^ +256 +NA +NA +1024\.0 +NA$' "$tmp/out"
tools/progcost.py --report "$tmp/progcost.tsv" >/dev/null 2>&1  # the figures with the cost object

# ---- two processes (bench-pair.sh's raw columns)
{
	printf 'round\tseq\tkind\tns_per_fault\tns_a\tns_b\toverlap\tfaults\tlost_events\tstorm_rows\t%s\n' "$(echo "$COST_KEYS" | tr ' ' '\t')"
	printf '0\t1\tuntraced\t4000.0\t4000\t4000\t0.980\t262144\tNA\tNA\t%s\n' "$nc"
	printf '0\t2\ttraced\t5000.0\t5000\t5000\t0.990\t262144\t0\t262144\t%s\n' "$c"
	printf '1\t3\tuntraced\t4000.0\t4000\t4000\t0.970\t262144\tNA\tNA\t%s\n' "$nc"
} >"$tmp/pair.tsv"
BENCH_PAIR_REPORT=$tmp/pair.tsv tools/bench-pair.sh >"$tmp/out" 2>&1
has_line "pair: ratio" '^traced +1 +5000 +1\.250 ' "$tmp/out"
has_line "pair: lost" 'lost_events: 0 in total over 1 traced runs' "$tmp/out"
has_line "pair: full-sum rate" 'full sums / rss events: median 0\.06250' "$tmp/out"

# ---- the real program (realprog.sh's raw columns)
{
	printf 'round\tseq\tkind\txz_elapsed_s\tcommand_wall_s\ttime_maxrss_kb\tmemtrace_peak_kb\tlost_events\n'
	printf '0\t1\tuntraced\t10.00\t10.010\t73000\tNA\tNA\n'
	printf '0\t2\ttraced\t10.10\t10.500\t73000\t73365\t0\n'
	printf '1\t3\tuntraced\t10.00\t10.010\t73000\tNA\tNA\n'
} >"$tmp/real.tsv"
BENCH_REAL_REPORT=$tmp/real.tsv tools/realprog.sh >"$tmp/out" 2>&1
has_line "realprog: xz ratio" '^xz elapsed \(time -v\) +1 +10\.00s +10\.10s +1\.010 ' "$tmp/out"
has_line "realprog: peak vs maxrss" 'median \+0\.50%' "$tmp/out"

# ---- the table
tools/bench-table.sh >"$tmp/out" 2>&1
has_line "table: full-sum rate" '^\| full sums / rss events \(storm\) \| 0\.06250 = 1/16 .*\| <= 1/16: MET \|' "$tmp/out"
has_line "table: loader" '^\| loader: user CPU per record \| 250 ns .*\| <= 1 us: MET \|' "$tmp/out"
has_line "table: model" '^\| model: amortized 256 CPUs / 2 CPUs \| 1\.635 \| <= 1\.20: NOT MET \|' "$tmp/out"
has_line "table: real program" '^\| real program: xz -6 elapsed, traced / untraced \| 1\.010x .*\| <= 1\.02x: MET \|' "$tmp/out"

if [ $failed -gt 0 ]; then
	echo "bench self-test: $failed check(s) FAILED"
	exit 1
fi
echo "bench self-test: all checks passed"
exit 0
