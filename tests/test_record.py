#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`memtrace-bpf [record]` on real kernel events: launch and attach mode,
children and threads, signals, output files, options and bad input.

Runs memtrace-bpf against the workloads in tests/workloads/ and compares
its CSV/JSON with the ground truth each workload records itself
(/proc/self/status, exact on 6.16+ kernels, bracketed by CLOCK_MONOTONIC
timestamps t0/t1).

Output and environment: see tests/harness.py; the closing line is
`record: N passed, N failed, N skipped`.
"""

import bisect
import csv
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time

from harness import (BIN, NFIELDS, TRACE_HEADER, Fail, Skip, Suite, TOOL_TIMEOUT, cached,
                     clean_env, dec, fail_if, finish, kill_tracked, load_summary, need_bin,
                     parse_cps, peak_rss, record, run, small_fs, fill_disk, spawn, summary_path,
                     tail, tmpdir, tool_path, workload, write_file)

EVENTS = {"rss", "mmap", "munmap", "mremap", "brk", "madvise", "fork", "exec",
          "exit", "attach", "checkpoint", "mark", "mark_fd_lost", "log", "leave"}
PAGE_KB = 4
MIB_KB = 1024

suite = Suite("record")


# --------------------------------------------------------------------------
# CSV / JSON

class Row:
    __slots__ = ("line", "time_s", "vmrss", "vmsize", "ts", "pid", "tid", "event",
                 "anon", "file", "shmem", "swap", "total", "cause", "addr", "ip",
                 "len", "ret", "vmdata")

    def __repr__(self):
        return "[line %d: %s]" % (self.line, ",".join(
            str(getattr(self, k)) for k in ("ts", "pid", "tid", "event", "vmrss", "anon",
                                            "file", "shmem", "vmsize", "cause", "addr",
                                            "len", "ret")))


class Trace:
    """A parsed CSV: rows in file order, rows of each pid sorted by ts_ns,
    and the format problems found."""

    def __init__(self, path):
        self.path = path
        self.problems = []
        self.rows = []
        with open(path, "rb") as f:
            data = f.read()
        self.text = data.decode("utf-8", "replace")
        if not data:
            self.problems.append("CSV is empty")
            self.header = ""
            lines = []
        else:
            if not data.endswith(b"\n"):
                self.problems.append("CSV does not end with a newline")
            lines = self.text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            self.header = lines[0] if lines else ""
        if self.header != TRACE_HEADER:
            self.problems.append("header is %r, expected %r" % (self.header, TRACE_HEADER))
        for n, line in enumerate(lines[1:], start=2):
            f = line.split(",")
            if len(f) != NFIELDS:
                self.problems.append("line %d has %d fields (header has %d): %r"
                                     % (n, len(f), NFIELDS, line[:200]))
                continue
            r = Row()
            r.line = n
            try:
                r.time_s = f[0]
                r.vmrss = int(f[1])
                r.vmsize = int(f[2])
                r.ts = int(f[3])
                r.pid = int(f[4])
                r.tid = int(f[5])
                r.event = f[6]
                r.anon = int(f[7])
                r.file = int(f[8])
                r.shmem = int(f[9])
                r.swap = int(f[10])
                r.total = int(f[11])
                r.vmdata = int(f[20])
            except ValueError:
                self.problems.append("line %d: non-integer numeric field: %r" % (n, line[:200]))
                continue
            r.cause, r.addr, r.ip, r.len, r.ret = f[12], f[13], f[14], f[15], f[16]
            self.rows.append(r)
        self.by_pid = {}
        for r in self.rows:
            self.by_pid.setdefault(r.pid, []).append(r)
        self.ts_by_pid = {}
        for pid, rs in self.by_pid.items():
            rs.sort(key=lambda r: r.ts)     # stable: ties keep file order
            self.ts_by_pid[pid] = [r.ts for r in rs]

    def pids(self):
        return set(self.by_pid)

    def last_at(self, pid, t):
        """Last row of pid with ts_ns <= t, or None."""
        ts = self.ts_by_pid.get(pid)
        if not ts:
            return None
        i = bisect.bisect_right(ts, t) - 1
        return self.by_pid[pid][i] if i >= 0 else None

    def between(self, pid, t0, t1):
        """Rows of pid with t0 < ts_ns <= t1."""
        ts = self.ts_by_pid.get(pid)
        if not ts:
            return []
        return self.by_pid[pid][bisect.bisect_right(ts, t0):bisect.bisect_right(ts, t1)]


def proc_entry(summary, pid):
    for p in summary.get("processes") or []:
        if p.get("pid") == pid:
            return p
    return None


def hexint(s):
    if not re.fullmatch(r"0x[0-9a-fA-F]+", s or ""):
        raise ValueError("not 0x-hex: %r" % s)
    return int(s, 16)


def read_status(pid):
    vals = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmSize"):
                vals[k] = int(v.split()[0])
    return vals


# --------------------------------------------------------------------------
# workload output

def parse_ops(out):
    ops = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 5 and f[0] == "OP":
            ops.append((f[1], int(f[2], 16), int(f[3]), int(f[4])))
    return ops


def check_checkpoints(trace, cps, errs, after_ts=None):
    """Every checkpoint: the last row of its pid with ts <= t0 equals the
    /proc values, and no row in (t0, t1] changes VmRSS."""
    checked = 0
    for c in cps:
        if after_ts is not None and c.t0 <= after_ts:
            continue
        checked += 1
        r = trace.last_at(c.pid, c.t0)
        if r is None:
            errs.append("%s: no row of pid %d with ts_ns <= t0=%d" % (c.label, c.pid, c.t0))
            continue
        got = (r.vmrss, r.anon, r.file, r.shmem, r.vmsize, r.vmdata)
        want = (c.vmrss, c.anon, c.file, c.shmem, c.vmsize, c.vmdata)
        if got != want:
            errs.append("checkpoint %s (pid %d, t0=%d): /proc says vmrss/anon/file/shmem/vmsize/"
                        "vmdata"
                        " = %s, last row before t0 says %s: %r"
                        % (c.label, c.pid, c.t0, want, got, r))
        for r2 in trace.between(c.pid, c.t0, c.t1):
            if r2.vmrss != c.vmrss:
                errs.append("checkpoint %s (pid %d): row inside [t0=%d, t1=%d] has vmrss %d"
                            " != /proc %d: %r" % (c.label, c.pid, c.t0, c.t1, r2.vmrss,
                                                  c.vmrss, r2))
                break
    return checked


def check_files_complete(csv_path, summary_path, errs):
    """CSV ends with a newline and has whole rows; summary parses."""
    trace = None
    if not os.path.exists(csv_path):
        errs.append("CSV %s not written" % csv_path)
    else:
        trace = Trace(csv_path)
        errs.extend(trace.problems[:5])
    summary = None
    try:
        summary = load_summary(summary_path)
    except Fail as e:
        errs.append(str(e))
    return trace, summary


SUMMARY_KEYS = {
    "tool": str, "version": str, "mode": str, "csv": str, "start_ts_ns": int,
    "end_ts_ns": int, "duration_s": (int, float), "peak_rss_kb": int,
    "peak_time_s": (int, float), "peak_ts_ns": int, "events": int, "lost_events": int,
    "untraced_processes": int, "left_processes": int, "interrupted": bool, "page_size": int, "kernel": str,
    "processes": list,
}
PROC_KEYS = {"pid": int, "ppid": int, "comm": str, "peak_rss_kb": int,
             "peak_time_s": (int, float), "peak_ts_ns": int, "page_faults": int,
             "exited": bool}


def check_summary_schema(s, errs):
    for k, t in SUMMARY_KEYS.items():
        if k not in s:
            errs.append("summary lacks %r" % k)
        elif not isinstance(s[k], t) or (t is int and isinstance(s[k], bool)):
            errs.append("summary %r has type %s: %r" % (k, type(s[k]).__name__, s[k]))
    for k in ("command", "exit_code", "rusage_maxrss_kb"):
        if k not in s:
            errs.append("summary lacks %r" % k)
    if s.get("tool") != "memtrace-bpf":
        errs.append("summary tool = %r" % s.get("tool"))
    if s.get("page_size") != 4096:
        errs.append("summary page_size = %r" % s.get("page_size"))
    if isinstance(s.get("start_ts_ns"), int) and isinstance(s.get("end_ts_ns"), int):
        if s["end_ts_ns"] < s["start_ts_ns"]:
            errs.append("summary end_ts_ns < start_ts_ns")
    for p in s.get("processes") or []:
        for k, t in PROC_KEYS.items():
            if k not in p:
                errs.append("process entry lacks %r: %r" % (k, p))
                break
            if not isinstance(p[k], t) or (t is int and isinstance(p[k], bool)):
                errs.append("process %r: %r has type %s" % (p.get("pid"), k, type(p[k]).__name__))
                break
        if "exit_code" not in p:
            errs.append("process entry lacks 'exit_code': %r" % p)


def wait_for_line(stream, prefix, timeout):
    """Reads lines from a pipe until one starts with prefix."""
    import select
    end = time.monotonic() + timeout
    buf = b""
    fd = stream.fileno()
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        if not r:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
        for line in buf.decode("utf-8", "replace").splitlines():
            if line.startswith(prefix):
                return line, buf
    raise Fail("no %r line within %ss (got %r)" % (prefix, timeout, buf[:200]))


def wait_for_row(csv_path, pred, timeout):
    """Polls a growing CSV until a complete row satisfies pred(fields)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(csv_path, "rb") as f:
                data = f.read().decode("utf-8", "replace")
        except OSError:
            data = ""
        for line in data.split("\n")[1:-1]:       # whole lines only
            f = line.split(",")
            if len(f) == NFIELDS and pred(f):
                return f
        time.sleep(0.05)
    return None


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def free_pid():
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read())
    except OSError:
        pid_max = 32768
    for pid in range(pid_max - 1, 300, -1):
        if not os.path.exists("/proc/%d" % pid):
            return pid
    raise Skip("no free pid found")


# --------------------------------------------------------------------------
# shared runs (several tests look at one run)

def launch(argv_workload, extra_opts=(), timeout=TOOL_TIMEOUT, summary=None, env=None,
           cpus=None):
    """memtrace-bpf -o DIR/t.csv [opts] -- workload; returns a dict."""
    d = tmpdir()
    csv_path = os.path.join(d, "t.csv")
    argv = [BIN, "-q", "-o", csv_path] + list(extra_opts)
    if summary:
        argv += ["-s", summary]
    argv += ["--"] + list(argv_workload)
    p = spawn(argv, cwd=d, env=env, cpus=cpus)
    rc, out, err = finish(p, timeout)
    sum_path = summary or os.path.join(d, "t.summary.json")
    res = {"dir": d, "csv": csv_path, "summary_path": sum_path, "rc": rc, "out": out,
           "err": err, "argv": argv, "tool_pid": p.pid}
    if not os.path.exists(csv_path):
        raise Fail("%s: exit %d, no CSV written; stderr: %s" % (shlex.join(argv), rc, tail(err)))
    res["trace"] = Trace(csv_path)
    res["summary"] = load_summary(sum_path)
    return res


def checkpoints_run():
    def go():
        d = tmpdir()
        r = launch([workload("checkpoints"), d])
        r["command"] = [workload("checkpoints"), d]
        if r["rc"] != 0:
            raise Fail("exit status %d (workload exits 0); stderr: %s" % (r["rc"], tail(r["err"])))
        r["cps"] = parse_cps(r["out"])
        r["ops"] = parse_ops(r["out"])
        if len(r["cps"]) < 20 or "DONE" not in r["out"]:
            raise Fail("workload output incomplete: %r" % r["out"][-300:])
        return r
    return cached("checkpoints", go)


# --------------------------------------------------------------------------
# tests

