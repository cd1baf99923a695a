#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Runs every test: the C unit tests (.output/unit_tests), then the Python
# suites, each named after what a user does or sees and all run by the one
# harness (tests/harness.py): record (launch/attach, children, threads,
# signals, output files, options, bad input), spikes, resample, export
# (Perfetto files decoded with protoc), JSON Lines traces, the peak limit
# (--max-peak/--tolerance), campaign, capture (record --comm/--cgroup), the
# service's checks of what an unprivileged client may trace (issue #16),
# the service itself (memtrace-bpf daemon), checkpoints (marks,
# --checkpoint-regex, validate, stages), the record, checkpoint, guard and
# campaign cases again as a user without root through the service
# (tests/via_daemon.py), a one-node Slurm cluster the suite starts
# (tests/slurm_cluster.py) with jobs traced through the service, bad input
# (malformed traces and result files, memory limits, full disks, a report
# during a live campaign; the corpus of tests/corpus/), the pages of report
# and campaign report --html (opened in headless chromium), the contract
# (tests/contract/: --help options, file formats and exit statuses
# recorded from a build, checked against this one), the Debian package
# (make deb, installed in a fresh debootstrap root and on this machine),
# and the docs (the man page and the bash and zsh completions against each
# --help, make install's). Then it prints one last line:
#
#   N passed, N failed, N skipped
#
# summed over all. Exits non-zero if a test failed or a runner crashed
# (died, or ended without its own summary line; a crashed runner counts as
# one failure). Run from anywhere: tests/run.sh. CI=true turns skipped
# tests into failures; TEST_FILTER, KEEP_TMP and MEMTRACE_BPF are handed on
# to the suites (see tests/harness.py).
set -u

cd "$(dirname "$0")/.." || exit 2

passed=0 failed=0 skipped=0 status=0
log=$(mktemp "${TMPDIR:-/tmp}/memtrace-run.XXXXXX") || exit 2
trap 'rm -f "$log"' EXIT

# run_suite NAME PREFIX CMD...: runs CMD with its output shown and kept,
# then adds the counts of its "PREFIX: N passed, N failed[, N skipped]" line.
run_suite() {
	local name=$1 prefix=$2 rc line p f s
	shift 2
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E "^$prefix: [0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?\$" "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "run.sh: $name crashed (exit $rc, no '$prefix: N passed, N failed' line)" >&2
		failed=$((failed + 1))
		status=1
		return
	fi
	p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	s=0
	case $line in *skipped) s=$(sed -E 's/.* ([0-9]+) skipped$/\1/' <<<"$line") ;; esac
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	if [ "$f" -gt 0 ]; then
		status=1
	elif [ "$rc" -ne 0 ]; then
		echo "run.sh: $name exited $rc with no failed test: counted as a crash" >&2
		failed=$((failed + 1))
		status=1
	fi
}

if [ ! -x .output/unit_tests ] && [ -f tests/unit_tests.c ]; then
	make --no-print-directory -s .output/unit_tests >&2 || true
fi
if [ -x .output/unit_tests ]; then
	run_suite "unit tests" unit .output/unit_tests
else
	echo "run.sh: .output/unit_tests is not built (make .output/unit_tests)" >&2
	failed=$((failed + 1))
	status=1
fi

PYTHON=${PYTHON:-$(command -v python3 || echo python3)}
run_suite "record tests" record "$PYTHON" tests/test_record.py
run_suite "spike tests" spikes "$PYTHON" tests/test_spikes.py
run_suite "resample tests" resample "$PYTHON" tests/test_resample.py
run_suite "export tests" export "$PYTHON" tests/test_export.py
run_suite "JSON Lines tests" jsonl "$PYTHON" tests/test_jsonl.py
run_suite "peak limit tests" peak-limit "$PYTHON" tests/test_peak_limit.py
run_suite "campaign tests" campaign "$PYTHON" tests/test_campaign.py
run_suite "capture tests" capture "$PYTHON" tests/test_capture.py
run_suite "service tests" service "$PYTHON" tests/test_service.py
run_suite "daemon tests" daemon "$PYTHON" tests/test_daemon.py
# the suites' own cases again as a user without root, through the service
# (tests/via_daemon.py); left out: what needs root for its own sake (the
# service's settings, mounts, sudo, capabilities, planting files as
# another user, forcing a PID)
run_suite "record tests through the service" record-daemon "$PYTHON" tests/via_daemon.py record \
	'^(?!.*(reused pid|lost events|unwritable|disk full|--max-procs|planted|under sudo|options: valid|unprivileged user|privileges:|CAP_PERFMON|--btf|20,000))'
run_suite "checkpoint tests through the service" checkpoints-daemon "$PYTHON" tests/via_daemon.py \
	checkpoints '^(?!.*slow reader)'
run_suite "guard tests through the service" guard-daemon "$PYTHON" tests/via_daemon.py guard \
	'^(?!.*capture)'
run_suite "campaign tests through the service" campaign-daemon "$PYTHON" tests/via_daemon.py \
	campaign '.'
run_suite "slurm tests" slurm "$PYTHON" tests/test_slurm.py
run_suite "checkpoint tests" checkpoints "$PYTHON" tests/test_checkpoints.py
run_suite "guard tests" guard "$PYTHON" tests/test_guard.py
run_suite "long-run tests" long "$PYTHON" tests/test_long.py
run_suite "bad input tests" bad-input "$PYTHON" tests/test_bad_input.py
run_suite "report tests" report "$PYTHON" tests/test_report.py
run_suite "contract tests" contract "$PYTHON" tests/test_contract.py
run_suite "package tests" package "$PYTHON" tests/test_package.py
run_suite "docs tests" docs "$PYTHON" tests/test_docs.py

echo "$passed passed, $failed failed, $skipped skipped"
exit $status
