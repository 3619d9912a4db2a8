#!/usr/bin/env bash
# Smoke run of the libFuzzer harnesses (fuzz/fuzz_*.c, built by `make fuzz-build` with clang, here
# unoptimised into build-fuzz-smoke/: -O0 compiles five times quicker than make fuzz's -O1, and a smoke
# run that lasts a second per harness does not need -O1's speed): each replays the inputs of fixed crashes (tests/fixtures/fuzz/<harness>/) and its seeds,
# then fuzzes for FUZZ_SMOKE_SECONDS (default 1) seconds; any crash, leak, timeout or out-of-memory fails.
# Skipped without clang's libFuzzer (Debian: libclang-rt-14-dev), and in the ASan run of the suite
# (BUILD=build-san: the harnesses are sanitized already; the gcc run covers them), and with FUZZ_SMOKE=0.
# Cost: the clang build of build-fuzz-smoke/ (once) and about 1.5 s per harness (ten harnesses:
# 1 s of fuzzing each keeps the total below the nine harnesses' 2 s of before). Long runs: make fuzz,
# fuzz/campaign.sh (fuzz/README.md).
cd "$(dirname "$0")/.."
. tests/lib.sh

secs=${FUZZ_SMOKE_SECONDS:-1}
export FUZZ_TOKENIZERS=${FUZZ_TOKENIZERS:-3}   # fuzz_tokenize: the shipped models' tokenizers only
skip() { echo "SKIP test_fuzz: $*"; finish; exit 0; }
[ "${BUILD:-build}" = build-san ] && skip "the gcc run of the suite runs the harnesses"
[ "${FUZZ_SMOKE:-1}" = 0 ] && skip "FUZZ_SMOKE=0"
command -v clang >/dev/null || skip "clang is not installed"
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; return (int)n * 0; }' >"$tmp/probe.c"
clang -fsanitize=fuzzer "$tmp/probe.c" -o "$tmp/probe" 2>/dev/null || skip "clang cannot link libFuzzer (-fsanitize=fuzzer)"

fb=build-fuzz-smoke
if ! make -s -j2 fuzz-build FUZZ_BUILD=$fb FUZZ_OPT=-O0 >"$tmp/build.log" 2>&1; then
    tail -n 20 "$tmp/build.log"
    bad "make fuzz-build failed"
    finish
    exit 1
fi
[ -d $fb/seeds/fuzz_batch_record ] || /usr/bin/python3 fuzz/make_seeds.py $fb/seeds >/dev/null ||
    bad "fuzz/make_seeds.py failed"

mkdir -p $fb/crashes
for bin in $fb/fuzz_*; do
    [ -x "$bin" ] || continue
    t=$(basename "$bin")
    # The inputs of crashes found and fixed: each must now run clean.
    if [ -d "tests/fixtures/fuzz/$t" ]; then
        if "$bin" -close_fd_mask=3 -timeout=10 -rss_limit_mb=2048 tests/fixtures/fuzz/$t/* >"$tmp/$t.replay" 2>&1; then ok
        else tail -n 30 "$tmp/$t.replay"; bad "$t: a regression input fails again"; fi
    fi
    case $t in fuzz_gguf) d=gguf ;; fuzz_args) d=args ;; fuzz_image) d=image ;; fuzz_tokenize) d= ;; *) d=json ;; esac
    mkdir -p "$tmp/corpus/$t"
    if "$bin" ${d:+-dict=fuzz/$d.dict} -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=3 \
        -artifact_prefix="$fb/crashes/$t-" "$tmp/corpus/$t" "$fb/seeds/$t" >"$tmp/$t.log" 2>&1; then
        ok
    else
        grep -E '==[0-9]+==|SUMMARY|Test unit|#[0-9]+' "$tmp/$t.log" | tail -n 30
        bad "$t: crashed within $secs s (input saved in $fb/crashes/)"
    fi
done
finish