@suite.test("launch: exact checkpoints (anon/brk/file/shmem/madvise/mremap)")
def t_exact_checkpoints():
    r = checkpoints_run()
    errs = []
    n = check_checkpoints(r["trace"], r["cps"], errs)
    if n < 20:
        errs.append("only %d checkpoints checked" % n)
    fail_if(errs)


@suite.test("launch: CSV format and summary schema/consistency")
def t_format():
    r = checkpoints_run()
    tr, s = r["trace"], r["summary"]
    errs = list(tr.problems[:5])
    check_summary_schema(s, errs)
    pid = r["cps"][0].pid
    if s.get("mode") != "launch":
        errs.append("mode = %r" % s.get("mode"))
    if s.get("command") != r["command"]:
        errs.append("command = %r" % s.get("command"))
    if s.get("csv") not in (r["csv"], os.path.basename(r["csv"])):
        errs.append("csv = %r, expected %r" % (s.get("csv"), r["csv"]))
    if s.get("exit_code") != 0:
        errs.append("exit_code = %r" % s.get("exit_code"))
    if s.get("interrupted") is not False:
        errs.append("interrupted = %r" % s.get("interrupted"))
    start = s.get("start_ts_ns") or 0
    if isinstance(s.get("end_ts_ns"), int) and isinstance(s.get("duration_s"), (int, float)):
        if abs(s["duration_s"] - (s["end_ts_ns"] - start) / 1e9) > 2e-6:
            errs.append("duration_s %r != (end_ts_ns - start_ts_ns)/1e9" % s["duration_s"])
    for x in [s] + list(s.get("processes") or []):
        if isinstance(x.get("peak_ts_ns"), int) and isinstance(x.get("peak_time_s"), (int, float)):
            if abs(x["peak_time_s"] - (x["peak_ts_ns"] - start) / 1e9) > 2e-6:
                errs.append("peak_time_s %r != (peak_ts_ns - start_ts_ns)/1e9 in %r"
                            % (x["peak_time_s"], x.get("pid", "summary")))
    bad = {}
    for row in tr.rows:
        if row.event not in EVENTS:
            bad.setdefault("event", row)
        if not re.fullmatch(r"\d+\.\d{9}", row.time_s):
            bad.setdefault("time_s format", row)
        elif start and abs(float(row.time_s) - (row.ts - start) / 1e9) > 2e-6:
            bad.setdefault("time_s != (ts_ns-start_ts_ns)/1e9", row)
        if row.vmrss != row.anon + row.file + row.shmem:
            bad.setdefault("vmrss != anon+file+shmem", row)
        if row.pid != pid:
            bad.setdefault("row of another pid (workload never forks)", row)
        # one traced process: the total is its RSS, and on its exit row
        # (the total after the event) it has left the total
        if row.total != (0 if row.event == "exit" else row.vmrss):
            bad.setdefault("total_rss_kb != vmrss_kb (0 on exit) with one traced process", row)
        if any(v % PAGE_KB for v in (row.vmrss, row.anon, row.file, row.shmem, row.vmsize)):
            bad.setdefault("value not a multiple of the page size", row)
        if row.event == "rss":
            if not (row.cause in ("fault", "self", "other") or row.cause.startswith("syscall:")):
                bad.setdefault("rss cause", row)
            if row.cause == "fault":
                try:
                    hexint(row.addr)
                    if hexint(row.ip) == 0:
                        bad.setdefault("fault row with ip 0", row)
                except ValueError:
                    bad.setdefault("fault row addr/ip not 0x-hex", row)
    for k, row in bad.items():
        errs.append("%s: %r" % (k, row))
    ts = [row.ts for row in tr.rows]
    if ts and (min(ts) < start or max(ts) > (s.get("end_ts_ns") or max(ts))):
        errs.append("rows outside [start_ts_ns, end_ts_ns]")
    execs = [row for row in tr.rows if row.event == "exec"]
    if len(execs) != 1:
        errs.append("%d exec rows, expected 1" % len(execs))
    elif (execs[0].cause, execs[0].ret) != ("checkpoints", str(r["tool_pid"])):
        errs.append("exec row cause/ret %r/%r, expected comm 'checkpoints' / parent %d"
                    % (execs[0].cause, execs[0].ret, r["tool_pid"]))
    elif tr.by_pid[pid][0] is not execs[0]:
        errs.append("the exec row is not the first row: %r" % tr.by_pid[pid][0])
    if s.get("untraced_processes") != 0:
        errs.append("untraced_processes = %r" % s.get("untraced_processes"))
    exits = [row for row in tr.rows if row.event == "exit"]
    if len(exits) != 1 or exits[0].ret != "0":
        errs.append("exit rows: %r (expected one with ret 0)" % exits)
    lost = s.get("lost_events")
    if lost == 0 and tr.rows:
        peak_rows = max(row.total for row in tr.rows)
        if s.get("peak_rss_kb") != peak_rows:
            errs.append("summary peak_rss_kb %r != max total_rss_kb of the rows %d"
                        % (s.get("peak_rss_kb"), peak_rows))
        pe = proc_entry(s, pid)
        if pe is None:
            errs.append("no process entry for pid %d" % pid)
        else:
            if pe.get("peak_rss_kb") != max(row.vmrss for row in tr.rows):
                errs.append("process peak_rss_kb %r != max vmrss of its rows %d"
                            % (pe.get("peak_rss_kb"), max(row.vmrss for row in tr.rows)))
            if pe.get("exit_code") != 0 or pe.get("exited") is not True:
                errs.append("process entry: %r" % pe)
            if pe.get("ppid") != r["tool_pid"] or pe.get("comm") != "checkpoints":
                errs.append("process entry ppid/comm %r/%r, expected %d/checkpoints"
                            % (pe.get("ppid"), pe.get("comm"), r["tool_pid"]))
        if isinstance(s.get("events"), int) and s["events"] != len(tr.rows):
            errs.append("summary events %d != %d CSV rows" % (s["events"], len(tr.rows)))
    elif lost:
        errs.append("lost_events = %r on a 24-step workload with the default ring" % lost)
    fail_if(errs)


@suite.test("launch: mmap/munmap/mremap/brk/madvise rows match the calls made")
def t_syscall_rows():
    r = checkpoints_run()
    tr = r["trace"]
    pid = r["cps"][0].pid
    rows = [row for row in tr.by_pid.get(pid, []) if row.event in
            ("mmap", "munmap", "mremap", "brk", "madvise")]
    errs = []
    for row in rows:
        try:
            if row.event == "brk":
                if row.len != "":
                    errs.append("brk row with len %r: %r" % (row.len, row))
                hexint(row.addr)
            else:
                hexint(row.addr)
                int(row.len)
            if row.event in ("mmap", "mremap", "brk") and not row.ret.startswith("-"):
                hexint(row.ret)
            else:
                int(row.ret)
        except ValueError as e:
            errs.append("malformed %s row (%s): %r" % (row.event, e, row))
    used = set()
    for name, addr, length, ret in r["ops"]:
        found = None
        for row in rows:
            if row.event != name or id(row) in used:
                continue
            try:
                if name == "brk":
                    ok = row.ret == hex(ret)
                elif name == "mmap":
                    ok = int(row.len) == length and row.ret == hex(ret)
                elif name == "mremap":
                    ok = hexint(row.addr) == addr and int(row.len) == length and row.ret == hex(ret)
                else:   # munmap, madvise: ret 0 or -errno
                    ok = hexint(row.addr) == addr and int(row.len) == length and row.ret == str(ret)
            except ValueError:
                ok = False
            if ok:
                found = row
                break
        if found is None:
            want = "%s addr=%#x len=%d ret=%s" % (name, addr, length,
                                                   hex(ret) if name in ("mmap", "mremap", "brk") else ret)
            near = [row for row in rows if row.event == name][:4]
            errs.append("no row for %s (rows of that event: %r)" % (want, near))
        else:
            used.add(id(found))
    if not any(row.event == "madvise" and row.ret == "-22" for row in rows):
        errs.append("the failing madvise (EINVAL) has no row with ret -22")
    fail_if(errs)


def _delta_sum(tr, pid, pred, attr="anon"):
    """Sum of the change of attr carried by rows matching pred (the change
    a row carries = its value minus the previous row's of the same pid)."""
    total, n, prev = 0, 0, None
    for row in tr.by_pid.get(pid, []):
        if prev is not None and pred(row):
            total += getattr(row, attr) - getattr(prev, attr)
            n += 1
        prev = row
    return total, n


def _check_syscall_cause(tr, cps, pid, name, addr, cp_before, cp_after, errs):
    """The anon pages a syscall released (-32 MiB) are carried by rss rows
    with cause syscall:NAME and addr = its first argument."""
    want = -32 * MIB_KB
    total, n = _delta_sum(tr, pid, lambda row: row.event == "rss" and row.cause == "syscall:" + name
                          and row.addr == hex(addr))
    if total == want:
        return
    c0 = [c for c in cps if c.label == cp_before]
    c1 = [c for c in cps if c.label == cp_after]
    why = ""
    if c0 and c1:
        # what the rows between the two checkpoints were attributed to
        causes = {}
        prev = tr.last_at(pid, c0[0].t1)
        for row in tr.between(pid, c0[0].t1, c1[0].t0):
            if prev is not None and row.event == "rss" and row.anon != prev.anon:
                k = row.cause + (" " + row.addr if row.cause.startswith("syscall") else "")
                causes[k] = causes.get(k, 0) + row.anon - prev.anon
            prev = row
        why = "; anon changes between checkpoints %s and %s by cause: %s" % (
            cp_before, cp_after, causes)
    errs.append("syscall:%s rows with addr %#x carry %d kB anon in %d rows, expected %d%s"
                % (name, addr, total, n, want, why))


@suite.test("launch: rss rows carry their cause (fault addresses, syscall:munmap/madvise)")
def t_causes():
    check_causes(checkpoints_run())


