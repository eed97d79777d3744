#!/usr/bin/python3
"""The modern recipe in PyTorch, to show that its curve is the network's (run by hand):

    /usr/bin/python3 tools/pytorch_modern.py [--seeds 0 1 2] [--epochs 30] [--out FILE.json]

The same settings as `deno task train --recipe modern` (lib/train/recipe.ts): LeNet-5 with ReLU
and max pooling; AdamW(lr 3e-3, weight_decay 0.05) with OneCycleLR stepped every batch (no
momentum cycling); CrossEntropyLoss(label_smoothing=0.1); batches of 256; with `--augment
crop,flip`, training images padded by 2 and randomly cropped back to 28x28, then flipped
horizontally with probability 0.5 (as torchvision's RandomCrop and RandomHorizontalFlip, written
with tensors: Debian has no torchvision); 5,000 training images held out for validation; the epoch of the best validation
accuracy is kept and the test split measured once, on it. Prints one line per epoch and writes
a JSON summary per seed.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn

from pytorch_interop import lenet, split


def augment(x, generator):
    """RandomCrop(28, padding=2) then RandomHorizontalFlip(), per image."""
    n = x.shape[0]
    padded = F.pad(x, (2, 2, 2, 2))
    dy = torch.randint(0, 5, (n,), generator=generator)
    dx = torch.randint(0, 5, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    out = torch.empty_like(x)
    for oy in range(5):  # one slice per crop offset, for the images that drew it
        for ox in range(5):
            sel = (dy == oy) & (dx == ox)
            out[sel] = padded[sel, :, oy:oy + 28, ox:ox + 28]
    out[flip] = out[flip].flip(-1)
    return out


def evaluate(net, x, y):
    with torch.no_grad():
        logits = torch.cat([net(x[i:i + 1000]) for i in range(0, len(x), 1000)])
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def run(seed, epochs, augmenting):
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    x, y = split("train")
    order = torch.randperm(len(x), generator=generator)
    val_x, val_y, tr_x, tr_y = x[order[:5000]], y[order[:5000]], x[order[5000:]], y[order[5000:]]
    test_x, test_y = split("t10k")
    net = lenet("relu", "max")
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=0.05)
    steps = (len(tr_x) + 255) // 256
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * steps,
                                                cycle_momentum=False)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    best, history, start = None, [], time.time()
    for epoch in range(1, epochs + 1):
        net.train()
        perm = torch.randperm(len(tr_x), generator=generator)
        for i in range(0, len(tr_x), 256):
            batch = perm[i:i + 256]
            opt.zero_grad()
            inputs = augment(tr_x[batch], generator) if augmenting else tr_x[batch]
            criterion(net(inputs), tr_y[batch]).backward()
            opt.step()
            sched.step()
        net.eval()
        val_loss, val_acc = evaluate(net, val_x, val_y)
        history.append({"epoch": epoch, "val_loss": val_loss, "val_accuracy": val_acc,
                        "seconds": time.time() - start})
        print(f"seed {seed} epoch {epoch}: validation accuracy {val_acc:.4f}", flush=True)
        if best is None or val_acc > best["val_accuracy"]:
            best = {"epoch": epoch, "val_accuracy": val_acc,
                    "state": {k: v.clone() for k, v in net.state_dict().items()}}
    net.load_state_dict(best["state"])
    test_loss, test_acc = evaluate(net, test_x, test_y)
    print(f"seed {seed}: selected epoch {best['epoch']} (validation {best['val_accuracy']:.4f}),"
          f" test accuracy {test_acc:.4f}, {time.time() - start:.0f} s", flush=True)
    return {"seed": seed, "epochs": history, "selected_epoch": best["epoch"],
            "val_accuracy": best["val_accuracy"], "test_accuracy": test_acc,
            "test_loss": test_loss, "seconds": time.time() - start}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default="pytorch_modern.json")
    parser.add_argument("--augment", choices=["none", "crop,flip"], default="none",
                        help="as --augment of deno task train (the recipe's default: none)")
    args = parser.parse_args()
    results = [run(seed, args.epochs, args.augment != "none") for seed in args.seeds]
    with open(args.out, "w") as f:
        json.dump({"torch": torch.__version__, "runs": results}, f, indent=1)


if __name__ == "__main__":
    main()
