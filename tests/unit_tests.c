// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the user-side pieces, fed with synthetic records (no
 * kernel involved). Prints TAP-style lines and one closing line:
 * "unit: N passed, N failed".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "analysis/baseline.h"
#include "analysis/resample.h"
#include "analysis/spikes.h"
#include "analysis/stages.h"
#include "analysis/stats.h"
#include "analysis/validate.h"
#include "cmd/campaign_plan.h"
#include "format/csv.h"
#include "format/jsonl.h"
#include "format/json.h"
#include "format/pb.h"
#include "format/perfetto.h"
#include "format/result.h"
#include "format/text.h"
#include "lib/idmap.h"
#include "lib/linebuf.h"
#include "lib/zstream.h"
#include "trace/thin.h"
#include "lib/recstore.h"
#include "lib/units.h"
#include "lib/waitstatus.h"
#include "report/decimate.h"
#include "trace/logcap.h"
#include "lib/clock.h"
#include "trace/run.h"
#include "trace/runner.h"
#include "trace/tracer.h"
#include "trace/wire.h"

static int passed, failed, current_failed;
static const char *current;

#define CHECK(cond) do {							\
	if (!(cond)) {								\
		printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);\
		current_failed = 1;						\
	}									\
} while (0)

#define CHECK_STR(a, b) do {							\
	const char *a_ = (a), *b_ = (b);					\
	if (strcmp(a_, b_)) {							\
		printf("#   %s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, a_, b_);\
		current_failed = 1;						\
	}									\
} while (0)

static void begin(const char *name)
{
	current = name;
	current_failed = 0;
}

static void end(void)
{
	if (current_failed) {
		failed++;
		printf("not ok %d - %s\n", passed + failed, current);
	} else {
		passed++;
		printf("ok %d - %s\n", passed + failed, current);
	}
}

static uint64_t size_of(const char *s)
{
	uint64_t v = 0xdead;

	return parse_size(s, &v) ? (uint64_t)-1 : v;
}

static uint64_t dur_of(const char *s)
{
	uint64_t v = 0xdead;

	return parse_duration(s, &v) ? (uint64_t)-1 : v;
}

static void test_sizes(void)
{
	begin("parse_size accepts units");
	CHECK(size_of("4096") == 4096);
	CHECK(size_of("0") == 0);
	CHECK(size_of("64K") == 65536);
	CHECK(size_of("64k") == 65536);
	CHECK(size_of("16M") == 16ULL << 20);
	CHECK(size_of("16MiB") == 16ULL << 20);
	CHECK(size_of("512MB") == 512ULL << 20);
	CHECK(size_of("1.5G") == 3ULL << 29);
	CHECK(size_of("2T") == 2ULL << 40);
	CHECK(size_of("12B") == 12);
	end();

	begin("parse_pct_or_size: 10% or 100M, strictly");
	{
		double pct = -1;
		uint64_t b = 1;

		CHECK(parse_pct_or_size("10%", 100, &pct, &b) == 0 && pct == 10 && b == 0);
		CHECK(parse_pct_or_size("2.5%", 100, &pct, &b) == 0 && pct == 2.5);
		CHECK(parse_pct_or_size("100M", 100, &pct, &b) == 0 && pct == 0 && b == 100ULL << 20);
		CHECK(parse_pct_or_size("101%", 100, &pct, &b) == -ERANGE);
		CHECK(parse_pct_or_size("-5%", 100, &pct, &b) == -EINVAL);
		CHECK(parse_pct_or_size("5x%", 100, &pct, &b) == -EINVAL);
		CHECK(parse_pct_or_size("%", 100, &pct, &b) == -EINVAL);
		CHECK(parse_pct_or_size("12abc", 100, &pct, &b) == -EINVAL);
		CHECK(parse_pct_or_size("1e2%", 1000, &pct, &b) == -EINVAL);
		CHECK(parse_pct_or_size("1..2%", 1000, &pct, &b) == -EINVAL);
	}
	end();

	begin("parse_size rejects junk");
	const char *bad[] = { "", "12abc", "-1", "+5M", " 1M", "1 M", "M", "inf", "nan",
			      "1e3", "0x10", "1..2M", "16Q", "16MM", "1M ", NULL };
	for (int i = 0; bad[i]; i++) {
		if (size_of(bad[i]) != (uint64_t)-1) {
			printf("#   accepted \"%s\"\n", bad[i]);
			current_failed = 1;
		}
	}
	CHECK(size_of("99999999999999999999999T") == (uint64_t)-1);
	end();
}

static void test_durations(void)
{
	begin("parse_duration accepts units");
	CHECK(dur_of("500ns") == 500);
	CHECK(dur_of("250us") == 250000);
	CHECK(dur_of("10ms") == 10000000);
	CHECK(dur_of("1.5s") == 1500000000);
	CHECK(dur_of("2m") == 120000000000ULL);
	CHECK(dur_of("1h") == 3600000000000ULL);
	CHECK(dur_of("3") == 3000000000ULL);
	end();

	begin("parse_duration rejects junk");
	const char *bad[] = { "", "5parsecs", "-1s", "10 ms", "ms", "1ms ", "1e3ms", "s10", NULL };
	for (int i = 0; bad[i]; i++) {
		if (dur_of(bad[i]) != (uint64_t)-1) {
			printf("#   accepted \"%s\"\n", bad[i]);
			current_failed = 1;
		}
	}
	end();

	begin("parse_uint bounds");
	unsigned long v;
	CHECK(parse_uint("4242", 100000, &v) == 0 && v == 4242);
	CHECK(parse_uint("4242x", 100000, &v) == -EINVAL);
	CHECK(parse_uint("-1", 100000, &v) == -EINVAL);
	CHECK(parse_uint("", 100000, &v) == -EINVAL);
	CHECK(parse_uint("100001", 100000, &v) == -ERANGE);
	end();

	begin("format_size and format_duration");
	char b[32];
	CHECK_STR(format_size(512, b, sizeof(b)), "512 B");
	CHECK_STR(format_size(64 << 20, b, sizeof(b)), "64.0 MiB");
	CHECK_STR(format_size(1536ULL << 20, b, sizeof(b)), "1.50 GiB");
	CHECK_STR(format_duration(1500000000ULL, b, sizeof(b)), "1.500 s");
	CHECK_STR(format_duration(2500000ULL, b, sizeof(b)), "2.500 ms");
	CHECK_STR(format_duration(850000ULL, b, sizeof(b)), "850.0 us");
	end();
}

static struct mt_rec rec(__u32 type, __u64 ts)
{
	struct mt_rec r = { .type = type, .pid = 100, .tid = 101, .ts_ns = ts };

	r.pages[MT_ANON] = 10;
	r.pages[MT_FILE] = 20;
	r.pages[MT_SHMEM] = 3;
	r.pages[MT_SWAP] = 1;
	r.total_vm = 1000;
	r.data_vm = 700;
	r.tree_pages = 50;
	return r;
}

static int count_fields(const char *row)
{
	int n = 1, quoted = 0;

	for (const char *p = row; *p && *p != '\n'; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == ',' && !quoted)
			n++;
	}
	return n;
}

static const char *fmt(const struct mt_rec *r, uint64_t start)
{
	static char row[512];

	if (csv_format_row(row, sizeof(row), r, start, 4) < 0)
		return "(error)";
	return row;
}

static void test_csv_rows(void)
{
	struct mt_rec r;

	begin("csv header has the contract's first columns");
	CHECK(!strncmp(CSV_HEADER, "time_s,vmrss_kb,vmsize_kb,ts_ns,pid,", 36));
	CHECK(count_fields(CSV_HEADER) == CSV_COLUMNS);
	end();

	begin("csv rss row from a page fault");
	r = rec(MT_REC_RSS, 2500000000ULL);
	r.cause = MT_CAUSE_FAULT;
	r.addr = 0x7f0000001000ULL;
	r.ip = 0x401000;
	CHECK_STR(fmt(&r, 1000000000ULL),
		  "1.500000000,132,4000,2500000000,100,101,rss,40,80,12,4,200,fault,0x7f0000001000,0x401000,,,,,,2800,\n");
	end();

	begin("csv rss row inside a syscall, and from another task");
	r = rec(MT_REC_RSS, 1000);
	r.cause = MT_CAUSE_SYSCALL;
	r.nr = MT_NR_MUNMAP;
	r.addr = 0x1000;
	CHECK(strstr(fmt(&r, 0), ",syscall:munmap,0x1000,,,,,,,2800,\n") != NULL);
	r.nr = 9999;
	CHECK(strstr(fmt(&r, 0), ",syscall:9999,") != NULL);
	r.cause = MT_CAUSE_OTHER;
	CHECK(strstr(fmt(&r, 0), ",rss,40,80,12,4,200,other,,,,,,,,2800,\n") != NULL);
	r.cause = MT_CAUSE_SELF;
	CHECK(strstr(fmt(&r, 0), ",self,,,,,,,,2800,\n") != NULL);
	end();

	begin("csv guard and alert rows: the crossing change, the limit, the signal, the count");
	r = rec(MT_REC_GUARD, 2000);
	r.cause = MT_CAUSE_FAULT;
	r.addr = 0x7f0000002000ULL;
	r.ip = 0x401000;
	r.len = 25600;		/* pages: 100 MiB */
	r.ret = 9;
	r.counted_pages = 25601;
	r.counted_flags = 0;
	CHECK(strstr(fmt(&r, 0), ",guard,40,80,12,4,200,fault,0x7f0000002000,0x401000,102400,9,"
			 "kill-at,rss,102404,2800,\n") != NULL);
	CHECK(count_fields(fmt(&r, 0)) == CSV_COLUMNS);
	r.type = MT_REC_ALERT;
	r.ret = 0;
	r.cause = MT_CAUSE_OTHER;
	r.counted_flags = MT_GUARD_ANON;
	CHECK(strstr(fmt(&r, 0), ",alert,40,80,12,4,200,other,,,102400,0,alert,anon+shmem,102404,2800,\n")
	      != NULL);
	end();

	begin("csv syscall rows: names, len, ret as address or errno");
	r = rec(MT_REC_SYSCALL, 1000);
	r.nr = MT_NR_MMAP;
	r.addr = 0;
	r.len = 8 << 20;
	r.ret = 0x7f1234560000LL;
	CHECK(strstr(fmt(&r, 0), ",mmap,40,80,12,4,200,,0x0,,8388608,0x7f1234560000,,,,2800,\n") != NULL);
	r.ret = -12;
	CHECK(strstr(fmt(&r, 0), ",mmap,40,80,12,4,200,,0x0,,8388608,-12,,,,2800,\n") != NULL);
	r.nr = MT_NR_MUNMAP;
	r.ret = 0;
	CHECK(strstr(fmt(&r, 0), ",munmap,") && strstr(fmt(&r, 0), ",8388608,0,,,,2800,\n"));
	r.nr = MT_NR_BRK;
	r.ret = 0x560000000000LL;
	CHECK(strstr(fmt(&r, 0), ",brk,40,80,12,4,200,,0x0,,,0x560000000000,,,,2800,\n") != NULL);
	r.nr = MT_NR_MREMAP;
	CHECK(strstr(fmt(&r, 0), ",mremap,") != NULL);
	r.nr = MT_NR_MADVISE;
	r.ret = 0;
	CHECK(strstr(fmt(&r, 0), ",madvise,") != NULL);
	end();

	begin("csv lifecycle rows: comm quoted, exit status decoded");
	r = rec(MT_REC_FORK, 1000);
	r.ppid = 99;
	strcpy(r.comm, "my,\"odd\"");
	CHECK(strstr(fmt(&r, 0), ",fork,") && strstr(fmt(&r, 0), ",\"my,\"\"odd\"\"\",,,,99,,,,2800,\n"));
	CHECK(count_fields(fmt(&r, 0)) == CSV_COLUMNS);
	r = rec(MT_REC_EXIT, 1000);
	strcpy(r.comm, "solver");
	r.ret = 3 << 8;
	CHECK(strstr(fmt(&r, 0), ",exit,40,80,12,4,200,solver,,,,3,,,,2800,\n") != NULL);
	r.ret = 9;	/* SIGKILL */
	CHECK(strstr(fmt(&r, 0), ",solver,,,,137,,,,2800,\n") != NULL);
	r.type = MT_REC_ATTACH;
	CHECK(strstr(fmt(&r, 0), ",attach,") != NULL);
	r.type = MT_REC_EXEC;
	CHECK(strstr(fmt(&r, 0), ",exec,") != NULL);
	end();

	begin("csv leave rows: the new name, the parent, why (words), read back as leave");
	{
		char why[48];
		uint32_t type = 0, nr = 1;

		r = rec(MT_REC_LEAVE, 1000);
		strcpy(r.comm, "suid_holder");
		r.ppid = 77;
		r.ret = MT_LEAVE_SECURE | MT_LEAVE_UID;
		CHECK(strstr(fmt(&r, 0), ",leave,40,80,12,4,200,suid_holder,,,,77,secure+uid,,,2800,\n") != NULL);
		CHECK(count_fields(fmt(&r, 0)) == CSV_COLUMNS);
		r.ret = MT_LEAVE_GID | MT_LEAVE_DUMPABLE;
		CHECK(strstr(fmt(&r, 0), ",77,gid+dumpable,,,2800,\n") != NULL);
		CHECK(!strcmp(leave_why_format(15, why, sizeof(why)), "secure+uid+gid+dumpable"));
		CHECK(!strcmp(leave_why_format(0, why, sizeof(why)), ""));
		CHECK(!strcmp(leave_why_format(15, why, 8), "secure"));	/* cut at a word */
		CHECK(event_parse("leave", &type, &nr) && type == MT_REC_LEAVE && nr == 0);
		CHECK(!strcmp(event_name(MT_REC_LEAVE, 0), "leave"));
	}
	end();

	begin("csv checkpoint, mark and mark_fd_lost rows");
	r = rec(MT_REC_CHECKPOINT, 1000);
	r.cause = MT_CKPT_STATUS;
	r.addr = 3;
	r.ret = 1416;
	CHECK(strstr(fmt(&r, 0), ",checkpoint,40,80,12,4,200,status,3,,,1416,,,,2800,\n") != NULL);
	r.cause = MT_CKPT_GETRUSAGE;
	r.addr = 0;
	r.ret = 0;
	CHECK(strstr(fmt(&r, 0), ",getrusage,0,,,0,,,,2800,\n") != NULL);
	r = rec(MT_REC_MARK, 1000);
	r.cause = MT_MARK_FD;
	r.addr = 3;
	r.len = 13;
	memcpy(r.label, "frame,\"7\"\nmore", 15);
	CHECK(strstr(fmt(&r, 0), ",mark,40,80,12,4,200,fd,3,,13,,\"frame,\"\"7\"\"\",,,2800,\n") != NULL);
	/* a full label is not NUL-terminated: cut at MT_LABEL_LEN */
	memset(r.label, 'x', MT_LABEL_LEN);
	CHECK(count_fields(fmt(&r, 0)) == CSV_COLUMNS);
	CHECK(strstr(fmt(&r, 0), ",xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx,,,2800,\n") != NULL);
	r.cause = MT_MARK_USDT;
	strcpy(r.label, "pose_detection");
	CHECK(strstr(fmt(&r, 0), ",usdt,,,,,pose_detection,,,2800,\n") != NULL);
	r = rec(MT_REC_MARK_FD_LOST, 1000);
	r.nr = MT_NR_DUP2;
	r.addr = 3;
	r.ret = 3;
	CHECK(strstr(fmt(&r, 0), ",mark_fd_lost,40,80,12,4,200,dup2,3,,,3,,,,2800,\n") != NULL);
	end();

	begin("csv log rows: the line and the value, quoted, kB or empty");
	{
		char big[4096];

		r = rec(MT_REC_LOG, 1000);
		CHECK(csv_format_log_row(big, sizeof(big), &r, 0, 4, "stderr", "Peak RSS: 1,5 GB",
					 "1,5 GB", -1) > 0);
		CHECK(strstr(big, ",log,40,80,12,4,200,stderr,,,,,\"Peak RSS: 1,5 GB\",\"1,5 GB\",,2800,\n") != NULL);
		CHECK(csv_format_log_row(big, sizeof(big), &r, 0, 4, "stdout", "RSS: 5 MB", "5 MB",
					 5120) > 0);
		CHECK(strstr(big, ",stdout,,,,,RSS: 5 MB,5 MB,5120,2800,\n") != NULL);
		CHECK(count_fields(big) == CSV_COLUMNS);
		CHECK(csv_format_log_row(big, 100, &r, 0, 4, "stdout", "x", "1 B", 0) < 0);
		CHECK(csv_format_row(big, sizeof(big), &r, 0, 4) < 0);	/* not a kernel record */
	}
	end();

	begin("csv: every row has the header's column count; unknown type refused");
	for (__u32 t = MT_REC_RSS; t < MT_REC_TYPE_MAX; t++) {
		r = rec(t, 5);
		r.nr = MT_NR_MMAP;
		if (t == MT_REC_OUTPUT)	/* times log lines; never a row */
			CHECK(!strcmp(fmt(&r, 0), "(error)"));
		else
			CHECK(count_fields(fmt(&r, 0)) == CSV_COLUMNS);
	}
	r = rec(77, 5);
	char row[512];
	CHECK(csv_format_row(row, sizeof(row), &r, 0, 4) < 0);
	CHECK(csv_format_row(row, 10, &r, 0, 4) < 0);
	end();

	begin("csv: a record before the start gets a negative time_s");
	r = rec(MT_REC_RSS, 500000000ULL);
	CHECK(!strncmp(fmt(&r, 1500000000ULL), "-1.000000000,", 13));
	end();

	begin("exit_status_code");
	CHECK(exit_status_code(0) == 0);
	CHECK(exit_status_code(1 << 8) == 1);
	CHECK(exit_status_code(255 << 8) == 255);
	CHECK(exit_status_code(2) == 130);
	CHECK(exit_status_code(9 | 0x80) == 137);	/* core dumped */
	end();
}

static void test_sort(void)
{
	struct mt_rec r[6];
	__u64 ts[6] = { 10, 30, 20, 20, 5, 40 };

	begin("rec_sort: by time, stable for equal times");
	for (int i = 0; i < 6; i++) {
		r[i] = rec(MT_REC_RSS, ts[i]);
		r[i].tid = (__u32)i;
	}
	rec_sort(r, 6);
	CHECK(r[0].ts_ns == 5 && r[1].ts_ns == 10 && r[2].ts_ns == 20 && r[3].ts_ns == 20 &&
	      r[4].ts_ns == 30 && r[5].ts_ns == 40);
	CHECK(r[2].tid == 2 && r[3].tid == 3);
	rec_sort(r, 0);
	rec_sort(r, 1);
	end();
}

static void test_ready(void)
{
	struct mt_rec r[5];
	__u64 ts[5] = { 1000000, 2000000, 3000000, 3500000, 4000000 };

	begin("rec_ready: records younger than the cutoff wait for the next drain");
	for (int i = 0; i < 5; i++)
		r[i] = rec(MT_REC_RSS, ts[i]);
	CHECK(rec_ready(r, 5, 2000000) == 2);
	CHECK(rec_ready(r, 5, 3500000) == 4);
	CHECK(rec_ready(r, 5, UINT64_MAX) == 5);
	CHECK(rec_ready(r, 5, 999999) == 0);
	CHECK(rec_ready(r, 0, 2000000) == 0);
	end();
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[1 << 16];
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void test_json(void)
{
	char path[] = "/tmp/memtrace-unit-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct jw w;

	begin("json writer: nesting, escaping, null");
	jw_begin(&w, f);
	jw_obj(&w, NULL);
	jw_str(&w, "s", "a\"b\\c\n\x01");
	jw_arr(&w, "list");
	jw_i64(&w, NULL, -3);
	jw_obj(&w, NULL);
	jw_u64(&w, "k", 7);
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_arr(&w, "empty");
	jw_arr_end(&w);
	jw_null(&w, "n");
	jw_bool(&w, "b", true);
	jw_f64(&w, "f", 1.5, 3);
	jw_str(&w, "nul", NULL);
	jw_obj_end(&w);
	fclose(f);
	CHECK_STR(slurp(path),
		  "{\n  \"s\": \"a\\\"b\\\\c\\n\\u0001\",\n  \"list\": [\n    -3,\n    {\n"
		  "      \"k\": 7\n    }\n  ],\n  \"empty\": [],\n  \"n\": null,\n"
		  "  \"b\": true,\n  \"f\": 1.500,\n  \"nul\": null\n}\n");
	unlink(path);
	end();
}

static void test_utf8(void)
{
	char path[] = "/tmp/memtrace-unit-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	begin("UTF-8: sequences, and JSON strings always valid");
	CHECK(utf8_seq("a", 1) == 1);
	CHECK(utf8_seq("\xc3\xa9", 2) == 2);
	CHECK(utf8_seq("\xc3\xa9", 1) == -1);		/* cut */
	CHECK(utf8_seq("\xe2\x82\xac", 3) == 3);
	CHECK(utf8_seq("\xf0\x9f\x98\x80", 4) == 4);
	CHECK(utf8_seq("\xe9t", 2) == 0);		/* Latin-1 */
	CHECK(utf8_seq("\xc0\x80", 2) == 0);		/* overlong */
	CHECK(utf8_seq("\xed\xa0\x80", 3) == 0);	/* surrogate */
	CHECK(utf8_seq("\xf4\x90\x80\x80", 4) == 0);	/* above U+10FFFF */
	CHECK(utf8_seq("\x80", 1) == 0);
	json_escape(f, "\xc3\xa9t\xe9\xe2\x82");
	fclose(f);
	CHECK_STR(slurp(path), "\"\xc3\xa9t\\ufffd\\ufffd\\ufffd\"");
	unlink(path);
	end();
}

static void test_session(void)
{
	char path[] = "/tmp/memtrace-unit-XXXXXX", err[256];
	struct run_spec spec = { .mode = "launch" };
	struct run s;
	struct mt_rec r;
	struct proc_info *p;
	char *txt;
	int fd = mkstemp(path), lines = 0;

	close(fd);
	spec.csv_path = path;
	begin("session: rows written whole, process table kept");
	CHECK(run__init(&s, NULL, &spec, 0, 1000, err, sizeof(err)) == 0 &&
	      run__open_trace(&s, err, sizeof(err)) == 0);
	r = rec(MT_REC_EXEC, 2000);
	strcpy(r.comm, "solver");
	r.ppid = 1;
	run__record(&s, &r);
	r = rec(MT_REC_FORK, 3000);
	r.pid = 200;
	r.ppid = 100;
	strcpy(r.comm, "solver");
	run__record(&s, &r);
	r = rec(MT_REC_RSS, 4000);
	r.pages[MT_ANON] = 1000;
	run__record(&s, &r);
	CHECK(s.procs.n == 2 && s.procs.live == 2);
	p = procs__get(&s.procs, 100, false);
	CHECK(p && p->rss_pages == 1023 && !strcmp(p->comm, "solver") && p->ppid == 1);
	r = rec(MT_REC_EXIT, 5000);
	r.pid = 200;
	r.ret = 2 << 8;
	r.peak_pages = 77;
	r.peak_ts_ns = 3500;
	r.faults = 12;
	run__record(&s, &r);
	p = procs__get(&s.procs, 200, false);
	CHECK(p && p->exited && p->exit_code == 2 && p->peak_pages == 77 && p->faults == 12);
	CHECK(p && !p->left);	/* an exit is not a leave */
	CHECK(s.procs.live == 1);
	procs__exited(&s.procs, p, 5, 6000, false);	/* inferred after known: no change */
	CHECK(s.procs.live == 1 && p->exit_code == 2);
	/* a process that left its owned group ends without an exit status,
	 * with what it had and the name of what it exec'd */
	r = rec(MT_REC_FORK, 5100);
	r.pid = 201;
	r.ppid = 100;
	strcpy(r.comm, "solver");
	run__record(&s, &r);
	r = rec(MT_REC_LEAVE, 5200);
	r.pid = 201;
	r.ppid = 100;
	r.ret = MT_LEAVE_SECURE | MT_LEAVE_UID;
	r.peak_pages = 55;
	r.faults = 9;
	strcpy(r.comm, "sudo");
	run__record(&s, &r);
	p = procs__get(&s.procs, 201, false);
	CHECK(p && p->exited && p->left && !p->known_exit && p->peak_pages == 55 &&
	      p->faults == 9 && !strcmp(p->comm, "sudo") && p->end_ts_ns == 5200);
	CHECK(s.procs.live == 1);
	CHECK(procs__get(&s.procs, 300, false) == NULL);
	/* many processes: the index grows and still finds each */
	for (int i = 0; i < 1000; i++)
		CHECK(procs__get(&s.procs, 1000 + i, true) != NULL);
	for (int i = 0; i < 1000; i++) {
		p = procs__get(&s.procs, 1000 + i, false);
		if (!p || p->pid != 1000 + i) {
			CHECK(!"lost a process");
			break;
		}
	}
	s.trace_open = false;
	CHECK(csv_out__close(&s.trace) == 0);
	txt = slurp(path);
	CHECK(txt != NULL);
	for (char *q = txt; q && *q; q++)
		lines += *q == '\n';
	CHECK(lines == 7);	/* the header, 4 rows, and a fork and a leave */
	CHECK(txt && txt[strlen(txt) - 1] == '\n');
	CHECK(txt && !strncmp(txt, CSV_HEADER "\n", strlen(CSV_HEADER) + 1));
	run__free(&s);
	unlink(path);
	end();

	begin("linebuf: a write error is kept and reported");
	struct linebuf lb;
	int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
	CHECK(full >= 0 && linebuf__init(&lb, full, true) == 0);
	CHECK(linebuf__append(&lb, "x\n", 2) == 0);
	CHECK(linebuf__flush(&lb) == -ENOSPC);
	CHECK(linebuf__close(&lb) == -ENOSPC);
	{
		struct out_file o;
		char msg[256];

		CHECK(out_file__create(&o, AT_FDCWD, "/nonexistent-dir/x.csv", "trace", msg,
				       sizeof(msg)) == -ENOENT);
	}
	end();
}


#define MS 1000000ULL
#define US 1000ULL

static struct spikes *run_timeline(const int64_t (*tl)[2], size_t n, int npoll,
				   uint64_t p0, uint64_t p1)
{
	struct spikes_cfg cfg = { .min_rise_kb = 1024, .settle_pct = 10, .npoll = npoll,
				  .poll_ns = { p0, p1 } };
	struct spikes *s = spikes__new(&cfg);

	for (size_t i = 0; i < n; i++)
		spikes__push(s, 7, (uint64_t)tl[i][0], tl[i][1], SEV_OTHER, 0);
	spikes__finish(s, 0);
	return s;
}

static void test_spikes_synthetic(void)
{
	struct spikes *s;
	const struct spike *a, *b;

	begin("spikes: one transient, exact rise and times");
	{
		/* 10 MiB base, +4 MiB at 100 ms for 2 ms, long quiet life */
		static const int64_t tl[][2] = {
			{ 0, 10240 }, { 100 * MS, 12288 }, { 101 * MS, 14336 },
			{ 102 * MS, 10240 }, { 1000 * MS, 10240 + 1 }, { 2000 * MS, 10241 },
		};
		s = run_timeline(tl, 6, 0, 0, 0);
		CHECK(spikes__count(s) == 1);
		a = spikes__get(s, 0);
		CHECK(a->base_kb == 10240 && a->peak_kb == 14336 && a->end_kb == 10240);
		CHECK(a->start_ts == 100 * MS && a->peak_ts == 101 * MS && a->end_ts == 102 * MS);
		CHECK(a->depth == 0);
		spikes__free(s);
	}
	end();

	begin("spikes: nested spikes both reported, each with its own base");
	{
		/* outer +50 MiB for 50 ms; inner +8 MiB for 2 ms on top */
		static const int64_t tl[][2] = {
			{ 0, 1024 }, { 100 * MS, 1024 + 51200 }, { 120 * MS, 1024 + 51200 + 8192 },
			{ 122 * MS, 1024 + 51200 }, { 150 * MS, 1024 }, { 1000 * MS, 1025 },
		};
		s = run_timeline(tl, 6, 0, 0, 0);
		CHECK(spikes__count(s) == 2);
		a = spikes__get(s, 0);	/* biggest first */
		b = spikes__get(s, 1);
		CHECK(a->peak_kb - a->base_kb == 51200 + 8192 && a->base_kb == 1024 && a->depth == 0);
		CHECK(b->peak_kb - b->base_kb == 8192 && b->base_kb == 1024 + 51200 && b->depth == 1);
		CHECK(b->start_ts == 120 * MS && b->end_ts == 122 * MS);
		CHECK(a->start_ts == 100 * MS && a->end_ts == 150 * MS);
		spikes__free(s);
	}
	end();

	begin("spikes: at the very start and the very end of a trace");
	{
		static const int64_t tl[][2] = {
			{ 0, 0 }, { 1 * MS, 4096 }, { 2 * MS, 0 },
			{ 500 * MS, 100 }, { 998 * MS, 100 + 2048 }, { 999 * MS, 100 },
		};
		s = run_timeline(tl, 6, 0, 0, 0);
		CHECK(spikes__count(s) == 2);
		CHECK(spikes__get(s, 0)->start_ts == 1 * MS);
		CHECK(spikes__get(s, 1)->end_ts == 999 * MS);
		spikes__free(s);
	}
	end();

	begin("spikes: a staircase is growth, not a spike; small wiggles are not spikes");
	{
		int64_t tl[40][2];
		size_t n = 0;

		for (int i = 0; i < 20; i++) {
			tl[n][0] = i * 100 * (int64_t)MS;
			tl[n++][1] = 1024 + i * 8192;
			tl[n][0] = i * 100 * (int64_t)MS + 50 * (int64_t)MS;
			tl[n++][1] = 1024 + i * 8192 - 512;	/* small dip */
		}
		s = run_timeline((const int64_t (*)[2])tl, n, 0, 0, 0);
		CHECK(spikes__count(s) == 0);
		CHECK(spikes__pid(s, 0)->growth.enough && spikes__pid(s, 0)->growth.leak);
		CHECK(spikes__pid(s, 0)->growth.slope_kb_s > 70000);	/* 80 MiB/s */
		spikes__free(s);
	}
	end();

	begin("spikes: flat and one-row traces");
	{
		static const int64_t flat[][2] = { { 0, 5000 }, { 1000 * MS, 5000 }, { 2000 * MS, 5000 } };
		static const int64_t one[][2] = { { 42, 5000 } };

		s = run_timeline(flat, 3, 1, 10 * MS, 0);
		CHECK(spikes__count(s) == 0 && spikes__npids(s) == 1);
		CHECK(spikes__pid(s, 0)->peak_kb == 5000);
		CHECK(spikes__pid(s, 0)->poll[0].best_kb == 5000 && spikes__pid(s, 0)->poll[0].worst_kb == 5000);
		CHECK(!spikes__pid(s, 0)->growth.leak);
		spikes__free(s);
		s = run_timeline(one, 1, 1, 10 * MS, 0);
		CHECK(spikes__count(s) == 0 && spikes__pid(s, 0)->peak_kb == 5000);
		spikes__free(s);
	}
	end();

	begin("poll replay: a 2 ms spike is seen by 20% of 10 ms pollers");
	{
		/* base 1 MiB; +10 MiB held exactly 2 ms; then 1 s quiet */
		static const int64_t tl[][2] = {
			{ 0, 1024 }, { 500 * MS, 1024 + 10240 }, { 502 * MS, 1024 }, { 1500 * MS, 1024 },
		};
		const struct poll_result *r;

		s = run_timeline(tl, 4, 2, 10 * MS, 1 * MS);
		r = &spikes__pid(s, 0)->poll[0];
		CHECK(r->best_kb == 11264 && r->worst_kb == 1024);
		/* expected = 1024 + 10240 * 0.2 */
		CHECK(r->expected_kb > 1024 + 10240 * 0.199 && r->expected_kb < 1024 + 10240 * 0.201);
		r = &spikes__pid(s, 0)->poll[1];	/* 1 ms poller: always sees it */
		CHECK(r->best_kb == 11264 && r->worst_kb == 11264);
		CHECK(spikes__count(s) == 1);
		a = spikes__get(s, 0);
		CHECK(spike_catch_prob(a, 10 * MS) > 0.199 && spike_catch_prob(a, 10 * MS) < 0.201);
		CHECK(spike_catch_prob(a, 1 * MS) == 1.0);
		spikes__free(s);
	}
	end();

	begin("spikes: classic window rule reports the rise within the window");
	{
		struct spikes_cfg cfg = { .min_rise_kb = 20480, .window_ns = 1000 * MS };
		static const int64_t tl[][2] = {
			{ 0, 1000 }, { 100 * MS, 11000 }, { 600 * MS, 26000 }, { 3000 * MS, 26000 },
			{ 3100 * MS, 26001 },
		};

		s = spikes__new(&cfg);
		for (int i = 0; i < 5; i++)
			spikes__push(s, 1, (uint64_t)tl[i][0], tl[i][1], SEV_OTHER, 0);
		spikes__finish(s, 0);
		CHECK(spikes__count(s) == 1);
		a = spikes__get(s, 0);
		CHECK(a->base_kb == 1000 && a->peak_kb == 26000 && a->start_ts == 0 && a->peak_ts == 600 * MS);
		spikes__free(s);
	}
	end();

	begin("spikes: a spike freed by munmap, then a later free-all, are two falls");
	{
		/* base 100 MiB; +40 MiB spike freed by a munmap (rows inside the
		 * call, then the call's row); 60 ms later everything is freed by
		 * another munmap: the spike must still be reported */
		struct spikes_cfg cfg = { .min_rise_kb = 1024, .settle_pct = 10 };
		static const struct { int64_t ms, kb; enum spike_ev ev; } tl[] = {
			{ 0, 1024, SEV_OTHER }, { 100, 102400, SEV_FAULT }, { 500, 102400 + 40960, SEV_FAULT },
			{ 505, 102400 + 20480, SEV_IN_CALL }, { 506, 102400, SEV_IN_CALL },
			{ 506, 102400, SEV_MUNMAP }, { 566, 51200, SEV_IN_CALL }, { 567, 1024, SEV_IN_CALL },
			{ 567, 1024, SEV_MUNMAP }, { 568, 1024, SEV_EXIT },
		};

		s = spikes__new(&cfg);
		for (size_t i = 0; i < sizeof(tl) / sizeof(tl[0]); i++)
			spikes__push(s, 9, (uint64_t)tl[i].ms * MS, tl[i].kb, tl[i].ev, 0);
		spikes__finish(s, 0);
		CHECK(spikes__count(s) == 1);
		a = spikes__count(s) ? spikes__get(s, 0) : NULL;
		CHECK(a && a->base_kb == 102400 && a->peak_kb - a->base_kb == 40960);
		CHECK(a && a->start_ts == 500 * MS && a->end_ts == 506 * MS);
		spikes__free(s);
	}
	end();

	begin("spikes: a level the kernel passed through inside one munmap is no shelf");
	{
		/* the at-exit shape as a stalled VM traced it: 2 MiB held 30 ms,
		 * an 8 MiB buffer filled (MAP_POPULATE, rows inside the mmap),
		 * held 3 ms, then a munmap whose zap stops 2.4 ms after its
		 * first 2 MiB (the host took the vCPU), 1 ms held, exit. Inside
		 * the call the 9216 kB level is the kernel's progress: one
		 * spike of 8 MiB. Told nothing of the call, the same rows make
		 * that level a shelf held as long as a quarter of the spike, and
		 * the spike the 2 MiB above it (what this run found before) */
		struct spikes_cfg cfg = { .min_rise_kb = 1024, .settle_pct = 10 };
		const uint64_t unmap = (uint64_t)77 << 32 | (MT_NR_MUNMAP + 1);
		const uint64_t map = (uint64_t)77 << 32 | (MT_NR_MMAP + 1);

		for (int told = 0; told < 2; told++) {
			uint64_t t = 0;
			int64_t v = 1024;

			s = spikes__new(&cfg);
			spikes__push(s, 9, t, v, SEV_EXEC, 0);
			spikes__push(s, 9, t += 100 * US, v = 3072, SEV_IN_CALL, told ? map : 0);
			spikes__push(s, 9, t += 10 * US, v, SEV_MMAP, 0);
			t += 30 * MS;
			/* 512 rows of 16 kB over 6 ms */
			for (int i = 0; i < 512; i++)
				spikes__push(s, 9, t += 12 * US, v += 16, SEV_IN_CALL, told ? map : 0);
			spikes__push(s, 9, t += 10 * US, v, SEV_MMAP, 0);
			t += 3 * MS;
			spikes__push(s, 9, t, v -= 2048, SEV_IN_CALL, told ? unmap : 0);
			spikes__push(s, 9, t += 2400 * US, v -= 2048, SEV_IN_CALL, told ? unmap : 0);
			spikes__push(s, 9, t += 100 * US, v -= 2048, SEV_IN_CALL, told ? unmap : 0);
			spikes__push(s, 9, t += 100 * US, v -= 2048, SEV_IN_CALL, told ? unmap : 0);
			spikes__push(s, 9, t += 10 * US, v, SEV_MUNMAP, 0);
			spikes__push(s, 9, t += 1 * MS, v = 1024, SEV_IN_CALL, told ? unmap : 0);
			spikes__push(s, 9, t += 10 * US, v, SEV_MUNMAP, 0);
			spikes__push(s, 9, t += 100 * US, v, SEV_EXIT, 0);
			spikes__finish(s, 0);
			a = spikes__count(s) == 1 ? spikes__get(s, 0) : NULL;
			if (told)
				CHECK(a && a->base_kb == 3072 && a->peak_kb == 3072 + 8192);
			else
				CHECK(a && a->peak_kb - a->base_kb < 2100);
			spikes__free(s);
		}
	}
	end();

	begin("spikes: a timeline without any spike (no qsort of nothing)");
	{
		struct spikes_cfg cfg = { .min_rise_kb = 1024, .settle_pct = 10 };

		s = spikes__new(&cfg);
		spikes__push(s, 1, 1000, 100, SEV_OTHER, 0);
		CHECK(spikes__finish(s, 0) == 0 && spikes__count(s) == 0);
		spikes__free(s);
	}
	end();

	begin("spikes: bounded stack under a sawtooth of a million rows");
	{
		struct spikes_cfg cfg = { .min_rise_kb = 1024, .settle_pct = 10 };

		s = spikes__new(&cfg);
		for (int64_t i = 0; i < 1000000; i++)	/* up 8 kB, down 4 kB, forever */
			spikes__push(s, 1, (uint64_t)i * 1000, 1000 + (i / 2) * 4 + (i % 2) * 4, SEV_OTHER, 0);
		spikes__finish(s, 0);
		CHECK(spikes__npids(s) == 1 && spikes__pid(s, 0)->rows == 1000000);
		spikes__free(s);
	}
	end();
}

static const char *write_tmp(const char *text)
{
	static char path[64];
	FILE *f;

	strcpy(path, "/tmp/memtrace-unit-XXXXXX");
	f = fdopen(mkstemp(path), "w");
	fputs(text, f);
	fclose(f);
	return path;
}

/* JSON Lines: the objects made from CSV rows, and read back as them */
static void test_jsonl(void)
{
	char out[JSONL_MAX_ROW], row[512];
	struct csv_reader rd;
	struct csv_row cr;
	struct mt_rec r;
	const char *p;
	FILE *f;
	int n;

	begin("jsonl: an rss row: numbers, hex strings, empty columns absent");
	r = rec(MT_REC_RSS, 2500000000ULL);
	r.cause = MT_CAUSE_FAULT;
	r.addr = 0x7f0000001000ULL;
	r.ip = 0x401000;
	n = csv_format_row(row, sizeof(row), &r, 1000000000ULL, 4);
	CHECK(jsonl_from_csv_row(out, sizeof(out), row, (size_t)n) > 0);
	CHECK_STR(out, "{\"time_s\":1.500000000,\"vmrss_kb\":132,\"vmsize_kb\":4000,"
		  "\"ts_ns\":2500000000,\"pid\":100,\"tid\":101,\"event\":\"rss\","
		  "\"rss_anon_kb\":40,\"rss_file_kb\":80,\"rss_shmem_kb\":12,\"swap_kb\":4,"
		  "\"total_rss_kb\":200,\"cause\":\"fault\",\"addr\":\"0x7f0000001000\","
		  "\"ip\":\"0x401000\",\"vmdata_kb\":2800}\n");
	end();

	begin("jsonl: a mark's name with commas, quotes, a backslash and UTF-8, read back whole");
	r = rec(MT_REC_MARK, 1000);
	r.cause = MT_MARK_FD;
	r.addr = 3;
	r.len = 9;
	snprintf(r.label, sizeof(r.label), "a,\"b\"\\c caf\xc3\xa9");
	n = csv_format_row(row, sizeof(row), &r, 0, 4);
	CHECK(jsonl_from_csv_row(out, sizeof(out), row, (size_t)n) > 0);
	CHECK(strstr(out, ",\"event\":\"mark\",") != NULL);
	CHECK(strstr(out, ",\"cause\":\"fd\",\"addr\":3,\"len\":9,") != NULL);
	CHECK(strstr(out, ",\"label\":\"a,\\\"b\\\"\\\\c caf\xc3\xa9\",") != NULL);
	p = "/tmp/memtrace-unit-jsonl.jsonl";
	f = fopen(p, "w");
	CHECK(f && fputs(out, f) >= 0 && fclose(f) == 0);
	CHECK(csvr__open(&rd, p) == 0);
	CHECK(csvr__next(&rd, &cr) == 1 && cr.ts_ns == 1000 && cr.pid == 100 && cr.tid == 101);
	CHECK_STR(cr.label, "a,\"b\"\\c caf\xc3\xa9");
	CHECK_STR(cr.event, "mark");
	CHECK(cr.type == MT_REC_MARK);
	CHECK(csvr__next(&rd, &cr) == 0);
	csvr__close(&rd);
	unlink(p);
	end();

	begin("jsonl: a negative syscall result is a number, an mmap's address a string");
	r = rec(MT_REC_SYSCALL, 1000);
	r.nr = MT_NR_MMAP;
	r.addr = 0;
	r.len = 4096;
	r.ret = -12;
	n = csv_format_row(row, sizeof(row), &r, 0, 4);
	CHECK(jsonl_from_csv_row(out, sizeof(out), row, (size_t)n) > 0);
	CHECK(strstr(out, ",\"len\":4096,\"ret\":-12,") != NULL);
	r.ret = 0x7f0000000000LL;
	n = csv_format_row(row, sizeof(row), &r, 0, 4);
	CHECK(jsonl_from_csv_row(out, sizeof(out), row, (size_t)n) > 0);
	CHECK(strstr(out, ",\"ret\":\"0x7f0000000000\",") != NULL);
	CHECK(jsonl_from_csv_row(out, 40, row, (size_t)n) == -1);
	end();
}

static void test_csv_reader(void)
{
	struct csv_reader r;
	struct csv_row row;
	const char *p;

	begin("csv reader: memtrace rows, quoted comm, events");
	p = write_tmp(CSV_HEADER "\n"
		      "0.5,100,200,500001000,7,7,exec,50,50,0,0,100,\"a,b\",,,,1,,,,120,\n"
		      "0.6,104,200,600001000,7,7,rss,54,50,0,0,104,fault,0x1,0x2,,,,,,120,\n"
		      "0.7,104,300,700001000,7,7,mmap,54,50,0,0,104,,0x0,,4096,0x7f0000,,,,124,\n");
	CHECK(csvr__open(&r, p) == 0);
	CHECK(csvr__next(&r, &row) == 1 && row.ts_ns == 500001000 && row.pid == 7 && row.vmrss_kb == 100);
	CHECK(r.t0_ns == 1000);
	CHECK(csvr__next(&r, &row) == 1 && spike_ev_of(row.type, row.nr, row.cause) == SEV_FAULT);
	CHECK(csvr__next(&r, &row) == 1 && spike_ev_of(row.type, row.nr, row.cause) == SEV_MMAP);
	CHECK(csvr__next(&r, &row) == 0);
	csvr__close(&r);
	unlink(p);
	end();

	begin("csv reader: a poller's time_s,vmrss_kb file");
	p = write_tmp("time_s,vmrss_kb\r\n0.00,100\r\n0.01,200\r\n");
	CHECK(csvr__open(&r, p) == 0);
	CHECK(csvr__next(&r, &row) == 1 && row.ts_ns == 0 && row.pid == 0);
	CHECK(csvr__next(&r, &row) == 1 && row.ts_ns == 10000000 && row.vmrss_kb == 200);
	CHECK(csvr__next(&r, &row) == 0);
	csvr__close(&r);
	unlink(p);
	end();

	begin("csv reader: malformed input names file, line and column");
	p = write_tmp("time_s,vmrss_kb,ts_ns,pid\n0.1,100,1000,7\n0.2,abc,2000,7\n");
	CHECK(csvr__open(&r, p) == 0);
	CHECK(csvr__next(&r, &row) == 1);
	CHECK(csvr__next(&r, &row) == -EINVAL);
	CHECK(strstr(r.err, ":3: column vmrss_kb: 'abc'") != NULL);
	csvr__close(&r);
	unlink(p);
	p = write_tmp("time_s,vmrss_kb,ts_ns,pid\n0.1,100,1000\n");
	CHECK(csvr__open(&r, p) == 0);
	CHECK(csvr__next(&r, &row) == -EINVAL && strstr(r.err, ":2: 3 fields where the header has 4"));
	csvr__close(&r);
	unlink(p);
	p = write_tmp("");
	CHECK(csvr__open(&r, p) == -EINVAL && strstr(r.err, "is empty"));
	csvr__close(&r);
	unlink(p);
	p = write_tmp("a,b,c\n1,2,3\n");
	CHECK(csvr__open(&r, p) == -EINVAL && strstr(r.err, "not a memory trace"));
	csvr__close(&r);
	unlink(p);
	CHECK(csvr__open(&r, "/nonexistent/t.csv") == -ENOENT && strstr(r.err, "cannot open"));
	csvr__close(&r);
	end();
}

static const char *write_tmp_n(const char *data, size_t n)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/memtrace-unit-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, data, n) != (ssize_t)n)
		printf("#   cannot write %s\n", path);
	close(fd);
	return path;
}