@suite.test("launch: causes survive preemption (pinned to one CPU with a syscall-heavy task, 3 runs)")
def t_causes_contended():
    # A task preempted inside munmap()/madvise() (cond_resched between page
    # tables) must keep its syscall:NAME cause when it resumes, also if
    # another task made syscalls on that CPU in between.
    if not shutil.which("dd"):
        raise Skip("no dd for the competing task")
    errs = []
    for k in range(3):
        hog = spawn(["dd", "if=/dev/zero", "of=/dev/null", "bs=1"], cpus={0},
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            d = tmpdir()
            r = launch([workload("checkpoints"), d], cpus={0})
        finally:
            os.killpg(hog.pid, signal.SIGKILL)
            hog.wait()
        if r["rc"] != 0:
            raise Fail("exit %d; stderr: %s" % (r["rc"], tail(r["err"])))
        r["cps"] = parse_cps(r["out"])
        r["ops"] = parse_ops(r["out"])
        try:
            check_causes(r)
        except Fail as e:
            errs.append("run %d: %s" % (k + 1, e))
    fail_if(errs, limit=3)


def check_causes(r):
    tr = r["trace"]
    pid = r["cps"][0].pid
    errs = []
    ops = r["ops"]
    mm64 = [o for o in ops if o[0] == "mmap" and o[2] == 64 * 1024 * 1024]
    if not mm64:
        raise Fail("workload output lacks the 64 MiB mmap")
    base = mm64[0][3]
    end = base + 64 * 1024 * 1024

    def in_region(row):
        if row.event != "rss" or row.cause != "fault":
            return False
        try:
            return base <= hexint(row.addr) < end
        except ValueError:
            return False
    total, n = _delta_sum(tr, pid, in_region)
    if total != 64 * MIB_KB:
        errs.append("fault rows in the 64 MiB region [%#x, %#x) carry %d kB of anon growth"
                    " in %d rows, expected %d kB" % (base, end, total, n, 64 * MIB_KB))
    # madvise(MADV_DONTNEED) of the upper 32 MiB: -32 MiB, cause syscall:madvise
    md = base + 32 * 1024 * 1024
    _check_syscall_cause(tr, r["cps"], pid, "madvise", md, "sparse8M", "dontneed32M", errs)
    # munmap of the 64 MiB region (32 MiB still resident): -32 MiB
    _check_syscall_cause(tr, r["cps"], pid, "munmap", base, "mremap_munmap", "end", errs)
    # shmem region touched: +10 MiB shmem by faults
    sh = [o for o in ops if o[0] == "mmap" and o[2] == 10 * 1024 * 1024]
    if sh:
        sbase = sh[0][3]

        def in_shm(row):
            try:
                return (row.event == "rss" and row.cause == "fault" and
                        sbase <= hexint(row.addr) < sbase + 10 * 1024 * 1024)
            except ValueError:
                return False
        total, n = _delta_sum(tr, pid, in_shm, "shmem")
        if total != 10 * MIB_KB:
            errs.append("fault rows in the shmem region carry %d kB shmem, expected %d"
                        % (total, 10 * MIB_KB))
    fail_if(errs)


@suite.test("launch: burst64 peak, peak time, exit code, rusage")
def t_burst():
    r = launch([workload("burst64"), "5"])
    errs = []
    if r["rc"] != 5:
        errs.append("memtrace-bpf exit %d, workload exited 5; stderr: %s" % (r["rc"], tail(r["err"])))
    m = re.search(r"^BURST (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (0x[0-9a-f]+) (\d+)$",
                  r["out"], re.M)
    if not m:
        raise Fail("no BURST line in the workload output: %r; %s" % (r["out"][:300], "; ".join(errs)))
    pid, ta, t0, t1, vmrss, anon, fil, shm = (int(x) for x in m.groups()[:8])
    addr, length = int(m.group(9), 16), int(m.group(10))
    s, tr = r["summary"], r["trace"]
    check_summary_schema(s, errs)
    if s.get("peak_rss_kb") != vmrss:
        errs.append("summary peak_rss_kb %r != workload VmRSS %d (read after the burst,"
                    " nothing allocated afterwards)" % (s.get("peak_rss_kb"), vmrss))
    pts = s.get("peak_ts_ns")
    if not isinstance(pts, int) or not ta <= pts <= t1:
        errs.append("peak_ts_ns %r outside the burst window [%d, %d]" % (pts, ta, t1))
    elif isinstance(s.get("start_ts_ns"), int) and isinstance(s.get("peak_time_s"), (int, float)):
        if abs(s["peak_time_s"] - (pts - s["start_ts_ns"]) / 1e9) > 2e-6:
            errs.append("peak_time_s %r != (peak_ts_ns - start_ts_ns)/1e9" % s["peak_time_s"])
    if s.get("exit_code") != 5:
        errs.append("summary exit_code %r, expected 5" % s.get("exit_code"))
    mr = s.get("rusage_maxrss_kb")
    if not isinstance(mr, int) or abs(mr - vmrss) > 2048:
        errs.append("rusage_maxrss_kb %r not within 2 MiB of the peak %d" % (mr, vmrss))
    pe = proc_entry(s, pid)
    if pe is None:
        errs.append("no process entry for pid %d" % pid)
    else:
        if pe.get("peak_rss_kb") != vmrss:
            errs.append("process peak_rss_kb %r != %d" % (pe.get("peak_rss_kb"), vmrss))
        if pe.get("exit_code") != 5 or pe.get("exited") is not True:
            errs.append("process entry exit_code/exited: %r" % pe)
        if isinstance(pe.get("page_faults"), int) and pe["page_faults"] < 16384:
            errs.append("process page_faults %r < 16384 (touched 64 MiB)" % pe["page_faults"])
    # the rise is in the CSV: low before the mmap, exact after
    before = tr.last_at(pid, ta)
    if before is None:
        errs.append("no row of pid %d before the burst started (exec row missing?)" % pid)
    elif before.vmrss > vmrss - 64 * MIB_KB:
        errs.append("row before the burst has vmrss %d (burst end %d)" % (before.vmrss, vmrss))
    at = tr.last_at(pid, t0)
    if at is None or (at.vmrss, at.anon, at.file, at.shmem) != (vmrss, anon, fil, shm):
        errs.append("last row before t0 %r != /proc (%d, %d, %d, %d)" % (at, vmrss, anon, fil, shm))

    def in_burst(row):
        try:
            return row.event == "rss" and row.cause == "fault" and addr <= hexint(row.addr) < addr + length
        except ValueError:
            return False
    total, n = _delta_sum(tr, pid, in_burst)
    if total != 64 * MIB_KB:
        errs.append("fault rows in the burst region carry %d kB of anon growth in %d rows,"
                    " expected %d" % (total, n, 64 * MIB_KB))
    ex = [row for row in tr.by_pid.get(pid, []) if row.event == "exit"]
    if len(ex) != 1 or ex[0].ret != "5":
        errs.append("exit rows %r, expected one with ret 5" % ex)
    elif ex[0].vmrss != vmrss:
        errs.append("exit row vmrss %d != the VmRSS the workload held when it exited %d"
                    % (ex[0].vmrss, vmrss))
    fail_if(errs)


def parse_forker(out, n):
    """(parent pid, {child pid: (index, exit code)}) from forker's output."""
    children = {}
    parent = None
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "CHILD":
            children[int(f[1])] = (int(f[2]), int(f[3]))
        elif f and f[0] == "DONE":
            parent = int(f[1])
    if len(children) != n or parent is None:
        raise Fail("forker output incomplete: %r" % out[-400:])
    return parent, children


def check_family(tr, s, out, n, follow, errs, expect_exec=False, after_ts=None,
                 parent_ppid=None):
    """Checks a trace of forker: the parent, and its n children when
    followed (fork/exec/exit rows, summary entries, exact checkpoints),
    or their absence."""
    parent, children = parse_forker(out, n)
    cps = parse_cps(out)
    for pid, (i, code) in children.items():
        if code != i + 1:
            errs.append("child %d exited %d, expected %d (workload problem)" % (pid, code, i + 1))
    errs.extend(tr.problems[:3])
    check_summary_schema(s, errs)
    pids = tr.pids()
    if parent not in pids:
        errs.append("parent %d has no rows" % parent)
    spids = {p.get("pid") for p in s.get("processes") or []}
    pp = proc_entry(s, parent)
    if pp is None:
        errs.append("parent %d not in summary processes" % parent)
    elif pp.get("exit_code") != 0 or pp.get("exited") is not True:
        errs.append("parent's summary entry %r, expected exit_code 0, exited true" % pp)
    elif parent_ppid is not None and pp.get("ppid") != parent_ppid:
        errs.append("parent's summary ppid %r, expected %d" % (pp.get("ppid"), parent_ppid))
    if follow:
        for pid, (i, code) in sorted(children.items()):
            if pid not in pids:
                errs.append("child %d has no rows" % pid)
                continue
            mine = tr.by_pid[pid]
            fork = [row for row in mine if row.event == "fork"]
            if len(fork) != 1 or fork[0].ret != str(parent):
                errs.append("child %d: fork rows %r (expected one with ret %d)" % (pid, fork, parent))
            elif mine[0] is not fork[0]:
                errs.append("child %d: first row is not its fork row: %r" % (pid, mine[0]))
            ex = [row for row in mine if row.event == "exit"]
            if len(ex) != 1 or ex[0].ret != str(code):
                errs.append("child %d: exit rows %r (expected one with ret %d)" % (pid, ex, code))
            elif mine[-1] is not ex[0]:
                errs.append("child %d: rows after its exit row: %r" % (pid, mine[-1]))
            if expect_exec:
                ee = [row for row in mine if row.event == "exec"]
                if len(ee) != 1:
                    errs.append("child %d: %d exec rows, expected 1" % (pid, len(ee)))
                elif ee[0].cause != "exe" or ee[0].ret != str(parent):
                    # comm after execve("/proc/self/exe") is "exe"
                    errs.append("child %d: exec row cause/ret %r/%r, expected exe/%d"
                                % (pid, ee[0].cause, ee[0].ret, parent))
            pe = proc_entry(s, pid)
            ccp = [c for c in cps if c.pid == pid and c.label == "child_alloc"]
            if pe is None:
                errs.append("child %d not in summary processes" % pid)
            else:
                if pe.get("exit_code") != code or pe.get("exited") is not True:
                    errs.append("child %d summary exit_code/exited %r/%r, expected %d/true"
                                % (pid, pe.get("exit_code"), pe.get("exited"), code))
                if pe.get("ppid") != parent:
                    errs.append("child %d summary ppid %r != %d" % (pid, pe.get("ppid"), parent))
                peak = pe.get("peak_rss_kb")
                if ccp and (not isinstance(peak, int) or peak < ccp[0].vmrss):
                    errs.append("child %d summary peak_rss_kb %r < its checkpoint %d"
                                % (pid, peak, ccp[0].vmrss))
                if not ccp:
                    errs.append("child %d printed no checkpoint" % pid)
                if s.get("lost_events") == 0 and peak != max(row.vmrss for row in mine):
                    errs.append("child %d summary peak_rss_kb %r != max vmrss of its rows %d"
                                % (pid, peak, max(row.vmrss for row in mine)))
        check_checkpoints(tr, cps, errs, after_ts=after_ts)
        if s.get("lost_events") == 0 and tr.rows:
            if s.get("peak_rss_kb") != max(row.total for row in tr.rows):
                errs.append("peak_rss_kb %r != max total_rss_kb of the rows %d"
                            % (s.get("peak_rss_kb"), max(row.total for row in tr.rows)))
    else:
        leaked = sorted(set(children) & pids)
        if leaked:
            errs.append("children not followed, yet %s have rows" % leaked)
        leaked = sorted(set(children) & spids)
        if leaked:
            errs.append("children not followed, yet %s are in summary processes" % leaked)
        if any(row.event == "fork" for row in tr.rows):
            errs.append("children not followed, yet fork rows are present")
        check_checkpoints(tr, [c for c in cps if c.pid == parent], errs, after_ts=after_ts)
    # once every child has exited, the tree total is the parent's RSS alone.
    # The last row before parent_end is usually the last child's exit row,
    # whose total still counts the exiting child (its vmrss is the RSS
    # before teardown): accept total == parent, or total - that exit row's
    # vmrss == parent.
    end = [c for c in cps if c.pid == parent and c.label == "parent_end"]
    if end and set(tr.pids()) <= set(children) | {parent}:
        last = None
        for row in tr.rows:
            if row.ts <= end[0].t0 and (last is None or row.ts >= last.ts):
                last = row
        if last is not None and last.total != end[0].vmrss and not (
                last.event == "exit" and last.pid != parent and
                last.total - last.vmrss == end[0].vmrss):
            errs.append("at parent_end (children gone) total_rss_kb is %d, the parent's VmRSS"
                        " is %d: %r" % (last.total, end[0].vmrss, last))
    return parent, children


def _children_test(extra, wl_args, follow, expect_exec=False, via_sh=False):
    n = int(wl_args[-1])
    cmd = [workload("forker")] + wl_args
    if via_sh:
        cmd = ["sh", "-c", shlex.join(cmd) + "; exit 0"]
    r = launch(cmd, extra_opts=extra)
    errs = []
    if r["rc"] != 0:
        errs.append("exit %d (the command exits 0); stderr: %s" % (r["rc"], tail(r["err"])))
    if r["summary"].get("exit_code") != 0:
        errs.append("summary exit_code %r" % r["summary"].get("exit_code"))
    check_family(r["trace"], r["summary"], r["out"], n, follow, errs, expect_exec=expect_exec,
                 parent_ppid=None if via_sh else r["tool_pid"])
    if via_sh:
        others = r["trace"].pids() - {c.pid for c in parse_cps(r["out"])}
        if len(others) != 1:
            errs.append("expected the shell as the only other traced pid, got %s" % sorted(others))
    fail_if(errs)


@suite.test("launch: forked children followed, exact, with exit codes")
def t_children():
    _children_test([], ["3"], True)


@suite.test("launch: children that exec are followed through the exec")
def t_children_exec():
    _children_test([], ["-e", "2"], True, expect_exec=True)


@suite.test("launch: posix_spawn (CLONE_VM) children followed through their exec")
def t_children_spawn():
    _children_test([], ["-s", "2"], True, expect_exec=True)


@suite.test("launch: grandchildren (sh -c forker) followed")
def t_grandchildren():
    _children_test([], ["2"], True, via_sh=True)


@suite.test("launch: --no-follow leaves children out")
def t_no_follow():
    _children_test(["--no-follow"], ["3"], False)


def start_attached(d, csv_name, popt, pids):
    """Starts memtrace-bpf -q POPT -o D/CSV_NAME (attach mode) and waits up
    to 30s for the attach row of each of pids in turn. A tracer that ends
    first fails the test. Returns (tracer, CSV path, the first pid whose
    attach row did not come or None); after a missing row the tracer has
    had 3s more."""
    csv_path = os.path.join(d, csv_name)
    tracer = spawn([BIN, "-q"] + list(popt) + ["-o", csv_path], cwd=d)
    for pid in pids:
        if wait_for_row(csv_path, lambda f: f[6] == "attach" and f[4] == str(pid), 30) is None:
            if tracer.poll() is not None:
                rc, out, err = finish(tracer, 5)
                raise Fail("tracer exited %d before writing an attach row; stderr: %s"
                           % (rc, tail(err)))
            time.sleep(3)
            return tracer, csv_path, pid
    return tracer, csv_path, None


def release(target, what):
    """Sends target the line on stdin it waits for, and waits up to 60s for
    it to end; returns its (stdout, stderr) as text."""
    try:
        out, err = target.communicate(input=b"go\n", timeout=60)
    except subprocess.TimeoutExpired:
        raise Fail("%s did not finish within 60s of its release" % what)
    return dec(out), dec(err)


def end_attached(tracer, csv_path, errs, what=""):
    """Waits up to 30s for an attach-mode tracer to end by itself (its
    targets have exited); its exit status must be 0 (else an error in errs,
    prefixed with what). Returns the Trace of its CSV."""
    try:
        rc, out, err = finish(tracer, 30)
    except Fail as e:
        raise Fail("tracer did not end after its targets exited: %s" % e)
    if rc != 0:
        errs.append("%sattach mode exit %d, expected 0; stderr: %s" % (what, rc, tail(err)))
    return Trace(csv_path)


def attach_row_check(tr, pid, status, comm, ppid, errs):
    """The one attach row of pid equals the /proc values read while the
    target sat idle; returns it."""
    att = [r for r in tr.by_pid.get(pid, []) if r.event == "attach"]
    if len(att) != 1:
        errs.append("%d attach rows for pid %d" % (len(att), pid))
        return None
    a = att[0]
    got = (a.vmrss, a.anon, a.file, a.shmem, a.vmsize)
    want = (status["VmRSS"], status["RssAnon"], status["RssFile"], status["RssShmem"],
            status["VmSize"])
    if got != want:
        errs.append("pid %d: attach row vmrss/anon/file/shmem/vmsize %s != /proc %s"
                    % (pid, got, want))
    if a.ret != str(ppid):
        errs.append("pid %d: attach row ret (ppid) %r != %d" % (pid, a.ret, ppid))
    if a.cause != comm:
        errs.append("pid %d: attach row cause (comm) %r != %r" % (pid, a.cause, comm))
    if tr.by_pid[pid][0] is not a:
        errs.append("attach row is not the first row of pid %d" % pid)
    return a


def _attach_test(form):
    d = tmpdir()
    nh = 1 if form == "single" else 2
    holders = []
    for k in range(nh):
        h = spawn([workload("holder"), str(24 + 16 * k), str(4 + k)], stdin=subprocess.PIPE)
        line, _ = wait_for_line(h.stdout, "READY", 20)
        if int(line.split()[1]) != h.pid:
            raise Fail("holder pid mismatch")
        holders.append(h)
    pids = [h.pid for h in holders]
    before = {pid: read_status(pid) for pid in pids}
    if form == "repeat":
        popt = [x for pid in pids for x in ("-p", str(pid))]
    else:
        popt = ["-p", ",".join(str(pid) for pid in pids)]
    tracer, csv_path, missing = start_attached(d, "a.csv", popt, pids)
    errs = []
    if missing is not None:
        errs.append("no attach row for %d in %s within 30s of starting the tracer"
                    " (CSV not flushed?)" % (missing, csv_path))
    for pid in pids:
        after = read_status(pid)
        if before[pid] != after:
            raise Fail("holder not idle: /proc before attach %r, after %r" % (before[pid], after))
    outs = {}
    for k, h in enumerate(holders):
        # the tracer must stay while a target lives
        if k and tracer.poll() is not None:
            errs.append("tracer exited (%r) when the first of %d targets exited"
                        % (tracer.returncode, nh))
        outs[h.pid], herr = release(h, "holder")
        if h.returncode != 4 + k:
            errs.append("holder exited %r: %s" % (h.returncode, tail(herr)))
        time.sleep(0.3)
    tr = end_attached(tracer, csv_path, errs)
    errs.extend(tr.problems[:3])
    s = load_summary(os.path.join(d, "a.summary.json"))
    check_summary_schema(s, errs)
    if s.get("mode") != "attach" or s.get("command") is not None:
        errs.append("summary mode/command = %r/%r" % (s.get("mode"), s.get("command")))
    if s.get("interrupted") is not False:
        errs.append("summary interrupted = %r (targets exited by themselves)" % s.get("interrupted"))
    if s.get("exit_code") is not None or s.get("rusage_maxrss_kb") is not None:
        errs.append("attach mode: summary exit_code/rusage_maxrss_kb %r/%r, expected null/null"
                    % (s.get("exit_code"), s.get("rusage_maxrss_kb")))
    extra = tr.pids() - set(pids)
    if extra:
        errs.append("rows of pids that were not targets: %s" % sorted(extra))
    # idle targets: each attach row's total is the sum of the snapshots so far
    atts = sorted((r for r in tr.rows if r.event == "attach"), key=lambda r: r.ts)
    acc = 0
    for a in atts:
        acc += a.vmrss
        if a.total != acc:
            errs.append("attach row of %d: total_rss_kb %d != sum of the attached snapshots %d"
                        % (a.pid, a.total, acc))
    for k, pid in enumerate(pids):
        a = attach_row_check(tr, pid, before[pid], "holder", os.getpid(), errs)
        if a is not None:
            n = check_checkpoints(tr, parse_cps(outs[pid]), errs, after_ts=a.ts)
            if n < 4:
                errs.append("only %d checkpoints after the attach row (holder output %r)"
                            % (n, outs[pid][-300:]))
        ex = [r for r in tr.by_pid.get(pid, []) if r.event == "exit"]
        if len(ex) != 1 or ex[0].ret != str(4 + k):
            errs.append("pid %d: exit rows %r, expected one with ret %d" % (pid, ex, 4 + k))
        pe = proc_entry(s, pid)
        if pe is None or pe.get("exit_code") != 4 + k or pe.get("exited") is not True:
            errs.append("summary process entry %r, expected exit_code %d, exited true" % (pe, 4 + k))
    fail_if(errs)


@suite.test("attach: exact attach row, tracer ends with the target, exact checkpoints")
def t_attach():
    _attach_test("single")


@suite.test("attach: -p A,B: both exact, tracer ends when the last exits")
def t_attach_comma():
    _attach_test("comma")


@suite.test("attach: -p A -p B (repeated)")
def t_attach_repeat():
    _attach_test("repeat")


@suite.test("attach to a busy process: exact from the attach on (3 rounds)")
def t_attach_busy():
    errs = []
    for k in range(3):
        d = tmpdir()
        h = spawn([workload("holder"), "16", "0", "busy"], stdin=subprocess.PIPE)
        wait_for_line(h.stdout, "READY", 20)
        tracer, csv_path, missing = start_attached(d, "b.csv", ["-p", str(h.pid)], [h.pid])
        if missing is not None:
            errs.append("round %d: no attach row within 30s" % k)
        time.sleep(0.3)
        hout, herr = release(h, "holder")
        tr = end_attached(tracer, csv_path, errs, "round %d: " % k)
        errs.extend(tr.problems[:3])
        att = [r for r in tr.by_pid.get(h.pid, []) if r.event == "attach"]
        if len(att) != 1:
            errs.append("round %d: %d attach rows" % (k, len(att)))
            continue
        e1 = []
        n = check_checkpoints(tr, parse_cps(hout), e1, after_ts=att[0].ts)
        if n < 4:
            e1.append("only %d checkpoints after the attach row" % n)
        errs.extend("round %d: %s" % (k, e) for e in e1)
        rows = len(tr.by_pid.get(h.pid, []))
        if rows < 100:
            errs.append("round %d: only %d rows while the target was busy" % (k, rows))
    fail_if(errs)


@suite.test("attach: a target that execs is traced through the exec")
def t_attach_exec():
    d = tmpdir()
    wl = workload("checkpoints")
    target = spawn(["sh", "-c", 'echo READY; read line; exec "$0" "$1"', wl, d],
                   stdin=subprocess.PIPE)
    wait_for_line(target.stdout, "READY", 20)
    pid = target.pid
    tracer, csv_path, missing = start_attached(d, "x.csv", ["-p", str(pid)], [pid])
    errs = []
    if missing is not None:
        errs.append("no attach row within 30s (CSV not flushed?)")
    tout, terr = release(target, "target")
    if target.returncode != 0:
        errs.append("target exited %r: %s" % (target.returncode, tail(terr)))
    tr = end_attached(tracer, csv_path, errs)
    errs.extend(tr.problems[:3])
    ee = [r for r in tr.by_pid.get(pid, []) if r.event == "exec"]
    if len(ee) != 1 or ee[0].cause != "checkpoints":
        errs.append("exec rows %r, expected one with comm checkpoints" % ee)
    cps = parse_cps(tout)
    if len(cps) < 20:
        errs.append("checkpoints output incomplete: %r" % tout[-200:])
    check_checkpoints(tr, cps, errs)
    s = load_summary(os.path.join(d, "x.summary.json"))
    pe = proc_entry(s, pid)
    if pe is None or pe.get("comm") != "checkpoints" or pe.get("exit_code") != 0:
        errs.append("summary entry %r: expected comm checkpoints, exit_code 0" % pe)
    fail_if(errs)


@suite.test("attach after main thread exited")
def t_attach_after_main_thread_exited():
    tmp = tmpdir()
    wl = spawn([workload("leaderexit")], text=True)
    pid = int(wl.stdout.readline().split()[1])
    time.sleep(0.15)    # the leader is a zombie now; the worker runs on
    csv_path = os.path.join(tmp, "z.csv")
    r = run([BIN, "-q", "-o", csv_path, "-p", str(pid)], timeout=30)
    wl.wait(timeout=10)
    if r.returncode != 0:
        raise Fail(f"exit {r.returncode}: {r.stderr.strip()[-200:]}")
    events = [l.split(",")[6] for l in open(csv_path)][1:]
    if events[:1] != ["attach"] or "exit" not in events or events.count("rss") < 100:
        raise Fail(f"events: first {events[:1]}, exit {'exit' in events}, rss rows "
                   f"{events.count('rss')}")


@suite.test("launch: 300 short-lived children, each forked, exited, in the summary")
def t_many_children():
    r = launch(["sh", "-c", "i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i+1)); done"])
    errs = []
    if r["rc"] != 0:
        errs.append("exit %d; stderr: %s" % (r["rc"], tail(r["err"])))
    tr, s = r["trace"], r["summary"]
    errs.extend(tr.problems[:3])
    forks = [x for x in tr.rows if x.event == "fork"]
    if len(forks) != 300:
        errs.append("%d fork rows, expected 300" % len(forks))
    no_exit = [x.pid for x in forks if not any(y.event == "exit" for y in tr.by_pid[x.pid])]
    if no_exit:
        errs.append("%d children without an exit row, e.g. %s" % (len(no_exit), no_exit[:5]))
    procs = s.get("processes") or []
    if len(procs) != 301:
        errs.append("%d summary processes, expected 301" % len(procs))
    bad = [x for x in procs if x.get("exited") is not True or x.get("exit_code") != 0]
    if bad:
        errs.append("%d entries not exited with 0, e.g. %r" % (len(bad), bad[:2]))
    true_ = [x for x in procs if x.get("comm") == "true"]
    if len(true_) != 300:
        errs.append("%d entries with comm 'true', expected 300" % len(true_))
    if s.get("lost_events") or s.get("untraced_processes"):
        errs.append("lost_events %r, untraced_processes %r"
                    % (s.get("lost_events"), s.get("untraced_processes")))
    fail_if(errs)


@suite.test("vfork child has its own peak")
def t_vfork_child_has_its_own_peak():
    tmp = tmpdir()
    csv_path, r = record(tmp, [workload("spawner")], csv_name="s.csv", timeout=60)
    child = int(r.stdout.split()[1])
    procs = {p["pid"]: p for p in load_summary(summary_path(csv_path))["processes"]}
    parent = [p for p in procs.values() if p["comm"] == "spawner"]
    if not parent or parent[0]["peak_rss_kb"] < 200 * 1024:
        raise Fail(f"spawner's peak {parent and parent[0]['peak_rss_kb']} kB, want >= 200 MiB")
    if child not in procs:
        raise Fail(f"the spawned child {child} is not in the summary")
    if procs[child]["peak_rss_kb"] > 16 * 1024:
        raise Fail(f"the spawned child's peak is {procs[child]['peak_rss_kb']} kB: its parent's")


@suite.test("reused pid is not traced")
def t_reused_pid_is_not_traced():
    """A traced /bin/true exits; an untraced process that gets its PID
    (forced through ns_last_pid) and takes 100 MiB must not be traced."""
    tmp = tmpdir()
    for attempt in range(10):
        csv_path = os.path.join(tmp, f"r{attempt}.csv")
        tracer = spawn([BIN, "-q", "-o", csv_path, "--", "sh", "-c", "/bin/true; sleep 1.5"],
                       stdout=subprocess.DEVNULL, text=True)
        pid_true = None
        for _ in range(100):
            time.sleep(0.02)
            try:
                with open(csv_path) as f:
                    for line in f:
                        c = line.split(",")
                        if len(c) > 12 and c[6] == "exit" and c[12] == "true":
                            pid_true = int(c[4])
            except FileNotFoundError:
                pass
            if pid_true:
                break
        if not pid_true:
            tracer.kill()
            raise Fail("no exit row of /bin/true")
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid_true - 1))
        reuser = spawn([sys.executable, "-c",
                        "import os,time; b=bytearray(100<<20); time.sleep(0.3); print(os.getpid())"],
                       text=True)
        got = int(reuser.communicate(timeout=30)[0])
        rc = tracer.wait(timeout=30)
        if got != pid_true:
            continue    # another process took the PID first: try again
        s = load_summary(summary_path(csv_path))
        if rc != 0:
            raise Fail(f"exit {rc}")
        if s["peak_rss_kb"] > 50 * 1024:
            raise Fail(f"tree peak {s['peak_rss_kb']} kB: the unrelated process with reused PID "
                       f"{pid_true} was traced")
        rows_after = 0
        with open(csv_path) as f:
            seen_exit = False
            for line in f:
                c = line.split(",")
                if len(c) > 6 and c[4] == str(pid_true):
                    if seen_exit:
                        rows_after += 1
                    if c[6] == "exit":
                        seen_exit = True
        if rows_after:
            raise Fail(f"{rows_after} rows of PID {pid_true} after its exit row")
        return
    raise Fail("could not make a process reuse the PID in 10 tries")


