// Expected ids and token type ids of text pairs, and the characters BertNormalizer's clean_text
// removes, from Hugging Face's own Rust implementation: the `tokenizers` npm package (its Node
// bindings, a compiled build of huggingface/tokenizers), not the JavaScript port gen_expected.mjs uses,
// which differs from Rust in clean_text (see README.md).
//
// Usage (Node 20; nothing here is needed to build or test the C code):
//   mkdir -p /tmp/tokrust && cd /tmp/tokrust && npm init -y >/dev/null && npm install tokenizers@0.23.2
//   node tests/tokenizer/gen_pairs.mjs /tmp/tokrust
//
// Writes tests/tokenizer/pairs/{roberta,template,bertproc}/tokenizer.json (small hand-built
// tokenizers, one per pair-capable post-processor), tests/tokenizer/pairs/expected.jsonl and
// tests/tokenizer/bert/clean_text.json.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const ref = path.resolve(process.argv[2] ?? "/tmp/tokrust");
const out_dir = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(path.join(ref, "package.json"));
const { Tokenizer } = require("tokenizers");
const version = JSON.parse(fs.readFileSync(path.join(ref, "node_modules/tokenizers/package.json"), "utf8")).version;

// ---- hand-built tokenizers ---------------------------------------------------------------------

// GPT-2's byte -> printable character map, and a byte-level BPE with a few merges over it.
function byte_chars() {
    const bs = [];
    for (let b = 33; b <= 126; b++) bs.push(b);
    for (let b = 161; b <= 172; b++) bs.push(b);
    for (let b = 174; b <= 255; b++) bs.push(b);
    const cs = bs.slice();
    let n = 0;
    for (let b = 0; b < 256; b++)
        if (!bs.includes(b)) {
            bs.push(b);
            cs.push(256 + n++);
        }
    const map = new Array(256);
    bs.forEach((b, i) => (map[b] = String.fromCodePoint(cs[i])));
    return map;
}

function byte_level_model(first_ids) {
    const vocab = {};
    let id = 0;
    for (const t of first_ids) vocab[t] = id++;
    for (const c of byte_chars()) vocab[c] = id++;
    const merges = [["Ġ", "t"], ["h", "e"], ["Ġt", "he"], ["Ġ", "w"], ["o", "r"], ["Ġw", "or"], ["l", "d"], ["Ġwor", "ld"],
                    ["l", "l"], ["e", "ll"], ["ell", "o"], ["Ã", "©"]];
    for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = id++;
    return { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
             fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: merges.map(m => m.join(" ")) };
}

function added(id, content, extra = {}) {
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...extra };
}

const byte_level_pre = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
const byte_level_dec = { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true };

// RoBERTa's layout: <s>=0 <pad>=1 </s>=2 <unk>=3, <mask> last with lstrip.
function roberta() {
    const model = byte_level_model(["<s>", "<pad>", "</s>", "<unk>"]);
    const mask = Object.keys(model.vocab).length;
    model.vocab["<mask>"] = mask;
    return { version: "1.0", truncation: null, padding: null,
             added_tokens: [added(0, "<s>"), added(1, "<pad>"), added(2, "</s>"), added(3, "<unk>"),
                            added(mask, "<mask>", { lstrip: true })],
             normalizer: null, pre_tokenizer: byte_level_pre,
             post_processor: { type: "RobertaProcessing", sep: ["</s>", 2], cls: ["<s>", 0], trim_offsets: true,
                               add_prefix_space: false },
             decoder: byte_level_dec, model };
}

// TemplateProcessing inside a Sequence after ByteLevel, with a two-id special token, B before A in
// the pair template and type ids 0, 1 and 2.
function template() {
    const model = byte_level_model(["<bos>", "<eos>", "<sep>", "<lang>", "<xx>"]);
    const sp = (id, ids) => ({ id, ids, tokens: ids.map(i => Object.keys(model.vocab).find(k => model.vocab[k] === i)) });
    const S = (id, type_id) => ({ SpecialToken: { id, type_id } }), Q = (id, type_id) => ({ Sequence: { id, type_id } });
    return { version: "1.0", truncation: null, padding: null,
             added_tokens: [added(0, "<bos>"), added(1, "<eos>"), added(2, "<sep>"), added(3, "<lang>"), added(4, "<xx>")],
             normalizer: null, pre_tokenizer: byte_level_pre,
             post_processor: { type: "Sequence", processors: [
                 { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
                 { type: "TemplateProcessing",
                   single: [S("<bos>", 0), Q("A", 0), S("<eos>", 0)],
                   pair: [S("<lang-xx>", 0), Q("B", 1), S("<sep>", 1), Q("A", 0), S("<eos>", 2)],
                   special_tokens: { "<bos>": sp("<bos>", [0]), "<eos>": sp("<eos>", [1]), "<sep>": sp("<sep>", [2]),
                                     "<lang-xx>": sp("<lang-xx>", [3, 4]) } }] },
             decoder: byte_level_dec, model };
}

// BertProcessing with BERT's normalizer, pre-tokenizer and a tiny WordPiece vocabulary.
function bertproc() {
    const words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "how", "are", "you", "?", ",", ".", "!",
                   "the", "a", "##s", "##ing", "cafe", "ca", "va", "gr", "##u", "##ße", "日", "本", "語", "😀", "is",
                   "here", "too", "only", "b", "mask", "<", ">"];
    const vocab = {};
    words.forEach((w, i) => (vocab[w] = i));
    return { version: "1.0", truncation: null, padding: null,
             added_tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map((t, i) => added(i, t)),
             normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null,
                           lowercase: true },
             pre_tokenizer: { type: "BertPreTokenizer" },
             post_processor: { type: "BertProcessing", sep: ["[SEP]", 3], cls: ["[CLS]", 2] },
             decoder: { type: "WordPiece", prefix: "##", cleanup: true },
             model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##",
                      max_input_chars_per_word: 100, vocab } };
}

