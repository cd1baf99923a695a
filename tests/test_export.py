#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`memtrace-bpf export --perfetto`, checked by decoding what it writes.

Every file is decoded with protoc against tests/perfetto/memtrace_perfetto.proto
(the fields we write, numbered as Perfetto's published schema numbers
them); a field protoc does not know fails the test. What the file must
hold is derived here from the CSV alone, independently of the C code
(expected()), and compared with what was decoded (check()):

  - the clock: a first ClockSnapshot making CLOCK_MONOTONIC the trace's
    clock, with the first row's ts_ns, and every packet's timestamp in it;
  - one process track per process (a pid's rows after its exit row are
    another process), with its pid and the name its last fork/exec/attach
    row gave it;
  - under it, a counter track per memory column (mem.rss, mem.rss.anon,
    mem.rss.file, mem.rss.shmem, mem.swap, mem.virt) from its first value
    that is not 0, then a value at each change, each the CSV's exact value
    at that row's ts_ns, and 0 after the exit row; mem.rss.tree: the
    total_rss_kb of every row, at each change;
  - an instant for each checkpoint, mark, log, guard, alert, fork, exec,
    attach, exit and mark_fd_lost row, on its process's track, at its
    ts_ns, named as the README says, with the row's vmrss_kb; a slice for
    each NAME:begin .. NAME:end, on the process's track NAME.

Runs: real workloads recorded as root (transients; a tree of shells and
workloads; checkpoints, log lines and marks from the marker fd and from
USDT, spans nested and overlapping; --alert), the traces of
tests/corpus/real, then the files: outputs, bad command lines, the
malformed corpus, and 10,000,000 rows in bounded memory.

Output and environment: see tests/harness.py; the closing line is
`export: N passed, N failed, N skipped`.
"""

import collections
import csv
import os
import pty
import re
import resource
import shutil
import subprocess
import sys

from corpus_lib import bad_traces, real_traces
from harness import (BIN, CSV_HEADER, TESTS_DIR, Fail, Skip, Suite, fail_if, help_lacks,
                     peak_rss, record, refusal, tmpdir, tool, tool_path, workload, write_file)

suite = Suite("export", builds=("transients", "checkpoints", "selfcheck", "marks", "forker"))

PROTO_DIR = os.path.join(TESTS_DIR, "perfetto")
PROTO = os.path.join(PROTO_DIR, "memtrace_perfetto.proto")
MONOTONIC = 3
# the CSV's memory columns and the counters they become
COUNTERS = (("vmrss_kb", "mem.rss"), ("rss_anon_kb", "mem.rss.anon"),
            ("rss_file_kb", "mem.rss.file"), ("rss_shmem_kb", "mem.rss.shmem"),
            ("swap_kb", "mem.swap"), ("vmsize_kb", "mem.virt"))
TREE = "mem.rss.tree"
NAMED = ("fork", "exec", "attach")
NAME_MAX = 128


# --------------------------------------------------------------------------
# decoding: protoc's text format, read back into dicts of lists

def unescape(lit):
    """A string as protoc prints it (C escapes, octal for bytes) back to
    text; a file whose strings are not valid UTF-8 raises."""
    body, out, i = lit[1:-1], bytearray(), 0
    simple = {"n": b"\n", "r": b"\r", "t": b"\t", '"': b'"', "'": b"'", "\\": b"\\"}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
        elif body[i + 1] in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(int(m.group(0), 8))
            i += 1 + len(m.group(0))
        elif body[i + 1] == "x":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:])
            out.append(int(m.group(0), 16))
            i += 2 + len(m.group(0))
        else:
            out += simple[body[i + 1]]
            i += 2
    return out.decode("utf-8")


def parse_text(text):
    """protoc --decode's output as nested dicts: field name -> [values].
    A field printed by its number is one our .proto does not know: Fail."""
    root = {}
    stack = [root]
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s == "}":
            stack.pop()
            continue
        if re.match(r"^\d+[ :]", s):
            raise Fail(f"protoc decoded a field our .proto does not have, line {n}: {s!r}")
        if s.endswith(" {"):
            msg = {}
            stack[-1].setdefault(s[:-2], []).append(msg)
            stack.append(msg)
            continue
        name, _, v = s.partition(": ")
        if v.startswith('"'):
            v = unescape(v)
        elif re.match(r"^-?\d+$", v):
            v = int(v)
        stack[-1].setdefault(name, []).append(v)
    if len(stack) != 1:
        raise Fail("protoc's output does not close its messages")
    return root


def need_protoc():
    if not shutil.which("protoc"):
        raise Skip("protoc is not installed (tools/install-deps.sh: protobuf-compiler)")


def decode(path):
    """The packets of a file, decoded by protoc against our .proto."""
    need_protoc()
    with open(path, "rb") as f:
        r = subprocess.run(["protoc", "--decode=perfetto.protos.Trace", "-I", PROTO_DIR, PROTO],
                           stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    if r.returncode != 0 or r.stderr.strip():
        raise Fail(f"protoc --decode failed on {path} (exit {r.returncode}): "
                   f"{r.stderr.decode(errors='replace')[:300]}")
    return parse_text(r.stdout.decode()).get("packet", [])


def one(msg, key, default=None):
    v = msg.get(key)
    return v[0] if v else default


def args_of(event):
    """A TrackEvent's debug annotations: name -> value."""
    return {one(a, "name"): one(a, "int_value", one(a, "string_value"))
            for a in event.get("debug_annotations", [])}


