# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The input corpus of tests/corpus/ (see tests/corpus/make_bad.py), as the
bad-input suite and `make check-asan` (tests/check_asan.py) read it:

  real/*.csv.gz   traces recorded by memtrace-bpf itself, and a poller's file
  bad/            malformed traces, with bad/expect.tsv (what each gives)
  results/        result.csv files, good and malformed, with expect.tsv

Files ending in .gz are unpacked into a temporary directory first.
"""

import gzip
import os

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

# what a campaign report needs to take DIR for a campaign
PLAN = "params\nrepeat 1\ncommand\ttrue\n"


def unpack(path, into):
    """path itself, or (a .gz) its content written into the directory into."""
    if not path.endswith(".gz"):
        return path
    out = os.path.join(into, os.path.basename(path)[:-3])
    with gzip.open(path, "rb") as f, open(out, "wb") as g:
        g.write(f.read())
    return out


def real_traces(into):
    """[(name, path)] of the recorded traces, unpacked into into."""
    d = os.path.join(CORPUS, "real")
    paths = [unpack(os.path.join(d, f), into) for f in sorted(os.listdir(d))]
    return [(os.path.basename(p), p) for p in paths]


def bad_traces(into):
    """[(name, path, (spikes, validate, stages) exit statuses, text spikes says)]."""
    d = os.path.join(CORPUS, "bad")
    out = []
    with open(os.path.join(d, "expect.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, rcs, text = line.rstrip("\n").split("\t")
            out.append((name, unpack(os.path.join(d, name), into),
                        tuple(int(x) for x in rcs.split()), text))
    return out


def campaign_dir(into, specials=True):
    """A campaign directory under into with one run per file of
    results/ (DIR/<name>/1/result.csv), and with specials, runs whose
    result.csv is a FIFO, a symbolic link to /dev/zero, a directory.
    Returns (DIR, {run dir: "ok" or what the report's warning says})."""
    d = os.path.join(into, "campaign")
    os.makedirs(d)
    with open(os.path.join(d, "plan.txt"), "w") as f:
        f.write(PLAN)
    src = os.path.join(CORPUS, "results")
    want = {}
    with open(os.path.join(src, "expect.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, what = line.rstrip("\n").split("\t")
            run = os.path.join(d, name[:-4], "1")
            os.makedirs(run)
            with open(os.path.join(src, name), "rb") as g, \
                    open(os.path.join(run, "result.csv"), "wb") as h:
                h.write(g.read())
            want[run] = what
    if specials:
        for name, make, what in (
                ("fifo", os.mkfifo, "not a regular file (a FIFO)"),
                ("symlink", lambda p: os.symlink("/dev/zero", p), "a symbolic link"),
                ("directory", os.mkdir, "not a regular file (a directory)")):
            run = os.path.join(d, name, "1")
            os.makedirs(run)
            make(os.path.join(run, "result.csv"))
            want[run] = what
    return d, want
