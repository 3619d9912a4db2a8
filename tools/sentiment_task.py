"""The task and the tokenizer of models/sentiment (no torch here: tools/train_sentiment.py trains
on it, tools/check_sentiment.py draws further held-out sentences from it).

See tools/train_sentiment.py for the description of the task and the tokenizer.
"""

import hashlib

# ----------------------------------------------------------------------------------------------
# The task

# The model card's section that tools/check_sentiment.py --update-card fills in.
EXPLAIN_BEGIN = "<!-- explanations: written by tools/check_sentiment.py --update-card -->"
EXPLAIN_END = "<!-- end of explanations -->"

LABELS = ["negative", "neutral", "positive"]

SUBJECTS = [
    # products
    "the battery life", "the screen", "the camera", "the keyboard", "the speaker", "the charger",
    "the case", "the app", "the headset", "this phone", "this laptop", "this blender",
    "the vacuum", "the mattress", "the coffee maker", "the delivery", "the packaging",
    "the customer service", "the price", "the build quality", "the hotel room", "the food",
    # films
    "the movie", "the film", "the plot", "the acting", "the ending", "the soundtrack",
    "the script", "the dialogue", "the cast", "the director", "the sequel", "the animation",
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

# Sentences about a subject without any sentiment word: labelled neutral ("no opinion").
PLAIN_FRAMES = [
    "I bought {s} last week.", "{S} came in a small box.", "We talked about {s} for an hour.",
    "I tried {s} yesterday.", "My brother asked me about {s}.", "{S} is mentioned in the manual.",
    "I read a review of {s} before buying.", "{S} was the topic at dinner.",
    "We compared {s} with the old one.", "I will write more about {s} later.",
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


def make_plain(rng, split):
    """A review without sentiment words (label neutral, no span): a plain sentence about a
    subject, (subject, frame) split like the triples, with 0-1 filler sentences."""
    while True:
        s, f = rng.choice(SUBJECTS), rng.choice(PLAIN_FRAMES)
        if is_test_triple(s, f, "-") == (split == "test"):
            break
    text = f.replace("{S}", s[0].upper() + s[1:]).replace("{s}", s)
    if rng.random() < 0.5:
        fill = rng.choice(FILLERS)
        text = fill + " " + text if rng.random() < 0.5 else text + " " + fill
    return text, "neutral", None, "plain"


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
    texts += [t.replace("{S}", "x").replace("{s}", "x").replace("{a}", "x")
              for t in TEMPLATES + PLAIN_FRAMES]
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


