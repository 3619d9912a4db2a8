#!/usr/bin/python3
"""attnlrp scan against a brute-force scan with the float64 PyTorch reference (reference.py's forward):

    scan_check.py --bin build/attnlrp --dir TMP                    (tiny checkpoints, JSONL corpora of ids)
    scan_check.py --bin build/attnlrp --model DIR --text FILE --window T --layer L --neuron N [--scan-args '--jobs 2']

The first writes bias-free tiny checkpoints (make_checkpoint.py: llama_mha, mixtral) and JSONL corpora of
{"ids": [...]} records (duplicates included, so that equal activations must fall to the lower index) and
checks for several neurons: the top-K indices and positions equal the reference's (each record's largest
MLP-intermediate activation, ties to the lower position; records ranked by it, ties to the lower index),
the activations and each result's relevance match the reference's latent-start explanation (within
1e-4 max|field|), the relevance equals `attnlrp explain --ids ... --latent-start L,P,N` exactly (the same
computation), cplrp conserves (sum of relevance = activation) on the bias-free model, and two runs print
the same bytes. The second scans plain text: the windows are BOS + consecutive slices of the text's tokens
(`attnlrp tokenize --no-special`, the tokenizer is not what is tested) and the top-K equals the reference's.
Prints "N passed, N failed".
"""
import argparse
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch  # noqa: E402

import make_checkpoint  # noqa: E402
import reference as ref  # noqa: E402
from tally import Tally  # noqa: E402

T = Tally()
check = T.ok


