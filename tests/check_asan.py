#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`make check-asan`: the builds of .output/asan/ (unit tests, memtrace-bpf)
and the fuzz targets of .output/fuzz/, compiled with ASan and UBSan, run on

  - the unit tests;
  - spikes, validate, stages (--format table and json, and spikes' other
    rules) over every trace of tests/corpus/ (real and malformed), each with
    the exit status tests/corpus/bad/expect.tsv gives it; resample and
    export --perfetto over them too;
  - campaign report (table and json) over a campaign directory made of
    tests/corpus/results/ (a FIFO, a symlink, a directory among them);
  - report (HTML and SVG) over the same traces, and campaign report --html;
  - each fuzz target over its saved corpus (tests/fuzz/corpus/NAME/) and
    the seeds it was started from.

Any sanitizer report, death by a signal, or run over its time limit is a
failure. UB aborts (-fno-sanitize-recover=all, halt_on_error); leaks are
reported (detect_leaks=1) where LeakSanitizer works: it stops the
process's threads with ptrace, and where that is refused (a container
without CAP_SYS_PTRACE, ptrace_scope 3) it is turned off, with a note.
strict_string_checks stays off: it flags strndup(s, n) of an array of n
bytes without a NUL, which is valid.

  tests/check_asan.py                 the checks (TAP lines, then
                                      "asan: N passed, N failed")
  tests/check_asan.py --seeds DIR     only writes the fuzz seeds into
                                      DIR/fuzz_csv, DIR/fuzz_result and
                                      DIR/fuzz_wire
