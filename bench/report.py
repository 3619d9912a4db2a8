#!/usr/bin/python3
"""Merges the JSON of bench_explain and torch_explain into tables (stdout) and bench/RESULTS.md.

    report.py --engine E.json [--engine E2.json] --torch T.json [--torch ...] --machine MACHINE.txt
              [--check ENGINE_DUMP TORCH_DUMP] [--out RESULTS.md] [--family llama|gpt2|bert|vit|gemma3|t5]
              [--generate GEN.json ...]
    report.py --family moe --engine MOE.json [...] --dense DENSE.json [...] --machine MACHINE.txt [--out ...]

One table per thread count and variant (an engine file's OpenBLAS threads and its method [+ γ]; torch files
are matched by their thread count, variant and T). The machine file holds one line per fact (CPU, OpenBLAS, compiler, date, load), from run.sh.

RESULTS.md holds one part per family: the LLaMA part is the file's head (everything before the first
`<!-- section ... -->` marker); GPT-2, BERT and ViT are sections between `<!-- section KEY -->` and
`<!-- /section KEY -->`. Writing one family replaces its own part and keeps the others.

--family t5: the encoder-decoder section; --generate takes bench_generate's JSON and torch_explain.py
--generate's (format "torch") and compares the two (tokens/s ratio, the same greedy ids).

--family moe compares two engine runs instead of the engine and PyTorch: the Mixtral-shaped toy (--engine)
and its dense twin with the same active parameters (--dense), the explain-time ratio of issue 10.
"""
import argparse
import json
import os
import statistics
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def mib(b):
    return f"{b / 2**20:.0f} MiB"


HEAD = ["T", "engine forward ms", "engine explain ms", "explain/forward", "engine peak RSS",
        "recorded activations", "torch forward ms", "torch explain ms", "torch explain/forward",
        "torch peak RSS", "engine/torch forward", "engine/torch explain", "engine/torch explain, CPU time",
        "agreement: same target, Δ start value, relative Δ of ΣR"]
SHORT = ["T", "fwd ms", "explain ms", "ratio", "RSS", "activ.", "torch fwd", "torch expl", "t.ratio",
         "torch RSS", "fwd e/t", "eng/torch", "(CPU)", "agree"]


def merge(results):
    """One result per T from several runs (rounds): repetitions pooled, peaks maximised."""
    by_t = {}
    for r in results:
        m = by_t.setdefault(r["T"], {"T": r["T"], "peak_rss_bytes": 0})
        for k, v in r.items():
            if k.endswith("_all"):
                m.setdefault(k, []).extend(v)
            elif k == "peak_rss_bytes":
                m[k] = max(m[k], v)
            elif k not in m:
                m[k] = v
    for m in by_t.values():
        for k in list(m):
            if k.endswith("_all"):
                m[k[:-4]] = statistics.median(m[k])
                m[k[:-4] + "_min"] = min(m[k])
        m["ratio"] = m["explain_ms"] / m["forward_ms"]
        m["reps"] = len(m["explain_ms_all"])
    return by_t


def both(m, key):
    """'median (min)' of a time."""
    return f"{m[key]:.0f} ({m[key + '_min']:.0f})"


def table_rows(eng_by_t, tor_by_t):
    rows = []
    for T in sorted(eng_by_t):
        r, t = eng_by_t[T], tor_by_t.get(T)
        row = [str(T), both(r, "forward_ms"), both(r, "explain_ms"), f"{r['ratio']:.2f}",
               mib(r["peak_rss_bytes"]), mib(r["activation_bytes"])]
        if t:
            agree = (f"{'yes' if t['target'] == r['target'] else 'NO'}, "
                     f"{abs(t['start_value'] - r['start_value']):.1e}, "
                     f"{abs(t['relevance_sum'] - r['relevance_sum']) / max(abs(t['relevance_sum']), 1e-30):.1e}")
            row += [both(t, "forward_ms"), both(t, "explain_ms"), f"{t['ratio']:.2f}",
                    mib(t["peak_rss_bytes"]), f"{r['forward_ms'] / t['forward_ms']:.2f}",
                    f"{r['explain_ms'] / t['explain_ms']:.2f} ({r['explain_ms_min'] / t['explain_ms_min']:.2f})",
                    f"{r['explain_cpu_ms'] / t['explain_cpu_ms']:.2f}", agree]
        else:
            row += ["-"] * 8
        rows.append(row)
    return rows


