#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The memory gate (--max-peak, --tolerance) on real kernel events, and the
exit status of command-line errors.

The transients workload takes one 32 MiB transient and exits 0; each run's
exact peak (from its own summary) decides which side of each limit it is on,
and both sides must occur. Prints TAP-like lines
and `gate: N passed, N failed, N skipped`; BPF tests skip without root,
and fail instead under CI=true.
"""

import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("MEMTRACE_BPF", os.path.join(ROOT, ".output", "memtrace-bpf"))
# one 32 MiB transient, exit status 0 (so the gate's own 88 shows)
WL = [os.path.join(ROOT, ".output", "workloads", "transients"), "short", "1", "0", "32"]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Fail, Tap  # noqa: E402


def gate_run(tmp, *opts):
    csv_path = os.path.join(tmp, "g.csv")
    r = subprocess.run([BIN, "-q", "-o", csv_path, *opts, "--", *WL], capture_output=True,
                       text=True, timeout=120)
    with open(os.path.join(tmp, "g.summary.json")) as f:
        return r, json.load(f)


def t_gate_both_sides():
    errs = []
    with tempfile.TemporaryDirectory() as tmp:
        r, s = gate_run(tmp)
        peak = s["peak_rss_kb"]
        if s["exit_code"] != 0:
            raise Fail(f"the workload exited {s['exit_code']}")
        cases = [
            ["--max-peak", f"{peak + 1024}K"],                      # within
            ["--max-peak", f"{peak - 1024}K"],                      # over by 1 MiB
            ["--max-peak", f"{peak // 2}K", "--tolerance", "150%"],  # within
            ["--max-peak", f"{peak // 2}K", "--tolerance", "80%"],   # over
            ["--max-peak", f"{peak - 1024}K", "--tolerance", "2M"],  # within
        ]
        sides = set()
        for opts in cases:
            r, s2 = gate_run(tmp, *opts)
            lines = [l for l in r.stderr.splitlines() if "the limit" in l]
            # the peak moves by a few pages between runs: judge each run by
            # its own exact peak
            p2 = s2["peak_rss_kb"]
            lim = s2["gate"]["limit_with_tolerance_kb"]
            over = p2 > lim
            sides.add(over)
            want_rc = 88 if over else 0
            word = "OVER" if over else "within"
            if r.returncode != want_rc or len(lines) != 1 or word not in lines[0]:
                errs.append(f"{' '.join(opts)}: exit {r.returncode} (want {want_rc}), "
                            f"line {lines}, peak {p2} kB, limit {lim} kB")
            elif f"({p2} kB)" not in lines[0]:
                errs.append(f"{' '.join(opts)}: the line does not give the peak in kB: {lines[0]}")
            if s2["gate"]["exceeded"] != over:
                errs.append(f"{' '.join(opts)}: summary gate.exceeded is {s2['gate']['exceeded']}")
        if sides != {True, False}:
            errs.append(f"only one side of the limit was exercised ({sides})")
    if errs:
        raise Fail("; ".join(errs[:3]))


def t_usage_errors_exit_2():
    errs = []
    for args, needle in ((["--bogus"], "unrecognized option"),
                         (["--tolerance", "10%", "--", "true"], "--tolerance needs --max-peak"),
                         (["--max-peak", "12abc", "--", "true"], "--max-peak 12abc"),
                         (["--max-peak", "1G", "--tolerance", "-5%", "--", "true"], "--tolerance -5%"),
                         (["spikes", "--bogus"], "unrecognized option")):
        r = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30)
        if r.returncode != 2 or needle not in r.stderr:
            errs.append(f"{' '.join(args)}: exit {r.returncode}, stderr {r.stderr.strip()[:100]!r}")
    h = subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout
    for opt in ("--max-peak", "--tolerance", "exit 88"):
        if opt not in h:
            errs.append(f"--help lacks {opt}")
    if errs:
        raise Fail("; ".join(errs))


def main():
    tap = Tap("gate")
    tap.run("usage errors exit 2", t_usage_errors_exit_2, root=False)
    tap.run("gate both sides", t_gate_both_sides)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
