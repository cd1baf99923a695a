# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The one harness of the Python suites in tests/ (test_*.py).

A suite registers its tests on a Suite and calls its main():

    suite = Suite("record")

    @suite.test("launch: ...")            # root=True: needs root and bpf()
    def t_something():
        ...raise Fail("why") / Skip("why")...

    if __name__ == "__main__":
        sys.exit(suite.main())

Output is TAP-like: `ok N - name`, `not ok N - name: why`,
`ok N - name # SKIP why`, `# ...` notes, then one closing line
`PREFIX: N passed, N failed, N skipped` that tests/run.sh adds up. Exit
status 1 if a test failed.

Each test runs with a time limit (TEST_TIMEOUT unless it names its own);
whatever it started with spawn()/run() is ended afterwards (by process
group), its tmpdir()s are removed. A test that needs root (root=True, the
default) is skipped without root or without a usable bpf().

Environment:
  MEMTRACE_BPF=path  the binary under test (default .output/memtrace-bpf)
  CI=true            a skip is a failure: on CI every test must run
  TEST_FILTER=regex  run only the tests whose name matches
  KEEP_TMP=1         keep the temporary directories (their paths are printed)
  MEMTRACE_TEST_USER=UID:GID  (tests/via_daemon.py) run every command the
                     tests start as that user, not root, and give it the
                     temporary directories: memtrace-bpf then traces
                     through the service (memtrace-bpf daemon) at
                     $MEMTRACE_SOCKET; the closing line's prefix gets
                     "-daemon"

