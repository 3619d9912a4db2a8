"""Reading the shipped models' weight files for the independent NumPy checks (check_sentiment.py,
check_vit.py, check_t5facts.py). Written apart from tools/model_files.py, the training scripts' writer,
so that a bug in one is not mirrored by the other."""

import json
import struct

import numpy as np


def read_safetensors(path, dtype=np.float32):
    """{name: array of dtype} from a float32 safetensors file (the header's __metadata__ is skipped)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        assert h["dtype"] == "F32", (name, h["dtype"])
        s, e = h["data_offsets"]
        out[name] = np.frombuffer(raw[base + s:base + e], dtype="<f4").reshape(h["shape"]).astype(dtype)
    return out
