#!/usr/bin/python3
"""Train the model that ships with attnlrp: a small LLaMA that recalls facts from its context.

    /usr/bin/python3 tools/train_default.py --out models/default --seed 0

writes models/default/ (config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
generation_config.json, README.md) and data/eval.jsonl, and prints the training loss, the held-out
accuracy and the time taken. Everything is deterministic from --seed on one process with --threads
(default 1: on the shared 2-core machine one thread ran 2x faster than two).

The task. A prompt states 2-5 facts and ends with the beginning of one of them again:

    Mia's cat is called Tom. Leo's dog is called Rex. Ava's bird is called Kiwi. Leo's dog is called

and the model must answer " Rex". Facts come from 18 templates in 10 relations (pet names, colours
of things, where people live / were born, jobs, food, drinks, instruments, sports, languages);
each animal has its own list of pet names. Every (name, template, value) triple is assigned once and
for all to train (80%) or test (20%); training text never contains a test triple and evaluation
prompts consist of test triples only, so every evaluated combination is unseen.

In the "current" prompts, the facts have different value types (at most one colour, one city, one
cat name...), so the relation asked about identifies the fact. Prompts where two facts share the value
type (two people's cats, a car and a hat) need the name or the thing to be bound to the value over 2-5
tokens; they are measured as a diagnostic (--clash-fraction trains on them). The model shipped until
December 2026 (1500 steps, batch 32, none of the options below) was at chance on them (0.486): binding
did not emerge from more steps or more such prompts alone (5000 steps with half such prompts stayed at
0.51).

Binding names to values: the defaults (3000 steps, batch 64, lr 3e-3, --same-steps 600,
--same-fraction 0.5, --att-sup 1, --same-records 200) give the shipped model, which binds (run G
below). Same-kind prompts state 2-5 facts of ONE template about different people
("Noah's house is purple. Mia's house is green. Noah's house is"), so only the name identifies the
fact; the script always measures them (1000 held-out prompts, 250 per number of facts; chance
0.50/0.33/0.25/0.20) and --same-records N appends N of them to eval.jsonl.
  --recall-steps N   curriculum stage 1: pure associative recall in the task's one-token words
                     ("Noah purple. Mia green. Noah" -> purple), every answer supervised
  --same-steps N     stage 2: same-kind prompts only, k queries drawn with replacement, all supervised
  --same-fraction F  stage 3: same-kind prompts mixed with the current ones
  --att-sup W        attention supervision: layer 0 head 0 attends to the latest name, layer 1
                     head 0 from each answer position to its fact's value (weight W, clipped with
                     the rest)
Measured (seed 0, 1 thread, batch 64, 4x64 model; the team's 2-core machine at load 11-16, so
1-2.4 s/step; smoothed answer loss, held-out accuracy on 200 current prompts, then same-kind
accuracy with 2/3/4/5 facts on 50 prompts each):
  A lr 2e-3, recall 800 + same 800 (+ mix 0.5):   step 800 (recall) loss 1.68, same-kind
    0.08/0.10/0.18/0.08; step 900 (same) loss 1.68, 0.42/0.30/0.24/0.16. Recall loss still above
    its no-binding plateau (ln k ~ 1.2) after 800 steps; stopped.
  B lr 2e-3, same 1600: step 300 loss 2.15, current 0.445, same-kind 0.42/0.34/0.28/0.16; stopped.
  C lr 5e-3, recall 800: step 300 recall loss 2.12 (A: 2.21); stopped.
  D lr 3e-3, mix 0.5, --att-sup 1: step 400 loss 2.80, current 0.09 (the unsupervised baseline
    is at 0.98 by step 400), probably the attention terms taking the clipped gradient; stopped.
  E lr 3e-3, 2000 steps, same 600 then mix 0.5, --att-sup 1 (no recall stage):
    THIS ONE LEARNS BINDING, abruptly after step 1100 (lr already decaying):
      step  600 loss 2.17  current 0.325  same-kind 0.44/0.28/0.28/0.14
      step 1000 loss 1.51  current 0.770  same-kind 0.48/0.38/0.38/0.14
      step 1100 loss 1.36  current 0.890  same-kind 0.52/0.36/0.44/0.14
      step 1200 loss 1.02  current 0.925  same-kind 0.82/0.66/0.52/0.30
      step 1300 loss 0.73  current 0.945  same-kind 0.82/0.72/0.64/0.44
      step 1500 loss 0.41  current 0.960  same-kind 0.98/0.94/0.86/0.78
      step 2000 loss 0.15  current 0.990  same-kind 0.98/0.96/0.96/0.84
    final: current-style eval.jsonl 0.9775 (400; by facts 1.00/0.98/0.94/0.99), 1000 further
    0.969; same-kind 1000 prompts 0.944 (2: 0.976, 3: 0.960, 4: 0.948, 5: 0.892); two facts of
    the queried value type (diagnostic above) 0.953. tools/check_default.py (NumPy float64) on
    its files: 391/400 current, 196/200 same-kind (--same-records 200 stream). 3578 s of
    training at load 11-16 (1.8 s/step; about 0.4 s/step on an idle core, an estimate).
    Command: --steps 2000 --same-steps 600 --same-fraction 0.5 --att-sup 1 --batch 64 --lr 3e-3
    (D is the same without the 600 same-kind steps and stays stuck: the same-kind stage matters.)
    Byte-identical re-runs of this configuration are not checked yet. The same command without
    --att-sup (plain curriculum) is at step 500: loss 1.82, current 0.45, same-kind
    0.52/0.40/0.36/0.16 (E at step 500 with --att-sup 1: 0.48/0.30/0.14/0.16); step 1000 loss
    1.17, current 0.945, same-kind 0.42/0.28/0.20/0.32 (E: 0.48/0.38/0.38/0.14, before its jump).
    A re-run of E gave the same running loss at step 100 (3.9676).
  F as E with --att-sup 0.2: attention loss 1.73 (step 100), 1.46, 1.43, 1.42, 1.42 (step 500),
    1.20 (700); step 700 loss 1.51, current 0.705, same-kind 0.46/0.22/0.22/0.18; stopped.
  G = the defaults: E run for 3000 steps (the shipped model since December 2026):
      step 1300 loss 0.60  current 0.920  same-kind 0.88/0.80/0.80/0.74
      step 1600 loss 0.18  current 0.935  same-kind 1.00/0.96/0.96/0.96
      step 2000 loss 0.06  current 0.980  same-kind 1.00/1.00/0.98/1.00
      step 3000 loss 0.009 current 1.000  same-kind 1.00/1.00/1.00/1.00
    final: eval.jsonl 0.9975 (400 current), 4000 further 0.9940, same-kind 200 in eval.jsonl
    1.0000 and 1000 further 0.9990, two facts of the queried value type 0.9770.
    tools/check_default.py (NumPy float64): 399/400 current, 200/200 same-kind. 4119 s of
    training at load 20-24 (1.37 s/step).
Earlier: 4000 steps lr 2e-3 with 50% same-kind and 2250 steps lr 3e-3 with 80% stayed at chance
(0.29-0.35 over 2-5 facts).

The tokenizer is a hand-built GPT-2-style byte-level BPE whose vocabulary holds the 256 byte
symbols and every word of the task as ONE token (built by a chain of prefix merges). The encoder
here is an independent Python implementation of the tokenizer.json pipeline; it is checked to
round-trip all training and evaluation text.

The model is written out in exact Hugging Face LlamaForCausalLM layout; the forward pass below
matches transformers' modeling_llama (RMSNorm in float32 with weight, rotate_half RoPE, SwiGLU MLP,
no biases, causal attention, final norm, untied lm_head).
"""

