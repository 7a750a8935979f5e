# horloge build. Sources are found by glob, so adding a module needs no edit here:
#   src/core/*.c   -> $(B)/libhorloge_core.a   (pure: checked by tools/check-core-purity.sh)
#   src/io/*.c     -> $(B)/libhorloge_io.a     (main.c excluded; it is horloged's entry)
#   src/cli/*.c    -> $(B)/horloge
#   tests/unit/test_*.c  -> one cmocka program each, linked with both libraries
#   tests/sim/*.c        -> simulation harness library; tests/sim/test_*.c -> cmocka programs
#   tests/fuzz/fuzz_*.c  -> libFuzzer targets (clang), corpora in tests/fuzz/corpus/NAME/
#   bench/ntpload.c, bench/udpecho.c -> $(B)/ntpload, $(B)/udpecho (bench/serve.sh's load and floor;
#                                       ntpload links the libraries for NTS)
#   man/*.scd            -> $(B)/man/* (scdoc), installed with the systemd unit by `make install`
# SAN=1 builds everything with ASan+UBSan into build-san/.

CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
SAN ?= 0
CONFIG ?= etc/horloge.conf
# Where `make install` puts the systemd unit, sysusers and tmpfiles files (Debian 12: /lib/systemd/system).
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
# sd_notify (io/notify) when libsystemd's headers are there; without them it is a no-op.
SYSTEMD ?= $(shell pkg-config --exists libsystemd 2>/dev/null && echo 1)

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
       -Wformat=2 -Wundef -Wvla
CFLAGS ?= -O2 -g
ifeq ($(SAN),1)
B ?= build-san
CFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else
B ?= build
endif
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -Isrc $(CPPFLAGS) $(CFLAGS) -MMD -MP
LIBS = -lmicrohttpd -lssl -lcrypto -lnettle -lseccomp -lpthread -lm
ifeq ($(SYSTEMD),1)
ALL_CFLAGS += -DHORLOGE_SYSTEMD
LIBS += -lsystemd
endif

