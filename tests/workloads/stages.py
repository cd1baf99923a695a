#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""stages.py: a Python program marking its stages through MEMTRACE_MARK_FD,
for the stage tests.

    stages.py [FRAMES]

A span load:begin .. load:end keeps LOAD MiB; then FRAMES frames, each
marked "frame", in which a transient of 2*(i+1) MiB comes and goes and 1
MiB is kept; a last "frame" mark ends the last frame, then "done".
Memory comes from anonymous mmaps touched page by page (4 KiB pages: the
rise is the size). Prints at the end (CLOCK_MONOTONIC ns):
    M <name> <t_before_write> <t_after_write>
    F <i> <transient_kb> <kept_kb>
    L <load_kb>
"""
import mmap
import os
import sys
import time

MiB = 1 << 20
PAGE = 4096
LOAD_MIB = 8

fd = int(os.environ["MEMTRACE_MARK_FD"])
frames = int(sys.argv[1]) if len(sys.argv) > 1 else 4
marks = []
clock = time.CLOCK_MONOTONIC


def mark(name):
    t0 = time.clock_gettime_ns(clock)
    os.write(fd, (name + "\n").encode())
    t1 = time.clock_gettime_ns(clock)
    marks.append((name, t0, t1))


def touched(size):
    m = mmap.mmap(-1, size)
    for off in range(0, size, PAGE):
        m[off] = 1
    return m


# warm up the code paths and the lists, so later stages allocate little
kept = []
mark("warmup")
touched(MiB).close()
marks.clear()
out = []

mark("load:begin")
kept.append(touched(LOAD_MIB * MiB))
mark("load:end")
for i in range(frames):
    mark("frame")
    t = touched(2 * (i + 1) * MiB)
    t.close()
    kept.append(touched(MiB))
    out.append(f"F {i} {2 * (i + 1) * 1024} 1024")
mark("frame")
mark("done")
out.append(f"L {LOAD_MIB * 1024}")
out += [f"M {n} {a} {b}" for n, a, b in marks]
sys.stdout.write("\n".join(out) + "\n")