@suite.test("rows in time order across processes")
def t_rows_in_time_order_across_processes():
    """Seven processes (forker) and two faulting threads: ts_ns never goes
    back, across drains and CPUs. A guard: the race it covers (a record
    committed late into the next drain) is rare, and this run may pass
    without the fix."""
    tmp = tmpdir()
    for wl in (["forker", "6"], ["threads"]):
        csv_path = os.path.join(tmp, wl[0] + ".csv")
        r = run([BIN, "-q", "-o", csv_path, "--", workload(wl[0]), *wl[1:]], timeout=60)
        if r.returncode != 0:
            raise Fail(f"{wl[0]}: exit {r.returncode}")
        prev, back, rows = 0, 0, 0
        with open(csv_path) as f:
            next(f)
            for line in f:
                ts = int(line.split(",")[3])
                rows += 1
                back += ts < prev
                prev = max(prev, ts)
        if rows < 1000 or back:
            raise Fail(f"{wl[0]}: {back} of {rows} rows earlier than a row before them")


def _attach_follow_test(follow):
    d = tmpdir()
    target = spawn([workload("forker"), "-w", "2"], stdin=subprocess.PIPE)
    first, _ = wait_for_line(target.stdout, "READY", 20)
    pid = target.pid
    before = read_status(pid)
    tracer, csv_path, missing = start_attached(
        d, "f.csv", ["-p", str(pid)] + (["--follow"] if follow else []), [pid])
    errs = []
    if missing is not None:
        errs.append("no attach row within 30s (CSV not flushed?)")
    # wait_for_line consumed the first lines (parent_start, READY): the
    # ones that matter come after
    tout, terr = release(target, "forker")
    tr = end_attached(tracer, csv_path, errs)
    s = load_summary(os.path.join(d, "f.summary.json"))
    a = attach_row_check(tr, pid, before, "forker", os.getpid(), errs)
    check_family(tr, s, tout, 2, follow, errs, after_ts=a.ts if a else None,
                 parent_ppid=os.getpid())
    fail_if(errs)


