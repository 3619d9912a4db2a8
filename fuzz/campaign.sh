#!/usr/bin/env bash
# A long fuzzing campaign: each harness in turn (one process at a time, at nice 19) for SECONDS seconds,
# on its working corpus (build-fuzz/corpus/<harness>/, kept between campaigns), the seeds and the
# regression inputs, with its dictionary. The binaries are copied first, so `make fuzz-build` may run
# meanwhile. Each harness's result goes to build-fuzz/campaign/results.md as one Markdown table row:
#
#     | date | harness | seconds | executions | exec/s | cov | ft | corpus | result |
#
# (cov and ft from libFuzzer's final line: covered edges and features). Crashes go to build-fuzz/crashes/.
#
#     fuzz/campaign.sh SECONDS [HARNESS ...]      (default: every harness; make fuzz-build and fuzz-seeds first)
cd "$(dirname "$0")/.."
secs=${1:?usage: fuzz/campaign.sh SECONDS [HARNESS ...]}
shift
dir=build-fuzz/campaign
mkdir -p "$dir/bin" build-fuzz/crashes
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(cd build-fuzz && ls fuzz_* 2>/dev/null | grep -v '\.'))
for t in "${targets[@]}"; do cp "build-fuzz/$t" "$dir/bin/$t" || exit 1; done
export FUZZ_TOKENIZERS=${FUZZ_TOKENIZERS:-9}
for t in "${targets[@]}"; do
    case $t in fuzz_gguf) d=gguf ;; fuzz_args) d=args ;; fuzz_image) d=image ;; fuzz_tokenize) d= ;; *) d=json ;; esac
    mkdir -p "build-fuzz/corpus/$t"
    log=$dir/$t.log
    nice -n 19 "$dir/bin/$t" ${d:+-dict=fuzz/$d.dict} -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="build-fuzz/crashes/$t-" \
        "build-fuzz/corpus/$t" "build-fuzz/seeds/$t" $(ls -d "tests/fixtures/fuzz/$t" 2>/dev/null) >"$log" 2>&1
    rc=$?
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
    if [ $rc = 0 ]; then result=clean; else result="FAILED: $(grep -m1 -oE 'ERROR: [A-Za-z]+: [a-z-]+|SUMMARY: [^(]*|Test unit written to [^ ]*' "$log" | head -n 1)"; fi
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
    rate=$([ -n "$took" ] && [ "$took" -gt 0 ] && echo $((execs / took)) || echo "?")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(date -u +%Y-%m-%d)" "$t" "${took:-$secs}" "$execs" \
        "$rate" "$cov" "$ft" "$corp" "$result" | tee -a "$dir/results.md"
done
