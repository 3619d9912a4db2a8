#!/usr/bin/env bash
# The speed benchmark of an explanation: builds the benchmark programs, writes the benchmark checkpoint
# of each family if it is missing (LLaMA-shaped 125M, GPT-2 small 124M, BERT-base classifier 110M), times
# the engine (bench_explain) and the PyTorch twin (torch_explain.py) on the same ids and thread count,
# then generation speed (bench_generate; LLaMA: the checkpoint and its F32/Q8_0 GGUF conversions; T5: against
# the twin's greedy loop), prints the tables and writes the family's part of bench/RESULTS.md (the others are kept).
#
#     bench/run.sh                          # LLaMA; T = 128,512; 3 rounds of (engine, PyTorch), each
#                                           # timing 2 repetitions after 1 warm-up; OpenBLAS's thread count
#     BENCH_FAMILY=gpt2,bert BENCH_THREADS=2 BENCH_ROUNDS=2 bench/run.sh   # GPT-2 and BERT sections
#     BENCH_FAMILY=vit BENCH_THREADS=2,1 BENCH_ROUNDS=2 bench/run.sh   # ViT-B/16 at 224x224 (T = 197)
#     BENCH_FAMILY=gemma3 bench/run.sh      # Gemma-3-270M shape (vocab 262144) against its PyTorch twin
#     BENCH_FAMILY=moe BENCH_THREADS=2 BENCH_ROUNDS=4 bench/run.sh   # issue 10: the Mixtral-shaped toy
#                                           # against its dense twin (engine only; "mixtral" is the same)
#     BENCH_FAMILY=t5 BENCH_THREADS=2 bench/run.sh   # Flan-T5-small shape (77M, encoder-decoder): T source
#                                           # tokens + BENCH_DEC (16) decoder tokens, then generation of
#                                           # BENCH_GEN_N (32) tokens from a BENCH_GEN_PROMPT (128)-token source,
#                                           # engine against the twin's greedy loop with a KV cache
#     BENCH_FAMILY=all bench/run.sh         # llama,gpt2,bert,vit,gemma3,moe,t5
#     BENCH_FAMILY=speed bench/run.sh       # issue 15 in one run: LLaMA explain at T = 128,512,2048 against the
#                                           # twin with OpenBLAS sgemm GFLOP/s between them; greedy generation
#                                           # from F32, F16, Q8_0 and Q4_K GGUF files by the engine (with and
#                                           # without quantised dot products) and by llama.cpp (node-llama-cpp in
#                                           # BENCH_LLAMACPP, default /tmp/nlc; skipped when absent) at
#                                           # BENCH_GEN_THREADS (default: the thread count, then 1); bench_qdot
#     BENCH_FAMILY=longctx BENCH_LONG_T=1024,2048,4096 bench/run.sh   # issue 15: long inputs, engine vs
#                                           # PyTorch, peak RSS per length (bench/longctx.sh; hours at 32k)
#     BENCH_THREADS=2,1 bench/run.sh        # one pass per thread count (sets OPENBLAS_NUM_THREADS)
#     BENCH_T=128 BENCH_REPS=3 BENCH_ROUNDS=1 BENCH_OUT=/tmp/r.md bench/run.sh
#     BENCH_MODEL=/path/to/hf-dir bench/run.sh   # one family only (the checkpoint's own)
#     BENCH_RT=1 bench/run.sh               # root on a shared machine: the whole run under chrt -f 10 (real-time
#                                           # FIFO, inherited by every thread), so other work cannot take its
#                                           # cores: nice -20 did not help against other sessions' processes
#                                           # (each in its own scheduling group), chrt did (MoE at T = 128, 2
#                                           # threads: 155-162 ms in 4 rounds at load 8-13, against 178-271 without)
#
# Checkpoints: /tmp/attnlrp-bench-model (llama), /tmp/attnlrp-bench-gpt2, /tmp/attnlrp-bench-bert,
# /tmp/attnlrp-bench-vit, /tmp/attnlrp-bench-gemma3, /tmp/attnlrp-bench-t5, /tmp/attnlrp-bench-mixtral and -mixtral-dense (moe;
# BENCH_MODEL and BENCH_DENSE_MODEL override the two). The ViT input is one image of random normal pixels (same numbers in both), BENCH_T
# is ignored there; BENCH_VIT_VARIANTS (default "attnlrp,cplrp:0.25,0.05") lists METHOD[:CONV,LIN] runs, the
# part after the colon being --gamma (SPEC §5).
#
# Rounds alternate which of the two runs first, so that both meet the same share of the machine's load;
# the tables give the median and the minimum over all repetitions.
# OPENBLAS_CORETYPE is taken from the environment as it is (never set here).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BENCH_RT:-0}" = 1 ] && [ -z "${BENCH_RT_ACTIVE:-}" ]; then
    command -v chrt >/dev/null || { echo "run.sh: BENCH_RT=1 needs chrt (util-linux)" >&2; exit 2; }
    exec env BENCH_RT_ACTIVE=1 chrt -f "${BENCH_RT_PRIO:-10}" "$0" "$@"
