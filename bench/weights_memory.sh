#!/usr/bin/env bash
# Peak memory of `attnlrp weights` in one pass against its streamed memory plan (--max-memory: a pass over the
# records per group of weight tensors; issue 14 item 5), on the 125M-parameter LLaMA-shaped bench model
# (bench/make_bench_model.py, written to /tmp/attnlrp-bench-model when it is not there) with random records of
# token ids, back to back in one run; checks that the outputs are byte-identical.
#
#     bench/weights_memory.sh                          # 4 records of 32 tokens; budgets 256M and 128M
#     WM_RECORDS=8 WM_T=64 WM_BUDGETS="192M 128M" bench/weights_memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j2 build/attnlrp
M=${WM_MODEL:-/tmp/attnlrp-bench-model}
[ -e "$M/model.safetensors" ] || /usr/bin/python3 bench/make_bench_model.py "$M"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$tmp/ids.jsonl" "${WM_RECORDS:-4}" "${WM_T:-32}" "$M/config.json" <<'PY'
import json, random, sys
V = json.load(open(sys.argv[4]))["vocab_size"]
r = random.Random(1)
with open(sys.argv[1], "w") as f:
    for _ in range(int(sys.argv[2])):
        f.write(json.dumps({"ids": [r.randrange(V) for _ in range(int(sys.argv[3]))]}) + "\n")
PY
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; model $M ($(du -m "$M/model.safetensors" | cut -f1) MB, memory-mapped: its pages count in the RSS)"
run() {  # label, flags...: peak RSS in KiB and CPU seconds
    local label=$1
    shift
    /usr/bin/time -f "%M %U %S" -o "$tmp/time" build/attnlrp weights --model "$M" --data "$tmp/ids.jsonl" \
        -o "$tmp/R-$label.safetensors" "$@" >/dev/null 2>"$tmp/err"
    grep -h "memory plan" "$tmp/err" | sed 's/^/  /' || true
    read -r rss u s <"$tmp/time"
    echo "$label $rss $(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')"
}
one=$(run one-pass)
echo "one pass: peak RSS $(echo "$one" | cut -d' ' -f2) KiB, CPU $(echo "$one" | cut -d' ' -f3) s"
for b in ${WM_BUDGETS:-256M 128M}; do
    r=$(run "$b" --max-memory "$b")
    printf '%s\n' "$r" | grep -v "^$b " || true
    line=$(printf '%s\n' "$r" | grep "^$b ")
    rss=$(echo "$line" | cut -d' ' -f2); cpu=$(echo "$line" | cut -d' ' -f3)
    same=$(cmp -s "$tmp/R-one-pass.safetensors" "$tmp/R-$b.safetensors" && echo byte-identical || echo DIFFERENT)
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
    echo "--max-memory $b: peak RSS $rss KiB (x$(ratio "$rss" "$(echo "$one" | cut -d' ' -f2)") of one pass), CPU $cpu s (x$(ratio "$cpu" "$(echo "$one" | cut -d' ' -f3)")), $same"
done
