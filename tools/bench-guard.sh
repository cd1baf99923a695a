#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make bench (guard part): how far past a memory limit a runaway allocator
# gets, and how long it takes to stop it, under memtrace-bpf --kill-at and
# the guards people use instead. Run as root from the repository root, after
# the build (`make bench` does both).
#
# The workload is tests/workloads/runaway.c, which touches anonymous memory
# as fast as it can and writes `t TID kb=KB ns=NS` after every MiB (one
# write(2) each, CLOCK_MONOTONIC), up to a cap, then holds it 30 s. Its
# scenarios (BENCH_GUARD_SCENARIOS):
#   4k    runaway -t 1 -p 4k -m CAP      one thread, 4 KiB faults
#   thp   runaway -t 2 -p thp -m CAP     two threads, 2 MiB huge-page faults
#                                        (skipped when THP is off)
# The guards, each with the limit LIMIT (BENCH_GUARD_LIMIT_MIB):
#   memtrace-bpf   memtrace-bpf -q -o T.csv --kill-at LIMIT -- runaway ...
#                  (n/a while the binary has no --kill-at)
#   poll-2000ms    pollguard -i 2000 -l LIMIT -- runaway ...   (tools/pollguard.c:
#   poll-100ms     pollguard -i 100 -l LIMIT -- runaway ...     psutil-style poller)
#   cgroup         runaway in a memory cgroup of its own: v2 memory.max
#                  (+ memory.swap.max 0, memory.oom.group 1) where a v2
#                  hierarchy has the memory controller, else v1
#                  memory.limit_in_bytes (+ memory.memsw.limit_in_bytes);
#                  created here, removed on exit. Its parent is pollguard
#                  with a limit that never fires: only its reap time is used.
# Before every run, faultstorm cycles CAP MiB through a memfd (see
# tools/faultstorm.c: in this VM freed memory goes back to the host ~2 s
# after it is freed, and touching it again is ~5x slower): just before the
# guard starts for memtrace-bpf and cgroup; for the pollers, inside the
# guarded command (sh -c 'sleep DELAY; faultstorm ...; exec runaway ...'),
# after a random DELAY in [0, period): else the runaway would cross the limit
# at the same phase of the poller's period in every run (polls start with
# the command), and the 2 s poller would always take ~1.75 s. Not runaway
# --warm: its memfd pages are charged to the cgroup, which then OOM-kills it
# during the warm-up.
#
# Per run, from the workload's own lines, taking its RSS as base (its VmRSS
# before it starts, ~1.3 MiB) + kb (memory touched so far): the crossing
# time (interpolated between the two lines around LIMIT; extrapolated from
# the last lines' rate when the run died before a line passed LIMIT, as
# under --kill-at), and the overshoot = base + the last kb= line - LIMIT
# (a lower bound: up to a chunk, 1 MiB, per thread is touched after the
# last line). Also overshoot = wait4's ru_maxrss - LIMIT
# (the kernel's approximate counter, program included: memtrace-bpf's
# summary rusage_maxrss_kb, pollguard's maxrss_kb), and time to stop =
# crossing -> death: memtrace-bpf: the workload's exit (the guard's death
# time in its summary, else the trace's `exit` row: the kernel's exit, before
# the memory is freed); pollguard and cgroup: the parent's wait returning
# (after the memory is freed). pollguard also splits it into crossing ->
# kill sent and kill -> reaped. A run that reached the cap holds it until
# the guard acts, so its overshoot is a lower bound (cap - LIMIT): counted
# in the table. A cgroup never lets the charge pass its limit: the faulting
# thread waits in memcg reclaim (reclaim_throttle, with no swap nothing can
# be reclaimed) until the OOM kill, so its time to stop is a stall at the
# limit, not growth.
#
# Rounds alternate the guards (order rotated by one each round) and the
# scenarios; the table gives medians and min-max. A measurement: exits 0
# whether the numbers are good or bad, 1 only if it cannot run.
#
# Environment:
#   BENCH_GUARD_LIMIT_MIB=512     the limit
#   BENCH_GUARD_ROUNDS=5          rounds
#   BENCH_GUARD_CAP_MIB=4096      runaway -m: where an unstopped run stops
#   BENCH_GUARD_SCENARIOS="4k thp"
#   BENCH_GUARD_METHODS="memtrace-bpf poll-2000ms poll-100ms cgroup"
#   BENCH_GUARD_BUDGET_S=270      no new round starts when it would end past this
#   BENCH_GUARD_RESULTS=FILE      raw per-run results (default .output/bench-guard.tsv)
#   BENCH_TMPDIR=/tmp             where traces go (deleted after each run)
#   OUTPUT=.output                build directory
#
# Needs: bash, coreutils (timeout), gawk or mawk, python3 (memtrace-bpf's
# summary), a memory cgroup for the cgroup row.
set -u
export LC_ALL=C

