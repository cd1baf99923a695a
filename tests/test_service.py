#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The service for unprivileged users (issue #16), as far as it is built:
its checks of which processes a client may trace (user/service/check.c),
driven through tools/svc-check against real processes of a user this
suite creates (useradd, removed at the end) and of root.

Ground truth: the kernel's own ids, capabilities and dumpable state of
processes started as that user with setpriv, in each state a rule is about.
The closing line is `service: N passed, N failed, N skipped`.
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import time

from harness import Fail, Suite, fail_if, run, spawn, tmpdir, tool_path

suite = Suite("service")


@contextlib.contextmanager
def test_user(tag):
    """A system user of its own for the test: (name, uid, gid); its
    processes killed and the user removed afterwards."""
    name = f"mtsvc{os.getpid() % 100000}{tag}"
    r = run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
             "/nonexistent", "--shell", "/usr/sbin/nologin", name])
    if r.returncode != 0:
        raise Fail(f"useradd {name}: exit {r.returncode}: {r.stderr.strip()}")
    pw = pwd.getpwnam(name)
    try:
        yield name, pw.pw_uid, pw.pw_gid
    finally:
        run(["pkill", "-KILL", "-u", name])
        time.sleep(0.2)
        run(["userdel", name])


def as_user(uid, gid, argv, *extra):
    """argv run as uid/gid (no supplementary groups), set-id bits honoured."""
    return spawn(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *extra,
                  "--", *argv])


