#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The guard and live alerts on real kernel events: --kill-at stops a
runaway allocator at the page that crosses the limit (4 KiB pages and THP,
1 and 8 threads), ends a whole tree, lets a SIGTERM handler run; --alert
fires once per threshold at the crossing row's time; --on-alert,
--monitor-log, --timeout, --detach-after; attach, capture and campaign
runs; bad input.

Ground truth: the workload's own CLOCK_MONOTONIC lines (tests/workloads/
runaway.c prints how much it has touched, and when), wait4's rusage (the
kernel's own, approximate, maximum), /proc (what is left running), and the
trace's exact rows.
Output and environment: see tests/harness.py; the closing line is
`guard: N passed, N failed, N skipped`.
"""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import sys
import time
import urllib.error
import urllib.request

from harness import (BIN, Fail, Result, Skip, Suite, fail_if, help_lacks, load_summary, peak_cp,
                     read_rows,
                     refusal, run, spawn, summary_path, tail, tmpdir, workload, write_file)

suite = Suite("guard", builds=("runaway",))

MIB = 1024
HUGE_KB = 2048


def runaway(*opts):
    return [workload("runaway"), *opts]


def guarded(d, argv, *opts, name="g.csv", timeout=120):
    """memtrace-bpf -q -o D/NAME OPTS -- ARGV: (result, summary, rows)."""
    csv_path = os.path.join(d, name)
    r = run([BIN, "-q", "-o", csv_path, *opts, "--", *argv], timeout=timeout)
    s = load_summary(summary_path(csv_path))
    return r, s, read_rows(csv_path)


def touched(out):
    """The workload's `t TID kb=KB ns=NS` lines: [(kb, ns)]."""
    return [(int(m.group(1)), int(m.group(2)))
            for m in re.finditer(r"^t \d+ kb=(\d+) ns=(\d+)$", out, re.M)]


def thp_works():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            mode = f.read()
    except OSError:
        return False
    return "[never]" not in mode


def check_stopped(r, s, rows, limit_kb, page_kb, threads, errs, what):
    """The guard's evidence against the kernel's and the workload's."""
    g = s.get("guard", {})
    if r.returncode != 89:
        errs.append(f"{what}: exit {r.returncode}, not 89: {tail(r.stderr)}")
    if not g.get("crossed"):
        errs.append(f"{what}: summary guard.crossed is {g.get('crossed')}")
        return None
    # the overshoot: the largest exact total after the crossing, over the
    # limit, at most one page per thread that was faulting
    peak_rows = max(int(x["total_rss_kb"]) for x in rows if x["event"] != "guard")
    if g["max_after_kb"] != peak_rows or s["peak_rss_kb"] != peak_rows:
        errs.append(f"{what}: max_after_kb {g['max_after_kb']}, peak {s['peak_rss_kb']}, "
                    f"the rows' {peak_rows}")
    if not 0 < g["overshoot_kb"] <= threads * page_kb:
        errs.append(f"{what}: overshoot {g['overshoot_kb']} kB, over {threads} x {page_kb} kB")
    # stopped at the page: the faults in flight at the crossing finish (the
    # kernel does not abandon a page it is clearing; the overshoot bound
    # above says they are no more than a page a thread), then the tree is
    # gone within 50 ms of the last of them. With one thread that is 50 ms
    # of the crossing itself; with 8 threads on 2 CPUs a huge page in
    # flight can take tens of ms to clear (memory the hypervisor has not
    # backed yet), and that time is the kernel's, not ours
    cross_ns = g["crossing"]["ts_ns"]
    inflight = [x for x in rows if x["event"] == "rss" and x["cause"] == "fault"
                and int(x["ts_ns"]) > cross_ns]
    inflight_end = max([int(x["ts_ns"]) for x in inflight] + [cross_ns])
    gone_ns = cross_ns + round(g["stopped_after_s"] * 1e9)
    if gone_ns - inflight_end > 50_000_000:
        errs.append(f"{what}: the tree was gone {(gone_ns - inflight_end) / 1e6:.1f} ms after "
                    "the last fault in flight at the crossing, not within 50 ms")
    if threads == 1 and g["stopped_after_s"] > 0.050:
        errs.append(f"{what}: the tree was gone {g['stopped_after_s'] * 1e3:.1f} ms after the "
                    "crossing, not within 50 ms")
    # the crossing row: the first whose total passes the limit. With
    # several threads, a fault of another thread can read the clock before
    # the crossing fault and add its page to the total after it (the add
    # is one atomic, the clock read a moment before it): its row comes
    # first, over the limit. At most one such page per other thread.
    guard_rows = [x for x in rows if x["event"] == "guard"]
    gts = guard_rows[0]["ts_ns"] if len(guard_rows) == 1 else None
    cross = [x for x in rows if x["event"] == "rss" and x["ts_ns"] == gts]
    early = [x for x in rows if int(x["total_rss_kb"]) > limit_kb and x["event"] != "guard"
             and int(x["ts_ns"]) < int(gts or 0)]
    if len(guard_rows) != 1 or int(gts) != g["crossing"]["ts_ns"] or not cross or \
            int(cross[-1]["total_rss_kb"]) <= limit_kb or len(early) > threads - 1 or \
            any(x["tid"] == cross[-1]["tid"] for x in early):
        errs.append(f"{what}: guard rows {[x['ts_ns'] for x in guard_rows]}, summary "
                    f"{g['crossing']['ts_ns']}, the change's rows {cross[-1:]}, rows over the "
                    f"limit before it {[(x['ts_ns'], x['tid'], x['event']) for x in early]}")
    elif int(guard_rows[0]["len"]) != limit_kb or guard_rows[0]["label"] != "kill-at":
        errs.append(f"{what}: guard row {guard_rows[0]}")
    # the kernel's own (approximate, lagging) maximum is no higher
    ru = s.get("rusage_maxrss_kb") or 0
    if ru > peak_rows + 64:
        errs.append(f"{what}: wait4's ru_maxrss {ru} kB above the exact peak {peak_rows} kB")
    if s.get("exit_code") != 137:
        errs.append(f"{what}: the command's own status {s.get('exit_code')}, not 137 (SIGKILL)")
    # what the workload says it touched: never more than the limit plus
    # the overshoot, and nothing after the tree was stopped
    t = touched(r.stdout)
    if t and t[-1][0] > limit_kb + threads * page_kb:
        errs.append(f"{what}: the workload touched {t[-1][0]} kB, past the limit")
    # (a thread in user code at the crossing is stopped by the kernel's
    # interrupt to its CPU: 10 ms for a vCPU the host has not scheduled)
    if t and t[-1][1] > inflight_end + 10_000_000:
        errs.append(f"{what}: the workload still ran {(t[-1][1] - cross_ns) / 1e6:.1f} ms after "
                    f"the crossing, past its last fault in flight "
                    f"(+{(inflight_end - cross_ns) / 1e6:.1f} ms) and 10 ms")
    return (inflight_end - cross_ns) / 1e6


