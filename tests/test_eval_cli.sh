#!/usr/bin/env bash
# `attnlrp eval` end to end on a tiny random LLaMA with a byte-level BPE tokenizer written here (every
# byte one token, plus the merged token " Rex"): bad records reported by line number, exit statuses,
# no partial output files, and the JSON checked against values recomputed in Python from the per-record
# curves (AUC by the trapezoid rule, ΔA, mean, 95% CI) and against `attnlrp explain` for the top token.
# With models/default and data/eval.jsonl present it also runs a few real records through.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh

if ! "$PY" -c 'import numpy' >/dev/null 2>&1; then
    echo "FAIL test_eval_cli: $PY cannot import numpy (install python3-numpy)"
    echo "0 passed, 1 failed"
    exit 1
fi

# ---- the tiny model: random weights (tests/reference/make_checkpoint.py), vocabulary of 260 ----
M=$tmp/model
"$PY" - "$M" <<'PYEOF' || { echo "0 passed, 1 failed"; exit 1; }
import json, sys
sys.path.insert(0, "tests/reference")
import make_checkpoint as mc
out = sys.argv[1]
cfg = dict(mc.CONFIGS["llama_gqa"][0], vocab_size=260, bos_token_id=256, eos_token_id=256)
mc.CONFIGS["eval_bytes"] = (cfg, {})
mc.write_checkpoint(out, "eval_bytes")

# GPT-2's byte-to-character table: printable bytes stand for themselves, the rest map to U+0100...
keep = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
b2u, extra = {}, 0
for b in range(256):
    if b in keep:
        b2u[b] = chr(b)
    else:
        b2u[b] = chr(256 + extra)
        extra += 1
vocab = {b2u[b]: b for b in range(256)}
G = b2u[ord(" ")]
merges = [(G, "R"), (G + "R", "e"), (G + "Re", "x")]   # " Rex" = 259
for i, (a, b) in enumerate(merges):
    vocab[a + b] = 257 + i
bos = {"SpecialToken": {"id": "<s>", "type_id": 0}}
tok = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [{"id": 256, "content": "<s>", "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "post_processor": {"type": "TemplateProcessing",
                       "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
                       "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                       "special_tokens": {"<s>": {"id": "<s>", "ids": [256], "tokens": ["<s>"]}}},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
              "vocab": vocab, "merges": [a + " " + b for a, b in merges]},
}
with open(out + "/tokenizer.json", "w", encoding="utf-8") as f:
    json.dump(tok, f, ensure_ascii=False)
PYEOF

# ---- the data: good and bad records, with their line numbers ----
D=$tmp/data.jsonl
cat >"$D" <<'EOF'
{"text": "Mia's cat is Tom. Leo's dog is Rex. Leo's dog is", "target": " Rex", "span": [31, 34]}
{"text": "abc def", "span": [4, 7], "evidence": [0, 3]}

not json
{"text": "abc", "span": [0, 9]}
{"text": "abc", "target": "xy"}
{"span": [0, 1]}
{"text": "h\u00e9llo w\u00f6rld", "span": [6, 11]}
{"text": "abc", "span": [1, 2.5]}
{"text": "no span, the model's own prediction"}
EOF
# Records: lines 1 2 4 5 6 7 8 9 10 (line 3 is blank); bad: 4 5 6 7 9.

out=$tmp/out.json
err=$tmp/err.txt
"$BIN" eval --model "$M" --data "$D" --steps 10 --format json -o "$out" 2>"$err"
status=$?
check "eval with bad records exits 0 under --on-bad skip (got $status)" '[ $status = 0 ]'
for line in 4 5 6 7 9; do
    check "bad record on line $line reported" 'grep -q "^attnlrp: $D:$line: " "$err"'
done
check "exactly five bad-record lines on stderr" '[ "$(grep -c "^attnlrp: $D:" "$err")" = 5 ]'
check "line 4: invalid JSON" 'grep -q ":4: invalid JSON" "$err"'
check "line 5: span out of range" 'grep -q ":5: \"span\" \[0, 9\] is not a non-empty range within the text'"'"'s 3 characters" "$err"'
check "line 6: target not one token, shown as it splits" 'grep -q ":6: \"target\" \"xy\" is 2 tokens, not one: \"x\" (120), \"y\" (121)" "$err"'
check "line 7: no text" 'grep -q ":7: no \"text\" field" "$err"'
check "line 9: span not a pair of integers" 'grep -q ":9: \"span\" must be a pair of integers" "$err"'