/* Reads text (a whole file) with csvr__open/csvr__next: NULL when it reads
 * to the end after want_rows rows, its error when it fails after want_rows
 * rows, and "unexpected" (said) otherwise. */
static const char *csv_error(const char *data, size_t n, int want_rows)
{
	static char err[512];
	struct csv_reader r;
	struct csv_row row;
	const char *p = write_tmp_n(data, n);
	int e = csvr__open(&r, p), rows = 0;

	if (!e)
		while ((e = csvr__next(&r, &row)) > 0)
			rows++;
	snprintf(err, sizeof(err), "%s", r.err);
	csvr__close(&r);
	unlink(p);
	if (rows != want_rows) {
		printf("#   read %d rows (want %d), then %d: %s\n", rows, want_rows, e, err);
		return "unexpected";
	}
	return e ? err : NULL;
}

#define CSV_ERROR(lit, want_rows) csv_error(lit, sizeof(lit) - 1, want_rows)

static void test_csv_reader_bad_input(void)
{
	const char *e;

	begin("csv reader: a line over the limit is an error naming FILE:LINE");
	{
		/* a row of ours whose label makes it exactly CSV_MAX_LINE bytes
		 * is read; one byte more is refused at its line, not buffered */
		const char *row = "0.5,100,200,500001000,7,7,mark,50,50,0,0,100,fd,3,,5,,";
		size_t cap = CSV_MAX_LINE + 4096, n;
		char *buf = malloc(cap);

		for (int extra = 0; extra <= 1; extra++) {
			size_t label = CSV_MAX_LINE - strlen(row) - 5 + (size_t)extra;

			n = (size_t)snprintf(buf, cap, "%s\n%s", CSV_HEADER, row);
			memset(buf + n, 'a', label);
			n += label;
			n += (size_t)snprintf(buf + n, cap - n, ",,,0,\n%s,,,0,\n", row);
			e = csv_error(buf, n, extra ? 0 : 2);
			CHECK(extra ? e && strstr(e, ":2: ") && strstr(e, "longer than") : e == NULL);
		}
		/* a file without any newline: its "header" is refused */
		memset(buf, 'x', CSV_MAX_LINE + 100);
		{
			struct csv_reader r;
			const char *p = write_tmp_n(buf, CSV_MAX_LINE + 100);

			CHECK(csvr__open(&r, p) < 0 && strstr(r.err, ":1: ") && strstr(r.err, "longer than"));
			csvr__close(&r);
			unlink(p);
		}
		free(buf);
	}
	end();

	begin("csv reader: time_s of nan, inf or past 2^63 ns is an error, not a cast");
	{
		static const char *const bad[] = { "nan", "NAN", "inf", "-inf", "infinity", "1e300",
						   "9.3e9", "-nan" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char text[128], want[64];

			snprintf(text, sizeof(text), "time_s,vmrss_kb\n0.1,100\n%s,200\n", bad[i]);
			snprintf(want, sizeof(want), ":3: column time_s: '%s' is not a time", bad[i]);
			e = csv_error(text, strlen(text), 1);
			CHECK(e && strstr(e, want));
		}
		/* 9.2e9 s (291 years) still fits */
		CHECK(CSV_ERROR("time_s,vmrss_kb\n9.2e9,100\n", 1) == NULL);
	}
	end();

	begin("csv reader: time going backwards is an error with both lines; equal times are not");
	e = CSV_ERROR("time_s,vmrss_kb\n0.1,100\n0.1,200\n0.2,100\n0.15,100\n", 3);
	CHECK(e && strstr(e, ":5: ") && strstr(e, "line 4") && strstr(e, "back"));
	/* in the file's order, over every process: rows are written so */
	e = CSV_ERROR("time_s,vmrss_kb,ts_ns,pid\n0.1,100,1000,7\n0.2,100,2000,8\n0.15,100,1500,7\n", 2);
	CHECK(e && strstr(e, ":4: ") && strstr(e, "line 3") && strstr(e, "ts_ns"));
	e = CSV_ERROR("time_s,vmrss_kb,ts_ns,pid\n0.1,100,2000,7\n0.1,100,1000,8\n", 1);
	CHECK(e && strstr(e, ":3: "));
	end();

	begin("csv reader: a NUL byte is an error, not the end of its line");
	e = CSV_ERROR("time_s,vmrss_kb\n0.1,100\n0.2,20\0" "0\n0.3,100\n", 1);
	CHECK(e && strstr(e, ":3: ") && strstr(e, "NUL"));
	{
		struct csv_reader r;
		const char *p = write_tmp_n("time_s,vmrss_kb\0,pid\n0.1,100\n", 29);

		CHECK(csvr__open(&r, p) < 0 && strstr(r.err, ":1: ") && strstr(r.err, "NUL"));
		csvr__close(&r);
		unlink(p);
	}
	end();
}