@suite.test("--kill-at: a runaway allocator stops at the crossing page (4 KiB, 1 and 8 threads)",
            timeout=300)
def t_kill_4k():
    errs = []
    for threads in (1, 8):
        d = tmpdir()
        r, s, rows = guarded(d, runaway("-t", str(threads), "-p", "4k", "-m", "2048"),
                             "--kill-at", "256M")
        inflight = check_stopped(r, s, rows, 256 * MIB, 4, threads, errs, f"4k x{threads}")
        print(f"# 4k x{threads}: overshoot {s.get('guard', {}).get('overshoot_kb')} kB, "
              f"stopped {s.get('guard', {}).get('stopped_after_s', 0) * 1e3:.3f} ms after "
              f"(faults in flight done +{inflight or 0:.3f} ms)")
    fail_if(errs)


@suite.test("--kill-at: THP: the overshoot is at most one huge page per faulting thread",
            timeout=300)
def t_kill_thp():
    if not thp_works():
        raise Skip("transparent huge pages are off on this machine")
    errs = []
    for threads in (1, 8):
        d = tmpdir()
        r, s, rows = guarded(d, runaway("-t", str(threads), "-p", "thp", "-m", "2048"),
                             "--kill-at", "256M")
        inflight = check_stopped(r, s, rows, 256 * MIB, HUGE_KB, threads, errs, f"thp x{threads}")
        steps = sorted({int(b["rss_anon_kb"]) - int(a["rss_anon_kb"])
                        for a, b in zip(rows, rows[1:]) if b["event"] == "rss"})
        if HUGE_KB not in steps:
            errs.append(f"thp x{threads}: no 2 MiB step in the rows: THP not used?")
        print(f"# thp x{threads}: overshoot {s.get('guard', {}).get('overshoot_kb')} kB, "
              f"stopped {s.get('guard', {}).get('stopped_after_s', 0) * 1e3:.3f} ms after "
              f"(faults in flight done +{inflight or 0:.3f} ms)")
    fail_if(errs)


