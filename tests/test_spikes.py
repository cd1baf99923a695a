#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Spike detection and poller replay, checked on real kernel events.

Runs tests/workloads/transients (which records its own CLOCK_MONOTONIC
times for every transient) under .output/memtrace-bpf, then
`memtrace-bpf spikes` on the trace, and compares. The poller test runs the
real 10 ms /proc poller (tools/poller.c) beside the tracer on the same run.

Output and environment: see tests/harness.py; the closing line is
`spikes: N passed, N failed, N skipped`.
"""

import json
import math
import os
import subprocess
import sys

from harness import (BIN, Fail, Suite, fail_if, help_lacks, peak_rss, record, refusal, run,
                     tmpdir, tool_path, workload)

MIB_KB = 1024

suite = Suite("spikes")


def transients():
    return workload("transients")


def parse_truth(out):
    trs, steps = [], []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "T":
            trs.append({"kb": int(f[1]), "start": int(f[2]), "full": int(f[3]), "end": int(f[4])})
        elif f and f[0] == "S":
            steps.append({"kb": int(f[1]), "ts": int(f[2])})
    return trs, steps


def workload_pid(csv_path, comm="transients"):
    with open(csv_path) as f:
        next(f)
        for line in f:
            c = line.rstrip("\n").split(",")
            if c[6] == "exec" and c[12] == comm:
                return int(c[4])
    raise Fail(f"no exec row of {comm} in {csv_path}")


def spikes_json(csv_path, *opts):
    r = run([BIN, "spikes", csv_path, "--format", "json", *opts])
    if r.returncode != 0:
        raise Fail(f"spikes exited {r.returncode}: {r.stderr.strip()[:300]}")
    return json.loads(r.stdout)


def traced_transients(tmp, *args):
    return record(tmp, [transients(), *args])


@suite.test("every transient found exactly")
def t_every_transient_found_exactly():
    tmp = tmpdir()
    csv_path, r = traced_transients(tmp)
    trs, steps = parse_truth(r.stdout)
    if len(trs) != 9 or len(steps) != 4:
        raise Fail(f"workload printed {len(trs)} transients and {len(steps)} steps")
    pid = workload_pid(csv_path)
    js = spikes_json(csv_path, "--min-rise", "1M")
    mine = [s for s in js["spikes"] if s["pid"] == pid]
    errs, used = [], set()
    for t in trs:
        hit = [i for i, s in enumerate(mine) if i not in used and s["rise_kb"] == t["kb"]
               and s["start_ts_ns"] <= t["end"] and s["end_ts_ns"] >= t["start"]]
        if not hit:
            near = [(s["rise_kb"], s["start_ts_ns"] - t["start"]) for s in mine
                    if s["start_ts_ns"] <= t["end"] and s["end_ts_ns"] >= t["start"]]
            errs.append(f"transient of {t['kb']} kB at {t['start']} not found exactly "
                        f"(overlapping: {near})")
            continue
        used.add(hit[0])
        s = mine[hit[0]]
        # the spike lies within the workload's own window: it starts
        # after the mmap began and ends before munmap returned
        if not (t["start"] <= s["start_ts_ns"] <= s["peak_ts_ns"] <= s["end_ts_ns"] <= t["end"]):
            errs.append(f"{t['kb']} kB: spike [{s['start_ts_ns']}, {s['end_ts_ns']}] "
                        f"outside the workload's [{t['start']}, {t['end']}]")
        if s["depth"] != 0:
            errs.append(f"{t['kb']} kB: depth {s['depth']}, want 0")
    extra = [s for i, s in enumerate(mine) if i not in used]
    if extra:
        errs.append(f"spikes that are no transient of the workload (the staircase?): "
                    f"{[(s['rise_kb'], s['base_kb'], s['start_ts_ns'] - trs[0]['start'], s['duration_ms']) for s in extra]}"
                    f" (rise, base, start after the first transient, ms)")
    shortest = min(t["end"] - t["start"] for t in trs)
    print(f"# shortest transient of this run lived {shortest / 1e6:.3f} ms (workload's clock)")
    if shortest > 5_000_000:
        errs.append(f"no transient shorter than 5 ms in this run ({shortest / 1e6:.1f} ms): "
                    "the machine is too loaded for this test to prove short spikes")
    fail_if(errs, 5)


@suite.test("record summary names spikes")
def t_record_summary_names_spikes():
    tmp = tmpdir()
    csv_path = os.path.join(tmp, "t.csv")
    r = run([BIN, "-o", csv_path, "--", transients()])
    if r.returncode != 0:
        raise Fail(f"exit {r.returncode}")
    trs, _ = parse_truth(r.stdout)
    with open(os.path.join(tmp, "t.summary.json")) as f:
        s = json.load(f)
    a = s.get("analysis")
    if not a:
        raise Fail("summary has no analysis")
    if a["spike_count"] < len(trs):
        raise Fail(f"summary counts {a['spike_count']} spikes, the workload made {len(trs)}")
    if a["spikes"][0]["rise_kb"] != 64 * MIB_KB:
        raise Fail(f"largest spike in the summary rises {a['spikes'][0]['rise_kb']} kB, want 65536")
    pol = [p for p in a["process_analysis"] if p["polling"]]
    periods = {q["period"] for p in pol for q in p["polling"]}
    if periods != {"10ms", "100ms"}:
        raise Fail(f"polling periods in the summary: {periods}")
    if "spikes" not in r.stderr or "pollers" not in r.stderr:
        raise Fail("the stderr summary does not name spikes and pollers: " + r.stderr[-400:])


@suite.test("replay matches a real poller")
def t_replay_matches_a_real_poller():
    poller = tool_path("poller")
    tmp = tmpdir()
    csv_path = os.path.join(tmp, "t.csv")
    poll_csv = os.path.join(tmp, "p.csv")
    n_tr, hold_us, size = 30, 1500, 4
    r = run([BIN, "-q", "-o", csv_path, "--", poller, "-q", "-i", "10ms", "-t", "-o", poll_csv,
             "--", transients(), "short", str(n_tr), str(hold_us), str(size)])
    if r.returncode != 0:
        raise Fail(f"exit {r.returncode}: {r.stderr[-300:]}")
    trs, _ = parse_truth(r.stdout)
    pid = workload_pid(csv_path)
    js = spikes_json(csv_path, "--pid", str(pid), "--poll", "10ms")
    proc = [p for p in js["process_analysis"] if p["pid"] == pid][0]
    rep = proc["polling"][0]
    samples = []
    with open(poll_csv) as f:
        next(f)
        for line in f:
            # time_s,vmrss_kb,ts_ns,ts_end_ns: CLOCK_MONOTONIC just
            # before and after the read of /proc; the read's instant
            # is taken as their middle
            c = line.strip().split(",")
            ts = (int(c[2]) + int(c[3])) // 2 if len(c) > 3 else int(c[2])
            samples.append((ts, int(c[1])))
    real_peak = max(kb for _, kb in samples)
    errs = []
    if not rep["worst_peak_kb"] <= real_peak <= rep["best_peak_kb"]:
        errs.append(f"real poller's peak {real_peak} kB outside the replay's "
                    f"[{rep['worst_peak_kb']}, {rep['best_peak_kb']}]")
    # per transient: the replay's catch probability (a sample lands
    # inside the spike, start to end) against the real poller's samples
    # inside that same window
    spikes = [s for s in js["spikes"] if s["pid"] == pid]
    p_sum = var = 0.0
    caught = 0
    for t in trs:
        m = [s for s in spikes if s["rise_kb"] == t["kb"] and s["start_ts_ns"] <= t["end"]
             and s["end_ts_ns"] >= t["start"]]
        if not m:
            errs.append(f"transient at {t['start']} not found")
            continue
        p = m[0]["catch_probability"]["10ms"]
        p_sum += p
        var += p * (1 - p)
        if any(m[0]["start_ts_ns"] <= ts < m[0]["end_ts_ns"] for ts, _ in samples):
            caught += 1
    tol = 3 * math.sqrt(var) + 2
    if abs(caught - p_sum) > tol:
        errs.append(f"the real poller caught {caught} of {len(trs)} transients; the replay "
                    f"expected {p_sum:.1f} +- {tol:.1f}")
    print(f"# real 10 ms poller: peak {real_peak} kB, caught {caught}/{len(trs)}; replay: "
          f"expected peak {rep['expected_peak_kb']:.0f} kB in [{rep['worst_peak_kb']}, "
          f"{rep['best_peak_kb']}], expected catches {p_sum:.1f}")
    fail_if(errs, 4)


@suite.test("window rule on a real trace")
def t_window_rule_on_a_real_trace():
    tmp = tmpdir()
    csv_path, r = traced_transients(tmp)
    pid = workload_pid(csv_path)
    js = spikes_json(csv_path, "--window", "1s", "--min-rise", "20M", "--pid", str(pid))
    if js["rule"] != "window":
        raise Fail("rule is not window")
    rises = [s["rise_kb"] for s in js["spikes"]]
    if not rises or min(rises) < 20 * MIB_KB:
        raise Fail(f"window rises {rises}: want all >= 20 MiB")
    if max(rises) < 64 * MIB_KB:
        raise Fail(f"the 64 MiB transients are not seen by the window rule: {rises}")


@suite.test("demo scratch buffers found")
def t_demo_scratch_buffers_found():
    """The demo (make demo) claims three 40 MiB scratch buffers shorter
    than a poller's period; each must be found, exactly, in its window."""
    demo = tool_path("demo")
    tmp = tmpdir()
    csv_path = os.path.join(tmp, "d.csv")
    r = run([BIN, "-q", "-o", csv_path, "--", demo])
    if r.returncode != 0:
        raise Fail(f"exit {r.returncode}")
    wins = []
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 7 and f[2] == "scratch":
            start = int(float(f[1]) * 1e9)
            wins.append((start, start + int(float(f[6]) * 1e6)))
    if len(wins) != 3:
        raise Fail(f"demo printed {len(wins)} scratch lines")
    pid = workload_pid(csv_path, "demo")
    spikes = [x for x in spikes_json(csv_path, "--pid", str(pid))["spikes"]
              if x["rise_kb"] == 40 * MIB_KB]
    for a, b in wins:
        # the demo's clock is read around its own calls: 1 ms slack
        if not any(x["start_ts_ns"] <= b + 1_000_000 and x["end_ts_ns"] >= a - 1_000_000
                   for x in spikes):
            raise Fail(f"no 40 MiB spike in the scratch window [{a}, {b}]; 40 MiB spikes: "
                       f"{[(x['start_ts_ns'], x['end_ts_ns']) for x in spikes]}")


