#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""memtrace-bpf report, --report, campaign report --html: the pages people
look at, opened in a real headless browser (Debian's chromium).

Real workloads are recorded as root: tests/workloads/transients (which
prints its own transients' times and sizes), tools/demo, a tree
(tests/workloads/forker), a campaign. Each page must load with no console
message at all (chromium --enable-logging=stderr: any CONSOLE line fails),
have its chart drawn (the DOM after the script ran, --dump-dom), and give
a screenshot (under the test's directory, and copied to
.output/artefacts/report/ for CI; paths printed). The data the page embeds
is decoded here and each min/max bucket over each transient compared with
the trace's own rows; the browser's view of each transient must show its
exact peak. The SVG must parse as XML and carry the exact peak.

Output and environment: see tests/harness.py; the closing line is
`report: N passed, N failed, N skipped`.
"""

import bisect
import csv
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

from harness import (BIN, OUTPUT, Fail, Skip, Suite, cached, fail_if, peak_rss, read_rows,
                     record, run, suite_tmpdir, tmpdir, tool, tool_path, workload)

suite = Suite("report", builds=("transients", "forker"))

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTEFACTS = os.path.join(OUTPUT, "artefacts", "report")


# --------------------------------------------------------------------------
# the browser

def need_chromium():
    if not os.access(CHROMIUM, os.X_OK):
        raise Skip("no chromium (tools/install-deps.sh installs it)")


def chromium(url, *args, timeout=120):
    """Headless chromium on url: (stdout, console lines). Its own profile
    directory, so that runs beside another chromium do not share one."""
    need_chromium()
    prof = tmpdir()
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--no-first-run", "--user-data-dir=" + prof, "--enable-logging=stderr", "--v=0",
            "--window-size=1300,1400", *args, url]
    r = run(argv, timeout=timeout)
    console = [ln for ln in r.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    return r, console


def open_page(path, view=None):
    """The page's DOM after its script ran, and any console line."""
    url = "file://" + os.path.abspath(path) + ("#t=%.9f,%.9f" % view if view else "")
    r, console = chromium(url, "--virtual-time-budget=10000", "--dump-dom")
    if r.returncode != 0 or "<html" not in r.stdout:
        raise Fail("chromium --dump-dom %s: exit %d: %s" % (path, r.returncode, r.stderr[-300:]))
    return r.stdout, console


def screenshot(path, name, size="1300,1400"):
    """A PNG of the page: in the test's directory, and a copy kept as an
    artefact; its path printed."""
    png = os.path.join(os.path.dirname(path), name + ".png")
    r, console = chromium("file://" + os.path.abspath(path), "--window-size=" + size,
                          "--virtual-time-budget=10000", "--screenshot=" + png)
    if not os.path.exists(png) or os.path.getsize(png) < 1000:
        raise Fail("no screenshot of %s: %s" % (path, r.stderr[-300:]))
    os.makedirs(ARTEFACTS, exist_ok=True)
    kept = os.path.join(ARTEFACTS, name + ".png")
    shutil.copy(png, kept)
    print("# screenshot %s (kept as %s)" % (png, kept))
    return console


def attr(dom, elem_id, name):
    m = re.search(r'<[a-z]+ id="%s"[^>]*\b%s="([^"]*)"' % (elem_id, name), dom)
    return m.group(1) if m else None


def body_attr(dom, name):
    m = re.search(r'<body[^>]*\b%s="([^"]*)"' % name, dom)
    return m.group(1) if m else None


def check_page(path, name, errs, shot=True):
    """Loads without a console line, draws its chart; a screenshot."""
    dom, console = open_page(path)
    if console:
        errs.append("%s: console: %s" % (name, console[:3]))
    if '<canvas id="main-canvas"' not in dom:
        errs.append("%s: no chart canvas in the DOM after the script ran" % name)
    if body_attr(dom, "data-error"):
        errs.append("%s: the script failed: %s" % (name, body_attr(dom, "data-error")))
    if body_attr(dom, "data-script-ms") is None:
        errs.append("%s: the script did not finish drawing" % name)
    if shot:
        console = screenshot(path, name)
        if console:
            errs.append("%s: console while taking the screenshot: %s" % (name, console[:3]))
    return dom


# --------------------------------------------------------------------------
# the embedded data

def page_data(path):
    with open(path, encoding="utf-8") as f:
        html = f.read()
    m = re.search(r'<script type="application/json" id="memtrace-data">(.*?)</script>', html, re.S)
    if not m:
        raise Fail("%s embeds no data" % path)
    return json.loads(m.group(1)), html


def level_buckets(L):
    """(start, end, lo, hi, n) of each bucket a level lists, ns after t0."""
    idx = list(itertools.accumulate(L["i"], initial=-1))[1:]
    return [(L["o"] + i * L["w"], L["o"] + (i + 1) * L["w"], L["lo"][k], L["hi"][k],
             L["n"][k] if "n" in L else None) for k, i in enumerate(idx)]


class Timeline:
    """The tree's total (or one process's RSS) from the trace's rows: the
    step function the page decimates, in ns after t0."""

    def __init__(self, rows, t0, col="total_rss_kb"):
        self.ts = [int(r["ts_ns"]) - t0 for r in rows]
        self.v = [int(r[col]) for r in rows]

    def range(self, a, b):
        """Lowest and highest value held in [a, b) (the one carried in at
        a, and each row in it) and the rows in it."""
        i, j = bisect.bisect_left(self.ts, a), bisect.bisect_left(self.ts, b)
        vs = self.v[i:j] + ([self.v[i - 1]] if i > 0 else [])
        return (min(vs), max(vs), j - i) if vs else (None, None, 0)


def check_buckets(D, tl, windows, errs, what):
    """Every bucket of every level of the total that overlaps a window
    against the rows; the max over the window is the rows' max."""
    checked = 0
    for (a, b, label) in windows:
        want_hi = tl.range(a, b)[1]
        for li, L in enumerate(D["series"]["total"]):
            got_hi = None
            for (s, e, lo, hi, n) in level_buckets(L):
                if e <= a or s >= b:
                    continue
                checked += 1
                x = tl.range(s, e)
                if (lo, hi) != x[:2] or (n is not None and n != x[2]):
                    errs.append("%s: %s, level %d (w %d ns): bucket [%d, %d) has min/max/rows "
                                "%s/%s/%s, the trace %s/%s/%s" % (what, label, li, L["w"], s, e,
                                                                   lo, hi, n, *x))
                got_hi = hi if got_hi is None else max(got_hi, hi)
            if got_hi is None or got_hi < want_hi:
                errs.append("%s: %s, level %d: highest bucket %s under the window, the trace's "
                            "max %s" % (what, label, li, got_hi, want_hi))
    return checked


# --------------------------------------------------------------------------
# runs shared by several tests

def parse_truth(out):
    return [{"kb": int(f[1]), "start": int(f[2]), "end": int(f[4])}
            for f in (ln.split() for ln in out.splitlines()) if f and f[0] == "T"]


def transients_run():
    """tests/workloads/transients recorded with --report; its truth."""
    def make():
        d = os.path.join(suite_tmpdir(), "transients")
        os.makedirs(d)
        csv_path, r = record(d, [workload("transients")], "--report")
        return csv_path, parse_truth(r.stdout)
    return cached("transients", make)


def demo_run():
    def make():
        d = os.path.join(suite_tmpdir(), "demo")
        os.makedirs(d)
        csv_path, r = record(d, [tool_path("demo")], csv_name="demo.csv")
        return csv_path
    return cached("demo", make)


# --------------------------------------------------------------------------

@suite.test("--report writes the page beside the trace; it opens with no console message")
def t_live_report():
    csv_path, trs = transients_run()
    page = csv_path[:-4] + ".html"
    if not os.path.exists(page):
        raise Fail("--report wrote no %s" % page)
    errs = []
    dom = check_page(page, "transients", errs)
    peak = max(int(r["total_rss_kb"]) for r in read_rows(csv_path))
    if attr(dom, "peak-value", "data-kb") != str(peak):
        errs.append("the summary's peak is %s, the trace's %d" % (attr(dom, "peak-value", "data-kb"), peak))
    # the first view draws the exact peak
    if attr(dom, "chart", "data-view-max-kb") != str(peak):
        errs.append("the whole run's view draws up to %s, the peak is %d"
                    % (attr(dom, "chart", "data-view-max-kb"), peak))
    # the subcommand on the same trace embeds the same data
    out = os.path.join(os.path.dirname(csv_path), "again.html")
    r = tool("report", csv_path, "-o", out)
    if r.returncode != 0:
        errs.append("report exited %d: %s" % (r.returncode, r.stderr[-200:]))
    elif page_data(out)[0] != page_data(page)[0]:
        errs.append("--report and memtrace-bpf report embed different data for one trace")
    fail_if(errs)


@suite.test("every transient: the embedded buckets' min/max are the trace's, at every level")
def t_transients_exact():
    csv_path, trs = transients_run()
    if len(trs) != 9:
        raise Fail("the workload printed %d transients, not 9" % len(trs))
    D, _ = page_data(csv_path[:-4] + ".html")
    rows = read_rows(csv_path)
    t0 = int(D["t0"])
    tl = Timeline(rows, t0)
    errs = []
    windows = [(t["start"] - t0, t["end"] - t0, "%d kB transient" % t["kb"]) for t in trs]
    n = check_buckets(D, tl, windows, errs, "transients")
    # each transient rises by its size over the level before it
    for (a, b, label), t in zip(windows, trs):
        base = tl.range(a - 1, a)[1]
        if tl.range(a, b)[1] - base != t["kb"]:
            errs.append("%s: the trace rises %s kB over its window" % (label, tl.range(a, b)[1] - base))
    # and the page's spikes are those of memtrace-bpf spikes
    js = json.loads(tool("spikes", csv_path, "--format", "json").stdout)
    want = sorted((s["pid"], s["start_ts_ns"] - t0, s["rise_kb"]) for s in js["spikes"])
    got = sorted((s[0], s[2], s[6] - s[5]) for s in D["spikes"])
    if want != got:
        errs.append("the page's spikes %s, memtrace-bpf spikes' %s" % (got[:4], want[:4]))
    print("# %d buckets over the 9 transients checked against the rows" % n)
    fail_if(errs)


@suite.test("zoomed into each transient, the browser draws its exact min and max; past the finest bucket, rows")
def t_transients_zoomed():
    csv_path, trs = transients_run()
    page = csv_path[:-4] + ".html"
    D, _ = page_data(page)
    t0 = int(D["t0"])
    tl = Timeline(read_rows(csv_path), t0)
    errs = []
    for t in trs[:9]:
        a, b = t["start"] - t0, t["end"] - t0
        dom, console = open_page(page, (a / 1e9, b / 1e9))
        if console:
            errs.append("console: %s" % console[:2])
        px = float(attr(dom, "chart", "data-px-ns") or "nan")
        got = (int(attr(dom, "chart", "data-view-min-kb")), int(attr(dom, "chart", "data-view-max-kb")))
        # a column holds what lies under it: at the edges, a pixel's width
        # (or a bucket's) outside the window at most
        inner, outer = tl.range(a, b), tl.range(a - 2 * px - 1, b + 2 * px + 1)
        if not (outer[0] <= got[0] <= inner[0] and inner[1] <= got[1] <= outer[1]):
            errs.append("%d kB transient: drawn %s..%s, the trace %s..%s (within a pixel: %s..%s)"
                        % (t["kb"], got[0], got[1], inner[0], inner[1], outer[0], outer[1]))
    # the first microseconds of the 64 MiB one: single rows, each drawn,
    # and what they hold exactly (the rows of each finest bucket kept whole)
    big = max(trs, key=lambda t: t["kb"])
    first = bisect.bisect_left(tl.ts, big["start"] - t0)
    base = tl.v[first - 1]
    while first < len(tl.v) and tl.v[first] <= base:
        first += 1	# its first page
    a = tl.ts[first] - 2000
    b = a + 30000
    R = D["raw"]
    whole = set(itertools.accumulate(R["b"], initial=-1))
    rts = list(itertools.accumulate(R["ts"]))
    want_rows = sum(1 for x in rts if a <= x < b and (x - R["o"]) // R["w"] in whole)
    all_whole = all(k in whole for k in range((a - R["o"]) // R["w"], (b - R["o"]) // R["w"] + 1)
                    if tl.range(R["o"] + k * R["w"], R["o"] + (k + 1) * R["w"])[2])
    dom, console = open_page(page, (a / 1e9, b / 1e9))
    rows_drawn = int(attr(dom, "chart", "data-rows") or 0)
    got = (int(attr(dom, "chart", "data-view-min-kb")), int(attr(dom, "chart", "data-view-max-kb")))
    if "single rows" not in dom or not want_rows or abs(rows_drawn - want_rows) > 1:
        errs.append("zoomed to 30 us of the 64 MiB transient: %d rows drawn, %d kept whole there "
                    "(%d in the trace)" % (rows_drawn, want_rows, tl.range(a, b)[2]))
    if all_whole and got != tl.range(a, b)[:2]:
        errs.append("zoomed to single rows: drawn %s..%s, the rows %s..%s" % (*got, *tl.range(a, b)[:2]))
    fail_if(errs)


@suite.test("the demo's page: its scratch buffers shaded, a screenshot, no console message")
def t_demo_page():
    csv_path = demo_run()
    r = tool("report", csv_path)
    if r.returncode != 0:
        raise Fail("report exited %d: %s" % (r.returncode, r.stderr[-300:]))
    page = csv_path[:-4] + ".html"
    errs = []
    check_page(page, "demo", errs)
    D, html = page_data(page)
    big = [s for s in D["spikes"] if s[6] - s[5] == 40 * 1024]
    if len(big) < 3:
        errs.append("%d spikes of 40 MiB on the page, the demo makes 3" % len(big))
    if D["raw"] is None or len(D["raw"]["ts"]) != len(read_rows(csv_path)):
        errs.append("the demo's %d rows are not all in the page" % len(read_rows(csv_path)))
    fail_if(errs)


@suite.test("a tree: a lane per process, with its name and its own exact peak")
def t_tree_lanes():
    d = tmpdir()
    csv_path, r = record(d, [workload("forker"), "3"], "--report")
    page = csv_path[:-4] + ".html"
    errs = []
    dom = check_page(page, "tree", errs)
    D, _ = page_data(page)
    rows = read_rows(csv_path)
    pids = []
    for x in rows:
        if int(x["pid"]) not in pids:
            pids.append(int(x["pid"]))
    lanes = {L["pid"]: L for L in D["lanes"]}
    for p in pids:
        if p not in lanes:
            errs.append("no lane for pid %d" % p)
            continue
        peak = max(int(x["vmrss_kb"]) for x in rows if int(x["pid"]) == p)
        top = max(h for L in lanes[p]["levels"] for h in L["hi"] if h is not None)
        if lanes[p]["peak_kb"] != peak or top != peak or lanes[p]["name"] != "forker":
            errs.append("pid %d: lane peak %s, drawn %s, name %r; the rows' peak %d"
                        % (p, lanes[p]["peak_kb"], top, lanes[p]["name"], peak))
    if dom.count('class="lane"') != len(pids):
        errs.append("%d lane canvases for %d processes" % (dom.count('class="lane"'), len(pids)))
    # --pid: one process, its own RSS
    one = os.path.join(d, "one.html")
    r = tool("report", csv_path, "--pid", str(pids[1]), "-o", one)
    if r.returncode != 0:
        errs.append("--pid: exit %d" % r.returncode)
    else:
        D1, _ = page_data(one)
        want = max(int(x["vmrss_kb"]) for x in rows if int(x["pid"]) == pids[1])
        if D1["peak"]["kb"] != want or D1["lanes"]:
            errs.append("--pid %d: peak %s (want %d), %d lanes" % (pids[1], D1["peak"]["kb"], want,
                                                                  len(D1["lanes"])))
    fail_if(errs)


@suite.test("--format svg: well-formed XML with the exact peak marked")
def t_svg():
    csv_path, trs = transients_run()
    out = os.path.join(tmpdir(), "t.svg")
    r = tool("report", csv_path, "--format", "svg", "-o", out)
    if r.returncode != 0:
        raise Fail("exit %d: %s" % (r.returncode, r.stderr[-300:]))
    root = ET.parse(out).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    peak = max(int(x["total_rss_kb"]) for x in read_rows(csv_path))
    marks = [e for e in root.iter(ns + "g") if e.get("id") == "peak"]
    errs = []
    if root.tag != ns + "svg" or not marks:
        errs.append("root %s, %d peak marks" % (root.tag, len(marks)))
    elif marks[0].get("data-kb") != str(peak) or "peak" not in "".join(marks[0].itertext()):
        errs.append("the peak mark says %s kB (%r), the trace's peak is %d"
                    % (marks[0].get("data-kb"), "".join(marks[0].itertext()), peak))
    if len([e for e in root.iter(ns + "rect") if e.get("class") == "spike"]) < 9:
        errs.append("fewer than 9 spikes shaded")
    fail_if(errs)


@suite.test("campaign --report and campaign report --html: every run listed, flagged, linked")
def t_campaign():
    d = tmpdir()
    runs = os.path.join(d, "runs.txt")
    with open(runs, "w") as f:
        f.write("%s short 2 2000 8\n" % workload("transients"))
        f.write("%s short 1 1000 16\n" % workload("transients"))
        f.write("sh -c 'exit 3'\n")
    res = os.path.join(d, "res")
    r = run([BIN, "campaign", "-q", "-d", res, "--report", "--repeat", "2", "--file", runs])
    if r.returncode != 3:
        raise Fail("campaign exited %d (want 3: a line fails): %s" % (r.returncode, r.stderr[-300:]))
    errs = []
    table = read_rows(os.path.join(res, "campaign.csv"))
    for row in table:
        page = os.path.join(res, row["config"], row["repeat"], "trace.html")
        if not os.path.exists(page):
            errs.append("no %s" % page)
    r = tool("campaign", "report", res, "--html")
    if r.returncode != 0:
        errs.append("campaign report --html exited %d: %s" % (r.returncode, r.stderr[-300:]))
    page = os.path.join(res, "campaign.html")
    with open(page, encoding="utf-8") as f:
        html = f.read()
    listed = re.findall(r'<tr class="run" data-status="([^"]+)">', html)
    if len(listed) != len(table) or len(table) != 6:
        errs.append("the page lists %d runs, campaign.csv %d (want 6)" % (len(listed), len(table)))
    if sorted(listed) != sorted(x["status"] for x in table):
        errs.append("statuses %s, campaign.csv's %s" % (sorted(listed), sorted(x["status"] for x in table)))
    flagged = len(re.findall(r'class="status flag"', html))
    if flagged != sum(x["status"] != "ok" for x in table) or flagged != 2:
        errs.append("%d runs flagged, %d did not end ok" % (flagged, sum(x["status"] != "ok" for x in table)))
    for href in re.findall(r'<a class="report" href="([^"]+)"', html):
        path = os.path.join(res, *[re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), p)
                                   for p in href.split("/")])
        if not os.path.exists(path):
            errs.append("link %s leads nowhere" % href)
    if len(re.findall(r'<a class="report"', html)) < 4:
        errs.append("fewer than 4 runs linked to their page")
    if html.count('class="plot timelines"') != 3 or 'id="peaks-plot"' not in html:
        errs.append("not a timeline per configuration and a plot of peaks")
    ET.fromstring(re.search(r'<svg class="plot" id="peaks-plot".*?</svg>', html, re.S).group(0))
    dom, console = open_page(page)
    if console:
        errs.append("campaign page console: %s" % console[:3])
    screenshot(page, "campaign", "1200,1600")
    check_page(os.path.join(res, "line1", "1", "trace.html"), "campaign-run", errs, shot=False)
    fail_if(errs)


@suite.test("a 2,000,000-row trace: the page within --max-size, every bucket exact, memory bounded",
            root=False, timeout=600)
def t_big_trace():
    d = tmpdir()
    trace = os.path.join(d, "big.csv")
    with open(trace, "wb") as f:
        subprocess.run([tool_path("gentrace"), "2000000"], stdout=f, stderr=subprocess.DEVNULL,
                       check=True, timeout=300)
    page = os.path.join(d, "big.html")
    kb, rc, err = peak_rss([BIN, "report", trace, "-o", page, "--max-size", "2M"], timeout=300)
    print("# report of 2,000,000 rows: peak RSS %d kB, page %d bytes" % (kb, os.path.getsize(page)))
    errs = []
    if rc != 0:
        raise Fail("exit %d: %s" % (rc, err[-300:]))
    if os.path.getsize(page) > 2 * 1024 * 1024:
        errs.append("page of %d bytes, over --max-size 2M" % os.path.getsize(page))
    if kb > 96 * 1024:
        errs.append("peak RSS %d kB, over 96 MiB" % kb)
    D, _ = page_data(page)
    # the coarsest level, whole, against the rows (a streaming pass here)
    L = D["series"]["total"][0]
    buckets = level_buckets(L)
    t0 = int(D["t0"])
    starts = [b[0] for b in buckets]
    held = None
    agg = [[None, None, 0] for _ in buckets]
    with open(trace) as f:
        rd = csv.DictReader(f)
        for row in rd:
            t, v = int(row["ts_ns"]) - t0, int(row["total_rss_kb"])
            k = bisect.bisect_right(starts, t) - 1
            if k < 0 or t >= buckets[k][1]:
                held = v
                continue
            a = agg[k]
            if a[2] == 0 and held is not None:
                a[0] = a[1] = held
            a[0] = v if a[0] is None else min(a[0], v)
            a[1] = v if a[1] is None else max(a[1], v)
            a[2] += 1
            held = v
    bad = [(i, buckets[i][2:4], agg[i][:2]) for i in range(len(buckets))
           if (buckets[i][2], buckets[i][3]) != (agg[i][0], agg[i][1]) and agg[i][2]]
    if bad:
        errs.append("%d of %d buckets differ from the rows, e.g. %s" % (len(bad), len(buckets), bad[:3]))
    check_page(page, "big", errs, shot=False)
    fail_if(errs)


@suite.test("bad input and refusals", root=False)
def t_bad_input():
    d = tmpdir()
    hdr = os.path.join(d, "h.csv")
    with open(hdr, "w") as f:
        f.write("time_s,vmrss_kb\n")
    ok = os.path.join(d, "ok.csv")
    with open(ok, "w") as f:
        f.write("time_s,vmrss_kb\n0.1,100\n0.2,300\n0.3,100\n")
    cases = [
        (["report", os.path.join(d, "none.csv")], 1, "cannot open"),
        (["report", hdr], 1, "no rows"),
        (["report", ok, "-o", ok], 1, "the trace itself"),
        (["report", ok, "--format", "pdf"], 2, "--format"),
        (["report", ok, "--max-size", "1K"], 2, "--max-size"),
        (["report"], 2, "which trace"),
        (["report", ok, "--pid", "7"], 1, "no rows of pid 7"),
        (["-o", "-", "--report", "--", "true"], 2, "--report"),
        (["record", "--comm", "x", "-d", d, "--report"], 2, "--report"),
        (["campaign", "report", d, "-o", "x.html"], 2, "--html"),
    ]
    errs = []
    for args, rc, needle in cases:
        r = tool(*args)
        if r.returncode != rc or needle not in r.stderr:
            errs.append("%s: exit %d (want %d), %r" % (" ".join(args), r.returncode, rc, r.stderr[-160:]))
    # a poller's own file is read too
    r = tool("report", ok)
    if r.returncode != 0 or page_data(os.path.join(d, "ok.html"))[0]["peak"]["kb"] != 300:
        errs.append("a poller's time_s,vmrss_kb file: exit %d %s" % (r.returncode, r.stderr[-200:]))
    fail_if(errs)


if __name__ == "__main__":
    sys.exit(suite.main())
