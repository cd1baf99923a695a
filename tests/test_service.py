#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The service for unprivileged users (issue #16), as far as it is built:
its checks of which processes a client may trace (user/service/check.c),
driven through tools/svc-check against real processes of a user this
suite creates (useradd, removed at the end) and of root.

Ground truth: the kernel's own ids, capabilities and dumpable state of
processes started as that user with setpriv, in each state a rule is about.

And the kernel side of a group owned by such a user (bpf/lifecycle.bpf.h:
group_admits(), untrace_tasks), driven through tools/svc-bpf-probe on the
local tracer as the daemon will drive it: a child of the user traced from
its exec, set-uid and set-gid execs leaving the group (LEAVE) while they
run on, an attach refused for another user's process, untrace, exclusive
registration, and root's path (no owner) unchanged. Ground truth: the
workload's own READY/DONE and exit status, and the kernel maps' entries.
The closing line is `service: N passed, N failed, N skipped`.
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import time

from harness import Fail, Suite, fail_if, run, spawn, tmpdir, tool_path, workload

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


# ---- the kernel side of an owned group (tools/svc-bpf-probe) ----

LEAVE_SECURE, LEAVE_UID, LEAVE_GID, LEAVE_DUMPABLE = 1, 2, 4, 8
EBUSY, ENOENT = 16, 2


def probe(*args):
    """tools/svc-bpf-probe ARGS: its facts, {name: [{key: value}, ...]}
    (values int when they read as one)."""
    r = run([tool_path("svc-bpf-probe"), *map(str, args)], timeout=90)
    print("# svc-bpf-probe " + " ".join(map(str, args)) + "\n" +
          "".join("#   " + l + "\n" for l in r.stdout.splitlines()), end="")
    if r.returncode != 0:
        raise Fail(f"svc-bpf-probe {' '.join(map(str, args))}: exit {r.returncode}: "
                   f"{r.stderr.strip()}")
    facts = {}
    for line in r.stdout.splitlines():
        name, *kvs = line.split()
        d = {}
        for kv in kvs:
            k, _, v = kv.partition("=")
            try:
                d[k] = int(v)
            except ValueError:
                d[k] = v
        facts.setdefault(name, []).append(d)
    return facts


def one(facts, name, pid=None):
    """The fact `name` (of pid), the last one when there are several."""
    got = [d for d in facts.get(name, []) if pid is None or d.get("pid") == pid]
    if not got:
        raise Fail(f"svc-bpf-probe said no '{name}'" + (f" of PID {pid}" if pid else ""))
    return got[-1]


def setid_copies():
    """A 0755 directory on a filesystem that honours set-id bits (not
    nosuid: checked with findmnt) with holder, and root-owned set-uid and
    set-gid copies of it: (dir, holder, suid_holder, sgid_holder)."""
    for parent in (None, "/var/tmp", os.path.dirname(workload("holder"))):
        d = tmpdir(0o755, parent)
        r = run(["findmnt", "-n", "-o", "OPTIONS", "-T", d])
        if r.returncode == 0 and "nosuid" not in r.stdout.split(","):
            break
        print(f"# {d} is on a nosuid mount ({r.stdout.strip()}): another")
    else:
        raise Fail("no directory on a mount without nosuid for the set-id copies")
    paths = []
    for name, mode in (("holder", 0o755), ("suid_holder", 0o4755), ("sgid_holder", 0o2755)):
        p = os.path.join(d, name)
        shutil.copy(workload("holder"), p)
        os.chown(p, 0, 0)
        os.chmod(p, mode)
        paths.append(p)
    return (d, *paths)


def launched(facts):
    pid = one(facts, "expect_exec")["pid"]
    if one(facts, "expect_exec")["ret"] != 0:
        raise Fail(f"tracer__expect_exec: {one(facts, 'expect_exec')['ret']}")
    return pid


def check_gone(errs, facts, pid, what):
    """After the end: no procs/mms entry of the group, live 0."""
    st = one(facts, "state", pid)
    if st["proc"] != -ENOENT or st["procs"] or st["mms"] or st["live"] or st["tree_pages"]:
        errs.append(f"{what}: the group still holds something at the end: {st}")


