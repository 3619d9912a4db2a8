#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer harnesses (fuzz/fuzz_*.c), one folder per harness:

    make_seeds.py OUTDIR

Seeds come from the shipped models and data (config.json, tokenizer.json, eval JSONL), the test suite's
generated checkpoints (tests/reference/make_checkpoint.py: every family's config.json and
model.safetensors, shards and index; gguf_twin.py: their GGUF twins), small GGUF files with embedded
tokenizers written here, and small PNG/JPEG/NPY images (PIL, NumPy). Nothing here is committed: seeds are
generated on demand into build-fuzz/seeds (make fuzz-seeds).
"""
import glob
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PY = sys.executable


def put(outdir, harness, name, data):
    d = os.path.join(outdir, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---- GGUF with embedded tokenizers ---------------------------------------------------------------

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)


def g_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def g_value(typ, val):
    if typ == STR:
        return g_str(val)
    if typ == ARR:
        elem, items = val
        out = struct.pack("<IQ", elem, len(items))
        return out + b"".join(g_value(elem, v) for v in items)
    fmt = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?", U64: "<Q",
           I64: "<q", F64: "<d"}[typ]
    return struct.pack(fmt, val)


def gguf(meta, tensors, version=3, align=32):
    """tensors: (name, ggml type, dims innermost first, raw bytes)."""
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(meta))
    for key, typ, val in meta:
        head += g_str(key) + struct.pack("<I", typ) + g_value(typ, val)
    blobs, offset = [], 0
    for name, typ, dims, raw in tensors:
        head += g_str(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        head += struct.pack("<IQ", typ, offset)
        blobs.append(raw + b"\0" * (-len(raw) % align))
        offset += len(blobs[-1])
    head += b"\0" * (-len(head) % align)
    return head + b"".join(blobs)


def llama_vocab():
    toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    toks += ["\u2581", "\u2581a", "\u2581the", "\u2581Once", "\u2581upon", "\u2581time", "on", "ce", "\u2581t", "e"]
    types = [2, 3, 3] + [6] * 256 + [1] * 10
    scores = [0.0, 0.0, 0.0] + [0.0] * 256 + [-float(i) for i in range(10)]
    return toks, types, scores


def tiny_model_meta(arch, vocab):
    return [("general.architecture", STR, arch), (f"{arch}.context_length", U32, 64),
            (f"{arch}.embedding_length", U32, 8), (f"{arch}.feed_forward_length", U32, 16),
            (f"{arch}.block_count", U32, 1), (f"{arch}.attention.head_count", U32, 2),
            (f"{arch}.attention.head_count_kv", U32, 1), (f"{arch}.attention.layer_norm_rms_epsilon", F32, 1e-5),
            (f"{arch}.rope.freq_base", F32, 10000.0), (f"{arch}.vocab_size", U32, vocab)]


def gguf_seeds(outdir, ckpt):
    toks, types, scores = llama_vocab()
    emb = np.zeros((len(toks), 8), "<f4").tobytes()
    q8 = (struct.pack("<e", 0.5) + bytes(range(32))) * 2  # two Q8_0 blocks: a [64] row
    f16 = np.arange(8, dtype="<f2").tobytes()
    tensors = [("token_embd.weight", 0, [8, len(toks)], emb), ("blk.0.ffn_up.weight", 8, [64, 1], q8),
               ("output_norm.weight", 1, [8], f16)]
    llama_tok = [("tokenizer.ggml.model", STR, "llama"), ("tokenizer.ggml.tokens", ARR, (STR, toks)),
                 ("tokenizer.ggml.scores", ARR, (F32, scores)), ("tokenizer.ggml.token_type", ARR, (I32, types)),
                 ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.eos_token_id", U32, 2),
                 ("tokenizer.ggml.unknown_token_id", U32, 0), ("tokenizer.ggml.add_bos_token", BOOL, True)]
    put(outdir, "fuzz_gguf", "llama_tokenizer.gguf", gguf(tiny_model_meta("llama", len(toks)) + llama_tok, tensors))
    put(outdir, "fuzz_gguf", "llama_tokenizer_v2.gguf",
        gguf(tiny_model_meta("llama", len(toks)) + llama_tok, tensors, version=2))
    bpe = [chr(c) for c in range(33, 127)] + ["\u0120", "\u0120t", "he", "\u0120the", "in"]
    gpt2_tok = [("tokenizer.ggml.model", STR, "gpt2"), ("tokenizer.ggml.pre", STR, "default"),
                ("tokenizer.ggml.tokens", ARR, (STR, bpe)), ("tokenizer.ggml.token_type", ARR, (I32, [1] * len(bpe))),
                ("tokenizer.ggml.merges", ARR, (STR, ["\u0120 t", "h e", "\u0120t he", "i n"])),
                ("tokenizer.ggml.bos_token_id", U32, 0), ("general.alignment", U32, 64),
                ("general.name", STR, "seed"), ("nested", ARR, (ARR, [(U8, [1, 2]), (STR, ["x"])])),
                ("numbers", ARR, (F64, [1.5, -2.0])), ("i64", I64, -5), ("u16", U16, 7), ("i8", I8, -1)]
    emb2 = np.zeros((len(bpe), 8), "<f4").tobytes()
    put(outdir, "fuzz_gguf", "gpt2_tokenizer.gguf",
        gguf(tiny_model_meta("gpt2", len(bpe)) + gpt2_tok, [("token_embd.weight", 0, [8, len(bpe)], emb2)], align=64))
    put(outdir, "fuzz_gguf", "empty.gguf", gguf([], []))
    # The twins of the generated checkpoints (tests/reference/gguf_twin.py).
    for name in ("gpt2", "llama_mha", "phi", "gemma2"):
        out = os.path.join(ckpt, name + ".gguf")
        if subprocess.call([PY, os.path.join(ROOT, "tests/reference/gguf_twin.py"), os.path.join(ckpt, name), out],
                           stdout=subprocess.DEVNULL) == 0:
            put(outdir, "fuzz_gguf", name + ".gguf", read(out))
    # A real model's header: metadata, vocabulary and tensor infos (its data cut off).
    for path in glob.glob(os.path.join(ROOT, "../shared/models/*/*.gguf"))[:1]:
        put(outdir, "fuzz_gguf", "real_head.gguf", read(path)[:48 << 10])


# ---- safetensors and config.json -------------------------------------------------------------------

def st_file(entries, meta=None):
    """entries: (name, dtype, shape, raw bytes), laid out in order."""
    header, off, data = {}, 0, b""
    if meta is not None:
        header["__metadata__"] = meta
    for name, dt, shape, raw in entries:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        data += raw
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def checkpoint_seeds(outdir, ckpt):
    for cfg in sorted(glob.glob(os.path.join(ckpt, "*/config.json"))):
        name = os.path.basename(os.path.dirname(cfg))
        put(outdir, "fuzz_config", name + ".json", read(cfg))
        pre = os.path.join(os.path.dirname(cfg), "preprocessor_config.json")
        if os.path.exists(pre):
            put(outdir, "fuzz_config", name + "_preprocessor.json", read(pre))
        for st in sorted(glob.glob(os.path.join(os.path.dirname(cfg), "*.safetensors"))):
            if os.path.getsize(st) <= 90000:
                put(outdir, "fuzz_safetensors", name + "_" + os.path.basename(st), read(st))
    for cfg in glob.glob(os.path.join(ROOT, "models/*/*config.json")) + glob.glob(
            os.path.join(ROOT, "../shared/models/*/config.json")):
        put(outdir, "fuzz_config", "shipped_" + cfg.split("/")[-2] + "_" + os.path.basename(cfg), read(cfg))
    f = lambda n: np.arange(n, dtype="<f4").tobytes()
    put(outdir, "fuzz_safetensors", "small.safetensors",
        st_file([("a.weight", "F32", [2, 3], f(6)), ("b", "F16", [4], np.ones(4, "<f2").tobytes()),
                 ("c", "BF16", [1, 2], b"\x80\x3f\x00\x40"), ("ids", "I64", [2], struct.pack("<qq", 0, 1)),
                 ("mask", "BOOL", [3], b"\x01\x00\x01"), ("e", "F32", [0], b"")],
                meta={"format": "pt", "lm_head.weight": "a.weight"}))
    put(outdir, "fuzz_safetensors", "empty_header.safetensors", struct.pack("<Q", 8) + b"{}      ")
    # The index harness's shards hold "a.weight" and "b.weight" (fuzz_safetensors_index.c).
    s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    idx = lambda wm: json.dumps({"metadata": {"total_size": 8}, "weight_map": wm})
    put(outdir, "fuzz_safetensors_index", "ok.json", idx({"a.weight": s1, "b.weight": s2}))
    put(outdir, "fuzz_safetensors_index", "wrong_shard.json", idx({"a.weight": s2, "b.weight": s1}))
    put(outdir, "fuzz_safetensors_index", "one.json", idx({"a.weight": s1}))
    put(outdir, "fuzz_safetensors_index", "escape.json", idx({"a.weight": "../" + s1}))
    real = glob.glob(os.path.join(ckpt, "*/model.safetensors.index.json"))
    for p in real[:1]:
        put(outdir, "fuzz_safetensors_index", "generated.json", read(p))


# ---- tokenizers -----------------------------------------------------------------------------------------

def tokenizer_seeds(outdir):
    files = glob.glob(os.path.join(ROOT, "models/*/tokenizer.json")) + glob.glob(
        os.path.join(ROOT, "tests/tokenizer/*/tokenizer.json")) + glob.glob(
        os.path.join(ROOT, "tests/tokenizer/pairs/*/tokenizer.json"))
    for p in sorted(files):
        if os.path.getsize(p) > 60000:
            continue
        name = p.split("/")[-2]
        data = read(p)
        cfg = os.path.join(os.path.dirname(p), "tokenizer_config.json")
        if os.path.exists(cfg):
            data += b"\0" + read(cfg)
        put(outdir, "fuzz_tokenizer_json", name + ".json", data)
    with open(os.path.join(ROOT, "tests/tokenizer/inputs.json")) as f:
        inputs = json.load(f)
    for i, text in enumerate(inputs[:200:4]):
        put(outdir, "fuzz_tokenize", "text%03d" % i, bytes([i % 256]) + text.encode())
    put(outdir, "fuzz_tokenize", "pair", b"\x05What is it?\0It is a pair.")
    put(outdir, "fuzz_tokenize", "invalid_utf8", b"\x01abc\xff\xfe\xc3")


# ---- images ---------------------------------------------------------------------------------------------

def npy(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def image_seeds(outdir):
    from PIL import Image
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (9, 7, 3), dtype=np.uint8), "RGB")
    gray = rgb.convert("L")
    seeds = {}
    for fmt, kw in (("PNG", {}), ("JPEG", {"quality": 80}), ("JPEG", {"progressive": True})):
        for name, im in (("rgb", rgb), ("gray", gray), ("rgba", rgb.convert("RGBA")), ("p", rgb.convert("P")),
                         ("la", gray.convert("LA")), ("cmyk", rgb.convert("CMYK")), ("1", gray.convert("1"))):
            if fmt == "JPEG" and name in ("rgba", "p", "la", "1"):
                continue
            if fmt == "PNG" and name == "cmyk":
                continue
            b = io.BytesIO()
            im.save(b, fmt, **kw)
            seeds["%s_%s%s.img" % (name, fmt.lower(), "_prog" if kw.get("progressive") else "")] = b.getvalue()
    b = io.BytesIO()
    Image.fromarray((rng.integers(0, 65536, (5, 4))).astype(np.uint16)).save(b, "PNG")
    seeds["gray16_png.img"] = b.getvalue()
    b = io.BytesIO()
    rgb.save(b, "PNG", optimize=True)
    seeds["rgb_opt_png.img"] = b.getvalue()
    for name, data in seeds.items():
        put(outdir, "fuzz_image", name, bytes([2, 27, 27, 2]) + data)
    fashion = sorted(glob.glob(os.path.join(ROOT, "data/fashion/*.png")))[:2]
    for p in fashion:
        put(outdir, "fuzz_image", "fashion_" + os.path.basename(p), bytes([0, 15, 15, 3]) + read(p))
    put(outdir, "fuzz_image", "f32.npy", bytes([1, 0, 0, 0]) + npy(rng.standard_normal((1, 4, 4)).astype("<f4")))
    put(outdir, "fuzz_image", "f64be.npy", bytes([1, 0, 0, 0]) + npy(rng.standard_normal((3, 2, 2)).astype(">f8")))
    put(outdir, "fuzz_image", "f32_fortran.npy",
        bytes([1, 0, 0, 0]) + npy(np.asfortranarray(rng.standard_normal((2, 3)).astype("<f4"))))


# ---- eval records and command lines -------------------------------------------------------------------

def eval_seeds(outdir):
    for p in sorted(glob.glob(os.path.join(ROOT, "data/*.jsonl"))):
        lines = read(p).splitlines(keepends=True)[:4]
        put(outdir, "fuzz_eval_record", os.path.basename(p), b"\x01" + b"".join(lines))
    put(outdir, "fuzz_eval_record", "pair_crlf.jsonl",
        b'\x02{"text": "a\\u00e9b", "text_pair": "x", "answer_span": [1, 2], "target": "b"}\r\n\r\n{"text": ""}\n')
    put(outdir, "fuzz_eval_record", "image.jsonl", b'\x00{"image": "x.png", "label": "Bag"}\n{"image": 3}\n')


def batch_seeds(outdir):
    # One record per seed (the first byte: default set 0..3, fields dropped 0..3), as batch reads them.
    for p in sorted(glob.glob(os.path.join(ROOT, "data/*.jsonl"))):
        line = read(p).splitlines()[0]
        put(outdir, "fuzz_batch_record", os.path.basename(p), b"\x00" + line)
    records = [
        (1, '{"id": "r1", "text": "Julia speaks", "target": " Italian", "method": "cplrp", "layers": true}'),
        (2, '{"id": 7, "ids": [1, 5, 7], "answer_ids": [3, 4], "set": ["0:1=0", "1:2=*0.5"], "all_logits": true}'),
        (3, '{"text": "x", "latent_start": "0:3", "latent_layer": 1, "score": "prob", "position": -1}'),
        (5, '{"text": "a b", "target_id": 42, "contrast": " c", "aggregate": "word", "normalize": "max"}'),
        (9, '{"image": "x.png", "label": "Bag", "gamma": "0.25,0.05", "method": "ig", "steps": 8,'
            ' "quadrature": "gauss-legendre"}'),
        (13, '{"text": "t", "decoder_text": "d", "method": "smoothgrad", "samples": 3, "noise": 0.1, "seed": 5,'
             ' "per_position": false, "chat": null, "softmax_rule": "identity", "set_head": "0:1=0"}'),
        (0, '{"id": null, "text_pair": "q", "token_type_ids": [0, 1], "attention_mask": [1, 1], "heads": true}'),
    ]
    for i, (b, rec) in enumerate(records):
        put(outdir, "fuzz_batch_record", "record%02d" % i, bytes([b]) + rec.encode())


def args_seeds(outdir):
    lines = [
        (0, ["--ids", "1,5,7", "--method", "attnlrp", "--format", "json", "-o", "x.json"]),
        (0, ["hello", "--target", " x", "--latent-layer", "1", "--per-position", "--set", "0:3=*2"]),
        (0, ["--pixels", "x.png", "--format", "png", "-o", "o.png", "--overlay", "--patches"]),
        (0, ["--format=html", "--set-head", "1:2=0", "--gamma", "0.25,0.05", "--steps", "8", "--", "-text"]),
        (0, ["t", "--answer", "a", "--score", "logprob", "--aggregate", "word", "--normalize", "max",
             "--color", "never", "--method", "ig", "--quadrature", "gauss-legendre", "--samples", "3"]),
        (1, ["--data", "d.jsonl", "--methods", "attnlrp,random", "--limit", "3", "--seed", "7", "--on-bad", "fail",
             "--plot", "p.svg", "--span-field", "fact_span", "--ig-steps", "4", "--softmax-rule", "identity"]),
        (1, ["--images", "dir", "--methods=all", "--format", "json", "--gamma=1,2", "--steps", "10"]),
    ]
    for i, (cmd, argv) in enumerate(lines):
        put(outdir, "fuzz_args", "argv%02d" % i, bytes([cmd]) + b"\0".join(a.encode() for a in argv))


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip())
        return 2
    outdir = argv[1]
    shutil.rmtree(outdir, ignore_errors=True)
    ckpt = tempfile.mkdtemp(prefix="attnlrp-seeds-")
    try:
        subprocess.check_call([PY, os.path.join(ROOT, "tests/reference/make_checkpoint.py"), ckpt],
                              stdout=subprocess.DEVNULL)
        checkpoint_seeds(outdir, ckpt)
        gguf_seeds(outdir, ckpt)
    finally:
        shutil.rmtree(ckpt, ignore_errors=True)
    tokenizer_seeds(outdir)
    image_seeds(outdir)
    eval_seeds(outdir)
    batch_seeds(outdir)
    args_seeds(outdir)
    for h in sorted(os.listdir(outdir)):
        print("%-24s %3d seeds" % (h, len(os.listdir(os.path.join(outdir, h)))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
