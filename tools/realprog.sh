#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make bench (a real program): xz -6 compressing generated text, untraced
# and under memtrace-bpf, in alternating runs. Run as root from the
# repository root, after the build (`make bench` does both).
#
# The input is BENCH_REAL_MIB MiB of English-like text from tools/gentext.py
# (deterministic, made here, nothing downloaded; ~10 s of xz -6 on this
# machine kind at the default 8 MiB). Each run is
#   untraced   /usr/bin/time -v -o TIME xz -6 -T1 -c TEXT >/dev/null
#   traced     memtrace-bpf -q -o T.csv -- /usr/bin/time -v -o TIME xz -6 -T1 -c TEXT >/dev/null
# /usr/bin/time (GNU time) is inside the trace so that one run gives both
# sides of the peak comparison. Runs go U T U T ... U (U = untraced).
#
# Figures (medians over the runs; ratios are paired: each traced run over
# the geometric mean of the untraced runs just before and after it):
#   xz wall ratio        xz's own elapsed time (time -v's "Elapsed (wall
#                        clock)", 10 ms resolution) traced / untraced: what
#                        tracing does to the program (issue #14: <= 1.02)
#   command wall ratio   the whole command line's wall time, memtrace-bpf's
#                        start (loading its BPF programs) and end included:
#                        what the user waits for
#   peak vs maxrss       memtrace-bpf's peak for the xz process (summary
#                        processes[comm=xz].peak_rss_kb, exact: every
#                        change) against time -v's "Maximum resident set
#                        size" of the same run, (peak - maxrss) / maxrss
#                        (issue #14: within 1 %). ru_maxrss is the kernel's
#                        hiwater_rss, taken from the approximate counter
#                        read (percpu counters' shared count only, up to
#                        batch-1 pages per CPU behind) at the moments RSS is
#                        about to fall and at exit: it can miss a short
#                        peak and be off by those pages either way.
#   lost records         summary lost_events (0 expected)
# Exits 0 whatever the figures; 1 if it cannot run.
#
# Environment:
#   BENCH_REAL_ROUNDS=5        traced runs (and one more untraced)
#   BENCH_REAL_MIB=8           MiB of text (xz -6 here: ~1 MiB/s)
#   BENCH_REAL_RESULTS=FILE    raw per-run results (default .output/bench-realprog.tsv)
#   BENCH_REAL_REPORT=FILE     no runs: the report of an earlier run's raw results
#   BENCH_TMPDIR=/tmp          where the text and traces go (deleted at the end)
#   OUTPUT=.output             build directory
#
# Needs: bash, coreutils, gawk or mawk, python3, xz-utils, time (GNU time as
# /usr/bin/time); tools/install-deps.sh bench installs them.
set -u
export LC_ALL=C

cd "$(dirname "$0")/.." || exit 1

OUT=${OUTPUT:-.output}
BIN=$OUT/memtrace-bpf
ROUNDS=${BENCH_REAL_ROUNDS:-5}
MIB=${BENCH_REAL_MIB:-8}
RESULTS=${BENCH_REAL_RESULTS:-$OUT/bench-realprog.tsv}
TIME=/usr/bin/time
RUN_TIMEOUT=600

die() { echo "realprog: $*" >&2; exit 1; }
# shellcheck source=tools/bench-lib.sh
. tools/bench-lib.sh

