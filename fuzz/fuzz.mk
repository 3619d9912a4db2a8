# libFuzzer harnesses (fuzz/fuzz_*.c), included by the Makefile. They are built with clang into
# build-fuzz/ (the library instrumented for coverage, everything under ASan + UBSan):
#   make fuzz-build                 the harnesses build-fuzz/fuzz_*
#   make fuzz FUZZ_SECONDS=60       seeds (fuzz/make_seeds.sh) then each harness for FUZZ_SECONDS seconds
#   make fuzz FUZZ_TARGETS=fuzz_gguf   one harness
#   make fuzz FUZZ_JOBS=4           parallel jobs per harness (libFuzzer then logs to fuzz-N.log here)
# New inputs go to build-fuzz/corpus/<harness>/, crashes to build-fuzz/crashes/. tests/test_fuzz.sh runs
# a second of each and replays tests/fixtures/fuzz/<harness>/* (the inputs of fixed crashes), built
# unoptimised into build-fuzz-smoke/ (FUZZ_BUILD=build-fuzz-smoke FUZZ_OPT=-O0: five times quicker to
# compile; a time-boxed smoke run does not need the executions -O1 buys).
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZ_OPT     ?= -O1
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(FUZZ_OPT) -g -fno-omit-frame-pointer \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
                -Isrc -Iinclude -I/usr/include/x86_64-linux-gnu/openblas-pthread \
                -DLRP_DATADIR='"$(PREFIX)/share/attnlrp"' -DLRP_FUZZ_ROOT='"$(CURDIR)"'
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined
FUZZ_SRC     := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_ALL     := $(FUZZ_SRC:fuzz/%.c=%)
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_BIN     := $(FUZZ_ALL:%=$(FUZZ_BUILD)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)

.PHONY: fuzz fuzz-build fuzz-seeds

$(FUZZ_BUILD)/%.o: %.c fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/libattnlrp.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# fuzz_args includes the command files whose parsers it calls, and links the rest of the CLI helpers.
$(FUZZ_BUILD)/fuzz_args: $(FUZZ_BUILD)/fuzz/fuzz_args.o $(FUZZ_BUILD)/src/cli/args.o $(FUZZ_BUILD)/src/cli/pool.o \
                         $(FUZZ_BUILD)/libattnlrp.a
	$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ $(LDLIBS)

# fuzz_batch_record includes cmd_batch.c and checks the argument vectors with explain's parser.
$(FUZZ_BUILD)/fuzz_batch_record: $(FUZZ_BUILD)/fuzz/fuzz_batch_record.o $(FUZZ_BUILD)/src/cli/args.o \
		$(FUZZ_BUILD)/src/cli/cmd_explain.o $(FUZZ_BUILD)/src/cli/pool.o $(FUZZ_BUILD)/libattnlrp.a
	$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ $(LDLIBS)

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz/fuzz_%.o $(FUZZ_BUILD)/libattnlrp.a
	$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz-seeds:
	/usr/bin/python3 fuzz/make_seeds.py $(FUZZ_BUILD)/seeds

# Each harness in turn: its working corpus, the generated seeds and the regression inputs; its dictionary
# (fuzz/json.dict for the JSON readers, gguf.dict, image.dict, args.dict).
fuzz: fuzz-build fuzz-seeds
	@mkdir -p $(FUZZ_BUILD)/crashes
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
		case $$t in fuzz_gguf) d=gguf ;; fuzz_args) d=args ;; fuzz_image) d=image ;; fuzz_tokenize) d= ;; *) d=json ;; esac; \
		dict=""; [ -n "$$d" ] && dict="-dict=fuzz/$$d.dict"; \
		echo "== $$t ($(FUZZ_SECONDS) s)"; \
		$(FUZZ_BUILD)/$$t $$dict -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-close_fd_mask=3 -print_final_stats=1 $(if $(filter-out 1,$(FUZZ_JOBS)),-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS)) \
			-artifact_prefix=$(FUZZ_BUILD)/crashes/$$t- \
			$(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/seeds/$$t $$(ls -d tests/fixtures/fuzz/$$t 2>/dev/null) \
			2>&1 | grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::|==[0-9]+==|SUMMARY|artifact_prefix|Test unit)' || true; \
	done

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_SRC:%.c=$(FUZZ_BUILD)/%.d)