@suite.test("owned group: the user's child is traced from its exec (EXEC, RSS, EXIT records); "
            "exclusive: registering it again, in its group or by attach in another, is EBUSY")
def t_owned_launch():
    errs = []
    with test_user("e") as (name, uid, gid):
        _, holder, _, _ = setid_copies()
        f = probe(uid, gid, "launch", holder, "4")
        pid = launched(f)
        rec = one(f, "records", pid)
        if rec["EXEC"] != 1 or rec["RSS"] < 100 or rec["EXIT"] != 1 or rec["LEAVE"]:
            errs.append(f"records of the child: {rec}; want 1 EXEC, RSS, 1 EXIT, no LEAVE")
        if one(f, "again", pid)["ret"] != -EBUSY:
            errs.append(f"expect_exec again: {one(f, 'again', pid)}, want -EBUSY")
        if one(f, "again_attach", pid)["ret"] != -EBUSY:
            errs.append(f"attach in another group: {one(f, 'again_attach', pid)}, want -EBUSY")
        if one(f, "exit", pid)["status"] != 0:
            errs.append(f"the holder's exit: {one(f, 'exit', pid)}")
        check_gone(errs, f, pid, "after its exit")
    fail_if(errs)


def leave_case(mode, tag, want_bits, other_bit):
    errs = []
    with test_user(tag) as (name, uid, gid):
        _, _, suid, sgid = setid_copies()
        f = probe(uid, gid, "launch", suid if mode == "setuid" else sgid, "4")
        pid = launched(f)
        lv = one(f, "leave", pid)
        if lv["why"] & want_bits != want_bits or lv["why"] & other_bit:
            errs.append(f"LEAVE why={lv['why']}: want bits {want_bits} set and {other_bit} not")
        if lv["comm"] != os.path.basename(suid if mode == "setuid" else sgid):
            errs.append(f"LEAVE comm {lv['comm']!r}: want the new program's")
        rec = one(f, "records", pid)
        if rec["LEAVE"] != 1 or rec["EXEC"] or rec["RSS"] or rec["EXIT"]:
            errs.append(f"records of the {mode} child: {rec}; want its LEAVE only")
        if one(f, "after", pid)["n"] != 0:
            errs.append(f"{one(f, 'after', pid)['n']} records of it after its LEAVE")
        if not one(f, "ready", pid)["alive"] or one(f, "exit", pid)["status"] != 0:
            errs.append(f"the {mode} holder did not run on to its end: "
                        f"{one(f, 'ready', pid)}, {one(f, 'exit', pid)}")
        st = one(f, "state", pid)
        if st["left"] != 1:
            errs.append(f"the group's left count: {st['left']}, want 1")
        check_gone(errs, f, pid, f"after the {mode} exec")
    fail_if(errs)


@suite.test("owned group: a child that execs a set-uid-root program leaves it (a LEAVE record "
            "with SECURE and UID, nothing of it after) and runs on; the group counts it in left")
def t_owned_setuid_leaves():
    leave_case("setuid", "s", LEAVE_SECURE | LEAVE_UID, LEAVE_GID)


@suite.test("owned group: a child that execs a set-gid-root program leaves it (SECURE and GID)")
def t_owned_setgid_leaves():
    leave_case("setgid", "t", LEAVE_SECURE | LEAVE_GID, LEAVE_UID)


@suite.test("owned group: attaching to another user's process (root's) is refused by the kernel "
            "(no mm, no entry, no record); the user's own process is traced (ATTACH), and "
            "attaching it again is EBUSY")
