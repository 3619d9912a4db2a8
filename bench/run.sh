#!/usr/bin/env bash
# The speed benchmark of an explanation: builds the benchmark programs, writes the ~125M-parameter
# benchmark checkpoint if it is missing, times the engine (bench_explain) and the PyTorch twin
# (torch_explain.py) on the same ids and thread count, prints one table and writes bench/RESULTS.md.
#
#     bench/run.sh                      # T = 128,512, median of 5 after 1 warm-up
#     BENCH_T=128 BENCH_REPS=3 bench/run.sh
#     BENCH_MODEL=/path/to/hf-dir bench/run.sh
#
# OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS are taken from the environment as they are (never set here).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${BENCH_MODEL:-/tmp/attnlrp-bench-model}
T=${BENCH_T:-128,512}
REPS=${BENCH_REPS:-5}
WARMUP=${BENCH_WARMUP:-1}
PY=/usr/bin/python3
OUT=${BENCH_OUT:-bench/RESULTS.md}

if ! make -s bench; then
    # The CLI may be mid-change in a shared tree; the benchmark only needs the library.
    echo "run.sh: 'make bench' failed; building build/bench/bench_explain alone" >&2
    make -s build/bench/bench_explain
fi
if [ ! -f "$MODEL/config.json" ] || [ ! -f "$MODEL/model.safetensors" ]; then
    "$PY" bench/make_bench_model.py "$MODEL"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }

load_before=$(load)
./build/bench/bench_explain --model "$MODEL" --T "$T" --reps "$REPS" --warmup "$WARMUP" --json >"$tmp/engine.json"
load_engine=$(load)
threads=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["openblas"]["threads"])' "$tmp/engine.json")
core=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["openblas"]["core"])' "$tmp/engine.json")
torch_files=()
for t in ${T//,/ }; do    # one process per length, so that each peak RSS belongs to one length
    "$PY" bench/torch_explain.py --model "$MODEL" --T "$t" --reps "$REPS" --warmup "$WARMUP" \
        --threads "$threads" --json >"$tmp/torch_$t.json"
    torch_files+=("$tmp/torch_$t.json")
done
load_after=$(load)
first_t=${T%%,*}
./build/bench/bench_explain --model "$MODEL" --dump "$first_t" >"$tmp/engine_dump.json"
"$PY" bench/torch_explain.py --model "$MODEL" --threads "$threads" --dump-relevance "$first_t" >"$tmp/torch_dump.json"

{
    echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores ($(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core)"
    echo "OpenBLAS: $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '?') pthread, core $core, $threads threads, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
    echo "Compiler: $(${CC:-cc} --version | head -n 1), flags of the Makefile (-O2 -mavx2 -mfma -mf16c)"
    echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "Load average (1/5/15 min) before: $load_before; after the engine: $load_engine; after PyTorch: $load_after (the machine is shared: figures are noisy)"
} >"$tmp/machine.txt"
"$PY" bench/report.py "$tmp/engine.json" "${torch_files[@]}" --machine "$tmp/machine.txt" --out "$OUT" \
    --check "$tmp/engine_dump.json" "$tmp/torch_dump.json"
echo "wrote $OUT"