fi
FAMILIES=${BENCH_FAMILY:-llama}
[ "$FAMILIES" != all ] || FAMILIES=llama,gpt2,bert,vit,gemma3,moe,t5
T=${BENCH_T:-128,512}
REPS=${BENCH_REPS:-2}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-1}
THREADS=${BENCH_THREADS:-}
OUT=${BENCH_OUT:-bench/RESULTS.md}
PY=/usr/bin/python3

log=$(mktemp)
if ! make -s bench >"$log" 2>&1; then
    # The CLI may be mid-change in a shared tree; the benchmark programs only need the library.
    echo "run.sh: 'make bench' failed (log: $log); building the benchmark programs alone" >&2
    make -s build/bench/bench_explain build/bench/bench_generate build/bench/profile_explain
fi
tmp_root=$(mktemp -d)
trap 'rm -rf "$tmp_root"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
json_get() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$@"; }
env_threads=${OPENBLAS_NUM_THREADS-}
set_threads() {  # a pass's tag: a thread count, or "env" for the environment's own setting
    if [ "$1" != env ]; then export OPENBLAS_NUM_THREADS=$1
    elif [ -n "$env_threads" ]; then export OPENBLAS_NUM_THREADS=$env_threads
    else unset OPENBLAS_NUM_THREADS; fi
}
if [ -z "$THREADS" ]; then passes=(env); else passes=(${THREADS//,/ }); fi
variant_args() {  # METHOD[:CONV,LIN] -> the options of both programs ("default": none)
    [ "$1" != default ] || return 0
    printf '%s\n' --method "${1%%:*}"
    [ "${1#*:}" = "$1" ] || printf '%s\n' --gamma "${1#*:}"
}
run_engine() {  # tag round variant-index
    local v=${variants[$3]}
    mapfile -t vargs < <(variant_args "$v")
    ./build/bench/bench_explain --model "$MODEL" --T "$T" --reps "$REPS" --warmup "$WARMUP" --json "${vargs[@]}" \
        "${dec_args[@]}" >"$tmp/engine_$1_$2_$3.json"
    args+=(--engine "$tmp/engine_$1_$2_$3.json")
}
# PyTorch's libgomp threads spin-wait after each parallel region by default and then fight OpenBLAS's own
# threads for the cores: with 2 threads that made torch 4-6 times slower here. A passive wait policy gives
# torch its best showing; an OMP_WAIT_POLICY from the environment is kept as it is.
TORCH_OMP_WAIT=${OMP_WAIT_POLICY:-PASSIVE}
run_torch() {   # tag round threads variant-index; one process per length, so that each peak RSS belongs to one length
    local v=${variants[$4]}
    mapfile -t vargs < <(variant_args "$v")
    for t in ${T//,/ }; do
        OMP_WAIT_POLICY=$TORCH_OMP_WAIT "$PY" bench/torch_explain.py --model "$MODEL" --T "$t" --reps "$REPS" --warmup "$WARMUP" \
            --threads "$3" --json "${vargs[@]}" "${dec_args[@]}" >"$tmp/torch_$1_$2_${t}_$4.json"
        args+=(--torch "$tmp/torch_$1_$2_${t}_$4.json")
    done
}
machine_file() {  # the machine facts of the report; $1: an engine JSON of the first pass
    local core verbose
    core=$(json_get "$1" 'd["openblas"]["core"]')
    verbose=$(OPENBLAS_VERBOSE=2 ./build/bench/bench_explain --help 2>&1 | sed -n 's/^Core: *//p' | head -n 1)
    {
        echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core"
        echo "OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '?') (pthread variant), openblas_get_corename() $core, OPENBLAS_VERBOSE=2 prints \"Core: ${verbose:-?}\", OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
        [ "$FAMILY" = moe ] || echo "PyTorch runs with OMP_WAIT_POLICY=$TORCH_OMP_WAIT (with libgomp's default active wait, torch at 2 threads was 4-6x slower here)"
        echo "Compiler: $(${CC:-cc} --version | head -n 1), the Makefile's flags (-O2 -mavx2 -mfma -mf16c)"
        echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "Load average (1/5/15 min) $loads. The machine is shared with other work: wall-clock figures are noisy."
        [ -z "${BENCH_RT_ACTIVE:-}" ] || echo "Run under chrt -f ${BENCH_RT_PRIO:-10} (BENCH_RT=1): the benchmark's threads took precedence over the other work."
    } >"$tmp/machine.txt"
}

# Issue 10: the Mixtral-shaped toy against its dense twin (same active parameters), engine only.
bench_moe() {
FAMILY=moe
MODEL=${BENCH_MODEL:-/tmp/attnlrp-bench-mixtral}
DENSE=${BENCH_DENSE_MODEL:-/tmp/attnlrp-bench-mixtral-dense}
for pair in "$MODEL mixtral" "$DENSE mixtral-dense"; do
    set -- $pair
    [ -f "$1/config.json" ] && [ -f "$1/model.safetensors" ] || "$PY" bench/make_bench_model.py "$1" --family "$2"
done
tmp="$tmp_root/moe"
mkdir -p "$tmp"
args=()
loads="before: $(load)"
for round in $(seq 1 "$ROUNDS"); do
    for tag in "${passes[@]}"; do
        set_threads "$tag"
        order=(moe dense)
        [ $((round % 2)) = 1 ] || order=(dense moe)
        for which in "${order[@]}"; do
            m=$MODEL
            [ "$which" = moe ] || m=$DENSE
            out="$tmp/${which}_${tag}_$round.json"
            ./build/bench/bench_explain --model "$m" --T "$T" --reps "$REPS" --warmup "$WARMUP" --json >"$out"
            if [ "$which" = moe ]; then args+=(--engine "$out"); else args+=(--dense "$out"); fi
        done
        loads="$loads; after round $round ($tag): $(load)"
    done
done
machine_file "$tmp/moe_${passes[0]}_1.json"
"$PY" bench/report.py "${args[@]}" --machine "$tmp/machine.txt" --out "$OUT" --family moe
echo "wrote the moe part of $OUT"
}

# Issue 15: one run for the speed section (bench/speed_report.py).
bench_speed() {
FAMILY=speed
MODEL=${BENCH_MODEL:-/tmp/attnlrp-bench-model}
[ -f "$MODEL/config.json" ] && [ -f "$MODEL/model.safetensors" ] || "$PY" bench/make_bench_model.py "$MODEL" --family llama
make -s build/bench/bench_gemm build/bench/bench_qdot
local ts=${BENCH_T:-128,512,2048} tmp="$tmp_root/speed" t round
mkdir -p "$tmp"
set_threads "${passes[0]}"
local threads
threads=$(./build/bench/bench_explain --threads)
args=()
loads="before: $(load)"
for round in $(seq 1 "$ROUNDS"); do
    for t in ${ts//,/ }; do
        local e="$tmp/engine_${round}_$t.json" p="$tmp/torch_${round}_$t.json" g="$tmp/gemm_${round}_$t.txt"
        for which in $([ $((round % 2)) = 1 ] && echo "engine gemm torch" || echo "torch gemm engine"); do
            case $which in
                engine) ./build/bench/bench_explain --model "$MODEL" --T "$t" --reps "$REPS" --warmup "$WARMUP" --json >"$e" ;;
                torch) OMP_WAIT_POLICY=$TORCH_OMP_WAIT "$PY" bench/torch_explain.py --model "$MODEL" --T "$t" \
                           --reps "$REPS" --warmup "$WARMUP" --threads "$threads" --json >"$p" ;;
                gemm) ./build/bench/bench_gemm --M "$t" --N 2048 --K 768 --reps 9 --mib 64 >"$g" ;;
            esac
        done
        args+=(--engine "$e" --torch "$p" --gemm "$t:$g")
    done
    loads="$loads; after explain round $round: $(load)"
done
# Generation: each GGUF file (with the synthetic vocabulary llama.cpp needs; the engine reads the same file).
local nlc=${BENCH_LLAMACPP:-/tmp/nlc} vocab_tool=${BENCH_VOCAB_TOOL:-../shared/tools/gguf_add_vocab.py} llama=1
if [ ! -d "$nlc/node_modules/node-llama-cpp" ] || [ ! -f "$vocab_tool" ] || ! command -v node >/dev/null; then
    echo "run.sh: llama.cpp skipped (needs node, node-llama-cpp in $nlc and $vocab_tool)" >&2
    llama=0
else
    cp bench/llamacpp_bench.mjs "$nlc/attnlrp_llamacpp_bench.mjs"
fi
local gen_threads=${BENCH_GEN_THREADS:-$threads,1} q th f n=${BENCH_GEN_N:-32}
[ "$gen_threads" != "1,1" ] || gen_threads=1
for q in f32 f16 q8_0 q4_k; do
    f="${MODEL%/}-$q-vocab.gguf"
    if [ ! -f "$f" ]; then
        [ -f "${MODEL%/}-$q.gguf" ] || "$PY" bench/make_bench_gguf.py "$MODEL" "${MODEL%/}-$q.gguf" --type "$q" >/dev/null
        if [ -f "$vocab_tool" ]; then "$PY" "$vocab_tool" "${MODEL%/}-$q.gguf" "$f" >/dev/null; else f="${MODEL%/}-$q.gguf"; fi
    fi
    for th in ${gen_threads//,/ }; do
        for round in $(seq 1 "$ROUNDS"); do
            local order="engine widened llama"
            [ $((round % 2)) = 1 ] || order="llama widened engine"
            for which in $order; do
                local out="$tmp/gen_${q}_${th}_${round}_$which.json"
                case $which in
                    engine) OPENBLAS_NUM_THREADS=$th ./build/bench/bench_generate --model "$f" --prompt 16 -n "$n" \
                                --reps 2 --explain 0 --json >"$out" && args+=(--generate "$out") ;;
                    widened) case $q in q8_0|q4_k) ATTNLRP_QDOT=0 OPENBLAS_NUM_THREADS=$th ./build/bench/bench_generate \
                                 --model "$f" --prompt 16 -n "$n" --reps 2 --explain 0 --json >"$out" &&
                                 args+=(--generate "$out") ;; esac ;;
                    llama) if [ "$llama" = 1 ]; then
                               (cd "$nlc" && timeout 600 node attnlrp_llamacpp_bench.mjs "$f" "$n" 16 "$th" 2) >"$out" &&
                                   "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["dtype"]=sys.argv[2]; json.dump(d, open(sys.argv[1], "w"))' \
                                       "$out" "$(echo "$q" | tr a-z A-Z)" && args+=(--llamacpp "$out") ||
                                   echo "run.sh: llama.cpp failed on $f ($th threads)" >&2
                           fi ;;
                esac
            done
        done
    done
