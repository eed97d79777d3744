#!/usr/bin/python3
"""The reference program's training loop in PyTorch, timed (run by tools/compare_pytorch.sh):
the committed Fashion-MNIST, pixels/255, shuffled batches of 256 through a DataLoader without
workers, Adam 1e-3, cross-entropy, the loss read every 100 steps. Prints one JSON line with the
training images per second of one epoch and the seconds to evaluate the 10,000 test images.

    /usr/bin/python3 tools/pytorch_speed.py [--act relu --pool max] [--steps N]
"""
import argparse
import json
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pytorch_interop import lenet, split


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--act", choices=["sigmoid", "relu"], default="sigmoid")
    ap.add_argument("--pool", choices=["avg", "max"], default="avg")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=0, help="stop after N steps (default: one epoch)")
    args = ap.parse_args()
    torch.manual_seed(0)
    x, y = split("train")
    tx, ty = split("t10k")
    loader = DataLoader(TensorDataset(x, y), batch_size=args.batch_size, shuffle=True, num_workers=0)
    net = lenet(args.act, args.pool)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    images, t0 = 0, time.perf_counter()
    for step, (xb, yb) in enumerate(loader, 1):
        opt.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
        images += len(xb)
        if step % 100 == 0:
            loss.item()
        if step == args.steps:
            break
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(tx), args.batch_size):
            net(tx[i:i + args.batch_size]).argmax(1)
    eval_s = time.perf_counter() - t0
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "train_images_per_second": images / train_s,
        "eval_seconds": eval_s,
    }))


if __name__ == "__main__":
    main()
