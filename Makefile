# pglane — build, run, test.
#   make run    install what is missing, build, start pglane in front of PostgreSQL
#   make test   install what is missing, build, run every test
#   make asan   the test suite under ASan + UBSan
#   make tsan   the integration tests with pglane under ThreadSanitizer
#   make bench  pgbench: direct PostgreSQL vs PgBouncer vs pglane (workers = 1, = BENCH_CORES)
#   make install / make deb   install under PREFIX (DESTDIR honoured) / build a Debian package

CC       ?= gcc
BUILD    ?= build
OPT      ?= -O2
PKGS      = openssl libconfig libpq libcares
WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CPPFLAGS += -D_GNU_SOURCE -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS   += -std=c17 -pthread $(OPT) -g $(WARN) -MMD -MP $(SAN)
LDFLAGS  += -pthread $(SAN)
LDLIBS   += -lev $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm

# Debian packages: build, run and test dependencies.
DEB_PKGS = gcc make pkg-config libev-dev libssl-dev libconfig-dev libpq-dev libcriterion-dev \
	   libc-ares-dev \
	   postgresql postgresql-client postgresql-contrib pgbouncer procps iproute2 util-linux openssl \
	   python3-psycopg python3-asyncpg libpostgresql-jdbc-java default-jdk-headless \
	   chromium prometheus-pgbouncer-exporter haproxy

PURE_SRC = $(wildcard protocol/*.c config/*.c pool/*.c)
LIB_SRC  = $(PURE_SRC) $(wildcard admin/*.c) $(filter-out proxy/main.c,$(wildcard proxy/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_EXTRA ?=
UNIT_SRC = $(wildcard tests/unit/*.c)
IT_SRC   = $(wildcard tests/integration/*.c)

.PHONY: all run test unit integration asan tsan fuzz format format-check bench deps clean \
	install uninstall deb

all: $(BUILD)/pglane

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# The status page (GET /) is compiled in: admin/status_html.c is generated from the HTML.
admin/status_html.c: admin/status.html scripts/html2c.sh
	scripts/html2c.sh admin/status.html $@ admin_status_html

$(BUILD)/libpglane.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/pglane: $(BUILD)/proxy/main.o $(BUILD)/libpglane.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests cover pure code only (protocol/, config/, pool/ logic, proxy/addr: matching the
# sockets of a takeover), and proxy/sdnotify (one datagram to a socket of the test's own).
UNIT_PROXY = proxy/sdnotify.c proxy/addr.c
$(BUILD)/unit_tests: $(UNIT_SRC:%.c=$(BUILD)/%.o) $(PURE_SRC:%.c=$(BUILD)/%.o) \
		$(UNIT_PROXY:%.c=$(BUILD)/%.o) $(UNIT_EXTRA:%.c=$(BUILD)/%.o)
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion $(LDLIBS)

$(BUILD)/integration_tests: $(IT_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libpglane.a
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion $(LDLIBS)

# Install only the Debian packages that are missing (as root, or with sudo).
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
		| grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run.sh $(BUILD)/pglane

test: deps
	@$(MAKE) --no-print-directory $(BUILD)/pglane $(BUILD)/unit_tests $(BUILD)/integration_tests
	@tests/run.sh $(BUILD)

unit: $(BUILD)/unit_tests
	$(BUILD)/unit_tests --jobs 2

integration: $(BUILD)/pglane $(BUILD)/integration_tests
	$(BUILD)/integration_tests

# pglane under ThreadSanitizer (build-tsan/pglane) behind the regular test binaries: the
# integration suite with its default of two workers; fails on any ThreadSanitizer report.
tsan: deps
	@$(MAKE) --no-print-directory BUILD=build-tsan OPT=-O1 \
		SAN="-fsanitize=thread -fno-omit-frame-pointer" build-tsan/pglane
	@$(MAKE) --no-print-directory $(BUILD)/unit_tests $(BUILD)/integration_tests
	@TSAN=1 PGLANE_RUN_BIN=$(CURDIR)/build-tsan/pglane tests/run.sh $(BUILD)

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		build-asan/pglane build-asan/unit_tests build-asan/integration_tests
	@ASAN=1 tests/run.sh build-asan

# libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang into build-fuzz/ and run one after
# the other for FUZZ_SECONDS each; fails on any crash, leak, timeout or sanitizer report.
# clang and its fuzzer runtime are installed by fuzz-deps only: `make test` does not need them.
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_BUILD     = build-fuzz
FUZZ_DEB_PKGS  = clang libclang-rt-14-dev
FUZZ_SAN       = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS    = -std=c17 -O1 -g $(WARN) -MMD -MP -fsanitize=fuzzer-no-link $(FUZZ_SAN)
FUZZ_TARGETS   = $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_LIB_OBJ   = $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(PURE_SRC) $(wildcard admin/*.c))

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(LDLIBS)

.PRECIOUS: $(FUZZ_BUILD)/%.o
.PHONY: fuzz-deps fuzz-build
fuzz-deps: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(FUZZ_DEB_PKGS)"

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory fuzz-build
	@tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: deps all
	@bench/run.sh $(BUILD)/pglane

# make install: the binary, the man pages, the systemd unit, and /etc/pglane/pglane.conf when
# there is none (an existing config is never overwritten).
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc/pglane

install: $(BUILD)/pglane
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)
	install -m 0755 $(BUILD)/pglane $(DESTDIR)$(BINDIR)/pglane
	install -m 0644 docs/pglane.1 $(DESTDIR)$(MANDIR)/man1/pglane.1
	install -m 0644 docs/pglane.conf.5 $(DESTDIR)$(MANDIR)/man5/pglane.conf.5
	sed 's|@BINDIR@|$(BINDIR)|g' scripts/pglane.service.in > $(DESTDIR)$(UNITDIR)/pglane.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/pglane.service
	[ -e $(DESTDIR)$(SYSCONFDIR)/pglane.conf ] || \
		install -m 0644 scripts/pglane.conf $(DESTDIR)$(SYSCONFDIR)/pglane.conf

# The config in SYSCONFDIR stays (it may have been edited).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pglane $(DESTDIR)$(MANDIR)/man1/pglane.1 \
		$(DESTDIR)$(MANDIR)/man5/pglane.conf.5 $(DESTDIR)$(UNITDIR)/pglane.service

# make deb: dpkg-buildpackage on a copy of the tree (git's files, edits included) in
# build-deb/, so that its clean step never touches this tree; the .deb lands in build-deb/.
DEB_TOOLS   = debhelper dpkg-dev fakeroot man-db gcc make pkg-config libev-dev libssl-dev \
	      libconfig-dev libpq-dev libc-ares-dev
DEB_BUILD   = build-deb
DEB_VERSION = $(shell sed -n 's/^\#define PGLANE_VERSION "\(.*\)"/\1/p' proxy/context.h)

deb:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(DEB_TOOLS)"
	rm -rf $(DEB_BUILD) && mkdir -p $(DEB_BUILD)/pglane-$(DEB_VERSION)
	git ls-files -co --exclude-standard | grep -v '^debian/\.' | \
		tar -cf - -T - | tar -xf - -C $(DEB_BUILD)/pglane-$(DEB_VERSION)
	cd $(DEB_BUILD)/pglane-$(DEB_VERSION) && dpkg-buildpackage -us -uc -b
	@ls -1 $(DEB_BUILD)/*.deb

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan build-fuzz build-deb build-dev

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