cd "$(dirname "$0")/.." || exit 1

OUT=${OUTPUT:-.output}
BIN=$OUT/memtrace-bpf
RUNAWAY=$OUT/workloads/runaway
PG=$OUT/tools/pollguard
FS=$OUT/tools/faultstorm
LIMIT_MIB=${BENCH_GUARD_LIMIT_MIB:-512}
ROUNDS=${BENCH_GUARD_ROUNDS:-5}
CAP_MIB=${BENCH_GUARD_CAP_MIB:-4096}
BUDGET=${BENCH_GUARD_BUDGET_S:-270}
RESULTS=${BENCH_GUARD_RESULTS:-$OUT/bench-guard.tsv}
RUN_TIMEOUT=60

die() { echo "bench-guard: $*" >&2; exit 1; }

for v in LIMIT_MIB ROUNDS CAP_MIB BUDGET; do
	case ${!v} in '' | *[!0-9]* | 0) die "BENCH_GUARD_$v must be a positive integer (got '${!v}')" ;; esac
done
[ "$CAP_MIB" -gt "$LIMIT_MIB" ] || die "BENCH_GUARD_CAP_MIB ($CAP_MIB) must be above BENCH_GUARD_LIMIT_MIB ($LIMIT_MIB)"
[ "$(id -u)" -eq 0 ] || die "must run as root (BPF and cgroups need it): sudo make bench"
for f in "$RUNAWAY" "$PG" "$FS"; do
	[ -x "$f" ] || die "$f is missing: build first (make all, or make bench)"
done
command -v timeout >/dev/null || die "timeout (coreutils) is missing"

LIMIT_KB=$((LIMIT_MIB * 1024))
tmp=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/memtrace-bench-guard.XXXXXX") || die "mktemp failed"
CG= CG_KIND= CG_ENABLED_V2=
cleanup() {
	local i p
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
			for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
			rmdir "$CG" 2>/dev/null && break
			sleep 0.25
		done
		[ -d "$CG" ] && echo "bench-guard: could not remove the cgroup $CG" >&2
	fi
	# memory was enabled for the children of the v2 root by us: undo it
	[ -n "$CG_ENABLED_V2" ] && echo -memory >"$CG_ENABLED_V2/cgroup.subtree_control" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo; echo "bench-guard: interrupted" >&2; exit 130' INT TERM

# ---------------------------------------------------------------- cgroup
# Sets CG (a fresh cgroup directory with the limit set) and CG_KIND, or
# CG_WHY. v2 first: a cgroup2 mount whose root offers the memory controller.
setup_cgroup() {
	local mnt fstype opts rest path own
	while read -r _ mnt fstype opts rest; do
		[ "$fstype" = cgroup2 ] || continue
		grep -qw memory "$mnt/cgroup.controllers" 2>/dev/null || continue
		if ! grep -qw memory "$mnt/cgroup.subtree_control" 2>/dev/null; then
			echo +memory >"$mnt/cgroup.subtree_control" 2>/dev/null || continue
			CG_ENABLED_V2=$mnt
		fi
		path=$mnt/memtrace-bench-guard.$$
		mkdir "$path" 2>/dev/null || continue
		CG=$path
		if ! cg_set_limit "$LIMIT_MIB"; then
			CG_WHY="cannot set $CG/memory.max"
			return 1
		fi
		CG_KIND="v2 memory.max"
		if [ -e "$CG/memory.swap.max" ]; then
			echo 0 >"$CG/memory.swap.max" && CG_KIND+=" + memory.swap.max=0"
		fi
		echo 1 >"$CG/memory.oom.group" 2>/dev/null
		return 0
	done </proc/mounts
	while read -r _ mnt fstype opts rest; do
		[ "$fstype" = cgroup ] || continue
		case ",$opts," in *,memory,*) ;; *) continue ;; esac
		# under our own memory cgroup (a container's limit still applies), else the root
		own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup)
		for path in "$mnt$own/memtrace-bench-guard.$$" "$mnt/memtrace-bench-guard.$$"; do
			mkdir "$path" 2>/dev/null && break
			path=
		done
		if [ -z "$path" ]; then
			CG_WHY="cannot create a cgroup under $mnt$own or $mnt"
			return 1
		fi
		CG=$path
		if ! cg_set_limit "$LIMIT_MIB"; then
			CG_WHY="cannot set $CG/memory.limit_in_bytes (and memsw)"
			return 1
		fi
		CG_KIND="v1 memory.limit_in_bytes"
		[ -e "$CG/memory.memsw.limit_in_bytes" ] && CG_KIND+=" + memsw"
		return 0
	done </proc/mounts
	CG_WHY="no memory controller in a cgroup v2 hierarchy or a v1 mount"
	return 1
}