/* What result_of() read last. */
static struct run_result back;

/* result_read() of text written into a fresh file: its return, err; what
 * it read in back. */
static int result_of(const char *text, size_t n, char *err, size_t errlen)
{
	char path[] = "/tmp/memtrace-unit-result.XXXXXX";
	int fd = mkstemp(path), e;

	if (fd < 0 || write(fd, text, n) != (ssize_t)n)
		printf("#   cannot write %s\n", path);
	close(fd);
	err[0] = 0;
	e = result_read(path, &back, err, errlen);
	unlink(path);
	return e;
}

#define RESULT_ROW "3,A=1,1,0,ok,1000,0.1,0.2,0,0,10,2000,2026-11-21T07:00:00Z,"

static void test_result_bad_input(void)
{
	char err[512], text[8192], path[] = "/tmp/memtrace-unit-dir.XXXXXX", f[PATH_MAX];
	int n;

	begin("result reader: regular files only; a FIFO, a symlink or a directory is not read");
	CHECK(mkdtemp(path) != NULL);
	snprintf(f, sizeof(f), "%s/result.csv", path);
	CHECK(mkfifo(f, 0600) == 0);
	{
		/* a reader that blocks on the FIFO is killed by its alarm */
		pid_t pid = fork();
		int st = 0;

		if (!pid) {
			struct run_result back;

			alarm(5);
			_exit(result_read(f, &back, err, sizeof(err)) == -EINVAL &&
			      strstr(err, "not a regular file") ? 0 : 1);
		}
		CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	unlink(f);
	CHECK(symlink("/dev/zero", f) == 0);
	CHECK(result_read(f, &(struct run_result){ 0 }, err, sizeof(err)) < 0 &&
	      strstr(err, f) && strstr(err, "symbolic link"));
	unlink(f);
	CHECK(mkdir(f, 0700) == 0);
	CHECK(result_read(f, &(struct run_result){ 0 }, err, sizeof(err)) < 0 && strstr(err, f));
	rmdir(f);
	rmdir(path);
	end();

	begin("result reader: long lines, NUL, nan, negative and out-of-range numbers, extra rows");
	n = snprintf(text, sizeof(text), "%s\n%s0\n", RESULT_HEADER_V1, RESULT_ROW);
	CHECK(result_of(text, (size_t)n, err, sizeof(err)) == 0);
	/* a row past the limit: not cut into a shorter number */
	n = snprintf(text, sizeof(text), "%s\n%s%03000d\n", RESULT_HEADER_V1, RESULT_ROW, 7);
	CHECK(result_of(text, (size_t)n, err, sizeof(err)) == -EINVAL && strstr(err, ":2: ") &&
	      strstr(err, "longer than"));
	n = snprintf(text, sizeof(text), "%s\n%s0\n", RESULT_HEADER_V1, RESULT_ROW);
	text[n - 2] = 0;	/* the last field: "0" becomes "\0" */
	memcpy(text + n - 1, "5\n", 3);
	n++;
	CHECK(result_of(text, (size_t)n, err, sizeof(err)) == -EINVAL && strstr(err, ":2: ") &&
	      strstr(err, "NUL"));
	{
		static const char *const bad[] = {
			"3,A=1,1,0,ok,1000,nan,0.2,0,0,10,2000,,0",
			"3,A=1,1,0,ok,1000,0.1,inf,0,0,10,2000,,0",
			"3,A=1,1,0,ok,-1000,0.1,0.2,0,0,10,2000,,0",
			"3,A=1,1,0,ok,1000,0.1,0.2,-1,0,10,2000,,0",
			"99999999999,A=1,1,0,ok,1000,0.1,0.2,0,0,10,2000,,0",
			"3,A=1,1,4294967296,ok,1000,0.1,0.2,0,0,10,2000,,0",
			"-2147483648,A=1,1,0,ok,1000,0.1,0.2,0,0,10,2000,,0",
			"3,A=1,1,0,ok,1000,0.1,0.2,0,0,10,2000,,0\n3,A=1,1,0,ok,1000,0.1,0.2,0,0,10,2000,,0",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			n = snprintf(text, sizeof(text), "%s\n%s\n", RESULT_HEADER_V1, bad[i]);
			if (result_of(text, (size_t)n, err, sizeof(err)) != -EINVAL) {
				printf("#   accepted: %s\n", bad[i]);
				current_failed = 1;
			}
		}
	}
	end();
}

static int64_t rep_kb(const char *s, bool si)
{
	int64_t v = -7;
	int e = parse_reported_kb(s, si, &v);

	return e == -EDOM ? -2 : e ? -1 : v;
}

static void test_reported_units(void)
{
	begin("reported values: units, spaces, conventions");
	CHECK(rep_kb("657 MB", false) == 657 * 1024);
	CHECK(rep_kb("657MB", false) == 657 * 1024);
	CHECK(rep_kb("657 MiB", false) == 657 * 1024);
	CHECK(rep_kb("657 MB", true) == 641602);	/* 657e6 / 1024, rounded */
	CHECK(rep_kb("657 MiB", true) == 657 * 1024);	/* binary whatever --si */
	CHECK(rep_kb("1.5 GiB", false) == 1572864);
	CHECK(rep_kb("1.5G", false) == 1572864);
	CHECK(rep_kb("812340 kB", false) == 812340);
	CHECK(rep_kb("812340 KiB", false) == 812340);
	CHECK(rep_kb("812340K", false) == 812340);
	CHECK(rep_kb("2048 B", false) == 2);
	CHECK(rep_kb("1000 B", false) == 1);		/* rounded to the nearest kB */
	CHECK(rep_kb(" 12.25 MB ", false) == 12544);
	CHECK(rep_kb("2  MB", false) == 2048);		/* any run of blanks */
	CHECK(rep_kb("2 \t MB", false) == 2048);
	CHECK(rep_kb("1.5 \tGiB", false) == 1572864);
	end();

	begin("reported values: unknown unit, no unit, not a number");
	CHECK(rep_kb("657 pages", false) == -2);
	CHECK(rep_kb("657 Mb/s", false) == -2);
	CHECK(rep_kb("657", false) == -2);
	CHECK(rep_kb("", false) == -1);
	CHECK(rep_kb("MB", false) == -1);
	CHECK(rep_kb("-5 MB", false) == -1);
	CHECK(rep_kb("1 2 MB", false) == -1);		/* blanks only before the unit */
	CHECK(rep_kb("0x10 MB", false) < 0);
	end();
}

static void vrow(struct validation *v, uint64_t ts, int64_t kb, const char *ev,
		 const char *label, const char *reported)
{
	CHECK(validation__row(v, ts, ts, 7, kb, ev, ev[0] == 'c' ? "status" : "", label,
			      reported) == 0);
}

static void test_validation(void)
{
	struct v_cfg cfg = { .compare = V_CMP_AUTO, .tol_pct = 5 };
	struct validation v;

	begin("validate: max since previous checkpoint, excess over both");
	validation__init(&v, &cfg);
	vrow(&v, 10, 1000, "exec", "", "");
	vrow(&v, 20, 1000, "checkpoint", "", "");
	vrow(&v, 30, 5000, "rss", "", "");	/* a transient of 4000 */
	vrow(&v, 40, 1200, "rss", "", "");
	vrow(&v, 50, 1200, "checkpoint", "", "");
	vrow(&v, 55, 1200, "log", "RSS now: 1.25 MB", "1.25 MB");	/* 1280: +80 */
	vrow(&v, 60, 3000, "rss", "", "");
	vrow(&v, 70, 3000, "checkpoint", "", "");
	vrow(&v, 80, 9000, "rss", "", "");	/* after the last checkpoint */
	vrow(&v, 90, 2000, "rss", "", "");
	vrow(&v, 95, 2000, "log", "Peak RSS: 3000 kB", "3000 kB");
	validation__finish(&v);
	CHECK(v.ncps == 3);
	CHECK(v.cps[0].max_since_prev_kb == 1000 && v.cps[0].excess_kb == 0 &&
	      v.cps[0].prev_exact_kb == -1);
	CHECK(v.cps[1].max_since_prev_kb == 5000 && v.cps[1].excess_kb == 3800 &&
	      v.cps[1].max_since_prev_ts_ns == 30);
	/* a rise to the next checkpoint is seen by it: no excess */
	CHECK(v.cps[2].max_since_prev_kb == 3000 && v.cps[2].excess_kb == 0);
	CHECK(v.cps[2].peak_so_far_kb == 5000);
	CHECK(v.worst_excess == 1);
	CHECK(v.ntails == 1 && v.tails[0].excess_kb == 6000 && v.tails[0].max_ts_ns == 80);
	end();

	begin("validate: pairing with the checkpoint before, rss vs peak, verdict");
	CHECK(v.nrep == 2);
	CHECK(v.rep[0].cp == 1 && v.rep[0].cmp == V_CMP_RSS && v.rep[0].kb == 1280 &&
	      v.rep[0].ref_kb == 1200 && v.rep[0].diff_kb == 80);
	/* "Peak" compares with the exact peak up to its checkpoint (3) */
	CHECK(v.rep[1].cp == 2 && v.rep[1].cmp == V_CMP_PEAK && v.rep[1].ref_kb == 5000 &&
	      v.rep[1].diff_kb == -2000);
	CHECK(v.worst_error == 1);
	CHECK(v.app_peak_rep == 1 && v.app_peak_kb == 3000);
	CHECK(v.true_peak_kb == 9000 && v.true_peak_ts_ns == 80);
	CHECK(v.peak_trusted == 0);
	CHECK(v.checkpoint_max_kb == 3000);
	validation__free(&v);
	end();

	begin("validate: a trusted peak, an unknown unit, a value before any checkpoint");
	cfg.tol_pct = 5;
	validation__init(&v, &cfg);
	vrow(&v, 10, 1000, "rss", "", "");
	vrow(&v, 15, 1000, "log", "early: 1000 kB", "1000 kB");
	vrow(&v, 20, 2000, "checkpoint", "", "");
	vrow(&v, 30, 2000, "log", "max: 12 parsecs", "12 parsecs");
	vrow(&v, 40, 2000, "log", "HWM 1.96 MB", "1.96 MB");	/* 2007 kB */
	validation__finish(&v);
	CHECK(v.nrep == 3 && v.rep[0].cp == -1 && v.rep[0].ref_kb == 1000 && v.rep[0].diff_kb == 0);
	CHECK(v.rep[1].kb < 0 && v.unknown_units == 1);
	CHECK(v.app_peak_kb == 2007 && v.peak_trusted == 1);
	CHECK(v.worst_error == 2);
	CHECK(line_says_peak("VmHWM") && line_says_peak("MAX rss") && !line_says_peak("RSS now"));
	validation__free(&v);
	end();

	begin("validate: a line pairs with its writer's own checkpoint first");
	validation__init(&v, &cfg);
	CHECK(validation__row(&v, 1, 10, 7, 1000, "checkpoint", "status", "", "") == 0);
	CHECK(validation__row(&v, 2, 15, 8, 5000, "mark", "fd", "frame 3", "") == 0);
	CHECK(validation__row(&v, 2, 20, 8, 5000, "checkpoint", "status", "", "") == 0);
	CHECK(validation__row(&v, 3, 30, 7, 1000, "log", "status", "RSS: 1000 kB", "1000 kB") == 0);
	CHECK(validation__row(&v, 4, 40, 9, 1000, "log", "status", "RSS: 5000 kB", "5000 kB") == 0);
	validation__finish(&v);
	CHECK(v.rep[0].cp == 0 && v.rep[0].diff_kb == 0);	/* pid 7's, not pid 8's later one */
	CHECK(v.rep[1].cp == 1 && v.rep[1].diff_kb == 0);	/* pid 9 has none: the latest */
	CHECK(!v.cps[0].stage[0] && !strcmp(v.cps[1].stage, "frame 3"));	/* named by its mark */
	validation__free(&v);
	end();
}

static void srow(struct stages *s, uint64_t ts, pid_t pid, int64_t kb, const char *ev,
		 const char *label)
{
	CHECK(stages__row(s, ts, pid, kb, ev, label) == 0);
}

static void test_stages(void)
{
	struct stages s;

	struct stage_iv iv[5];

	begin("stages: a point mark ends at the next mark of its process, spans nest");
	stages__init(&s);
	srow(&s, 10, 1, 100, "mark", "load:begin");
	srow(&s, 20, 1, 900, "rss", "");
	srow(&s, 30, 1, 500, "mark", "frame");
	srow(&s, 35, 2, 9999, "rss", "");		/* another process: not in pid 1's stages */
	srow(&s, 40, 1, 800, "rss", "");
	srow(&s, 50, 1, 600, "mark", "frame ");	/* trailing blank: the same name */
	srow(&s, 60, 1, 700, "mark", "load:end");	/* ends frame 50, then the span */
	srow(&s, 65, 1, 700, "log", "");
	srow(&s, 70, 1, 650, "mark", "frame");
	srow(&s, 80, 1, 650, "mark", "once");
	srow(&s, 90, 1, 650, "mark", "x:end");	/* ends once, itself unmatched */
	srow(&s, 95, 1, 650, "mark", "y:begin");
	CHECK(stages__finish(&s) == 0);
	CHECK(s.marks == 8 && s.unmatched_ends == 1);
	CHECK(s.niv == 5);
	for (size_t i = 0; i < 5; i++)
		CHECK(stages__iv(&s, i, &iv[i]) == 0);
	/* frame 30..50: entry 500, peak 800 at 40, exit 600 */
	CHECK(!strcmp(s.sums[iv[0].sum].name, "frame") && iv[0].entry_kb == 500 &&
	      iv[0].peak_kb == 800 && iv[0].peak_ts_ns == 40 && iv[0].exit_kb == 600 &&
	      iv[0].end_ts_ns == 50);
	CHECK(!strcmp(s.sums[iv[1].sum].name, "frame") && iv[1].entry_kb == 600 &&
	      iv[1].peak_kb == 700 && iv[1].exit_kb == 700 && iv[1].end_ts_ns == 60);
	/* the span 10..60 saw 900 at 20 */
	CHECK(!strcmp(s.sums[iv[2].sum].name, "load") && iv[2].span && iv[2].peak_kb == 900 &&
	      iv[2].entry_kb == 100 && iv[2].exit_kb == 700);
	CHECK(!strcmp(s.sums[iv[3].sum].name, "frame") && iv[3].entry_kb == 650 &&
	      iv[3].end_ts_ns == 80 && iv[3].end == STAGE_END_MARK);
	CHECK(!strcmp(s.sums[iv[4].sum].name, "once") && iv[4].end_ts_ns == 90);
	for (size_t i = 0; i < s.nsums; i++) {
		struct stage_sum *x = &s.sums[i];

		if (!strcmp(x->name, "frame"))
			CHECK(x->count == 3 && x->total_ns == 40 && x->max_ns == 20 &&
			      x->first_entry_kb == 500 && x->last_exit_kb == 650 && x->peak_kb == 800 &&
			      x->max_rise_kb == 300 && x->growth_kb == 200);
		else if (!strcmp(x->name, "once"))
			CHECK(x->count == 1 && !x->span);
		else if (!strcmp(x->name, "y"))
			CHECK(x->span && x->unclosed == 1);
	}
	stages__free(&s);
	end();
}

static void test_log_match(void)
{
	regex_t re;
	char v[64];

	begin("checkpoint regex: first group that took part, whole match without one");
	CHECK(regcomp(&re, "RSS now: ([0-9]+ kB)|Peak RSS: ([0-9.]+ ?[KMG]B)", REG_EXTENDED) == 0);
	CHECK(logcap_match(&re, "checkpoint 3: RSS now: 1604 kB", v, sizeof(v)) && !strcmp(v, "1604 kB"));
	CHECK(logcap_match(&re, "Peak RSS: 657 MB (final)", v, sizeof(v)) && !strcmp(v, "657 MB"));
	CHECK(!logcap_match(&re, "peak rss: 657 MB", v, sizeof(v)));
	regfree(&re);
	CHECK(regcomp(&re, "(a)?b+", REG_EXTENDED) == 0);
	CHECK(logcap_match(&re, "xbbb", v, sizeof(v)) && !strcmp(v, "bbb"));
	regfree(&re);
	end();
}

struct got_line {
	uint64_t ts[8];
	char val[8][32];
	int n;
	pid_t pid;
};

static int collect_line(void *ctx, uint64_t ts, pid_t pid, pid_t tid, const char *stream,
			uint64_t lineno, const char *line, const char *value)
{
	struct got_line *g = ctx;

	(void)stream, (void)lineno, (void)line, (void)tid;
	g->pid = pid;
	if (g->n < 8) {
		g->ts[g->n] = ts;
		snprintf(g->val[g->n], sizeof(g->val[0]), "%s", value);
		g->n++;
	}
	return 0;
}

/* What the kernel's OUTPUT record carries for a write: its first bytes,
 * min(len, 40), in a field of 40 (the rest zero). logcap__output reads the
 * whole field, as it does from a record; a shorter literal would be read
 * past its end. */
static const char *rec_start(const char *s)
{
	static char start[sizeof(((struct logcap_write *)0)->start)];

	memset(start, 0, sizeof(start));
	memcpy(start, s, strnlen(s, sizeof(start)));
	return start;
}

static void test_log_timing(void)
{
	char logp[] = "/tmp/memtrace-unit-log.XXXXXX";
	struct got_line g = { .n = 0 };
	struct logcap c;
	regex_t re;
	int wr[2], lf = mkstemp(logp), null = open("/dev/null", O_WRONLY);

	begin("log lines take the time of the kernel write that ended them");
	CHECK(lf >= 0 && null >= 0);
	CHECK(regcomp(&re, "x: ([0-9]+ MB)", REG_EXTENDED) == 0);
	CHECK(logcap__open(&c, &re, lf, wr, true, collect_line, &g) == 0);
	close(lf);
	c.out[0] = c.out[1] = null;	/* no pass-through into our TAP output */
	c.kernel_timed = true;
	/* two writes in the pipe before either record is seen */
	CHECK(write(wr[0], "x: 1 MB\nx: 2", 12) == 12);
	CHECK(write(wr[0], " MB\n", 4) == 4);
	CHECK(logcap__pump(&c, 0, -1, false) == 0);
	CHECK(g.n == 0);		/* read, but not timed yet */
	CHECK(logcap__output(&c, 0, 100, 42, 43, 12, rec_start("x: 1 MB\nx: 2"), true) == 0);
	CHECK(g.n == 1 && g.ts[0] == 100 && !strcmp(g.val[0], "1 MB") && g.pid == 42);
	CHECK(logcap__output(&c, 0, 200, 42, 43, 4, rec_start(" MB\n"), true) == 0);
	CHECK(g.n == 2 && g.ts[1] == 200 && !strcmp(g.val[1], "2 MB"));
	/* a record before its bytes were read: they are read then */
	CHECK(write(wr[0], "x: 3 MB\n", 8) == 8);
	CHECK(logcap__output(&c, 0, 300, 42, 43, 8, rec_start("x: 3 MB\n"), true) == 0);
	CHECK(g.n == 3 && g.ts[2] == 300);
	CHECK(!c.st[0].on_arrival);
	end();

	begin("log lines: bytes the kernel did not see written fall back to arrival");
	CHECK(write(wr[0], "x: 4 MB\n", 8) == 8);
	/* the next record starts with other bytes: another writer's came
	 * first (its note on stderr is kept out of the TAP output) */
	{
		int saved = dup(2);

		dup2(null, 2);
		CHECK(logcap__output(&c, 0, 400, 42, 43, 8, rec_start("x: 5 MB\n"), true) == 0);
		dup2(saved, 2);
		close(saved);
	}
	CHECK(c.st[0].on_arrival);
	CHECK(g.n == 4 && !strcmp(g.val[3], "4 MB") && g.ts[3] > 400 && g.pid == 0);
	CHECK(write(wr[0], "x: 5 MB", 7) == 7);	/* last line, no newline */
	close(wr[0]);
	close(wr[1]);
	CHECK(logcap__pump(&c, 0, -1, true) == 0);
	CHECK(g.n == 5 && !strcmp(g.val[4], "5 MB"));
	CHECK(c.lines == 5 && c.matched == 5);
	logcap__close(&c);
	regfree(&re);
	close(null);
	unlink(logp);
	end();
}

static void test_split_words(void)
{
	char **w, err[128];

	begin("campaign --file lines split like a shell, without expansion");
	CHECK(split_words("  ./solver 1005 --out 'a b' \"c \\\"d\\\"\" e\\ f  # note\n", &w, err,
			  sizeof(err)) == 6);
	if (w) {
		CHECK_STR(w[0], "./solver");
		CHECK_STR(w[1], "1005");
		CHECK_STR(w[3], "a b");
		CHECK_STR(w[4], "c \"d\"");
		CHECK_STR(w[5], "e f");
		CHECK(w[6] == NULL);
		words_free(w);
	}
	CHECK(split_words("x'$HOME'y", &w, err, sizeof(err)) == 1 && w && !strcmp(w[0], "x$HOMEy"));
	words_free(w);
	CHECK(split_words("   # only a comment", &w, err, sizeof(err)) == 0 && !w);
	CHECK(split_words("", &w, err, sizeof(err)) == 0 && !w);
	CHECK(split_words("a 'unterminated", &w, err, sizeof(err)) == -EINVAL && strstr(err, "'"));
	CHECK(split_words("a \"open", &w, err, sizeof(err)) == -EINVAL && strstr(err, "\""));
	CHECK(split_words("a \\", &w, err, sizeof(err)) == -EINVAL && strstr(err, "backslash"));
	CHECK(split_words("a#b", &w, err, sizeof(err)) == 1 && w && !strcmp(w[0], "a#b"));
	words_free(w);
	end();
}

static void test_subst_params(void)
{
	const char *names[] = { "LIMIT", "N_2" }, *vals[] = { "1005", "x" };
	char err[64], *o;

	begin("campaign {NAME} substitution");
	o = subst_params("--limit={LIMIT}M-{N_2}{LIMIT}", names, vals, 2, err, sizeof(err));
	CHECK(o && !strcmp(o, "--limit=1005M-x1005"));
	free(o);
	/* braces that are not a name are left alone (find -exec {} \;, ${x}, {1}) */
	o = subst_params("{} ${ {1} {a-b} {", names, vals, 2, err, sizeof(err));
	CHECK(o && !strcmp(o, "{} ${ {1} {a-b} {"));
	free(o);
	CHECK(subst_params("{LIMITS}", names, vals, 2, err, sizeof(err)) == NULL);
	CHECK_STR(err, "LIMITS");
	{
		char c[] = "LIMIT=a/b c+d=e";

		config_sanitize(c);
		CHECK_STR(c, "LIMIT=a_b_c+d=e");
	}
	end();
}

static void test_campaign_stats(void)
{
	struct run_result r[5] = {}, back;
	struct config_stats *st;
	double v[] = { 10, 12, 14 }, mean, sd, cv, mn, mx;
	char line[512], err[256], path[] = "/tmp/memtrace-unit-result.XXXXXX";
	int n, fd;

	begin("campaign statistics and result files");
	stats_of(v, 3, &mean, &sd, &cv, &mn, &mx);
	CHECK(mean == 12 && sd == 2 && mn == 10 && mx == 14);	/* sample std: n-1 */
	CHECK(cv > 16.66 && cv < 16.67);
	stats_of(v, 1, &mean, &sd, &cv, &mn, &mx);
	CHECK(mean == 10 && sd == 0 && cv == 0);
	for (int i = 0; i < 5; i++) {
		r[i].index = i;
		snprintf(r[i].config, sizeof(r[i].config), "%s", i % 2 ? "B=2" : "B=1");
		r[i].peak_rss_kb = 1000 + 100 * (uint64_t)i;
		r[i].duration_s = 1.0 + i;
		snprintf(r[i].status, sizeof(r[i].status), "ok");
	}
	r[4].exit_code = 137;		/* B=1: runs 0, 2 ok, 4 killed */
	n = stats_by_config(r, 5, &st);
	CHECK(n == 2);
	if (n == 2) {
		CHECK_STR(st[0].config, "B=1");
		CHECK(st[0].runs == 2 && st[0].failed == 1);
		CHECK(st[0].mean_peak_kb == 1100 && st[0].min_peak_kb == 1000 && st[0].max_peak_kb == 1200);
		CHECK(st[1].runs == 2 && st[1].failed == 0 && st[1].mean_peak_kb == 1200);
		CHECK(st[1].mean_dur_s == 3.0);
	}
	free(st);
	/* a result row written and read back is the same */
	snprintf(r[1].start_time, sizeof(r[1].start_time), "2026-11-21T07:00:00Z");
	r[1].peak_time_s = 0.123456789;
	r[1].rusage_maxrss_kb = 4242;
	fd = mkstemp(path);
	CHECK(fd >= 0);
	n = snprintf(line, sizeof(line), "%s\n", RESULT_HEADER);
	n += result_format(line + n, sizeof(line) - (size_t)n, &r[1]);
	CHECK(write(fd, line, (size_t)n) == n);
	close(fd);
	CHECK(result_read(path, &back, err, sizeof(err)) == 0);
	CHECK(back.index == 1 && back.peak_rss_kb == 1100 && back.rusage_maxrss_kb == 4242);
	CHECK(back.peak_time_s == 0.123456789 && back.duration_s == 2.0);
	CHECK_STR(back.config, "B=2");
	CHECK_STR(back.start_time, "2026-11-21T07:00:00Z");
	/* a torn or foreign file is refused, naming the file */
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, RESULT_HEADER "\n1,B=2,1\n", strlen(RESULT_HEADER) + 9) > 0);
	close(fd);
	CHECK(result_read(path, &back, err, sizeof(err)) == -EINVAL && strstr(err, path));
	unlink(path);
	end();
}

