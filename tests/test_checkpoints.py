#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Checkpoint validation on real kernel events: automatic checkpoints,
marks (fd and USDT), --checkpoint-regex, and the `validate`/`stages`
reports, against what the workloads themselves read, printed and timed
(CLOCK_MONOTONIC).

Output and environment: see tests/harness.py; the closing line is
`checkpoints: N passed, N failed, N skipped`.
"""

import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import time

from harness import (BIN, CSV_HEADER, ROOT, TESTS_DIR, Fail, Suite, cached, clean_env, fail_if,
                     parse_cps, read_rows, record, refusal, run, spawn, suite_tmpdir,
                     tmpdir, workload, write_file)

suite = Suite("checkpoints")


def child_cpu():
    """CPU seconds (user + system) of this process's waited-for children."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def validate_json(csv_path, *opts):
    r = run([BIN, "validate", csv_path, "--format", "json", *opts])
    if r.returncode != 0:
        raise Fail(f"validate exited {r.returncode}: {r.stderr.strip()[:400]}")
    return json.loads(r.stdout), r


def parse_selfcheck(out):
    cps, trs, xs = parse_cps(out), [], []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "T":
            trs.append({"kb": int(f[1]), "start": int(f[2]), "end": int(f[3]), "after": f[4]})
        elif f and f[0] == "X":
            xs.append({"what": f[1], "t0": int(f[2]), "t1": int(f[3]), "kb": int(f[4])})
    if not cps or "DONE" not in out:
        raise Fail(f"selfcheck output incomplete: {out[-300:]!r}")
    return cps, trs, xs


def selfcheck_run():
    """One traced run of selfcheck, shared by the tests that read it."""
    def go():
        tmp = suite_tmpdir()
        csv_path, r = record(tmp, [workload("selfcheck"), "6"])
        cps, trs, xs = parse_selfcheck(r.stdout)
        js, _ = validate_json(csv_path)
        return tmp, csv_path, r, cps, trs, xs, js
    return cached("selfcheck", go)


def within(cks, t0, t1):
    return [c for c in cks if t0 <= c["ts_ns"] <= t1]


@suite.test("automatic checkpoints: exact_kb equals what the workload read, each way in")
def t_every_checkpoint_exact():
    _, _, _, cps, _, xs, js = selfcheck_run()
    cks = js["checkpoints"]
    errs = []
    for c in cps:
        hit = within(cks, c.t0, c.t1)
        if len(hit) != 1:
            errs.append(f"{c.label}: {len(hit)} checkpoint rows inside its read "
                        f"[{c.t0}, {c.t1}] (want 1)")
            continue
        if hit[0]["exact_kb"] != c.vmrss or hit[0]["source"] != "status":
            errs.append(f"{c.label}: the workload read VmRSS {c.vmrss} kB, the "
                        f"checkpoint says {hit[0]['exact_kb']} kB ({hit[0]['source']})")
    # the other ways in: /proc/PID/status, a kept fd read again with
    # pread at 0 (exact: status), statm and smaps_rollup (recognised; their
    # own figures are not exact sums in every kernel), getrusage
    want = {"pid_status": "status", "pread0": "status", "statm": "statm",
            "smaps_rollup": "smaps_rollup", "getrusage": "getrusage"}
    for x in xs:
        hit = within(cks, x["t0"], x["t1"])
        if len(hit) != 1 or hit[0]["source"] != want[x["what"]]:
            errs.append(f"{x['what']}: checkpoint rows in its window: "
                        f"{[(h['source'], h['exact_kb']) for h in hit]}")
        elif want[x["what"]] == "status" and hit[0]["exact_kb"] != x["kb"]:
            errs.append(f"{x['what']}: read {x['kb']} kB, checkpoint says {hit[0]['exact_kb']}")
    n_inside = sum(len(within(cks, c.t0, c.t1)) for c in cps) + \
        sum(len(within(cks, x["t0"], x["t1"])) for x in xs)
    # the only other checkpoints are the workload's two warm-up reads
    if len(cks) != n_inside + 2:
        errs.append(f"{len(cks)} checkpoints in the trace, {n_inside} inside the workload's "
                    "reads + 2 warm-ups")
    print(f"# {len(cps)} status checkpoints, VmRSS read by the workload == exact_kb on each; "
          f"e.g. {cps[0].vmrss} kB")
    fail_if(errs, 5)


@suite.test("validate: every transient between checkpoints shows in max_since_prev_kb")
def t_transients_between_checkpoints():
    _, _, _, cps, trs, _, js = selfcheck_run()
    cks = js["checkpoints"]
    by_label = {c.label: c for c in cps}
    errs = []
    for t in trs:
        prev = by_label[t["after"]]
        nxt = [c for c in cps if c.t0 > t["end"]][0]
        ck = within(cks, nxt.t0, nxt.t1)[0]
        want = prev.vmrss + t["kb"]
        if ck["max_since_prev_kb"] != want:
            errs.append(f"transient of {t['kb']} kB after {t['after']}: max_since_prev_kb "
                        f"{ck['max_since_prev_kb']}, want {prev.vmrss} + {t['kb']} = {want}")
        if not t["start"] <= ck["max_since_prev_ts_ns"] <= t["end"]:
            errs.append(f"transient of {t['kb']} kB: its maximum at {ck['max_since_prev_ts_ns']} "
                        f"is outside [{t['start']}, {t['end']}]")
        seen = max(prev.vmrss, nxt.vmrss)
        if ck["excess_kb"] != want - seen:
            errs.append(f"transient of {t['kb']} kB: excess_kb {ck['excess_kb']}, want {want - seen}")
    v = js["verdict"]
    big = max(trs, key=lambda t: t["kb"])
    prev = by_label[big["after"]]
    if v["largest_excursion_kb"] != prev.vmrss + big["kb"] - prev.vmrss:
        errs.append(f"verdict largest_excursion_kb {v['largest_excursion_kb']}, the largest "
                    f"transient was {big['kb']} kB")
    fail_if(errs, 5)


@suite.test("validate: table and verdict")
def t_validate_table():
    _, csv_path, _, cps, trs, _, _ = selfcheck_run()
    r = run([BIN, "validate", csv_path])
    if r.returncode != 0:
        raise Fail(f"exit {r.returncode}: {r.stderr[:300]}")
    big = max(t["kb"] for t in trs)
    for want in ("checkpoints (status", "verdict:", "unseen excursion", "peak figure",
                 "max_since_prev_kb", f"+{big // 1024}.0 MiB above both checkpoints"):
        if want not in r.stdout:
            raise Fail(f"table lacks {want!r}: {r.stdout[-600:]}")


@suite.test("validate: missing file, no checkpoints, malformed rows, usage errors", root=False)
def t_validate_bad_input():
    tmp = tmpdir()
    missing = os.path.join(tmp, "nope.csv")
    # a trace without checkpoints: a poller's file has no event column,
    # a memtrace-bpf trace of a program that never reads its figures
    p = write_file(os.path.join(tmp, "none.csv"), CSV_HEADER +
                   "\n0.1,100,200,1000,7,7,rss,100,0,0,0,100,fault,0x1,0x2,,,,,\n")
    p2 = write_file(os.path.join(tmp, "poll.csv"), "time_s,vmrss_kb\n0.0,100\n")
    p3 = write_file(os.path.join(tmp, "bad.csv"), CSV_HEADER +
                    "\n0.1,xx,200,1000,7,7,checkpoint,100,0,0,0,100,status,3,,,1,,,\n")
    cases = [([missing], 1, ("cannot open", missing)),
             ([p], 1, ("no checkpoint rows", "stages")),
             ([p2], 1, "event"),
             ([p3], 1, f"{p3}:2: column vmrss_kb: 'xx'")]
    cases += [([p, *bad] if bad else [], 2, "--help")
              for bad in (["--format", "xml"], ["--compare", "both"], ["--tolerance", "5x"], [])]
    errs = [e for args, rc, needles in cases if (e := refusal(["validate", *args], rc, needles))]
    r = run([BIN, "validate", "--help"])
    if r.returncode != 0 or "EXAMPLES:" not in r.stdout or "--format" not in r.stdout:
        errs.append(f"--help: exit {r.returncode}")
    fail_if(errs, None)


def parse_marks(out):
    """The marks workloads' own lines (stages.py, marks.c): M NAME t0 t1 (a
    mark written between t0 and t1), F i TRANSIENT_KB KEPT_KB (a frame),
    L KB (kept while loading)."""
    ms, frames, load = [], [], None
    for line in out.splitlines():
        f = line.split()
        if f[0] == "M":
            ms.append((f[1], int(f[2]), int(f[3])))
        elif f[0] == "F":
            frames.append((int(f[2]), int(f[3])))
        elif f[0] == "L":
            load = int(f[1])
    return ms, frames, load


