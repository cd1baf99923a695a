# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# bash completion for memtrace-bpf. make install puts it in
# $(prefix)/share/bash-completion/completions/memtrace-bpf, where the
# bash-completion package loads it on first use; `source` it to try it.
#
# Completes the commands, each command's long options (the lists below:
# tests/test_docs.py holds each equal to the options its --help lists),
# running PIDs for -p, directories for -d and --cgroup, files for -o and
# the other file options and for a trace argument, the values of the
# options that take one of a few words, and examples where an option takes
# a SIZE or a DURATION. After `--` (or the first word that is not an
# option) of record and campaign comes the traced command: completed by
# its own completion where bash-completion is loaded, else as a command
# name and then files. Needs nothing but bash 4.

_memtrace_bpf_commands="record spikes validate stages resample export report campaign daemon"

# _memtrace_bpf_options CMD: the long options of CMD (record, spikes, ...,
# "campaign report"), as `memtrace-bpf CMD --help` lists them
_memtrace_bpf_options()
{
	case $1 in
	record)
		echo "--cgroup --comm --detach-after --dir --follow --force --pid --trace-format" \
		     "--format --interval --metrics --monitor-log --output --peak-lines --quiet --report" \
		     "--summary --max-peak --tolerance" \
		     "--alert --count --grace --kill-at --kill-signal --on-alert --timeout" \
		     "--as-root --btf --max-procs --no-follow --resolution --ring-size --verbose" \
		     "--checkpoint-regex --log" \
		     "--help --usage --version" ;;
	spikes)
		echo "--format --min-rise --pid --poll --settle --top --window" \
		     "--help --usage --version" ;;
	validate)
		echo "--compare --format --pid --si --tolerance --help --usage --version" ;;
	stages)
		echo "--format --pid --help --usage --version" ;;
	resample)
		echo "--every --output --pid --help --usage --version" ;;
	export)
		echo "--output --perfetto --pid --help --usage --version" ;;
	report)
		echo "--format --max-size --output --pid --summary --title --help --usage --version" ;;
	campaign)
		echo "--dir --file --jobs --param --quiet --repeat" \
		     "--checkpoint-regex --max-peak --report --tolerance --trace-format" \
		     "--alert --count --grace --kill-at --kill-signal --on-alert --timeout" \
		     "--as-root --btf --max-procs --no-follow --resolution --ring-size --verbose" \
		     "--max-parallel --slurm --slurm-opt --slurm-poll" \
		     "--help --usage --version" ;;
	"campaign report")
		# not argp: its --help names these in its USAGE lines (and -o)
		echo "--format --html --output --help" ;;
	daemon)
		echo "--client-queue --metrics --queue-total --socket --status --user-clients --user-groups" \
		     "--user-procs --user-ring-share" \
		     "--as-root --btf --max-procs --no-follow --resolution --ring-size --verbose" \
		     "--help --usage --version" ;;
	esac
}

# the options that take a value, of every command above (the next word is
# that value, not an option nor the traced command)
_memtrace_bpf_arg_options="-d -p -i -o -s -j --cgroup --comm --detach-after --dir --pid
	--trace-format --interval --metrics --monitor-log --output --peak-lines --summary --max-peak
	--tolerance --alert --count --grace --kill-at --kill-signal --on-alert --timeout --btf
	--max-procs --resolution --ring-size --checkpoint-regex --log --format --min-rise --poll
	--settle --top --window --compare --every --max-size --title --file --jobs --param
	--repeat --max-parallel --slurm-opt --slurm-poll --client-queue --queue-total --socket
	--user-clients --user-groups --user-procs --user-ring-share"

_memtrace_bpf_takes_arg()
{
	[[ " ${_memtrace_bpf_arg_options//[$'\t\n']/ } " == *" $1 "* ]]
}

