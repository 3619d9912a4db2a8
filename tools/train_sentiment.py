#!/usr/bin/python3
"""Train attnlrp's second shipped model: a tiny BERT that classifies review sentences.

    /usr/bin/python3 tools/train_sentiment.py --out models/sentiment --seed 0

writes models/sentiment/ (config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
vocab.txt, README.md) and data/sentiment_eval.jsonl, and prints the training loss, the held-out
accuracy and the time taken. Everything is deterministic from --seed on one process with --threads
(default 1).

The task. Synthetic product and film reviews, built from templates:

    After two weeks, the battery life still seems excellent.   -> positive
    My friend recommended it. I think the plot was not good.    -> negative
    The keyboard is okay, as far as I can tell.                 -> neutral

The label is carried by one evidence word (a positive, negative or neutral adjective), two
evidence words of the same class ("awful and boring"), or a negated positive word ("not good" is
negative). Everything else is distractor: the subject (aspect), the template's frame, intensifiers
("really", "quite"), filler sentences without sentiment ("It arrived on Tuesday."), and "not" in
phrases that do not negate the evidence ("Not sure about the colour, but ...").

Held-out split: every (subject, template, evidence word) triple belongs to train (80%) or test
(20%) by a fixed hash; training sentences contain train triples only and held-out sentences test
triples only, so every evaluated combination is unseen in training (all words are seen).

The tokenizer is a Hugging Face WordPiece tokenizer.json (BertNormalizer lowercase,
BertPreTokenizer, TemplateProcessing "[CLS] $A [SEP]" / "[CLS] $A [SEP] $B:1 [SEP]:1", WordPiece
decoder) whose vocabulary holds the special tokens, every ASCII punctuation mark, digit and letter,
the "##" continuation of every digit and letter (so every ASCII word tokenizes), a few suffixes,
and every word of the corpus. The encoder here is its own Python implementation of that pipeline
for ASCII text.

The model is written in exact Hugging Face BertForSequenceClassification layout; the forward pass
below follows transformers' modeling_bert (post-norm, erf GELU, LayerNorm eps 1e-12, additive
padding mask with the dtype's minimum, pooler tanh(dense(h[CLS])), classifier on the pooled
vector). A share of training examples are pairs (review, filler sentence) or (filler, review)
encoded with token type ids 0/1, so the type-1 embedding is trained too.
"""

import argparse
import hashlib
import json
import math
import os
import random
import struct
import time

import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------
# The task

LABELS = ["negative", "neutral", "positive"]

SUBJECTS = [
    # products
    "the battery life", "the screen", "the camera", "the keyboard", "the speaker", "the charger",
    "the case", "the app", "the headphones", "this phone", "this laptop", "this blender",
    "the vacuum", "the mattress", "the coffee maker", "the delivery", "the packaging",
    "the customer service", "the price", "the build quality", "the hotel room", "the food",
    # films
    "the movie", "the film", "the plot", "the acting", "the ending", "the soundtrack",
    "the script", "the dialogue", "the cast", "the director", "the sequel", "the special effects",
    "the cinematography", "the pacing", "the story", "the lead actor", "the first episode",
    "the finale",
]

WORDS = {
    "positive": """excellent great good wonderful amazing fantastic superb brilliant lovely perfect
        outstanding impressive delightful terrific marvelous""".split(),
    "negative": """awful terrible bad horrible poor dreadful disappointing useless annoying weak
        pathetic lousy boring mediocre atrocious""".split(),
    "neutral": """okay average ordinary acceptable adequate passable unremarkable standard typical
        fair middling unexceptional moderate so-so forgettable""".split(),
}
# "so-so" is three tokens; "forgettable" is mildly negative in real use, but here it is neutral.
WORDS["neutral"].remove("forgettable")
WORDS["neutral"].append("serviceable")

