#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`memtrace-bpf resample`, checked on real traces and against a real poller.

The workload is tests/workloads/transients (it prints its own
CLOCK_MONOTONIC window and size for each transient). Every resampled row
is recomputed here from the trace's own rows, independently of the C
code: the value at each instant (the last row at or before it), the max
and min held since the previous instant, the rows between, VmSize. Every
transient must show in the max column with its full size. A rate-based
spike rule of the kind poller scripts use is run on the trace, on the
resampled rows and on a real 10 ms poller (tools/poller.c) beside the
tracer. Then the files: outputs as the other outputs, a poller's own
file, the malformed corpus, bad command lines, and 10,000,000 rows.

Output and environment: see tests/harness.py; the closing line is
`resample: N passed, N failed, N skipped`.
"""

import bisect
import os
import resource
import subprocess
import sys

from corpus_lib import bad_traces
from harness import (BIN, CSV_HEADER, Fail, Suite, fail_if, help_lacks, peak_rss, read_rows,
                     record, refusal, run, tmpdir, tool, tool_path, workload, write_file)

suite = Suite("resample", builds=("transients",))

HEADER = "time_s,vmrss_kb,vmsize_kb,max_vmrss_kb,min_vmrss_kb,max_time_s,rows"
MS = 1_000_000


def resample(trace, *opts, ok=True):
    """memtrace-bpf resample TRACE OPTS to stdout: its rows as dicts of
    ints (ts_ns from time_s, exactly: 9 decimals) and the Result."""
    r = tool("resample", trace, *opts)
    if ok and r.returncode != 0:
        raise Fail(f"resample {' '.join(opts)}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
    lines = r.stdout.splitlines()
    if ok and (not lines or lines[0] != HEADER):
        raise Fail(f"resample output does not start with {HEADER!r}: {r.stdout[:200]!r}")
    rows = []
    for line in lines[1:]:
        f = line.split(",")
        rows.append({"ts": ns_of(f[0]), "value": int(f[1]),
                     "vmsize": int(f[2]) if f[2] else None, "max": int(f[3]),
                     "min": int(f[4]), "max_ts": ns_of(f[5]), "rows": int(f[6])})
    return rows, r


def ns_of(time_s):
    s, _, frac = time_s.partition(".")
    return int(s) * 1_000_000_000 + int((frac + "000000000")[:9])


class Trace:
    """A recorded trace's rows: (ts_ns from time_s, pid, event, vmrss,
    vmsize, total), in file order."""

    def __init__(self, path):
        self.rows = []
        for x in read_rows(path):
            self.rows.append((ns_of(x["time_s"]), int(x["pid"]), x["event"], int(x["vmrss_kb"]),
                              int(x["vmsize_kb"]), int(x["total_rss_kb"])))

    def states(self, pid=None):
        """[(ts, value, vmsize, row)]: the value from each row on, as the
        README defines it: the tree's total_rss_kb and the sum of the VmSize
        of the processes alive; with pid, its vmrss_kb and vmsize_kb, and
        after its exit row (which holds the state it died with) 0: two
        states for that row. row: the trace row's number."""
        out, vms = [], {}
        for n, (ts, p, ev, rss, vsz, total) in enumerate(self.rows):
            if pid is not None:
                if p != pid:
                    continue
                out.append((ts, rss, vsz, n))
                if ev == "exit":
                    out.append((ts, 0, 0, n))
                continue
            vms[p] = vsz
            if ev == "exit":
                del vms[p]
            out.append((ts, total, sum(vms.values()), n))
        return out