import argparse
import json
import math
import os
import random
import re
import struct
import time

import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------
# The task: words, relations, the train/test split of triples

NAMES = """Mia Leo Ava Noah Emma Liam Olivia Lucas Zoe Ethan Lily Jack Grace Owen Chloe Ryan Ella
Adam Nora Sam Anna Ben Eva Dan Iris Hugo Rosa Omar Sara Ivan Lena Paul Tara Felix Nina Theo Maya
Alex Kate John Mark Amy Eric Lisa Tim Julia Victor Helen""".split()

PET_NAMES = {  # one list per animal, so the animal asked about fixes the kind of name
    "cat": "Tom Luna Whiskers Mittens Kitty Tiger Smokey Misty Salem Cleo Simba Garfield",
    "dog": "Rex Max Buddy Rocky Bella Duke Rover Fido Spot Bingo Lassie Bruno",
    "bird": "Kiwi Tweety Polly Sunny Rio Pip Echo Skye Mango Chirpy Zazu Iago",
    "horse": "Spirit Thunder Storm Comet Blaze Apollo Dusty Shadow Pegasus Flash Maple Silver",
    "rabbit": "Thumper Bunny Clover Hazel Snowball Cotton Peanut Oreo Biscuit Flopsy Nibbles "
              "Pepper",
}
PET_NAMES = {a: v.split() for a, v in PET_NAMES.items()}
COLOURS = """red blue green yellow black white pink purple orange brown grey silver golden beige
violet navy""".split()
CITIES = """Paris London Rome Berlin Madrid Vienna Prague Oslo Dublin Lisbon Athens Cairo Tokyo
Delhi Lima Boston Denver Austin Seattle Chicago Toronto Sydney Moscow Warsaw Zurich Munich Milan
Venice Geneva Helsinki Stockholm Budapest""".split()
JOBS = """baker pilot doctor farmer nurse teacher lawyer painter singer dancer writer driver judge
chef tailor plumber banker sailor miner dentist builder florist butcher barber""".split()
FOODS = """apples pizza rice bread soup cheese pasta cake bananas cookies noodles salad tacos grapes
eggs beans carrots pears plums melons""".split()
DRINKS = """tea coffee milk juice water cocoa lemonade cider soda""".split()
INSTRUMENTS = """piano guitar violin drums flute cello harp trumpet banjo organ saxophone
clarinet""".split()
SPORTS = """tennis golf football rugby hockey boxing skiing rowing cricket cycling swimming
baseball""".split()
LANGUAGES = """French German Spanish Italian Dutch Greek Polish Swedish Hindi Arabic Russian Chinese
Japanese Korean Turkish Danish""".split()

ANIMALS = ["cat", "dog", "bird", "horse", "rabbit"]
THINGS = ["car", "bike", "hat", "coat", "house"]

# A slot is one kind of fact; its template has a {n} (name) and a {v} (value) that ends it.
# The query is the template cut just before " {v}".
SLOTS = ([("pet:" + a, "{n}'s " + a + " is called {v}.", PET_NAMES[a]) for a in ANIMALS] +
         [("colour:" + t, "{n}'s " + t + " is {v}.", COLOURS) for t in THINGS] +
         [("city", "{n} lives in {v}.", CITIES),
          ("born", "{n} was born in {v}.", CITIES),
          ("job", "{n} works as a {v}.", JOBS),
          ("food", "{n} likes to eat {v}.", FOODS),
          ("drink", "{n} drinks {v}.", DRINKS),
          ("instrument", "{n} plays the {v}.", INSTRUMENTS),
          ("sport", "{n}'s favourite sport is {v}.", SPORTS),
          ("language", "{n} speaks {v}.", LANGUAGES)])

TEST_FRACTION_MOD = 5  # one triple in 5 is held out


def is_test_triple(name_idx, slot_idx, value_idx):
    """The fixed split of (name, slot, value) triples: 20% test, spread over all names and values."""
    return (name_idx * 31 + slot_idx * 17 + value_idx * 7) % TEST_FRACTION_MOD == 0


def template_pieces(template):
    """Split a template into its literal word pieces, {n} and {v} (one token each)."""
    # "{n}'s cat is called {v}." -> ["{n}", "'s", " cat", " is", " called", " {v}", "."]
    out = []
    for part in re.findall(r"\{n\}| \{v\}|'s| [a-z]+|\.", template):
        out.append(part)
    assert "".join(out) == template, template
    return out


# ----------------------------------------------------------------------------------------------
# Byte-level BPE tokenizer (GPT-2 style), built by hand

SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]
UNK_ID, BOS_ID, EOS_ID, PAD_ID = 0, 1, 2, 3