"""

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TESTS)

from corpus_lib import CORPUS, bad_traces, campaign_dir, real_traces, unpack  # noqa: E402

ROOT = os.path.dirname(TESTS)
ASAN = os.path.join(ROOT, ".output", "asan")
FUZZ = os.path.join(ROOT, ".output", "fuzz")
BIN = os.path.join(ASAN, "memtrace-bpf")
SAVED = os.path.join(TESTS, "fuzz", "corpus")

ASAN_OPTIONS = ("halt_on_error=1:abort_on_error=1:detect_leaks=1:"
                "detect_stack_use_after_return=1:check_initialization_order=1:"
                "detect_invalid_pointer_pairs=1")
UBSAN_OPTIONS = "halt_on_error=1:abort_on_error=1:print_stacktrace=1:report_error_type=1"
MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
           "UndefinedBehaviorSanitizer", "SUMMARY: ", "==ERROR", "deadly signal")
TIMEOUT = 120

env = dict(os.environ, ASAN_OPTIONS=ASAN_OPTIONS, UBSAN_OPTIONS=UBSAN_OPTIONS)
env.pop("MEMTRACE_BPF", None)


def lsan_works():
    """None, or why LeakSanitizer cannot run here (it is then turned off)."""
    r = subprocess.run([BIN, "--help"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, errors="replace", timeout=60)
    if "LeakSanitizer has encountered a fatal error" in r.stderr or \
            "does not work under ptrace" in r.stderr:
        return r.stderr.strip().splitlines()[0]
    return None


def run(argv, timeout=TIMEOUT, **kw):
    """(exit status, stdout, stderr, seconds); a timeout is status None."""
    t = time.monotonic()
    try:
        r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, **kw)
        return r.returncode, r.stdout.decode("utf-8", "replace"), \
            r.stderr.decode("utf-8", "replace"), time.monotonic() - t
    except subprocess.TimeoutExpired as e:
        return None, "", (e.stderr or b"").decode("utf-8", "replace"), time.monotonic() - t


def sanitizer_said(text):
    for line in text.splitlines():
        if any(m in line for m in MARKERS):
            return line.strip()[:200]
    return None


def check(what, argv, want_rc=None, timeout=TIMEOUT, **kw):
    """Runs argv; a problem as a string, or None. want_rc: statuses allowed
    (default 0 and 1: a report, or a refusal said on stderr)."""
    rc, out, err, took = run(argv, timeout=timeout, **kw)
    said = sanitizer_said(err) or sanitizer_said(out)
    if said:
        return f"{what}: {said}"
    if rc is None:
        return f"{what}: no end within {timeout}s"
    if rc < 0 or rc >= 128:
        return f"{what}: killed by signal {-rc if rc < 0 else rc - 128}: {err.strip()[-200:]!r}"
    if rc not in (want_rc if want_rc is not None else (0, 1)):
        return f"{what}: exit {rc} (want {want_rc}): {err.strip()[-200:]!r}"
    if rc == 1 and not err.strip():
        return f"{what}: exit 1 without a message"
    return None


# --------------------------------------------------------------------------

results = {"ok": 0, "fail": 0}
n = 0


def result(name, errs, note=None):
    global n
    n += 1
    if errs:
        results["fail"] += 1
        print(f"not ok {n} - {name}: " + "; ".join(errs[:6]) +
              (f" (+{len(errs) - 6} more)" if len(errs) > 6 else ""))
    else:
        results["ok"] += 1
        print(f"ok {n} - {name}" + (f" ({note})" if note else ""))
    sys.stdout.flush()


def t_unit():
    rc, out, err, took = run([os.path.join(ASAN, "unit_tests")])
    errs = []
    said = sanitizer_said(err) or sanitizer_said(out)
    if said:
        errs.append(said)
    last = [ln for ln in out.splitlines() if ln.startswith("unit: ")]
    if rc != 0 or not last or " 0 failed" not in last[-1]:
        errs.append(f"exit {rc}, {last[-1] if last else 'no closing line'}: "
                    + " | ".join(ln for ln in out.splitlines() if ln.startswith("not ok"))[:300])
    result("unit tests under ASan+UBSan", errs, last[-1] if last else None)


SPIKES_RULES = ([], ["--window", "1s", "--min-rise", "4K"], ["--poll", "1us,1s", "--top", "0"],
                ["--settle", "4K", "--min-rise", "8K"])


def t_traces(tmp):
    errs = []
    runs = 0
    for name, path in real_traces(tmp):
        for sub in ("spikes", "validate", "stages"):
            for fmt in ("table", "json"):
                runs += 1
                e = check(f"{sub} --format {fmt} {name}", [BIN, sub, path, "--format", fmt])
                if e:
                    errs.append(e)
        for rule in SPIKES_RULES[1:]:
            runs += 1
            e = check(f"spikes {' '.join(rule)} {name}", [BIN, "spikes", path, *rule], (0,))
            if e:
                errs.append(e)
    result("spikes, validate, stages over the recorded traces", errs, f"{runs} runs")
    errs = []
    runs = 0
    for name, path, rcs, _ in bad_traces(tmp):
        for sub, want in zip(("spikes", "validate", "stages"), rcs):
            for fmt in ("table", "json"):
                runs += 1
                e = check(f"{sub} --format {fmt} {name}", [BIN, sub, path, "--format", fmt],
                          (want,))
                if e:
                    errs.append(e)
        if rcs[0] == 0:
            for rule in SPIKES_RULES[1:]:
                runs += 1
                e = check(f"spikes {' '.join(rule)} {name}", [BIN, "spikes", path, *rule], (0,))
                if e:
                    errs.append(e)
    result("spikes, validate, stages over the malformed traces", errs, f"{runs} runs")


def t_resample(tmp):
    """resample over the corpus: the recorded traces (the tree, a short
    period, a PID that is not there) and the malformed ones, which it must
    take or refuse as spikes does (their first exit status)."""
    errs = []
    runs = 0
    for name, path in real_traces(tmp):
        for opts in ([], ["--every", "50us"], ["--every", "1s", "--pid", "1"]):
            runs += 1
            e = check(f"resample {' '.join(opts)} {name}", [BIN, "resample", path, *opts],
                      (0, 1) if "--pid" in opts else (0,))
            if e:
                errs.append(e)
    for name, path, rcs, _ in bad_traces(tmp):
        runs += 1
        e = check(f"resample {name}", [BIN, "resample", path], (rcs[0],))
        if e:
            errs.append(e)
    result("resample over the recorded and the malformed traces", errs, f"{runs} runs")


def t_export(tmp):
    """export --perfetto over the corpus: the recorded traces (the tree, a
    PID that is not there, to stdout) and the malformed ones, which it must
    take or refuse as spikes does (their first exit status)."""
    errs = []
    runs = 0
    out = os.path.join(tmp, "x.pftrace")
    for name, path in real_traces(tmp):
        for opts, rcs in ((["-o", out], (0,)), (["-o", out, "--pid", "1"], (1,)),
                          (["-o", "-"], (0,))):
            runs += 1
            e = check(f"export {' '.join(opts)} {name}", [BIN, "export", "--perfetto", path, *opts],
                      rcs)
            if e:
                errs.append(e)
    for name, path, rcs, _ in bad_traces(tmp):
        runs += 1
        e = check(f"export {name}", [BIN, "export", "--perfetto", path, "-o", out], (rcs[0],))
        if e:
            errs.append(e)
    result("export --perfetto over the recorded and the malformed traces", errs, f"{runs} runs")


def t_report(tmp):
    errs = []
    d, want = campaign_dir(tmp)
    for fmt in ("text", "json"):
        e = check(f"campaign report --format {fmt}", [BIN, "campaign", "report", d, "--format", fmt],
                  (0,), timeout=60)
        if e:
            errs.append(e)
    e = check("campaign report of a directory with no campaign",
              [BIN, "campaign", "report", tmp], (1,))
    if e:
        errs.append(e)
    result("campaign report over the result files", errs, f"3 runs, {len(want)} result files")


def t_pages(tmp):
    """report (HTML and SVG) over the recorded traces and the malformed
    ones, which it must take or refuse as spikes does; campaign report
    --html over the result files (its runs have no trace: no page each)."""
    errs = []
    runs = 0
    out = os.path.join(tmp, "page")
    for name, path in real_traces(tmp):
        for fmt in ("html", "svg"):
            runs += 1
            e = check(f"report --format {fmt} {name}",
                      [BIN, "report", path, "--format", fmt, "-o", out + "." + fmt], (0,))
            if e:
                errs.append(e)
    for name, path, rcs, _ in bad_traces(tmp):
        runs += 1
        e = check(f"report {name}", [BIN, "report", path, "-o", out + ".html"], (rcs[0],))
        if e:
            errs.append(e)
    d, want = campaign_dir(os.path.join(tmp, "campaign"))
    runs += 1
    e = check("campaign report --html", [BIN, "campaign", "report", d, "--html"], (0,), timeout=60)
    if e:
        errs.append(e)
    result("report over the recorded and the malformed traces, campaign report --html", errs,
           f"{runs} runs")


def seeds(into):
    """The seeds: tests/corpus/ unpacked, per target."""
    csv = os.path.join(into, "fuzz_csv")
    res = os.path.join(into, "fuzz_result")
    for d in (csv, res):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, _, _ in bad_traces(tmp):
            shutil.copy(path, os.path.join(csv, os.path.basename(path)))
        for name, path in real_traces(tmp):
            # their first 8 KiB: the fuzzer's -max_len
            with open(path, "rb") as f, open(os.path.join(csv, name), "wb") as g:
                g.write(f.read(8192))
    src = os.path.join(CORPUS, "results")
    for f in os.listdir(src):
        if f.endswith(".csv"):
            shutil.copy(os.path.join(src, f), os.path.join(res, f))
    return {"fuzz_csv": csv, "fuzz_result": res, "fuzz_wire": wire_seeds(into)}


def wire_msg(mtype, seq, payload):
    """A datagram of the service's protocol (user/trace/wire.h)."""
    return struct.pack("<IHHII", 0x3157544D, 1, mtype, len(payload), seq) + payload


