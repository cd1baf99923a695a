#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Checkpoint validation on real kernel events: automatic checkpoints,
marks (fd and USDT), --checkpoint-regex, and the `validate`/`stages`
reports, against what the workloads themselves read, printed and timed
(CLOCK_MONOTONIC).

Prints `ok N - name` / `not ok N - name: why` / `# SKIP`, then
`checkpoints: N passed, N failed, N skipped`. Without root the tracing
tests skip; with CI=true a skip is a failure.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("MEMTRACE_BPF", os.path.join(ROOT, ".output", "memtrace-bpf"))
WL_DIR = os.path.join(ROOT, ".output", "workloads")
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))

sys.path.insert(0, TESTS_DIR)
from tap import Fail, Tap  # noqa: E402


def run(argv, timeout=180, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def wl(name):
    p = os.path.join(WL_DIR, name)
    if not os.access(p, os.X_OK):
        raise Fail(f"{p} is not built (make)")
    return p


def rows(csv_path):
    """The trace as dicts (the csv module: labels may be quoted)."""
    with open(csv_path, newline="") as f:
        return list(csv.DictReader(f))


def trace(tmp, argv, *opts, ok_rc=(0,)):
    csv_path = os.path.join(tmp, "t.csv")
    r = run([BIN, "-q", "-o", csv_path, *opts, "--", *argv])
    if r.returncode not in ok_rc:
        raise Fail(f"memtrace-bpf exited {r.returncode}: {r.stderr.strip()[-400:]}")
    return csv_path, r


def validate_json(csv_path, *opts):
    r = run([BIN, "validate", csv_path, "--format", "json", *opts])
    if r.returncode != 0:
        raise Fail(f"validate exited {r.returncode}: {r.stderr.strip()[:400]}")
    return json.loads(r.stdout), r


def parse_selfcheck(out):
    cps, trs, xs = [], [], []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "CP":
            cps.append({"pid": int(f[1]), "t0": int(f[2]), "t1": int(f[3]), "vmrss": int(f[4]),
                        "label": f[9]})
        elif f and f[0] == "T":
            trs.append({"kb": int(f[1]), "start": int(f[2]), "end": int(f[3]), "after": f[4]})
        elif f and f[0] == "X":
            xs.append({"what": f[1], "t0": int(f[2]), "t1": int(f[3]), "kb": int(f[4])})
    if not cps or "DONE" not in out:
        raise Fail(f"selfcheck output incomplete: {out[-300:]!r}")
    return cps, trs, xs


_selfcheck = {}


def selfcheck_run():
    """One traced run of selfcheck, shared by the tests that read it."""
    if "r" not in _selfcheck:
        tmp = tempfile.mkdtemp(prefix="memtrace-cp-")
        csv_path, r = trace(tmp, [wl("selfcheck"), "6"])
        cps, trs, xs = parse_selfcheck(r.stdout)
        js, _ = validate_json(csv_path)
        _selfcheck["r"] = (tmp, csv_path, r, cps, trs, xs, js)
    return _selfcheck["r"]


def within(cks, t0, t1):
    return [c for c in cks if t0 <= c["ts_ns"] <= t1]


def t_every_checkpoint_exact():
    _, _, _, cps, _, xs, js = selfcheck_run()
    cks = js["checkpoints"]
    errs = []
    for c in cps:
        hit = within(cks, c["t0"], c["t1"])
        if len(hit) != 1:
            errs.append(f"{c['label']}: {len(hit)} checkpoint rows inside its read "
                        f"[{c['t0']}, {c['t1']}] (want 1)")
            continue
        if hit[0]["exact_kb"] != c["vmrss"] or hit[0]["source"] != "status":
            errs.append(f"{c['label']}: the workload read VmRSS {c['vmrss']} kB, the "
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
    n_inside = sum(len(within(cks, c["t0"], c["t1"])) for c in cps) + \
        sum(len(within(cks, x["t0"], x["t1"])) for x in xs)
    # the only other checkpoints are the workload's two warm-up reads
    if len(cks) != n_inside + 2:
        errs.append(f"{len(cks)} checkpoints in the trace, {n_inside} inside the workload's "
                    "reads + 2 warm-ups")
    print(f"# {len(cps)} status checkpoints, VmRSS read by the workload == exact_kb on each; "
          f"e.g. {cps[0]['vmrss']} kB")
    if errs:
        raise Fail("; ".join(errs[:5]))


def t_transients_between_checkpoints():
    _, _, _, cps, trs, _, js = selfcheck_run()
    cks = js["checkpoints"]
    by_label = {c["label"]: c for c in cps}
    errs = []
    for t in trs:
        prev = by_label[t["after"]]
        nxt = [c for c in cps if c["t0"] > t["end"]][0]
        ck = within(cks, nxt["t0"], nxt["t1"])[0]
        want = prev["vmrss"] + t["kb"]
        if ck["max_since_prev_kb"] != want:
            errs.append(f"transient of {t['kb']} kB after {t['after']}: max_since_prev_kb "
                        f"{ck['max_since_prev_kb']}, want {prev['vmrss']} + {t['kb']} = {want}")
        if not t["start"] <= ck["max_since_prev_ts_ns"] <= t["end"]:
            errs.append(f"transient of {t['kb']} kB: its maximum at {ck['max_since_prev_ts_ns']} "
                        f"is outside [{t['start']}, {t['end']}]")
        seen = max(prev["vmrss"], nxt["vmrss"])
        if ck["excess_kb"] != want - seen:
            errs.append(f"transient of {t['kb']} kB: excess_kb {ck['excess_kb']}, want {want - seen}")
    v = js["verdict"]
    big = max(trs, key=lambda t: t["kb"])
    prev = by_label[big["after"]]
    if v["largest_excursion_kb"] != prev["vmrss"] + big["kb"] - prev["vmrss"]:
        errs.append(f"verdict largest_excursion_kb {v['largest_excursion_kb']}, the largest "
                    f"transient was {big['kb']} kB")
    if errs:
        raise Fail("; ".join(errs[:5]))


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


def t_validate_bad_input():
    errs = []
    with tempfile.TemporaryDirectory() as tmp:
        missing = os.path.join(tmp, "nope.csv")
        r = run([BIN, "validate", missing])
        if r.returncode != 1 or "cannot open" not in r.stderr or missing not in r.stderr:
            errs.append(f"missing file: exit {r.returncode}, {r.stderr.strip()!r}")
        # a trace without checkpoints: a poller's file has no event column,
        # a memtrace-bpf trace of a program that never reads its figures
        p = os.path.join(tmp, "none.csv")
        with open(p, "w") as f:
            hdr = ("time_s,vmrss_kb,vmsize_kb,ts_ns,pid,tid,event,rss_anon_kb,rss_file_kb,"
                   "rss_shmem_kb,swap_kb,total_rss_kb,cause,addr,ip,len,ret,label,reported,"
                   "reported_kb")
            f.write(hdr + "\n0.1,100,200,1000,7,7,rss,100,0,0,0,100,fault,0x1,0x2,,,,,\n")
        r = run([BIN, "validate", p])
        if r.returncode != 1 or "no checkpoint rows" not in r.stderr or "stages" not in r.stderr:
            errs.append(f"no checkpoints: exit {r.returncode}, {r.stderr.strip()!r}")
        p2 = os.path.join(tmp, "poll.csv")
        with open(p2, "w") as f:
            f.write("time_s,vmrss_kb\n0.0,100\n")
        r = run([BIN, "validate", p2])
        if r.returncode != 1 or "event" not in r.stderr:
            errs.append(f"poller file: exit {r.returncode}, {r.stderr.strip()!r}")
        p3 = os.path.join(tmp, "bad.csv")
        with open(p3, "w") as f:
            f.write(hdr + "\n0.1,xx,200,1000,7,7,checkpoint,100,0,0,0,100,status,3,,,1,,,\n")
        r = run([BIN, "validate", p3])
        if r.returncode != 1 or f"{p3}:2: column vmrss_kb: 'xx'" not in r.stderr:
            errs.append(f"malformed row: exit {r.returncode}, {r.stderr.strip()!r}")
        for bad in (["--format", "xml"], ["--compare", "both"], ["--tolerance", "5x"], []):
            r = run([BIN, "validate", *([p] if bad else []), *bad])
            if r.returncode != 2 or "--help" not in r.stderr:
                errs.append(f"usage error {bad}: exit {r.returncode}, {r.stderr.strip()!r}")
        r = run([BIN, "validate", "--help"])
        if r.returncode != 0 or "EXAMPLES:" not in r.stdout or "--format" not in r.stdout:
            errs.append(f"--help: exit {r.returncode}")
    if errs:
        raise Fail("; ".join(errs))


def main():
    tap = Tap("checkpoints")
    tap.run("automatic checkpoints: exact_kb equals what the workload read, each way in",
            t_every_checkpoint_exact)
    tap.run("validate: every transient between checkpoints shows in max_since_prev_kb",
            t_transients_between_checkpoints)
    tap.run("validate: table and verdict", t_validate_table)
    tap.run("validate: missing file, no checkpoints, malformed rows, usage errors",
            t_validate_bad_input, root=False)
    if "r" in _selfcheck:
        shutil.rmtree(_selfcheck["r"][0], ignore_errors=True)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
