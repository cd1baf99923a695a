#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Runs a suite's tracing tests again as a user without root, through the
service (issue #16): `tests/via_daemon.py record 'REGEX'`.

As root it makes a user of its own (useradd, removed at the end), starts
`memtrace-bpf daemon --socket DIR/sock` in the foreground, then runs
tests/test_SUITE.py with MEMTRACE_TEST_USER and MEMTRACE_SOCKET set: every
command the tests start (memtrace-bpf and the workloads) runs as that
user, their directories are the user's, and memtrace-bpf, not being root,
traces through the service. The tests' checks are unchanged: the same
exact-to-the-page results, from the same ground truth (the workloads' own
/proc readings, wait4). REGEX picks the tests whose setup means the same
for a user (those that need root for their own sake stay in the root pass).

The suite's closing line gets the prefix SUITE-daemon; a service that
died, logged a protocol error, or did not stop cleanly on SIGTERM is one
more failure. Exit status: the suite's, or 1 for that.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, TESTS_DIR, terminate  # noqa: E402
from test_service import test_user  # noqa: E402


def reachable(uid, gid, path):
    """Can the user open path (every directory above it searchable)?"""
    r = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--",
                        "test", "-r", path], stdin=subprocess.DEVNULL)
    return r.returncode == 0


def main():
    if len(sys.argv) != 3:
        print("usage: via_daemon.py SUITE REGEX", file=sys.stderr)
        return 2
    suite, regex = sys.argv[1], sys.argv[2]
    prefix = suite.replace("_", "-") + "-daemon"
    if os.environ.get("TEST_FILTER"):
        regex = "(?=.*(%s))(?=.*(%s))" % (regex, os.environ["TEST_FILTER"])
    if os.geteuid() != 0:
        why = "not root: the service needs root to start"
        ci = os.environ.get("CI", "") == "true"
        print("ok 1 - the %s suite through the service # SKIP %s" % (suite, why)
              if not ci else "not ok 1 - the %s suite through the service: %s" % (suite, why))
        print("%s: 0 passed, %d failed, %d skipped" % (prefix, int(ci), int(not ci)))
        return int(ci)
    work = tempfile.mkdtemp(prefix="memtrace-via-")
    os.chmod(work, 0o755)
    extra_fail = []
    rc = 1
    try:
        with test_user("v") as (name, uid, gid):
            root, binary = ROOT, BIN
            if not reachable(uid, gid, BIN) or not reachable(uid, gid, TESTS_DIR):
                # the checkout is where the user cannot go (/root...): a copy
                root = os.path.join(work, "tree")
                shutil.copytree(ROOT, root, symlinks=True, ignore=shutil.ignore_patterns(".git"))
                binary = os.path.join(root, os.path.relpath(BIN, ROOT))
                print("# the checkout is out of the test user's reach: a copy in %s" % root)
            # the tests start sys.executable too: one the user can run
            python, path = sys.executable, os.environ.get("PATH", "")
            if not reachable(uid, gid, python) and os.path.exists("/usr/bin/python3"):
                # and the python3 the tests find in PATH: the system's
                python, path = "/usr/bin/python3", "/usr/local/bin:/usr/bin:/bin"
            sock = os.path.join(work, "sock")
            log_path = os.path.join(work, "daemon.log")
            log = open(log_path, "w")
            daemon = subprocess.Popen([binary, "daemon", "--socket", sock], stdout=log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True)
            deadline = time.monotonic() + 30
            while not os.path.exists(sock) and daemon.poll() is None and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
            if not os.path.exists(sock):
                daemon.kill()
                daemon.wait()
                raise RuntimeError("the service did not start: " + open(log_path).read()[-600:])
            env = dict(os.environ, MEMTRACE_TEST_USER="%d:%d" % (uid, gid),
                       MEMTRACE_SOCKET=sock, TEST_FILTER=regex,
                       MEMTRACE_BPF=binary, PATH=path)
            p = subprocess.Popen([python, os.path.join(root, "tests", "test_%s.py" % suite)],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, text=True, errors="replace")
            closing = None
            for line in p.stdout:
                if re.match(r"^%s: \d+ passed, \d+ failed, \d+ skipped$" % re.escape(prefix),
                            line.strip()):
                    closing = line.strip()
                    continue
                sys.stdout.write(line)
                sys.stdout.flush()
            rc = p.wait()
            if daemon.poll() is not None:
                extra_fail.append("the service died during the suite (exit %s)" % daemon.returncode)
            else:
                if not terminate(daemon):
                    extra_fail.append("the service did not stop within 20 s of SIGTERM")
                if daemon.returncode not in (0, None) and not extra_fail:
                    extra_fail.append("the service exited %d on SIGTERM" % daemon.returncode)
            log.close()
            text = open(log_path).read()
            bad = [ln for ln in text.splitlines() if "protocol error" in ln]
            if bad:
                extra_fail.append("the service logged protocol errors: " + " | ".join(bad[:3]))
            print("# the service's log: %d lines, %d clients served" %
                  (len(text.splitlines()), text.count(" connected")))
    except Exception as e:  # the setup failed: one failure, said
        extra_fail.append("setup failed: %s: %s" % (type(e).__name__, e))
        closing = None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    m = re.match(r".*: (\d+) passed, (\d+) failed, (\d+) skipped", closing or "")
    passed, failed, skipped = (int(x) for x in m.groups()) if m else (0, 0, 0)
    if closing is None and not extra_fail:
        extra_fail.append("the suite ended without its closing line (exit %d)" % rc)
    for i, why in enumerate(extra_fail):
        print("not ok %d - the service through the %s suite: %s" % (900 + i, suite, why))
    failed += len(extra_fail)
    print("%s: %d passed, %d failed, %d skipped" % (prefix, passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