# The JSON, checked field by field; the statistics are recomputed here from the per-record numbers.
"$PY" - "$out" <<'PYEOF' >"$tmp/py.txt" 2>&1
import json, math, statistics, sys
d = json.load(open(sys.argv[1]))
problems = []
def need(cond, what):
    if not cond:
        problems.append(what)
need(d["n_records"] == 9 and d["n_evaluated"] == 4 and d["n_bad"] == 5, "counts %r" % [d["n_records"], d["n_evaluated"], d["n_bad"]])
need([b["line"] for b in d["bad_records"]] == [4, 5, 6, 7, 9], "bad lines")
need(d["steps"] == 10 and d["fractions"] == [k / 10 for k in range(11)], "fractions")
need([m["method"] for m in d["methods"]] == ["attnlrp", "cplrp", "gradxinput", "gradient", "random"], "methods")
recs = {r["line"]: r for r in d["records"]}
need(sorted(recs) == [1, 2, 8, 10], "record lines %r" % sorted(recs))
# line 1: target " Rex" is the merged token 259; the span "Rex" [31, 34) is that one token (with its space):
# <s> + 30 single-byte tokens for "Mia's cat is Tom. Leo's dog is" puts it at position 31.
r1 = recs[1]
need(r1["target"] == 259 and r1["target_given"] and r1["target_token"] == " Rex", "line 1 target")
need(r1["span_tokens"] == [31], "line 1 span tokens %r" % r1["span_tokens"])
need(r1["n_tokens"] == 1 + 30 + 1 + 14, "line 1 n_tokens")   # <s>, "Mia's ... is", " Rex", ". Leo's dog is"
# line 2: "abc def" = <s> a b c ' ' d e f; span "def" [4, 7) = positions 5, 6, 7.
need(recs[2]["span_tokens"] == [5, 6, 7], "line 2 span tokens %r" % recs[2]["span_tokens"])
# line 8: "héllo wörld", é and ö two byte tokens each: <s> h é1 é2 l l o ' ' w ö1 ö2 r l d;
# the span "wörld" (code points 6..11) covers positions 8..13.
need(recs[8]["span_tokens"] == [8, 9, 10, 11, 12, 13], "line 8 span tokens %r" % recs[8]["span_tokens"])
need(recs[10]["span_tokens"] is None and not recs[10]["target_given"], "line 10: no span, no target")
need(all(r["target"] == r["prediction"] for r in d["records"] if not r["target_given"]), "default target = prediction")
need(d["n_targets_given"] == 1 and d["model_accuracy"] == (1.0 if r1["prediction"] == 259 else 0.0), "model accuracy")

def trapezoid(y):
    h = 1.0 / (len(y) - 1)
    return sum((y[i] + y[i + 1]) / 2 * h for i in range(len(y) - 1))

