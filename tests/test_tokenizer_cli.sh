#!/usr/bin/env bash
# attnlrp tokenize / detokenize as a user meets them: outputs on the committed GPT-2 and LLaMA-2
# fixtures (ids from the JavaScript reference, see tests/tokenizer/), one error line and the
# documented exit status (2 usage, 1 everything else) for every bad input.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh
G=tests/tokenizer/gpt2
L=tests/tokenizer/llama2

# same STDOUT -- command...: exit 0 and exactly this output
same() {
    local want=$1
    shift 2
    local got status
    got=$("$@" 2>&1)
    status=$?
    if [ "$status" != 0 ] || [ "$got" != "$want" ]; then bad "$* -> exit $status, output [$got], expected [$want]"; else ok; fi
}

# GPT-2 ids of "Hello world" are 15496, 995 (the reference's and OpenAI's encoder.json).
same $'15496\t"Hello"\t"Hello"\n995\t"\xc4\xa0world"\t" world"' -- $BIN tokenize --model $G "Hello world"
same '{"ids": [15496, 995], "tokens": ["Hello", "Ġworld"], "text": ["Hello", " world"]}' -- $BIN tokenize --model $G --format json "Hello world"
same 'Hello world' -- $BIN detokenize --model $G --ids 15496,995
same '{"ids": [15496, 995], "text": "Hello world"}' -- $BIN detokenize --model $G --ids 15496,995 --format json
same '{"ids": [15496, 995], "tokens": ["Hello", "Ġworld"], "text": ["Hello", " world"]}' -- $BIN tokenize --model $G/tokenizer.json --format json "Hello world"
# LLaMA-2 style: BOS from the template unless --no-special; "\n" falls back to the byte token <0x0A>
# (ids: the vocabulary entries of the committed tokenizer.json).
same '{"ids": [1, 22557], "tokens": ["<s>", "▁Hello"], "text": ["<s>", " Hello"]}' -- $BIN tokenize --model $L --format json Hello
same '{"ids": [22557], "tokens": ["▁Hello"], "text": [" Hello"]}' -- $BIN tokenize --model $L --format json --no-special Hello
same '{"ids": [1, 330, 13, 28760], "tokens": ["<s>", "▁A", "<0x0A>", "B"], "text": ["<s>", " A", "\n", "B"]}' -- $BIN tokenize --model $L --format json $'A\nB'
same 'Hello' -- $BIN detokenize --model $L --ids 1,22557 --skip-special
same '<s> Hello' -- $BIN detokenize --model $L --ids 1,22557

# --file: one JSON object per line, same ids as tokenizing each line alone.
printf 'Hello world\r\nHello\n' >"$tmp/in.txt"
same $'{"ids": [15496, 995], "tokens": ["Hello", "Ġworld"], "text": ["Hello", " world"]}\n{"ids": [15496], "tokens": ["Hello"], "text": ["Hello"]}' -- $BIN tokenize --model $G --format json --file "$tmp/in.txt"

# Errors: one line, exit status 2 for usage, 1 otherwise.
printf 'fine\nbad \xff byte\n' >"$tmp/bad.txt"
expect 1 "attnlrp: $tmp/bad.txt:2: invalid UTF-8 at byte offset 4 (byte 0xFF)" -- $BIN tokenize --model $G --file "$tmp/bad.txt"
expect 1 "attnlrp: text: invalid UTF-8 at byte offset 1 (byte 0xC3)" -- $BIN tokenize --model $G $'a\xc3'
expect 1 "attnlrp: --file $tmp/none.txt: No such file or directory" -- $BIN tokenize --model $G --file "$tmp/none.txt"
expect 2 "attnlrp: tokenize: give the text to tokenize or --file FILE (see --help)" -- $BIN tokenize --model $G
expect 2 "attnlrp: tokenize: give either text arguments or --file, not both" -- $BIN tokenize --model $G --file "$tmp/in.txt" x
expect 2 "attnlrp: tokenize: unknown option --bogus (see attnlrp tokenize --help)" -- $BIN tokenize --model $G --bogus x
expect 2 "attnlrp: --format xml: expected text or json" -- $BIN tokenize --model $G --format xml x
expect 1 "attnlrp: $tmp/nope: No such file or directory" -- $BIN tokenize --model "$tmp/nope" x
expect 1 "attnlrp: --ids: id 50257 at index 1 is not in the vocabulary (size 50257)" -- $BIN detokenize --model $G --ids 1,50257
expect 2 "attnlrp: detokenize: --ids is required (see --help)" -- $BIN detokenize --model $G

# A malformed tokenizer.json names the JSON path at fault.
mkdir -p "$tmp/m"
printf '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"}, {"type": "Foo"}]}}' >"$tmp/m/tokenizer.json"
expect 1 "attnlrp: $tmp/m/tokenizer.json: pre_tokenizer.pretokenizers[1].type: unsupported pre-tokenizer \"Foo\"" -- $BIN tokenize --model "$tmp/m" x
printf '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}' >"$tmp/m/tokenizer.json"
expect 1 "attnlrp: $tmp/m/tokenizer.json: model.merges[0]: token \"b\" is not in the vocabulary" -- $BIN tokenize --model "$tmp/m" x
printf '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [' >"$tmp/m/tokenizer.json"
expect 1 "attnlrp: $tmp/m/tokenizer.json: invalid JSON at line 1 column 57: unexpected end of input" -- $BIN tokenize --model "$tmp/m" x

if $BIN tokenize --help | grep -q -- '--no-special'; then ok; else bad "tokenize --help"; fi
finish
