// llama.cpp's own greedy generation speed on a GGUF file, through npm's node-llama-cpp (3.21.1: prebuilt
// CPU binaries), for bench/run.sh's side-by-side with bench_generate. Run it from a directory where
// node-llama-cpp is installed (run.sh copies it there):
//
//     node llamacpp_bench.mjs MODEL.gguf N_GEN N_PROMPT THREADS REPS
//
// The prompt is N_PROMPT ids 3 + (i·7919 mod 500); decode speed is (N_GEN − 1) tokens over the time from
// the first generated token to the last (prefill apart), as bench_generate measures it; the process CPU
// time per decoded token (all threads, spinning included) is reported as well. Medians over REPS runs
// after one warm-up. Prints one JSON object.
import {getLlama} from "node-llama-cpp";

const [,, path, nGenArg, nPromptArg, threadsArg, repsArg] = process.argv;
const nGen = Number(nGenArg ?? 32), nPrompt = Number(nPromptArg ?? 16);
const threads = Number(threadsArg ?? 2), reps = Number(repsArg ?? 2);
const llama = await getLlama({gpu: false, logLevel: "error"});
const model = await llama.loadModel({modelPath: path});
const ctx = await model.createContext({contextSize: 1024, threads, batchSize: 512});
const prompt = Array.from({length: nPrompt}, (_, i) => 3 + (i * 7919) % 500);
const median = (v) => { const s = [...v].sort((a, b) => a - b); const n = s.length;
                        return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const prefill = [], tps = [], cpu = [];
let ids = [];
for (let r = -1; r < reps; r++) {
  const seq = ctx.getSequence();
  const t0 = performance.now();
  let tFirst = 0, cFirst = 0, tLast = 0, cLast = 0, n = 0;
  const got = [];
  for await (const tok of seq.evaluate(prompt, {temperature: 0})) {
    const now = performance.now(), c = cpuMs();
    if (n === 0) { tFirst = now; cFirst = c; }
    tLast = now; cLast = c;
    got.push(tok);
    if (++n >= nGen) break;
  }
  seq.dispose();
  if (r >= 0) {
    prefill.push(tFirst - t0);
    tps.push((n - 1) / (tLast - tFirst) * 1000);
    cpu.push((cLast - cFirst) / (n - 1));
  }
  ids = got;
}
console.log(JSON.stringify({engine: "llama.cpp", package: "node-llama-cpp", model: path, threads, prompt: nPrompt,
  generated: nGen, reps, prefill_ms: median(prefill), decode_tokens_per_s: median(tps),
  decode_cpu_ms_per_token: median(cpu), decode_tokens_per_s_all: tps, generated_ids: ids}));
process.exit(0);
