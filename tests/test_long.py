#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Hours-long runs and thousands of runs: compressed traces (-o .csv.zst,
.csv.gz), --resolution, and memory that stays flat.

Compressed traces are read back with the standard tools (zstd -dc, Python's
gzip) as well as by memtrace-bpf, and checked against what the same
memtrace-bpf reads from the plain text; a run killed while writing, a full
disk and Ctrl-C are made for real. --resolution is checked on
tests/workloads/transients `ladder` (transients of 4 to 64 MiB held 2 to 150
ms, each with its own CLOCK_MONOTONIC start, full and end times): every one
must keep its exact rise, reached and left within the workload's own
times; and on tools/faultstorm (RSS changing as fast as this machine
faults): the rows a window, and the summary's peak against the trace's and
against what faultstorm touched.

Output and environment: see tests/harness.py; the closing line is
`long: N passed, N failed, N skipped`.
"""

import collections
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time

from harness import (BIN, NFIELDS, TRACE_HEADER, Fail, Suite, clean_env, fail_if, load_summary,
                     read_rows, read_text, refusal, run, small_fs, spawn, summary_path, tail,
                     tmpdir, tool, tool_path, workload)

suite = Suite("long", builds=("transients", "manykids"))
MS = 1_000_000


def storm(tmp, name, *opts, mib=256, repeat=2, ok_rc=(0,), env=None):
    """faultstorm traced into TMP/NAME: (path, its key=value output, Result)."""
    path = os.path.join(tmp, name)
    r = run([BIN, "-q", "-o", path, *opts, "--", tool_path("faultstorm"), "-m", str(mib),
             "-r", str(repeat)], timeout=240, env=env)
    if r.returncode not in ok_rc:
        raise Fail(f"memtrace-bpf -o {name}: exit {r.returncode}: {tail(r.stderr)}")
    truth = dict(kv.split("=") for kv in r.stdout.split()) if r.returncode == 0 else {}
    return path, truth, r


def spikes_json(path):
    r = tool("spikes", path, "--format", "json")
    if r.returncode != 0:
        raise Fail(f"spikes {path}: exit {r.returncode}: {tail(r.stderr)}")
    return json.loads(r.stdout), r


def without_paths(d):
    """A report without the file names in it (the same trace under two names)."""
    if isinstance(d, dict):
        return {k: without_paths(v) for k, v in d.items() if k not in ("trace", "file", "path")}
    if isinstance(d, list):
        return [without_paths(x) for x in d]
    return d


# ---------------------------------------------------------------------------
# compressed traces


@suite.test("-o .csv.zst and .csv.gz: the standard tools read the trace, every subcommand "
            "reads it as the plain text, zstd keeps <= 1/5 of it", timeout=400)
def t_compressed_roundtrip():
    tmp = tmpdir()
    errs = []
    for ext, cut in ((".csv.zst", 5), (".csv.gz", 4)):
        path, truth, _ = storm(tmp, "t" + ext)
        text = read_text(path)          # zstd(1) / gzip: standard streams
        lines = text.splitlines()
        plain = os.path.join(tmp, "plain" + ext.replace(".", "_") + ".csv")
        with open(plain, "w") as f:
            f.write(text)
        if lines[0] != TRACE_HEADER:
            errs.append(f"{ext}: header {lines[0][:80]!r}")
        bad = [x for x in lines[1:] if len(x.split(",")) != NFIELDS]
        if bad:
            errs.append(f"{ext}: {len(bad)} rows without {NFIELDS} fields: {bad[0][:80]!r}")
        s = load_summary(os.path.join(tmp, "t.summary.json"))
        peak = max(int(x["vmrss_kb"]) for x in read_rows(path))
        if peak != s["peak_rss_kb"] or peak < 256 * 1024:
            errs.append(f"{ext}: trace's max {peak} kB, summary {s['peak_rss_kb']} kB, "
                        f"faultstorm touched 256 MiB at once")
        if s.get("trace_rows") != len(lines) - 1 or s.get("trace_complete") is not True:
            errs.append(f"{ext}: summary trace_rows {s.get('trace_rows')}, complete "
                        f"{s.get('trace_complete')}; the file has {len(lines) - 1}")
        # compressed, at most 1/cut of the text (the target: zstd 1/5)
        if os.path.getsize(path) * cut > len(text):
            errs.append(f"{ext}: {os.path.getsize(path)} bytes for {len(text)} of text: more "
                        f"than 1/{cut}")
        # the subcommands: the same answer from the compressed file and the text
        for sub in (["spikes", "--format", "json"], ["resample", "--every", "10ms"],
                    ["stages", "--format", "json"], ["validate", "--format", "json"]):
            a, b = tool(sub[0], path, *sub[1:]), tool(sub[0], plain, *sub[1:])
            out_a = a.stdout.replace(path, "T").replace(os.path.basename(path), "T")
            out_b = b.stdout.replace(plain, "T").replace(os.path.basename(plain), "T")
            err_a = a.stderr.replace(path, "T")
            err_b = b.stderr.replace(plain, "T")
            if (a.returncode, out_a, err_a) != (b.returncode, out_b, err_b):
                errs.append(f"{ext}: {sub[0]} differs: exit {a.returncode}/{b.returncode}, "
                            f"{tail(out_a + err_a, 160)!r} vs {tail(out_b + err_b, 160)!r}")
        os.unlink(os.path.join(tmp, "t.summary.json"))
    fail_if(errs)


@suite.test("a run killed while writing .zst: read up to its last whole row, a warning "
            "names the file and the time", timeout=300)
def t_killed_run():
    tmp = tmpdir()
    path = os.path.join(tmp, "k.csv.zst")
    pidfile = os.path.join(tmp, "pid")
    p = spawn([BIN, "-q", "-o", path, "--", "sh", "-c",
               f'echo $$ > {pidfile}; exec {tool_path("faultstorm")} -m 256 -r 400'])
    time.sleep(4.0)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    try:
        os.kill(int(open(pidfile).read()), signal.SIGKILL)
    except (OSError, ValueError):
        pass
    errs = []
    if run(["zstd", "-tq", path]).returncode == 0:
        # killed between frames (one ends each second and each 4 MiB of
        # CSV): whole, read without a warning; its copy cut inside its
        # last frame is the killed file the reader must cope with
        r = tool("spikes", path, "--format", "json")
        if r.returncode != 0 or "warning" in r.stderr:
            errs.append(f"a killed run's whole .zst: exit {r.returncode}, {tail(r.stderr)!r}")
        cut = os.path.join(tmp, "cut.csv.zst")
        data = open(path, "rb").read()
        open(cut, "wb").write(data[:-100])
        path = cut
    r = tool("spikes", path, "--format", "json")
    m = re.search(r"warning: (\S+) ends inside a compressed frame .* read up to its last "
                  r"whole row, line (\d+), at time_s ([0-9.]+)", r.stderr)
    if r.returncode != 0 or not m or m.group(1) != path:
        errs.append(f"spikes on it: exit {r.returncode}, stderr {tail(r.stderr)!r}")
    else:
        rows = json.loads(r.stdout).get("rows")
        t = float(m.group(3))
        # a frame ends each second: all but about the last second is there
        if not 1.0 <= t <= 4.5:
            errs.append(f"the last whole row is at {t} s of a run killed at 4 s")
        if rows is not None and rows != int(m.group(2)) - 1:
            errs.append(f"spikes read {rows} rows, the warning says line {m.group(2)}")
    fail_if(errs)


@suite.test("Ctrl-C: the .zst is whole (zstd -t), read without a warning")
def t_interrupted():
    tmp = tmpdir()
    path = os.path.join(tmp, "i.csv.zst")
    p = spawn([BIN, "-q", "-o", path, "-p", str(os.getpid())])
    time.sleep(2.0)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=30)
    errs = []
    if p.returncode != 0:
        errs.append(f"exit {p.returncode} after SIGINT")
    r = run(["zstd", "-tq", path])
    if r.returncode != 0:
        errs.append(f"zstd -t: {tail(r.stderr)}")
    r = tool("spikes", path)
    if r.returncode != 0 or "warning" in r.stderr:
        errs.append(f"spikes: exit {r.returncode}, {tail(r.stderr)!r}")
    fail_if(errs)


@suite.test("a full disk: the .zst is cut to its last whole frame, the summary keeps the "
            "exact peak, exit 1", timeout=300)
def t_disk_full():
    with small_fs(2) as fs:
        path, _, r = storm(fs, "t.csv.zst", mib=1024, repeat=2, ok_rc=(1,))
        errs = []
        m = re.search(r"writing .*t\.csv\.zst failed: No space left on device\. It keeps its "
                      r"first (\d+) rows, whole \(up to ([0-9.]+) s\)", r.stderr)
        if not m:
            errs.append("stderr does not say what the trace keeps: " + tail(r.stderr))
        t = run(["zstd", "-tq", path])
        if t.returncode != 0:
            errs.append(f"zstd -t: the file is not whole frames: {tail(t.stderr)}")
        rows = read_rows(path)
        s = load_summary(summary_path(path))
        if m and int(m.group(1)) != len(rows):
            errs.append(f"said {m.group(1)} rows kept, the file has {len(rows)}")
        if s.get("trace_complete") is not False or s.get("trace_rows") != len(rows):
            errs.append(f"summary trace_complete {s.get('trace_complete')}, trace_rows "
                        f"{s.get('trace_rows')}; the file has {len(rows)}")
        if s["peak_rss_kb"] < 1024 * 1024:
            errs.append(f"summary peak {s['peak_rss_kb']} kB < the 1 GiB faultstorm touched")
        fail_if(errs)


@suite.test("compressed bad input: a damaged .zst, one cut before its header, an unknown "
            "extension, --trace-format")
def t_compressed_bad_input():
    tmp = tmpdir()
    errs = []
    path, _, _ = storm(tmp, "t.csv.zst", mib=64, repeat=1)
    data = bytearray(open(path, "rb").read())
    bad = os.path.join(tmp, "bad.csv.zst")
    data[len(data) // 2:len(data) // 2 + 64] = b"\x55" * 64
    open(bad, "wb").write(bytes(data))
    r = tool("spikes", bad)
    if r.returncode == 0 or not re.search(re.escape(bad) + r"(:\d+)?: ", r.stderr) or \
            "Traceback" in r.stderr:
        errs.append(f"damaged .zst: exit {r.returncode}, {tail(r.stderr)!r}")
    cut = os.path.join(tmp, "cut.csv.zst")
    open(cut, "wb").write(bytes(data[:12]))
    r = tool("spikes", cut)
    if r.returncode == 0 or "before its header ends" not in r.stderr:
        errs.append(f".zst cut before its header: exit {r.returncode}, {tail(r.stderr)!r}")
    # an extension we do not know: plain CSV, as named
    other, _, _ = storm(tmp, "t.csv.bz2", mib=16, repeat=1)
    if not open(other, "rb").read(7) == b"time_s,":
        errs.append(".csv.bz2 was not written as plain CSV")
    refusal(["campaign", "-d", os.path.join(tmp, "c"), "--trace-format", "bz2", "--", "true"],
            2, ["--trace-format bz2", "zst", "gz", "csv"])
    fail_if(errs)


@suite.test("campaign: each run's trace is trace.csv.zst, or as --trace-format says")
def t_campaign_format():
    tmp = tmpdir()
    errs = []
    for fmt, name in ((None, "trace.csv.zst"), ("gz", "trace.csv.gz"), ("csv", "trace.csv")):
        d = os.path.join(tmp, fmt or "default")
        args = ["campaign", "-q", "-d", d, "--param", "N=1,2"]
        if fmt:
            args += ["--trace-format", fmt]
        r = tool(*args, "--", tool_path("faultstorm"), "-m", "{N}", "-r", "1")
        if r.returncode != 0:
            errs.append(f"{fmt}: exit {r.returncode}: {tail(r.stderr)}")
            continue
        for n in (1, 2):
            rd = os.path.join(d, f"N={n}", "1")
            files = sorted(x for x in os.listdir(rd) if x.startswith("trace"))
            if files != [name]:
                errs.append(f"{fmt}: N={n} holds {files}, not [{name}]")
                continue
            rows = read_rows(os.path.join(rd, name))
            res = read_rows(os.path.join(rd, "result.csv"))[0]
            peak = max(int(x["vmrss_kb"]) for x in rows)
            if peak != int(res["peak_rss_kb"]):
                errs.append(f"{fmt}: N={n} trace's max {peak} kB, result.csv "
                            f"{res['peak_rss_kb']} kB")
    # a resumed campaign in another format leaves no trace of the first
    d = os.path.join(tmp, "default")
    os.unlink(os.path.join(d, "N=2", "1", "result.csv"))
    r = tool("campaign", "-q", "-d", d, "--param", "N=1,2", "--trace-format", "csv", "--",
             tool_path("faultstorm"), "-m", "{N}", "-r", "1")
    files = sorted(x for x in os.listdir(os.path.join(d, "N=2", "1")) if x.startswith("trace"))
    if r.returncode != 0 or files != ["trace.csv"]:
        errs.append(f"resumed as csv: exit {r.returncode}, N=2 holds {files}")
    fail_if(errs)


# ---------------------------------------------------------------------------
# --resolution


def ladder(tmp, res):
    """transients ladder traced at --resolution res: (rows, transients as
    (kb, start, full, end) ns, summary)."""
    path = os.path.join(tmp, f"ladder-{res}.csv")
    r = run([BIN, "-q", "--resolution", res, "-o", path, "--", workload("transients"),
             "ladder"], timeout=120)
    if r.returncode != 0:
        raise Fail(f"--resolution {res}: exit {r.returncode}: {tail(r.stderr)}")
    trs = [tuple(int(x) for x in line.split()[1:]) for line in r.stdout.splitlines()
           if line.startswith("T ")]
    if len(trs) != 7:
        raise Fail(f"transients ladder printed {len(trs)} transients: {r.stdout[:200]!r}")
    return path, read_rows(path), trs, load_summary(summary_path(path))


@suite.test("--resolution 1ms and 10ms: transients held 2-150 ms keep their exact rise, "
            "reached and left within the workload's own times", timeout=300)
def t_resolution_transients():
    errs = []
    for res, res_ns in (("1ms", MS), ("10ms", 10 * MS)):
        tmp = tmpdir()
        path, rows, trs, s = ladder(tmp, res)
        mine = [(int(x["ts_ns"]), int(x["vmrss_kb"])) for x in rows
                if x["event"] == "rss" and int(x["pid"]) == s["targets"][0]]
        for kb, start, full, end in trs:
            before = [v for t, v in mine if t < start]
            inside = [(t, v) for t, v in mine if start <= t <= end]
            if not before or not inside:
                errs.append(f"{res}: {kb} kB transient: no rows before or in it")
                continue
            floor = before[-1]
            top_t, top = max(inside, key=lambda tv: (tv[1], -tv[0]))
            if top - floor != kb:
                errs.append(f"{res}: {kb} kB transient: rise {top - floor} kB in the trace")
            # the top is exact: reached between the mmap's start and its return
            if not start <= top_t <= full:
                errs.append(f"{res}: {kb} kB transient: its top at {(top_t - start) / MS:.3f} "
                            f"ms, the mapping filled from 0 to {(full - start) / MS:.3f} ms")
            # seen rising within one step of its start, back down by its end
            first_up = min(t for t, v in inside if v > floor)
            down = [t for t, v in inside if t > top_t and v <= floor]
            if first_up > start + res_ns:
                errs.append(f"{res}: {kb} kB transient: first row up {(first_up - start) / MS:.3f}"
                            f" ms after its start")
            if not down or not full <= down[0] <= end:
                errs.append(f"{res}: {kb} kB transient: back down at "
                            f"{(down[0] - start) / MS if down else None} ms; it was unmapped "
                            f"between {(full - start) / MS:.3f} and {(end - start) / MS:.3f} ms")
        # spikes on the thinned trace: every transient, its exact rise
        rep, _ = spikes_json(path)
        rises = sorted(x["rise_kb"] for x in rep["spikes"])
        if rises != sorted(kb for kb, *_ in trs):
            errs.append(f"{res}: spikes found rises {rises}, the workload made "
                        f"{sorted(kb for kb, *_ in trs)}")
        if max(v for _, v in mine) != s["peak_rss_kb"]:
            errs.append(f"{res}: trace's max {max(v for _, v in mine)} kB, summary peak "
                        f"{s['peak_rss_kb']} kB")
    fail_if(errs)


@suite.test("--resolution 1ms under RSS changing as fast as this machine faults: about 2 rows "
            "a window, every change counted in folded, the peak exact; folded in the kernel "
            "(a ring record a window) and in the loader (MEMTRACE_FOLD=loader)", timeout=400)
def t_resolution_storm():
    tmp = tmpdir()
    errs = []
    for fold in ("kernel", "loader"):
        path, truth, _ = storm(tmp, f"s-{fold}.csv", "--resolution", "1ms", mib=512, repeat=4,
                               env=dict(clean_env(), MEMTRACE_FOLD=fold))
        rows = read_rows(path)
        s = load_summary(summary_path(path))
        rss = [x for x in rows if x["event"] == "rss"]
        per = collections.Counter(int(x["ts_ns"]) // MS for x in rss)
        worst = max(per.values())
        mean = len(rss) / len(per)
        folded = sum(int(x["folded"] or 0) for x in rss)
        c = s["cost"]
        print(f"# {fold}: {len(rss)} rss rows in {len(per)} windows (mean {mean:.2f}, at most "
              f"{worst}); they fold {folded} changes; faultstorm made {truth['faults']} "
              f"faults; the ring gave {c['ring_records']} records ({c['ring_windows']} "
              f"windows) for {c['rss_events']} rss_stat events")
        if worst > 3 or mean > 2.2:
            errs.append(f"{fold}: rows a window: at most {worst}, mean {mean:.2f} "
                        "(want <= 3, ~2)")
        if folded < int(truth["faults"]):
            errs.append(f"{fold}: folded counts {folded} changes, faultstorm faulted "
                        f"{truth['faults']} pages")
        # where the folding was done: a ring record a window, or one a change
        if fold == "kernel" and not (c["ring_windows"] and
                                     c["ring_records"] * 20 < int(truth["faults"])):
            errs.append(f"kernel: {c['ring_records']} ring records ({c['ring_windows']} "
                        f"windows) for {truth['faults']} faults: not folded before the ring")
        if fold == "loader" and (c["ring_windows"] or
                                 c["ring_records"] < int(truth["faults"])):
            errs.append(f"loader: {c['ring_records']} ring records ({c['ring_windows']} "
                        f"windows) for {truth['faults']} faults: not one a change")
        ts = [int(x["ts_ns"]) for x in rows]
        if any(a > b for a, b in zip(ts, ts[1:])):
            errs.append(f"{fold}: rows out of time order")
        peak = max(int(x["vmrss_kb"]) for x in rows)
        if peak != s["peak_rss_kb"] or peak < 512 * 1024:
            errs.append(f"{fold}: trace's max {peak} kB, summary {s['peak_rss_kb']} kB")
        if s["lost_events"]:
            errs.append(f"{fold}: {s['lost_events']} records lost")
    fail_if(errs)


HOLDER = """
import sys, time
sys.stdin.readline()
t0 = time.monotonic_ns()
b = b"x" * (64 << 20)
print(t0, time.monotonic_ns(), flush=True)
time.sleep(120)
"""


def smaps_rss_kb(pid):
    """The process's RSS from its page tables (smaps_rollup): exact."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return int(re.search(r"^Rss:\s+(\d+) kB", f.read(), re.M).group(1))


