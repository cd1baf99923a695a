/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A memory trace in Perfetto's protobuf trace format (a Trace: a stream
 * of TracePackets, https://perfetto.dev/docs/reference/trace-packet-proto),
 * written row by row, for ui.perfetto.dev and trace_processor:
 *
 * - a process track per process (ProcessDescriptor: pid, and the name its
 *   fork/exec/attach rows carry), and under it counter tracks named as
 *   Perfetto's own process memory counters are: mem.rss, mem.rss.anon,
 *   mem.rss.file, mem.rss.shmem, mem.swap, mem.virt (VmSize); a value in
 *   kB is written as it is, the track's unit is bytes times 1024;
 * - mem.rss.tree, the traced tree's total (total_rss_kb), a track of its own;
 * - instants on the process track for checkpoints, marks, log lines, guard
 *   and alert crossings, fork, exec, attach, exit and a lost marker fd, with
 *   the row's columns as arguments; NAME:begin .. NAME:end marks as slices
 *   on a child track NAME of the process (one per name, so spans of
 *   different names may overlap and those of one name nest);
 * - timestamps are the rows' ts_ns, CLOCK_MONOTONIC: a ClockSnapshot first
 *   makes it the trace's clock, and every packet says it is in it.
 *
 * A counter gets a value when it changes; its track comes with its first
 * value that is not 0 (a process that never swaps has no mem.swap). After
 * its exit row, a process's counters go to 0. Memory follows the
 * processes alive, and the span names seen.
 */
#ifndef MEMTRACE_FORMAT_PERFETTO_H
#define MEMTRACE_FORMAT_PERFETTO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "format/csv.h"
#include "format/pb.h"
#include "lib/idmap.h"

enum pf_counter { PF_RSS, PF_ANON, PF_FILE, PF_SHMEM, PF_SWAP, PF_VIRT, PF_NCOUNTERS };
/* "mem.rss"...; the tree's total's track */
extern const char *const pf_counter_names[PF_NCOUNTERS];
#define PF_TREE_NAME "mem.rss.tree"

struct pf_cfg {
	bool counter[PF_NCOUNTERS];	/* the trace has that column */
	bool total;		/* write the tree's total (rows' total_kb) */
	bool pids;		/* rows belong to processes (a pid column);
				   false: to one track named title */
	bool monotonic;		/* ts_ns is CLOCK_MONOTONIC (a ts_ns column):
				   declared as the trace's clock */
	const char *title;
};

/* One trace row, as struct csv_row and the columns it lacks. */
struct pf_row {
	uint64_t ts_ns;
	pid_t pid;
	uint32_t type;		/* enum mt_rec_type or MT_REC_LOG; 0: none */
	int64_t kb[PF_NCOUNTERS];	/* -1: the trace has no such column */
	int64_t total_kb;	/* -1: none */
	/* text columns, "" when absent */
	const char *tid, *cause, *label, *reported, *reported_kb, *addr, *len, *ret;
};

/* Where a trace's columns are, beyond struct csv_row's (-1: absent). */
struct pf_columns {
	int kb[PF_NCOUNTERS];
	int tid, addr, len, ret, reported_kb;
};

/* The columns of the trace r reads (opened, with r->sizes set), and cfg
 * for it (but its title); tree: write the tree's total if it has one. */
void pf_columns__find(struct pf_columns *c, struct pf_cfg *cfg, const struct csv_reader *r,
		      bool tree);
/* The row csvr__next() read last, as the writer takes it. 0, or -EINVAL
 * with r->err (a malformed size). */
int pf_row__read(struct pf_row *pr, struct csv_reader *r, const struct csv_row *row,
		 const struct pf_columns *c);

struct pf_stats {
	uint64_t rows, packets, processes, counter_values, instants, slices;
};

struct pf_out {
	struct pf_cfg cfg;
	FILE *f;
	struct pb pb;		/* a row's packets, written at once */
	void *buf;
	bool started, flagged;
	int64_t total_kb;	/* the tree's, last written */
	uint64_t born;		/* processes seen: the next one's number */
	/* the processes alive */
	struct idmap pidx;	/* pid -> procs[] slot */
	struct pf_proc {
		pid_t pid;
		uint64_t uuid;	/* its track; its counters' are uuid + 1 + c */
		uint64_t born;
		int64_t last[PF_NCOUNTERS];	/* written last; -1: none yet (nor
					   its track) */
		size_t spans;	/* its first span track (spans[]), or SIZE_MAX */
	} *procs;
	size_t nprocs, procs_cap;
	size_t *free_procs;
	size_t nfree, free_cap;
	/* span names (NAME of NAME:begin), and each process's track per name */
	struct idmap name_ix;	/* hash -> names[] */
	char **names;
	size_t nnames, names_cap;
	struct idmap span_ix;	/* process born << 32 | name -> spans[] */
	struct pf_span {
		uint64_t key, uuid;
		uint64_t depth;	/* begins not yet ended */
		size_t name;	/* names[] */
		size_t next;	/* the process's next span track, or SIZE_MAX;
				   in the free list, the next free one */
	} *spans;
	size_t nspans, spans_cap, free_span;
	uint64_t next_uuid;	/* track uuids: small numbers, short varints */
	struct pf_stats st;
};

/* Writes to f (its errors are the caller's to check with ferror). 0 or
 * -ENOMEM. */
int pf_out__init(struct pf_out *o, const struct pf_cfg *cfg, FILE *f);
/* A row, not before the previous one. 0, -ENOMEM, -EMSGSIZE (a row that
 * does not fit in a packet: over 64 KiB of text), -EIO (writing failed:
 * ferror(f), errno). */
int pf_out__row(struct pf_out *o, const struct pf_row *r);
void pf_out__free(struct pf_out *o);

#endif