static void test_idmap_recstore(void)
{
	struct idmap m = { 0 };
	struct recstore rs;
	long want[5000];
	unsigned int seed = 7;
	bool ok = true;
	char old_tmp[256] = "", *t;

	begin("idmap: put, get and delete agree with a plain array (random, 200k operations)");
	for (int i = 0; i < 5000; i++)
		want[i] = -1;
	for (int r = 0; r < 200000 && ok; r++) {
		int k = (int)(rand_r(&seed) % 5000);

		if (rand_r(&seed) % 3) {
			CHECK(idmap__put(&m, (uint64_t)k * 7919, (size_t)r) == 0);
			want[k] = r;
		} else {
			ok = (idmap__del(&m, (uint64_t)k * 7919) == 0) == (want[k] >= 0);
			want[k] = -1;
		}
		for (int q = 0; ok && r % 5000 == 0 && q < 5000; q++)
			ok = idmap__get(&m, (uint64_t)q * 7919) == want[q];
	}
	CHECK(ok);
	idmap__free(&m);
	end();

	begin("recstore: records past the in-memory ones go to a file and come back");
	recstore__init(&rs, sizeof(uint64_t), 100);
	for (uint64_t i = 0; i < 5000; i++)
		CHECK(recstore__put(&rs, i, &(uint64_t){ i * 3 }) == 0);
	CHECK(rs.fd >= 0 && !rs.mem_only && rs.mem_cap <= 128);
	ok = true;
	for (uint64_t i = 0, v; i < 5000 && ok; i++)
		ok = recstore__get(&rs, i, &v) == 0 && v == i * 3;
	CHECK(ok);
	CHECK(recstore__get(&rs, 5000, &(uint64_t){ 0 }) == -ENOENT);
	recstore__free(&rs);
	/* no temporary directory: they all stay in memory */
	t = getenv("TMPDIR");
	if (t)
		snprintf(old_tmp, sizeof(old_tmp), "%s", t);
	setenv("TMPDIR", "/nonexistent-dir", 1);
	recstore__init(&rs, sizeof(uint64_t), 10);
	for (uint64_t i = 0; i < 1000; i++)
		CHECK(recstore__put(&rs, i, &(uint64_t){ i + 1 }) == 0);
	CHECK(rs.fd < 0 && rs.mem_only);
	ok = true;
	for (uint64_t i = 0, v; i < 1000 && ok; i++)
		ok = recstore__get(&rs, i, &v) == 0 && v == i + 1;
	CHECK(ok);
	recstore__free(&rs);
	if (old_tmp[0])
		setenv("TMPDIR", old_tmp, 1);
	else
		unsetenv("TMPDIR");
	end();
}

static void test_prominence(void)
{
	struct spikes *s;
	const struct spike *a;

	begin("prominence: a transient on a climb is measured from where it comes back to");
	{
		/* climbing 1 MiB per 10 ms; at 50 ms +8 MiB for 2 ms; the
		 * climb goes on from there */
		int64_t tl[64][2];
		size_t n = 0;

		for (int i = 0; i < 10; i++) {
			tl[n][0] = i * 10 * (int64_t)MS;
			tl[n++][1] = 1024 + i * 1024;
			if (i == 5) {
				tl[n][0] = 51 * (int64_t)MS;
				tl[n++][1] = 1024 + 5 * 1024 + 8192;
				tl[n][0] = 53 * (int64_t)MS;
				tl[n++][1] = 1024 + 5 * 1024;
			}
		}
		tl[n][0] = 1000 * (int64_t)MS;
		tl[n++][1] = 1024 + 9 * 1024;
		s = run_timeline((const int64_t (*)[2])tl, n, 0, 0, 0);
		CHECK(spikes__count(s) == 1);
		a = spikes__count(s) ? spikes__get(s, 0) : NULL;
		CHECK(a && a->peak_kb - a->base_kb == 8192 && a->base_kb == 1024 + 5 * 1024);
		CHECK(a && a->start_ts == 51 * MS && a->end_ts == 53 * MS);
		spikes__free(s);
	}
	end();

	begin("prominence: equal summits each on their own base; a teardown through them is none");
	{
		/* a plateau of 64 MiB, three +4 MiB transients of equal height,
		 * then everything freed in 256 KiB steps 10 us apart */
		int64_t tl[600][2];
		size_t n = 0;

		tl[n][0] = 0;
		tl[n++][1] = 1024;
		tl[n][0] = 10 * (int64_t)MS;
		tl[n++][1] = 65536;
		for (int k = 0; k < 3; k++) {
			tl[n][0] = (100 + k * 100) * (int64_t)MS;
			tl[n++][1] = 65536 + 4096;
			tl[n][0] = (103 + k * 100) * (int64_t)MS;
			tl[n++][1] = 65536;
		}
		for (int64_t v = 65536 - 256, t = 500 * (int64_t)MS; v >= 1024; v -= 256, t += 10000) {
			tl[n][0] = t;
			tl[n++][1] = v;
		}
		s = run_timeline((const int64_t (*)[2])tl, n, 0, 0, 0);
		CHECK(spikes__count(s) == 3);
		for (size_t i = 0; i < spikes__kept(s); i++) {
			a = spikes__get(s, i);
			CHECK(a->base_kb == 65536 && a->peak_kb == 65536 + 4096 &&
			      a->end_ts - a->start_ts == 3 * MS);
		}
		spikes__free(s);
	}
	end();

	begin("prominence: 1,000,000 rows of a sawtooth on a slow leak, every tooth found");
	{
		struct spikes_cfg cfg = { .min_rise_kb = 1024, .settle_pct = 10 };
		int64_t v = 10240;
		uint64_t t = 0;
		size_t teeth = 0;

		s = spikes__new(&cfg);
		/* every 1000 rows: 500 rows up by 4 KiB (+2 MiB), back down in one */
		for (int i = 0; i < 1000000; i++, t += 2000) {
			if (i % 1000 < 500)
				v += 4;
			else if (i % 1000 == 500) {
				v -= 2000;
				teeth++;
			} else if (i % 100 == 0)
				v += 4;	/* the leak */
			spikes__push(s, 1, t, v, SEV_FAULT, 0);
		}
		spikes__finish(s, 0);
		CHECK(spikes__count(s) == teeth);
		a = spikes__kept(s) ? spikes__get(s, 0) : NULL;
		CHECK(a && a->peak_kb - a->base_kb >= 1996 && a->peak_kb - a->base_kb <= 2000);
		CHECK(spikes__pid(s, 0)->growth.verdict == GROWTH_GROWING);
		spikes__free(s);
	}
	end();
}

