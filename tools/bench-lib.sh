# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# shellcheck shell=bash
#
# What the bench scripts share (sourced by tools/bench.sh, bench-pair.sh,
# realprog.sh, bench-table.sh, bench-selftest.sh; not run on its own):
#
#   memtrace-bpf's summary   summary_fields FILE PATH...   (tools/jsonfields.py)
#                            cost_fields FILE: the summary's "cost" object,
#                            COST_KEYS in order, NA for each one it lacks
#   the one table            figures_reset PART; figure PART KEY VALUE [NOTE]
#                            (FIGURES, .output/bench-figures.tsv: what each
#                            part measured, read by tools/bench-table.sh)
#   awk                      $AWK_STATS: median(), minof(), maxof(), na()
#
# The caller sets OUT (the build directory) and defines die().

COST_KEYS="rss_events full_sums records loader_user_s loader_sys_s loader_maxrss_kb"
NO_COST="n/a (this build has no cost object)"
FIGURES=${BENCH_FIGURES:-$OUT/bench-figures.tsv}
JSONFIELDS=tools/jsonfields.py

now_ns() { date +%s%N; }

# The values at PATHs of the JSON file FILE, tab-separated; NA for each
# when the file is missing or unreadable.
summary_fields() {
	local file=$1 out
	shift
	if ! out=$("$JSONFIELDS" "$file" "$@" 2>/dev/null); then
		out=$(printf 'NA\t%.0s' "$@")
		out=${out%$'\t'}
	fi
	printf '%s\n' "$out"
}

# memtrace-bpf's own accounting in the summary FILE: its "cost" object
# (rss_events: rss_stat runs on traced mms; full_sums: of those, how many
# summed every CPU's slot; records: rows written; loader_user_s,
# loader_sys_s, loader_maxrss_kb: its own rusage at the end).
cost_fields() {
	local k paths=()
	for k in $COST_KEYS; do paths+=("cost.$k"); done
	summary_fields "$1" "${paths[@]}"
}

# Forgets what PART measured before (its lines in FIGURES).
figures_reset() {
	local part=$1
	mkdir -p "$(dirname "$FIGURES")"
	if [ -f "$FIGURES" ]; then
		awk -F'\t' -v p="$part" '$1 != p' "$FIGURES" >"$FIGURES.tmp" && mv "$FIGURES.tmp" "$FIGURES"
	fi
}

# One figure: PART KEY VALUE [NOTE] (no tabs or newlines inside).
figure() {
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$FIGURES"
}

# Paired ratios: each traced run over the geometric mean of the untraced
# runs just before and after it (over the one there is, at an end).
# pair_ratios FILE KINDCOL VALUECOL UNTRACED: reads a TSV with a header,
# rows in run order; prints one ratio per traced row, in order, NA if no
# untraced neighbour succeeded (VALUE NA).
pair_ratios() {
	awk -F'\t' -v kc="$2" -v vc="$3" -v u="$4" '
	NR == 1 { next }
	{ n++; kind[n] = $kc; val[n] = $vc }
	END {
		for (i = 1; i <= n; i++) {
			if (kind[i] == u) continue
			a = ""; b = ""
			for (j = i - 1; j >= 1; j--) if (kind[j] == u) { if (val[j] != "NA") a = val[j]; break }
			for (j = i + 1; j <= n; j++) if (kind[j] == u) { if (val[j] != "NA") b = val[j]; break }
			if (val[i] == "NA" || (a == "" && b == "")) print "NA"
			else if (a == "" || b == "") printf "%.4f\n", val[i] / (a == "" ? b : a)
			else printf "%.4f\n", val[i] / sqrt(a * b)
		}
	}' "$1"
}

# awk helpers: arrays indexed 1..k; NA-aware callers skip NA themselves.
AWK_STATS='
function median(arr, k,    i, j, t, b) {
	if (k == 0) return "NA"
	for (i = 1; i <= k; i++) b[i] = arr[i] + 0
	for (i = 2; i <= k; i++) { t = b[i]; for (j = i - 1; j >= 1 && b[j] > t; j--) b[j + 1] = b[j]; b[j + 1] = t }
	return (k % 2) ? b[(k + 1) / 2] : (b[k / 2] + b[k / 2 + 1]) / 2
}
function minof(arr, k,    i, m) { if (k == 0) return "NA"; m = arr[1] + 0; for (i = 2; i <= k; i++) if (arr[i] + 0 < m) m = arr[i] + 0; return m }
function maxof(arr, k,    i, m) { if (k == 0) return "NA"; m = arr[1] + 0; for (i = 2; i <= k; i++) if (arr[i] + 0 > m) m = arr[i] + 0; return m }
function na(x, fmt) { return (x == "NA" || x == "") ? "NA" : sprintf(fmt, x) }
'
