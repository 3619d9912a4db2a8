#!/usr/bin/python3
"""Fixture for the Precompiled normalizer (SentencePiece charsmaps in T5/ALBERT/XLM-R tokenizer.json).

Needs Debian's `sentencepiece` (spm_train, spm_normalize) and `python3-regex`:
    apt-get install sentencepiece python3-regex
    /usr/bin/python3 tests/tokenizer/gen_precompiled.py

1. spm_train builds a tiny model with SentencePiece's own `nmt_nfkc` rules (what T5 and most
   SentencePiece models use); its binary charsmap (ModelProto.normalizer_spec.precompiled_charsmap)
   goes, base64, into precompiled/tokenizer.json as a `Precompiled` normalizer. The rest of that file
   makes the normalized text observable: a ByteLevel pre-tokenizer without regex and a BPE model whose
   256 one-character tokens have the byte values as ids, so the ids are the bytes of the normalized
   text and the ByteLevel decoder returns it.
2. The expected normalized text is computed here from the rules SentencePiece itself decompiles from
   the same charsmap (`spm_normalize --decompile`), applied the way huggingface/tokenizers' Precompiled
   normalizer does: per extended grapheme cluster (regex \\X), a cluster shorter than 6 bytes is
   replaced whole by the shortest rule that is a prefix of it, otherwise character by character.
3. For information it reports how often that equals SentencePiece's own normalizer (spm_normalize,
   longest match) on the same lines.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile

import regex

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "precompiled")


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def proto_field(b, want):
    """The bytes of the first length-delimited field number `want` of a protobuf message."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, i = varint(b, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = varint(b, i)
            if field == want:
                return b[i:i + n]
            i += n
        else:
            raise ValueError("unsupported wire type %d" % wire)
    raise KeyError(want)


def charsmap_and_rules(tmp):
    train = os.path.join(tmp, "train.txt")
    with open(train, "w") as f:
        for t in json.load(open(os.path.join(HERE, "inputs.json"))):
            f.write(t.replace("\n", " ") + "\n")
    subprocess.run(["spm_train", "--input=" + train, "--model_prefix=" + os.path.join(tmp, "m"), "--vocab_size=300",
                    "--model_type=unigram", "--normalization_rule_name=nmt_nfkc", "--minloglevel=2"], check=True)
    model = open(os.path.join(tmp, "m.model"), "rb").read()
    charsmap = proto_field(proto_field(model, 3), 2)
    tsv = subprocess.run(["spm_normalize", "--normalization_rule_name=nmt_nfkc", "--decompile"], check=True,
                         capture_output=True).stdout.decode("utf-8")
    rules = {}
    for line in tsv.split("\n"):
        if not line.strip():
            continue
        src, tgt = line.split("\t")[:2]
        key = "".join(chr(int(x, 16)) for x in src.split())
        rules[key] = "".join(chr(int(x, 16)) for x in tgt.split())
    return charsmap, rules


def hf_normalize(text, rules):
    def transform(chunk):  # shortest rule that is a prefix of chunk
        for k in range(1, len(chunk) + 1):
            if chunk[:k] in rules:
                return rules[chunk[:k]]
        return None

    out = []
    for g in regex.findall(r"\X", text):
        r = transform(g) if len(g.encode("utf-8")) < 6 else None
        if r is not None:
            out.append(r)
            continue
        for c in g:
            r = transform(c)
            out.append(c if r is None else r)
    return "".join(out)


def main():
    inputs = json.load(open(os.path.join(HERE, "inputs.json")))
    # The hostile strings (see gen_expected.mjs) start with "", " ", "  ", "   ".
    first_hostile = next(i for i in range(len(inputs)) if inputs[i:i + 4] == ["", " ", "  ", "   "])
    keep = [i for i in range(len(inputs)) if i >= first_hostile or i % 10 == 0]
    with tempfile.TemporaryDirectory() as tmp:
        charsmap, rules = charsmap_and_rules(tmp)
        lines = [i for i in keep if "\n" not in inputs[i] and "\r" not in inputs[i] and "\0" not in inputs[i]]
        src = os.path.join(tmp, "in.txt")
        with open(src, "w", encoding="utf-8") as f:
            f.write("".join(inputs[i] + "\n" for i in lines))
        spm = subprocess.run(["spm_normalize", "--normalization_rule_name=nmt_nfkc", "--remove_extra_whitespaces=false",
                              src], check=True, capture_output=True).stdout.decode("utf-8").split("\n")
    same = sum(1 for k, i in enumerate(lines) if spm[k] == hf_normalize(inputs[i], rules))
    print("precompiled: %d rules; HF-style result equals spm_normalize on %d of %d lines" % (len(rules), same, len(lines)))

    def byte_char(b):  # GPT-2's bytes_to_unicode
        printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
        if b in printable:
            return chr(b)
        return chr(256 + [x for x in range(256) if x not in printable].index(b))

    tj = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode("ascii")},
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": {byte_char(b): b for b in range(256)}, "merges": []},
    }
    os.makedirs(OUT, exist_ok=True)
    json.dump(tj, open(os.path.join(OUT, "tokenizer.json"), "w"))
    with open(os.path.join(OUT, "expected.jsonl"), "w") as f:
        for i in keep:
            norm = hf_normalize(inputs[i], rules)
            row = {"ids": list(norm.encode("utf-8")), "i": i}
            if norm != inputs[i]:
                row["dec"] = norm
                row["dec_skip"] = norm
            f.write(json.dumps(row) + "\n")
    print("precompiled: %d rows" % len(keep))


if __name__ == "__main__":
    sys.exit(main())