# {s}: the subject, {a}: the evidence phrase. {S} capitalises the subject at the sentence start.
TEMPLATES = [
    "{S} is {a}.",
    "{S} was {a}.",
    "I think {s} is {a}.",
    "Honestly, {s} was {a}.",
    "In my opinion {s} is {a}.",
    "We thought {s} was {a}.",
    "After two weeks, {s} still seems {a}.",
    "My wife says {s} is {a}.",
    "{S} looks {a} so far.",
    "Overall, {s} turned out {a}.",
    "For what it costs, {s} is {a}.",
    "To be fair, {s} felt {a}.",
    "{S} is {a}, as far as I can tell.",
    "I have to say {s} was {a}.",
    "Compared to the last one, {s} is {a}.",
    "{S} was {a} from start to finish.",
    "Everyone agreed that {s} was {a}.",
    "The reviews were right: {s} is {a}.",
    "If you ask me, {s} is {a}.",
    "{S} seemed {a} the first time I tried it.",
    "Not sure about the color, but {s} is {a}.",
    "I did not expect much, and {s} was {a}.",
    "Five days in, {s} is {a}.",
    "My kids said {s} was {a}.",
]

INTENSIFIERS = ["really", "quite", "very", "pretty", "rather", "truly", "just", "simply"]

FILLERS = [
    "It arrived on Tuesday.", "I bought it for my brother.", "The box was blue.",
    "We watched it on a Sunday.", "My friend recommended it.", "I used it every day for a month.",
    "It comes in three colors.", "The store was downtown.", "We saw it at the cinema.",
    "I ordered it online.", "It was a gift.", "The manual is in English.",
    "We went with my parents.", "It was raining that night.", "I paid with a card.",
    "The theater was full.", "It is the second one I own.", "I read about it in a magazine.",
]

TEST_SHARE = 0.2


def is_test_triple(subject, template, word):
    h = hashlib.sha256(("%s|%s|%s" % (subject, template, word)).encode()).digest()
    return int.from_bytes(h[:4], "little") / 2**32 < TEST_SHARE


def _pick_triple(rng, split, pool):
    """A (subject, template index, word) of the split; `pool` is the evidence word list."""
    while True:
        s, t, w = rng.choice(SUBJECTS), rng.randrange(len(TEMPLATES)), rng.choice(pool)
        if is_test_triple(s, TEMPLATES[t], w) == (split == "test"):
            return s, t, w


def make_review(rng, split, label=None):
    """One review sentence (with 0-2 filler sentences). Returns (text, label, span), span being
    the code-point range [start, end) of the evidence words."""
    if label is None:
        label = rng.choice(LABELS)
    form = rng.random()
    if label == "negative" and form < 0.3:
        kind = "negated"  # "not <positive word>"
        s, t, w = _pick_triple(rng, split, WORDS["positive"])
        evidence = "not " + w
    elif form > 0.85:
        kind = "two"
        s, t, w = _pick_triple(rng, split, WORDS[label])
        w2 = rng.choice([x for x in WORDS[label] if x != w])
        evidence = "%s and %s" % (w, w2)
    else:
        kind = "one"
        s, t, w = _pick_triple(rng, split, WORDS[label])
        evidence = w
    prefix = ""
    if kind != "negated" and rng.random() < 0.3:
        prefix = rng.choice(INTENSIFIERS) + " "
    template = TEMPLATES[t]
    a_pos = template.index("{a}")
    head = template[:a_pos].replace("{S}", s[0].upper() + s[1:]).replace("{s}", s) + prefix
    tail = template[a_pos + 3:].replace("{S}", s).replace("{s}", s)
    sentence = head + evidence + tail
    start = len(head)
    end = start + len(evidence)
    n_fill = rng.choice([0, 0, 1, 1, 2])
    fills = rng.sample(FILLERS, n_fill)
    before = [f for f in fills if rng.random() < 0.5]
    after = [f for f in fills if f not in before]
    pre = "".join(f + " " for f in before)
    text = pre + sentence + "".join(" " + f for f in after)
    start += len(pre)
    end += len(pre)
    assert text[start:end] == evidence
    return text, label, [start, end], kind


