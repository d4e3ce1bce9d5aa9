# balloond: `make` builds, `make check` tests, `make demo` shows it working.
CC      ?= gcc
PKGS    := json-c inih libsystemd libmicrohttpd
BUILD   := build
WARN    := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -D_GNU_SOURCE -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

MAINS   := src/balloond.c src/balloonctl.c
CORE    := $(filter-out $(MAINS),$(wildcard src/*.c))
OBJ     := $(CORE:src/%.c=$(BUILD)/obj/%.o)
SANOBJ  := $(CORE:src/%.c=$(BUILD)/san/%.o)
UNIT    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
HELPERS := $(patsubst tests/helpers/%.c,$(BUILD)/tests/%,$(wildcard tests/helpers/*.c))

.PHONY: all deps guest check unit integration demo clean install
all: $(BUILD)/balloond $(BUILD)/balloonctl

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)/obj
	$(CC) $(CFLAGS) -c -o $@ $<
$(BUILD)/san/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)/san
	$(CC) $(CFLAGS) $(SAN) -O1 -c -o $@ $<
$(BUILD)/balloond: $(BUILD)/obj/balloond.o $(OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/balloonctl: $(BUILD)/obj/balloonctl.o $(BUILD)/obj/ctl.o $(BUILD)/obj/util.o
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/test_%: tests/unit/test_%.c $(SANOBJ) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(SAN) -O1 -o $@ $^ $(LDLIBS) -lcmocka
$(BUILD)/tests/%: tests/helpers/%.c | $(BUILD)/tests
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

demo: deps
	$(MAKE) all
	guest/build.sh $(BUILD)/guest
	scripts/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD)

# Density benchmark (issue 3): every policy on the same 2x-overcommitted real
# guests, one after the other; a table in bench/results.md, CSV and plots in
# bench/out/. About 15 minutes; not part of make check.
.PHONY: bench
bench: deps
	$(MAKE) all
	guest/build.sh $(BUILD)/guest
	bench/density.sh $(BUILD)
