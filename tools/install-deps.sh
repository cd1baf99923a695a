#!/usr/bin/env bash
# Installs the Debian packages memtrace-bpf needs to build, test and run
# the demo (and, with the argument "bench", the benchmark's peers) -- only
# the missing ones, with apt-get update first. Idempotent.
#   tools/install-deps.sh          build, tests, demo
#   tools/install-deps.sh bench    also perf, bpftrace, /usr/bin/time, xz
#   tools/install-deps.sh asan     also clang's sanitizer and libFuzzer
#                                  runtimes (make check-asan, make fuzz)
#   tools/install-deps.sh deb      only what make deb needs (debian/control's
#                                  Build-Depends and dpkg-buildpackage)
set -euo pipefail

build=(
	make gcc clang llvm pkg-config    # build: C and BPF compilers
	libbpf-dev libelf-dev zlib1g-dev  # libbpf and what it links
	libzstd-dev libjson-c-dev         # .csv.zst traces (zlib above: .csv.gz); JSON Lines read back (json-c)
	bpftool                           # vmlinux.h and the skeleton
	libslurm-dev                      # spank.h: the Slurm plugin (srun --memtrace)
)
pkgs=(
	"${build[@]}"
	zstd jq                           # the tests read .zst traces with zstd(1) and pipe JSON Lines into jq
	build-essential debhelper         # make deb (the package tests build one)
	debootstrap                       # the package tests: a fresh Debian root to install it in
	python3                           # integration tests
	libcap2-bin util-linux            # capsh, setpriv: privilege tests
	passwd procps                     # useradd/userdel, pkill: the service tests' own user
	systemd                           # systemd-analyze, systemd-socket-activate: the daemon's units checked
	mount e2fsprogs                   # tmpfs and ext2 (loop) disks for the full-disk tests
	systemtap-sdt-dev                 # sys/sdt.h: MEMTRACE_MARK (memtrace/mark.h) USDT probes
	protobuf-compiler                 # protoc: the tests decode export --perfetto's files
	groff-base man-db bash-completion zsh  # the docs tests: groff -ww and man -l render the man page; bash-completion loads, zsh drives the completions
	chromium fonts-dejavu-core        # the report tests open each page headless; make demo's screenshot
	slurmctld slurmd slurmdbd slurm-client munge mariadb-server  # the Slurm tests' one-node cluster (tests/slurm_cluster.py)
	python3-prometheus-client         # the tests parse --metrics files with its parser
)
if [ "${1:-}" = deb ]; then
	pkgs=("${build[@]}" build-essential debhelper)
fi
if [ "${1:-}" = bench ]; then
	pkgs+=(linux-perf bpftrace time xz-utils)  # peers, /usr/bin/time, xz (tools/realprog.sh)
fi
if [ "${1:-}" = asan ]; then
	# libclang_rt.asan/ubsan/fuzzer for the clang of `clang` above: only a
	# Recommends of libclang-common-*-dev, so --no-install-recommends
	# leaves them out (libclang-rt-dev pulls libclang-rt-14-dev on Debian 12)
	pkgs+=(libclang-rt-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages: ${missing[*]}" >&2
	echo "install-deps: run as root (sudo make ...) to install them, or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
