#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Capture mode on real kernel events: `record --comm NAME -d DIR` and
`record --cgroup PATH -d DIR` trace every matching process that starts
after them, one trace each, and nothing else.

Ground truth: the matrix workload reads its own /proc/self/status (exact on
this kernel) at its peak and prints it; each captured trace's peak must
equal that to the page. Output and environment: see tests/harness.py; the
closing line is `capture: N passed, N failed, N skipped`.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from harness import (BIN, WL_DIR, Fail, Skip, Suite, fail_if, help_lacks, peak_cp, refusal, run,
                     spawn, suite_tmpdir, tmpdir)

# captured under a name of its own: other tests (or people) may run
# `matrix` at the same time, and capture would rightly take those too
NAME = f"mtcap{os.getpid() % 100000}"
MATRIX_BIN = os.path.join(WL_DIR, "matrix")
MATRIX = os.path.join(suite_tmpdir(), NAME)
suite = Suite("capture", builds=("matrix",), setup=lambda: shutil.copy(MATRIX_BIN, MATRIX))


def cp_vmrss(stdout):
    """The workload's own VmRSS (kB) at its peak checkpoint, and its pid."""
    c = peak_cp(stdout)
    return c.pid, c.vmrss


class Capture:
    """A running `record` capture; waits until it is ready."""

    def __init__(self, *args):
        self.err = tempfile.TemporaryFile(mode="w+")
        self.p = spawn([BIN, "record", *args], stdout=subprocess.DEVNULL, stderr=self.err,
                       text=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise Fail(f"record exited {self.p.returncode}: {self.stderr()[:300]}")
            if "waiting for processes" in self.stderr():
                return
            time.sleep(0.05)
        self.p.kill()
        raise Fail("record did not get ready in 60 s")

    def stderr(self):
        self.err.seek(0)
        return self.err.read()

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        rc = self.p.wait(timeout=60)
        return rc, self.stderr()


def summaries(d):
    out = {}
    for path in glob.glob(os.path.join(d, "*", "summary.json")):
        with open(path) as f:
            out[os.path.basename(os.path.dirname(path))] = json.load(f)
    return out


@suite.test("--comm captures each matching process, exact, and nothing else")
def t_comm_capture():
    tmp = tmpdir()
    out = os.path.join(tmp, "cap")
    other = MATRIX_BIN	# the same program under another name
    cap = Capture("--comm", NAME, "-d", out)
    runs = []
    for args in (["4", "1"], ["2", "3", "--exit", "3"], ["8", "1", "--hold", "100"]):
        r = run([MATRIX, *args], timeout=60)
        runs.append((r.returncode, *cp_vmrss(r.stdout)))
    # same program under another name: not captured
    r = run([other, "4", "1"], timeout=60)
    _, other_pid = cp_vmrss(r.stdout)
    # a matching process started later by a shell script (the use case)
    r = run(["sh", "-c", f"{MATRIX} 2 1; true"],
                       timeout=60)
    runs.append((0, *cp_vmrss(r.stdout)))
    time.sleep(0.3)
    rc, err = cap.stop()
    if rc != 0:
        raise Fail(f"record exited {rc} after SIGINT: {err[-300:]}")
    s = summaries(out)
    errs = []
    want = {f"{NAME}-{pid}": (code, vmrss) for code, pid, vmrss in runs}
    if set(s) != set(want):
        errs.append(f"trace dirs {sorted(s)}, want {sorted(want)}")
    if any(k.endswith(f"-{other_pid}") for k in s):
        errs.append("a process of another name was captured")
    for name, (code, vmrss) in want.items():
        if name not in s:
            continue
        sm = s[name]
        if sm["peak_rss_kb"] != vmrss:
            errs.append(f"{name}: peak {sm['peak_rss_kb']} kB, the workload read {vmrss} kB")
        if sm["exit_code"] != code or sm["interrupted"]:
            errs.append(f"{name}: exit_code {sm['exit_code']} (want {code}), "
                        f"interrupted {sm['interrupted']}")
        if sm["mode"] != "capture" or len(sm["processes"]) != 1:
            errs.append(f"{name}: mode {sm['mode']}, {len(sm['processes'])} processes")
        with open(os.path.join(out, name, "trace.csv")) as f:
            rows = f.read().splitlines()
        if not rows[0].startswith("time_s,vmrss_kb,vmsize_kb") or \
                ",exec," not in rows[1] or ",exit," not in rows[-1]:
            errs.append(f"{name}: trace does not run from exec to exit: "
                        f"{rows[1][:60]!r} .. {rows[-1][:60]!r}")
        if max(int(r.split(",")[11]) for r in rows[1:]) != vmrss:
            errs.append(f"{name}: the trace's total_rss_kb maximum is not the peak")
    fail_if(errs, 4)


@suite.test("Ctrl-C during a captured process leaves complete files")
def t_interrupted_capture():
    """Ctrl-C while a captured process runs: complete files, interrupted."""
    tmp = tmpdir()
    out = os.path.join(tmp, "cap")
    cap = Capture("--comm", NAME, "-d", out)
    w = spawn([MATRIX, "4", "1", "--hold", "3000"], stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    rc, err = cap.stop()
    w.wait(timeout=30)
    s = summaries(out)
    if rc != 0 or len(s) != 1:
        raise Fail(f"record exited {rc}, {len(s)} summaries: {err[-300:]}")
    sm = next(iter(s.values()))
    if not sm["interrupted"] or sm["processes"][0]["exited"]:
        raise Fail(f"summary: interrupted {sm['interrupted']}, "
                   f"exited {sm['processes'][0]['exited']}")
    if sm["peak_rss_kb"] < 4 * 1024:
        raise Fail(f"peak {sm['peak_rss_kb']} kB, below the 4 MiB held")
    d = next(iter(glob.glob(os.path.join(out, "*"))))
    with open(os.path.join(d, "trace.csv"), "rb") as f:
        data = f.read()
    if not data.endswith(b"\n"):
        raise Fail("the trace ends with a partial line")


@suite.test("no process missed when records are dropped")
def t_capture_under_ring_pressure():
    """With a ring buffer far too small, records are dropped, but no
    matching process is missed: the loader also learns of captures from
    the kernel's group table, not only from their exec records."""
    tmp = tmpdir()
    out = os.path.join(tmp, "cap")
    cap = Capture("--comm", NAME, "-d", out, "--ring-size", "64K")
    big = [spawn([MATRIX, "200", "1"], stdout=subprocess.PIPE, text=True)
           for _ in range(2)]
    small = [spawn([MATRIX, "1", "1"], stdout=subprocess.PIPE, text=True)
             for _ in range(40)]
    outs = [p.communicate(timeout=120)[0] for p in big + small]
    time.sleep(0.5)
    rc, err = cap.stop()
    s = summaries(out)
    want = {f"{NAME}-{cp_vmrss(o)[0]}": cp_vmrss(o)[1] for o in outs}
    errs = []
    if rc != 0:
        errs.append(f"record exited {rc}")
    if set(s) != set(want):
        errs.append(f"{len(s)} traces for {len(want)} processes; missing "
                    f"{sorted(set(want) - set(s))[:3]}")
    for name, vmrss in want.items():
        sm = s.get(name)
        if sm and (sm["peak_rss_kb"] != vmrss or not sm["processes"] or
                   not sm["processes"][0]["exited"]):
            errs.append(f"{name}: peak {sm['peak_rss_kb']} kB (read {vmrss} kB), "
                        f"processes {sm['processes'][:1]}")
    if "records dropped" not in err:
        errs.append("nothing said about the dropped records")
    fail_if(errs, 4)


@suite.test("the output directory removed: exit 1, said")
def t_capture_dir_removed():
    """The -d directory removed while capturing: a clear error, exit 1."""
    tmp = tmpdir()
    out = os.path.join(tmp, "cap")
    cap = Capture("--comm", NAME, "-d", out)
    shutil.rmtree(out)
    run([MATRIX, "1", "1"], timeout=60)
    try:
        rc = cap.p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        rc, _ = cap.stop()
    err = cap.stderr()
    if rc != 1 or "cannot create a directory in" not in err:
        raise Fail(f"exit {rc} (want 1), stderr {err.strip()[-200:]!r}")


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if " - cgroup2 " in line:
                return line.split()[4]
    return None


@suite.test("--cgroup captures processes in the cgroup (and below) only")
def t_cgroup_capture():
    mnt = cgroup2_mount()
    if not mnt:
        raise Skip("no cgroup v2 hierarchy mounted")
    cg = os.path.join(mnt, f"memtrace-test-{os.getpid()}")
    sub = os.path.join(cg, "job")
    try:
        os.makedirs(sub)
    except OSError as e:
        raise Skip(f"cannot create a cgroup under {mnt}: {e}")
    try:
        tmp = tmpdir()
        out = os.path.join(tmp, "cap")
        # relative to the cgroup2 mount; a process in a cgroup below counts
        cap = Capture("--cgroup", os.path.basename(cg), "-d", out)
        r_in = run(
            ["sh", "-c", f'echo $$ > {sub}/cgroup.procs && exec {MATRIX} 4 1'],
            timeout=60)
        r_out = run([MATRIX, "2", "1"], timeout=60)	# same name, outside the cgroup
        time.sleep(0.3)
        rc, err = cap.stop()
        pid_in, vm_in = cp_vmrss(r_in.stdout)
        pid_out, _ = cp_vmrss(r_out.stdout)
        s = summaries(out)
        # anything else in that cgroup is ours alone: only our process
        want = f"{NAME}-{pid_in}"
        if rc != 0 or set(s) != {want}:
            raise Fail(f"record exited {rc}; traces {sorted(s)}, want {want} only "
                       f"({NAME}-{pid_out} ran outside the cgroup): {err[-200:]}")
        if s[want]["peak_rss_kb"] != vm_in:
            raise Fail(f"peak {s[want]['peak_rss_kb']} kB, the workload read {vm_in} kB")
    finally:
        for d in (sub, cg):
            try:
                os.rmdir(d)
            except OSError:
                pass


def vmrss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l.split()[1] for l in f if l.startswith("VmRSS:")))


