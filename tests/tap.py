# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""TAP-like reporting shared by tests/test_spikes.py, test_gate.py and
test_regress.py: `ok N - name`, `not ok N - name: why`, `ok N - name # SKIP
why`, and a closing `PREFIX: N passed, N failed, N skipped` line that
tests/run.sh adds up. Under CI=true a skip is a failure: on the CI machine
every BPF test must run."""

import os
import sys

CI = os.environ.get("CI", "") == "true"


class Fail(Exception):
    pass


class Skip(Exception):
    pass


class Tap:
    def __init__(self, prefix):
        self.prefix = prefix
        self.n = 0
        self.counts = {"passed": 0, "failed": 0, "skipped": 0}

    def report(self, name, status, why=""):
        self.n += 1
        if status == "skip" and CI:
            status, why = "fail", "would skip under CI=true: " + why
        if status == "ok":
            self.counts["passed"] += 1
            print(f"ok {self.n} - {name}")
        elif status == "skip":
            self.counts["skipped"] += 1
            print(f"ok {self.n} - {name} # SKIP {why}")
        else:
            self.counts["failed"] += 1
            print(f"not ok {self.n} - {name}: {why}")
        sys.stdout.flush()

    def run(self, name, fn, *args, root=True):
        """Runs fn(*args): passes unless it raises (Fail, Skip, or a crash)."""
        if root and os.geteuid() != 0:
            self.report(name, "skip", "needs root to load BPF programs")
            return
        try:
            fn(*args)
            self.report(name, "ok")
        except Skip as e:
            self.report(name, "skip", str(e))
        except Fail as e:
            self.report(name, "fail", str(e))
        except Exception as e:  # a crash is a failure, with its reason
            self.report(name, "fail", f"{type(e).__name__}: {e}")

    def finish(self):
        c = self.counts
        print(f"{self.prefix}: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped")
        return 1 if c["failed"] else 0
