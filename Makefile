# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# memtrace-bpf: exact RSS timelines from kernel events.
#
#   make            build .output/memtrace-bpf
#   sudo make demo  install dependencies, build, trace the demo workload
#   sudo make test  install dependencies, build, run every test
#   sudo make bench page-fault storm: untraced vs traced vs peers
#   make install    PREFIX=/usr/local DESTDIR= (the binary, and the marker
#                   header as include/memtrace/mark.h)
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
ALL_CFLAGS := $(CFLAGS) $(WARNFLAGS) -std=gnu11 -D_GNU_SOURCE -I$(OUTPUT) -Ibpf -Iuser -Iinclude $(EXTRA_CFLAGS) -MMD -MP
LDLIBS    := -lbpf -lelf -lz -lm -lpthread
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

USER_SRCS := $(wildcard user/*/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
MAIN_OBJ  := $(OUTPUT)/user/main.o
WORKLOADS := $(patsubst tests/workloads/%.c,$(OUTPUT)/workloads/%,$(wildcard tests/workloads/*.c))
TOOLS     := $(patsubst tools/%.c,$(OUTPUT)/tools/%,$(wildcard tools/*.c))
BIN       := $(OUTPUT)/memtrace-bpf

.DELETE_ON_ERROR:
.PHONY: all deps demo test bench install uninstall clean

all: $(BIN) $(OUTPUT)/unit_tests $(WORKLOADS) $(TOOLS)

$(OUTPUT) $(OUTPUT)/workloads $(OUTPUT)/tools:
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

# The bpf/*.h it includes are listed by clang's -MMD -MP in memtrace.bpf.d
# (target $@, not the .tmp clang writes; read by the -include at the end).
# vmlinux.h is named here as well: it may need generating before the first
# compile.
$(OUTPUT)/memtrace.bpf.o: bpf/memtrace.bpf.c $(VMLINUX_H) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -I$(dir $(VMLINUX_H)) -MMD -MP -MF $(OUTPUT)/memtrace.bpf.d -MT $@ \
	  -c $< -o $@.tmp && \
	  $(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(OUTPUT)/memtrace.skel.h: $(OUTPUT)/memtrace.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name memtrace_bpf > $@

$(OUTPUT)/user/%.o: user/%.c $(OUTPUT)/memtrace.skel.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BIN): $(MAIN_OBJ) $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/unit_tests: tests/unit_tests.c $(USER_OBJS) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(USER_OBJS) $(LDLIBS) -o $@

$(OUTPUT)/workloads/%: tests/workloads/%.c | $(OUTPUT)/workloads
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@ -lm

$(OUTPUT)/tools/%: tools/%.c | $(OUTPUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@ -lm

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

bench:
	$(Q)tools/install-deps.sh bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/bench.sh
	$(Q)tools/progcost.py
	$(Q)tools/bench-spikes.sh

install: $(BIN)
	$(call msg,INSTALL,$(DESTDIR)$(prefix)/bin/memtrace-bpf)
	$(Q)install -D -m 0755 $(BIN) $(DESTDIR)$(prefix)/bin/memtrace-bpf
	$(call msg,INSTALL,$(DESTDIR)$(prefix)/include/memtrace/mark.h)
	$(Q)install -D -m 0644 include/memtrace/mark.h $(DESTDIR)$(prefix)/include/memtrace/mark.h

uninstall:
	$(Q)rm -f $(DESTDIR)$(prefix)/bin/memtrace-bpf $(DESTDIR)$(prefix)/include/memtrace/mark.h
	$(Q)rmdir $(DESTDIR)$(prefix)/include/memtrace 2>/dev/null || true

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/user/*.d $(OUTPUT)/user/*/*.d $(OUTPUT)/workloads/*.d $(OUTPUT)/*.d)
