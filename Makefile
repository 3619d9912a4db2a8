# attnlrp build. `make` builds build/attnlrp and the library (build/libattnlrp.so, .a); `make check` builds
# and runs every test; `make check SAN=1` does the same under AddressSanitizer + UndefinedBehaviorSanitizer
# (build-san/); `make install` / `make uninstall` (PREFIX, DESTDIR) are below.
CC      ?= cc
SAN     ?= 0
PREFIX  ?= /usr/local
# Install layout (make install): the shipped models go to DATADIR, which the library also searches for the
# default model (LRP_DATADIR below), so the two cannot disagree.
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share/attnlrp
MANDIR  ?= $(PREFIX)/share/man
# The release, from the public header (one place); the shared library's soname carries the major version.
VERSION := $(shell sed -n 's/^\#define ATTNLRP_VERSION "\(.*\)"/\1/p' include/attnlrp.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))

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
CFLAGS  += -DLRP_DATADIR='"$(DATADIR)"'
# One set of objects serves the static library (tests, the CLI) and libattnlrp.so: position-independent,
# and hidden unless marked ATTNLRP_API (include/attnlrp.h), so the .so exports the public API only.
CFLAGS  += -fPIC -fvisibility=hidden
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

.PHONY: all check clean install uninstall lib bench test deps mpi
.SECONDARY:
all: $(BUILD)/attnlrp lib

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

# The shared library: real name libattnlrp.so.VERSION, soname libattnlrp.so.MAJOR, and the link name.
SO_REAL := libattnlrp.so.$(VERSION)
SO_NAME := libattnlrp.so.$(SOMAJOR)
$(BUILD)/$(SO_REAL): $(LIB_OBJ)
	$(CC) $(LDSAN) -shared -Wl,-soname,$(SO_NAME) -Wl,--no-undefined -o $@ $^ $(LDLIBS)

$(BUILD)/libattnlrp.so: $(BUILD)/$(SO_REAL)
	ln -sf $(SO_REAL) $(BUILD)/$(SO_NAME)
	ln -sf $(SO_REAL) $@

# pkg-config file of the installed library (prefix as configured; DESTDIR is not part of it).
$(BUILD)/attnlrp.pc: Makefile include/attnlrp.h
	@mkdir -p $(BUILD)
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' 'Name: attnlrp' \
		'Description: AttnLRP explanations of transformer predictions (C API)' 'Version: $(VERSION)' \
		'Libs: -L$${libdir} -lattnlrp' \
		'Libs.private: $(LDLIBS)' 'Cflags: -I$${includedir}' > $@

# The man page attnlrp(1), written from the program's own help texts (tools/manpage.sh), so every
# command's flags are in it.
$(BUILD)/attnlrp.1: $(BUILD)/attnlrp tools/manpage.sh
	bash tools/manpage.sh $(BUILD)/attnlrp $(VERSION) > $@.tmp && mv $@.tmp $@

lib: $(BUILD)/libattnlrp.so $(BUILD)/libattnlrp.a $(BUILD)/attnlrp.pc

$(BUILD)/attnlrp: $(CLI_OBJ) $(BUILD)/libattnlrp.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(SUP_OBJ) $(BUILD)/libattnlrp.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libattnlrp.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

# The MPI build (`make mpi`, needs Debian's libopenmpi-dev: mpicc): the same program, with `attnlrp batch`
# (and eval, scan) spreading records over the ranks of `mpirun -np N build/attnlrp-mpi batch ...`. Only
# the process pool, cli/pool.c, differs (-DLRP_MPI); everything else is the objects of the plain build.
MPICC   ?= mpicc
MPI_OBJ := $(filter-out $(BUILD)/src/cli/pool.o,$(CLI_OBJ)) $(BUILD)/mpi/pool.o
mpi: $(BUILD)/attnlrp-mpi

$(BUILD)/mpi/pool.o: src/cli/pool.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(MPICC) $(CFLAGS) -DLRP_MPI -MMD -MP -c $< -o $@

$(BUILD)/attnlrp-mpi: $(MPI_OBJ) $(BUILD)/libattnlrp.a
	$(MPICC) $(LDSAN) -o $@ $^ $(LDLIBS)

# Benchmark programs (bench/*.c); the scripts in bench/ build and run them.
bench: $(BUILD)/attnlrp $(BENCH_BIN)

check: $(BUILD)/attnlrp $(TEST_BIN) lib $(BUILD)/attnlrp.1
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

# make install [PREFIX=/usr/local] [DESTDIR=/staging]: the program, the shared library (real name, soname
# and link name), the header, attnlrp.pc, the man page and the shipped models. make uninstall removes them.
MODELS := default sentiment vit-fashion
install: $(BUILD)/attnlrp lib $(BUILD)/attnlrp.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(DATADIR) \
		$(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BUILD)/attnlrp $(DESTDIR)$(BINDIR)/attnlrp
	install -m 755 $(BUILD)/$(SO_REAL) $(DESTDIR)$(LIBDIR)/$(SO_REAL)
	ln -sf $(SO_REAL) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_REAL) $(DESTDIR)$(LIBDIR)/libattnlrp.so
	install -m 644 include/attnlrp.h $(DESTDIR)$(INCLUDEDIR)/attnlrp.h
	install -m 644 $(BUILD)/attnlrp.pc $(DESTDIR)$(LIBDIR)/pkgconfig/attnlrp.pc
	install -m 644 $(BUILD)/attnlrp.1 $(DESTDIR)$(MANDIR)/man1/attnlrp.1
	for m in $(MODELS); do if [ -d models/$$m ]; then rm -rf $(DESTDIR)$(DATADIR)/$$m; cp -r models/$$m $(DESTDIR)$(DATADIR)/; fi; done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/attnlrp $(DESTDIR)$(LIBDIR)/$(SO_REAL) $(DESTDIR)$(LIBDIR)/$(SO_NAME) \
		$(DESTDIR)$(LIBDIR)/libattnlrp.so $(DESTDIR)$(INCLUDEDIR)/attnlrp.h $(DESTDIR)$(LIBDIR)/pkgconfig/attnlrp.pc \
		$(DESTDIR)$(MANDIR)/man1/attnlrp.1
	for m in $(MODELS); do rm -rf $(DESTDIR)$(DATADIR)/$$m; done
	-rmdir $(DESTDIR)$(DATADIR) 2>/dev/null

clean:
	rm -rf build build-san build-clang build-fuzz build-fuzz-smoke

-include $(BUILD)/mpi/pool.d $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(SUP_OBJ:.o=.d) $(TEST_BIN:=.d) $(BENCH_BIN:=.d)

# libFuzzer harnesses: make fuzz FUZZ_SECONDS=N (fuzz/fuzz.mk)
include fuzz/fuzz.mk
