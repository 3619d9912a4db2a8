#!/usr/bin/env bash
# Determinism: the same explanation with 1 and 2 threads (OpenBLAS's and the small-GEMM pool's, both
# sized by OPENBLAS_NUM_THREADS) agrees within 1e-5 relative; repeated runs at a fixed thread count are
# bit-identical; eval's per-record results and means do not depend on the order of the records.
cd "$(dirname "$0")/.."
. tests/lib.sh

# ~110 tokens: long enough that the MLP products (T x 192 x 64) take the threaded paths.
text="Julia speaks Italian. Julia's rabbit is called Bunny. Noah's favourite sport is swimming. Grace was born in Geneva. Grace's rabbit is called Thumper. Rosa likes to eat soup. Lisa's dog is called Lassie. Rosa plays the trumpet. Rosa's favourite sport is golf. Noah was born in Paris. Lisa plays the violin. Grace likes to eat pasta. Noah's dog is called Rex. Lisa's favourite sport is tennis. Grace plays the piano. Rosa's dog is called Max. Julia's rabbit is called"

run() {  # run THREADS OUT METHOD [args...]
    local th=$1 out=$2 m=$3
    shift 3
    OPENBLAS_NUM_THREADS=$th $BIN explain --method "$m" --format json "$@" -- "$text" >"$out"
}

# max |a - b| over max |a| for the fields that carry numbers of the explanation
compare='
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def flat(v):
    if isinstance(v, list): return [x for e in v for x in flat(e)]
    if isinstance(v, dict): return [x for k in sorted(v) for x in flat(v[k])]
    return [float(v)] if isinstance(v, (int, float)) and not isinstance(v, bool) else []
worst = 0.0
for f in ("relevance", "latent_relevance", "target_logit", "relevance_sum"):
    if f not in a: continue
    x, y = flat(a[f]), flat(b[f])
    assert len(x) == len(y) and x, f
    scale = max(abs(t) for t in x) or 1.0
    worst = max(worst, max(abs(s - t) for s, t in zip(x, y)) / scale)
print("%.3g" % worst)
'
# the two files print the same JSON once the wall-clock "seconds" are dropped (numbers as printed: bit-exact)
same='
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b): d.pop("seconds", None)
print("same" if json.dumps(a) == json.dumps(b) else "differ")
'
for m in attnlrp gradxinput ig; do
    lat=""; [ $m = attnlrp ] && lat="--latent-layer 2"
    run 1 "$tmp/$m.1.json" $m $lat
    run 2 "$tmp/$m.2.json" $m $lat
    run 2 "$tmp/$m.2b.json" $m $lat
    d=$($PY -c "$compare" "$tmp/$m.1.json" "$tmp/$m.2.json")
    echo "$m: 1 vs 2 threads: max relative difference $d"
    check "$m: 1 vs 2 threads differ by $d relative (want <= 1e-5)" '[ -n "$d" ] && $PY -c "import sys; sys.exit(not float(\"$d\") <= 1e-5)"'
    check "$m: two runs with 2 threads are bit-identical (all but the timings)" \
        '[ "$($PY -c "$same" "$tmp/$m.2.json" "$tmp/$m.2b.json")" = same ]'
done
n=$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["ids"]))' "$tmp/attnlrp.1.json")
check "the text is long enough to take the threaded paths ($n tokens)" '[ "$n" -ge 100 ]'

# eval: the same records in another order give the same per-record results and the same means
head -n 12 data/eval.jsonl >"$tmp/fwd.jsonl"
$PY -c 'import random,sys; l=open(sys.argv[1]).readlines(); random.Random(1).shuffle(l); open(sys.argv[2],"w").writelines(l)' \
    "$tmp/fwd.jsonl" "$tmp/shuf.jsonl"
for f in fwd shuf; do
    OPENBLAS_NUM_THREADS=2 $BIN eval --data "$tmp/$f.jsonl" --methods attnlrp,gradxinput,random --steps 5 --format json \
        -o "$tmp/$f.json"
done
order='
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
texts = [[json.loads(l)["text"] for l in open(p)] for p in sys.argv[3:5]]
def drop_times(v):
    if isinstance(v, dict):
        return {k: drop_times(x) for k, x in v.items() if "seconds" not in k and k not in ("forward_multiple", "line")}
    if isinstance(v, list): return [drop_times(x) for x in v]
    return v
ra = {texts[0][r["line"] - 1]: drop_times(r) for r in a["records"]}
rb = {texts[1][r["line"] - 1]: drop_times(r) for r in b["records"]}
assert len(ra) == 12 and ra.keys() == rb.keys(), "records differ"
bad = [t for t in ra if ra[t] != rb[t]]
assert not bad, "per-record results differ: %s" % bad[0][:40]
for ma, mb in zip(a["methods"], b["methods"]):
    for k in ("span_top1_accuracy", "span_iou", "morf_auc", "lerf_auc", "delta_a"):
        x, y = ma[k]["mean"], mb[k]["mean"]
        assert abs(x - y) <= 1e-12 * max(1.0, abs(x)), (ma["method"], k, x, y)
    for k in ("mean_morf", "mean_lerf"):
        assert all(abs(x - y) <= 1e-12 for x, y in zip(ma[k], mb[k])), (ma["method"], k)
print("same")
'
r=$($PY -c "$order" "$tmp/fwd.json" "$tmp/shuf.json" "$tmp/fwd.jsonl" "$tmp/shuf.jsonl" 2>&1 | tail -n 1)
check "eval results do not depend on the order of the records: $r" '[ "$r" = same ]'
finish