def bytes_to_unicode():
    """GPT-2's reversible map from the 256 byte values to printable unicode characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_ENC = bytes_to_unicode()
BYTE_DEC = {c: b for b, c in BYTE_ENC.items()}

# GPT-2's pre-tokenizer regex is
#   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
# Python's `re` has no \p{..}: here \p{L} is written [^\W\d_] (unicode word characters that are
# not digits or underscore) and \p{N} is \d. On ASCII text, which is all the training and
# evaluation text, these are exactly equivalent; on other scripts they are close but not exact
# (e.g. Python counts some No/Nl characters as letters). The C engine uses Oniguruma with \p{..}.
PRETOKENIZE_RE = re.compile(
    r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+| ?_+|\s+(?!\S)|\s+")
# ( ?_+ covers the underscore, which is in \w but is neither \p{L} nor \p{N}: GPT-2 puts it in
# the punctuation class; "[^\s\w]+| ?_+" splits "_!" in two where GPT-2 keeps one piece, another
# non-ASCII-free edge case that never occurs in our data.)


def task_words():
    """Every word of the task, as it appears in text: with its leading space, and the names also
    without (a prompt starts with a name and the pre-tokenizer adds no prefix space)."""
    words = set()
    for _, template, values in SLOTS:
        for p in template_pieces(template):
            if p not in ("{n}", " {v}"):
                words.add(p)
        for v in values:
            words.add(" " + v)
    for n in NAMES:
        words.add(" " + n)
        words.add(n)
    words.discard(".")  # a single byte: already in the alphabet
    return sorted(words)


def build_tokenizer():
    """Vocabulary and merges so that every task word assembles into one token.

    Each word gets the chain of merges (w[:1] w[1]), (w[:2] w[2]), ...; intermediate pieces join the
    vocabulary. Ranks: all merges of words with a leading space (Ġ) first, ordered by depth, then
    those of words without one. Since words without a space start with an upper-case letter or an
    apostrophe, the only merges that can fire inside a Ġ-word are its own chain, except at the
    first step (e.g. "M i" from "Mia" inside "ĠMia"), which the ranking settles for "Ġ M".
    `check_tokenizer` verifies every word encodes to one token."""
    vocab = {}
    for s in SPECIALS:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab[BYTE_ENC[b]] = len(vocab)
    merges = []
    seen = set()
    words = [("".join(BYTE_ENC[b] for b in w.encode("utf-8"))) for w in task_words()]
    spaced = sorted(w for w in words if w.startswith("Ġ"))
    unspaced = sorted(w for w in words if not w.startswith("Ġ"))
    for group in (spaced, unspaced):
        depth = 1
        while True:
            added_any = False
            for w in group:
                if depth < len(w):
                    added_any = True
                    pair = (w[:depth], w[depth])
                    if pair not in seen:
                        seen.add(pair)
                        merges.append(pair)
                        piece = w[:depth + 1]
                        if piece not in vocab:
                            vocab[piece] = len(vocab)
            if not added_any:
                break
            depth += 1
    return vocab, merges


class Tokenizer:
    """Encodes like Hugging Face `tokenizers` does with our tokenizer.json: split out special
    tokens, ByteLevel pre-tokenize (regex, then bytes -> unicode symbols), BPE, prepend <s>."""

    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.inv = {i: t for t, i in vocab.items()}
        self.ranks = {pair: r for r, pair in enumerate(merges)}
        self.cache = {}
        self.special_re = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        while len(parts) > 1:
            best, best_rank = None, None
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best is None:
                break
            parts[best:best + 2] = [parts[best] + parts[best + 1]]
        ids = [self.vocab[p] for p in parts]
        self.cache[word] = ids
        return ids

    def encode(self, text, add_bos=True):
        ids = [BOS_ID] if add_bos else []
        for chunk in self.special_re.split(text):
            if chunk == "":
                continue
            if chunk in SPECIALS:
                ids.append(self.vocab[chunk])
                continue
            for m in PRETOKENIZE_RE.finditer(chunk):
                word = "".join(BYTE_ENC[b] for b in m.group(0).encode("utf-8"))
                ids.extend(self.bpe(word))
        return ids

    def decode(self, ids, skip_special=True):
        out = []
        for i in ids:
            t = self.inv[i]
            if t in SPECIALS:
                if not skip_special:
                    out.append(t.encode("utf-8"))
                continue
            out.append(bytes(BYTE_DEC[c] for c in t))
        return b"".join(out).decode("utf-8", errors="replace")

    def token_id(self, piece):
        """The id of a piece of text that must be exactly one token."""
        ids = self.encode(piece, add_bos=False)
        assert len(ids) == 1, (piece, ids)
        return ids[0]


def tokenizer_json(vocab, merges):
    added = [{"id": vocab[s], "content": s, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True} for s in SPECIALS]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [BOS_ID], "tokens": ["<s>"]}},
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [a + " " + b for a, b in merges]},
    }


def check_tokenizer(tok):
    """Every task word is one token, and the byte alphabet round-trips."""
    for w in task_words():
        tok.token_id(w)
    sample = "Zoë's café, 3 €! <s>x</s>\n\t  end"
    assert tok.decode(tok.encode(sample), skip_special=False) == "<s>" + sample


# ----------------------------------------------------------------------------------------------
# Prompts

class Task:
    def __init__(self, tok):
        self.tok = tok
        # the value type of each slot: slots sharing a value list (colours, cities) share a type
        self.vtype = [next(j for j, other in enumerate(SLOTS) if other[2] is values)
                      for _, _, values in SLOTS]
        self.name_ids = {n: tok.token_id(" " + n) for n in NAMES}
        self.name_ids_bare = {n: tok.token_id(n) for n in NAMES}
        self.all_name_ids = set(self.name_ids.values()) | set(self.name_ids_bare.values())
        self.slots = []
        for key, template, values in SLOTS:
            pieces = template_pieces(template)
            fixed = {p: tok.token_id(p) for p in pieces if p not in ("{n}", " {v}")}
            value_ids = [tok.token_id(" " + v) for v in values]
            self.slots.append((key, pieces, fixed, values, value_ids))
        # per slot: the value indices allowed for each name in each split
        self.allowed = {}
        for split in ("train", "test"):
            for si, (_, _, _, values, _) in enumerate(self.slots):
                for ni in range(len(NAMES)):
                    self.allowed[split, si, ni] = [
                        vi for vi in range(len(values))
                        if is_test_triple(ni, si, vi) == (split == "test")]

    def sample_cells(self, rng, k, clash=False):
        """k (name, slot) pairs whose slots have k different value types, names from a pool of
        1..k people (facts often share the person). With clash, the first two pairs share a value
        type (the same slot for two people, or e.g. car and hat): the diagnostic set."""
        types = rng.sample(sorted(set(self.vtype)), k - 1 if clash else k)
        slots = [rng.choice([s for s in range(len(self.slots)) if self.vtype[s] == t])
                 for t in types]
        pool = rng.sample(range(len(NAMES)), rng.randint(2 if clash else 1, k))
        cells = [(rng.choice(pool), s) for s in slots]
        if clash:
            n, s = cells[0]
            same = [(m, t) for m in pool for t in range(len(self.slots))
                    if self.vtype[t] == self.vtype[s] and (m, t) != (n, s)]
            cells.insert(1, rng.choice(same))
        return cells

    def sample_facts(self, rng, split, k, clash=False):
        """k facts (name idx, slot idx, value idx) with unique (name, slot) and unique values."""
        while True:
            cells = self.sample_cells(rng, k, clash)
            facts, used = [], set()
            ok = True
            for n, s in cells:
                vals = [v for v in self.allowed[split, s, n]
                        if (self.slots[s][3][v]) not in used]
                if not vals:
                    ok = False
                    break
                v = rng.choice(vals)
                used.add(self.slots[s][3][v])
                facts.append((n, s, v))
            if ok:
                return facts

    def render(self, fact, first, with_value):
        """Text, token ids, and character offset of the value (excluding its space) in the text."""
        n, s, v = fact
        _, pieces, fixed, values, value_ids = self.slots[s]
        text, ids, value_at = "", [], None
        for p in pieces:
            if p == "{n}":
                if first:
                    text += NAMES[n]
                    ids.append(self.name_ids_bare[NAMES[n]])
                else:
                    text += " " + NAMES[n]
                    ids.append(self.name_ids[NAMES[n]])
            elif p == " {v}":
                if not with_value:
                    break
                value_at = len(text) + 1
                text += " " + values[v]
                ids.append(value_ids[v])
            else:
                text += p
                ids.append(fixed[p])
        return text, ids, value_at

    def prompt(self, facts, queries):
        """facts, then the queries; each query but the last is completed with its value.
        Returns text, ids (with <s>), answer positions (index of the token that predicts the
        answer), answer ids, and for each fact its sentence span and value span."""
        text, ids = "", [BOS_ID]
        fact_spans, value_spans = [], []
        for i, f in enumerate(facts):
            t, tid, vat = self.render(f, first=(i == 0), with_value=True)
            lead = 0 if i == 0 else 1  # the space before a name belongs to the name's token
            start = len(text) + lead
            text += t
            ids += tid
            fact_spans.append([start, start + len(t) - lead])
            v = self.slots[f[1]][3][f[2]]
            value_spans.append([start - lead + vat, start - lead + vat + len(v)])
        positions, answers = [], []
        for qi, q in enumerate(queries):
            last = qi == len(queries) - 1
            t, tid, _ = self.render(q, first=False, with_value=False)
            text += t
            ids += tid
            positions.append(len(ids) - 1)
            answers.append(self.slots[q[1]][4][q[2]])
            if not last:
                v = self.slots[q[1]][3][q[2]]
                text += " " + v + "."
                ids += [answers[-1], self.tok.token_id(".")]
        return text, ids, positions, answers, fact_spans, value_spans

    def training_example(self, rng, clash_fraction=0.0):
        """Facts, then 1..3 of them asked again (answers after all but the last). With
        probability clash_fraction two facts share a value type and one of them is asked first."""
        k = rng.randint(2, 5)
        clash = rng.random() < clash_fraction
        facts = self.sample_facts(rng, "train", k, clash)
        n_q = rng.randint(1, min(3, k))
        if clash:
            first = facts[rng.randrange(2)]
            queries = [first] + rng.sample([f for f in facts if f != first], n_q - 1)
            rng.shuffle(facts)
        else:
            queries = rng.sample(facts, n_q)
        _, ids, positions, answers, _, _ = self.prompt(facts, queries)
        return ids, positions, answers

    def same_kind_facts(self, rng, split, k):
        """k facts of ONE slot (the same kind: "Noah's house is purple. Mia's house is green.")
        about k different people, with k different values: only the name tells them apart."""
        while True:
            s = rng.randrange(len(self.slots))
            facts, used = [], set()
            for n in rng.sample(range(len(NAMES)), k):
                vals = [v for v in self.allowed[split, s, n] if v not in used]
                if not vals:
                    break
                v = rng.choice(vals)
                used.add(v)
                facts.append((n, s, v))
            if len(facts) == k:
                return facts

    def same_kind_example(self, rng):
        """2-5 same-kind facts, then k queries drawn with replacement, every answer supervised."""
        k = rng.randint(2, 5)
        facts = self.same_kind_facts(rng, "train", k)
        _, ids, positions, answers, _, _ = self.prompt(facts, rng.choices(facts, k=k))
        return ids, positions, answers

    def recall_example(self, rng):
        """Pure associative recall in the task's own one-token words, the curriculum's first
        stage: "Noah purple. Mia green. Noah purple. Mia green." (2-5 pairs of one slot's
        train-split values, then k queries with replacement, every answer supervised)."""
        k = rng.randint(2, 5)
        facts = self.same_kind_facts(rng, "train", k)
        dot = self.tok.token_id(".")
        ids = [BOS_ID]
        for i, (n, s, v) in enumerate(facts):
            ids += [(self.name_ids_bare if i == 0 else self.name_ids)[NAMES[n]],
                    self.slots[s][4][v], dot]
        positions, answers = [], []
        for n, s, v in rng.choices(facts, k=k):
            ids.append(self.name_ids[NAMES[n]])
            positions.append(len(ids) - 1)
            answers.append(self.slots[s][4][v])
            ids += [answers[-1], dot]
        return ids, positions, answers

    def same_kind_record(self, rng, split, k):
        """An evaluation prompt of k same-kind facts about k people, one of them asked."""
        facts = self.same_kind_facts(rng, split, k)
        qi = rng.randrange(k)
        text, ids, positions, answers, fact_spans, value_spans = self.prompt(facts, [facts[qi]])
        n, s, v = facts[qi]
        rec = {"text": text, "target": " " + self.slots[s][3][v], "span": value_spans[qi],
               "fact_span": fact_spans[qi], "fact_index": qi, "n_facts": k,
               "relation": self.slots[s][0]}
        return rec, ids, answers[0]

    def eval_record(self, rng, split, k=None, index=None, clash=False):
        k = k if k is not None else rng.randint(2, 5)
        facts = self.sample_facts(rng, split, k, clash)
        if clash:  # query one of the two same-type facts, then shuffle
            qf = facts[rng.randrange(2)]
            rng.shuffle(facts)
            qi = facts.index(qf)
        else:
            qi = index if index is not None else rng.randrange(k)
        text, ids, positions, answers, fact_spans, value_spans = self.prompt(facts, [facts[qi]])
        n, s, v = facts[qi]
        target = " " + self.slots[s][3][v]
        rec = {"text": text, "target": target, "span": value_spans[qi],
               "fact_span": fact_spans[qi], "fact_index": qi, "n_facts": k,
               "relation": self.slots[s][0]}
        return rec, ids, answers[0]


def make_batch(task, rng, batch_size, clash_fraction=0.0, stage="mix", same_fraction=0.0):
    """One batch of the curriculum stage: "recall" (pure associative recall), "same" (same-kind
    prompts) or "mix" (same-kind prompts with probability same_fraction, else the current ones)."""
    exs = []
    for _ in range(batch_size):
        if stage == "recall":
            exs.append(task.recall_example(rng))
        elif stage == "same" or (same_fraction > 0 and rng.random() < same_fraction):
            exs.append(task.same_kind_example(rng))
        else:
            exs.append(task.training_example(rng, clash_fraction))
    T = max(len(e[0]) for e in exs)
    x = torch.full((batch_size, T), PAD_ID, dtype=torch.long)
    y = torch.full((batch_size, T), -100, dtype=torch.long)
    # attention targets for --att-sup: the latest name at or before each position, and at each
    # answer position the fact's value (the answer's first occurrence; values are unique)
    name_at = torch.full((batch_size, T), -100, dtype=torch.long)
    value_at = torch.full((batch_size, T), -100, dtype=torch.long)
    names = task.all_name_ids
    for b, (ids, positions, answers) in enumerate(exs):
        x[b, :len(ids)] = torch.tensor(ids)
        last = -100
        for t, i in enumerate(ids):
            if i in names:
                last = t
            name_at[b, t] = last
        for p, a in zip(positions, answers):
            y[b, p] = a
            value_at[b, p] = ids.index(a)
    return x, y, name_at, value_at


# ----------------------------------------------------------------------------------------------
# LLaMA, as transformers' LlamaForCausalLM computes it

class RMSNorm(torch.nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        # float32 statistics, x * rsqrt(mean(x^2) + eps), then the weight
        var = x.float().pow(2).mean(-1, keepdim=True)
        return self.weight * (x.float() * torch.rsqrt(var + self.eps)).to(x.dtype)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(T, head_dim, theta):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    pos = torch.arange(T, dtype=torch.float32)
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()  # (T, head_dim)


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        H, nh, nkv, hd, I = c["hidden_size"], c["num_attention_heads"], \
            c["num_key_value_heads"], c["head_dim"], c["intermediate_size"]
        self.nh, self.nkv, self.hd = nh, nkv, hd
        self.input_layernorm = RMSNorm(H, c["rms_norm_eps"])
        self.q_proj = torch.nn.Linear(H, nh * hd, bias=False)
        self.k_proj = torch.nn.Linear(H, nkv * hd, bias=False)
        self.v_proj = torch.nn.Linear(H, nkv * hd, bias=False)
        self.o_proj = torch.nn.Linear(nh * hd, H, bias=False)
        self.post_attention_layernorm = RMSNorm(H, c["rms_norm_eps"])
        self.gate_proj = torch.nn.Linear(H, I, bias=False)
        self.up_proj = torch.nn.Linear(H, I, bias=False)
        self.down_proj = torch.nn.Linear(I, H, bias=False)

    def forward(self, x, cos, sin, mask, atts=None):
        # x is (B,T,H); atts, when a list, receives the attention probabilities (B,nh,T,T)
        B, T, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.nkv != self.nh:
            rep = self.nh // self.nkv
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd)) + mask
        att = torch.softmax(att.float(), dim=-1).to(q.dtype)
        if atts is not None:
            atts.append(att)
        o = (att @ v).transpose(1, 2).reshape(B, T, self.nh * self.hd)
        x = x + self.o_proj(o)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = torch.nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = torch.nn.ModuleList([Block(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.lm_head = torch.nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        std = c["initializer_range"]
        for m in self.modules():  # as LlamaPreTrainedModel._init_weights
            if isinstance(m, (torch.nn.Linear, torch.nn.Embedding)):
                torch.nn.init.normal_(m.weight, mean=0.0, std=std)

    def hidden(self, ids, atts=None):
        B, T = ids.shape
        cos, sin = rope_cos_sin(T, self.c["head_dim"], self.c["rope_theta"])
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask, atts)
        return self.norm(x)

    def forward(self, ids):
        return self.lm_head(self.hidden(ids))

    def hf_parameters(self):
        """The parameters under transformers' names, in a stable order."""
        out = {"model.embed_tokens.weight": self.embed_tokens.weight}
        for i, l in enumerate(self.layers):
            p = "model.layers.%d." % i
            out[p + "input_layernorm.weight"] = l.input_layernorm.weight
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                out[p + "self_attn." + n + ".weight"] = getattr(l, n).weight
            out[p + "post_attention_layernorm.weight"] = l.post_attention_layernorm.weight
            for n in ("gate_proj", "up_proj", "down_proj"):
                out[p + "mlp." + n + ".weight"] = getattr(l, n).weight
        out["model.norm.weight"] = self.norm.weight
        out["lm_head.weight"] = self.lm_head.weight
        return out

    def hf_state_dict(self):
        return {k: v.detach().contiguous().float() for k, v in self.hf_parameters().items()}


