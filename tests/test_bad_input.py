#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Bad input to the subcommands that read files: `spikes`, `validate`,
`stages` on malformed traces (tests/corpus/bad/: lines over the limit, NUL
bytes, nan/inf times, time going backwards, truncated rows...), `spikes`
under a memory limit, `campaign report` on malformed result.csv files,
on a FIFO named result.csv, on a full disk and during a live campaign, and
a NUL byte in `campaign --file`. Each must end with a message naming the
file (and line) and exit status 1, or give the whole result: never a
crash, a hang, or a result cut short with exit status 0.

Output and environment: see tests/harness.py; the closing line is
`bad-input: N passed, N failed, N skipped`.
"""

import json
import os
import re
import subprocess
import sys
import time

from corpus_lib import PLAN, bad_traces, campaign_dir, real_traces
from harness import BIN, Fail, Skip, Suite, fail_if, run, spawn, tmpdir, tool

suite = Suite("bad-input")


@suite.test("spikes, validate, stages: each malformed trace of the corpus gives its "
            "FILE:LINE message and exit status", root=False)
def t_malformed_traces():
    tmp = tmpdir()
    errs = []
    cases = bad_traces(tmp)
    for name, path, rcs, text in cases:
        for sub, want in zip(("spikes", "validate", "stages"), rcs):
            r = tool(sub, path, timeout=30)
            if r.returncode != want:
                errs.append(f"{sub} {name}: exit {r.returncode} (want {want}): "
                            f"{r.stderr.strip()[:150]!r}")
            elif want and not r.stderr.startswith(f"memtrace-bpf {sub}: "):
                errs.append(f"{sub} {name}: exit 1 without a message: {r.stderr[:100]!r}")
            elif want and r.stdout:
                errs.append(f"{sub} {name}: exit 1 but a report on stdout: {r.stdout[:100]!r}")
            if sub == "spikes" and text and text not in r.stderr:
                errs.append(f"spikes {name}: stderr {r.stderr.strip()[:200]!r} lacks {text!r}")
    if len(cases) < 30:
        errs.append(f"only {len(cases)} malformed traces in tests/corpus/bad")
    fail_if(errs, 6)


def rows_of(out):
    """The row count spikes' table states in its first line."""
    m = re.search(r", (\d+) rows\n", out)
    return int(m.group(1)) if m else None


@suite.test("spikes under a memory limit: all rows or exit 1 with a message, never a "
            "truncated result with exit 0", root=False)
def t_memory_limit():
    tmp = tmpdir()
    traces = dict(real_traces(tmp))
    path = traces["transients.csv"]
    full = tool("spikes", path)
    if full.returncode != 0 or not rows_of(full.stdout):
        raise Fail(f"spikes without a limit: exit {full.returncode}: {full.stderr[:200]!r}")
    want = rows_of(full.stdout)
    # the same trace with a 2 MiB line in its middle: a reader that grows
    # its buffer for it fails to under the limit, and must not take that
    # failure for the end of the file
    with open(path) as f:
        lines = f.readlines()
    long_path = os.path.join(tmp, "long.csv")
    with open(long_path, "w") as f:
        f.writelines(lines[:800])
        f.write("x" * (2 << 20) + "\n")
        f.writelines(lines[800:])
    errs = []
    said = set()
    for trace, whole in ((path, want), (long_path, None)):
        for mib in range(3, 41):
            r = run(["prlimit", f"--as={mib << 20}", BIN, "spikes", trace], timeout=60)
            if r.returncode == 0 and rows_of(r.stdout) != whole:
                errs.append(f"--as={mib}M {os.path.basename(trace)}: exit 0 with "
                            f"{rows_of(r.stdout)} rows (the whole trace: {whole})")
            elif r.returncode not in (0, 1, 127):
                errs.append(f"--as={mib}M {os.path.basename(trace)}: exit {r.returncode}: "
                            f"{r.stderr[:150]!r}")
            elif r.returncode == 1 and "memtrace-bpf spikes: " not in r.stderr:
                errs.append(f"--as={mib}M: exit 1 without a message: {r.stderr[:150]!r}")
            elif r.returncode == 1:
                said.add(r.stderr.strip()[:90])
    for s in sorted(said):
        print(f"# said: {s}")
    fail_if(errs, 4)


def report(d, *args, timeout=30):
    return run([BIN, "campaign", "report", d, *args], timeout=timeout)


@suite.test("campaign report: malformed result.csv, a FIFO, a symlink or a directory in its "
            "place are skipped with a message; the others are reported", root=False,
            timeout=120)
def t_report_bad_results():
    tmp = tmpdir()
    d, want = campaign_dir(tmp)
    ok = sorted(run for run, what in want.items() if what == "ok")
    errs = []
    for fmt in ("text", "json"):
        r = report(d, "--format", fmt)
        if r.returncode != 0:
            raise Fail(f"report --format {fmt}: exit {r.returncode}: {r.stderr.strip()[-300:]!r}")
        for run_dir, what in want.items():
            path = os.path.join(run_dir, "result.csv")
            said = [ln for ln in r.stderr.splitlines() if path in ln]
            if what == "ok" and said:
                errs.append(f"{path}: {said[0]!r} (a good result)")
            elif what != "ok" and not any(what in ln and "skipping" in ln for ln in said):
                errs.append(f"{path}: want a 'skipping ... {what}' line, got {said!r}")
        if fmt == "json" and json.loads(r.stdout)["finished_runs"] != len(ok):
            errs.append(f"stats.json: {r.stdout[:200]!r}: want {len(ok)} finished runs")
    with open(os.path.join(d, "campaign.csv")) as f:
        rows = f.read().splitlines()
    if len(rows) != len(ok) + 1:
        errs.append(f"campaign.csv has {len(rows) - 1} runs, want {len(ok)}: {rows}")
    fail_if(errs, 6)