# Sets the cgroup's limit to $1 MiB; fails unless the kernel took it. v1
# refuses a memsw limit below the memory limit: lower memory first, raise
# memsw first.
cg_set_limit() {
	local bytes=$(($1 << 20)) lim=$CG/memory.limit_in_bytes sw=$CG/memory.memsw.limit_in_bytes
	if [ -e "$CG/memory.max" ]; then
		echo "$bytes" >"$CG/memory.max" || return 1
		[ "$(cat "$CG/memory.max")" = "$bytes" ]
		return
	fi
	if [ ! -e "$sw" ]; then
		echo "$bytes" >"$lim" || return 1
	elif [ "$bytes" -lt "$(cat "$lim")" ]; then
		echo "$bytes" >"$lim" && echo "$bytes" >"$sw" || return 1
	else
		echo "$bytes" >"$sw" && echo "$bytes" >"$lim" || return 1
	fi
	[ "$(cat "$lim")" = "$bytes" ] && { [ ! -e "$sw" ] || [ "$(cat "$sw")" = "$bytes" ]; }
}

# The cgroup's OOM-kill count so far (to tell an OOM kill from another death).
cg_oom_kills() {
	if [ -e "$CG/memory.events" ]; then
		awk '$1 == "oom_kill" { print $2 }' "$CG/memory.events"
	else
		awk '$1 == "oom_kill" { print $2 }' "$CG/memory.oom_control"
	fi
}

# ---------------------------------------------------------------- the runs
# Sets CMD: the command line of METHOD (limit LIMIT_KB) on the workload
# arguments that follow; the pollers also use DELAY (seconds) and WARM_MIB.
set_cmd() {
	local method=$1 limit_kb=$2
	shift 2
	case $method in
	memtrace-bpf) CMD=("$BIN" -q -o "$tmp/t.csv" --kill-at "${limit_kb}K" -- "$RUNAWAY" "$@") ;;
	poll-*)
		# a random phase of the poller's period (DELAY), then the warm-up,
		# then the workload: all inside the guard, none of it near the limit
		local ms=${method#poll-}
		CMD=("$PG" -i "${ms%ms}" -l "$limit_kb" -- sh -c \
			'sleep "$1" && "$2" -m 1 -w "$3" >/dev/null 2>&1; shift 3 && exec "$@"' \
			sh "$DELAY" "$FS" "$WARM_MIB" "$RUNAWAY" "$@")
		;;
	cgroup)
		CMD=("$PG" -i 86400000 -l 1125899906842624 -- sh -c 'echo $$ >"$1" && shift && exec "$@"'
			sh "$CG/cgroup.procs" "$RUNAWAY" "$@")
		;;
	*) die "unknown method '$method'" ;;
	esac
}