@suite.test("attach --follow: children forked after attach are traced")
def t_attach_follow():
    _attach_follow_test(True)


@suite.test("attach without --follow: children forked after attach are not traced")
def t_attach_nofollow():
    _attach_follow_test(False)


@suite.test("launch: threads faulting concurrently, exact checkpoints, tid column")
def t_threads():
    r = launch([workload("threads"), "2", "4", "16"])
    errs = []
    if r["rc"] != 0:
        errs.append("exit %d; stderr: %s" % (r["rc"], tail(r["err"])))
    cps = parse_cps(r["out"])
    tids = [int(l.split()[1]) for l in r["out"].splitlines() if l.startswith("TID ")]
    if len(cps) < 10 or len(tids) != 2:
        raise Fail("workload output incomplete: %r" % r["out"][-300:])
    pid = cps[0].pid
    tr = r["trace"]
    errs.extend(tr.problems[:3])
    if tr.pids() != {pid}:
        errs.append("rows for pids %s, expected only the process %d (threads are not"
                    " processes)" % (sorted(tr.pids()), pid))
    for t in tids:
        n = sum(1 for row in tr.rows if row.tid == t and row.event == "rss" and row.cause == "fault")
        if n < 4 * 4096 // 2:
            errs.append("thread %d: only %d fault rows with its tid" % (t, n))
    if len([p for p in r["summary"].get("processes") or []]) != 1:
        errs.append("summary processes: %r" % r["summary"].get("processes"))
    ex = [row for row in tr.rows if row.event == "exit"]
    if len(ex) != 1 or ex[0].ret != "0":
        errs.append("exit rows %r: expected one (threads ending are not process exits)" % ex[:4])
    check_checkpoints(tr, cps, errs)
    fail_if(errs)


def _check_complete(csv_path, sum_path, errs):
    tr, s = check_files_complete(csv_path, sum_path, errs)
    if tr is not None:
        with open(csv_path, "rb") as f:
            data = f.read()
        for n, line in enumerate(data.split(b"\n")[:-1], 1):
            if line.count(b",") != NFIELDS - 1:
                errs.append("CSV line %d has %d fields: %r" % (n, line.count(b",") + 1, line[:120]))
                break
    return tr, s


def _signal_launch_test(sig):
    d = tmpdir()
    csv_path = os.path.join(d, "i.csv")
    p = spawn([BIN, "-q", "-o", csv_path, "--", workload("long")], cwd=d)
    line, _ = wait_for_line(p.stdout, "READY", 30)
    child = int(line.split()[1])
    time.sleep(0.5)
    os.kill(p.pid, sig)
    rc, out, err = finish(p, 30)
    want = 128 + sig
    errs = []
    if rc != want:
        errs.append("exit %d after %s, expected %d; stderr: %s"
                    % (rc, signal.Signals(sig).name, want, tail(err)))
    time.sleep(0.2)
    if pid_alive(child):
        errs.append("workload %d still alive after the tracer exited" % child)
        try:
            os.kill(child, signal.SIGKILL)
        except OSError:
            pass
    tr, s = _check_complete(csv_path, os.path.join(d, "i.summary.json"), errs)
    if s is not None:
        if not (s.get("interrupted") is True or s.get("exit_code") == want):
            errs.append("summary interrupted=%r exit_code=%r" % (s.get("interrupted"), s.get("exit_code")))
        pe = proc_entry(s, child)
        if pe is None or pe.get("exit_code") != want:
            errs.append("workload's process entry %r, expected exit_code %d (killed by %s)"
                        % (pe, want, signal.Signals(sig).name))
    if tr is not None:
        ex = [r for r in tr.by_pid.get(child, []) if r.event == "exit"]
        if len(ex) != 1 or ex[0].ret != str(want):
            errs.append("workload's exit rows %r, expected one with ret %d" % (ex, want))
    fail_if(errs)


@suite.test("launch + SIGINT: forwarded, exit 130, files complete")
def t_sigint_launch():
    _signal_launch_test(signal.SIGINT)


@suite.test("launch + SIGTERM: forwarded, exit 143, files complete")
def t_sigterm_launch():
    _signal_launch_test(signal.SIGTERM)


def _early_signal_test(sigint_ignored):
    """SIGINT at several moments of the startup (BPF loading, spawn): it is
    never lost. Allowed: 130 with complete files; with the default
    disposition also death by SIGINT before anything was created."""
    errs = []
    for delay in (0.005, 0.02, 0.04, 0.06, 0.09, 0.13):
        d = tmpdir()
        csv_path = os.path.join(d, "e.csv")
        with open(os.path.join(d, "stdout"), "wb") as fo:
            p = spawn([BIN, "-q", "-o", csv_path, "--", workload("long"), "4"], cwd=d,
                      stdout=fo, sigint_ignored=sigint_ignored)
        time.sleep(delay)
        os.kill(p.pid, signal.SIGINT)
        t = time.monotonic()
        try:
            rc = p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - t
        err = dec(p.stderr.read())
        files = sorted(x for x in os.listdir(d) if x.startswith("e."))
        what = "SIGINT %d ms after start: " % (delay * 1000)
        if rc is None or took > 3:
            errs.append(what + "signal lost: the tracer ran on for %.1fs (exit %r; the command"
                        " runs 4s)" % (took, rc))
        elif rc == -signal.SIGINT and not sigint_ignored:
            if files:
                errs.append(what + "killed by SIGINT but left files %s" % files)
        elif rc != 130:
            errs.append(what + "exit %r, expected 130; stderr: %s" % (rc, tail(err, 200)))
        else:
            e1 = []
            _check_complete(csv_path, os.path.join(d, "e.summary.json"), e1)
            errs.extend(what + x for x in e1)
        kill_tracked()
    fail_if(errs)


@suite.test("launch + SIGINT during startup: never lost")
def t_early_sigint():
    _early_signal_test(False)


@suite.test("launch + SIGINT during startup, SIGINT inherited ignored (script background job)")
def t_early_sigint_ignored():
    _early_signal_test(True)


