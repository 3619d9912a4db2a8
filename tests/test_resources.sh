#!/usr/bin/env bash
# Resources and files under heavy use: an explanation that does not fit in memory is refused with one line
# naming the estimate and the memory available (--max-memory, RLIMIT_AS), never an OOM kill or a hang;
# inputs beyond the model's context are refused by every command that runs the model; an output file
# written by a process killed (SIGKILL) mid-write keeps its old contents.
cd "$(dirname "$0")/.."
. tests/lib.sh

t="Julia speaks Italian."

# ---- --max-memory ----
err=$($BIN explain --max-memory 100K "$t" 2>&1 >/dev/null); s=$?
check "--max-memory 100K: exit 1 (got $s)" '[ "$s" = 1 ]'
check "the error names the estimate and the limit: [$err]" \
    '[[ "$err" =~ ^"attnlrp: memory: explaining 5 tokens needs about "[0-9.]+" MiB (activations ".*"), more than the 100 KiB available (max_memory)"$ ]]'
check "--max-memory 64M: the explanation runs" '$BIN explain --max-memory 64M --format json "$t" >/dev/null'
expect 2 "attnlrp: --max-memory 12X: expected a size such as 512M, 2G or 1.5GiB" -- $BIN explain --max-memory 12X "$t"
err=$($BIN neurons --max-memory 100K "$t" 2>&1 >/dev/null); s=$?
check "neurons --max-memory 100K: refused naming the estimate, exit 1 (got $s)" \
    '[ "$s" = 1 ] && [[ "$err" =~ ^"attnlrp: memory: explaining 5 tokens needs about "[0-9.]+" MiB (activations ".*"), more than the 100 KiB available (max_memory)"$ ]]'
check "neurons --max-memory 64M: the ranking runs" '$BIN neurons --max-memory 64M --format json "$t" >/dev/null'
expect 2 "attnlrp: --max-memory 12X: expected a size such as 512M, 2G or 1.5GiB" -- $BIN neurons --max-memory 12X "$t"
err=$($BIN eval --data data/eval.jsonl --limit 1 --max-memory 10K 2>&1 >/dev/null); s=$?
check "eval --max-memory: every record refused, exit 1 (got $s: $err)" '[ "$s" = 1 ] && [[ "$err" == *"more than the 10 KiB available (max_memory)"* ]]'
err=$($BIN generate --explain --max-memory 10K -n 2 "$t" 2>&1 >/dev/null); s=$?
check "generate --explain --max-memory 10K: refused, exit 1 (got $s: $err)" '[ "$s" = 1 ] && [[ "$err" == *"(max_memory)" ]]'

# ---- an address-space limit (ulimit -v): a clean error, not OpenBLAS retrying its 128 MiB buffer forever ----
# (not under AddressSanitizer, which needs terabytes of address space for its shadow memory)
if [ "${BUILD:-build}" != build-san ]; then
    vm=$( (ulimit -v 260000 && timeout 60 $BIN explain "$t" 2>&1 >/dev/null); echo "exit $?")
    check "ulimit -v 260000: one error line naming RLIMIT_AS and OpenBLAS's buffers, exit 1 [$vm]" \
        '[ "$(printf "%s\n" "$vm" | wc -l)" = 2 ] && [ "$(printf "%s\n" "$vm" | tail -n 1)" = "exit 1" ] &&
         [[ "$vm" =~ ^"attnlrp: memory: explaining 5 tokens needs about ".*"OpenBLAS buffers ".*"available (RLIMIT_AS, ulimit -v)" ]]'
    vm=$( (ulimit -v 260000 && timeout 60 $BIN explain --method ig --steps 2 "$t" 2>&1 >/dev/null); echo "exit $?")
    check "ulimit -v 260000, a baseline method: refused too [$vm]" '[[ "$vm" == *"(RLIMIT_AS, ulimit -v)"*"exit 1" ]]'
    vm=$( (ulimit -v 260000 && timeout 60 $BIN generate -n 3 "$t" 2>&1 >/dev/null); echo "exit $?")
    check "ulimit -v 260000, generate (forward passes only): refused [$vm]" \
        '[[ "$vm" == "attnlrp: memory: generating up to "*"(RLIMIT_AS, ulimit -v)"*"exit 1" ]]'
    printf 'Julia speaks Italian. Noah plays golf.\n' >"$tmp/c.txt"
    vm=$( (ulimit -v 260000 && timeout 60 $BIN scan --data "$tmp/c.txt" --layer 0 --neuron 1 2>&1 >/dev/null); echo "exit $?")
    check "ulimit -v 260000, scan: refused [$vm]" '[[ "$vm" == *"memory: scanning "*"(RLIMIT_AS, ulimit -v)"*"exit 1" ]]'
    vm=$( (ulimit -v 1500000 && timeout 60 $BIN explain --format json "$t" >/dev/null 2>&1); echo $?)
    check "ulimit -v 1500000: enough, the explanation runs (exit $vm)" '[ "$vm" = 0 ]'
