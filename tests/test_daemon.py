#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The service for users without root (issue #16): `memtrace-bpf daemon`
started by each test in the foreground as root, clients run as users this
suite creates (useradd, removed at the end).

What it proves, on real kernel events: a user's own launch is traced
exactly and its files are the user's; what the service refuses (another
user's PID, PID 1, a kernel thread, root-only options) it refuses with a
message and nothing traced; garbage on the socket (1,000 malformed
messages) and clients killed mid-run leave the service serving and
holding nothing; a killed service makes its clients end with a message and
whole files, and a restarted one serves; 16 clients at once lose nothing.
The suites' own cases run as a user through the service in
tests/via_daemon.py. The closing line is `daemon: N passed, N failed, N
skipped`.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

from harness import (BIN, ROOT, Fail, Suite, fail_if, load_summary, peak_cp, read_rows, run,
                     spawn, tail, terminate, tmpdir, workload)
from test_service import setid_copies, test_user, wait_for

suite = Suite("daemon", builds=("holder", "burst64", "forker", "matrix"))

MAGIC, VERSION = 0x3157544D, 1
HELLO, TAKE, GUARD, EXPECT, MARK_FD, MARKS, ATTACH, GET, PIDS, FINAL, GIVE_BACK, FLUSH, \
    STATS, STATUS, BIND = range(1, 16)
RECS = 0x4001
REC_EXEC, REC_EXIT = 4, 5
REPLY = 0x8000
REC_SIZE, PROC_SIZE = 168, 112


class Daemon:
    """memtrace-bpf daemon --socket DIR/sock, as root, in the foreground."""

    def __init__(self, *opts):
        self.dir = tmpdir(0o755)
        self.sock = os.path.join(self.dir, "sock")
        self.log = os.path.join(self.dir, "daemon.log")
        self.opts = opts
        self.start()

    def start(self):
        self.logf = open(self.log, "a")
        self.p = spawn([BIN, "daemon", "--socket", self.sock, *self.opts], stdout=self.logf,
                       stderr=subprocess.STDOUT, as_root=True)
        wait_for(lambda: "serving on" in open(self.log).read() or self.p.poll() is not None,
                 "the service's start", timeout=30)
        if self.p.poll() is not None:
            raise Fail("the service did not start: " + tail(open(self.log).read()))

    def status(self):
        r = run([BIN, "daemon", "--status", "--socket", self.sock], as_root=True)
        if r.returncode != 0:
            raise Fail("daemon --status: exit %d: %s" % (r.returncode, tail(r.stderr)))
        return {k: int(v) for k, v in (ln.split("=") for ln in r.stdout.split())}

    def text(self):
        return open(self.log).read()

    def stop(self):
        if not terminate(self.p):
            raise Fail("the service did not stop within 20 s of SIGTERM")
        return self.p.returncode


def as_user(uid, gid, argv, sock, **kw):
    """argv as uid/gid (no supplementary groups), the service at sock."""
    env = dict(os.environ, MEMTRACE_SOCKET=sock)
    for k in ("SUDO_UID", "SUDO_GID", "SUDO_USER"):
        env.pop(k, None)
    return spawn(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--",
                  *argv], env=env, **kw)


def user_dir(uid, gid):
    d = tmpdir(0o755)
    os.chown(d, uid, gid)
    return d


def finish_p(p, timeout=120):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise Fail("%s did not finish in %d s: %s" % (p.args, timeout, tail(err)))
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


# ---- the wire, from Python: a client that says what it likes ----

def msg(mtype, seq, payload=b"", magic=MAGIC, version=VERSION, length=None):
    return struct.pack("<IHHII", magic, version, mtype, len(payload) if length is None
                       else length, seq) + payload


def hello_payload():
    return struct.pack("<HH4HI16s", 1, 1, REC_SIZE, group_size(), guard_size(), PROC_SIZE, 0,
                       b"test")


def guard_size():
    # struct mt_guard: 2 u64, 8 u64 alerts, 6 u32, s64, 2 u64, u64, s64, 2 u32
    return 8 * 2 + 8 * 8 + 4 * 6 + 8 + 8 * 2 + 8 + 8 + 4 * 2


def group_size():
    # struct mt_group (bpf/memtrace.h) changes with the kernel side: the
    # service refuses a HELLO of another size, so learn_group_size() asks
    return _GROUP_SIZE[0]


_GROUP_SIZE = [0]


class Client:
    """A connection to the service, made by a child of ours that is wholly
    the user (the service refuses a peer whose ids differ, as ours would:
    real root, effective user); the child lives while the connection does."""

    def __init__(self, sock_path, user=None):
        self.child = None
        if user is None:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            self.s.connect(sock_path)
        else:
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            pid = os.fork()
            if pid == 0:
                try:
                    # none of the parent's other connections' ends: their
                    # children must see EOF when the parent closes them
                    os.closerange(3, b.fileno())
                    os.closerange(b.fileno() + 1, 4096)
                    os.setgroups([])
                    os.setresgid(user[1], user[1], user[1])
                    os.setresuid(user[0], user[0], user[0])
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                    s.connect(sock_path)
                    socket.send_fds(b, [b"s"], [s.fileno()])
                    b.recv(1)       # until the parent is done with it
                finally:
                    os._exit(0)
            b.close()
            _, fds, _, _ = socket.recv_fds(a, 1, 1)
            self.s = socket.socket(fileno=fds[0])
            self.child, self.ctl = pid, a
        self.s.settimeout(10)
        self.seq = 0

    def send(self, data, fds=()):
        if fds:
            socket.send_fds(self.s, [data], list(fds))
        else:
            self.s.send(data)

    def request(self, mtype, payload=b"", fds=()):
        self.seq += 1
        self.send(msg(mtype, self.seq, payload), fds)
        while True:
            data = self.s.recv(70000)
            if not data:
                raise EOFError("the service closed the connection")
            magic, ver, t, ln, seq = struct.unpack("<IHHII", data[:16])
            if t == mtype | REPLY and seq == self.seq:
                status, why = struct.unpack("<iI", data[16:24])
                return status, why, data[24:]

    def hello(self):
        return self.request(HELLO, hello_payload())

    def closed(self, timeout=5):
        """Did the service close it (after its error reply, if any)?"""
        self.s.settimeout(timeout)
        try:
            while True:
                if not self.s.recv(70000):
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True

    def close(self):
        self.s.close()
        if self.child:
            self.ctl.close()
            os.waitpid(self.child, 0)
            self.child = None


