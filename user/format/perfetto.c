// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "format/csv.h"
#include "format/names.h"
#include "format/perfetto.h"
#include "format/text.h"
#include "lib/grow.h"

/*
 * Field numbers and enum values from Perfetto's published schema
 * (protos/perfetto/trace/: trace.proto, trace_packet.proto,
 * clock_snapshot.proto, track_event/track_descriptor.proto,
 * process_descriptor.proto, counter_descriptor.proto, track_event.proto,
 * debug_annotation.proto; common/builtin_clock.proto). The same numbers,
 * and only these fields, are in tests/perfetto/memtrace_perfetto.proto,
 * against which the tests decode what we write.
 */
enum {
	TRACE_PACKET = 1,		/* Trace.packet */

	PKT_CLOCK_SNAPSHOT = 6,		/* TracePacket */
	PKT_TIMESTAMP = 8,
	PKT_SEQUENCE_ID = 10,		/* trusted_packet_sequence_id */
	PKT_TRACK_EVENT = 11,
	PKT_SEQUENCE_FLAGS = 13,
	PKT_TIMESTAMP_CLOCK_ID = 58,
	PKT_TRACK_DESCRIPTOR = 60,

	CS_CLOCKS = 1,			/* ClockSnapshot */
	CS_PRIMARY_TRACE_CLOCK = 2,
	CLOCK_ID = 1,			/* ClockSnapshot.Clock */
	CLOCK_TIMESTAMP = 2,

	TD_UUID = 1,			/* TrackDescriptor */
	TD_NAME = 2,
	TD_PROCESS = 3,
	TD_PARENT_UUID = 5,
	TD_COUNTER = 8,
	PD_PID = 1,			/* ProcessDescriptor */
	PD_PROCESS_NAME = 6,
	CD_UNIT = 3,			/* CounterDescriptor */
	CD_UNIT_MULTIPLIER = 4,

	TE_DEBUG_ANNOTATIONS = 4,	/* TrackEvent */
	TE_TYPE = 9,
	TE_TRACK_UUID = 11,
	TE_NAME = 23,
	TE_COUNTER_VALUE = 30,
	DA_INT_VALUE = 4,		/* DebugAnnotation */
	DA_STRING_VALUE = 6,
	DA_NAME = 10,
};
enum { BUILTIN_CLOCK_MONOTONIC = 3 };
enum { SEQ_INCREMENTAL_STATE_CLEARED = 1 };
enum { TYPE_SLICE_BEGIN = 1, TYPE_SLICE_END = 2, TYPE_INSTANT = 3, TYPE_COUNTER = 4 };
enum { UNIT_SIZE_BYTES = 3 };

/* Our one packet sequence: every packet is on it (trace_processor keeps
 * per-sequence state; the first packet says it starts clean). */
#define SEQUENCE_ID 1
/* uuid 0 is the implicit global track */
#define UUID_TREE 1
#define UUID_FIRST 2
/* a process's track and its counters' */
#define PROC_UUIDS (1 + PF_NCOUNTERS)
/* an event's name, at most (its text stays whole in an argument) */
#define NAME_MAX_BYTES 128
/* A row's packets: its text (at most CSV_MAX_LINE, each byte at most
 * tripled as U+FFFD), some of it twice (a name and an argument), and the
 * small fields around it. */
#define BUF_SIZE (4 * CSV_MAX_LINE + (64 << 10))
#define NONE SIZE_MAX

const char *const pf_counter_names[PF_NCOUNTERS] = {
	[PF_RSS] = "mem.rss",
	[PF_ANON] = "mem.rss.anon",
	[PF_FILE] = "mem.rss.file",
	[PF_SHMEM] = "mem.rss.shmem",
	[PF_SWAP] = "mem.swap",
	[PF_VIRT] = "mem.virt",
};

int pf_out__init(struct pf_out *o, const struct pf_cfg *cfg, FILE *f)
{
	memset(o, 0, sizeof(*o));
	o->cfg = *cfg;
	o->f = f;
	o->buf = malloc(BUF_SIZE);
	if (!o->buf)
		return -ENOMEM;
	pb__init(&o->pb, o->buf, BUF_SIZE);
	o->total_kb = -1;
	o->next_uuid = UUID_FIRST;
	o->free_span = NONE;
	return 0;
}

