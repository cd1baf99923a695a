#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make bench (two processes): two 4 KiB page-fault storms at once, one per
# CPU of a 2-CPU machine, traced together by one memtrace-bpf, against the
# same pair untraced, in alternating runs. Run as root from the repository
# root, after the build (`make bench` does both).
#
#   untraced   sh -c 'faultstorm -m MIB -b B & faultstorm -m MIB -b B; wait'
#   traced     memtrace-bpf -q -o T.csv -- sh -c '...the same...'
# (-b B: a fresh barrier file each run; the two start touching together,
# each after its own warm-up: see tools/faultstorm.c)
#
# Both storms fault flat out while memtrace-bpf's consumer competes with
# them for the CPUs: the case where its ring buffer is most likely to fill.
# Per run: each storm's ns/fault (its own clock around its touching loop,
# tools/faultstorm.c); the run's figure is the mean of the two; overlap =
# the time both were touching / the time from the first start to the last
# end (1.00: side by side all along; below 1 when one ends before the
# other). Runs go U T U T ...
# U (U = untraced); a traced run's ratio is its figure over the geometric
# mean of the untraced runs just before and after it; the report gives
# medians. From each traced run's summary: lost_events (issue #14: 0 at the
# default ring size, which this uses), and from its CSV the rss rows of each
# storm's pid inside its timed window against its faults (each fault one
# row). Exits 0 whatever the figures; 1 if it cannot run.
#
# Environment:
#   BENCH_PAIR_ROUNDS=7        traced runs (and one more untraced)
#   BENCH_PAIR_MIB=512         MiB per storm, each process (4 KiB faults)
#   BENCH_PAIR_RESULTS=FILE    raw per-run results (default .output/bench-pair.tsv)
#   BENCH_PAIR_REPORT=FILE     no runs: the report of an earlier run's raw results
#   BENCH_TMPDIR=/tmp          where traces are written (deleted after each run)
#   OUTPUT=.output             build directory
#
# Needs: bash, coreutils (timeout), gawk or mawk, python3 (the summary).
set -u
export LC_ALL=C

cd "$(dirname "$0")/.." || exit 1

OUT=${OUTPUT:-.output}
BIN=$OUT/memtrace-bpf
FS=$OUT/tools/faultstorm
ROUNDS=${BENCH_PAIR_ROUNDS:-7}
MIB=${BENCH_PAIR_MIB:-512}
RESULTS=${BENCH_PAIR_RESULTS:-$OUT/bench-pair.tsv}
RUN_TIMEOUT=180

die() { echo "bench-pair: $*" >&2; exit 1; }
# shellcheck source=tools/bench-lib.sh
. tools/bench-lib.sh