def learn_group_size(d):
    """struct mt_group's size: the one HELLO the service takes."""
    if _GROUP_SIZE[0]:
        return
    for size in range(64, 1024, 8):
        _GROUP_SIZE[0] = size
        c = Client(d.sock)
        st, _, _ = c.hello()
        c.close()
        if st == 0:
            return
    raise Fail("no struct mt_group size makes a HELLO the service takes")


# ---- tests ----

@suite.test("a user's launch through the service: the workload's own VmRSS is the exact "
            "peak, its exit status and rows are whole, the files are the user's")
def t_launch():
    d = Daemon()
    with test_user("l") as (name, uid, gid):
        out = user_dir(uid, gid)
        csv_path = os.path.join(out, "t.csv")
        rc, o, e = finish_p(as_user(uid, gid, [BIN, "-q", "-o", csv_path, "--",
                                               workload("burst64"), "5"], d.sock))
        errs = []
        if rc != 5:
            errs.append("exit %d, the workload exits 5: %s" % (rc, tail(e)))
        m = re.search(r"^BURST \d+ \d+ \d+ \d+ (\d+) ", o, re.M)
        s = load_summary(os.path.join(out, "t.summary.json"))
        if not m:
            raise Fail("no BURST line: %r %s" % (o[:200], tail(e)))
        vmrss = int(m.group(1))
        print("# peak %s kB, the workload's VmRSS %d kB, %s rows, lost %s"
              % (s.get("peak_rss_kb"), vmrss, s.get("events"), s.get("lost_events")))
        if s.get("peak_rss_kb") != vmrss:
            errs.append("peak_rss_kb %r != the workload's VmRSS %d" % (s.get("peak_rss_kb"), vmrss))
        if s.get("lost_events") != 0:
            errs.append("lost_events %r" % s.get("lost_events"))
        rows = read_rows(csv_path)
        if not rows or rows[0]["event"] != "exec":
            errs.append("first row %r, not the exec" % (rows[0] if rows else None))
        for f in ("t.csv", "t.summary.json"):
            st = os.stat(os.path.join(out, f))
            if (st.st_uid, st.st_gid) != (uid, gid):
                errs.append("%s owned by %d:%d, not the user's %d:%d" % (f, st.st_uid, st.st_gid,
                                                                       uid, gid))
        st = d.status()
        if st["groups"] or st["procs"]:
            errs.append("after the run the service holds %r" % st)
        rc = d.stop()
        if rc != 0 or os.path.exists(d.sock):
            errs.append("the service stopped with %r and left its socket: %s"
                        % (rc, os.path.exists(d.sock)))
        # a client then says there is no service, and that root would do
        rc, o, e = finish_p(as_user(uid, gid, [BIN, "-q", "-o", csv_path, "--", "true"], d.sock))
        if rc != 1 or "root" not in e:
            errs.append("with the service stopped: exit %d, %r" % (rc, tail(e)))
    fail_if(errs)


@suite.test("refusals without root, each with its reason and nothing traced: another user's "
            "PID, PID 1, a kernel thread, --comm, --as-root, --ring-size, and no service "
            "at all")
def t_refusals():
    d = Daemon()
    errs = []
    with test_user("r") as (name, uid, gid):
        out = user_dir(uid, gid)
        csv_path = os.path.join(out, "t.csv")
        other = spawn(["sleep", "60"], as_root=True)
        cases = [
            ("root's process", ["-p", str(other.pid)], 1, "not yours"),
            ("PID 1", ["-p", "1"], 1, "init"),
            ("kthreadd", ["-p", "2"], 1, "kernel thread"),
            ("--comm", ["-d", out, "--comm", "sleep"], 2, "root only"),
            ("--as-root", ["--as-root", "--", "true"], 2, "--as-root"),
            ("--ring-size", ["--ring-size", "16M", "--", "true"], 2, "daemon --ring-size"),
        ]
        for what, args, want_rc, needle in cases:
            argv = [BIN, "-q", *args] if args[0] == "-d" else [BIN, "-q", "-o", csv_path, *args]
            rc, o, e = finish_p(as_user(uid, gid, argv, d.sock))
            print("# %s: exit %d: %s" % (what, rc, tail(e, 200)))
            if rc != want_rc or needle not in e:
                errs.append("%s: exit %d (want %d), stderr %r (want %r)" % (what, rc, want_rc,
                                                                          tail(e), needle))
        st = d.status()
        if st["groups"] or st["procs"]:
            errs.append("after the refusals the service holds %r" % st)
        rc, o, e = finish_p(as_user(uid, gid, [BIN, "-q", "-o", csv_path, "--", "true"],
                                    os.path.join(out, "no-such-sock")))
        print("# no service: exit %d: %s" % (rc, tail(e, 300)))
        if rc != 1 or "root" not in e or "memtrace-bpf.socket" not in e:
            errs.append("no service: exit %d, stderr %r" % (rc, tail(e)))
        other.kill()
    fail_if(errs)


@suite.test("1,000 malformed messages, each from a connection of its own: each gets an "
            "error or a disconnect, the service keeps serving a user's run throughout, "
            "and holds nothing afterwards")
