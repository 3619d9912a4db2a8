// Runs models/sentiment/tokenizer.json through Hugging Face's own implementations and writes the
// ids they give, for tools/check_sentiment.py to compare with its own WordPiece and the engine's:
//
//   mkdir -p /tmp/sent_tok && cd /tmp/sent_tok && npm init -y >/dev/null &&
//     npm install --ignore-scripts tokenizers@0.23.2 @huggingface/tokenizers@0.2.0
//   /usr/bin/python3 tools/check_sentiment.py --dump-texts /tmp/texts.json
//   node tools/check_sentiment_tokenizer.mjs /tmp/sent_tok models/sentiment /tmp/texts.json /tmp/hf_ids.json
//   /usr/bin/python3 tools/check_sentiment.py --hf-ids /tmp/hf_ids.json
//
// `tokenizers` is the Node binding of huggingface/tokenizers (the Rust library that defines the
// format); `@huggingface/tokenizers` is the pure-JavaScript port transformers.js uses. Both are
// installed outside the repository; their folder is the first argument. Every row gets the ids and
// token type ids of encode(text[, pair]) with special tokens, from Rust, and the JavaScript port's
// ids for single texts (it has no pair encoding); also decode(ids, skip_special_tokens=true).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const [npmDir, modelDir, textsFile, outFile] = process.argv.slice(2);
if (!outFile) {
    console.error("usage: node check_sentiment_tokenizer.mjs NPM_DIR MODEL_DIR TEXTS_JSON OUT_JSON");
    process.exit(2);
}
const require = createRequire(path.join(path.resolve(npmDir), "package.json"));
const rust = require("tokenizers");
const js = await import(path.join(path.resolve(npmDir), "node_modules/@huggingface/tokenizers/dist/tokenizers.mjs"));

const file = path.join(modelDir, "tokenizer.json");
const rtok = rust.Tokenizer.fromFile(file);
const jtok = new js.Tokenizer(JSON.parse(fs.readFileSync(file, "utf8")),
                              JSON.parse(fs.readFileSync(path.join(modelDir, "tokenizer_config.json"), "utf8")));

const rows = [];
for (const { text, pair } of JSON.parse(fs.readFileSync(textsFile, "utf8"))) {
    const e = await rtok.encode(text, pair ?? null, { addSpecialTokens: true });
    const row = { text, pair: pair ?? null, ids: e.getIds(), type_ids: e.getTypeIds(),
                  dec_skip: await rtok.decode(e.getIds(), true) };
    if (pair == null) row.js_ids = jtok.encode(text, { add_special_tokens: true }).ids;
    rows.push(row);
}
fs.writeFileSync(outFile, JSON.stringify(rows));
const pkg = (n) => JSON.parse(fs.readFileSync(path.join(npmDir, "node_modules", n, "package.json"), "utf8")).version;
console.log(`${rows.length} rows: tokenizers ${pkg("tokenizers")}, @huggingface/tokenizers ${pkg("@huggingface/tokenizers")}`);