void pf_out__free(struct pf_out *o)
{
	for (size_t i = 0; i < o->nnames; i++)
		free(o->names[i]);
	free(o->names);
	free(o->spans);
	free(o->procs);
	free(o->free_procs);
	idmap__free(&o->pidx);
	idmap__free(&o->name_ix);
	idmap__free(&o->span_ix);
	free(o->buf);
	o->buf = NULL;
}

/* ---- packets ---- */

static void packet_begin(struct pf_out *o, uint64_t ts_ns)
{
	struct pb *p = &o->pb;

	pb__begin(p, TRACE_PACKET);
	pb__uint(p, PKT_TIMESTAMP, ts_ns);
	if (o->cfg.monotonic)
		pb__uint(p, PKT_TIMESTAMP_CLOCK_ID, BUILTIN_CLOCK_MONOTONIC);
	pb__uint(p, PKT_SEQUENCE_ID, SEQUENCE_ID);
	if (!o->flagged)
		pb__uint(p, PKT_SEQUENCE_FLAGS, SEQ_INCREMENTAL_STATE_CLEARED);
	o->flagged = true;
	o->st.packets++;
}

/* The first packet: the trace's clock is CLOCK_MONOTONIC, so the UI and
 * trace_processor show our timestamps as they are, and a trace of the
 * same machine in that clock lines up. Without it, packets are taken to be
 * in CLOCK_BOOTTIME, which runs ahead by the time spent suspended. */
static void clock_snapshot(struct pf_out *o, uint64_t ts_ns)
{
	struct pb *p = &o->pb;

	pb__begin(p, TRACE_PACKET);
	pb__begin(p, PKT_CLOCK_SNAPSHOT);
	pb__begin(p, CS_CLOCKS);
	pb__uint(p, CLOCK_ID, BUILTIN_CLOCK_MONOTONIC);
	pb__uint(p, CLOCK_TIMESTAMP, ts_ns);
	pb__end(p);
	pb__uint(p, CS_PRIMARY_TRACE_CLOCK, BUILTIN_CLOCK_MONOTONIC);
	pb__end(p);
	pb__uint(p, PKT_SEQUENCE_ID, SEQUENCE_ID);
	pb__uint(p, PKT_SEQUENCE_FLAGS, SEQ_INCREMENTAL_STATE_CLEARED);
	pb__end(p);
	o->flagged = true;
	o->st.packets++;
}

static void counter_track(struct pf_out *o, uint64_t ts_ns, uint64_t uuid, uint64_t parent,
			  const char *name)
{
	struct pb *p = &o->pb;

	packet_begin(o, ts_ns);
	pb__begin(p, PKT_TRACK_DESCRIPTOR);
	pb__uint(p, TD_UUID, uuid);
	if (parent)
		pb__uint(p, TD_PARENT_UUID, parent);
	pb__str(p, TD_NAME, name, SIZE_MAX);
	pb__begin(p, TD_COUNTER);
	/* values in kB, exactly as the trace has them; shown in bytes */
	pb__uint(p, CD_UNIT, UNIT_SIZE_BYTES);
	pb__int(p, CD_UNIT_MULTIPLIER, 1024);
	pb__end(p);
	pb__end(p);
	pb__end(p);
}

static void counter_value(struct pf_out *o, uint64_t ts_ns, uint64_t uuid, int64_t kb)
{
	struct pb *p = &o->pb;

	packet_begin(o, ts_ns);
	pb__begin(p, PKT_TRACK_EVENT);
	pb__uint(p, TE_TYPE, TYPE_COUNTER);
	pb__uint(p, TE_TRACK_UUID, uuid);
	pb__int(p, TE_COUNTER_VALUE, kb);
	pb__end(p);
	pb__end(p);
	o->st.counter_values++;
}

/* A process's track: its pid, and its name when the row says it. Written
 * again when the name changes (exec): trace_processor keeps the last. */
static void process_track(struct pf_out *o, uint64_t ts_ns, const struct pf_proc *pp,
			  const char *name)
{
	struct pb *p = &o->pb;

	packet_begin(o, ts_ns);
	pb__begin(p, PKT_TRACK_DESCRIPTOR);
	pb__uint(p, TD_UUID, pp->uuid);
	if (o->cfg.pids) {
		pb__begin(p, TD_PROCESS);
		pb__int(p, PD_PID, pp->pid);
		if (*name)
			pb__str(p, PD_PROCESS_NAME, name, SIZE_MAX);
		pb__end(p);
	} else {
		pb__str(p, TD_NAME, o->cfg.title, SIZE_MAX);
	}
	pb__end(p);
	pb__end(p);
}