# The workload's lines (file $1) against limit $2 kB. Prints shell
# assignments: W_START W_PID W_BASE_KB W_LINES W_LAST_KB W_FULL W_CROSS_NS
# W_CROSS_HOW W_RATE (MiB/s from start to the crossing). Its RSS is taken
# as base + kb: the crossing is where kb passes limit - base.
parse_workload() {
	awk -v L0="$2" '
	$1 == "start" {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		s = v["ns"] + 0; pid = v["pid"]; k0 = 0; t0 = s; L = L0; base = 0
	}
	$1 == "base" { split($2, kv, "="); if (kv[2] + 0 > 0) { base = kv[2] + 0; L = L0 - base } }
	$1 == "t" {
		split($3, a, "="); split($4, b, "="); kb = a[2] + 0; ns = b[2] + 0; n++
		if (kb > last) { last = kb; lastns = ns }
		if (kb <= L && kb >= k0) { k0 = kb; t0 = ns }
		if (kb > L && (k1 == "" || kb < k1)) { k1 = kb; t1 = ns }
		rk[n % 32] = kb; rt[n % 32] = ns
	}
	$1 == "full" { full = 1 }
	END {
		if (s == "") { print "W_START=; W_PID=; W_LINES=0"; exit }
		how = "NA"; cross = "NA"
		if (k1 != "") {
			cross = t0 + (L - k0) / (k1 - k0) * (t1 - t0); how = "interp"
		} else if (n >= 2) {
			o = (n >= 32) ? (n + 1) % 32 : 1
			if (last > rk[o] && lastns > rt[o]) {
				cross = lastns + (L - last) * (lastns - rt[o]) / (last - rk[o]); how = "extrap"
			}
		}
		rate = (cross != "NA" && cross > s) ? sprintf("%.0f", L / 1024 / ((cross - s) / 1e9)) : "NA"
		printf "W_START=%.0f W_PID=%s W_BASE_KB=%d W_LINES=%d W_LAST_KB=%d W_FULL=%d W_CROSS_NS=%s W_CROSS_HOW=%s W_RATE=%s\n",
		       s, pid, base, n, last, full + 0, (cross == "NA") ? "NA" : sprintf("%.0f", cross), how, rate
	}' "$1"
}

# memtrace-bpf's summary ($1) and trace ($2) for workload pid $3: prints
# M_CROSSED M_CROSS_NS M_VALUE_KB M_OVER_KB M_MAXAFTER_KB M_DEATH_NS
# M_DEATH_SRC M_MAXRSS_KB. The death is the workload's exit as the kernel
# stamped it (the summary's processes[].exit_ts_ns), else its exit row.
parse_memtrace() {
	python3 - "$1" "$2" "$3" <<'EOF'
import csv, json, sys

summary, trace, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    d = json.load(open(summary))
except (OSError, ValueError):
    d = {}
g = d.get("guard") or {}
c = g.get("crossing") or {}

def death():
    """The workload's exit in the kernel (CLOCK_MONOTONIC ns): the
    summary's processes[].exit_ts_ns for its pid."""
    for p in d.get("processes") or []:
        if p.get("pid") == pid and isinstance(p.get("exit_ts_ns"), int):
            return p["exit_ts_ns"]
    return None

dn, src = death(), "summary-exit"
if dn is None:
    src = "exit-row"
    try:
        with open(trace, newline="") as f:
            for row in csv.DictReader(f):
                if row.get("event") == "exit" and row.get("pid") == str(pid):
                    dn = int(row["ts_ns"])
    except (OSError, ValueError, KeyError):
        pass
if dn is None:
    src = "NA"

def v(x):
    return "NA" if x is None or isinstance(x, (dict, list)) else str(int(x) if isinstance(x, bool) else x)

print(" ".join([
    "M_CROSSED=" + v(g.get("crossed")),
    "M_CROSS_NS=" + v(c.get("ts_ns")),
    "M_VALUE_KB=" + v(c.get("value_kb")),
    "M_OVER_KB=" + v(g.get("overshoot_kb")),
    "M_MAXAFTER_KB=" + v(g.get("max_after_kb")),
    "M_DEATH_NS=" + v(dn),
    "M_DEATH_SRC=" + src,
    "M_MAXRSS_KB=" + v(d.get("rusage_maxrss_kb")),
]))
EOF
}

