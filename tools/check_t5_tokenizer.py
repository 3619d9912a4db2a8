#!/usr/bin/python3
"""The engine's T5 tokenizer against SentencePiece itself.

    /usr/bin/python3 tools/check_t5_tokenizer.py --bin build/attnlrp [--model models/t5-facts]
        [--work build/t5tok]

1. Retrains the SentencePiece Unigram model of models/t5-facts exactly as tools/train_t5facts.py
   does (tools/t5facts_task.py: same corpus, seed, one thread; about a second), writes it to
   WORK/spiece.model (it is not committed: it is cheap to regenerate), converts it to tokenizer.json
   and checks that this is byte for byte the shipped models/t5-facts/tokenizer.json.
2. Encodes a few thousand texts with Python sentencepiece (Debian python3-sentencepiece) loaded
   from that .model file and with `attnlrp tokenize` on the shipped tokenizer.json, and compares
   the ids (with </s> appended, as T5's template does) and, for texts without special tokens, the
   decode of the ids with `attnlrp detokenize --skip-special` against sentencepiece's decode
   followed by transformers' clean-up of tokenization spaces (tokenizer_config.json sets
   clean_up_tokenization_spaces, as transformers' T5 tokenizers did by default).

The texts: training records of the task, held-out records, the real English texts of
tests/tokenizer/inputs.json (the even ones trained the tokenizer, the odd ones did not), its 100
hostile strings, and generated odd inputs (runs of spaces, leading and trailing spaces, digits,
punctuation, characters outside the vocabulary, "▁" typed in the text, special tokens and
<extra_id_N> sentinels inside the text).

Special tokens typed in the text: the tokenizer.json (like T5's) lists <pad>, </s>, <unk> and the
sentinels as added tokens, so Hugging Face cuts the text at them before normalizing and encodes the
pieces between them separately; sentencepiece alone has no added tokens, so the reference here
does the same cut and encodes each piece with sentencepiece (this is what transformers' slow
T5Tokenizer does too).

One documented difference between Hugging Face's conversion and sentencepiece is not an engine
matter and is applied to the reference: the converted normalizer strips all trailing Unicode
whitespace (Strip right), while sentencepiece's identity normalization removes only trailing
spaces (U+0020), so a text ending in a tab or newline keeps that character (as <unk>) in
sentencepiece; the reference encodes the text with trailing whitespace removed. The texts
concerned are counted in the summary. A second difference is left out of the comparison: text
that contains "▁" (U+2581) itself. Sentencepiece treats a typed "▁" as whitespace (removes it at
the ends, always adds its dummy prefix), Hugging Face's Metaspace treats it as an ordinary
character that already is the prefix ("▁Noah" is [▁Noah] there, [▁, ▁Noah] in sentencepiece).
Those texts are counted, not compared.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import t5facts_task as T  # noqa: E402

SPECIAL_RE = re.compile(r"<pad>|</s>|<unk>|<extra_id_(?:1[0-9]|[0-9])>")


def reference_ids(sp, text, special_ids):
    """Hugging Face's encode(text) for the T5 tokenizer.json, built from sentencepiece: cut at the
    added tokens, strip trailing whitespace of each piece (Strip right), encode, append </s>."""
    ids, pos = [], 0
    for m in list(SPECIAL_RE.finditer(text)) + [None]:
        end = m.start() if m else len(text)
        seg = text[pos:end].rstrip()
        if seg:
            ids += sp.encode(seg)
        if m:
            ids.append(special_ids[m.group(0)])
            pos = m.end()
    return ids + [T.EOS_ID]


def odd_texts(rng):
    """Hand-made and generated inputs that exercise whitespace, unknown characters and specials."""
    fixed = [
        "", " ", "  ", "a", " a", "a ", "  a  ", "a  b", "a   b    c", " leading", "trailing ",
        "  both  ", "question:what colour is Noah's house?context:Noah's house is purple.",
        "Noah's  house   is purple .", "NOAH'S HOUSE IS PURPLE", "noah's house is purple",
        "12 apples, 3.5 pears and 1,000,000 plums!", "2024-01-31 10:45", "phone: +44 20 7946 0958",
        "e-mail me at noah@example.com", "100%", "#hashtag @mention $5 ~tilde^ `code` {braces} [x] |",
        "a\tb", "a\nb", "tab\tin the middle", "line one\nline two", "ends with tab\t", "ends with newline\n",
        "\u2581", "\u2581\u2581", "a\u2581b", "\u2581Noah", "x \u2581 y",
        "caf\u00e9 na\u00efve r\u00e9sum\u00e9", "\u00c5ngstr\u00f6m", "Stra\u00dfe", "\u65e5\u672c\u8a9e",
        "\U0001f600 emoji \U0001f44d\U0001f3fd", "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
        "\u03b1\u03b2\u03b3 \u0394", "\u00a0non-breaking\u00a0space", "zero\u200bwidth", "\ufeffbom",
        "<extra_id_3>", "a <extra_id_3> b", "a<extra_id_3>b", "<extra_id_0> Noah <extra_id_1>",
        "Noah's house is <extra_id_0>.", "<extra_id_19><extra_id_0>", "<extra_id_20> is not a token",
        "<extra_id_3 >", "</s>", "a </s> b", "a</s>", "<pad><unk></s>", "<s> is not special here",
        "question: what is <extra_id_0>'s dog called? context: Mia's dog is called <extra_id_1>.",
        "..." , "?!", "'s", "'", "Noah''s", "a.b.c", "x" * 300, "ab" * 150, "Noah" * 20,
    ]
    chars = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"-()[]{}")
    chars += ["  ", "\t", "\u2581", "\u00e9", "\u4e2d", "\U0001f600", "<extra_id_2>", "</s>", "'s"]
    words = T.NAMES + [v for r in T.RELATIONS.values() for v in r[2]] + [
        "house", "car", "is", "colour", "what", "question:", "context:", "lives", "in", "the", "a"]
    gen = []
    for _ in range(700):
        gen.append("".join(rng.choice(chars) for _ in range(rng.randint(1, 40))))
    for _ in range(700):
        seps = [" ", " ", " ", "  ", "", ". ", ", ", "'s ", "   "]
        gen.append("".join(rng.choice(words) + rng.choice(seps) for _ in range(rng.randint(1, 12))))
    return fixed + gen


def run_engine(binary, model, texts):
    """ids of `attnlrp tokenize` for every text: via --file for one-line texts, as arguments for
    the others."""
    out = [None] * len(texts)
    lines = [i for i, t in enumerate(texts) if "\n" not in t and "\r" not in t]
    r = subprocess.run([binary, "tokenize", "--model", model, "--format", "json", "--file", "-"],
                       input="".join(texts[i] + "\n" for i in lines), capture_output=True,
                       text=True, encoding="utf-8")
    if r.returncode != 0:
        sys.exit("attnlrp tokenize failed: " + r.stderr.strip())
    rows = r.stdout.splitlines()
    if len(rows) != len(lines):
        sys.exit("attnlrp tokenize: %d results for %d lines" % (len(rows), len(lines)))
    for i, row in zip(lines, rows):
        out[i] = json.loads(row)["ids"]
    for i, t in enumerate(texts):
        if out[i] is None:
            r = subprocess.run([binary, "tokenize", "--model", model, "--format", "json", "--", t],
                               capture_output=True, text=True, encoding="utf-8")
            if r.returncode != 0:
                r = subprocess.run([binary, "tokenize", "--model", model, "--format", "json", t],
                                   capture_output=True, text=True, encoding="utf-8")
            out[i] = json.loads(r.stdout)["ids"] if r.returncode == 0 else r.stderr.strip()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/attnlrp")
    ap.add_argument("--model", default="models/t5-facts")
    ap.add_argument("--work", default="build/t5tok", help="where spiece.model is written")
    ap.add_argument("--seed", type=int, default=0, help="the --seed of tools/train_t5facts.py")
    ap.add_argument("--decode", type=int, default=300, help="how many decodes to compare")
    a = ap.parse_args()
    import sentencepiece as spm

    fails = 0
    model_bytes = T.train_sentencepiece(T.tokenizer_corpus(a.seed))
    os.makedirs(a.work, exist_ok=True)
    with open(os.path.join(a.work, "spiece.model"), "wb") as f:
        f.write(model_bytes)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(a.work, "spiece.model"))
    made = T.dumps(T.tokenizer_json(T.sp_pieces(model_bytes)), indent=None)
    with open(os.path.join(a.model, "tokenizer.json"), encoding="utf-8") as f:
        shipped = f.read()
    if made != shipped:
        print("FAIL: %s/tokenizer.json is not what the retrained sentencepiece model converts to" % a.model)
        fails += 1
    tj = json.loads(shipped)
    special_ids = {t["content"]: t["id"] for t in tj["added_tokens"]}
    assert special_ids["<pad>"] == 0 and special_ids["</s>"] == 1 and special_ids["<unk>"] == 2
    assert special_ids["<extra_id_0>"] == len(tj["model"]["vocab"]) - 1

    rng = random.Random(12345)
    train = [T.make_record(rng, "train")["text"] for _ in range(1000)]
    held = [T.make_record(rng, "test")["text"] for _ in range(1000)]
    answers = sorted({v for r in T.RELATIONS.values() for v in r[2]})
    with open(T.INPUTS_JSON, encoding="utf-8") as f:
        inputs = json.load(f)
    seen_real, unseen_real = T.real_texts()
    hostile = inputs[T.N_REAL:]
    odd = odd_texts(rng)
    groups = [("task records, training triples", train), ("task records, held-out triples", held),
              ("answers", answers), ("real English, tokenizer training half", seen_real),
              ("real English, held out", unseen_real), ("hostile strings (inputs.json)", hostile),
              ("odd inputs", odd)]
    texts = [t for _, g in groups for t in g]
    engine = run_engine(a.bin, a.model, texts)

    k = 0
    n_strip = n_unk = n_meta = 0
    for name, g in groups:
        bad = 0
        for t in g:
            if "\u2581" in t:
                n_meta += 1
                k += 1
                continue
            want = reference_ids(sp, t, special_ids)
            got = engine[k]
            k += 1
            if t != t.rstrip() and t.rstrip(" ") != t.rstrip():
                n_strip += 1
            n_unk += T.UNK_ID in want
            if got != want:
                bad += 1
                if bad <= 5:
                    print("FAIL: %s: %r: engine %s, sentencepiece %s" % (name, t[:120], got, want))
        fails += bad
        print("%-40s %5d texts, %d differ" % (name, len(g), bad))
    n_ids = len(texts) - n_meta
    print("ids: %d texts compared, %d differ (%d with <unk>; %d where trailing non-space whitespace "
          "is stripped as Hugging Face's Strip does); %d texts with a typed \u2581 not compared" % (
              n_ids, fails, n_unk, n_strip, n_meta))

    # decode: sentencepiece's decode of its ids against `attnlrp detokenize --skip-special`
    dec_texts = [t for t in train[:100] + held[:100] + unseen_real[:60] + odd[:200]
                 if not SPECIAL_RE.search(t) and t.strip()][:a.decode]
    dec_texts = [t for t in dec_texts if T.UNK_ID not in sp.encode(t) and "\u2581" not in t]
    with open(os.path.join(a.model, "tokenizer_config.json"), encoding="utf-8") as f:
        cleanup = json.load(f).get("clean_up_tokenization_spaces", False)
    dbad = 0
    for t in dec_texts:  # (sentencepiece decodes <unk> as " ⁇ ", Hugging Face as "<unk>": left out)
        ids = sp.encode(t)
        want = sp.decode(ids)
        if cleanup:  # transformers applies this after the tokenizers decode
            for x, y in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
                         (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
                want = want.replace(x, y)
        r = subprocess.run([a.bin, "detokenize", "--model", a.model, "--skip-special", "--format", "json",
                            "--ids", ",".join(map(str, ids + [T.EOS_ID]))], capture_output=True,
                           text=True, encoding="utf-8")
        got = json.loads(r.stdout)["text"] if r.returncode == 0 else r.stderr.strip()
        if got != want:
            dbad += 1
            if dbad <= 5:
                print("FAIL: decode %s: engine %r, sentencepiece %r" % (ids, got, want))
    print("decode: %d id sequences compared, %d differ" % (len(dec_texts), dbad))
    fails += dbad
    print("%d passed, %d failed" % (n_ids + len(dec_texts) + 1 - fails, fails))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
