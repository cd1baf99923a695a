#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The peak limit (--max-peak, --tolerance) on real kernel events, and the
exit status of command-line errors.

The transients workload takes one 32 MiB transient and exits 0; each run's
exact peak (from its own summary) decides which side of each limit it is on,
and both sides must occur. A run stopped by Ctrl-C does not pass the limit.
Output and environment: see tests/harness.py; the closing line is
`peak-limit: N passed, N failed, N skipped`.
"""

import os
import signal
import subprocess
import sys
import time

from harness import (BIN, Fail, Suite, fail_if, help_lacks, load_summary, run, spawn, tmpdir,
                     workload)

suite = Suite("peak-limit")


def wl():
    """One 32 MiB transient, exit status 0 (so the limit's own 88 shows)."""
    return [workload("transients"), "short", "1", "0", "32"]


def gate_run(tmp, *opts):
    csv_path = os.path.join(tmp, "g.csv")
    r = run([BIN, "-q", "-o", csv_path, *opts, "--", *wl()], timeout=120)
    return r, load_summary(os.path.join(tmp, "g.summary.json"))


@suite.test("gate both sides")
def t_gate_both_sides():
    errs = []
    tmp = tmpdir()
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
    fail_if(errs, 3)


@suite.test("usage errors exit 2", root=False)
def t_usage_errors_exit_2():
    errs = []
    for args, needle in ((["--bogus"], "unrecognized option"),
                         (["--tolerance", "10%", "--", "true"], "--tolerance needs --max-peak"),
                         (["--max-peak", "12abc", "--", "true"], "--max-peak 12abc"),
                         (["--max-peak", "1G", "--tolerance", "-5%", "--", "true"], "--tolerance -5%"),
                         (["spikes", "--bogus"], "unrecognized option")):
        r = run([BIN, *args], timeout=30)
        if r.returncode != 2 or needle not in r.stderr:
            errs.append(f"{' '.join(args)}: exit {r.returncode}, stderr {r.stderr.strip()[:100]!r}")
    errs += help_lacks(("--max-peak", "--tolerance", "exit 88"))
    fail_if(errs, None)


@suite.test("aborted run fails the gate")
def t_aborted_run_fails_the_gate():
    tmp = tmpdir()
    # the shell ignoring SIGINT outlives the tracer: it is in the tracer's
    # process group, which the harness ends after the test
    p = spawn([BIN, "-q", "-o", os.path.join(tmp, "a.csv"), "--max-peak", "1G", "--",
               "sh", "-c", "trap '' INT; sleep 3"], stdout=subprocess.DEVNULL, text=True)
    time.sleep(0.6)
    p.send_signal(signal.SIGINT)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=20)
    if rc != 130:
        raise Fail(f"exit {rc}, want 130: a stopped run must not pass the gate")


if __name__ == "__main__":
    sys.exit(suite.main())