def t_malformed():
    d = Daemon()
    learn_group_size(d)
    rnd = random.Random(16)
    with test_user("m") as (name, uid, gid):
        out = user_dir(uid, gid)
        csv_path = os.path.join(out, "t.csv")
        good = as_user(uid, gid, [BIN, "-q", "-o", csv_path, "--", workload("holder"), "16"],
                       d.sock, stdin=subprocess.PIPE)
        wait_for(lambda: good.stdout.readline().startswith(b"READY"), "the holder's READY")
        kinds = {}
        pipe_r, pipe_w = os.pipe()
        for i in range(1000):
            k = i % 14
            c = Client(d.sock, (uid, gid))
            try:
                if k == 0:
                    c.send(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300))))
                elif k == 1:
                    c.send(msg(HELLO, 1, hello_payload())[:rnd.randrange(1, 16)])
                elif k == 2:
                    c.send(msg(HELLO, 1, hello_payload(), magic=0xdeadbeef))
                elif k == 3:
                    c.send(msg(HELLO, 1, hello_payload(), version=2))
                elif k == 4:
                    c.send(msg(HELLO, 1, hello_payload(), length=999))
                elif k == 5:
                    c.send(msg(0x4001, 1, b"\0" * 16))          # an unasked type
                elif k == 6:
                    c.send(msg(TAKE, 1, b"\0\0\0\0"))           # before HELLO
                elif k == 7:
                    c.hello()
                    c.send(msg(TAKE, 2, b"\0\0\0\0\0"))         # a byte too many
                elif k == 8:
                    c.hello()
                    c.send(msg(ATTACH, 2, struct.pack("<II", 1, 300) + b"\0" * 1200))
                elif k == 9:
                    c.hello()
                    c.send(msg(GET, 2, struct.pack("<I", 1)), fds=[pipe_r])  # fd on a fd-less type
                elif k == 10:
                    c.hello()
                    c.send(msg(EXPECT, 2, struct.pack("<II", 1, 1)), fds=[pipe_r])  # an fd
                elif k == 11:
                    c.hello()
                    st, _, _ = c.request(GET, struct.pack("<I", rnd.randrange(1, 1024)))
                    kinds.setdefault("GET of a group not held", set()).add(st)
                    continue
                elif k == 12:
                    c.hello()
                    st, _, tk = c.request(TAKE, struct.pack("<I", 1))
                    group = struct.unpack("<I", tk[:4])[0] if st == 0 else 1
                    st, _, _ = c.request(EXPECT, struct.pack("<II", group, os.getpid()))
                    kinds.setdefault("EXPECT_EXEC of root's process", set()).add(st)
                    continue
                else:
                    c.hello()
                    st, _, _ = c.request(STATUS)
                    kinds.setdefault("STATUS from a user", set()).add(st)
                    continue
                kinds.setdefault("malformed %d" % k, set()).add(c.closed())
            except (EOFError, OSError):
                kinds.setdefault("malformed %d" % k, set()).add(True)
            finally:
                c.close()
            if i % 50 == 0 and good.poll() is not None:
                raise Fail("the user's run ended during the messages: exit %d" % good.returncode)
        os.close(pipe_r)
        os.close(pipe_w)
        good.stdin.write(b"go\n")
        good.stdin.close()
        good.stdin = None
        rc, o, e = finish_p(good)
        errs = []
        for k, v in sorted(kinds.items()):
            print("# %s: %s" % (k, sorted(v)))
            if k.startswith("malformed") and v != {True}:
                errs.append("%s: the connection stayed open" % k)
        if kinds.get("GET of a group not held") != {-1}:       # -EPERM
            errs.append("GET of a group not held: %r" % kinds.get("GET of a group not held"))
        if kinds.get("EXPECT_EXEC of root's process") != {-1}:    # -EPERM
            errs.append("EXPECT_EXEC of root's process: %r" % kinds.get("EXPECT_EXEC of root's process"))
        if kinds.get("STATUS from a user") != {-1}:
            errs.append("STATUS from a user: %r" % kinds.get("STATUS from a user"))
        s = load_summary(os.path.join(out, "t.summary.json"))
        if rc != 0 or s.get("lost_events") != 0:
            errs.append("the user's run: exit %d, lost %r: %s" % (rc, s.get("lost_events"), tail(e)))
        st = d.status()
        print("# afterwards: %s" % st)
        if st["groups"] or st["procs"] or st["clients"] != 1 or st["queue_bytes"]:
            errs.append("the service holds %r after all" % st)
        if d.p.poll() is not None:
            errs.append("the service died")
    fail_if(errs)


@suite.test("forged requests: PID 1, root's process, the user's process that is not the "
            "client's child as its launch, another client's group, root's process to "
            "attach, an fd with a request: each refused with its reason, nothing traced")
def t_forged():
    d = Daemon()
    learn_group_size(d)
    errs = []
    with test_user("f") as (name, uid, gid):
        mine = as_user(uid, gid, ["sleep", "60"], d.sock)
        other = spawn(["sleep", "60"], as_root=True)
        wait_for(lambda: open("/proc/%d/comm" % mine.pid).read().strip() == "sleep", "sleep")
        a = Client(d.sock, (uid, gid))
        b = Client(d.sock, (uid, gid))
        a.hello()
        b.hello()
        st, _, tk = a.request(TAKE, struct.pack("<I", 1))
        ga = struct.unpack("<I", tk[:4])[0]
        cases = []
        for what, pid, group, client in (
                ("PID 1 as its launch", 1, ga, a),
                ("root's process as its launch", other.pid, ga, a),
                ("the user's process, not the client's child", mine.pid, ga, a),
                ("another client's group", mine.pid, ga, b)):
            st, why, _ = client.request(EXPECT, struct.pack("<II", group, pid))
            cases.append((what, st, why))
        for what, st, why in cases:
            print("# %s: status %d, reason %d" % (what, st, why))
            if st >= 0:
                errs.append("%s: taken" % what)
        st, why, body = a.request(ATTACH, struct.pack("<III", ga, 1, other.pid))
        n = struct.unpack("<II", body[:8])[0] if st == 0 else 0
        per = struct.unpack("<iI", body[8:16]) if n else None
        print("# ATTACH of root's process: %s" % (per,))
        if not per or per[0] >= 0:
            errs.append("ATTACH of root's process: %r" % (per,))
        r, w = os.pipe()
        b.send(msg(GET, 9, struct.pack("<I", ga)), fds=[r])
        gone = b.closed()
        print("# a request with an fd: %s" % ("disconnected" if gone else "answered"))
        if not gone:
            errs.append("a request with an fd was taken")
        os.close(r)
        os.close(w)
        st = d.status()
        if st["procs"]:
            errs.append("after the forged requests the service traces %d processes" % st["procs"])
        a.close()
        b.close()
        mine.kill()
        other.kill()
    fail_if(errs)


@suite.test("the service refuses to make its socket in a directory another user owns "
            "(who could swap the path under it), and makes nothing there")
