#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`memtrace-bpf campaign` on real kernel events: a parameter matrix times
repeats, --jobs runs at once, resuming after SIGINT or a lost result.csv,
failed and killed runs, bad command lines, and `campaign report`.

The ground truth is the matrix workload (tests/workloads/matrix.c): it holds
A*B MiB at its peak and prints the exact /proc/self/status VmRSS there (its
CP line) and the environment it got (its ENV line) into the run's
output.log. Every peak, mean, std, min and max the campaign writes is
checked against those lines; the files a resume must keep are checked
byte for byte and by mtime.

Output and environment: see tests/harness.py; the closing line is
`campaign: N passed, N failed, N skipped`.
"""

import itertools
import json
import math
import os
import shutil
import signal
import sys
import time

from harness import (BIN, WL_DIR, Fail, Suite, fail_if, peak_cp, read_json, read_rows, run,
                     spawn, tmpdir)

MATRIX = os.path.join(WL_DIR, "matrix")
suite = Suite("campaign", builds=("matrix",))

# What a run's peak holds besides the A*B MiB block (code, libc, stack, page
# tables do not count; RssFile + the small anon rest) moves by a few file
# pages from run to run: over 36 runs (A=4,8 x B=1,2 x 3 repeats, with and
# without --hold) it was 1428..1552 kB, with --jobs 2 up to 1564 kB, i.e. a
# spread of ~140 kB. A difference of two means is checked to +-256 kB
# (about twice that spread); the block itself is 1024 kB per MiB.
SLACK_KB = 256

HEADER_V1 = ("index,config,repeat,exit_code,status,peak_rss_kb,peak_time_s,duration_s,spikes,"
             "lost_events,events,rusage_maxrss_kb,start_time,untraced_processes")
# columns appended since the first version (which wrote HEADER_V1 alone)
HEADER = HEADER_V1 + ",baseline_rss_kb,peak_vmsize_kb,peak_vmdata_kb"
# campaign.csv: result.csv's, then a --slurm run's (empty for the others)
CAMPAIGN_HEADER = HEADER + ",slurm_job_id,slurm_state,slurm_maxrss_kb,maxrss_gap_kb"
STD_KIND = "sample (n-1)"


def campaign(*args, timeout=120, cwd=None):
    return run([BIN, "campaign", *args], timeout=timeout, cwd=cwd)


def cp_of(run_dir):
    """The workload's own lines in output.log: (its CP ... peak line, ENV
    as a dict)."""
    env = None
    with open(os.path.join(run_dir, "output.log")) as f:
        out = f.read()
    for line in out.splitlines():
        w = line.split()
        if w[:1] == ["ENV"]:
            env = dict(x.split("=", 1) for x in w[1:])
    if env is None:
        raise Fail(f"{run_dir}/output.log has no ENV line")
    return peak_cp(out), env


def snap(top):
    """Every file under top: relative path -> (bytes, mtime in ns)."""
    out = {}
    for d, _, files in os.walk(top):
        for name in files:
            p = os.path.join(d, name)
            with open(p, "rb") as f:
                out[os.path.relpath(p, top)] = (f.read(), os.stat(p).st_mtime_ns)
    return out


def stats_of(v):
    """Mean, sample std (n-1; 0 for one value), min, max."""
    m = sum(v) / len(v)
    s = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return m, s, min(v), max(v)


def need_ok(r, what, want=0):
    if r.returncode != want:
        raise Fail(f"{what}: exit {r.returncode} (want {want}): {r.stderr.strip()[-300:]!r}")


def plan_order(params, repeat):
    """(config, repeat, values) in index order: repeat-major, then the
    product of the --param values in the order given (the last one
    fastest)."""
    names = [n for n, _ in params]
    out = []
    for rep in range(1, repeat + 1):
        for vals in itertools.product(*[v for _, v in params]):
            out.append(("+".join(f"{n}={v}" for n, v in zip(names, vals)), rep,
                        dict(zip(names, vals))))
    return out


def check_runs_against_cp(d, rows, errs):
    """Each row's peak is its run's CP VmRSS to the page; result.csv and
    summary.json agree. Returns {config: [cp vmrss of its ok runs]}."""
    per = {}
    for row in rows:
        rd = os.path.join(d, row["config"], row["repeat"])
        cp, _ = cp_of(rd)
        peak = int(row["peak_rss_kb"])
        if peak != cp.vmrss:
            errs.append(f"{row['config']} #{row['repeat']}: peak_rss_kb {peak}, the workload's "
                        f"VmRSS at its peak {cp.vmrss} kB")
        s = read_json(os.path.join(rd, "summary.json"))
        if s["peak_rss_kb"] != peak or s.get("interrupted"):
            errs.append(f"{row['config']} #{row['repeat']}: summary.json peak "
                        f"{s['peak_rss_kb']}, interrupted {s.get('interrupted')}")
        if cp.pid not in s.get("targets", []):
            errs.append(f"{row['config']} #{row['repeat']}: the workload's pid {cp['pid']} is "
                        f"not the run's target {s.get('targets')}")
        res = read_rows(os.path.join(rd, "result.csv"))
        # a result.csv of the previous version has fewer columns: the
        # campaign.csv row has the same, and the others empty
        if len(res) != 1 or any(row.get(k) != v for k, v in res[0].items()) or \
                any(v != "" for k, v in row.items() if k not in res[0]):
            errs.append(f"{rd}/result.csv {res} differs from its campaign.csv row {row}")
        if row["exit_code"] == "0":
            per.setdefault(row["config"], []).append(cp.vmrss)
    return per


def check_stats(d, per, errs, extra_failed=None):
    """stats.csv and stats.json against statistics of the CP values. Each
    float is written rounded (mean/std to 0.1 kB, CV to 0.001 %)."""
    extra_failed = extra_failed or {}
    st = {r["config"]: r for r in read_rows(os.path.join(d, "stats.csv"))}
    sj = {c["config"]: c for c in read_json(os.path.join(d, "stats.json"))["configs"]}
    for cfg in set(per) | set(extra_failed):
        v = per.get(cfg, [])
        r, j = st.get(cfg), sj.get(cfg)
        if r is None or j is None:
            errs.append(f"{cfg}: not in stats.csv / stats.json")
            continue
        if int(r["runs"]) != len(v) or int(r["failed"]) != extra_failed.get(cfg, 0) or \
                j["runs"] != len(v) or j["failed"] != extra_failed.get(cfg, 0):
            errs.append(f"{cfg}: runs {r['runs']} failed {r['failed']}, want {len(v)} and "
                        f"{extra_failed.get(cfg, 0)}")
        if not v:
            continue
        m, s, lo, hi = stats_of(v)
        cv = 100 * s / m
        for src, got in (("stats.csv", r), ("stats.json", j)):
            gm, gs = float(got["mean_peak_rss_kb"]), float(got["std_peak_rss_kb"])
            gcv = float(got["cv_percent"])
            glo, ghi = float(got["min_peak_rss_kb"]), float(got["max_peak_rss_kb"])
            if abs(gm - m) > 0.051 or abs(gs - s) > 0.051 or abs(gcv - cv) > 0.0011 or \
                    glo != lo or ghi != hi:
                errs.append(f"{cfg} {src}: mean {gm} std {gs} cv {gcv} min {glo} max {ghi}; "
                            f"from the CP lines {m:.2f} {s:.2f} {cv:.4f} {lo} {hi}")


# ---- 1 -------------------------------------------------------------------

@suite.test("matrix peaks exact and stats")
def t_matrix_peaks_exact_and_stats():
    tmp = tmpdir()
    params = [("A", ["4", "8"]), ("B", ["1", "2"])]
    d = os.path.join(tmp, "c")
    # a relative -d: MEMTRACE_RUN_DIR must still be the run's absolute path
    r = campaign("-q", "-d", "c", "--param", "A=4,8", "--param", "B=1,2", "--repeat", "2", "--",
                 MATRIX, "{A}", "{B}", cwd=tmp)
    need_ok(r, "the campaign")
    errs = []
    with open(os.path.join(d, "campaign.csv")) as f:
        if f.readline().rstrip("\n") != CAMPAIGN_HEADER:
            errs.append("campaign.csv does not start with the documented header")
    rows = read_rows(os.path.join(d, "campaign.csv"))
    want = plan_order(params, 2)
    got = [(row["index"], row["config"], row["repeat"], row["status"], row["exit_code"])
           for row in rows]
    exp = [(str(i), c, str(rep), "ok", "0") for i, (c, rep, _) in enumerate(want)]
    if got != exp:
        raise Fail(f"campaign.csv rows (index, config, repeat, status, exit) {got}, want {exp}")
    for (cfg, rep, vals), row in zip(want, rows):
        rd = os.path.join(d, cfg, str(rep))
        _, env = cp_of(rd)
        want_env = {"A": vals["A"], "B": vals["B"], "CONFIG": cfg, "REPEAT": str(rep)}
        if env != want_env:
            errs.append(f"{cfg} #{rep}: the workload saw {env}, want {want_env}")
        rj = read_json(os.path.join(rd, "run.json"))
        if rj.get("params") != {"A": vals["A"], "B": vals["B"]} or \
                rj.get("command") != [MATRIX, vals["A"], vals["B"]]:
            errs.append(f"{cfg} #{rep}: run.json params {rj.get('params')} command "
                        f"{rj.get('command')}")
        run_dir = [e for e in rj.get("environment", []) if e.startswith("MEMTRACE_RUN_DIR=")]
        if run_dir != ["MEMTRACE_RUN_DIR=" + os.path.realpath(rd)]:
            errs.append(f"{cfg} #{rep}: {run_dir}, want the absolute {os.path.realpath(rd)}")
    per = check_runs_against_cp(d, rows, errs)
    check_stats(d, per, errs)
    # the one thing the parameters change: A*B MiB more at the peak
    base = sum(per["A=4+B=1"]) / len(per["A=4+B=1"])
    for cfg, v in per.items():
        a, b = (int(x.split("=")[1]) for x in cfg.split("+"))
        diff, expect = sum(v) / len(v) - base, (a * b - 4) * 1024
        if abs(diff - expect) > SLACK_KB:
            errs.append(f"{cfg}: mean peak {diff:+.0f} kB from A=4+B=1, want {expect:+d} "
                        f"+-{SLACK_KB}")
    st = [x["config"] for x in read_rows(os.path.join(d, "stats.csv"))]
    if st != [c for c, rep, _ in want if rep == 1]:
        errs.append(f"stats.csv configs {st}, want them in plan order")
    fail_if(errs, 4)


# ---- 2 -------------------------------------------------------------------

@suite.test("jobs overlap exact and separate")
def t_jobs_overlap_exact_and_separate():
    tmp = tmpdir()
    plan = ["--param", "A=4,8", "--param", "B=1,2", "--repeat", "2", "--", MATRIX, "{A}", "{B}",
            "--hold", "300"]
    dp, ds = os.path.join(tmp, "par"), os.path.join(tmp, "seq")
    r = campaign("-q", "-d", dp, "--jobs", "2", *plan)
    need_ok(r, "the --jobs 2 campaign")
    r = campaign("-q", "-d", ds, *plan)
    need_ok(r, "the sequential campaign")
    errs = []
    rows = read_rows(os.path.join(dp, "campaign.csv"))
    if [row["index"] for row in rows] != [str(i) for i in range(8)]:
        raise Fail(f"--jobs 2: campaign.csv indexes {[row['index'] for row in rows]}")
    per = check_runs_against_cp(dp, rows, errs)
    check_stats(dp, per, errs)
    spans = []
    for row in rows:
        rd = os.path.join(dp, row["config"], row["repeat"])
        s = read_json(os.path.join(rd, "summary.json"))
        cp, _ = cp_of(rd)
        # the run's own checkpoint lies within its own trace's span
        if not s["start_ts_ns"] <= cp.t0 <= cp.t1 <= s["end_ts_ns"]:
            errs.append(f"{row['config']} #{row['repeat']}: CP at {cp['t0']} outside the run "
                        f"[{s['start_ts_ns']}, {s['end_ts_ns']}]")
        spans.append((s["start_ts_ns"], s["end_ts_ns"]))
    overlaps = sum(1 for x, y in itertools.combinations(spans, 2)
                   if x[0] < y[1] and y[0] < x[1])
    most = max(sum(1 for s0, s1 in spans if s0 <= t < s1) for t, _ in spans)
    if overlaps < 1:
        errs.append(f"no two runs overlapped in time under --jobs 2: {spans}")
    if most > 2:
        errs.append(f"{most} runs at once under --jobs 2")
    seq = {}
    for row in read_rows(os.path.join(ds, "campaign.csv")):
        seq.setdefault(row["config"], []).append(int(row["peak_rss_kb"]))
    for cfg, v in per.items():
        mp, ms = sum(v) / len(v), sum(seq.get(cfg, [0])) / len(seq.get(cfg, [1]))
        if abs(mp - ms) > SLACK_KB:
            errs.append(f"{cfg}: mean peak {mp:.0f} kB with --jobs 2, {ms:.0f} kB one at a time "
                        f"(+-{SLACK_KB})")
    if errs:
        raise Fail(f"({overlaps} overlapping pairs) " + "; ".join(errs[:4]))


# ---- 3 -------------------------------------------------------------------

def wait_for(path, proc, timeout=20):
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None:
            raise Fail(f"the campaign ended (exit {proc.returncode}) before {path} appeared")
        if time.monotonic() > end:
            raise Fail(f"{path} did not appear in {timeout} s")
        time.sleep(0.005)


def interrupted_campaign(args, *wait_paths):
    """Starts `campaign ARGS`, waits for each of wait_paths in turn, sends
    it SIGINT 0.1 s after the last; returns its exit status and stderr."""
    p = spawn([BIN, "campaign", *args], text=True)
    for path in wait_paths:
        wait_for(path, p)
    time.sleep(0.1)
    os.kill(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=30)
    return p.returncode, err


@suite.test("resume after sigint and lost result")
def t_resume_after_sigint_and_lost_result():
    tmp = tmpdir()
    d = os.path.join(tmp, "c")
    args = ["-q", "-d", d, "--param", "A=2,4", "--repeat", "2", "--", MATRIX, "{A}", "1",
            "--hold", "500"]
    runs = [("A=2", 1), ("A=4", 1), ("A=2", 2), ("A=4", 2)]
    rdir = {x: os.path.join(d, x[0], str(x[1])) for x in runs}
    # once the second run started: it is in its 500 ms hold then
    rc, err = interrupted_campaign(args, os.path.join(rdir[runs[0]], "result.csv"),
                                   os.path.join(rdir[runs[1]], "run.json"))
    if rc != 130:
        raise Fail(f"SIGINT: exit {rc}, want 130: {err.strip()[-200:]!r}")
    errs = []
    have = [x for x in runs if os.path.exists(os.path.join(rdir[x], "result.csv"))]
    if have != runs[:1]:
        raise Fail(f"after SIGINT the finished runs are {have}, want {runs[:1]}")
    s = read_json(os.path.join(rdir[runs[1]], "summary.json"))
    if s.get("interrupted") is not True:
        errs.append(f"the interrupted run's summary.json says interrupted {s.get('interrupted')}")
    rows = read_rows(os.path.join(d, "campaign.csv"))
    if [(x["config"], x["repeat"]) for x in rows] != [("A=2", "1")]:
        errs.append(f"campaign.csv after SIGINT: {rows}")
    kept = snap(rdir[runs[0]])
    time.sleep(0.02)    # a rewrite would show in the mtime

    r = campaign(*args)
    need_ok(r, "the resumed campaign")
    if snap(rdir[runs[0]]) != kept:
        errs.append("the resume rewrote the run finished before SIGINT")
    rows = read_rows(os.path.join(d, "campaign.csv"))
    if [(x["index"], x["config"], x["repeat"]) for x in rows] != \
            [(str(i), c, str(rep)) for i, (c, rep) in enumerate(runs)]:
        errs.append(f"campaign.csv after the resume: "
                    f"{[(x['index'], x['config'], x['repeat']) for x in rows]}")
    per = check_runs_against_cp(d, rows, errs)
    check_stats(d, per, errs)
    fail_if(errs, 4)

    # a run whose result.csv is lost (a crash before it was written) is the
    # only one redone
    lost = runs[3]
    before = {x: snap(rdir[x]) for x in runs}
    os.unlink(os.path.join(rdir[lost], "result.csv"))
    time.sleep(0.02)
    r = campaign(*args)
    need_ok(r, "the campaign resumed after a lost result.csv")
    for x in runs:
        now = snap(rdir[x])
        if x != lost and now != before[x]:
            errs.append(f"{x[0]} #{x[1]} was redone or touched, only {lost} should be")
        if x == lost:
            if "result.csv" not in now:
                errs.append(f"{lost}: no result.csv after the resume")
            elif now["run.json"] == before[x]["run.json"] or \
                    now["trace.csv.zst"] == before[x]["trace.csv.zst"]:
                errs.append(f"{lost}: run.json/trace.csv are the old ones: it was not redone")
    rows = read_rows(os.path.join(d, "campaign.csv"))
    if [(x["config"], x["repeat"]) for x in rows] != [(c, str(rep)) for c, rep in runs]:
        errs.append(f"campaign.csv after the second resume: {rows}")
    check_runs_against_cp(d, rows, errs)
    fail_if(errs, 4)


@suite.test("run that handles sigint is redone")
def t_run_that_handles_sigint_is_redone():
    """A command that catches the SIGINT the campaign forwards and exits 1
    (as many programs do) was stopped by the campaign: it is redone on
    resume, not recorded as a failed run."""
    tmp = tmpdir()
    d = os.path.join(tmp, "c")
    # the trap runs when the foreground sleep ends: exit 1 some 0.5 s after
    # the signal, long after the campaign stopped
    args = ["-q", "-d", d, "--param", "A=1,2", "--", "sh", "-c",
            "trap 'exit 1' INT; sleep 0.6; echo A={A}"]
    first = os.path.join(d, "A=1", "1")
    rc, err = interrupted_campaign(args, os.path.join(first, "run.json"))
    if rc != 130:
        raise Fail(f"SIGINT: exit {rc}, want 130: {err.strip()[-200:]!r}")
    if os.path.exists(os.path.join(first, "result.csv")):
        raise Fail(f"the run stopped by SIGINT (it exited 1) has a result.csv: "
                   f"{read_rows(os.path.join(first, 'result.csv'))}")
    if read_json(os.path.join(first, "summary.json")).get("interrupted") is not True:
        raise Fail("its summary.json does not say interrupted")
    r = campaign(*args)
    need_ok(r, "the resumed campaign")
    got = [(x["config"], x["status"]) for x in read_rows(os.path.join(d, "campaign.csv"))]
    if got != [("A=1", "ok"), ("A=2", "ok")]:
        raise Fail(f"campaign.csv after the resume: {got}")
    with open(os.path.join(first, "output.log")) as f:
        if f.read() != "A=1\n":
            raise Fail("the redone run's output.log is not its own full output")


# ---- 4 -------------------------------------------------------------------

@suite.test("failed and killed runs recorded")
def t_failed_and_killed_runs_recorded():
    tmp = tmpdir()
    runs_txt = os.path.join(tmp, "runs.txt")
    with open(runs_txt, "w") as f:
        f.write(f"{MATRIX} 2 1\n"
                f"'{MATRIX}' 2 1 --exit 3   # fails\n"
                f"\n"
                f"# line 4: a comment; line 5 dies of SIGKILL\n"
                f"{MATRIX} 4 1 --kill\n")
    d = os.path.join(tmp, "c")
    r = campaign("-q", "-d", d, "--file", runs_txt)
    need_ok(r, "a campaign with a failed and a killed run", want=3)
    rows = read_rows(os.path.join(d, "campaign.csv"))
    got = [(x["config"], x["status"], x["exit_code"]) for x in rows]
    want = [("line1", "ok", "0"), ("line2", "failed", "3"), ("line5", "killed", "137")]
    if got != want:
        raise Fail(f"campaign.csv (config, status, exit) {got}, want {want}")
    errs = []
    per = check_runs_against_cp(d, rows, errs)
    check_stats(d, per, errs, extra_failed={"line2": 1, "line5": 1})
    sj = read_json(os.path.join(d, "stats.json"))
    if sj.get("finished_runs") != 3 or sj.get("failed_runs") != 2:
        errs.append(f"stats.json finished_runs {sj.get('finished_runs')} failed_runs "
                    f"{sj.get('failed_runs')}, want 3 and 2")
    fail_if(errs, 4)


@suite.test("missing command refused before any run")
def t_missing_command_refused_before_any_run():
    tmp = tmpdir()
    runs_txt = os.path.join(tmp, "runs.txt")
    missing = os.path.join(tmp, "no-such-solver")
    with open(runs_txt, "w") as f:
        f.write(f"{MATRIX} 2 1\n{missing} 1\n")
    d = os.path.join(tmp, "c")
    r = campaign("-q", "-d", d, "--file", runs_txt)
    if r.returncode != 1 or missing not in r.stderr:
        raise Fail(f"exit {r.returncode} (want 1), stderr {r.stderr.strip()[-200:]!r} "
                   f"(want {missing} named)")
    if os.path.exists(d):
        raise Fail(f"{d} was created (with {os.listdir(d)}) though nothing could run")


# ---- 5 -------------------------------------------------------------------

@suite.test("usage errors change nothing", root=False)
def t_usage_errors_change_nothing():
    tmp = tmpdir()
    d = os.path.join(tmp, "c")
    cases = [
        (["--", "true"], 2, "-d"),
        (["-d", d, "--param", "1X=2", "--", "echo", "{X}"], 2, "1X=2"),
        (["-d", d, "--param", "A=1,,2", "--", "echo", "{A}"], 2, "A=1,,2"),
        (["-d", d, "--param", "A=1", "--", "echo", "{A}", "{C}"], 2, "{C}"),
        (["-d", d, "--jobs", "0", "--", "true"], 2, "--jobs 0"),
        (["-d", d, "--repeat", "0", "--", "true"], 2, "--repeat 0"),
        (["-d", d, "--param", "A=1", "--param", "A=2", "--", "echo", "{A}"], 2, "--param A"),
        (["-d", d, "--param", "MEMTRACE_RUN_DIR=x", "--", "echo", "{MEMTRACE_RUN_DIR}"], 2,
         "MEMTRACE_RUN_DIR is set by memtrace-bpf"),
        (["-d", d, "--file", os.path.join(tmp, "runs.txt"), "--", "true"], 2, "--file"),
        (["-d", d, "--file", os.path.join(tmp, "nonexistent.txt")], 1, "nonexistent.txt"),
        # two values that would share a run directory (a/b and a_b both
        # become A=a_b): refused, not one run overwriting the other
        (["-d", d, "--param", "A=a/b,a_b", "--", "echo", "{A}"], 2, "A=a_b"),
        (["-d", d, "--param", "A=1,1+B=2", "--param", "B=3,2+B=3", "--", "echo", "{A}"], 2,
         "A=1+B=2+B=3"),
    ]
    errs = []
    for args, rc, needle in cases:
        r = campaign(*args, timeout=30)
        if r.returncode != rc or needle not in r.stderr:
            errs.append(f"{' '.join(args)}: exit {r.returncode} (want {rc}), stderr "
                        f"{r.stderr.strip()[:120]!r} (want {needle!r})")
        if os.path.exists(d):
            errs.append(f"{' '.join(args)}: created {d}")
            shutil.rmtree(d)
    # campaign report on what is not a campaign
    other = os.path.join(tmp, "other")
    os.mkdir(other)
    with open(os.path.join(other, "notes.txt"), "w") as f:
        f.write("not a campaign\n")
    before = snap(other)
    for args, rc, needle in ((["report", other], 1, other),
                             (["report", os.path.join(tmp, "nonexistent")], 1, "nonexistent"),
                             (["report"], 2, "director"),
                             (["report", other, "--format", "xml"], 2, "xml")):
        r = campaign(*args, timeout=30)
        if r.returncode != rc or needle not in r.stderr:
            errs.append(f"{' '.join(args)}: exit {r.returncode} (want {rc}), stderr "
                        f"{r.stderr.strip()[:120]!r} (want {needle!r})")
    if snap(other) != before:
        errs.append(f"campaign report changed {other}: {sorted(snap(other))}")
    fail_if(errs, 4)


@suite.test("another plan in the dir refused")
def t_another_plan_in_the_dir_refused():
    tmp = tmpdir()
    d = os.path.join(tmp, "c")
    plan = ["--param", "A=1", "--", MATRIX, "{A}", "1"]
    r = campaign("-q", "-d", d, *plan)
    need_ok(r, "the first campaign")
    before = snap(d)
    errs = []
    for other in (["--param", "A=2", "--", MATRIX, "{A}", "1"],
                  ["--repeat", "2", *plan],
                  ["--param", "A=1", "--", MATRIX, "{A}", "2"],
                  ["--no-follow", *plan]):
        r = campaign("-q", "-d", d, *other)
        if r.returncode != 2 or d not in r.stderr or "plan" not in r.stderr:
            errs.append(f"{' '.join(other[:4])}...: exit {r.returncode} (want 2), stderr "
                        f"{r.stderr.strip()[:120]!r}")
    if snap(d) != before:
        errs.append(f"{d} changed: {sorted(set(snap(d)) ^ set(before))}")
    # the same plan is a resume with nothing to do: exit 0, nothing redone
    r = campaign("-q", "-d", d, *plan)
    need_ok(r, "the same plan again")
    now = snap(d)
    runs_now = {k: v for k, v in now.items() if os.sep in k}
    if runs_now != {k: v for k, v in before.items() if os.sep in k}:
        errs.append("resuming a finished campaign touched its runs")
    fail_if(errs, 4)


# ---- 6 -------------------------------------------------------------------

@suite.test("report rebuilds the same files")
def t_report_rebuilds_the_same_files():
    tmp = tmpdir()
    runs_txt = os.path.join(tmp, "runs.txt")
    with open(runs_txt, "w") as f:
        f.write(f"{MATRIX} 2 1\n{MATRIX} 4 1\n{MATRIX} 2 1 --exit 3\n")
    d = os.path.join(tmp, "c")
    r = campaign("-q", "-d", d, "--repeat", "2", "--file", runs_txt)
    need_ok(r, "the campaign", want=3)
    names = ("campaign.csv", "stats.csv", "stats.json")
    orig = {n: open(os.path.join(d, n), "rb").read() for n in names}
    runs_before = {k: v for k, v in snap(d).items() if os.sep in k}
    for n in names:
        os.unlink(os.path.join(d, n))
    r = campaign("report", d, timeout=30)
    need_ok(r, "campaign report")
    errs = []
    for n in names:
        got = open(os.path.join(d, n), "rb").read()
        if got != orig[n]:
            errs.append(f"{n} rebuilt differs from the campaign's: {got[:200]!r} vs "
                        f"{orig[n][:200]!r}")
    if {k: v for k, v in snap(d).items() if os.sep in k} != runs_before:
        errs.append("campaign report changed files in the run directories")
    # the table: one row per config with its runs and failures and the
    # mean peak in MiB, from the CP lines
    rows = read_rows(os.path.join(d, "campaign.csv"))
    per = check_runs_against_cp(d, rows, errs)
    lines = r.stdout.splitlines()
    for cfg, nok, nfail in (("line1", 2, 0), ("line2", 2, 0), ("line3", 0, 2)):
        row = [l.split() for l in lines if l.split()[:1] == [cfg]]
        if len(row) != 1 or row[0][1:3] != [str(nok), str(nfail)]:
            errs.append(f"table row of {cfg}: {row}, want runs {nok} fail {nfail}")
        elif nok:
            # the mean in MiB, to the decimals the table prints
            mib, dec = sum(per[cfg]) / len(per[cfg]) / 1024, len(row[0][3].partition(".")[2])
            if abs(float(row[0][3]) - mib) > 0.5 * 10 ** -dec + 1e-9:
                errs.append(f"table row of {cfg}: mean {row[0][3]} MiB, from the CP lines "
                            f"{mib:.4f}")
    if not any("6 finished runs" in l for l in lines):
        errs.append(f"the table does not say 6 finished runs: {lines[-1:]}")
    r = campaign("report", d, "--format", "json", timeout=30)
    need_ok(r, "campaign report --format json")
    try:
        j = json.loads(r.stdout)
        if [c["config"] for c in j["configs"]] != ["line1", "line2", "line3"] or \
                j != json.loads(orig["stats.json"]):
            errs.append(f"--format json: {r.stdout[:200]!r}, not the campaign's stats.json")
    except (ValueError, KeyError, TypeError) as e:
        errs.append(f"--format json printed no JSON with configs ({e}): {r.stdout[:200]!r}")
    # a run that is not finished (no result.csv) is not in the report
    os.unlink(os.path.join(d, "line2", "2", "result.csv"))
    r = campaign("report", d, timeout=30)
    need_ok(r, "campaign report with a run unfinished")
    got = [(x["config"], x["repeat"]) for x in read_rows(os.path.join(d, "campaign.csv"))]
    want = [(x["config"], x["repeat"]) for x in rows if (x["config"], x["repeat"]) !=
            ("line2", "2")]
    if got != want:
        errs.append(f"campaign.csv without line2 #2's result.csv: {got}, want {want}")
    fail_if(errs, 4)


# ---- 7 -------------------------------------------------------------------

def tw_median(states, a, b):
    """The time-weighted median of a step function over [a, b): states are
    (ts, value) in time order, the value from ts on (0 before the first);
    the smallest value held, with those below it, for half the time."""
    cur = 0
    for t, v in states:
        if t > a:
            break
        cur = v
    held, prev = [], a
    for t, v in states:
        if a < t < b:
            held.append((cur, t - prev))
            prev, cur = t, v
    held.append((cur, b - prev))
    if b == a:
        return cur
    total, acc = sum(d for _, d in held), 0
    for v, d in sorted(held):
        acc += d
        if 2 * acc >= total:
            return v


def figures_of_trace(rd):
    """A run's baseline, peak VmSize and VmData, computed here from its
    trace.csv as the README defines them: the command's life runs from its
    first row (its exec) to its exit row; the baseline is the time-weighted
    median of total_rss_kb over [exit - (exit - exec) // 10, exit); the
    peaks are the largest vmsize_kb and vmdata_kb of any row. Also the
    life in s, which result.csv's duration_s is."""
    rows = read_rows(os.path.join(rd, "trace.csv.zst"))
    root = read_json(os.path.join(rd, "summary.json"))["targets"][0]
    mine = [int(r["ts_ns"]) for r in rows if int(r["pid"]) == root]
    ends = [int(r["ts_ns"]) for r in rows if int(r["pid"]) == root and r["event"] == "exit"]
    if not mine or len(ends) != 1:
        raise Fail(f"{rd}: the command {root} has {len(mine)} rows and {len(ends)} exit rows")
    start, end = mine[0], ends[0]
    states = [(int(r["ts_ns"]), int(r["total_rss_kb"])) for r in rows]
    return {"baseline_rss_kb": tw_median(states, end - (end - start) // 10, end),
            "peak_vmsize_kb": max(int(r["vmsize_kb"]) for r in rows),
            "peak_vmdata_kb": max(int(r["vmdata_kb"]) for r in rows),
            "life_s": (end - start) / 1e9}


FIGURES = ("baseline_rss_kb", "peak_vmsize_kb", "peak_vmdata_kb")


def check_figures_stats(d, rows, errs):
    """stats.csv and stats.json: the baseline's, VmSize's and VmData's
    mean, std (sample), min, max per config, from campaign.csv's figures."""
    st = {r["config"]: r for r in read_rows(os.path.join(d, "stats.csv"))}
    sj = read_json(os.path.join(d, "stats.json"))
    if sj.get("std_kind") != STD_KIND or any(r.get("std_kind") != STD_KIND for r in st.values()):
        errs.append(f"std_kind: stats.json {sj.get('std_kind')!r}, stats.csv "
                    f"{[r.get('std_kind') for r in st.values()]}, want {STD_KIND!r}")
    sj = {c["config"]: c for c in sj["configs"]}
    for cfg in st:
        ok = [r for r in rows if r["config"] == cfg and r["exit_code"] == "0"]
        for fig, name, count in (("baseline_rss_kb", "baseline_rss_kb", "baseline_runs"),
                                 ("peak_vmsize_kb", "peak_vmsize_kb", "vm_runs"),
                                 ("peak_vmdata_kb", "peak_vmdata_kb", "vm_runs")):
            v = [int(r[fig]) for r in ok if r[fig] != ""]
            for src, got in (("stats.csv", st[cfg]), ("stats.json", sj[cfg])):
                if int(got[count]) != len(v):
                    errs.append(f"{cfg} {src}: {count} {got[count]}, want {len(v)}")
                    continue
                keys = [f"{k}_{name}" for k in ("mean", "std", "min", "max")]
                if not v:
                    if any(got[k] not in ("", None) for k in keys):
                        errs.append(f"{cfg} {src}: {fig} figures {[got[k] for k in keys]} "
                                    "for no run that has it, want none")
                    continue
                m, sd, lo, hi = stats_of(v)
                gm, gs, glo, ghi = (float(got[k]) for k in keys)
                if abs(gm - m) > 0.051 or abs(gs - sd) > 0.051 or glo != lo or ghi != hi:
                    errs.append(f"{cfg} {src} {fig}: mean {gm} std {gs} min {glo} max {ghi}; "
                                f"from campaign.csv {m:.2f} {sd:.2f} {lo} {hi}")


@suite.test("baseline, VmSize and VmData per run: from its trace, and in the stats")
def t_baseline_vmsize_vmdata():
    tmp = tmpdir()
    runs_txt = os.path.join(tmp, "runs.txt")
    # line1 holds its 8 MiB to its end: its baseline is that level, the
    # workload's own reading at its peak; line2's 8 MiB transients end well
    # before its last tenth (it sleeps 40 ms after each)
    with open(runs_txt, "w") as f:
        f.write(f"{MATRIX} 4 2 --hold 300\n{os.path.join(WL_DIR, 'transients')} short 3 2000 8\n")
    d = os.path.join(tmp, "c")
    r = campaign("-q", "-d", d, "--repeat", "2", "--file", runs_txt)
    need_ok(r, "the campaign")
    errs = []
    with open(os.path.join(d, "campaign.csv")) as f:
        head = f.readline().rstrip("\n")
    if head != CAMPAIGN_HEADER:
        errs.append(f"campaign.csv header {head!r}, want {CAMPAIGN_HEADER!r}")
    rows = read_rows(os.path.join(d, "campaign.csv"))
    if len(rows) != 4:
        raise Fail(f"{len(rows)} rows in campaign.csv, want 4")
    for row in rows:
        rd = os.path.join(d, row["config"], row["repeat"])
        want = figures_of_trace(rd)
        got = {k: int(row[k]) for k in FIGURES}
        if got != {k: want[k] for k in FIGURES}:
            errs.append(f"{row['config']} #{row['repeat']}: {got}, from its trace "
                        f"{ {k: want[k] for k in FIGURES} }")
        if abs(float(row["duration_s"]) - want["life_s"]) > 2e-9:
            errs.append(f"{row['config']} #{row['repeat']}: duration_s {row['duration_s']}, "
                        f"the life the baseline is taken over {want['life_s']}")
        if row["config"] == "line1":
            cp, _ = cp_of(rd)
            if got["baseline_rss_kb"] != cp.vmrss:
                errs.append(f"line1 #{row['repeat']}: baseline {got['baseline_rss_kb']} kB, "
                            f"the level it held to its end (its own reading) {cp.vmrss} kB")
            if got["peak_vmsize_kb"] < cp.vmsize or got["peak_vmdata_kb"] < cp.vmdata or \
                    cp.vmdata < 8 * 1024:
                errs.append(f"line1 #{row['repeat']}: peak VmSize {got['peak_vmsize_kb']} "
                            f"VmData {got['peak_vmdata_kb']} kB, below its own reading at its "
                            f"peak {cp.vmsize} / {cp.vmdata} kB")
        elif got["baseline_rss_kb"] > int(row["peak_rss_kb"]) - 8 * 1024:
            errs.append(f"line2 #{row['repeat']}: baseline {got['baseline_rss_kb']} kB, its "
                        f"8 MiB transients ({row['peak_rss_kb']} kB) should not be in it")
    check_figures_stats(d, rows, errs)
    r = campaign("report", d, timeout=30)
    need_ok(r, "campaign report")
    if "std(n-1)" not in r.stdout.splitlines()[0] or "sample standard deviation" not in r.stdout:
        errs.append(f"the table does not say its std is the sample one: {r.stdout[:300]!r}")
    fail_if(errs, 6)


def to_v1(path):
    """Rewrites a result.csv as the first version wrote it: its header and
    the first 14 columns."""
    with open(path) as f:
        head, row = f.read().splitlines()
    with open(path, "w") as f:
        f.write(HEADER_V1 + "\n" + ",".join(row.split(",")[:14]) + "\n")


@suite.test("results of the previous version: read by campaign report and by a resumed campaign")
def t_previous_version_results():
    tmp = tmpdir()
    d = os.path.join(tmp, "c")
    args = ["-q", "-d", d, "--param", "A=2,4", "--repeat", "2", "--", MATRIX, "{A}", "1"]
    r = campaign(*args)
    need_ok(r, "the campaign")
    runs = [("A=2", 1), ("A=4", 1), ("A=2", 2), ("A=4", 2)]
    res = {x: os.path.join(d, x[0], str(x[1]), "result.csv") for x in runs}
    for x in runs:
        to_v1(res[x])
    lost = runs[3]
    os.unlink(res[lost])
    errs = []
    r = campaign("report", d, timeout=30)
    need_ok(r, "campaign report over results of the previous version")
    rows = read_rows(os.path.join(d, "campaign.csv"))
    if [(x["config"], int(x["repeat"])) for x in rows] != runs[:3] or \
            any(x[k] != "" for x in rows for k in FIGURES):
        errs.append(f"campaign.csv from v1 results: {rows}, want runs {runs[:3]} with the new "
                    "figures empty")
    check_figures_stats(d, rows, errs)
    if "earlier version" not in r.stdout:
        errs.append(f"the table does not say some runs lack the new figures: {r.stdout[-300:]!r}")
    kept = {x: open(res[x]).read() for x in runs[:3]}
    # resumed: only the run without result.csv is redone; the others are
    # kept as they are, and read with it
    r = campaign(*args)
    need_ok(r, "the resumed campaign")
    if {x: open(res[x]).read() for x in runs[:3]} != kept:
        errs.append("the resume rewrote results of the previous version")
    rows = read_rows(os.path.join(d, "campaign.csv"))
    if [(x["config"], int(x["repeat"])) for x in rows] != runs:
        errs.append(f"campaign.csv after the resume: {[(x['config'], x['repeat']) for x in rows]}")
    else:
        new = rows[3]
        want = figures_of_trace(os.path.join(d, lost[0], str(lost[1])))
        if any(new[k] != str(want[k]) for k in FIGURES) or \
                any(x[k] != "" for x in rows[:3] for k in FIGURES):
            errs.append(f"after the resume: the redone run {[new[k] for k in FIGURES]} (from "
                        f"its trace {[want[k] for k in FIGURES]}), the others "
                        f"{[[x[k] for k in FIGURES] for x in rows[:3]]} (want empty)")
    check_figures_stats(d, rows, errs)
    per = check_runs_against_cp(d, rows, errs)
    check_stats(d, per, errs)
    fail_if(errs, 4)


@suite.test("more runs than groups while one holds its group", timeout=900)
def t_more_runs_than_groups_while_one_holds_its_group():
    """The kernel has 1023 trace groups. A long run holds its group while
    more than 1023 short runs start after it: no short run may share it
    (the long run's trace would take the other's rows and peak)."""
    tmp = tmpdir()
    d = os.path.join(tmp, "c")
    runs = os.path.join(tmp, "runs.txt")
    go = os.path.join(tmp, "go")
    n_short = 1030
    with open(runs, "w") as f:
        # held until the short runs past the 1023rd have finished
        f.write(f"{MATRIX} 64 1 --hold-until {go}\n")
        for _ in range(n_short):
            f.write(f"{MATRIX} 2 1\n")
    p = spawn([BIN, "campaign", "-q", "-d", d, "--jobs", "8", "--file", runs], text=True)
    deadline = time.time() + 500
    while time.time() < deadline and p.poll() is None:
        done = sum(os.path.exists(os.path.join(d, f"line{n}", "1", "result.csv"))
                   for n in range(1024, n_short + 2))
        if done == n_short + 2 - 1024:
            break
        time.sleep(0.2)
    with open(go, "w"):
        pass
    out, err = p.communicate(timeout=120)
    if p.returncode != 0:
        raise Fail(f"campaign of 1031 runs: exit {p.returncode}: {err.strip()[-300:]!r}")
    rows = read_rows(os.path.join(d, "campaign.csv"))
    if len(rows) != n_short + 1:
        raise Fail(f"{len(rows)} rows in campaign.csv, want {n_short + 1}")
    errs = []
    long_rd = os.path.join(d, "line1", "1")
    long_s = read_json(os.path.join(long_rd, "summary.json"))
    cp, _ = cp_of(long_rd)
    if long_s["peak_rss_kb"] != cp.vmrss or len(long_s["processes"]) != 1:
        errs.append(f"the long run: peak {long_s['peak_rss_kb']} kB (its own reading "
                    f"{cp.vmrss} kB), {len(long_s['processes'])} processes in its summary")
    for row in rows:
        if int(row["index"]) < 1023:
            continue
        rd = os.path.join(d, row["config"], row["repeat"])
        s = read_json(os.path.join(rd, "summary.json"))
        cp, _ = cp_of(rd)
        if s["end_ts_ns"] > long_s["end_ts_ns"]:
            errs.append(f"{row['config']} ended after the long run: not a test of sharing")
        if int(row["peak_rss_kb"]) != cp.vmrss or s["events"] == 0:
            errs.append(f"{row['config']}: peak {row['peak_rss_kb']} kB (its own reading "
                        f"{cp.vmrss} kB), {s['events']} rows")
    fail_if(errs, 3)


if __name__ == "__main__":
    sys.exit(suite.main())
