# attnlrp build. `make` builds build/attnlrp; `make check` builds and runs every test;
# `make check SAN=1` does the same under AddressSanitizer + UndefinedBehaviorSanitizer (build-san/).
CC      ?= cc
SAN     ?= 0
PREFIX  ?= /usr/local

ifeq ($(SAN),1)
BUILD   ?= build-san
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN   := -fsanitize=address,undefined
else
BUILD   ?= build
OPT     := -O2 -g
LDSAN   :=
endif

CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(OPT) -Isrc -Iinclude -I/usr/include/x86_64-linux-gnu/openblas-pthread
CFLAGS  += -DLRP_DATADIR='"$(PREFIX)/share/attnlrp"'
LDLIBS  := -lopenblas -ljansson -lonig -lutf8proc -lpng -ljpeg -lm -lpthread

LIB_SRC := $(sort $(shell find src -name '*.c' ! -path 'src/cli/*'))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC:= $(sort $(wildcard tests/test_*.c))
TEST_SUP:= $(sort $(wildcard tests/support/*.c))
BENCH_SRC:= $(sort $(wildcard bench/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
SUP_OBJ := $(TEST_SUP:%.c=$(BUILD)/%.o)
TEST_BIN:= $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN:= $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all check clean install bench test deps
.SECONDARY:
all: $(BUILD)/attnlrp

# Objects depend on the compiler and flags that built them: $(BUILD)/.flags changes with them, so a build
# with other flags (CC=clang, CFLAGS=...) never links objects left from an earlier one.
FLAGS_NOW := $(CC) $(CFLAGS)
ifneq ($(FLAGS_NOW),$(shell cat $(BUILD)/.flags 2>/dev/null))
$(shell mkdir -p $(BUILD))
$(file >$(BUILD)/.flags,$(FLAGS_NOW))
endif

$(BUILD)/%.o: %.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libattnlrp.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/attnlrp: $(CLI_OBJ) $(BUILD)/libattnlrp.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(SUP_OBJ) $(BUILD)/libattnlrp.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libattnlrp.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

# Benchmark programs (bench/*.c); the scripts in bench/ build and run them.
bench: $(BUILD)/attnlrp $(BENCH_BIN)

check: $(BUILD)/attnlrp $(TEST_BIN)
	BUILD=$(BUILD) bash tests/run.sh

# Everything CI runs: the suite with gcc, again under ASan+UBSan, and a warning-free clang build.
test:
	bash tests/all.sh

# The Debian packages of deps.txt (build and tests; .ci/run reads the same file). Nothing to do when all are
# installed; otherwise, as root, apt-get installs the missing ones, and as another user the exact command
# is printed and make stops. DEPS_UID, APT_GET and DPKG_QUERY are there for the tests.
DEPS_UID   ?= $(shell id -u)
APT_GET    ?= apt-get
DPKG_QUERY ?= dpkg-query
deps:
	@missing=""; for p in $$(sed 's/#.*//' deps.txt); do \
		$(DPKG_QUERY) -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "make deps: every package of deps.txt is installed"; \
	elif [ "$(DEPS_UID)" = 0 ]; then \
		DEBIAN_FRONTEND=noninteractive $(APT_GET) update -q && \
		DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q --no-install-recommends $$missing; \
	else \
		echo "make deps: installing packages needs root; run (e.g. with sudo):" >&2; \
		echo "apt-get install -y$$missing"; \
		exit 1; \
	fi

install: $(BUILD)/attnlrp
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/attnlrp
	install -m 755 $(BUILD)/attnlrp $(DESTDIR)$(PREFIX)/bin/attnlrp
	for m in default sentiment vit-fashion; do if [ -d models/$$m ]; then cp -r models/$$m $(DESTDIR)$(PREFIX)/share/attnlrp/; fi; done

clean:
	rm -rf build build-san build-clang build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(SUP_OBJ:.o=.d) $(TEST_BIN:=.d) $(BENCH_BIN:=.d)

# libFuzzer harnesses: make fuzz FUZZ_SECONDS=N (fuzz/fuzz.mk)
include fuzz/fuzz.mk
