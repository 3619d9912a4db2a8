// The JavaScript reference (@huggingface/tokenizers) on the same task as bench/tokenize_bench.c:
// load time (read + JSON.parse + construct, best of 5) and encode throughput, one encode per line,
// no special tokens. Prints one JSON object with the same fields.
//
//     node bench/tokenize_bench.mjs REF_DIR TOKENIZER_DIR TEXT_FILE [REPS]
// REF_DIR holds node_modules/@huggingface/tokenizers (see tests/tokenizer/gen_expected.mjs).
import fs from "node:fs";
import path from "node:path";

const [ref, dir, file, reps_arg] = process.argv.slice(2);
const { Tokenizer } = await import(path.join(path.resolve(ref), "node_modules/@huggingface/tokenizers/dist/tokenizers.mjs"));
const reps = Number(reps_arg ?? 3);

let tok, load_best = Infinity;
for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    const tj = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
    const cfg_path = path.join(dir, "tokenizer_config.json");
    const cfg = fs.existsSync(cfg_path) ? JSON.parse(fs.readFileSync(cfg_path, "utf8")) : {};
    tok = new Tokenizer(tj, cfg);
    load_best = Math.min(load_best, performance.now() - t0);
}
const bytes = fs.readFileSync(file);
const lines = bytes.toString("utf8").split("\n");
let best = Infinity, all = [];
for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    all = lines.map((l) => tok.encode(l, { add_special_tokens: false }).ids);
    best = Math.min(best, performance.now() - t0);
}
let hash = 1469598103934665603n, tokens = 0;
const mask = (1n << 64n) - 1n;
for (const ids of all) {
    tokens += ids.length;
    for (const id of ids) hash = ((hash ^ BigInt(id)) * 1099511628211n) & mask;
}
console.log(JSON.stringify({ impl: "js", load_ms: +load_best.toFixed(1), encode_ms: +best.toFixed(1), bytes: bytes.length, tokens,
                             mb_per_s: +(bytes.length / 1e6 / (best / 1e3)).toFixed(2), ids_fnv: hash.toString(16).padStart(16, "0") }));