def settled_kb(pid, secs=3.0):
    """Its VmRSS once the runs still being finished are done: the least
    of 3 s of samples (a burst of runs holds a compressor each)."""
    least = vmrss_kb(pid)
    for _ in range(int(secs / 0.25)):
        time.sleep(0.25)
        least = min(least, vmrss_kb(pid))
    return least


def wait_dirs(d, n, timeout=300):
    """Waits until d holds n run directories with their summary."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(glob.glob(os.path.join(d, "*", "summary.json"))) >= n:
            return
        time.sleep(0.2)
    raise Fail(f"{len(glob.glob(os.path.join(d, '*', 'summary.json')))} of {n} captured runs "
               f"finished in {timeout} s")


@suite.test("a long capture: 4,000 processes captured cost the tracer what 500 do; "
            "--trace-format zst writes whole trace.csv.zst files", timeout=600)
def t_capture_many():
    tmp = tmpdir()
    out = os.path.join(tmp, "cap")
    short = os.path.join(suite_tmpdir(), NAME + "t")     # /bin/true under a name of its own
    shutil.copy("/bin/true", short)
    cap = Capture("--comm", os.path.basename(short), "-d", out, "--trace-format", "zst")
    # in batches of 500 (~1,000 a second here), a pause between: capture
    # traces 1,023 processes at once at most, and a run's files take their
    # time to be finished
    loop = f"i=0; while [ $i -lt 500 ]; do {short}; i=$((i+1)); done"
    errs = []
    first = last = None
    for batch in range(1, 9):
        r = run(["sh", "-c", loop], timeout=300)
        if r.returncode != 0:
            raise Fail(f"the loop of {short}: exit {r.returncode}: {r.stderr[-200:]}")
        wait_dirs(out, 500 * batch)
        if batch == 1:
            first = settled_kb(cap.p.pid)
        else:
            time.sleep(1)
    last = settled_kb(cap.p.pid)
    rc, err = cap.stop()
    print(f"# the tracer's VmRSS: {first} kB after 500 captured processes, {last} kB after "
          f"4,000")
    if rc != 0:
        errs.append(f"record exited {rc} after SIGINT: {err[-300:]}")
    if last - first > 2048:
        errs.append(f"the tracer grew {last - first} kB from 500 to 4,000 captured processes")
    dirs = sorted(glob.glob(os.path.join(out, "*")))
    if len(dirs) != 4000:
        errs.append(f"{len(dirs)} run directories, want 4000")
    for d in dirs[::500]:
        t = os.path.join(d, "trace.csv.zst")
        z = run(["zstd", "-tq", t]) if os.path.exists(t) else None
        if z is None or z.returncode != 0:
            errs.append(f"{d}: no whole trace.csv.zst ({os.listdir(d)})")
            continue
        sp = run([BIN, "spikes", t])
        if sp.returncode != 0:
            errs.append(f"spikes {t}: exit {sp.returncode}: {sp.stderr[-200:]}")
    fail_if(errs)


@suite.test("usage errors")
def t_usage_errors():
    errs = []
    tmp = tmpdir()
    for args, rc, needle in (
            (["record", "--comm", "x"], 2, "give -d DIR"),
            (["record", "-d", tmp], 2, "-d DIR is for capture mode"),
            (["record", "--comm", "x", "-d", tmp, "-p", "1"], 2, "other modes"),
            (["record", "--comm", "x", "-d", tmp, "-o", "t.csv"], 2, "drop -o"),
            (["record", "--comm", "a/b", "-d", tmp], 2, "--comm a/b"),
            (["record", "--cgroup", "no-such-cgroup-here", "-d", tmp], 1, "no-such-cgroup-here"),
            (["record", "--comm", "x", "-d", "/proc/nope/dir"], 1, "cannot create /proc/nope/dir"),
            (["record", "--comm", "x", "-d", tmp, "--checkpoint-regex", "(x)"], 2,
             "capture mode does not start the command"),
            (["record", "--comm", "x", "-d", tmp, "--as-root"], 2, "--as-root"),
            (["record", "--comm", "x", "-d", tmp, "-i", "100ms"], 2, "--interval")):
        e = refusal(args, rc, needle, timeout=30)
        if e:
            errs.append(e)
    if os.listdir(tmp):
        errs.append(f"bad input left files: {os.listdir(tmp)}")
    errs += help_lacks(("--comm", "--cgroup", "record --comm"))
    fail_if(errs, 4)


if __name__ == "__main__":
    sys.exit(suite.main())