# ----------------------------------------------------------------------------------------------
# Tokenizer: WordPiece in Hugging Face's tokenizer.json format

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)
PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
DIGITS = "0123456789"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
SUFFIXES = ["##es", "##ed", "##ing", "##ly", "##er", "##est", "##ness", "##able", "##ful"]


def pre_tokenize(text):
    """BertNormalizer (lowercase; ASCII input) + BertPreTokenizer: split on whitespace, and every
    punctuation character is a word of its own."""
    words, cur = [], ""
    for ch in text.lower():
        if ch.isspace():
            if cur:
                words.append(cur)
            cur = ""
        elif ch in PUNCT:
            if cur:
                words.append(cur)
            words.append(ch)
            cur = ""
        else:
            cur += ch
    if cur:
        words.append(cur)
    return words


def corpus_words():
    words = set()
    texts = list(FILLERS) + SUBJECTS + INTENSIFIERS + ["not", "and"]
    texts += [t.replace("{S}", "x").replace("{s}", "x").replace("{a}", "x") for t in TEMPLATES]
    for ws in WORDS.values():
        texts += ws
    for t in texts:
        words.update(pre_tokenize(t))
    return sorted(w for w in words if len(w) > 1)


def build_vocab():
    pieces = SPECIALS + list(PUNCT) + list(DIGITS) + list(LETTERS)
    pieces += ["##" + c for c in DIGITS + LETTERS] + SUFFIXES
    pieces += [w for w in corpus_words() if w not in pieces]
    assert len(set(pieces)) == len(pieces)
    return {p: i for i, p in enumerate(pieces)}


class WordPiece:
    def __init__(self, vocab):
        self.vocab = vocab
        self.inv = {i: p for p, i in vocab.items()}

    def word(self, w):
        if len(w) > 100:
            return [UNK_ID]
        out, start = [], 0
        while start < len(w):
            end = len(w)
            while end > start:
                piece = w[start:end] if start == 0 else "##" + w[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            if end == start:
                return [UNK_ID]
            out.append(self.vocab[piece])
            start = end
        return out

    def plain(self, text):
        return [i for w in pre_tokenize(text) for i in self.word(w)]

    def encode(self, text, pair=None):
        """ids and token type ids with the template's special tokens."""
        a = [CLS_ID] + self.plain(text) + [SEP_ID]
        if pair is None:
            return a, [0] * len(a)
        b = self.plain(pair) + [SEP_ID]
        return a + b, [0] * len(a) + [1] * len(b)


def tokenizer_json(vocab):
    def added(i, c):
        return {"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": True}

    def special(name, type_id):
        return {"SpecialToken": {"id": name, "type_id": type_id}}

    def seq(name, type_id):
        return {"Sequence": {"id": name, "type_id": type_id}}

    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(i, c) for i, c in enumerate(SPECIALS)],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0)],
            "pair": [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0), seq("B", 1),
                     special("[SEP]", 1)],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [CLS_ID], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [SEP_ID], "tokens": ["[SEP]"]},
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


def tokenizer_config(max_len):
    return {
        "added_tokens_decoder": {
            str(i): {"content": c, "lstrip": False, "normalized": False, "rstrip": False,
                     "single_word": False, "special": True} for i, c in enumerate(SPECIALS)},
        "clean_up_tokenization_spaces": True,
        "cls_token": "[CLS]",
        "do_basic_tokenize": True,
        "do_lower_case": True,
        "mask_token": "[MASK]",
        "model_max_length": max_len,
        "never_split": None,
        "pad_token": "[PAD]",
        "sep_token": "[SEP]",
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "tokenizer_class": "BertTokenizer",
        "unk_token": "[UNK]",
    }


# ----------------------------------------------------------------------------------------------
# Model: transformers' BertForSequenceClassification, float32

