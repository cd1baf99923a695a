#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The man page and the shell completions, held to the binary they describe.

- memtrace-bpf(8) (user/man/memtrace-bpf.8): groff -ww renders it without
  a warning and man -l shows it; each command's subsection lists exactly
  the options its --help lists, each spelled as --help spells it (short
  letter, long name, argument); its exit statuses are user/lib/exit.h's,
  its CSV columns user/format/csv.h's, and every figure of its OVERHEAD
  section is one the README gives.
- The bash completion (tools/completion/memtrace-bpf.bash): its option
  list of each command is what that --help lists, the options it takes a
  value after are those --help gives an argument, and real cases driven
  through bash (COMP_WORDS, COMP_CWORD, its function): commands, options,
  running PIDs, directories only for -d, files for -o, the values of
  --format and the like, the examples it offers for sizes and durations
  accepted by memtrace-bpf itself, the traced command after --.
- The zsh completion (tools/completion/_memtrace-bpf), driven in a real
  interactive zsh on a pseudo-terminal (zsh/zpty, compinit): the options it
  offers for each command, then the same cases.
- make install DESTDIR=... puts the page and both completions where man,
  bash-completion and zsh find them (each checked with that tool), with
  the page's paths rewritten for another prefix; make uninstall removes
  every file install put.