@suite.test("--resolution 100ms, attached, Ctrl-C while a window is open: its rows are "
            "written (read from the kernel at the end), the last one the level the page "
            "tables hold; folded in the kernel and in the loader")
def t_resolution_attach_end():
    errs = []
    for fold in ("kernel", "loader"):
        tmp = tmpdir()
        path = os.path.join(tmp, "a.csv")
        env = dict(clean_env(), MEMTRACE_FOLD=fold)
        target = spawn([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE)
        tracer = spawn([BIN, "-q", "--resolution", "100ms", "-p", str(target.pid), "-o", path],
                       env=env)
        # attached once its attach row is written (two windows and the hold later)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "attach" not in \
                (open(path).read() if os.path.exists(path) else ""):
            time.sleep(0.05)
        target.stdin.write(b"go\n")
        target.stdin.flush()
        t0, t1 = map(int, target.stdout.readline().split())
        tracer.send_signal(signal.SIGINT)       # the allocation's window is still open
        tracer.wait(timeout=30)
        truth = smaps_rss_kb(target.pid)
        target.kill()
        target.wait()
        if tracer.returncode != 0:
            errs.append(f"{fold}: exit {tracer.returncode} after SIGINT")
            continue
        rss = [x for x in read_rows(path) if x["event"] == "rss" and
               int(x["pid"]) == target.pid]
        last = rss[-1] if rss else None
        print(f"# {fold}: {len(rss)} rss rows; the last at +{(int(last['ts_ns']) - t0) / 1e6:.1f}"
              f" ms of the allocation ({(t1 - t0) / 1e6:.1f} ms long), {last['vmrss_kb']} kB; "
              f"smaps_rollup {truth} kB" if last else f"# {fold}: no rss row")
        if not last or int(last["ts_ns"]) < t0:
            errs.append(f"{fold}: no row of the allocation (the open window was not written)")
        elif abs(int(last["vmrss_kb"]) - truth) > 64:
            errs.append(f"{fold}: the last row says {last['vmrss_kb']} kB, the page tables "
                        f"{truth} kB")
    fail_if(errs)


@suite.test("--resolution: two processes faulting at once, each its own windows, in time order")
def t_resolution_two():
    tmp = tmpdir()
    fs = tool_path("faultstorm")
    path = os.path.join(tmp, "two.csv")
    r = run([BIN, "-q", "--resolution", "2ms", "-o", path, "--", "sh", "-c",
             f"{fs} -m 256 -r 2 & {fs} -m 256 -r 2; wait"], timeout=180)
    if r.returncode != 0:
        raise Fail(f"exit {r.returncode}: {tail(r.stderr)}")
    rows = read_rows(path)
    errs = []
    ts = [int(x["ts_ns"]) for x in rows]
    if any(a > b for a, b in zip(ts, ts[1:])):
        errs.append("rows out of time order")
    per = collections.Counter((int(x["pid"]), int(x["ts_ns"]) // (2 * MS)) for x in rows
                              if x["event"] == "rss")
    busy = [n for (p, _), n in per.items()]
    storms = {p for p, _ in per
              if max(int(x["vmrss_kb"]) for x in rows if int(x["pid"]) == p) >= 256 * 1024}
    if len(storms) != 2 or max(busy) > 3:
        errs.append(f"{len(storms)} processes reached 256 MiB (want the 2 faultstorms), at "
                    f"most {max(busy)} rows a window")
    fail_if(errs)


@suite.test("--resolution bad input: clear errors, nothing runs", root=False)
def t_resolution_bad_input():
    tmp = tmpdir()
    marker = os.path.join(tmp, "ran")
    for arg, needle in (("0", "from 1us to 1h"), ("abc", "not a duration"),
                        ("2h", "from 1us to 1h"), ("500ns", "from 1us to 1h")):
        refusal(["--resolution", arg, "-o", os.path.join(tmp, "t.csv"), "--", "touch", marker],
                2, [f"--resolution {arg}", needle])
    if os.path.exists(marker) or os.path.exists(os.path.join(tmp, "t.csv")):
        raise Fail("a refused command line ran the command or wrote a trace")


@suite.test("--resolution: 20,000 short-lived children cost the loader what 2,000 do",
            timeout=600)
def t_resolution_flat_memory():
    """A process's window state is about 1 KiB: kept for every process
    ever seen, 18,000 more would cost 18 MiB."""
    tmp = tmpdir()
    got = {}
    for n in (2000, 20000):
        path = os.path.join(tmp, f"k{n}.csv.zst")
        r = run([BIN, "-q", "--resolution", "1ms", "-o", path, "--", workload("manykids"),
                 str(n)], timeout=300)
        if r.returncode != 0:
            raise Fail(f"manykids {n}: exit {r.returncode}: {tail(r.stderr)}")
        got[n] = load_summary(summary_path(path))["cost"]["loader_maxrss_kb"]
    print(f"# loader peak RSS (VmHWM): {got[2000]} kB (2,000 children), {got[20000]} kB "
          "(20,000)")
    if got[20000] > got[2000] + 4096:
        raise Fail(f"loader peak RSS {got[2000]} kB with 2,000 children, {got[20000]} kB with "
                   "20,000: more than 4 MiB more")


if __name__ == "__main__":
    sys.exit(suite.main())
