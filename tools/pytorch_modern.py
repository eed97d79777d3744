#!/usr/bin/python3
"""The modern recipe in PyTorch, to show that its curve is the network's (run by hand):

    /usr/bin/python3 tools/pytorch_modern.py [--seeds 0 1 2] [--epochs 30] [--out FILE.json]
        [--batch-size N] [--lr X] [--weight-decay X] [--label-smoothing X]
        [--augment none|flip|crop,flip] [--dropout P] [--threads N]

The same settings as `deno task train --recipe modern` (lib/train/recipe.ts; the flags try
others): LeNet-5 with ReLU and max pooling; AdamW(lr 5e-3, weight_decay 0.2) with OneCycleLR
stepped every batch (no momentum cycling); CrossEntropyLoss(label_smoothing=0.1); batches of 128;
with `--augment`, training images padded by 2 and randomly cropped back to 28x28 ("crop"), and
flipped horizontally with probability 0.5 ("flip"), as torchvision's RandomCrop and
RandomHorizontalFlip, written with tensors (Debian has no torchvision); 5,000 training images held
out for validation; the epoch of the best validation accuracy is kept and the test split measured
once, on it. Prints one line per epoch and writes a JSON summary per seed.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn

from pytorch_interop import lenet, split


RECIPE = {"batch_size": 128, "lr": 5e-3, "weight_decay": 0.2, "label_smoothing": 0.1,
          "augment": "none"}


def augment(x, generator, kinds):
    """RandomCrop(28, padding=2) (with "crop"), then RandomHorizontalFlip() (with "flip"), per image."""
    n = x.shape[0]
    out = x
    if "crop" in kinds:
        padded = F.pad(x, (2, 2, 2, 2))
        dy = torch.randint(0, 5, (n,), generator=generator)
        dx = torch.randint(0, 5, (n,), generator=generator)
        out = torch.empty_like(x)
        for oy in range(5):  # one slice per crop offset, for the images that drew it
            for ox in range(5):
                sel = (dy == oy) & (dx == ox)
                out[sel] = padded[sel, :, oy:oy + 28, ox:ox + 28]
    if "flip" in kinds:
        flip = torch.rand(n, generator=generator) < 0.5
        out = out.clone()
        out[flip] = out[flip].flip(-1)
    return out


def evaluate(net, x, y):
    with torch.no_grad():
        logits = torch.cat([net(x[i:i + 1000]) for i in range(0, len(x), 1000)])
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def run(seed, args):
    epochs, batch = args.epochs, args.batch_size
    kinds = [] if args.augment == "none" else args.augment.split(",")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    x, y = split("train")
    order = torch.randperm(len(x), generator=generator)
    val_x, val_y, tr_x, tr_y = x[order[:5000]], y[order[:5000]], x[order[5000:]], y[order[5000:]]
    test_x, test_y = split("t10k")
    net = lenet("relu", "max")
    if args.dropout:  # before each fully-connected layer, as tried (it lost: see the README)
        net = nn.Sequential(*[m for layer in net for m in (
            [nn.Dropout(args.dropout), layer] if isinstance(layer, nn.Linear) else [layer])])
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps = (len(tr_x) + batch - 1) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=epochs * steps,
                                                cycle_momentum=False)
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    best, history, start = None, [], time.time()
    for epoch in range(1, epochs + 1):
        net.train()
        perm = torch.randperm(len(tr_x), generator=generator)
        for i in range(0, len(tr_x), batch):
            rows = perm[i:i + batch]
            opt.zero_grad()
            inputs = augment(tr_x[rows], generator, kinds) if kinds else tr_x[rows]
            criterion(net(inputs), tr_y[rows]).backward()
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
    # The recipe's settings (lib/train/recipe.ts), each a flag to try others with.
    parser.add_argument("--batch-size", type=int, default=RECIPE["batch_size"])
    parser.add_argument("--lr", type=float, default=RECIPE["lr"])
    parser.add_argument("--weight-decay", type=float, default=RECIPE["weight_decay"])
    parser.add_argument("--label-smoothing", type=float, default=RECIPE["label_smoothing"])
    parser.add_argument("--augment", choices=["none", "flip", "crop,flip"], default=RECIPE["augment"],
                        help="as --augment of deno task train")
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="dropout before each fully-connected layer (not in the recipe)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    results = [run(seed, args) for seed in args.seeds]
    with open(args.out, "w") as f:
        json.dump({"torch": torch.__version__, "runs": results}, f, indent=1)


if __name__ == "__main__":
    main()
