/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Checkpoint validation: an application's own memory readings (checkpoint
 * rows) and what it printed about them (log rows) against the exact
 * timeline between and around them. Fed row by row, in time order.
 */
#ifndef MEMTRACE_VALIDATE_H
#define MEMTRACE_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/idmap.h"

enum v_compare {
	V_CMP_AUTO = 0,	/* from the words that label the value (value_compare) */
	V_CMP_RSS,	/* the RSS at the checkpoint (--compare current, rss) */
	V_CMP_PEAK,	/* the exact peak of the process up to the checkpoint */
};

/* What decided a reported value's comparison. */
enum v_basis {
	V_BASIS_OPTION,	/* --compare current|peak */
	V_BASIS_LABEL,	/* the words that label the value in its line */
	V_BASIS_LINE,	/* the whole line: the value has no label of its own,
			   or is not in the line as kept (cut at 1024 bytes) */
};

#define V_LABEL_LEN 48

struct v_cfg {
	enum v_compare compare;
	bool si;		/* KB/MB/GB are 1000-based */
	double tol_pct;		/* the peak verdict's allowance */
	int64_t tol_kb;		/* used instead when > 0 */
};

/* A value the application printed (a log row). */
struct v_reported {
	uint64_t ts_ns;
	uint64_t line;		/* in the trace */
	char *text;		/* the captured value, as printed */
	char *log;		/* the whole line */
	int64_t kb;		/* < 0: unit unknown */
	int cp;			/* paired checkpoint index, -1: none before it */
	enum v_compare cmp;	/* RSS or PEAK, after auto */
	enum v_basis basis;	/* what decided cmp */
	char label[V_LABEL_LEN];	/* V_BASIS_LABEL: the words (cut) */
	int64_t ref_kb;		/* what it is compared with */
	int64_t diff_kb;	/* kb - ref_kb (when kb >= 0) */
};

struct v_checkpoint {
	pid_t pid;
	uint64_t ts_ns;
	char source[16];	/* status, statm, smaps_rollup, getrusage */
	char stage[40];		/* its process's last mark before it ("": none) */
	int64_t exact_kb;	/* RSS at the checkpoint */
	int64_t peak_so_far_kb;	/* exact peak of the process up to here */
	int64_t max_since_prev_kb;	/* exact peak since its previous checkpoint */
	uint64_t max_since_prev_ts_ns;
	int64_t prev_exact_kb;	/* -1: the first checkpoint of its process */
	int prev_cp;		/* index of its process's previous one, -1: none */
	int64_t excess_kb;	/* max_since_prev - max(prev, this) */
	int first_reported;	/* index in reported[], -1: none */
	int nreported;
};

/* What happened after each process's last checkpoint. */
struct v_tail {
	pid_t pid;
	size_t order;		/* its process's place in the trace */
	int64_t last_exact_kb;
	int64_t max_kb;
	uint64_t max_ts_ns;
	int64_t excess_kb;
};

struct v_proc {
	pid_t pid;
	size_t order;		/* order of first row */
	int64_t cur_kb, peak_kb;
	uint64_t peak_ts_ns;
	int64_t max_since_kb;	/* since its last checkpoint (or start) */
	uint64_t max_since_ts_ns;
	int last_cp;		/* -1: none yet */
	char last_mark[40];
};

struct validation {
	struct v_cfg cfg;
	struct v_checkpoint *cps;
	size_t ncps, cps_cap;
	struct v_reported *rep;
	size_t nrep, rep_cap;
	struct v_proc *procs;	/* those alive: a process's exit row ends it */
	size_t nprocs, procs_cap;
	struct idmap pidx;	/* pid -> procs[] */
	size_t nseen;		/* processes seen */
	size_t nprocs_cp;	/* of them, with a checkpoint */
	struct v_tail *tails;	/* in the order of their processes */
	size_t ntails, tails_cap;
	uint64_t rows, first_ts_ns, last_ts_ns;
	uint64_t unknown_units;
	/* the verdict (validation__finish) */
	int worst_error;	/* reported index, -1: none comparable */
	int worst_excess;	/* checkpoint index, -1: none */
	int worst_tail;		/* tails index, -1: none */
	int64_t true_peak_kb;	/* over the processes that have checkpoints */
	uint64_t true_peak_ts_ns;
	pid_t true_peak_pid;
	int64_t app_peak_kb;	/* largest reported value (peak ones first) */
	int app_peak_rep;	/* -1: nothing reported */
	int64_t checkpoint_max_kb;	/* largest RSS any checkpoint saw */
	int peak_trusted;	/* 1 yes, 0 no, -1 nothing to judge */
};

void validation__init(struct validation *v, const struct v_cfg *cfg);
/* One trace row. line: its line number (for messages). Returns 0, or
 * -ENOMEM. A reported value whose unit is unknown is kept, with kb < 0. */
int validation__row(struct validation *v, uint64_t line, uint64_t ts_ns, pid_t pid,
		    int64_t vmrss_kb, const char *event, const char *cause,
		    const char *label, const char *reported);
void validation__finish(struct validation *v);
void validation__free(struct validation *v);

/* Does a log line speak of a peak ("Peak RSS", "max", "VmHWM", "high
 * water")? (case-insensitive) */
bool line_says_peak(const char *line);

/* What a value captured from a line (its text, as in the line) is compared
 * with: the exact peak when the words that label it speak of a peak, else
 * the RSS at its checkpoint. Its label: the text before it, back to the
 * previous field separator (| , ; ( [ {) or number (skipping the unit
 * after that number), a bracketed part kept whole ("Memory (peak): 20
 * MB"); when that has no letter, the text after it, up to the next
 * separator or number ("12 MB peak, 3 MB now"). A value whose text is in
 * the line more than once: its first place. No label, or the value not in
 * the line: the whole line decides (line_says_peak). Puts the label's
 * words (cut to len bytes, "" for the whole line) in label and what
 * decided in *basis; returns V_CMP_PEAK or V_CMP_RSS. */
enum v_compare value_compare(const char *line, const char *value, char *label, size_t len,
			     enum v_basis *basis);

#endif