done
loads="$loads; after generation: $(load)"
for th in ${gen_threads//,/ }; do
    OPENBLAS_NUM_THREADS=$th ./build/bench/bench_qdot --reps 50 --json >"$tmp/qdot_$th.json" && args+=(--qdot "$tmp/qdot_$th.json")
done
{
    echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core"
    echo "CPU flags the kernels look at: $(grep -o -w -E 'avx2|fma|f16c|avx512f|avx512bw|avx512vl|avx512_vnni|avx_vnni|avx512_bf16|amx_int8|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    echo "Kernels chosen at run time: $(./build/bench/bench_qdot --reps 1 | sed -n 's/^cpu \([^,]*\),.*/\1/p'); OpenBLAS $(json_get "${args[1]}" 'd["openblas"]["core"]') ($(json_get "${args[1]}" 'd["openblas"]["config"]')), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
    echo "PyTorch runs with OMP_WAIT_POLICY=$TORCH_OMP_WAIT; compiler: $(${CC:-cc} --version | head -n 1), the Makefile's flags (-O2; AVX2/AVX-512 kernels by function attributes)"
    echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); rounds: $ROUNDS, repetitions per process: $REPS after $WARMUP warm-up"
    echo "Load average (1/5/15 min) $loads. The machine has $(nproc) cores."
} >"$tmp/machine.txt"
"$PY" bench/speed_report.py --config "$MODEL/config.json" --machine "$tmp/machine.txt" --out "$OUT" "${args[@]}"
echo "wrote the speed part of $OUT"
}