/* An event on a track, its packet and TrackEvent left open for its
 * arguments (event_end closes them). */
static void event_begin(struct pf_out *o, uint64_t ts_ns, uint64_t uuid, unsigned int type,
			const char *name)
{
	struct pb *p = &o->pb;

	packet_begin(o, ts_ns);
	pb__begin(p, PKT_TRACK_EVENT);
	pb__uint(p, TE_TYPE, type);
	pb__uint(p, TE_TRACK_UUID, uuid);
	if (name)
		pb__str(p, TE_NAME, name, (size_t)utf8_cut(name, NAME_MAX_BYTES));
}

static void event_end(struct pf_out *o)
{
	pb__end(&o->pb);
	pb__end(&o->pb);
}

/* A whole decimal number, as the CSV's numeric columns hold them. */
static bool whole_number(const char *s, int64_t *v)
{
	const char *d = s + (*s == '-');
	char *end;

	if (*d < '0' || *d > '9')
		return false;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return !*end && !errno;
}

static void arg_int(struct pf_out *o, const char *name, int64_t v)
{
	struct pb *p = &o->pb;

	pb__begin(p, TE_DEBUG_ANNOTATIONS);
	pb__str(p, DA_NAME, name, SIZE_MAX);
	pb__int(p, DA_INT_VALUE, v);
	pb__end(p);
}

/* A column's text as an argument: a number as one, other text as it is;
 * an empty column is left out. */
static void arg(struct pf_out *o, const char *name, const char *v)
{
	struct pb *p = &o->pb;
	int64_t n;

	if (!*v)
		return;
	if (whole_number(v, &n)) {
		arg_int(o, name, n);
		return;
	}
	pb__begin(p, TE_DEBUG_ANNOTATIONS);
	pb__str(p, DA_NAME, name, SIZE_MAX);
	pb__str(p, DA_STRING_VALUE, v, SIZE_MAX);
	pb__end(p);
}

/* ---- processes ---- */

static struct pf_proc *proc_find(struct pf_out *o, pid_t pid)
{
	long at = idmap__get(&o->pidx, (uint64_t)(uint32_t)pid);

	return at < 0 ? NULL : &o->procs[at];
}

/* A process's first row: its tracks. NULL: out of memory. */
static struct pf_proc *proc_new(struct pf_out *o, const struct pf_row *r, const char *name)
{
	struct pf_proc *pp;
	size_t slot;

	if (!o->nfree && grow(&o->procs, &o->procs_cap, o->nprocs, sizeof(*o->procs), 16))
		return NULL;
	slot = o->nfree ? o->free_procs[o->nfree - 1] : o->nprocs;
	if (idmap__put(&o->pidx, (uint64_t)(uint32_t)r->pid, slot))
		return NULL;
	if (o->nfree)
		o->nfree--;
	else
		o->nprocs++;
	pp = &o->procs[slot];
	pp->pid = r->pid;
	pp->uuid = o->next_uuid;
	o->next_uuid += PROC_UUIDS;
	pp->born = o->born++;
	pp->spans = NONE;
	process_track(o, r->ts_ns, pp, name);
	for (int c = 0; c < PF_NCOUNTERS; c++)
		pp->last[c] = -1;
	o->st.processes++;
	return pp;
}

/* After its exit row: its counters at 0, its state gone (a later row of
 * the same pid is another process). */
static int proc_end(struct pf_out *o, struct pf_proc *pp, uint64_t ts_ns)
{
	if (grow(&o->free_procs, &o->free_cap, o->nfree, sizeof(*o->free_procs), 16))
		return -ENOMEM;
	for (int c = 0; c < PF_NCOUNTERS; c++)
		if (pp->last[c] > 0)
			counter_value(o, ts_ns, pp->uuid + 1 + (uint64_t)c, 0);
	for (size_t i = pp->spans, next; i != NONE; i = next) {
		next = o->spans[i].next;
		idmap__del(&o->span_ix, o->spans[i].key);
		o->spans[i].next = o->free_span;
		o->free_span = i;
	}
	o->free_procs[o->nfree++] = (size_t)(pp - o->procs);
	idmap__del(&o->pidx, (uint64_t)(uint32_t)pp->pid);
	return 0;
}