@suite.test("attach + SIGINT: exit 0, target alive, files complete")
def t_sigint_attach():
    d = tmpdir()
    target = spawn([workload("long")])
    line, _ = wait_for_line(target.stdout, "READY", 20)
    pid = target.pid
    csv_path = os.path.join(d, "j.csv")
    p = spawn([BIN, "-q", "-p", str(pid), "-o", csv_path], cwd=d)
    errs = []
    if wait_for_row(csv_path, lambda f: f[6] == "attach", 30) is None:
        errs.append("no attach row within 30s (CSV not flushed?)")
    time.sleep(0.5)
    if p.poll() is not None:
        rc, out, err = finish(p, 5)
        raise Fail("tracer exited %d before SIGINT; stderr: %s" % (rc, tail(err)))
    os.kill(p.pid, signal.SIGINT)
    rc, out, err = finish(p, 30)
    if rc != 0:
        errs.append("attach mode exit %d after SIGINT, expected 0; stderr: %s" % (rc, tail(err)))
    time.sleep(0.2)
    if target.poll() is not None or not pid_alive(pid):
        errs.append("target died (status %r) when the tracer got SIGINT" % target.poll())
    tr, s = _check_complete(csv_path, os.path.join(d, "j.summary.json"), errs)
    if s is not None:
        if s.get("interrupted") is not True:
            errs.append("summary interrupted = %r" % s.get("interrupted"))
        pe = proc_entry(s, pid)
        if pe is None or pe.get("exited") is not False:
            errs.append("target's process entry %r, expected exited false" % pe)
    if tr is not None:
        if len(tr.by_pid.get(pid, [])) < 10:
            errs.append("only %d rows for a target allocating in a loop" % len(tr.by_pid.get(pid, [])))
        if any(r.event == "exit" for r in tr.rows):
            errs.append("exit row for a target that is still alive")
    # the target must not be left with anything of ours: it still runs fine
    time.sleep(0.3)
    if target.poll() is not None:
        errs.append("target died after the tracer left (status %r)" % target.poll())
    fail_if(errs)


@suite.test("lost events (64K ring, reader stopped): counted, and the peak stays exact")
def t_small_ring():
    # attach to an idle holder with a 64K ring, SIGSTOP the tracer, let the
    # holder make ~10000 RSS changes (far more than 64K holds), SIGCONT
    d = tmpdir()
    h = spawn([workload("holder"), "8", "0"], stdin=subprocess.PIPE)
    wait_for_line(h.stdout, "READY", 20)
    tracer, csv_path, missing = start_attached(d, "r.csv", ["--ring-size", "64K", "-p", str(h.pid)],
                                               [h.pid])
    errs = []
    if missing is not None:
        errs.append("no attach row within 30s (CSV not flushed?)")
    os.kill(tracer.pid, signal.SIGSTOP)
    try:
        hout, herr = release(h, "holder")
    finally:
        os.kill(tracer.pid, signal.SIGCONT)
    tr = end_attached(tracer, csv_path, errs)
    cps = parse_cps(hout)
    if len(cps) < 4:
        raise Fail("holder output incomplete: %r" % hout[-200:])
    errs.extend(tr.problems[:3])
    s = load_summary(os.path.join(d, "r.summary.json"))
    check_summary_schema(s, errs)
    lost = s.get("lost_events")
    if not isinstance(lost, int) or lost <= 0:
        errs.append("lost_events %r: the stopped reader must have lost rows (%d rows written)"
                    % (lost, len(tr.rows)))
    # between checkpoints the holder only grows, then only shrinks: its
    # peak is its largest checkpoint
    want = max(c.vmrss for c in cps)
    pe = proc_entry(s, h.pid)
    if pe is None or pe.get("peak_rss_kb") != want:
        errs.append("process peak_rss_kb %r, expected the exact peak %d (lost_events %r)"
                    % (pe and pe.get("peak_rss_kb"), want, lost))
    if s.get("peak_rss_kb") != want:
        errs.append("summary peak_rss_kb %r, expected the exact peak %d (lost_events %r)"
                    % (s.get("peak_rss_kb"), want, lost))
    if isinstance(s.get("events"), int) and s["events"] != len(tr.rows):
        errs.append("summary events %d != %d CSV rows" % (s["events"], len(tr.rows)))
    # the exit record itself may be lost (the holder exits while the reader
    # is stopped), but the summary knows from the kernel's process table
    if pe is not None and (pe.get("exited") is not True or pe.get("exit_code") != 0):
        errs.append("process entry exited/exit_code %r/%r, expected true/0"
                    % (pe.get("exited"), pe.get("exit_code")))
    print("# lost rows: %d rows written, lost_events %r" % (len(tr.rows), lost))
    fail_if(errs)


@suite.test("launch: exit status of the command (7, 128+SIGTERM, 127, 126)")
def t_exit_status():
    d = tmpdir()
    errs = []
    noexec = os.path.join(d, "noexec.sh")
    with open(noexec, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(noexec, 0o644)
    cases = [(["sh", "-c", "exit 7"], 7, None),
             (["sh", "-c", "kill -TERM $$"], 143, None),
             ([os.path.join(d, "no-such-command")], 127, r"no-such-command|not found|No such file"),
             ([noexec], 126, r"noexec\.sh|[Pp]ermission|executable")]
    for i, (cmd, want, msg) in enumerate(cases):
        csv_path = os.path.join(d, "e%d.csv" % i)
        rc, out, err = run([BIN, "-q", "-o", csv_path, "--"] + cmd, cwd=d)
        if rc != want:
            errs.append("%s: exit %d, expected %d; stderr: %s" % (shlex.join(cmd), rc, want, tail(err)))
        if msg and not re.search(msg, err):
            errs.append("%s: stderr does not say why: %r" % (shlex.join(cmd), tail(err)))
        if msg is None and not os.path.exists(csv_path):
            errs.append("%s: no CSV written" % shlex.join(cmd))
        elif msg is None:
            tr = Trace(csv_path)
            ex = [x for x in tr.rows if x.event == "exit" and x.cause == "sh"]
            if len(ex) != 1 or ex[0].ret != str(want):
                errs.append("%s: exit rows %r, expected one with ret %d" % (shlex.join(cmd), ex, want))
            sp = os.path.join(d, "e%d.summary.json" % i)
            if os.path.exists(sp):
                s = load_summary(sp)
                if s.get("exit_code") != want:
                    errs.append("%s: summary exit_code %r, expected %d"
                                % (shlex.join(cmd), s.get("exit_code"), want))
            else:
                errs.append("%s: no summary" % shlex.join(cmd))
    fail_if(errs)


@suite.test("launch: -o - writes the CSV to stdout, -s names the summary")
def t_stdout():
    d = tmpdir()
    sp = os.path.join(d, "x.json")
    rc, out, err = run([BIN, "-q", "-o", "-", "-s", sp, "--", "true"], cwd=d)
    errs = []
    if rc != 0:
        errs.append("exit %d; stderr: %s" % (rc, tail(err)))
    lines = out.split("\n")
    if not lines or lines[0] != TRACE_HEADER:
        errs.append("stdout does not start with the CSV header: %r" % out[:200])
    if not out.endswith("\n") or any(len(l.split(",")) != NFIELDS for l in lines[1:-1]):
        errs.append("stdout is not whole CSV rows: %r" % out[-200:])
    if not any(l.split(",")[6:7] == ["exec"] for l in lines[1:]):
        errs.append("no exec row on stdout")
    if not os.path.exists(sp):
        errs.append("summary %s not written" % sp)
    else:
        load_summary(sp)
    extra = sorted(set(os.listdir(d)) - {"x.json"})
    if extra:
        errs.append("unexpected files: %s" % extra)
    fail_if(errs)


@suite.test("launch: ends when the command exits, even if a child lives on")
def t_orphan():
    d = tmpdir()
    csv_path = os.path.join(d, "o.csv")
    t = time.monotonic()
    # output to files: the background child keeps its copies open
    with open(os.path.join(d, "stdout"), "wb") as fo, open(os.path.join(d, "stderr"), "wb") as fe:
        p = spawn([BIN, "-q", "-o", csv_path, "--", "sh", "-c", "sleep 20 & exit 3"], cwd=d,
                  stdout=fo, stderr=fe)
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise Fail("did not end within 60s of the command's exit")
    took = time.monotonic() - t
    with open(os.path.join(d, "stderr"), "rb") as f:
        err = dec(f.read())
    errs = []
    if rc != 3:
        errs.append("exit %d, expected the command's 3; stderr: %s" % (rc, tail(err)))
    if took > 10:
        errs.append("took %.1fs: waited for the background child" % took)
    tr = Trace(csv_path)
    errs.extend(tr.problems[:3])
    s = load_summary(os.path.join(d, "o.summary.json"))
    sleeper = [x for x in s.get("processes") or [] if x.get("comm") == "sleep"]
    if len(sleeper) != 1:
        errs.append("summary processes %r: expected one 'sleep'" % s.get("processes"))
    else:
        sp = sleeper[0]
        if sp.get("exited") is not False or sp.get("exit_code") is not None:
            errs.append("the still running child's entry %r: expected exited false, exit_code"
                        " null" % sp)
        if not pid_alive(sp["pid"]):
            errs.append("the background child %d was killed" % sp["pid"])
        else:
            os.kill(sp["pid"], signal.SIGKILL)      # ours (started by this test)
    fail_if(errs)


@suite.test("launch: existing output files are replaced, not appended to")
def t_replace():
    d = tmpdir()
    csv_path = os.path.join(d, "t.csv")
    sum_path = os.path.join(d, "t.summary.json")
    for path in (csv_path, sum_path):
        with open(path, "w") as f:
            f.write("JUNK," * 200000 + "\n")
    rc, out, err = run([BIN, "-q", "-o", csv_path, "--", "true"], cwd=d)
    errs = []
    if rc != 0:
        errs.append("exit %d; stderr: %s" % (rc, tail(err)))
    tr = Trace(csv_path)
    errs.extend(tr.problems[:3])
    if "JUNK" in tr.text:
        errs.append("old CSV content left in %s" % csv_path)
    try:
        load_summary(sum_path)
    except Fail as e:
        errs.append(str(e))
    fail_if(errs)


@suite.test("unwritable trace exits 1")
def t_unwritable_trace_exits_1():
    # a full disk (a 2 MiB tmpfs, filled first; /dev/full, a device, is
    # refused as an output now)
    with small_fs(2) as fs:
        fill_disk(fs)
        r = run([BIN, "-q", "-o", os.path.join(fs, "t.csv"), "-s",
                 os.path.join(tmpdir(), "f.json"), "--", "sleep", "0.5"], timeout=30)
    if r.returncode != 1 or "No space left" not in r.stderr:
        raise Fail(f"exit {r.returncode}, stderr {r.stderr.strip()[-150:]!r}")


@suite.test("disk full at the start: refused before the command runs, nothing written")
def t_disk_full_at_start():
    """No room for the summary (a full 1 MiB tmpfs): the run would have
    nowhere to put its exact peak, so it does not start: exit 1, a message
    naming the file and a next step, the command not run, no file left on
    either disk."""
    with small_fs(1) as fs:
        fill_disk(fs)
        d = tmpdir()
        marker = os.path.join(d, "ran")
        errs = []
        for args in (["-o", os.path.join(fs, "t.csv")],
                     ["-o", os.path.join(d, "t.csv"), "-s", os.path.join(fs, "s.json")]):
            r = run([BIN, "-q", *args, "--", "touch", marker], timeout=30)
            if r.returncode != 1 or not re.search(r"no room for the summary .* No space left "
                                                  r"on device; free some space", r.stderr):
                errs.append(f"{args}: exit {r.returncode}, {tail(r.stderr)}")
            if os.path.exists(marker):
                errs.append(f"{args}: the command ran")
        left = [x for x in os.listdir(fs) if not x.startswith("filler")] + os.listdir(d)
        if left:
            errs.append(f"files left: {left}")
        fail_if(errs)


@suite.test("disk full: the trace keeps whole rows, the summary the exact peak, exit 1")
def t_disk_full():
    """faultstorm touches 256 MiB into a 2 MiB tmpfs: the trace is cut at a
    whole row, the run goes on being traced, the summary (its room taken at
    the start) holds the exact peak, and memtrace-bpf says what was lost and
    exits 1."""
    with small_fs(2) as fs:
        csv_path = os.path.join(fs, "t.csv")
        r = run([BIN, "-q", "-o", csv_path, "--", tool_path("faultstorm"), "-m", "256"],
                timeout=120)
        errs = []
        truth = dict(kv.split("=") for kv in r.stdout.split())
        if r.returncode != 1:
            errs.append(f"exit {r.returncode}, not 1")
        if not re.search(r"writing .*t\.csv failed: No space left on device\. It keeps its "
                         r"first \d+ rows, whole \(up to [0-9.]+ s\)", r.stderr):
            errs.append("stderr does not say what the trace keeps: " + tail(r.stderr))
        raw = open(csv_path, "rb").read()
        if not raw.endswith(b"\n"):
            errs.append("the trace ends in the middle of a row")
        rows = raw.decode().splitlines()
        bad = [x for x in rows if len(x.split(",")) != NFIELDS]
        if bad:
            errs.append(f"{len(bad)} rows without {NFIELDS} fields, e.g. {bad[0][:80]!r}")
        s = load_summary(summary_path(csv_path))
        touched_kb = int(truth["faults"]) * 4
        if s["peak_rss_kb"] < touched_kb:
            errs.append(f"summary peak {s['peak_rss_kb']} kB < the {touched_kb} kB faultstorm "
                        "touched")
        if s.get("trace_complete") is not False or s.get("trace_rows") != len(rows) - 1:
            errs.append(f"summary trace_complete={s.get('trace_complete')} trace_rows="
                        f"{s.get('trace_rows')}, the file has {len(rows) - 1} rows")
        if s.get("exit_code") != 0 or s["events"] <= len(rows) - 1:
            errs.append(f"summary exit_code {s.get('exit_code')}, events {s['events']}: the "
                        "run was not traced to its end")
        fail_if(errs)


class ext2_fs:
    """A 4 MiB ext2 filesystem on a loop device, mounted for the test: ext2
    cannot fallocate, so no room can be reserved on it."""
    def __enter__(self):
        d = tmpdir()
        self.img, self.dir = os.path.join(d, "fs.img"), os.path.join(d, "mnt")
        os.mkdir(self.dir)
        with open(self.img, "wb") as f:
            f.truncate(4 << 20)
        for argv in (["mkfs.ext2", "-q", "-F", self.img], ["mount", "-o", "loop", self.img,
                                                           self.dir]):
            r = run(argv, timeout=60)
            if r.returncode:
                raise Skip(f"cannot make an ext2 filesystem ({argv[0]}): " + tail(r.stderr))
        return self.dir

    def __exit__(self, *exc):
        run(["umount", "-l", self.dir], timeout=30)


@suite.test("disk full, no room reserved: a short summary with the exact peak, exit 1")
def t_short_summary():
    """The summary on a filesystem that cannot reserve space (ext2), 16 KiB
    left, a run of 2,000 processes: the whole summary (~300 KiB) does not
    fit, the short one does: its peak is the tree's peak (the rows say it,
    from another disk); then with no byte left, the peak is on stderr."""
    with ext2_fs() as fs:
        fill_disk(fs, leave=16 << 10)
        d = tmpdir()
        csv_path, s_path = os.path.join(d, "t.csv"), os.path.join(fs, "s.json")
        r = run([BIN, "-q", "-o", csv_path, "-s", s_path, "--", workload("manykids"), "2000"],
                timeout=300)
        errs = []
        if r.returncode != 1 or "the disk is full: " not in r.stderr:
            errs.append(f"exit {r.returncode}, {tail(r.stderr)}")
        peak = max(int(x["total_rss_kb"]) for x in csv.DictReader(open(csv_path)))
        s = load_summary(s_path)
        if "short" not in s or "processes" in s or s["peak_rss_kb"] != peak:
            errs.append(f"summary: short {s.get('short')!r}, processes {'processes' in s}, "
                        f"peak {s['peak_rss_kb']} kB, the rows' {peak} kB")
        fill_disk(fs)
        r = run([BIN, "-q", "-o", csv_path, "-s", os.path.join(fs, "s2.json"), "--",
                 workload("manykids"), "20"], timeout=120)
        peak = max(int(x["total_rss_kb"]) for x in csv.DictReader(open(csv_path)))
        if r.returncode != 1 or f"the exact peak was {peak} kB" not in r.stderr:
            errs.append(f"no room at all: exit {r.returncode}, {tail(r.stderr)} (peak {peak} kB)")
        fail_if(errs)


@suite.test("--max-procs: processes over it are counted and said, the others traced")
def t_max_procs():
    """sh starts 10 sleeps at once under --max-procs 4: sh and 3 sleeps are
    traced, 7 counted as untraced, said on stderr; the run ends normally."""
    d = tmpdir()
    csv_path, r = record(d, ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1 & done; "
                             "wait"], "--max-procs", "4")
    s = load_summary(summary_path(csv_path))
    comms = sorted(p["comm"] for p in s["processes"])
    errs = []
    if s["untraced_processes"] != 7 or comms != ["sh", "sleep", "sleep", "sleep"]:
        errs.append(f"untraced {s['untraced_processes']}, traced {comms}")
    if "7 child processes could not be traced" not in r.stderr:
        errs.append("not said: " + tail(r.stderr))
    fail_if(errs)


