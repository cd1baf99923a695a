#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The Debian package (`make deb`), built and installed for real.

  - what it holds: the tool in /usr/sbin, the man page, the completions,
    the marker header, the service's units (ExecStart the packaged tool),
    the Slurm plugin; its version the tool's; its Depends naming the
    package of every library the tool links (found here with objdump and
    dpkg -S, not from dh_shlibdeps's own answer);
  - a fresh Debian root (debootstrap --variant=minbase, the machine's own
    mirror): apt installs the .deb and pulls what it depends on, nothing
    of it missing (ldd), the tool traces a workload there exactly as its
    /proc/self/status readings say, and a purge leaves none of its files;
  - this machine after `make uninstall`: dpkg -i puts it where man,
    bash-completion, zsh and systemd find it; dpkg -P takes it all back.

Output and environment: see tests/harness.py; the closing line is
`package: N passed, N failed, N skipped`.
"""

import glob
import os
import re
import shutil
import subprocess

from harness import (BIN, ROOT, Fail, Skip, Suite, fail_if, parse_cps, read_rows, run, tail,
                     tmpdir, workload)

suite = Suite("package", builds=("holder",))

DEB_DIR = os.path.join(ROOT, ".output", "deb")
PKG = "memtrace-bpf"
MUST = ("usr/sbin/memtrace-bpf", "usr/share/man/man8/memtrace-bpf.8.gz",
        "usr/share/bash-completion/completions/memtrace-bpf",
        "usr/share/zsh/vendor-completions/_memtrace-bpf", "usr/include/memtrace/mark.h",
        "lib/systemd/system/memtrace-bpf.service", "lib/systemd/system/memtrace-bpf.socket",
        "usr/lib/memtrace-bpf/memtrace_spank.so", "usr/share/doc/memtrace-bpf/copyright")
_deb = []


def deb():
    """make deb, once: the package's path."""
    if not _deb:
        r = run(["make", "-C", ROOT, "deb"], timeout=900)
        found = glob.glob(os.path.join(DEB_DIR, PKG + "_*_amd64.deb"))
        if r.returncode != 0 or len(found) != 1:
            raise Fail("make deb: exit %d, %r: %s" % (r.returncode, found,
                                                       tail(r.stderr + r.stdout, 800)))
        _deb.append(found[0])
    return _deb[0]


def field(path, name):
    return run(["dpkg-deb", "-f", path, name]).stdout.strip()


def depends(path):
    """The package names of its Depends (alternatives flattened)."""
    return {re.split(r"[ (:]", d.strip())[0]
            for d in re.split(r"[,|]", field(path, "Depends")) if d.strip()}


def needed_packages(binary):
    """The Debian packages that hold the libraries binary links (NEEDED),
    as this machine's dpkg says."""
    out = run(["objdump", "-p", binary]).stdout
    pkgs = {}
    for lib in re.findall(r"NEEDED\s+(\S+)", out):
        path = run(["sh", "-c", "ldconfig -p | awk '$1 == \"%s\" {print $NF; exit}'" % lib]
                   ).stdout.strip()
        # the file's own name (/lib and /usr/lib are one directory here:
        # dpkg knows it under either)
        real = os.path.realpath(path) if path else lib
        name = "/".join(real.split("/")[-2:])    # x86_64-linux-gnu/libz.so.1.2.13
        owners = [ln.split(":")[0] for ln in run(["dpkg", "-S", name]).stdout.splitlines()
                  if ln.endswith("/" + name)]
        pkgs[lib] = owners[0] if owners else None
    return pkgs


@suite.test("make deb: the tool in /usr/sbin, its page, completions, header, units and Slurm "
            "plugin; its version the tool's, its Depends the packages of every library it "
            "links", timeout=900)
def t_deb_contents():
    path = deb()
    errs = []
    version = run([BIN, "--version"]).stdout.split()[-1]
    if field(path, "Package") != PKG or field(path, "Version") != version or \
            field(path, "Architecture") != "amd64":
        errs.append("control: %r %r %r; the tool says %s" % (
            field(path, "Package"), field(path, "Version"), field(path, "Architecture"),
            version))
    listing = run(["dpkg-deb", "-c", path]).stdout
    files = {ln.split()[-1].lstrip("./") for ln in listing.splitlines() if ln.strip()}
    errs += ["not in the package: /%s" % f for f in MUST if f not in files]
    x = tmpdir()
    run(["dpkg-deb", "-x", path, x])
    unit = open(os.path.join(x, "lib/systemd/system/memtrace-bpf.service")).read()
    if "ExecStart=/usr/sbin/memtrace-bpf daemon" not in unit:
        errs.append("the unit does not start the packaged tool: %r" %
                    [ln for ln in unit.splitlines() if ln.startswith("ExecStart")])
    dep = depends(path)
    for lib, owner in needed_packages(os.path.join(x, "usr/sbin/memtrace-bpf")).items():
        if owner is None:
            errs.append("no package of this machine holds %s" % lib)
        elif owner not in dep:
            errs.append("it links %s (package %s), not in its Depends %s" % (
                lib, owner, field(path, "Depends")))
    print("# Depends: %s" % field(path, "Depends"))
    fail_if(errs)


def mirror():
    """The Debian mirror this machine's apt uses (its first deb.* URI)."""
    for f in glob.glob("/etc/apt/sources.list.d/*.sources") + ["/etc/apt/sources.list"]:
        try:
            text = open(f).read()
        except OSError:
            continue
        m = re.search(r"^URIs:\s*(\S+/debian)\s*$", text, re.M) or \
            re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)\s+bookworm", text, re.M)
        if m:
            return m.group(1)
    return "http://deb.debian.org/debian"