def merge_generate(docs):
    """bench_generate results pooled per model file (several rounds): medians over all repetitions."""
    by_model = {}
    for d in docs:  # the PyTorch twin's runs (format "torch") read the same model file
        by_model.setdefault((d["model"], d["format"]), []).append(d)
    out = []
    for model, ds in by_model.items():
        g = dict(ds[0])
        pre = [v for d in ds for v in d["prefill_ms_all"]]
        tps = [v for d in ds for v in d["decode_tokens_per_s_all"]]
        lat = [d["explain_ms_all"] for d in ds if d["explain_ms_all"]]
        g.update(rounds=len(ds), reps=len(tps), prefill_ms=statistics.median(pre),
                 decode_tokens_per_s=statistics.median(tps), decode_best=max(tps),
                 peak_rss_bytes=max(d["peak_rss_bytes"] for d in ds))
        # per position k: the median over rounds; then the mean over positions
        per_k = [statistics.median(col) for col in zip(*lat)] if lat else [0.0]
        g.update(explain_ms=statistics.mean(per_k), explain_first=per_k[0], explain_last=per_k[-1])
        out.append(g)
    return out


FAMILY_TITLE = {"gpt2": "GPT-2 small shape (GPT2LMHeadModel)", "bert": "BERT base shape (BertForSequenceClassification)",
                "vit": "ViT-B/16 shape at 224×224 (ViTForImageClassification)",
                "gemma3": "Gemma-3-270M shape (Gemma3ForCausalLM)",
                "t5": "Flan-T5-small shape (T5ForConditionalGeneration, encoder-decoder)",
                "moe": "Mixture of experts vs dense with the same active parameters (issue 10)"}


def variant(d):
    """A run's method, with its LRP-γ values when it has them."""
    g = d.get("gamma")
    return d.get("method", "?") + (f" + γ {g[0]:g},{g[1]:g}" if g else "")


