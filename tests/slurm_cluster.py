#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A one-node Slurm cluster on localhost for the tests (issue #17), started
and stopped by them: munged, a private MariaDB, slurmdbd (so sacct answers
as it does in production), slurmctld and slurmd, each in its own session,
its own directory, socket and ports, configured by files this module
writes; nothing of the machine's own /etc/slurm or /etc/munge is used.
Debian's packages: slurmctld slurmd slurmdbd slurm-client munge
mariadb-server (tools/install-deps.sh slurm).

    with SlurmCluster() as c:
        c.env          # the environment for srun, sbatch, sacct ...
        c.run(["srun", "true"], user=(uid, gid))

proctrack/linuxproc and task/none: no cgroup plugin (this machine kind has
no systemd and a hybrid cgroup v1). Run by hand, `python3
tests/slurm_cluster.py` starts it, prints the environment and waits for
Ctrl-C or SIGTERM.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

NEEDS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd", "srun",
         "sbatch", "sacct", "sacctmgr", "squeue", "sinfo")


class ClusterError(Exception):
    pass


def missing():
    """The programs the cluster needs that are not installed (names)."""
    return [n for n in NEEDS if not shutil.which(n) and
            not os.path.exists(os.path.join("/usr/sbin", n))]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path, n=25):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


class SlurmCluster:
    """Started by __enter__ (about 30 s), stopped by __exit__. Jobs run as
    users of the machine; their files go where they may write."""

    def __init__(self, plugstack="", slurm_conf_extra="", log=print, acct_freq=2):
        # Slurm samples a job's memory every JobAcctGatherFrequency s
        # (30 by default): every 2 s here, so a job of a few seconds is
        # sampled at all
        self.acct_freq = acct_freq
        self.plugstack = plugstack
        self.extra = slurm_conf_extra
        self.log = log
        self.procs = []         # (name, Popen, log path), in start order
        self.dir = None

    # ---- start ----

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def _path(self, *parts):
        return os.path.join(self.dir, *parts)

    def _spawn(self, name, argv, user=None, env=None):
        logp = self._path(name + ".out")
        f = open(logp, "ab")
        pre = []
        if user:
            pre = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]
        p = subprocess.Popen(pre + argv, stdin=subprocess.DEVNULL, stdout=f,
                             stderr=subprocess.STDOUT, start_new_session=True,
                             env=env or self.env)
        f.close()
        self.procs.append((name, p, logp))
        return p

    def _wait(self, what, pred, timeout, proc=None, logp=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise ClusterError(f"{what}: the process ended (exit {proc.returncode}):\n"
                                   f"{_tail(logp) if logp else ''}")
            try:
                if pred():
                    return
            except (OSError, subprocess.SubprocessError):
                pass
            time.sleep(0.2)
        raise ClusterError(f"{what}: not ready in {timeout} s\n{_tail(logp) if logp else ''}")

    def q(self, argv, timeout=30, **kw):
        """A Slurm or database client command as root: CompletedProcess."""
        return subprocess.run(argv, env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout, **kw)

    def _start(self):
        t0 = time.monotonic()
        self.dir = tempfile.mkdtemp(prefix="memtrace-slurm-")
        os.chmod(self.dir, 0o755)
        for d in ("etc", "state", "spool", "log", "run"):
            os.makedirs(self._path(d), mode=0o755)
        self.host = socket.gethostname().split(".")[0]
        self.name = f"mt{os.getpid() % 100000}"
        ports = set()
        while len(ports) < 4:
            ports.add(_free_port())
        self.ctld_port, self.slurmd_port, self.dbd_port, self.db_port = sorted(ports)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        self.env["SLURM_CONF"] = self._path("etc", "slurm.conf")
        self._munge()
        self._mariadb()
        self._configs()
        self._slurmdbd()
        self._slurmctld_slurmd()
        self.log(f"# slurm cluster {self.name} ready in {time.monotonic() - t0:.1f} s "
                 f"({self.dir})")

    def _munge(self):
        mu = pwd.getpwnam("munge")
        md = self._path("munge")
        os.makedirs(md, mode=0o711)
        key = os.path.join(md, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        for p in (md, key):
            os.chown(p, mu.pw_uid, mu.pw_gid)
        self.munge_sock = os.path.join(md, "munge.socket")
        p = self._spawn("munged", ["munged", "--foreground", "--force",
                                   f"--socket={self.munge_sock}", f"--key-file={key}",
                                   f"--pid-file={md}/munged.pid", f"--log-file={md}/munged.log",
                                   f"--seed-file={md}/munged.seed"], user="munge")

        def ok():
            c = subprocess.run(["munge", "-n", f"--socket={self.munge_sock}"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=5)
            u = subprocess.run(["unmunge", f"--socket={self.munge_sock}"], input=c.stdout,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=5)
            return c.returncode == 0 and u.returncode == 0
        self._wait("munged", ok, 20, p, self._path("munged.out"))

    def _mariadb(self):
        my = pwd.getpwnam("mysql")
        db = self._path("db")
        os.makedirs(db, mode=0o750)
        os.chown(db, my.pw_uid, my.pw_gid)
        self.db_sock = self._path("run", "mysql.sock")
        os.chown(self._path("run"), my.pw_uid, my.pw_gid)
        r = subprocess.run(["mariadb-install-db", "--no-defaults", "--user=mysql",
                            f"--datadir={db}", "--auth-root-authentication-method=socket",
                            "--skip-test-db"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=180)
        if r.returncode != 0:
            raise ClusterError("mariadb-install-db: exit %d\n%s" % (r.returncode, r.stdout[-2000:]))
        p = self._spawn("mariadbd", ["mariadbd", "--no-defaults", "--user=mysql",
                                     f"--datadir={db}", f"--socket={self.db_sock}",
                                     f"--port={self.db_port}", "--bind-address=127.0.0.1",
                                     f"--pid-file={self._path('run', 'mariadbd.pid')}",
                                     "--innodb-buffer-pool-size=64M",
                                     "--innodb-lock-wait-timeout=900", "--skip-log-bin"])
        sql = ["mariadb", "--no-defaults", "-S", self.db_sock, "-u", "root"]
        self._wait("mariadbd", lambda: self.q(sql + ["-e", "SELECT 1"]).returncode == 0, 60, p,
                   self._path("mariadbd.out"))
        self.db_pass = os.urandom(12).hex()
        r = self.q(sql + ["-e", "CREATE DATABASE slurm_acct_db; "
                          f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{self.db_pass}'; "
                          "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'"])
        if r.returncode != 0:
            raise ClusterError("mariadb: creating the accounting database: " + r.stderr)

    def _configs(self):
        r = subprocess.run(["slurmd", "-C"], stdout=subprocess.PIPE, text=True, timeout=30)
        node = next((ln for ln in r.stdout.splitlines() if ln.startswith("NodeName=")), None)
        if r.returncode != 0 or not node:
            raise ClusterError("slurmd -C: no NodeName line: " + r.stdout)
        # the node's memory as Slurm sees it, less a margin (more than
        # it has would drain it)
        words = [w for w in node.split() if not w.startswith("RealMemory=")]
        mem = int(next(w for w in node.split() if w.startswith("RealMemory=")).split("=")[1])
        self.node = words[0].split("=")[1]
        words.append(f"RealMemory={max(256, mem - 1024)}")
        logd = self._path("log")
        conf = f"""ClusterName={self.name}
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={self.ctld_port}
SlurmdPort={self.slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.munge_sock}
CredType=cred/munge
StateSaveLocation={self._path('state')}
SlurmdSpoolDir={self._path('spool')}
SlurmctldPidFile={self._path('run', 'slurmctld.pid')}
SlurmdPidFile={self._path('run', 'slurmd.pid')}
SlurmctldLogFile={logd}/slurmctld.log
SlurmdLogFile={logd}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency={self.acct_freq}
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={self.dbd_port}
AccountingStoragePass={self.munge_sock}
PlugStackConfig={self._path('etc', 'plugstack.conf')}
KillWait=5
ReturnToService=2
InactiveLimit=0
MinJobAge=300
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
{' '.join(words)} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
{self.extra}
"""
        dbd = f"""AuthType=auth/munge
AuthInfo=socket={self.munge_sock}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={self.dbd_port}
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={self.db_port}
StorageUser=slurm
StoragePass={self.db_pass}
StorageLoc=slurm_acct_db
PidFile={self._path('run', 'slurmdbd.pid')}
LogFile={logd}/slurmdbd.log
DebugLevel=info
"""
        for name, text, mode in (("slurm.conf", conf, 0o644), ("slurmdbd.conf", dbd, 0o600),
                                 ("plugstack.conf", self.plugstack + "\n", 0o644)):
            p = self._path("etc", name)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "w") as f:
                f.write(text)

    def _slurmdbd(self):
        p = self._spawn("slurmdbd", ["slurmdbd", "-D"])
        self._wait("slurmdbd", lambda: self.q(["sacctmgr", "-n", "list", "cluster"],
                                              timeout=10).returncode == 0,
                   90, p, self._path("log", "slurmdbd.log"))
        r = self.q(["sacctmgr", "-i", "add", "cluster", self.name])
        if r.returncode != 0 and "already exists" not in r.stdout + r.stderr:
            raise ClusterError("sacctmgr add cluster: " + r.stdout + r.stderr)

    def _slurmctld_slurmd(self):
        c = self._spawn("slurmctld", ["slurmctld", "-D", "-i"])
        self._wait("slurmctld", lambda: self.q(["sinfo", "-h", "-o", "%t"],
                                               timeout=10).returncode == 0,
                   60, c, self._path("log", "slurmctld.log"))
        d = self._spawn("slurmd", ["slurmd", "-D"])
        self._wait("slurmd (the node idle)",
                   lambda: self.q(["sinfo", "-h", "-o", "%t"], timeout=10).stdout.strip() == "idle",
                   60, d, self._path("log", "slurmd.log"))

    # ---- use ----

    def run(self, argv, user=None, timeout=120, env=None, cwd=None):
        """argv (srun, sbatch, ...) as user (uid, gid) or root:
        CompletedProcess with text output."""
        e = dict(self.env, **(env or {}))
        pre = []
        if user:
            pre = ["setpriv", f"--reuid={user[0]}", f"--regid={user[1]}", "--clear-groups", "--"]
        return subprocess.run(pre + list(argv), env=e, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout, cwd=cwd)

    def sacct(self, jobid, fields, timeout=60):
        """sacct's rows of job jobid (every step), each a dict of fields,
        once the job's own row is final (slurmdbd takes a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.q(["sacct", "-n", "-P", "--units=K", "-j", str(jobid),
                        "--format=" + ",".join(["JobID", "State"] + list(fields))])
            rows = [dict(zip(["JobID", "State"] + list(fields), ln.split("|")))
                    for ln in r.stdout.splitlines() if ln]
            # the job's own rows (an array's: one a task, JOB_K), not
            # its steps' (JOB.0, JOB.batch)
            own = [x for x in rows if "." not in x["JobID"]]
            if r.returncode == 0 and own and all(
                    x["State"] not in ("PENDING", "RUNNING", "REQUEUED", "COMPLETING")
                    for x in own):
                return rows
            if time.monotonic() > deadline:
                raise ClusterError(f"sacct -j {jobid}: no final row in {timeout} s: "
                                   f"{r.stdout.strip()} {r.stderr.strip()}")
            time.sleep(0.5)

    def logs(self):
        """The tails of every daemon's log, for a failure's message."""
        out = []
        for name in ("slurmctld", "slurmd", "slurmdbd"):
            out.append(f"--- {name}.log\n" + _tail(self._path("log", name + ".log"), 15))
        return "\n".join(out)

    # ---- stop ----

    def stop(self):
        if not self.dir:
            return
        if any(n == "slurmctld" and p.poll() is None for n, p, _ in self.procs):
            self.q(["scancel", "--full", "--state=RUNNING"], timeout=20)
            self.q(["scancel", "--state=PENDING"], timeout=20)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                r = self.q(["squeue", "-h"], timeout=10)
                if r.returncode != 0 or not r.stdout.strip():
                    break
                time.sleep(0.5)
        for name, p, _ in reversed(self.procs):
            if p.poll() is not None:
                continue
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        # slurmstepd processes of steps that never ended (their own sessions)
        subprocess.run(["pkill", "-KILL", "-f", f"slurmstepd.*{self.dir}"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not os.environ.get("KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None


if __name__ == "__main__":
    import sys
    if missing():
        sys.exit("not installed: " + " ".join(missing()) + " (tools/install-deps.sh slurm)")
    def stop(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    with SlurmCluster() as c:
        print(f"export SLURM_CONF={c.env['SLURM_CONF']}", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
