#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The trace as JSON Lines (`-o trace.jsonl`, `--format jsonl`, `-o -`).

Real runs recorded as root: each line parsed by Python's json module, its
keys the CSV's columns, typed as the README says, the rows, the peak and
the workload's own /proc/self/status readings exact; the same trace
written back as CSV here (Python's csv module, not our writer) gives every
offline subcommand the same answer as the JSON Lines file, and so does
the file after jq has rewritten it, and compressed (.jsonl.zst, .jsonl.gz);
`-o - --format jsonl` piped into a real jq; a run stopped with SIGINT
leaves whole objects only; bad command lines and malformed files get a
message naming the problem, and no trace.

Output and environment: see tests/harness.py; the closing line is
`jsonl: N passed, N failed, N skipped`.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import time

from harness import (BIN, TRACE_HEADER, Fail, Skip, Suite, fail_if, load_summary, parse_cps,
                     refusal, spawn, finish, tail, tmpdir, tool, workload, write_file)

suite = Suite("jsonl", builds=("holder", "transients", "marks"))

COLUMNS = TRACE_HEADER.split(",")
TEXT = ("event", "cause", "label", "reported")
# the columns a row may leave empty (README): absent from its object
SPARSE = ("cause", "addr", "ip", "len", "ret", "label", "reported", "reported_kb", "folded")

# marks whose names need quoting in the CSV and escaping in JSON
SH = r'''
m() { printf '%s\n' "$1" >&$MEMTRACE_MARK_FD; }
m 'a,comma'
m 'say "hi"'
m 'back\slash'
m 'café'
exec "$@"
'''
LABELS = ("a,comma", 'say "hi"', "back\\slash", "caf\u00e9")


def read_jsonl(path):
    """The objects of a JSON Lines file (plain or compressed), each line
    one object: fails naming the first line that is not."""
    text = subprocess.run(["zstd", "-dcf", path] if path.endswith(".zst") else
                          ["gzip", "-dcf", path], stdout=subprocess.PIPE,
                          check=True).stdout.decode("utf-8")
    rows = []
    for n, line in enumerate(text.split("\n")[:-1], 1):
        try:
            o = json.loads(line)
        except ValueError as e:
            raise Fail("%s:%d: not JSON (%s): %r" % (path, n, e, line[:120]))
        if not isinstance(o, dict):
            raise Fail("%s:%d: not an object: %r" % (path, n, line[:120]))
        rows.append(o)
    if not text.endswith("\n"):
        raise Fail("%s: the last line is not whole: %r" % (path, text[-120:]))
    return rows


def type_errors(rows):
    """What in rows breaks the README's rules: keys the CSV's columns, in
    its order; event/cause/label/reported strings; the others numbers
    unless a hex address or words."""
    errs = []
    for n, o in enumerate(rows, 1):
        keys = list(o)
        if [k for k in COLUMNS if k in o] != keys:
            errs.append("row %d: keys %r not the CSV's columns in order" % (n, keys))
        for k, v in o.items():
            if k in TEXT and not isinstance(v, str):
                errs.append("row %d: %s %r not a string" % (n, k, v))
            elif k not in TEXT and k not in ("addr", "ip", "ret") and \
                    not isinstance(v, (int, float)):
                errs.append("row %d: %s %r not a number" % (n, k, v))
            elif k in ("addr", "ip", "ret") and isinstance(v, str) and \
                    not (v.startswith("0x") or v.isalpha() or "+" in v):
                errs.append("row %d: %s %r: a string that is neither hex nor words" % (n, k, v))
        if len(errs) > 5:
            break
    return errs


def to_csv(rows, path, columns=COLUMNS):
    """rows written as the trace CSV by Python's csv module: None and
    absent keys empty, numbers as JSON spelled them (Python's repr of a
    float is the shortest that reads back the same)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for o in rows:
            w.writerow(["" if o.get(k) is None else
                        ("%.9f" % o[k] if k == "time_s" else str(o[k])) for k in columns])


def answers(path, tmp, name):
    """What each offline subcommand says about path, the file's name taken
    out: {what: text or bytes}."""
    out = {}
    base = os.path.basename(path)
    for what, args in (("spikes", ["spikes", path]),
                       ("spikes json", ["spikes", path, "--format", "json"]),
                       ("validate", ["validate", path]),
                       ("stages", ["stages", path]),
                       ("resample", ["resample", path, "--every", "1ms", "-o", "-"])):
        r = tool(*args)
        out[what] = (r.returncode, r.stdout.replace(path, "T").replace(base, "T"),
                     r.stderr.replace(path, "T").replace(base, "T"))
    pf = os.path.join(tmp, name + ".pftrace")
    r = tool("export", "--perfetto", path, "-o", pf)
    out["export"] = (r.returncode, open(pf, "rb").read() if r.returncode == 0 else r.stderr)
    html = os.path.join(tmp, name + ".html")
    r = tool("report", path, "-o", html)
    out["report"] = (r.returncode, open(html).read().replace(path, "T").replace(base, "T")
                     if r.returncode == 0 else r.stderr)
    return out


def holder_run(tmp, name, *opts, size=24, code=0):
    """The holder workload under the marks of SH, traced into TMP/NAME:
    (path, its summary, its CP readings)."""
    path = os.path.join(tmp, name)
    r = subprocess.run([BIN, "-q", "-o", path, *opts, "--", "sh", "-c", SH, "sh",
                        workload("holder"), str(size), str(code)], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if r.returncode != code:
        raise Fail("memtrace-bpf -o %s: exit %d: %s" % (name, r.returncode,
                                                         tail(r.stderr.decode())))
    s = load_summary(os.path.join(tmp, name.split(".jsonl")[0] + ".summary.json"))
    return path, s, parse_cps(r.stdout.decode())


@suite.test("-o t.jsonl: one object a row, keys the CSV's columns in order and typed, the "
            "rows, the peak and each /proc/self/status reading exact, quoted and UTF-8 "
            "labels whole")
def t_jsonl_exact():
    tmp = tmpdir()
    errs = []
    path, s, cps = holder_run(tmp, "t.jsonl")
    rows = read_jsonl(path)
    errs += type_errors(rows)
    if s.get("trace_rows") != len(rows) or s.get("trace_complete") is not True:
        errs.append("summary trace_rows %r complete %r; the file has %d rows"
                    % (s.get("trace_rows"), s.get("trace_complete"), len(rows)))
    peak = max(o["vmrss_kb"] for o in rows)
    top = max((c.vmrss for c in cps), default=None)
    if peak != s.get("peak_rss_kb") or top is None or peak < top:
        errs.append("rows' peak %d, summary's %r, the workload read %r" % (
            peak, s.get("peak_rss_kb"), top))
    # each reading: the row of the checkpoint's read has the VmRSS it read
    ck = [o for o in rows if o.get("event") == "checkpoint"][-len(cps):]
    if not cps or len(ck) != len(cps) or any(o["vmrss_kb"] != c.vmrss for o, c in zip(ck, cps)):
        errs.append("checkpoint rows %r, the workload's readings %r" % (
            [o["vmrss_kb"] for o in ck], [c.vmrss for c in cps]))
    labels = [o.get("label") for o in rows if o.get("event") == "mark"]
    if labels != list(LABELS):
        errs.append("mark labels %r, want %r" % (labels, LABELS))
    ex = [o for o in rows if o.get("event") == "exit"]
    if not ex or ex[-1].get("ret") != 0:
        errs.append("exit rows %r" % ex[-2:])
    if not any(o.get("event") == "rss" and isinstance(o.get("addr"), str) and
               o["addr"].startswith("0x") for o in rows):
        errs.append("no rss row with a hex fault address")
    fail_if(errs)


@suite.test("the same trace as JSON Lines, as CSV written by Python, through jq, as "
            ".jsonl.zst and .jsonl.gz: spikes, validate, stages, resample, export and report "
            "answer the same")
def t_jsonl_roundtrip():
    if not shutil.which("jq"):
        raise Skip("no jq (apt-get install jq)")
    tmp = tmpdir()
    errs = []
    # a transient, checkpoints and marks: every analysis has something to say
    rec, cmp = os.path.join(tmp, "rec"), os.path.join(tmp, "cmp")
    os.makedirs(rec)
    os.makedirs(cmp)
    path, s, _ = holder_run(rec, "t.jsonl", size=32)
    # the copies where no summary is beside them (report shows one if there)
    rows = read_jsonl(path)
    shutil.copy(path, os.path.join(cmp, "j.jsonl"))
    path = os.path.join(cmp, "j.jsonl")
    to_csv(rows, os.path.join(cmp, "t.csv"))
    with open(os.path.join(cmp, "q.jsonl"), "w") as f:
        subprocess.run(["jq", "-c", ".", path], stdout=f, check=True)
    for ext, z in ((".jsonl.zst", ["zstd", "-q", "-c"]), (".jsonl.gz", ["gzip", "-c"])):
        with open(path) as src, open(os.path.join(cmp, "z" + ext), "wb") as f:
            subprocess.run(z, stdin=src, stdout=f, check=True)
    tmp = cmp
    want = answers(path, tmp, "j")
    if want["spikes"][0] != 0 or want["export"][0] != 0 or want["report"][0] != 0:
        errs.append("the JSON Lines trace: %r" % ({k: v[0] for k, v in want.items()},))
    for name in ("t.csv", "q.jsonl", "z.jsonl.zst", "z.jsonl.gz"):
        got = answers(os.path.join(tmp, name), tmp, name.replace(".", "_"))
        for what in want:
            if got[what] != want[what]:
                errs.append("%s: %s answers otherwise than the JSON Lines file: %r vs %r"
                            % (name, what, str(got[what])[:200], str(want[what])[:200]))
    # a few columns only, as jq '{time_s,ts_ns,...}' leaves them: the same
    # answers as a CSV of those columns and of those a row of ours may
    # leave empty (absent from an object: empty, never missing)
    few = ["time_s", "vmrss_kb", "ts_ns", "pid", "event", "cause"]
    with open(os.path.join(tmp, "p.jsonl"), "w") as f:
        subprocess.run(["jq", "-c", "{%s}" % ",".join(few), path], stdout=f, check=True)
    to_csv([{k: o.get(k) for k in few} for o in rows], os.path.join(tmp, "p.csv"),
           few + [c for c in SPARSE if c not in few])
    pj, pc = answers(os.path.join(tmp, "p.jsonl"), tmp, "pj"), \
        answers(os.path.join(tmp, "p.csv"), tmp, "pc")
    for what in pj:
        if pj[what] != pc[what] or pj[what][0] != 0:
            errs.append("a projection: %s answers %r for the JSON Lines, %r for the CSV"
                        % (what, str(pj[what])[:200], str(pc[what])[:200]))
    fail_if(errs)


@suite.test("-o - --format jsonl into jq: the peak jq finds is the summary's, the exit row "
            "has the command's status")
def t_jsonl_stdout_jq():
    if not shutil.which("jq"):
        raise Skip("no jq (apt-get install jq)")
    tmp = tmpdir()
    sp = os.path.join(tmp, "s.json")
    script = ('"$1" -q -o - --format jsonl -s "$2" -- sh -c \'exec "$0" 16 3 >&2\' "$3" '
              '</dev/null 2>/dev/null | jq -s -c \'[(map(.vmrss_kb) | max), '
              '(map(select(.event == "exit")) | map(.ret))]\'')
    r = subprocess.run(["sh", "-c", script, "sh", BIN, sp, workload("holder")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    s = load_summary(sp)
    try:
        peak, rets = json.loads(r.stdout)
    except ValueError:
        raise Fail("jq said %r (stderr %r)" % (r.stdout[:200], r.stderr[:200]))
    if peak != s.get("peak_rss_kb") or rets != [3] or s.get("exit_code") != 3:
        raise Fail("jq: peak %r, exit rows' ret %r; summary peak %r exit %r" % (
            peak, rets, s.get("peak_rss_kb"), s.get("exit_code")))


@suite.test("SIGINT during a run: the .jsonl and .jsonl.zst files end at a whole object, "
            "their rows counted in the summary")
def t_jsonl_sigint():
    tmp = tmpdir()
    errs = []
    for name in ("i.jsonl", "i.jsonl.zst"):
        path = os.path.join(tmp, name)
        # busy: allocating until stdin says stop; SIGINT ends the trace
        p = spawn([BIN, "-q", "-o", path, "--", workload("holder"), "8", "0", "busy"],
                  stdin=subprocess.PIPE)
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        rc, out, err = finish(p, 60)
        try:
            rows = read_jsonl(path)
        except Fail as e:
            errs.append(str(e))
            continue
        s = load_summary(os.path.join(tmp, "i.summary.json"))
        if not rows or s.get("trace_rows") != len(rows) or s.get("interrupted") is not True:
            errs.append("%s: exit %d, %d rows, summary trace_rows %r interrupted %r: %s" % (
                name, rc, len(rows), s.get("trace_rows"), s.get("interrupted"), tail(err)))
    fail_if(errs)


BAD_FILES = (
    ("open.jsonl", '{"time_s":0.1,"vmrss_kb":5\n', ":1: an object not closed"),
    ("nested.jsonl", '{"time_s":0.1,"vmrss_kb":{"a":1}}\n', ":1: an object or array where"),
    ("array.jsonl", '{"time_s":0.1,"vmrss_kb":5}\n[1,2]\n', ":2: a JSON value that is not an"),
    ("trailing.jsonl", '{"time_s":0.1,"vmrss_kb":5} x\n', ":1: not a JSON object at byte"),
    ("nul.jsonl", '{"time_s":0.1,"vmrss_kb":5,"label":"a\\u0000b"}\n', ":1: a NUL character"),
    ("utf8.jsonl", b'{"time_s":0.1,"vmrss_kb":5,"label":"\xff"}\n', ":1: not a JSON object"),
    ("no-rss.jsonl", '{"time_s":0.1,"vmrss_kb":5}\n{"time_s":0.2}\n',
     ":2: column vmrss_kb: '' is not a size in kB"),
    ("null-rss.jsonl", '{"time_s":0.1,"vmrss_kb":null}\n', ":1: not a memory trace"),
    ("time-base-changes.jsonl", '{"time_s":0.1,"vmrss_kb":5}\n{"ts_ns":9,"vmrss_kb":6}\n',
     ":2: column time_s: '' is not a time in seconds"),
    ("string-rss.jsonl", '{"time_s":0.1,"vmrss_kb":"5k"}\n', ":1: column vmrss_kb: '5k'"),
    ("backwards.jsonl", '{"ts_ns":200,"vmrss_kb":5}\n{"ts_ns":100,"vmrss_kb":6}\n',
     ":2: column ts_ns: '100' goes back in time"),
)


@suite.test("bad command lines and malformed JSON Lines files: a message naming the problem "
            "(file:line), no trace left", root=False)
def t_jsonl_bad():
    tmp = tmpdir()
    errs = []
    for args, rc, needle in (
            (["-o", os.path.join(tmp, "x.csv"), "--format", "jsonl", "--", "true"], 1,
             "the name says CSV"),
            (["-o", os.path.join(tmp, "x.jsonl"), "--format", "csv", "--", "true"], 1,
             "the name says JSON Lines"),
            (["--format", "xml", "--", "true"], 2, "--format xml: csv (the default) or jsonl"),
            (["--comm", "x", "-d", tmp, "--format", "jsonl"], 2,
             "capture mode writes CSV traces")):
        e = refusal(args, rc, needle)
        if e:
            errs.append(e)
    left = sorted(os.listdir(tmp))
    if left:
        errs.append("files left by the refusals: %r" % left)
    for name, data, needle in BAD_FILES:
        p = os.path.join(tmp, name)
        write_file(p, data) if isinstance(data, str) else open(p, "wb").write(data)
        for sub in ("spikes", "validate", "resample"):
            r = tool(sub, p)
            # validate wants events: a file whose first object has none is
            # refused for that before any row
            if r.returncode != 1 or ((p + needle) not in r.stderr and not
                                     (sub == "validate" and "has no event" in r.stderr)):
                errs.append("%s %s: exit %d, %r (want 1 and %r)" % (
                    sub, name, r.returncode, r.stderr.strip()[:200], needle))
    # another program's JSON Lines: time_s and vmrss_kb only, keys in any order
    p = os.path.join(tmp, "poller.jsonl")
    write_file(p, '{"vmrss_kb":1000,"time_s":0.0}\n{"time_s":0.01,"vmrss_kb":9000}\n'
                  '{"time_s":0.02,"vmrss_kb":1000,"other":[1]}\n')
    r = tool("spikes", p, "--format", "json")
    try:
        sp = json.loads(r.stdout)["spikes"] if r.returncode == 0 else None
    except (ValueError, KeyError):
        sp = None
    if not sp or sp[0].get("peak_kb") != 9000:
        errs.append("a poller's JSON Lines: exit %d, %r %r" % (r.returncode, r.stdout[:200],
                                                              r.stderr[:200]))
    fail_if(errs)


if __name__ == "__main__":
    suite.main()