# --------------------------------------------------------------------------
# what the file must hold, from the CSV alone

def read_trace(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def cut(name):
    """An event's name: at most NAME_MAX bytes, at a character boundary."""
    b = name.encode()
    if len(b) <= NAME_MAX:
        return name
    return b[:NAME_MAX].decode("utf-8", "ignore")


class Proc:
    def __init__(self, pid):
        self.pid = pid
        self.name = ""
        self.counters = {}      # counter name -> [(ts, kb)]
        self.events = []        # (ts, kind, name, vmrss_kb)
        self.depth = collections.Counter()


def expected(path, pid=None):
    """(processes in the order they first appear, the tree's values, the
    first row's ts_ns, rows), as the README defines the export."""
    rows = read_trace(path)
    if pid is not None:
        rows = [x for x in rows if int(x["pid"]) == pid]
    cols = [(c, n) for c, n in COUNTERS if rows and c in rows[0]]
    procs, alive, tree = [], {}, []
    for x in rows:
        ts, p, ev = int(x["ts_ns"]), int(x["pid"]), x["event"]
        pr = alive.get(p)
        if pr is None:
            pr = alive[p] = Proc(p)
            procs.append(pr)
        if ev in NAMED and x["cause"]:
            pr.name = x["cause"]
        for col, name in cols:
            v, got = int(x[col]), pr.counters.get(name)
            if (got and got[-1][1] != v) or (not got and v):
                pr.counters.setdefault(name, []).append((ts, v))
        if pid is None and "total_rss_kb" in x:
            v = int(x["total_rss_kb"])
            if not tree or tree[-1][1] != v:
                tree.append((ts, v))
        rss, label = int(x["vmrss_kb"]), x.get("label", "")
        kind, name = "instant", None
        if ev == "mark":
            if len(label) > 6 and label.endswith(":begin"):
                kind, name = "begin", label[:-6]
                pr.depth[name] += 1
            elif len(label) > 4 and label.endswith(":end") and pr.depth[label[:-4]]:
                kind, name = "end", label[:-4]
                pr.depth[name] -= 1
            else:
                name = label or "mark"
        elif ev == "checkpoint":
            name = "checkpoint: " + x["cause"]
        elif ev == "log":
            name = "log: " + (x["reported"] or "(no value)")
        elif ev == "guard":
            name = f"kill-at: over {x['len']} kB"
        elif ev == "alert":
            name = f"alert: over {x['len']} kB"
        elif ev == "mark_fd_lost":
            name = "marker fd lost: " + x["cause"]
        elif ev in NAMED + ("exit",):
            name = ev
        if name is not None:
            pr.events.append((ts, kind, cut(name), rss))
        if ev == "exit":
            for vals in pr.counters.values():
                if vals[-1][1]:
                    vals.append((ts, 0))
            del alive[p]
    return procs, tree, int(rows[0]["ts_ns"]) if rows else None, rows


def check(csv_path, packets, pid=None):
    """What is wrong in packets (decoded) for the trace at csv_path."""
    procs, tree, t0, rows = expected(csv_path, pid)
    errs = []
    first = packets[0] if packets else {}
    snap = one(first, "clock_snapshot")
    if not snap or one(snap, "primary_trace_clock") != "BUILTIN_CLOCK_MONOTONIC" or \
            [(one(c, "clock_id"), one(c, "timestamp")) for c in snap.get("clocks", [])] != \
            [(MONOTONIC, t0)] or one(first, "sequence_flags") != 1:
        errs.append(f"the first packet is not a ClockSnapshot making CLOCK_MONOTONIC the "
                    f"trace's clock at {t0} (with SEQ_INCREMENTAL_STATE_CLEARED): {first}")
    tracks, samples, events, last_ts = {}, collections.defaultdict(list), [], 0
    for k, pk in enumerate(packets):
        if one(pk, "trusted_packet_sequence_id") != 1:
            errs.append(f"packet {k} is not on sequence 1: {pk}")
        if k == 0:
            continue
        ts = one(pk, "timestamp")
        if ts is None or one(pk, "timestamp_clock_id") != MONOTONIC:
            errs.append(f"packet {k} has no timestamp in CLOCK_MONOTONIC: {pk}")
            continue
        if ts < last_ts:
            errs.append(f"packet {k} goes back in time ({ts} after {last_ts})")
        last_ts = ts
        td, te = one(pk, "track_descriptor"), one(pk, "track_event")
        if td:
            uuid = one(td, "uuid")
            proc = one(td, "process")
            t = tracks.setdefault(uuid, {"parent": one(td, "parent_uuid"),
                                         "name": one(td, "name"), "pid": None, "names": [],
                                         "counter": one(td, "counter"), "first": k})
            if proc:
                t["pid"] = one(proc, "pid")
                t["names"].append(one(proc, "process_name", ""))
            elif t["first"] != k:
                errs.append(f"track {uuid} described twice")
        elif te:
            uuid = one(te, "track_uuid")
            if uuid not in tracks:
                errs.append(f"packet {k}: an event on track {uuid}, not described before")
                continue
            if one(te, "type") == "TYPE_COUNTER":
                samples[uuid].append((ts, one(te, "counter_value")))
            else:
                events.append((uuid, ts, one(te, "type"), one(te, "name"), args_of(te)))
        else:
            errs.append(f"packet {k} holds neither a track nor an event: {pk}")
    # processes, in the order they first appear, each with its counters
    ptracks = [u for u, t in sorted(tracks.items(), key=lambda i: i[1]["first"])
               if t["pid"] is not None]
    if len(ptracks) != len(procs):
        errs.append(f"{len(ptracks)} process tracks, the trace has {len(procs)} processes "
                    f"(pids {[p.pid for p in procs][:10]})")
    owner = {}
    for u, pr in zip(ptracks, procs):
        t = tracks[u]
        owner[u] = pr
        name = t["names"][-1] if t["names"] else ""
        if t["pid"] != pr.pid or name != pr.name:
            errs.append(f"process track {u}: pid {t['pid']} named {name!r}, "
                        f"want pid {pr.pid} named {pr.name!r}")
    for u, t in tracks.items():
        if t["parent"] in owner:
            owner[u] = owner[t["parent"]]
    counters = collections.defaultdict(dict)
    for u, t in tracks.items():
        c = t["counter"]
        if not c:
            continue
        if one(c, "unit") != "UNIT_SIZE_BYTES" or one(c, "unit_multiplier") != 1024:
            errs.append(f"counter track {t['name']} ({u}): unit {c}, want kB as bytes * 1024")
        if t["parent"] is None:
            if t["name"] != TREE:
                errs.append(f"a counter track {t['name']!r} of no process")
            counters[None][t["name"]] = samples[u]
        elif t["parent"] not in owner:
            errs.append(f"counter track {t['name']!r} under track {t['parent']}, no process's")
        elif t["name"] in counters[t["parent"]]:
            errs.append(f"process track {t['parent']} has two {t['name']} tracks")
        else:
            counters[t["parent"]][t["name"]] = samples[u]
    for u, pr in zip(ptracks, procs):
        got = counters.get(u, {})
        if set(got) != set(pr.counters):
            errs.append(f"pid {pr.pid}: counters {sorted(got)}, want {sorted(pr.counters)}")
        for name, want in pr.counters.items():
            have = got.get(name, [])
            if have != want:
                bad = next((i for i, (a, b) in enumerate(zip(have, want)) if a != b),
                           min(len(have), len(want)))
                errs.append(f"pid {pr.pid} {name}: {len(have)} values, want {len(want)}; "
                            f"value {bad} is {have[bad:bad + 1]}, want {want[bad:bad + 1]}")
    if counters[None].get(TREE, []) != tree:
        errs.append(f"{TREE}: {len(counters[None].get(TREE, []))} values, want {len(tree)} "
                    f"(total_rss_kb at each change)")
    # instants and slices, per process, in order
    got_events = collections.defaultdict(list)
    for uuid, ts, typ, name, args in events:
        t, pr = tracks[uuid], owner.get(uuid)
        if pr is None:
            errs.append(f"an event {name!r} on track {uuid}, no process's")
            continue
        if typ == "TYPE_INSTANT" and t["pid"] is not None:
            got_events[id(pr)].append((ts, "instant", name, args.get("vmrss_kb")))
        elif typ == "TYPE_SLICE_BEGIN" and t["pid"] is None and name == t["name"]:
            got_events[id(pr)].append((ts, "begin", name, args.get("vmrss_kb")))
        elif typ == "TYPE_SLICE_END" and t["pid"] is None:
            got_events[id(pr)].append((ts, "end", t["name"], args.get("end_vmrss_kb")))
        else:
            errs.append(f"an event {typ} {name!r} on track {uuid} ({t['name']!r}): misplaced")
    for pr in procs:
        have = got_events.get(id(pr), [])
        if have != pr.events:
            bad = next((i for i, (a, b) in enumerate(zip(have, pr.events)) if a != b),
                       min(len(have), len(pr.events)))
            errs.append(f"pid {pr.pid}: {len(have)} instants/slices, want {len(pr.events)}; "
                        f"#{bad} is {have[bad:bad + 1]}, want {pr.events[bad:bad + 1]}")
    return errs


def export(csv_path, *opts, out=None):
    """memtrace-bpf export --perfetto CSV -o OUT OPTS; (path, stderr)."""
    out = out or csv_path[:-4] + ".pftrace"
    r = tool("export", "--perfetto", csv_path, "-o", out, *opts)
    if r.returncode != 0:
        raise Fail(f"export {' '.join(opts)}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
    return out, r.stderr


def exported(csv_path, *opts, pid=None):
    """Exports csv_path, decodes it and checks it; returns the packets."""
    out, err = export(csv_path, *opts)
    packets = decode(out)
    fail_if(check(csv_path, packets, pid), 6)
    print(f"# {os.path.basename(csv_path)}: {err.strip().split(': ', 2)[-1]}")
    return packets


def events_named(packets, pattern):
    return [one(one(pk, "track_event"), "name") for pk in packets
            if one(pk, "track_event") and re.search(pattern, one(one(pk, "track_event"),
                                                                   "name", ""))]


# --------------------------------------------------------------------------
# real runs

@suite.test("transients: every counter value is the CSV's at its row, the clock is "
            "CLOCK_MONOTONIC")
def t_transients():
    tmp = tmpdir()
    csv_path, r = record(tmp, [workload("transients")])
    packets = exported(csv_path)
    # the transients the workload made are in mem.rss at their full size
    sizes = [int(line.split()[1]) for line in r.stdout.splitlines() if line.startswith("T ")]
    rss = [v for pk in packets if one(pk, "track_event")
           for v in one(pk, "track_event").get("counter_value", [])]
    if len(sizes) != 9 or max(rss) < max(sizes):
        raise Fail(f"transients {sizes}: the highest mem.rss value is {max(rss)} kB")


@suite.test("a tree: a process track per pid with its name, exec renames it, the tree's "
            "total; --pid keeps one process")
def t_tree():
    tmp = tmpdir()
    wl = workload("transients")
    # sh forks two workloads (they exec), and forker's children exec
    # /proc/self/exe ("exe")
    csv_path, _ = record(tmp, ["sh", "-c", f"{wl} short 3 2000 4 & {wl} short 2 2000 2; "
                               f"{workload('forker')} -e 2; wait"])
    packets = exported(csv_path)
    names = collections.Counter(one(one(one(pk, "track_descriptor"), "process"), "process_name")
                                for pk in packets if one(pk, "track_descriptor") and
                                one(one(pk, "track_descriptor"), "process"))
    for want in ("sh", "transients", "forker", "exe"):
        if want not in names:
            raise Fail(f"no process track named {want!r}: {dict(names)}")
    rows = read_trace(csv_path)
    child = next(int(x["pid"]) for x in rows if x["event"] == "exec" and x["cause"] == "exe")
    out, _ = export(csv_path, "--pid", str(child), out=os.path.join(tmp, "one.pftrace"))
    one_packets = decode(out)
    fail_if(check(csv_path, one_packets, pid=child), 6)
    tds = [one(pk, "track_descriptor") for pk in one_packets if one(pk, "track_descriptor")]
    if any(one(td, "name") == TREE for td in tds) or \
            {one(one(td, "process"), "pid") for td in tds if one(td, "process")} != {child}:
        raise Fail("--pid: other processes' tracks, or the tree's total, in the file")


SH_MARKS = r'''
m() { echo "$1" >&$MEMTRACE_MARK_FD; }
m "run:begin"
m "load:begin"
x=$(head -c 3000000 /dev/zero | tr '\0' a)
m "parse:begin"
m "load:end"
m "parse:end"
m "point"
m "run:begin"
m "run:end"
m "run:end"
m "load:end"
m "never:end"
m ""
eval "exec $MEMTRACE_MARK_FD>&-"
'''


@suite.test("checkpoints, log lines, marks (fd and USDT), spans nested and overlapping, a "
            "closed marker fd, an alert: instants and slices at their rows")
def t_checkpoints_marks():
    tmp = tmpdir()
    errs = []
    runs = (
        ("checkpoints", [workload("checkpoints"), tmp], ()),
        ("selfcheck", [workload("selfcheck"), "3"],
         ("--checkpoint-regex", r"RSS now: ([0-9]+ kB)|Peak RSS: ([0-9.]+ MB)")),
        ("marks", [workload("marks"), "3"], ()),
        ("shell", ["sh", "-c", SH_MARKS], ()),
        ("alert", [workload("transients"), "short", "2", "2000", "8"], ("--alert", "6M")),
    )
    seen = collections.Counter()
    for name, argv, opts in runs:
        csv_path, _ = record(tmp, argv, *opts, csv_name=name + ".csv")
        try:
            packets = exported(csv_path)
        except Fail as e:
            errs.append(f"{name}: {e}")
            continue
        for pk in packets:
            te = one(pk, "track_event")
            if te and one(te, "type") != "TYPE_COUNTER":
                seen[(one(te, "type"), (one(te, "name") or "").split(":")[0])] += 1
    want = [("TYPE_INSTANT", "checkpoint"), ("TYPE_INSTANT", "log"),
            ("TYPE_SLICE_BEGIN", "load"), ("TYPE_SLICE_BEGIN", "run"),
            ("TYPE_SLICE_BEGIN", "parse"), ("TYPE_INSTANT", "frame_loaded"),
            ("TYPE_INSTANT", "never"), ("TYPE_INSTANT", "mark"), ("TYPE_INSTANT", "point"),
            ("TYPE_INSTANT", "marker fd lost"), ("TYPE_INSTANT", "alert")]
    errs += [f"no {t} {n!r} event in any run" for t, n in want if not seen[(t, n)]]
    if seen[("TYPE_SLICE_BEGIN", "run")] != 2 or seen[("TYPE_SLICE_END", "")] < 5:
        errs.append(f"spans: {seen}")
    fail_if(errs, None)


@suite.test("the recorded traces of tests/corpus/real, each checked whole", root=False)
def t_real_corpus():
    tmp = tmpdir()
    errs = []
    for name, path in real_traces(tmp):
        rows = read_trace(path)
        if "ts_ns" not in rows[0]:
            continue        # a poller's file: below
        try:
            exported(path)
        except Fail as e:
            errs.append(f"{name}: {e}")
    fail_if(errs, None)


@suite.test("a poller's time_s,vmrss_kb file: its values on a track of its own, no clock "
            "claimed", root=False)
def t_poller_file():
    tmp = tmpdir()
    p = write_file(os.path.join(tmp, "p.csv"), "time_s,vmrss_kb\n0.000,100\n0.004,900\n"
                   "0.006,900\n0.013,0\n")
    out, _ = export(p)
    packets = decode(out)
    tds = [one(pk, "track_descriptor") for pk in packets if one(pk, "track_descriptor")]
    vals = [(one(pk, "timestamp"), one(one(pk, "track_event"), "counter_value"))
            for pk in packets if one(pk, "track_event")]
    errs = []
    if any(one(pk, "clock_snapshot") or one(pk, "timestamp_clock_id") for pk in packets):
        errs.append("a clock declared for times that are only offsets")
    if [one(td, "name") for td in tds] != [p, "mem.rss"] or any(one(td, "process") for td in tds):
        errs.append(f"tracks {tds}")
    if vals != [(0, 100), (4000000, 900), (13000000, 0)]:
        errs.append(f"values {vals}")
    fail_if(errs, None)


# --------------------------------------------------------------------------
# files

def small_trace(tmp, name="t.csv", extra=""):
    return write_file(os.path.join(tmp, name), CSV_HEADER + "\n"
                      "0.001,100,200,1001000,7,7,exec,100,0,0,0,100,x,,,,1,,,\n"
                      "0.015,300,400,15000000,7,7,rss,300,0,0,0,300,fault,0x1,0x2,,,,,\n"
                      + extra)


@suite.test("outputs: next to the trace by default, -o as every output (a link refused, "
            "replaced whole, kept on an error), - and stdout, never a terminal", root=False)
def t_outputs():
    tmp = tmpdir()
    t = small_trace(tmp)
    bad = small_trace(tmp, "bad.csv", "0.020,12x,400,20000000,7,7,rss,0,0,0,0,0,fault,,,,,,,\n")
    errs = []
    r = tool("export", "--perfetto", t)
    default = os.path.join(tmp, "t.pftrace")
    if r.returncode != 0 or r.stdout or "t.pftrace" not in r.stderr or \
            not os.path.exists(default):
        errs.append(f"no -o: exit {r.returncode}, stderr {r.stderr!r}, files {os.listdir(tmp)}")
    first = open(default, "rb").read() if os.path.exists(default) else b""
    errs += check(t, decode(default)) if first else []
    plain = write_file(os.path.join(tmp, "plain"), open(t).read())
    r = tool("export", "--perfetto", plain)
    if r.returncode != 0 or not os.path.exists(plain + ".pftrace"):
        errs.append(f"a trace not named .csv: exit {r.returncode}, {os.listdir(tmp)}")
    # a refused trace: exit 1, the earlier file as it was, no temporary
    r = tool("export", "--perfetto", bad, "-o", default)
    if r.returncode != 1 or "bad.csv:4: column vmrss_kb" not in r.stderr:
        errs.append(f"a malformed row: exit {r.returncode}, {r.stderr.strip()!r}")
    if open(default, "rb").read() != first:
        errs.append("a refused export changed the earlier output")
    if os.path.exists(os.path.join(tmp, "bad.pftrace")):
        errs.append("a refused export left bad.pftrace")
    left = [f for f in os.listdir(tmp) if f.startswith(".")]
    if left:
        errs.append(f"temporaries left behind: {left}")
    link = os.path.join(tmp, "link.pftrace")
    os.symlink(t, link)
    for args, needle in (([t, "-o", link], "symbolic link"),
                         ([t, "-o", "/dev/null"], "not a regular file")):
        e = refusal(["export", "--perfetto", *args], 1, needle)
        if e:
            errs.append(e)
    if os.readlink(link) != t or open(t).read().count("\n") != 3:
        errs.append("the link or what it points to was touched")
    std = tool("export", "--perfetto", t, "-o", "-", binary=True)
    if std.returncode != 0 or std.stdout != first or std.stderr:
        errs.append(f"-o -: exit {std.returncode}, {len(std.stdout)} bytes (want "
                    f"{len(first)}), stderr {std.stderr!r}")
    # stdin to a file
    with open(t, "rb") as f:
        r = tool("export", "--perfetto", "-", "-o", os.path.join(tmp, "in.pftrace"), stdin=f)
    if r.returncode != 0 or open(os.path.join(tmp, "in.pftrace"), "rb").read() != first:
        errs.append(f"- (stdin): exit {r.returncode}, {r.stderr.strip()!r}")
    # a binary file is not written to a terminal
    master, slave = pty.openpty()
    try:
        r = tool("export", "--perfetto", t, "-o", "-", stdout=slave)
    finally:
        os.close(slave)
        os.close(master)
    if r.returncode != 1 or "terminal" not in r.stderr:
        errs.append(f"-o - on a terminal: exit {r.returncode}, {r.stderr.strip()!r}")
    fail_if(errs, None)


@suite.test("bad command lines and files; --help", root=False)
def t_bad_input():
    tmp = tmpdir()
    t = small_trace(tmp)
    empty = write_file(os.path.join(tmp, "h.csv"), CSV_HEADER + "\n")
    cases = [
        ([], 2, "which trace"),
        ([t], 2, "which format? --perfetto"),
        (["--perfetto", t, t], 2, "one trace at a time"),
        (["--perfetto", t, "--pid", "x"], 2, "--pid x"),
        (["--perfetto", t, "--pid", "0"], 2, "--pid 0"),
        (["--perfetto", t, "-o", ""], 2, "empty file name"),
        (["--perfetto", "-"], 2, "give -o FILE"),
        (["--perfetto", t, "--every", "1s"], 2, "--every"),
        (["--perfetto", t, "-o", t], 2, "is the trace itself"),
        (["--perfetto", os.path.join(tmp, "none.csv")], 1, "cannot open"),
        (["--perfetto", empty], 1, "has a header but no rows"),
        (["--perfetto", t, "--pid", "1"], 1, "no rows of pid 1"),
        (["--perfetto", t, "-o", os.path.join(tmp, "no", "dir.pftrace")], 1, "dir.pftrace"),
    ]
    errs = [e for args, rc, needle in cases
            if (e := refusal(["export", *args], rc, needle, silent_stdout=True))]
    made = [f for f in os.listdir(tmp) if f.endswith(".pftrace") or f.startswith(".")]
    if made:
        errs.append(f"refused exports left {made}")
    errs += help_lacks(("--perfetto", "--output", "--pid", "EXAMPLES", "Exit status",
                        "ui.perfetto.dev", "mem.rss.anon", "CLOCK_MONOTONIC"), "export")
    fail_if(errs, None)


@suite.test("the malformed corpus: refused as spikes refuses it (no file left), or written "
            "and decoded", root=False)
def t_corpus():
    tmp = tmpdir()
    errs = []
    outdir = os.path.join(tmp, "out")
    os.makedirs(outdir)
    out = os.path.join(outdir, "x.pftrace")
    for name, path, rcs, text in bad_traces(tmp):
        r = tool("export", "--perfetto", path, "-o", out, timeout=60)
        made = os.listdir(outdir)
        if r.returncode != rcs[0]:
            errs.append(f"{name}: exit {r.returncode}, spikes gives {rcs[0]}: "
                        f"{r.stderr.strip()[:150]!r}")
        elif rcs[0] and (not r.stderr.startswith("memtrace-bpf export: ") or
                         (text and text not in r.stderr) or made):
            errs.append(f"{name}: {r.stderr.strip()[:200]!r} (want {text!r}), left {made}")
        elif not rcs[0]:
            try:
                decode(out)     # valid protobuf, known fields, UTF-8 strings
            except Fail as e:
                errs.append(f"{name}: {e}")
        for f in made:
            os.unlink(os.path.join(outdir, f))
    fail_if(errs, 6)


@suite.test("10,000,000 rows and 1,000,000 processes, streamed in a few MiB", root=False,
            timeout=900)
def t_big():
    """Bounds: 40 s of CPU for 10M rows (6-7 s here: room for a loaded
    machine), 16 MiB of peak RSS (4.6 MiB measured)."""
    tmp = tmpdir()
    errs = []
    for name, args, rows, procs in (("rows", ["10000000"], 10_000_000, 1),
                                    ("processes", ["--pids", "1000000"], 6_000_000, 1_000_000)):
        trace = os.path.join(tmp, name + ".csv")
        with open(trace, "wb") as f:
            g = subprocess.run([tool_path("gentrace"), *args], stdout=f, stderr=subprocess.PIPE,
                               timeout=600)
        if g.returncode:
            raise Fail("gentrace failed: " + g.stderr.decode(errors="replace"))
        out = os.path.join(tmp, name + ".pftrace")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        kb, rc, err = peak_rss([BIN, "export", "--perfetto", trace, "-o", out], timeout=600)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        size = os.path.getsize(out) if os.path.exists(out) else 0
        print(f"# {name}: {rows} rows, {os.path.getsize(trace) >> 20} MiB of CSV: {cpu:.2f} s "
              f"of CPU, peak RSS {kb} kB, {size >> 20} MiB written; {err.strip()}")
        if rc != 0 or f"{rows} rows" not in err or f" {procs} process" not in err:
            errs.append(f"{name}: exit {rc}: {err.strip()[-200:]}")
        if cpu > 40:
            errs.append(f"{name}: {cpu:.1f} s of CPU, over 40 s")
        if kb > 16 * 1024:
            errs.append(f"{name}: peak RSS {kb} kB, over 16 MiB")
        os.unlink(trace)
        if os.path.exists(out):
            os.unlink(out)
    fail_if(errs)


if __name__ == "__main__":
    sys.exit(suite.main())