# ----------------------------------------------------------------------------------------------
# Files

from model_files import write_safetensors  # noqa: E402  (tools/ is the script's directory)


def write_json(path, obj, indent=2):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def hf_config(a, vocab_size):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": vocab_size,
        "hidden_size": a.hidden,
        "intermediate_size": a.intermediate,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "num_key_value_heads": a.kv_heads,
        "head_dim": a.hidden // a.heads,
        "hidden_act": "silu",
        "max_position_embeddings": 128,
        "initializer_range": 0.02,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "rope_scaling": None,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "pretraining_tp": 1,
        "use_cache": True,
        "tie_word_embeddings": False,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "pad_token_id": PAD_ID,
        "torch_dtype": "float32",
        "transformers_version": "4.46.0",
    }


# ----------------------------------------------------------------------------------------------
# Evaluation

@torch.no_grad()
def accuracy(model, items, batch_size=128):
    """items: (ids, answer position, answer id). Fraction where the argmax is the answer, and
    the mean probability of the answer."""
    model.eval()
    hits, prob = 0, 0.0
    for i in range(0, len(items), batch_size):
        chunk = items[i:i + batch_size]
        T = max(len(c[0]) for c in chunk)
        x = torch.full((len(chunk), T), PAD_ID, dtype=torch.long)
        for b, (ids, _, _) in enumerate(chunk):
            x[b, :len(ids)] = torch.tensor(ids)
        logits = model(x)
        for b, (_, p, a) in enumerate(chunk):
            hits += int(logits[b, p].argmax().item() == a)
            prob += torch.softmax(logits[b, p], -1)[a].item()
    model.train()
    return hits / len(items), prob / len(items)


