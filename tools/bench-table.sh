#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make bench (the end): one markdown table of what the parts measured, from
# .output/bench-figures.tsv (BENCH_FIGURES), which tools/bench.sh (storm),
# tools/progcost.py (per-call costs, slot reads, model), tools/bench-pair.sh
# (two processes) and tools/realprog.sh (xz) fill; `make bench` empties it
# first, so a part that did not run shows "not measured". Each row says
# what was measured, the median, the issue #14 target where there is one
# (MET / NOT MET), and where the figure comes from. A figure that needs
# memtrace-bpf's cost object says "n/a (this build has no cost object)" on
# a build without one. Needs no root; exits 0 (1 only without the file).
set -u
export LC_ALL=C

cd "$(dirname "$0")/.." || exit 1
OUT=${OUTPUT:-.output}
die() { echo "bench-table: $*" >&2; exit 1; }
# shellcheck source=tools/bench-lib.sh
. tools/bench-lib.sh

[ -s "$FIGURES" ] || die "$FIGURES is missing or empty: run the bench first (sudo make bench)"

build=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && build+=" + uncommitted changes"
echo
echo "## memtrace-bpf bench: one table"
echo
echo "build $build ($(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo '?')), Linux $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%d)"
echo
awk -F'\t' -v nocost="$NO_COST" '
{ val[$1, $2] = $3; note[$1, $2] = $4 }
function has(p, k) { return ((p, k) in val) && val[p, k] != "NA" }
# the figure, or why there is none
function v(p, k, fmt) {
	if (has(p, k)) return fmt == "" ? val[p, k] : sprintf(fmt, val[p, k])
	if ((p, k) in val) return note[p, k] == "" ? "NA" : note[p, k]
	return "not measured"
}
function n(p, k) { return ((p, k) in note && has(p, k)) ? note[p, k] : "" }
function verdict(ok) { return ok ? "MET" : "NOT MET" }
function row(what, figure, target, how) { printf "| %s | %s | %s | %s |\n", what, figure, target, how }
function storm_row(tool, label, how,    f) {
	if (!has("storm", tool ".ratio")) return
	f = sprintf("%sx (%s; %s ns/fault)", val["storm", tool ".ratio"], n("storm", tool ".ratio"), v("storm", tool ".ns_per_fault"))
	row(label, f, "", how)
}
END {
	print "| measure | figure (median) | issue #14 target | how |"
	print "|---|---|---|---|"
	# ---- the storm (tools/bench.sh)
	how = sprintf("faultstorm, %s faults of 4 KiB, %s rounds, paired with the untraced runs around each", v("storm", "faults"), v("storm", "rounds"))
	if (has("storm", "untraced.ns_per_fault"))
		row("storm: untraced", sprintf("%s ns/fault (A/A %sx, %s)", val["storm", "untraced.ns_per_fault"], v("storm", "untraced.ratio"), n("storm", "untraced.ratio")), "", how)
	else
		row("storm", "not measured", "", "tools/bench.sh")
	if (has("storm", "memtrace-bpf.ratio")) {
		r = val["storm", "memtrace-bpf.ratio"] + 0; u = val["storm", "untraced.ns_per_fault"] + 0
		t = (u <= 2000) ? sprintf("<= 1.25x (fault <= 2 us here): %s", verdict(r <= 1.25)) : sprintf("<= 1.25x applies where a fault costs <= 2 us (here %d ns)", u)
		row("storm: memtrace-bpf (every change recorded)", sprintf("%.3fx (%s; %s ns/fault)", r, n("storm", "memtrace-bpf.ratio"), v("storm", "memtrace-bpf.ns_per_fault")), t, "memtrace-bpf -q -o T.csv -- faultstorm")
	}
	storm_row("emptyprog", "storm: empty programs (the limit)", "emptyprog -- faultstorm: rss_stat + page_fault_user return at once")
	if (has("storm", "memtrace-bpf.vs_emptyprog"))
		row("storm: memtrace-bpf / empty programs", sprintf("%sx (%s)", val["storm", "memtrace-bpf.vs_emptyprog"], n("storm", "memtrace-bpf.vs_emptyprog")), "", "the two ratios of the same round")
	storm_row("perf-record", "storm: perf record -e kmem:rss_stat", "perf record -e kmem:rss_stat -- faultstorm")
	if (has("storm", "memtrace-bpf.vs_perf"))
		row("storm: memtrace-bpf / perf-record", sprintf("%sx (%s)", val["storm", "memtrace-bpf.vs_perf"], n("storm", "memtrace-bpf.vs_perf")), "< 1 (ahead of perf): " verdict(val["storm", "memtrace-bpf.vs_perf"] < 1), "the two ratios of the same round")
	storm_row("bpftrace", "storm: bpftrace printf per kmem:rss_stat", "bpftrace -e ... -c faultstorm")
	storm_row("poller-10ms", "storm: /proc poller every 10 ms", "tools/poller.c -i 10ms")
	if (("storm", "memtrace-bpf.lost") in val)
		row("storm: memtrace-bpf lost records; rows == faults", sprintf("%s (%s); %s", v("storm", "memtrace-bpf.lost"), n("storm", "memtrace-bpf.lost"), v("storm", "memtrace-bpf.rows_eq_faults")), "", "summary lost_events; CSV rss rows of the storm pid in its window")

	# ---- per call (tools/progcost.py)
	how = "kernel.bpf_stats_enabled run_time_ns / run_cnt, same rounds, ratio round by round"
	if (has("progcost", "on_rss_stat.vs_empty")) {
		q = val["progcost", "on_rss_stat.vs_empty"]
		row("per call: on_rss_stat / empty program", sprintf("%sx (%s ns / %s ns; %s)", q, v("progcost", "on_rss_stat.ns"), v("progcost", "empty_rss_stat.ns"), n("progcost", "on_rss_stat.vs_empty")), "<= 2.5x: " verdict(q <= 2.5), how)
	} else
		row("per call: on_rss_stat / empty program", "not measured", "<= 2.5x", "tools/progcost.py")
	if (has("progcost", "floor.vs_empty"))
		row("per call: floor (clock + 168-byte ring record) / empty program", sprintf("%sx (%s ns / %s ns; %s)", val["progcost", "floor.vs_empty"], v("progcost", "floor_rss_stat.ns"), v("progcost", "empty_rss_stat.ns"), n("progcost", "floor.vs_empty")), "the least any tool keeping every change pays", how)
	if (has("progcost", "on_rss_stat.vs_floor"))
		row("per call: on_rss_stat / floor", sprintf("%sx (%s)", val["progcost", "on_rss_stat.vs_floor"], n("progcost", "on_rss_stat.vs_floor")), "", "lookup, exact sum, peaks, cause on top of the floor")
	if (has("progcost", "on_page_fault_user.vs_empty")) {
		q = val["progcost", "on_page_fault_user.vs_empty"]
		row("per call: on_page_fault_user / empty program", sprintf("%sx (%s ns / %s ns; %s)", q, v("progcost", "on_page_fault_user.ns"), v("progcost", "empty_fault.ns"), n("progcost", "on_page_fault_user.vs_empty")), "<= 1.5x: " verdict(q <= 1.5), how)
	}

	# ---- full sums and the model
	if (has("storm", "full_sum_rate")) { p = "storm"; src = "the storm runs" }
	else if (has("progcost", "full_sum_rate")) { p = "progcost"; src = "progcost storms" }
	else { p = "storm"; src = "" }
	if (has(p, "full_sum_rate")) {
		q = val[p, "full_sum_rate"]
		row("full sums / rss events (storm)", sprintf("%.5f = 1/%.0f (%s)", q, q > 0 ? 1 / q : 0, n(p, "full_sum_rate")), "<= 1/16: " verdict(q <= 1 / 16), "cost object full_sums / rss_events, " src)
	} else
		row("full sums / rss events (storm)", ((p, "full_sum_rate") in val) ? nocost : "not measured", "<= 1/16", "cost object full_sums / rss_events")
	if (has("progcost", "slot_read_ns"))
		row("one slot read", sprintf("%s ns (%s); with the per-CPU keep %s ns", val["progcost", "slot_read_ns"], n("progcost", "slot_read_ns"), v("progcost", "slot_keep_ns")), "", "emptyprog -r N minus -r 0, over N (warm cache)")
	for (i = 1; i <= 3; i++) {
		c = (i == 1) ? 2 : (i == 2) ? 64 : 256
		ka = "model." c ".amortized_ns"; kf = "model." c ".always_full_ns"
		if (!(("progcost", kf) in val)) continue
		a = has("progcost", ka) ? sprintf("%s ns (%s)", val["progcost", ka], note["progcost", ka]) : nocost
		f = has("progcost", kf) ? sprintf("%s ns (%s)", val["progcost", kf], note["progcost", kf]) : sprintf("n/a without the cost object (%s)", note["progcost", kf])
		row(sprintf("model: ns per on_rss_stat call at %d CPUs", c), sprintf("amortized %s; always-full sum %s", a, f), (c == 256) ? "256 CPUs within 20% of 2 CPUs" : "", "fixed + slot x CPUs x rate (progcost.py header)")
	}
	if (("progcost", "model.256_vs_2") in val)
		row("model: amortized 256 CPUs / 2 CPUs", has("progcost", "model.256_vs_2") ? val["progcost", "model.256_vs_2"] : nocost, has("progcost", "model.256_vs_2") ? "<= 1.20: " verdict(val["progcost", "model.256_vs_2"] <= 1.2) : "<= 1.20", "")

	# ---- two processes (tools/bench-pair.sh)
	if (has("pair", "ratio") || ("pair", "lost") in val) {
		row("two processes at once: ratio", sprintf("%sx (%s; untraced %s ns/fault, %s)", v("pair", "ratio"), n("pair", "ratio"), v("pair", "untraced.ns_per_fault"), n("pair", "untraced.ns_per_fault")), "", "sh -c \"faultstorm -b B & faultstorm -b B; wait\", one memtrace-bpf")
		row("two processes at once: lost records", sprintf("%s (%s); rows / faults %s", v("pair", "lost"), n("pair", "lost"), v("pair", "rows_per_fault")), "0: " (has("pair", "lost") ? verdict(val["pair", "lost"] == 0) : "n/a"), "summary lost_events, default ring size")
	} else
		row("two processes at once", "not measured", "lost 0", "tools/bench-pair.sh")

	# ---- the real program (tools/realprog.sh)
	if (has("realprog", "xz_ratio")) {
		q = val["realprog", "xz_ratio"]
		row("real program: xz -6 elapsed, traced / untraced", sprintf("%sx (%s)", q, n("realprog", "xz_ratio")), "<= 1.02x: " verdict(q <= 1.02), "time -v elapsed, paired")
		row("real program: whole command wall", sprintf("%sx (%s)", v("realprog", "command_ratio"), n("realprog", "command_ratio")), "", "memtrace-bpf start and end included")
		q = val["realprog", "peak_vs_maxrss_pct"]
		row("real program: peak vs time -v maxrss", sprintf("%s%% (%s)", v("realprog", "peak_vs_maxrss_pct"), n("realprog", "peak_vs_maxrss_pct")), has("realprog", "peak_vs_maxrss_pct") ? "within 1%: " verdict(q <= 1 && q >= -1) : "within 1%", "same run; maxrss is the approximate counter")
	} else
		row("real program (xz -6)", "not measured", "<= 1.02x", "tools/realprog.sh")

	# ---- the loader (cost object, storm runs)
	if (("storm", "loader.user_ns_per_record") in val) {
		q = val["storm", "loader.user_ns_per_record"]
		row("loader: user CPU per record", has("storm", "loader.user_ns_per_record") ? sprintf("%s ns (%s; system %s ns)", q, n("storm", "loader.user_ns_per_record"), v("storm", "loader.sys_ns_per_record")) : nocost, has("storm", "loader.user_ns_per_record") ? "<= 1 us: " verdict(q <= 1000) : "<= 1 us", "cost object loader_user_s / records, storm runs")
		q = val["storm", "loader.maxrss_kb"]
		row("loader: maxrss over the storm", has("storm", "loader.maxrss_kb") ? sprintf("%.1f MiB (%s kB; %s)", q / 1024, q, n("storm", "loader.maxrss_kb")) : nocost, has("storm", "loader.maxrss_kb") ? "<= 32 MiB: " verdict(q <= 32768) : "<= 32 MiB", "cost object loader_maxrss_kb")
	} else
		row("loader: CPU per record, maxrss", "not measured", "<= 1 us, <= 32 MiB", "tools/bench.sh (memtrace-bpf runs)")
}' "$FIGURES"
echo
echo "(figures: $FIGURES; raw per-run results: $OUT/bench-*.tsv)"
exit 0
