#!/usr/bin/env bash
# The T5 demo model's tokenizer (models/t5-facts/tokenizer.json, a SentencePiece Unigram model
# converted as transformers' T5Converter does): tools/check_t5_tokenizer.py retrains the
# SentencePiece model into build/ (about a second; the .model file is not committed), checks that
# it converts to the shipped tokenizer.json byte for byte, and compares `attnlrp tokenize` with
# Python sentencepiece on about 5,500 texts and `attnlrp detokenize` on about 300. Needs Debian's
# python3-sentencepiece; without it this test fails, it never skips.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=/usr/bin/python3
if [ ! -f models/t5-facts/tokenizer.json ]; then
    echo "note: models/t5-facts not present"
    echo "0 passed, 0 failed"
    exit 0
fi
if ! "$PY" -c 'import sentencepiece' >/dev/null 2>&1; then
    echo "FAIL test_t5_tokenizer: $PY cannot import sentencepiece (install python3-sentencepiece)"
    echo "0 passed, 1 failed"
    exit 1
fi
exec "$PY" tools/check_t5_tokenizer.py --bin "${ATTNLRP_BIN:-$BUILD/attnlrp}" --work "$BUILD/t5tok"