# Issue 15: long context (BENCH_FAMILY=longctx). bench/longctx.sh explains the LLaMA-shaped model at each
# length of BENCH_LONG_T (default 1024..32768), engine and PyTorch twin, one process each under
# /usr/bin/time -v and an address-space limit of BENCH_LONG_LIMIT_GB (20); the twin stops at its first
# failure. Then the table goes into the longctx section of $OUT and the plot into docs/long-context.svg.
bench_longctx() {
LONG_T=${BENCH_LONG_T:-1024,2048,4096,8192,16384,32768} LONG_LIMIT_GB=${BENCH_LONG_LIMIT_GB:-20} \
    LONG_THREADS=${THREADS:-2} bench/longctx.sh
"$PY" bench/longctx_report.py --runs bench/longctx-out --svg docs/long-context.svg --results "$OUT"
echo "wrote the longctx part of $OUT and docs/long-context.svg"
}

bench_family() {  # family: the explain benchmark, the generation one (llama, t5), the report
FAMILY=$1
case $FAMILY in
    llama) default_model=/tmp/attnlrp-bench-model ;;
    gpt2|bert|vit|gemma3|t5) default_model=/tmp/attnlrp-bench-$FAMILY ;;
    moe|mixtral) bench_moe; return ;;
    speed) bench_speed; return ;;
    longctx) bench_longctx; return ;;
    *) echo "run.sh: BENCH_FAMILY: unknown family $FAMILY (llama, gpt2, bert, vit, gemma3, moe, t5, speed, longctx or all)" >&2; exit 2 ;;