def mount_tmpfs(path, size):
    """A small tmpfs at path (root only); Skip where mount is refused."""
    if os.geteuid() != 0:
        raise Skip("needs root, to mount a small tmpfs")
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        raise Skip(f"cannot mount a tmpfs: {r.stdout.strip()}")


def umount(path):
    subprocess.run(["umount", "-l", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fill(path):
    """Fills the file system of directory path: a file of every free block."""
    fd = os.open(os.path.join(path, "fill"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


@suite.test("campaign report: tables it cannot write (the directory or its stdout on a full "
            "disk) are exit 1 with a message", root=False)
def t_report_full_disk():
    tmp = tmpdir()
    mnt = os.path.join(tmp, "small")
    mount_tmpfs(mnt, "256k")
    errs = []
    try:
        d, want = campaign_dir(mnt, specials=False)
        first = report(d)
        if first.returncode != 0:
            raise Fail(f"report on a disk with room: exit {first.returncode}: {first.stderr[-200:]!r}")
        # stdout full, the directory not: the table is lost
        for out in ("/dev/full", os.path.join(tmp, "full-stdout")):
            if out != "/dev/full":
                mount_tmpfs(out, "4k")
                fill(out)
                target = os.path.join(out, "table.txt")
            else:
                target = out
            for fmt in ("text", "json"):
                with open(target, "w") as f:
                    r = run([BIN, "campaign", "report", d, "--format", fmt], stdout=f, timeout=30)
                if r.returncode != 1 or "memtrace-bpf campaign: " not in r.stderr or \
                        "No space left" not in r.stderr:
                    errs.append(f"report --format {fmt} > {target}: exit {r.returncode} "
                                f"(want 1), stderr {r.stderr.strip()[-200:]!r}")
            if out != "/dev/full":
                umount(out)
        # the directory full: its tables cannot be written
        for name in ("campaign.csv", "stats.csv", "stats.json"):
            os.unlink(os.path.join(d, name))
        fill(mnt)
        r = report(d)
        if r.returncode != 1 or "cannot write the reports in" not in r.stderr:
            errs.append(f"report into a full directory: exit {r.returncode} (want 1), "
                        f"stderr {r.stderr.strip()[-200:]!r}")
        left = [f for f in os.listdir(d) if ".tmp." in f]
        if left:
            errs.append(f"temporaries left in {d}: {left}")
    finally:
        umount(mnt)
    fail_if(errs, 4)


@suite.test("campaign report during a live campaign: refused with a message, its tables "
            "untouched; after it, reported", timeout=120)
def t_report_live_campaign():
    tmp = tmpdir()
    d = os.path.join(tmp, "c")
    p = spawn([BIN, "campaign", "-q", "-d", d, "--", "sleep", "4"])
    deadline = time.monotonic() + 30
    run_dir = os.path.join(d, "default", "1")
    while not os.path.exists(run_dir):
        if p.poll() is not None or time.monotonic() > deadline:
            raise Fail(f"the campaign did not start its run: exit {p.poll()}, "
                       f"{p.stderr.read().decode()[-300:] if p.poll() is not None else ''!r}")
        time.sleep(0.05)
    errs = []
    r = report(d)
    if r.returncode != 1 or "a campaign is running in " + d not in r.stderr:
        errs.append(f"report during the campaign: exit {r.returncode} (want 1), stderr "
                    f"{r.stderr.strip()[-200:]!r}")
    if p.poll() is not None:
        errs.append("the campaign ended before the report was tried (too slow a machine?)")
    for name in ("campaign.csv", "stats.csv", "stats.json"):
        if os.path.exists(os.path.join(d, name)):
            errs.append(f"{name} written while the campaign ran")
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise Fail("the campaign did not end")
    if rc != 0:
        errs.append(f"the campaign exited {rc}: {p.stderr.read().decode()[-300:]!r}")
    with open(os.path.join(d, "campaign.csv")) as f:
        ran = f.read().splitlines()
    if len(ran) != 2:
        errs.append(f"campaign.csv after the campaign: {ran}")
    r = report(d)
    if r.returncode != 0:
        errs.append(f"report after the campaign: exit {r.returncode}: {r.stderr.strip()[-200:]!r}")
    fail_if(errs, 4)


@suite.test("campaign --file: a NUL byte in a line is an error naming FILE:LINE, nothing run",
            root=False)
def t_file_nul():
    tmp = tmpdir()
    d = os.path.join(tmp, "c")
    errs = []
    for name, text, line in (("nul.txt", b"true one\nsleep 1\0; touch %s\n", 2),
                             ("nul-continued.txt", b"true \\\n  two \\\n x\0y\n", 3)):
        marker = os.path.join(tmp, "ran")
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(text.replace(b"%s", marker.encode()))
        r = run([BIN, "campaign", "-q", "-d", d, "--file", path], timeout=60)
        want = f"{path}:{line}: a NUL byte"
        if r.returncode != 1 or want not in r.stderr:
            errs.append(f"{name}: exit {r.returncode} (want 1), stderr {r.stderr.strip()[-200:]!r} "
                        f"(want {want!r})")
        if os.path.exists(d):
            errs.append(f"{name}: {d} was created: something ran")
            subprocess.run(["rm", "-rf", d])
    fail_if(errs, 4)


if __name__ == "__main__":
    sys.exit(suite.main())
