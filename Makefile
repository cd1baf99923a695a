# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# memtrace-bpf: exact RSS timelines from kernel events.
#
#   make            build .output/memtrace-bpf
#   sudo make demo  install dependencies, build, trace the demo workload
#   sudo make test  install dependencies, build, run every test
#   sudo make bench page-fault storm: untraced vs traced vs peers and
#                   empty programs; per-call costs and the exact sum's cost
#                   model; two storms at once; xz -6; a runaway allocator
#                   vs --kill-at, pollers and a cgroup; one table at the end
#   make bench-check  the bench's parsing and reports on hand-written inputs
#   make deb        a Debian package of it all in .output/deb/ (/usr/sbin,
#                   /usr/share, /lib/systemd/system; dpkg-buildpackage)
#   make install    PREFIX=/usr/local DESTDIR= BINDIR= (the binary, the marker
#                   header as include/memtrace/mark.h, and the service's
#                   systemd units: systemctl enable --now memtrace-bpf.socket;
#                   the Slurm plugin in $(prefix)/lib/memtrace-bpf/ when
#                   built; the man page, memtrace-bpf(8), and the bash and
#                   zsh completions)
#
# V=1 shows full commands. VMLINUX_BTF=FILE or VMLINUX_H=FILE choose where
# vmlinux.h comes from (default: the running kernel's BTF, else the copy in
# vmlinux/$(ARCH)/).

OUTPUT     ?= .output
CLANG      ?= clang
BPFTOOL    ?= $(firstword $(shell command -v bpftool 2>/dev/null) /usr/sbin/bpftool)
CC         ?= cc
PREFIX     ?= /usr/local
prefix     ?= $(PREFIX)
BINDIR     ?= $(prefix)/bin
DESTDIR    ?=

ARCH := $(shell uname -m | sed 's/x86_64/x86/')
ifneq ($(ARCH),x86)
$(error memtrace-bpf supports x86_64 only for now (exceptions:page_fault_user and the syscall table are x86); this machine is $(shell uname -m))
endif

VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
ifeq ($(origin VMLINUX_H),undefined)
  ifneq ($(wildcard $(VMLINUX_BTF)),)
    VMLINUX_H := $(OUTPUT)/vmlinux.h
  else
    VMLINUX_H := vmlinux/$(ARCH)/vmlinux.h
  endif
endif

CFLAGS    ?= -O2 -g
WARNFLAGS := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
ALL_CFLAGS := $(CPPFLAGS) $(CFLAGS) $(WARNFLAGS) -std=gnu11 -D_GNU_SOURCE -I$(OUTPUT) -Ibpf -Iuser -Iinclude $(EXTRA_CFLAGS) -MMD -MP
LDLIBS    := -lbpf -lelf -lz -lzstd -ljson-c -lm -lpthread
# -idirafter: <bpf/usdt.bpf.h> pulls in <linux/errno.h>, whose <asm/errno.h>
# lives under the multiarch include directory, which -target bpf skips
MULTIARCH_INC := /usr/include/$(shell $(CC) -dumpmachine 2>/dev/null)
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Ibpf \
	      -idirafter $(MULTIARCH_INC) $(EXTRA_BPF_CFLAGS)

ifeq ($(V),1)
  Q :=
  msg :=
else
  Q := @
  msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# user/slurm/: the Slurm plugin, a shared object of its own (below)