esac
dec_args=()
[ "$FAMILY" != t5 ] || dec_args=(--dec "${BENCH_DEC:-16}")   # the decoder's tokens, start token included
variants=(default)
if [ "$FAMILY" = vit ]; then
    IFS=';' read -r -a variants <<<"$(echo "${BENCH_VIT_VARIANTS:-attnlrp,cplrp:0.25,0.05}" | sed 's/,\([a-z]\)/;\1/g')"
    T=197   # 224/16: 196 patches + CLS (bench_explain and the twin take it from the config)
fi
MODEL=${BENCH_MODEL:-$default_model}
if [ ! -f "$MODEL/config.json" ] || [ ! -f "$MODEL/model.safetensors" ]; then
    "$PY" bench/make_bench_model.py "$MODEL" --family "$FAMILY"
fi
tmp="$tmp_root/$FAMILY"
mkdir -p "$tmp"
args=()
loads="before: $(load)"
for round in $(seq 1 "$ROUNDS"); do
    for tag in "${passes[@]}"; do
        set_threads "$tag"
        threads=$(./build/bench/bench_explain --threads)
        for vi in "${!variants[@]}"; do
            if [ $((round % 2)) = 1 ]; then
                run_engine "$tag" "$round" "$vi"; run_torch "$tag" "$round" "$threads" "$vi"
            else
                run_torch "$tag" "$round" "$threads" "$vi"; run_engine "$tag" "$round" "$vi"
            fi
        done
        loads="$loads; after round $round ($tag): $(load)"
    done
done