# Runs METHOD once on scenario SCEN (workload arguments in SCEN_ARGS[SCEN])
# with limit LIMIT_KB and cap CAP; appends a row to $RESULTS (ROUND SEQ as
# given) and sets R_MSG (a short summary), or returns 1 with R_MSG saying why.
run_one() {
	local scen=$1 method=$2 limit_kb=$3 cap=$4 round=$5 seq=$6
	local rc stopped=0 kill_ns=NA death_ns=NA death_src=NA maxrss=NA oom0 oom1 t0 t1 wall
	local M_CROSSED=NA M_CROSS_NS=NA M_VALUE_KB=NA M_OVER_KB=NA M_MAXAFTER_KB=NA M_DEATH_NS=NA M_DEATH_SRC=NA M_MAXRSS_KB=NA
	local W_RATE=NA W_START= W_PID= W_BASE_KB=0 W_LINES=0 W_LAST_KB=0 W_FULL=0 W_CROSS_NS=NA W_CROSS_HOW=NA
	local pgline
	read -r -a wargs <<<"${SCEN_ARGS[$scen]} -m $cap"
	rm -f "$tmp"/t.csv "$tmp"/t.summary.json "$tmp"/t.*
	WARM_MIB=$cap DELAY=NA
	case $method in
	poll-*) # uniform in [0, period): the pollers warm up inside the guard
		local period=${method#poll-}
		period=${period%ms}
		DELAY=$(awk -v r="$RANDOM$RANDOM" -v p="$period" 'BEGIN { printf "%.3f", (r % (p * 1000)) / 1e6 }')
		;;
	*) # warm the memory the run may touch, outside the guard (see the header)
		"$FS" -m 1 -w "$cap" >/dev/null 2>&1
		;;
	esac
	set_cmd "$method" "$limit_kb" "${wargs[@]}"
	[ "$method" = cgroup ] && oom0=$(cg_oom_kills)
	t0=$(date +%s%N)
	timeout -k 5 "$RUN_TIMEOUT" "${CMD[@]}" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	t1=$(date +%s%N)
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
	eval "$(parse_workload "$tmp/out" "$limit_kb")"
	if [ -z "$W_START" ]; then
		R_MSG="$method: no start line from the workload (exit $rc): $(tail -n 2 "$tmp/err" | tr '\n' ' ')"
		return 1
	fi
	case $method in
	memtrace-bpf)
		eval "$(parse_memtrace "$tmp/t.summary.json" "$tmp/t.csv" "$W_PID")"
		[ "$rc" -eq 89 ] && stopped=1
		death_ns=$M_DEATH_NS death_src=$M_DEATH_SRC maxrss=$M_MAXRSS_KB
		;;
	poll-*| cgroup)
		pgline=$(grep -m1 '^pollguard: killed=' "$tmp/err")
		if [ -z "$pgline" ]; then
			R_MSG="$method: no pollguard line (exit $rc): $(tail -n 2 "$tmp/err" | tr '\n' ' ')"
			return 1
		fi
		eval "$(echo "$pgline" | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); printf "PG_%s=%s ", kv[1], kv[2] } }')"
		death_ns=$PG_reap_ns death_src=reap maxrss=$PG_maxrss_kb
		if [ "$method" = cgroup ]; then
			oom1=$(cg_oom_kills)
			[ "$rc" -eq 137 ] && [ "${oom1:-0}" -gt "${oom0:-0}" ] && stopped=1
		else
			[ "$PG_killed" = 1 ] && stopped=1 && kill_ns=$PG_kill_ns
		fi
		;;
	esac
	printf '%s\t%d\t%d\t%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n' \
		"$scen" "$round" "$seq" "$method" "$rc" "$stopped" "$W_START" "$limit_kb" "$W_LINES" "$W_LAST_KB" \
		"$W_FULL" "$W_CROSS_NS" "$W_CROSS_HOW" "$maxrss" "$kill_ns" "$death_ns" "$death_src" \
		"$M_CROSSED" "$M_CROSS_NS" "$M_VALUE_KB" "$M_OVER_KB" "$M_MAXAFTER_KB" "$wall" "$CG_KIND" "$W_BASE_KB" "${DELAY:-NA}" "$W_RATE" >>"$RESULTS"
	R_MSG=$(awk -v m="$method" -v st="$stopped" -v last="$((W_LAST_KB + W_BASE_KB))" -v L="$limit_kb" -v c="$W_CROSS_NS" \
		-v d="$death_ns" -v full="$W_FULL" 'BEGIN {
		s = sprintf("%s %s%+.0f MiB", m, full ? "cap " : "", (last - L) / 1024)
		if (c != "NA" && d != "NA") s = s sprintf(" %.1f ms", (d - c) / 1e6)
		if (!st) s = s " NOT-STOPPED"
		print s }')
	rm -f "$tmp"/t.csv "$tmp"/t.summary.json
	return 0
}

# ---------------------------------------------------------------- setup
declare -A SCEN_ARGS=([4k]="-t 1 -p 4k" [thp]="-t 2 -p thp")
read -r -a scenarios <<<"${BENCH_GUARD_SCENARIOS:-4k thp}"
read -r -a methods <<<"${BENCH_GUARD_METHODS:-memtrace-bpf poll-2000ms poll-100ms cgroup}"
for s in "${scenarios[@]}"; do
	[ -n "${SCEN_ARGS[$s]:-}" ] || die "BENCH_GUARD_SCENARIOS: unknown scenario '$s' (4k thp)"