/* ---- spans: NAME:begin .. NAME:end ---- */

static uint64_t hash_name(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static bool same_name(const char *a, const char *b, size_t n)
{
	return !strncmp(a, b, n) && !a[n];
}

/* The number of span name s[0..n): found, or added when add. -1: not
 * there (!add), or out of memory. */
static long name_find(struct pf_out *o, const char *s, size_t n, bool add)
{
	uint64_t h = hash_name(s, n);
	long i = idmap__get(&o->name_ix, h);
	char *copy;

	if (i >= 0 && same_name(o->names[i], s, n))
		return i;
	if (i >= 0)
		/* two names with one hash: the other is found by looking */
		for (size_t k = 0; k < o->nnames; k++)
			if (same_name(o->names[k], s, n))
				return (long)k;
	if (!add || grow(&o->names, &o->names_cap, o->nnames, sizeof(*o->names), 16))
		return -1;
	copy = strndup(s, n);
	if (!copy || (i < 0 && idmap__put(&o->name_ix, h, o->nnames))) {
		free(copy);
		return -1;
	}
	o->names[o->nnames] = copy;
	return (long)o->nnames++;
}

static uint64_t span_key(const struct pf_proc *pp, long name)
{
	/* fewer than 2^32 processes and names in a trace */
	return pp->born << 32 | (uint64_t)(uint32_t)name;
}

/* The process's track for span name, made (with its descriptor) when
 * add. NULL: none (!add), or out of memory. */
static struct pf_span *span_track(struct pf_out *o, struct pf_proc *pp, const char *s, size_t n,
				  uint64_t ts_ns, bool add)
{
	long name = name_find(o, s, n, add), at;
	struct pf_span *sp;
	struct pb *p = &o->pb;
	size_t i;

	if (name < 0)
		return NULL;
	at = idmap__get(&o->span_ix, span_key(pp, name));
	if (at >= 0 || !add)
		return at < 0 ? NULL : &o->spans[at];
	if (o->free_span != NONE) {
		i = o->free_span;
		o->free_span = o->spans[i].next;
	} else if (grow(&o->spans, &o->spans_cap, o->nspans, sizeof(*o->spans), 16)) {
		return NULL;
	} else {
		i = o->nspans++;
	}
	if (idmap__put(&o->span_ix, span_key(pp, name), i)) {
		o->spans[i].next = o->free_span;
		o->free_span = i;
		return NULL;
	}
	sp = &o->spans[i];
	sp->key = span_key(pp, name);
	sp->name = (size_t)name;
	sp->uuid = o->next_uuid++;
	sp->depth = 0;
	sp->next = pp->spans;
	pp->spans = i;
	packet_begin(o, ts_ns);
	pb__begin(p, PKT_TRACK_DESCRIPTOR);
	pb__uint(p, TD_UUID, sp->uuid);
	pb__uint(p, TD_PARENT_UUID, pp->uuid);
	/* as its slices' names are: cut */
	pb__str(p, TD_NAME, o->names[name], (size_t)utf8_cut(o->names[name], NAME_MAX_BYTES));
	pb__end(p);
	pb__end(p);
	return sp;
}

/* label is NAME:begin (1) or NAME:end (2), NAME not empty; 0 otherwise */
static int span_mark(const char *label, size_t *n)
{
	size_t len = strlen(label);

	if (len > 6 && !strcmp(label + len - 6, ":begin")) {
		*n = len - 6;
		return 1;
	}
	if (len > 4 && !strcmp(label + len - 4, ":end")) {
		*n = len - 4;
		return 2;
	}
	return 0;
}

/* ---- rows ---- */

/* The row's common arguments: the state it carries, the thread. */
static void row_args(struct pf_out *o, const struct pf_row *r)
{
	arg_int(o, "vmrss_kb", r->kb[PF_RSS]);
	arg(o, "tid", r->tid);
}

/* A mark: an instant, or a span's begin or end. 0 or -ENOMEM. */
static int mark(struct pf_out *o, struct pf_proc *pp, const struct pf_row *r)
{
	struct pf_span *sp = NULL;
	size_t n = 0;
	int kind = o->cfg.pids ? span_mark(r->label, &n) : 0;

	if (kind) {
		sp = span_track(o, pp, r->label, n, r->ts_ns, kind == 1);
		if (!sp && kind == 1)
			return -ENOMEM;
	}
	if (kind == 1) {
		event_begin(o, r->ts_ns, sp->uuid, TYPE_SLICE_BEGIN, o->names[sp->name]);
		sp->depth++;
		o->st.slices++;
	} else if (kind == 2 && sp && sp->depth) {
		/* trace_processor merges an end's arguments into its slice's */
		event_begin(o, r->ts_ns, sp->uuid, TYPE_SLICE_END, NULL);
		arg_int(o, "end_vmrss_kb", r->kb[PF_RSS]);
		arg(o, "end_tid", r->tid);
		arg(o, "end_via", r->cause);
		event_end(o);
		sp->depth--;
		return 0;
	} else {
		/* a point mark, or an end never begun */
		event_begin(o, r->ts_ns, pp->uuid, TYPE_INSTANT, *r->label ? r->label : "mark");
		o->st.instants++;
	}
	row_args(o, r);
	arg(o, "via", r->cause);
	/* a name longer than an event's is kept whole here */
	if (!kind && strlen(r->label) > NAME_MAX_BYTES)
		arg(o, "label", r->label);
	event_end(o);
	return 0;
}

/* The instant of a row that is not a change of RSS, or nothing. */
static void instant(struct pf_out *o, struct pf_proc *pp, const struct pf_row *r)
{
	char name[NAME_MAX_BYTES + 32];
	const char *event = event_name(r->type, 0);

	switch (r->type) {
	case MT_REC_CHECKPOINT:
		snprintf(name, sizeof(name), "checkpoint: %s", r->cause);
		break;
	case MT_REC_LOG:
		snprintf(name, sizeof(name), "log: %.*s", utf8_cut(r->reported, NAME_MAX_BYTES),
			 *r->reported ? r->reported : "(no value)");
		break;
	case MT_REC_GUARD:
		snprintf(name, sizeof(name), "kill-at: over %s kB", r->len);
		break;
	case MT_REC_ALERT:
		snprintf(name, sizeof(name), "alert: over %s kB", r->len);
		break;
	case MT_REC_MARK_FD_LOST:
		snprintf(name, sizeof(name), "marker fd lost: %s", r->cause);
		break;
	case MT_REC_FORK:
	case MT_REC_EXEC:
	case MT_REC_ATTACH:
	case MT_REC_EXIT:
	case MT_REC_LEAVE:
		snprintf(name, sizeof(name), "%s", event);
		break;
	default:
		return;
	}
	event_begin(o, r->ts_ns, pp->uuid, TYPE_INSTANT, name);
	row_args(o, r);
	switch (r->type) {
	case MT_REC_CHECKPOINT:
		arg(o, "source", r->cause);
		arg(o, "fd", r->addr);
		arg(o, "bytes_read", r->ret);
		break;
	case MT_REC_LOG:
		arg(o, "stream", r->cause);
		arg(o, "line", r->label);
		arg(o, "reported", r->reported);
		arg(o, "reported_kb", r->reported_kb);
		break;
	case MT_REC_GUARD:
	case MT_REC_ALERT:
		arg(o, "threshold_kb", r->len);
		arg(o, "counts", r->reported);
		arg(o, "counted_kb", r->reported_kb);
		arg(o, "cause", r->cause);
		arg(o, "signal", r->ret);
		break;
	case MT_REC_MARK_FD_LOST:
		arg(o, "call", r->cause);
		arg(o, "fd", r->addr);
		break;
	case MT_REC_EXIT:
		arg(o, "name", r->cause);
		arg(o, "status", r->ret);
		break;
	case MT_REC_LEAVE:
		arg(o, "name", r->cause);
		arg(o, "parent", r->ret);
		arg(o, "why", r->label);
		break;
	default:		/* fork, exec, attach */
		arg(o, "name", r->cause);
		arg(o, "parent", r->ret);
		break;
	}
	event_end(o);
	o->st.instants++;
}

static int row(struct pf_out *o, const struct pf_row *r)
{
	bool named = r->type == MT_REC_FORK || r->type == MT_REC_EXEC || r->type == MT_REC_ATTACH;
	const char *name = named ? r->cause : "";
	struct pf_proc *pp;

	if (!o->started) {
		if (o->cfg.monotonic)
			clock_snapshot(o, r->ts_ns);
		if (o->cfg.total)
			counter_track(o, r->ts_ns, UUID_TREE, 0, PF_TREE_NAME);
		o->started = true;
	}
	pp = proc_find(o, r->pid);
	if (!pp) {
		pp = proc_new(o, r, name);
		if (!pp)
			return -ENOMEM;
	} else if (*name) {
		process_track(o, r->ts_ns, pp, name);
	}
	for (int c = 0; c < PF_NCOUNTERS; c++) {
		uint64_t uuid = pp->uuid + 1 + (uint64_t)c;

		if (!o->cfg.counter[c] || r->kb[c] < 0 || r->kb[c] == pp->last[c])
			continue;
		/* a counter's track comes with its first value that is not 0:
		 * no empty mem.swap, mem.rss.shmem... under every process */
		if (pp->last[c] < 0 && !r->kb[c])
			continue;
		if (pp->last[c] < 0)
			counter_track(o, r->ts_ns, uuid, pp->uuid, pf_counter_names[c]);
		counter_value(o, r->ts_ns, uuid, r->kb[c]);
		pp->last[c] = r->kb[c];
	}
	if (o->cfg.total && r->total_kb >= 0 && r->total_kb != o->total_kb) {
		counter_value(o, r->ts_ns, UUID_TREE, r->total_kb);
		o->total_kb = r->total_kb;
	}
	if (r->type == MT_REC_MARK) {
		if (mark(o, pp, r))
			return -ENOMEM;
	} else {
		instant(o, pp, r);
	}
	/* a process that left its owned group has no rows after: ended */
	if (r->type == MT_REC_EXIT || r->type == MT_REC_LEAVE)
		return proc_end(o, pp, r->ts_ns);
	return 0;
}

int pf_out__row(struct pf_out *o, const struct pf_row *r)
{
	int e;

	pb__reset(&o->pb);
	e = row(o, r);
	if (e)
		return e;
	if (o->pb.overflow)
		return -EMSGSIZE;
	o->st.rows++;
	if (fwrite(o->buf, 1, o->pb.len, o->f) != o->pb.len || ferror(o->f))
		return -EIO;
	return 0;
}

/* ---- from the CSV ---- */

void pf_columns__find(struct pf_columns *c, struct pf_cfg *cfg, const struct csv_reader *r,
		      bool tree)
{
	static const char *const kb_names[PF_NCOUNTERS] = {
		[PF_ANON] = "rss_anon_kb", [PF_FILE] = "rss_file_kb",
		[PF_SHMEM] = "rss_shmem_kb", [PF_SWAP] = "swap_kb",
	};

	memset(cfg, 0, sizeof(*cfg));
	for (int k = 0; k < PF_NCOUNTERS; k++) {
		c->kb[k] = kb_names[k] ? csvr__column(r, kb_names[k]) : -1;
		cfg->counter[k] = c->kb[k] >= 0;
	}
	/* csv_row has these two */
	cfg->counter[PF_RSS] = true;
	cfg->counter[PF_VIRT] = r->c_vmsize >= 0;
	cfg->total = tree && r->c_total >= 0;
	cfg->pids = r->c_pid >= 0;
	cfg->monotonic = r->c_ts >= 0;
	c->tid = csvr__column(r, "tid");
	c->addr = csvr__column(r, "addr");
	c->len = csvr__column(r, "len");
	c->ret = csvr__column(r, "ret");
	c->reported_kb = csvr__column(r, "reported_kb");
}

int pf_row__read(struct pf_row *pr, struct csv_reader *r, const struct csv_row *row,
		 const struct pf_columns *c)
{
	pr->ts_ns = row->ts_ns;
	pr->pid = row->pid;
	pr->type = row->type;
	for (int k = 0; k < PF_NCOUNTERS; k++)
		if (csvr__kb(r, c->kb[k], &pr->kb[k]))
			return -EINVAL;
	pr->kb[PF_RSS] = row->vmrss_kb;
	pr->kb[PF_VIRT] = row->vmsize_kb;
	pr->total_kb = row->total_rss_kb;
	pr->tid = csvr__field(r, c->tid);
	pr->cause = row->cause_text;
	pr->label = row->label;
	pr->reported = row->reported;
	pr->reported_kb = csvr__field(r, c->reported_kb);
	pr->addr = csvr__field(r, c->addr);
	pr->len = csvr__field(r, c->len);
	pr->ret = csvr__field(r, c->ret);
	return 0;
}
