#!/usr/bin/python3
"""The modern recipe in PyTorch, to show that its curve is the network's (run by hand):

    /usr/bin/python3 tools/pytorch_modern.py [--seeds 0 1 2] [--epochs 30] [--out FILE.json]
        [--batch-size N] [--lr X] [--weight-decay X] [--label-smoothing X]
        [--augment none|flip|crop,flip|erase|flip,erase] [--dropout P] [--threads N]
        [--validation N] [--ema D ...] [--tta] [--mixup A] [--normalize]
        [--optimizer adamw|sgd] [--momentum M] [--sam RHO] [--init torch|he]
        [--inputs FILE] [--double] [--log-every N]

The same settings as `deno task train --recipe modern` (lib/train/recipe.ts; the flags try
others): LeNet-5 with ReLU and max pooling; AdamW(lr 5e-3, weight_decay 0.2) with OneCycleLR
stepped every batch (no momentum cycling); CrossEntropyLoss(label_smoothing=0.1); batches of 128;
with `--augment`, training images padded by 2 and randomly cropped back to 28x28 ("crop"), and
flipped horizontally with probability 0.5 ("flip"), as torchvision's RandomCrop and
RandomHorizontalFlip, written with tensors (Debian has no torchvision); 5,000 training images held
out for validation; the epoch of the best validation accuracy is kept and the test split measured
once, on it. Prints one line per epoch and writes a JSON summary per seed.

Ideas tried beyond the recipe, each measured on its own selection (README, "A modern recipe"):
`--ema D` keeps an exponential moving average of the weights (decay D per step, several at once) and
selects and tests it as another model; `--tta` also measures every model on the mean of the logits of
each image and its mirror; `--mixup A` mixes pairs of training images with Beta(A, A) weights;
`--normalize` standardises inputs with the training split's mean and deviation; `erase` is
torchvision's RandomErasing(p 0.5, scale 0.02-0.33, ratio 0.3-3.3, value 0); `--optimizer sgd` is
SGD with Nesterov momentum; `--sam RHO` is sharpness-aware minimisation (each step's gradient taken
at w + RHO * g / |g|); `--init he` draws kaiming_uniform_ weights for ReLU and zero biases.

Same inputs as a run of this project: `--inputs FILE` (written by `tools/twin_inputs.ts` for a
seed) replaces this script's own draws (initial weights, validation rows, every epoch's batch
order) by the project's, so that only the arithmetic differs; `--double` computes in float64 and
`--log-every N` prints the mean training loss every N steps, to set beside `deno task train
--recipe modern --seed S --log-every N`.
"""
import copy
import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn

from pytorch_interop import lenet, load_safetensors, split


RECIPE = {"batch_size": 128, "lr": 5e-3, "weight_decay": 0.2, "label_smoothing": 0.1,
          "augment": "none", "validation": 5000}


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
    if "erase" in kinds:
        out = erase(out, generator)
    if "flip" in kinds:
        flip = torch.rand(n, generator=generator) < 0.5
        out = out.clone()
        out[flip] = out[flip].flip(-1)
    return out


def erase(x, generator):
    """RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0), one rectangle per image."""
    out = x.clone()
    for i in range(x.shape[0]):
        if torch.rand(1, generator=generator).item() >= 0.5:
            continue
        for _ in range(10):
            area = 784 * (0.02 + 0.31 * torch.rand(1, generator=generator).item())
            ratio = float(torch.exp(torch.empty(1).uniform_(-1.204, 1.194, generator=generator)))
            h, w = int(round((area * ratio) ** 0.5)), int(round((area / ratio) ** 0.5))
            if h < 28 and w < 28:
                top = int(torch.randint(0, 28 - h + 1, (1,), generator=generator))
                left = int(torch.randint(0, 28 - w + 1, (1,), generator=generator))
                out[i, :, top:top + h, left:left + w] = 0
                break
    return out


def sam_second_pass(net, criterion, inputs, labels, rho):
    """Sharpness-aware minimisation: the gradient at w + rho * g / |g| replaces g (w is restored)."""
    params = [p for p in net.parameters() if p.grad is not None]
    with torch.no_grad():
        norm = torch.norm(torch.stack([p.grad.norm() for p in params]))
        steps = [p.grad * (rho / (norm + 1e-12)) for p in params]
        for p, e in zip(params, steps):
            p.add_(e)
    net.zero_grad()
    criterion(net(inputs), labels).backward()
    with torch.no_grad():
        for p, e in zip(params, steps):
            p.sub_(e)