Python 3 standard library only.
"""

import csv
import ctypes
import errno
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import namedtuple

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS_DIR)
OUTPUT = os.path.join(ROOT, ".output")
BIN = os.environ.get("MEMTRACE_BPF", os.path.join(OUTPUT, "memtrace-bpf"))
WL_DIR = os.path.join(OUTPUT, "workloads")
WL_SRC = os.path.join(TESTS_DIR, "workloads")
TOOLS_DIR = os.path.join(OUTPUT, "tools")

CI = os.environ.get("CI", "") == "true"
AS_USER = tuple(int(x) for x in os.environ["MEMTRACE_TEST_USER"].split(":")) \
    if os.environ.get("MEMTRACE_TEST_USER") else None
KEEP_TMP = os.environ.get("KEEP_TMP", "") not in ("", "0")
FILTER = os.environ.get("TEST_FILTER", "")

# The trace's CSV header (README "The CSV"). CSV_HEADER: the columns every
# trace starts with, those of the traces the suites write by hand (a trace of
# an earlier version, which the readers still take); TRACE_HEADER: what this
# version writes, columns appended after them (vmdata_kb, folded), the one
# definition the suites check recorded traces against.
CSV_HEADER = ("time_s,vmrss_kb,vmsize_kb,ts_ns,pid,tid,event,rss_anon_kb,rss_file_kb,"
              "rss_shmem_kb,swap_kb,total_rss_kb,cause,addr,ip,len,ret,label,reported,"
              "reported_kb")
TRACE_HEADER = CSV_HEADER + ",vmdata_kb,folded"
NFIELDS = len(TRACE_HEADER.split(","))

TOOL_TIMEOUT = 180      # seconds, one run of a command (memtrace-bpf or other)
TEST_TIMEOUT = 300      # seconds, one whole test, unless it names its own


class Fail(Exception):
    pass


class Skip(Exception):
    pass


class TestTimeout(Exception):
    pass


def fail_if(errs, limit=8):
    """Fails with the first `limit` (None: all) of errs, if any."""
    if errs:
        limit = limit or len(errs)
        extra = " (+%d more)" % (len(errs) - limit) if len(errs) > limit else ""
        raise Fail("; ".join(errs[:limit]) + extra)


# --------------------------------------------------------------------------
# processes: everything a test starts is tracked and ended by its own id

_children = []


def _child_setup():
    # default dispositions for what the tests send (a non-interactive shell
    # running us in the background may have left SIGINT ignored, and the
    # tool hands on what it inherits)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def clean_env(extra=None):
    """Our environment without sudo's SUDO_* (with them memtrace-bpf would
    run the command as the invoking user), plus extra."""
    env = dict(os.environ)
    for k in ("SUDO_UID", "SUDO_GID", "SUDO_USER", "SUDO_COMMAND"):
        env.pop(k, None)
    if extra:
        env.update(extra)
    return env


def spawn(argv, cwd=None, env=None, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
          stderr=subprocess.PIPE, sigint_ignored=False, cpus=None, as_root=False, **popen_kw):
    """Starts argv in a process group of its own, tracked: kill_tracked()
    ends the group after the test. env defaults to clean_env(). Under
    MEMTRACE_TEST_USER it runs as that user unless as_root."""
    def setup():
        _child_setup()
        if AS_USER and not as_root:
            os.setgroups([])
            os.setresgid(AS_USER[1], AS_USER[1], AS_USER[1])
            os.setresuid(AS_USER[0], AS_USER[0], AS_USER[0])
        if sigint_ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
    p = subprocess.Popen(argv, cwd=cwd, env=env if env is not None else clean_env(),
                         stdin=stdin, stdout=stdout, stderr=stderr,
                         start_new_session=True, preexec_fn=setup, **popen_kw)
    _children.append(p)
    return p


def terminate(p, timeout=20):
    """SIGTERM to p, then SIGKILL if it has not ended within timeout s.
    True: SIGTERM ended it."""
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return False


def kill_tracked():
    """Ends the process groups of what this test started (each its own:
    start_new_session), also those whose leader has exited (a group's
    number is not reused while a member lives)."""
    while _children:
        p = _children.pop()
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for f in (p.stdin, p.stdout, p.stderr):
            if f:
                try:
                    f.close()
                except OSError:
                    pass


def dec(b):
    if b is None:
        return ""
    if isinstance(b, str):
        return b
    return b.decode("utf-8", "replace")


def tail(s, n=400):
    s = dec(s).strip()
    if len(s) > n:
        s = "..." + s[-n:]
    return s.replace("\n", " | ")


# what run() and finish() return: unpacks as (rc, out, err) too
Result = namedtuple("Result", "returncode stdout stderr")


def finish(p, timeout=TOOL_TIMEOUT, input=None, binary=False):
    """Waits for p (feeding it input); returns a Result, its output as text
    (undecodable bytes replaced) or, with binary, as bytes. On timeout,
    kills its process group and fails."""
    try:
        out, err = p.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        out, err = p.communicate()
        raise Fail("%s did not finish within %ss (killed); stderr: %s"
                   % (shlex.join(p.args), timeout, tail(err)))
    if binary:
        return Result(p.returncode, out or b"", err or b"")
    return Result(p.returncode, dec(out), dec(err))


def run(argv, timeout=TOOL_TIMEOUT, binary=False, **kw):
    """Runs argv to its end (spawn()'s options), output captured."""
    return finish(spawn(argv, **kw), timeout, binary=binary)


def peak_rss(argv, timeout=TOOL_TIMEOUT):
    """Runs argv (stdout thrown away) under tools/peakrss, which forks it
    from a small process: wait4's ru_maxrss is then argv's own peak, not a
    copy of this Python's memory. Returns (peak kB, exit status, stderr)."""
    r = run([tool_path("peakrss"), *argv], timeout=timeout, stdout=subprocess.DEVNULL)
    m = re.search(r"peakrss_kb=(\d+)\n?$", r.stderr)
    if not m:
        raise Fail("peakrss said no peak: " + tail(r.stderr))
    return int(m.group(1)), r.returncode, r.stderr[:m.start()]


def tool(*args, **kw):
    """memtrace-bpf ARGS (run()'s options)."""
    return run([BIN, *args], **kw)


def record(tmp, argv, *opts, csv_name="t.csv", ok_rc=(0,), **kw):
    """memtrace-bpf -q -o TMP/CSV_NAME OPTS -- ARGV; fails unless its exit
    status is in ok_rc (None: any). Returns (CSV path, Result); the
    summary is TMP/<CSV_NAME less .csv>.summary.json."""
    csv_path = os.path.join(tmp, csv_name)
    r = run([BIN, "-q", "-o", csv_path, *opts, "--", *argv], **kw)
    if ok_rc is not None and r.returncode not in ok_rc:
        raise Fail("memtrace-bpf exited %d: %s" % (r.returncode, tail(r.stderr)))
    return csv_path, r


def summary_path(csv_path):
    """The summary written beside a trace when -s is not given (t.csv,
    t.csv.zst, t.csv.gz: t.summary.json)."""
    base = re.sub(r"\.(zst|gz)$", "", csv_path)
    return (base[:-4] if base.endswith(".csv") else csv_path) + ".summary.json"


# --------------------------------------------------------------------------
# files

_tmpdirs = []


def tmpdir(mode=None, parent=None):
    """A fresh directory (in parent, default the temporary one), removed
    after the test (kept with KEEP_TMP)."""
    d = tempfile.mkdtemp(prefix="memtrace-test-", dir=parent)
    if mode is not None:
        os.chmod(d, mode)
    if AS_USER:
        os.chown(d, AS_USER[0], AS_USER[1])
    _tmpdirs.append(d)
    return d


def clean_tmp():
    while _tmpdirs:
        d = _tmpdirs.pop()
        if KEEP_TMP:
            print("# kept %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)


_suite_tmp = []


def suite_tmpdir():
    """A directory for the whole suite run (runs shared by several tests),
    removed after the last test (kept with KEEP_TMP)."""
    if not _suite_tmp:
        _suite_tmp.append(tempfile.mkdtemp(prefix="memtrace-suite-"))
        if AS_USER:
            os.chown(_suite_tmp[0], AS_USER[0], AS_USER[1])
    return _suite_tmp[0]


_cache = {}


def cached(key, fn):
    """fn()'s value, computed once per suite run: tests that look at one
    shared run call this; a Fail or Skip in fn is each caller's."""
    if key not in _cache:
        try:
            _cache[key] = ("ok", fn())
        except (Fail, Skip) as e:
            _cache[key] = (type(e), str(e))
    kind, val = _cache[key]
    if kind == "ok":
        return val
    raise kind(val)


_built = {}


def workload(name):
    """Path of a built workload (tests/workloads/NAME.c); builds it (make)
    when missing or stale (older than its .c or than the checkpoint.h most
    of them include)."""
    path = os.path.join(WL_DIR, name)
    srcs = [os.path.join(WL_SRC, f) for f in (name + ".c", "checkpoint.h")]
    if name not in _built:
        stale = (not os.path.exists(path) or
                 any(os.path.exists(src) and os.path.getmtime(src) > os.path.getmtime(path)
                     for src in srcs))
        if stale:
            r = subprocess.run(["make", "-s", "-C", ROOT, ".output/workloads/" + name],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=120)
            if r.returncode != 0 or not os.path.exists(path):
                raise Fail("cannot build workload %s: %s" % (name, tail(r.stdout)))
        _built[name] = path
    return _built[name]


def tool_path(name):
    """Path of a built helper program (tools/NAME.c, built by make)."""
    p = os.path.join(TOOLS_DIR, name)
    if not os.access(p, os.X_OK):
        raise Fail("%s is not built (make)" % p)
    return p


def fill_disk(d, leave=0):
    """Fills the filesystem of directory d (as root: its reserved blocks
    too), in 1 KiB writes to a new file, then gives back leave bytes of it
    (at least that much is then free: the file's metadata blocks count too)."""
    fd, _ = tempfile.mkstemp(prefix="filler", dir=d)
    try:
        while True:
            os.write(fd, b"x" * 1024)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
    try:
        os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
    finally:
        os.close(fd)


class small_fs:
    """A tmpfs of size_mib MiB, mounted for the test, unmounted after."""
    def __init__(self, size_mib):
        self.size = size_mib

    def __enter__(self):
        self.dir = tmpdir()
        r = run(["mount", "-t", "tmpfs", "-o", f"size={self.size}m,mode=0755", "tmpfs",
                 self.dir], timeout=30)
        if r.returncode:
            raise Skip("cannot mount a tmpfs: " + tail(r.stderr))
        return self.dir

    def __exit__(self, *exc):
        run(["umount", "-l", self.dir], timeout=30)


def read_text(path):
    """A trace's text: .zst through the zstd tool (what a user has, so the
    file is checked to be standard zstd), .gz through Python's gzip."""
    if path.endswith(".zst"):
        r = subprocess.run(["zstd", "-dcq", path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise Fail("zstd -dc %s: exit %d: %s" % (path, r.returncode,
                                                     r.stderr.decode(errors="replace")))
        return r.stdout.decode()
    if path.endswith(".gz"):
        import gzip
        with gzip.open(path, "rt", newline="") as f:
            return f.read()
    with open(path, newline="") as f:
        return f.read()


def read_rows(path):
    """A CSV file (plain, .zst or .gz) as dicts by its header (the csv
    module: labels may be quoted)."""
    return list(csv.DictReader(io.StringIO(read_text(path), newline="")))


def read_json(path):
    with open(path) as f:
        return json.load(f)


def load_summary(path):
    """A summary JSON; fails (not crashes) if missing or malformed."""
    if not os.path.exists(path):
        raise Fail("summary %s was not written" % path)
    with open(path) as f:
        text = f.read()
    try:
        return json.loads(text)
    except ValueError as e:
        raise Fail("summary %s is not valid JSON (%s): %r" % (path, e, text[:300]))


class CP:
    """A workload's checkpoint line (tests/workloads/checkpoint.h):
    CP <pid> <t0> <t1> <vmrss> <anon> <file> <shmem> <vmsize> <vmdata> <label>,
    /proc/self/status read between CLOCK_MONOTONIC t0 and t1."""
    __slots__ = ("pid", "t0", "t1", "vmrss", "anon", "file", "shmem", "vmsize", "vmdata",
                 "label")

    def __repr__(self):
        return "CP(%s pid=%d vmrss=%d anon=%d file=%d shmem=%d vmsize=%d vmdata=%d t0=%d)" % (
            self.label, self.pid, self.vmrss, self.anon, self.file, self.shmem,
            self.vmsize, self.vmdata, self.t0)


def parse_cps(out):
    """The CP lines of a workload's output, in order."""
    cps = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 11 and f[0] == "CP":
            c = CP()
            (c.pid, c.t0, c.t1, c.vmrss, c.anon, c.file, c.shmem,
             c.vmsize, c.vmdata) = (int(x) for x in f[1:10])
            c.label = f[10]
            cps.append(c)
    return cps


def peak_cp(out):
    """The workload's checkpoint labelled peak (matrix)."""
    for c in parse_cps(out):
        if c.label == "peak":
            return c
    raise Fail("no CP ... peak line in the workload's output: %r" % out[:200])


def help_lacks(words, *sub):
    """What of words `memtrace-bpf [SUB...] --help` does not mention."""
    h = tool(*sub, "--help").stdout
    return ["%s--help lacks %s" % (" ".join(sub) + " " if sub else "", w)
            for w in words if w not in h]


def refusal(args, rc, needles, silent_stdout=False, **kw):
    """Runs memtrace-bpf ARGS; None if it exits rc with each of needles (a
    string or several) on stderr (and, with silent_stdout, nothing on
    stdout), else what it did."""
    needles = (needles,) if isinstance(needles, str) else tuple(needles)
    r = tool(*args, **kw)
    if r.returncode != rc or any(n not in r.stderr for n in needles) or \
            (silent_stdout and r.stdout):
        return "%s: exit %d (want %d), stderr %r (want %s)" % (
            " ".join(args), r.returncode, rc, r.stderr.strip()[:120],
            " and ".join(map(repr, needles)))
    return None


def write_file(path, text):
    """Writes text to path; returns path."""
    with open(path, "w") as f:
        f.write(text)
    return path


# --------------------------------------------------------------------------
# environment

def bpf_usable():
    """None if BPF can be used, else the reason."""
    if os.geteuid() != 0:
        return "not root (memtrace-bpf needs root / CAP_BPF+CAP_PERFMON)"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "no kernel BTF at /sys/kernel/btf/vmlinux"
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        attr = (ctypes.c_uint8 * 128)()
        # BPF_MAP_CREATE: map_type=BPF_MAP_TYPE_ARRAY(2), key 4, value 4, 1 entry
        vals = (2, 4, 4, 1)
        for i, v in enumerate(vals):
            ctypes.c_uint32.from_buffer(attr, 4 * i).value = v
        nr = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine, 321)
        libc.syscall.restype = ctypes.c_long
        fd = libc.syscall(ctypes.c_long(nr), ctypes.c_long(0), attr, ctypes.c_long(128))
        if fd < 0:
            e = ctypes.get_errno()
            return "bpf(BPF_MAP_CREATE) failed: %s" % os.strerror(e)
        os.close(fd)
    except Exception as e:  # pragma: no cover
        return "cannot probe bpf(): %s" % e
    return None


BPF_REASON = bpf_usable()


def need_bin():
    if not os.access(BIN, os.X_OK):
        raise Fail("%s not built (make .output/memtrace-bpf)" % BIN)


def need_bpf():
    if BPF_REASON:
        raise Skip(BPF_REASON)
    need_bin()


# --------------------------------------------------------------------------
# the runner

def _alarm(signum, frame):
    raise TestTimeout()


class Suite:
    def __init__(self, prefix, builds=(), setup=None):
        """prefix: the closing line's; builds: workloads (workload()) that
        its tests run by path, built before the first test; setup: called
        after that. A failure there is one failed test, `build`."""
        self.prefix = prefix + ("-daemon" if AS_USER else "")
        self.builds = builds
        self.setup = setup
        self.tests = []

    def test(self, name, root=True, timeout=TEST_TIMEOUT):
        """Registers fn as the test `name`. root: it needs root and a
        usable bpf() (else it is skipped); timeout: seconds it may take."""
        def reg(fn):
            self.tests.append((name, fn, root, timeout))
            return fn
        return reg

    def main(self):
        signal.signal(signal.SIGALRM, _alarm)
        counts = {"ok": 0, "fail": 0, "skip": 0}
        n = 0
        try:
            for name in self.builds:
                workload(name)
            if self.setup:
                self.setup()
        except (Fail, OSError) as e:
            print("not ok 1 - build: %s" % e)
            print("%s: 0 passed, 1 failed, 0 skipped" % self.prefix)
            return 1
        if BPF_REASON and any(root for _, _, root, _ in self.tests):
            print("# tests that trace cannot run: %s%s"
                  % (BPF_REASON, " (CI=true: counted as failures)" if CI else ""))
        for name, fn, root, limit in self.tests:
            if FILTER and not re.search(FILTER, name):
                continue
            n += 1
            t_start = time.monotonic()
            signal.alarm(limit)
            try:
                need_bpf() if root else need_bin()
                fn()
                status, why = "ok", ""
            except Skip as e:
                status, why = "skip", str(e)
            except Fail as e:
                status, why = "fail", str(e)
            except TestTimeout:
                status, why = "fail", "test took longer than %ds" % limit
            except Exception as e:  # a crash is a failure, with its reason
                status, why = "fail", "test crashed: %s: %s" % (type(e).__name__, e)
                for line in traceback.format_exc().splitlines():
                    print("# " + line)
            finally:
                signal.alarm(0)
                kill_tracked()
                clean_tmp()
            if status == "skip" and CI:
                status, why = "fail", "would skip, but CI=true: " + why
            counts[status] += 1
            if status == "ok":
                print("ok %d - %s" % (n, name))
            elif status == "skip":
                print("ok %d - %s # SKIP %s" % (n, name, why))
            else:
                print("not ok %d - %s: %s" % (n, name, why.replace("\n", " ")))
            took = time.monotonic() - t_start
            if took > 20:
                print("# (%s took %.1fs)" % (name, took))
            sys.stdout.flush()
        for d in _suite_tmp:
            if KEEP_TMP:
                print("# kept %s" % d)
            else:
                shutil.rmtree(d, ignore_errors=True)
        print("%s: %d passed, %d failed, %d skipped"
              % (self.prefix, counts["ok"], counts["fail"], counts["skip"]))
        return 1 if counts["fail"] else 0