for k, m in enumerate(d["methods"]):
    name = m["method"]
    deltas, morfs, lerfs, top1, ious = [], [], [], [], []
    for r in d["records"]:
        e = r["methods"][name]
        if r["target_logit"] > 0:
            mo, le = e["morf"], e["lerf"]
            need(len(mo) == 11 and len(le) == 11, name + " curve length")
            need(mo[0] == 1 and le[0] == 1, name + " curves start at 1")
            need(abs(mo[-1] - le[-1]) < 1e-12, name + " curves end with every token removed")
            need(abs(e["morf_auc"] - trapezoid(mo)) < 1e-12 and abs(e["lerf_auc"] - trapezoid(le)) < 1e-12, name + " AUC")
            need(abs(e["delta_a"] - (e["lerf_auc"] - e["morf_auc"])) < 1e-12, name + " delta")
            deltas.append(e["delta_a"]); morfs.append(mo); lerfs.append(le)
        else:
            need(e["morf"] is None and e["delta_a"] is None, name + " no curves for a non-positive logit")
        need(e["top1"] >= 1, name + " top1 is never BOS")
        if r["span_tokens"] is not None:
            need(e["top1_in_span"] == (e["top1"] in r["span_tokens"]), name + " top1_in_span")
            top1.append(1.0 if e["top1_in_span"] else 0.0)
            ious.append(e["iou"])
        else:
            need(e["top1_in_span"] is None and e["iou"] is None, name + " no span, no span metrics")
    s = m["delta_a"]
    need(s["n"] == len(deltas) == m["n_perturbed"], name + " delta n")
    if len(deltas) >= 2:
        sd = statistics.stdev(deltas)
        need(abs(s["mean"] - statistics.mean(deltas)) < 1e-12, name + " delta mean")
        need(abs(s["sd"] - sd) < 1e-12, name + " delta sd")
        need(abs(s["ci95"] - 1.96 * sd / math.sqrt(len(deltas))) < 1e-12, name + " delta ci95")
    need(abs(m["span_top1_accuracy"]["mean"] - statistics.mean(top1)) < 1e-12, name + " top-1 accuracy")
    need(abs(m["span_iou"]["mean"] - statistics.mean(ious)) < 1e-12, name + " IoU")
    for key, curves in (("mean_morf", morfs), ("mean_lerf", lerfs)):
        mean = [statistics.mean(c[i] for c in curves) for i in range(11)]
        need(all(abs(a - b) < 1e-12 for a, b in zip(m[key], mean)), name + " " + key)
    need(m["seconds_per_record"]["mean"] >= 0, name + " seconds")
    if k > 0:   # paired difference of ΔA against the first method, over the records where both exist
        first = d["methods"][0]["method"]
        diff = [r["methods"][first]["delta_a"] - r["methods"][name]["delta_a"] for r in d["records"]
                if r["methods"][first]["delta_a"] is not None and r["methods"][name]["delta_a"] is not None]
        p = m["paired_delta_a_difference"]
        need(p["minuend"] == first and p["difference"]["n"] == len(diff), name + " paired n")
        need(abs(p["difference"]["mean"] - statistics.mean(diff)) < 1e-12, name + " paired mean")
        need(abs(p["difference"]["ci95"] - 1.96 * statistics.stdev(diff) / math.sqrt(len(diff))) < 1e-12, name + " paired ci")
    else:
        need("paired_delta_a_difference" not in m, "no paired difference for the first method")
print("problems:", problems)
sys.exit(1 if problems else 0)
PYEOF
s=$?
check "JSON fields and statistics recomputed in Python ($(tail -c 600 "$tmp/py.txt"))" '[ $s = 0 ]'

# The top token of attnlrp for line 2 is the argmax (BOS excluded) of `attnlrp explain`'s relevance.
tid=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print([r for r in d["records"] if r["line"]==2][0]["target"])' "$out")
top=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); r=[r for r in d["records"] if r["line"]==2][0]; print(r["methods"]["attnlrp"]["top1"])' "$out")
"$BIN" explain --model "$M" "abc def" --target-id "$tid" --format json >"$tmp/explain.json" 2>"$tmp/explain.err"
want=$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))["relevance"]; print(max(range(1,len(r)), key=lambda i:(r[i],-i)))' "$tmp/explain.json" 2>/dev/null)
check "top-1 token ($top) matches attnlrp explain's argmax ($want)" '[ -n "$want" ] && [ "$top" = "$want" ]'

# --on-bad fail: exit 1 at the first bad record (line 4), nothing written to -o.
rm -f "$tmp/fail.json"
"$BIN" eval --model "$M" --data "$D" --on-bad fail -o "$tmp/fail.json" 2>"$err"
status=$?
check "--on-bad fail exits 1 (got $status)" '[ $status = 1 ]'
check "--on-bad fail stops at line 4" 'grep -q ":4: " "$err" && ! grep -q ":5: " "$err"'
check "--on-bad fail leaves no output file" '[ ! -e "$tmp/fail.json" ] && [ -z "$(ls "$tmp" | grep "fail.json")" ]'