done
for m in "${methods[@]}"; do
	case $m in memtrace-bpf | poll-2000ms | poll-100ms | cgroup) ;;
	*) die "BENCH_GUARD_METHODS: unknown method '$m' (memtrace-bpf poll-2000ms poll-100ms cgroup)" ;;
	esac
done

thp_mode=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
echo "memtrace-bpf bench-guard: a runaway allocator against a ${LIMIT_MIB} MiB limit"
echo "machine:  $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
	"swap $(awk '/SwapTotal/ { printf "%.0f MiB", $2 / 1024 }' /proc/meminfo), THP ${thp_mode:-unknown}"
echo "workload: runaway ARGS -m $CAP_MIB (cap), faultstorm -w $CAP_MIB warms the memory before each run"

declare -A NA=()
# memtrace-bpf: only once this build has the guard
if [ ! -x "$BIN" ]; then
	NA[memtrace-bpf]="n/a: $BIN is missing"
elif ! "$BIN" --help 2>&1 | grep -q -- --kill-at; then
	NA[memtrace-bpf]="n/a: this build has no --kill-at"
elif ! command -v python3 >/dev/null; then
	NA[memtrace-bpf]="n/a: python3 (to read its summary) is missing"
fi
# cgroup
case " ${methods[*]} " in
*" cgroup "*)
	CG_WHY=
	if ! setup_cgroup; then NA[cgroup]="n/a: $CG_WHY"; fi
	;;
esac
# thp: only where THP can be asked for with madvise
if [ "$thp_mode" != always ] && [ "$thp_mode" != madvise ]; then
	for i in "${!scenarios[@]}"; do
		[ "${scenarios[$i]}" = thp ] && unset 'scenarios[i]' &&
			echo "note:     scenario thp skipped: transparent huge pages are '${thp_mode:-unknown}'"
	done
	scenarios=("${scenarios[@]}")