def marks_of(csv_path):
    return [r for r in read_rows(csv_path) if r["event"] == "mark"]


@suite.test("marks from Python via MEMTRACE_MARK_FD: rows and stages match what it did")
def t_python_marks_and_stages():
    tmp = tmpdir()
    py = shutil.which("python3")
    csv_path, r = record(tmp, [py, os.path.join(TESTS_DIR, "workloads", "stages.py"), "4"])
    ms, frames, load = parse_marks(r.stdout)
    if len(ms) != len(frames) + 4 or load is None:
        raise Fail(f"workload output incomplete: {r.stdout[-300:]!r}")
    errs = []
    # a command without USDT marks (python3 may even be a script, e.g.
    # a pyenv shim) is the usual case: nothing to say about it
    if "memtrace-bpf" in r.stderr:
        errs.append(f"memtrace-bpf said: {r.stderr.strip()[-300:]!r}")
    got = [m for m in marks_of(csv_path) if m["label"] != "warmup"]
    if [m["label"] for m in got] != [n for n, _, _ in ms]:
        errs.append(f"mark rows {[m['label'] for m in got]}, the workload wrote "
                    f"{[n for n, _, _ in ms]}")
    else:
        for m, (n, t0, t1) in zip(got, ms):
            if not t0 <= int(m["ts_ns"]) <= t1 or m["cause"] != "fd":
                errs.append(f"mark {n} at {m['ts_ns']} ({m['cause']}), outside the "
                            f"workload's write [{t0}, {t1}]")
    r2 = run([BIN, "stages", csv_path, "--format", "json"])
    if r2.returncode != 0:
        raise Fail(f"stages exited {r2.returncode}: {r2.stderr[:300]}")
    js = json.loads(r2.stdout)
    # what Python itself allocates on the way (small objects, an arena
    # now and then) rides on top of the workload's own mmaps
    slack = 64
    # a point mark ends at the next mark of any name: frame i at frame
    # i + 1; the last "frame" (the workload's end of its last frame) at
    # "done", and "done" at the exit
    fr = [i for i in js["intervals"] if i["name"] == "frame"]
    done = [i for i in js["intervals"] if i["name"] == "done"]
    if len(fr) != len(frames) + 1:
        errs.append(f"{len(fr)} frame intervals, the workload ran {len(frames)} frames and "
                    "marked one more frame after the last")
    elif fr[-1]["end_ts_ns"] != int(marks_of(csv_path)[-1]["ts_ns"]) or \
            fr[-1]["closed_by"] != "mark":
        errs.append(f"the last frame interval {fr[-1]} does not end at the 'done' mark")
    if len(done) != 1 or done[0]["closed_by"] != "exit":
        errs.append(f"'done' intervals {done}: want one, ended by the exit")
    for k, (iv, (tkb, keep)) in enumerate(zip(fr, frames)):
        if not 0 <= iv["rise_kb"] - tkb <= slack:
            errs.append(f"frame {k}: rise {iv['rise_kb']} kB, its transient was {tkb} kB")
        if not 0 <= iv["growth_kb"] - keep <= slack:
            errs.append(f"frame {k}: growth {iv['growth_kb']} kB, it kept {keep} kB")
        t_start = [t0 for n, t0, _ in ms if n == "frame"][k]
        if not t_start <= iv["start_ts_ns"] <= iv["end_ts_ns"]:
            errs.append(f"frame {k}: interval [{iv['start_ts_ns']}, {iv['end_ts_ns']}]")
    sp = [i for i in js["intervals"] if i["name"] == "load" and i["kind"] == "span"]
    if len(sp) != 1 or not 0 <= sp[0]["growth_kb"] - load <= slack:
        errs.append(f"load span {sp}, the workload kept {load} kB in it")
    st = {x["name"]: x for x in js["stages"]}
    if st.get("frame", {}).get("count") != len(frames) + 1 or \
            st["frame"]["max_rise_kb"] < max(t for t, _ in frames):
        errs.append(f"frame stage summary {st.get('frame')}")
    tab = run([BIN, "stages", csv_path])
    if tab.returncode != 0 or "frame" not in tab.stdout or "growth_kb" not in tab.stdout:
        errs.append(f"table: exit {tab.returncode}: {tab.stdout[-300:]}")
    fail_if(errs, 5)


SHELL_MARKS = r"""
echo "load" >&$MEMTRACE_MARK_FD
i=0
while [ $i -lt 3 ]; do
  echo "frame $i" >&$MEMTRACE_MARK_FD
  i=$((i + 1))
done
printf 'comma, "quoted"
' >&$MEMTRACE_MARK_FD
eval "exec $MEMTRACE_MARK_FD>&-"
echo "after close" >&$MEMTRACE_MARK_FD 2>/dev/null
echo "FD $MEMTRACE_MARK_FD"
"""

SHELL_REDIRECT = r"""
echo "before" >&$MEMTRACE_MARK_FD
eval "exec $MEMTRACE_MARK_FD>$1"
echo "into the file" >&$MEMTRACE_MARK_FD
"""


@suite.test("marks from sh and bash; a closed or redirected marker fd is reported")
def t_shell_marks_and_closed_fd():
    errs = []
    tmp = tmpdir()
    script = os.path.join(tmp, "m.sh")
    with open(script, "w") as f:
        f.write(SHELL_MARKS)
    for sh in ("sh", "bash"):
        shp = shutil.which(sh)
        if not shp:
            raise Fail(f"{sh} not found")
        csv_path, r = record(tmp, [shp, script])
        labels = [m["label"] for m in marks_of(csv_path)]
        want = ["load", "frame 0", "frame 1", "frame 2", 'comma, "quoted"']
        if labels != want:
            errs.append(f"{sh}: mark labels {labels}, want {want}")
        lost = [x for x in read_rows(csv_path) if x["event"] == "mark_fd_lost"]
        fd = r.stdout.split()[-1]
        if len(lost) != 1 or lost[0]["cause"] != "close" or lost[0]["addr"] != fd:
            errs.append(f"{sh}: mark_fd_lost rows {lost} (marker fd {fd})")
        if "closed its marker fd " + fd not in r.stderr:
            errs.append(f"{sh}: stderr does not say the fd was closed: {r.stderr[-300:]!r}")
        with open(csv_path[:-4] + ".summary.json") as f:
            s = json.load(f)
        m = s.get("marks", {})
        if m.get("marks") != len(want) or m.get("fd") != int(fd) or \
                [x["by"] for x in m.get("fd_lost", [])] != ["close"]:
            errs.append(f"{sh}: summary marks {m}")
    # redirected: the fd now names a file; writes there are no marks
    script2 = os.path.join(tmp, "r.sh")
    with open(script2, "w") as f:
        f.write(SHELL_REDIRECT)
    out = os.path.join(tmp, "into.txt")
    csv_path, r = record(tmp, [shutil.which("bash"), script2, out])
    labels = [m["label"] for m in marks_of(csv_path)]
    lost = [x for x in read_rows(csv_path) if x["event"] == "mark_fd_lost"]
    if labels != ["before"]:
        errs.append(f"redirect: mark labels {labels}, want ['before']")
    if len(lost) != 1 or lost[0]["cause"] not in ("dup2", "dup3"):
        errs.append(f"redirect: mark_fd_lost rows {lost}")
    if "replaced its marker fd" not in r.stderr:
        errs.append(f"redirect: stderr {r.stderr[-300:]!r}")
    if open(out).read() != "into the file\n":
        errs.append("redirect: the file did not get its line")
    fail_if(errs, 6)


@suite.test("stages: missing file, no marks, malformed rows, usage errors", root=False)
def t_stages_bad_input():
    tmp = tmpdir()
    missing = os.path.join(tmp, "nope.csv")
    p = write_file(os.path.join(tmp, "none.csv"), CSV_HEADER +
                   "\n0.1,100,200,1000,7,7,rss,100,0,0,0,100,fault,0x1,0x2,,,,,\n")
    p3 = write_file(os.path.join(tmp, "bad.csv"), CSV_HEADER +
                    "\n0.1,100,200,1000,7,7,mark,100,0,0,0,100,fd,3,,5,,\"open,,\n")
    cases = [([missing], 1, "cannot open"),
             ([p], 1, ("no mark rows", "MEMTRACE_MARK_FD")),
             ([p3], 1, f"{p3}:2:")]
    cases += [([p, *bad] if bad else [], 2, "--help")
              for bad in (["--format", "xml"], ["--pid", "x"], [])]
    errs = [e for args, rc, needles in cases if (e := refusal(["stages", *args], rc, needles))]
    r = run([BIN, "stages", "--help"])
    if r.returncode != 0 or "EXAMPLES:" not in r.stdout:
        errs.append(f"--help: exit {r.returncode}")
    fail_if(errs, None)


