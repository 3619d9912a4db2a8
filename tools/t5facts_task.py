#!/usr/bin/python3
"""The task and the tokenizer of attnlrp's T5 demo model (models/t5-facts), shared by
tools/train_t5facts.py (training), tools/check_t5facts.py (independent NumPy check) and
tools/check_t5_tokenizer.py (engine tokenizer against SentencePiece).

The task: answer a question about facts stated in the source, T5 style.

    question: what colour is Noah's house? context: Mia's house is green. Noah's house is
    purple. Leo's car is red. Ava's house is blue.                                  -> purple

A record states 2-4 facts of the relation asked about (different people, different values), so
the answer is found only by binding the person of the question to the person of a fact, plus
0-2 distractor facts of other relations (a car colour beside house colours: same values, other
relation). Facts are shuffled; the question is about one of the same-relation facts, uniformly.

Held-out split: every (name, relation, value) triple belongs to train (80%) or test (20%) by a
fixed hash; training records contain train triples only, held-out records test triples only, so
every evaluated combination is unseen in training (every name and every value is seen).

The tokenizer: a SentencePiece Unigram model trained on the training text (identity
normalization, T5's ids: <pad>=0, </s>=1, <unk>=2, no <s>), converted to a Hugging Face
tokenizer.json the way transformers' T5Converter converts T5's spiece.model (SpmConverter without
a precompiled charsmap: Strip(right) + Replace(" {2,}" -> "▁") normalizer, Metaspace
pre-tokenizer and decoder with prepend_scheme "always", TemplateProcessing "$A </s>" /
"$A </s> $B </s>", the <extra_id_N> sentinels appended in reverse order, so <extra_id_0> has the
highest id).
"""

import hashlib
import io
import json
import os
import random

NAMES = [
    "Noah", "Mia", "Leo", "Ava", "Emma", "Liam", "Olivia", "Lucas", "Sophia", "Ethan", "Chloe", "Jack",
    "Grace", "Oscar", "Ruby", "Henry", "Alice", "Oliver", "Isla", "Adam", "Lily", "Samuel", "Zoe",
    "Daniel", "Hannah", "Max", "Julia", "Felix", "Nina", "Hugo", "Clara", "Tom", "Eva", "Ben", "Lena",
    "Paul", "Anna", "Sam", "Rosa", "Ivan",
]

N_TASK_NAMES = 40  # the task's people: NAMES[:N_TASK_NAMES] (the tokenizer's corpus uses all)
COLOURS = ["red", "blue", "green", "yellow", "purple", "orange", "pink", "brown", "black", "white",
           "grey", "silver"]

# relation -> (question, fact, values). {n}: the person, {v}: the value.
RELATIONS = {
    "house": ("what colour is {n}'s house?", "{n}'s house is {v}.", COLOURS),
    "car": ("what colour is {n}'s car?", "{n}'s car is {v}.", COLOURS),
    "dog": ("what is {n}'s dog called?", "{n}'s dog is called {v}.",
            ["Rex", "Buddy", "Rocky", "Duke", "Bella", "Lucy", "Daisy", "Milo", "Toby", "Rosie",
             "Charlie", "Bruno"]),
    "city": ("where does {n} live?", "{n} lives in {v}.",
             ["Paris", "London", "Rome", "Berlin", "Madrid", "Vienna", "Oslo", "Dublin", "Prague",
              "Lisbon", "Athens", "Warsaw"]),
    "drink": ("what does {n} drink?", "{n} drinks {v}.",
              ["tea", "coffee", "milk", "water", "juice", "cocoa", "lemonade", "cider", "soda", "wine",
               "beer", "smoothies"]),
    "sport": ("what sport does {n} play?", "{n} plays {v}.",
              ["tennis", "football", "golf", "hockey", "rugby", "cricket", "baseball", "volleyball",
               "basketball", "badminton", "squash", "handball"]),
    "fruit": ("what is {n}'s favourite fruit?", "{n}'s favourite fruit is {v}.",
              ["apple", "banana", "cherry", "mango", "peach", "pear", "plum", "lemon", "lime", "grape",
               "melon", "kiwi"]),
}
RELATION_NAMES = list(RELATIONS)

