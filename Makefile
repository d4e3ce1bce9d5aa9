# balloond: `make` builds, `make check` tests, `make demo` shows it working.
CC      ?= gcc
PKGS    := json-c inih libsystemd libmicrohttpd libvirt
BUILD   := build
WARN    := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wvla -Wno-unused-parameter
CFLAGS  ?= -O2 -g
# src/ is grouped in folders (core/, backend/, host/, report/, daemon/, ...);
# includes stay by basename, so every folder is on the include path.
SRCDIRS := $(shell find src -type d)
CFLAGS  += -std=gnu11 $(WARN) -D_GNU_SOURCE $(addprefix -I,$(SRCDIRS)) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
# balloonctl speaks JSON on a Unix socket: it links json-c and libsystemd
# (util.c's logging) only, never libvirt or microhttpd.
CTLLIBS := $(shell pkg-config --libs json-c libsystemd 2>/dev/null) -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Every source under src/, wherever it lives; objects are named by basename
# (build/obj/<basename>.o), so basenames stay unique across folders.
SRCS    := $(wildcard src/*.c src/*/*.c src/*/*/*.c)
HDRS    := $(wildcard src/*.h src/*/*.h src/*/*/*.h)
MAINS   := $(filter %/balloond.c %/balloonctl.c,$(SRCS))
CORE    := $(filter-out $(MAINS),$(SRCS))
OBJ     := $(addprefix $(BUILD)/obj/,$(notdir $(CORE:.c=.o)))
SANOBJ  := $(addprefix $(BUILD)/san/,$(notdir $(CORE:.c=.o)))
# balloonctl's own modules (src/cli/) stay out of balloond.
OBJ     := $(filter-out $(BUILD)/obj/vmlist.o,$(OBJ))
ifneq ($(words $(sort $(notdir $(SRCS)))),$(words $(SRCS)))
$(error two sources under src/ share a basename: objects and includes are by basename)
endif
vpath %.c $(SRCDIRS)
UNIT    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
FUZZERS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
# The fuzz corpora and crash inputs replayed as regression tests, with gcc
# and the sanitizers (make check needs no clang): build/tests/test_fuzz_*.
UNIT    += $(FUZZERS:%=$(BUILD)/tests/test_fuzz_%)
HELPERS := $(patsubst tests/helpers/%.c,$(BUILD)/tests/%,$(wildcard tests/helpers/*.c))

.PHONY: all deps guest check unit integration demo demo-libvirt clean install
# Objects are never intermediate: building one test must not delete the others.
.SECONDARY:
all: $(BUILD)/balloond $(BUILD)/balloonctl $(BUILD)/balloond-sim

$(BUILD)/obj/%.o: %.c $(HDRS) | $(BUILD)/obj
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(BUILD)/san/%.o: %.c $(HDRS) | $(BUILD)/san
	$(CC) $(CFLAGS) $(SAN) -O1 -c -o $@ $<
$(BUILD)/balloond: $(BUILD)/obj/balloond.o $(OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/balloonctl: $(BUILD)/obj/balloonctl.o $(BUILD)/obj/vmlist.o $(BUILD)/obj/ctl.o $(BUILD)/obj/util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CTLLIBS)
# Unit tests share tests/unit/fixture.c (fixture paths and writable trees).
$(BUILD)/tests/test_%: tests/unit/test_%.c tests/unit/fixture.c tests/unit/fixture.h $(SANOBJ) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(SAN) -O1 -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka
$(BUILD)/tests/test_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(SANOBJ) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(SAN) -O1 -o $@ $^ $(LDLIBS)
$(BUILD)/tests/%: tests/helpers/%.c $(wildcard tests/helpers/*.h) | $(BUILD)/tests
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)
# lvcheck drives lv_loop and lv_worker against a real libvirtd.
$(BUILD)/tests/lvcheck: tests/helpers/lvcheck.c $(BUILD)/obj/lv_loop.o $(BUILD)/obj/lv_worker.o $(BUILD)/obj/util.o | $(BUILD)/tests
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/obj $(BUILD)/san $(BUILD)/tests:
	mkdir -p $@

deps:
	scripts/deps.sh

guest: deps
	guest/build.sh $(BUILD)/guest

# Unit tests (ASan+UBSan), then integration tests on real TCG guests.
# tests/run.sh prints the closing "N passed, N failed" line.
check: deps
	$(MAKE) all $(UNIT) $(HELPERS)
	guest/build.sh $(BUILD)/guest
	tests/run.sh $(BUILD)

unit: all $(UNIT)
	tests/run.sh --unit-only $(BUILD)

# The demo's and the benchmark's guests: BACKEND=qmp, QEMU processes with a
# QMP socket each, or BACKEND=libvirt, domains of a private libvirtd that
# balloond manages with backend = libvirt (scripts/guests.sh).
BACKEND ?= qmp

demo: deps
	$(MAKE) all
	guest/build.sh $(BUILD)/guest
	GUESTS_BACKEND=$(BACKEND) scripts/demo.sh $(BUILD)

demo-libvirt:
	$(MAKE) demo BACKEND=libvirt

clean:
	rm -rf $(BUILD)

# Density benchmark (issue 3): every policy on the same 2x-overcommitted real
# guests, one after the other; a table in bench/results.md, CSV and plots in
# bench/out/. About 15 minutes; not part of make check. BACKEND=libvirt:
# the same on libvirt domains, into bench/results-libvirt.md, bench/out/libvirt/.
.PHONY: bench
bench: deps
	$(MAKE) all
	guest/build.sh $(BUILD)/guest
	bench/density.sh -b $(BACKEND) $(BUILD)

# Density frontier (issue 15): each policy's highest overcommit ratio in
# every simulator scenario, by bisection; bench/frontier.md and
# bench/out/frontier/frontier.png. No guests; SIM_ARGS="--vms 100" to scale.
.PHONY: bench-frontier
bench-frontier: all
	bench/frontier.sh $(BUILD)

# Install (issue 5): `make install PREFIX=/usr DESTDIR=/tmp/pkg`. PREFIX
# defaults to /usr/local; the config goes to $(DESTDIR)/etc/balloond, as an
# example only: an existing balloond.conf is never touched.
PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
UNITDIR     ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
CONFDIR     ?= /etc/balloond
INSTALL     ?= install

.PHONY: install uninstall
install: all
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(CONFDIR)
	$(INSTALL) -m 0755 $(BUILD)/balloond $(DESTDIR)$(SBINDIR)/balloond
	$(INSTALL) -m 0755 $(BUILD)/balloonctl $(DESTDIR)$(BINDIR)/balloonctl
	$(INSTALL) -m 0644 doc/balloond.8 doc/balloonctl.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 doc/balloond.conf.5 $(DESTDIR)$(MANDIR)/man5/
	sed 's|^ExecStart=/usr/sbin/balloond |ExecStart=$(SBINDIR)/balloond |' \
		systemd/balloond.service >$(DESTDIR)$(UNITDIR)/balloond.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/balloond.service
	$(INSTALL) -m 0644 completion/balloonctl $(DESTDIR)$(BASHCOMPDIR)/balloonctl
	$(INSTALL) -m 0644 balloond.conf.example $(DESTDIR)$(CONFDIR)/balloond.conf.example

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/balloond $(DESTDIR)$(BINDIR)/balloonctl \
		$(DESTDIR)$(MANDIR)/man8/balloond.8 $(DESTDIR)$(MANDIR)/man8/balloonctl.8 \
		$(DESTDIR)$(MANDIR)/man5/balloond.conf.5 $(DESTDIR)$(UNITDIR)/balloond.service \
		$(DESTDIR)$(BASHCOMPDIR)/balloonctl $(DESTDIR)$(CONFDIR)/balloond.conf.example
	rmdir $(DESTDIR)$(CONFDIR) 2>/dev/null || true

# Simulator (issue 6): balloond-sim from sim/*.c and the core objects that
# hold the daemon's own estimator, control steps, guard and policy. Its unit test gets
# sim/*.c (but sim/main.c) compiled in, under the sanitizers.
SIMSRC  := $(filter-out sim/main.c,$(wildcard sim/*.c))
SIMCORE := $(addprefix $(BUILD)/obj/,control.o observe.o tick.o policy.o peers.o estimate.o guard.o vmem.o conf.o conf_keys.o trust.o util.o)
# No libmicrohttpd: the simulator serves no metrics.
SIMLIBS := $(shell pkg-config --libs json-c inih libsystemd 2>/dev/null) -lm
$(BUILD)/balloond-sim: sim/main.c $(SIMSRC) $(wildcard sim/*.h) $(SIMCORE)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ sim/main.c $(SIMSRC) $(SIMCORE) $(SIMLIBS)
$(BUILD)/tests/test_sim: tests/unit/test_sim.c $(SIMSRC) $(wildcard sim/*.h) $(SANOBJ) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(SAN) -O1 -Isim -o $@ tests/unit/test_sim.c $(SIMSRC) $(SANOBJ) $(LDLIBS) -lcmocka

# Burst benchmark (issue 9): guest OOM kills and reclaimed memory with
# full-speed allocations after idle (100/200/300 MiB in 512 MiB guests).
# About 3 minutes; not part of make check. Other builds to compare:
# bench/burst.sh build other-build.
.PHONY: bench-burst
bench-burst: deps
	$(MAKE) all
	guest/build.sh $(BUILD)/guest
	flock /tmp/balloond-guests.lock bench/burst.sh $(BUILD)

# Scale benchmark (issue 12): balloond against N = 100..5000 fake QMP VMs
# served by one process (bench/loadqmp*.c); CPU, RSS, fds, attach time,
# tick lateness, commands, status and /metrics latency, deflate latency.
# A table in bench/scale.md, a plot in bench/out/. About 12 minutes;
# SCALE_NS="100 1000" and SCALE_WINDOW_S=20 for a quick run.
LOADQMP := $(wildcard bench/loadqmp*.c)
$(BUILD)/bench/loadqmp: $(LOADQMP) bench/loadqmp.h | $(BUILD)/bench
	$(CC) $(CFLAGS) -o $@ $(LOADQMP) $(shell pkg-config --libs json-c) -lm
$(BUILD)/bench:
	mkdir -p $@
.PHONY: bench-scale
bench-scale:
	$(MAKE) all $(BUILD)/bench/loadqmp
	flock /tmp/balloond-guests.lock bench/scale.sh $(BUILD)

# virtio-mem benchmark (issue 13): reclaim 512 MiB and give it back with
# the balloon, virtio-mem, and the balloon with free page reporting; a
# table in bench/vmem.md (the README carries it). About 4 minutes.
.PHONY: bench-vmem
bench-vmem: deps
	$(MAKE) all
	guest/build.sh $(BUILD)/guest
	flock /tmp/balloond-guests.lock bench/vmem.sh $(BUILD)

# Rescue latency (issue 15.4): from a guest's demand passing its available
# memory to the deflate command and to its need, for balloond and the
# peers' re-implementations on the same real guests. About 15 minutes.
.PHONY: bench-rescue
bench-rescue: deps
	$(MAKE) all
	guest/build.sh $(BUILD)/guest
	flock /tmp/balloond-guests.lock bench/rescue.sh $(BUILD)

bench-ksm: deps
	$(MAKE) all
	guest/build.sh $(BUILD)/guest
	flock /tmp/balloond-guests.lock bench/ksm.sh $(BUILD)

# Fuzzing (issue 9): clang's libFuzzer from Debian, each harness for
# FUZZ_SECONDS (FUZZ=name runs one), corpora in tests/fuzz/corpus/NAME,
# crashes in tests/fuzz/crashes/NAME; see tests/fuzz/README.
CLANG        ?= clang
FUZZ_SECONDS ?= 60
FUZZ         ?= $(FUZZERS)
FUZZSAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# gcc's -Wformat=2 checks the tree; clang also wants format attributes on
# va_list helpers, which gcc does not ask for.
FUZZWARN     := -Wno-unknown-warning-option -Wno-format-nonliteral
FUZZOBJ      := $(addprefix $(BUILD)/fuzz/obj/,$(notdir $(CORE:.c=.o)))
$(BUILD)/fuzz/obj/%.o: %.c $(HDRS) | $(BUILD)/fuzz/obj
	$(CLANG) $(CFLAGS) $(FUZZWARN) $(FUZZSAN) -fsanitize=fuzzer-no-link -O1 -c -o $@ $<
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZOBJ)
	$(CLANG) $(CFLAGS) $(FUZZWARN) $(FUZZSAN) -fsanitize=fuzzer -O1 -o $@ $^ $(LDLIBS)
$(BUILD)/fuzz/obj:
	mkdir -p $@
.PHONY: fuzz fuzz-build
fuzz-build:
	scripts/deps.sh fuzz
	$(MAKE) $(FUZZ:%=$(BUILD)/fuzz/fuzz_%)
fuzz: fuzz-build
	tests/fuzz/run.sh $(BUILD) $(FUZZ_SECONDS) $(FUZZ)

# Debian package (issue 14): dpkg-buildpackage -us -uc -b on a copy of the
# tree (debian/), then lintian; balloond_*.deb in build/deb/.
.PHONY: deb
deb: deps
	scripts/mkdeb.sh $(BUILD)/deb

# The package under a real systemd (issue 14.2), outside make check: a
# debootstrapped Debian 12 root (cached in build/systemd/root, about 3
# minutes the first time) booted with systemd-nspawn, the package from make
# deb installed in it, a TCG guest inside; tests/systemd/check.sh. About 30 s
# once cached.
.PHONY: check-systemd
check-systemd: deb guest
	scripts/deps.sh systemd
	flock /tmp/balloond-guests.lock tests/systemd/check.sh $(BUILD)