def expected(states, period, t0=0):
    """The rows resample must write for these states, from the definition
    (README): instants t0 + k*period from the first state to the first
    instant at or after the last; the value at the instant; the max and min
    of what was held in (previous instant, instant], the first interval
    from the first state on; when the max was first held (the previous
    instant when it was held since before); the trace rows in it."""
    ts = [st[0] for st in states]
    first = t0 + -(-(ts[0] - t0) // period) * period
    last = t0 + -(-(ts[-1] - t0) // period) * period
    out, prev = [], None
    t = first
    while t <= last:
        i = bisect.bisect_right(ts, t) - 1
        lo = bisect.bisect_right(ts, prev) if prev is not None else 0
        inside = states[lo:i + 1]
        held = [st[1] for st in inside]
        carried = states[lo - 1][1] if prev is not None else None
        if carried is not None:
            held.append(carried)
        top = max(held)
        top_ts = prev if carried == top else next(st[0] for st in inside if st[1] == top)
        out.append({"ts": t, "value": states[i][1], "vmsize": states[i][2], "max": top,
                    "min": min(held), "max_ts": top_ts, "rows": len({st[3] for st in inside})})
        prev, t = t, t + period
    return out


def compare(got, want, what):
    errs = []
    if len(got) != len(want):
        errs.append(f"{what}: {len(got)} rows, want {len(want)}")
    for g, w in zip(got, want):
        for k in ("ts", "value", "vmsize", "max", "min", "max_ts", "rows"):
            if g[k] != w[k]:
                errs.append(f"{what}: at {g['ts']} ns {k} {g[k]}, want {w[k]} "
                            f"(row {g}, want {w})")
                break
    return errs


def transients_run(tmp, *args):
    csv_path, r = record(tmp, [workload("transients"), *args])
    trs = []
    for line in r.stdout.splitlines():
        f = line.split()
        if f and f[0] == "T":
            trs.append({"kb": int(f[1]), "start": int(f[2]), "full": int(f[3]),
                        "end": int(f[4])})
    return csv_path, trs


def to_trace_ns(csv_path):
    """time_s 0 of a trace, in CLOCK_MONOTONIC ns (its first row's ts_ns
    minus its time_s), to put the workload's clock on the trace's."""
    with open(csv_path) as f:
        next(f)
        c = next(f).split(",")
    return int(c[3]) - ns_of(c[0])


@suite.test("the value at each instant and the max and min since the last are the trace's; "
            "every transient is in the max column")
def t_exact_and_every_transient():
    tmp = tmpdir()
    csv_path, trs = transients_run(tmp)
    if len(trs) != 9:
        raise Fail(f"the workload printed {len(trs)} transients, want 9")
    tr = Trace(csv_path)
    t0 = to_trace_ns(csv_path)
    errs = []
    for period in (10 * MS, 1 * MS, 37 * MS // 10):
        got, _ = resample(csv_path, "--every", f"{period}ns")
        want = expected(tr.states(), period)
        errs += compare(got, want, f"--every {period} ns")
        # rows: the trace rows in each interval, in total every row
        if sum(g["rows"] for g in got) != len(tr.rows):
            errs.append(f"--every {period} ns: the rows columns add up to "
                        f"{sum(g['rows'] for g in got)}, the trace has {len(tr.rows)}")
    got, _ = resample(csv_path, "--every", "10ms")
    by_ts = [g["ts"] for g in got]
    seen_in_value = 0
    for t in trs:
        a, b = t["start"] - t0, t["end"] - t0
        # the level before it, from the trace; its rows: between
        before = [s for s in tr.states() if s[0] <= a][-1][1]
        lo = bisect.bisect_left(by_ts, a)
        hi = bisect.bisect_left(by_ts, b) + 1
        cover = got[lo:hi]
        top = max((g["max"] for g in cover), default=None)
        if top is None or top < before + t["kb"]:
            errs.append(f"transient of {t['kb']} kB at {a} ns: max column {top} over the rows "
                        f"covering it, want at least {before} + {t['kb']}")
            continue
        g = [g for g in cover if g["max"] == top][0]
        if not a <= g["max_ts"] <= b:
            errs.append(f"transient of {t['kb']} kB: max_time_s {g['max_ts']} outside its "
                        f"window [{a}, {b}]")
        seen_in_value += any(g["value"] >= before + t["kb"] for g in cover)
    print(f"# 10 ms: {len(got)} rows for {len(tr.rows)} trace rows; the value column alone "
          f"shows {seen_in_value} of the 9 transients, the max column all")
    fail_if(errs, 6)


@suite.test("--pid: one process of a tree, 0 after its exit; the default is the tree's total")
def t_pid():
    tmp = tmpdir()
    # sh forks the workload (the `; true` keeps it from exec'ing it)
    csv_path, _ = record(tmp, ["sh", "-c", f"{workload('transients')} short 3 2000 4; true"])
    tr = Trace(csv_path)
    pids = {p for _, p, ev, *_ in tr.rows if ev == "exec"}
    wl = [p for ts, p, ev, *_ in tr.rows if ev == "exec" and p != tr.rows[0][1]]
    if len(pids) != 2 or not wl:
        raise Fail(f"want a shell and the workload in the trace, got exec rows of {pids}")
    errs = []
    got, _ = resample(csv_path, "--pid", str(wl[0]), "--every", "5ms")
    errs += compare(got, expected(tr.states(wl[0]), 5 * MS), f"--pid {wl[0]}")
    if got and (got[-1]["value"] != 0 or got[-1]["vmsize"] != 0):
        errs.append(f"--pid: the row after its exit is {got[-1]}, want 0 kB")
    tree, _ = resample(csv_path, "--every", "5ms")
    errs += compare(tree, expected(tr.states(), 5 * MS), "the tree")
    # the tree holds the shell as well: more than the workload alone
    mine = {g["ts"]: g["value"] for g in got}
    if not any(g["value"] > mine.get(g["ts"], 0) for g in tree):
        errs.append("the tree's value is never above the workload's alone")
    r = tool("resample", csv_path, "--pid", "1")
    if r.returncode != 1 or "no rows of pid 1" not in r.stderr or r.stdout:
        errs.append(f"--pid of a process not in it: exit {r.returncode}, {r.stderr.strip()!r}")
    fail_if(errs, 6)


def rate_spikes(samples, mb_s=100):
    """The poller script's rule: a sample whose rise over the previous one
    is at least mb_s MB/s (samples at the same instant: any rise)."""
    n = 0
    for (t1, v1), (t2, v2) in zip(samples, samples[1:]):
        rise = v2 - v1
        if rise > 0 and (t2 == t1 or rise * 1024 / ((t2 - t1) / 1e9) >= mb_s * 1e6):
            n += 1
    return n


@suite.test("a poller script's rate rule: wrong on the trace's rows, right on resampled rows "
            "as on a real 10 ms poller")
def t_rate_rule_against_a_real_poller():
    tmp = tmpdir()
    csv_path = os.path.join(tmp, "t.csv")
    poll_csv = os.path.join(tmp, "p.csv")
    n_tr = 10
    # held 25 ms, more than two periods: every 10 ms poller sees each one
    r = run([BIN, "-q", "-o", csv_path, "--", tool_path("poller"), "-q", "-i", "10ms", "-o",
             poll_csv, "--", workload("transients"), "short", str(n_tr), "25000", "4"])
    if r.returncode != 0:
        raise Fail(f"exit {r.returncode}: {r.stderr[-300:]}")
    tr = Trace(csv_path)
    wl = [p for ts, p, ev, *_ in tr.rows if ev == "exec" and p != tr.rows[0][1]]
    if not wl:
        raise Fail("no exec row of the workload in the trace")
    mine = [(ts, v) for ts, p, ev, v, *_ in tr.rows if p == wl[0]]
    got, _ = resample(csv_path, "--pid", str(wl[0]), "--every", "10ms")
    polled = [(ns_of(x["time_s"]), int(x["vmrss_kb"])) for x in read_rows(poll_csv)]
    on_trace = rate_spikes(mine)
    on_resampled = rate_spikes([(g["ts"], g["value"]) for g in got[:-1]])
    on_poller = rate_spikes(polled)
    print(f"# rate rule (rise >= 100 MB/s between samples), {n_tr} transients of 4 MiB held "
          f"25 ms: trace rows {on_trace} in {len(mine)} rows; resampled {on_resampled} in "
          f"{len(got)} rows; real 10 ms poller {on_poller} in {len(polled)} samples")
    errs = []
    # a rise split by a sample counts twice at most
    for what, n in (("resampled rows", on_resampled), ("the real poller", on_poller)):
        if not n_tr <= n <= 2 * n_tr:
            errs.append(f"{what}: {n} rate spikes, want {n_tr} to {2 * n_tr}")
    if on_trace < 20 * n_tr:
        errs.append(f"the trace's rows give only {on_trace} rate spikes: the test shows "
                    "nothing (want the many a poller script finds on them)")
    if abs(len(got) - len(polled)) > 0.2 * len(polled) + 3:
        errs.append(f"{len(got)} resampled rows, the real poller took {len(polled)} samples "
                    "over the same life")
    fail_if(errs)


@suite.test("a poller's own time_s,vmrss_kb file", root=False)
def t_poller_file():
    tmp = tmpdir()
    p = write_file(os.path.join(tmp, "p.csv"),
                   "time_s,vmrss_kb\n0.000,100\n0.004,900\n0.006,100\n0.013,300\n0.027,200\n")
    got, _ = resample(p, "--every", "10ms")
    want = [(10 * MS, 100, None, 900, 100, 4 * MS, 2), (20 * MS, 300, None, 300, 100, 13 * MS, 1),
            (30 * MS, 200, None, 300, 200, 20 * MS, 1)]
    have = [(g["ts"], g["value"], g["vmsize"], g["max"], g["min"], g["max_ts"], g["rows"])
            for g in got]
    # its first instant: 0, at its first row
    want = [(0, 100, None, 100, 100, 0, 1)] + want
    if have != want:
        raise Fail(f"rows {have}, want {want}")


def small_trace(tmp, name="t.csv", extra=""):
    return write_file(os.path.join(tmp, name), CSV_HEADER + "\n"
                      "0.001,100,200,1001000,7,7,exec,100,0,0,0,100,x,,,,1,,,\n"
                      "0.015,300,400,15000000,7,7,rss,300,0,0,0,300,fault,0x1,0x2,,,,,\n"
                      + extra)


@suite.test("outputs: -o as every output (a link refused, a file replaced whole, kept on an "
            "error), - and stdout", root=False)
def t_outputs():
    tmp = tmpdir()
    t = small_trace(tmp)
    bad = small_trace(tmp, "bad.csv", "0.020,12x,400,20000000,7,7,rss,0,0,0,0,0,fault,,,,,,,\n")
    out = os.path.join(tmp, "out.csv")
    errs = []
    r = tool("resample", t, "-o", out)
    if r.returncode != 0 or r.stdout or "2 trace rows" not in r.stderr:
        errs.append(f"-o FILE: exit {r.returncode}, stdout {r.stdout!r}, stderr {r.stderr!r}")
    first = open(out).read() if os.path.exists(out) else ""
    if not first.startswith(HEADER + "\n") or first.count("\n") != 3:
        errs.append(f"-o FILE wrote {first!r}")
    # a read error: exit 1, the earlier file as it was, no temporary left
    r = tool("resample", bad, "-o", out)
    if r.returncode != 1 or "bad.csv:4: column vmrss_kb" not in r.stderr:
        errs.append(f"a malformed row: exit {r.returncode}, {r.stderr.strip()!r}")
    if open(out).read() != first:
        errs.append("a failed resample changed the earlier output")
    left = [f for f in os.listdir(tmp) if f.startswith(".")]
    if left:
        errs.append(f"temporaries left behind: {left}")
    link = os.path.join(tmp, "link.csv")
    os.symlink(t, link)
    e = refusal(["resample", t, "-o", link], 1, "symbolic link")
    if e:
        errs.append(e)
    if os.readlink(link) != t or open(t).read().count("\n") != 3:
        errs.append("the link or what it points to was touched")
    e = refusal(["resample", t, "-o", "/dev/null"], 1, "not a regular file")
    if e:
        errs.append(e)
    std = tool("resample", t, "-o", "-")
    if std.returncode != 0 or std.stdout != first or std.stderr:
        errs.append(f"-o -: exit {std.returncode}, {std.stdout!r}, stderr {std.stderr!r}")
    # the output replaced whole by a new run: a longer period, fewer rows
    r = tool("resample", t, "-o", out, "--every", "1s")
    if r.returncode != 0 or open(out).read().count("\n") != 2:
        errs.append(f"a second -o FILE did not replace it: {open(out).read()!r}")
    fail_if(errs, None)


@suite.test("bad command lines and files", root=False)
def t_bad_input():
    tmp = tmpdir()
    t = small_trace(tmp)
    empty = write_file(os.path.join(tmp, "h.csv"), CSV_HEADER + "\n")
    far = write_file(os.path.join(tmp, "far.csv"), "time_s,vmrss_kb\n0,1\n9000000000,2\n")
    cases = [
        ([t, "--every", "12abc"], 2, "--every 12abc"),
        ([t, "--every", "0"], 2, "--every 0"),
        ([t, "--every", "999ns"], 2, "1us or more"),
        ([t, "--pid", "x"], 2, "--pid x"),
        ([t, t], 2, "one trace at a time"),
        ([], 2, "which trace"),
        ([t, "-o", ""], 2, "empty file name"),
        ([os.path.join(tmp, "none.csv")], 1, "cannot open"),
        ([empty], 1, "has a header but no rows"),
        ([far, "--every", "1ms"], 1, "give a longer --every"),
        ([t, "-o", os.path.join(tmp, "no", "dir.csv")], 1, "dir.csv"),
    ]
    errs = [e for args, rc, needle in cases
            if (e := refusal(["resample", *args], rc, needle, silent_stdout=True))]
    errs += help_lacks(("--every", "--output", "--pid", "EXAMPLES", "Exit status"), "resample")
    fail_if(errs, None)


@suite.test("the malformed corpus: taken or refused as spikes does; no output when refused",
            root=False)
def t_corpus():
    tmp = tmpdir()
    errs = []
    out = os.path.join(tmp, "out", "r.csv")
    os.makedirs(os.path.dirname(out))
    for name, path, rcs, text in bad_traces(tmp):
        r = tool("resample", path, "-o", out, timeout=60)
        made = os.listdir(os.path.dirname(out))
        if r.returncode != rcs[0]:
            errs.append(f"{name}: exit {r.returncode}, spikes gives {rcs[0]}: "
                        f"{r.stderr.strip()[:150]!r}")
        elif rcs[0] and (not r.stderr.startswith("memtrace-bpf resample: ") or
                         (text and text not in r.stderr) or made):
            errs.append(f"{name}: {r.stderr.strip()[:200]!r} (want {text!r}), left {made}")
        elif not rcs[0] and (made != ["r.csv"] or
                             not open(out).read().startswith(HEADER + "\n")):
            errs.append(f"{name}: exit 0, but the output directory holds {made}")
        for f in made:
            os.unlink(os.path.join(os.path.dirname(out), f))
    fail_if(errs, 6)


@suite.test("10,000,000 rows in seconds, and 1,000,000 processes, in a few MiB",
            root=False, timeout=900)
def t_big():
    """Bounds: 20 s of CPU for 10M rows (3 s here on a quiet machine:
    room for a loaded one), 16 MiB of peak RSS (3.5 MiB measured)."""
    tmp = tmpdir()
    errs = []
    for name, args, rows in (("rows", ["10000000"], 10_000_000),
                             ("processes", ["--pids", "1000000"], 6_000_000)):
        trace = os.path.join(tmp, name + ".csv")
        with open(trace, "wb") as f:
            g = subprocess.run([tool_path("gentrace"), *args], stdout=f, stderr=subprocess.PIPE,
                               timeout=600)
        if g.returncode:
            raise Fail("gentrace failed: " + g.stderr.decode(errors="replace"))
        out = os.path.join(tmp, name + "-10ms.csv")
        # CPU: peakrss waits for it, we wait for peakrss
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        kb, rc, err = peak_rss([BIN, "resample", trace, "--every", "10ms", "-o", out],
                               timeout=600)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        print(f"# {name}: {rows} rows, {os.path.getsize(trace) >> 20} MiB: {cpu:.2f} s of CPU, "
              f"peak RSS {kb} kB; {err.strip()}")
        if rc != 0 or f"{rows} trace rows" not in err:
            errs.append(f"{name}: exit {rc}: {err.strip()[-200:]}")
        if cpu > 20:
            errs.append(f"{name}: {cpu:.1f} s of CPU, over 20 s")
        if kb > 16 * 1024:
            errs.append(f"{name}: peak RSS {kb} kB, over 16 MiB")
        os.unlink(trace)
    fail_if(errs)


if __name__ == "__main__":
    sys.exit(suite.main())