# Usage errors (2) and unusable data (1).
"$BIN" eval --model "$M" >/dev/null 2>&1; s=$?; check "no --data: exit 2 (got $s)" '[ $s = 2 ]'
"$BIN" eval --model "$M" --data "$D" --methods attnlrp,lime >/dev/null 2>"$err"; s=$?
check "unknown method: exit 2 naming it (got $s)" '[ $s = 2 ] && grep -q "unknown method \"lime\"" "$err"'
"$BIN" eval --model "$M" --data "$D" --steps 0 >/dev/null 2>&1; s=$?; check "--steps 0: exit 2 (got $s)" '[ $s = 2 ]'
"$BIN" eval --model "$M" --data "$D" --on-bad maybe >/dev/null 2>&1; s=$?; check "--on-bad maybe: exit 2 (got $s)" '[ $s = 2 ]'
"$BIN" eval --model "$M" --data "$D" --format html >/dev/null 2>&1; s=$?; check "--format html: exit 2 (got $s)" '[ $s = 2 ]'
: >"$tmp/empty.jsonl"
"$BIN" eval --model "$M" --data "$tmp/empty.jsonl" >/dev/null 2>"$err"; s=$?
check "empty data file: exit 1 (got $s)" '[ $s = 1 ] && grep -q "no records" "$err"'
printf '\n  \n' >"$tmp/blank.jsonl"
"$BIN" eval --model "$M" --data "$tmp/blank.jsonl" >/dev/null 2>&1; s=$?; check "blank data file: exit 1 (got $s)" '[ $s = 1 ]'
"$BIN" eval --model "$M" --data "$tmp/missing.jsonl" >/dev/null 2>"$err"; s=$?
check "missing data file: exit 1 naming it (got $s)" '[ $s = 1 ] && grep -q "missing.jsonl" "$err"'
printf '{"text": ""}\nnot json\n' >"$tmp/allbad.jsonl"
"$BIN" eval --model "$M" --data "$tmp/allbad.jsonl" -o "$tmp/allbad.out" >/dev/null 2>"$err"; s=$?
check "only bad records: exit 1, both reported, no output (got $s)" \
    '[ $s = 1 ] && grep -q ":1: \"text\" is empty" "$err" && grep -q ":2: invalid JSON" "$err" && [ ! -e "$tmp/allbad.out" ]'
"$BIN" eval --model "$M" --data "$D" --plot "$tmp/no/such/dir/c.svg" -o "$tmp/nodir.out" >/dev/null 2>&1; s=$?
check "unwritable --plot: exit 1 before any output (got $s)" '[ $s = 1 ] && [ ! -e "$tmp/nodir.out" ]'

# --span-field: the span of line 2 read from "evidence" [0, 3) = "abc" = positions 1, 2, 3.
"$BIN" eval --model "$M" --data "$D" --limit 2 --methods random --span-field evidence --format json -o "$tmp/ev.json" 2>/dev/null
check "--span-field evidence maps \"abc\" onto tokens 1..3" \
    '"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); r=[r for r in d[\"records\"] if r[\"line\"]==2][0]; sys.exit(not (d[\"span_field\"]==\"evidence\" and r[\"span_tokens\"]==[1,2,3]))" "$tmp/ev.json"'

# --limit, text output, the plot, and the random baseline's seed.
"$BIN" eval --model "$M" --data "$D" --limit 2 --methods attnlrp,random --format json -o "$tmp/lim.json" 2>/dev/null
check "--limit 2 takes the first two records" \
    '"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d[\"n_records\"]==2 and d[\"n_evaluated\"]==2))" "$tmp/lim.json"'
"$BIN" eval --model "$M" --data "$D" --methods attnlrp,gradient --plot "$tmp/c.svg" >"$tmp/table.txt" 2>/dev/null
check "text table has a header and one row per method" \
    'grep -q "top-1 in span" "$tmp/table.txt" && grep -q "^attnlrp " "$tmp/table.txt" && grep -q "^gradient " "$tmp/table.txt"'
check "plot is well-formed SVG with a solid and a dashed curve per method" \
    '"$PY" -c "import sys,xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); p=[e for e in r.iter() if e.tag.endswith(\"path\")]; sys.exit(not (len(p)==4 and sum(\"stroke-dasharray\" in e.attrib for e in p)==2))" "$tmp/c.svg"'
rnd() { "$BIN" eval --model "$M" --data "$D" --methods random --seed "$1" --format json 2>/dev/null |
        "$PY" -c 'import json,sys; print([r["methods"]["random"]["morf"] for r in json.load(sys.stdin)["records"]])'; }