REGEX = r"RSS now: ([0-9]+ kB)|Peak RSS: ([0-9.]+ MB)"


@suite.test("--checkpoint-regex: printed values paired with checkpoints, output passed on")
def t_regex_pairs_printed_values():
    tmp = tmpdir()
    csv_path, r = record(tmp, [workload("selfcheck"), "5"], "--checkpoint-regex", REGEX)
    cps, trs, _ = parse_selfcheck(r.stdout)
    errs = []
    # passed through unchanged: the workload's stdout is ours, its
    # stderr lines are in ours; and both are in the log, byte for byte
    said = [l for l in r.stderr.splitlines() if "RSS" in l]
    if len(said) != len(cps) + 1 or not said[-1].startswith("Peak RSS: "):
        errs.append(f"stderr passed through: {said}")
    log = open(os.path.join(tmp, "t.log")).read()
    if r.stdout not in log or any(l + "\n" not in log for l in said):
        errs.append("the log file does not hold the command's output as it was")
    js, v = validate_json(csv_path)
    reps = [x for c in js["checkpoints"] for x in c["reported"]]
    now = [x for x in reps if x["log"].startswith("checkpoint ")]
    if len(now) != len(cps):
        errs.append(f"{len(now)} 'RSS now' values paired, the workload printed {len(cps)}")
    for x in now:
        want = int(x["log"].split(":")[2].split()[0])
        if x["reported_kb"] != want or x["diff_kb"] != 0 or x["compared_to"] != "rss":
            errs.append(f"{x['log']!r}: reported_kb {x['reported_kb']}, diff {x['diff_kb']} "
                        f"vs {x['compared_to']} (the workload read it from status: want 0)")
        # the kernel timed the write: the line pairs with the very
        # checkpoint the workload took just before printing it
        k = int(x["log"].split()[1].rstrip(":"))
        mine = [c for c in js["checkpoints"] if x in c["reported"]][0]
        if not cps[k].t0 <= mine["ts_ns"] <= cps[k].t1:
            errs.append(f"{x['log']!r} paired with the checkpoint at {mine['ts_ns']}, not "
                        f"the workload's checkpoint {k} [{cps[k].t0}, {cps[k].t1}]")
    peak = [x for x in reps if x["log"].startswith("Peak RSS")]
    ver = js["verdict"]
    big = max(t["kb"] for t in trs)
    true_peak = max(c.vmrss for c in cps) + big
    if len(peak) != 1 or peak[0]["compared_to"] != "peak_so_far":
        errs.append(f"the Peak RSS line: {peak}")
    if ver["peak_trusted"] is not False or ver["true_peak_kb"] != true_peak:
        errs.append(f"verdict {ver}: the workload's own peak missed a {big} kB transient "
                    f"(true peak {true_peak} kB)")
    if "CANNOT be trusted" not in run([BIN, "validate", csv_path]).stdout:
        errs.append("the table does not say the peak figure cannot be trusted")
    with open(os.path.join(tmp, "t.summary.json")) as f:
        s = json.load(f)
    cr = s.get("checkpoint_regex", {})
    if cr.get("matched") != len(cps) + 1 or cr.get("pattern") != REGEX:
        errs.append(f"summary checkpoint_regex {cr}")
    if errs:
        notes = [l for l in r.stderr.splitlines() if l.startswith("memtrace-bpf")]
        raise Fail("; ".join(errs[:5]) + f" (memtrace-bpf said: {notes})")


@suite.test("--checkpoint-regex: never matching, unknown unit, no newline, usage errors")
def t_regex_bad_cases():
    errs = []
    tmp = tmpdir()
    sh = shutil.which("sh")
    # never matches: said at the end, with the line count and the log
    csv_path, r = record(tmp, [sh, "-c", "echo one; echo two >&2"],
                         "--checkpoint-regex", "Peak: ([0-9]+ MB)")
    if "matched none of the command's 2 output lines" not in r.stderr or \
            "t.log" not in r.stderr:
        errs.append(f"never matched: {r.stderr.strip()!r}")
    if r.stdout != "one\n" or "two" not in r.stderr:
        errs.append(f"not passed through: {r.stdout!r} / {r.stderr!r}")
    # a unit nobody knows: a warning naming the line; the row is kept
    csv_path, r = record(tmp, [sh, "-c", "echo 'Peak RSS: 12 parsecs'; exit 3"],
                         "--checkpoint-regex", "Peak RSS: ([0-9]+ [a-z]+)", ok_rc=(3,))
    if "'12 parsecs'" not in r.stderr or "Peak RSS: 12 parsecs" not in r.stderr or \
            "warning" not in r.stderr:
        errs.append(f"unknown unit: {r.stderr.strip()!r}")
    logs = [x for x in read_rows(csv_path) if x["event"] == "log"]
    if len(logs) != 1 or logs[0]["reported"] != "12 parsecs" or logs[0]["reported_kb"] != "":
        errs.append(f"unknown unit: log rows {logs}")
    # a line without a newline at the end still counts
    csv_path, r = record(tmp, [sh, "-c", "printf 'Peak RSS: 3 MB'"],
                         "--checkpoint-regex", "Peak RSS: ([0-9]+ MB)")
    logs = [x for x in read_rows(csv_path) if x["event"] == "log"]
    if len(logs) != 1 or logs[0]["reported_kb"] != "3072":
        errs.append(f"last line without newline: {logs}")
    # output the kernel does not see written (an untraced child under
    # --no-follow): still every line, timed when read
    csv_path, r = record(tmp, [sh, "-c", "echo 'Peak RSS: 3 MB'; /bin/echo 'Peak RSS: 4 MB'"],
                         "--no-follow", "--checkpoint-regex", "Peak RSS: ([0-9]+ MB)")
    logs = [x["reported_kb"] for x in read_rows(csv_path) if x["event"] == "log"]
    if logs != ["3072", "4096"]:
        errs.append(f"untraced writer: log rows {logs}")
    # command-line mistakes: exit 2, naming the problem
    for opts, want in ((["--checkpoint-regex", "a(b"], "not a POSIX extended regex"),
                       (["--checkpoint-regex", "Peak"], "needs a group"),
                       (["-o", "-", "--checkpoint-regex", "(x)"], "would mix"),
                       (["--log", "x.log"], "give --checkpoint-regex too")):
        r = run([BIN, *opts, "--", "true"], cwd=tmp)
        if r.returncode != 2 or want not in r.stderr:
            errs.append(f"{opts}: exit {r.returncode}, {r.stderr.strip()!r}")
    r = run([BIN, "-p", str(os.getpid()), "--checkpoint-regex", "(x)"], cwd=tmp)
    if r.returncode != 2 or "launch mode" not in r.stderr:
        errs.append(f"attach + regex: exit {r.returncode}, {r.stderr.strip()!r}")
    fail_if(errs, 6)


@suite.test("MEMTRACE_MARK (USDT, memtrace/mark.h) in C: rows and stages exact")
def t_usdt_marks_and_stages():
    tmp = tmpdir()
    csv_path, r = record(tmp, [workload("marks"), "4"])
    ms, frames, load = parse_marks(r.stdout)
    errs = []
    got = marks_of(csv_path)
    if [(m["label"], m["cause"]) for m in got] != [(n, "usdt") for n, _, _ in ms]:
        errs.append(f"mark rows {[(m['label'], m['cause']) for m in got]}, the workload "
                    f"marked {[n for n, _, _ in ms]}")
    else:
        for m, (n, t0, t1) in zip(got, ms):
            if not t0 <= int(m["ts_ns"]) <= t1:
                errs.append(f"mark {n} at {m['ts_ns']} outside [{t0}, {t1}]")
    js = json.loads(run([BIN, "stages", csv_path, "--format", "json"]).stdout)
    iv = js["intervals"]
    # C, 4 KiB pages populated in one call: exact to the kB. Each point
    # mark ends at the next mark: frame_loaded holds the frame's transient,
    # pose_detection the 1 MiB it keeps, frame_written nothing; the last
    # frame_loaded (after the loop) runs to the exit
    by = {n: [i for i in iv if i["name"] == n]
          for n in ("frame_loaded", "pose_detection", "frame_written")}
    want = {"frame_loaded": [(t, 0) for t, _ in frames],
            "pose_detection": [(keep, keep) for _, keep in frames],
            "frame_written": [(0, 0) for _ in frames]}
    for n, w in want.items():
        got = [(i["rise_kb"], i["growth_kb"]) for i in by[n]][:len(frames)]
        if got != w:
            errs.append(f"{n} (rise, growth) kB {got}, the workload made {w}")
    last = by["frame_loaded"][-1:]
    if len(by["frame_loaded"]) != len(frames) + 1 or last[0]["closed_by"] != "exit":
        errs.append(f"{len(by['frame_loaded'])} frame_loaded intervals for {len(frames)} "
                    f"frames and a last mark, the last {last}")
    sp = [i for i in iv if i["name"] == "load"]
    if len(sp) != 1 or sp[0]["growth_kb"] != load or sp[0]["kind"] != "span":
        errs.append(f"load span {sp}, want growth {load}")
    fail_if(errs, 5)