fi

# ---- inputs beyond the model's context (128 positions) ----
long=$($PY -c "print(' '.join(['word'] * 200))")
for c in explain neurons; do
    expect 2 "attnlrp: input: 403 tokens exceed the model's context of 128 positions (max_position_embeddings)" -- \
        $BIN $c "$long"
done
expect 2 "attnlrp: -n 32: the prompt (403 tokens) and 32 new tokens exceed the model's context of 128 positions" -- \
    $BIN generate "$long"
printf '{"text": "%s"}\n' "$long" >"$tmp/long.jsonl"
err=$($BIN eval --data "$tmp/long.jsonl" 2>&1 >/dev/null); s=$?
check "eval: a record beyond the context is a bad record naming it (exit $s)" \
    '[ "$s" = 1 ] && [[ "$err" == *"long.jsonl:1: input: 403 tokens exceed the model'"'"'s context of 128 positions"* ]]'
yes "word word word" | head -n 100 >"$tmp/corpus.txt"
err=$($BIN scan --data "$tmp/corpus.txt" --layer 0 --neuron 1 --window 300 2>&1 >/dev/null); s=$?
check "scan --window 300: refused, naming the context (exit $s)" '[ "$s" != 0 ] && [[ "$err" == *"exceed the model'"'"'s context of 128"* ]]'

# ---- NaN/inf in the weights: refused at load naming the tensor (ATTNLRP_NONFINITE=warn: said in the output) ----
cp -r models/default "$tmp/nan"
$PY - "$tmp/nan/model.safetensors" <<'EOF_PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
off = json.loads(b[8:8 + n])["model.layers.1.mlp.down_proj.weight"]["data_offsets"][0]
struct.pack_into("<f", b, 8 + n + off + 4 * 10, float("nan"))   # element 10
struct.pack_into("<f", b, 8 + n + off + 4 * 12, float("-inf"))  # element 12
open(sys.argv[1], "wb").write(b)
EOF_PY
expect 1 "attnlrp: $tmp/nan: tensor \"model.layers.1.mlp.down_proj.weight\" holds 2 non-finite values (NaN or inf), the first at element 10: the checkpoint is broken (ATTNLRP_NONFINITE=warn opens it anyway)" -- \
    $BIN explain --model "$tmp/nan" "$t"
ATTNLRP_NONFINITE=warn $BIN explain --model "$tmp/nan" --format json "$t" >"$tmp/nan.json" 2>"$tmp/nan.err"
r=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); w=d["nonfinite_weight"]; print(d["nonfinite"], w["tensor"], w["index"], w["count"])' "$tmp/nan.json")
check "NaN weight, =warn: JSON counts the non-finite relevance and weights, names the tensor [$r]" '[ "$r" = "5 model.layers.1.mlp.down_proj.weight 10 2" ]'
check "NaN weight, =warn: a warning names it" 'grep -qx "attnlrp: warning: the checkpoint holds 2 non-finite weights (NaN or inf), the first in tensor \"model.layers.1.mlp.down_proj.weight\" (element 10); outputs may be NaN" "$tmp/nan.err"'
printf '{"text": "%s"}\n' "$t" >"$tmp/one.jsonl"
ATTNLRP_NONFINITE=warn $BIN eval --data "$tmp/one.jsonl" --model "$tmp/nan" --format json >"$tmp/nan_eval.json" 2>/dev/null
r=$($PY -c 'import json,sys; w=json.load(open(sys.argv[1]))["nonfinite_weight"]; print(w["tensor"], w["count"])' "$tmp/nan_eval.json" 2>&1)
check "NaN weight, =warn: eval's JSON names it [$r]" '[ "$r" = "model.layers.1.mlp.down_proj.weight 2" ]'
ATTNLRP_NONFINITE=skip $BIN explain --model "$tmp/nan" --format json "$t" >"$tmp/skip.json" 2>/dev/null
r=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); w=d["nonfinite_weight"]; print(w["tensor"], w["index"], "count" in w)' "$tmp/skip.json")
check "NaN weight, =skip: found after the non-finite output, no count [$r]" '[ "$r" = "model.layers.1.mlp.down_proj.weight 10 False" ]'
expect 1 "attnlrp: ATTNLRP_NONFINITE=yes: expected refuse, warn or skip" -- env ATTNLRP_NONFINITE=yes $BIN explain "$t"
check "finite weights: no nonfinite fields" '! $BIN explain --format json "$t" | grep -q nonfinite'