TEST_SHARE = 0.2


def is_test_triple(name, relation, value):
    h = hashlib.sha256(f"{name}|{relation}|{value}".encode()).digest()
    return int.from_bytes(h[:4], "little") < TEST_SHARE * 2**32


def _split_ok(split, name, relation, value):
    return is_test_triple(name, relation, value) == (split == "test")


# The shipped model's task: one fact of the asked relation among 2-4 facts of other relations
# (about the same or other people; a car colour beside a house colour shares the values). Records
# with 2-3 facts of the asked relation need the person bound to the value; that did not emerge
# within the CPU budget (see the model card) and is kept as a diagnostic.
MIN_SAME, MAX_SAME = 1, 1    # facts of the asked relation: MIN_SAME..MAX_SAME
MIN_OTHER, MAX_OTHER = 2, 4  # distractor facts of other relations: MIN_OTHER..MAX_OTHER


def make_record(rng, split, n_same=None, n_other=None, relation=None):
    """One record: {"text", "target", "span", "fact_span", "fact_index", "n_facts", "relation"}.
    Every fact's triple is of `split`; spans are code-point offsets [start, end) in "text"."""
    while True:
        rel = relation or rng.choice(RELATION_NAMES)
        k = n_same if n_same is not None else rng.randint(MIN_SAME, MAX_SAME)
        m = n_other if n_other is not None else rng.randint(MIN_OTHER, MAX_OTHER)
        people = NAMES[:N_TASK_NAMES]
        names = rng.sample(people, k)
        values = RELATIONS[rel][2]
        # distinct values for the k facts of the asked relation, each a triple of this split
        chosen, used, ok = [], set(), True
        for n in names:
            pool = [v for v in values if v not in used and _split_ok(split, n, rel, v)]
            if not pool:
                ok = False
                break
            v = rng.choice(pool)
            used.add(v)
            chosen.append((n, rel, v))
        if not ok:
            continue
        others = []
        for _ in range(m):
            r2 = rng.choice([r for r in RELATION_NAMES if r != rel])
            n2 = rng.choice(names + rng.sample(people, 2))
            pool = [v for v in RELATIONS[r2][2] if _split_ok(split, n2, r2, v)]
            if pool and not any(o[0] == n2 and o[1] == r2 for o in others):
                others.append((n2, r2, rng.choice(pool)))
        q = rng.randrange(k)
        facts = chosen + others
        order = list(range(len(facts)))
        rng.shuffle(order)
        break
    asked = chosen[q]
    prefix = "question: " + RELATIONS[rel][0].format(n=asked[0]) + " context:"
    text, fact_span, span, fact_index = prefix, None, None, None
    for pos, i in enumerate(order):
        n, r, v = facts[i]
        sentence = RELATIONS[r][1].format(n=n, v=v)
        start = len(text) + 1
        text += " " + sentence
        if i == q:
            fact_span = [start, start + len(sentence)]
            vs = start + sentence.rindex(v)
            span = [vs, vs + len(v)]
            fact_index = pos
    assert text[span[0]:span[1]] == asked[2]
    return {"text": text, "target": asked[2], "span": span, "fact_span": fact_span,
            "fact_index": fact_index, "n_facts": len(facts), "n_same": k, "relation": rel}


# ---- tokenizer ---------------------------------------------------------------------------------

SP_VOCAB = 980      # SentencePiece pieces (ids 0-979), <pad> </s> <unk> included
N_EXTRA = 20        # <extra_id_0> .. <extra_id_19>: ids 999 .. 980
VOCAB_SIZE = 1024   # the model's embedding rows: 1000 tokens, padded to a multiple of 128 as in T5
INPUTS_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tokenizer", "inputs.json")
N_REAL = 1926       # inputs.json: texts 0-1925 are real English, 1926-2025 hostile strings
PAD_ID, EOS_ID, UNK_ID = 0, 1, 2