static void test_guard_spec(void)
{
	struct guard_spec g = { .kill_at_kb = 102400 + 3, .kill_signal = SIGTERM, .nalerts = 2,
				.alert_kb = { 1024, 51200 }, .count_anon = true };
	struct mt_guard k;
	int sig;

	begin("signals: names, SIG prefix, numbers; those that do not end a program refused");
	CHECK(!parse_signal("TERM", &sig) && sig == SIGTERM);
	CHECK(!parse_signal("sigkill", &sig) && sig == SIGKILL);
	CHECK(!parse_signal("15", &sig) && sig == SIGTERM);
	CHECK(!parse_signal("USR1", &sig) && sig == SIGUSR1);
	CHECK(parse_signal("STOP", &sig) == -EINVAL);
	CHECK(parse_signal("19", &sig) == -ERANGE);
	CHECK(parse_signal("", &sig) == -EINVAL);
	CHECK(parse_signal("15x", &sig) == -EINVAL);
	CHECK_STR(signal_abbrev(SIGKILL), "KILL");
	end();

	begin("guard settings for the kernel: pages over the limit, the first watch");
	guard_spec__kernel(&g, 4, &k);
	CHECK(k.kill_at_pages == 25600);	/* 102403 kB: over it is 25601 pages */
	CHECK(k.signal == SIGTERM && k.flags == MT_GUARD_ANON && k.nalerts == 2);
	CHECK(k.alert_pages[0] == 256 && k.alert_pages[1] == 12800);
	CHECK(k.watch_pages == 256);
	g.nalerts = 0;
	guard_spec__kernel(&g, 4, &k);
	CHECK(k.watch_pages == 25600 && !k.fired && !k.cross_ts_ns);
	CHECK(guard_spec__active(&g));
	CHECK(!guard_spec__active(&(struct guard_spec){ .kill_signal = SIGKILL }));
	end();
}

/* The stage of interval i's name in s (its figures). */
static const struct stage_sum *sum_named(const struct stages *s, const char *name)
{
	for (size_t i = 0; i < s->nsums; i++)
		if (!strcmp(s->sums[i].name, name))
			return &s->sums[i];
	return NULL;
}

static void test_stages_points(void)
{
	static const char *names[3] = { "decode", "detect", "write" };
	const struct stage_sum *x;
	struct stage_iv iv;
	struct stages s;
	uint64_t ts = 1000;
	int64_t kb = 1000;
	bool ok = true;

	begin("stages: 100 frames of point marks A, B, C: 100 stages each, their own figures");
	stages__init(&s);
	/* frame i: decode rises by 10 + i and falls back; detect keeps 4;
	 * write rises by 100 and frees 2 */
	for (int i = 0; i < 100; i++) {
		srow(&s, ts += 10, 1, kb, "mark", "decode");
		srow(&s, ts += 10, 1, kb + 10 + i, "rss", "");
		srow(&s, ts += 10, 1, kb, "rss", "");
		srow(&s, ts += 10, 1, kb, "mark", "detect");
		srow(&s, ts += 10, 1, kb += 4, "rss", "");
		srow(&s, ts += 10, 1, kb, "mark", "write");
		srow(&s, ts += 10, 1, kb + 100, "rss", "");
		srow(&s, ts += 10, 1, kb -= 2, "rss", "");
	}
	srow(&s, ts += 10, 1, kb, "exit", "prog");
	CHECK(stages__finish(&s) == 0);
	CHECK(s.niv == 300 && s.marks == 300 && s.npids == 0);
	for (size_t i = 0; i < 300 && ok; i++) {
		int f = (int)i / 3;
		int64_t rise = i % 3 == 0 ? 10 + f : i % 3 == 1 ? 4 : 100;
		int64_t growth = i % 3 == 0 ? 0 : i % 3 == 1 ? 4 : -2;

		ok = !stages__iv(&s, i, &iv) && !strcmp(s.sums[iv.sum].name, names[i % 3]) &&
		     iv.peak_kb - iv.entry_kb == rise && iv.exit_kb - iv.entry_kb == growth &&
		     iv.end_ts_ns - iv.start_ts_ns == (i % 3 == 0 ? 30u : i % 3 == 1 ? 20u : 30u) &&
		     iv.end == (i == 299 ? STAGE_END_EXIT : STAGE_END_MARK);
		if (!ok)
			printf("#   interval %zu: %s rise %lld growth %lld end %d\n", i,
			       s.sums[iv.sum].name, (long long)(iv.peak_kb - iv.entry_kb),
			       (long long)(iv.exit_kb - iv.entry_kb), iv.end);
	}
	CHECK(ok);
	x = sum_named(&s, "decode");
	CHECK(x && x->count == 100 && x->max_rise_kb == 109 && x->growth_kb == 0 &&
	      x->first_entry_kb == 1000 && x->to_exit == 0);
	x = sum_named(&s, "detect");
	CHECK(x && x->count == 100 && x->max_rise_kb == 4 && x->growth_kb == 400 && x->total_ns == 2000);
	/* the last write runs to the exit row, whose RSS is its exit */
	x = sum_named(&s, "write");
	CHECK(x && x->count == 100 && x->growth_kb == -200 && x->to_exit == 1 &&
	      x->last_exit_kb == 1200 && x->peak_kb == 1302);
	stages__free(&s);
	end();

	begin("stages: a point stage ends at a span's begin or end; spans still pair and nest");
	stages__init(&s);
	srow(&s, 10, 1, 100, "mark", "a");
	srow(&s, 20, 1, 300, "rss", "");
	srow(&s, 30, 1, 200, "mark", "load:begin");	/* ends a */
	srow(&s, 40, 1, 250, "mark", "b");
	srow(&s, 50, 1, 400, "mark", "load:begin");	/* ends b; nested */
	srow(&s, 60, 1, 450, "mark", "load:end");
	srow(&s, 70, 1, 500, "mark", "c");
	srow(&s, 80, 1, 600, "mark", "load:end");	/* ends c, then the outer span */
	CHECK(stages__finish(&s) == 0);
	CHECK(s.niv == 5);
	CHECK(!stages__iv(&s, 0, &iv) && !strcmp(s.sums[iv.sum].name, "a") && iv.end_ts_ns == 30 &&
	      iv.peak_kb == 300 && iv.exit_kb == 200);
	CHECK(!stages__iv(&s, 1, &iv) && !strcmp(s.sums[iv.sum].name, "b") && iv.end_ts_ns == 50);
	CHECK(!stages__iv(&s, 2, &iv) && iv.span && iv.depth == 1 && iv.start_ts_ns == 50 &&
	      iv.end_ts_ns == 60);
	CHECK(!stages__iv(&s, 3, &iv) && !strcmp(s.sums[iv.sum].name, "c") && iv.end_ts_ns == 80 &&
	      iv.exit_kb == 600 && iv.end == STAGE_END_MARK);
	CHECK(!stages__iv(&s, 4, &iv) && iv.span && iv.depth == 0 && iv.start_ts_ns == 30 &&
	      iv.end_ts_ns == 80 && iv.peak_kb == 600);
	x = sum_named(&s, "load");
	CHECK(x && x->count == 1 && x->nested == 1 && x->unclosed == 0);
	stages__free(&s);
	end();

	begin("stages: still running at the end of the trace; another process under --pid");
	stages__init(&s);
	srow(&s, 10, 1, 100, "mark", "step");
	srow(&s, 20, 2, 100, "mark", "other");
	srow(&s, 30, 1, 900, "rss", "");
	srow(&s, 40, 1, 700, "rss", "");
	srow(&s, 45, 2, 100, "exit", "x");	/* ends other */
	stages__time(&s, 90);	/* a row --pid left out: the trace goes on */
	CHECK(stages__finish(&s) == 0);
	CHECK(s.niv == 2);
	CHECK(!stages__iv(&s, 0, &iv) && !strcmp(s.sums[iv.sum].name, "other") &&
	      iv.end == STAGE_END_EXIT && iv.end_ts_ns == 45);
	CHECK(!stages__iv(&s, 1, &iv) && !strcmp(s.sums[iv.sum].name, "step") &&
	      iv.end == STAGE_END_TRACE && iv.end_ts_ns == 90 && iv.exit_kb == 700 &&
	      iv.peak_kb == 900 && iv.peak_ts_ns == 30);
	x = sum_named(&s, "step");
	CHECK(x && x->count == 1 && x->to_trace_end == 1 && x->growth_kb == 600);
	stages__free(&s);
	end();

	begin("stages: figures without the intervals; intervals past memory read back");
	stages__init(&s);
	s.keep_intervals = false;
	srow(&s, 10, 1, 100, "mark", "a");
	srow(&s, 20, 1, 300, "mark", "a");
	CHECK(stages__finish(&s) == 0);
	x = sum_named(&s, "a");
	CHECK(s.niv == 2 && stages__iv(&s, 0, &iv) == -ENOENT && x && x->count == 2 &&
	      x->peak_kb == 300 && x->growth_kb == 200);
	stages__free(&s);
	stages__init(&s);
	for (int i = 0; i < 20000; i++)	/* more than the 16384 kept in memory */
		srow(&s, 10 + 10 * (uint64_t)i, 1, 100 + i, "mark", i % 2 ? "odd" : "even");
	srow(&s, 200010, 1, 5, "exit", "x");
	CHECK(stages__finish(&s) == 0 && s.niv == 20000);
	ok = true;
	for (size_t i = 0; i < 20000 && ok; i += 997)
		ok = !stages__iv(&s, i, &iv) && iv.entry_kb == 100 + (int64_t)i &&
		     iv.start_ts_ns == 10 + 10 * i && !strcmp(s.sums[iv.sum].name, i % 2 ? "odd" : "even");
	CHECK(ok);
	CHECK(!stages__iv(&s, 19999, &iv) && iv.exit_kb == 5 && iv.end == STAGE_END_EXIT);
	stages__free(&s);
	end();
}

/* value_compare on line and value: cmp, basis and label as want. */
static bool compares(const char *line, const char *value, enum v_compare cmp, enum v_basis basis,
		     const char *label)
{
	char got[V_LABEL_LEN];
	enum v_basis b;
	enum v_compare c = value_compare(line, value, got, sizeof(got), &b);

	if (c == cmp && b == basis && !strcmp(got, label))
		return true;
	printf("#   '%s' in '%s': %s by %d, label '%s'\n", value, line,
	       c == V_CMP_PEAK ? "peak" : "rss", b, got);
	return false;
}