def alive(marker):
    """PIDs of processes whose command line holds marker."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    out.append(int(p))
        except OSError:
            pass
    return out


def guarded_or_why(d, argv, marker, *opts):
    """guarded(), but a run that does not end within 60 s fails with what
    it was doing: memtrace-bpf's state and kernel stack, its monitor log,
    the trace's last rows, and which of the tree's processes live."""
    csv_path = os.path.join(d, "g.csv")
    mlog = os.path.join(d, "monitor.log")
    errf = os.path.join(d, "stderr")
    with open(errf, "wb") as ef:
        p = spawn([BIN, "-q", "-o", csv_path, "--monitor-log", mlog, *opts, "--", *argv],
                  stdout=subprocess.DEVNULL, stderr=ef)
    # the tree's processes hold no pipe of ours: a survivor is seen, not waited for
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        why = []
        for f in ("status", "wchan", "stack"):
            try:
                with open(f"/proc/{p.pid}/{f}") as fh:
                    t = fh.read()
                why.append(f"{f}: " + (" ".join(l for l in t.splitlines()
                                               if l.startswith(("State", "Threads")))
                                      if f == "status" else t.strip()[:400]))
            except OSError as e:
                why.append(f"{f}: {e}")
        try:
            with open(mlog) as fh:
                why.append("monitor log: " + fh.read()[-800:])
        except OSError as e:
            why.append(f"monitor log: {e}")
        try:
            with open(csv_path) as fh:
                lines = fh.read().splitlines()
            why.append(f"trace: {len(lines)} lines, last: {lines[-3:]}")
        except OSError as e:
            why.append(f"trace: {e}")
        live = alive(marker)
        why.append(f"tree processes alive: {live}")
        for q in live:
            os.kill(q, signal.SIGKILL)
        p.kill()
        p.wait()
        raise Fail("the run did not end within 60 s: " + " | ".join(why))
    with open(errf, errors="replace") as ef:
        r = Result(p.returncode, "", ef.read())
    return r, load_summary(summary_path(csv_path)), read_rows(csv_path)


@suite.test("--kill-at: a tree (shell and 3 workers, one grows) is ended whole", timeout=180)
def t_kill_tree():
    """Followed: the shell and its 3 workers are traced, the growing one
    crosses. --no-follow: only the command is traced (the shell execs into
    the runaway), its 2 workers are not, and are ended all the same (found
    below it in /proc)."""
    errs = []
    for follow in ([], ["--no-follow"]):
        d = tmpdir()
        marker = f"{os.getpid()}.{len(follow)}7"
        last = f"exec {workload('runaway')} -m 1024" if follow else \
            f"{workload('runaway')} -m 1024 & wait"
        script = f"sleep 3{marker} & sleep 3{marker} & {last}"
        r, s, rows = guarded_or_why(d, ["sh", "-c", script], f"3{marker}", "--kill-at", "128M",
                                    *follow)
        time.sleep(0.2)
        left = alive(f"3{marker}")
        what = "--no-follow" if follow else "followed"
        if r.returncode != 89 or not s.get("guard", {}).get("crossed"):
            errs.append(f"{what}: exit {r.returncode}, guard {s.get('guard')}")
        if left:
            errs.append(f"{what}: processes left running: {left}")
            for p in left:
                os.kill(p, signal.SIGKILL)
        n = s.get("guard", {}).get("tree_kill_processes", 0)
        if n < 3:
            errs.append(f"{what}: SIGKILL reached {n} processes, the tree has {4 - len(follow)}")
    fail_if(errs)


@suite.test("--kill-signal TERM: the program's handler runs and it exits cleanly")
def t_kill_term():
    d = tmpdir()
    r, s, rows = guarded(d, runaway("-m", "1024", "--term-handler"), "--kill-at", "128M",
                         "--kill-signal", "TERM", "--grace", "5s")
    g = s.get("guard", {})
    errs = []
    if r.returncode != 89 or not g.get("crossed") or g.get("signal") != "TERM":
        errs.append(f"exit {r.returncode}, guard {g}")
    if "clean-exit" not in r.stdout or s.get("exit_code") != 0:
        errs.append(f"the handler did not end it cleanly: exit_code {s.get('exit_code')}, "
                    f"output {tail(r.stdout, 200)!r}")
    if g.get("crossing", {}).get("kernel_signal") != "TERM":
        errs.append(f"the kernel did not send TERM to the crossing process: {g.get('crossing')}")
    if g.get("tree_kill_processes"):
        errs.append("SIGKILL followed though the handler ended it within the grace")
    fail_if(errs)


@suite.test("--alert: each threshold fires once, at the crossing row's time; stderr, rows, "
            "summary, --on-alert")
def t_alerts():
    d = tmpdir()
    hook_out = os.path.join(d, "hook.txt")
    hook = ('echo "$MEMTRACE_ALERT_KB $MEMTRACE_VALUE_KB $MEMTRACE_PID $MEMTRACE_COUNTS '
            f'$MEMTRACE_TIME_S" >> {hook_out}')
    r, s, rows = guarded(d, runaway("-m", "200", "-c", "4096", "-H", "0"), "--alert", "64M,128M",
                         "--alert", "64M", "--on-alert", hook)
    errs = []
    if r.returncode != 0:
        errs.append(f"exit {r.returncode}: {tail(r.stderr)}")
    alerts = [x for x in rows if x["event"] == "alert"]
    if [int(x["len"]) for x in alerts] != [64 * MIB, 128 * MIB]:
        errs.append(f"alert rows for {[x['len'] for x in alerts]} kB, want 65536 and 131072")
    for a in alerts:
        th = int(a["len"])
        first = next(x for x in rows if x["event"] != "alert" and int(x["total_rss_kb"]) > th)
        if a["ts_ns"] != first["ts_ns"] or int(a["reported_kb"]) != int(first["total_rss_kb"]):
            errs.append(f"alert {th}: at {a['ts_ns']} ({a['reported_kb']} kB), the first row "
                        f"over it at {first['ts_ns']} ({first['total_rss_kb']} kB)")
    lines = [l for l in r.stderr.splitlines() if "alert:" in l]
    if len(lines) != 2:
        errs.append(f"{len(lines)} alert lines on stderr: {lines}")
    th = s.get("alerts", {}).get("thresholds", [])
    if [(x["threshold_kb"], x["crossed"]) for x in th] != [(65536, True), (131072, True)]:
        errs.append(f"summary alerts {th}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not os.path.exists(hook_out) or
                                           len(open(hook_out).read().splitlines()) < 2):
        time.sleep(0.05)
    got = open(hook_out).read().split("\n") if os.path.exists(hook_out) else []
    want = [f"{th[i]['threshold_kb']} {th[i]['value_kb']} {th[i]['pid']} rss"
            for i in range(min(2, len(th)))]
    if sorted(" ".join(l.split()[:4]) for l in got if l) != sorted(want):
        errs.append(f"--on-alert saw {got}, want {want}")
    fail_if(errs)


@suite.test("--alert --count anon: file pages do not count, anonymous ones do")
def t_alert_anon():
    d = tmpdir()
    data = os.path.join(d, "data")
    with open(data, "wb") as f:
        f.truncate(96 << 20)
    prog = ("import mmap,sys,time\n"
            f"f=open({data!r},'rb'); m=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ)\n"
            "s=sum(m[i] for i in range(0,len(m),4096))\n"
            "b=bytearray(48<<20)\n"
            "for i in range(0,len(b),4096): b[i]=1\n"
            "time.sleep(0.1)\n")
    errs = []
    for count, want in (("rss", True), ("anon", False)):
        r, s, rows = guarded(d, [sys.executable, "-c", prog], "--alert", "96M",
                             "--count", count, name=f"{count}.csv")
        fired = [x for x in rows if x["event"] == "alert"]
        if bool(fired) != want:
            errs.append(f"--count {count}: {len(fired)} alert rows, want {'one' if want else 'none'}")
        if fired and fired[0]["reported"] != ("rss" if count == "rss" else "anon+shmem"):
            errs.append(f"--count {count}: the row says it counted {fired[0]['reported']}")
    fail_if(errs)


@suite.test("--monitor-log: lines as they happen (tail -f), with UTC times; --peak-lines")
def t_monitor_log():
    d = tmpdir()
    log = os.path.join(d, "mem.log")
    p = spawn([BIN, "-q", "-o", os.path.join(d, "m.csv"), "--monitor-log", log, "-i", "100ms",
               "--peak-lines", "32M", "--alert", "64M", "--",
               *runaway("-m", "128", "-r", "64", "-H", "0")])
    errs = []
    # the run takes 2 s once traced: a status line must be there before
    # its end (BPF takes a moment to load)
    early, deadline = "", time.monotonic() + 20
    while " status " not in early and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.02)
        early = open(log).read() if os.path.exists(log) else ""
    running = p.poll() is None
    out, err = p.communicate(timeout=60)
    text = open(log).read()
    if " start " not in early or " status " not in early or " end " in early or not running:
        errs.append(f"while it ran the log had {early!r}: not written as it goes")
    lines = text.splitlines()
    bad = [l for l in lines if not re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z [0-9.]+ \w+", l)]
    if bad:
        errs.append(f"lines without a UTC time and trace time: {bad[:2]}")
    kinds = [l.split()[2] for l in lines if len(l.split()) > 2]
    for k in ("start", "status", "peak", "alert", "end"):
        if k not in kinds:
            errs.append(f"no {k} line in {kinds}")
    if kinds.count("alert") != 1 or kinds[-1] != "end":
        errs.append(f"lines {kinds}")
    fail_if(errs)


def prom_parser():
    """prometheus_client's text parser (Debian's python3-prometheus-client;
    its dist-packages also when the tests run under another python3)."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError as e:
            raise Skip(f"no prometheus_client ({e}): tools/install-deps.sh installs "
                       "python3-prometheus-client")
    return text_string_to_metric_families