def t_footing():
    errs = []
    with test_user("g") as (name, uid, gid):
        bad = user_dir(uid, gid)
        r = run([BIN, "daemon", "--socket", os.path.join(bad, "sock")], as_root=True,
                timeout=30)
        print("# a socket in %s's directory: exit %d: %s" % (name, r.returncode,
                                                              tail(r.stderr, 200)))
        if r.returncode != 1 or "directory" not in r.stderr or \
                os.path.exists(os.path.join(bad, "sock")):
            errs.append("a socket in a user's directory: exit %d, %s" % (r.returncode,
                                                                     tail(r.stderr)))
    fail_if(errs)


def stepd_fork(uid, gid, argv):
    """What slurmstepd does with a task: root forks it, it becomes the
    user (setresuid: not dumpable from then until its exec) and waits;
    a byte on go lets it exec argv. Returns (pid, go fd, stdout fd)."""
    go_r, go_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(go_w)
            os.close(out_r)
            os.dup2(out_w, 1)
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            if os.read(go_r, 1) == b"g":
                os.execv(argv[0], argv)
        finally:
            os._exit(127)
    os.close(go_r)
    os.close(out_w)
    return pid, go_w, out_r


def records_until_exit(c, pid, timeout=30):
    """The records of pid the service streams on c, up to its EXIT."""
    recs = []
    deadline = time.monotonic() + timeout
    c.s.settimeout(1)
    while time.monotonic() < deadline:
        try:
            data = c.s.recv(70000)
        except (socket.timeout, TimeoutError):
            continue
        if not data:
            raise Fail("the service closed the connection")
        magic, ver, t, ln, seq = struct.unpack("<IHHII", data[:16])
        if t != RECS:
            continue
        rel, n = struct.unpack("<QI", data[16:28])
        for i in range(n):
            rec = data[32 + i * REC_SIZE:32 + (i + 1) * REC_SIZE]
            rtype, rpid = struct.unpack("<II", rec[:8])
            if rpid == pid:
                recs.append(rtype)
                if rtype == REC_EXIT:
                    return recs
    raise Fail("no EXIT record of PID %d in %d s (got %d records)" % (pid, timeout, len(recs)))


@suite.test("root binds a connection to a user (a Slurm node's helper, issue #17): a task "
            "root forked and set to the user, not dumpable before its exec, is traced "
            "from its exec, exact; a user cannot bind, nor root twice; a bound connection "
            "is refused a process whose parent is not root, and STATUS")
def t_bind_user():
    d = Daemon()
    learn_group_size(d)
    errs = []
    with test_user("h") as (name, uid, gid):
        u = Client(d.sock, (uid, gid))
        u.hello()
        st, why, _ = u.request(BIND, struct.pack("<II", uid, gid))
        print("# BIND by the user: %d (reason %d)" % (st, why))
        if st >= 0:
            errs.append("a user bound a connection")
        u.close()
        c = Client(d.sock)          # root
        c.hello()
        st0, _, _ = c.request(BIND, struct.pack("<II", 0, 0))
        st, _, _ = c.request(BIND, struct.pack("<II", uid, gid))
        st2, _, _ = c.request(BIND, struct.pack("<II", uid, gid))
        st3, _, _ = c.request(STATUS)
        print("# BIND to root: %d; by root: %d; again: %d; STATUS after: %d" % (st0, st, st2, st3))
        if st0 >= 0 or st != 0 or st2 >= 0 or st3 >= 0:
            errs.append("bind to root %d, bind %d, again %d, STATUS %d" % (st0, st, st2, st3))
        # a task as slurmstepd makes it, registered before it execs
        pid, go, out = stepd_fork(uid, gid, [workload("burst64"), "0"])
        wait_for(lambda: re.search(r"^Uid:\t%d\t%d\t%d\t%d$" % (uid, uid, uid, uid),
                                   open("/proc/%d/status" % pid).read(), re.M),
                 "the task's switch to the user")
        st, _, tk = c.request(TAKE, struct.pack("<I", 1))
        group = struct.unpack("<I", tk[:4])[0]
        dumpable = os.stat("/proc/%d/status" % pid).st_uid
        st, why, _ = c.request(EXPECT, struct.pack("<II", group, pid))
        print("# the task (PID %d, /proc owner uid %d: not dumpable): EXPECT_EXEC %d (reason %d)"
              % (pid, dumpable, st, why))
        if st != 0:
            errs.append("the vouched task was refused: %d (reason %d)" % (st, why))
        os.write(go, b"g")
        os.close(go)
        recs = records_until_exit(c, pid) if st == 0 else []
        os.waitpid(pid, 0)
        text = os.read(out, 4096).decode()
        os.close(out)
        m = re.search(r"^BURST \d+ \d+ \d+ \d+ (\d+) ", text, re.M)
        st, _, body = c.request(GET, struct.pack("<I", group))
        peak_kb = struct.unpack("<QQ", body[:16])[1] * 4 if st == 0 else None
        print("# %d records, first %s; peak %s kB, the task's VmRSS %s kB"
              % (len(recs), recs[:1], peak_kb, m and m.group(1)))
        if not recs or recs[0] != REC_EXEC:
            errs.append("the task's first record is %r, not its exec" % recs[:1])
        if not m or peak_kb != int(m.group(1)):
            errs.append("peak %r kB, the task's own VmRSS %r" % (peak_kb, m and m.group(1)))
        # a process of the user whose parent is the user's shell: no
        st, _, tk = c.request(TAKE, struct.pack("<I", 1))
        g2 = struct.unpack("<I", tk[:4])[0]
        sh = as_user(uid, gid, ["sh", "-c", "sleep 60 & wait"], d.sock)
        kid = wait_for(lambda: [int(x) for x in open("/proc/%d/task/%d/children"
                                                     % (sh.pid, sh.pid)).read().split()],
                       "the shell's sleep")[0]
        st, why, _ = c.request(EXPECT, struct.pack("<II", g2, kid))
        print("# the user's sleep under the user's shell: %d (reason %d)" % (st, why))
        if st >= 0:
            errs.append("a process not forked by root was taken on a bound connection")
        sh.kill()
        c.close()
        if d.status()["procs"]:
            errs.append("the service still traces something")
    fail_if(errs)