static void test_value_compare(void)
{
	struct v_cfg cfg = { .compare = V_CMP_AUTO, .tol_pct = 5 };
	struct validation v;

	begin("validate: a value is compared as the words that label it say");
	/* issue 12: "Peak" later in the line is another value's label */
	CHECK(compares("Memory: 13 MB | Images: 20 | Peak: 63 MB", "13 MB", V_CMP_RSS, V_BASIS_LABEL,
		       "Memory:"));
	CHECK(compares("Memory: 13 MB | Images: 20 | Peak: 63 MB", "63 MB", V_CMP_PEAK, V_BASIS_LABEL,
		       "Peak:"));
	CHECK(compares("Peak RSS: 657 MB", "657 MB", V_CMP_PEAK, V_BASIS_LABEL, "Peak RSS:"));
	CHECK(compares("RSS now: 12 MB (peak 40 MB)", "12 MB", V_CMP_RSS, V_BASIS_LABEL, "RSS now:"));
	CHECK(compares("RSS now: 12 MB (peak 40 MB)", "40 MB", V_CMP_PEAK, V_BASIS_LABEL, "peak"));
	/* no separator: back to the previous number, past its unit */
	CHECK(compares("Memory: 13 MB Peak: 63 MB", "63 MB", V_CMP_PEAK, V_BASIS_LABEL, "Peak:"));
	CHECK(compares("Peak: 63 MB Memory: 13 MB", "13 MB", V_CMP_RSS, V_BASIS_LABEL, "Memory:"));
	CHECK(compares("VmHWM:\t  1234 kB", "1234 kB", V_CMP_PEAK, V_BASIS_LABEL, "VmHWM:"));
	CHECK(compares("stats: max_rss=123kB cur=100kB", "100kB", V_CMP_RSS, V_BASIS_LABEL, "cur="));
	CHECK(compares("stats: max_rss=123kB cur=100kB", "123kB", V_CMP_PEAK, V_BASIS_LABEL,
		       "stats: max_rss="));
	/* a bracketed part of a label is kept whole, digits and all */
	CHECK(compares("Memory (peak): 20 MB", "20 MB", V_CMP_PEAK, V_BASIS_LABEL, "Memory (peak):"));
	CHECK(compares("Max RSS (pid 1234): 20 MB", "20 MB", V_CMP_PEAK, V_BASIS_LABEL,
		       "Max RSS (pid 1234):"));
	CHECK(compares("RSS (pid 1234): 20 MB, high water 30 MB", "20 MB", V_CMP_RSS, V_BASIS_LABEL,
		       "RSS (pid 1234):"));
	/* nothing before it: the words after it */
	CHECK(compares("12 MB peak, 3 MB now", "12 MB", V_CMP_PEAK, V_BASIS_LABEL, "peak"));
	CHECK(compares("12 MB peak, 3 MB now", "3 MB", V_CMP_RSS, V_BASIS_LABEL, "now"));
	/* no label at all, or not in the line: the whole line */
	CHECK(compares("peak = [63 MB]", "63 MB", V_CMP_PEAK, V_BASIS_LINE, ""));
	CHECK(compares("63 MB", "63 MB", V_CMP_RSS, V_BASIS_LINE, ""));
	CHECK(compares("Peak RSS: 657 MB (cut", "657 MB)", V_CMP_PEAK, V_BASIS_LINE, ""));
	/* the same text twice: its first place */
	CHECK(compares("Memory: 63 MB | Peak: 63 MB", "63 MB", V_CMP_RSS, V_BASIS_LABEL, "Memory:"));
	/* a long label is cut at a character, never inside one; the words
	 * past the cut still count */
	CHECK(compares("Speicher " "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" "\xc3\xbc max: 5 MB", "5 MB",
		       V_CMP_PEAK, V_BASIS_LABEL, "Speicher xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
	end();

	begin("validate: auto follows the label; --compare current|peak decides for every value");
	for (int k = 0; k < 3; k++) {
		cfg.compare = k == 0 ? V_CMP_AUTO : k == 1 ? V_CMP_RSS : V_CMP_PEAK;
		validation__init(&v, &cfg);
		vrow(&v, 10, 1000, "checkpoint", "", "");
		vrow(&v, 20, 5000, "rss", "", "");
		vrow(&v, 30, 2000, "rss", "", "");
		vrow(&v, 40, 2000, "checkpoint", "", "");
		vrow(&v, 50, 2000, "log", "Memory: 2000 kB | Images: 20 | Peak: 5000 kB", "2000 kB");
		vrow(&v, 60, 2000, "log", "Memory: 2000 kB | Images: 20 | Peak: 5000 kB", "5000 kB");
		validation__finish(&v);
		CHECK(v.nrep == 2);
		if (k == 0) {
			CHECK(v.rep[0].cmp == V_CMP_RSS && v.rep[0].diff_kb == 0 &&
			      v.rep[0].basis == V_BASIS_LABEL && !strcmp(v.rep[0].label, "Memory:"));
			CHECK(v.rep[1].cmp == V_CMP_PEAK && v.rep[1].diff_kb == 0 &&
			      !strcmp(v.rep[1].label, "Peak:"));
			/* the peak figure is the value labelled a peak */
			CHECK(v.app_peak_rep == 1 && v.peak_trusted == 1);
		} else if (k == 1) {
			CHECK(v.rep[0].cmp == V_CMP_RSS && v.rep[0].basis == V_BASIS_OPTION &&
			      v.rep[1].cmp == V_CMP_RSS && v.rep[1].diff_kb == 3000 && !v.rep[1].label[0]);
		} else {
			CHECK(v.rep[0].cmp == V_CMP_PEAK && v.rep[0].basis == V_BASIS_OPTION &&
			      v.rep[0].diff_kb == -3000 && v.rep[1].diff_kb == 0);
		}
		validation__free(&v);
	}
	end();
}

/* resample: the rows it made, kept for the checks */
struct rs_out {
	struct resample_row rows[64];
	int n;
};

static int rs_keep(void *ctx, const struct resample_row *row)
{
	struct rs_out *o = ctx;

	if (o->n == 64)
		return -ENOSPC;
	o->rows[o->n++] = *row;
	return 0;
}

#define MS 1000000ULL

static void test_resample(void)
{
	struct resample_cfg cfg = { .period_ns = 10 * MS, .use_total = true };
	struct resample s;
	struct rs_out o = { .n = 0 };
	const struct resample_row *x;

	begin("resample: the exact value at each instant, max and min since the last one");
	resample__init(&s, &cfg, rs_keep, &o);
	/* total_kb is the value; three rows before 10 ms, one at 12, 25 */
	CHECK(resample__row(&s, MS / 2, 7, false, 100, 1000, 100) == 0);
	CHECK(resample__row(&s, 3 * MS, 7, false, 300, 1000, 300) == 0);
	CHECK(resample__row(&s, 3 * MS, 7, false, 150, 1000, 150) == 0);	/* same instant */
	CHECK(resample__row(&s, 12 * MS, 7, false, 50, 900, 50) == 0);
	CHECK(resample__row(&s, 25 * MS, 7, false, 200, 900, 200) == 0);
	CHECK(resample__finish(&s) == 0);
	CHECK(o.n == 3);
	x = &o.rows[0];
	/* the first interval starts at the first row: 0 before it is not in it */
	CHECK(x->ts_ns == 10 * MS && x->value_kb == 150 && x->vmsize_kb == 1000 && x->rows == 3);
	CHECK(x->max_kb == 300 && x->max_ts_ns == 3 * MS && x->min_kb == 100);
	x = &o.rows[1];
	/* held from before: its max is the value carried in, since 10 ms */
	CHECK(x->ts_ns == 20 * MS && x->value_kb == 50 && x->max_kb == 150 && x->min_kb == 50);
	CHECK(x->max_ts_ns == 10 * MS && x->rows == 1 && x->vmsize_kb == 900);
	x = &o.rows[2];
	CHECK(x->ts_ns == 30 * MS && x->value_kb == 200 && x->max_kb == 200 &&
	      x->max_ts_ns == 25 * MS && x->min_kb == 50 && x->rows == 1);
	CHECK(s.rows_in == 5 && s.rows_out == 3);
	resample__free(&s);
	end();

	begin("resample: a row at an instant is in it; gaps give a row per instant; t0 aligns");
	o.n = 0;
	cfg.t0_ns = 1000;	/* time_s 0 at ts 1000 */
	resample__init(&s, &cfg, rs_keep, &o);
	CHECK(resample__row(&s, 1000 + 10 * MS, 1, false, 8, -1, 8) == 0);
	CHECK(resample__row(&s, 1000 + 20 * MS, 1, false, 16, -1, 16) == 0);
	CHECK(resample__row(&s, 1000 + 51 * MS, 1, false, 4, -1, 4) == 0);
	CHECK(resample__finish(&s) == 0);
	CHECK(o.n == 6);
	CHECK(o.rows[0].ts_ns == 1000 + 10 * MS && o.rows[0].value_kb == 8 && o.rows[0].rows == 1);
	CHECK(o.rows[1].ts_ns == 1000 + 20 * MS && o.rows[1].value_kb == 16 && o.rows[1].min_kb == 8);
	for (int i = 2; i < 5; i++)
		CHECK(o.rows[i].value_kb == 16 && o.rows[i].max_kb == 16 && o.rows[i].min_kb == 16 &&
		      o.rows[i].rows == 0);
	CHECK(o.rows[5].ts_ns == 1000 + 60 * MS && o.rows[5].value_kb == 4 &&
	      o.rows[5].max_kb == 16 && o.rows[5].min_kb == 4);
	CHECK(o.rows[0].vmsize_kb == -1);	/* the trace has none */
	resample__free(&s);
	end();

	begin("resample: the tree without total_rss_kb sums processes; an exit leaves the sums");
	o.n = 0;
	cfg = (struct resample_cfg){ .period_ns = 10 * MS };
	resample__init(&s, &cfg, rs_keep, &o);
	CHECK(resample__row(&s, 1 * MS, 10, false, 100, 1000, -1) == 0);
	CHECK(resample__row(&s, 2 * MS, 11, false, 40, 500, -1) == 0);
	CHECK(resample__row(&s, 15 * MS, 11, true, 60, 500, -1) == 0);	/* dies with 60 */
	CHECK(resample__finish(&s) == 0);
	CHECK(o.n == 2);
	CHECK(o.rows[0].value_kb == 140 && o.rows[0].vmsize_kb == 1500 && o.rows[0].max_kb == 140);
	/* the state it died with (160) counts in the max, then it is gone */
	CHECK(o.rows[1].value_kb == 100 && o.rows[1].vmsize_kb == 1000 &&
	      o.rows[1].max_kb == 160 && o.rows[1].max_ts_ns == 15 * MS && o.rows[1].min_kb == 100);
	resample__free(&s);
	end();

	begin("resample: --pid takes one process, 0 after its exit; none: ENODATA");
	o.n = 0;
	cfg = (struct resample_cfg){ .period_ns = 10 * MS, .pid = 11, .use_total = true };
	resample__init(&s, &cfg, rs_keep, &o);
	CHECK(resample__row(&s, 1 * MS, 10, false, 100, 1000, 100) == 0);
	CHECK(resample__row(&s, 12 * MS, 11, false, 40, 500, 140) == 0);
	CHECK(resample__row(&s, 13 * MS, 10, false, 900, 1000, 940) == 0);
	CHECK(resample__row(&s, 31 * MS, 11, true, 44, 520, 900) == 0);
	CHECK(resample__finish(&s) == 0);
	/* its first row at 12 ms: instants 20, 30, 40 */
	CHECK(o.n == 3 && o.rows[0].ts_ns == 20 * MS && o.rows[0].value_kb == 40 &&
	      o.rows[0].rows == 1 && o.rows[0].vmsize_kb == 500);
	CHECK(o.rows[2].ts_ns == 40 * MS && o.rows[2].value_kb == 0 && o.rows[2].vmsize_kb == 0 &&
	      o.rows[2].max_kb == 44 && o.rows[2].min_kb == 0);
	CHECK(s.rows_in == 2);
	resample__free(&s);
	resample__init(&s, &cfg, rs_keep, &o);
	CHECK(resample__row(&s, 1 * MS, 10, false, 100, 1000, 100) == 0);
	CHECK(resample__finish(&s) == -ENODATA);
	resample__free(&s);
	end();

	begin("resample: memory follows the processes alive; a writer's error, too many rows stop it");
	o.n = 0;
	cfg = (struct resample_cfg){ .period_ns = 1000 * MS, .use_total = true };
	resample__init(&s, &cfg, rs_keep, &o);
	for (pid_t pid = 100; pid < 100100; pid++) {
		uint64_t t = (uint64_t)(pid - 100) * 1000;

		CHECK(resample__row(&s, t, pid, false, 8, 16, 8) == 0);
		CHECK(resample__row(&s, t + 500, pid, true, 8, 16, 0) == 0);
	}
	CHECK(s.procs_cap <= 16 && s.index.n == 0 && s.vmsize_sum_kb == 0);
	resample__free(&s);
	o.n = 60;	/* room for 4 more rows */
	resample__init(&s, &cfg, rs_keep, &o);
	CHECK(resample__row(&s, 0, 1, false, 8, 16, 8) == 0);
	CHECK(resample__row(&s, 10000 * MS, 1, false, 8, 16, 8) == -ENOSPC);
	resample__free(&s);
	/* past max_rows instants: refused before any of them is made */
	o.n = 0;
	cfg.max_rows = 20;
	resample__init(&s, &cfg, rs_keep, &o);
	CHECK(resample__row(&s, 0, 1, false, 8, 16, 8) == 0);
	CHECK(resample__row(&s, 19 * 1000 * MS, 1, false, 8, 16, 8) == 0 && o.n == 19);
	CHECK(resample__row(&s, 20 * 1000 * MS, 1, false, 8, 16, 8) == -EFBIG && o.n == 19);
	resample__free(&s);
	end();
}

static void test_csv_reader_sizes(void)
{
	struct csv_reader r;
	struct csv_row row;
	const char *p;

	begin("csv reader: vmsize_kb and total_rss_kb when asked, -1 when the file has none");
	p = write_tmp(CSV_HEADER "\n"
		      "0.5,100,200,500001000,7,7,exec,50,50,0,0,100,sh,,,,1,,,,64,\n"
		      "0.6,104,208,600001000,7,7,rss,54,50,0,0,300,fault,0x1,0x2,,,,,,64,\n");
	CHECK(csvr__open(&r, p) == 0);
	CHECK(csvr__next(&r, &row) == 1 && row.vmsize_kb == -1 && row.total_rss_kb == -1);
	r.sizes = true;
	CHECK(csvr__next(&r, &row) == 1 && row.vmsize_kb == 208 && row.total_rss_kb == 300);
	csvr__close(&r);
	unlink(p);
	p = write_tmp("time_s,vmrss_kb\n0.01,100\n");
	CHECK(csvr__open(&r, p) == 0);
	r.sizes = true;
	CHECK(csvr__next(&r, &row) == 1 && row.vmsize_kb == -1 && row.total_rss_kb == -1);
	csvr__close(&r);
	unlink(p);
	p = write_tmp("time_s,vmrss_kb,vmsize_kb\n0.01,100,12x\n");
	CHECK(csvr__open(&r, p) == 0);
	r.sizes = true;
	CHECK(csvr__next(&r, &row) < 0 && strstr(r.err, ":2: column vmsize_kb: '12x'"));
	csvr__close(&r);
	unlink(p);
	end();
}

static void test_baseline(void)
{
	struct baseline b;
	int64_t kb = -7;

	begin("baseline: the time-weighted median over a window, lower at a tie");
	baseline__init(&b, 0, 10);
	CHECK(baseline__push(&b, 0, 100) == 0);
	CHECK(baseline__push(&b, 10, 200) == 0);
	CHECK(baseline__push(&b, 10, 200) == 0 && b.n == 2);	/* no change: not kept */
	CHECK(baseline__push(&b, 90, 50) == 0);
	CHECK(baseline__push(&b, 95, 300) == 0);
	/* [90, 100): 50 for 5 ns, 300 for 5 ns: 50 holds for half the time */
	CHECK(baseline__median(&b, 90, 100, &kb) == 0 && kb == 50);
	CHECK(baseline__median(&b, 91, 100, &kb) == 0 && kb == 300);
	/* an empty window: the value then */
	CHECK(baseline__median(&b, 92, 92, &kb) == 0 && kb == 50);
	CHECK(baseline__median(&b, 95, 95, &kb) == 0 && kb == 300);
	baseline__free(&b);
	/* nothing dropped: the whole run, and 0 before the first value */
	baseline__init(&b, 0, 100);
	CHECK(baseline__push(&b, 20, 100) == 0 && baseline__push(&b, 30, 200) == 0);
	CHECK(baseline__median(&b, 0, 100, &kb) == 0 && kb == 200);	/* 0:20 100:10 200:70 */
	CHECK(baseline__median(&b, 0, 40, &kb) == 0 && kb == 0);	/* 0:20 of 40: half */
	CHECK(baseline__median(&b, 0, 41, &kb) == 0 && kb == 100);	/* 0:20 100:10 200:11 */
	CHECK(baseline__median(&b, 0, 30, &kb) == 0 && kb == 0);	/* 0:20 100:10 */
	baseline__free(&b);
	end();

	begin("baseline: memory follows the last tenth; an earlier window is refused, not guessed");
	baseline__init(&b, 1000, 10);
	{
		int e = 0;

		for (uint64_t t = 0; t < 1000000 && !e; t++)
			e = baseline__push(&b, 1000 + t, (int64_t)(t * 7919 % 1000));
		CHECK(e == 0);
	}
	/* at t = 999,999: kept from 900,000 on (and the one before) */
	CHECK(b.n <= 100001 && b.cap <= 262144);
	{
		/* the last tenth, against a count of every value's time */
		static uint64_t held[1000];
		uint64_t end = 1000 + 1000000, from = end - 1000000 / 10, sum = 0;
		int64_t want = -1;

		memset(held, 0, sizeof(held));
		for (uint64_t t = from - 1000; t < end - 1000; t++)
			held[t * 7919 % 1000]++;
		for (int v = 0; v < 1000 && want < 0; v++)
			if (2 * (sum += held[v]) >= 100000)
				want = v;
		CHECK(baseline__median(&b, from, end, &kb) == 0 && kb == want);
	}
	CHECK(baseline__median(&b, 1000 + 800000, 1000 + 1000000, &kb) == -ERANGE);
	baseline__free(&b);
	end();
}

static void test_result_versions(void)
{
	struct run_result r = { .index = 2, .repeat = 1, .exit_code = 0, .peak_rss_kb = 900,
				.baseline_kb = 700, .peak_vmsize_kb = 5000, .peak_vmdata_kb = -1 },
			  res[4] = {};
	struct config_stats *st;
	char text[1024], err[512];
	int n;

	begin("result.csv: this version's and the first's header read; unknown figures empty");
	snprintf(r.config, sizeof(r.config), "A=1");
	snprintf(r.status, sizeof(r.status), "ok");
	n = snprintf(text, sizeof(text), "%s\n", RESULT_HEADER);
	n += result_format(text + n, sizeof(text) - (size_t)n, &r);
	CHECK(strstr(text, ",0,700,5000,\n") != NULL);
	CHECK(result_of(text, (size_t)n, err, sizeof(err)) == 0);
	CHECK(back.baseline_kb == 700 && back.peak_vmsize_kb == 5000 && back.peak_vmdata_kb == -1);
	/* the first version's file: the figures are not known */
	n = snprintf(text, sizeof(text), "%s\n%s0\n", RESULT_HEADER_V1, RESULT_ROW);
	CHECK(result_of(text, (size_t)n, err, sizeof(err)) == 0);
	CHECK(back.index == 3 && back.peak_rss_kb == 1000 && back.baseline_kb == -1 &&
	      back.peak_vmsize_kb == -1 && back.peak_vmdata_kb == -1);
	n = snprintf(text, sizeof(text), "%s\r\n%s0\r\n", RESULT_HEADER_V1, RESULT_ROW);
	CHECK(result_of(text, (size_t)n, err, sizeof(err)) == 0);
	/* a header and a row of different versions, a negative figure */
	n = snprintf(text, sizeof(text), "%s\n%s0\n", RESULT_HEADER, RESULT_ROW);
	CHECK(result_of(text, (size_t)n, err, sizeof(err)) == -EINVAL && strstr(err, ":2: "));
	n = snprintf(text, sizeof(text), "%s\n%s0,1,2,3\n", RESULT_HEADER_V1, RESULT_ROW);
	CHECK(result_of(text, (size_t)n, err, sizeof(err)) == -EINVAL && strstr(err, ":2: "));
	n = snprintf(text, sizeof(text), "%s\n%s0,-5,2,3\n", RESULT_HEADER, RESULT_ROW);
	CHECK(result_of(text, (size_t)n, err, sizeof(err)) == -EINVAL);
	n = snprintf(text, sizeof(text), "%s\n%s0,,,\n", RESULT_HEADER, RESULT_ROW);
	CHECK(result_of(text, (size_t)n, err, sizeof(err)) == 0 && back.baseline_kb == -1);
	end();

	begin("campaign statistics: the new figures over the runs that have them");
	for (int i = 0; i < 4; i++) {
		res[i] = r;
		res[i].index = i;
		res[i].baseline_kb = 1000 + 1000 * i;
		res[i].peak_vmsize_kb = res[i].peak_vmdata_kb = 100 * (i + 1);
	}
	res[0].baseline_kb = res[0].peak_vmsize_kb = res[0].peak_vmdata_kb = -1;	/* v1 */
	res[3].exit_code = 1;
	n = stats_by_config(res, 4, &st);
	CHECK(n == 1);
	if (n == 1) {
		CHECK(st[0].runs == 3 && st[0].failed == 1);
		CHECK(st[0].baseline_runs == 2 && st[0].mean_base_kb == 2500 &&
		      st[0].min_base_kb == 2000 && st[0].max_base_kb == 3000);
		CHECK(st[0].std_base_kb > 707.10 && st[0].std_base_kb < 707.11);	/* n-1 */
		CHECK(st[0].vm_runs == 2 && st[0].mean_vmsize_kb == 250 && st[0].max_vmdata_kb == 300);
	}
	free(st);
	CHECK(!strcmp(STATS_STD_KIND, "sample (n-1)"));
	end();
}

/* A memory sink for zenc__write. */
struct membuf {
	char *p;
	size_t len, cap;
};

static int mem_sink(void *ctx, const void *p, size_t n)
{
	struct membuf *m = ctx;

	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		m->p = realloc(m->p, m->cap);
	}
	memcpy(m->p + m->len, p, n);
	m->len += n;
	return 0;
}

/* rows 0..n-1 of a trace, as text */
static char *trace_text(int first, int n, size_t *len)
{
	size_t cap = (size_t)n * 128 + 512, l = 0;
	char *t = malloc(cap);

	if (first == 0)
		l += (size_t)snprintf(t, cap, "%s\n", CSV_HEADER);
	for (int i = first; i < first + n; i++)
		l += (size_t)snprintf(t + l, cap - l, "%d.%09d,%d,2000,%llu,7,7,rss,%d,0,0,0,%d,"
				      "fault,0x1,0x2,,,,,,64,\n", i / 1000, (i % 1000) * 1000000,
				      1000 + i % 977, 1000000000ull + (unsigned long long)i * 1000000,
				      1000 + i % 977, 1000 + i % 977);
	*len = l;
	return t;
}

/* Reads path to its end: rows, or -1 on an error; checks each row is the
 * i-th trace_text() wrote. */
static long read_trace_rows(const char *path, bool *warned, char *err, size_t errlen)
{
	struct csv_reader r;
	struct csv_row row;
	long n = 0;
	int e;

	if (csvr__open(&r, path)) {
		snprintf(err, errlen, "%s", r.err);
		*warned = r.warned;
		csvr__close(&r);
		return -1;
	}
	while ((e = csvr__next(&r, &row)) == 1) {
		if (row.vmrss_kb != 1000 + n % 977 || row.ts_ns != 1000000000ull + (uint64_t)n * 1000000) {
			snprintf(err, errlen, "row %ld: %lld kB at %llu", n, (long long)row.vmrss_kb,
				 (unsigned long long)row.ts_ns);
			e = -1;
			break;
		}
		n++;
	}
	if (e < 0 && e != -1)
		snprintf(err, errlen, "%s", r.err);
	*warned = r.warned;
	csvr__close(&r);
	return e < 0 ? -1 : n;
}

static void test_compressed(void)
{
	static const enum zformat fmts[] = { ZF_ZSTD, ZF_GZIP };

	CHECK(zformat_of_path("t.csv.zst") == ZF_ZSTD && zformat_of_path("t.csv.gz") == ZF_GZIP &&
	      zformat_of_path("t.csv") == ZF_PLAIN && zformat_of_path("t.zip") == ZF_PLAIN &&
	      zformat_of_path(".zst") == ZF_PLAIN);
	for (int k = 0; k < 2; k++) {
		enum zformat f = fmts[k];
		struct membuf m = { 0 };
		struct zenc *z;
		char err[512] = "", *a, *b;
		size_t la, lb;
		const char *p;
		bool warned;
		long rows;

		begin(f == ZF_ZSTD ? "zstd trace: frames read back as one stream; a cut one up to its last row"
				   : "gzip trace: members read back as one stream; a cut one up to its last row");
		/* two frames (members), as linebuf's once-a-second ends make */
		a = trace_text(0, 60000, &la);
		b = trace_text(60000, 40000, &lb);
		CHECK(zenc__new(&z, f) == 0);
		CHECK(zenc__write(z, a, la, true, mem_sink, &m) == 0);
		CHECK(zenc__write(z, b, lb, false, mem_sink, &m) == 0);
		CHECK(zenc__write(z, NULL, 0, true, mem_sink, &m) == 0);
		zenc__free(z);
		CHECK(m.len * 5 < la + lb);
		p = write_tmp_n(m.p, m.len);
		rows = read_trace_rows(p, &warned, err, sizeof(err));
		if (rows != 100000 || warned)
			printf("#   %ld rows (want 100000), warned %d: %s\n", rows, warned, err);
		CHECK(rows == 100000 && !warned);
		unlink(p);
		/* cut: inside the second frame, and inside the first; whole
		 * rows up to the cut, a warning, never an error */
		for (size_t cut = m.len - 1; cut > 16; cut = cut * 2 / 5) {
			p = write_tmp_n(m.p, cut);
			rows = read_trace_rows(p, &warned, err, sizeof(err));
			bool ok = warned && (rows >= 0 ? rows <= 100000 : !!strstr(err, "header"));

			if (!ok)
				printf("#   cut at %zu of %zu: %ld rows, warned %d: %s\n", cut, m.len,
				       rows, warned, err);
			CHECK(ok);
			unlink(p);
		}
		/* a frame's bytes changed: an error naming the format, not a crash */
		memset(m.p + m.len / 2, 0x55, 64);
		p = write_tmp_n(m.p, m.len);
		rows = read_trace_rows(p, &warned, err, sizeof(err));
		/* (zstd's checksum finds it; deflate may first give text
		 * that is not a row, an error of the reader's) */
		if (rows != -1 || !strstr(err, "/tmp/memtrace-unit-"))
			printf("#   changed bytes: %ld rows, warned %d: %s\n", rows, warned, err);
		CHECK(rows == -1 && strstr(err, "/tmp/memtrace-unit-"));
		unlink(p);
		/* the magic, and nothing else */
		p = write_tmp_n(m.p, 4);
		rows = read_trace_rows(p, &warned, err, sizeof(err));
		CHECK(rows == -1 && strstr(err, "before its header"));
		unlink(p);
		free(a);
		free(b);
		free(m.p);
		end();
	}

	begin("compressed linebuf: a write error cuts the file to its last whole frame");
	{
		struct linebuf lb;
		int full = open("/dev/full", O_WRONLY | O_CLOEXEC);

		CHECK(full >= 0 && linebuf__init(&lb, full, true) == 0);
		CHECK(linebuf__compress(&lb, ZF_ZSTD) == 0);
		CHECK(linebuf__append(&lb, "x\n", 2) == 0);
		CHECK(linebuf__close(&lb) == -ENOSPC && lb.lines_written == 0);
	}
	end();
}

/* thin: what it wrote */
static struct { uint64_t ts, folded; uint32_t type; int64_t pages; } thin_got[64];
static int thin_ngot;

static int thin_collect(void *ctx, const struct mt_rec *rec, uint64_t folded)
{
	(void)ctx;
	if (thin_ngot < 64)
		thin_got[thin_ngot++] = (typeof(thin_got[0])){ rec->ts_ns, folded, rec->type,
							       rec->pages[MT_ANON] };
	return 0;
}

static void thin_rec(struct thin *t, uint32_t type, uint32_t pid, uint64_t ts, int64_t pages)
{
	struct mt_rec r;

	memset(&r, 0, sizeof(r));
	r.type = type;
	r.pid = pid;
	r.ts_ns = ts;
	r.pages[MT_ANON] = pages;
	CHECK(thin__push(t, &r) == 0);
}

static void test_thin(void)
{
	struct thin *t;

	begin("--resolution: a window's min and max in time order, its end when nothing follows");
	CHECK(thin__new(&t, 1000, thin_collect, NULL) == 0);
	thin_ngot = 0;
	/* pid 1, window 0: 10, 20, 5, 15; then quiet */
	thin_rec(t, MT_REC_RSS, 1, 100, 10);
	thin_rec(t, MT_REC_RSS, 1, 200, 20);
	thin_rec(t, MT_REC_RSS, 1, 300, 5);
	thin_rec(t, MT_REC_RSS, 1, 400, 15);
	CHECK(thin_ngot == 0);
	CHECK(thin__advance(t, 1500) == 0 && thin_ngot == 0);	/* window 1 not whole */
	CHECK(thin__advance(t, 1999) == 0 && thin_ngot == 3);
	CHECK(thin_got[0].ts == 200 && thin_got[0].pages == 20 && thin_got[0].folded == 0);
	CHECK(thin_got[1].ts == 300 && thin_got[1].pages == 5 && thin_got[1].folded == 0);
	CHECK(thin_got[2].ts == 400 && thin_got[2].pages == 15 && thin_got[2].folded == 4);
	CHECK(thin__written_until(t) == 1000);
	/* pid 2, window 5: 1, 9, 4, and a change in window 6: its end is not
	 * kept; an mmap between takes its place */
	thin_ngot = 0;
	thin_rec(t, MT_REC_RSS, 2, 5100, 1);
	thin_rec(t, MT_REC_SYSCALL, 2, 5150, 0);
	thin_rec(t, MT_REC_RSS, 2, 5200, 9);
	thin_rec(t, MT_REC_RSS, 2, 5300, 4);
	thin_rec(t, MT_REC_RSS, 2, 6100, 3);
	thin_rec(t, MT_REC_EXIT, 2, 6200, 3);
	CHECK(thin__nprocs(t) == 2);
	CHECK(thin__advance(t, 6999) == 0 && thin_ngot == 3);
	CHECK(thin_got[0].ts == 5100 && thin_got[0].folded == 0);
	CHECK(thin_got[1].ts == 5150 && thin_got[1].type == MT_REC_SYSCALL);
	CHECK(thin_got[2].ts == 5200 && thin_got[2].pages == 9 && thin_got[2].folded == 3);
	/* window 6: one change (its own min, max and end: one row) and the exit */
	CHECK(thin__flush(t) == 0 && thin_ngot == 5);
	CHECK(thin_got[3].ts == 6100 && thin_got[3].folded == 1);
	CHECK(thin_got[4].ts == 6200 && thin_got[4].type == MT_REC_EXIT);
	/* pid 2 is gone once its exit is written; pid 1 lives */
	CHECK(thin__nprocs(t) == 1);
	/* a record the ring gave late: written as it comes */
	thin_ngot = 0;
	thin_rec(t, MT_REC_RSS, 1, 50, 1);
	CHECK(thin_ngot == 1 && thin_got[0].ts == 50 && thin_got[0].folded == 0);
	thin__free(t);
	end();
}

static void test_csv_reader_columns(void)
{
	struct csv_reader r;
	struct csv_row row;
	const char *p;
	int64_t kb = 0;

	begin("csv reader: any column by name, as text or as a size in kB");
	p = write_tmp(CSV_HEADER ",extra\n"
		      "0.5,100,200,500001000,7,8,exec,50,40,10,3,100,sh,,,,1,,,,64,,x\n"
		      "0.6,104,208,600001000,7,8,rss,5x,50,0,0,300,fault,0x1,0x2,,,,,,64,,\n");
	CHECK(csvr__open(&r, p) == 0);
	CHECK(csvr__column(&r, "rss_file_kb") == 8 && csvr__column(&r, "extra") == 22);
	CHECK(csvr__column(&r, "nope") == -1 && csvr__column(&r, "") == -1);
	CHECK(csvr__next(&r, &row) == 1);
	CHECK_STR(csvr__field(&r, csvr__column(&r, "tid")), "8");
	CHECK_STR(csvr__field(&r, 22), "x");
	CHECK_STR(csvr__field(&r, -1), "");
	CHECK_STR(csvr__field(&r, 23), "");
	CHECK(csvr__kb(&r, 8, &kb) == 0 && kb == 40);
	CHECK(csvr__kb(&r, -1, &kb) == 0 && kb == -1);
	CHECK(csvr__next(&r, &row) == 1);
	CHECK(csvr__kb(&r, csvr__column(&r, "rss_anon_kb"), &kb) == -EINVAL &&
	      strstr(r.err, ":3: column rss_anon_kb: '5x' is not a size in kB"));
	CHECK_STR(csvr__field(&r, 22), "");
	csvr__close(&r);
	CHECK(r.header == NULL && csvr__column(&r, "pid") == -1);
	unlink(p);
	end();
}

/* p's bytes are want's (n of them); says where they differ. */
static bool pb_is(const struct pb *p, const char *want, size_t n)
{
	if (p->overflow || p->len != n || memcmp(p->buf, want, n)) {
		printf("#   got %zu bytes%s:", p->len, p->overflow ? " (overflow)" : "");
		for (size_t i = 0; i < p->len && i < 24; i++)
			printf(" %02x", p->buf[i]);
		printf("\n");
		return false;
	}
	return true;
}

#define PB_IS(p, lit) pb_is(p, lit, sizeof(lit) - 1)

static void test_pb_varint(void)
{
	static const struct {
		uint64_t v;
		const char *bytes;
		size_t n;
	} cases[] = {
		{ 0, "\x00", 1 },
		{ 1, "\x01", 1 },
		{ 127, "\x7f", 1 },
		{ 128, "\x80\x01", 2 },
		{ 150, "\x96\x01", 2 },
		{ 300, "\xac\x02", 2 },
		{ 16383, "\xff\x7f", 2 },
		{ 16384, "\x80\x80\x01", 3 },
		{ 1ULL << 32, "\x80\x80\x80\x80\x10", 5 },
		{ (1ULL << 63) - 1, "\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 9 },
		{ UINT64_MAX, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10 },
	};

	begin("protobuf: varints, 1 to 10 bytes, 7 bits a byte, low bits first");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t out[PB_VARINT_MAX + 2];
		size_t n;

		memset(out, 0xaa, sizeof(out));
		n = pb_varint(out, cases[i].v);
		CHECK(n == cases[i].n && !memcmp(out, cases[i].bytes, n) && out[n] == 0xaa);
		CHECK(pb_varint_len(cases[i].v) == cases[i].n);
	}
	end();
}

static void test_pb_fields(void)
{
	uint8_t buf[512], small[6];
	char long_text[200];
	struct pb p;

	/* the examples of protobuf's encoding guide, and what Perfetto's
	 * fields look like */
	begin("protobuf: field tags and values (varint, int64, string, bytes)");
	pb__init(&p, buf, sizeof(buf));
	pb__uint(&p, 1, 150);
	CHECK(PB_IS(&p, "\x08\x96\x01"));
	pb__reset(&p);
	pb__str(&p, 2, "testing", SIZE_MAX);
	CHECK(PB_IS(&p, "\x12\x07testing"));
	pb__reset(&p);
	/* TracePacket.timestamp_clock_id = 58: a two-byte tag */
	pb__uint(&p, 58, 3);
	CHECK(PB_IS(&p, "\xd0\x03\x03"));
	pb__reset(&p);
	/* an int64 below 0: ten bytes, not zigzag */
	pb__int(&p, 4, -1);
	CHECK(PB_IS(&p, "\x20\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"));
	pb__reset(&p);
	pb__int(&p, 4, 1024);
	CHECK(PB_IS(&p, "\x20\x80\x08"));
	pb__reset(&p);
	pb__bytes(&p, 3, "\x00\xff", 2);
	CHECK(PB_IS(&p, "\x1a\x02\x00\xff"));
	pb__reset(&p);
	pb__str(&p, 2, "", SIZE_MAX);
	CHECK(PB_IS(&p, "\x12\x00"));
	pb__reset(&p);
	pb__str(&p, 2, "abcdef", 3);	/* the first n bytes */
	CHECK(PB_IS(&p, "\x12\x03" "abc"));
	end();

	begin("protobuf: nested messages, their length written when they end");
	pb__init(&p, buf, sizeof(buf));
	pb__begin(&p, 3);
	pb__uint(&p, 1, 150);
	pb__end(&p);
	CHECK(PB_IS(&p, "\x1a\x03\x08\x96\x01"));
	pb__reset(&p);
	pb__begin(&p, 1);
	pb__begin(&p, 11);
	pb__end(&p);
	pb__uint(&p, 8, 1);
	pb__end(&p);
	CHECK(PB_IS(&p, "\x0a\x04\x5a\x00\x40\x01"));
	/* a content over 127 bytes: a two-byte length, the content moved
	 * after it, the outer length counting it */
	pb__reset(&p);
	memset(long_text, 'x', sizeof(long_text));
	pb__begin(&p, 1);
	pb__begin(&p, 2);
	pb__bytes(&p, 6, long_text, sizeof(long_text));
	pb__end(&p);
	pb__uint(&p, 8, 7);
	pb__end(&p);
	CHECK(!p.overflow && p.len == 2 + 2 + 3 + 200 + 2 + 2);
	CHECK(!memcmp(p.buf, "\x0a\xd0\x01\x12\xcb\x01\x32\xc8\x01", 9));
	CHECK(p.buf[9] == 'x' && p.buf[208] == 'x' && p.buf[209] == 0x40 && p.buf[210] == 7);
	CHECK(p.depth == 0);
	end();

	begin("protobuf: strings are valid UTF-8 (an invalid byte is U+FFFD)");
	pb__init(&p, buf, sizeof(buf));
	pb__str(&p, 2, "a\xff" "b", SIZE_MAX);
	CHECK(PB_IS(&p, "\x12\x05" "a\xef\xbf\xbd" "b"));
	pb__reset(&p);
	pb__str(&p, 2, "\xc3\xa9t\xc3\xa9", SIZE_MAX);	/* été: kept */
	CHECK(PB_IS(&p, "\x12\x05\xc3\xa9t\xc3\xa9"));
	pb__reset(&p);
	/* a sequence cut short by the end, a surrogate, an overlong form */
	pb__str(&p, 2, "\xe2\x82", SIZE_MAX);
	CHECK(PB_IS(&p, "\x12\x06\xef\xbf\xbd\xef\xbf\xbd"));
	pb__reset(&p);
	pb__str(&p, 2, "\xed\xa0\x80", 3);
	CHECK(p.len == 2 + 9 && !p.overflow);
	pb__reset(&p);
	pb__str(&p, 2, "\xc0\xaf", 2);
	CHECK(PB_IS(&p, "\x12\x06\xef\xbf\xbd\xef\xbf\xbd"));
	end();

	begin("protobuf: what does not fit is said (overflow), never cut silently");
	pb__init(&p, small, sizeof(small));
	pb__uint(&p, 1, 150);
	CHECK(!p.overflow && p.len == 3);
	pb__str(&p, 2, "testing", SIZE_MAX);
	CHECK(p.overflow);
	pb__reset(&p);
	CHECK(!p.overflow && p.len == 0);
	/* a nested content that fits until its length needs a second byte */
	pb__init(&p, buf, 130);
	pb__begin(&p, 1);
	pb__bytes(&p, 2, long_text, 126);
	CHECK(!p.overflow && p.len == 130);
	pb__end(&p);
	CHECK(p.overflow && p.depth == 0);
	/* deeper than PB_MAX_DEPTH, and an end without a begin */
	pb__init(&p, buf, sizeof(buf));
	for (int i = 0; i <= PB_MAX_DEPTH; i++)
		pb__begin(&p, 1);
	CHECK(p.overflow);
	for (int i = 0; i <= PB_MAX_DEPTH; i++)
		pb__end(&p);
	CHECK(p.depth == 0);
	pb__reset(&p);
	pb__end(&p);
	CHECK(p.overflow);
	end();
}

/* The next length-delimited field at *at in buf: its number and content;
 * false at the end or on a field of another wire type. */
static bool pb_next(const uint8_t *buf, size_t len, size_t *at, uint32_t *field,
		    const uint8_t **data, size_t *n)
{
	uint64_t v[2] = { 0, 0 };

	for (int k = 0; k < 2; k++) {
		for (int shift = 0; *at < len; shift += 7) {
			uint8_t b = buf[(*at)++];

			v[k] |= (uint64_t)(b & 0x7f) << shift;
			if (!(b & 0x80))
				break;
		}
	}
	if ((v[0] & 7) != 2 || *at + v[1] > len)
		return false;
	*field = (uint32_t)(v[0] >> 3);
	*data = buf + *at;
	*n = (size_t)v[1];
	*at += *n;
	return true;
}

static void test_perfetto_rows(void)
{
	struct pf_cfg cfg = { .total = true, .pids = true, .monotonic = true, .title = "t" };
	struct pf_row r = { 0 };
	struct pf_out o;
	char *data = NULL;
	size_t size = 0, at = 0, packets = 0, n;
	const uint8_t *d;
	uint32_t field;
	FILE *f;

	begin("perfetto: a value per change, 0 after exit, a reused pid is a new process, "
	      "spans per name");
	cfg.counter[PF_RSS] = cfg.counter[PF_ANON] = true;
	f = open_memstream(&data, &size);
	CHECK(f && pf_out__init(&o, &cfg, f) == 0);
	r.tid = r.cause = r.label = r.reported = r.reported_kb = r.addr = r.len = r.ret = "";
	for (int k = 0; k < PF_NCOUNTERS; k++)
		r.kb[k] = -1;
#define ROW(ts_, pid_, type_, rss_, anon_, total_, cause_, label_) do {		\
		r.ts_ns = (ts_); r.pid = (pid_); r.type = (type_);			\
		r.kb[PF_RSS] = (rss_); r.kb[PF_ANON] = (anon_); r.total_kb = (total_);\
		r.cause = (cause_); r.label = (label_);					\
		CHECK(pf_out__row(&o, &r) == 0);					\
	} while (0)
	/* snapshot, tree track; process 7; its 2 counters' tracks and
	 * values; the tree's value; exec instant */
	ROW(1000, 7, MT_REC_EXEC, 100, 50, 100, "sh", "");
	CHECK(o.st.packets == 1 + 1 + 1 + 2 + 2 + 1 + 1 && o.st.processes == 1);
	CHECK(o.st.counter_values == 3);
	/* only rss and the tree changed */
	ROW(2000, 7, MT_REC_RSS, 104, 50, 104, "fault", "");
	CHECK(o.st.counter_values == 5 && o.st.instants == 1);
	/* nothing changed: no packet */
	ROW(2500, 7, MT_REC_RSS, 104, 50, 104, "fault", "");
	CHECK(o.st.packets == 11);
	/* spans: a track for "load" (descriptor), begin, nested begin, two
	 * ends; an end never begun is an instant */
	ROW(3000, 7, MT_REC_MARK, 104, 50, 104, "usdt", "load:begin");
	ROW(3100, 7, MT_REC_MARK, 104, 50, 104, "usdt", "load:begin");
	ROW(3200, 7, MT_REC_MARK, 104, 50, 104, "usdt", "load:end");
	ROW(3300, 7, MT_REC_MARK, 104, 50, 104, "usdt", "load:end");
	ROW(3400, 7, MT_REC_MARK, 104, 50, 104, "usdt", "load:end");
	ROW(3500, 7, MT_REC_MARK, 104, 50, 104, "fd", "frame");
	CHECK(o.st.slices == 2 && o.st.instants == 3 && o.nnames == 1 && o.nspans == 1);
	CHECK(o.st.packets == 11 + 1 + 4 + 2);
	/* exit: its instant, then rss and anon to 0 (the tree's total is
	 * the row's); the process and its span track are gone */
	ROW(4000, 7, MT_REC_EXIT, 104, 50, 0, "sh", "");
	CHECK(o.st.counter_values == 5 + 1 + 2 && o.nfree == 1 && o.free_span == 0);
	CHECK(idmap__get(&o.pidx, 7) < 0 && idmap__get(&o.span_ix, 0) < 0);
	/* pid 7 again: a new process (new tracks), its slot reused; anon
	 * 0: no track for it yet, until a value that is not 0 */
	at = o.st.packets;
	ROW(5000, 7, MT_REC_EXEC, 10, 0, 10, "other", "");
	CHECK(o.st.processes == 2 && o.nprocs == 1 && o.nfree == 0);
	CHECK(o.st.packets == at + 1 + 2 + 1 + 1 && o.procs[0].last[PF_ANON] == -1);
	ROW(5050, 7, MT_REC_RSS, 14, 4, 14, "fault", "");
	CHECK(o.st.packets == at + 5 + 1 + 2 + 1 && o.procs[0].last[PF_ANON] == 4);
	at = 0;
	/* uuids: 1 the tree, 2-8 the first process and its counters, 9 its
	 * span track */
	CHECK(o.procs[0].uuid == 10 && o.procs[0].born == 1);
	ROW(5100, 7, MT_REC_MARK, 10, 10, 10, "usdt", "load:begin");
	CHECK(o.nspans == 1 && o.free_span == SIZE_MAX && o.spans[0].depth == 1);
#undef ROW
	CHECK(fflush(f) == 0);
	/* the file: one Trace.packet field per packet counted, nothing else */
	while (at < size && pb_next((const uint8_t *)data, size, &at, &field, &d, &n) && field == 1)
		packets++;
	CHECK(at == size && packets == o.st.packets);
	pf_out__free(&o);
	fclose(f);
	free(data);
	end();
}