def chroot(root, *argv, timeout=600, **kw):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
           "LC_ALL": "C"}
    return run(["chroot", root, *argv], timeout=timeout, env=env, **kw)


@suite.test("a fresh Debian root (debootstrap minbase): apt installs the .deb with what it "
            "depends on, nothing missing (ldd); it traces a workload there exactly; a purge "
            "leaves none of its files", timeout=1500)
def t_deb_fresh_root():
    if not shutil.which("debootstrap"):
        raise Skip("no debootstrap (apt-get install debootstrap)")
    path = deb()
    base = tmpdir()
    root = os.path.join(base, "root")
    r = run(["debootstrap", "--variant=minbase", "bookworm", root, mirror()], timeout=1200)
    if r.returncode != 0:
        raise Skip("debootstrap from %s failed (no network?): %s" % (mirror(),
                                                                    tail(r.stdout + r.stderr)))
    mounts = []
    errs = []
    try:
        shutil.copy("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))
        shutil.copy(path, os.path.join(root, "tmp", os.path.basename(path)))
        shutil.copy(workload("holder"), os.path.join(root, "tmp/holder"))
        before = set(chroot(root, "dpkg-query", "-W", "-f", "${Package}\n").stdout.split())
        r = chroot(root, "sh", "-c", "apt-get update -qq && apt-get install -y -qq "
                   "--no-install-recommends /tmp/" + os.path.basename(path))
        if r.returncode != 0:
            raise Fail("apt-get install in the fresh root: exit %d: %s" % (
                r.returncode, tail(r.stdout + r.stderr)))
        after = set(chroot(root, "dpkg-query", "-W", "-f", "${Package}\n").stdout.split())
        pulled = sorted(after - before - {PKG})
        print("# apt pulled in: %s" % " ".join(pulled))
        missing = [d for d in depends(path) if d not in after]
        if missing:
            errs.append("Depends not installed: %r" % missing)
        r = chroot(root, "ldd", "/usr/sbin/memtrace-bpf")
        if r.returncode != 0 or "not found" in r.stdout:
            errs.append("ldd: %s" % tail(r.stdout + r.stderr))
        v = chroot(root, "memtrace-bpf", "--version")
        if v.returncode != 0 or v.stdout.strip() != run([BIN, "--version"]).stdout.strip():
            errs.append("--version in the root: exit %d, %r" % (v.returncode, v.stdout))
        # a short trace there: the kernel's interfaces mounted in
        for what, src, opts in (("proc", "proc", ["-t", "proc"]), ("sys", "/sys", ["--bind"]),
                                ("dev", "/dev", ["--bind"])):
            dst = os.path.join(root, what)
            if run(["mount", *opts, src, dst]).returncode == 0:
                mounts.append(dst)
        t = chroot(root, "memtrace-bpf", "-q", "-o", "/tmp/t.csv", "--", "/tmp/holder", "24",
                   stdin=subprocess.DEVNULL)
        cps = parse_cps(t.stdout)
        rows = read_rows(os.path.join(root, "tmp/t.csv")) if t.returncode == 0 else []
        got = [int(x["vmrss_kb"]) for x in rows if x["event"] == "checkpoint"][-len(cps):]
        if t.returncode != 0 or not cps or got != [c.vmrss for c in cps]:
            errs.append("the trace in the root: exit %d, checkpoint rows %r, the workload read "
                        "%r: %s" % (t.returncode, got, [c.vmrss for c in cps], tail(t.stderr)))
        print("# traced in the fresh root: %d rows, readings %r" % (len(rows), got))
        for m in reversed(mounts):
            run(["umount", "-l", m])
        mounts = []
        files = [f for f in chroot(root, "dpkg", "-L", PKG).stdout.split()
                 if os.path.isfile(os.path.join(root, f.lstrip("/")))]
        r = chroot(root, "apt-get", "purge", "-y", "-qq", PKG)
        left = [f for f in files if os.path.lexists(os.path.join(root, f.lstrip("/")))]
        if r.returncode != 0 or left or chroot(root, "dpkg", "-s", PKG).returncode == 0:
            errs.append("purge: exit %d, files left %r: %s" % (r.returncode, left,
                                                               tail(r.stdout + r.stderr)))
    finally:
        for m in reversed(mounts):
            run(["umount", "-l", m])
        run(["rm", "-rf", "--one-file-system", base])
    fail_if(errs)


@suite.test("this machine after make uninstall: dpkg -i puts it where man, bash-completion, "
            "zsh and systemd find it, dpkg -P takes back every file", timeout=900)
def t_deb_here():
    path = deb()
    errs = []
    r = run(["make", "-C", ROOT, "uninstall"])
    if r.returncode != 0 or os.path.exists("/usr/local/bin/memtrace-bpf"):
        raise Fail("make uninstall: exit %d: %s" % (r.returncode, tail(r.stderr)))
    files = []
    try:
        r = run(["dpkg", "-i", path], timeout=300)
        if r.returncode != 0:
            raise Fail("dpkg -i: exit %d: %s" % (r.returncode, tail(r.stdout + r.stderr)))
        files = [f for f in run(["dpkg", "-L", PKG]).stdout.split() if os.path.isfile(f)]
        v = run(["/usr/sbin/memtrace-bpf", "--version"])
        if v.stdout.strip() != run([BIN, "--version"]).stdout.strip():
            errs.append("/usr/sbin/memtrace-bpf --version: %r" % v.stdout)
        m = run(["man", "-w", PKG])
        if m.stdout.strip() != "/usr/share/man/man8/memtrace-bpf.8.gz":
            errs.append("man -w: %r %r" % (m.stdout, m.stderr))
        b = run(["bash", "-c", "source /usr/share/bash-completion/bash_completion; "
                 "_completion_loader memtrace-bpf; complete -p memtrace-bpf"])
        if "memtrace-bpf" not in b.stdout or "-F" not in b.stdout:
            errs.append("bash-completion does not load it: %r %r" % (b.stdout, b.stderr[-200:]))
        z = run(["zsh", "-fc", "print -l $^fpath/_memtrace-bpf(N)"])
        if "/usr/share/zsh/vendor-completions/_memtrace-bpf" not in z.stdout.split():
            errs.append("zsh does not find _memtrace-bpf on its fpath: %r %r" % (z.stdout,
                                                                                 z.stderr))
        if shutil.which("systemd-analyze"):
            s = run(["systemd-analyze", "verify", "/lib/systemd/system/memtrace-bpf.socket",
                     "/lib/systemd/system/memtrace-bpf.service"])
            if s.returncode != 0:
                errs.append("systemd-analyze verify: %s" % tail(s.stdout + s.stderr))
    finally:
        p = run(["dpkg", "-P", PKG], timeout=300)
    left = [f for f in files if os.path.lexists(f)]
    if p.returncode != 0 or left or run(["dpkg", "-s", PKG]).returncode == 0:
        errs.append("dpkg -P: exit %d, files left %r: %s" % (p.returncode, left,
                                                             tail(p.stdout + p.stderr)))
    fail_if(errs)


if __name__ == "__main__":
    suite.main()