def run(binary, *args):
    p = subprocess.run([binary, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def brute_force(ck, records, layer, neuron, k, expert=None):
    """[(index, position, activation)] best first, from the reference's forward of every record."""
    hits = []
    with torch.no_grad():
        for i, ids in enumerate(records):
            _, _, inters, _ = ref.forward(ck, ids, "gradxinput", expert or 0)
            col = inters[layer][:, neuron]
            p = int(torch.argmax(col))  # the first maximum
            hits.append((-float(col[p]), i, p))
    hits.sort()
    return [(i, p, -a) for a, i, p in hits[:k]]


def rel_diff(a, b):
    scale = max(1e-30, max(abs(v) for v in a))
    return max(abs(x - y) for x, y in zip(a, b)) / scale if len(a) == len(b) else float("inf")


def compare(binary, model, ck, data, records, layer, neuron, k, method="attnlrp", expert=None, extra=()):
    args = ["scan", "--model", model, "--data", data, "--layer", str(layer), "--neuron", str(neuron), "--top", str(k),
            "--method", method, "--format", "json", *extra]
    if expert is not None:
        args += ["--expert", str(expert)]
    out = run(binary, *args)
    d = json.loads(out)
    name = f"{os.path.basename(model)} L{layer} N{neuron}" + (f" E{expert}" if expert is not None else "")
    want = brute_force(ck, records, layer, neuron, k, expert)
    got = [(r["index"], r["position"], r["activation"]) for r in d["results"]]
    check([g[:2] for g in got] == [w[:2] for w in want], f"{name}: top-{k} (index, position) {got} != reference {want}")
    acts = [g[2] for g in got]
    check(len(acts) == len(want) and rel_diff([w[2] for w in want], acts) < 1e-4,
          f"{name}: activations {acts} vs reference {[w[2] for w in want]}")
    check(d["layer"] == layer and d["neuron"] == neuron and d["windows"] == len(records),
          f"{name}: header {d['layer']}, {d['neuron']}, {d['windows']}")
    for r in d["results"]:
        ids = records[r["index"]]
        check(r["ids"] == ids, f"{name}: result {r['index']} ids {r['ids']} != record {ids}")
        lat = f"{layer},{r['position']},{neuron}"
        e = ref.explain(ck, ids, method, latent_start=(layer, r["position"], neuron), latent_expert=expert)
        check(rel_diff(e["relevance"], r["relevance"]) < 1e-4,
              f"{name}: result {r['index']} relevance vs reference ({rel_diff(e['relevance'], r['relevance'])})")
        ex = ["explain", "--model", model, "--ids", ",".join(map(str, ids)), "--latent-start", lat, "--method", method,
              "--format", "json"]
        if expert is not None:
            ex += ["--latent-expert", str(expert)]
        x = json.loads(run(binary, *ex))
        check(x["relevance"] == r["relevance"], f"{name}: result {r['index']} relevance != explain --latent-start {lat}")
        if method == "cplrp":
            s, a = sum(r["relevance"]), r["activation"]
            check(abs(s - a) <= 1e-4 * max(1.0, abs(a)), f"{name}: cplrp sum of relevance {s} != activation {a}")
    again = run(binary, *args)
    check(again == out, f"{name}: a second run printed different output")
    return d


def atlas(binary, model, ck, data, records, layer, k, expert, tmp):
    """scan --neurons all: every neuron's top K against the reference; --atlas N reads back what scan prints."""
    path = os.path.join(tmp, "atlas.json")
    args = ["scan", "--model", model, "--data", data, "--layer", str(layer), "--top", str(k), "-o", path]
    run(binary, *args, "--neurons", "all", *(["--expert", str(expert)] if expert is not None else []))
    a = json.load(open(path))
    name = f"{os.path.basename(model)} atlas L{layer}"
    check(a["width"] == ck.cfg.inter and len(a["neurons"]) == ck.cfg.inter and a["windows"] == len(records),
          f"{name}: header {a['width']}, {a['windows']}")
    acts, ref_top = {}, {}
    with torch.no_grad():
        for i, ids in enumerate(records):
            acts[i] = ref.forward(ck, ids, "gradxinput", expert or 0)[2][layer]
    for n in range(ck.cfg.inter):
        hits = []
        for i in range(len(records)):
            col = acts[i][:, n]
            p = int(torch.argmax(col))
            hits.append((-float(col[p]), i, p))
        hits.sort()
        # a valid top K within float32 rounding: the rank-r window's maximum is the r-th largest, reached at
        # the given position (experts: rows not routed are exact zeros, near ties with tiny values happen)
        tol = 1e-4 * max(1e-30, max(abs(h[0]) for h in hits))
        best = {i: -a for a, i, _ in hits}
        got = a["neurons"][n]
        ok = len(got) == k and len({h[0] for h in got}) == k
        for r, (i, p, act) in enumerate(got if ok else []):
            ok = ok and abs(best[i] - (-hits[r][0])) <= tol and abs(float(acts[i][p, n]) - best[i]) <= tol
            ok = ok and abs(act - best[i]) <= tol
        check(ok, f"{name} N{n}: atlas {got} is not the reference's top {k} {[(i, p, -a) for a, i, p in hits[:k]]}")
        ref_top[n] = (hits[:k], tol)
    for i, ids in a["ids"].items():
        check(ids == records[int(i)], f"{name}: stored window {i}")
    for n in (0, ck.cfg.inter // 2, ck.cfg.inter - 1):
        ex = ["--expert", str(expert)] if expert is not None else []
        direct = run(binary, "scan", "--model", model, "--data", data, "--layer", str(layer), "--neuron", str(n),
                     "--top", str(k - 1), "--format", "json", *ex)
        back = run(binary, "scan", "--model", model, "--atlas", path, "--neuron", str(n), "--top", str(k - 1),
                   "--format", "json")
        check(direct == back, f"{name} N{n}: scan --atlas prints what the scan prints")
        # neuron --atlas lists the stored windows beside the projection: the brute-force top K (ids included)
        nb = json.loads(run(binary, "neuron", "--model", model, "--atlas", path, "--layer", str(layer), "--neuron",
                            str(n), "--top", "2", "--format", "json", *ex))
        hits, tol = ref_top[n]
        res = nb["atlas"]["results"]
        ok = len(res) == k and nb["atlas"]["windows"] == len(records)
        for r, x in enumerate(res if ok else []):
            _, i, p = hits[r]
            ok = ok and x["index"] == i and x["position"] == p and abs(x["activation"] + hits[r][0]) <= tol
            ok = ok and x["ids"] == records[i]
        check(ok, f"{name} N{n}: neuron --atlas {[(x['index'], x['position'], x['activation']) for x in res]} is not "
                  f"the reference's top {k} {[(i, p, -a) for a, i, p in hits]}")


def tiny(binary, tmp):
    rng = random.Random(14)
    for cfg, experts in (("llama_mha", None), ("mixtral", 1)):
        model = make_checkpoint.write_checkpoint(os.path.join(tmp, cfg), cfg)
        ck = ref.open_checkpoint(model)
        V = ck.cfg.vocab
        records = [[rng.randrange(V) for _ in range(rng.randint(2, 12))] for _ in range(40)]
        for src, dst in ((3, 17), (8, 30), (11, 2)):  # exact duplicates: ties go to the lower index
            records[dst] = list(records[src])
        data = os.path.join(tmp, cfg + ".jsonl")
        with open(data, "w") as f:
            for i, ids in enumerate(records):
                f.write(json.dumps({"ids": ids}) + "\n")
                if i == 5:
                    f.write("\n")  # blank lines are skipped, not counted
        for layer, neuron in ((0, 3), (ck.cfg.layers - 1, ck.cfg.inter - 1), (1, 7)):
            compare(binary, model, ck, data, records, layer, neuron, 5, expert=experts)
        compare(binary, model, ck, data, records, 1, 5, 40, expert=experts)  # K = every record
        atlas(binary, model, ck, data, records, 1, 4, experts, tmp)
        if experts is None:
            compare(binary, model, ck, data, records, 0, 11, 4, method="cplrp")
            # --window cuts JSONL records to their first T tokens
            compare(binary, model, ck, data, [r[:4] for r in records], 1, 2, 6, extra=("--window", "4"))


def text(binary, model, path, window, layer, neuron, k, scan_args=()):
    ck = ref.open_checkpoint(model)
    body = json.loads(run(binary, "tokenize", "--model", model, "--no-special", "--format", "json",
                    open(path, encoding="utf-8").read()))["ids"]
    with_sp = json.loads(run(binary, "tokenize", "--model", model, "--format", "json", "a"))["ids"]
    plain = json.loads(run(binary, "tokenize", "--model", model, "--no-special", "--format", "json", "a"))["ids"]
    bos = with_sp[:with_sp.index(plain[0])]  # the leading special tokens
    n = window - len(bos)
    records = [bos + body[i:i + n] for i in range(0, len(body), n)]
    compare(binary, model, ck, path, records, layer, neuron, k, extra=("--window", str(window), *scan_args))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--dir")
    ap.add_argument("--model")
    ap.add_argument("--text")
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--layer", type=int, default=0)
    ap.add_argument("--neuron", type=int, default=0)
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--scan-args", default="", help="more scan options for --text, e.g. '--jobs 2'")
    a = ap.parse_args()
    torch.set_default_dtype(torch.float64)
    try:
        if a.dir:
            tiny(a.bin, a.dir)
        if a.text:
            text(a.bin, a.model, a.text, a.window, a.layer, a.neuron, a.top, tuple(a.scan_args.split()))
    except Exception as exc:  # noqa: BLE001
        check(False, f"{type(exc).__name__}: {exc}")
    return T.report()


if __name__ == "__main__":
    sys.exit(main())