# report RESULTS: the medians, and the figures for the table.
report() {
	local xr cr
	xr=$(pair_ratios "$1" 3 4 untraced | tr '\n' ' ')
	cr=$(pair_ratios "$1" 3 5 untraced | tr '\n' ' ')
	figures_reset realprog
	awk -F'\t' -v xr="$xr" -v cr="$cr" -v figs="$FIGURES" "$AWK_STATS"'
function fig(key, value, note) { printf "realprog\t%s\t%s\t%s\n", key, value, note >> figs }
function ratios(s, arr,    n, i, k, x) { n = split(s, x, " "); k = 0; for (i = 1; i <= n; i++) if (x[i] != "NA") arr[++k] = x[i]; return k }
NR == 1 { next }
{
	if ($3 == "untraced") { un++; u_xz[un] = $4; u_cmd[un] = $5; u_max[un] = $6; next }
	tn++; t_xz[tn] = $4; t_cmd[tn] = $5; t_max[tn] = $6
	if ($7 != "NA" && $6 > 0) { d = ($7 - $6) / $6 * 100; diff[++nd] = d; ad = d < 0 ? -d : d; if (ad > worst) worst = ad; peak[nd] = $7 }
	if ($8 != "NA") { lost_runs++; lost += $8 }
}
END {
	nx = ratios(xr, rx); nc = ratios(cr, rc)
	printf "\n%-26s %5s %12s %12s %10s %10s\n", "", "runs", "untraced", "traced", "ratio(med)", "min-max"
	printf "%-26s %5d %11.2fs %11.2fs %10s %10s\n", "xz elapsed (time -v)", tn, median(u_xz, un), median(t_xz, tn), na(median(rx, nx), "%.3f"), nx ? sprintf("%.3f-%.3f", minof(rx, nx), maxof(rx, nx)) : "NA"
	printf "%-26s %5d %11.2fs %11.2fs %10s %10s\n", "whole command (wall)", tn, median(u_cmd, un), median(t_cmd, tn), na(median(rc, nc), "%.3f"), nc ? sprintf("%.3f-%.3f", minof(rc, nc), maxof(rc, nc)) : "NA"
	printf "(ratios paired: each traced run over the geometric mean of the untraced runs around it)\n"
	if (nx) fig("xz_ratio", sprintf("%.3f", median(rx, nx)), sprintf("%.3f-%.3f, %d runs; untraced %.2f s", minof(rx, nx), maxof(rx, nx), nx, median(u_xz, un)))
	if (nc) fig("command_ratio", sprintf("%.3f", median(rc, nc)), sprintf("%.3f-%.3f, %d runs", minof(rc, nc), maxof(rc, nc), nc))
	if (nd) {
		printf "peak: memtrace-bpf %.0f kB (xz) vs time -v maximum resident set %.0f kB (same runs; untraced runs %.0f kB):\n", median(peak, nd), median(t_max, tn), median(u_max, un)
		printf "      (peak - maxrss) / maxrss median %+.2f%% (%+.2f%% to %+.2f%%; worst |%.2f%%|; target within 1%%)\n", median(diff, nd), minof(diff, nd), maxof(diff, nd), worst
		printf "      (maxrss is hiwater_rss: the approximate counter, read when RSS is about to fall and at exit)\n"
		fig("peak_vs_maxrss_pct", sprintf("%+.2f", median(diff, nd)), sprintf("worst %.2f%%; peak %.0f kB, maxrss %.0f kB", worst, median(peak, nd), median(t_max, tn)))
	} else
		printf "peak: no traced run gave both figures\n"
	if (lost_runs) {
		printf "lost_events: %d in total over %d traced runs\n", lost, lost_runs
		fig("lost", lost, lost_runs " runs")
	}
}' "$1"
}

if [ -n "${BENCH_REAL_REPORT:-}" ]; then
	[ -s "$BENCH_REAL_REPORT" ] || die "BENCH_REAL_REPORT: $BENCH_REAL_REPORT is missing or empty"
	echo "real program: report of $BENCH_REAL_REPORT (no runs)"
	report "$BENCH_REAL_REPORT"
	exit 0
fi

for v in ROUNDS MIB; do
	case ${!v} in '' | *[!0-9]* | 0) die "BENCH_REAL_$v must be a positive integer (got '${!v}')" ;; esac
done
[ "$(id -u)" -eq 0 ] || die "must run as root (BPF needs it): sudo make bench"
[ -x "$BIN" ] || die "$BIN is missing: build first (make all, or make bench)"
command -v xz >/dev/null || die "xz is missing (Debian package xz-utils; tools/install-deps.sh bench)"
"$TIME" -f '' true 2>/dev/null || die "$TIME (GNU time) is missing (Debian package time; tools/install-deps.sh bench)"
command -v python3 >/dev/null || die "python3 is missing (it makes the text and reads the summary)"