def eval_items(task, rng, split, n, clash=False):
    items = []
    for _ in range(n):
        rec, ids, ans = task.eval_record(rng, split, clash=clash)
        items.append((ids, len(ids) - 1, ans))
    return items


# ----------------------------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="models/default")
    ap.add_argument("--data", default="data", help="where eval.jsonl goes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=192)
    ap.add_argument("--clash-fraction", type=float, default=0.0,
                    help="share of training prompts with two facts of the same value type")
    ap.add_argument("--recall-steps", type=int, default=0,
                    help="curriculum stage 1: steps of pure associative recall")
    ap.add_argument("--same-steps", type=int, default=600,
                    help="curriculum stage 2: steps of same-kind prompts only")
    ap.add_argument("--same-fraction", type=float, default=0.5,
                    help="stage 3: share of same-kind prompts mixed with the current ones")
    ap.add_argument("--att-sup", type=float, default=1.0,
                    help="weight of the attention supervision: layer 0 head 0 attends to the "
                         "latest name, layer 1 head 0 from each answer position to its value")
    ap.add_argument("--att-sup-steps", type=int, default=None,
                    help="steps with attention supervision (default: all)")
    ap.add_argument("--eval-records", type=int, default=400)
    ap.add_argument("--same-records", type=int, default=200,
                    help="same-kind held-out records appended to eval.jsonl (2-5 facts in turn)")
    ap.add_argument("--eval-extra", type=int, default=4000,
                    help="further held-out prompts (not written) for a tighter accuracy estimate")
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    return ap.parse_args(argv)


def main():
    a = parse_args()

    t_start = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    torch.use_deterministic_algorithms(True)

    vocab, merges = build_tokenizer()
    tok = Tokenizer(vocab, merges)
    check_tokenizer(tok)
    task = Task(tok)
    cfg = hf_config(a, len(vocab))
    print("vocab %d (%d merges), %d names, %d slots" % (len(vocab), len(merges), len(NAMES),
                                                      len(SLOTS)))

    # Held-out data first, from its own stream, so it does not depend on training settings.
    eval_rng = random.Random(1000003 * a.seed + 17)
    records, items = [], []
    for i in range(a.eval_records):
        k = 2 + i % 4
        rec, ids, ans = task.eval_record(eval_rng, "test", k=k, index=eval_rng.randrange(k))
        records.append(rec)
        items.append((ids, len(ids) - 1, ans))
    extra = eval_items(task, eval_rng, "test", a.eval_extra)
    same_records, same_rec_items = [], []
    same_rec_rng = random.Random(1000003 * a.seed + 23)
    for i in range(a.same_records):
        rec, ids, ans = task.same_kind_record(same_rec_rng, "test", 2 + i % 4)
        same_records.append(rec)
        same_rec_items.append((ids, len(ids) - 1, ans))
    seen_items = eval_items(task, random.Random(a.seed + 99), "train", 1000)
    clash_items = eval_items(task, random.Random(a.seed + 98), "test", 1000, clash=True)
    same_rng = random.Random(a.seed + 97)
    same_items = []
    for i in range(1000):
        rec, ids, ans = task.same_kind_record(same_rng, "test", 2 + i % 4)
        same_items.append((ids, len(ids) - 1, ans))
    # The ids built from the pieces are what the tokenizer gives for the text, and decode back.
    for rec, (ids, _, ans) in zip(records + same_records, items + same_rec_items):
        assert tok.encode(rec["text"]) == ids, rec["text"]
        assert tok.decode(ids) == rec["text"]
        assert tok.decode([ans]) == rec["target"]
        s, e = rec["span"]
        assert " " + rec["text"][s:e] == rec["target"]
    check_rng = random.Random(a.seed + 7)
    for _ in range(2000):
        facts = task.sample_facts(check_rng, "train", check_rng.randint(2, 5))
        text, ids, _, _, _, _ = task.prompt(facts, check_rng.sample(facts, 2))
        assert tok.encode(text) == ids and tok.decode(ids) == text
    for ni in range(len(NAMES)):  # no test triple is ever produced for training
        for si in range(len(SLOTS)):
            for vi in task.allowed["train", si, ni]:
                assert not is_test_triple(ni, si, vi)

    model = Llama(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print("model: hidden %d, %d layers, %d heads (%d kv), intermediate %d: %d parameters" %
          (a.hidden, a.layers, a.heads, a.kv_heads, a.intermediate, n_params))

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.98), eps=1e-8)

    def lr_at(step):
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        t = (step - a.warmup) / max(1, a.steps - a.warmup)
        return a.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))

    rng = random.Random(a.seed)
    t_train = time.perf_counter()
    running = running_att = None
    log = []
    for step in range(a.steps):
        stage = ("recall" if step < a.recall_steps else
                 "same" if step < a.recall_steps + a.same_steps else "mix")
        x, y, name_at, value_at = make_batch(task, rng, a.batch, a.clash_fraction, stage,
                                             a.same_fraction)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        # loss on the answers only: the lm_head is applied where there is an answer to predict
        sel = y != -100
        sup = a.att_sup > 0 and (a.att_sup_steps is None or step < a.att_sup_steps)
        atts = [] if sup else None
        loss = F.cross_entropy(model.lm_head(model.hidden(x, atts)[sel]), y[sel])
        loss_ce = loss.item()
        if sup:
            def att_nll(att, target):  # att (B,T,T): -log p(target) where a target is given
                m = target != -100
                p = att[m].gather(1, target[m].unsqueeze(1)).squeeze(1)
                return -torch.log(p + 1e-9).mean()
            loss_att = att_nll(atts[0][:, 0], name_at) + att_nll(atts[1][:, 0], value_at)
            loss = loss + a.att_sup * loss_att
            running_att = (loss_att.item() if running_att is None else
                           0.95 * running_att + 0.05 * loss_att.item())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running = loss_ce if running is None else 0.95 * running + 0.05 * loss_ce
        if (step + 1) % a.log_every == 0 or step + 1 == a.steps:
            acc, _ = accuracy(model, items[:200])
            acc_c, _ = accuracy(model, clash_items[:200])
            acc_s = [accuracy(model, same_items[k - 2:200:4])[0] for k in range(2, 6)]
            el = time.perf_counter() - t_train
            print("step %5d  %s loss %.4f  held-out acc (200) %.3f  same-type diagnostic %.3f  "
                  "same-kind 2-5 facts %s  lr %.2e  %.0fs%s" %
                  (step + 1, stage, running, acc, acc_c, " ".join("%.2f" % x for x in acc_s),
                   lr_at(step), el, "" if running_att is None else
                   "  attention loss %.3f" % running_att), flush=True)
            log.append((step + 1, running, acc, acc_c))
    train_s = time.perf_counter() - t_train

    acc_eval, p_eval = accuracy(model, items)
    acc_extra, p_extra = accuracy(model, extra)
    acc_seen, _ = accuracy(model, seen_items)
    acc_clash, _ = accuracy(model, clash_items)
    acc_same, _ = accuracy(model, same_items)
    same_by_k = {k: accuracy(model, same_items[k - 2::4])[0] for k in range(2, 6)}
    acc_same_eval, p_same_eval = accuracy(model, same_rec_items) if same_rec_items else (0.0, 0.0)
    by_k = {}
    for k in range(2, 6):
        sub = [it for it, r in zip(items, records) if r["n_facts"] == k]
        by_k[k] = accuracy(model, sub)[0]
    print("held-out accuracy: data/eval.jsonl %.4f (%d records, mean p(answer) %.3f); "
          "%d further held-out prompts %.4f; train-split prompts %.4f" %
          (acc_eval, len(items), p_eval, len(extra), acc_extra, acc_seen))
    print("by number of facts: " + ", ".join("%d: %.3f" % kv for kv in by_k.items()))
    print("diagnostic, outside the task: %d prompts with two facts of the queried value type: "
          "%.4f" % (len(clash_items), acc_clash))
    print("same-kind prompts (2-5 facts of one template about different people): %d in eval.jsonl "
          "%.4f; %d further %.4f; by number of facts: %s" %
          (len(same_rec_items), acc_same_eval, len(same_items), acc_same,
           ", ".join("%d: %.3f" % kv for kv in same_by_k.items())))

    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.data, exist_ok=True)
    tensors = model.hf_state_dict()
    write_safetensors(os.path.join(a.out, "model.safetensors"), tensors)
    write_json(os.path.join(a.out, "config.json"), cfg)
    write_json(os.path.join(a.out, "tokenizer.json"), tokenizer_json(vocab, merges), indent=None)
    write_json(os.path.join(a.out, "tokenizer_config.json"), {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
        "add_bos_token": True, "add_eos_token": False, "add_prefix_space": False,
        "clean_up_tokenization_spaces": False, "model_max_length": 128,
    })
    write_json(os.path.join(a.out, "generation_config.json"), {
        "_from_model_config": True, "bos_token_id": BOS_ID, "eos_token_id": EOS_ID,
        "pad_token_id": PAD_ID, "transformers_version": "4.46.0"})
    tmp = os.path.join(a.data, "eval.jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records + same_records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, os.path.join(a.data, "eval.jsonl"))

    total_s = time.perf_counter() - t_start
    stats = {"params": n_params, "acc_eval": acc_eval, "n_eval": len(items), "p_eval": p_eval,
             "acc_extra": acc_extra, "n_extra": len(extra), "acc_seen": acc_seen, "by_k": by_k,
             "acc_clash": acc_clash, "n_clash": len(clash_items),
             "acc_same": acc_same, "n_same": len(same_items), "same_by_k": same_by_k,
             "acc_same_eval": acc_same_eval, "p_same_eval": p_same_eval,
             "n_same_eval": len(same_rec_items),
             "train_s": train_s, "total_s": total_s, "vocab": len(vocab), "merges": len(merges),
             "log": log}
    stats["sizes"] = {f: os.path.getsize(os.path.join(a.out, f))
                      for f in sorted(os.listdir(a.out)) if f != "README.md"}
    write_model_card(os.path.join(a.out, "README.md"), a, cfg, stats)
    sizes = {f: os.path.getsize(os.path.join(a.out, f)) for f in sorted(os.listdir(a.out))}
    print("wrote %s: %s" % (a.out, ", ".join("%s %d B" % kv for kv in sizes.items())))
    print("training %.1f s (%d steps, %.3f s/step), total %.1f s" %
          (train_s, a.steps, train_s / a.steps, total_s))


def write_model_card(path, a, cfg, s):
    rel = ", ".join(sorted({k.split(":")[0] for k, _, _ in SLOTS}))
    curve = "\n".join("| %d | %.4f | %.3f | %.3f |" % row
                      for row in s["log"][::max(1, len(s["log"]) // 10)])
    att_sup = ("; attention supervision (weight %g): layer 0 head 0 is trained to attend to the latest "
               "name, layer 1 head 0 from each answer position to its fact's value" % a.att_sup
               if a.att_sup else "")
    att_note = (" (layer 0 head 0 to the latest name, layer 1 head 0 to the value)" if a.att_sup else "")
    text = f"""# attnlrp default model: in-context fact recall

A {cfg['num_hidden_layers']}-layer LLaMA (Hugging Face `LlamaForCausalLM` layout, float32,
{s['params']:,} parameters) that answers questions about facts stated earlier in its prompt:

    Mia's cat is called Tom. Leo's dog is called Rex. Ava's bird is called Kiwi. Leo's dog is called

→ ` Rex`. The evidence for each answer is known (the value in the matching fact), which is what
makes the model useful for measuring whether an explanation points at the right tokens.

## Task and data

- Prompts state 2–5 facts and end with the start of one of them again; the answer is the value.
- {len(SLOTS)} fact templates in {len(set(k.split(":")[0] for k, _, _ in SLOTS))} relations:
  {rel}. {len(NAMES)} person names; values from per-relation lists (a list of pet names per animal, colours, cities, jobs, foods, drinks,
  instruments, sports, languages). Every name and value is one token.
- In a prompt the facts have different value types (at most one colour, one city, one dog name…),
  and 1–k people share the k facts, so the same person often has several facts. The relation asked
  about picks the fact; the answer is found only in the context (values change every prompt).
- Held-out split: every (name, template, value) triple belongs to train (80%) or test (20%) by a
  fixed rule; training text never contains a test triple, and evaluation prompts contain test
  triples only. So every evaluated combination is unseen in training.
- Same-kind prompts state 2–5 facts of *one* template about different people ("Noah's house is
  purple. Mia's house is green. Noah's house is"): only binding the name to its value answers them.
- Training: {a.steps} steps × {a.batch} sequences, each sequence being facts followed by 1–3
  of them asked again, loss on the answers only; the first {a.same_steps} steps on same-kind prompts only,
  then {a.same_fraction:g} of the sequences same-kind and the rest as above{att_sup}. AdamW (lr {a.lr}, warm-up {a.warmup}, cosine to
  5%, weight decay {a.weight_decay}, gradient clip 1), initialisation N(0, 0.02), seed {a.seed},
  CPU with {a.threads} thread{'s' if a.threads != 1 else ''}: {s['train_s']:.0f} s of training on the team's shared 2-core machine.

## Accuracy (held out)

| set | prompts | accuracy (argmax = answer) |
| --- | --- | --- |
| `data/eval.jsonl` | {s['n_eval']} | {s['acc_eval']:.4f} (mean p(answer) {s['p_eval']:.3f}) |
| further held-out prompts | {s['n_extra']} | {s['acc_extra']:.4f} |
| prompts of training triples | 1000 | {s['acc_seen']:.4f} |
| same-kind prompts in `data/eval.jsonl` | {s['n_same_eval']} | {s['acc_same_eval']:.4f} (mean p(answer) {s['p_same_eval']:.3f}) |
| further same-kind prompts | {s['n_same']} | {s['acc_same']:.4f} |
| diagnostic: two facts of the queried value type | {s['n_clash']} | {s['acc_clash']:.4f} (chance ≈ 0.5) |

By number of facts in `data/eval.jsonl` (the first {s['n_eval']} records): {', '.join('%d: %.3f' % kv for kv in s['by_k'].items())};
same-kind prompts by number of facts: {', '.join('%d: %.3f' % kv for kv in s['same_by_k'].items())} (chance 0.50, 0.33, 0.25, 0.20).

**What the model does.** It binds names to values: with several facts of the same kind it answers
with the value of the person asked about, not just a value of the right type. The earlier default
model (1500 steps without same-kind prompts) did not: on two facts of the queried value type it
was at chance (0.486). Binding did not emerge from more steps or more such prompts alone; it came
with the same-kind stage first and a light supervision of two attention heads{att_note}, and then
abruptly (after about 1100 steps at batch 64). Explanations of this model should put relevance on
the value of the matching fact, on the name that selects it, and on the relation words of the question.

Training curve (smoothed loss on answers; accuracy on 200 held-out prompts and on 200 of the
prompts with two facts of the queried value type):

| step | loss | accuracy | diagnostic |
| --- | --- | --- | --- |
{curve}

## Model

| field | value |
| --- | --- |
| hidden size | {cfg['hidden_size']} |
| layers | {cfg['num_hidden_layers']} |
| attention heads / key-value heads | {cfg['num_attention_heads']} / {cfg['num_key_value_heads']} (head dim {cfg['head_dim']}) |
| MLP intermediate size | {cfg['intermediate_size']} (SwiGLU) |
| vocabulary | {cfg['vocab_size']} |
| RoPE | rotate_half, theta {cfg['rope_theta']:g}; max positions {cfg['max_position_embeddings']} |
| RMSNorm eps | {cfg['rms_norm_eps']:g} |
| embeddings | untied (`lm_head.weight` stored) |

## Tokenizer

Hand-built GPT-2-style byte-level BPE (`tokenizer.json`): ByteLevel pre-tokenizer (GPT-2 regex,
no prefix space), the 256 byte symbols, and {s['merges']} merges that assemble every word of the
task into one token (with its leading space `Ġ`; person names also without, for the start of a
prompt). `'s` is split off by the regex and is one token. Any other text falls back to smaller
pieces down to single bytes. The post-processor prepends `<s>` (id {BOS_ID}); specials:
`<unk>` {UNK_ID}, `<s>` {BOS_ID}, `</s>` {EOS_ID}, `<pad>` {PAD_ID}. Three implementations agree on
it: the encoder in `tools/train_default.py`, the tokenizer.json interpreter in `tools/check_default.py`,
and Hugging Face transformers.js (`tools/check_tokenizer_js.mjs`: same ids and a lossless decode
for every text of `data/eval.jsonl` and strings with accents, other scripts, emoji, digits,
runs of whitespace and special tokens).

## Files

{chr(10).join("- `%s`: %d bytes" % kv for kv in s["sizes"].items())}

## Reproduce and check

    /usr/bin/python3 tools/train_default.py --out models/default --seed 0
    /usr/bin/python3 tools/check_default.py --model models/default --data data/eval.jsonl

The first rebuilds this directory and `data/eval.jsonl` (deterministic given the seed and the
thread count, default 1); the second reloads `model.safetensors`, `config.json` and `tokenizer.json`
with an independent NumPy implementation and recomputes the accuracy on `data/eval.jsonl`.
"""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