CORE_SRC := $(wildcard src/core/*.c)
IO_SRC := $(filter-out src/io/main.c,$(wildcard src/io/*.c))
CLI_SRC := $(wildcard src/cli/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
SIMLIB_SRC := $(filter-out tests/sim/test_%.c,$(wildcard tests/sim/*.c))
SIMTEST_SRC := $(wildcard tests/sim/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

CORE_LIB := $(B)/libhorloge_core.a
IO_LIB := $(B)/libhorloge_io.a
SIM_LIB := $(B)/libhorloge_sim.a
DAEMON := $(B)/horloged
CLI := $(B)/horloge
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
SIM_BINS := $(patsubst tests/sim/%.c,$(B)/tests/%,$(SIMTEST_SRC))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
TOOLS := $(B)/ntpload $(B)/udpecho
MAN_PAGES := $(patsubst man/%.scd,$(B)/man/%,$(wildcard man/*.scd))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

.SECONDARY:
.PHONY: all check test unit sim integration fuzz fuzz-regress san-check deps run install man bench clean purity simdocs
all: $(DAEMON) $(CLI) $(TOOLS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c $< -o $@

$(CORE_LIB): $(call obj,$(CORE_SRC))
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^

$(IO_LIB): $(call obj,$(IO_SRC))
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^

$(SIM_LIB): $(call obj,$(SIMLIB_SRC))
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^ $(if $^,,)

$(DAEMON): $(call obj,src/io/main.c) $(IO_LIB) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(CLI): $(call obj,$(CLI_SRC)) $(IO_LIB) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/test_%: $(B)/obj/tests/unit/test_%.o $(IO_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBS)

# The golden-file test of the CLI's text output needs the CLI's renderers.
$(B)/tests/test_render: $(call obj,src/cli/render.c)

$(B)/tests/test_sim_%: $(B)/obj/tests/sim/test_sim_%.o $(SIM_LIB) $(IO_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBS)

# The benchmark's load generator and floor responder (bench/serve.sh), one C file each; ntpload
# links the libraries for its NTS mode (NTS-KE client, NTS fields, AES-SIV).
$(B)/ntpload: $(B)/obj/bench/ntpload.o $(IO_LIB) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/udpecho: $(B)/obj/bench/udpecho.o
	$(CC) $(LDFLAGS) -o $@ $^

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_SRC) $(IO_SRC)
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE -Isrc -g -O1 -fsanitize=fuzzer,address,undefined $< $(CORE_SRC) $(IO_SRC) -o $@ $(LIBS)

# notify.o is rebuilt when libsystemd appears or goes (SYSTEMD changes), e.g. once deps installed it.
SYSTEMD_FLAG := $(B)/systemd.flag
$(shell mkdir -p $(B) && (echo '$(SYSTEMD)' | cmp -s - $(SYSTEMD_FLAG) || echo '$(SYSTEMD)' > $(SYSTEMD_FLAG)))
$(call obj,src/io/notify.c tests/unit/test_notify.c): $(SYSTEMD_FLAG)

$(B)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@

man: $(MAN_PAGES)

deps:
	@sh tools/deps.sh

purity: $(CORE_LIB) $(DAEMON)
	@sh tools/check-core-purity.sh $(CORE_LIB)
	@sh tools/check-sim-ready.sh $(DAEMON)

unit: $(UNIT_BINS)
	@sh tools/run-tests.sh $(UNIT_BINS)

sim: $(SIM_BINS)
	@sh tools/run-tests.sh $(SIM_BINS)

integration: all $(TOOLS)
	@sh tests/integration/run.sh $(B)

fuzz-regress: $(FUZZ_BINS)
	@sh tools/fuzz.sh regress $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@sh tools/fuzz.sh run $(FUZZ_BINS)

# Everything, then the unit, simulation and integration tests again under ASan+UBSan.
check test: deps
	$(MAKE) all purity unit sim fuzz-regress integration
	$(MAKE) SAN=1 all unit sim integration
	@echo "all test suites passed"

run: deps all
	$(DAEMON) -d -f $(CONFIG)

# The installed configuration names the unit's user (_horloge, made by the sysusers file) instead
# of `nobody`: the unit starts horloged as root and it drops to that user, as one started by hand.
install: $(DAEMON) $(CLI) $(MAN_PAGES)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/horloge \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 0755 $(DAEMON) $(DESTDIR)$(PREFIX)/sbin/horloged
	install -m 0755 $(CLI) $(DESTDIR)$(PREFIX)/bin/horloge
	install -m 0644 $(B)/man/horloge.1 $(DESTDIR)$(PREFIX)/share/man/man1/horloge.1
	install -m 0644 $(B)/man/horloge.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/horloge.conf.5
	install -m 0644 $(B)/man/horloged.8 $(DESTDIR)$(PREFIX)/share/man/man8/horloged.8
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' etc/systemd/horloge.service.in > $(DESTDIR)$(SYSTEMDUNITDIR)/horloge.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/horloge.service
	install -m 0644 etc/systemd/horloge.sysusers $(DESTDIR)$(SYSUSERSDIR)/horloge.conf
	install -m 0644 etc/systemd/horloge.tmpfiles $(DESTDIR)$(TMPFILESDIR)/horloge.conf
	test -e $(DESTDIR)/etc/horloge/horloge.conf || \
	    sed 's/^user nobody$$/user _horloge/' etc/horloge.conf > $(DESTDIR)/etc/horloge/horloge.conf

# docs/simulations.md and docs/sim/*.svg from every simulated scenario (tools/simdocs.sh).
simdocs: $(SIM_BINS)
	@sh tools/simdocs.sh $(SIM_BINS)

bench: all $(TOOLS)
	sh bench/serve.sh $(B)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(B) -name '*.d' 2>/dev/null)