def prom_values(path, parse):
    """{metric name: value} of a textfile, each family's one sample; its
    types beside them."""
    vals, types = {}, {}
    for fam in parse(open(path).read()):
        types[fam.name] = fam.type
        for smp in fam.samples:
            if smp.labels.get("command") != "matrix":
                raise Fail(f"{smp.name}: labels {smp.labels}, want command=matrix")
            vals[smp.name] = smp.value
    return vals, types


@suite.test("--metrics: a Prometheus textfile while the run goes (parsed by prometheus_client), "
            "its peak the summary's at the end")
def t_metrics():
    parse = prom_parser()
    d = tmpdir()
    prom = os.path.join(d, "job.prom")
    go = os.path.join(d, "go")
    csv_path = os.path.join(d, "m.csv")
    p = spawn([BIN, "-q", "-o", csv_path, "--metrics", prom, "-i", "100ms", "--alert", "8M", "--",
               workload("matrix"), "8", "2", "--hold-until", go])
    errs = []
    try:
        deadline, live = time.monotonic() + 30, {}
        while time.monotonic() < deadline and p.poll() is None:
            if os.path.exists(prom):
                live, _ = prom_values(prom, parse)
                if live.get("memtrace_rss_bytes", 0) >= 16 << 20:
                    break
            time.sleep(0.05)
        if live.get("memtrace_rss_bytes", 0) < 16 << 20 or live.get("memtrace_running") != 1:
            errs.append(f"while the 16 MiB block was held the file said {live}")
        write_file(go, "")
        p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    end, types = prom_values(prom, parse)
    s = load_summary(summary_path(csv_path))
    want = {"memtrace_peak_rss_bytes": s["peak_rss_kb"] * 1024, "memtrace_running": 0,
            "memtrace_events_total": s["events"], "memtrace_lost_events_total": s["lost_events"],
            "memtrace_alerts_total": 1, "memtrace_processes": 0}
    got = {k: end.get(k) for k in want}
    if got != want:
        errs.append(f"at the end the file said {got}, the summary {want}")
    # prometheus_client names a counter's family without _total
    want_types = {"memtrace_rss_bytes": "gauge", "memtrace_peak_rss_bytes": "gauge",
                  "memtrace_events": "counter", "memtrace_lost_events": "counter",
                  "memtrace_alerts": "counter", "memtrace_guard_signals": "counter",
                  "memtrace_processes": "gauge", "memtrace_running": "gauge"}
    if types != want_types:
        errs.append(f"metric types {types}, want {want_types}")
    if p.returncode != 0:
        errs.append(f"exit {p.returncode}")
    print(f"# the file at the end: peak {end.get('memtrace_peak_rss_bytes')} bytes, "
          f"{end.get('memtrace_events_total')} events; while held: {live.get('memtrace_rss_bytes')}")
    fail_if(errs)