def wire_seeds(into):
    """One well-formed message of each kind (fds byte first), and a few
    that are one step off: the fuzzer's start for fuzz_wire."""
    d = os.path.join(into, "fuzz_wire")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    rec = lambda t: struct.pack("<IIII", t, 42, 42, 1) + bytes(152)     # struct mt_rec
    guard = struct.pack("<QQ8QIIIIII", 0, 1000, 10, 20, 0, 0, 0, 0, 0, 0, 2, 0, 9, 0, 0, 0) \
        + bytes(48)                                                     # struct mt_guard
    seeds = {
        "hello": (0, wire_msg(1, 1, struct.pack("<HH4HI16s", 1, 1, 168, 0, 160, 0, 0,
                                                b"memtrace-bpf"))),
        "take": (0, wire_msg(2, 2, struct.pack("<I", 1))),
        "guard": (0, wire_msg(3, 3, struct.pack("<II", 1, 0) + guard)),
        "expect": (1, wire_msg(4, 4, struct.pack("<II", 1, 4242))),
        "markfd": (0, wire_msg(5, 5, struct.pack("<IiII", 4242, 3, 0, 0))),
        "marks": (1, wire_msg(6, 6, b"")),
        "attach": (0, wire_msg(7, 7, struct.pack("<II3I", 1, 3, 10, 11, 12))),
        "get": (0, wire_msg(8, 8, struct.pack("<I", 1))),
        "flush": (0, wire_msg(12, 9, b"")),
        "recs": (0, wire_msg(0x4001, 0, struct.pack("<QII", 5, 2, 0) + rec(1) + rec(5))),
        "urgent": (0, wire_msg(0x4002, 0, rec(11))),
        "reply": (0, wire_msg(12 | 0x8000, 9, struct.pack("<iIQ", 0, 0, 5))),
        "short": (0, wire_msg(8, 8, b"\x01")),
        "attach-over": (0, wire_msg(7, 7, struct.pack("<II", 1, 257))),
    }
    for name, (nfds, msg) in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(bytes([nfds]) + msg)
    return d