def twin_inputs(path, total):
    """What `tools/twin_inputs.ts` wrote for a run of this project: its initial weights, held-out
    rows (first in `order`, the rest in their original order, as this project keeps them) and
    every epoch's shuffle."""
    tensors, meta = load_safetensors(path)
    held = tensors.pop("held_out").long()
    mask = torch.ones(total, dtype=torch.bool)
    mask[held] = False
    order = torch.cat([held, torch.arange(total)[mask]])
    epochs = int(meta["epochs"])
    shuffles = [tensors.pop(f"order.{e}").long() for e in range(1, epochs + 1)]
    return {"order": order, "validation": len(held), "shuffles": shuffles, "weights": tensors,
            "seed": int(meta["seed"])}


def evaluate(net, x, y, tta=False):
    with torch.no_grad():
        logits = torch.cat([net(x[i:i + 1000]) for i in range(0, len(x), 1000)])
        if tta:
            logits = logits + torch.cat([net(x[i:i + 1000].flip(-1)) for i in range(0, len(x), 1000)])
    return F.cross_entropy(logits / (2 if tta else 1), y).item(), (logits.argmax(1) == y).float().mean().item()


def run(seed, args):
    epochs, batch = args.epochs, args.batch_size
    kinds = [] if args.augment == "none" else args.augment.split(",")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    x, y = split("train")
    test_x, test_y = split("t10k")
    given = twin_inputs(args.inputs, len(x)) if args.inputs else None
    order = given["order"] if given else torch.randperm(len(x), generator=generator)
    n_val = given["validation"] if given else args.validation
    if given and len(given["shuffles"]) < epochs:
        raise SystemExit(f"error: --inputs {args.inputs} holds {len(given['shuffles'])} epochs' orders,"
                         f" --epochs asks for {epochs}")
    if args.double:
        torch.set_default_dtype(torch.float64)
        x, test_x = x.double(), test_x.double()
    if args.normalize:
        mean, std = x[order[n_val:]].mean(), x[order[n_val:]].std()
        x, test_x = (x - mean) / std, (test_x - mean) / std
    val_x, val_y, tr_x, tr_y = x[order[:n_val]], y[order[:n_val]], x[order[n_val:]], y[order[n_val:]]
    net = lenet("relu", "max")
    if given:
        net.load_state_dict({k: v.to(torch.get_default_dtype()) for k, v in given["weights"].items()})
    if args.dropout:  # before each fully-connected layer, as tried (it lost: see the README)
        net = nn.Sequential(*[m for layer in net for m in (
            [nn.Dropout(args.dropout), layer] if isinstance(layer, nn.Linear) else [layer])])
    if args.init == "he":  # kaiming_uniform_ for ReLU (gain sqrt 2), zero biases
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
    emas = {d: copy.deepcopy(net) for d in args.ema}
    if args.optimizer == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum,
                              nesterov=args.momentum > 0, weight_decay=args.weight_decay)
    else:
        opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps = (len(tr_x) + batch - 1) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=epochs * steps,
                                                cycle_momentum=False)
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    models = {"last": net, **{f"ema{d}": m for d, m in emas.items()}}
    views = [(name, tta) for name in models for tta in ([False, True] if args.tta else [False])]
    best, history, start = {}, [], time.time()
    step, window = 0, 0.0  # the loss summed since the last --log-every line
    for epoch in range(1, epochs + 1):
        net.train()
        perm = given["shuffles"][epoch - 1] if given else torch.randperm(len(tr_x), generator=generator)
        for i in range(0, len(tr_x), batch):
            rows = perm[i:i + batch]
            opt.zero_grad()
            inputs = augment(tr_x[rows], generator, kinds) if kinds else tr_x[rows]
            if args.mixup:
                lam = float(torch.distributions.Beta(args.mixup, args.mixup).sample())
                mate = torch.randperm(len(rows), generator=generator)
                out = net(lam * inputs + (1 - lam) * inputs[mate])
                loss = lam * criterion(out, tr_y[rows]) + (1 - lam) * criterion(out, tr_y[rows][mate])
            else:
                loss = criterion(net(inputs), tr_y[rows])
            loss.backward()
            step += 1
            if args.log_every:
                window += loss.item()
                if step % args.log_every == 0:
                    print(f"seed {seed} step {step}: mean loss {window / args.log_every:.7f}",
                          flush=True)
                    window = 0.0
            if args.sam:
                sam_second_pass(net, criterion, inputs, tr_y[rows], args.sam)
            opt.step()
            sched.step()
            with torch.no_grad():
                for d, m in emas.items():
                    for pe, p in zip(m.parameters(), net.parameters()):
                        pe.mul_(d).add_(p, alpha=1 - d)
        net.eval()
        row = {"epoch": epoch, "seconds": time.time() - start}
        for name, tta in views:
            key = name + ("+tta" if tta else "")
            val_loss, val_acc = evaluate(models[name], val_x, val_y, tta)
            row[key] = val_acc
            if key not in best or val_acc > best[key]["val_accuracy"]:
                best[key] = {"epoch": epoch, "val_accuracy": val_acc, "tta": tta,
                             "model": copy.deepcopy(models[name])}
        history.append(row)
        print(f"seed {seed} epoch {epoch}: validation accuracy " +
              " ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("epoch", "seconds")), flush=True)
    selected = {}
    for key, b in best.items():
        test_loss, test_acc = evaluate(b["model"], test_x, test_y, b["tta"])
        final = evaluate(models[key.split("+")[0]], test_x, test_y, b["tta"])[1]
        selected[key] = {"epoch": b["epoch"], "val_accuracy": b["val_accuracy"], "test_accuracy": test_acc,
                         "test_loss": test_loss, "final_test_accuracy": final}
        print(f"seed {seed} {key}: selected epoch {b['epoch']} (validation {b['val_accuracy']:.4f}),"
              f" test accuracy {test_acc:.4f} (last epoch {final:.4f})", flush=True)
    train_loss, train_acc = evaluate(net, tr_x, tr_y)
    print(f"seed {seed}: {time.time() - start:.0f} s; the last epoch's weights on the training images:"
          f" loss {train_loss:.4f}, accuracy {train_acc:.4f}", flush=True)
    return {"seed": seed, "epochs": history, "selected_epoch": selected["last"]["epoch"],
            "val_accuracy": selected["last"]["val_accuracy"],
            "test_accuracy": selected["last"]["test_accuracy"], "selections": selected,
            "seconds": time.time() - start}


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
    parser.add_argument("--augment", choices=["none", "flip", "crop,flip", "erase", "flip,erase"],
                        default=RECIPE["augment"],
                        help="as --augment of deno task train")
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="dropout before each fully-connected layer (not in the recipe)")
    parser.add_argument("--validation", type=int, default=RECIPE["validation"])
    parser.add_argument("--ema", type=float, nargs="*", default=[], help="weight averages to keep (decays)")
    parser.add_argument("--tta", action="store_true", help="also measure with mirrored test images")
    parser.add_argument("--mixup", type=float, default=0.0, help="mixup's Beta parameter (0: none)")
    parser.add_argument("--normalize", action="store_true", help="standardise the inputs")
    parser.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD's (Nesterov) momentum")
    parser.add_argument("--sam", type=float, default=0.0, help="sharpness-aware minimisation's rho (0: none)")
    parser.add_argument("--init", choices=["torch", "he"], default="torch", help="initial weights")
    parser.add_argument("--inputs", help="train on what tools/twin_inputs.ts wrote (its seed, weights,"
                        " validation rows and batch order) instead of drawing them")
    parser.add_argument("--double", action="store_true", help="compute in float64")
    parser.add_argument("--log-every", type=int, default=0, help="print the mean loss every N steps")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.inputs:
        args.seeds = [int(load_safetensors(args.inputs)[1]["seed"])]
    results = [run(seed, args) for seed in args.seeds]
    with open(args.out, "w") as f:
        json.dump({"torch": torch.__version__, "runs": results}, f, indent=1)


if __name__ == "__main__":
    main()