None of it traces: no root needed. Output and environment: see
tests/harness.py; the closing line is `docs: N passed, N failed, N skipped`.
"""

import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import time

from harness import (BIN, CSV_HEADER, ROOT, TRACE_HEADER, Fail, Skip, Suite, fail_if, run,
                     tail, tmpdir, tool, write_file)

suite = Suite("docs")

PAGE = os.path.join(ROOT, "user", "man", "memtrace-bpf.8")
BASH_COMP = os.path.join(ROOT, "tools", "completion", "memtrace-bpf.bash")
ZSH_DIR = os.path.join(ROOT, "tools", "completion")
ZSH_COMP = os.path.join(ZSH_DIR, "_memtrace-bpf")
README = os.path.join(ROOT, "README.md")

# each command: its argv after the binary. The page has a subsection for
# each; the completions complete all but slurm-helper (internal: started by
# the Slurm plugin)
COMMANDS = {
    "record": [], "spikes": ["spikes"], "validate": ["validate"], "stages": ["stages"],
    "resample": ["resample"], "export": ["export"], "report": ["report"],
    "campaign": ["campaign"], "campaign report": ["campaign", "report"],
    "daemon": ["daemon"], "slurm-helper": ["slurm-helper"],
}
COMPLETED = [c for c in COMMANDS if c != "slurm-helper"]
# what is offered where a command's name goes
NAMES = [c for c in COMPLETED if c != "campaign report"]
# argp's own, in every argp command's --help: the page lists them once
ARGP_STD = {"--help": ("-?", ""), "--usage": ("", ""), "--version": ("-V", "")}


def need(prog, package):
    if not shutil.which(prog):
        raise Skip("no %s (Debian: %s; tools/install-deps.sh installs it)" % (prog, package))


# --------------------------------------------------------------------------
# --help: the options, as argp spells them

# "  -p, --pid=PID[,PID]   ...", "      --follow   ...", "  -?, --help ..."
OPT_LINE = re.compile(r"^(?:  (?P<short>-[^\s,-])(?:, (?=--)|(?=\s|$))|      (?=--))(?P<rest>\S*)")


def help_text(cmd):
    r = tool(*COMMANDS[cmd], "--help", timeout=30)
    if r.returncode != 0:
        raise Fail("memtrace-bpf %s --help: exit %d: %s" % (" ".join(COMMANDS[cmd]),
                                                            r.returncode, tail(r.stderr)))
    return r.stdout


def help_options(cmd):
    """{--long: (short or "", argument as spelled after the name)} of
    cmd's --help. campaign report's is not argp's: its options are those
    its USAGE lines name (and --help, which printed them)."""
    text = help_text(cmd)
    opts = {}
    if cmd == "campaign report":
        for line in text.splitlines():
            if not re.match(r"^(USAGE:| {7})\s*memtrace-bpf campaign report", line):
                continue
            toks = line.replace("[", " ").replace("]", " ").split()
            for i, t in enumerate(toks):
                if t.startswith("-"):
                    nxt = toks[i + 1] if i + 1 < len(toks) else ""
                    arg = " " + nxt if nxt and not nxt.startswith("-") else ""
                    opts[t] = ("", arg)
        # a short name its text gives beside the long one: "-o, --output"
        for short, long in re.findall(r"(-\w), (--[\w-]+)", text):
            if long in opts:
                opts[long] = (short, opts[long][1])
        opts["--help"] = ("-h", "")
        return opts
    for line in text.splitlines():
        m = OPT_LINE.match(line)
        if not m or not m.group("rest").startswith("--"):
            continue
        name, _, arg = m.group("rest").partition("=")
        opts[name] = (m.group("short") or "", "=" + arg if arg else "")
    if not opts:
        raise Fail("memtrace-bpf %s --help lists no option" % cmd)
    return opts


def all_help():
    return {cmd: help_options(cmd) for cmd in COMMANDS}


# --------------------------------------------------------------------------
# the page

def page_source():
    with open(PAGE) as f:
        return f.read()


def detroff(s):
    """A tag line as it reads: font escapes dropped, \\- a minus."""
    s = re.sub(r"\\f[BIRP]", "", s)
    return s.replace("\\-", "-").replace("\\&", "").replace("\\(aq", "'")


def page_sections(src):
    """{.SH name: [lines]} and, within OPTIONS, {.SS name: [lines]} (the
    part before the first .SS under "")."""
    sh, cur = {}, None
    for line in src.splitlines():
        m = re.match(r'^\.SH\s+"?([^"]*)"?\s*$', line)
        if m:
            cur = m.group(1)
            sh[cur] = []
        elif cur is not None:
            sh[cur].append(line)
    ss, cur = {"": []}, ""
    for line in sh.get("OPTIONS", []):
        m = re.match(r'^\.SS\s+"?([^"]*)"?\s*$', line)
        if m:
            # "record (the default command)" -> record
            cur = re.sub(r"\s*\(.*\)$", "", m.group(1)).replace("\\-", "-")
            ss[cur] = []
        else:
            ss[cur].append(line)
    return sh, ss


def macro_text(line):
    """A line as it reads: text, or a font macro's arguments (.B, .I with
    blanks between them; .BR, .IR, .RI ... alternating fonts, without)."""
    m = re.match(r"^\.(B|I|BR|RB|IR|RI|BI|IB)\s+(.*)$", line)
    if not m:
        return detroff(line)
    args = shlex.split(m.group(2).replace("\\", "\\\\"))
    return detroff((" " if len(m.group(1)) == 1 else "").join(args))


def tagged(lines):
    """The tag lines of the .TP items in lines, as they read."""
    return [macro_text(lines[i + 1]) for i, l in enumerate(lines[:-1]) if l.strip() == ".TP"]


def page_options(lines):
    """{--long: (short or "", argument)} of the option tags in lines: a tag
    "-p, --pid=PID[,PID]" or several options, "--a, --b=X"."""
    opts = {}
    for tag in tagged(lines):
        if not tag.startswith("-"):
            continue
        short = ""
        for item in tag.split(", "):
            m = re.match(r"^(--[\w-]+)(.*)$", item)
            if m:
                opts[m.group(1)] = (short, m.group(2))
                short = ""
            elif re.match(r"^-\S$", item):
                short = item
            elif re.match(r"^-\S ", item):        # -o FILE: a short option alone
                opts[item.split()[0]] = ("", " " + item.split(None, 1)[1])
    return opts


@suite.test("man page: groff -ww renders it without a warning, with every section", root=False)
def t_page_renders():
    need("groff", "groff-base")
    r = run(["groff", "-ww", "-man", "-Tutf8", PAGE], timeout=60)
    if r.returncode != 0 or r.stderr.strip():
        raise Fail("groff -ww: exit %d, stderr: %s" % (r.returncode, tail(r.stderr, 800)))
    text = re.sub(r".\x08", "", r.stdout)              # bold and underline overstruck
    heads = [l for l in text.splitlines() if re.match(r"^[A-Z][A-Z ]+$", l)]
    want = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "OUTPUT", "OVERHEAD", "EXAMPLES",
            "FILES", "SEE ALSO"]
    missing = [h for h in want if h not in heads]
    order = [h for h in heads if h in want]
    fail_if(["no %s section" % h for h in missing] +
            ([] if missing or order == want else ["sections in the order %s" % order]))


@suite.test("man page: man -l shows it (with groff's warnings on), version that of --version, "
            "date that of debian/changelog's last entry",
            root=False)
def t_page_man():
    need("man", "man-db")
    env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
    r = run(["man", "--warnings=w", "-l", PAGE], env=env, timeout=60)
    errs = []
    if r.returncode != 0 or r.stderr.strip():
        errs.append("man -l: exit %d, stderr: %s" % (r.returncode, tail(r.stderr, 800)))
    text = re.sub(r".\x08", "", r.stdout)
    if not re.search(r"memtrace-bpf\s+-\s+every RSS change of a process", text):
        errs.append("man -l shows no NAME line: %r" % text[:300])
    m = re.search(r'^\.TH \S+ 8 \S+ "memtrace-bpf ([^"]+)"', page_source(), re.M)
    v = tool("--version", timeout=30).stdout.split()
    if not m or v[-1:] != [m.group(1)]:
        errs.append(".TH says %s, memtrace-bpf --version %s"
                    % (m.group(1) if m else "no version", " ".join(v)))
    # its date: the release's, as debian/changelog's last entry gives it
    d = re.search(r'^\.TH \S+ 8 (\S+) ', page_source(), re.M)
    with open(os.path.join(ROOT, "debian", "changelog")) as f:
        cl = f.read()
    head = re.match(r"memtrace-bpf \(([^)]+)\)", cl)
    when = re.search(r"^ -- .*>  \w+, (\d+ \w+ \d{4})", cl, re.M)
    if not head or head.group(1) != (m.group(1) if m else None) or not when or not d or \
            time.strftime("%Y-%m-%d", time.strptime(when.group(1), "%d %b %Y")) != d.group(1):
        errs.append(".TH dated %s for %s; debian/changelog's last entry: %s of %s" % (
            d.group(1) if d else None, m.group(1) if m else None,
            when.group(1) if when else None, head.group(1) if head else None))
    fail_if(errs)


@suite.test("man page: each command's options are its --help's, both ways, as --help spells them",
            root=False)
def t_page_options():
    helps = all_help()
    _, ss = page_sections(page_source())
    errs = []
    extra = set(ss) - set(COMMANDS) - {""}
    errs += ["a subsection %r under OPTIONS names no command" % s for s in sorted(extra)]
    common = page_options(ss[""])
    for name, spelled in ARGP_STD.items():
        if common.get(name) != spelled:
            errs.append("OPTIONS does not list %s as every command's (%r)" % (name, common.get(name)))
    for cmd, hopts in helps.items():
        if cmd not in ss:
            errs.append("no subsection for %s under OPTIONS" % cmd)
            continue
        popts = page_options(ss[cmd])
        # argp's own are listed once for all; campaign report's --help there too
        hopts = {k: v for k, v in hopts.items() if k not in ARGP_STD}
        for name in sorted(set(hopts) - set(popts)):
            errs.append("%s: %s is in its --help, not in the page" % (cmd, name))
        for name in sorted(set(popts) - set(hopts)):
            errs.append("%s: the page lists %s, its --help does not" % (cmd, name))
        for name in sorted(set(hopts) & set(popts)):
            if hopts[name] != popts[name]:
                errs.append("%s %s: the page spells it %r, --help %r"
                            % (cmd, name, "".join(popts[name]), "".join(hopts[name])))
    print("# %d commands, %d options in their --help"
          % (len(helps), sum(len(h) for h in helps.values())))
    fail_if(errs, limit=None)


@suite.test("man page: its exit statuses are user/lib/exit.h's, its CSV columns csv.h's",
            root=False)
def t_page_output():
    sh, _ = page_sections(page_source())
    out = sh.get("OUTPUT", [])
    sub, cur = {}, None
    for line in out:
        m = re.match(r'^\.SS\s+"?([^"]*)"?\s*$', line)
        if m:
            cur = m.group(1)
            sub[cur] = []
        elif cur:
            sub[cur].append(line)
    errs = []
    with open(os.path.join(ROOT, "user", "lib", "exit.h")) as f:
        vals = {int(v) for v in re.findall(r"^\s*EXIT_\w+ = (\d+),", f.read(), re.M)}
    want = {"0"} | {str(v) for v in vals if v != 128} | {"128+N"}
    got = set()
    for tag in tagged(sub.get("Exit status", [])):
        got |= {t.strip() for t in tag.split(",")}
    if got != want:
        errs.append("exit statuses: the page %s, exit.h %s" % (sorted(got), sorted(want)))
    with open(os.path.join(ROOT, "user", "format", "csv.h")) as f:
        m = re.search(r'#define CSV_HEADER ((?:"[^"]*"\s*\\?\s*)+)', f.read())
    header = "".join(re.findall(r'"([^"]*)"', m.group(1))) if m else ""
    cols = []
    for tag in tagged(sub.get("The trace (CSV)", [])):
        cols += [c.strip() for c in tag.split(",")]
    if header != TRACE_HEADER:
        errs.append("csv.h's header %r is not the harness's %r" % (header, TRACE_HEADER))
    if ",".join(cols) != header:
        errs.append("the page's CSV columns %s, csv.h's %s" % (",".join(cols), header))
    fail_if(errs)


@suite.test("man page: every figure in OVERHEAD is one the README gives", root=False)
def t_page_overhead():
    sh, _ = page_sections(page_source())
    text = detroff(" ".join(sh.get("OVERHEAD", []))).replace("\\(en", "-")
    with open(README) as f:
        readme = f.read()
    figures = re.findall(r"(?<![\w.])[+]?\d[\d,.]*(?:x| ?%| ns| ms| s| MiB| GiB| kB| MB)(?!\w)",
                         text)
    if len(figures) < 20:
        raise Fail("only %d figures found in OVERHEAD: %s" % (len(figures), figures))
    errs = ["%s is not in the README" % f for f in figures if f not in readme]
    for cmd in ("sudo make bench", "memtrace-bpf -q -o T.csv -- faultstorm",
                "perf record -e kmem:rss_stat -- faultstorm", "tools/realprog.sh",
                "tools/bench-guard.sh", "tools/progcost.py"):
        if cmd not in text:
            errs.append("OVERHEAD does not name %r" % cmd)
        elif cmd not in readme:
            errs.append("OVERHEAD names %r, the README does not" % cmd)
    print("# %d figures, each in the README" % len(figures))
    fail_if(errs, limit=None)


# --------------------------------------------------------------------------
# bash

def bash(script, cwd=None, env=None):
    """Runs a bash script (bash --norc); its stdout lines."""
    need("bash", "bash")
    r = run(["bash", "--norc", "--noprofile", "-c", script], cwd=cwd, env=env, timeout=60)
    if r.returncode != 0:
        raise Fail("bash: exit %d: %s (script %s)" % (r.returncode, tail(r.stderr), tail(script)))
    return r.stdout.splitlines()


def bash_complete(words, cwd=None, preamble=""):
    """What the bash completion offers for the command line `words`, the
    last being the word completed (readline's words: "--count=x" is
    "--count" "=" "x"), COMPREPLY as a sorted list."""
    line = " ".join(words)
    script = "%s\nsource %s\n" % (preamble, shlex.quote(BASH_COMP))
    script += "COMP_WORDS=(%s)\n" % " ".join(shlex.quote(w) for w in words)
    script += "COMP_CWORD=%d COMP_LINE=%s COMP_POINT=%d\n" % (len(words) - 1, shlex.quote(line),
                                                               len(line))
    script += ('_memtrace_bpf memtrace-bpf "${COMP_WORDS[COMP_CWORD]}" '
               '"${COMP_WORDS[COMP_CWORD-1]}"\n'
               '[ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\\n" "${COMPREPLY[@]}"\n')
    return sorted(bash(script, cwd=cwd))


def bash_lists():
    """{command: [its long options]} and the options the script takes a
    value after, from the script itself."""
    script = "source %s\n" % shlex.quote(BASH_COMP)
    for cmd in COMPLETED:
        script += "echo %s: $(_memtrace_bpf_options %s)\n" % (shlex.quote(cmd), shlex.quote(cmd))
    script += "echo ARGS: $_memtrace_bpf_arg_options\n"
    out = {}
    for line in bash(script):
        k, _, v = line.partition(": ")
        out[k] = v.split()
    return out


def completion_dir():
    """A directory with two directories and two files in it."""
    d = tmpdir()
    for sub in ("adir", "bdir"):
        os.mkdir(os.path.join(d, sub))
    for f in ("trace.csv", "notes.txt"):
        write_file(os.path.join(d, f), "")
    return d


# the options whose values are examples or words to choose from: the
# command they are checked with (memtrace-bpf CMD OPT VALUE --help must
# not be refused)
VALUE_CASES = {
    "--ring-size": "record", "--kill-at": "record", "--max-peak": "record",
    "--alert": "record", "--peak-lines": "record", "--tolerance": "record",
    "--interval": "record", "--grace": "record", "--timeout": "record",
    "--detach-after": "record", "--resolution": "record", "--count": "record",
    "--kill-signal": "record", "--trace-format": "record", "--min-rise": "spikes",
    "--settle": "spikes", "--poll": "spikes", "--window": "spikes", "--every": "resample",
    "--compare": "validate", "--max-size": "report", "--client-queue": "daemon",
    "--queue-total": "daemon",
}


def values_accepted(offered):
    """offered: {(cmd, opt): [values]}; what memtrace-bpf refuses of them."""
    errs = []
    for (cmd, opt), vals in sorted(offered.items()):
        if not vals:
            errs.append("%s %s: no value offered" % (cmd, opt))
        for v in vals:
            # --help ends the parse where it stands: each option before it
            # is parsed (and a bad value refused, exit 2), no run starts
            r = tool(*COMMANDS[cmd], opt, v, "--help", timeout=30)
            if r.returncode != 0:
                errs.append("%s %s %s: memtrace-bpf exits %d: %s"
                            % (cmd, opt, v, r.returncode, tail(r.stderr, 200)))
    return errs


@suite.test("bash completion: each command's option list is its --help's; values after the right ones",
            root=False)
def t_bash_lists():
    helps = all_help()
    lists = bash_lists()
    argset = set(lists.pop("ARGS"))
    errs = []
    for cmd in COMPLETED:
        got = lists.get(cmd, [])
        want = {k: v for k, v in helps[cmd].items() if k.startswith("--")}
        if len(set(got)) != len(got):
            errs.append("%s: the script lists an option twice" % cmd)
        for o in sorted(set(want) - set(got)):
            errs.append("%s: %s is in its --help, not in the script's list" % (cmd, o))
        for o in sorted(set(got) - set(want)):
            errs.append("%s: the script lists %s, its --help does not" % (cmd, o))
        for o in sorted(set(want)):
            takes = bool(want[o][1])
            if takes != (o in argset):
                errs.append("%s %s: --help gives it %s, the script %s"
                            % (cmd, o, "an argument" if takes else "none",
                               "a value" if o in argset else "none"))
            short = want[o][0]
            if short and short != "-?" and takes != (short in argset) and cmd != "campaign report":
                errs.append("%s %s: the script takes %s a value or not as %s"
                            % (cmd, short, "with" if short in argset else "without", o))
    fail_if(errs, limit=None)


@suite.test("bash completion: commands, options, PIDs, directories, files, values, the command",
            root=False)
def t_bash_cases():
    d = completion_dir()
    errs = []

    def case(words, want=None, check=None, why=""):
        got = bash_complete(words, cwd=d)
        if want is not None and got != sorted(want):
            errs.append("%s<TAB>: %s, want %s" % (" ".join(words), got, sorted(want)))
        if check is not None and not check(got):
            errs.append("%s<TAB>: %s (%s)" % (" ".join(words), got[:12], why))
        return got

    case(["memtrace-bpf", "sp"], ["spikes"])
    case(["memtrace-bpf", ""], NAMES)
    case(["memtrace-bpf", "spikes", "--mi"], ["--min-rise"])
    case(["memtrace-bpf", "--kill-"], ["--kill-at", "--kill-signal"])
    case(["memtrace-bpf", "campaign", "--slurm-"], ["--slurm-opt", "--slurm-poll"])
    case(["memtrace-bpf", "campaign", "re"], ["report"])
    case(["memtrace-bpf", "campaign", "report", "--"], ["--format", "--help", "--html", "--output"])
    case(["memtrace-bpf", "campaign", "report", "--format", ""], ["json", "text"])
    me = str(os.getpid())
    pids = case(["memtrace-bpf", "-p", ""], check=lambda g: me in g and all(p.isdigit() for p in g),
                why="the PIDs running, this test's %s among them" % me)
    if len(pids) < 3:
        errs.append("-p<TAB>: only %d PIDs" % len(pids))
    case(["memtrace-bpf", "--pid", "1,"], check=lambda g: "1," + me in g and
         all(p.startswith("1,") for p in g), why="1,PID for the second")
    case(["memtrace-bpf", "spikes", "--pid", ""], [])  # a PID of the trace: nothing offered
    case(["memtrace-bpf", "campaign", "-d", ""], ["adir", "bdir"])
    case(["memtrace-bpf", "record", "--comm", "x", "--dir", "a"], ["adir"])
    case(["memtrace-bpf", "campaign", "report", ""], ["adir", "bdir"])
    case(["memtrace-bpf", "-o", ""], ["adir", "bdir", "notes.txt", "trace.csv"])
    case(["memtrace-bpf", "--output", "=", "t"], ["trace.csv"])
    case(["memtrace-bpf", "spikes", ""], ["adir", "bdir", "notes.txt", "trace.csv"])
    case(["memtrace-bpf", "report", "--format", ""], ["html", "svg"])
    case(["memtrace-bpf", "spikes", "--format", "=", ""], ["json", "table"])
    case(["memtrace-bpf", "--count", "="], ["anon", "rss"])
    case(["memtrace-bpf", "--count=a"], ["--count=anon"])  # "=" not a word break
    case(["memtrace-bpf", "-o", "t.csv", "--", "ech"], check=lambda g: "echo" in g,
         why="command names")
    case(["memtrace-bpf", "-o", "t.csv", "ech"], check=lambda g: "echo" in g,
         why="the first word that is not an option is the command")
    case(["memtrace-bpf", "record", "ech"], check=lambda g: "echo" in g,
         why="record's first word may be the command")
    case(["memtrace-bpf", "-q", "--", "cat", "t"], ["trace.csv"])
    case(["memtrace-bpf", "campaign", "-d", "r", "--param", "N=1", "--", "./x", "n"],
         ["notes.txt"])
    case(["memtrace-bpf", "campaign", "-d", "r", "--", "--mi"], [])  # the command's, not ours
    offered = {}
    for opt, cmd in VALUE_CASES.items():
        words = ["memtrace-bpf", *COMMANDS[cmd], opt, ""]
        offered[(cmd, opt)] = bash_complete(words, cwd=d)
    errs += values_accepted(offered)
    fail_if(errs, limit=None)


# --------------------------------------------------------------------------
# zsh

# Runs in zsh -f: an interactive zsh on a pseudo-terminal with compinit
# and the completion's directory on $fpath; types the line and TAB, with
# compadd wrapped to print each match (MATCH:...), and exits after the
# completion (comppostfuncs)
ZSH_DRIVER = r"""
zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z "fpath=(${(q)1} \$fpath); source ${(q)2}"
shift 2
zpty -w z "$*"$'\t'
local line
while zpty -r z line; do
	print -r -- "$line"
