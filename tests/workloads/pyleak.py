#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""pyleak: a Python program that leaks 80 MiB over about a second (256 KiB
objects kept in a list, with short-lived 4 MiB temporaries among them),
then returns: the interpreter frees everything at teardown. The analysis
must call it growing, at the rate it leaked.

Prints `L rate_kb_s t_from t_to` (CLOCK_MONOTONIC ns): the rate it leaked
at over [t_from, t_to], and `V growing`.
"""
import time

kept = []
time.sleep(0.05)
t0 = time.monotonic_ns()
for i in range(320):
    kept.append(bytearray(256 * 1024))
    if i % 40 == 20:
        tmp = bytearray(4 * 1024 * 1024)
        del tmp
    end = time.monotonic_ns() + 3_000_000
    while time.monotonic_ns() < end:
        pass
t1 = time.monotonic_ns()
print(f"L {320 * 256 / ((t1 - t0) / 1e9):.0f} {t0} {t1}")
print("V growing", flush=True)
