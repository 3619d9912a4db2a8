#!/usr/bin/env bash
# What is explained: answer-level targets (explain --answer), forced continuations (generate --explain
# --continuation), the score (--score logit|logprob|prob), contrasts, prompt control (--no-special,
# --chat). tests/targets_check.py checks the numbers against independent values (linearity in the start
# scalar, cplrp conservation, closed forms from the logits, separate explanations, hand-derived chat
# prompts); here each bad input's one error line and exit status.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh

P="Mia's cat is called Tom. Leo's dog is called Rex. Leo's dog is called"
expect 2 "attnlrp: --answer: empty text (give the answer's tokens)" -- $BIN explain "$P" --answer ""
expect 2 "attnlrp: --answer: cannot be combined with --latent-start (the answer's tokens are the targets)" -- $BIN explain "$P" --answer " Rex" --latent-start 0,1,2
expect 2 "attnlrp: --answer: cannot be combined with --target (the answer's tokens are the targets)" -- $BIN explain "$P" --answer " Rex" --target " Rex"
expect 2 "attnlrp: --answer: cannot be combined with --position (the answer's tokens are the targets)" -- $BIN explain "$P" --answer " Rex" --position 3
expect 2 "attnlrp: --answer: cannot be combined with --contrast (the answer's tokens are the targets)" -- $BIN explain "$P" --answer " Rex" --contrast " Max"
expect 2 "attnlrp: --answer-ids: cannot be combined with --target-id (the answer's tokens are the targets)" -- $BIN explain "$P" --answer-ids 577 --target-id 3
expect 2 "attnlrp: explain: give --answer or --answer-ids, not both" -- $BIN explain "$P" --answer " Rex" --answer-ids 577
expect 2 "attnlrp: --answer-ids: \"x\" is not a comma-separated list of non-negative integers" -- $BIN explain "$P" --answer-ids x
expect 1 "attnlrp: --answer-ids: id 5000 at index 1 is out of range (vocabulary size 1475)" -- $BIN explain "$P" --answer-ids 577,5000
expect 2 "attnlrp: --score softmax: expected logit, logprob or prob" -- $BIN explain "$P" --score softmax
expect 2 "attnlrp: --score: a --latent-start explains a neuron's activation, not a score" -- $BIN explain "$P" --score logprob --latent-start 0,1,2
expect 2 "attnlrp: explain: give --contrast or --contrast-id, not both" -- $BIN explain "$P" --contrast " Max" --contrast-id 552
expect 2 "attnlrp: --contrast-id: \"Max\" is not an integer" -- $BIN explain "$P" --contrast-id Max
expect 2 "attnlrp: --contrast-id 99999: out of range (vocabulary size 1475)" -- $BIN explain "$P" --contrast-id 99999
expect 2 "attnlrp: --contrast \" Maxwell\" is 5 tokens, not one: \" Max\" (552), \"w\" (123), \"e\" (105), \"l\" (112), \"l\" (112)" -- $BIN explain "$P" --contrast " Maxwell"
expect 2 "attnlrp: --method ig: explains logits only (--score logprob/prob and --answer need attnlrp, cplrp, gradxinput or gradient)" -- $BIN explain "$P" --method ig --score logprob
expect 2 "attnlrp: --method occlusion: explains logits only (--score logprob/prob and --answer need attnlrp, cplrp, gradxinput or gradient)" -- $BIN explain "$P" --method occlusion --answer " Rex"
expect 2 "attnlrp: --method ig: explains logits only (logprob/prob scores and answers need attnlrp, cplrp, gradxinput or gradient)" -- $BIN generate "Leo's dog is called" -n 1 --explain --method ig --score prob
expect 2 "attnlrp: --answer: a classifier has no answer to force (causal LMs and encoder-decoders only)" -- $BIN explain --model models/sentiment "a great movie" --answer " good"
expect 2 "attnlrp: --continuation: empty text (give the tokens to explain)" -- $BIN generate "Leo's dog is called" --explain --continuation ""
expect 2 "attnlrp: --continuation: only with --explain (it replaces generation)" -- $BIN generate "Leo's dog is called" --continuation " Rex"
expect 2 "attnlrp: --score: only with --explain" -- $BIN generate "Leo's dog is called" --score prob
expect 2 "attnlrp: --continuation-ids: only with --explain (it replaces generation)" -- $BIN generate "Leo's dog is called" --continuation-ids 577
expect 2 "attnlrp: generate: give --continuation or --continuation-ids, not both" -- $BIN generate "x" --explain --continuation " Rex" --continuation-ids 577
expect 2 "attnlrp: --continuation-ids: id 5000 at index 1 is out of range (vocabulary size 1475)" -- $BIN generate "x" --explain --continuation-ids 577,5000
if [ "$($BIN generate "Leo's dog is called" --explain --continuation-ids 577,50 --format json)" = "$($BIN generate "Leo's dog is called" --explain --continuation " Rex." --format json)" ]; then ok; else bad "--continuation-ids = --continuation"; fi
expect 2 "attnlrp: --score nats: expected logit, logprob or prob" -- $BIN generate "Leo's dog is called" --explain --score nats
expect 2 "attnlrp: --chat: only with TEXT (--ids are used as they are)" -- $BIN explain --ids 1,2,3 --chat
expect 2 "attnlrp: --no-special: only with TEXT (--ids are used as they are)" -- $BIN generate --ids 1,2,3 --no-special
expect 2 "attnlrp: explain: TEXT: empty text (give at least one character)" -- $BIN explain "" --no-special
expect 1 "attnlrp: --chat: chat_template: models/default has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja)" -- $BIN explain --model models/default "hi" --chat
G=../shared/models/stories260K/stories260K.gguf
expect 1 "attnlrp: --chat: chat_template: $G has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja, no GGUF tokenizer.chat_template)" -- $BIN generate --model $G "hi" --chat
mkdir -p "$tmp/odd" && cp models/default/* "$tmp/odd/"
odd_template() {  # sets tokenizer_config.json's chat_template of $tmp/odd
    $PY - "$tmp/odd/tokenizer_config.json" "$1" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["chat_template"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"))
PYEOF
}
odd_template "{% if messages[0]['role'] == 'user' %}{{ raise_exception('Only system prompts here') }}{% endif %}"
expect 1 "attnlrp: --chat: chat_template: line 1: raise_exception: Only system prompts here" -- $BIN explain --model "$tmp/odd" "hi" --chat
odd_template $'{% for m in messages %}\n{% macro f() %}x{% endmacro %}{% endfor %}'
expect 1 "attnlrp: --chat: chat_template: line 2: statement \"macro\" is not supported here" -- $BIN explain --model "$tmp/odd" "hi" --chat
odd_template "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}{{ eos_token }}{% endfor %}"
if [ "$($BIN explain --model "$tmp/odd" "hi" --chat --format json | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["chat_template"] + "|" + d["prompt"])')" = "other|### user: hi</s>" ]; then ok; else bad "a template of no known family"; fi
if $BIN explain --help | grep -q -- "--answer TEXT" && $BIN generate --help | grep -q -- "--continuation TEXT"; then ok; else bad "--help lists --answer and --continuation"; fi

out=$($PY tests/targets_check.py "$BIN" "$tmp" 2>&1)
line=$(printf '%s\n' "$out" | tail -n 1)
printf '%s\n' "$out" | grep -v -E '^[0-9]+ passed' | tail -n 40
if [[ "$line" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    pass=$((pass + BASH_REMATCH[1])); fail=$((fail + BASH_REMATCH[2]))
else
    bad "targets_check.py: $line"
fi
finish