def t_owned_attach():
    errs = []
    with test_user("f") as (name, uid, gid):
        _, holder, _, _ = setid_copies()
        # stdin a pipe kept open: a holder runs until a line or EOF on it
        roots = spawn([holder, "4"], stdin=subprocess.PIPE)
        own = spawn(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--",
                     holder, "4"], stdin=subprocess.PIPE)
        procs = []
        for p in (roots, own):
            line = p.stdout.readline().decode()
            if not line.startswith("READY"):
                raise Fail(f"holder (PID {p.pid}) did not start: {line!r}")
            procs.append(p)
        f = probe(uid, gid, "attach", roots.pid, own.pid)
        if one(f, "attach")["ret"] != 0:
            errs.append(f"tracer__attach_pids: {one(f, 'attach')}")
        ra, oa = one(f, "attached", roots.pid), one(f, "attached", own.pid)
        if not ra["no_mm"] or ra["proc"] != -ENOENT:
            errs.append(f"root's process: {ra}; want no_mm=1 proc=-ENOENT (refused)")
        if oa["no_mm"] or oa["proc"] != 0:
            errs.append(f"the user's process: {oa}; want no_mm=0 proc=0 (traced)")
        if one(f, "again", own.pid)["ret"] != -EBUSY:
            errs.append(f"attaching the user's process again: {one(f, 'again', own.pid)}")
        if [d for d in f.get("records", []) if d["pid"] == roots.pid]:
            errs.append(f"records of root's process: {one(f, 'records', roots.pid)}")
        rec = one(f, "records", own.pid)
        if rec["ATTACH"] != 1:
            errs.append(f"records of the user's process: {rec}; want 1 ATTACH")
        st = one(f, "state", roots.pid)
        if st["proc"] != -ENOENT or st["procs"] != 1 or st["mms"] != 1 or st["live"] != 1:
            errs.append(f"the group holds more than the user's process: {st}")
        for p in (roots, own):
            if p.poll() is not None:
                errs.append(f"holder {p.pid} ended: {p.returncode}")
            p.kill()
            p.wait()
    fail_if(errs)


@suite.test("untrace: tracer__untrace of a group with a live traced process returns 1, leaves no "
            "procs or mms entry and live 0; the process runs on, and what it allocates after "
            "makes no record")
def t_untrace():
    errs = []
    with test_user("g") as (name, uid, gid):
        _, holder, _, _ = setid_copies()
        f = probe(uid, gid, "untrace", holder, "4")
        pid = launched(f)
        if one(f, "untrace")["ret"] != 1:
            errs.append(f"tracer__untrace: {one(f, 'untrace')}, want 1")
        if len(f.get("state", [])) != 3:
            raise Fail(f"svc-bpf-probe said {len(f.get('state', []))} states, want 3")
        st = f["state"][1]     # before untrace, right after it, at the end
        if st["proc"] != -ENOENT or st["procs"] or st["mms"] or st["live"] or st["tree_pages"]:
            errs.append(f"right after untrace: {st}; want no entry, live 0, total 0")
        if not one(f, "alive", pid)["alive"] or one(f, "exit", pid)["status"] != 0:
            errs.append(f"the holder did not run on: {one(f, 'alive', pid)}, {one(f, 'exit', pid)}")
        rec = one(f, "records", pid)
        if rec["EXEC"] != 1 or rec["EXIT"]:
            errs.append(f"records: {rec}; want its EXEC, and no EXIT (not traced by then)")
        if one(f, "after", pid)["n"] != 0:
            errs.append(f"{one(f, 'after', pid)['n']} records of it after untrace")
        check_gone(errs, f, pid, "at the end")
    fail_if(errs)


@suite.test("root's path (no owner set): a set-uid exec stays traced (EXEC, RSS, EXIT; no LEAVE)")
def t_root_path_setuid():
    errs = []
    with test_user("h") as (name, uid, gid):
        _, _, suid, _ = setid_copies()
        f = probe("--no-owner", uid, gid, "launch", suid, "4")
        pid = launched(f)
        rec = one(f, "records", pid)
        if rec["EXEC"] != 1 or rec["RSS"] < 100 or rec["EXIT"] != 1 or rec["LEAVE"]:
            errs.append(f"records of the set-uid child: {rec}; want 1 EXEC, RSS, 1 EXIT, no LEAVE")
        if one(f, "state", pid)["left"]:
            errs.append(f"left: {one(f, 'state', pid)}")
    fail_if(errs)


if __name__ == "__main__":
    sys.exit(suite.main())