# ---- NaN/inf in the inputs: refused with one line ----
$PY - "$tmp/px.npy" <<'EOF_PY'
import sys, numpy as np
x = np.zeros((1, 28, 28), dtype=np.float32)
x[0, 3, 4] = np.nan
x[0, 5, 0] = np.inf
np.save(sys.argv[1], x)
EOF_PY
expect 1 "attnlrp: --pixels $tmp/px.npy: element 88 is not finite (NaN or infinity)" -- \
    $BIN explain --model models/vit-fashion --pixels "$tmp/px.npy"
cp -r models/vit-fashion "$tmp/vit"
sed -i 's/"rescale_factor": [^,}]*/"rescale_factor": 1e300/' "$tmp/vit/preprocessor_config.json"
$PY -c "import zlib,struct,sys
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
raw = b''.join(b'\\0' + bytes([200] * 28) for _ in range(28))
open(sys.argv[1], 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 28, 28, 8, 0, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))" "$tmp/gray.png"
expect 1 "attnlrp: --pixels $tmp/gray.png: 784 pixel values are not finite (NaN or inf), the first at index 0" -- \
    $BIN explain --model "$tmp/vit" --pixels "$tmp/gray.png"
expect 2 "attnlrp: --seed inf: must be a non-negative integer" -- $BIN generate "$t" --seed inf

# ---- SIGKILL mid-write: the old file stays whole ----
# explain -o writes through a temporary file beside the target (core/atomic_file.h) and renames it into
# place once it is flushed. A preloaded fflush() kills the process (SIGKILL: no handler, no cleanup) when
# the output is flushed for the commit: by then stdio has written the first 4 KiB blocks of the ~20 KB
# JSON to the temporary file, so the process dies mid-write. The target must keep its old bytes.
# (Not under ASan, whose runtime must come first in the library list.)
if [ "${BUILD:-build}" != build-san ]; then
    cat >"$tmp/killer.c" <<'EOF_C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
int fflush(FILE *f) {
    if (f && f != stdout && f != stderr) raise(SIGKILL);
    int (*real)(FILE *) = (int (*)(FILE *))dlsym(RTLD_NEXT, "fflush");
    return real(f);
}
EOF_C
    cc -shared -fPIC -o "$tmp/killer.so" "$tmp/killer.c" -ldl
    mkdir -p "$tmp/out"
    echo "old contents" >"$tmp/out/result.txt"
    s=$( (LD_PRELOAD="$tmp/killer.so" exec $BIN explain --format json --all-logits -o "$tmp/out/result.txt" "$t") \
        >/dev/null 2>&1; echo $?)
    part=$(cat "$tmp"/out/result.txt.tmp.* 2>/dev/null | wc -c)
    full=$($BIN explain --format json --all-logits "$t" | wc -c)
    check "the process died of SIGKILL (exit $s)" '[ "$s" = 137 ]'
    check "it died mid-write: its temporary file holds $part of $full bytes" '[ "$part" -gt 0 ] && [ "$part" -lt "$full" ]'
    check "after SIGKILL the old file is intact" '[ "$(cat "$tmp/out/result.txt")" = "old contents" ]'
fi
finish
