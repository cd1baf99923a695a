#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Per-call cost of memtrace-bpf's kernel programs on the fault storm.

Part of `make bench`. Turns on kernel.bpf_stats_enabled, runs
`memtrace-bpf -- faultstorm` ROUNDS times, and reads the run_time_ns /
run_cnt the kernel keeps for each program this instance loaded (bpftool
prog show). Prints the median ns per call of each program. The kernel's
own accounting adds two clock reads per call to what it measures, so the
figures are an upper bound; unlike wall-clock ratios they hardly move with
the load on other CPUs, which makes them the measure to compare builds by.

  tools/progcost.py [ROUNDS] [MIB]     (as root, from the repository root)
"""

import json
import os
import statistics
import subprocess
import sys
import time

OUT = os.environ.get("OUTPUT", ".output")
BIN = os.path.join(OUT, "memtrace-bpf")
FS = os.path.join(OUT, "tools", "faultstorm")
PROGS = ("on_rss_stat", "on_page_fault_user", "on_sys_enter", "on_sys_exit")


def progs():
    r = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    try:
        return json.loads(r.stdout) if r.returncode == 0 else []
    except ValueError:
        return []


def one_run(mib, tmp):
    """{program: (run_time_ns, run_cnt)} of one traced storm."""
    before = max([p["id"] for p in progs()] + [0])
    p = subprocess.Popen([BIN, "-q", "-o", tmp, "--", FS, "-m", str(mib)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = {}
    while p.poll() is None:
        cur = {}
        # ours: loaded after we started; another instance's programs (if one
        # runs) see far fewer calls than the storm's
        for pr in progs():
            # bpftool shows the BTF name, or the kernel's 15-character one
            name = next((n for n in PROGS if n[:15] == pr.get("name", "")[:15]), None)
            if pr["id"] > before and name:
                v = (pr.get("run_time_ns", 0), pr.get("run_cnt", 0))
                if v[1] >= cur.get(name, (0, -1))[1]:
                    cur[name] = v
        if cur:
            last = cur
        time.sleep(0.05)
    return last if p.returncode == 0 else None


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 512
    if os.geteuid() != 0:
        sys.exit("progcost: must run as root (sudo make bench)")
    for f in (BIN, FS):
        if not os.access(f, os.X_OK):
            sys.exit(f"progcost: {f} is missing: build first (make)")
    old = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
    tmp = f"/tmp/memtrace-progcost.{os.getpid()}.csv"
    per = {n: [] for n in PROGS}
    calls = {n: [] for n in PROGS}
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        for _ in range(rounds):
            r = one_run(mib, tmp)
            if not r:
                continue
            for name, (t, c) in r.items():
                if c:
                    per[name].append(t / c)
                    calls[name].append(c)
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(old)
        for p in (tmp, tmp[:-4] + ".summary.json"):
            if os.path.exists(p):
                os.unlink(p)
    print(f"Per-call cost of each program (kernel.bpf_stats_enabled), {rounds} storms of "
          f"{mib} MiB ({mib * 256} faults), medians:")
    for name in PROGS:
        if per[name]:
            print(f"  {name:<18} {statistics.median(per[name]):7.1f} ns/call "
                  f"(min {min(per[name]):.1f}, max {max(per[name]):.1f}), "
                  f"{int(statistics.median(calls[name]))} calls/storm")
    print("  (each figure includes the two clock reads the kernel's accounting adds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