USER_SRCS := $(filter-out user/slurm/%,$(wildcard user/*/*.c))
# the report page's script and style, linked in as data (report/assets.h)
REPORT_ASSETS := $(wildcard user/report/*.js user/report/*.css)
ASSETS_OBJ := $(OUTPUT)/report_assets.o
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS)) $(ASSETS_OBJ)
MAIN_OBJ  := $(OUTPUT)/user/main.o
WORKLOADS := $(patsubst tests/workloads/%.c,$(OUTPUT)/workloads/%,$(wildcard tests/workloads/*.c))
TOOLS     := $(patsubst tools/%.c,$(OUTPUT)/tools/%,$(filter-out %.bpf.c,$(wildcard tools/*.c)))
BIN       := $(OUTPUT)/memtrace-bpf
# The Slurm plugin (srun --memtrace), built when Slurm's headers are here
# (libslurm-dev); it links nothing of Slurm's: slurmstepd provides it
SPANK_H   ?= /usr/include/slurm/spank.h
SPANK     := $(if $(wildcard $(SPANK_H)),$(OUTPUT)/memtrace_spank.so)
SPANKDIR  ?= $(prefix)/lib/memtrace-bpf

.DELETE_ON_ERROR:
.PHONY: all bin deps demo test bench bench-check install uninstall clean deb

all: $(BIN) $(OUTPUT)/unit_tests $(WORKLOADS) $(TOOLS) $(SPANK)

$(OUTPUT) $(OUTPUT)/workloads $(OUTPUT)/tools:
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

# BPF objects: memtrace's (bpf/) and the bench's yardsticks (tools/,
# tools/emptyprog.bpf.c). The headers one includes are listed by clang's
# -MMD -MP in NAME.bpf.d (target $@, not the .tmp clang writes; read by the
# -include at the end). vmlinux.h is named here as well: it may need
# generating before the first compile.
BPF_OBJS := $(OUTPUT)/memtrace.bpf.o $(OUTPUT)/emptyprog.bpf.o
# kept between builds, though only the skeletons name them; and the
# skeletons, which only pattern rules name until the objects' .d files do:
# deleted as intermediates after the first build, the next make (make
# install) would make them again and rebuild every object
.SECONDARY: $(BPF_OBJS) $(BPF_OBJS:.bpf.o=.skel.h)

define bpf_object
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -I$(dir $(VMLINUX_H)) -MMD -MP -MF $(@:.o=.d) -MT $@ \
	  -c $< -o $@.tmp && \
	  $(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp
endef

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX_H) | $(OUTPUT)
	$(bpf_object)

$(OUTPUT)/%.bpf.o: tools/%.bpf.c $(VMLINUX_H) | $(OUTPUT)
	$(bpf_object)

# NAME.bpf.o -> NAME.skel.h, struct NAME_bpf
$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(OUTPUT)/user/%.o: user/%.c $(OUTPUT)/memtrace.skel.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# ld names each file's bytes after it (run where the files are):
# _binary_report_js_start .. _end; noexecstack, as the compiler's objects
$(ASSETS_OBJ): $(REPORT_ASSETS) | $(OUTPUT)
	$(call msg,ASSETS,$@)
	$(Q)cd user/report && $(LD) -r -b binary -z noexecstack -o $(abspath $@) $(notdir $(REPORT_ASSETS))

# what make install ships
bin: $(BIN) $(SPANK)

$(BIN): $(MAIN_OBJ) $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/unit_tests: tests/unit_tests.c $(USER_OBJS) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(USER_OBJS) $(LDLIBS) -o $@

# -pthread: threads.c and runaway.c start threads (glibc >= 2.34 would link
# without it; older ones, and other libcs, need it)
$(OUTPUT)/workloads/%: tests/workloads/%.c | $(OUTPUT)/workloads
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -pthread $< -o $@ -lm

# the service's process checks as a command, for tests/test_service.py
$(OUTPUT)/tools/svc-check: tools/svc-check.c $(OUTPUT)/user/service/check.o | $(OUTPUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@

# the kernel side of an owned group driven as the daemon will (the local
# tracer), for tests/test_service.py
$(OUTPUT)/tools/svc-bpf-probe: tools/svc-bpf-probe.c $(USER_OBJS) | $(OUTPUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(USER_OBJS) $(LDLIBS) -o $@

$(OUTPUT)/tools/%: tools/%.c | $(OUTPUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@ -lm

# the loader of tools/emptyprog.bpf.c (the bench's empty-program row)
$(OUTPUT)/tools/emptyprog: tools/emptyprog.c $(OUTPUT)/emptyprog.skel.h | $(OUTPUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(LDLIBS) -o $@

# Installs the Debian packages the build, the tests and the demo need
# (only those missing; apt-get update first); bench adds its peers.
deps:
	$(Q)tools/install-deps.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/demo.sh $(BIN)

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run.sh

# Each part prints its own report and adds its figures to
# bench-figures.tsv, emptied first; bench-table.sh makes the one table.
# tools/soak.sh's length a run in make bench (seconds; sudo tools/soak.sh
# 300 for the issue's five minutes)
SOAK_S ?= 30

bench:
	$(Q)tools/install-deps.sh bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/bench-selftest.sh -q
	$(Q)rm -f $(OUTPUT)/bench-figures.tsv
	$(Q)tools/bench.sh
	$(Q)tools/progcost.py
	$(Q)tools/bench-pair.sh
	$(Q)tools/realprog.sh
	$(Q)tools/bench-spikes.sh
	$(Q)tools/bench-report.sh
	$(Q)tools/bench-guard.sh
	$(Q)tools/soak.sh $(SOAK_S)
	$(Q)tools/bench-table.sh

bench-check:
	$(Q)tools/bench-selftest.sh

# the service's systemd units (memtrace-bpf daemon); $(prefix)/lib/systemd/system
# is on systemd's search path for /usr/local and /usr alike
UNITDIR ?= $(prefix)/lib/systemd/system
# the man page and the shell completions: where man, bash-completion and
# zsh look under /usr/local and /usr alike
MANDIR      ?= $(prefix)/share/man
BASHCOMPDIR ?= $(prefix)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(prefix)/share/zsh/site-functions
# the page names installed paths as under /usr/local; these say where they
# are (troff's \- for each -)
MAN_PATHS := -e 's|/usr/local/lib/systemd/system|$(subst -,\\-,$(UNITDIR))|g' \
	     -e 's|/usr/local/lib/memtrace\\-bpf|$(subst -,\\-,$(SPANKDIR))|g' \
	     -e 's|/usr/local|$(subst -,\\-,$(prefix))|g'

$(OUTPUT)/memtrace_spank.so: user/slurm/memtrace_spank.c | $(OUTPUT)
	$(call msg,CC-SPANK,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $(WARNFLAGS) -std=gnu11 -D_GNU_SOURCE -fPIC -shared \
		-DBIN_DEFAULT='"$(BINDIR)/memtrace-bpf"' -o $@ $<

install: $(BIN) $(SPANK)
	$(call msg,INSTALL,$(DESTDIR)$(BINDIR)/memtrace-bpf)
	$(Q)install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/memtrace-bpf
	$(call msg,INSTALL,$(DESTDIR)$(prefix)/include/memtrace/mark.h)
	$(Q)install -D -m 0644 include/memtrace/mark.h $(DESTDIR)$(prefix)/include/memtrace/mark.h
	$(call msg,INSTALL,$(DESTDIR)$(UNITDIR)/memtrace-bpf.socket)
	$(Q)install -D -m 0644 user/service/systemd/memtrace-bpf.socket $(DESTDIR)$(UNITDIR)/memtrace-bpf.socket
	$(call msg,INSTALL,$(DESTDIR)$(UNITDIR)/memtrace-bpf.service)
	$(Q)mkdir -p $(DESTDIR)$(UNITDIR)
	$(Q)sed 's|@BINDIR@|$(BINDIR)|g' user/service/systemd/memtrace-bpf.service.in > $(DESTDIR)$(UNITDIR)/memtrace-bpf.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/memtrace-bpf.service
	$(call msg,INSTALL,$(DESTDIR)$(MANDIR)/man8/memtrace-bpf.8)
	$(Q)mkdir -p $(DESTDIR)$(MANDIR)/man8
	$(Q)sed $(MAN_PATHS) user/man/memtrace-bpf.8 > $(DESTDIR)$(MANDIR)/man8/memtrace-bpf.8
	$(Q)chmod 0644 $(DESTDIR)$(MANDIR)/man8/memtrace-bpf.8
	$(call msg,INSTALL,$(DESTDIR)$(BASHCOMPDIR)/memtrace-bpf)
	$(Q)install -D -m 0644 tools/completion/memtrace-bpf.bash $(DESTDIR)$(BASHCOMPDIR)/memtrace-bpf
	$(call msg,INSTALL,$(DESTDIR)$(ZSHCOMPDIR)/_memtrace-bpf)
	$(Q)install -D -m 0644 tools/completion/_memtrace-bpf $(DESTDIR)$(ZSHCOMPDIR)/_memtrace-bpf
ifneq ($(SPANK),)
	$(call msg,INSTALL,$(DESTDIR)$(SPANKDIR)/memtrace_spank.so)
	$(Q)install -D -m 0755 $(SPANK) $(DESTDIR)$(SPANKDIR)/memtrace_spank.so
endif

uninstall:
	$(Q)rm -f $(DESTDIR)$(BINDIR)/memtrace-bpf $(DESTDIR)$(prefix)/include/memtrace/mark.h
	$(Q)rm -f $(DESTDIR)$(UNITDIR)/memtrace-bpf.socket $(DESTDIR)$(UNITDIR)/memtrace-bpf.service
	$(Q)rm -f $(DESTDIR)$(SPANKDIR)/memtrace_spank.so
	$(Q)rm -f $(DESTDIR)$(MANDIR)/man8/memtrace-bpf.8
	$(Q)rm -f $(DESTDIR)$(BASHCOMPDIR)/memtrace-bpf $(DESTDIR)$(ZSHCOMPDIR)/_memtrace-bpf
	$(Q)rmdir $(DESTDIR)$(SPANKDIR) 2>/dev/null || true
	$(Q)rmdir $(DESTDIR)$(prefix)/include/memtrace 2>/dev/null || true

# A Debian package (binary only, unsigned) of what make install ships, in
# Debian's places (debian/rules): built by dpkg-buildpackage in a copy of
# the tree under $(OUTPUT)/deb/, where the .deb lands (dpkg-buildpackage
# writes beside the tree it builds). Its Depends come from the libraries the
# binary links (dh_shlibdeps).
DEB_DIR := $(OUTPUT)/deb
deb:
	$(Q)tools/install-deps.sh deb
	$(call msg,DEB,$(DEB_DIR))
	$(Q)rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	$(Q)tar --exclude=./.output --exclude=./.git -cf - . | tar -C $(DEB_DIR)/src -xf -
	$(Q)cd $(DEB_DIR)/src && dpkg-buildpackage -b -us -uc > ../build.log 2>&1 || \
		{ tail -n 40 ../build.log >&2; echo "make deb: dpkg-buildpackage failed; the whole log: $(DEB_DIR)/build.log" >&2; exit 1; }
	$(Q)ls $(DEB_DIR)/*.deb

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

# ---- sanitizers and fuzzing ------------------------------------------------
#
#   make check-asan   the unit tests and memtrace-bpf built with ASan+UBSan in
#                     $(OUTPUT)/asan/ (never mixed with the normal build), run
#                     on the unit tests, the offline subcommands over
#                     tests/corpus/, and the fuzz targets over their saved
#                     corpus: fails on any sanitizer report (tests/check_asan.py)
#   make fuzz         each libFuzzer target for FUZZ_SECONDS (default 60; more
#                     libFuzzer flags in FUZZ_ARGS); new inputs go into its
#                     saved corpus, tests/fuzz/corpus/NAME/
#   make fuzz-min     minimizes the saved corpora (libFuzzer -merge=1): the
#                     inputs of at most 3 KiB that add coverage, then the
#                     fewest longer ones that reach an edge those do not
#
# clang's sanitizer and libFuzzer runtimes: tools/install-deps.sh asan.
SAN_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_ARGS   ?=
ASAN_OUT    := $(OUTPUT)/asan
FUZZ_OUT    := $(OUTPUT)/fuzz
SAN_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
SAN_CFLAGS   = $(WARNFLAGS) -std=gnu11 -D_GNU_SOURCE -I$(OUTPUT) -Ibpf -Iuser -Iinclude -MMD -MP
ASAN_OBJS   := $(patsubst user/%.c,$(ASAN_OUT)/user/%.o,$(USER_SRCS)) $(ASSETS_OBJ)
# what the fuzz targets reach: the readers, the analyses and their reports;
# a small line limit and read buffer, so small inputs reach both edges
FUZZ_SRCS   := $(wildcard user/format/*.c user/analysis/*.c user/lib/*.c) user/trace/wire.c
FUZZ_OBJS   := $(patsubst user/%.c,$(FUZZ_OUT)/user/%.o,$(FUZZ_SRCS))
FUZZ_FLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	       -fno-sanitize-recover=all -DCSV_MAX_LINE=1024 -DCSV_READ_BUF=1536
FUZZERS     := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS   := $(addprefix $(FUZZ_OUT)/,$(FUZZERS))

.PHONY: check-asan asan-build fuzz fuzz-build fuzz-min deps-asan
# made for the pattern rule of the fuzz targets only: kept, not intermediate
.SECONDARY: $(FUZZ_OBJS)

deps-asan:
	$(Q)tools/install-deps.sh asan

$(ASAN_OUT)/user/%.o: user/%.c $(OUTPUT)/memtrace.skel.h
	$(call msg,CC-ASAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(SAN_FLAGS) $(SAN_CFLAGS) -c $< -o $@

$(ASAN_OUT)/memtrace-bpf: $(ASAN_OUT)/user/main.o $(ASAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(SAN_CC) $(SAN_FLAGS) $^ $(LDLIBS) -o $@

$(ASAN_OUT)/unit_tests: tests/unit_tests.c $(ASAN_OBJS)
	$(call msg,CC-ASAN,$@)
	$(Q)$(SAN_CC) $(SAN_FLAGS) $(SAN_CFLAGS) $< $(ASAN_OBJS) $(LDLIBS) -o $@

$(FUZZ_OUT)/user/%.o: user/%.c
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(FUZZ_FLAGS) $(SAN_CFLAGS) -c $< -o $@

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	$(call msg,CC-FUZZ,$@)
	$(Q)$(SAN_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $(SAN_CFLAGS) $< $(FUZZ_OBJS) -lzstd -lz -ljson-c -lm -lpthread -o $@

asan-build: $(ASAN_OUT)/memtrace-bpf $(ASAN_OUT)/unit_tests

fuzz-build: $(FUZZ_BINS)

check-asan: deps-asan
	$(Q)$(MAKE) --no-print-directory asan-build fuzz-build
	$(Q)tests/check_asan.py

# Each target's new inputs are kept in its saved corpus (the first
# directory); the seeds (tests/corpus/, unpacked) are read, not written.
fuzz: deps-asan
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)tests/check_asan.py --seeds $(FUZZ_OUT)/seeds
	$(Q)set -e; for f in $(FUZZERS); do \
		mkdir -p tests/fuzz/corpus/$$f $(FUZZ_OUT)/artifacts; \
		echo "  FUZZ     $$f for $(FUZZ_SECONDS)s"; \
		$(FUZZ_OUT)/$$f -max_total_time=$(FUZZ_SECONDS) $(FUZZ_ARGS) \
			-timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_OUT)/artifacts/ \
			tests/fuzz/corpus/$$f $(FUZZ_OUT)/seeds/$$f; \
	done

fuzz-min: fuzz-build
	$(Q)set -e; for f in $(FUZZERS); do \
		m=$(FUZZ_OUT)/min/$$f; rm -rf $$m; mkdir -p $$m/short $$m/long $$m/out; \
		find tests/fuzz/corpus/$$f -type f -size -3073c -exec cp {} $$m/short/ \; ; \
		find tests/fuzz/corpus/$$f -type f -size +3072c -exec cp {} $$m/long/ \; ; \
		$(FUZZ_OUT)/$$f -merge=1 $$m/out $$m/short; \
		$(FUZZ_OUT)/$$f -merge=1 -use_counters=0 -max_len=8192 $$m/out $$m/long; \
		rm -rf tests/fuzz/corpus/$$f; cp -r $$m/out tests/fuzz/corpus/$$f; \
	done

-include $(wildcard $(OUTPUT)/user/*.d $(OUTPUT)/user/*/*.d $(OUTPUT)/workloads/*.d $(OUTPUT)/tools/*.d $(OUTPUT)/*.d)
-include $(wildcard $(ASAN_OUT)/user/*.d $(ASAN_OUT)/user/*/*.d $(ASAN_OUT)/*.d)
-include $(wildcard $(FUZZ_OUT)/user/*/*.d $(FUZZ_OUT)/*.d)