/* ---- report/decimate: min/max buckets against the rows themselves ---- */

/* A pseudo-random sequence the tests can repeat. */
static uint64_t dec_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* What bucket [a, b) must hold: the value held just before a (the last
 * row before it, unless cut after it) and every row in it. */
struct dec_row { uint64_t ts; int64_t v; bool cut; };

static bool dec_expect(const struct dec_row *rows, size_t n, uint64_t a, uint64_t b,
		       int64_t *lo, int64_t *hi, uint32_t *cnt, bool *end_def, bool *cut)
{
	bool has = false, held = false;
	int64_t cur = 0;

	*cnt = 0;
	*cut = false;
	for (size_t i = 0; i < n && rows[i].ts < b; i++) {
		if (rows[i].ts < a) {
			held = !rows[i].cut;
			cur = rows[i].v;
			continue;
		}
		if (held && !has) {
			*lo = *hi = cur;	/* carried in */
			has = true;
		}
		if (rows[i].cut) {
			held = false;
			*cut = true;
			continue;
		}
		if (!has || rows[i].v < *lo)
			*lo = rows[i].v;
		if (!has || rows[i].v > *hi)
			*hi = rows[i].v;
		has = true;
		held = true;
		cur = rows[i].v;
		(*cnt)++;
	}
	if (held && !has) {
		*lo = *hi = cur;
		has = true;
	}
	*end_def = held;
	return has;
}

/* Every bucket of g against the rows: lo, hi, rows in it, end defined. */
static int dec_check(const struct mm_grid *g, const struct dec_row *rows, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < g->n; i++) {
		uint64_t a = g->origin + i * g->w;
		int64_t lo = 0, hi = 0;
		uint32_t cnt;
		bool end_def, cut, has = dec_expect(rows, n, a, a + g->w, &lo, &hi, &cnt, &end_def, &cut);
		const struct mm_bucket *b = &g->b[i];

		if (has != !!(b->flags & MM_HAS) || (has && (lo != b->lo || hi != b->hi)) ||
		    cnt != b->n || end_def != !!(b->flags & MM_END) || cut != !!(b->flags & MM_CUT)) {
			if (bad++ < 3)
				printf("#   bucket %zu of w %llu: got lo %lld hi %lld n %u flags %d, want "
				       "has %d lo %lld hi %lld n %u end %d cut %d\n", i,
				       (unsigned long long)g->w, (long long)b->lo, (long long)b->hi, b->n,
				       b->flags, has, (long long)lo, (long long)hi, cnt, end_def, cut);
		}
	}
	return bad;
}

static void test_decimate_grid(void)
{
	static struct dec_row rows[20000];
	struct mm_grid g, c;
	uint64_t seed = 42, ts = 1000;
	size_t n = 0;
	int64_t v = 500;

	begin("decimate: each bucket's min and max are the rows' own, through every doubling");
	CHECK(!mm_grid__init(&g, 64, ts, 1, 0));
	/* bursts of close rows, quiet stretches, spikes of one row, cuts */
	while (n < sizeof(rows) / sizeof(rows[0])) {
		uint64_t r = dec_rand(&seed);

		ts += r % 16 == 0 ? 1 + r % 100000 : r % 5;
		if (r % 97 == 0) {
			rows[n++] = (struct dec_row){ ts, 0, true };
			CHECK(!mm_grid__cut(&g, ts));
			continue;
		}
		v += (int64_t)(r >> 8) % 2001 - 1000;
		if (r % 50 == 1)
			v += 1 << 20;	/* a spike of one row: held until the next */
		else if (v > 1 << 19)
			v -= 1 << 20;
		rows[n++] = (struct dec_row){ ts, v, false };
		CHECK(!mm_grid__push(&g, ts, v, NULL));
	}
	CHECK(g.w > 1 && g.n <= 64);
	CHECK(dec_check(&g, rows, n) == 0);
	/* a coarser level is the grid as if it had been that wide */
	for (unsigned int k = 1; k <= 4; k++) {
		CHECK(!mm_grid__coarsen(&g, k, &c));
		CHECK(c.w == g.w << k && c.n == (g.n + (1u << k) - 1) >> k);
		CHECK(dec_check(&c, rows, n) == 0);
		mm_grid__free(&c);
	}
	/* time going back, or before the origin, is refused */
	CHECK(mm_grid__push(&g, ts - 1, 0, NULL) == -ERANGE);
	CHECK(mm_grid__push(&g, 10, 0, NULL) == -ERANGE);
	mm_grid__free(&g);
	end();
}

static void test_decimate_extras(void)
{
	struct mm_grid g;
	int64_t x[3];

	begin("decimate: the parts at each bucket's highest point and at its end");
	CHECK(!mm_grid__init(&g, 4, 0, 10, 3));
	for (int i = 0; i < 40; i++) {
		/* a peak of 100 + i at i*7 within rising then falling values */
		int64_t v = i % 5 == 2 ? 100 + i : i;

		x[0] = v / 2;
		x[1] = v - v / 2;
		x[2] = i;
		CHECK(!mm_grid__push(&g, (uint64_t)i * 7, v, x));
	}
	for (size_t i = 0; i < g.n; i++) {
		const struct mm_bucket *b = &g.b[i];

		CHECK(b->xhi[0] + b->xhi[1] == b->hi);	/* parts sum to the highest */
		CHECK(b->xend[0] + b->xend[1] == b->end);
	}
	mm_grid__free(&g);
	end();
}