def free_port():
    """A TCP port nothing listens on now (the kernel's pick)."""
    with socket.socket() as k:
        k.bind(("127.0.0.1", 0))
        return k.getsockname()[1]


def scrape(url, parse):
    """GET url: (status, {sample name: value}, {sample name: labels})."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as e:
        return e.code, {}, {}
    except OSError:
        return None, {}, {}
    vals, labels = {}, {}
    for fam in parse(text):
        for smp in fam.samples:
            vals[smp.name] = smp.value
            labels[smp.name] = smp.labels
    return status, vals, labels


@suite.test("--metrics PORT: served at http://127.0.0.1:PORT/metrics while the run goes "
            "(parsed by prometheus_client), the RSS the workload read, the summary's peak; "
            "other paths 404, a port in use refused before anything runs")
def t_metrics_http():
    parse = prom_parser()
    d = tmpdir()
    go = os.path.join(d, "go")
    csv_path = os.path.join(d, "m.csv")
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    p = spawn([BIN, "-q", "-o", csv_path, "--metrics", str(port), "-i", "100ms", "--",
               workload("matrix"), "8", "2", "--hold-until", go])
    errs = []
    live, labels, other = {}, {}, None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and p.poll() is None:
            st, v, lb = scrape(url + "/metrics", parse)
            if st == 200 and v.get("memtrace_rss_bytes", 0) >= 16 << 20:
                time.sleep(0.3)         # the next text, the block long held
                st, live, labels = scrape(url + "/metrics", parse)
                break
            time.sleep(0.05)
        other = scrape(url + "/", parse)[0]
        # a client that trickles its request a byte a second: it holds
        # the server 2 s at most, and not the run's end
        trickler = socket.create_connection(("127.0.0.1", port))
        stop = threading.Event()

        def trickle():
            try:
                while not stop.wait(1.0):
                    trickler.send(b"G")
            except OSError:
                pass
        th = threading.Thread(target=trickle, daemon=True)
        th.start()
        time.sleep(0.5)
        write_file(go, "")
        t_go = time.monotonic()
        out, _ = p.communicate(timeout=60)
        took = time.monotonic() - t_go
        stop.set()
        trickler.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    s = load_summary(summary_path(csv_path))
    cp = peak_cp(out.decode() if isinstance(out, bytes) else out)
    if live.get("memtrace_rss_bytes") != cp.vmrss * 1024 or \
            live.get("memtrace_peak_rss_bytes") != s["peak_rss_kb"] * 1024 or \
            live.get("memtrace_running") != 1 or \
            labels.get("memtrace_rss_bytes") != {"command": "matrix"}:
        errs.append(f"while held it served {live} {labels.get('memtrace_rss_bytes')}; the "
                    f"workload read {cp.vmrss} kB, the summary's peak {s['peak_rss_kb']} kB")
    if other != 404:
        errs.append(f"GET / answered {other}, not 404")
    if took > 3:
        errs.append(f"the run took {took:.1f} s to end after its workload was released, a "
                    "client trickling a request held it")
    if p.returncode != 0:
        errs.append(f"exit {p.returncode}")
    if scrape(url + "/metrics", parse)[0] is not None:
        errs.append("still served after the run ended")
    # refused before anything runs: a port in use, not an address
    with socket.socket() as k:
        k.bind(("127.0.0.1", 0))
        k.listen()
        busy = k.getsockname()[1]
        ran = os.path.join(d, "ran")
        for arg, needle in ((str(busy), "Address already in use"),
                            ("70000", "not an address to listen on"),
                            ("nohost:80", "not an address to listen on")):
            e = refusal(["--metrics", arg, "-o", os.path.join(d, "r.csv"), "--", "touch", ran],
                        1, needle)
            if e:
                errs.append(e)
        if os.path.exists(ran) or os.path.exists(os.path.join(d, "r.csv")):
            errs.append("a refused --metrics ran the command or wrote the trace")
    print(f"# served while held: rss {live.get('memtrace_rss_bytes')} bytes, peak "
          f"{live.get('memtrace_peak_rss_bytes')}; the workload read {cp.vmrss} kB")
    fail_if(errs)


@suite.test("--timeout: SIGTERM, then SIGKILL after the grace; exit 124")
def t_timeout():
    d = tmpdir()
    errs = []
    t0 = time.monotonic()
    r, s, _ = guarded(d, ["sh", "-c", "trap '' TERM; sleep 30"], "--timeout", "500ms",
                      "--grace", "300ms")
    took = time.monotonic() - t0
    to = s.get("timeout", {})
    if r.returncode != 124 or not to.get("fired") or "kill_time_s" not in to:
        errs.append(f"TERM ignored: exit {r.returncode}, timeout {to}")
    if not 0.7 < took < 5:
        errs.append(f"TERM ignored: took {took:.2f} s, not about 0.8 s")
    r, s, _ = guarded(d, ["sleep", "30"], "--timeout", "300ms", name="t2.csv")
    to = s.get("timeout", {})
    if r.returncode != 124 or "kill_time_s" in to or s.get("exit_code") != 143:
        errs.append(f"TERM obeyed: exit {r.returncode}, summary exit_code "
                    f"{s.get('exit_code')}, timeout {to}")
    fail_if(errs)


@suite.test("--detach-after: tracing stops, the command keeps running, exit 0")
def t_detach():
    d = tmpdir()
    marker = os.path.join(d, "still-ran")
    csv_path = os.path.join(d, "g.csv")
    # not through pipes: the command keeps them open after we are gone
    p = spawn([BIN, "-q", "-o", csv_path, "--detach-after", "200ms", "--", "sh", "-c",
               f"sleep 1; touch {marker}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rc = p.wait(timeout=60)
    early = os.path.exists(marker)
    s = load_summary(summary_path(csv_path))
    errs = []
    if rc != 0 or s.get("detached") is not True or not 0.2 <= s["duration_s"] < 0.5 or early:
        errs.append(f"exit {rc}, detached {s.get('detached')}, traced {s['duration_s']:.3f} s, "
                    f"the command done before we exited: {early}")
    time.sleep(1.5)
    if not os.path.exists(marker):
        errs.append("the command did not go on after the detach")
    fail_if(errs)


def holder(mib):
    """A process holding mib MiB, until killed."""
    p = spawn([sys.executable, "-c", f"import time; b=bytearray({mib}<<20); print('ok', flush=True); "
               "time.sleep(60)"])
    if p.stdout.readline().strip() != b"ok":
        raise Fail("the holder did not start")
    return p


@suite.test("attach --kill-at: says what it will stop; over the limit already: refused, or "
            "stopped with --force")
def t_attach():
    d = tmpdir()
    errs = []
    p = holder(64)
    r = run([BIN, "-q", "-o", os.path.join(d, "a.csv"), "-p", str(p.pid), "--kill-at", "32M"])
    if r.returncode != 2 or "already, over the limit" not in r.stderr or p.poll() is not None:
        errs.append(f"over the limit: exit {r.returncode}, {tail(r.stderr)}, holder {p.poll()}")
    if os.path.exists(os.path.join(d, "a.csv")):
        errs.append("a refused attach wrote a trace")
    r = run([BIN, "-q", "-o", os.path.join(d, "a.csv"), "-p", str(p.pid), "--kill-at", "32M",
             "--force"])
    time.sleep(0.1)
    if r.returncode != 89 or p.poll() != -signal.SIGKILL:
        errs.append(f"--force: exit {r.returncode}, holder {p.poll()}")
    p2 = spawn([sys.executable, "-c", "import time\nprint('ok', flush=True)\ntime.sleep(0.5)\n"
                "b=bytearray(64<<20)\ntime.sleep(30)"])
    p2.stdout.readline()
    r = run([BIN, "-q", "-o", os.path.join(d, "b.csv"), "-p", str(p2.pid), "--kill-at", "32M"])
    if r.returncode != 89 or f"PID {p2.pid}" not in r.stderr or "will get SIGKILL" not in r.stderr:
        errs.append(f"growing past it: exit {r.returncode}, {tail(r.stderr)}")
    fail_if(errs)


@suite.test("campaign: --kill-at, --timeout and --max-peak per run; statuses and exit status",
            timeout=180)
def t_campaign():
    d = tmpdir()
    out = os.path.join(d, "c")
    plan = write_file(os.path.join(d, "runs.txt"),
                      f"{workload('runaway')} -m 300\n"
                      "sleep 30\n"
                      f"{workload('runaway')} -m 64 -H 0\n")
    # guard (128M), timeout (2s), over the gate (32M) and exit 0
    r = run([BIN, "campaign", "-q", "-d", out, "--file", plan, "--kill-at", "128M",
             "--timeout", "2s", "--grace", "200ms", "--max-peak", "32M"], timeout=120)
    rows = read_rows(os.path.join(out, "campaign.csv"))
    got = sorted(x["status"] for x in rows)
    errs = []
    if got != ["guard", "over-limit", "timeout"] or r.returncode != 3:
        errs.append(f"statuses {got}, exit {r.returncode}: {tail(r.stderr)}")
    r = run([BIN, "campaign", "-q", "-d", os.path.join(d, "c2"), "--max-peak", "32M", "--",
             workload("runaway"), "-m", "64", "-H", "0"], timeout=60)
    if r.returncode != 88:
        errs.append(f"every run exited 0, one over --max-peak: exit {r.returncode}, not 88")
    # --checkpoint-regex per run: the output kept in output.log (not on
    # our stdout), each matched line a log row of the run's trace
    c3 = os.path.join(d, "c3")
    r = run([BIN, "campaign", "-q", "-d", c3, "--param", "N=10,20",
             "--checkpoint-regex", "peak: ([0-9]+ MB)", "--", "sh", "-c",
             "echo hello; echo 'peak: {N} MB' >&2"], timeout=60)
    if r.returncode != 0 or "hello" in r.stdout:
        errs.append(f"--checkpoint-regex: exit {r.returncode}, our stdout {r.stdout!r}")
    for n in (10, 20):
        rd = os.path.join(c3, f"N={n}", "1")
        log = open(os.path.join(rd, "output.log")).read()
        rows = [x for x in read_rows(os.path.join(rd, "trace.csv.zst")) if x["event"] == "log"]
        if log != f"hello\npeak: {n} MB\n" or [x["reported_kb"] for x in rows] != [str(n * 1024)]:
            errs.append(f"N={n}: output.log {log!r}, log rows {[x['reported_kb'] for x in rows]}")
    fail_if(errs)


@suite.test("capture: --kill-at stops each captured process at its own limit")
def t_capture():
    d = tmpdir()
    cap = spawn([BIN, "record", "--comm", "runaway", "-d", os.path.join(d, "cap"),
                 "--kill-at", "64M"])
    time.sleep(1.5)
    w = run(runaway("-m", "256"), timeout=30)
    time.sleep(0.3)
    cap.send_signal(signal.SIGINT)
    cap.communicate(timeout=30)
    errs = []
    if w.returncode != -signal.SIGKILL and w.returncode != 137:
        errs.append(f"the captured runaway exited {w.returncode}, not killed")
    sums = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(d, "cap"))
            for f in fs if f == "summary.json"]
    if len(sums) != 1:
        raise Fail(f"{len(sums)} summaries")
    g = load_summary(sums[0]).get("guard", {})
    if not g.get("crossed") or g.get("overshoot_kb", 1 << 30) > 4:
        errs.append(f"guard {g}")
    fail_if(errs)


@suite.test("bad input: clear errors before anything runs", root=False)
def t_bad_input():
    d = tmpdir()
    ran = os.path.join(d, "ran")
    cmd = ["--", "touch", ran]
    cases = [
        (["--kill-at", "0"], "--kill-at 0"),
        (["--kill-at", "12abc"], "--kill-at 12abc"),
        (["--kill-at", "1G", "--kill-signal", "FOO"], "not a signal name"),
        (["--kill-at", "1G", "--kill-signal", "STOP"], "not a signal name"),
        (["--kill-at", "1G", "--kill-signal", "CHLD"], "--kill-signal CHLD"),
        (["--kill-signal", "TERM"], "give --kill-at SIZE"),
        (["--kill-at", "1G", "--grace", "2s"], "--grace is the time between"),
        (["--kill-at", "1G", "--count", "file"], "--count file"),
        (["--count", "anon"], "--count says what"),
        (["--alert", "2G", "--kill-at", "1G"], "is over --kill-at"),
        (["--alert", "1G,x"], "--alert 1G,x"),
        (["--on-alert", "true"], "give --alert SIZE"),
        (["--timeout", "0"], "--timeout 0"),
        (["--timeout", "soon"], "--timeout soon"),
        (["--detach-after", "1s", "--timeout", "2s"], "give one of them"),
        (["--peak-lines", "10M"], "give --monitor-log FILE"),
        (["--detach-after", "1s", "--checkpoint-regex", "x: ([0-9]+)"], "--detach-after with"),
    ]
    errs = []
    for opts, needle in cases:
        e = refusal([*opts, "-o", os.path.join(d, "t.csv"), *cmd], 2, needle)
        if e:
            errs.append(e)
    for opts, needle in ((["-p", "1", "--timeout", "1s"], "--timeout stops a command"),
                         (["-p", "1", "--force"], "--force is for attach mode with --kill-at"),
                         (["--force", "--kill-at", "1G"], "--force is for attach mode")):
        e = refusal([*opts, "-o", os.path.join(d, "t.csv")] + ([] if "-p" in opts else cmd), 2,
                    needle)
        if e:
            errs.append(e)
    e = refusal(["campaign", "-d", os.path.join(d, "c"), "--detach-after", "1s", "--", "true"],
                2, "unrecognized option")
    if e:
        errs.append(e)
    e = refusal(["--alert", ",".join(f"{i}M" for i in range(1, 10)), "-o",
                 os.path.join(d, "t.csv"), *cmd], 2, "at most 8 thresholds")
    if e:
        errs.append(e)
    for opts, rc, needle in ((["--metrics", os.path.join(d, "t.csv")], 1,
                              "would overwrite another output"),
                             (["--metrics", "/nonexistent/dir/m.prom"], 1, "does not exist")):
        e = refusal([*opts, "-o", os.path.join(d, "t.csv"), *cmd], rc, needle)
        if e:
            errs.append(e)
    if os.path.exists(ran) or os.path.exists(os.path.join(d, "t.csv")):
        errs.append("a refused command line ran the command or wrote the trace")
    errs += help_lacks(("--kill-at", "--kill-signal", "--grace", "--alert", "--on-alert",
                        "--timeout", "--detach-after", "--monitor-log", "--peak-lines", "--metrics",
                        "--count", "89", "124"))
    errs += help_lacks(("--kill-at", "--timeout", "--max-peak", "--checkpoint-regex",
                        "over-limit", "88"), "campaign")
    fail_if(errs)


if __name__ == "__main__":
    sys.exit(suite.main())