def wait_for(pred, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise Fail(f"{what} did not happen in {timeout} s")


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def comm_is(pid, name):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() == name
    except OSError:
        return False


def check(pid, uid, gid, client=None):
    """tools/svc-check: ("ok", "") or ("refused", rule)."""
    r = run([tool_path("svc-check"), str(pid), str(uid), str(gid),
             *([str(client)] if client else [])])
    out = r.stdout.strip()
    if r.returncode == 0 and out == "ok":
        return "ok"
    if r.returncode == 1 and out.startswith("refused: "):
        return out.split(":")[1].strip()
    raise Fail(f"svc-check {pid}: exit {r.returncode}: {out} {r.stderr.strip()}")


@suite.test("attach rules: the client's own process is taken; PID 1, a kernel thread, "
            "another user's process, a zombie, a set-uid program, one that said "
            "PR_SET_DUMPABLE 0 and one holding a capability the client lacks are refused, "
            "each naming its rule")
def t_attach_rules():
    errs = []
    with test_user("a") as (name, uid, gid):
        d = tmpdir()
        os.chmod(d, 0o755)
        suid = os.path.join(d, "suid-sleep")
        shutil.copy(shutil.which("sleep"), suid)
        os.chown(suid, 0, 0)
        os.chmod(suid, 0o4755)
        own = as_user(uid, gid, ["sleep", "60"])
        wait_for(lambda: comm_is(own.pid, "sleep"), "sleep as the user")
        zparent = as_user(uid, gid, ["sh", "-c", "sleep 0 & exec sleep 60"])
        zombie = wait_for(lambda: comm_is(zparent.pid, "sleep") and
                          [c for c in children(zparent.pid)
                           if open(f"/proc/{c}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"],
                          "a zombie child")[0]
        setuid = as_user(uid, gid, [suid, "60"])
        wait_for(lambda: comm_is(setuid.pid, "suid-sleep"), "the set-uid sleep")
        nodump = as_user(uid, gid, [sys.executable, "-c",
                                    "import ctypes, sys, time\n"
                                    "ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\n"
                                    "print('set', flush=True)\ntime.sleep(60)"])
        if nodump.stdout.readline().strip() != b"set":
            raise Fail("the PR_SET_DUMPABLE 0 process did not start")
        caps = as_user(uid, gid, ["sleep", "60"], "--inh-caps=+sys_nice",
                       "--ambient-caps=+sys_nice")
        wait_for(lambda: comm_is(caps.pid, "sleep"), "sleep with CAP_SYS_NICE")
        cases = [("its own process", own.pid, "ok"), ("PID 1", 1, "init"),
                 ("kthreadd", 2, "kthread"), ("root's process (this test)", os.getpid(), "uid"),
                 ("a zombie", zombie, "gone"), ("a set-uid-root sleep", setuid.pid, "uid"),
                 ("PR_SET_DUMPABLE 0", nodump.pid, "dumpable"),
                 ("CAP_SYS_NICE in ambient", caps.pid, "caps"),
                 ("a PID that does not exist", 4194304, "gone")]
        for what, pid, want in cases:
            got = check(pid, uid, gid)
            print(f"# {what} (PID {pid}): {got}")
            if got != want:
                errs.append(f"{what} (PID {pid}): {got}, want {want}")
        # the same processes for another client of another user: none of them
        with test_user("b") as (_, uid_b, gid_b):
            got = check(own.pid, uid_b, gid_b)
            if got != "uid":
                errs.append(f"user A's process for user B: {got}, want uid")
        for p in (own, zparent, setuid, nodump, caps):
            p.kill()
            p.wait()
    fail_if(errs)


@suite.test("launch rule: the client's own child is taken; a process of the same user that "
            "is not its child is refused")
def t_launch_rule():
    errs = []
    with test_user("c") as (name, uid, gid):
        parent = as_user(uid, gid, ["sh", "-c", "sleep 60 & wait"])
        child = wait_for(lambda: [c for c in children(parent.pid) if comm_is(c, "sleep")],
                         "the shell's sleep")[0]
        for what, client, want in (("its parent", parent.pid, "ok"),
                                   ("another process", os.getpid(), "not-child")):
            got = check(child, uid, gid, client)
            print(f"# the child for {what}: {got}")
            if got != want:
                errs.append(f"the child (PID {child}) for {what}: {got}, want {want}")
        parent.kill()
        parent.wait()
    fail_if(errs)


@suite.test("a PID reused while it is checked: the process now under it is not taken for "
            "the one the client named (gone), though a check of it alone takes it")
def t_pid_reuse():
    if not os.access("/proc/sys/kernel/ns_last_pid", os.W_OK):
        raise Fail("/proc/sys/kernel/ns_last_pid is not writable: cannot reuse a PID at will")
    with test_user("d") as (name, uid, gid):
        for attempt in range(30):
            d = tmpdir()
            go = os.path.join(d, "go")
            a = as_user(uid, gid, ["sleep", "60"])
            wait_for(lambda: comm_is(a.pid, "sleep"), "the first sleep")
            chk = spawn([tool_path("svc-check"), "--pause", go, str(a.pid), str(uid), str(gid)])
            if chk.stdout.readline().strip() != b"paused":
                raise Fail("svc-check --pause did not pause")
            a.kill()
            a.wait()            # reaped: its PID may be given again
            with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                f.write(str(a.pid - 1))
            b = as_user(uid, gid, ["sleep", "60"])
            if b.pid != a.pid:  # another process took it first: again
                b.kill()
                b.wait()
                open(go, "w").close()
                chk.wait()
                continue
            wait_for(lambda: comm_is(b.pid, "sleep"), "the second sleep")
            open(go, "w").close()
            out = chk.stdout.read().decode().strip()
            chk.wait()
            alone = check(b.pid, uid, gid)
            b.kill()
            b.wait()
            print(f"# PID {a.pid} reused on attempt {attempt + 1}: the paused check says "
                  f"{out!r}; a check of the new process alone: {alone}")
            errs = []
            if not out.startswith("refused: gone"):
                errs.append(f"the check of the first process read the second: {out!r}")
            if alone != "ok":
                errs.append(f"the second process alone: {alone}, want ok")
            fail_if(errs)
            return
        raise Fail("the PID was never reused in 30 attempts (a busy machine?)")


if __name__ == "__main__":
    sys.exit(suite.main())