def t_fuzz_replay(tmp):
    seed_dirs = seeds(os.path.join(tmp, "seeds"))
    for target, sd in sorted(seed_dirs.items()):
        binary = os.path.join(FUZZ, target)
        files = [os.path.join(sd, f) for f in sorted(os.listdir(sd))]
        saved = os.path.join(SAVED, target)
        if os.path.isdir(saved):
            files += [os.path.join(saved, f) for f in sorted(os.listdir(saved))]
        # one process per 200 files: libFuzzer runs each file given once
        errs = []
        for i in range(0, len(files), 200):
            e = check(f"{target} on {len(files[i:i + 200])} inputs",
                      [binary, "-timeout=30", "-rss_limit_mb=2048", *files[i:i + 200]], (0,),
                      timeout=600)
            if e:
                errs.append(e)
        result(f"fuzz target {target} over its saved corpus and seeds", errs,
               f"{len(files)} inputs")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--seeds":
        seeds(sys.argv[2])
        return 0
    for p in (BIN, os.path.join(ASAN, "unit_tests"),
              os.path.join(FUZZ, "fuzz_csv"), os.path.join(FUZZ, "fuzz_result"),
              os.path.join(FUZZ, "fuzz_wire")):
        if not os.access(p, os.X_OK):
            print(f"check_asan: {p} is not built (make check-asan builds it)", file=sys.stderr)
            return 2
    t0 = time.monotonic()
    why = lsan_works()
    if why:
        env["ASAN_OPTIONS"] = ASAN_OPTIONS.replace("detect_leaks=1", "detect_leaks=0")
        print(f"# LeakSanitizer cannot run here ({why}): leaks are not checked")
    print(f"# ASAN_OPTIONS={env['ASAN_OPTIONS']}")
    print(f"# UBSAN_OPTIONS={UBSAN_OPTIONS}")
    t_unit()
    with tempfile.TemporaryDirectory(prefix="memtrace-asan-") as tmp:
        t_traces(tmp)
        t_resample(tmp)
        t_export(tmp)
        os.makedirs(os.path.join(tmp, "report"))
        t_report(os.path.join(tmp, "report"))
        os.makedirs(os.path.join(tmp, "campaign"))
        t_pages(tmp)
        t_fuzz_replay(tmp)
    print(f"# took {time.monotonic() - t0:.0f}s")
    print(f"asan: {results['ok']} passed, {results['fail']} failed")
    return 1 if results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