static void test_decimate_raw(void)
{
	struct rec { uint64_t ts; int64_t v; } rec;
	struct mm_grid g;
	struct mm_raw raw;
	uint64_t seed = 7, ts = 0;
	size_t kept_rows = 0;
	bool in_order = true;

	begin("decimate: rows kept whole for the buckets that hold few, within the store");
	CHECK(!mm_grid__init(&g, 256, 0, 1, 0));
	CHECK(!mm_raw__init(&raw, &g, sizeof(rec), 512));
	for (int i = 0; i < 20000; i++) {
		uint64_t r = dec_rand(&seed);

		/* mostly sparse; now and then a dense burst */
		ts += (i / 500) % 4 == 3 ? 1 : 50 + r % 5000;
		rec.ts = ts;
		rec.v = (int64_t)(r % 1000);
		CHECK(!mm_grid__push(&g, ts, rec.v, NULL));
		CHECK(!mm_raw__push(&raw, &rec));
		CHECK(raw.n <= raw.cap);
	}
	mm_raw__compact(&raw);
	/* the store holds exactly the rows of the whole buckets */
	for (size_t i = 0; i < g.n; i++)
		if (g.b[i].n && mm_raw__whole(&raw, i))
			kept_rows += g.b[i].n;
	CHECK(kept_rows == raw.n);
	CHECK(raw.per >= 1 && raw.per < UINT32_MAX);
	for (size_t k = 1; k < raw.n; k++)
		in_order &= mm_raw__ts(&raw, k - 1) <= mm_raw__ts(&raw, k);
	CHECK(in_order);
	/* few rows: every one kept */
	mm_raw__free(&raw);
	mm_grid__free(&g);
	CHECK(!mm_grid__init(&g, 256, 0, 1, 0));
	CHECK(!mm_raw__init(&raw, &g, sizeof(rec), 512));
	for (int i = 0; i < 300; i++) {
		rec.ts = (uint64_t)i * 1000;
		rec.v = i;
		CHECK(!mm_grid__push(&g, rec.ts, rec.v, NULL));
		CHECK(!mm_raw__push(&raw, &rec));
	}
	mm_raw__compact(&raw);
	CHECK(raw.n == 300 && raw.per == UINT32_MAX);
	mm_raw__free(&raw);
	mm_grid__free(&g);
	end();
}


/* ---- the runner on a scripted tracer (trace/tracer.h's ops): runs fed
 * without the kernel, their rows, a run finished once the tracer has
 * released records past its end ---- */

struct script_tracer {
	struct tracer base;
	struct mt_rec recs[8];
	size_t n, next;
	uint64_t released;
	struct mt_group g[3];
};

static int st_poll(struct tracer *t, int timeout_ms, bool final, tracer_rec_fn fn,
		   tracer_rec_fn urgent, void *ctx)
{
	struct script_tracer *st = (struct script_tracer *)t;
	uint64_t cut;
	int e = 0;

	(void)urgent;
	if (timeout_ms > 0)
		usleep(1000);
	/* it releases 10 ms behind its hold, as a tracer fed from elsewhere
	 * (a service) may: the runner must wait for the release, not the clock */
	cut = final ? UINT64_MAX : mono_ns() - 12000000ULL;
	while (!e && st->next < st->n && st->recs[st->next].ts_ns <= cut) {
		const struct mt_rec *r = &st->recs[st->next++];

		if (r->type == MT_REC_EXIT)
			st->g[r->group % 3].live = 0;
		e = fn(ctx, r);
	}
	st->released = cut;
	return e;
}

static uint64_t st_released(const struct tracer *t)
{
	return ((const struct script_tracer *)t)->released;
}

static uint64_t st_hold(const struct tracer *t)
{
	(void)t;
	return 2000000ULL;
}

static void st_group(struct tracer *t, uint32_t group, struct mt_group *g)
{
	*g = ((struct script_tracer *)t)->g[group % 3];
}

static void st_nop(struct tracer *t) { (void)t; }
static void st_counts(const struct tracer *t, uint64_t *a, uint64_t *b) { (void)t; *a = *b = 0; }
static uint64_t st_zero(const struct tracer *t) { (void)t; return 0; }
static int st_fd(struct tracer *t) { (void)t; return -1; }
static int st_ok(struct tracer *t) { (void)t; return 0; }
static void st_counters(struct tracer *t, struct mt_counters *c) { (void)t; memset(c, 0, sizeof(*c)); }
static void st_cost(struct tracer *t, struct mt_cost *c) { (void)t; memset(c, 0, sizeof(*c)); }
static void st_give_back(struct tracer *t, uint32_t g) { (void)t; (void)g; }
static int st_proc(struct tracer *t, pid_t pid, struct mt_proc *p)
{
	(void)t; (void)pid; (void)p;
	return -ENOENT;
}
static void st_exit_seen(struct tracer *t, pid_t pid, uint64_t ts) { (void)t; (void)pid; (void)ts; }
static int st_each_exited(struct tracer *t, int (*fn)(void *, pid_t, const struct mt_proc *),
			  void *ctx)
{
	(void)t; (void)fn; (void)ctx;
	return 0;
}

static const struct tracer_ops script_ops = {
	.destroy = st_nop, .poll = st_poll, .ring_counts = st_counts, .hold_ns = st_hold,
	.released_ns = st_released, .ring_bytes = st_zero, .poll_fd = st_fd,
	.counters = st_counters, .cost = st_cost, .group = st_group, .fold_faults = st_ok,
	.group_give_back = st_give_back, .proc = st_proc, .exit_seen = st_exit_seen,
	.each_exited = st_each_exited,
};

static struct mt_rec script_rec(uint32_t type, uint32_t group, uint64_t ts, int64_t anon)
{
	struct mt_rec r = { .type = type, .pid = 4240 + group, .tid = 4240 + group, .ts_ns = ts,
			    .group = group };

	r.pages[MT_ANON] = anon;
	r.tree_pages = anon;
	r.total_vm = 1000;
	snprintf(r.comm, sizeof(r.comm), "scripted");
	return r;
}

static uint64_t fin_released[3], fin_end[3];
static int fin_err[3] = { -1, -1, -1 };

static int st_finished(void *ctx, struct runner *rn, struct run *r, int err)
{
	(void)ctx;
	fin_released[r->group % 3] = tracer__released_ns(rn->tracer);
	fin_end[r->group % 3] = r->end_ns;
	fin_err[r->group % 3] = err;
	return 0;
}

static void test_runner_scripted(void)
{
	static const struct runner_client client = { .finished = st_finished };
	char dir[] = "/tmp/memtrace-unit.XXXXXX", csv[2][96], sum[2][96], err[256], line[512];
	struct script_tracer st = { .base.ops = &script_ops };
	uint64_t t0 = mono_ns() + 1000000ULL;
	const char *want[] = { "exec", "rss", "rss", "exit" };
	struct runner rn;
	FILE *f;
	int rows = 0, e;

	begin("runner on a scripted tracer: a run's rows in order; finished once the tracer "
	      "released 1 ms past its end, while another run goes on");
	CHECK(mkdtemp(dir) != NULL);
	st.recs[st.n++] = script_rec(MT_REC_EXEC, 1, t0, 100);
	st.recs[st.n++] = script_rec(MT_REC_EXEC, 2, t0, 50);
	st.recs[st.n++] = script_rec(MT_REC_RSS, 1, t0 + 1000000ULL, 300);
	st.recs[st.n++] = script_rec(MT_REC_RSS, 1, t0 + 2000000ULL, 150);
	st.recs[st.n++] = script_rec(MT_REC_EXIT, 1, t0 + 3000000ULL, 150);
	st.recs[st.n++] = script_rec(MT_REC_EXIT, 2, t0 + 40000000ULL, 50);
	runner__init(&rn, &st.base, &client, NULL);
	for (uint32_t g = 1; g <= 2; g++) {
		struct run_spec spec = { .mode = "capture", .csv_path = csv[g - 1],
					 .summary_path = sum[g - 1] };
		struct run *r = calloc(1, sizeof(*r));

		snprintf(csv[g - 1], sizeof(csv[0]), "%s/t%u.csv", dir, g);
		snprintf(sum[g - 1], sizeof(sum[0]), "%s/t%u.summary.json", dir, g);
		st.g[g].busy = 1;
		st.g[g].live = 1;
		st.g[g].tree_peak_pages = g == 1 ? 300 : 50;
		st.g[g].tree_peak_ts_ns = t0 + 1000000ULL;
		CHECK(r != NULL);
		if (!r)
			goto out;
		e = run__adopt(r, &st.base, &spec, g, t0 - 1000000ULL, err, sizeof(err));
		if (e)
			printf("#   run__adopt: %s\n", err);
		CHECK(e == 0);
		if (e) {
			free(r);
			goto out;
		}
		runner__add(&rn, r);
	}
	CHECK(runner__run(&rn) == 0);
	CHECK(fin_err[1] == 0 && fin_err[2] == 0);
	/* run 1 ended after its exit was handed on, and was finished in the
	 * loop once the release passed its end by 1 ms; run 2 by the final
	 * drain */
	CHECK(fin_end[1] >= t0 + 3000000ULL);
	CHECK(fin_released[1] != UINT64_MAX && fin_released[1] > fin_end[1] + 1000000ULL);
	CHECK(fin_released[2] == UINT64_MAX);
	f = fopen(csv[0], "r");
	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f)) {
		if (rows > 0 && rows <= 4) {
			char ev[32] = "";
			const char *p = line;

			for (int k = 0; k < 6 && p; k++)	/* the 7th field: event */
				p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
			if (p)
				sscanf(p, "%31[^,]", ev);
			CHECK_STR(ev, want[rows - 1]);
		}
		rows++;
	}
	if (f)
		fclose(f);
	CHECK(rows == 5);
	f = fopen(sum[0], "r");
	CHECK(f != NULL);
	if (f) {
		char buf[8192];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = 0;
		CHECK(strstr(buf, "\"peak_rss_kb\": 1200") != NULL);
		fclose(f);
	}
out:
	for (int i = 0; i < 2; i++) {
		unlink(csv[i]);
		unlink(sum[i]);
	}
	rmdir(dir);
	end();
}


/* ---- the service's wire protocol: what wire__check_request takes ---- */

static int wire_req(uint16_t type, uint32_t seq, const void *p, size_t len, int nfds,
		    char *why, size_t whylen)
{
	unsigned char buf[WIRE_MAX_MSG + 64];
	struct wire_msg m;
	long n = wire__put(buf, sizeof(buf), type, seq, p, len);

	if (n < 0)
		return (int)n;
	return wire__check_request(buf, (size_t)n, nfds, &m, why, whylen);
}

static void test_wire(void)
{
	struct wire_hello h = { .ver_min = 1, .ver_max = 1 };
	struct wire_expect ex = { .group = 1, .pid = 42 };
	struct wire_guard g = { .group = 1 };
	struct wire_group gr = { .group = 3 };
	unsigned char buf[WIRE_MAX_MSG + 64], big[2048];
	struct { struct wire_attach a; uint32_t pid[WIRE_MAX_ATTACH + 1]; } at = { { 1, 2 } };
	struct wire_msg m;
	char why[160];
	long n;

	begin("wire: well-formed requests taken, each malformed one refused with a reason");
	CHECK(wire_req(WIRE_HELLO, 1, &h, sizeof(h), 0, why, sizeof(why)) == 0);
	CHECK(wire_req(WIRE_HELLO, 1, &h, sizeof(h) - 1, 0, why, sizeof(why)) == -EPROTO);
	CHECK(strstr(why, "not 32") != NULL);
	h.ver_min = 2;
	CHECK(wire_req(WIRE_HELLO, 1, &h, sizeof(h), 0, why, sizeof(why)) == -EPROTO);
	CHECK(wire_req(WIRE_EXPECT_EXEC, 2, &ex, sizeof(ex), 0, why, sizeof(why)) == 0);
	/* the pidfd is part of the request */
	{
		struct wire_bind b = { .uid = 1000, .gid = 1000 };

		CHECK(wire_req(WIRE_BIND_USER, 2, &b, sizeof(b), 0, why, sizeof(why)) == 0);
		CHECK(wire_req(WIRE_BIND_USER, 2, &b, sizeof(b) - 1, 0, why, sizeof(why)) == -EPROTO);
	}
	/* no request carries an fd */
	CHECK(wire_req(WIRE_EXPECT_EXEC, 2, &ex, sizeof(ex), 1, why, sizeof(why)) == -EPROTO);
	CHECK(wire_req(WIRE_ATTACH_MARKS, 2, "/bin/true", 10, 0, why, sizeof(why)) == 0);
	CHECK(wire_req(WIRE_ATTACH_MARKS, 2, "/bin/true", 10, 1, why, sizeof(why)) == -EPROTO);
	CHECK(wire_req(WIRE_ATTACH_MARKS, 2, "bin/true", 9, 0, why, sizeof(why)) == -EPROTO);
	CHECK(wire_req(WIRE_ATTACH_MARKS, 2, "/bin/true", 9, 0, why, sizeof(why)) == -EPROTO);
	CHECK(wire_req(WIRE_ATTACH_MARKS, 2, "/bin\0true", 10, 0, why, sizeof(why)) == -EPROTO);
	CHECK(wire_req(WIRE_GROUP_GET, 3, &gr, sizeof(gr), 1, why, sizeof(why)) == -EPROTO);
	CHECK(wire_req(WIRE_GROUP_GET, 3, &gr, sizeof(gr), 2, why, sizeof(why)) == -EPROTO);
	CHECK(wire_req(WIRE_GROUP_GET, 0, &gr, sizeof(gr), 0, why, sizeof(why)) == -EPROTO);
	CHECK(wire_req(WIRE_FLUSH, 4, NULL, 0, 0, why, sizeof(why)) == 0);
	CHECK(wire_req(WIRE_RECS, 4, NULL, 0, 0, why, sizeof(why)) == -EPROTO);
	CHECK(wire_req(WIRE_REQUEST_MAX, 4, NULL, 0, 0, why, sizeof(why)) == -EPROTO);
	CHECK(wire_req(WIRE_HELLO | WIRE_REPLY, 4, &h, sizeof(h), 0, why, sizeof(why)) == -EPROTO);
	/* ATTACH: 1 to 256 pids, the size its count says */
	CHECK(wire_req(WIRE_ATTACH, 5, &at, sizeof(at.a) + 2 * 4, 0, why, sizeof(why)) == 0);
	CHECK(wire_req(WIRE_ATTACH, 5, &at, sizeof(at.a) + 3 * 4, 0, why, sizeof(why)) == -EPROTO);
	at.a.n = 0;
	CHECK(wire_req(WIRE_ATTACH, 5, &at, sizeof(at.a), 0, why, sizeof(why)) == -EPROTO);
	at.a.n = WIRE_MAX_ATTACH + 1;
	CHECK(wire_req(WIRE_ATTACH, 5, &at, sizeof(at), 0, why, sizeof(why)) == -EPROTO);
	CHECK(strstr(why, "1 to 256") != NULL);
	CHECK(wire_req(WIRE_ATTACH, 5, &at, 4, 0, why, sizeof(why)) == -EPROTO);
	/* a guard: alerts ascending and above 0, known flags, a signal */
	g.guard.kill_at_pages = 1000;
	g.guard.signal = 9;
	g.guard.nalerts = 2;
	g.guard.alert_pages[0] = 10;
	g.guard.alert_pages[1] = 20;
	CHECK(wire_req(WIRE_GROUP_GUARD, 6, &g, sizeof(g), 0, why, sizeof(why)) == 0);
	g.guard.alert_pages[1] = 10;
	CHECK(wire_req(WIRE_GROUP_GUARD, 6, &g, sizeof(g), 0, why, sizeof(why)) == -EPROTO);
	g.guard.alert_pages[1] = 20;
	g.guard.nalerts = MT_MAX_ALERTS + 1;
	CHECK(wire_req(WIRE_GROUP_GUARD, 6, &g, sizeof(g), 0, why, sizeof(why)) == -EPROTO);
	g.guard.nalerts = 2;
	g.guard.signal = 0;
	CHECK(wire_req(WIRE_GROUP_GUARD, 6, &g, sizeof(g), 0, why, sizeof(why)) == -EPROTO);
	g.guard.signal = 15;
	g.guard.flags = 2;
	CHECK(wire_req(WIRE_GROUP_GUARD, 6, &g, sizeof(g), 0, why, sizeof(why)) == -EPROTO);
	/* the header: magic, version, a length that is the rest */
	n = wire__put(buf, sizeof(buf), WIRE_GROUP_GET, 7, &gr, sizeof(gr));
	CHECK(n == 20);
	CHECK(wire__check_request(buf, (size_t)n - 1, 0, &m, why, sizeof(why)) == -EPROTO);
	CHECK(wire__check_request(buf, 15, 0, &m, why, sizeof(why)) == -EPROTO);
	CHECK(wire__check_request(NULL, 0, 0, &m, why, sizeof(why)) == -EPROTO);
	buf[0] ^= 1;
	CHECK(wire__check_request(buf, (size_t)n, 0, &m, why, sizeof(why)) == -EPROTO);
	CHECK(strstr(why, "magic") != NULL);
	buf[0] ^= 1;
	buf[4] = 2;
	CHECK(wire__check_request(buf, (size_t)n, 0, &m, why, sizeof(why)) == -EPROTO);
	CHECK(strstr(why, "version 2") != NULL);
	buf[4] = 1;
	CHECK(wire__check_request(buf, (size_t)n, 0, &m, why, 0) == 0);
	CHECK(m.len == sizeof(gr) && !memcmp(m.payload, &gr, sizeof(gr)));
	CHECK(wire__put(big, sizeof(big), WIRE_FLUSH, 1, buf, sizeof(big)) == -EMSGSIZE);
	CHECK(wire__put(buf, sizeof(buf), WIRE_FLUSH, 1, buf, WIRE_MAX_MSG) == -EMSGSIZE);
	end();

	begin("wire: what a client takes from the service: replies with a status, RECS whose "
	      "count is their size and whose records are known, URGENT guard records");
	{
		struct { struct wire_recs r; struct mt_rec rec[2]; } rs = { { .n = 2 } };
		struct wire_status st = { 0, 0 };

		rs.rec[0].type = MT_REC_RSS;
		rs.rec[1].type = MT_REC_EXIT;
		n = wire__put(buf, sizeof(buf), WIRE_RECS, 0, &rs, sizeof(rs));
		CHECK(wire__check_reply(buf, (size_t)n, 0, &m, why, sizeof(why)) == 0);
		CHECK(wire__check_reply(buf, (size_t)n, 1, &m, why, sizeof(why)) == -EPROTO);
		rs.rec[1].type = MT_REC_TYPE_MAX;
		n = wire__put(buf, sizeof(buf), WIRE_RECS, 0, &rs, sizeof(rs));
		CHECK(wire__check_reply(buf, (size_t)n, 0, &m, why, sizeof(why)) == -EPROTO);
		rs.rec[1].type = MT_REC_RSS;
		rs.r.n = 3;
		n = wire__put(buf, sizeof(buf), WIRE_RECS, 0, &rs, sizeof(rs));
		CHECK(wire__check_reply(buf, (size_t)n, 0, &m, why, sizeof(why)) == -EPROTO);
		n = wire__put(buf, sizeof(buf), WIRE_RECS, 9, &rs, sizeof(rs));
		CHECK(wire__check_reply(buf, (size_t)n, 0, &m, why, sizeof(why)) == -EPROTO);
		n = wire__put(buf, sizeof(buf), WIRE_URGENT, 0, &rs.rec[0], sizeof(rs.rec[0]));
		CHECK(wire__check_reply(buf, (size_t)n, 0, &m, why, sizeof(why)) == -EPROTO);
		rs.rec[0].type = MT_REC_GUARD;
		n = wire__put(buf, sizeof(buf), WIRE_URGENT, 0, &rs.rec[0], sizeof(rs.rec[0]));
		CHECK(wire__check_reply(buf, (size_t)n, 0, &m, why, sizeof(why)) == 0);
		n = wire__put(buf, sizeof(buf), WIRE_FLUSH | WIRE_REPLY, 5, &st, sizeof(st));
		CHECK(wire__check_reply(buf, (size_t)n, 0, &m, why, sizeof(why)) == 0);
		n = wire__put(buf, sizeof(buf), WIRE_FLUSH | WIRE_REPLY, 5, &st, 4);
		CHECK(wire__check_reply(buf, (size_t)n, 0, &m, why, sizeof(why)) == -EPROTO);
		n = wire__put(buf, sizeof(buf), 0x7777 | WIRE_REPLY, 5, &st, sizeof(st));
		CHECK(wire__check_reply(buf, (size_t)n, 0, &m, why, sizeof(why)) == -EPROTO);
	}
	end();
}

int main(void)
{
	test_sizes();
	test_durations();
	test_runner_scripted();
	test_wire();
	test_csv_rows();
	test_sort();
	test_ready();
	test_json();
	test_utf8();
	test_session();
	test_spikes_synthetic();
	test_csv_reader();
	test_jsonl();
	test_csv_reader_bad_input();
	test_compressed();
	test_thin();
	test_result_bad_input();
	test_reported_units();
	test_validation();
	test_stages();
	test_log_match();
	test_log_timing();
	test_split_words();
	test_subst_params();
	test_campaign_stats();
	test_idmap_recstore();
	test_guard_spec();
	test_prominence();
	test_stages_points();
	test_value_compare();
	test_resample();
	test_csv_reader_sizes();
	test_baseline();
	test_result_versions();
	test_csv_reader_columns();
	test_pb_varint();
	test_pb_fields();
	test_perfetto_rows();
	test_decimate_grid();
	test_decimate_extras();
	test_decimate_raw();
	printf("1..%d\n", passed + failed);
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