# report RESULTS: the medians, and the figures for the table.
report() {
	local ratios
	ratios=$(pair_ratios "$1" 3 4 untraced | tr '\n' ' ')
	figures_reset pair
	awk -F'\t' -v ratios="$ratios" -v figs="$FIGURES" -v nocost="$NO_COST" "$AWK_STATS"'
function fig(key, value, note) { printf "pair\t%s\t%s\t%s\n", key, value, note >> figs }
NR == 1 { next }
{
	if ($3 == "untraced") { un++; u_ns[un] = $4; u_ov[un] = $7; next }
	tn++; t_ns[tn] = $4; t_ov[tn] = $7
	if ($9 != "NA") { lost_runs++; lost += $9; if ($9 > 0) lossy++ }
	if ($10 != "NA" && $8 > 0) rows[++nrw] = $10 / $8
	if ($11 != "NA" && $11 > 0 && $12 != "NA") rate[++nrt] = $12 / $11
}
END {
	nr = 0; n = split(ratios, rs, " ")
	for (i = 1; i <= n; i++) if (rs[i] != "NA") r[++nr] = rs[i]
	printf "\n%-10s %5s %18s %12s %10s %10s %9s\n", "pair", "runs", "ns/fault(med)", "ratio(med)", "ratio min", "ratio max", "overlap"
	printf "%-10s %5d %18.0f %12s %10s %10s %9.2f\n", "untraced", un, median(u_ns, un), "", "", "", median(u_ov, un)
	if (tn)
		printf "%-10s %5d %18.0f %12s %10s %10s %9.2f\n", "traced", tn, median(t_ns, tn), na(median(r, nr), "%.3f"), na(minof(r, nr), "%.3f"), na(maxof(r, nr), "%.3f"), median(t_ov, tn)
	printf "(ns/fault: the mean of the two storms of a run; overlap: both touching / first start to last end)\n"
	fig("untraced.ns_per_fault", sprintf("%.0f", median(u_ns, un)), un " runs, overlap " sprintf("%.2f", median(u_ov, un)))
	if (nr) fig("ratio", sprintf("%.3f", median(r, nr)), sprintf("%.3f-%.3f, %d runs", minof(r, nr), maxof(r, nr), nr))
	if (lost_runs) {
		printf "lost_events: %d in total over %d traced runs (%d runs with losses): %s\n", lost, lost_runs, lossy, lost ? "NOT 0" : "0, as required"
		fig("lost", lost, lost_runs " runs, default ring size")
	}
	if (nrw) {
		printf "storm rows / faults: median %.4f (min %.4f, max %.4f)\n", median(rows, nrw), minof(rows, nrw), maxof(rows, nrw)
		fig("rows_per_fault", sprintf("%.4f", median(rows, nrw)), sprintf("%.4f-%.4f", minof(rows, nrw), maxof(rows, nrw)))
	}
	if (nrt) {
		printf "full sums / rss events: median %.5f (min %.5f, max %.5f)\n", median(rate, nrt), minof(rate, nrt), maxof(rate, nrt)
		fig("full_sum_rate", sprintf("%.5f", median(rate, nrt)), "")
	} else if (tn) {
		printf "full sums / rss events: %s\n", nocost
		fig("full_sum_rate", "NA", nocost)
	}
}' "$1"
}

if [ -n "${BENCH_PAIR_REPORT:-}" ]; then
	[ -s "$BENCH_PAIR_REPORT" ] || die "BENCH_PAIR_REPORT: $BENCH_PAIR_REPORT is missing or empty"
	echo "two processes: report of $BENCH_PAIR_REPORT (no runs)"
	report "$BENCH_PAIR_REPORT"
	exit 0
fi

for v in ROUNDS MIB; do
	case ${!v} in '' | *[!0-9]* | 0) die "BENCH_PAIR_$v must be a positive integer (got '${!v}')" ;; esac
done
[ "$(id -u)" -eq 0 ] || die "must run as root (BPF needs it): sudo make bench"
for f in "$BIN" "$FS"; do
	[ -x "$f" ] || die "$f is missing: build first (make all, or make bench)"
done
command -v timeout >/dev/null || die "timeout (coreutils) is missing"

tmp=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/memtrace-bench-pair.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
trap 'echo; echo "bench-pair: interrupted" >&2; exit 130' INT TERM

# The pair as one shell command, meeting at barrier file $1 (paths quoted
# for sh).
pair_cmd() {
	local fs_q="'${FS//\'/\'\\\'\'}'" b_q="'${1//\'/\'\\\'\'}'"
	printf '%s -m %s -b %s & %s -m %s -b %s; wait' "$fs_q" "$MIB" "$b_q" "$fs_q" "$MIB" "$b_q"
}