@suite.test("memory: spikes, stages and validate on a trace of 1,000,000 processes",
            root=False, timeout=900)
def t_offline_memory():
    """What a reader keeps for a process goes when its exit row is read
    (before: 18 kB a process in spikes: 20 GB for this trace; 680 MB in
    stages). Bounds: spikes and stages 64 MiB; validate 256 MiB, for it
    keeps every checkpoint (its output: a million of them here)."""
    d = tmpdir()
    trace = os.path.join(d, "many.csv")
    with open(trace, "wb") as f:
        r = subprocess.run([tool_path("gentrace"), "--pids", "1000000"], stdout=f,
                           stderr=subprocess.PIPE, timeout=300)
    if r.returncode:
        raise Fail("gentrace failed: " + r.stderr.decode(errors="replace"))
    errs = []
    for sub, bound_mib in (("spikes", 64), ("stages", 64), ("validate", 256)):
        kb, rc, err = peak_rss([BIN, sub, trace, "--format", "json"], timeout=600)
        print(f"# {sub}: peak RSS {kb} kB")
        if rc != 0:
            errs.append(f"{sub}: exit {rc}: {err[-200:]}")
        elif kb > bound_mib * 1024:
            errs.append(f"{sub}: peak RSS {kb} kB, over {bound_mib} MiB")
    fail_if(errs)


@suite.test("bad input is refused clearly", root=False)
def t_bad_input_is_refused_clearly():
    tmp = tmpdir()
    bad = os.path.join(tmp, "bad.csv")
    with open(bad, "w") as f:
        f.write("time_s,vmrss_kb,vmsize_kb,ts_ns,pid\n0.1,100,200,1000,7\n0.2,12x,200,2000,7\n")
    cases = [
        ([bad], 1, "bad.csv:3: column vmrss_kb"),
        ([os.path.join(tmp, "none.csv")], 1, "cannot open"),
        ([bad, "--min-rise", "12abc"], 2, "--min-rise 12abc"),
        ([bad, "--poll", "0"], 2, "--poll 0"),
        ([bad, "--format", "xml"], 2, "--format xml"),
        ([bad, "--settle", "150%"], 2, "--settle 150%"),
        ([], 2, "which trace"),
    ]
    errs = [e for args, rc, needle in cases
            if (e := refusal(["spikes", *args], rc, needle, silent_stdout=True))]
    errs += help_lacks(("--min-rise", "--settle", "--window", "--poll", "--format", "--top",
                        "--pid", "EXAMPLES"), "spikes")
    fail_if(errs, None)


if __name__ == "__main__":
    sys.exit(suite.main())
