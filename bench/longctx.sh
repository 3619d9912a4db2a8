#!/usr/bin/env bash
# Long-context benchmark (issue 15): one explanation per length, engine and PyTorch twin, each in its own
# process under /usr/bin/time -v (the engine's bench_explain with --no-forward) (peak RSS of the whole process, weights included) and an address-space
# limit, so that a run that does not fit fails cleanly instead of driving the machine into swap or the OOM
# killer. The twin is no longer tried at lengths above the first at which it failed. Appends one line per
# run to $LONG_OUT/runs.tsv (who, T, status, explain ms, explain CPU ms, peak RSS KB, wall s, engine
# attention mode, note) and keeps each run's JSON and time -v output next to it; bench/longctx_report.py
# turns runs.tsv into the Markdown table and the SVG plot.
#
#     bench/longctx.sh                                  # T = 1024..32768, engine and PyTorch
#     LONG_T=1024,2048 LONG_WHO=torch bench/longctx.sh  # the twin only
#     LONG_ATTN=stored LONG_T=1024 bench/longctx.sh     # the engine with the stored-probability attention
#
# Environment: LONG_MODEL (default /tmp/attnlrp-bench-model-long, see below),
# LONG_T, LONG_WHO (engine,torch), LONG_THREADS (2), LONG_LIMIT_GB (address-space limit per run, default
# 20), LONG_ATTN (ATTNLRP_ATTN for the engine: auto, blockwise or stored), LONG_OUT (bench/longctx-out),
# LONG_NICE (10), BUILD (build).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODEL=${LONG_MODEL:-}
LENGTHS=${LONG_T:-1024,2048,4096,8192,16384,32768}
WHO=${LONG_WHO:-engine,torch}
THREADS=${LONG_THREADS:-2}
LIMIT_GB=${LONG_LIMIT_GB:-20}
ATTN=${LONG_ATTN:-auto}
OUT=${LONG_OUT:-bench/longctx-out}
NICE=${LONG_NICE:-10}
PY=/usr/bin/python3
mkdir -p "$OUT"
[ -f "$OUT/runs.tsv" ] || printf 'who\tT\tstatus\texplain_ms\texplain_cpu_ms\tpeak_rss_kb\twall_s\tattn\tnote\n' >"$OUT/runs.tsv"

# The default model: the LLaMA-shaped benchmark checkpoint (make_bench_model.py) with its context raised
# to 32768 positions (config.json rewritten, the weights linked): nothing else depends on it (RoPE).
if [ -z "${LONG_MODEL:-}" ]; then
    MODEL=/tmp/attnlrp-bench-model-long
    if [ ! -f "$MODEL/config.json" ]; then
        [ -f /tmp/attnlrp-bench-model/config.json ] || $PY bench/make_bench_model.py /tmp/attnlrp-bench-model || exit 1
        mkdir -p "$MODEL" && ln -sf /tmp/attnlrp-bench-model/model.safetensors "$MODEL/model.safetensors" &&
            $PY -c 'import json,sys; c=json.load(open(sys.argv[1])); c["max_position_embeddings"]=32768; json.dump(c,open(sys.argv[2],"w"),indent=2)' \
                /tmp/attnlrp-bench-model/config.json "$MODEL/config.json" || exit 1
    fi
elif [ ! -f "$MODEL/config.json" ]; then
    echo "longctx.sh: $MODEL/config.json: no such file" >&2
    exit 1
fi
case ",$WHO," in *,engine,*) make -s -j2 "$BUILD/bench/bench_explain" || exit 1 ;; esac

export OPENBLAS_NUM_THREADS=$THREADS OMP_WAIT_POLICY=PASSIVE
limit_kb=$((LIMIT_GB * 1024 * 1024))
torch_failed=0
for T in ${LENGTHS//,/ }; do
    for who in ${WHO//,/ }; do
        [ "$who" = torch ] && [ "$torch_failed" = 1 ] && continue
        tag="$who-$T"
        [ "$who" = engine ] && tag="$who-$ATTN-$T"
        if [ "$who" = engine ]; then
            cmd=(env ATTNLRP_ATTN="$ATTN" "$BUILD/bench/bench_explain" --model "$MODEL" --T "$T" --reps 1 --warmup 0 --json --no-forward)
        else
            cmd=($PY bench/torch_explain.py --model "$MODEL" --T "$T" --reps 1 --warmup 0 --threads "$THREADS" --json)
        fi
        echo "$(date -u +%H:%M:%S) $tag: ${cmd[*]}" >&2
        (ulimit -v "$limit_kb"; exec nice -n "$NICE" /usr/bin/time -v -o "$OUT/$tag.time" "${cmd[@]}") \
            >"$OUT/$tag.json" 2>"$OUT/$tag.err"
        rc=$?
        rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$OUT/$tag.time" 2>/dev/null)
        wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$OUT/$tag.time" 2>/dev/null)
        read -r expl cpu < <($PY - "$OUT/$tag.json" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))["results"][0]
    print("%.0f %.0f" % (r["explain_ms"], r["explain_cpu_ms"]))
except Exception:
    print("- -")
EOF
)
        status=ok
        note=""
        if [ "$rc" != 0 ] || [ "$expl" = - ]; then
            status=failed
            note=$(grep -v '^\s*$' "$OUT/$tag.err" | tail -n 1 | tr '\t' ' ' | cut -c1-160)
            [ "$who" = torch ] && torch_failed=1
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$who" "$T" "$status" "$expl" "$cpu" "${rss:--}" "${wall:--}" \
            "$([ "$who" = engine ] && echo "$ATTN" || echo -)" "$note" >>"$OUT/runs.tsv"
        echo "$(date -u +%H:%M:%S) $tag: $status explain ${expl} ms, peak RSS ${rss:--} KB, wall ${wall:--} $note" >&2
    done
done