# Generation (issue 4): tokens/s and explain latency per generated token, F32 and Q8_0, at the first
# pass's thread count. BENCH_GENERATE=0 skips it.
if [ "$FAMILY" = llama ] && [ "${BENCH_GENERATE:-1}" != 0 ]; then
    set_threads "${passes[0]}"
    for q in f32 q8_0; do
        gguf="${MODEL%/}-$q.gguf"
        [ -f "$gguf" ] || "$PY" bench/make_bench_gguf.py "$MODEL" "$gguf" --type "$q" >/dev/null
    done
    files=("$MODEL" "${MODEL%/}-f32.gguf" "${MODEL%/}-q8_0.gguf")
    for round in $(seq 1 "$ROUNDS"); do   # alternate the order so that all three meet the same load
        order=("${files[@]}")
        [ $((round % 2)) = 1 ] || order=("${files[2]}" "${files[1]}" "${files[0]}")
        for m in "${order[@]}"; do
            out="$tmp/gen_${round}_$(basename "$m").json"
            ./build/bench/bench_generate --model "$m" --prompt 16 -n "${BENCH_GEN_N:-32}" --reps 2 --json >"$out"
            args+=(--generate "$out")
        done
    done
    loads="$loads; after generation: $(load)"
fi
# T5: greedy generation, the engine (bench_generate: lrp_generate with the encoder-decoder KV cache) against
# the twin's greedy loop with an HF-style KV cache (torch_explain.py --generate), alternating the order.
if [ "$FAMILY" = t5 ] && [ "${BENCH_GENERATE:-1}" != 0 ]; then
    set_threads "${passes[0]}"
    threads=$(./build/bench/bench_explain --threads)
    gp=${BENCH_GEN_PROMPT:-128}
    gn=${BENCH_GEN_N:-32}
    for round in $(seq 1 "$ROUNDS"); do
        for which in $([ $((round % 2)) = 1 ] && echo "engine torch" || echo "torch engine"); do
            out="$tmp/gen_${round}_$which.json"
            if [ "$which" = engine ]; then
                ./build/bench/bench_generate --model "$MODEL" --prompt "$gp" -n "$gn" --reps 2 \
                    --explain "${BENCH_GEN_EXPLAIN:-8}" --json >"$out"
            else
                OMP_WAIT_POLICY=$TORCH_OMP_WAIT "$PY" bench/torch_explain.py --model "$MODEL" --T "$gp" \
                    --generate "$gn" --gen-reps 2 --threads "$threads" >"$out"
            fi
            args+=(--generate "$out")
        done
    done
    loads="$loads; after generation: $(load)"
fi

# The relevance of one explanation from each, at every length (the first one for LLaMA).
checks=()
dump_ts=${T//,/ }
[ "$FAMILY" != llama ] || dump_ts=${T%%,*}
for vi in "${!variants[@]}"; do
    mapfile -t vargs < <(variant_args "${variants[$vi]}")
    for t in $dump_ts; do
        ./build/bench/bench_explain --model "$MODEL" --dump "$t" "${vargs[@]}" "${dec_args[@]}" \
            >"$tmp/engine_dump_${t}_$vi.json"
        "$PY" bench/torch_explain.py --model "$MODEL" --dump-relevance "$t" "${vargs[@]}" "${dec_args[@]}" \
            >"$tmp/torch_dump_${t}_$vi.json"
        checks+=(--check "$tmp/engine_dump_${t}_$vi.json" "$tmp/torch_dump_${t}_$vi.json")
    done
done
first_t=${T%%,*}
check_gguf=()
if [ "$FAMILY" = llama ] && [ -f "${MODEL%/}-f32.gguf" ]; then
    ./build/bench/bench_explain --model "${MODEL%/}-f32.gguf" --dump "$first_t" >"$tmp/gguf_dump.json"
    check_gguf=(--check-gguf "$tmp/engine_dump_${first_t}_0.json" "$tmp/gguf_dump.json")
fi

machine_file "$tmp/engine_${passes[0]}_1_0.json"
"$PY" bench/report.py "${args[@]}" --machine "$tmp/machine.txt" --out "$OUT" --family "$FAMILY" \
    "${checks[@]}" "${check_gguf[@]}"
echo "wrote the $FAMILY part of $OUT"
}

for fam in ${FAMILIES//,/ }; do
    bench_family "$fam"
done
rm -f "$log"
