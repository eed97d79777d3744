#!/usr/bin/python3
"""Checks weights both ways between this project and PyTorch (run by hand with Debian's torch):

    /usr/bin/python3 tools/pytorch_interop.py eval model.safetensors [--act relu --pool max] [--csv F]
        loads a checkpoint (this project's) into the reference nn.Sequential and reports the test
        accuracy and loss PyTorch computes; --csv writes its per-image predictions and logits.
    /usr/bin/python3 tools/pytorch_interop.py train out.safetensors [--act relu --pool max] [--epochs N]
        trains the reference network in PyTorch and saves its state_dict as safetensors, for
        `deno task eval --checkpoint out.safetensors`.
    /usr/bin/python3 tools/pytorch_interop.py compare a.csv b.csv
        compares two prediction files (`deno task eval --predictions`, or --csv above).

Debian has no safetensors package, so the format is read and written here by hand.
"""
import argparse
import csv
import gzip
import json
import os
import struct

import numpy as np
import torch
from torch import nn

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "fashion-mnist")


def read_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def split(prefix):
    x = torch.from_numpy(read_idx(f"{prefix}-images-idx3-ubyte.gz").astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(read_idx(f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64))


def lenet(act, pool):
    A = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}[act]
    P = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}[pool]
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), A(), P(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), A(), P(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), A(), nn.Linear(120, 84), A(), nn.Linear(84, 10))


def _pair(v):
    return tuple(v) if isinstance(v, list) else v


def build_from_description(desc):
    """The nn.Sequential of a network description (lib/nn/network.ts's JSON), default-initialised."""
    def layer(d):
        kind, args = d["type"], {k: _pair(v) for k, v in d.items() if k != "type"}
        if kind == "Sequential":
            return nn.Sequential(*[layer(x) for x in d["layers"]])
        return getattr(nn, kind)(**args)
    return nn.Sequential(*[layer(d) for d in desc["layers"]])


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", f"{name}: {e['dtype']}"
        a, b = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(e["shape"]).copy())
    return out, meta


def save_safetensors(path, tensors, meta):
    header, offset, blobs = {"__metadata__": meta}, 0, []
    for name, t in tensors.items():
        # int64 stays int64, as PyTorch's own files keep num_batches_tracked; the rest is float32.
        dtype, np_dtype = ("I64", "<i8") if t.dtype == torch.int64 else ("F32", "<f4")
        b = np.ascontiguousarray(t.detach().numpy(), dtype=np_dtype).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(path + ".tmp", path)


def evaluate(net, csv_path=None):
    x, y = split("t10k")
    with torch.no_grad():
        logits = torch.cat([net(x[i:i + 1000]) for i in range(0, len(x), 1000)])
    loss = nn.CrossEntropyLoss()(logits, y).item()
    pred = logits.argmax(dim=1)
    if csv_path:
        with open(csv_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["index", "label", "predicted"] + [f"logit_{k}" for k in range(10)])
            for i in range(len(y)):
                w.writerow([i, int(y[i]), int(pred[i])] + [f"{v:.9g}" for v in logits[i].tolist()])
    return (pred == y).float().mean().item(), loss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["eval", "train", "compare"])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--act", default=None)
    ap.add_argument("--pool", default=None)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--csv", default=None)
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.command == "compare":
        a, b = ([row for row in csv.DictReader(open(f))] for f in args.files)
        same = sum(r["predicted"] == s["predicted"] for r, s in zip(a, b))
        diff = max(abs(float(r[f"logit_{k}"]) - float(s[f"logit_{k}"])) for r, s in zip(a, b) for k in range(10))
        print(f"{len(a)} images: same predicted class for {same}, max logit difference {diff:.3g}")
        return
    if args.command == "eval":
        tensors, meta = load_safetensors(args.files[0])
        net = lenet(args.act or meta.get("activation", "sigmoid"), args.pool or meta.get("pool", "avg"))
        net.load_state_dict(tensors)
        acc, loss = evaluate(net, args.csv)
        print(json.dumps({"test_accuracy": acc, "test_loss": loss}))
        return
    torch.manual_seed(args.seed)
    act, pool = args.act or "relu", args.pool or "max"
    net = lenet(act, pool)
    x, y = split("train")
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(args.epochs):
        for idx in torch.randperm(len(x)).split(256):
            opt.zero_grad()
            nn.CrossEntropyLoss()(net(x[idx]), y[idx]).backward()
            opt.step()
    acc, loss = evaluate(net, args.csv)
    save_safetensors(args.files[0], net.state_dict(), {"activation": act, "pool": pool, "producer": "pytorch"})
    print(json.dumps({"test_accuracy": acc, "test_loss": loss}))


if __name__ == "__main__":
    main()
