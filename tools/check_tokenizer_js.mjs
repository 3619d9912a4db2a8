// Compare our tokenizer.json as run by Hugging Face transformers.js with the ids that
// tools/check_default.py computes (its own tokenizer.json interpreter):
//
//   mkdir -p /tmp/tj && cd /tmp/tj && npm init -y && npm install @huggingface/transformers
//   /usr/bin/python3 tools/check_default.py --dump-ids /tmp/ids.json
//   node tools/check_tokenizer_js.mjs /tmp/tj models/default /tmp/ids.json
//
// The npm package is installed outside the repository; its folder is the first argument.
import { createRequire } from 'module';
import { pathToFileURL } from 'url';
import fs from 'fs';
import path from 'path';

const [npmDir, modelDir, idsFile] = process.argv.slice(2);
if (!idsFile) {
  console.error('usage: node check_tokenizer_js.mjs NPM_DIR MODEL_DIR IDS_JSON');
  process.exit(2);
}
const require = createRequire(path.resolve(npmDir) + '/');
const { AutoTokenizer, env } = await import(
  pathToFileURL(require.resolve('@huggingface/transformers')).href);
const dir = path.resolve(modelDir);
env.allowRemoteModels = false;
env.localModelPath = path.dirname(dir) + '/';
const tok = await AutoTokenizer.from_pretrained(path.basename(dir));

const specials = /<s>|<\/s>|<pad>|<unk>/g;
let bad = 0;
const cases = JSON.parse(fs.readFileSync(idsFile, 'utf8'));
for (const { text, ids } of cases) {
  const got = tok.encode(text);
  if (JSON.stringify(got) !== JSON.stringify(ids)) {
    bad++;
    console.log('ids differ for', JSON.stringify(text),
                '\n  ours', ids, '\n  transformers.js', got);
  }
  const back = tok.decode(got, { skip_special_tokens: true });
  if (back !== text.replace(specials, '')) {
    bad++;
    console.log('decode differs for', JSON.stringify(text), '->', JSON.stringify(back));
  }
}
console.log(`${cases.length} texts: ${bad} mismatches (${tok.constructor.name})`);
process.exit(bad ? 1 : 0);