def real_texts():
    """The real English texts of tests/tokenizer/inputs.json (reviews, Moby-Dick, State of the
    Union addresses): even indices train the tokenizer, odd ones are held out for its test."""
    with open(INPUTS_JSON, encoding="utf-8") as f:
        texts = json.load(f)[:N_REAL]
    return texts[0::2], texts[1::2]


def tokenizer_corpus(seed, n=5000):
    """Training text for SentencePiece: the sources of n training records and half of the real
    English texts of tests/tokenizer/inputs.json, so the vocabulary covers English beyond the
    task (the task's words still become whole pieces)."""
    global N_TASK_NAMES
    rng = random.Random(f"tokenizer-{seed}")
    keep, N_TASK_NAMES = N_TASK_NAMES, len(NAMES)  # fixed, whatever the task's settings
    try:
        lines = [make_record(rng, "train", rng.randint(2, 4), rng.randint(0, 2))["text"] for _ in range(n)]
    finally:
        N_TASK_NAMES = keep
    return lines + real_texts()[0]


def train_sentencepiece(lines):
    """Train the Unigram model in memory; returns the serialized model proto (bytes).
    Deterministic: one thread, every sentence used (no sampling), no shuffling."""
    import sentencepiece as spm
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=out, model_type="unigram",
        vocab_size=SP_VOCAB, character_coverage=1.0, normalization_rule_name="identity",
        add_dummy_prefix=True, remove_extra_whitespaces=True, split_by_whitespace=True,
        pad_id=PAD_ID, eos_id=EOS_ID, unk_id=UNK_ID, bos_id=-1,
        pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        num_threads=1, input_sentence_size=0, shuffle_input_sentence=False,
        hard_vocab_limit=True, minloglevel=2)
    return out.getvalue()


def sp_pieces(model_bytes):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    return [(sp.id_to_piece(i), float(sp.get_score(i))) for i in range(sp.get_piece_size())]


def tokenizer_json(pieces):
    """Hugging Face tokenizer.json of T5's shape for SentencePiece pieces [(piece, score)]."""
    vocab = [[p, s] for p, s in pieces]
    extra = [f"<extra_id_{i}>" for i in range(N_EXTRA - 1, -1, -1)]
    vocab += [[e, 0.0] for e in extra]

    def added(i, c):
        return {"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": True}
    added_tokens = [added(PAD_ID, "<pad>"), added(EOS_ID, "</s>"), added(UNK_ID, "<unk>")]
    added_tokens += [added(len(pieces) + j, e) for j, e in enumerate(extra)]
    seq_a = {"Sequence": {"id": "A", "type_id": 0}}
    seq_b = {"Sequence": {"id": "B", "type_id": 0}}
    eos = {"SpecialToken": {"id": "</s>", "type_id": 0}}
    meta = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added_tokens,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Strip", "strip_left": False, "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "\u2581"}]},
        "pre_tokenizer": meta,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [seq_a, eos],
            "pair": [seq_a, eos, seq_b, eos],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [EOS_ID], "tokens": ["</s>"]}}},
        "decoder": dict(meta),
        "model": {"type": "Unigram", "unk_id": UNK_ID, "vocab": vocab, "byte_fallback": False},
    }


def tokenizer_config():
    """tokenizer_config.json as transformers writes it for T5TokenizerFast (the special tokens and
    the sentinels; no spiece.model is shipped, so only the fast tokenizer loads)."""
    extra = [f"<extra_id_{i}>" for i in range(N_EXTRA)]
    return {
        "tokenizer_class": "T5Tokenizer",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "extra_ids": N_EXTRA,
        "additional_special_tokens": extra,
        "model_max_length": 512,
        "clean_up_tokenization_spaces": True,
        "legacy": True,
    }


def special_tokens_map():
    return {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
            "additional_special_tokens": [f"<extra_id_{i}>" for i in range(N_EXTRA)]}


def dumps(obj, indent=2):
    return json.dumps(obj, ensure_ascii=False, indent=indent) + "\n"