tmp=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/memtrace-realprog.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
trap 'echo; echo "realprog: interrupted" >&2; exit 130' INT TERM

TEXT=$tmp/text.txt
tools/gentext.py "$MIB" >"$TEXT" || die "tools/gentext.py $MIB failed"
XZ=(xz -6 -T1 -c "$TEXT")

# Seconds in time -v's "h:mm:ss or m:ss" form.
hms_s() { awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }' <<<"$1"; }

# Runs KIND (untraced or traced) once; prints its raw row's fields after
# round and seq, or says why it failed and returns 1.
run_real() {
	local kind=$1 rc t0 t1 el mx peak=NA lost=NA
	rm -f "$tmp"/time.txt "$tmp"/t.csv "$tmp"/t.summary.json
	case $kind in
	untraced) CMD=("$TIME" -v -o "$tmp/time.txt" "${XZ[@]}") ;;
	traced) CMD=("$BIN" -q -o "$tmp/t.csv" -- "$TIME" -v -o "$tmp/time.txt" "${XZ[@]}") ;;
	esac
	t0=$(now_ns)
	timeout -k 10 "$RUN_TIMEOUT" "${CMD[@]}" >/dev/null 2>"$tmp/stderr"
	rc=$?
	t1=$(now_ns)
	el=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time[^:]*: *//p' "$tmp/time.txt" 2>/dev/null)
	mx=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): *//p' "$tmp/time.txt" 2>/dev/null)
	if [ $rc -ne 0 ] || [ -z "$el" ] || [ -z "$mx" ]; then
		echo "    $kind failed (exit $rc)" >&2
		grep -v 'RLIMIT_MEMLOCK' "$tmp/stderr" | tail -n 5 | sed 's/^/      | /' >&2
		return 1
	fi
	if [ "$kind" = traced ]; then
		IFS=$'\t' read -r peak lost < <(summary_fields "$tmp/t.summary.json" 'processes[comm=xz].peak_rss_kb' lost_events)
	fi
	rm -f "$tmp"/t.csv "$tmp"/t.summary.json
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$(hms_s "$el")" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" "$mx" "$peak" "$lost"
}

echo "real program: xz -6 -T1 on $MIB MiB of generated text (tools/gentext.py $MIB), untraced vs memtrace-bpf"
echo "machine: $(uname -r), $(nproc) CPUs; $ROUNDS rounds of U T, then U"
echo "  untraced  $TIME -v -o \$tmp/time.txt xz -6 -T1 -c \$tmp/text.txt >/dev/null"
echo "  traced    $BIN -q -o \$tmp/t.csv -- (the same)"
mkdir -p "$(dirname "$RESULTS")"
printf 'round\tseq\tkind\txz_elapsed_s\tcommand_wall_s\ttime_maxrss_kb\tmemtrace_peak_kb\tlost_events\n' >"$RESULTS"
echo
seq=0 fails=0
for ((r = 0; r <= ROUNDS; r++)); do
	kinds="untraced traced"
	line=$(printf '  round %2d/%d:' $((r + 1)) "$ROUNDS")
	if [ $r -eq "$ROUNDS" ]; then kinds=untraced line="  closing:"; fi
	for kind in $kinds; do
		seq=$((seq + 1))
		if ! row=$(run_real "$kind"); then
			fails=$((fails + 1))
			[ $fails -ge 3 ] && die "3 runs failed: cannot bench"
			continue
		fi
		printf '%d\t%d\t%s\n' "$r" "$seq" "$row" >>"$RESULTS"
		IFS=$'\t' read -r _ el wall mx peak lost <<<"$row"
		line+=" | $kind xz ${el}s (command ${wall}s), maxrss ${mx} kB"
		[ "$kind" = traced ] && line+=", peak $peak kB, lost $lost"
	done
	echo "${line/: | /: }"
done
echo
echo "raw per-run data: $RESULTS"
report "$RESULTS"
exit 0
