#!/usr/bin/env bash
# The shipped classifier models/sentiment (tools/train_sentiment.py): the engine loads it as a BERT
# sequence classifier, tokenizes as Hugging Face does (ids from tools/check_sentiment.py, itself
# checked against HF's Rust and JavaScript tokenizers), gives the NumPy forward pass's logits (golden
# values below, 1e-4), puts AttnLRP's top relevance on the evidence word, and the independent check
# (tools/check_sentiment.py: NumPy forward pass and tokenizer, no torch) agrees on accuracy and logits.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh
M=models/sentiment
if [ ! -d "$M" ]; then
    echo "note: $M not present"
    finish
    exit
fi

info=$("$BIN" info --model "$M" 2>&1)
check "info names a bert classifier with three labels: $info" \
    '[[ "$info" == *"bert (family bert), classifier"* && "$info" == *"0 negative, 1 neutral, 2 positive"* ]]'
# --format json lists the n_labels class names (the label array has no NULL at its end: read past it before)
labels=$("$BIN" info --model "$M" --format json | $PY -c 'import json,sys; print(json.load(sys.stdin)["labels"])' 2>&1)
want=$($PY -c 'import json,sys; c=json.load(open(sys.argv[1])); print([c["id2label"][str(i)] for i in range(len(c["id2label"]))])' "$M/config.json")
check "info --format json labels are config.json's id2label: $labels" '[ "$labels" = "$want" ]'

ids=$("$BIN" tokenize --model "$M" --format json "The battery life is EXCELLENT!" 2>&1)
check "tokenize: $ids" '[[ "$ids" == "{\"ids\": [2, 309, 140, 222, 213, 185, 5, 3]"* ]]'

# text | target id | golden logits (NumPy, float64 from the float32 weights) | evidence token
while IFS='|' read -r text target logits evidence; do
    out=$("$BIN" explain --model "$M" "$text" --format json 2>&1) || { bad "explain $text: $out"; continue; }
    res=$("$PY" -c '
import json, sys
j = json.loads(sys.argv[1]); want = [float(x) for x in sys.argv[3].split(",")]
diff = max(abs(a - b) for a, b in zip(j["logits"], want))
words = [i for i, t in enumerate(j["tokens"]) if t not in ("[CLS]", "[SEP]")]
top = max(words, key=lambda i: j["relevance"][i])
ok = j["target"] == int(sys.argv[2]) and diff < 1e-4 and j["tokens"][top] == sys.argv[4]
ok = ok and all(k in j for k in ("relevance_positions", "relevance_token_types", "relevance_cls"))
print("ok" if ok else "target %s, max |logit diff| %.2e, top token %r" % (j["target"], diff, j["tokens"][top]))
' "$out" "$target" "$logits" "$evidence" 2>&1)
    check "explain \"$text\": $res" '[ "$res" = ok ]'
done <<'ROWS'
the battery life is excellent|2|-2.99214,-5.20537,5.99491| excellent
My friend recommended it. I think the plot was not good.|0|6.36569,-5.00882,-2.70621| not
The keyboard is okay, as far as I can tell.|1|-3.72429,9.78016,-2.54411| okay
ROWS

if "$PY" -c 'import numpy' >/dev/null 2>&1; then
    out=$("$PY" tools/check_sentiment.py --engine "$BIN" --extra 500 2>&1)
    rc=$?
    check "tools/check_sentiment.py (exit $rc, accuracy at least 0.97): $out" \
        '[ $rc = 0 ] && [[ "$out" =~ sentiment_eval.jsonl\ (1\.0000|0\.9[7-9][0-9][0-9])\ \(300\) && "$out" == *"ids equal and logits within"* ]]'
else
    bad "$PY cannot import numpy (install python3-numpy)"
fi

# The README's pair example: the negation carries the relevance, the second sentence (type 1) next to none.
out=$("$BIN" explain --model "$M" "I think the plot was not good." --text-pair "It arrived on Tuesday." --format json 2>&1)
res=$("$PY" -c '
import json, sys
j = json.loads(sys.argv[1]); r = j["relevance"]; types = j["token_type_ids"]
top = max(range(len(r)), key=lambda i: r[i])
second = sum(abs(v) for v, t in zip(r, types) if t == 1)
ok = j["target"] == 0 and j["tokens"][top] == " not" and 1 in types and second < 0.1 * r[top]
print("ok" if ok else "target %d, top %r, type-1 relevance %.3g" % (j["target"], j["tokens"][top], second))' "$out" 2>&1)
check "pair example: $res" '[ "$res" = ok ]'

# The README's eval command, as printed: every record evaluated, AttnLRP's top token in the span on all of
# them, and its ΔA above the random baseline's.
"$BIN" eval --model models/sentiment --data data/sentiment_eval.jsonl --format json -o "$tmp/eval.json" 2>"$tmp/eval.err"
res=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1])); m = {x["method"]: x for x in d["methods"]}
ok = d["n_evaluated"] == 300 and m["attnlrp"]["span_top1_accuracy"]["mean"] == 1.0
ok = ok and m["attnlrp"]["delta_a"]["mean"] > m["random"]["delta_a"]["mean"] + 0.5
print("ok" if ok else open(sys.argv[1]).read()[:300])' "$tmp/eval.json" 2>&1)
check "eval on data/sentiment_eval.jsonl: $res" '[ "$res" = ok ]'
finish
