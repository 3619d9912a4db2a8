#!/usr/bin/env bash
# attnlrp circuit: RelP scores against the float64 PyTorch reference and activation patching against separate
# patched reference forwards (tests/reference/relp_check.py, tiny LLaMA-family checkpoints, attnlrp / cplrp /
# gradxinput); on the shipped model: text and --data pairs, JSON fields, --no-exact; the one-line errors.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh

need_torch test_circuit

py_tally tests/reference/relp_check.py --bin "$BIN"

M=models/default
C="Julia speaks Italian. Julia's rabbit is called Bunny. Julia's rabbit is called"
K="Julia speaks Italian. Julia's rabbit is called Oreo. Julia's rabbit is called"
check "text: the metric, the correlation and the top components" \
    '$BIN circuit --model $M --clean "$C" --corrupt "$K" --top 3 >"$tmp/t.txt" &&
     grep -q "^metric: logit( Bunny) - logit( Oreo) = " "$tmp/t.txt" && grep -q "over 20 components: Pearson" "$tmp/t.txt" &&
     [ "$(grep -c "^L[0-9]" "$tmp/t.txt")" = 3 ]'
check "json: 20 components, patch effects, 22 forwards and 1 backward; -o writes the same" \
    '$BIN circuit --model $M --clean "$C" --corrupt "$K" --format json >"$tmp/c.json" &&
     $BIN circuit --model $M --clean "$C" --corrupt "$K" --format json -o "$tmp/o.json" && cmp -s "$tmp/c.json" "$tmp/o.json" &&
     "$PY" -c "