@suite.test("campaign: every run of a marked binary records each mark once")
def t_campaign_marks_once_per_run():
    # the USDT probe is attached once per binary for every process: runs
    # of the same binary must not attach it again (each mark twice)
    tmp = tmpdir()
    d = os.path.join(tmp, "camp")
    r = run([BIN, "campaign", "-d", d, "--repeat", "3", "--", workload("marks"), "2"])
    if r.returncode != 0:
        raise Fail(f"campaign exited {r.returncode}: {r.stderr.strip()[-300:]}")
    traces = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(d) for f in fs
                    if f == "trace.csv.zst")
    if len(traces) != 3:
        raise Fail(f"{len(traces)} traces in {d}")
    errs = []
    for t in traces:
        got = [(m["label"], m["cause"]) for m in marks_of(t)]
        want = [("load:begin", "usdt"), ("load:end", "usdt")] + \
            [(n, "usdt") for _ in range(2) for n in ("frame_loaded", "pose_detection",
                                                     "frame_written")] + \
            [("frame_loaded", "usdt")]
        if got != want:
            errs.append(f"{t}: marks {got}")
    if "memtrace-bpf" in r.stderr and "note" in r.stderr:
        errs.append(f"notes: {r.stderr.strip()[-300:]}")
    fail_if(errs, 3)


@suite.test("make install ships memtrace/mark.h; a program using it builds and runs", root=False)
def t_header_installs_and_compiles():
    cc = shutil.which("cc") or shutil.which("gcc")
    tmp = tmpdir()
    r = run(["make", "-s", "--no-print-directory", "-C", ROOT, "install", f"DESTDIR={tmp}",
             "PREFIX=/usr"])
    hdr = os.path.join(tmp, "usr", "include", "memtrace", "mark.h")
    if r.returncode != 0 or not os.path.isfile(hdr):
        raise Fail(f"make install DESTDIR: exit {r.returncode}, no {hdr}: {r.stderr[-300:]}")
    src = os.path.join(tmp, "m.c")
    with open(src, "w") as f:
        f.write("#include <memtrace/mark.h>\n#if !MEMTRACE_MARK_ENABLED\n#error no sdt\n#endif\n"
                "int main(void) { MEMTRACE_BEGIN(\"a\"); MEMTRACE_MARK(\"b\"); "
                "MEMTRACE_END(\"a\"); return 0; }\n")
    for extra in ([], ["-DMEMTRACE_NO_MARKS"]):
        r = run([cc, "-Wall", "-Werror", "-I", os.path.join(tmp, "usr", "include"), *extra,
                 src, "-o", os.path.join(tmp, "m")])
        if extra and r.returncode == 0:
            raise Fail("MEMTRACE_NO_MARKS did not turn the marks off")
        if not extra and r.returncode != 0:
            raise Fail(f"a program using the installed header does not build: {r.stderr[-300:]}")
    r = run([os.path.join(tmp, "m")])
    if r.returncode != 0:
        raise Fail(f"it does not run untraced: exit {r.returncode}")



SLOW_WL = r"""
import os, sys, mmap, time
out, n_bytes = sys.argv[1], int(sys.argv[2])
pid = os.fork()
if pid == 0:
    # allocates and reads its status while the parent's output waits
    # for a slow reader; its output goes nowhere near ours
    fd = os.open(os.devnull, os.O_WRONLY); os.dup2(fd, 1); os.dup2(fd, 2)
    n = 0
    for i in range(60):
        m = mmap.mmap(-1, 4 << 20)
        for off in range(0, 4 << 20, 4096):
            m[off] = 1
        with open("/proc/self/status") as f:
            f.read()
        n += 1
        m.close()
        time.sleep(0.01)
    with open(out, "w") as f:
        f.write(f"{os.getpid()} {n}\n")
    os._exit(0)
line = b"y" * 99 + b"\n"
for i in range(n_bytes // 100):
    os.write(1, line)
os.waitpid(pid, 0)
"""