def _plant(d, name, how):
    """As nobody (another local user), plant name in d (a sticky,
    world-writable directory): a symlink to a root-only file, a FIFO."""
    victim = os.path.join(tmpdir(), "root-only")
    write_file(victim, "precious\n")
    os.chmod(victim, 0o600)
    path = os.path.join(d, name)
    cmd = {"link": ["ln", "-s", victim, path], "fifo": ["mkfifo", path]}[how]
    setpriv = shutil.which("setpriv")
    if not setpriv:
        raise Skip("no setpriv to act as another user")
    r = run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *cmd], timeout=30)
    if r.returncode:
        raise Fail("could not plant %s as nobody: %s" % (path, tail(r.stderr)))
    return path, victim


@suite.test("memory: 20,000 short-lived children cost the tracer what 2,000 do", timeout=600)
def t_memory_flat_over_processes():
    """A run's memory follows the processes alive, not those ever seen: an
    exited process's entry and analysis leave memory (they were ~21 kB each:
    20,000 children took 466 MB). Bound: the 20,000-child run's peak RSS
    within 8 MiB of the 2,000-child run's; its summary still lists every
    process."""
    d = tmpdir()
    got = {}
    for n in (2000, 20000):
        t = os.path.join(d, f"k{n}.csv")
        got[n] = peak_rss([BIN, "-q", "-o", t, "--", workload("manykids"), str(n)], timeout=300)
        if got[n][1] != 0:
            raise Fail(f"{n} children: exit {got[n][1]}: {tail(got[n][2])}")
    s = load_summary(summary_path(os.path.join(d, "k20000.csv")))
    errs = []
    if got[20000][0] > got[2000][0] + 8 * 1024:
        errs.append(f"peak RSS {got[2000][0]} kB with 2,000 children, {got[20000][0]} kB "
                    "with 20,000")
    if len(s["processes"]) != 20001 or len(s["analysis"]["process_analysis"]) != 20001:
        errs.append(f"the summary lists {len(s['processes'])} processes, "
                    f"{len(s['analysis']['process_analysis'])} analyses, not 20001")
    codes = {x["exit_code"] for x in s["processes"]}
    if codes != {0}:
        errs.append(f"exit codes {sorted(codes, key=str)[:5]}")
    print(f"# peak RSS of memtrace-bpf: {got[2000][0]} kB (2,000 children), "
          f"{got[20000][0]} kB (20,000)")
    fail_if(errs)


@suite.test("outputs: a link or FIFO another user planted in /tmp-like dirs is refused, untouched")
def t_planted_outputs():
    """In a sticky world-writable directory, another user plants
    trace.csv and out.log -> a root-only file, and a FIFO as the summary: memtrace-bpf
    (root) refuses both before the command starts, writes nothing through
    them, and the command does not run."""
    d = tmpdir(0o1777)
    errs = []
    for name, how, opt in (("trace.csv", "link", "-o"), ("s.json", "fifo", "-s"),
                           ("out.log", "link", "--log")):
        path, victim = _plant(d, name, how)
        marker = os.path.join(tmpdir(), "ran")
        other = ["-o", os.path.join(d, "t2.csv")] if opt != "-o" else []
        if opt == "--log":
            other += ["--checkpoint-regex", "peak: ([0-9]+)"]
        r = run([BIN, "-q", opt, path, *other, "--", "touch", marker], timeout=30)
        if r.returncode != 1 or not re.search(r"symbolic link|not a regular file", r.stderr):
            errs.append(f"{opt} {how}: exit {r.returncode}, stderr {tail(r.stderr)}")
        if os.path.exists(marker):
            errs.append(f"{opt} {how}: the command ran")
        if open(victim).read() != "precious\n":
            errs.append(f"{opt} {how}: the root-only file was written through the link")
        if how == "link" and not os.path.islink(path):
            errs.append(f"{opt} {how}: the link was replaced")
    fail_if(errs)


@suite.test("outputs: -s and -o on a character device (a null device) are refused, it stays")
def t_device_outputs():
    """`-s /dev/null` used to replace /dev/null with a regular file for the
    whole machine. Tried on a null device of the test's own (mknod c 1 3),
    so that a tool that still does it breaks nothing else."""
    d = tmpdir()
    dev = os.path.join(d, "null")
    os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    errs = []
    for opt in ("-s", "-o"):
        r = run([BIN, "-q", opt, dev, *(["-o", os.path.join(d, "t.csv")] if opt == "-s" else []),
                 "--", "true"], timeout=30)
        if r.returncode != 1 or "not a regular file" not in r.stderr:
            errs.append(f"{opt} {dev}: exit {r.returncode}, {tail(r.stderr)}")
        if not stat.S_ISCHR(os.lstat(dev).st_mode):
            errs.append(f"{opt}: the device was replaced")
            os.unlink(dev)
            os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    fail_if(errs)


@suite.test("outputs: -o - with stdout closed is refused, nothing lands on fd 1")
def t_stdout_closed():
    d = tmpdir()
    # a shell closes fd 1 and execs memtrace-bpf
    r = run(["sh", "-c", 'exec "$@" >&-', "sh", BIN, "-q", "-o", "-", "-s",
             os.path.join(d, "s.json"), "--", "true"], timeout=30)
    if r.returncode != 1 or "stdout is closed" not in r.stderr:
        raise Fail(f"exit {r.returncode}, {tail(r.stderr)}")


@suite.test("outputs: an earlier trace stays when the command cannot run; outputs are new files")
def t_outputs_replaced_whole():
    d = tmpdir()
    t = os.path.join(d, "t.csv")
    write_file(t, "earlier\n")
    hard = os.path.join(d, "hardlink")
    os.link(t, hard)
    r = run([BIN, "-q", "-o", t, "--", os.path.join(d, "no-such-command")], timeout=30)
    errs = []
    if r.returncode != 127 or open(t).read() != "earlier\n":
        errs.append(f"a command that cannot run: exit {r.returncode}, trace now "
                    f"{open(t).read()[:40]!r}")
    r = run([BIN, "-q", "-o", t, "--", "true"], timeout=60)
    if r.returncode or not open(t).read().startswith("time_s,"):
        errs.append(f"a run: exit {r.returncode}, trace {open(t).read()[:40]!r}")
    if open(hard).read() != "earlier\n":
        errs.append("the trace was written through a hard link to the earlier file")
    left = [x for x in os.listdir(d) if x.startswith(".")]
    if left:
        errs.append(f"temporaries left: {left}")
    fail_if(errs)