# Runs KIND (untraced or traced) once; prints its raw row's fields after
# round and seq, or says why it failed and returns 1.
run_pair() {
	local kind=$1 rc lines fields lost=NA rows=NA cost pair
	rm -f "$tmp"/t.csv "$tmp"/t.summary.json "$tmp"/barrier
	pair=$(pair_cmd "$tmp/barrier")
	case $kind in
	untraced) CMD=(sh -c "$pair") ;;
	traced) CMD=("$BIN" -q -o "$tmp/t.csv" -- sh -c "$pair") ;;
	esac
	timeout -k 10 "$RUN_TIMEOUT" "${CMD[@]}" >"$tmp/stdout" 2>"$tmp/stderr"
	rc=$?
	lines=$(grep -c '^faults=' "$tmp/stdout")
	if [ $rc -ne 0 ] || [ "$lines" -ne 2 ]; then
		echo "    $kind failed (exit $rc, $lines storm lines of 2)" >&2
		grep -v 'RLIMIT_MEMLOCK' "$tmp/stderr" | tail -n 5 | sed 's/^/      | /' >&2
		return 1
	fi
	# ns_mean ns_a ns_b overlap faults pid_a start_a end_a pid_b start_b end_b
	fields=$(awk '
	{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[NR, kv[1]] = kv[2] } }
	END {
		s1 = v[1, "start_ns"]; e1 = v[1, "end_ns"]; s2 = v[2, "start_ns"]; e2 = v[2, "end_ns"]
		both = (e1 < e2 ? e1 : e2) - (s1 > s2 ? s1 : s2); if (both < 0) both = 0
		span = (e1 > e2 ? e1 : e2) - (s1 < s2 ? s1 : s2)
		mean = (v[1, "ns_per_fault"] + v[2, "ns_per_fault"]) / 2
		ov = span > 0 ? both / span : 0
		printf "%.1f\t%s\t%s\t%.3f\t%d\t%s %s %s %s %s %s\n", mean, v[1, "ns_per_fault"], v[2, "ns_per_fault"],
		       ov, v[1, "faults"] + v[2, "faults"], v[1, "pid"], s1, e1, v[2, "pid"], s2, e2
	}' <(grep '^faults=' "$tmp/stdout"))
	local win=${fields##*$'\t'} faults
	fields=${fields%$'\t'*}
	faults=${fields##*$'\t'}
	cost=$(printf 'NA\t%.0s' $COST_KEYS)
	cost=${cost%$'\t'}
	if [ "$kind" = traced ]; then
		lost=$(summary_fields "$tmp/t.summary.json" lost_events)
		cost=$(cost_fields "$tmp/t.summary.json")
		# rss rows of each storm's pid inside its own timed window
		# shellcheck disable=SC2086
		rows=$(awk -F, -v w="$win" 'BEGIN { split(w, x, " ") }
			NR > 1 && $7 == "rss" && (($5 == x[1] && $4 + 0 >= x[2] + 0 && $4 + 0 <= x[3] + 0) ||
			                          ($5 == x[4] && $4 + 0 >= x[5] + 0 && $4 + 0 <= x[6] + 0)) { n++ }
			END { print n + 0 }' "$tmp/t.csv" 2>/dev/null)
	fi
	rm -f "$tmp"/t.csv "$tmp"/t.summary.json
	printf '%s\t%s\t%s\t%s\t%s\n' "$kind" "$fields" "$lost" "${rows:-NA}" "$cost"
}

echo "two processes: two 4 KiB fault storms at once ($MIB MiB = $((MIB * 256)) faults each), untraced vs one memtrace-bpf"
echo "machine: $(uname -r), $(nproc) CPUs; $ROUNDS rounds of U T, then U"
echo "  untraced  sh -c \"$(pair_cmd '$tmp/barrier')\""
echo "  traced    $BIN -q -o \$tmp/t.csv -- sh -c ..."
mkdir -p "$(dirname "$RESULTS")"
printf 'round\tseq\tkind\tns_per_fault\tns_a\tns_b\toverlap\tfaults\tlost_events\tstorm_rows\t%s\n' \
	"$(echo "$COST_KEYS" | tr ' ' '\t')" >"$RESULTS"
echo
seq=0 fails=0
for ((r = 0; r <= ROUNDS; r++)); do
	line=$(printf '  round %2d/%d:' $((r + 1)) "$ROUNDS")
	kinds="untraced traced"
	[ $r -eq "$ROUNDS" ] && kinds=untraced  # the closing untraced run
	[ $r -eq "$ROUNDS" ] && line="  closing:"
	for kind in $kinds; do
		seq=$((seq + 1))
		if ! row=$(run_pair "$kind"); then
			fails=$((fails + 1))
			[ $fails -ge 3 ] && die "3 runs failed: cannot bench"
			continue
		fi
		IFS=$'\t' read -r k ns nsa nsb ov faults lost rows cost <<<"$row"
		printf '%d\t%d\t%s\n' "$r" "$seq" "$row" >>"$RESULTS"
		line+=$(printf ' | %s %.0f ns/fault (overlap %.2f%s)' "$kind" "$ns" "$ov" \
			"$([ "$kind" = traced ] && echo ", lost $lost")")
	done
	echo "${line/: | /: }"
done
echo
echo "raw per-run data: $RESULTS"
report "$RESULTS"
exit 0