@suite.test("clients killed (SIGKILL) at random moments of their runs, 1,000 times: the "
            "service releases each group, holds nothing afterwards (groups, processes, "
            "queues, fds, memory), and the users' processes run on untouched")
def t_kill_clients():
    d = Daemon()
    n = int(os.environ.get("DAEMON_KILLS", "1000"))
    rnd = random.Random(1000)
    with test_user("k") as (name, uid, gid):
        out = user_dir(uid, gid)
        # warm up, then the baseline
        for i in range(3):
            finish_p(as_user(uid, gid, [BIN, "-q", "-o", os.path.join(out, "w.csv"), "--",
                                        "true"], d.sock))
        base = d.status()
        hold_r, hold_w = os.pipe()      # the holders' stdin: open, they wait
        alive = 0
        t0 = time.monotonic()

        def sweep():
            # holders past the barrier run on (untraced), left alone by the
            # service: counted, then ended by us
            pids = [int(x) for x in run(["pgrep", "-u", str(uid), "-x", "holder"],
                                        as_root=True).stdout.split()]
            for h in pids:
                try:
                    os.kill(h, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return len(pids)
        for i in range(n):
            p = as_user(uid, gid, [BIN, "-q", "-o", os.path.join(out, "k%d.csv" % (i % 8)), "--",
                                   workload("holder"), "2"], d.sock, stdin=hold_r)
            time.sleep(rnd.uniform(0, 0.05))
            p.kill()
            p.wait()
            p.stdout.close()
            p.stderr.close()
            if i % 50 == 49:
                alive += sweep()
            if i % 100 == 99:
                print("# %d kills, %.1f s" % (i + 1, time.monotonic() - t0))
                sys.stdout.flush()
        alive += sweep()
        os.close(hold_r)
        os.close(hold_w)
        wait_for(lambda: d.status()["groups"] == 0, "the service releasing every group", 20)
        st = d.status()
        print("# baseline %s" % base)
        print("# after %d kills: %s" % (n, st))
        errs = []
        for k in ("groups", "procs", "queue_bytes"):
            if st[k]:
                errs.append("%s = %d after the kills" % (k, st[k]))
        if st["fds"] != base["fds"]:
            errs.append("the service has %d fds open, %d before" % (st["fds"], base["fds"]))
        if st["rss_kb"] > base["rss_kb"] + 1024:
            errs.append("the service's RSS %d kB, %d before (more than 1 MiB more)"
                        % (st["rss_kb"], base["rss_kb"]))
        print("# %d of the %d clients reached the service before they were killed"
              % (st["served"] - base["served"], n))
        print("# %d holders had started and ran on after their client died" % alive)
        if not alive:
            errs.append("no holder got past the barrier in %d runs: the test killed too soon" % n)
    fail_if(errs)


@suite.test("the service killed (SIGKILL) during 4 runs: each client ends within a second "
            "with a message, its trace whole rows; a restarted service serves again")
def t_kill_service():
    d = Daemon()
    errs = []
    with test_user("s") as (name, uid, gid):
        out = user_dir(uid, gid)
        ps = []
        for i in range(4):
            p = as_user(uid, gid, [BIN, "-q", "-o", os.path.join(out, "t%d.csv" % i), "--",
                                   workload("holder"), "16"], d.sock, stdin=subprocess.PIPE)
            ps.append(p)
        for p in ps:
            wait_for(lambda: p.stdout.readline().startswith(b"READY"), "a holder's READY")
        d.p.kill()
        d.p.wait()
        t_kill = time.monotonic()
        for i, p in enumerate(ps):
            p.stdin.close()     # the holder ends too (its stderr is the client's)
            p.stdin = None
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                errs.append("client %d still runs 5 s after the service died" % i)
                p.kill()
                p.wait()
            took = time.monotonic() - t_kill
            e = p.stderr.read().decode(errors="replace")
            print("# client %d: exit %d after %.2f s: %s" % (i, p.returncode, took, tail(e, 240)))
            if p.returncode != 1 or "service" not in e:
                errs.append("client %d: exit %d, stderr %r" % (i, p.returncode, tail(e)))
            if took > 1.5:
                errs.append("client %d took %.2f s to end" % (i, took))
            with open(os.path.join(out, "t%d.csv" % i), "rb") as f:
                data = f.read()
            if not data.endswith(b"\n") or b"\0" in data:
                errs.append("trace %d does not end in a whole row" % i)
            for ln in data.decode().splitlines()[1:]:
                if len(ln.split(",")) != 22:
                    errs.append("trace %d: a row of %d fields" % (i, len(ln.split(","))))
                    break
            s = load_summary(os.path.join(out, "t%d.summary.json" % i))
            if s.get("interrupted") is not True:
                errs.append("summary %d: interrupted %r" % (i, s.get("interrupted")))
        # the kernel freed its programs with its fds: none names its PID
        progs = run(["bpftool", "prog", "show"], as_root=True).stdout
        if re.search(r"memtrace-bpf\(%d\)" % d.p.pid, progs):
            errs.append("bpftool still lists programs of the dead service (PID %d)" % d.p.pid)
        d.start()
        rc, o, e = finish_p(as_user(uid, gid, [BIN, "-q", "-o", os.path.join(out, "r.csv"), "--",
                                               workload("burst64"), "0"], d.sock))
        print("# the restarted service: exit %d" % rc)
        if rc != 0:
            errs.append("after a restart: exit %d: %s" % (rc, tail(e)))
    fail_if(errs)


@suite.test("16 clients at once (8 each for two users, forker trees and holders) on 2 CPUs: "
            "each trace holds only its own tree, exact peaks, 0 lost at the default ring")
def t_sixteen():
    d = Daemon()
    errs = []
    with test_user("a") as (na, ua, ga), test_user("b") as (nb, ub, gb):
        runs = []
        for i in range(16):
            uid, gid = (ua, ga) if i % 2 == 0 else (ub, gb)
            out = user_dir(uid, gid)
            wl = [workload("forker"), "3"] if i % 4 < 2 else [workload("burst64"), "0"]
            p = as_user(uid, gid, [BIN, "-q", "-o", os.path.join(out, "t.csv"), "--", *wl], d.sock)
            runs.append((i, uid, out, wl, p))
        for i, uid, out, wl, p in runs:
            rc, o, e = finish_p(p, 180)
            s = load_summary(os.path.join(out, "t.summary.json"))
            rows = read_rows(os.path.join(out, "t.csv"))
            pids = {int(r["pid"]) for r in rows}
            mine = {int(x.split()[1]) for x in o.splitlines() if x.startswith(("CHILD", "DONE",
                                                                              "BURST", "CP "))}
            if rc != 0 or s.get("lost_events") != 0:
                errs.append("run %d: exit %d, lost %r: %s" % (i, rc, s.get("lost_events"), tail(e)))
            if pids - mine:
                errs.append("run %d: rows of PIDs not its own: %s" % (i, sorted(pids - mine)))
            m = re.search(r"^BURST \d+ \d+ \d+ \d+ (\d+) ", o, re.M)
            if m and s.get("peak_rss_kb") != int(m.group(1)):
                errs.append("run %d: peak %r != VmRSS %s" % (i, s.get("peak_rss_kb"), m.group(1)))
        st = d.status()
        print("# after 16 runs: %s" % st)
        if st["groups"] or st["procs"]:
            errs.append("the service holds %r" % st)
    fail_if(errs)


@suite.test("a user's run whose shell execs a set-uid and a set-gid program: each leaves the "
            "trace at its exec (a `leave` row with its reason, no row after), the next "
            "program is traced exactly, the summary counts 2 left; --no-follow through the "
            "service leaves the children out")
def t_setid_leave():
    d = Daemon()
    errs = []
    _, holder, suid, sgid = setid_copies()
    with test_user("e") as (name, uid, gid):
        out = user_dir(uid, gid)
        csv_path = os.path.join(out, "t.csv")
        script = "%s 2 0 </dev/null; %s 2 0 </dev/null; exec %s 0" % (suid, sgid,
                                                                     workload("burst64"))
        rc, o, e = finish_p(as_user(uid, gid, [BIN, "-q", "-o", csv_path, "--", "sh", "-c",
                                               script], d.sock))
        rows = read_rows(csv_path)
        s = load_summary(os.path.join(out, "t.summary.json"))
        leaves = [r for r in rows if r["event"] == "leave"]
        print("# leave rows: %s" % [(r["pid"], r["cause"], r["label"]) for r in leaves])
        print("# left_processes %r, peak %r" % (s.get("left_processes"), s.get("peak_rss_kb")))
        if rc != 0:
            errs.append("exit %d: %s" % (rc, tail(e)))
        want = {"suid_holder": "secure", "sgid_holder": "secure"}
        for comm, why in want.items():
            lv = [r for r in leaves if r["cause"] == comm]
            if len(lv) != 1 or why not in lv[0]["label"]:
                errs.append("%s: leave rows %r, want one saying %s" % (comm, lv, why))
                continue
            after = [r for r in rows if r["pid"] == lv[0]["pid"] and
                     float(r["time_s"]) > float(lv[0]["time_s"])]
            if after:
                errs.append("%s: %d rows after its leave" % (comm, len(after)))
        m = re.search(r"^BURST (\d+) \d+ \d+ \d+ (\d+) ", o, re.M)
        if not m:
            errs.append("no BURST line: %r" % o[-300:])
        else:
            peak = max((int(r["vmrss_kb"]) for r in rows if r["pid"] == m.group(1)), default=None)
            if peak != int(m.group(2)):
                errs.append("burst64's rows peak at %r, its VmRSS %s" % (peak, m.group(2)))
        if s.get("left_processes") != 2:
            errs.append("left_processes %r, want 2" % s.get("left_processes"))
        # --no-follow, through the service: the shell alone
        csv2 = os.path.join(out, "n.csv")
        rc, o, e = finish_p(as_user(uid, gid, [BIN, "-q", "--no-follow", "-o", csv2, "--", "sh",
                                               "-c", "%s 2 0 </dev/null; true" % holder], d.sock))
        pids = {r["pid"] for r in read_rows(csv2)}
        if rc != 0 or len(pids) != 1:
            errs.append("--no-follow: exit %d, rows of %d processes: %s" % (rc, len(pids), tail(e)))
    fail_if(errs)


@suite.test("a user's ring share: with --ring-size 1M and --user-ring-share 25, user A's two "
            "fault storms lose rows to A's share (counted, peaks exact), user B's runs beside "
            "them lose none, exact (the run at 100% shown beside it)")
def t_ring_share():
    errs = []
    storm = os.path.join(ROOT, ".output", "tools", "faultstorm")
    if not os.path.exists(storm):
        run(["make", "-C", ROOT, storm], as_root=True)
    results = {}
    with test_user("a") as (na, ua, ga), test_user("b") as (nb, ub, gb):
        for share in ("100", "25"):
            d = Daemon("--ring-size", "1M", "--user-ring-share", share)
            oa, ob = user_dir(ua, ga), user_dir(ub, gb)
            one = "%s -m 256 -r 8 -w 0" % storm
            a = as_user(ua, ga, [BIN, "-q", "-o", os.path.join(oa, "a.csv"), "--", "sh", "-c",
                                 "%s & %s; wait" % (one, one)], d.sock)
            time.sleep(0.3)
            lost_b = []
            for k in range(5):
                # B's run whole is ~600 records (512 faults), under B's
                # share (~1,500 records at 25% of 1 MiB) even if the
                # service read nothing until B's end: what B loses is
                # room A took, never B's own share. (A longer run loses
                # its own rows when the service stalls longer than the
                # run takes to fill its share: a VM's vCPU stalled, CI.)
                rc, o, e = finish_p(as_user(ub, gb, [BIN, "-q", "-o", os.path.join(ob, "b.csv"),
                                                     "--", storm, "-m", "2", "-r", "1", "-w",
                                                     "0"], d.sock, stdin=subprocess.DEVNULL))
                sb = load_summary(os.path.join(ob, "b.summary.json"))
                lost_b.append(sb.get("lost_events"))
                # exact: each of the storm's faults a row of +4 kB between
                # its own CLOCK_MONOTONIC bounds
                truth = dict(kv.split("=", 1) for kv in o.split() if "=" in kv)
                steps = 0
                if rc == 0 and "start_ns" in truth:
                    rows = read_rows(os.path.join(ob, "b.csv"))
                    lo, hi = int(truth["start_ns"]), int(truth["end_ns"])
                    prev = None
                    for r in rows:
                        if prev is not None and lo <= int(r["ts_ns"]) <= hi and \
                                int(r["vmrss_kb"]) - prev == 4:
                            steps += 1
                        prev = int(r["vmrss_kb"])
                if rc != 0 or sb.get("events", 10**9) > 1000 or \
                        steps != int(truth.get("faults", -1)):
                    errs.append("share %s: B's run %d: exit %d, %r records, %d rows of +4 kB in "
                                "the storm for its %s faults: %s"
                                % (share, k, rc, sb.get("events"), steps, truth.get("faults"),
                                   tail(e)))
            rc, o, e = finish_p(a, 300)
            sa = load_summary(os.path.join(oa, "a.summary.json"))
            results[share] = (sa.get("lost_events"), lost_b)
            print("# --user-ring-share %s: A's storms lost %r rows, B's five runs lost %r"
                  % (share, sa.get("lost_events"), lost_b))
            if rc != 0:
                errs.append("share %s: A's run: exit %d: %s" % (share, rc, tail(e)))
            d.stop()
    la, lb = results["25"]
    if not la:
        errs.append("with a 25%% share A's storms lost %r rows: the share never bound" % la)
    if any(lb):
        errs.append("with a 25%% share B's runs lost %r rows" % lb)
    fail_if(errs)


@suite.test("daemon --metrics PORT and FILE: each user's run with its uid, its RSS the one the "
            "workload read, the service's own figures (parsed by prometheus_client); a run "
            "that ended is gone from them")
def t_daemon_metrics():
    from test_guard import free_port, prom_parser, scrape
    parse = prom_parser()
    errs = []
    port = free_port()
    url = "http://127.0.0.1:%d/metrics" % port
    with test_user("m") as (na, ua, ga):
        for how in ("port", "file"):
            prom = os.path.join(tmpdir(0o755), "svc.prom")
            d = Daemon("--metrics", str(port) if how == "port" else prom)
            out = user_dir(ua, ga)
            go = os.path.join(out, "go")

            def read():
                if how == "port":
                    return scrape(url, parse)[1:]
                try:
                    text = open(prom).read()
                except OSError:
                    return {}, {}
                vals, labels = {}, {}
                for fam in parse(text):
                    for smp in fam.samples:
                        vals[smp.name], labels[smp.name] = smp.value, smp.labels
                return vals, labels
            try:
                p = as_user(ua, ga, [BIN, "-q", "-o", os.path.join(out, "t.csv"), "--",
                                     workload("matrix"), "8", "2", "--hold-until", go], d.sock)
                live, labels = {}, {}
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and p.poll() is None:
                    live, labels = read()
                    if live.get("memtrace_rss_bytes", 0) >= 16 << 20:
                        time.sleep(1.2)     # the next text, the block long held
                        live, labels = read()
                        break
                    time.sleep(0.1)
                open(go, "w").close()
                rc, o, e = finish_p(p)
                cp = peak_cp(o)
                lb = labels.get("memtrace_rss_bytes", {})
                if rc != 0 or live.get("memtrace_rss_bytes") != cp.vmrss * 1024 or \
                        lb.get("uid") != str(ua) or not lb.get("client_pid") or \
                        live.get("memtrace_processes") != 1 or \
                        live.get("memtrace_service_runs") != 1 or \
                        not live.get("memtrace_service_resident_memory_bytes"):
                    errs.append("%s: exit %d; while held %r %r; the workload read %d kB: %s"
                                % (how, rc, live, lb, cp.vmrss, tail(e)))
                time.sleep(1.2)
                after, _ = read()
                if "memtrace_rss_bytes" in after or after.get("memtrace_service_runs") != 0:
                    errs.append("%s: after the run ended: %r" % (how, after))
            finally:
                d.stop()
            print("# %s: while held rss %r, the workload read %d kB" % (
                how, live.get("memtrace_rss_bytes"), cp.vmrss))
    fail_if(errs)


@suite.test("--user-procs 20: a user's run with 60 children alive at once has at most 20 "
            "traced at once, counts the rest untraced and says so; another user's run beside "
            "it traces all its own")
def t_user_procs():
    d = Daemon("--user-procs", "20")
    errs = []
    script = "for i in $(seq 60); do sleep 2 & done; wait"
    with test_user("p") as (na, ua, ga), test_user("q") as (nb, ub, gb):
        oa, ob = user_dir(ua, ga), user_dir(ub, gb)
        a = as_user(ua, ga, [BIN, "-q", "-o", os.path.join(oa, "a.csv"), "--", "sh", "-c",
                             script], d.sock)
        b = as_user(ub, gb, [BIN, "-q", "-o", os.path.join(ob, "b.csv"), "--", "sh", "-c",
                             "for i in $(seq 10); do sleep 1 & done; wait"], d.sock)
        for who, p, out, name, want in (("A", a, oa, "a", 20), ("B", b, ob, "b", 11)):
            rc, o, e = finish_p(p)
            s = load_summary(os.path.join(out, name + ".summary.json"))
            pids = {r["pid"] for r in read_rows(os.path.join(out, name + ".csv"))}
            print("# %s: %d processes traced, %r untraced; %s" % (who, len(pids),
                  s.get("untraced_processes"), tail(e, 200)))
            if rc != 0:
                errs.append("%s: exit %d: %s" % (who, rc, tail(e)))
            # the shell, $(seq)'s subshell and the children: 62 processes,
            # at most 20 of them alive and traced at once
            unt = s.get("untraced_processes") or 0
            if who == "A" and (len(pids) > want + 1 or len(pids) + unt != 62
                               or "--user-procs" not in e):
                errs.append("A: %d processes traced, %r untraced (want at most %d, 62 in all), "
                            "stderr %r" % (len(pids), unt, want + 1, tail(e)))
            if who == "B" and (len(pids) != want + 1 or unt):
                errs.append("B: %d processes traced (want %d), %r untraced"
                            % (len(pids), want, s.get("untraced_processes")))
    fail_if(errs)


def unit_caps():
    """The capabilities the systemd unit bounds the service to."""
    path = os.path.join(ROOT, "user", "service", "systemd", "memtrace-bpf.service.in")
    m = re.search(r"^CapabilityBoundingSet=(.*)$", open(path).read(), re.M)
    if not m:
        raise Fail("no CapabilityBoundingSet= in " + path)
    return [c.lower().replace("cap_", "") for c in m.group(1).split()]


@suite.test("installed as make install puts it (units under DESTDIR, ExecStart the installed "
            "binary, systemd-analyze verify clean where it exists), the service socket-activated "
            "(systemd-socket-activate, where it exists) with exactly the unit's capabilities, "
            "a user's launch and attach through it")
def t_unit():
    errs = []
    dest = tmpdir()
    r = run(["make", "-C", ROOT, "install", "DESTDIR=" + dest, "prefix=/usr"], as_root=True)
    if r.returncode != 0:
        raise Fail("make install: %s" % tail(r.stderr))
    unit = os.path.join(dest, "usr/lib/systemd/system")
    for f in ("memtrace-bpf.socket", "memtrace-bpf.service"):
        if not os.path.exists(os.path.join(unit, f)):
            errs.append("make install did not install %s" % f)
    svc = open(os.path.join(unit, "memtrace-bpf.service")).read()
    if "ExecStart=/usr/bin/memtrace-bpf daemon" not in svc:
        errs.append("ExecStart is not the installed binary: %r" % svc)
    if shutil.which("systemd-analyze"):
        # the unit names /usr/bin/memtrace-bpf, which is not there: point
        # it at the installed copy for the check
        os.makedirs(os.path.join(dest, "check"), exist_ok=True)
        for f in ("memtrace-bpf.socket", "memtrace-bpf.service"):
            text = open(os.path.join(unit, f)).read().replace(
                "/usr/bin/memtrace-bpf", os.path.join(dest, "usr/bin/memtrace-bpf"))
            open(os.path.join(dest, "check", f), "w").write(text)
        r = run(["systemd-analyze", "verify", "--man=no",
                 os.path.join(dest, "check", "memtrace-bpf.socket"),
                 os.path.join(dest, "check", "memtrace-bpf.service")], as_root=True)
        noise = [ln for ln in (r.stdout + r.stderr).splitlines()
                 if "memtrace-bpf" in ln and "Failed to" not in ln]
        print("# systemd-analyze verify: exit %d%s" % (r.returncode,
              "; " + " | ".join(noise[:4]) if noise else ""))
        if noise:
            errs.append("systemd-analyze verify: " + " | ".join(noise[:4]))
    else:
        print("# no systemd-analyze here: the units' syntax is not checked")
    caps = unit_caps()
    print("# the unit's capabilities: %s" % " ".join(caps))
    d = Daemon.__new__(Daemon)
    d.dir = tmpdir(0o755)
    d.sock = os.path.join(d.dir, "sock")
    d.log = os.path.join(d.dir, "daemon.log")
    d.opts = ()
    real_spawn_bin = BIN
    d.logf = open(d.log, "a")
    daemon = ["setpriv", "--bounding-set=-all," + ",".join("+" + c for c in caps),
              "--inh-caps=-all", "--", real_spawn_bin, "daemon"]
    activate = shutil.which("systemd-socket-activate")
    if activate:
        # as systemd starts it: the socket made first, the service started
        # by the first client, on the socket it is handed (LISTEN_FDS)
        d.p = spawn([activate, "--seqpacket", "-l", d.sock, "--", *daemon], stdout=d.logf,
                    stderr=subprocess.STDOUT, as_root=True)
        wait_for(lambda: os.path.exists(d.sock), "systemd-socket-activate's socket", 30)
        os.chmod(d.sock, 0o666)     # SocketMode=0666 of the unit
    else:
        print("# no systemd-socket-activate here: the service binds its socket itself")
        d.p = spawn([*daemon, "--socket", d.sock], stdout=d.logf, stderr=subprocess.STDOUT,
                    as_root=True)
        wait_for(lambda: "serving on" in d.text() or d.p.poll() is not None,
                 "the service's start", 30)
    if d.p.poll() is not None:
        raise Fail("the service did not start with the unit's capabilities: " + tail(d.text()))
    with test_user("u") as (name, uid, gid):
        out = user_dir(uid, gid)
        rc, o, e = finish_p(as_user(uid, gid, [BIN, "-q", "-o", os.path.join(out, "t.csv"), "--",
                                               workload("burst64"), "0"], d.sock))
        m = re.search(r"^BURST \d+ \d+ \d+ \d+ (\d+) ", o, re.M)
        s = load_summary(os.path.join(out, "t.summary.json")) if rc == 0 else {}
        print("# launch: exit %d, peak %s, VmRSS %s" % (rc, s.get("peak_rss_kb"),
                                                        m and m.group(1)))
        if rc != 0 or not m or s.get("peak_rss_kb") != int(m.group(1)):
            errs.append("launch with the unit's capabilities: exit %d, peak %r: %s"
                        % (rc, s.get("peak_rss_kb"), tail(e)))
        h = as_user(uid, gid, [workload("holder"), "8"], d.sock, stdin=subprocess.PIPE)
        line = h.stdout.readline().decode()
        rc_a = as_user(uid, gid, [BIN, "-q", "-o", os.path.join(out, "a.csv"), "-p",
                                  line.split()[1]], d.sock)
        time.sleep(1)
        h.stdin.write(b"go\n")
        h.stdin.close()
        h.stdin = None
        h.wait()
        rc, o, e = finish_p(rc_a)
        print("# attach: exit %d" % rc)
        if rc != 0:
            errs.append("attach with the unit's capabilities: exit %d: %s" % (rc, tail(e)))
    if activate and "serving on the socket systemd passed" not in d.text():
        errs.append("the service did not take the socket it was handed: " + tail(d.text()))
    d.stop()
    fail_if(errs)


if __name__ == "__main__":
    sys.exit(suite.main())