def model_shape(eng):
    try:
        with open(os.path.join(eng["model"], "config.json")) as f:
            cfg = json.load(f)
        if cfg.get("model_type") == "gpt2":
            return (f"n_embd {cfg['n_embd']}, {cfg['n_layer']} layers, {cfg['n_head']} heads, inner "
                    f"{cfg.get('n_inner') or 4 * cfg['n_embd']}, vocab {cfg['vocab_size']}, {cfg['n_positions']} "
                    f"positions, {cfg.get('activation_function', 'gelu_new')}, tied head, biases, "
                    f"{eng['n_params'] / 1e6:.1f}M parameters, {cfg.get('torch_dtype', '?')}")
        if cfg.get("model_type") == "vit":
            g = cfg["image_size"] // cfg["patch_size"]
            return (f"hidden {cfg['hidden_size']}, {cfg['num_hidden_layers']} layers, {cfg['num_attention_heads']} "
                    f"heads, intermediate {cfg['intermediate_size']}, image {cfg['image_size']}, patch "
                    f"{cfg['patch_size']} ({g * g} patches + CLS = {g * g + 1} tokens), "
                    f"{cfg.get('num_channels', 3)} channels, {cfg.get('hidden_act', 'gelu')}, "
                    f"{len(cfg.get('id2label') or {}) or cfg.get('num_labels', 2)} labels, "
                    f"{eng['n_params'] / 1e6:.1f}M parameters, {cfg.get('torch_dtype', '?')}")
        if cfg.get("model_type") in ("t5", "mt5"):
            return (f"d_model {cfg['d_model']}, {cfg['num_layers']} encoder + "
                    f"{cfg.get('num_decoder_layers') or cfg['num_layers']} decoder blocks, {cfg['num_heads']} heads of "
                    f"d_kv {cfg['d_kv']}, d_ff {cfg['d_ff']}, {cfg.get('feed_forward_proj', 'relu')}, vocab "
                    f"{cfg['vocab_size']}, {cfg.get('relative_attention_num_buckets', 32)} relative-position buckets up "
                    f"to {cfg.get('relative_attention_max_distance', 128)}, "
                    f"{'tied' if cfg.get('tie_word_embeddings', True) else 'untied'} head, "
                    f"{eng['n_params'] / 1e6:.1f}M parameters, {cfg.get('torch_dtype', '?')}")
        if cfg.get("model_type") == "bert":
            return (f"hidden {cfg['hidden_size']}, {cfg['num_hidden_layers']} layers, {cfg['num_attention_heads']} "
                    f"heads, intermediate {cfg['intermediate_size']}, vocab {cfg['vocab_size']}, "
                    f"{cfg['max_position_embeddings']} positions, {cfg.get('type_vocab_size', 2)} token types, "
                    f"{cfg.get('hidden_act', 'gelu')}, pooler + classifier with "
                    f"{len(cfg.get('id2label') or {}) or cfg.get('num_labels', 2)} labels, "
                    f"{eng['n_params'] / 1e6:.1f}M parameters, {cfg.get('torch_dtype', '?')}")
        extra = ""
        if cfg.get("model_type") == "mixtral":
            extra = f" per expert, {cfg['num_local_experts']} experts, top-{cfg['num_experts_per_tok']}"
        elif cfg.get("model_type") == "gemma3_text":
            extra = (f", head_dim {cfg.get('head_dim')}, sliding_window {cfg.get('sliding_window')} (pattern "
                     f"{cfg.get('sliding_window_pattern')})")
        return (f"hidden {cfg['hidden_size']}, {cfg['num_hidden_layers']} layers, {cfg['num_attention_heads']} "
                f"heads, {cfg.get('num_key_value_heads', cfg['num_attention_heads'])} kv heads, intermediate "
                f"{cfg['intermediate_size']}{extra}, vocab {cfg['vocab_size']}, "
                f"{'tied' if cfg.get('tie_word_embeddings') else 'untied'} head, "
                f"{eng['n_params'] / 1e6:.1f}M parameters, {cfg.get('torch_dtype', '?')}")
    except (OSError, KeyError, ValueError):
        return f"{eng['n_params'] / 1e6:.1f}M parameters"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", action="append", required=True)
    ap.add_argument("--torch", action="append", default=[])
    ap.add_argument("--check-gguf", nargs=2, metavar=("ENGINE_DUMP", "GGUF_DUMP"),
                    help="the engine's relevance on the checkpoint and on its F32 GGUF conversion")
    ap.add_argument("--generate", action="append", default=[], help="bench_generate --json output")
    ap.add_argument("--machine", required=True)
    ap.add_argument("--out")
    ap.add_argument("--dense", action="append", default=[],
                    help="--family moe: bench_explain --json of the dense twin")
    ap.add_argument("--family", default="llama", choices=("llama", "gpt2", "bert", "vit", "gemma3", "moe", "t5"),
                    help="which part of --out to write (see the module docstring)")
    ap.add_argument("--check", nargs=2, action="append", metavar=("ENGINE_DUMP", "TORCH_DUMP"),
                    help="relevance of one explanation from each (bench_explain --dump, torch_explain.py "
                         "--dump-relevance), compared element by element")
    a = ap.parse_args(argv)
    if a.family == "moe":
        return moe_report(a)
    engines = [load(p) for p in a.engine]
    torches = [load(p) for p in a.torch]
    with open(a.machine) as f:
        machine = [line.rstrip("\n") for line in f if line.strip()]
    first = engines[0]
    rounds = max(1, len(engines) // max(1, len({d["openblas"]["threads"] for d in engines})))

    ln_family = a.family != "llama"
    h2 = "###" if ln_family else "##"
    variants = sorted({variant(d) for d in engines}, key=lambda v: (v != "attnlrp", v))
    if a.family == "vit":
        lines = [f"<!-- section {a.family} -->", f"## {FAMILY_TITLE[a.family]}", "",
                 f"Generated by `BENCH_FAMILY=vit bench/run.sh` (do not edit by hand). Model: the random "
                 f"checkpoint of `bench/make_bench_model.py --family vit` ({model_shape(first)}).",
                 "Input: one image of random normal pixels [3, 224, 224] (the same numbers in both programs); "
                 "target = the argmax class; T = 197 tokens. Methods: "
                 + ", ".join(f"`{v}`" for v in variants) + " (γ: the LRP-γ rule of SPEC §5 on the patch "
                 "convolution / the MLP linears and classifier, as LXT explains ViTs). Every process warms up "
                 f"with {first['warmup']} run before it times {first['reps']}. Columns as in the LLaMA tables "
                 "above; `forward` is the plain forward pass whatever the method. The PyTorch twin applies "
                 "LXT's efficient rules (LayerNorm σ detached, identity rule on GELU, Q/K gradient ×¼ and V ×½ "
                 "for attnlrp, Q and K detached for cplrp, softmax exact; γ through the reference's GammaRule "
                 "Function) in float32 with one backward; the inputs are pixels, cls_token and the position "
                 "embeddings (ΣR sums all three); the check below compares the relevance per patch (196 "
                 "values: Σ over a patch's pixels and channels of x ⊙ g).", ""]
    elif a.family == "gemma3":
        lines = [f"<!-- section {a.family} -->", f"## {FAMILY_TITLE[a.family]}", "",
                 f"Generated by `BENCH_FAMILY=gemma3 bench/run.sh` (do not edit by hand). Model: the random "
                 f"checkpoint of `bench/make_bench_model.py --family gemma3` ({model_shape(first)}).",
                 f"Method `{first['method']}`; the explained position is the last one, target its argmax logit. "
                 f"Every process warms up with {first['warmup']} run before it times {first['reps']}. Columns as "
                 "in the LLaMA tables above. The PyTorch twin (class GemmaModel of `bench/torch_explain.py`) "
                 "applies the same rules in float32: (1 + w) RMSNorm with the normaliser detached, GeGLU with the "
                 "identity rule on gelu_tanh and ½ on the product, Q/K ×¼ and V ×½ after the q/k norms and RoPE, "
                 "softmax exact, the config's sliding windows and two RoPE tables; relevance = gradient × input at "
                 "the scaled embedding; the final norm and the tied head at the last position only.", ""]
    elif a.family == "t5":
        dec_t = first["results"][0].get("decoder_T", "?")
        lines = [f"<!-- section {a.family} -->", f"## {FAMILY_TITLE[a.family]}", "",
                 f"Generated by `BENCH_FAMILY=t5 bench/run.sh` (do not edit by hand). Model: the random checkpoint "
                 f"of `bench/make_bench_model.py --family t5` ({model_shape(first)}), the shape of "
                 "google/flan-t5-small.",
                 f"Method `{first['method']}`; T is the source length, the decoder reads {dec_t} tokens "
                 "(decoder_start_token_id, then pseudo-random ids), the explained position is the last decoder "
                 "position, target its argmax logit. Every process warms up with "
                 f"{first['warmup']} run before it times {first['reps']}. Columns as in the LLaMA tables above; "
                 "ΣR sums the source and the decoder relevance. The PyTorch twin (class T5Model of "
                 "`bench/torch_explain.py`) applies the same rules in float32 eager mode: T5LayerNorm (RMS, no "
                 "mean) with the normaliser detached, scores q·kᵀ without 1/√d_kv plus the relative position "
                 "bias of block 0 of each stack (a constant), Q/K ×¼ and V ×½ in the encoder, decoder and cross "
                 "attentions, identity rule on gelu_new and ½ on the gated product, the decoder's final norm and "
                 "lm_head at the explained position only; relevance = gradient × input at the shared word "
                 "embeddings of both inputs.", ""]
    elif ln_family:
        what = ("the explained position is the last one, target its argmax logit (ln_f and the tied head at "
                "that position only)" if a.family == "gpt2" else
                "the classifier reads token 0 through the pooler (tanh, identity rule), target = the argmax "
                "class; token types 0, positions 0..T-1, no padding")
        lines = [f"<!-- section {a.family} -->", f"## {FAMILY_TITLE[a.family]}", "",
                 f"Generated by `BENCH_FAMILY={a.family} bench/run.sh` (do not edit by hand). Model: the random "
                 f"checkpoint of `bench/make_bench_model.py --family {a.family}` ({model_shape(first)}).",
                 f"Method `{first['method']}`; {what}. Every process warms up with {first['warmup']} run before "
                 f"it times {first['reps']}. Columns as in the LLaMA tables above. The PyTorch twin applies "
                 "LXT's efficient rules (LayerNorm σ detached, identity rule on GELU and tanh, Q/K gradient ×¼, "
                 "V ×½, softmax exact) with custom autograd Functions in float32 and one backward; relevance = "
                 "embedding ⊙ gradient summed over hidden, with the word, position and token-type embeddings as "
                 "separate inputs (ΣR sums all of them, the check below compares the word relevance).", ""]
    else:
        lines = ["# attnlrp speed benchmark", "",
                 "Generated by `bench/run.sh` (do not edit by hand). Model: the random LLaMA-shaped checkpoint of",
                 f"`bench/make_bench_model.py` ({model_shape(first)}).",
                 f"Method `{first['method']}`, target = the argmax logit at the last position; every process warms "
                 f"up with {first['warmup']} run before it times {first['reps']}.",
                 "`forward` is one plain forward pass (nothing recorded), `explain` the whole explanation (recorded",
                 "forward, relevance backward, readouts). The PyTorch twin (`bench/torch_explain.py`) applies the same",
                 "rules with custom autograd Functions in float32, the LM head at the explained position only and no",
                 "weight gradients, on the same ids; both use the same OpenBLAS library and thread count. The",
                 "`CPU time` ratio compares process CPU time (all threads), which a busy shared machine disturbs less",
                 "than wall-clock time (meaningful mainly with 1 thread: spinning BLAS threads count as CPU time).",
                 "Peak RSS is ru_maxrss of a process that ran one length only, including the weight pages touched",
                 "(both memory-map the weights).", ""]
    out_console = []
    groups = {}
    for kind, docs in (("engine", engines), ("torch", torches)):
        for d in docs:
            th = d["openblas"]["threads"] or d.get("threads")
            groups.setdefault((kind, th, variant(d)), []).extend(d["results"])
    rounds = max(1, rounds // max(1, len(variants)))
    for threads, var in sorted({(th, v) for kind, th, v in groups if kind == "engine"},
                               key=lambda k: (-k[0], k[1] != "attnlrp", k[1])):
        eng_by_t = merge(groups[("engine", threads, var)])
        tor_by_t = merge(groups.get(("torch", threads, var), []))
        rows = table_rows(eng_by_t, tor_by_t)
        reps = min(m["reps"] for m in list(eng_by_t.values()) + list(tor_by_t.values()))
        title = f"{threads} thread{'s' if threads != 1 else ''} (OpenBLAS core {engines[0]['openblas']['core']})"
        if len(variants) > 1:
            title += f", {var}"
        lines += [f"{h2} {title}", "",
                  f"Times in ms: median (minimum) of {reps} repetitions, pooled over {rounds} rounds that alternate "
                  "the engine and PyTorch.", "",
                  "| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        split = [f"T={T}: recorded forward {m['explain_forward_ms']:.0f} ms + backward "
                 f"{m['explain_backward_ms']:.0f} ms" for T, m in sorted(eng_by_t.items())]
        lines += ["", "Engine explain split (medians): " + "; ".join(split) + ".", ""]
        width = [max(len(s), *(len(r[i]) for r in rows)) for i, s in enumerate(SHORT)]
        out_console.append(title + f", median (min) of {reps}")
        out_console.append("  ".join(s.rjust(w) for s, w in zip(SHORT, width)))
        out_console += ["  ".join(c.rjust(w) for c, w in zip(r, width)) for r in rows]
        out_console += ["  engine " + s for s in split]
    for chk in a.check or []:
        de, dt = load(chk[0]), load(chk[1])
        re_, rt = de["relevance"], dt["relevance"]
        where = (f"T={len(re_)}" if de["ids"] else f"{len(re_)} patches") + (
            f", {variant(de)}" if "method" in de else "")
        if "decoder_relevance" in de:  # encoder-decoders: the source and the decoder input together
            where += (f" + {len(de['decoder_relevance'])} decoder tokens (same decoder ids "
                      f"{'yes' if de['decoder_ids'] == dt.get('decoder_ids') else 'NO'}; source and decoder "
                      "relevance together)")
            re_, rt = re_ + de["decoder_relevance"], rt + dt["decoder_relevance"]
        worst = max(abs(x - y) for x, y in zip(re_, rt)) / max(max(abs(y) for y in rt), 1e-30)
        check = (f"Relevance check at {where}: "
                 + (f"same ids {'yes' if de['ids'] == dt['ids'] else 'NO'}, " if de["ids"] else "")
                 + f"same target {'yes' if de['target'] == dt['target'] else 'NO'}, "
                 f"max |R_engine − R_torch| / max |R_torch| = {worst:.1e}"
                 + (f", logits: max |Δ| / max |logit| = {logit_diff(de, dt):.1e}" if "logits" in de and "logits" in dt
                    else "") + ".")
        lines += [check, ""]
        out_console.append(check)
    gguf_check = ""
    if a.check_gguf:
        de, dg = load(a.check_gguf[0]), load(a.check_gguf[1])
        worst = max(abs(x - y) for x, y in zip(de["relevance"], dg["relevance"])) / max(
            max(abs(x) for x in de["relevance"]), 1e-30)
        gguf_check = (f"The F32 GGUF against the safetensors checkpoint at T={len(de['relevance'])}: same target "
                      f"{'yes' if de['target'] == dg['target'] else 'NO'}, max |ΔR| / max |R| = {worst:.1e}.")
        out_console.append(gguf_check)
    gens = merge_generate([load(p) for p in a.generate])
    if gens and a.family == "t5":
        lines += t5_generation(gens, out_console)
    elif gens:
        g0 = gens[0]
        lines += ["## Generation (issue 4)", "",
                  f"Greedy generation with the KV cache from a {g0['prompt']}-token prompt, {g0['generated']} new tokens, "
                  f"{g0['threads']} OpenBLAS thread(s); then one attnlrp explanation per generated token of the "
                  "sequence before it (what `generate --explain` does), "
                  f"T = {g0['prompt']}..{g0['prompt'] + g0['explained'] - 1}. Medians over {g0['reps']} generations "
                  f"from {g0['rounds']} rounds that alternate the three files. GGUF files from "
                  "`bench/make_bench_gguf.py` (same weights, q/k rows permuted to GGUF's adjacent RoPE pairs)."
                  + (" " + gguf_check if gguf_check else ""), "",
                  "| model file | weights | prefill ms | decode tokens/s: median (best) | explain ms per generated "
                  "token: median (first, last position) | peak RSS |", "|---|---|---|---|---|---|"]
        for g in gens:
            lines.append(f"| {os.path.basename(g['model'].rstrip('/'))} ({g['format']}) | {g['dtype']} | "
                         f"{g['prefill_ms']:.0f} | {g['decode_tokens_per_s']:.1f} ({g['decode_best']:.1f}) | "
                         f"{g['explain_ms']:.0f} ({g['explain_first']:.0f}, {g['explain_last']:.0f}) | "
                         f"{mib(g['peak_rss_bytes'])} |")
            out_console.append(f"generate {g['model']} ({g['dtype']}): prefill {g['prefill_ms']:.0f} ms, "
                               f"{g['decode_tokens_per_s']:.1f} tokens/s (best {g['decode_best']:.1f}), explain "
                               f"{g['explain_ms']:.0f} ms per generated token, peak RSS {mib(g['peak_rss_bytes'])}")
        lines.append("")
    if torches:
        lines += [f"PyTorch {torches[0].get('torch', '?')}; its BLAS calls go to OpenBLAS core "
                  f"{torches[0]['openblas']['core']}.", ""]
    lines += [f"{h2} Machine", ""] + [f"- {m}" for m in machine]
    if ln_family:
        lines += [f"<!-- /section {a.family} -->"]
    print("\n".join(out_console))
    if a.out:
        write_part(a.out, a.family, "\n".join(lines) + "\n")
    return 0


def logit_diff(de, dt):
    """max |logit_engine − logit_torch| / max |logit_torch| of two dumps."""
    le, lt = de["logits"], dt["logits"]
    return max(abs(x - y) for x, y in zip(le, lt)) / max(max(abs(y) for y in lt), 1e-30)


def t5_generation(gens, console):
    """The T5 generation table: the engine (bench_generate) against the twin's greedy loop (format torch)."""
    eng = [g for g in gens if g["format"] != "torch"]
    tor = [g for g in gens if g["format"] == "torch"]
    if not eng:
        return []
    e = eng[0]
    t = tor[0] if tor else None
    lines = ["### Generation", "",
             f"Greedy generation of {e['generated']} tokens from a {e['prompt']}-token source, {e['threads']} "
             "thread(s). Engine: `bench_generate` (lrp_generate: the encoder once, its cross-attention keys and "
             "values kept per decoder layer, the decoder's self-attention KV cache). PyTorch: `torch_explain.py "
             "--generate`, a greedy loop in float32 eager mode with an HF-style KV cache (encoder and cross-"
             "attention keys/values once, one decoder row per step with its self-attention keys/values appended), "
             "under `torch.no_grad()`. Prefill = the time to the first token (encoder + first decoder step); "
             "decode = (n − 1) tokens over the time from the first generated token to the last. Medians over "
             f"{e['reps']} generations from {e['rounds']} rounds that alternate the two.", "",
             "| program | prefill ms | decode tokens/s: median (best) | engine/PyTorch tokens/s | explain ms per "
             "generated token: mean (first, last) | peak RSS |", "|---|---|---|---|---|---|"]
    for g in eng + tor:
        ratio = f"{e['decode_tokens_per_s'] / t['decode_tokens_per_s']:.2f}" if t and g is e else "-"
        expl = (f"{g['explain_ms']:.0f} ({g['explain_first']:.0f}, {g['explain_last']:.0f})"
                if g.get("explained") else "-")
        name = "PyTorch twin (KV cache)" if g["format"] == "torch" else f"engine ({g['format']} {g['dtype']})"
        lines.append(f"| {name} | {g['prefill_ms']:.0f} | {g['decode_tokens_per_s']:.1f} ({g['decode_best']:.1f}) | "
                     f"{ratio} | {expl} | {mib(g['peak_rss_bytes'])} |")
        console.append(f"generate {name}: prefill {g['prefill_ms']:.0f} ms, {g['decode_tokens_per_s']:.1f} tokens/s "
                       f"(best {g['decode_best']:.1f}), peak RSS {mib(g['peak_rss_bytes'])}")
    if t:
        same = e.get("generated_ids") == t.get("generated_ids")
        note = f"Same greedy tokens in both: {'yes' if same else 'NO'}."
        if e.get("explained"):
            note += (f" The engine also explains the first {e['explained']} generated tokens (source + decoder "
                     "prefix, what `generate --explain` does); the twin does not.")
        lines += ["", note]
        console.append(note)
    return lines + [""]


def moe_report(a):
    """The moe section: the MoE toy against its dense twin, both engine runs (bench_explain --json)."""
    moe_docs, dense_docs = [load(p) for p in a.engine], [load(p) for p in a.dense]
    if not dense_docs:
        print("report.py: --family moe needs --dense", file=sys.stderr)
        return 2
    with open(a.machine) as f:
        machine = [line.rstrip("\n") for line in f if line.strip()]
    first, dfirst = moe_docs[0], dense_docs[0]
    threads = first["openblas"]["threads"]
    all_threads = sorted({d["openblas"]["threads"] for d in moe_docs}, reverse=True)
    med = statistics.median
    head = ["threads", "T", "MoE forward", "dense forward", "forward MoE/dense", "MoE explain", "dense explain",
            "**explain MoE/dense** (medians)", "explain MoE/dense (min/min)", "explain MoE/dense, CPU time",
            "MoE explain: rec. fwd + bwd", "dense explain: rec. fwd + bwd", "recorded activations MoE / dense"]
    rows, console, reps = [], [], None
    for th in all_threads:
        mo = merge([r for d in moe_docs if d["openblas"]["threads"] == th for r in d["results"]])
        de = merge([r for d in dense_docs if d["openblas"]["threads"] == th for r in d["results"]])
        n = min(x["reps"] for x in list(mo.values()) + list(de.values()))
        reps = n if reps is None else min(reps, n)
        for T in sorted(set(mo) & set(de)):
            m, d = mo[T], de[T]
            ratio = m["explain_ms"] / d["explain_ms"]
            rows.append([str(th), str(T), both(m, "forward_ms"), both(d, "forward_ms"),
                         f"{m['forward_ms'] / d['forward_ms']:.2f}",
                         both(m, "explain_ms"), both(d, "explain_ms"), f"**{ratio:.2f}**",
                         f"{m['explain_ms_min'] / d['explain_ms_min']:.2f}",
                         f"{med(m['explain_cpu_ms_all']) / med(d['explain_cpu_ms_all']):.2f}",
                         f"{m['explain_forward_ms']:.0f} + {m['explain_backward_ms']:.0f}",
                         f"{d['explain_forward_ms']:.0f} + {d['explain_backward_ms']:.0f}",
                         f"{m['activation_bytes'] / 2**20:.0f} / {d['activation_bytes'] / 2**20:.0f} MiB"])
            console.append(f"{th} threads, T={T}: explain MoE {m['explain_ms']:.0f} ms, dense {d['explain_ms']:.0f} "
                           "ms, ratio "
                           f"{ratio:.2f} (min/min {m['explain_ms_min'] / d['explain_ms_min']:.2f}, CPU "
                           f"{med(m['explain_cpu_ms_all']) / med(d['explain_cpu_ms_all']):.2f})")
    rounds = len(moe_docs) // len(all_threads)
    ts = ",".join(str(t) for t in sorted({r["T"] for d in moe_docs for r in d["results"]}))
    lines = ["<!-- section moe -->", f"## {FAMILY_TITLE['moe']}", "",
             "Generated by `BENCH_FAMILY=moe bench/run.sh` (do not edit by hand). Target of issue 10: a "
             "Mixtral-shaped toy (8 experts, top-2) explains in at most 1.3× the time of a dense model with the "
             "same active parameters.", "",
             f"- MoE: `bench/make_bench_model.py --family mixtral` → {first['model']} ({model_shape(first)}).",
             f"- dense: `bench/make_bench_model.py --family mixtral-dense` → {dfirst['model']} "
             f"({model_shape(dfirst)}).", "",
             f"Method `{first['method']}`, target = the argmax logit at the last position, the same ids for both; "
             f"OpenBLAS threads: {', '.join(str(t) for t in all_threads)}. {rounds} rounds alternate which model runs "
             f"first; each process warms up with {first['warmup']} run and times {first['reps']}. Times in ms: "
             f"median (minimum) of {reps} repetitions pooled over the rounds; the CPU-time ratio compares process "
             "CPU time (all threads), which a busy shared machine disturbs less than wall-clock time.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", "Commands (what run.sh runs per round, alternating the order):", "",
              f"    OPENBLAS_NUM_THREADS={threads} ./build/bench/bench_explain --model {first['model']} --T "
              f"{ts} --reps {first['reps']} --warmup {first['warmup']} --json",
              f"    OPENBLAS_NUM_THREADS={threads} ./build/bench/bench_explain --model {dfirst['model']} --T "
              f"{ts} --reps {dfirst['reps']} --warmup {dfirst['warmup']} --json",
              "", "### Machine", ""] + [f"- {x}" for x in machine] + ["<!-- /section moe -->"]
    print("\n".join(console))
    if a.out:
        write_part(a.out, "moe", "\n".join(lines) + "\n")
    return 0


def write_part(path, family, text):
    """Replaces the family's part of the file (see the module docstring), keeping the others."""
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        old = ""
    first = old.find("<!-- section ")
    head, sections = (old, "") if first < 0 else (old[:first], old[first:])
    if family == "llama":
        new = text + ("\n" + sections if sections else "")
    else:
        begin, end = f"<!-- section {family} -->", f"<!-- /section {family} -->"
        b = sections.find(begin)
        if b >= 0:
            e = sections.index(end, b) + len(end)
            sections = sections[:b] + text.rstrip("\n") + sections[e:]
        else:
            sections = (sections.rstrip("\n") + "\n\n" if sections else "") + text
        new = head.rstrip("\n") + "\n\n" + sections if head else sections
    with open(path, "w") as f:
        f.write(new if new.endswith("\n") else new + "\n")


if __name__ == "__main__":
    sys.exit(main())
