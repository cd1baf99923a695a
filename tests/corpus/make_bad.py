#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Writes tests/corpus/bad/ and tests/corpus/bad/expect.tsv: malformed
traces made from the real ones in tests/corpus/real/ (recorded by
memtrace-bpf itself), each with what `spikes`, `validate` and `stages`
must give for it; and tests/corpus/results/: result.csv files of a
campaign run, good and malformed, with results/expect.tsv (FILE <tab> ok
or what `campaign report` says when it skips it). Deterministic: run it
again and git shows no change.

    tests/corpus/make_bad.py

expect.tsv: FILE <tab> SPIKES VALIDATE STAGES (exit statuses) <tab> TEXT
that spikes' stderr must hold (empty: no check). Files over 8 KiB are
written gzipped (the runners unpack them).
"""

import gzip
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.path.join(HERE, "real")
BAD = os.path.join(HERE, "bad")


def real(name):
    with gzip.open(os.path.join(REAL, name), "rb") as f:
        return f.read().split(b"\n")


trace = real("transients.csv.gz")
poller = real("poller.csv.gz")
marks = real("shmarks.csv.gz")
HDR, ROWS = trace[0], [r for r in trace[1:] if r]
PHDR, PROWS = poller[0], [r for r in poller[1:] if r]
MROWS = [r for r in marks[1:] if r]
FIRST = ROWS[:40]          # exec, the loader's faults...


def lines(*ls):
    return b"".join(x + b"\n" for x in ls)


def with_field(row, col, value):
    """row with column col (0-based, the 20-column trace) replaced."""
    f = row.split(b",")
    f[col] = value
    return b",".join(f)


rnd = random.Random(4242)
# name -> (bytes, (spikes, validate, stages), text spikes says)
cases = {}


def case(name, data, rcs, text=""):
    cases[name] = (data, rcs, text)


ONE = (1, 1, 1)
case("empty.csv", b"", ONE, "is empty")
case("header-only.csv", lines(HDR), ONE, "has a header but no rows")
case("header-and-blank-lines.csv", lines(HDR, b"", b"\r", b""), ONE, "has a header but no rows")
case("not-a-trace.csv", lines(b"a,b,c", b"1,2,3"), ONE, "not a memory trace")
case("truncated-row.csv", lines(HDR, *FIRST) + FIRST[-1][:37], ONE,
     ":42: 5 fields where the header has 20")
case("torn-in-the-middle.csv", lines(HDR, *FIRST[:10], FIRST[10][:50], *FIRST[11:]), ONE,
     ":12: ")
case("huge-line.csv", lines(HDR, *FIRST[:5], b"x" * (100 << 10), *FIRST[5:]), ONE,
     ":7: a line longer than 64 KiB")
case("huge-label.csv", lines(HDR, *FIRST[:5],
                             with_field(FIRST[5], 17, b'"' + b"frame " * 12000 + b'"'),
                             *FIRST[6:]), ONE, ":7: a line longer than 64 KiB")
case("no-newline.bin", bytes(rnd.randrange(256) for _ in range(1024)).replace(b"\n", b" ") * 80,
     ONE, ":1: a line longer than 64 KiB")
case("random-bytes.bin", bytes(rnd.randrange(256) for _ in range(4096)), ONE, "")
case("nul-in-last-field.csv", lines(HDR, *FIRST[:3], FIRST[3] + b"\x007", *FIRST[4:]), ONE,
     ":5: a NUL byte")
case("nul-in-header.csv", lines(HDR[:20] + b"\x00" + HDR[20:], *FIRST), ONE, ":1: a NUL byte")
case("nan-time.csv", lines(PHDR, *PROWS[:3], b"nan," + PROWS[3].split(b",")[1], *PROWS[4:]),
     ONE, ":5: column time_s: 'nan' is not a time in seconds")
case("inf-time.csv", lines(PHDR, *PROWS[:3], b"inf,100", *PROWS[4:]), ONE,
     ":5: column time_s: 'inf' is not a time in seconds")
case("huge-time.csv", lines(PHDR, b"1e300,100"), ONE,
     ":2: column time_s: '1e300' is not a time in seconds")
case("negative-time.csv", lines(PHDR, b"-0.5,100"), ONE, ":2: column time_s: '-0.5'")
case("backwards-ts_ns.csv", lines(HDR, *FIRST[:20], FIRST[21], FIRST[20], *FIRST[22:]), ONE,
     ":23: column ts_ns: '%s' goes back in time, before the previous row (line 22)"
     % FIRST[20].split(b",")[3].decode())
case("backwards-time_s.csv", lines(PHDR, *PROWS[:5], PROWS[6], PROWS[5], *PROWS[7:]), ONE,
     ":8: column time_s")
case("two-traces-joined.csv", lines(HDR, *FIRST, *FIRST[:5]), ONE,
     ":42: column ts_ns: '%s' goes back in time" % FIRST[0].split(b",")[3].decode())
case("header-again.csv", lines(HDR, *FIRST[:5], HDR, *FIRST[5:]), ONE,
     ":7: column ts_ns: 'ts_ns' is not a time in ns")
case("bad-number.csv", lines(HDR, *FIRST[:2], with_field(FIRST[2], 1, b"12abc"), *FIRST[3:]), ONE,
     ":4: column vmrss_kb: '12abc' is not a size in kB")
case("negative-rss.csv", lines(HDR, with_field(FIRST[0], 1, b"-5"), *FIRST[1:]), ONE,
     ":2: column vmrss_kb: '-5'")
case("pid-overflow.csv", lines(HDR, with_field(FIRST[0], 4, b"99999999999"), *FIRST[1:]), ONE,
     ":2: column pid: '99999999999' is not a PID")
case("ts-overflow.csv", lines(HDR, with_field(FIRST[0], 3, b"99999999999999999999"), *FIRST[1:]),
     ONE, ":2: column ts_ns: '99999999999999999999' is not a time in ns")
case("unterminated-quote.csv", lines(HDR, with_field(FIRST[0], 17, b'"abc'), *FIRST[1:]), ONE,
     ":2: 0 fields where the header has 20")
case("too-many-fields.csv", lines(HDR, FIRST[0] + b"," * 70, *FIRST[1:]), ONE,
     ":2: 0 fields where the header has 20")
# accepted: what real files may look like
case("crlf.csv", b"".join(x + b"\r\n" for x in (HDR, *FIRST)), (0, 1, 1), "")
case("no-final-newline.csv", lines(HDR, *FIRST[:-1]) + FIRST[-1], (0, 1, 1), "")
case("bom.csv", b"\xef\xbb\xbf" + lines(PHDR, *PROWS), (0, 1, 1), "")
case("equal-times.csv", lines(HDR, FIRST[0], FIRST[0], FIRST[0]), (0, 1, 1), "")
case("one-row.csv", lines(HDR, FIRST[0]), (0, 1, 1), "")
# labels are text: invalid UTF-8 is kept and shown as U+FFFD, not refused
case("bad-utf8-labels.csv",
     lines(marks[0], *MROWS[:3],
           with_field(MROWS[3], 17, b"caf\xe9 \xff\xfe \xe2\x82"),
           with_field(MROWS[3], 17, b'"\xc3(\xa0\xa1,\xf0\x28\x8c\x28"'), *MROWS[4:]),
     (0, 1, 0), "")
case("bad-utf8-header.csv", lines(PHDR + b",caf\xe9", *(r + b",\xff" for r in PROWS)), (0, 1, 1), "")


# JSON Lines (--format jsonl): the rows above as objects, typed as
# user/format/jsonl.c types them (text columns strings, decimal numbers
# numbers, the rest strings, empty columns absent)
TEXT_COLS = (b"event", b"cause", b"label", b"reported")


def jrow(header, row):
    import csv as _csv
    import json as _json
    import re as _re
    names = header.split(b",")
    vals = next(_csv.reader([row.decode("utf-8", "replace")]))
    parts = []
    for k, v in zip(names, vals):
        if v == "":
            continue
        if k not in TEXT_COLS and _re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?", v):
            parts.append('"%s":%s' % (k.decode(), v))
        else:
            parts.append('"%s":%s' % (k.decode(), _json.dumps(v)))
    return ("{" + ",".join(parts) + "}").encode()


JFIRST = [jrow(HDR, r) for r in FIRST]
JMARKS = [jrow(marks[0], r) for r in MROWS]
LBL = next(i for i, r in enumerate(JMARKS) if b'"label":"' in r)   # the first mark row
case("jsonl-good.jsonl", lines(*JFIRST), (0, 1, 1), "")
case("jsonl-marks.jsonl", lines(*JMARKS), (0, 1, 0), "")
# as jq -c or another program spells the same rows: keys in another
# order, escapes for plain characters, null for an empty column, a key
# that is no column
case("jsonl-other-spelling.jsonl",
     lines(*(b'{"other":[1,{"x":2}],' + r[1:].replace(b'"event":"rss"', b'"event":"\\u0072ss"')
             .replace(b'"pid"', b'"label":null,"pid"') for r in JFIRST)), (0, 1, 1), "")
case("jsonl-crlf-no-final-newline.jsonl", b"\r\n".join(JFIRST), (0, 1, 1), "")
case("jsonl-open-object.jsonl", lines(*JFIRST[:5], JFIRST[5][:60], *JFIRST[6:]), ONE,
     ":6: an object not closed")
case("jsonl-cut-last-line.jsonl", lines(*JFIRST) + JFIRST[0][:30], ONE,
     ":41: an object not closed")
case("jsonl-nested.jsonl", lines(*JFIRST[:3], JFIRST[3].replace(b'"vmrss_kb":', b'"vmrss_kb":[1],"x":', 1),
                                 *JFIRST[4:]), ONE, ":4: an object or array where")
case("jsonl-array-line.jsonl", lines(*JFIRST[:3], b"[1,2,3]", *JFIRST[3:]), ONE,
     ":4: a JSON value that is not an object")
case("jsonl-trailing.jsonl", lines(*JFIRST[:3], JFIRST[3] + b" {}", *JFIRST[4:]), ONE,
     ":4: not a JSON object at byte")
case("jsonl-nul.jsonl", lines(*JMARKS[:LBL], JMARKS[LBL].replace(b'"label":"', b'"label":"a\\u0000', 1),
                              *JMARKS[LBL + 1:]), ONE, ":%d: a NUL character" % (LBL + 1))
case("jsonl-bad-utf8.jsonl", lines(*JMARKS[:LBL], JMARKS[LBL].replace(b'"label":"', b'"label":"\xff', 1),
                                   *JMARKS[LBL + 1:]), ONE, ":%d: not a JSON object" % (LBL + 1))
case("jsonl-lone-surrogate.jsonl",
     lines(*JMARKS[:LBL], JMARKS[LBL].replace(b'"label":"', b'"label":"\\ud800', 1),
           *JMARKS[LBL + 1:]), (0, 1, 0), "")
case("jsonl-backwards.jsonl", lines(*JFIRST[:20], JFIRST[21], JFIRST[20], *JFIRST[22:]), ONE,
     ":22: column ts_ns: '%s' goes back in time" % FIRST[20].split(b",")[3].decode())
case("jsonl-no-rss.jsonl", lines(*JFIRST[:2], b'{"ts_ns":%s}' % FIRST[2].split(b",")[3],
                                 *JFIRST[3:]), ONE, ":3: column vmrss_kb: '' is not a size in kB")
case("jsonl-string-number.jsonl", lines(JFIRST[0].replace(b'"pid":', b'"pid":"x', 1)
                                        .replace(b',"tid"', b'","tid"', 1), *JFIRST[1:]), ONE,
     ":1: column pid: 'x")
case("jsonl-huge-line.jsonl", lines(*JFIRST[:5], b'{"label":"' + b"x" * (100 << 10) + b'"}',
                                    *JFIRST[5:]), ONE, ":6: a line longer than 64 KiB")
case("jsonl-after-csv-header.jsonl", lines(HDR, *JFIRST), ONE, ":2: 0 fields where the header has 20")


RESULT_HEADER = (b"index,config,repeat,exit_code,status,peak_rss_kb,peak_time_s,duration_s,"
                 b"spikes,lost_events,events,rusage_maxrss_kb,start_time,untraced_processes")
# what campaigns write since: three figures appended (empty: not known)
RESULT_HEADER_V2 = RESULT_HEADER + b",baseline_rss_kb,peak_vmsize_kb,peak_vmdata_kb"


def result_row(index=0, config=b"A=1", peak=b"10240", peak_time=b"0.100000000",
               duration=b"0.200000000", untraced=b"0", exit_code=b"0"):
    return b",".join((str(index).encode(), config, b"1", exit_code, b"ok", peak, peak_time,
                      duration, b"1", b"0", b"1234", b"40000", b"2026-11-21T07:00:00Z",
                      untraced))


# name -> (bytes, "ok" or what the report's warning says)
results = {
    "ok-A1": (lines(RESULT_HEADER, result_row(0)), "ok"),
    "ok-A2": (lines(RESULT_HEADER, result_row(1, b"A=2", b"20480")), "ok"),
    "ok-A2-crlf": (b"".join(x + b"\r\n" for x in (RESULT_HEADER, result_row(2, b"A=2", b"20600"))),
                   "ok"),
    "ok-failed-run": (lines(RESULT_HEADER, result_row(3, exit_code=b"137")), "ok"),
    "empty": (b"", "not a memtrace-bpf result file"),
    "header-only": (lines(RESULT_HEADER), "not a memtrace-bpf result file"),
    "wrong-header": (lines(RESULT_HEADER.replace(b"config", b"configuration"), result_row(4)),
                     "not a memtrace-bpf result file"),
    "long-row": (lines(RESULT_HEADER, result_row(5, untraced=b"0" * 3000 + b"7")),
                 ":2: a line longer than 1024 bytes"),
    "nul": (lines(RESULT_HEADER, result_row(6, untraced=b"0\x007")), ":2: a NUL byte"),
    "nan-time": (lines(RESULT_HEADER, result_row(7, peak_time=b"nan")), ":2: malformed result row"),
    "inf-duration": (lines(RESULT_HEADER, result_row(8, duration=b"inf")), ":2: malformed result row"),
    "negative-peak": (lines(RESULT_HEADER, result_row(9, peak=b"-1")), ":2: malformed result row"),
    "index-overflow": (lines(RESULT_HEADER, result_row(99999999999)), ":2: malformed result row"),
    "truncated-row": (lines(RESULT_HEADER) + result_row(10)[:30], ":2: malformed result row"),
    "two-rows": (lines(RESULT_HEADER, result_row(11), result_row(12)), ":3: more than one row"),
    "v2-ok-A1": (lines(RESULT_HEADER_V2, result_row(13) + b",9000,20480,16384"), "ok"),
    "v2-ok-unknown": (lines(RESULT_HEADER_V2, result_row(14) + b",,,"), "ok"),
    "v2-negative-baseline": (lines(RESULT_HEADER_V2, result_row(15) + b",-1,20480,16384"),
                             ":2: malformed result row"),
    "v2-header-v1-row": (lines(RESULT_HEADER_V2, result_row(16)), ":2: malformed result row"),
    "v1-header-v2-row": (lines(RESULT_HEADER, result_row(17) + b",9000,20480,16384"),
                         ":2: malformed result row"),
    "random-bytes": (bytes(rnd.randrange(256) for _ in range(600)).replace(b"\0", b"."),
                     "not a memtrace-bpf result file"),
}


def main():
    os.makedirs(BAD, exist_ok=True)
    for f in os.listdir(BAD):
        os.unlink(os.path.join(BAD, f))
    expect = []
    for name, (data, rcs, text) in sorted(cases.items()):
        if len(data) > 8192:
            name += ".gz"
            data = gzip.compress(data, 9, mtime=0)
        with open(os.path.join(BAD, name), "wb") as f:
            f.write(data)
        expect.append("%s\t%d %d %d\t%s\n" % (name, *rcs, text))
    with open(os.path.join(BAD, "expect.tsv"), "w") as f:
        f.write("# made by tests/corpus/make_bad.py: FILE, exit statuses of spikes "
                "validate stages, what spikes says\n")
        f.writelines(expect)
    res = os.path.join(HERE, "results")
    os.makedirs(res, exist_ok=True)
    for f in os.listdir(res):
        os.unlink(os.path.join(res, f))
    with open(os.path.join(res, "expect.tsv"), "w") as f:
        f.write("# made by tests/corpus/make_bad.py: the result.csv of run CONFIG, and ok or "
                "what campaign report says when it skips it\n")
        for name, (data, what) in sorted(results.items()):
            with open(os.path.join(res, name + ".csv"), "wb") as g:
                g.write(data)
            f.write("%s.csv\t%s\n" % (name, what))


if __name__ == "__main__":
    main()