const built = { roberta: roberta(), template: template(), bertproc: bertproc() };
for (const [name, json] of Object.entries(built)) {
    fs.mkdirSync(path.join(out_dir, "pairs", name), { recursive: true });
    fs.writeFileSync(path.join(out_dir, "pairs", name, "tokenizer.json"), JSON.stringify(json, null, 1) + "\n");
}

// ---- pairs ---------------------------------------------------------------------------------------

const pairs = [
    ["Hello world", "How are you?"],
    ["", ""],
    ["", "only b"],
    ["only a", ""],
    ["héllo, ça va?", "Grüße aus Köln"],
    ["日本語のテキスト", "emoji 😀 ok, the world"],
    ["[MASK] is here", "<mask> too"],
    ["  spaces  around  ", "\ttab\nnewline"],
    ["the the the", "x"],
];

const rows = [];
for (const name of ["bert", "bertproc", "roberta", "template"]) {
    const file = name === "bert" ? path.join(out_dir, "bert/tokenizer.json") : path.join(out_dir, "pairs", name, "tokenizer.json");
    const tok = Tokenizer.fromFile(file);
    for (const [a, b] of pairs)
        for (const add_special of [true, false])
            for (const with_b of [true, false]) {
                const e = await tok.encode(a, with_b ? b : null, { addSpecialTokens: add_special });
                rows.push({ tok: name, a, b: with_b ? b : null, add_special, ids: e.getIds(), type_ids: e.getTypeIds() });
            }
}
fs.writeFileSync(path.join(out_dir, "pairs/expected.jsonl"), rows.map(r => JSON.stringify(r)).join("\n") + "\n");

// ---- BertNormalizer clean_text over every code point --------------------------------------------

const clean_only = Tokenizer.fromString(JSON.stringify({
    version: "1.0", truncation: null, padding: null, added_tokens: [],
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: false, strip_accents: false, lowercase: false },
    pre_tokenizer: null, post_processor: null, decoder: null,
    model: { type: "WordLevel", vocab: { "[UNK]": 0 }, unk_token: "[UNK]" } })).getNormalizer();
const removed = [], to_space = [];
for (let c = 0; c <= 0x10ffff; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;  // not scalar values: invalid UTF-8, never reach a normalizer
    const r = clean_only.normalizeString(String.fromCodePoint(c));
    if (r === "") removed.push(c);
    else if (r === " " && c !== 0x20) to_space.push(c);
    else if (r !== String.fromCodePoint(c)) throw new Error(`U+${c.toString(16)}: unexpected ${JSON.stringify(r)}`);
}
const ranges = a => a.reduce((o, c) => (o.length && o[o.length - 1][1] === c - 1 ? (o[o.length - 1][1] = c) : o.push([c, c]), o), []);

// Whole-pipeline rows for the real BERT fixture: "a" + character + "b" for the characters the brief
// of this change names (noncharacters, unassigned, private use, format characters).
const bert = Tokenizer.fromFile(path.join(out_dir, "bert/tokenizer.json"));
const probe = [0x0, 0x1, 0x7f, 0x85, 0xad, 0x61c, 0x890, 0x8e2, 0x180e, 0x200b, 0x200d, 0x2066, 0xe000, 0xe001, 0xf8ff,
               0xfdd0, 0xfdef, 0xfeff, 0xfffd, 0xfffe, 0xffff, 0x378, 0x110cd, 0x13430, 0x1bca0, 0x1fffe, 0xe0001,
               0xf0000, 0x10fffd, 0x10ffff];
const texts = [];
for (const c of probe) {
    const text = "a" + String.fromCodePoint(c) + "b";
    texts.push({ cp: c, ids: (await bert.encode(text, null, { addSpecialTokens: true })).getIds() });
}
fs.writeFileSync(path.join(out_dir, "bert/clean_text.json"), JSON.stringify({
    source: `tokenizers@${version} (npm, Node bindings of huggingface/tokenizers)`,
    removed: ranges(removed), to_space: ranges(to_space), texts }) + "\n");
console.log(`${rows.length} pair rows, ${ranges(removed).length} removed ranges, ${texts.length} texts`);