# _memtrace_bpf_value CMD OPT CUR: COMPREPLY for the value of OPT
_memtrace_bpf_value()
{
	local cmd=$1 opt=$2 cur=$3 words="" pre=""

	case $opt in
	-p | --pid)
		[ "$cmd" = record ] || return 0	# the offline commands: a PID of the trace
		# PID[,PID]: the next one after the last comma
		if [[ $cur == *,* ]]; then
			pre=${cur%,*},
			cur=${cur##*,}
		fi
		local pids
		pids=$(cd /proc && printf '%s\n' [0-9]*)
		COMPREPLY=($(compgen -P "$pre" -W "$pids" -- "$cur"))
		return 0 ;;
	-d | --dir | --cgroup)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -d -- "$cur"))
		return 0 ;;
	-o | --output | -s | --summary | --monitor-log | --metrics | --log | --file | --btf | --socket)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0 ;;
	--format)
		case $cmd in
		report) words="html svg" ;;
		record) words="csv jsonl" ;;
		"campaign report") words="text json" ;;
		*) words="table json" ;;
		esac ;;
	--compare) words="auto current rss peak" ;;
	--count) words="rss anon" ;;
	--kill-signal) words="KILL TERM INT HUP QUIT USR1 USR2" ;;
	--trace-format) words="csv zst gz" ;;
	# sizes and durations: examples (K M G T; ns us ms s m h)
	--ring-size) words="1M 8M 64M 256M" ;;
	--kill-at | --max-peak | --alert) words="512M 1G 2G 4G" ;;
	--min-rise | --peak-lines) words="1M 10M 100M" ;;
	--max-size | --client-queue) words="4M 8M 64M" ;;
	--queue-total) words="64M 256M 1G" ;;
	--tolerance) words="5% 10% 100M" ;;
	--settle) words="10% 1M" ;;
	-i | --interval) words="100ms 500ms 1s 2s" ;;
	--every | --poll | --window | --resolution) words="1ms 10ms 100ms 1s" ;;
	--grace) words="1s 5s 10s" ;;
	--timeout | --detach-after) words="10s 1m 1h" ;;
	esac
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
	return 0
}

_memtrace_bpf()
{
	local cword=$COMP_CWORD cur=${COMP_WORDS[COMP_CWORD]} prev="" pre=""
	local cmd=record first=1 i w

	COMPREPLY=()
	# --opt=VALUE: "=" is a word of its own where COMP_WORDBREAKS has it
	if ((cword > 0)); then
		prev=${COMP_WORDS[cword - 1]}
	fi
	if [ "$cur" = "=" ]; then
		cur=""
	elif [ "$prev" = "=" ] && ((cword > 1)); then
		prev=${COMP_WORDS[cword - 2]}
	elif [[ $cur == --*=* ]]; then
		prev=${cur%%=*}
		pre=$prev=
		cur=${cur#*=}
	fi

	# the command: the first word, if it names one; campaign report
	if ((cword > 1)) && [[ " $_memtrace_bpf_commands " == *" ${COMP_WORDS[1]} "* ]]; then
		cmd=${COMP_WORDS[1]}
		first=2
		if [ "$cmd" = campaign ] && ((cword > 2)) && [ "${COMP_WORDS[2]}" = report ]; then
			cmd="campaign report"
			first=3
		fi
	fi

	# record, campaign: where the traced command starts (after --, or at
	# the first word that is neither an option nor an option's value)
	local at=-1
	if [ "$cmd" = record ] || [ "$cmd" = campaign ]; then
		for ((i = first; i < cword; i++)); do
			w=${COMP_WORDS[i]}
			if [ "$w" = -- ]; then
				at=$((i + 1))
				break
			elif [[ $w != -* ]]; then
				at=$i
				break
			elif [ "${COMP_WORDS[i + 1]}" = "=" ]; then
				((i += 2))
			elif [[ $w != *=* ]] && _memtrace_bpf_takes_arg "$w"; then
				((i++))
			fi
		done
		# the word being completed starts it, unless it is an option, the
		# value of one, or where a command's name goes (record's first word,
		# campaign's report)
		if ((at < 0 && i == cword)) && [[ $cur != -* ]] && [ -z "$pre" ] &&
		   { ((cword > first)) || [ "${COMP_WORDS[1]}" = record ]; } &&
		   ! { [[ $prev == -* ]] && _memtrace_bpf_takes_arg "$prev"; }; then
			at=$cword
		fi
	fi
	if ((at >= 0)); then
		if declare -F _command_offset >/dev/null; then
			_command_offset "$at"
		elif ((at == cword)); then
			COMPREPLY=($(compgen -c -- "$cur" | sort -u))
		else
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return 0
	fi

	if [[ $prev == -* ]] && _memtrace_bpf_takes_arg "$prev"; then
		_memtrace_bpf_value "$cmd" "$prev" "$cur"
		if [ -n "$pre" ]; then
			COMPREPLY=("${COMPREPLY[@]/#/$pre}")
		fi
		return 0
	fi

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_memtrace_bpf_options "$cmd")" -- "$cur"))
		return 0
	fi

	case $cmd in
	record)
		if ((cword == 1)); then
			COMPREPLY=($(compgen -W "$_memtrace_bpf_commands" -- "$cur"))
		fi ;;
	campaign)
		if ((cword == 2)); then
			COMPREPLY=($(compgen -W "report" -- "$cur"))
		fi ;;
	"campaign report")
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -d -- "$cur")) ;;
	spikes | validate | stages | resample | export | report)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur")) ;;
	esac
	return 0
}

complete -F _memtrace_bpf memtrace-bpf