class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        H = c["hidden_size"]
        self.nh = c["num_attention_heads"]
        self.q = torch.nn.Linear(H, H)
        self.k = torch.nn.Linear(H, H)
        self.v = torch.nn.Linear(H, H)
        self.o = torch.nn.Linear(H, H)
        self.ln1 = torch.nn.LayerNorm(H, eps=c["layer_norm_eps"])
        self.up = torch.nn.Linear(H, c["intermediate_size"])
        self.down = torch.nn.Linear(c["intermediate_size"], H)
        self.ln2 = torch.nn.LayerNorm(H, eps=c["layer_norm_eps"])
        self.drop = c["hidden_dropout_prob"]
        self.adrop = c["attention_probs_dropout_prob"]

    def forward(self, x, bias):
        B, T, H = x.shape
        d = H // self.nh

        def heads(t):
            return t.view(B, T, self.nh, d).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        s = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
        p = F.dropout(torch.softmax(s, -1), self.adrop, self.training)
        ctx = (p @ v).transpose(1, 2).reshape(B, T, H)
        x = self.ln1(x + F.dropout(self.o(ctx), self.drop, self.training))
        h = self.down(F.gelu(self.up(x)))
        return self.ln2(x + F.dropout(h, self.drop, self.training))


class Bert(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        H = c["hidden_size"]
        self.c = c
        self.word = torch.nn.Embedding(c["vocab_size"], H)
        self.pos = torch.nn.Embedding(c["max_position_embeddings"], H)
        self.typ = torch.nn.Embedding(c["type_vocab_size"], H)
        self.ln = torch.nn.LayerNorm(H, eps=c["layer_norm_eps"])
        self.layers = torch.nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.pooler = torch.nn.Linear(H, H)
        self.classifier = torch.nn.Linear(H, len(c["id2label"]))
        std = c["initializer_range"]
        for m in self.modules():  # transformers' BertPreTrainedModel._init_weights
            if isinstance(m, (torch.nn.Linear, torch.nn.Embedding)):
                torch.nn.init.normal_(m.weight, 0.0, std)
                if isinstance(m, torch.nn.Linear):
                    torch.nn.init.zeros_(m.bias)
        with torch.no_grad():
            self.word.weight[c["pad_token_id"]].zero_()

    def forward(self, ids, types, mask):
        B, T = ids.shape
        x = self.word(ids) + self.pos(torch.arange(T))[None] + self.typ(types)
        x = F.dropout(self.ln(x), self.c["hidden_dropout_prob"], self.training)
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, bias)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        pooled = F.dropout(pooled, self.c["hidden_dropout_prob"], self.training)
        return self.classifier(pooled)

    def hf_state_dict(self):
        out = {}

        def put(name, mod):
            out[name + ".weight"] = mod.weight
            if getattr(mod, "bias", None) is not None:
                out[name + ".bias"] = mod.bias

        put("bert.embeddings.word_embeddings", self.word)
        put("bert.embeddings.position_embeddings", self.pos)
        put("bert.embeddings.token_type_embeddings", self.typ)
        put("bert.embeddings.LayerNorm", self.ln)
        for i, L in enumerate(self.layers):
            p = "bert.encoder.layer.%d." % i
            put(p + "attention.self.query", L.q)
            put(p + "attention.self.key", L.k)
            put(p + "attention.self.value", L.v)
            put(p + "attention.output.dense", L.o)
            put(p + "attention.output.LayerNorm", L.ln1)
            put(p + "intermediate.dense", L.up)
            put(p + "output.dense", L.down)
            put(p + "output.LayerNorm", L.ln2)
        put("bert.pooler.dense", self.pooler)
        put("classifier", self.classifier)
        return {k: v.detach().contiguous().float() for k, v in out.items()}


