#!/usr/bin/env bash
# Throughput of `attnlrp scan` against forward-only passes (issue 14 item 2), measured in the same run by
# bench_scan (bench/bench_scan.c) on the shipped default model and the TinyStories models in ../shared
# when they are there, then the command end to end (tokenization, JSONL parsing and the K attributions
# included) on data/eval.jsonl with --progress.
#
#     bench/scan.sh                     # 200 windows of 64 tokens, 3 rounds
#     SCAN_WINDOWS=500 SCAN_T=128 SCAN_ROUNDS=5 bench/scan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j2 build/attnlrp build/bench/bench_scan
N=${SCAN_WINDOWS:-200}
T=${SCAN_T:-64}
R=${SCAN_ROUNDS:-3}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
build/bench/bench_scan --model models/default --windows "$N" --window "$T" --layer 2 --neuron 17 --rounds "$R"
for M in ../shared/models/stories260K/stories260K.gguf ../shared/models/TinyStories-656K; do
    [ -e "$M" ] && build/bench/bench_scan --model "$M" --windows "$N" --window "$T" --layer 1 --neuron 5 --rounds "$R"
done
echo "end to end: attnlrp scan --data data/eval.jsonl --layer 2 --neuron 17 --top 10 --progress"
build/attnlrp scan --data data/eval.jsonl --layer 2 --neuron 17 --top 10 --progress --format json 2>&1 >/dev/null | grep 'tokens in'