@suite.test("--checkpoint-regex: a slow reader of our stdout loses no record")
def t_regex_slow_reader_keeps_tracing():
    """A reader of our stdout that takes nothing for seconds holds back the
    command's writes only: the ring buffer is still drained, no record is
    lost, and every checkpoint of a process that does not write is there."""
    errs = []
    tmp = tmpdir()
    csv_path = os.path.join(tmp, "t.csv")
    done = os.path.join(tmp, "done")
    wlp = os.path.join(tmp, "slow.py")
    with open(wlp, "w") as f:
        f.write(SLOW_WL)
    nbytes = 4 << 20
    with open(os.path.join(tmp, "err"), "w") as err:
        p = spawn([BIN, "-q", "-o", csv_path, "--ring-size", "4M",
                   "--checkpoint-regex", "RSS (zz[0-9]+ kB)", "--",
                   sys.executable, wlp, done, str(nbytes)],
                  stdout=subprocess.PIPE, stderr=err)
        t0 = time.monotonic()
        while not os.path.exists(done) and time.monotonic() - t0 < 60:
            time.sleep(0.1)    # read nothing until the child is done
        got = p.stdout.read()
        p.wait(timeout=60)
    stderr = open(os.path.join(tmp, "err")).read()
    if p.returncode != 0:
        raise Fail(f"memtrace-bpf exited {p.returncode}: {stderr[-400:]}")
    if got != (b"y" * 99 + b"\n") * (nbytes // 100):
        errs.append(f"stdout passed on: {len(got)} bytes, want {nbytes // 100 * 100}")
    cpid, n = map(int, open(done).read().split())
    with open(os.path.join(tmp, "t.summary.json")) as f:
        s = json.load(f)
    if s["lost_events"]:
        errs.append(f"{s['lost_events']} records lost while our reader was slow")
    cks = [x for x in read_rows(csv_path) if x["event"] == "checkpoint" and int(x["pid"]) == cpid]
    if len(cks) != n:
        errs.append(f"{len(cks)} checkpoint rows for pid {cpid}, it read its status {n} times")
    fail_if(errs, None)


@suite.test("--checkpoint-regex: an O_NONBLOCK stdout gets every byte")
def t_regex_nonblocking_stdout():
    """Our stdout O_NONBLOCK (someone else's setting): EAGAIN is waited
    out, every byte arrives."""
    tmp = tmpdir()
    data = os.path.join(tmp, "data.bin")
    with open(data, "wb") as f:
        f.write(os.urandom(3 << 20))
    rd, wr = os.pipe()
    os.set_blocking(wr, False)
    with open(os.path.join(tmp, "err"), "w") as err:
        p = spawn([BIN, "-q", "-o", os.path.join(tmp, "t.csv"),
                   "--checkpoint-regex", "RSS (zz[0-9]+ kB)", "--",
                   "cat", data], stdout=wr, stderr=err)
    os.close(wr)
    time.sleep(0.5)    # the pipe is full long before we read
    chunks = []
    while True:
        b = os.read(rd, 65536)
        if not b:
            break
        chunks.append(b)
        time.sleep(0.0005)
    os.close(rd)
    p.wait(timeout=60)
    got = b"".join(chunks)
    want = open(data, "rb").read()
    if got != want or p.returncode != 0:
        raise Fail(f"exit {p.returncode}; {len(got)} of {len(want)} bytes passed on "
                   f"{'(same)' if got == want else '(different)'}; memtrace-bpf said: "
                   f"{open(os.path.join(tmp, 'err')).read()[-300:]!r}")


@suite.test("--checkpoint-regex: a closed stdout reaches the command (yes | head -1)")
def t_regex_closed_stdout_reaches_command():
    """`memtrace-bpf ... -- yes | head -1`: when our reader goes, the
    command gets EPIPE/SIGPIPE on that stream, as without memtrace-bpf;
    its other stream is still logged."""
    tmp = tmpdir()
    sh = shutil.which("sh")
    # yes ends by SIGPIPE; then a line on stderr, which is still logged
    cmd = [sh, "-c", "yes; echo after-yes-$? >&2"]
    with open(os.path.join(tmp, "err"), "w") as err:
        p = spawn([BIN, "-q", "-o", os.path.join(tmp, "t.csv"),
                   "--checkpoint-regex", "x(y)", "--", *cmd],
                  stdout=subprocess.PIPE, stderr=err)
        first = p.stdout.readline()
        p.stdout.close()
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise Fail("yes never saw its stdout closed: still running after 30 s")
    stderr = open(os.path.join(tmp, "err")).read()
    log = open(os.path.join(tmp, "t.log"), "rb").read()
    if first != b"y\n" or rc != 0 or "after-yes-141" not in stderr or \
            b"after-yes-141\n" not in log:
        raise Fail(f"first line {first!r}, exit {rc}, stderr {stderr[-300:]!r}, "
                   f"log ends {log[-40:]!r}")


@suite.test("--checkpoint-regex: a background job's later output is passed on")
def t_regex_background_output_passed_on():
    """A background job that outlives the command: its later output is
    passed on and logged (not killed by SIGPIPE when the command exits)."""
    tmp = tmpdir()
    sh = shutil.which("sh")
    ok = os.path.join(tmp, "bg_ok")
    cmd = [sh, "-c", f"(sleep 1; echo 'late RSS: 5 kB' && touch {ok}) & echo main-done"]
    csv_path, r = record(tmp, cmd, "--checkpoint-regex", "RSS: ([0-9]+ kB)")
    logs = [x for x in read_rows(csv_path) if x["event"] == "log"]
    log = open(os.path.join(tmp, "t.log")).read()
    if r.stdout != "main-done\nlate RSS: 5 kB\n" or log != r.stdout or \
            not os.path.exists(ok) or len(logs) != 1 or logs[0]["reported_kb"] != "5":
        raise Fail(f"stdout {r.stdout!r}, log {log!r}, background job finished: "
                   f"{os.path.exists(ok)}, log rows {[x['label'] for x in logs]}")


@suite.test("--checkpoint-regex: stdout and stderr to one file keep their order")
def t_regex_one_file_keeps_order():
    """Our stdout and stderr the same file (`> f 2>&1`): one pipe, so the
    command's interleaving of the two is kept."""
    tmp = tmpdir()
    sh = shutil.which("sh")
    script = ("i=0; while [ $i -lt 200 ]; do echo out$i; echo \"err: $i kB\" >&2; "
              "i=$((i+1)); done")
    want = "".join(f"out{i}\nerr: {i} kB\n" for i in range(200))
    out = os.path.join(tmp, "out")
    with open(out, "w") as f:
        p = run([BIN, "-q", "-o", os.path.join(tmp, "t.csv"),
                 "--checkpoint-regex", "err: ([0-9]+ kB)", "--", sh, "-c", script],
                stdout=f, stderr=subprocess.STDOUT, timeout=60)
    got = open(out).read()
    log = open(os.path.join(tmp, "t.log")).read()
    logs = [x for x in read_rows(os.path.join(tmp, "t.csv")) if x["event"] == "log"]
    if p.returncode != 0 or got != want or log != want or len(logs) != 200:
        raise Fail(f"exit {p.returncode}; output in order: {got == want}, log in order: "
                   f"{log == want}, {len(logs)} log rows; first of output {got[:60]!r}")


REUSE_WL = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
data = sys.argv[1]
real = 0
# a real checkpoint
fd = os.open("/proc/self/status", os.O_RDONLY)
os.read(fd, 4096)
real += 1
# the number put on another file by dup2 and by dup3, then read at 0
for inheritable in (True, False):
    fd = os.open("/proc/self/status", os.O_RDONLY)
    d = os.open(data, os.O_RDONLY)
    os.dup2(d, fd, inheritable=inheritable)
    os.close(d)
    assert os.pread(fd, 5, 0) == b"hello"
    os.close(fd)
# closed by close_range (no close() seen), the number taken by a pipe
fd = os.open("/proc/self/status", os.O_RDONLY)
if libc.close_range(fd, fd, 0) != 0:
    sys.exit("close_range failed")
r, w = os.pipe()
os.write(w, b"pipe data\n")
os.read(r, 100)
print(f"{os.getpid()} {real} pipe_fd={r} was={fd}")
"""


@suite.test("checkpoints: an fd number reused by dup2/dup3/close_range is not one")
def t_reused_fd_numbers_are_not_checkpoints():
    """An fd number of a /proc/self/status file put on another file by
    dup2, dup3 or close_range + pipe: reading it is no checkpoint."""
    tmp = tmpdir()
    data = os.path.join(tmp, "data")
    with open(data, "w") as f:
        f.write("hello world\n")
    wlp = os.path.join(tmp, "reuse.py")
    with open(wlp, "w") as f:
        f.write(REUSE_WL)
    csv_path, r = record(tmp, [sys.executable, wlp, data])
    pid, real = map(int, r.stdout.split()[:2])
    cks = [x for x in read_rows(csv_path) if x["event"] == "checkpoint" and int(x["pid"]) == pid]
    if len(cks) != real:
        raise Fail(f"{len(cks)} checkpoint rows (fds {[x['addr'] for x in cks]}), the "
                   f"workload read its status {real} time(s); {r.stdout.strip()}")


@suite.test("checkpoints: getrusage(RUSAGE_CHILDREN) is not the caller's")
def t_getrusage_children_is_not_a_checkpoint():
    """getrusage(RUSAGE_CHILDREN) reads the children's figures: not a
    checkpoint of the caller; RUSAGE_SELF is, with who 0."""
    tmp = tmpdir()
    code = """
import os, resource, subprocess
subprocess.run(["true"])
resource.getrusage(resource.RUSAGE_CHILDREN)
resource.getrusage(resource.RUSAGE_SELF)
print(os.getpid())
"""
    csv_path, r = record(tmp, [sys.executable, "-c", code])
    pid = int(r.stdout.split()[0])
    cks = [(x["cause"], x["addr"]) for x in read_rows(csv_path)
           if x["event"] == "checkpoint" and int(x["pid"]) == pid]
    if cks != [("getrusage", "0")]:
        raise Fail(f"checkpoints of the caller: {cks}, want one getrusage with who 0")


@suite.test("marker fd: a vfork child closing it is reported as itself, not its parent")
def t_child_closing_marker_fd_is_reported_as_itself():
    """Python subprocess (vfork, close_fds): the child closes the inherited
    marker fd while it borrows the parent's address space. The loss is the
    child's, not the parent's; the parent's marks still count."""
    tmp = tmpdir()
    code = """
import os, subprocess, sys
fd = int(os.environ["MEMTRACE_MARK_FD"])
os.write(fd, b"before\\n")
c = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                   stdout=subprocess.PIPE, text=True)
os.write(fd, b"after\\n")
print(os.getpid(), c.stdout.strip())
"""
    csv_path, r = record(tmp, [sys.executable, "-c", code])
    parent, child = map(int, r.stdout.split())
    rs = read_rows(csv_path)
    lost = [int(x["pid"]) for x in rs if x["event"] == "mark_fd_lost"]
    marks = [x["label"] for x in rs if x["event"] == "mark" and int(x["pid"]) == parent]
    with open(os.path.join(tmp, "t.summary.json")) as f:
        fd_lost = [x["pid"] for x in json.load(f)["marks"]["fd_lost"]]
    said = [l for l in r.stderr.splitlines() if "marker fd" in l]
    if parent in lost or parent in fd_lost or any(f"pid {parent} " in l for l in said) \
            or marks != ["before", "after"] or lost != [child] or fd_lost != [child]:
        raise Fail(f"parent {parent}, child {child}: mark_fd_lost rows of {lost}, summary "
                   f"{fd_lost}, parent's marks {marks}, said {said}")


@suite.test("marker fd: a long name is cut at 39 bytes")
def t_fd_mark_names_cut_at_39_bytes():
    """A long name written to the marker fd is cut at 39 bytes, as
    documented and as a USDT name is."""
    tmp = tmpdir()
    name = "".join(chr(ord("a") + i % 26) for i in range(60))
    sh = shutil.which("sh")
    csv_path, r = record(tmp, [sh, "-c", f"echo {name} >&$MEMTRACE_MARK_FD"])
    marks = [x["label"] for x in read_rows(csv_path) if x["event"] == "mark"]
    if marks != [name[:39]]:
        raise Fail(f"marks {marks}, want [{name[:39]!r}] (39 bytes)")


@suite.test("validate: an excursion names the previous checkpoint of its own process", root=False)
def t_validate_names_the_previous_checkpoint_of_the_process():
    """The unseen excursion is between a checkpoint and the previous one of
    the SAME process (others interleave), or before its first one."""
    errs = []

    def row(ts, pid, event, kb, cause=""):
        extra = "3,,,1" if event == "checkpoint" else ",,,"
        return f"{ts / 1e9:.9f},{kb},{kb * 2},{ts},{pid},{pid},{event},{kb},0,0,0,{kb},{cause},{extra},,,\n"

    tmp = tmpdir()
    p = os.path.join(tmp, "two.csv")
    with open(p, "w") as f:
        f.write(CSV_HEADER + "\n")
        f.write(row(1000, 7, "checkpoint", 100, "status"))   # 1: pid 7
        f.write(row(2000, 8, "checkpoint", 200, "status"))   # 2: pid 8
        f.write(row(3000, 7, "rss", 900, "fault"))
        f.write(row(4000, 7, "rss", 100, "fault"))
        f.write(row(5000, 8, "checkpoint", 200, "status"))   # 3: pid 8
        f.write(row(6000, 7, "checkpoint", 100, "status"))   # 4: pid 7
    r = run([BIN, "validate", p])
    if "between checkpoints 1 and 4 (pid 7" not in r.stdout:
        errs.append(f"interleaved pids: {[l for l in r.stdout.splitlines() if 'excursion' in l]}")
    js, _ = validate_json(p)
    ver, cps = js["verdict"], js["checkpoints"]
    if (ver.get("largest_excursion_checkpoint"), ver.get("largest_excursion_prev_checkpoint"),
            [c.get("prev_checkpoint") for c in cps]) != (4, 1, [None, None, 2, 1]):
        errs.append(f"json: verdict {ver}, prev_checkpoint {[c.get('prev_checkpoint') for c in cps]}")
    p = os.path.join(tmp, "one.csv")
    with open(p, "w") as f:
        f.write(CSV_HEADER + "\n")
        f.write(row(1000, 7, "rss", 500, "fault"))
        f.write(row(2000, 7, "rss", 100, "fault"))
        f.write(row(3000, 7, "checkpoint", 100, "status"))
    r = run([BIN, "validate", p])
    if "above checkpoint 1, before its process's first checkpoint (pid 7" not in r.stdout:
        errs.append(f"one checkpoint: {[l for l in r.stdout.splitlines() if 'excursion' in l]}")
    js, _ = validate_json(p)
    if js["verdict"].get("largest_excursion_prev_checkpoint", "missing") is not None:
        errs.append(f"one checkpoint json: {js['verdict']}")
    fail_if(errs, None)


@suite.test("CSV and JSON stay valid UTF-8 (cut names, Latin-1 lines)")
def t_csv_and_json_are_utf8():
    """A mark name cut at 39 bytes in the middle of a character, and a
    Latin-1 log line: the CSV, the validate/stages JSON and their tables
    (names cut to a column) stay valid UTF-8 (a cut character dropped, an
    invalid byte as U+FFFD)."""
    tmp = tmpdir()
    wlp = os.path.join(tmp, "u.py")
    with open(wlp, "w") as f:
        f.write("import os\n"
                "fd = int(os.environ['MEMTRACE_MARK_FD'])\n"
                "os.write(fd, b'ab' + 'é'.encode() * 30 + b'\\n')\n"
                "os.write(fd, b'a' + 'é'.encode() * 30 + b'\\n')\n"
                "open('/proc/self/status').read()\n"
                "os.write(1, b'RSS now: 5 MB \\xe9t\\xe9\\n')\n"
                "os.write(fd, b'ab' + 'é'.encode() * 30 + b'\\n')\n")
    csv_path = os.path.join(tmp, "t.csv")
    r = run([BIN, "-q", "-o", csv_path, "--checkpoint-regex",
             "RSS now: ([0-9]+ MB)", "--", sys.executable, wlp], binary=True, timeout=60)
    errs = []
    if r.returncode != 0 or r.stdout != b"RSS now: 5 MB \351t\351\n":
        errs.append(f"exit {r.returncode}, stdout {r.stdout!r} (passed on as it was)")
    raw = open(csv_path, "rb").read()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        errs.append(f"CSV: {e}")
    rs = list(csv.DictReader(raw.decode("utf-8", "replace").splitlines()))
    marks = [x["label"] for x in rs if x["event"] == "mark"]
    logs = [x["label"] for x in rs if x["event"] == "log"]
    if marks != ["ab" + "é" * 18, "a" + "é" * 19, "ab" + "é" * 18]:
        errs.append(f"marks {marks}, want the 39 bytes cut back to 38 ('ab' + 18 é), "
                    "and 'a' + 19 é (39 bytes, whole)")
    if logs != ["RSS now: 5 MB \ufffdt\ufffd"]:
        errs.append(f"log rows {logs}")
    for sub in (["validate", csv_path, "--format", "json"],
                ["stages", csv_path, "--format", "json"]):
        p = run([BIN, *sub], binary=True, timeout=60)
        try:
            json.loads(p.stdout.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            errs.append(f"{sub[0]} json: {e}")
    # the tables cut long names at a column width: at a character
    for sub in (["validate", csv_path], ["stages", csv_path]):
        p = run([BIN, *sub], binary=True, timeout=60)
        try:
            out = p.stdout.decode("utf-8")
            if "aééééééé" not in out:
                errs.append(f"{sub[0]} table: no 'a' + é name in {out[:300]!r}")
        except UnicodeDecodeError as e:
            errs.append(f"{sub[0]} table: {e}")
    fail_if(errs, None)


@suite.test("--checkpoint-regex: blanks before a unit; unit warnings capped and cut")
def t_regex_units_blanks_and_warning_flood():
    """'2  MB' (two blanks) is 2048 kB; 500 lines with an unknown unit give
    five warnings, each line cut, and one count, in the run and in
    validate."""
    tmp = tmpdir()
    long = "x" * 3000
    script = ("echo 'RSS: 2  MB'; i=0; while [ $i -lt 500 ]; do "
              f"echo \"RSS: $i parsecs {long}\"; i=$((i+1)); done")
    csv_path, r = record(tmp, [shutil.which("sh"), "-c", script], "--checkpoint-regex",
                         "RSS: ([0-9]+ *[a-zA-Z]+)")
    errs = []
    logs = [x for x in read_rows(csv_path) if x["event"] == "log"]
    if len(logs) != 501 or logs[0]["reported_kb"] != "2048":
        errs.append(f"{len(logs)} log rows, first {logs[0]['reported'] if logs else None!r} "
                    f"-> {logs[0]['reported_kb'] if logs else None!r}, want 2048")
    for who, err in (("run", r.stderr), ("validate", run([BIN, "validate", csv_path]).stderr)):
        warn = [l for l in err.splitlines() if "warning" in l]
        full = [l for l in warn if "parsecs" in l]
        if len(full) != 5 or len(warn) != 6 or "495 more" not in warn[-1] or \
                max(len(l) for l in warn) > 600:
            errs.append(f"{who}: {len(warn)} warnings ({len(full)} naming a line), "
                        f"longest {max((len(l) for l in warn), default=0)} bytes, "
                        f"last {warn[-1][:120] if warn else None!r}")
    fail_if(errs, None)


NEST_CSV = """\
0.001000000,100,0,1001000000,7,7,mark,100,0,0,0,100,fd,3,,5,,A:begin,,
0.002000000,500,0,1002000000,7,7,rss,500,0,0,0,500,fault,0x1,0x2,,,,,
0.003000000,500,0,1003000000,7,7,mark,500,0,0,0,500,fd,3,,5,,A:begin,,
0.004000000,900,0,1004000000,7,7,rss,900,0,0,0,900,fault,0x1,0x2,,,,,
0.005000000,300,0,1005000000,7,7,mark,300,0,0,0,300,fd,3,,5,,A:end,,
0.006000000,200,0,1006000000,7,7,mark,200,0,0,0,200,fd,3,,5,,A:end,,
0.007000000,200,0,1007000000,7,7,mark,200,0,0,0,200,fd,3,,5,,B:end,,
0.010000000,100,0,1010000000,8,8,mark,100,0,0,0,100,fd,3,,5,,X:begin,,
0.011000000,100,0,1011000000,8,8,mark,100,0,0,0,100,fd,3,,5,,A:begin,,
0.012000000,300,0,1012000000,8,8,rss,300,0,0,0,300,fault,0x1,0x2,,,,,
0.013000000,300,0,1013000000,8,8,mark,300,0,0,0,300,fd,3,,5,,A:begin,,
0.014000000,300,0,1014000000,8,8,mark,300,0,0,0,300,fd,3,,5,,X:end,,
0.015000000,300,0,1015000000,8,8,mark,300,0,0,0,300,fd,3,,5,,A:end,,
0.016000000,300,0,1016000000,8,8,mark,300,0,0,0,300,fd,3,,5,,A:end,,
"""


@suite.test("stages: nested same-name spans counted once; an end never begun", root=False)
def t_stages_nested_spans_and_lone_ends():
    """A span nested in one of its own name (recursion) is not counted twice
    and the entry is the outer one's; a name seen only as NAME:end is
    'ended, never begun'."""
    errs = []
    tmp = tmpdir()
    p = os.path.join(tmp, "nest.csv")
    with open(p, "w") as f:
        f.write(CSV_HEADER + "\n" + NEST_CSV)
    r = run([BIN, "stages", p, "--format", "json", "--pid", "7"])
    js = json.loads(r.stdout)
    st = {x["name"]: x for x in js["stages"]}
    a, b = st["A"], st["B"]
    got = (a["count"], a["total_ms"], a["entry_kb"], a["exit_kb"], a["peak_kb"],
           a["growth_kb"], a.get("nested"))
    if got != (1, 5.0, 100, 200, 900, 100, 1):
        errs.append(f"A (count, total_ms, entry, exit, peak, growth, nested) = {got}, want "
                    "(1, 5.0, 100, 200, 900, 100, 1): the outer span only")
    if [(v["name"], v.get("depth")) for v in js["intervals"]] != [("A", 1), ("A", 0)]:
        errs.append(f"intervals {[(v['name'], v.get('depth')) for v in js['intervals']]}")
    if (b["count"], b["unclosed"], b.get("unmatched_ends")) != (0, 0, 1):
        errs.append(f"B {b}")
    t = run([BIN, "stages", p, "--pid", "7"]).stdout
    bl = [l for l in t.splitlines() if l.startswith("B ")]
    if not bl or "ended, never begun" not in bl[0]:
        errs.append(f"table line for B: {bl}")
    # an end closes the latest begin of its name, whatever else
    # closed in between (X here)
    r = run([BIN, "stages", p, "--format", "json", "--pid", "8"])
    ivs = [(v["name"], v["start_ts_ns"] % 10**8 // 10**6, v["end_ts_ns"] % 10**8 // 10**6,
            v.get("depth")) for v in json.loads(r.stdout)["intervals"]]
    if ivs != [("X", 10, 14, 0), ("A", 13, 15, 1), ("A", 11, 16, 0)]:
        errs.append(f"pid 8 intervals (name, start ms, end ms, depth) {ivs}")
    fail_if(errs, None)


@suite.test("stages and validate: linear in open names and in processes", root=False)
def t_stages_and_validate_scale():
    """Many distinct open stage names, many processes: linear, not
    quadratic (20,000 open spans x 400,000 rows; 80,000 pids x 5 rows; a
    process has one point stage open at most, spans are what pile up).
    Here each takes about 1 s at most, the quadratic versions 15 s and 21 s
    on main. Measured in CPU seconds of the child (wait4's rusage), which
    a busy machine does not inflate as it does wall time (7.7 s of wall
    for 1.0 s of CPU, with CPU hogs running)."""
    errs = []
    tmp = tmpdir()
    p = os.path.join(tmp, "names.csv")
    with open(p, "w") as f:
        f.write(CSV_HEADER + "\n")
        ts = 1000
        for i in range(20000):
            ts += 1000
            f.write(f"{ts / 1e9:.9f},100,0,{ts},7,7,mark,100,0,0,0,100,fd,3,,5,,n{i}:begin,,\n")
        for i in range(400000):
            ts += 1000
            kb = 100 + i % 1000
            f.write(f"{ts / 1e9:.9f},{kb},0,{ts},7,7,rss,{kb},0,0,0,{kb},fault,0x1,0x2,,,,,\n")
        ts += 1000
        f.write(f"{ts / 1e9:.9f},50,0,{ts},7,7,mark,50,0,0,0,50,fd,3,,5,,n0:end,,\n")
    t0 = child_cpu()
    r = run([BIN, "stages", p, "--format", "json"])
    dt = child_cpu() - t0
    n0 = [x for x in json.loads(r.stdout)["intervals"] if x["name"] == "n0"]
    if dt > 4 or len(n0) != 1 or n0[0]["peak_kb"] != 1099 or n0[0]["exit_kb"] != 50:
        errs.append(f"stages: {dt:.2f} s of CPU, n0 intervals {n0}")
    p = os.path.join(tmp, "pids.csv")
    with open(p, "w") as f:
        f.write(CSV_HEADER + "\n")
        ts = 1000
        for rnd in range(5):
            for i in range(80000):
                ts += 1000
                ev, cause, tail = (("checkpoint", "status", "3,,,1") if rnd in (0, 4) else
                                   ("rss", "fault", "0x1,0x2,,"))
                kb = 100 + rnd
                f.write(f"{ts / 1e9:.9f},{kb},0,{ts},{1000 + i},{1000 + i},{ev},{kb},0,0,0,"
                        f"{kb},{cause},{tail},,,\n")
    t0 = child_cpu()
    js, _ = validate_json(p)
    dt = child_cpu() - t0
    if dt > 4 or len(js["checkpoints"]) != 160000 or \
            js["checkpoints"][-1]["max_since_prev_kb"] != 104:
        errs.append(f"validate: {dt:.2f} s of CPU, {len(js['checkpoints'])} checkpoints")
    fail_if(errs, None)


@suite.test("--checkpoint-regex: one big write held back keeps the kernel's timing")
def t_regex_slow_reader_one_big_write():
    """One 4 MiB write while our reader waits: the write ends only as we
    pass it on, and its lines still take the time of the kernel's write
    record (no fallback to reading time)."""
    tmp = tmpdir()
    csv_path = os.path.join(tmp, "t.csv")
    code = ("import os; print(os.getpid(), file=open(os.environ['PIDF'], 'w'), flush=True); "
            "os.write(1, b'RSS: 5 kB\\n' + b'x' * (4 << 20) + b'\\nRSS: 7 kB\\n')")
    env = clean_env({"PIDF": os.path.join(tmp, "pid")})
    p = spawn([BIN, "-q", "-o", csv_path, "--checkpoint-regex", "RSS: ([0-9]+ kB)",
               "--", sys.executable, "-c", code], env=env)
    time.sleep(1.0)    # reads nothing: the write is held back
    out = p.stdout.read()
    err = p.stderr.read().decode()
    p.wait(timeout=60)
    pid = open(os.path.join(tmp, "pid")).read().strip()
    logs = [(x["pid"], x["reported_kb"]) for x in read_rows(csv_path) if x["event"] == "log"]
    if len(out) != (4 << 20) + 21 or "did not see written" in err or \
            logs != [(pid, "5"), (pid, "7")]:
        raise Fail(f"{len(out)} bytes passed on, log rows {logs} (pid {pid}), "
                   f"memtrace-bpf said {err.strip()[:300]!r}")

def frameloop_run(frames, tail):
    """A traced run of frameloop: (CSV path, F lines as (decode rise,
    detect growth, write rise, write growth) kB, M lines as (name, t0, t1),
    the E time)."""
    tmp = tmpdir()
    csv_path, r = record(tmp, [workload("frameloop"), str(frames), tail])
    fr, ms, end = [], [], None
    for line in r.stdout.splitlines():
        f = line.split()
        if f[0] == "F":
            fr.append(tuple(int(x) for x in f[2:6]))
        elif f[0] == "M":
            ms.append((f[1], int(f[2]), int(f[3])))
        elif f[0] == "E":
            end = int(f[1])
    if len(fr) != frames or len(ms) != 3 * frames + (2 if tail == "span" else 0) or end is None:
        raise Fail(f"frameloop output incomplete: {r.stdout[-300:]!r}")
    got = [(m["label"], m["cause"]) for m in marks_of(csv_path)]
    if got != [(n, "usdt") for n, _, _ in ms]:
        raise Fail(f"mark rows {got[:8]}..., the workload marked {[n for n, _, _ in ms][:8]}...")
    return csv_path, fr, ms, end


def stages_json(csv_path, *opts):
    r = run([BIN, "stages", csv_path, "--format", "json", *opts])
    if r.returncode != 0:
        raise Fail(f"stages exited {r.returncode}: {r.stderr.strip()[:400]}")
    return json.loads(r.stdout)


@suite.test("stages: 100 frames of 3 point marks: 100 stages a name, each its own figures")
def t_stages_point_marks_frame_loop():
    """frameloop 100: decode (a transient), detect (32 KiB kept), write (a
    transient, the previous 32 KiB freed). A point mark ends at the next
    mark of any name, the last at the exit row: each stage shows its own
    rise and growth, exact to the kB (4 KiB pages populated in one call),
    and starts and ends inside the workload's own clock readings around
    its marks."""
    csv_path, fr, ms, end = frameloop_run(100, "exit")
    js = stages_json(csv_path)
    errs = []
    # after its loop (its clock's E) the program prints and exits, which
    # may fault code in (libc's _exit: 0 to 64 KiB, as the page cache
    # has it): the last write holds that too, as the trace shows it
    rows = read_rows(csv_path)
    pid = [m["pid"] for m in rows if m["event"] == "mark"][0]
    mine = [x for x in rows if x["pid"] == pid and x["event"] != "log"]
    at_end = int([x for x in mine if int(x["ts_ns"]) <= end][-1]["vmrss_kb"])
    ex = [x for x in mine if x["event"] == "exit"]
    if len(ex) != 1:
        raise Fail(f"{len(ex)} exit rows of pid {pid}")
    after = int(ex[0]["vmrss_kb"]) - at_end
    want = {"decode": [(d, 0) for d, _, _, _ in fr],
            "detect": [(32, k) for _, k, _, _ in fr],
            "write": [(w, g) for _, _, w, g in fr[:-1]] + [(fr[-1][2], fr[-1][3] + after)]}
    ivs = js["intervals"]
    order = {"decode": 0, "detect": 1, "write": 2}
    for name, w in want.items():
        got = [i for i in ivs if i["name"] == name]
        if [(i["rise_kb"], i["growth_kb"]) for i in got] != w:
            errs.append(f"{name}: {len(got)} intervals (rise, growth) "
                        f"{[(i['rise_kb'], i['growth_kb']) for i in got][:6]}..., the workload "
                        f"made {w[:6]}...")
            continue
        for k, i in enumerate(got):
            j = 3 * k + order[name]
            _, a0, a1 = ms[j]
            if j + 1 < len(ms):
                _, b0, b1 = ms[j + 1]
                ok = i.get("closed_by") == "mark" and b0 <= i["end_ts_ns"] <= b1
            else:
                ok = i.get("closed_by") == "exit" and i["end_ts_ns"] == int(ex[0]["ts_ns"]) and \
                    i["exit_kb"] == int(ex[0]["vmrss_kb"])
            if not ok or not a0 <= i["start_ts_ns"] <= a1 or \
                    not i["start_ts_ns"] <= i["peak_ts_ns"] <= i["end_ts_ns"]:
                errs.append(f"{name} {k}: [{i['start_ts_ns']}, {i['end_ts_ns']}] closed by "
                            f"{i.get('closed_by')}, peak at {i['peak_ts_ns']}; its mark was "
                            f"written in [{a0}, {a1}], the next "
                            f"{ms[j + 1][1:] if j + 1 < len(ms) else ('exit', ex[0]['ts_ns'])}")
                break
    # one frame's stages follow each other: detect starts where decode ended
    dec = [i for i in ivs if i["name"] == "decode"]
    det = [i for i in ivs if i["name"] == "detect"]
    if [i["exit_kb"] for i in dec] != [i["entry_kb"] for i in det]:
        errs.append("a frame's detect does not start at the RSS its decode ended with")
    st = {x["name"]: x for x in js["stages"]}
    sums = {n: (x["count"], x["max_rise_kb"], x["growth_kb"], x.get("to_exit"))
            for n, x in st.items()}
    want_sums = {"decode": (100, max(d for d, _, _, _ in fr), 0, 0),
                 "detect": (100, 32, 32 * len(fr), 0),
                 "write": (100, max(w for _, _, w, _ in fr),
                           sum(g for _, _, _, g in fr) + after, 1)}
    if sums != want_sums:
        errs.append(f"stages (count, max_rise_kb, growth_kb, to_exit) {sums}, want {want_sums}")
    tab = run([BIN, "stages", csv_path]).stdout
    line = [l for l in tab.splitlines() if l.startswith("write ")]
    if not line or line[0].split()[2] != "100" or "ran to its process's exit" not in tab:
        errs.append(f"table: {tab[-600:]!r}")
    fail_if(errs, 5)


@suite.test("stages: a point stage ends at the next span's begin; the span keeps its pair")
def t_stages_point_mark_ends_at_span_begin():
    """frameloop 10 span: after the loop save:begin, 1 MiB kept, save:end.
    The last write ends at save:begin (not at the exit), the span holds
    exactly the 1 MiB, and nothing runs to the exit."""
    csv_path, fr, ms, _ = frameloop_run(10, "span")
    js = stages_json(csv_path)
    errs = []
    wr = [i for i in js["intervals"] if i["name"] == "write"]
    _, b0, b1 = ms[-2]
    if len(wr) != 10 or wr[-1]["closed_by"] != "mark" or not b0 <= wr[-1]["end_ts_ns"] <= b1 or \
            (wr[-1]["rise_kb"], wr[-1]["growth_kb"]) != fr[-1][2:]:
        errs.append(f"the last write {wr[-1:]}: want it ended by save:begin, written in "
                    f"[{b0}, {b1}], rise and growth {fr[-1][2:]}")
    sv = [i for i in js["intervals"] if i["name"] == "save"]
    if len(sv) != 1 or sv[0]["kind"] != "span" or (sv[0]["rise_kb"], sv[0]["growth_kb"]) != \
            (1024, 1024) or not ms[-1][1] <= sv[0]["end_ts_ns"] <= ms[-1][2]:
        errs.append(f"save span {sv}: want rise and growth 1024 kB, ended by save:end")
    if any(i.get("closed_by") != "mark" for i in js["intervals"]) or \
            any(x.get("to_exit") or x.get("to_trace_end") for x in js["stages"]):
        errs.append("a stage ran to the exit, though save:begin ended the last one")
    fail_if(errs, None)


def memreport_run(regex, unit="kB"):
    """memreport 3 UNIT under --checkpoint-regex REGEX: (CSV path, its R
    lines as (now_kb, peak_kb))."""
    tmp = tmpdir()
    csv_path, r = record(tmp, [workload("memreport"), "3", unit], "--checkpoint-regex", regex)
    rs = [(int(f[2]), int(f[3])) for f in (l.split() for l in r.stdout.splitlines())
          if f and f[0] == "R"]
    if len(rs) != 3:
        raise Fail(f"memreport output incomplete: {r.stdout[-300:]!r}")
    return csv_path, rs


def reported_of(js):
    return [x for c in js["checkpoints"] for x in c["reported"]]


@suite.test("validate: two figures on a line: the captured one's label decides; --compare")
def t_validate_two_figures_on_a_line():
    """memreport prints "Memory: N kB | Images: K | Peak: M kB" from its own
    /proc/self/status readings (exact on this kernel), N now and M the
    largest it read (held while it read it: the exact peak). Captured
    "Memory" is the RSS at the checkpoint (diff 0), whatever "Peak" says
    further on; captured "Peak" is the peak so far (diff 0). --compare
    current|peak decides for every value; junk is refused."""
    errs = []
    csv_mem, rs = memreport_run("Memory: ([0-9]+ kB)")
    js, _ = validate_json(csv_mem)
    got = [(x["reported_kb"], x["compared_to"], x.get("compare_basis"), x.get("compare_label"),
            x["diff_kb"]) for x in reported_of(js)]
    want = [(now, "rss", "label", "Memory:", 0) for now, _ in rs]
    if got != want or js["verdict"]["largest_error_kb"] != 0:
        errs.append(f"Memory values: {got}, want {want} (verdict {js['verdict']})")
    mem_rs = rs
    csv_peak, rs = memreport_run("Peak: ([0-9]+ kB)")
    js, _ = validate_json(csv_peak)
    got = [(x["reported_kb"], x["compared_to"], x.get("compare_label"), x["diff_kb"])
           for x in reported_of(js)]
    want = [(peak, "peak_so_far", "Peak:", 0) for _, peak in rs]
    if got != want or js["verdict"]["peak_trusted"] is not True:
        errs.append(f"Peak values: {got}, want {want} (verdict {js['verdict']})")
    fail_if(errs, None)     # (the rest overrides what auto chose)
    js, _ = validate_json(csv_mem, "--compare", "peak")
    got = [(x["compared_to"], x.get("compare_basis"), x["reference_kb"], x["diff_kb"])
           for x in reported_of(js)]
    want = [("peak_so_far", "option", peak, now - peak) for now, peak in mem_rs]
    if got != want:
        errs.append(f"Memory values with --compare peak: {got}, want {want}")
    for spelling in ("current", "rss"):
        js, _ = validate_json(csv_peak, "--compare", spelling)
        got = [(x["compared_to"], x.get("compare_basis"), x["diff_kb"]) for x in reported_of(js)]
        want = [("rss", "option", peak - now) for now, peak in rs]
        if got != want:
            errs.append(f"Peak values with --compare {spelling}: {got}, want {want}")
    # the line of issue 12, in whole MB: off by the rounding only
    csv_mb, rs = memreport_run("Memory: ([0-9]+ MB)", "MB")
    js, _ = validate_json(csv_mb)
    pct = js["verdict"]["largest_error_pct"]
    if any(x["compared_to"] != "rss" for x in reported_of(js)) or not -4 < pct < 4:
        errs.append(f"MB values: {[(x['text'], x['compared_to']) for x in reported_of(js)]}, "
                    f"largest error {pct} % (rounding to whole MiB of >= 13 MiB: under 4 %)")
    e = refusal(["validate", csv_mem, "--compare", "junk"], 2,
                ("--compare junk", "current", "peak", "auto"), silent_stdout=True)
    if e:
        errs.append(e)
    h = run([BIN, "validate", "--help"]).stdout
    if "--compare current" not in h or "--compare=" not in h:
        errs.append("validate --help lacks --compare and its example --compare current")
    fail_if(errs, None)


if __name__ == "__main__":
    sys.exit(suite.main())