done
"""
ZSH_INIT = r"""
PS1= PROMPT= RPROMPT=
autoload -U compinit
compinit -u -D
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
finish () { exit }
compprefuncs=()
comppostfuncs=( finish )
compadd () {
	if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
		builtin compadd "$@"
		return
	fi
	typeset -a __hits
	builtin compadd -A __hits "$@"
	(( $#__hits )) && print -rl -- MATCH:${^__hits}
	builtin compadd "$@"
}
bindkey '^M' undefined
bindkey '^J' undefined
bindkey '^I' complete-word
"""


def zsh_complete(line, cwd, fpath=ZSH_DIR):
    """The matches zsh's completion offers at the end of line, a sorted
    set."""
    need("zsh", "zsh")
    driver = write_file(os.path.join(cwd, ".driver.zsh"), ZSH_DRIVER)
    init = write_file(os.path.join(cwd, ".init.zsh"), ZSH_INIT)
    r = run(["zsh", "-f", driver, fpath, init, line], cwd=cwd, timeout=30,
            env=dict(os.environ, TERM="dumb", HOME=cwd))
    if "MATCH:" not in r.stdout and r.returncode != 0:
        raise Fail("zsh driver: exit %d: %s" % (r.returncode, tail(r.stdout + r.stderr)))
    return sorted(set(re.findall(r"MATCH:([^\x00-\x1f]*)", r.stdout)))


@suite.test("zsh completion: each command's options as it offers them are its --help's",
            root=False)
def t_zsh_options():
    d = completion_dir()
    helps = all_help()
    errs = []
    for cmd in COMPLETED:
        line = "memtrace-bpf %s --" % " ".join(COMMANDS[cmd])
        if cmd == "campaign report":
            line = "memtrace-bpf campaign report adir --"
        got = {m for m in zsh_complete(line, d) if m.startswith("--")}
        want = {o for o in helps[cmd] if o.startswith("--")}
        for o in sorted(want - got):
            errs.append("%s: zsh does not offer %s (in its --help)" % (cmd, o))
        for o in sorted(got - want):
            errs.append("%s: zsh offers %s, its --help does not list it" % (cmd, o))
    fail_if(errs, limit=None)


@suite.test("zsh completion: commands, options, PIDs, directories, files, values, the command",
            root=False)
def t_zsh_cases():
    d = completion_dir()
    errs = []

    def case(line, want=None, check=None, why=""):
        got = zsh_complete(line, d)
        if want is not None and got != sorted(want):
            errs.append("%s<TAB>: %s, want %s" % (line, got, sorted(want)))
        if check is not None and not check(got):
            errs.append("%s<TAB>: %s (%s)" % (line, got[:12], why))

    case("memtrace-bpf sp", ["spikes"])
    case("memtrace-bpf ", NAMES)
    case("memtrace-bpf spikes --mi", ["--min-rise"])
    case("memtrace-bpf campaign re", ["report"])
    me = str(os.getpid())
    case("memtrace-bpf -p ", check=lambda g: me in g and all(p.isdigit() for p in g),
         why="the PIDs running, this test's %s among them" % me)
    case("memtrace-bpf campaign -d ", ["adir", "bdir"])
    case("memtrace-bpf campaign report ", ["adir", "bdir"])
    case("memtrace-bpf -o ", ["adir", "bdir", "notes.txt", "trace.csv"])
    case("memtrace-bpf spikes t", ["trace.csv"])
    case("memtrace-bpf report --format ", ["html", "svg"])
    case("memtrace-bpf --count=", ["anon", "rss"])
    case("memtrace-bpf --kill-at ", check=lambda g: g and all(re.match(r"^\d+[KMGT]$", v)
                                                             for v in g), why="sizes")
    case("memtrace-bpf -o t.csv -- ech", check=lambda g: "echo" in g, why="command names")
    case("memtrace-bpf -q -- cat t", ["trace.csv"])
    offered = {}
    for opt, cmd in VALUE_CASES.items():
        offered[(cmd, opt)] = zsh_complete("memtrace-bpf %s %s " % (" ".join(COMMANDS[cmd]), opt),
                                           d)
    errs += values_accepted(offered)
    fail_if(errs, limit=None)


# --------------------------------------------------------------------------
# make install

def make(*args):
    r = run(["make", "--no-print-directory", "-C", ROOT, *args], timeout=600)
    if r.returncode != 0:
        raise Fail("make %s: exit %d: %s" % (" ".join(args), r.returncode,
                                             tail(r.stdout + r.stderr, 600)))
    return r


def files_under(d):
    return sorted(os.path.relpath(os.path.join(p, f), d)
                  for p, _, fs in os.walk(d) for f in fs)


@suite.test("make install: the page, the completions where man, bash-completion and zsh find them; "
            "uninstall removes all", root=False, timeout=900)
def t_install():
    need("man", "man-db")
    need("zsh", "zsh")
    loader = "/usr/share/bash-completion/bash_completion"
    if not os.path.exists(loader):
        raise Skip("no %s (Debian: bash-completion)" % loader)
    dest = tmpdir()
    make("install", "DESTDIR=" + dest)
    share = os.path.join(dest, "usr", "local", "share")
    want = {"man/man8/memtrace-bpf.8": PAGE,
            "bash-completion/completions/memtrace-bpf": BASH_COMP,
            "zsh/site-functions/_memtrace-bpf": ZSH_COMP}
    errs = []
    for rel, src in want.items():
        p = os.path.join(share, rel)
        if not os.path.isfile(p):
            errs.append("make install put no %s" % p)
            continue
        if stat.S_IMODE(os.stat(p).st_mode) != 0o644:
            errs.append("%s: mode %o" % (p, stat.S_IMODE(os.stat(p).st_mode)))
        with open(p) as a, open(src) as b:
            if a.read() != b.read():
                errs.append("%s is not %s (the default prefix: nothing to rewrite)" % (p, src))
    fail_if(errs)

    # man finds it on a MANPATH, as `man memtrace-bpf` would
    r = run(["man", "-w", "memtrace-bpf"], env=dict(os.environ, MANPATH=os.path.join(share, "man")),
            timeout=30)
    if r.stdout.strip() != os.path.join(share, "man", "man8", "memtrace-bpf.8"):
        errs.append("man -w memtrace-bpf: %r (exit %d, %s)" % (r.stdout.strip(), r.returncode,
                                                              tail(r.stderr)))
    # bash-completion's loader finds it (XDG_DATA_DIRS: where it looks for
    # completions/NAME), and the traced command gets its own completion
    d = completion_dir()
    pre = ("export XDG_DATA_DIRS=%s BASH_COMPLETION_USER_DIR=/nonexistent\nsource %s\n"
           "__load_completion memtrace-bpf\ncomplete -p memtrace-bpf\n"
           % (shlex.quote(share), loader))
    out = bash(pre + "declare -F _command_offset", cwd=d)
    if "complete -F _memtrace_bpf memtrace-bpf" not in out:
        errs.append("bash-completion did not load it from %s: %s" % (share, out))
    got = bash(pre + "COMP_WORDS=(memtrace-bpf -q -- ls --al) COMP_CWORD=4\n"
               "COMP_LINE='memtrace-bpf -q -- ls --al' COMP_POINT=${#COMP_LINE}\n"
               "_memtrace_bpf memtrace-bpf --al ls\nprintf '%s\\n' \"${COMPREPLY[@]}\"", cwd=d)
    if "--all" not in got:
        errs.append("memtrace-bpf -q -- ls --al<TAB> (bash-completion's ls): %s" % got[-8:])
    # zsh finds it on $fpath
    zfp = os.path.join(share, "zsh", "site-functions")
    if zsh_complete("memtrace-bpf sp", d, fpath=zfp) != ["spikes"]:
        errs.append("zsh with %s on $fpath does not complete memtrace-bpf sp" % zfp)

    # another prefix: the page's paths rewritten, still without a warning
    dest2 = tmpdir()
    make("install", "DESTDIR=" + dest2, "prefix=/opt/mt-x")
    page2 = os.path.join(dest2, "opt", "mt-x", "share", "man", "man8", "memtrace-bpf.8")
    with open(page2) as f:
        text = f.read()
    for path in ("/opt/mt\\-x/lib/memtrace\\-bpf/memtrace_spank.so",
                 "/opt/mt\\-x/lib/systemd/system/memtrace\\-bpf.socket",
                 "/opt/mt\\-x/include/memtrace/mark.h"):
        if path not in text:
            errs.append("prefix=/opt/mt-x: the page does not name %s" % path)
    if "/usr/local" in text:
        errs.append("prefix=/opt/mt-x: the page still names /usr/local")
    r = run(["groff", "-ww", "-man", "-Tutf8", page2], timeout=60)
    if r.stderr.strip():
        errs.append("prefix=/opt/mt-x: groff -ww: %s" % tail(r.stderr))

    make("uninstall", "DESTDIR=" + dest)
    left = files_under(dest)
    if left:
        errs.append("make uninstall left %s" % left)
    make("uninstall", "DESTDIR=" + dest2, "prefix=/opt/mt-x")
    left = files_under(dest2)
    if left:
        errs.append("make uninstall prefix=/opt/mt-x left %s" % left)
    fail_if(errs, limit=None)


if __name__ == "__main__":
    sys.exit(suite.main())
