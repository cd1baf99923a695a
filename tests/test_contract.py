#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The user-visible contract of memtrace-bpf, recorded from one build and
checked against the current one: what a refactor that must not change
behaviour has to keep.

    tests/test_contract.py            check $MEMTRACE_BPF against tests/contract/
    tests/test_contract.py --record [--commit SHA]
                                      write tests/contract/ from $MEMTRACE_BPF

The golden files (tests/contract/*.json; each says in "recorded" which
binary, commit and command made it):
- help.json: for memtrace-bpf and each subcommand (record, spikes,
  validate, stages, campaign, campaign report), the options its --help
  lists (short letter, long name, argument name) and its usage lines (the
  `Usage:` line and the USAGE: block). Not the descriptions' wording.
- files.json: the CSV header of a launch trace, of a captured trace and of
  a campaign run's trace; the JSON key paths, with JSON value types, of the
  summary of a launch, an attach and a capture (`record --comm -d`) run;
  of a campaign: the headers of campaign.csv, stats.csv and a run's
  result.csv, the key paths of stats.json, run.json and a run's
  summary.json, and the files a run directory holds.
- exit_status.json: the exit status of a fixed table of invocations: bad
  input for each subcommand and success of each on a small trace.

Excluded, the one user-visible change allowed: the default output file
names when -o is not given (today memtrace.csv and memtrace.summary.json in
the current directory). No check looks at them: invocations without -o are
judged by their exit status only.

Output and environment: see tests/harness.py; the closing line is
`contract: N passed, N failed, N skipped`.
"""

import copy
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

from harness import (BIN, CSV_HEADER, ROOT, TESTS_DIR, WL_DIR, Fail, Suite, cached, clean_tmp,
                     fail_if, kill_tracked, read_json, read_text, record, run, spawn, suite_tmpdir, tail,
                     summary_path, tmpdir, tool, workload, write_file)

CONTRACT_DIR = os.path.join(TESTS_DIR, "contract")
EXCLUDED = ("the default output file names when -o is not given (memtrace.csv and "
            "memtrace.summary.json in the current directory): the one user-visible change "
            "allowed to the refactor of user/ and bpf/")

# the commands whose --help is part of the contract: name -> argv after the binary
COMMANDS = {
    "memtrace-bpf": [],
    "record": ["record"],
    "spikes": ["spikes"],
    "validate": ["validate"],
    "stages": ["stages"],
    "campaign": ["campaign"],
    "campaign report": ["campaign", "report"],
}

suite = Suite("contract", builds=("matrix", "transients"))


# --------------------------------------------------------------------------
# --help: options and usage lines

# an argp option line: "  -o, --output=FILE   ...", "      --follow   ...",
# "  -x ARG   ..."; (examples continued on a new line are indented otherwise)
OPT_LINE = re.compile(r"^(?:  -(?P<short>[^\s,-])(?:, (?=--)|(?=\s|$))|      (?=--))(?P<rest>.*)$")


def parse_options(text):
    """The options of a --help text, as sorted "-s, --long=ARG" strings
    (argp's own spelling of the names and argument, without the
    description)."""
    opts = set()
    for line in text.splitlines():
        m = OPT_LINE.match(line)
        if not m:
            continue
        short, rest = m.group("short"), m.group("rest")
        if rest.startswith("--"):
            # "--name=ARG" or "--name[=ARG]" (an ARG may hold commas:
            # PID[,PID]), aliases after ", "; then the description, after
            # one blank or more
            toks = rest.split()
            parts = [toks[0]]
            for t in toks[1:]:
                if not (parts[-1].endswith(",") and t.startswith("-")):
                    break
                parts[-1] = parts[-1][:-1]
                parts.append(t)
            longs = [re.match(r"--([\w-]+)", x).group(1) for x in parts]
            arg = re.match(r"--[\w-]+(.*)$", parts[-1]).group(1)
        elif short and rest.startswith(" ") and not rest.startswith("  ") and rest.strip():
            longs, arg = [], " " + rest.split()[0]      # -x ARG
        else:
            longs, arg = [], ""
        names = (["-" + short] if short else []) + ["--" + n for n in longs]
        opts.add(", ".join(names) + arg)
    return sorted(opts)


def usage_lines(text):
    """argp's `Usage:`/`  or:` lines, and the USAGE: block (one entry per
    form; a form wrapped onto a line that starts at column 0 is joined),
    blanks collapsed."""
    out = []
    lines = text.splitlines()
    prog = os.path.basename(BIN)
    for line in lines:
        if line.startswith("Usage: ") or line.startswith("  or: "):
            # argp names the program by its argv[0]: the binary under test
            # may be a copy under another name
            line = re.sub(r"^(Usage:|  or:) %s\b" % re.escape(prog), r"\1 memtrace-bpf", line)
            out.append(" ".join(line.split()))
    block = False
    for line in lines:
        if line.startswith("USAGE:"):
            block = True
            out.append(" ".join(line.split()))
        elif block and not line.strip():
            break
        elif block and line[:1].isspace():
            out.append(" ".join(line.split()))
        elif block:
            out[-1] += " " + " ".join(line.split())
    return out


def help_of(argv):
    r = tool(*argv, "--help", timeout=30)
    if r.returncode != 0:
        raise Fail("%s --help: exit %d" % (shlex.join(argv), r.returncode))
    return {"usage": usage_lines(r.stdout), "options": parse_options(r.stdout)}


def collect_help():
    return {name: help_of(argv) for name, argv in COMMANDS.items()}


# --------------------------------------------------------------------------
# files: CSV headers, JSON key paths

def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def key_paths(v):
    """Every path in a JSON value, `.a.b`, `.list[]` for the elements of a
    list (merged), with the JSON types seen there ("number|null")."""
    seen = {}

    def walk(x, path):
        seen.setdefault(path or ".", set()).add(json_type(x))
        if isinstance(x, dict):
            for k, y in x.items():
                walk(y, "%s.%s" % (path, k))
        elif isinstance(x, list):
            for y in x:
                walk(y, path + "[]")
    walk(v, "")
    return {p: "|".join(sorted(t)) for p, t in sorted(seen.items())}


def json_keys(path):
    return key_paths(read_json(path))


def header(path):
    """The first line of a CSV file (plain or compressed)."""
    return read_text(path).split("\n", 1)[0]


def launch_run():
    """A launch run that touches most of the summary: marks, a checkpoint,
    a --checkpoint-regex line, a peak limit, spikes (children: sh, cat,
    transients). Its trace is the small trace of the offline subcommands."""
    def go():
        d = os.path.join(suite_tmpdir(), "launch")
        os.mkdir(d)
        script = ('echo load:begin >&"$MEMTRACE_MARK_FD"; cat /proc/self/status >/dev/null; '
                  'echo "RSS: 5 kB"; "$0" short 3 0 8; echo load:end >&"$MEMTRACE_MARK_FD"')
        csv_path, _ = record(d, ["sh", "-c", script, workload("transients")],
                             "--max-peak", "1G", "--checkpoint-regex", "RSS: ([0-9]+ kB)")
        return csv_path
    return cached("launch", go)


def attach_run():
    def go():
        d = os.path.join(suite_tmpdir(), "attach")
        os.mkdir(d)
        target = spawn(["sleep", "3"])
        csv_path = os.path.join(d, "a.csv")
        r = run([BIN, "-q", "-p", str(target.pid), "-o", csv_path], timeout=60)
        if r.returncode != 0:
            raise Fail("attach: exit %d: %s" % (r.returncode, tail(r.stderr)))
        return csv_path
    return cached("attach", go)


def capture_run():
    """record --comm NAME -d DIR while one process of that name runs."""
    def go():
        d = os.path.join(suite_tmpdir(), "capture")
        os.mkdir(d)
        name = "mtcon%d" % (os.getpid() % 100000)
        prog = os.path.join(d, name)
        shutil.copy(workload("matrix"), prog)
        out = os.path.join(d, "cap")
        with open(os.path.join(d, "err"), "w+") as err:
            cap = spawn([BIN, "record", "--comm", name, "-d", out], stdout=subprocess.DEVNULL,
                        stderr=err)
            deadline = time.monotonic() + 60
            while "waiting for processes" not in open(err.name).read():
                if cap.poll() is not None or time.monotonic() > deadline:
                    raise Fail("record --comm did not get ready: %s" % tail(open(err.name).read()))
                time.sleep(0.05)
            r = run([prog, "2", "1"], timeout=60)
            time.sleep(0.3)
            cap.send_signal(signal.SIGINT)
            try:
                rc = cap.wait(timeout=60)
            except subprocess.TimeoutExpired:
                raise Fail("record --comm did not end within 60 s of SIGINT")
        traces = os.listdir(out) if os.path.isdir(out) else []
        if rc != 0 or r.returncode != 0 or len(traces) != 1:
            raise Fail("capture: exit %d, workload exit %d, traces %s: %s"
                       % (rc, r.returncode, traces, tail(open(err.name).read())))
        return os.path.join(out, traces[0])
    return cached("capture", go)


def campaign_run():
    """A 2-run campaign of matrix; returns its directory."""
    def go():
        d = os.path.join(suite_tmpdir(), "campaign")
        r = tool("campaign", "-q", "-d", d, "--param", "A=1,2", "--",
                 os.path.join(WL_DIR, "matrix"), "{A}", "1", timeout=120)
        if r.returncode != 0:
            raise Fail("campaign: exit %d: %s" % (r.returncode, tail(r.stderr)))
        return d
    return cached("campaign", go)


def files_of(csv_path):
    """A record run's files: its trace (-o X.csv) and its summary."""
    return {"trace.csv header": header(csv_path),
            "summary keys": json_keys(summary_path(csv_path))}


def files_capture():
    td = capture_run()
    return {"files": sorted(os.listdir(td)),
            "trace.csv header": header(os.path.join(td, "trace.csv")),
            "summary keys": json_keys(os.path.join(td, "summary.json"))}


def files_campaign():
    d = campaign_run()
    rd = os.path.join(d, "A=1", "1")
    return {"files": sorted(os.listdir(d)),
            "run files": sorted(os.listdir(rd)),
            "campaign.csv header": header(os.path.join(d, "campaign.csv")),
            "stats.csv header": header(os.path.join(d, "stats.csv")),
            "stats.json keys": json_keys(os.path.join(d, "stats.json")),
            "result.csv header": header(os.path.join(rd, "result.csv")),
            "run.json keys": json_keys(os.path.join(rd, "run.json")),
            "trace.csv header": header(os.path.join(rd, "trace.csv.zst")),
            "summary keys": json_keys(os.path.join(rd, "summary.json"))}


FILES = {"launch": lambda: files_of(launch_run()), "attach": lambda: files_of(attach_run()),
         "capture": files_capture, "campaign": files_campaign}


def collect_files():
    return {what: fn() for what, fn in FILES.items()}


# --------------------------------------------------------------------------
# exit status

# (subcommand the invocation is about, argv after the binary). In argv:
# {d} a fresh directory (also the cwd), {trace} the launch run's trace
# (marks, a checkpoint, spikes), {campaign} a finished campaign, {pid} this
# process, {nocp} a trace without checkpoints or marks, {poll} a poller's
# time_s,vmrss_kb file, {bad} a trace with a malformed row, {notcamp} a
# directory that is no campaign. Other {NAME} are the campaign's own.
INVOCATIONS = [
    ("record", ["--bogus"]),
    ("record", ["record", "--bogus"]),
    ("record", []),
    ("record", ["-o", "{d}/t.csv"]),
    ("record", ["-p", "abc", "-o", "{d}/t.csv"]),
    ("record", ["-p", "{pid}", "-o", "{d}/t.csv", "--", "true"]),
    ("record", ["--ring-size", "12abc", "-o", "{d}/t.csv", "--", "true"]),
    ("record", ["--ring-size", "1000", "-o", "{d}/t.csv", "--", "true"]),
    ("record", ["--interval", "5parsecs", "-o", "{d}/t.csv", "--", "true"]),
    ("record", ["--max-procs", "x", "-o", "{d}/t.csv", "--", "true"]),
    ("record", ["--max-peak", "12abc", "--", "true"]),
    ("record", ["--max-peak", "1G", "--tolerance", "-5%", "--", "true"]),
    ("record", ["--tolerance", "10%", "--", "true"]),
    ("record", ["--checkpoint-regex", "a(b", "--", "true"]),
    ("record", ["--checkpoint-regex", "Peak", "--", "true"]),
    ("record", ["-o", "-", "--checkpoint-regex", "(x)", "--", "true"]),
    ("record", ["--log", "x.log", "--", "true"]),
    ("record", ["-p", "{pid}", "--checkpoint-regex", "(x)"]),
    ("record", ["record", "--comm", "x"]),
    ("record", ["record", "-d", "{d}"]),
    ("record", ["record", "--comm", "x", "-d", "{d}", "-p", "1"]),
    ("record", ["record", "--comm", "x", "-d", "{d}", "-o", "t.csv"]),
    ("record", ["record", "--comm", "a/b", "-d", "{d}"]),
    ("record", ["record", "--comm", "x", "-d", "{d}", "--as-root"]),
    ("record", ["record", "--cgroup", "no-such-cgroup-here", "-d", "{d}"]),
    ("record", ["record", "--comm", "x", "-d", "/proc/nope/dir"]),
    ("record", ["-p", "2", "-o", "{d}/t.csv"]),
    ("record", ["-o", "{d}/no-such-dir/t.csv", "--", "true"]),
    ("record", ["-o", "{d}", "--", "true"]),
    ("record", ["--btf", "/nonexistent", "-o", "{d}/t.csv", "--", "true"]),
    ("record", ["-o", "/dev/full", "-s", "{d}/f.json", "--", "true"]),
    ("record", ["--help"]),
    ("record", ["--usage"]),
    ("record", ["--version"]),
    ("record", ["-q", "--", "true"]),
    ("record", ["-q", "-o", "{d}/t.csv", "--", "true"]),
    ("record", ["record", "-q", "-o", "{d}/t.csv", "--", "true"]),
    ("record", ["-q", "-o", "{d}/t.csv", "--", "sh", "-c", "exit 7"]),
    ("record", ["-q", "-o", "{d}/t.csv", "--", "sh", "-c", "kill -TERM $$"]),
    ("record", ["-q", "-o", "{d}/t.csv", "--", "{d}/no-such-command"]),
    ("record", ["-q", "-o", "{d}/t.csv", "--max-peak", "1K", "--", "true"]),
    ("record", ["-q", "-o", "{d}/t.csv", "--max-peak", "1G", "--", "true"]),
    ("spikes", ["spikes"]),
    ("spikes", ["spikes", "--bogus"]),
    ("spikes", ["spikes", "{d}/none.csv"]),
    ("spikes", ["spikes", "{bad}"]),
    ("spikes", ["spikes", "{trace}", "--min-rise", "12abc"]),
    ("spikes", ["spikes", "{trace}", "--poll", "0"]),
    ("spikes", ["spikes", "{trace}", "--format", "xml"]),
    ("spikes", ["spikes", "{trace}", "--settle", "150%"]),
    ("spikes", ["spikes", "{trace}", "--window", "5parsecs"]),
    ("spikes", ["spikes", "--help"]),
    ("spikes", ["spikes", "{trace}"]),
    ("spikes", ["spikes", "{trace}", "--format", "json"]),
    ("spikes", ["spikes", "{trace}", "--poll", "10ms,100ms", "--top", "0"]),
    ("spikes", ["spikes", "{trace}", "--window", "1s", "--min-rise", "4M"]),
    ("spikes", ["spikes", "{poll}"]),
    ("validate", ["validate"]),
    ("validate", ["validate", "--bogus"]),
    ("validate", ["validate", "{d}/none.csv"]),
    ("validate", ["validate", "{nocp}"]),
    ("validate", ["validate", "{poll}"]),
    ("validate", ["validate", "{bad}"]),
    ("validate", ["validate", "{trace}", "--format", "xml"]),
    ("validate", ["validate", "{trace}", "--compare", "both"]),
    ("validate", ["validate", "{trace}", "--tolerance", "5x"]),
    ("validate", ["validate", "--help"]),
    ("validate", ["validate", "{trace}"]),
    ("validate", ["validate", "{trace}", "--format", "json"]),
    ("validate", ["validate", "{trace}", "--compare", "peak", "--si", "--tolerance", "2%"]),
    ("stages", ["stages"]),
    ("stages", ["stages", "--bogus"]),
    ("stages", ["stages", "{d}/none.csv"]),
    ("stages", ["stages", "{nocp}"]),
    ("stages", ["stages", "{bad}"]),
    ("stages", ["stages", "{trace}", "--format", "xml"]),
    ("stages", ["stages", "{trace}", "--pid", "x"]),
    ("stages", ["stages", "--help"]),
    ("stages", ["stages", "{trace}"]),
    ("stages", ["stages", "{trace}", "--format", "json"]),
    ("campaign", ["campaign"]),
    ("campaign", ["campaign", "--bogus"]),
    ("campaign", ["campaign", "--", "true"]),
    ("campaign", ["campaign", "-d", "{d}/c", "--param", "1X=2", "--", "echo", "{X}"]),
    ("campaign", ["campaign", "-d", "{d}/c", "--param", "A=1,,2", "--", "echo", "{A}"]),
    ("campaign", ["campaign", "-d", "{d}/c", "--param", "A=1", "--", "echo", "{A}", "{C}"]),
    ("campaign", ["campaign", "-d", "{d}/c", "--jobs", "0", "--", "true"]),
    ("campaign", ["campaign", "-d", "{d}/c", "--repeat", "0", "--", "true"]),
    ("campaign", ["campaign", "-d", "{d}/c", "--param", "A=1", "--param", "A=2", "--",
                  "echo", "{A}"]),
    ("campaign", ["campaign", "-d", "{d}/c", "--file", "{d}/runs.txt", "--", "true"]),
    ("campaign", ["campaign", "-d", "{d}/c", "--file", "{d}/nonexistent.txt"]),
    ("campaign", ["campaign", "-d", "{campaign}", "--param", "A=3", "--", "true"]),
    ("campaign", ["campaign", "--help"]),
    ("campaign", ["campaign", "-q", "-d", "{d}/c", "--param", "A=1,2", "--", "sh", "-c",
                  "exit 0"]),
    ("campaign", ["campaign", "-q", "-d", "{d}/c", "--jobs", "2", "--repeat", "2", "--", "true"]),
    ("campaign", ["campaign", "-q", "-d", "{d}/c", "--", "sh", "-c", "exit 3"]),
    ("campaign report", ["campaign", "report"]),
    ("campaign report", ["campaign", "report", "{d}/nonexistent"]),
    ("campaign report", ["campaign", "report", "{notcamp}"]),
    ("campaign report", ["campaign", "report", "{campaign}", "--format", "xml"]),
    ("campaign report", ["campaign", "report", "--help"]),
    ("campaign report", ["campaign", "report", "{campaign}"]),
    ("campaign report", ["campaign", "report", "{campaign}", "--format", "json"]),
]


def fixtures():
    """The files the invocations name, made once."""
    def go():
        d = os.path.join(suite_tmpdir(), "fixtures")
        os.mkdir(d)
        files = {"nocp": CSV_HEADER + "\n0.1,100,200,1000,7,7,rss,100,0,0,0,100,fault,0x1,0x2,,,,,\n",
                 "poll": "time_s,vmrss_kb\n0.0,100\n0.1,200\n0.2,100\n",
                 "bad": CSV_HEADER + "\n0.1,xx,200,1000,7,7,checkpoint,100,0,0,0,100,status,3,,,1,,,\n"}
        fx = {name: write_file(os.path.join(d, name + ".csv"), text)
              for name, text in files.items()}
        fx["notcamp"] = os.path.join(d, "notcamp")
        os.mkdir(fx["notcamp"])
        write_file(os.path.join(fx["notcamp"], "notes.txt"), "not a campaign\n")
        fx["pid"] = str(os.getpid())
        return fx
    return cached("fixtures", go)


def exit_status(argv):
    """The exit status of memtrace-bpf ARGV (placeholders filled), run in a
    fresh directory."""
    d = tmpdir()
    fx = dict(fixtures())
    if any("{trace}" in a for a in argv):
        fx["trace"] = launch_run()
    if any("{campaign}" in a for a in argv):
        fx["campaign"] = campaign_run()
    fx["d"] = d
    write_file(os.path.join(d, "runs.txt"), "true\n")
    args = [re.sub(r"\{(%s)\}" % "|".join(fx), lambda m: fx[m.group(1)], a) for a in argv]
    return tool(*args, cwd=d, timeout=120).returncode


def collect_exit():
    return [{"of": of, "args": argv, "exit": exit_status(argv)} for of, argv in INVOCATIONS]


# --------------------------------------------------------------------------
# comparison

# The contract is backward compatibility: what was there stays, as it was.
# Additions (an option, a key, a CSV column appended after the others) are
# allowed, and printed as notes (ADDED) so that a run shows them.
ADDED = []

# Changes decided after the contract was recorded, each with its issue:
# (what, old, new). A campaign's run trace is compressed by default (#15,
# campaign --trace-format csv keeps trace.csv).
RENAMED = [("campaign run files", "trace.csv", "trace.csv.zst")]


def diff_list(what, want, got):
    """What differs between two lists compared as sets: what is gone (an
    addition is noted, not a difference; a RENAMED entry is neither)."""
    errs = []
    for x in sorted(set(want) - set(got)):
        if (what, x) in [(w, o) for w, o, n in RENAMED if n in got]:
            ADDED.append("%s: %r is now %r (decided)" % (what, x,
                         [n for w, o, n in RENAMED if (w, o) == (what, x)][0]))
            continue
        errs.append("%s: %r is gone" % (what, x))
    for x in sorted(set(got) - set(want)):
        ADDED.append("%s: %r is new" % (what, x))
    return errs


def unseen(paths, p):
    """Whether key path p lies under a list that is empty in paths (whose
    elements were not seen: nothing to say about their keys)."""
    for m in re.finditer(r"\[\]", p):
        if p[:m.start()] in paths and p[:m.end()] not in paths:
            return True
    return False


def same_types(want, got):
    """JSON types of a key path, equal but for null: a value that may be
    null (or only null in one run) is data, not the contract."""
    w, g = set(want.split("|")) - {"null"}, set(got.split("|")) - {"null"}
    return w == g or not w or not g


def diff_paths(what, want, got):
    """Key paths (key_paths()) recorded and current: each gone or new path
    (unless under a list empty on the other side), each changed type."""
    errs = []
    for p in sorted(set(want) | set(got)):
        if p not in got and not unseen(got, p):
            errs.append("%s: %r is gone (was %s)" % (what, p, want[p]))
        elif p not in want and not unseen(want, p):
            ADDED.append("%s: %r is new (%s)" % (what, p, got[p]))
        elif p in want and p in got and not same_types(want[p], got[p]):
            errs.append("%s: %r was %s, now %s" % (what, p, want[p], got[p]))
    return errs


def diff_value(what, want, got):
    """Recursive difference of recorded and current values: dicts by key,
    key paths by diff_paths(), lists of strings as sets, the rest by
    equality."""
    if isinstance(want, dict) and isinstance(got, dict) and "." in want and "." in got:
        return diff_paths(what, want, got)
    if isinstance(want, dict) and isinstance(got, dict):
        errs = []
        for k in sorted(set(want) | set(got)):
            if k not in got:
                errs.append("%s: %r is gone (was %r)" % (what, k, want[k]))
            elif k not in want:
                ADDED.append("%s: %r is new (%r)" % (what, k, got[k]))
            else:
                errs += diff_value("%s %s" % (what, k), want[k], got[k])
        return errs
    if isinstance(want, list) and isinstance(got, list) and \
            all(isinstance(x, str) for x in want + got):
        return diff_list(what, want, got)
    if want != got and what.endswith("header") and isinstance(want, str) and \
            isinstance(got, str):
        w, g = want.split(","), got.split(",")
        if g[:len(w)] == w:
            ADDED.append("%s: columns appended %s" % (what, g[len(w):]))
            return []
        gone, new = [c for c in w if c not in g], [c for c in g if c not in w]
        if gone or new:
            return ["%s: columns gone %s, new %s" % (what, gone, new)]
        return ["%s: the columns in another order: %s" % (what, got)]
    if want != got:
        return ["%s: was %r, now %r" % (what, want, got)]
    return []


def golden(name):
    path = os.path.join(CONTRACT_DIR, name)
    if not os.path.exists(path):
        raise Fail("%s is missing: record it with tests/test_contract.py --record" % path)
    return read_json(path)


def help_test(name):
    def fn():
        want = golden("help.json")["commands"].get(name)
        if want is None:
            raise Fail("help.json has no %r" % name)
        got = help_of(COMMANDS[name])
        errs = diff_list(name + " usage lines", want["usage"], got["usage"])
        # new lines are additions; the recorded ones keep their order
        if not errs and [u for u in got["usage"] if u in want["usage"]] != want["usage"]:
            errs.append("%s usage lines: in another order: %s" % (name, got["usage"]))
        errs += diff_list(name + " --help options", want["options"], got["options"])
        fail_if(errs, 10)
    suite.test("contract: %s --help: options and usage lines"
               % ("memtrace-bpf" if name == "memtrace-bpf" else "memtrace-bpf " + name),
               root=False)(fn)


def files_test(what, title):
    def fn():
        want = golden("files.json")["files"].get(what)
        if want is None:
            raise Fail("files.json has no %r" % what)
        fail_if(diff_value(what, want, FILES[what]()), 10)
    suite.test("contract: files of %s" % title)(fn)


def exit_test(of):
    def fn():
        want = [x for x in golden("exit_status.json")["invocations"] if x["of"] == of]
        if not want:
            raise Fail("exit_status.json has no invocation of %r" % of)
        errs = []
        for x in want:
            rc = exit_status(x["args"])
            if rc != x["exit"]:
                errs.append("memtrace-bpf %s: exit %d, was %d"
                            % (shlex.join(x["args"]), rc, x["exit"]))
        print("# %d invocations of %s" % (len(want), of))
        fail_if(errs, 10)
    suite.test("contract: exit status of %s (bad input and success)" % of)(fn)


for _name in COMMANDS:
    help_test(_name)
files_test("launch", "a launch run (CSV header, summary keys)")
files_test("attach", "an attach run (CSV header, summary keys)")
files_test("capture", "a capture, record --comm -d (trace dir, CSV header, summary keys)")
files_test("campaign", "a campaign (result/campaign/stats headers, stats/run/summary keys)")
for _of in dict.fromkeys(of for of, _ in INVOCATIONS):
    exit_test(_of)


@suite.test("contract: the comparison fails on a removed option, key or changed exit status",
            root=False)
def t_comparison_can_fail():
    """This build's --help with an option cut out, the recorded files with
    one key or column changed, an exit status changed: each must be
    reported, naming what changed."""
    text = tool("--help", timeout=30).stdout
    # the first option that takes an argument cut out of the help, with
    # its wrapped description
    lines = text.splitlines()
    opts = [(k, parse_options(l)) for k, l in enumerate(lines)]
    opts = [(k, o[0]) for k, o in opts if o and "=" in o[0]]
    if not opts:
        raise Fail("memtrace-bpf --help lists no option with an argument")
    i, opt = opts[0]
    j = i + 1
    while j < len(lines) and lines[j].startswith(" " * 20):
        j += 1
    cut = parse_options("\n".join(lines[:i] + lines[j:]))
    errs = []
    seen = len(ADDED)
    d = diff_list("help", parse_options(text), cut)
    if d != ["help: %r is gone" % opt]:
        errs.append("a --help without %s: %s" % (opt, d))
    f = golden("files.json")["files"]
    g = copy.deepcopy(f)
    del g["launch"]["summary keys"][".gate.exceeded"]
    g["campaign"]["stats.csv header"] = "extra," + g["campaign"]["stats.csv header"]
    g["launch"]["summary keys"][".a_new_key"] = "bool"
    d = diff_value("files", f, g)
    if len(d) != 2 or not any("'.gate.exceeded' is gone" in x for x in d) or \
            not any("stats.csv header: columns gone [], new ['extra']" in x for x in d):
        errs.append("a summary key removed, a column put first (a key added is "
                    "fine): %s" % d)
    e = golden("exit_status.json")["invocations"]
    e2 = copy.deepcopy(e)
    e2[0]["exit"] += 1
    if not diff_value("exit", e, e2):
        errs.append("a changed exit status is not seen")
    del ADDED[seen:]	# the self-test's own additions are no news
    fail_if(errs)


# --------------------------------------------------------------------------
# --record

def recorded_by(commit):
    with open(BIN, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if not commit:
        cf = os.path.join(os.path.dirname(os.path.abspath(BIN)), "COMMIT")
        if os.path.exists(cf):
            commit = open(cf).read().strip()
        else:
            r = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True,
                               text=True)
            dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "user",
                                    "bpf", "Makefile"], capture_output=True, text=True).stdout
            commit = r.stdout.strip() + (" (+ uncommitted changes)" if dirty.strip() else "")
    env = "MEMTRACE_BPF=%s " % shlex.quote(os.environ["MEMTRACE_BPF"]) \
        if "MEMTRACE_BPF" in os.environ else ""
    return {"binary": BIN, "sha256": digest, "commit": commit,
            "version": tool("--version", timeout=30).stdout.strip(),
            "command": env + "tests/test_contract.py --record" +
                       (" --commit " + commit if "--commit" in sys.argv else ""),
            "excluded": EXCLUDED}


def write(name, key, value, by):
    """tests/contract/NAME: {"recorded": by, key: value}; a list value one
    element a line."""
    path = os.path.join(CONTRACT_DIR, name)
    if isinstance(value, list):
        text = '{\n "recorded": %s,\n "%s": [\n  %s\n ]\n}' % (
            json.dumps(by, indent=1).replace("\n", "\n "), key,
            ",\n  ".join(json.dumps(x) for x in value))
    else:
        text = json.dumps({"recorded": by, key: value}, indent=1)
    with open(path, "w") as f:
        f.write(text + "\n")
    print("wrote %s" % os.path.relpath(path, ROOT))


def record_golden(commit):
    os.makedirs(CONTRACT_DIR, exist_ok=True)
    for name in suite.builds:
        workload(name)
    by = recorded_by(commit)
    try:
        write("help.json", "commands", collect_help(), by)
        write("files.json", "files", collect_files(), by)
        write("exit_status.json", "invocations", collect_exit(), by)
    finally:
        kill_tracked()
        clean_tmp()
        shutil.rmtree(suite_tmpdir(), ignore_errors=True)
    return 0


if __name__ == "__main__":
    if "--record" in sys.argv:
        c = sys.argv[sys.argv.index("--commit") + 1] if "--commit" in sys.argv else None
        sys.exit(record_golden(c))
    rc = suite.main()
    for a in ADDED:
        print("# added since the contract was recorded: " + a)
    sys.exit(rc)