a=$(rnd 1); b=$(rnd 1); c=$(rnd 2)
check "random baseline: same seed, same curves" '[ -n "$a" ] && [ "$a" = "$b" ]'
check "random baseline: another seed, other curves" '[ "$a" != "$c" ]'

# Text pairs: joined by the tokenizer's pair template (<s> A B here); no spans with a pair.
printf '%s\n' '{"text": "abc", "text_pair": "def"}' '{"text": "abc", "text_pair": "def", "span": [0, 1]}' \
    '{"text": "abc", "text_pair": 5}' >"$tmp/pair.jsonl"
"$BIN" eval --model "$M" --data "$tmp/pair.jsonl" --methods attnlrp,random --steps 4 --format json -o "$tmp/pair.json" 2>"$err"; s=$?
check "text_pair record evaluated with 1 + 3 + 3 tokens (exit $s)" \
    '[ $s = 0 ] && "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d[\"n_evaluated\"]==1 and d[\"records\"][0][\"n_tokens\"]==7))" "$tmp/pair.json"'
check "span with text_pair: a bad record naming both fields" 'grep -q ":2: \"span\": spans are not supported with \"text_pair\"" "$err"'
check "text_pair not a string: a bad record" 'grep -q ":3: \"text_pair\" must be a string, not an integer" "$err"'

# The baselines' parameters reach eval, and each method's cost is reported in passes and forward multiples:
# attnlrp runs 1 forward + 1 backward; ig with N nodes runs the explanation's own pass pair, N forward +
# backward pairs along the path and one forward at the baseline (N + 2 forwards, N + 1 backwards, as
# `explain --method ig --steps N` reports); occlusion the explanation's pass pair and one forward per token.
"$BIN" eval --model "$M" --data "$D" --methods attnlrp,ig,occlusion,random --ig-steps 3 --steps 4 --format json \
    -o "$tmp/cost.json" 2>"$err"; s=$?
check "eval --ig-steps 3: passes per method as the algorithms cost (exit $s)" '[ $s = 0 ] && "$PY" - "$tmp/cost.json" <<PYEOF
import json, sys
d = json.load(open(sys.argv[1]))
ms = {m["method"]: m for m in d["methods"]}
ok = (ms["attnlrp"]["forward_passes"], ms["attnlrp"]["backward_passes"]) == (1, 1)
ok &= (ms["ig"]["forward_passes"], ms["ig"]["backward_passes"]) == (5, 4)
ok &= (ms["random"]["forward_passes"], ms["random"]["backward_passes"]) == (0, 0)
for r in d["records"]:
    occ = r["methods"]["occlusion"]
    ok &= occ["forward_passes"] == 1 + r["n_tokens"] and occ["backward_passes"] == 1
    ok &= r["forward_seconds"] > 0
ok &= all(m["forward_multiple"] > 0 for m in d["methods"] if m["method"] != "random")
sys.exit(not ok)
PYEOF'
"$BIN" eval --model "$M" --data "$D" --methods ig --ig-steps 0 2>"$err"; s=$?
check "eval --ig-steps 0: usage error naming the flag (exit $s)" '[ $s = 2 ] && grep -q -- "--ig-steps 0" "$err"'
"$BIN" eval --model "$M" --data "$D" --methods smoothgrad --noise -1 2>"$err"; s=$?
check "eval --noise -1: usage error (exit $s)" '[ $s = 2 ] && grep -q -- "--noise" "$err"'

# The shipped model and its held-out set, when present: a few records run through cleanly.
if [ -d models/default ] && [ -f data/eval.jsonl ]; then
    "$BIN" eval --model models/default --data data/eval.jsonl --limit 5 --steps 5 --format json -o "$tmp/def.json" 2>"$err"
    s=$?
    check "models/default on data/eval.jsonl: 5 records, no bad ones (exit $s: $(head -c 300 "$err"))" \
        '[ $s = 0 ] && "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d[\"n_evaluated\"]==5 and d[\"n_bad\"]==0))" "$tmp/def.json"'
else
    echo "note: models/default or data/eval.jsonl not present: the shipped-model check did not run"
fi

finish