@suite.test("launch: status lines with -i (also with -q), none without (stderr not a tty)")
def t_interval():
    d = tmpdir()
    errs = []
    rc, out, err = run([BIN, "-q", "-o", os.path.join(d, "a.csv"), "--", workload("long"), "0.5"],
                       cwd=d)
    if rc != 0:
        errs.append("without -i: exit %d" % rc)
    if err.strip():
        errs.append("-q without -i, stderr not a tty: expected a silent stderr, got %r" % tail(err))
    # -q only drops the human summary at the end (contract), not the
    # status lines asked for with -i
    for q in ([], ["-q"]):
        rc, out, err = run([BIN] + q + ["-i", "100ms", "-o", os.path.join(d, "b.csv"), "--",
                                        workload("long"), "1"], cwd=d)
        if rc != 0:
            errs.append("%s -i 100ms: exit %d" % (" ".join(q), rc))
        lines = [l for l in re.split(r"[\r\n]", err) if l.strip()]
        if len(lines) < 4:
            errs.append("%s -i 100ms over ~1s: %d lines on stderr: %r"
                        % (" ".join(q), len(lines), tail(err)))
        # the last one, after the command exited, has no RSS left to show
        status = [l for l in lines if " peak " in l and " events " in l]
        if status and ("RSS (exited)" not in status[-1] or "RSS 0 B" in status[-1]):
            errs.append("%s: the last status line reads %r" % (" ".join(q), status[-1]))
    fail_if(errs)


@suite.test("launch: under sudo the command runs as SUDO_UID, --as-root as root")
def t_sudo_uid():
    d = tmpdir(0o777)
    env = clean_env({"SUDO_UID": "65534", "SUDO_GID": "65534", "SUDO_USER": "nobody"})
    errs = []
    for opts, want in (([], "65534 65534"), (["--as-root"], "0 0")):
        rc, out, err = run([BIN, "-q", "-o", os.path.join(d, "u.csv")] + opts +
                           ["--", "sh", "-c", "echo $(id -u) $(id -g)"], cwd=d, env=env)
        if rc != 0 or out.strip() != want:
            errs.append("%s: exit %d, command saw uid/gid %r, expected %r; stderr: %s"
                        % (" ".join(opts) or "(default)", rc, out.strip(), want, tail(err)))
    fail_if(errs)


@suite.test("options: valid sizes, durations, --btf FILE, -v are accepted")
def t_valid_units():
    d = tmpdir()
    errs = []
    # (the tool takes ring sizes from 64K and intervals from 10ms)
    for opts in (["--ring-size", "65536"], ["--ring-size", "64K"], ["--ring-size", "1MiB"],
                 ["--ring-size", "2MB"], ["--ring-size", "16M"], ["--ring-size", "1G"],
                 ["-i", "250000us"], ["-i", "10ms"], ["--interval", "1s"], ["-i", "2m"],
                 ["-i", "1h"], ["-i", "5"], ["-i", "0.5"],
                 ["--btf", "/sys/kernel/btf/vmlinux"], ["-v"], ["--verbose", "-q"]):
        rc, out, err = run([BIN, "-q", "-o", os.path.join(d, "v.csv")] + opts + ["--", "true"],
                           cwd=d, timeout=60)
        if rc != 0:
            errs.append("%s: exit %d; stderr: %s" % (" ".join(opts), rc, tail(err, 200)))
    fail_if(errs)


# ---- bad inputs: exit status, message, no files --------------------------

HINTS = set()


def _bad(argv_tail, want_rc, pattern, what, run_as=None, check_dirs=(), out_dir=None):
    need_bin()
    d = out_dir or tmpdir()
    argv = [BIN] + argv_tail
    if run_as == "nobody":
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            runuser = shutil.which("runuser")
            if setpriv:
                argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] + argv
            elif runuser:
                argv = [runuser, "-u", "nobody", "--"] + argv
            else:
                raise Skip("neither setpriv nor runuser to drop root")
    elif run_as is not None:
        argv = run_as(argv)
    before = {x: set(os.listdir(x)) for x in (d,) + tuple(check_dirs)}
    rc, out, err = run(argv, cwd=d, timeout=60)
    HINTS.update(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", err))
    errs = []
    if rc == 0:
        errs.append("exit 0")
    elif want_rc is not None and rc != want_rc:
        errs.append("exit %d, contract says %d" % (rc, want_rc))
    if not err.strip():
        errs.append("nothing on stderr")
    elif not re.search(pattern, err):
        errs.append("stderr does not mention %s: %r" % (what, tail(err)))
    for x, names in before.items():
        new = sorted(set(os.listdir(x)) - names)
        if new:
            errs.append("files created in %s: %s" % (x, new))
    if errs:
        raise Fail("%s: %s" % (shlex.join(argv_tail), "; ".join(errs)))


def bad_input_test(name, argv_tail, want_rc, pattern, what, root=True):
    """Registers a test: memtrace-bpf ARGV_TAIL ({d} is a fresh temp dir,
    where it runs) fails as _bad() says."""
    def fn():
        d = tmpdir()
        _bad([a.format(d=d) for a in argv_tail], want_rc, pattern, what, out_dir=d)
    suite.test(name, root=root)(fn)


@suite.test("bad input: -p of a nonexistent pid")
def t_bad_nopid():
    pid = free_pid()
    d = tmpdir()
    _bad(["-p", str(pid), "-o", os.path.join(d, "t.csv")], 1,
         r"(?s)(?=.*\b%d\b)(?=.*(?i:no such|no process|not found|does not exist|not running))"
         % pid, "the pid and that it does not exist", out_dir=d)


bad_input_test("bad input: -p 2 (kernel thread)", ["-p", "2", "-o", "{d}/t.csv"], 1,
               r"(?i)kernel thread", "'kernel thread'")


@suite.test("bad input: -o in a nonexistent directory")
def t_bad_outdir():
    d = tmpdir()
    missing = os.path.join(d, "no-such-dir")
    _bad(["-o", os.path.join(missing, "t.csv"), "--", "true"], 1,
         re.escape(missing) + r"|(?i:no such file or directory)", "the output path", out_dir=d)
    if os.path.exists(missing):
        raise Fail("%s was created" % missing)


bad_input_test("bad input: both -p and a command",
               ["-p", str(os.getpid()), "-o", "{d}/t.csv", "--", "true"], 2,
               r"(?i)both|either|not both|command.*-p|-p.*command|attach.*launch|launch.*attach",
               "that -p and a command exclude each other", root=False)
bad_input_test("bad input: --ring-size 12abc",
               ["--ring-size", "12abc", "-o", "{d}/t.csv", "--", "true"], 2,
               r"12abc|ring-size", "the bad size", root=False)
bad_input_test("bad input: --interval 5parsecs",
               ["--interval", "5parsecs", "-o", "{d}/t.csv", "--", "true"], 2,
               r"5parsecs|interval", "the bad duration", root=False)
bad_input_test("bad input: -p abc", ["-p", "abc", "-o", "{d}/t.csv"], 2, r"abc|PID|pid",
               "the bad PID", root=False)


@suite.test("bad input: -o names a directory")
def t_bad_outdir_is_dir():
    d = tmpdir()
    sub = os.path.join(d, "sub")
    os.mkdir(sub)
    _bad(["-o", sub, "--", "true"], 1, r"(?i)directory|" + re.escape(sub),
         "that the path is a directory", out_dir=d, check_dirs=(sub,))


bad_input_test("bad input: -s is the same file as -o",
               ["-o", "{d}/t.csv", "-s", "{d}/t.csv", "--", "true"], None,
               r"(?i)same|both|summary", "the clash")
bad_input_test("bad input: no command and no -p", [], 2, r"(?i)command|-p|usage|pid",
               "what is missing", root=False)


@suite.test("bad input: unprivileged user", root=False)
def t_bad_unpriv():
    need_bin()
    if os.geteuid() == 0 and not (shutil.which("setpriv") or shutil.which("runuser")):
        raise Skip("cannot drop root (no setpriv/runuser)")
    d = tmpdir(0o777)       # writable by nobody: the failure must be privileges
    _bad(["-o", os.path.join(d, "t.csv"), "--", "true"], 1, r"(?i)\broot\b|CAP_BPF",
         "root or CAP_BPF", run_as="nobody", out_dir=d)


def _capsh(drop):
    capsh = shutil.which("capsh")
    if not capsh:
        raise Skip("capsh not installed (libcap2-bin)")
    if os.geteuid() != 0:
        raise Skip("not root")
    return lambda argv: [capsh, "--drop=" + drop, "--", "-c", "exec " + shlex.join(argv)]


@suite.test("privileges: CAP_PERFMON dropped, CAP_SYS_ADMIN kept (capsh --drop=cap_perfmon)")
def t_perfmon_only():
    # The kernel's perfmon_capable() is CAP_PERFMON || CAP_SYS_ADMIN, so with
    # CAP_SYS_ADMIN kept the tool can legitimately trace. Accepted: a working
    # trace, or a clean refusal (exit 1) naming CAP_PERFMON with no files.
    wrap = _capsh("cap_perfmon")
    d = tmpdir()
    csv_path = os.path.join(d, "t.csv")
    rc, out, err = run(wrap([BIN, "-q", "-o", csv_path, "--", "true"]), cwd=d, timeout=60)
    HINTS.update(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", err))
    if rc == 0:
        errs = []
        tr, s = check_files_complete(csv_path, os.path.join(d, "t.summary.json"), errs)
        if tr is not None and not any(r.event == "exec" for r in tr.rows):
            errs.append("exit 0 but no exec row in the trace")
        fail_if(errs)
        return
    errs = []
    if rc != 1:
        errs.append("exit %d, contract says 1" % rc)
    if "CAP_PERFMON" not in err:
        errs.append("stderr does not name CAP_PERFMON: %r" % tail(err))
    if os.listdir(d):
        errs.append("files created: %s" % sorted(os.listdir(d)))
    fail_if(errs)


@suite.test("bad input: CAP_PERFMON and CAP_SYS_ADMIN dropped")
def t_bad_perfmon_sysadmin():
    wrap = _capsh("cap_perfmon,cap_sys_admin")
    d = tmpdir()
    _bad(["-o", os.path.join(d, "t.csv"), "--", "true"], 1, r"CAP_PERFMON",
         "CAP_PERFMON", run_as=wrap, out_dir=d)


bad_input_test("bad input: --btf /nonexistent",
               ["--btf", "/nonexistent", "-o", "{d}/t.csv", "--", "true"], 1, r"BTF", "BTF")


@suite.test("--help: USAGE, EXAMPLES, every option named in hints and the contract", root=False)
def t_help():
    need_bin()
    rc, out, err = run([BIN, "--help"], timeout=30)
    errs = []
    if rc != 0:
        errs.append("exit %d" % rc)
    text = out + err
    for w in ("USAGE", "EXAMPLES"):
        if w not in text:
            errs.append("no %s section" % w)
    contract = {"--output", "--summary", "--follow", "--no-follow", "--interval",
                "--ring-size", "--as-root", "--btf", "--quiet", "--verbose", "--pid"}
    opts = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", text))
    missing = sorted((HINTS | contract) - opts)
    if missing:
        errs.append("options named in error messages or the contract but not in --help: %s"
                    % missing)
    if HINTS:
        print("# long options named by the error messages: %s" % " ".join(sorted(HINTS)))
    else:
        print("# note: the bad-input runs named no long options")
    for opt in ("--version", "-V"):
        rc, out, err = run([BIN, opt], timeout=30)
        if rc != 0 or not re.search(r"\b\d+\.\d+\.\d+\b", out + err):
            errs.append("%s: exit %d, output %r" % (opt, rc, tail(out + err)))
    fail_if(errs)


# --------------------------------------------------------------------------

if __name__ == "__main__":
    sys.exit(suite.main())