import json, sys; d = json.load(open(\"$tmp/c.json\"))
c = d[\"components\"]
ok = len(c) == 20 and d[\"forwards\"] == 22 and d[\"backwards\"] == 1 and d[\"target_token\"] == \" Bunny\"
ok = ok and d[\"foil_token\"] == \" Oreo\" and d[\"metric_clean\"] > 0 > d[\"metric_corrupt\"]
ok = ok and [x[\"kind\"] for x in c[:5]] == [\"head\"] * 4 + [\"mlp\"] and all(\"patch\" in x for x in c)
sys.exit(0 if ok else 1)"'
check "--no-exact: relp only, the same relp; 2 forwards" \
    '$BIN circuit --model $M --clean "$C" --corrupt "$K" --format json --no-exact >"$tmp/n.json" && "$PY" -c "
import json, sys; a = json.load(open(\"$tmp/c.json\")); b = json.load(open(\"$tmp/n.json\"))
sys.exit(0 if b[\"forwards\"] == 2 and \"pearson\" not in b and all(\"patch\" not in x for x in b[\"components\"]) and
         [x[\"relp\"] for x in a[\"components\"]] == [x[\"relp\"] for x in b[\"components\"]] else 1)"'
head -n 4 data/name_swap.jsonl >"$tmp/p.jsonl"
check "--data: pooled and mean correlations over 4 pairs" \
    '$BIN circuit --model $M --data "$tmp/p.jsonl" --format json >"$tmp/d.json" && "$PY" -c "
import json, sys, numpy as np; d = json.load(open(\"$tmp/d.json\"))
x = np.array([c[\"relp\"] for p in d[\"pairs\"] for c in p[\"components\"]]); y = np.array([c[\"patch\"] for p in d[\"pairs\"] for c in p[\"components\"]])
ok = len(d[\"pairs\"]) == 4 and d[\"components\"] == 80 and abs(d[\"pooled_pearson\"] - np.corrcoef(x, y)[0, 1]) < 1e-6
ok = ok and abs(d[\"mean_pearson\"] - np.mean([p[\"pearson\"] for p in d[\"pairs\"]])) < 1e-6
sys.exit(0 if ok else 1)"'

# The pair files are what tools/make_name_swap.py writes from data/eval.jsonl; on the shipped model every
# true name swap (the queried person swapped for another of the context with the same relation) flips the
# answer to that person's value (checked here on the first 3 pairs; the README's figure covers all 40).
check "tools/make_name_swap.py writes data/name_swap.jsonl and (--swap person) data/person_swap.jsonl" \
    '"$PY" tools/make_name_swap.py | cmp -s - data/name_swap.jsonl &&
     "$PY" tools/make_name_swap.py --swap person | cmp -s - data/person_swap.jsonl'
head -n 3 data/person_swap.jsonl >"$tmp/ps.jsonl"
check "person swap: the corrupted prompt answers with the other person's value" \
    '$BIN circuit --model $M --data "$tmp/ps.jsonl" --no-exact --format json >"$tmp/ps.json" && "$PY" -c "
import json, sys; d = json.load(open(\"$tmp/ps.json\")); want = [json.loads(l) for l in open(\"$tmp/ps.jsonl\")]
ok = len(d[\"pairs\"]) == 3 and all(p[\"target_token\"] == w[\"target\"] and p[\"foil_token\"] == w[\"foil\"] and
                                  p[\"metric_clean\"] > 0 > p[\"metric_corrupt\"] for p, w in zip(d[\"pairs\"], want))
sys.exit(0 if ok else 1)"'

: >"$tmp/empty.jsonl"
printf '{"clean": "a b", "corrupt": 5}\n' >"$tmp/bad.jsonl"
expect 2 'attnlrp: --corrupt: 2 tokens, --clean 3 (a pair must have the same length)' -- $BIN circuit --model $M --clean-ids 1,2,3 --corrupt-ids 1,2
expect 2 'attnlrp: circuit: give --clean TEXT and --corrupt TEXT (or --clean-ids/--corrupt-ids, or --data PAIRS.jsonl)' -- $BIN circuit --model $M --clean-ids 1,2,3
expect 2 'attnlrp: circuit: give --data or a pair (--clean/--corrupt), not both' -- $BIN circuit --model $M --clean-ids 1,2,3 --corrupt-ids 1,2,4 --data "$tmp/p.jsonl"
expect 2 "attnlrp: --data $tmp/empty.jsonl: no pairs (the file is empty)" -- $BIN circuit --model $M --data "$tmp/empty.jsonl"
expect 1 "attnlrp: --data $tmp/bad.jsonl:1: no \"corrupt\" text (or \"corrupt_ids\")" -- $BIN circuit --model $M --data "$tmp/bad.jsonl"
expect 2 'attnlrp: --corrupt-ids: id 99999 at index 2 is out of range (vocabulary size 1475)' -- $BIN circuit --model $M --clean-ids 1,2,3 --corrupt-ids 1,2,99999
expect 2 'attnlrp: --target-id 99999: out of range (vocabulary size 1475)' -- $BIN circuit --model $M --clean-ids 1,2,3 --corrupt-ids 1,2,4 --target-id 99999
expect 2 'attnlrp: --foil-id 5: the same token as the target' -- $BIN circuit --model $M --clean-ids 1,2,3 --corrupt-ids 1,2,4 --target-id 5 --foil-id 5
expect 2 'attnlrp: --clean: empty text (give at least one character)' -- $BIN circuit --model $M --clean "" --corrupt x
expect 2 'attnlrp: --method gradient: expected attnlrp, cplrp or gradxinput' -- $BIN circuit --model $M --clean-ids 1,2 --corrupt-ids 1,3 --method gradient
"$PY" -c "import sys; sys.path.insert(0, 'tests/reference'); import make_checkpoint; make_checkpoint.write_checkpoint('$tmp/moe', 'mixtral')"
expect 2 'attnlrp: model: mixtral is a mixture of experts; circuits patch dense MLPs only' -- $BIN circuit --model "$tmp/moe" --clean-ids 1,2 --corrupt-ids 1,3
check "circuit --help" '$BIN circuit --help | grep -q "RelP (relevance patching)"'

finish
