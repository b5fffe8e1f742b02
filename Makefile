# pglane — build, run, test.
#   make run    install what is missing, build, start pglane in front of PostgreSQL
#   make test   install what is missing, build, run every test
#   make asan   the test suite under ASan + UBSan
#   make bench  pgbench: direct PostgreSQL vs PgBouncer vs pglane

CC       ?= gcc
BUILD    ?= build
OPT      ?= -O2
PKGS      = openssl libconfig libpq
WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CPPFLAGS += -D_GNU_SOURCE -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS   += -std=c17 $(OPT) -g $(WARN) -MMD -MP $(SAN)
LDFLAGS  += $(SAN)
LDLIBS   += -lev $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm

# Debian packages: build, run and test dependencies.
DEB_PKGS = gcc make pkg-config libev-dev libssl-dev libconfig-dev libpq-dev libcriterion-dev \
	   postgresql postgresql-client postgresql-contrib pgbouncer procps iproute2 util-linux

PURE_SRC = $(wildcard protocol/*.c config/*.c pool/*.c)
LIB_SRC  = $(PURE_SRC) $(wildcard admin/*.c) $(filter-out proxy/main.c,$(wildcard proxy/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_EXTRA ?=
UNIT_SRC = $(wildcard tests/unit/*.c)
IT_SRC   = $(wildcard tests/integration/*.c)

.PHONY: all run test unit integration asan fuzz format format-check bench deps clean

all: $(BUILD)/pglane

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libpglane.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/pglane: $(BUILD)/proxy/main.o $(BUILD)/libpglane.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests cover pure code only (protocol/, config/, pool/ logic): no sockets.
$(BUILD)/unit_tests: $(UNIT_SRC:%.c=$(BUILD)/%.o) $(PURE_SRC:%.c=$(BUILD)/%.o) $(UNIT_EXTRA:%.c=$(BUILD)/%.o)
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

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		build-asan/pglane build-asan/unit_tests build-asan/integration_tests
	@ASAN=1 tests/run.sh build-asan

bench: deps all
	@bench/run.sh $(BUILD)/pglane

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