fi
[ ${#scenarios[@]} -gt 0 ] || die "no scenario to run"

mkdir -p "$(dirname "$RESULTS")"
printf 'scenario\tround\tseq\tmethod\trc\tstopped\tstart_ns\tlimit_kb\tlines\tlast_kb\tfull\tcross_ns\tcross_how\tmaxrss_kb\tkill_ns\tdeath_ns\tdeath_src\tm_crossed\tm_cross_ns\tm_value_kb\tm_overshoot_kb\tm_max_after_kb\twall_s\tcgroup\tbase_kb\tdelay_s\trate_mib_s\n' >"$RESULTS"

# Smoke runs, small (32 MiB limit, 128 MiB cap; not counted): does each
# guard stop the workload here at all? A THP check comes with them.
echo
echo "smoke runs (limit 32 MiB, cap 128 MiB; not counted):"
active=()
for m in "${methods[@]}"; do
	if [ -n "${NA[$m]:-}" ]; then
		printf '  %-13s %s\n' "$m" "${NA[$m]}"
		continue
	fi
	[ "$m" = cgroup ] && cg_set_limit 32 # the smoke run needs the small limit
	RESULTS_SAVE=$RESULTS RESULTS=$tmp/smoke.tsv
	if run_one "${scenarios[0]}" "$m" $((32 * 1024)) 128 -1 0; then
		ok=$(awk -F'\t' 'END { print $6 }' "$RESULTS")
		if [ "$ok" = 1 ]; then
			printf '  %-13s ok (%s)\n' "$m" "$R_MSG"
			active+=("$m")
		else
			NA[$m]="n/a: the smoke run was not stopped ($R_MSG)"
			printf '  %-13s %s\n' "$m" "${NA[$m]}"
		fi
	else
		NA[$m]="n/a: the smoke run failed ($R_MSG)"
		printf '  %-13s %s\n' "$m" "${NA[$m]}"
	fi
	RESULTS=$RESULTS_SAVE
	[ "$m" = cgroup ] && ! cg_set_limit "$LIMIT_MIB" && die "cannot set the cgroup's limit back to $LIMIT_MIB MiB"
done
[ -n "$CG_KIND" ] && echo "  cgroup: $CG_KIND at $CG"

THP_NOTE=
for s in "${scenarios[@]}"; do
	[ "$s" = thp ] || continue
	"$RUNAWAY" ${SCEN_ARGS[thp]} -m 64 >"$tmp/thp.out" 2>&1 &
	tp=$!
	for _ in $(seq 100); do grep -q '^full' "$tmp/thp.out" && break; sleep 0.05; done
	kill "$tp" 2>/dev/null
	wait "$tp" 2>/dev/null
	THP_NOTE=$(awk '$1 == "full" { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "%s of %s kB in huge pages", v["thp_kb"], v["kb"] }' "$tmp/thp.out")
	echo "  thp check:    runaway ${SCEN_ARGS[thp]} -m 64: ${THP_NOTE:-no full line}"
done

echo
echo "command lines (ARGS per scenario: $(for s in "${scenarios[@]}"; do printf '%s=[%s] ' "$s" "${SCEN_ARGS[$s]}"; done)):"
for m in "${active[@]}"; do
	DELAY=DELAY WARM_MIB=$CAP_MIB
	set_cmd "$m" "$LIMIT_KB" ARGS -m "$CAP_MIB"
	printf '  %-13s %s\n' "$m" "$(printf '%q ' "${CMD[@]}" | sed "s|$tmp|\$tmp|g")"
done
[ ${#active[@]} -gt 0 ] || { echo "no guard can run here"; exit 1; }

# ---------------------------------------------------------------- rounds
echo
echo "rounds (overshoot by the workload's lines (base + last kb=), time from crossing to death):"
start=$(date +%s%N)
done_rounds=0
na=${#active[@]}
for ((r = 0; r < ROUNDS; r++)); do
	elapsed=$((($(date +%s%N) - start) / 1000000000))
	if [ $done_rounds -gt 0 ] && [ $((elapsed + elapsed / done_rounds)) -gt "$BUDGET" ]; then
		echo "  stopping after $done_rounds rounds: another would end past the ${BUDGET}s budget (BENCH_GUARD_BUDGET_S)"
		break
	fi
	seq=0
	for s in "${scenarios[@]}"; do
		line=$(printf '  round %d/%d %-4s' $((r + 1)) "$ROUNDS" "$s")
		for ((i = 0; i < na; i++)); do
			m=${active[$(((i + r) % na))]}
			seq=$((seq + 1))
			if run_one "$s" "$m" "$LIMIT_KB" "$CAP_MIB" "$r" "$seq"; then
				line+=" | $R_MSG"
			else
				line+=" | $m FAILED"
				echo "    $R_MSG"
			fi
		done
		echo "$line"
	done
	done_rounds=$((done_rounds + 1))
done
total_s=$((($(date +%s%N) - start) / 1000000000))

# ---------------------------------------------------------------- report
echo
echo "results: $done_rounds rounds in ${total_s}s; raw per-run data: $RESULTS"
echo
NA_LIST=$(for m in "${methods[@]}"; do [ -n "${NA[$m]:-}" ] && printf '%s=%s;' "$m" "${NA[$m]}"; done)
awk -F'\t' -v order="${methods[*]}" -v scens="${scenarios[*]}" -v na="$NA_LIST" -v L="$LIMIT_MIB" \
	-v cap="$CAP_MIB" -v cgkind="$CG_KIND" '
function sortv(arr, k,    i, j, t) {
	for (i = 2; i <= k; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]; arr[j + 1] = t }
}
# "median (min-max)" of the k values in arr (sorted in place), fmt per value
function stat(arr, k, fmt,    m) {
	if (k == 0) return "-"
	sortv(arr, k)
	m = (k % 2) ? arr[(k + 1) / 2] : (arr[k / 2] + arr[k / 2 + 1]) / 2
	if (k == 1) return sprintf(fmt, m)
	return sprintf(fmt " [" fmt ", " fmt "]", m, arr[1], arr[k])
}
NR == 1 { next }
{
	key = $1 SUBSEP $4; k = ++n[key]
	stopped[key] += $6; full[key] += $11; extrap[key] += ($13 == "extrap")
	ol[key, k] = ($10 + $25 - $8) / 1024
	if ($14 != "NA" && $14 != "") orr[key, ++nr[key]] = ($14 - $8) / 1024
	if ($12 != "NA" && $16 != "NA") td[key, ++nd[key]] = ($16 - $12) / 1e6
	if ($12 != "NA" && $15 != "NA") tk[key, ++nk[key]] = ($15 - $12) / 1e6
	if ($15 != "NA" && $16 != "NA") kr[key, ++nkr[key]] = ($16 - $15) / 1e6
	if ($21 != "NA") mo[key, ++nmo[key]] = $21 / 1024
	if ($19 != "NA" && $16 != "NA") mcd[key, ++nmcd[key]] = ($16 - $19) / 1e6
	if ($19 != "NA" && $12 != "NA") mcc[key, ++nmcc[key]] = ($19 - $12) / 1e6
	src[key] = $17
	if ($27 != "NA") rate[$1, ++nrate[$1]] = $27
}
END {
	nm = split(order, ms, " "); ns = split(scens, ss, " ")
	split(na, nal, ";"); for (i in nal) { p = index(nal[i], "="); if (p) nat[substr(nal[i], 1, p - 1)] = substr(nal[i], p + 1) }
	printf "| scenario | guard | runs (stopped) | overshoot MiB, base + last `kb=` | overshoot MiB, ru_maxrss | crossing -> death, ms | death is | notes |\n"
	printf "|---|---|---|---|---|---|---|---|\n"
	for (si = 1; si <= ns; si++) for (mi = 1; mi <= nm; mi++) {
		s = ss[si]; m = ms[mi]; key = s SUBSEP m
		name = (m == "cgroup" && cgkind != "") ? "cgroup (" cgkind ")" : m
		if (m in nat) { printf "| %s | %s | %s | | | | | |\n", s, name, nat[m]; continue }
		k = n[key]
		if (!k) { printf "| %s | %s | 0 | | | | | no run |\n", s, name; continue }
		delete a; for (i = 1; i <= k; i++) a[i] = ol[key, i]
		c1 = stat(a, k, "%+.1f")
		delete a; for (i = 1; i <= nr[key]; i++) a[i] = orr[key, i]
		c2 = stat(a, nr[key], "%+.1f")
		delete a; for (i = 1; i <= nd[key]; i++) a[i] = td[key, i]
		c3 = stat(a, nd[key], "%.1f")
		dsrc = (m == "memtrace-bpf") ? ((src[key] == "summary-exit") ? "its exit (summary exit_ts_ns)" : "its exit (trace exit row)") : "parent reaped it"
		note = ""
		if (full[key]) note = note sprintf("%d of %d runs hit the %d MiB cap: overshoot >= cap - limit there; ", full[key], k, cap)
		if (m ~ /^poll/) {
			delete a; for (i = 1; i <= nk[key]; i++) a[i] = tk[key, i]
			delete b; for (i = 1; i <= nkr[key]; i++) b[i] = kr[key, i]
			note = note sprintf("crossing -> kill sent %s ms, kill -> reaped %s ms", stat(a, nk[key], "%.1f"), stat(b, nkr[key], "%.1f"))
		}
		if (m == "memtrace-bpf") {
			delete a; for (i = 1; i <= nmo[key]; i++) a[i] = mo[key, i]
			delete b; for (i = 1; i <= nmcd[key]; i++) b[i] = mcd[key, i]
			delete c; for (i = 1; i <= nmcc[key]; i++) c[i] = mcc[key, i]
			note = note sprintf("summary overshoot_kb %s MiB; its crossing ts -> death %s ms; its crossing - the lines%s %s ms",
				stat(a, nmo[key], "%+.2f"), stat(b, nmcd[key], "%.2f"), extrap[key] ? " (extrapolated)" : "", stat(c, nmcc[key], "%+.2f"))
		}
		if (m == "cgroup") note = note "OOM kill counted from the cgroup'"'"'s oom_kill"
		printf "| %s | %s | %d (%d) | %s | %s | %s | %s | %s |\n", s, name, k, stopped[key], c1, c2, c3, dsrc, note
	}
	printf "\nallocation speed from start to the limit (MiB/s, all guards'"'"' runs):"
	for (si = 1; si <= ns; si++) {
		delete a; for (i = 1; i <= nrate[ss[si]]; i++) a[i] = rate[ss[si], i]
		printf " %s %s;", ss[si], stat(a, nrate[ss[si]], "%.0f")
	}
	printf "\n"
	printf "\nmedian [min, max] over the runs; limit %d MiB. Overshoot by base + last `kb=`: the workload'"'"'s VmRSS\n", L
	printf "at start plus the memory it had touched by its last line (a lower bound of its largest RSS); by\n"
	printf "ru_maxrss: wait4 of its parent (the kernel'"'"'s approximate counter). crossing: when base + kb passed\n"
	printf "the limit, interpolated between the workload'"'"'s lines (extrapolated when none passed it).\n"
}' "$RESULTS"
exit 0