def hf_config(a, vocab_size):
    return {
        "architectures": ["BertForSequenceClassification"],
        "attention_probs_dropout_prob": a.dropout,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": a.dropout,
        "hidden_size": a.hidden,
        "id2label": {str(i): l for i, l in enumerate(LABELS)},
        "initializer_range": 0.02,
        "intermediate_size": a.intermediate,
        "label2id": {l: i for i, l in enumerate(LABELS)},
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": a.max_positions,
        "model_type": "bert",
        "num_attention_heads": a.heads,
        "num_hidden_layers": a.layers,
        "pad_token_id": PAD_ID,
        "position_embedding_type": "absolute",
        "problem_type": "single_label_classification",
        "torch_dtype": "float32",
        "transformers_version": "4.46.0",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": vocab_size,
    }


# ----------------------------------------------------------------------------------------------
# Files

def write_safetensors(path, tensors):
    """safetensors: u64 little-endian header length, JSON header {name: {dtype, shape,
    data_offsets}}, then the raw little-endian data; header padded with spaces to 8 bytes."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_json(path, obj, indent=2, sort_keys=False):
    write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, sort_keys=sort_keys) + "\n")


# ----------------------------------------------------------------------------------------------
# Batches and evaluation

def example(tok, rng, split, pair_share=0.0):
    text, label, span, kind = make_review(rng, split)
    r = rng.random()
    if r < pair_share / 2:
        ids, types = tok.encode(text, rng.choice(FILLERS))
    elif r < pair_share:
        ids, types = tok.encode(rng.choice(FILLERS), text)
    else:
        ids, types = tok.encode(text)
    return ids, types, LABELS.index(label), kind


def collate(items):
    T = max(len(it[0]) for it in items)
    ids = torch.full((len(items), T), PAD_ID, dtype=torch.long)
    types = torch.zeros((len(items), T), dtype=torch.long)
    mask = torch.zeros((len(items), T), dtype=torch.long)
    for b, it in enumerate(items):
        n = len(it[0])
        ids[b, :n] = torch.tensor(it[0])
        types[b, :n] = torch.tensor(it[1])
        mask[b, :n] = 1
    y = torch.tensor([it[2] for it in items])
    return ids, types, mask, y


@torch.no_grad()
def accuracy(model, items, batch_size=256):
    model.eval()
    hits = 0
    for i in range(0, len(items), batch_size):
        ids, types, mask, y = collate(items[i:i + batch_size])
        hits += int((model(ids, types, mask).argmax(-1) == y).sum())
    model.train()
    return hits / max(1, len(items))


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="models/sentiment")
    ap.add_argument("--data", default="data", help="where sentiment_eval.jsonl goes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=128)
    ap.add_argument("--max-positions", type=int, default=128)
    ap.add_argument("--pair-share", type=float, default=0.15)
    ap.add_argument("--eval-records", type=int, default=300)
    ap.add_argument("--eval-extra", type=int, default=4000)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()

    t_start = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    torch.use_deterministic_algorithms(True)

    vocab = build_vocab()
    tok = WordPiece(vocab)
    cfg = hf_config(a, len(vocab))
    print("vocab %d, %d subjects, %d templates, words %s" % (
        len(vocab), len(SUBJECTS), len(TEMPLATES),
        ", ".join("%s %d" % (k, len(v)) for k, v in WORDS.items())))

    # Held-out data first, from its own stream.
    eval_rng = random.Random(1000003 * a.seed + 17)
    records, items = [], []
    for i in range(a.eval_records):
        text, label, span, kind = make_review(eval_rng, "test", LABELS[i % 3])
        records.append({"text": text, "target": label, "span": span})
        ids, types = tok.encode(text)
        items.append((ids, types, LABELS.index(label), kind))
    extra = [example(tok, eval_rng, "test") for _ in range(a.eval_extra)]
    extra_pairs = [example(tok, eval_rng, "test", 1.0) for _ in range(1000)]
    seen = [example(tok, random.Random(a.seed + 99), "train") for _ in range(1000)]
    for ids, _, _, _ in items + extra:  # every word is in the vocabulary, no [UNK]
        assert UNK_ID not in ids
    max_len = max(len(it[0]) for it in items + extra + extra_pairs)

    model = Bert(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print("model: hidden %d, %d layers, %d heads, intermediate %d: %d parameters" % (
        a.hidden, a.layers, a.heads, a.intermediate, n_params))
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.98), eps=1e-8)

    def lr_at(step):
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        t = (step - a.warmup) / max(1, a.steps - a.warmup)
        return a.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))

    rng = random.Random(a.seed)
    t_train = time.perf_counter()
    running, log = None, []
    for step in range(a.steps):
        batch = [example(tok, rng, "train", a.pair_share) for _ in range(a.batch)]
        ids, types, mask, y = collate(batch)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        loss = F.cross_entropy(model(ids, types, mask), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if (step + 1) % a.log_every == 0 or step + 1 == a.steps:
            acc = accuracy(model, extra[:1000])
            el = time.perf_counter() - t_train
            print("step %5d  loss %.4f  held-out acc (1000) %.4f  lr %.2e  %.0fs" % (
                step + 1, running, acc, lr_at(step), el), flush=True)
            log.append((step + 1, running, acc))
    train_s = time.perf_counter() - t_train

    stats = {"params": n_params, "train_s": train_s, "log": log, "vocab": len(vocab),
             "max_len": max_len}
    stats["acc_eval"] = accuracy(model, items)
    stats["acc_extra"] = accuracy(model, extra)
    stats["acc_pairs"] = accuracy(model, extra_pairs)
    stats["acc_seen"] = accuracy(model, seen)
    stats["by_kind"] = {}
    for kind in ["one", "two", "negated"]:
        sub = [it for it in extra if it[3] == kind]
        stats["by_kind"][kind] = (accuracy(model, sub), len(sub))
    stats["by_label"] = {}
    for li, lab in enumerate(LABELS):
        sub = [it for it in extra if it[2] == li]
        stats["by_label"][lab] = (accuracy(model, sub), len(sub))
    print("held-out accuracy: %s %.4f (%d records); %d further held-out sentences %.4f; "
          "1000 held-out pairs %.4f; train-split sentences %.4f" % (
              "data/sentiment_eval.jsonl", stats["acc_eval"], len(items), len(extra),
              stats["acc_extra"], stats["acc_pairs"], stats["acc_seen"]))
    print("by form: " + ", ".join("%s %.4f (%d)" % (k, v[0], v[1])
                                  for k, v in stats["by_kind"].items()))
    print("by label: " + ", ".join("%s %.4f (%d)" % (k, v[0], v[1])
                                   for k, v in stats["by_label"].items()))

    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.data, exist_ok=True)
    write_safetensors(os.path.join(a.out, "model.safetensors"), model.hf_state_dict())
    write_json(os.path.join(a.out, "config.json"), cfg, sort_keys=True)
    write_json(os.path.join(a.out, "tokenizer.json"), tokenizer_json(vocab), indent=None)
    write_json(os.path.join(a.out, "tokenizer_config.json"), tokenizer_config(a.max_positions),
               sort_keys=True)
    write_text(os.path.join(a.out, "vocab.txt"),
               "".join(p + "\n" for p in sorted(vocab, key=vocab.get)))
    write_text(os.path.join(a.data, "sentiment_eval.jsonl"),
               "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    stats["total_s"] = time.perf_counter() - t_start
    stats["sizes"] = {f: os.path.getsize(os.path.join(a.out, f))
                      for f in sorted(os.listdir(a.out)) if f != "README.md"}
    with open(os.path.join(a.out, ".train_stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
    print("wrote %s: %s" % (a.out, ", ".join("%s %d B" % kv for kv in stats["sizes"].items())))
    print("training %.1f s (%d steps, %.3f s/step), total %.1f s" % (
        train_s, a.steps, train_s / a.steps, stats["total_s"]))


if __name__ == "__main__":
    main()
