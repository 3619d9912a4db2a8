"""Writing the shipped models' weight files, shared by the training scripts (train_default.py,
train_sentiment.py, train_t5facts.py)."""

import json
import os
import struct


def write_safetensors(path, tensors):
    """safetensors: u64 little-endian header length, JSON header {name: {dtype, shape,
    data_offsets}}, then the raw little-endian float32 data. The header is padded with spaces to a
    multiple of 8 so the data is aligned. Written to a temporary file and renamed into place."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
